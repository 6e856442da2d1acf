"""Benchmark 8: the sweep grid, a 1,000-cell sweep (100 rows × 5 models × 2 variants) in the real window.

A store holds two finished sweep sessions made as `triptych sweep` makes them (one `sweep` node, one
prompt → answer pair per cell, ~600 chars of markdown per answer, checks, latency and cost), one of
1,000 cells and one of 10 (5 rows × 1 model × 2 variants), and a small newer session the window
opens first. Offscreen, in the real `MainWindow` (1440×900), for each sweep:

- **open → first paint**: `controller.open_session(sweep)` (the outline, the sweep and every answer
  read, the grid's data built, the cells' cards left out of the scene) and the event loop's first
  pass, until the grid item has painted (counted in its `paint`).
- **memory**: RSS growth over that open (after a GC), the whole session included.
- **scroll / zoom frames**: the view at zoom 1 on the grid, scrolled by 40 px steps, then zoomed in
  and out by 10 % (`QApplication.processEvents()` timed after each step, paint included); p50/p95/max.

Reported with the 1,000-cell figures: their ratios to the 10-cell sweep's in the same run (what the
size costs). Targets (issue #16): the grid is on screen ≤ 300 ms after the open; scroll and zoom
frames p95 ≤ 16 ms; ≤ 30 MB for the grid's session.

    python -m bench.bench_sweep_grid             # 1,000 cells vs 10
    python -m bench.bench_sweep_grid --smoke     # 100 cells vs 10
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
os.environ["TRIPTYCH_NO_ERROR_DIALOG"] = "1"

import argparse
import gc
import random
import shutil
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from bench.common import emit, log, markdown_answer, pct, r, rss_bytes

TARGET_OPEN_MS = 300.0
TARGET_FRAME_MS = 16.0
TARGET_MB = 30.0

MODELS = ["deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol", "anthropic:claude-haiku-5-5",
          "deepseek:deepseek-v4-pro"]


def _store_sweep(repo: Any, rows: int, models: list[str], variants: list[dict[str, Any]], seed: int) -> str:
    from app.domain import Edge, EdgeRole, Node, NodeKind, NodeStatus, Session, Timing
    from app.sweep import CELL_META, CHECKS_META, SWEEP_META, SweepDef

    rnd = random.Random(seed)
    defn = SweepDef(templates=["Answer the support ticket {{id}}: {{text}}"], models=models, columns=["id", "text"],
                    rows=[{"id": str(i), "text": f"ticket {i}: the export drops a column when {rnd.random():.3f}"}
                          for i in range(rows)], vars_name="tickets.csv", variants=variants,
                    checks=["contains:the", "max-ms:2000"])
    session = repo.create_session(Session(title=f"Sweep: {defn.size} cells"))
    sweep = Node(session.id, NodeKind.SWEEP, defn.summary(), meta={SWEEP_META: defn.to_dict()},
                 status=NodeStatus.DONE, title="Sweep")
    nodes, edges = [sweep], []
    for cell in defn.cells():
        mark = {CELL_META: {"sweep": sweep.id, "cell": cell.index}}
        prompt = Node(session.id, NodeKind.PROMPT, cell.text, meta=dict(mark), x=3000.0 + (cell.index % 10) * 500,
                      y=(cell.index // 10) * 900.0)
        answer = Node(session.id, NodeKind.RESPONSE, markdown_answer(600, seed * 100_000 + cell.index), model=cell.model,
                      status=NodeStatus.DONE, meta=dict(mark), x=prompt.x, y=prompt.y + 160)
        ms = rnd.randint(300, 2600)
        answer.timing = Timing(ttft_ms=ms // 4, duration_ms=ms)
        answer.cost_usd = rnd.random() / 1000
        answer.meta[CHECKS_META] = [{"check": "contains:the", "pass": True}, {"check": "max-ms:2000", "pass": ms <= 2000}]
        nodes += [prompt, answer]
        edges.append(Edge(prompt.id, answer.id, EdgeRole.REPLY, 0, session.id))
    repo.add_nodes(nodes, edges)
    return session.id


def _measure(app: Any, window: Any, session_id: str, steps: int) -> dict[str, float]:
    from ui.canvas.sweep_grid import SweepGridItem

    painted = [0]
    original = SweepGridItem.paint

    def paint(self: Any, *args: Any) -> None:
        painted[0] += 1
        original(self, *args)

    SweepGridItem.paint = paint  # type: ignore[method-assign]
    try:
        gc.collect()
        rss0 = rss_bytes()
        t0 = time.perf_counter()
        window.controller.open_session(session_id)
        open_ms = (time.perf_counter() - t0) * 1000.0
        while not painted[0] and time.perf_counter() - t0 < 10:
            app.processEvents()
        first_paint_ms = (time.perf_counter() - t0) * 1000.0
        gc.collect()
        mb = (rss_bytes() - rss0) / 1e6
        item = window.controller.sweeps.item
        view = window.view
        rect = item.sceneBoundingRect()
        view.set_viewport(rect.left() + 700, rect.top() + 450, 1.0)
        app.processEvents()
        vbar, hbar = view.verticalScrollBar(), view.horizontalScrollBar()

        def frames(step: Any) -> list[float]:
            out = []
            for i in range(steps):
                before = painted[0]
                t = time.perf_counter()
                step(i)
                app.processEvents()
                out.append((time.perf_counter() - t) * 1000.0)
                if painted[0] == before and i == 0:
                    log("warning: a step painted nothing")
            return out

        def scroll(i: int) -> None:
            bar = vbar if i % 3 else hbar
            bar.setValue(bar.value() + (40 if (i // 30) % 2 == 0 else -40))

        scroll_times = frames(scroll)

        def zoom(i: int) -> None:
            view.zoom_by(1.1 if (i // 6) % 2 == 0 else 1 / 1.1)

        zoom_times = frames(zoom)
    finally:
        SweepGridItem.paint = original  # type: ignore[method-assign]
    return {
        "cells": len(window.controller.sweeps.grid.cells),
        "open_ms": r(open_ms, 1),
        "first_paint_ms": r(first_paint_ms, 1),
        "session_mb": r(mb, 1),
        "scroll_p50_ms": r(pct(scroll_times, 0.5), 2),
        "scroll_p95_ms": r(pct(scroll_times, 0.95), 2),
        "scroll_max_ms": r(max(scroll_times), 2),
        "zoom_p50_ms": r(pct(zoom_times, 0.5), 2),
        "zoom_p95_ms": r(pct(zoom_times, 0.95), 2),
        "zoom_max_ms": r(max(zoom_times), 2),
    }


def run(rows: int, steps: int) -> tuple[dict[str, Any], bool]:
    from PySide6.QtWidgets import QApplication

    from app.domain import Session
    from storage import open_store
    from ui.app import build_services, create_window

    work = Path(tempfile.mkdtemp(prefix="triptych-bench-sweep-"))
    try:
        home = work / "home"
        variants = [{"temperature": 0.0}, {"temperature": 0.7}]
        with open_store(home) as repo:
            big = _store_sweep(repo, rows, MODELS, variants, 1)
            small = _store_sweep(repo, 5, MODELS[:1], variants, 2)
            repo.create_session(Session(title="small"))  # newer: the window opens this one
        os.environ.update({"TRIPTYCH_HOME": str(home), "TRIPTYCH_NO_KEYRING": "1"})
        app = QApplication.instance() or QApplication(["triptych-bench"])
        services = build_services(home, interactive=False)
        window = create_window(services)
        window.resize(1440, 900)
        window.show()
        app.processEvents()
        # warm-up: the code paths and fonts once (not measured), on the small sweep
        _measure(app, window, small, 4)
        window.controller.open_session(services.repo.list_sessions()[0].id)
        app.processEvents()
        ten = _measure(app, window, small, steps)
        thousand = _measure(app, window, big, steps)
        log(f"{thousand['cells']} cells: first paint {thousand['first_paint_ms']} ms, "
            f"scroll p95 {thousand['scroll_p95_ms']} ms; 10 cells: {ten['first_paint_ms']} ms")
        window.close()
        window.deleteLater()
        app.processEvents()
        services.repo.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    def ratio(key: str) -> float:
        return r(thousand[key] / ten[key], 2) if ten[key] else 0.0

    figures: dict[str, Any] = {
        **thousand,
        **{f"small_{k}": v for k, v in ten.items()},
        "first_paint_ratio": ratio("first_paint_ms"),
        "scroll_p95_ratio": ratio("scroll_p95_ms"),
        "zoom_p95_ratio": ratio("zoom_p95_ms"),
    }
    ok = (thousand["first_paint_ms"] <= TARGET_OPEN_MS and thousand["scroll_p95_ms"] <= TARGET_FRAME_MS
          and thousand["zoom_p95_ms"] <= TARGET_FRAME_MS and thousand["session_mb"] <= TARGET_MB)
    return figures, ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_sweep_grid", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks that the bench runs")
    parser.add_argument("--rows", type=int, default=None, help="rows of the big sweep (× 5 models × 2 variants)")
    args = parser.parse_args(argv)
    rows = args.rows or (10 if args.smoke else 100)
    figures, ok = run(rows, 12 if args.smoke else 60)
    emit("sweep_grid.thousand_cells", figures,
         {"first_paint_ms": TARGET_OPEN_MS, "scroll_p95_ms": TARGET_FRAME_MS, "zoom_p95_ms": TARGET_FRAME_MS,
          "session_mb": TARGET_MB}, ok, smoke=args.smoke)
    return 0


if __name__ == "__main__":
    sys.exit(main())
