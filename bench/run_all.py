"""Run every benchmark, each in its own process, and write the report.

    python -m bench.run_all                 # full sizes; writes docs/performance.md and docs/ui-stall.png
    python -m bench.run_all --smoke         # tiny sizes (checks that everything runs), report to --out
    python -m bench.run_all --only 3,5      # some of them (report to a temp dir unless --out)

Each benchmark prints one JSON object per measured thing on stdout
(`{"name", "figures", "target", "pass"}`); this collects them, echoes them on stdout (one per line),
and writes a Markdown report with the machine, the date, every figure next to its target and the
verdicts, plus the plot of UI stall over time during benchmark 2. A benchmark that crashes is
reported as such (and makes the exit status 1); a target missed is a result, not an error.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import sqlite3
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Bench:
    number: int
    module: str
    title: str
    target: str
    timeout: float


BENCHES = (
    Bench(1, "bench.render_bench", "Markdown render per streamed update",
          "median ≤ 2 ms, p99 ≤ 6 ms, also flushed at every char around definitions, tables, fences; "
          "open 10k-char code block ≤ 8 ms; ≥ 50× faster than a full re-render", 300),
    Bench(2, "bench.bench_ui", "UI responsiveness, 3 lanes × 2000 tok/s, real window",
          "stall p99 ≤ 16 ms, max ≤ 40 ms; CPU ≤ 60 % of one core; token-to-screen p99 ≤ 60 ms", 300),
    Bench(3, "bench.bench_stream_parse", "Stream parsing CPU vs the official SDKs (200k tokens)",
          "≤ 0.5× the SDKs' CPU time", 600),
    Bench(4, "bench.bench_canvas", "Canvas scale, 10,000 cards with edges",
          "build ≤ 300 ms; pan/zoom frame ≤ 8 ms at zoom 1; fit-all frame ≤ 33 ms; ≤ 10 MB per 1,000 cards", 600),
    Bench(5, "bench.bench_store", "Store: 10,000-node session save/load; FTS over 100k nodes",
          "load ≤ 100 ms; search ≤ 50 ms", 600),
    Bench(6, "bench.bench_startup", "Start-up to an interactive window, last session (10k nodes) open; 100k nodes",
          "interactive ≤ 4× a bare PySide6 window, warm and cold; 100k cards interactive ≤ 1 s warm, "
          "≤ 1.5× the memory of 10k", 900),
    Bench(7, "bench.bench_crash_loss", "Crash loss at a random SIGKILL (20 runs)",
          "max ≤ 250 ms of text", 300),
    Bench(8, "bench.bench_sweep_grid", "Sweep grid, 1,000 cells (100 rows × 5 models × 2 variants), real window",
          "open → grid painted ≤ 300 ms; scroll and zoom frames p95 ≤ 16 ms; ≤ 30 MB; ratios to a 10-cell "
          "sweep reported", 300),
    Bench(9, "bench.bench_team_store", "Team store (PostgreSQL, throwaway local cluster)",
          "load a 10k-node session ≤ 150 ms; search over 1M nodes ≤ 100 ms; another process's change seen "
          "by the watcher p95 ≤ 300 ms; 20 writers × 3 lanes: no lost update", 900),
    Bench(10, "bench.bench_sweep_engine", "Sweep engine, 1,000 cells (100 rows × 5 models × 2 variants) against "
          "loopback servers", "≤ 2 ms CPU per cell beyond the stream parsing; wall time and cells/s at concurrency "
          "4 per provider reported", 300),
)  # fmt: skip


# --------------------------------------------------------------------------------------------------
# running


def run_bench(bench: Bench, smoke: bool, extra: list[str]) -> tuple[list[dict[str, Any]], str | None, float]:
    """Run one benchmark; returns its result objects, an error (or None) and the seconds it took."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), QT_QPA_PLATFORM="offscreen", TRIPTYCH_NO_KEYRING="1")
    cmd = [sys.executable, "-m", bench.module, *(["--smoke"] if smoke else []), *extra]
    t0 = time.monotonic()
    try:
        proc = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=bench.timeout)
    except subprocess.TimeoutExpired:
        return [], f"timed out after {bench.timeout:.0f} s", time.monotonic() - t0
    elapsed = time.monotonic() - t0
    results = []
    for line in proc.stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and {"name", "figures", "target", "pass"} <= obj.keys():
            results.append(obj)
    error = None
    if proc.returncode != 0 or not results:
        tail = "\n".join(proc.stderr.strip().splitlines()[-15:])
        error = f"exit status {proc.returncode}, {len(results)} results\n{tail}"
    return results, error, elapsed


# --------------------------------------------------------------------------------------------------
# machine


def _read(path: str) -> str:
    try:
        return Path(path).read_text(errors="replace")
    except OSError:
        return ""


def machine() -> dict[str, str]:
    cpu = next((ln.split(":", 1)[1].strip() for ln in _read("/proc/cpuinfo").splitlines() if ln.startswith("model name")),
               platform.processor() or platform.machine())  # fmt: skip
    mem_kb = next(
        (int(ln.split()[1]) for ln in _read("/proc/meminfo").splitlines() if ln.startswith("MemTotal")), 0
    )
    os_name = next(
        (ln.split("=", 1)[1].strip().strip('"') for ln in _read("/etc/os-release").splitlines()
         if ln.startswith("PRETTY_NAME=")),
        platform.system(),
    )  # fmt: skip
    try:
        import PySide6
        from PySide6.QtCore import qVersion

        qt = f"Qt {qVersion()}, PySide6 {PySide6.__version__}"
    except ImportError:  # pragma: no cover
        qt = "PySide6 not installed"
    sdks = []
    for name in ("openai", "anthropic", "httpx", "sqlalchemy"):
        try:
            from importlib.metadata import version

            sdks.append(f"{name} {version(name)}")
        except Exception:  # not installed
            sdks.append(f"{name} –")
    return {
        "CPU": cpu,
        "cores": str(os.cpu_count() or "?"),
        "RAM": f"{mem_kb / 1024 / 1024:.1f} GiB" if mem_kb else "?",
        "OS": f"{os_name} ({platform.release()})",
        "Python": f"{platform.python_implementation()} {platform.python_version()}",
        "Qt": qt,
        "SQLite": sqlite3.sqlite_version,
        "libraries": ", ".join(sdks),
    }


# --------------------------------------------------------------------------------------------------
# report


def _fmt(value: Any) -> str:
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, float):
        return f"{value:,.3f}".rstrip("0").rstrip(".") if abs(value) < 1000 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _target(key: str, target: Any) -> str:
    if isinstance(target, bool):
        return "= yes" if target else "= no"
    if "speedup" in key:
        return f"≥ {_fmt(target)}"
    return f"≤ {_fmt(target)}"


def _met(key: str, value: Any, target: Any) -> bool:
    if isinstance(target, bool):
        return bool(value) == target
    if "speedup" in key:
        return float(value) >= float(target)
    return float(value) <= float(target)


def number_of(name: str) -> int:
    prefix = name.split(".", 1)[0]
    return {
        "render": 1,
        "ui": 2,
        "stream_parse": 3,
        "canvas": 4,
        "store": 5,
        "startup": 6,
        "crash_loss": 7,
        "sweep_grid": 8,
        "team_store": 9,
        "sweep_engine": 10,
    }.get(prefix, 0)


def report(
    runs: list[tuple[Bench, list[dict[str, Any]], str | None, float]],
    info: dict[str, str],
    started: dt.datetime,
    total_s: float,
    smoke: bool,
    plot: str | None,
) -> str:
    out: list[str] = []
    out.append("# Performance\n")
    out.append(
        "Latest results of the benchmark suite (`bench/`), written by `bash scripts/bench.sh` "
        "(`python -m bench.run_all`). Every benchmark runs its comparison within one run and prints one "
        'JSON object per measured thing: `{"name", "figures", "target", "pass"}`. Each benchmark\'s '
        "module docstring says exactly what it measures and how.\n"
    )
    if smoke:
        out.append(
            "> **Smoke run** (tiny sizes): these figures only show that the suite runs. Not results.\n"
        )
    out.append(f"Run: {started:%Y-%m-%d %H:%M} UTC, {total_s:.0f} s in all.\n")
    out.append("| machine | |\n|---|---|")
    out += [f"| {k} | {v} |" for k, v in info.items()]
    out.append(
        "\nThe machine is a shared 2-core VM: expect ±30 % between runs. Ratios compare things measured "
        "in the same run.\n"
    )
    # summary
    out.append("## Summary\n")
    out.append("| # | benchmark | target | result | time |\n|---|---|---|---|---|")
    for bench, results, error, seconds in runs:
        if error:
            verdict = "**crashed**"
        else:
            verdict = ", ".join(f"{r['name']}: {'pass' if r['pass'] else '**FAIL**'}" for r in results)
        out.append(f"| {bench.number} | {bench.title} | {bench.target} | {verdict} | {seconds:.0f} s |")
    out.append("")
    # details
    for bench, results, error, _seconds in runs:
        out.append(f"## {bench.number}. {bench.title}\n")
        out.append(f"`python -m {bench.module}` — target: {bench.target}.\n")
        if error:
            out.append("The benchmark did not complete:\n\n```\n" + error + "\n```\n")
        for res in results:
            verdict = "pass" if res["pass"] else "FAIL"
            out.append(f"**`{res['name']}`: {verdict}**\n")
            out.append("| figure | value | target | |\n|---|--:|--:|---|")
            target = res.get("target", {})
            for key, value in res["figures"].items():
                if key in target:
                    met = _met(key, value, target[key])
                    out.append(
                        f"| {key} | {_fmt(value)} | {_target(key, target[key])} | {'✓' if met else '✗'} |"
                    )
                else:
                    out.append(f"| {key} | {_fmt(value)} | | |")
            out.append("")
        if bench.number == 2 and plot:
            out.append(f"![UI stall over time during benchmark 2]({plot})\n")
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.run_all", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes: check that every benchmark runs")
    parser.add_argument("--only", default="", help="comma-separated benchmark numbers (default: all)")
    parser.add_argument(
        "--out", default=None, help="report directory (default: docs/ for a full run, else a temp dir)"
    )
    args = parser.parse_args(argv)
    wanted = {int(x) for x in args.only.split(",") if x.strip()} or {b.number for b in BENCHES}
    full = not args.smoke and wanted == {b.number for b in BENCHES}
    # docs/ holds the latest *full* run: smoke and partial runs report to a temp dir unless --out says
    out_dir = (
        Path(args.out)
        if args.out
        else ROOT / "docs"
        if full
        else Path(tempfile.mkdtemp(prefix="triptych-bench-"))
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    started = dt.datetime.now(dt.UTC)
    t0 = time.monotonic()
    runs = []
    series = out_dir / "ui-stall.json"
    crashed = False
    for bench in BENCHES:
        if bench.number not in wanted:
            continue
        extra = ["--series", str(series)] if bench.number == 2 else []
        print(f"# {bench.number}. {bench.title} …", file=sys.stderr, flush=True)
        results, error, seconds = run_bench(bench, args.smoke, extra)
        for res in results:
            print(json.dumps(res, ensure_ascii=False), flush=True)
        if error:
            crashed = True
            print(f"# {bench.module} failed: {error}", file=sys.stderr, flush=True)
        runs.append((bench, results, error, seconds))
    plot = None
    if series.exists():
        from bench.plot import draw

        draw(json.loads(series.read_text()), out_dir / "ui-stall.png")
        series.unlink()
        plot = "ui-stall.png"
    text = report(runs, machine(), started, time.monotonic() - t0, args.smoke, plot)
    (out_dir / "performance.md").write_text(text + "\n", encoding="utf-8")
    print(f"# report: {out_dir / 'performance.md'} ({time.monotonic() - t0:.0f} s)", file=sys.stderr)
    return 1 if crashed else 0


if __name__ == "__main__":
    sys.exit(main())
