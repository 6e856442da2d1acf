"""The measured process of bench/bench_startup.py (not a benchmark itself).

    python -m bench.startup_child app    # `triptych` (app.start.main: the GUI through ui.launch), offscreen
    python -m bench.startup_child bare   # a bare PySide6 QMainWindow, started the same way
    python -m bench.startup_child floor  # the stack's imports + reading the session + a bare window
    python -m bench.startup_child prime  # `triptych`, settled, then its window closed (saves the start picture)

Prints `MARK <name> <time.monotonic()>` lines as it goes and `PAINTED <t>` once the window has
painted (for the app: the canvas viewport, with the last session open), then exits at once.
Imports only the standard library before it decides what to start, so both kinds pay the same.
"""

from __future__ import annotations

import os
import sys
import time


def _mark(name: str) -> None:
    print(f"MARK {name} {time.monotonic():.6f}", flush=True)


def _exit_on_first_paint(widget) -> None:  # type: ignore[no-untyped-def]
    from PySide6.QtCore import QEvent, QObject, QTimer

    class _Filter(QObject):
        def eventFilter(self, obj, event) -> bool:  # type: ignore[no-untyped-def]  # noqa: N802
            if event.type() == QEvent.Type.Paint:
                QTimer.singleShot(0, _done)  # runs once this paint has finished
            return False

    def _done() -> None:
        print(f"PAINTED {time.monotonic():.6f}", flush=True)
        os._exit(0)

    widget._bench_filter = _Filter(widget)
    widget.installEventFilter(widget._bench_filter)


def _bare_window(title: str) -> None:
    """A QMainWindow (1440×900) with an empty central widget; exits once that has painted."""
    from PySide6.QtWidgets import QApplication, QMainWindow, QWidget

    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle(title)
    window.resize(1440, 900)
    central = QWidget(window)
    window.setCentralWidget(central)
    _exit_on_first_paint(central)
    _mark("window_built")
    window.show()
    app.exec()


def bare() -> None:
    import PySide6.QtWidgets  # noqa: F401

    _mark("imported")
    _bare_window("bare")


def floor() -> None:
    """The least any app on the mandated stack does before painting the last session: import the
    libraries the window needs (asyncio, qasync, SQLAlchemy, markdown-it, Pygments, PySide6), open the
    store and read the session (`load_graph`), then paint a bare window. No scene, no cards."""
    # pure-Python libraries first, as ui.app does (see the comment there)
    # isort: off
    import asyncio  # noqa: F401
    import markdown_it  # noqa: F401
    import pygments.lexers  # noqa: F401
    import sqlalchemy  # noqa: F401
    import PySide6.QtWidgets  # noqa: F401
    import qasync  # noqa: F401
    # isort: on

    _mark("imported")
    from storage import open_store

    repo = open_store(os.environ["TRIPTYCH_HOME"])
    sessions = repo.list_sessions()
    graph = repo.load_graph(sessions[0].id) if sessions else None
    _mark("loaded")
    _bare_window(f"floor {len(graph.nodes) if graph else 0}")


def _watch_paints(exit_on_canvas: bool, on_app=None) -> None:  # type: ignore[no-untyped-def]
    """Stamp `MARK preview_painted` when the start picture has painted and `PAINTED` when the canvas
    viewport has (then exit, if `exit_on_canvas`). Watches every widget through the QApplication the
    launcher makes (and calls `on_app()` once it is made), so nothing of the app is imported before
    it would be."""
    # isort: off
    import ui.launch as launch  # first, as app.start imports it: before PySide6 (see _import_core)
    from PySide6.QtCore import QEvent, QObject, QTimer
    # isort: on

    make_application = launch.make_application

    class _Filter(QObject):
        def __init__(self) -> None:
            super().__init__()
            self.seen: set[str] = set()

        def eventFilter(self, obj, event) -> bool:  # type: ignore[no-untyped-def]  # noqa: N802
            kind = event.type()
            if kind == QEvent.Type.Show and type(obj).__name__ == "MainWindow" and "shown" not in self.seen:
                self.seen.add("shown")
                _mark("window_shown")
            if kind != QEvent.Type.Paint:
                return False
            name = type(obj).__name__
            parent = obj.parent()
            if name == "StartPreview" and "preview" not in self.seen:
                self.seen.add("preview")
                QTimer.singleShot(0, lambda: _mark("preview_painted"))
            elif parent is not None and type(parent).__name__ == "CanvasView" and "canvas" not in self.seen:
                self.seen.add("canvas")
                QTimer.singleShot(0, self._canvas_painted)
            return False

        def _canvas_painted(self) -> None:
            print(f"PAINTED {time.monotonic():.6f}", flush=True)
            if exit_on_canvas:
                os._exit(0)

    import_core = launch._import_core

    def make(argv):  # type: ignore[no-untyped-def]
        app = make_application(argv)
        if not hasattr(app, "_bench_filter"):
            app._bench_filter = _Filter()
            app.installEventFilter(app._bench_filter)
            _mark("qt_app")
            if on_app is not None:
                on_app()
        return app

    def core() -> None:
        import_core()
        _mark("core_imported")

    launch.make_application = make  # type: ignore[assignment]
    launch._import_core = core  # type: ignore[assignment]


def app() -> None:
    """`triptych` as installed (app.start.main, which opens the GUI through ui.launch). Marks the
    QApplication made (`qt_app`), the start picture's first paint (`preview_painted`, when the last
    close left a valid one), the app's core imported (`core_imported`), the main window shown
    (`window_shown`: built, with the session open) and exits once its canvas has painted (`PAINTED`)."""
    _watch_paints(exit_on_canvas=True)
    from app.start import main

    sys.exit(main([]))


def prime() -> None:
    """Open the app, let it settle (the session loaded, every card made) and close its window as a user
    would: the next start has the start picture of that window."""

    def close_soon() -> None:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        for widget in QApplication.topLevelWidgets():
            if type(widget).__name__ == "MainWindow" and widget.isVisible():
                QTimer.singleShot(1500, widget.close)
                return
        QTimer.singleShot(100, close_soon)

    _watch_paints(exit_on_canvas=False, on_app=close_soon)
    from app.start import main

    code = main([])
    print("PRIMED", flush=True)
    sys.exit(code)


if __name__ == "__main__":
    _mark("python_up")
    {"app": app, "bare": bare, "floor": floor, "prime": prime}[sys.argv[1]]()
