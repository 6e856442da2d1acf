"""Benchmark 6: start-up to the first painted window with the last session (10,000 cards) open.

`python -m bench.startup_child app` runs `triptych` (app.cli.main → the gui command → ui.app.main:
settings, store, engine, the main window opening the last session, show) offscreen, and exits once
the canvas viewport has painted; `python -m bench.startup_child bare` does the same for a bare
PySide6 `QMainWindow` started the same way (same interpreter, same `-m`). The figure is the time
from just before the process is spawned to the end of that first paint, in this process's
`time.monotonic()` (system-wide on Linux, so the child's stamp compares). Both start from compiled
bytecode, as an installed app does (`PYTHONDONTWRITEBYTECODE` is dropped for the children).

- **warm**: the files are in the OS page cache (one discarded run first); median of the runs.
  (When that first run takes over 5 s, one warm and one cold run are enough.)
- **cold**: before each run, the pages of every file the start-up reads (the interpreter's standard
  library, the venv's site-packages, the project, the data dir) are evicted with
  `posix_fadvise(DONTNEED)`. Pages that another live process has mapped (say, Qt's libraries in a
  concurrently running app) cannot be evicted, so this is a lower bound of a cold boot.

Also measured, warm, not judged: `python -m bench.startup_child floor`, the floor of the mandated
stack. It imports what the window needs before its first paint (asyncio, qasync, SQLAlchemy,
markdown-it, Pygments, PySide6), opens the store, reads the session (`load_graph`: every card's
text) and paints a bare window: no scene, no cards. `app_over_floor_warm` is what the app adds.

The child also stamps milestones (interpreter up, imports done, window init, window built), so the
report breaks the app's start-up down. The session is a finished 10,000-card one (see
`bench.common.session_graph`), the only one in a fresh data dir; keys come from the environment
(`TRIPTYCH_NO_KEYRING=1`).

Targets: app ≤ 250 ms warm, ≤ 500 ms cold; app ≤ 2× the bare window (warm and cold).

    python -m bench.bench_startup             # 10,000 cards, 3 warm and 2 cold runs each
    python -m bench.bench_startup --smoke     # 100 cards, 1 run each
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

from bench.common import emit, log, median, r, session_graph
from bench.loopback import ROOT

TARGET_WARM_MS = 250.0
TARGET_COLD_MS = 500.0
TARGET_RATIO = 2.0


def evict(paths: list[Path]) -> int:
    """Drop the page-cache pages of every file under `paths`; returns the bytes asked to be dropped."""
    total = 0
    for base in paths:
        for dirpath, _dirs, files in os.walk(base):
            for name in files:
                path = os.path.join(dirpath, name)
                try:
                    fd = os.open(path, os.O_RDONLY)
                except OSError:
                    continue
                try:
                    total += os.fstat(fd).st_size
                    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
                except OSError:
                    pass
                finally:
                    os.close(fd)
    return total


def start_once(kind: str, env: dict[str, str], timeout: float) -> dict[str, float]:
    """Spawn the child; return ms from spawn to each of its marks and to the first paint."""
    t0 = time.monotonic()
    proc = subprocess.Popen(
        [sys.executable, "-m", "bench.startup_child", kind],
        cwd=ROOT,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    marks: dict[str, float] = {}
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + timeout
        for line in proc.stdout:
            parts = line.split()
            if len(parts) == 3 and parts[0] == "MARK":
                marks[parts[1]] = (float(parts[2]) - t0) * 1000.0
            elif len(parts) == 2 and parts[0] == "PAINTED":
                marks["painted"] = (float(parts[1]) - t0) * 1000.0
                break
            if time.monotonic() > deadline:
                break
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait()
    if "painted" not in marks:
        raise RuntimeError(f"{kind}: no first paint (exit {proc.returncode}, marks {marks})")
    return marks


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_startup", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks that the bench runs")
    args = parser.parse_args(argv)
    cards, warm_runs, cold_runs = (100, 1, 1) if args.smoke else (10_000, 3, 2)

    from storage import open_store

    work = Path(tempfile.mkdtemp(prefix="triptych-bench-startup-"))
    try:
        home = work / "home"
        graph = session_graph(cards)
        with open_store(home) as repo:
            repo.create_session(graph.session)
            repo.add_nodes(list(graph.nodes.values()), graph.edges)
        env = dict(
            os.environ,
            QT_QPA_PLATFORM="offscreen",
            QT_API="pyside6",
            TRIPTYCH_HOME=str(home),
            TRIPTYCH_NO_KEYRING="1",
            TRIPTYCH_NO_ERROR_DIALOG="1",
            PYTHONPATH=str(ROOT),
        )
        # An installed app starts from compiled bytecode: let the first (discarded) run write it.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        timeout = 300.0
        cold_paths = [
            Path(sysconfig.get_paths()["stdlib"]),
            Path(sysconfig.get_paths()["purelib"]),
            Path(sysconfig.get_paths()["platlib"]),
            ROOT / "app",
            ROOT / "ui",
            ROOT / "storage",
            ROOT / "resources",
            ROOT / "bench",
            home,
        ]
        results: dict[str, list[dict[str, float]]] = {
            "app_warm": [],
            "bare_warm": [],
            "floor_warm": [],
            "app_cold": [],
            "bare_cold": [],
        }
        kinds = ("bare", "floor", "app")
        first = {kind: start_once(kind, env, timeout) for kind in kinds}  # fill the caches
        if first["app"]["painted"] > 10 * TARGET_COLD_MS:  # minutes of runs would add nothing
            warm_runs, cold_runs = min(warm_runs, 1), min(cold_runs, 1)
        for _ in range(warm_runs):
            for kind in kinds:
                results[f"{kind}_warm"].append(start_once(kind, env, timeout))
        evicted = 0
        for _ in range(cold_runs):
            for kind in ("bare", "app"):
                evicted = evict(cold_paths)
                results[f"{kind}_cold"].append(start_once(kind, env, timeout))
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def med(key: str, mark: str = "painted") -> float:
        return median(run[mark] for run in results[key] if mark in run)

    app_warm, bare_warm = med("app_warm"), med("bare_warm")
    app_cold, bare_cold = med("app_cold"), med("bare_cold")
    figures = {
        "cards": cards,
        "app_warm_ms": r(app_warm, 1),
        "bare_warm_ms": r(bare_warm, 1),
        "ratio_warm": r(app_warm / bare_warm if bare_warm else 0.0, 2),
        "app_cold_ms": r(app_cold, 1),
        "bare_cold_ms": r(bare_cold, 1),
        "ratio_cold": r(app_cold / bare_cold if bare_cold else 0.0, 2),
        "warm_runs": warm_runs,
        "cold_runs": cold_runs,
        "cold_evicted_mb": r(evicted / 1e6, 0),
        # where the app's warm start-up goes (ms since spawn, medians)
        "app_warm_python_up_ms": r(med("app_warm", "python_up"), 1),
        "app_warm_imported_ms": r(med("app_warm", "imported"), 1),
        "app_warm_window_init_ms": r(med("app_warm", "window_init"), 1),
        "app_warm_window_built_ms": r(med("app_warm", "window_built"), 1),
        "bare_warm_imported_ms": r(med("bare_warm", "imported"), 1),
        # the floor of the mandated stack (not judged): its imports, reading the session, a bare window
        "floor_warm_ms": r(med("floor_warm"), 1),
        "floor_warm_imported_ms": r(med("floor_warm", "imported"), 1),
        "floor_warm_loaded_ms": r(med("floor_warm", "loaded"), 1),
        "app_over_floor_warm": r(app_warm / med("floor_warm") if med("floor_warm") else 0.0, 2),
    }
    log(
        f"app warm {app_warm:.0f} ms (bare {bare_warm:.0f}, stack floor {figures['floor_warm_ms']:.0f}), cold {app_cold:.0f} ms (bare {bare_cold:.0f}); "
        f"window init {figures['app_warm_window_init_ms']:.0f} → built {figures['app_warm_window_built_ms']:.0f} ms"
    )
    ok = (
        app_warm <= TARGET_WARM_MS
        and app_cold <= TARGET_COLD_MS
        and figures["ratio_warm"] <= TARGET_RATIO
        and figures["ratio_cold"] <= TARGET_RATIO
    )
    emit(
        "startup.first_paint_last_session",
        figures,
        {
            "app_warm_ms": TARGET_WARM_MS,
            "app_cold_ms": TARGET_COLD_MS,
            "ratio_warm": TARGET_RATIO,
            "ratio_cold": TARGET_RATIO,
        },
        ok,
        smoke=args.smoke,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
