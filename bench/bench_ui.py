"""Benchmark 2: UI responsiveness while three lanes stream at 2000 tok/s each.

The real thing, offscreen: `ui.app.build_services` + `create_window` (the main window, engine,
providers, store, cards) on the qasync loop, three loopback fake provider servers in three other
processes (their CPU is not counted), one per lane: DeepSeek (Chat Completions), Anthropic
(Messages) and OpenAI (Responses API), each streaming a long markdown answer (prose, lists, tables,
code) at 2000 tok/s paced against the clock. A short warm-up send comes first (fonts, lexers, first
renders), then the measured send through the composer (Ctrl+Return).

Measured from the send until all three cards are done:

- **stall**: a 5 ms `QTimer` (precise) on the same loop; each tick's lateness beyond 5 ms is a stall
  (time the loop could not run: parsing, persisting, rendering, painting). p50, p99, max.
- **CPU**: this process's CPU time (all threads) over the wall time, in % of one core.
- **token-to-screen latency**: each server logs, per send, the `time.monotonic()` and how much answer
  text had gone out (CLOCK_MONOTONIC is system-wide, so the clocks agree); the benchmark records when
  each card is painted and how much text its last `sync` rendered. Latency of a send = first paint
  showing its text − the send. p50, p99, max over all sends of the three lanes. (Instrumented by
  wrapping `ResponseCard.sync`/`paint` in this process only; ui/ is untouched.)

Targets: stall p99 ≤ 16 ms, max ≤ 40 ms; CPU ≤ 60 % of one core; token-to-screen p99 ≤ 60 ms.

    python -m bench.bench_ui [--seconds 6] [--series FILE]   # FILE: the stall timeline (JSON), for the plot
    python -m bench.bench_ui --smoke                          # 1 s at 300 tok/s
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
os.environ["TRIPTYCH_NO_ERROR_DIALOG"] = "1"

import argparse
import asyncio
import json
import shutil
import sys
import tempfile
import time
from bisect import bisect_left
from pathlib import Path
from typing import Any

from bench.common import emit, log, pct, r
from bench.loopback import ServerProcess

TARGET_STALL_P99_MS = 16.0
TARGET_STALL_MAX_MS = 40.0
TARGET_CPU_PCT = 60.0
TARGET_LATENCY_P99_MS = 60.0
TICK_MS = 5

LANES = (  # (model, provider, what its server renders ahead: wire format, flavour, model id)
    ("deepseek:deepseek-flash", "deepseek", "chat:deepseek:deepseek-flash"),
    ("anthropic:claude-sonnet-5-5", "anthropic", "anthropic:anthropic:claude-sonnet-5-5"),
    ("openai:gpt-6.2-sol", "openai", "responses:openai:gpt-6.2-sol"),
)


class PaintProbe:
    """Records, per card, how much text each `sync` rendered and when the card was painted with it.
    Wraps the class methods in this process only."""

    def __init__(self) -> None:
        from ui.canvas.cards import ResponseCard

        self.paints: dict[str, list[tuple[float, int]]] = {}
        self._synced: dict[str, int] = {}
        self._cls = ResponseCard
        self._orig_sync = ResponseCard.sync
        self._orig_paint = ResponseCard.paint
        probe = self

        def sync(card: Any, node: Any) -> None:
            probe._orig_sync(card, node)
            probe._synced[card.node_id] = len(node.text)

        def paint(card: Any, painter: Any, option: Any, widget: Any = None) -> None:
            probe._orig_paint(card, painter, option, widget)
            probe.paints.setdefault(card.node_id, []).append(
                (time.monotonic(), probe._synced.get(card.node_id, 0))
            )

        ResponseCard.sync = sync  # type: ignore[method-assign]
        ResponseCard.paint = paint  # type: ignore[method-assign]

    def close(self) -> None:
        self._cls.sync = self._orig_sync  # type: ignore[method-assign]
        self._cls.paint = self._orig_paint  # type: ignore[method-assign]


def latencies(sends: list[tuple[float, int]], paints: list[tuple[float, int]]) -> list[float]:
    """For each send that carried text: ms until the first paint at or after it showing that text."""
    out: list[float] = []
    times = [t for t, _ in paints]
    previous = 0
    for t_send, chars in sends:
        if chars <= previous:
            continue
        previous = chars
        i = bisect_left(times, t_send)
        while i < len(paints) and paints[i][1] < chars:
            i += 1
        if i < len(paints):
            out.append((paints[i][0] - t_send) * 1000.0)
    return out


async def scenario(window: Any, seconds_timeout: float, models: list[str], warm: bool) -> dict[str, Any]:
    """Send one prompt to `models` through the composer; wait until every answer ends. Returns the
    tick times, CPU and wall times of the streaming phase, and the response node ids."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest

    from app.domain import NodeKind

    ticks: list[float] = []
    timer = QTimer()
    timer.setTimerType(Qt.TimerType.PreciseTimer)
    timer.setInterval(TICK_MS)
    timer.timeout.connect(lambda: ticks.append(time.perf_counter()))
    sent: list[list[str]] = []
    window.controller.nodes_sent.connect(lambda ids: sent.append(list(ids)))
    window.composer.set_models(models, announce=False)
    window.composer.set_text("Compare caching strategies for a read-heavy API, with code and a table.")
    timer.start()
    await asyncio.sleep(0.3)  # idle baseline
    wall0, cpu0 = time.perf_counter(), time.process_time()
    QTest.keyClick(window.composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    deadline = time.monotonic() + seconds_timeout
    while time.monotonic() < deadline:
        if sent:
            break
        await asyncio.sleep(0.01)
    if not sent:
        raise RuntimeError("Ctrl+Return sent nothing")
    graph = window.controller.graph
    answers = [i for i in sent[-1] if graph.nodes[i].kind == NodeKind.RESPONSE]
    while time.monotonic() < deadline:
        if all(not graph.nodes[i].status.is_live for i in answers):
            break
        await asyncio.sleep(0.01)
    wall1, cpu1 = time.perf_counter(), time.process_time()
    await asyncio.sleep(0.1)
    timer.stop()
    statuses = {graph.nodes[i].model: graph.nodes[i].status.value for i in answers}
    if any(s != "done" for s in statuses.values()):
        raise RuntimeError(f"not every lane finished: {statuses}" + ("" if not warm else " (warm-up)"))
    return {
        "ticks": ticks,
        "wall": (wall0, wall1),
        "cpu_s": cpu1 - cpu0,
        "answers": {graph.nodes[i].model: i for i in answers},
        "chars": {graph.nodes[i].model: len(graph.nodes[i].text) for i in answers},
    }


def stalls_between(ticks: list[float], start: float, end: float) -> list[tuple[float, float]]:
    """(time since start in s, stall in ms) for each tick inside [start, end]."""
    out = []
    for a, b in zip(ticks, ticks[1:], strict=False):
        if b < start or a > end:
            continue
        out.append((b - start, max(0.0, (b - a) * 1000.0 - TICK_MS)))
    return out


async def run_window(home: Path, seconds: float) -> tuple[dict[str, Any], dict[str, Any], PaintProbe]:
    from PySide6.QtWidgets import QApplication

    from ui.app import build_services, close_services, create_window

    app = QApplication.instance()
    services = build_services(home, interactive=False)
    window = create_window(services)
    window.resize(1440, 900)
    window.show()
    probe = PaintProbe()
    await asyncio.sleep(0.2)
    try:
        warm = await scenario(window, 30, [f"{p}:warmup" for _, p, _ in LANES], warm=True)
        measured = await scenario(window, seconds * 4 + 30, [m for m, _, _ in LANES], warm=False)
    finally:
        window.close()  # paints once more (the start picture is grabbed at close): the probe stays
        probe.close()
        await close_services(services)
        window.deleteLater()
        await asyncio.sleep(0)
        assert app is not None
    return warm, measured, probe


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_ui", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks that the bench runs")
    parser.add_argument("--seconds", type=float, default=6.0, help="streaming time per lane")
    parser.add_argument("--rate", type=float, default=2000.0, help="tokens per second per lane")
    parser.add_argument("--series", default=None, help="write the stall timeline (JSON) here")
    args = parser.parse_args(argv)
    rate = 300.0 if args.smoke else args.rate
    seconds = 1.0 if args.smoke else args.seconds
    tokens = int(rate * seconds)

    from PySide6.QtWidgets import QApplication

    from ui.qtloop import TriptychEventLoop

    work = Path(tempfile.mkdtemp(prefix="triptych-bench-ui-"))
    servers: list[ServerProcess] = []
    try:
        for i, (_model, _provider, fmt) in enumerate(LANES):
            servers.append(
                ServerProcess(
                    tokens, rate=rate, seed=1 + i, prepare=(fmt,), log_path=work / f"sends-{i}.json"
                )
            )
        home = work / "home"
        home.mkdir()
        env = {"TRIPTYCH_HOME": str(home), "TRIPTYCH_NO_KEYRING": "1"}
        for (_model, provider, _fmt), server in zip(LANES, servers, strict=True):
            env[f"{provider.upper()}_BASE_URL"] = server.url_for(provider)
            env[f"{provider.upper()}_API_KEY"] = "sk-bench"
        os.environ.update(env)
        os.environ.pop("TRIPTYCH_OPENAI_API", None)
        app = QApplication.instance() or QApplication(["triptych-bench"])
        app.setQuitOnLastWindowClosed(False)
        with asyncio.Runner(loop_factory=lambda: TriptychEventLoop(app)) as runner:
            warm, measured, probe = runner.run(run_window(home, seconds))
        logs = [server.stop() for server in servers]
    finally:
        for server in servers:
            server.stop()
        shutil.rmtree(work, ignore_errors=True)

    start, end = measured["wall"]
    series = stalls_between(measured["ticks"], start, end)
    stall = [s for _, s in series]
    warm_stall = [s for _, s in stalls_between(warm["ticks"], *warm["wall"])]
    wall = end - start
    cpu_pct = measured["cpu_s"] / wall * 100.0 if wall else 0.0
    lat: list[float] = []
    lane_rates = []
    for (model, _provider, _fmt), streams in zip(LANES, logs, strict=True):
        streams = [s for s in streams if s]
        sends = streams[-1] if streams else []  # the measured stream: this server's last
        node_id = measured["answers"][model]
        lat += latencies(sends, probe.paints.get(node_id, []))
        if len(sends) > 1:
            lane_rates.append(tokens / (sends[-1][0] - sends[0][0]))
    figures = {
        "lanes": len(LANES),
        "tok_s_per_lane_asked": rate,
        "tok_s_per_lane_measured": r(min(lane_rates) if lane_rates else 0.0, 0),
        "tokens_per_lane": tokens,
        "answer_chars_per_lane": max(measured["chars"].values()),
        "stream_wall_s": r(wall, 2),
        "ticks": len(stall),
        "stall_p50_ms": r(pct(stall, 0.5), 2),
        "stall_p99_ms": r(pct(stall, 0.99), 2),
        "stall_max_ms": r(max(stall) if stall else 0.0, 2),
        "ticks_per_s": r(len(stall) / wall if wall else 0.0, 1),
        "cpu_pct_of_one_core": r(cpu_pct, 1),
        "latency_samples": len(lat),
        "latency_p50_ms": r(pct(lat, 0.5), 1),
        "latency_p99_ms": r(pct(lat, 0.99), 1),
        "latency_max_ms": r(max(lat) if lat else 0.0, 1),
        "warmup_stall_max_ms": r(max(warm_stall) if warm_stall else 0.0, 2),
    }
    if args.series:
        Path(args.series).write_text(
            json.dumps(
                {
                    "t_s": [r(t, 4) for t, _ in series],
                    "stall_ms": [r(s, 3) for s in stall],
                    "tick_ms": TICK_MS,
                    "figures": figures,
                }
            )
        )
    ok = (
        figures["stall_p99_ms"] <= TARGET_STALL_P99_MS
        and figures["stall_max_ms"] <= TARGET_STALL_MAX_MS
        and cpu_pct <= TARGET_CPU_PCT
        and figures["latency_p99_ms"] <= TARGET_LATENCY_P99_MS
        and bool(lat)
    )
    log(json.dumps(figures))
    emit(
        "ui.three_lanes_streaming",
        figures,
        {
            "stall_p99_ms": TARGET_STALL_P99_MS,
            "stall_max_ms": TARGET_STALL_MAX_MS,
            "cpu_pct_of_one_core": TARGET_CPU_PCT,
            "latency_p99_ms": TARGET_LATENCY_P99_MS,
        },
        ok,
        smoke=args.smoke,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
