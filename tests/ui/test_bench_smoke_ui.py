"""Smoke runs of the benchmarks that need the GUI (bench/bench_ui.py, bench_canvas.py,
bench_startup.py): each runs with `--smoke` (tiny sizes) in a subprocess, offscreen, and must print
well-formed result lines. Targets are not judged here; `bash scripts/bench.sh` does that.
"""

from __future__ import annotations

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


def run_smoke(module: str, *args: str, timeout: float = 240) -> list[dict[str, Any]]:
    env = dict(
        os.environ,
        PYTHONPATH=str(ROOT),
        QT_QPA_PLATFORM="offscreen",
        TRIPTYCH_NO_KEYRING="1",
        PYTHONDONTWRITEBYTECODE="1",
    )
    proc = subprocess.run(
        [sys.executable, "-m", module, "--smoke", *args],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )
    assert proc.returncode == 0, f"{module} --smoke failed ({proc.returncode}):\n{proc.stderr[-3000:]}"
    return [json.loads(line) for line in proc.stdout.splitlines() if line.startswith("{")]


def check_shape(results: list[dict[str, Any]], name: str) -> dict[str, Any]:
    assert [r.get("name") for r in results] == [name], results
    result = results[0]
    assert {"name", "figures", "target", "pass"} <= result.keys()
    assert isinstance(result["pass"], bool) and result.get("smoke") is True
    figures, target = result["figures"], result["target"]
    assert isinstance(figures, dict) and figures and isinstance(target, dict) and target
    for key, value in figures.items():
        assert isinstance(value, int | float) and math.isfinite(value), f"figure {key} = {value!r}"
    for key in target:
        assert key in figures, f"target {key} has no figure"
    return figures


def test_ui_bench_smoke(tmp_path: Path, qapp) -> None:
    series = tmp_path / "stall.json"
    figures = check_shape(run_smoke("bench.bench_ui", "--series", str(series)), "ui.three_lanes_streaming")
    assert figures["lanes"] == 3 and figures["ticks"] > 0 and figures["latency_samples"] > 0
    data = json.loads(series.read_text())
    assert len(data["t_s"]) == len(data["stall_ms"]) == figures["ticks"]
    from bench.plot import draw  # the plot the runner writes to docs/ui-stall.png

    draw(data, tmp_path / "stall.png")
    assert (tmp_path / "stall.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_canvas_bench_smoke() -> None:
    figures = check_shape(run_smoke("bench.bench_canvas"), "canvas.ten_thousand_cards")
    assert figures["cards"] == 200 and figures["pan_paints"] > 0


def test_startup_bench_smoke() -> None:
    figures = check_shape(run_smoke("bench.bench_startup"), "startup.interactive_last_session")
    assert figures["bare_warm_ms"] > 0 and figures["bare_cold_ms"] > 0
    # judged on the live window: the canvas painted with cards, then a key reached the prompt box
    assert figures["app_warm_interactive_ms"] >= figures["app_warm_first_paint_ms"] > 0
    assert figures["app_cold_interactive_ms"] > 0 and figures["app_big_warm_interactive_ms"] > 0
    assert figures["rss_big_mb"] > 0 and figures["rss_mb"] > 0


def test_sweep_grid_bench_smoke() -> None:
    figures = check_shape(run_smoke("bench.bench_sweep_grid"), "sweep_grid.thousand_cells")
    assert figures["cells"] == 100 and figures["small_cells"] == 10
    assert figures["first_paint_ms"] > 0 and figures["scroll_p95_ms"] > 0 and figures["first_paint_ratio"] > 0
