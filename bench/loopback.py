"""Loopback provider servers for the benchmarks: `tests/fakes/server.py`'s `FakeProviderServer`,
scripted with one long answer, with two additions the benchmarks need:

- **pacing against the clock**: the fake server sleeps a fixed delay between sends, so its real rate
  drifts below the asked one by the loop's overhead; here each send waits until its own deadline
  (start + its share of the answer), so 2000 tok/s means 2000 tok/s;
- **a send log**: for every send, the `time.monotonic()` after it reached the socket and how many
  characters of answer text had been sent so far (CLOCK_MONOTONIC is system-wide on Linux, so
  another process can compare it with its own clock).

Any request (any model, any of the three wire formats, any flavour) gets the same answer, rendered
in the format its endpoint speaks; a model named `warmup…` gets only the first 500 pieces (to warm
connections and caches up cheaply). `rate=0` streams without pauses, `frames_per_write` frames per
write (the grouping a 2000 tok/s stream has at the fake server's 10 ms tick is 20).

Run it as its own process, so that its CPU time is not counted against the client under test:

    python -m bench.loopback --tokens 200000 --rate 0 --frames-per-write 20 [--log FILE]

prints `READY <base URL>` once listening, serves until SIGTERM/SIGINT, then writes the send log
(JSON: a list of streams, each a list of [t, chars]) to FILE. `ServerProcess` does all that from a
benchmark.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from app.providers.sse import SSEDecoder
from tests.fakes.server import (
    TICK,
    Answer,
    FakeProviderServer,
    RecordedRequest,
    Scenario,
    Send,
    Sleep,
    render_answer,
)

ROOT = Path(__file__).resolve().parent.parent


def _text_of(fmt: str, event_name: str, data: str) -> str:
    """Answer text carried by one SSE event of a given wire format ('' for anything else)."""
    if not data or data[0] != "{":
        return ""
    obj = json.loads(data)
    if fmt == "chat":
        choices = obj.get("choices") or []
        if choices and isinstance(choices[0], dict):
            delta = choices[0].get("delta") or {}
            return delta.get("content") or ""
        return ""
    if fmt == "responses":
        return obj.get("delta", "") if obj.get("type") == "response.output_text.delta" else ""
    if obj.get("type") == "content_block_delta":
        delta = obj.get("delta") or {}
        return delta.get("text", "") if delta.get("type") == "text_delta" else ""
    return ""


@dataclass
class _Prepared:
    scenario: Scenario
    chars_after: dict[int, int]  # id(Send step) -> answer chars sent once that step is out


class BenchServer(FakeProviderServer):
    """A `FakeProviderServer` that answers every request with `pieces` (paced against the clock)
    and logs each send. `log` holds one list of (monotonic time, chars sent) per request served."""

    def __init__(
        self, pieces: Sequence[str], *, rate: float, frames_per_write: int = 20, **kwargs: Any
    ) -> None:
        super().__init__(tokens_per_second=0, **kwargs)
        self.pieces = tuple(pieces)
        self.rate = rate
        self.frames_per_write = frames_per_write
        self.log: list[list[tuple[float, int]]] = []
        self._prepared: dict[tuple[str, str, str], _Prepared] = {}
        self._prep_lock = threading.Lock()

    def prepare(self, fmt: str, flavor: str, model: str = "bench-model") -> _Prepared:
        """Render the answer for one endpoint once (200k frames take a second or two)."""
        key = (fmt, flavor, model)
        with self._prep_lock:
            found = self._prepared.get(key)
            if found is not None:
                return found
            pieces = self.pieces[:500] if model.startswith("warmup") else self.pieces
            if self.rate:
                answer = Answer(text=pieces, rate=self.rate, pings=False)
            else:  # unpaced: group frames as a paced stream would, then drop the pauses
                answer = Answer(text=pieces, rate=self.frames_per_write / TICK, pings=False)
            scenario = render_answer(answer, fmt, flavor, model)
            if not self.rate:
                scenario = Scenario([s for s in scenario.steps if not isinstance(s, Sleep)])
            decoder = SSEDecoder()
            chars = 0
            chars_after: dict[int, int] = {}
            for step in scenario.steps:
                if isinstance(step, Send):
                    for event in decoder.feed(step.data):
                        chars += len(_text_of(fmt, event.event, event.data))
                    chars_after[id(step)] = chars
            found = _Prepared(scenario, chars_after)
            self._prepared[key] = found
            return found

    def _default(self, request: RecordedRequest):  # type: ignore[override]
        if request.fmt in ("chat", "responses", "anthropic"):
            return self.prepare(request.fmt, request.flavor, request.model or "bench-model").scenario
        return super()._default(request)

    async def _run(self, steps, state, reader, writer):  # type: ignore[override]
        extra = state.extra
        if "log" not in extra:
            extra["log"] = []
            extra["chars_after"] = None
            for prepared in list(self._prepared.values()):
                if steps is prepared.scenario.steps:
                    extra["chars_after"] = prepared.chars_after
            self.log.append(extra["log"])
        for step in steps:
            if isinstance(step, Sleep):
                # pace against the clock: each pause ends at its own deadline, so the rate holds
                deadline = extra.get("deadline") or time.monotonic()
                deadline += step.seconds
                extra["deadline"] = deadline
                delay = deadline - time.monotonic()
                if delay > 0:
                    await asyncio.sleep(delay)
                continue
            result = await super()._run((step,), state, reader, writer)
            if isinstance(step, Send):
                chars_after = extra["chars_after"]
                extra["log"].append((time.monotonic(), chars_after.get(id(step), -1) if chars_after else -1))
                extra.setdefault("deadline", time.monotonic())
            if result is not None:
                return result
        return None


# --------------------------------------------------------------------------------------------------
# as a separate process


class ServerProcess:
    """`python -m bench.loopback ...` in a child process: `url` once it listens; `stop()` ends it and
    returns its send log."""

    def __init__(
        self,
        tokens: int,
        *,
        rate: float = 0.0,
        frames_per_write: int = 20,
        seed: int = 1,
        prepare: Sequence[str] = (),
        log_path: Path | None = None,
    ) -> None:
        self.log_path = log_path
        cmd = [
            sys.executable,
            "-m",
            "bench.loopback",
            "--tokens",
            str(tokens),
            "--rate",
            str(rate),
            "--frames-per-write",
            str(frames_per_write),
            "--seed",
            str(seed),
        ]
        for spec in prepare:
            cmd += ["--prepare", spec]
        if log_path is not None:
            cmd += ["--log", str(log_path)]
        env = dict(os.environ, PYTHONPATH=str(ROOT))
        self.proc = subprocess.Popen(cmd, cwd=ROOT, stdout=subprocess.PIPE, text=True, env=env)
        assert self.proc.stdout is not None
        line = self.proc.stdout.readline().strip()
        if not line.startswith("READY "):
            self.proc.kill()
            raise RuntimeError(f"bench server did not start: {line!r}")
        self.url = line.split(" ", 1)[1]
        self.pid = self.proc.pid

    def url_for(self, provider: str) -> str:
        return {"openai": f"{self.url}/v1", "anthropic": self.url, "deepseek": self.url}.get(
            provider, f"{self.url}/v1"
        )

    def env(self) -> dict[str, str]:
        out = {}
        for provider in ("openai", "anthropic", "deepseek"):
            out[f"{provider.upper()}_BASE_URL"] = self.url_for(provider)
            out[f"{provider.upper()}_API_KEY"] = "sk-bench"
        return out

    def stop(self) -> list[list[tuple[float, int]]]:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if self.log_path is not None and self.log_path.exists():
            return [[(t, c) for t, c in stream] for stream in json.loads(self.log_path.read_text())]
        return []

    def __enter__(self) -> ServerProcess:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def _write_log(path: Path, log: list[list[tuple[float, int]]]) -> None:
    path.write_text(json.dumps(log))


async def _serve(args: argparse.Namespace) -> None:
    from bench.common import token_pieces

    server = BenchServer(
        token_pieces(args.tokens, args.seed), rate=args.rate, frames_per_write=args.frames_per_write
    )
    for spec in args.prepare:  # render ahead: "fmt:flavor[:model]"
        fmt, _, rest = spec.partition(":")
        flavor, _, model = rest.partition(":")
        server.prepare(fmt, flavor or "openai", model or "bench-model")
    await server.start()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    print(f"READY {server.base_url}", flush=True)
    await stop.wait()
    await server.stop()
    if args.log:
        _write_log(Path(args.log), server.log)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.loopback", description=__doc__.splitlines()[0])
    parser.add_argument("--tokens", type=int, default=2_000)
    parser.add_argument("--rate", type=float, default=0.0, help="tokens per second (0: no pauses)")
    parser.add_argument("--frames-per-write", type=int, default=20)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--prepare", action="append", default=[], help="fmt:flavor[:model] to render before READY"
    )
    parser.add_argument("--log", default=None, help="write the send log here on exit")
    args = parser.parse_args(argv)
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_serve(args))


if __name__ == "__main__":
    main()
