"""The measured process of bench/bench_startup.py (not a benchmark itself).

    python -m bench.startup_child app    # `triptych` (app.cli.main, the gui command), offscreen
    python -m bench.startup_child bare   # a bare PySide6 QMainWindow, started the same way
    python -m bench.startup_child floor  # the stack's imports + reading the session + a bare window

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


def app() -> None:
    # The order `triptych` imports in: app.cli, then (gui command) ui.app, which imports the main
    # window module only when it builds the window; the window's __init__ is wrapped to stamp marks.
    import app.cli  # noqa: F401
    import ui.app  # noqa: F401
    import ui.main_window as main_window

    _mark("imported")
    original = main_window.MainWindow.__init__

    def init(self, *args, **kwargs) -> None:  # type: ignore[no-untyped-def]
        _mark("window_init")
        original(self, *args, **kwargs)
        _mark("window_built")
        _exit_on_first_paint(self.view.viewport())

    main_window.MainWindow.__init__ = init  # type: ignore[method-assign]
    from app.cli import main

    sys.exit(main([]))


if __name__ == "__main__":
    _mark("python_up")
    {"app": app, "bare": bare, "floor": floor}[sys.argv[1]]()
