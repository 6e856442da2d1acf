"""Smoke runs of the Qt-free benchmarks (bench/), so they cannot rot: each runs with `--smoke` (tiny
sizes) in a subprocess with PySide6 blocked, and must print well-formed result lines. Targets are
not judged here; `bash scripts/bench.sh` does that.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.slow

# Runs a module as __main__ with Qt unimportable (the same blocker as the Qt-free test run).
_RUNNER = (
    "import runpy, sys\n"
    "import tests.block_qt\n"
    "module = sys.argv.pop(1)\n"
    "runpy.run_module(module, run_name='__main__', alter_sys=True)\n"
)


def run_smoke(module: str, *args: str, timeout: float = 240) -> tuple[list[dict[str, Any]], str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TRIPTYCH_NO_KEYRING="1", PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "-c", _RUNNER, module, "--smoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{module} --smoke failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    results = [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]
    return results, proc.stderr


def check_shape(results: list[dict[str, Any]], prefix: str) -> None:
    assert results, "no result lines on stdout"
    for result in results:
        assert {"name", "figures", "target", "pass"} <= result.keys(), result
        assert isinstance(result["name"], str) and result["name"].startswith(prefix), result["name"]
        assert isinstance(result["pass"], bool)
        assert result.get("smoke") is True
        figures, target = result["figures"], result["target"]
        assert isinstance(figures, dict) and figures, result
        assert isinstance(target, dict) and target, result
        for key, value in figures.items():
            assert isinstance(value, int | float), f"{result['name']}: figure {key} = {value!r} is not a number"
            assert math.isfinite(value), f"{result['name']}: figure {key} = {value!r}"
        for key in target:
            assert key in figures, f"{result['name']}: target {key} has no figure"


@pytest.mark.skipif(not (ROOT / "bench" / "render_bench.py").exists(), reason="bench/render_bench.py not here")
def test_render_bench_smoke() -> None:
    results, _ = run_smoke("bench.render_bench")
    check_shape(results, "render.")
    assert {r["name"] for r in results} >= {"render.stream_update", "render.open_code_update"}


@pytest.mark.skipif(
    importlib.util.find_spec("openai") is None or importlib.util.find_spec("anthropic") is None,
    reason="the official SDKs are in the bench extra: pip install -e '.[bench]'",
)
def test_stream_parse_bench_smoke() -> None:
    results, _ = run_smoke("bench.bench_stream_parse")
    check_shape(results, "stream_parse.")
    figures = results[0]["figures"]
    for api in ("chat", "responses", "anthropic"):
        assert figures[f"{api}_ours_cpu_s"] > 0 and figures[f"{api}_sdk_cpu_s"] > 0


def test_store_bench_smoke() -> None:
    results, _ = run_smoke("bench.bench_store")
    check_shape(results, "store.")
    assert [r["name"] for r in results] == ["store.save_load_session", "store.search"]
    assert results[1]["figures"]["rare_hits"] >= 0


def test_team_store_bench_smoke() -> None:
    """Benchmark 9 starts its own throwaway PostgreSQL cluster: load, search, a second process's
    change seen by the watcher, concurrent writers."""
    from tests.pgserver import pg_bindir

    if pg_bindir() is None:
        if os.environ.get("TRIPTYCH_REQUIRE_PG", "") not in ("", "0"):
            pytest.fail("PostgreSQL is not installed (no initdb found) and TRIPTYCH_REQUIRE_PG is set")
        pytest.skip("PostgreSQL is not installed (no initdb found): the team-store benchmark did NOT run")
    results, _ = run_smoke("bench.bench_team_store")
    check_shape(results, "team_store.")
    assert [r["name"] for r in results] == [
        "team_store.load_session", "team_store.search", "team_store.watch", "team_store.writers"]
    by_name = {r["name"]: r["figures"] for r in results}
    assert by_name["team_store.watch"]["missed"] == 0 and by_name["team_store.watch"]["changes"] > 0
    assert by_name["team_store.writers"]["lost_updates"] == 0
    assert by_name["team_store.search"]["everywhere_hits"] == 80


def test_crash_loss_bench_smoke() -> None:
    results, _ = run_smoke("bench.bench_crash_loss")
    check_shape(results, "crash_loss.")
    figures = results[0]["figures"]
    assert figures["runs"] == 2 and figures["max_lag_ms"] >= 0


def test_run_all_writes_the_report(tmp_path: Path) -> None:
    """The runner collects the lines of the benchmarks it runs and writes the Markdown report."""
    env = dict(os.environ, PYTHONPATH=str(ROOT), TRIPTYCH_NO_KEYRING="1", PYTHONDONTWRITEBYTECODE="1")
    proc = subprocess.run(
        [sys.executable, "-m", "bench.run_all", "--smoke", "--only", "5,7", "--out", str(tmp_path)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=240,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    names = [json.loads(line)["name"] for line in proc.stdout.splitlines() if line.startswith("{")]
    assert names == ["store.save_load_session", "store.search", "crash_loss.sigkill"]
    report = (tmp_path / "performance.md").read_text(encoding="utf-8")
    assert "Smoke run" in report and "| CPU |" in report and "| Python |" in report
    assert "## 5. Store" in report and "## 7. Crash loss" in report
    assert "| load_median_ms |" in report and "≤ 100" in report


def test_sweep_engine_bench_smoke() -> None:
    """Benchmark 10 runs a real (small) sweep through `triptych sweep` against the loopback server, and
    the parsing of the same streams alone; the overhead is their difference per cell."""
    results, _ = run_smoke("bench.bench_sweep_engine")
    check_shape(results, "sweep_engine.")
    figures = results[0]["figures"]
    assert figures["cells"] == 40 and figures["sweep_cpu_s"] > figures["parse_cpu_s"] > 0
    assert figures["cells_per_s"] > 0
    expected = (figures["sweep_cpu_s"] - figures["parse_cpu_s"]) / figures["cells"] * 1000
    assert abs(figures["engine_overhead_ms_per_cell"] - expected) < 0.05  # CPU seconds are rounded to 1 ms
