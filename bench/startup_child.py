"""The measured process of bench/bench_startup.py (not a benchmark itself).

    python -m bench.startup_child app    # `triptych` (app.start.main: the GUI through ui.launch), offscreen
    python -m bench.startup_child bare   # a bare PySide6 QMainWindow, started the same way
    python -m bench.startup_child floor  # the stack's imports + reading the session + a bare window
    python -m bench.startup_child prime  # `triptych`, settled, then its window closed (saves the viewport)

Prints `MARK <name> <time.monotonic()>` lines as it goes. Once the window has painted (for the app:
the canvas viewport, with cards of the last session on it) it stamps `MARK first_paint`, then posts a
synthetic key press ("x") to the text box that takes the user's typing (the app's prompt box; the
bare window's line edit) and prints `PAINTED <t>` once that key has been handled (the text box
shows it): the window is interactive. Then `RSS <bytes>` (peak resident memory: VmHWM) and it exits at once.
Imports only the standard library before it decides what to start, so every kind pays the same.
"""

from __future__ import annotations

import os
import resource
import sys
import time


def _mark(name: str) -> None:
    print(f"MARK {name} {time.monotonic():.6f}", flush=True)


def _peak_rss() -> int:
    """This process's peak resident memory in bytes: VmHWM, which starts afresh at exec (getrusage's
    ru_maxrss does not on Linux: it keeps the peak of the process that spawned this one)."""
    try:
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024


def _interactive(edit, exit_after: bool = True) -> None:  # type: ignore[no-untyped-def]
    """Post a key press to `edit` (a QLineEdit or QPlainTextEdit) and report once it shows the key."""
    from PySide6.QtCore import QEvent, Qt, QTimer
    from PySide6.QtGui import QKeyEvent
    from PySide6.QtWidgets import QApplication

    def text() -> str:
        return edit.text() if hasattr(edit, "text") else edit.toPlainText()

    before = text()
    QApplication.postEvent(
        edit, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_X, Qt.KeyboardModifier.NoModifier, "x")
    )
    QApplication.postEvent(
        edit, QKeyEvent(QEvent.Type.KeyRelease, Qt.Key.Key_X, Qt.KeyboardModifier.NoModifier, "x")
    )

    def check() -> None:
        if text() != before + "x" and not text().endswith("x"):
            QTimer.singleShot(1, check)
            return
        print(f"PAINTED {time.monotonic():.6f}", flush=True)
        print(f"RSS {_peak_rss()}", flush=True)
        if exit_after:
            os._exit(0)

    QTimer.singleShot(0, check)  # runs after the posted key events (posted before this timer fires)


def _bare_window(title: str) -> None:
    """A QMainWindow (1440×900) with a line edit; interactive once it has painted and taken a key."""
    from PySide6.QtCore import QEvent, QObject, QTimer
    from PySide6.QtWidgets import QApplication, QLineEdit, QMainWindow

    app = QApplication(sys.argv[:1])
    window = QMainWindow()
    window.setWindowTitle(title)
    window.resize(1440, 900)
    central = QLineEdit(window)
    window.setCentralWidget(central)

    class _Filter(QObject):
        done = False

        def eventFilter(self, obj, event) -> bool:  # type: ignore[no-untyped-def]  # noqa: N802
            if event.type() == QEvent.Type.Paint and not self.done:
                self.done = True
                QTimer.singleShot(0, painted)
            return False

    def painted() -> None:
        _mark("first_paint")
        _interactive(central)

    central._bench_filter = _Filter(central)
    central.installEventFilter(central._bench_filter)
    _mark("window_built")
    window.show()
    central.setFocus()
    app.exec()


def bare() -> None:
    import PySide6.QtWidgets  # noqa: F401

    _mark("imported")
    _bare_window("bare")


def floor() -> None:
    """The least any app on the mandated stack does before painting the last session: import the
    libraries the window needs (asyncio, qasync, SQLAlchemy, PySide6), open the store and read the
    session's outline (every card's place, no text), then paint a bare window."""
    # isort: off
    import asyncio  # noqa: F401
    import sqlalchemy  # noqa: F401
    import PySide6.QtWidgets  # noqa: F401
    import qasync  # noqa: F401
    # isort: on

    _mark("imported")
    from storage import open_store

    repo = open_store(os.environ["TRIPTYCH_HOME"])
    sessions = repo.list_sessions()
    outline = repo.load_outline(sessions[0].id) if sessions else []
    _mark("loaded")
    _bare_window(f"floor {len(outline)}")


def _watch_paints(exit_on_interactive: bool, on_app=None) -> None:  # type: ignore[no-untyped-def]
    """Stamp `MARK first_paint` when the canvas viewport has painted with cards of the session on it,
    then check a key reaches the prompt box (`PAINTED`; then exit, if `exit_on_interactive`).
    Watches every widget through the QApplication the launcher makes (and calls `on_app()` once it
    is made), so nothing of the app is imported before it would be."""
    import ui.launch as launch  # (imports no Qt: the app's core comes before PySide6, see there)

    make_application = launch.make_application

    def make(argv):  # type: ignore[no-untyped-def]
        app = make_application(argv)
        if not hasattr(app, "_bench_filter"):
            app._bench_filter = _watcher()
            app.installEventFilter(app._bench_filter)
            _mark("qt_app")
            if on_app is not None:
                on_app()
        return app

    def _watcher():  # type: ignore[no-untyped-def]
        from PySide6.QtCore import QEvent, QObject, QTimer
        from PySide6.QtWidgets import QApplication

        class _Filter(QObject):
            def __init__(self) -> None:
                super().__init__()
                self.seen: set[str] = set()

            def eventFilter(self, obj, event) -> bool:  # type: ignore[no-untyped-def]  # noqa: N802
                kind = event.type()
                if kind == QEvent.Type.Show and type(obj).__name__ == "MainWindow" and "shown" not in self.seen:
                    self.seen.add("shown")
                    _mark("window_shown")
                if kind != QEvent.Type.Paint or "canvas" in self.seen:
                    return False
                parent = obj.parent()
                if parent is not None and type(parent).__name__ == "CanvasView":
                    scene = parent.scene()
                    if scene is not None and scene.card_ids():  # the session's cards, not an empty canvas
                        self.seen.add("canvas")
                        QTimer.singleShot(0, self._canvas_painted)
                return False

            def _canvas_painted(self) -> None:
                _mark("first_paint")
                windows = [w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow"]
                _interactive(windows[0].composer.edit, exit_after=exit_on_interactive)

        return _Filter()

    launch.make_application = make  # type: ignore[assignment]


def app() -> None:
    """`triptych` as installed (app.start.main, which opens the GUI through ui.launch). Marks the
    QApplication made (`qt_app`), the main window shown (`window_shown`: built, with the session
    open), the canvas painted with the session's cards (`first_paint`) and exits once a key posted
    after that paint has reached the prompt box (`PAINTED`)."""
    _watch_paints(exit_on_interactive=True)
    from app.start import main

    sys.exit(main([]))


def prime() -> None:
    """Open the app, let it settle and close its window as a user would: the next start restores
    that session and its saved viewport."""

    def close_soon() -> None:
        from PySide6.QtCore import QTimer
        from PySide6.QtWidgets import QApplication

        for widget in QApplication.topLevelWidgets():
            if type(widget).__name__ == "MainWindow" and widget.isVisible():
                QTimer.singleShot(1500, widget.close)
                return
        QTimer.singleShot(100, close_soon)

    _watch_paints(exit_on_interactive=False, on_app=close_soon)
    from app.start import main

    code = main([])
    print("PRIMED", flush=True)
    sys.exit(code)


if __name__ == "__main__":
    _mark("python_up")
    {"app": app, "bare": bare, "floor": floor, "prime": prime}[sys.argv[1]]()
