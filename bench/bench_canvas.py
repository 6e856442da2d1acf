"""Benchmark 4: canvas scale, a session of 10,000 cards with edges in the real main window.

A store holds a finished 10,000-card session (rounds of one prompt fanned out to three models,
~1.5k chars of markdown per answer, every card linked: ~10,000 edges) and a small newer one, which
the window opens first. Offscreen, in the real `MainWindow` (1440×900, minimap on):

- **build**: `controller.open_session(big)`: load from the store, one card item per node, the edge
  items, the saved viewport. Also reported: `load_graph` alone, so build − load is the scene's part.
- **memory**: RSS growth of the process over that build (after a GC), minus what the loaded
  session's own objects take (a second `load_graph` kept alive), per 1,000 cards. The scene makes
  only the cards the view reaches (ui/canvas/loader.py); here every card is then made, as after a
  pan over the whole session, and memory is measured with all of them (`background_fill_ms`: how
  long making the rest took, not judged). The frames below run on that whole scene.
- **pan / zoom frames at zoom 1**: centred on the busiest part, the view is scrolled by 40 px steps
  (or zoomed in and out by 10 % about the centre) and the event loop processes the resulting
  update, paint included (`QApplication.processEvents()`, timed; paints are counted to check they
  happen). p50/p95/max over the steps; judged: p95.
- **fit-all frames**: `view.fit_all()` (every card, zoomed out), then small pans at that zoom;
  first frame and median of the rest; judged: the median.
- the pan, zoom and fit-all frames again with the minimap hidden (View → Minimap), not judged: the
  difference is what the minimap costs per frame.

Targets: build ≤ 300 ms; pan/zoom frame ≤ 8 ms at zoom 1; fit-all frame ≤ 33 ms; memory ≤ 10 MB
per 1,000 cards.

    python -m bench.bench_canvas             # 10,000 cards
    python -m bench.bench_canvas --smoke     # 200 cards
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("QT_API", "pyside6")
os.environ["TRIPTYCH_NO_ERROR_DIALOG"] = "1"

import argparse
import gc
import shutil
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from bench.common import emit, log, median, pct, r, rss_bytes, session_graph

TARGET_BUILD_MS = 300.0
TARGET_FRAME_MS = 8.0
TARGET_FIT_MS = 33.0
TARGET_MB_PER_1000 = 10.0


class PaintCounter:
    def __init__(self, widget: Any) -> None:
        from PySide6.QtCore import QEvent, QObject

        counter = self

        class _Filter(QObject):
            def eventFilter(self, obj: Any, event: Any) -> bool:  # noqa: N802 (Qt override)
                if event.type() == QEvent.Type.Paint:
                    counter.count += 1
                return False

        self.count = 0
        self._filter = _Filter()
        widget.installEventFilter(self._filter)


def _frames(app: Any, step: Callable[[int], None], n: int, painted: PaintCounter) -> tuple[list[float], int]:
    times = []
    before = painted.count
    for i in range(n):
        t0 = time.perf_counter()
        step(i)
        app.processEvents()
        times.append((time.perf_counter() - t0) * 1000.0)
    return times, painted.count - before


def _stats(prefix: str, times: list[float]) -> dict[str, float]:
    return {
        f"{prefix}_p50_ms": r(pct(times, 0.5), 2),
        f"{prefix}_p95_ms": r(pct(times, 0.95), 2),
        f"{prefix}_max_ms": r(max(times), 2),
    }


def run(cards: int, steps: int) -> tuple[dict[str, float | int], bool]:
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    from app.domain import Session
    from storage import open_store
    from ui.app import build_services, create_window

    work = Path(tempfile.mkdtemp(prefix="triptych-bench-canvas-"))
    try:
        home = work / "home"
        graph = session_graph(cards)
        big = graph.session.id
        with open_store(home) as repo:
            repo.create_session(graph.session)
            repo.add_nodes(list(graph.nodes.values()), graph.edges)
            repo.create_session(Session(title="small"))  # newer: the window opens this one
        os.environ.update({"TRIPTYCH_HOME": str(home), "TRIPTYCH_NO_KEYRING": "1"})
        app = QApplication.instance() or QApplication(["triptych-bench"])
        services = build_services(home, interactive=False)
        window = create_window(services)
        window.resize(1440, 900)
        window.show()
        app.processEvents()
        view, scene = window.view, window.scene
        painted = PaintCounter(view.viewport())

        loads = []
        for _ in range(3):
            t0 = time.perf_counter()
            services.repo.load_graph(big)
            loads.append((time.perf_counter() - t0) * 1000.0)
        gc.collect()
        rss0 = rss_bytes()
        t0 = time.perf_counter()
        window.controller.open_session(big)
        build_ms = (time.perf_counter() - t0) * 1000.0
        t0 = time.perf_counter()
        app.processEvents()  # the first paint of the opened session (fit-all: never saved)
        first_paint_ms = (time.perf_counter() - t0) * 1000.0
        # The scene makes only the cards the view reaches (ui/canvas/loader.py): make every one here,
        # as a user who has panned over the whole session would have, so that the memory figure
        # covers every card and the frames below run on the whole scene (the worst case).
        t0 = time.perf_counter()
        materialize_all = getattr(scene, "materialize_all", None)
        if materialize_all is not None:
            materialize_all()
        app.processEvents()
        fill_ms = (time.perf_counter() - t0) * 1000.0
        gc.collect()
        rss1 = rss_bytes()
        kept = services.repo.load_graph(big)  # what the session's own objects weigh
        gc.collect()
        rss2 = rss_bytes()
        graph_mb = (rss2 - rss1) / 1e6
        scene_mb = (rss1 - rss0) / 1e6 - graph_mb
        del kept
        log(f"built {len(scene.cards())} cards, {len(scene.edge_keys())} edges in {build_ms:.0f} ms")

        # pan and zoom at zoom 1, centred on the busiest spot (the middle of the layout)
        bounds = scene.cards_bounds()
        centre = bounds.center()
        view.set_viewport(centre.x(), centre.y(), 1.0)
        app.processEvents()
        hbar, vbar = view.horizontalScrollBar(), view.verticalScrollBar()

        def pan(i: int) -> None:
            bar = hbar if i % 2 == 0 else vbar
            bar.setValue(bar.value() + (40 if (i // 20) % 2 == 0 else -40))

        pan_times, pan_paints = _frames(app, pan, steps, painted)

        def zoom(i: int) -> None:
            view.zoom_by(1.1 if i % 2 == 0 else 1 / 1.1)

        zoom_times, zoom_paints = _frames(app, zoom, steps, painted)

        # the same with the minimap hidden (View → Minimap): what the minimap costs per frame
        view.minimap.setVisible(False)
        view.set_viewport(centre.x(), centre.y(), 1.0)
        app.processEvents()
        pan_bare, pan_bare_paints = _frames(app, pan, steps, painted)
        zoom_bare, _ = _frames(app, zoom, steps, painted)
        view.minimap.setVisible(True)
        view.set_viewport(centre.x(), centre.y(), 1.0)
        app.processEvents()

        # fit all, then small pans at that zoom (and the same without the minimap)
        t0 = time.perf_counter()
        view.fit_all()
        app.processEvents()
        fit_first_ms = (time.perf_counter() - t0) * 1000.0
        fit_zoom = view.zoom()
        fit_times, fit_paints = _frames(app, pan, max(6, steps // 4), painted)
        view.minimap.setVisible(False)
        fit_bare, _ = _frames(app, pan, max(6, steps // 4), painted)
        view.minimap.setVisible(True)
        view.centerOn(QPointF(centre))

        window.close()
        window.deleteLater()
        app.processEvents()
        services.repo.close()
    finally:
        shutil.rmtree(work, ignore_errors=True)

    n = len(graph.nodes)
    mb_per_1000 = scene_mb / n * 1000.0
    figures: dict[str, float | int] = {
        "cards": n,
        "edges": len(graph.edges),
        "build_ms": r(build_ms, 1),
        "load_graph_ms": r(median(loads), 1),
        "scene_build_ms": r(build_ms - median(loads), 1),
        "first_paint_ms": r(first_paint_ms, 1),
        "background_fill_ms": r(fill_ms, 1),
        **_stats("pan", pan_times),
        "pan_paints": pan_paints,
        **_stats("zoom", zoom_times),
        "zoom_paints": zoom_paints,
        "fit_zoom": r(fit_zoom, 4),
        "fit_first_frame_ms": r(fit_first_ms, 1),
        "fit_frame_p50_ms": r(pct(fit_times, 0.5), 1),
        "fit_frame_max_ms": r(max(fit_times), 1),
        "fit_paints": fit_paints,
        "pan_p50_ms_minimap_off": r(pct(pan_bare, 0.5), 2),
        "pan_paints_minimap_off": pan_bare_paints,
        "zoom_p50_ms_minimap_off": r(pct(zoom_bare, 0.5), 2),
        "fit_frame_p50_ms_minimap_off": r(pct(fit_bare, 0.5), 1),
        "scene_mb": r(scene_mb, 1),
        "session_objects_mb": r(graph_mb, 1),
        "mb_per_1000_cards": r(mb_per_1000, 2),
    }
    ok = (
        build_ms <= TARGET_BUILD_MS
        and pct(pan_times, 0.95) <= TARGET_FRAME_MS
        and pct(zoom_times, 0.95) <= TARGET_FRAME_MS
        and pct(fit_times, 0.5) <= TARGET_FIT_MS
        and mb_per_1000 <= TARGET_MB_PER_1000
    )
    return figures, ok


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.bench_canvas", description=__doc__.splitlines()[0])
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks that the bench runs")
    parser.add_argument("--cards", type=int, default=None)
    args = parser.parse_args(argv)
    cards = args.cards or (200 if args.smoke else 10_000)
    figures, ok = run(cards, 12 if args.smoke else 60)
    emit(
        "canvas.ten_thousand_cards",
        figures,
        {
            "build_ms": TARGET_BUILD_MS,
            "pan_p95_ms": TARGET_FRAME_MS,
            "zoom_p95_ms": TARGET_FRAME_MS,
            "fit_frame_p50_ms": TARGET_FIT_MS,
            "mb_per_1000_cards": TARGET_MB_PER_1000,
        },
        ok,
        smoke=args.smoke,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
