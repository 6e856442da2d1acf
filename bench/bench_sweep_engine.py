"""Benchmark 10: the sweep engine's CPU overhead per cell, a real 1,000-cell sweep (100 rows × 5 models ×
2 variants) against loopback servers.

One loopback fake provider server (`bench.loopback`) runs in its own process (its CPU is not counted)
and answers every request at once with the same short answer (`--tokens` pieces, 20 frames a write,
no pauses), in the wire format of the endpoint called. In this process, with the providers' base URLs
pointed at it:

- **the sweep**: `triptych sweep` itself (`app.cli.main`, in this process) with 5 models over the three
  providers, a 100-row CSV, `--set max_tokens=800,1000` and two checks, concurrency 4 per provider, the
  store on disk (a fresh data dir): `SweepRunner` sends every cell through `Engine.ask`, stores the
  prompt and answer, runs the checks, counts progress; the summary is printed at the end. Figure: the
  CPU time of this process (`time.process_time`, user + system, all threads) over the whole command,
  and its wall time.
- **parsing alone**: the same 1,000 streams (each cell's model and prompt, the same concurrency per
  provider) consumed by the providers' own clients (`make_provider(...).stream()`, what the engine
  calls) over the same shared HTTP client, the text collected and nothing else. Its CPU time is what
  the sweep would cost with no engine at all.

Each is run `--repeats` times (3; alternating, a fresh data dir per sweep) and the medians are
reported. Engine overhead per cell = (sweep CPU − parsing CPU) / cells. A warm-up (a 2-cell sweep and a few
streams) goes first, so imports and connections are not counted. Target (issue #16): ≤ 2 ms CPU per
cell beyond the stream parsing. Cells/s and wall time are reported too.

    python -m bench.bench_sweep_engine             # 1,000 cells
    python -m bench.bench_sweep_engine --smoke     # 40 cells (4 rows), for the test suite
    python -m bench.bench_sweep_engine --profile out.prof   # a cProfile of the first sweep
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import csv
import gc
import io
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import emit, log, median, r, token_pieces
from bench.loopback import ServerProcess

TARGET_MS_PER_CELL = 2.0
MODELS = ["deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol",
          "anthropic:claude-haiku-5-5", "deepseek:deepseek-v4-pro"]
TEMPLATE = "Answer the support ticket {{id}}: {{text}}"
CONCURRENCY = 4


def _write_vars(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["id", "text"])
        for i in range(rows):
            w.writerow([str(i), f"ticket {i}: the export drops a column when the sheet has {i % 7} merged cells"])


def _sweep_argv(home: Path, vars_path: Path, models: list[str]) -> list[str]:
    argv = ["--data-dir", str(home), "sweep", "-p", TEMPLATE, "--vars", str(vars_path),
            "--set", "max_tokens=800,1000", "--check", "contains:the", "--check", "max-ms:60000",
            "--concurrency", str(CONCURRENCY), "--yes"]
    for m in models:
        argv += ["-m", m]
    return argv


def run_sweep(home: Path, vars_path: Path, models: list[str]) -> tuple[float, float, int, str]:
    """`triptych sweep` in this process: (CPU s, wall s, exit status, its stderr)."""
    from app.cli import main as cli_main

    out, err = io.StringIO(), io.StringIO()
    gc.collect()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        status = cli_main(_sweep_argv(home, vars_path, models))
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    return cpu, wall, status, err.getvalue()


async def _parse_alone(home: Path, vars_name: str, vars_text: str, models: list[str],
                       expected: str) -> tuple[float, float, int]:
    """The sweep's streams consumed by the providers' clients alone: (CPU s, wall s, streams)."""
    from app.config import load_settings
    from app.domain import ModelRef
    from app.engine import make_client
    from app.events import TextDelta
    from app.providers.base import Message, ProviderRequest, make_provider
    from app.sweep import SweepDef, parse_sets, parse_vars, variant_params

    settings = load_settings(str(home))
    columns, rows = parse_vars(vars_name, vars_text)
    defn = SweepDef(templates=[TEMPLATE], models=models, columns=columns, rows=rows, vars_name=vars_name,
                    variants=parse_sets(["max_tokens=800,1000"]))
    client = make_client(settings)
    providers: dict[str, Any] = {}
    sems: dict[str, asyncio.Semaphore] = {}

    async def one(model: str, text: str, params: Any) -> None:
        ref = ModelRef.parse(model)
        provider = providers.get(ref.provider)
        if provider is None:
            provider = providers[ref.provider] = make_provider(settings.providers[ref.provider], client)
        request = ProviderRequest(model=ref.model, messages=[Message("user", text)], params=params)
        async with sems.setdefault(ref.provider, asyncio.Semaphore(CONCURRENCY)):
            parts: list[str] = []
            async for event in provider.stream(request):
                if type(event) is TextDelta:
                    parts.append(event.text)
        got = "".join(parts)
        if got != expected:
            raise AssertionError(f"{model}: {len(got)} chars of answer text, the server sent {len(expected)}")

    cells = defn.cells()
    try:
        for m in models:  # warm: connections, imports
            await one(m, "warm-up", variant_params({}))
        gc.collect()
        wall0, cpu0 = time.perf_counter(), time.process_time()
        await asyncio.gather(*(one(c.model, c.text, variant_params(c.params)) for c in cells))
        cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    finally:
        await client.aclose()
    return cpu, wall, len(cells)


def _check_store(home: Path, cells: int) -> None:
    """Every cell of the sweep is stored with a finished answer and its checks."""
    from app.sweep import sweep_rows
    from storage import open_store

    with open_store(home) as repo:
        sessions = repo.list_sessions() if hasattr(repo, "list_sessions") else []
        for s in sessions:
            graph = repo.load_graph(s.id)
            records = sweep_rows(graph)
            if records is not None and len(records) == cells:
                bad = [rec for rec in records if rec["status"] != "done" or len(rec["checks"]) != 2]
                if bad:
                    raise AssertionError(f"{len(bad)} of {cells} cells not finished with their checks: {bad[0]}")
                return
    raise AssertionError(f"no stored sweep of {cells} cells")


def run(rows: int, tokens: int, repeats: int, smoke: bool, profile: str | None) -> int:
    pieces = token_pieces(tokens)
    expected = "".join(pieces)
    models = MODELS
    cells = rows * len(models) * 2
    tmp = Path(tempfile.mkdtemp(prefix="triptych-sweep-bench-"))
    saved_env = dict(os.environ)
    try:
        with ServerProcess(tokens, rate=0, frames_per_write=20) as server:
            for k in list(os.environ):
                if k.endswith(("_API_KEY", "_BASE_URL")):
                    del os.environ[k]
            os.environ.update(server.env())
            os.environ["TRIPTYCH_NO_KEYRING"] = "1"
            vars_path = tmp / "tickets.csv"
            _write_vars(vars_path, rows)
            warm_vars = tmp / "warm.csv"
            _write_vars(warm_vars, 1)
            # warm-up: imports, the catalog, the store's first open, connections
            cpu, wall, status, err = run_sweep(tmp / "warm", warm_vars, models[:1])
            if status != 0:
                raise AssertionError(f"warm-up sweep failed ({status}):\n{err[-2000:]}")
            sweeps: list[tuple[float, float]] = []
            parses: list[tuple[float, float]] = []
            for n in range(repeats):  # alternate, so drift on a noisy machine hits both alike
                home = tmp / f"home{n}"
                if profile and n == 0:
                    import cProfile

                    prof = cProfile.Profile()
                    prof.enable()
                sweep_cpu, sweep_wall, status, err = run_sweep(home, vars_path, models)
                if profile and n == 0:
                    prof.disable()
                    prof.dump_stats(profile)
                if status != 0:
                    raise AssertionError(f"the sweep failed ({status}):\n{err[-2000:]}")
                _check_store(home, cells)
                sweeps.append((sweep_cpu, sweep_wall))
                parse_cpu, parse_wall, streams = asyncio.run(
                    _parse_alone(home, vars_path.name, vars_path.read_text(encoding="utf-8"), models, expected))
                assert streams == cells
                parses.append((parse_cpu, parse_wall))
                log(f"run {n + 1}: sweep {sweep_cpu:.2f} s CPU, {sweep_wall:.2f} s wall; parsing alone "
                    f"{parse_cpu:.2f} s CPU")
    finally:
        os.environ.clear()
        os.environ.update(saved_env)
        shutil.rmtree(tmp, ignore_errors=True)
    sweep_cpu, sweep_wall = median(c for c, _ in sweeps), median(w for _, w in sweeps)
    parse_cpu, parse_wall = median(c for c, _ in parses), median(w for _, w in parses)
    overhead_ms = (sweep_cpu - parse_cpu) / cells * 1000
    figures: dict[str, float | int] = {
        "cells": cells,
        "repeats": repeats,
        "answer_chars": len(expected),
        "concurrency_per_provider": CONCURRENCY,
        "sweep_cpu_s": r(sweep_cpu),
        "sweep_wall_s": r(sweep_wall),
        "cells_per_s": r(cells / sweep_wall, 1),
        "parse_cpu_s": r(parse_cpu),
        "parse_wall_s": r(parse_wall),
        "sweep_cpu_ms_per_cell": r(sweep_cpu / cells * 1000),
        "parse_cpu_ms_per_cell": r(parse_cpu / cells * 1000),
        "engine_overhead_ms_per_cell": r(overhead_ms),
    }
    log(f"sweep {cells} cells: {sweep_cpu:.2f} s CPU, {sweep_wall:.2f} s wall ({cells / sweep_wall:.0f} cells/s); "
        f"parsing alone {parse_cpu:.2f} s CPU; engine overhead {overhead_ms:.2f} ms/cell")
    emit("sweep_engine.overhead_per_cell", figures, {"engine_overhead_ms_per_cell": TARGET_MS_PER_CELL},
         overhead_ms <= TARGET_MS_PER_CELL, smoke=smoke)
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_sweep_engine", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks that the bench runs")
    parser.add_argument("--rows", type=int, default=None, help="variable rows (× 5 models × 2 variants cells)")
    parser.add_argument("--tokens", type=int, default=200, help="answer pieces per stream")
    parser.add_argument("--repeats", type=int, default=None, help="sweeps (each with its parsing run); medians")
    parser.add_argument("--profile", default=None, help="write a cProfile of the first sweep to this file")
    args = parser.parse_args(argv)
    rows = args.rows or (4 if args.smoke else 100)
    repeats = args.repeats or (1 if args.smoke else 3)
    return run(rows, args.tokens, repeats, args.smoke, args.profile)


if __name__ == "__main__":
    sys.exit(main())
