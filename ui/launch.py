"""`triptych` (the GUI) from a fresh process: the start picture first, then the app behind it.

Order matters for how soon the user sees something (benchmark 6):
1. PySide6 and the QApplication, nothing else of the app;
2. the start picture (ui/start_picture.py), if it still shows what the window will show, painted;
3. the app's Qt-free core (the store with SQLAlchemy, the engine, the renderer), then ui.app, which
   builds the real window; it replaces the picture once it has painted.
"""

from __future__ import annotations

import builtins
import os
import sys
from typing import TYPE_CHECKING

os.environ.setdefault("QT_API", "pyside6")

# The import function as it is before PySide6 replaces it (see _import_core): this module must be
# imported before PySide6 is, as app.start does.
_PLAIN_IMPORT = builtins.__import__

from PySide6.QtCore import QEventLoop, Qt, QTimer  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from ui import gc_policy  # noqa: E402

if TYPE_CHECKING:
    from ui.start_picture import StartPreview

PREVIEW_PAINT_WAIT_MS = 500


def make_application(argv: list[str]) -> QApplication:
    """The one QApplication (made if there is none yet)."""
    app = QApplication.instance()
    if app is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("Triptych")
    app.setOrganizationName("Triptych")
    # ui.app decides when to quit, after the streams are saved; nor may closing the start picture quit
    app.setQuitOnLastWindowClosed(False)
    return app


def _import_core() -> None:
    """Import the app's Qt-free core with the interpreter's own import function.

    Importing PySide6 replaces `builtins.__import__` with its feature hook (PySide's `__feature__`
    selection), which then runs on every import: the store (SQLAlchemy), the engine and the renderer
    load ~50 ms slower through it. None of them imports Qt (the import-linter contract "app and
    storage never import Qt"), so the hook has nothing to do for them.
    """
    hooked = builtins.__import__
    builtins.__import__ = _PLAIN_IMPORT
    try:
        import storage  # noqa: F401
        from app import engine  # noqa: F401
        from app.render import incremental  # noqa: F401
    finally:
        builtins.__import__ = hooked


def _show_preview() -> StartPreview | None:
    from app.paths import resolve_data_dir
    from ui.start_picture import OnFirstPaint, open_preview

    preview = open_preview(resolve_data_dir())
    if preview is None:
        return None
    if not preview.painted:  # let it paint before the GUI thread is busy building the window
        loop = QEventLoop()
        OnFirstPaint(preview, loop.quit)
        QTimer.singleShot(PREVIEW_PAINT_WAIT_MS, loop, loop.quit)
        loop.exec()
    return preview


def main(argv: list[str] | None = None) -> int:
    # Start-up allocates its long-lived objects in a burst: no cyclic garbage collection until the
    # window has painted (ui/gc_policy.py; ~40 ms of benchmark 6).
    gc_policy.enable()
    gc_policy.pause("start-up")
    argv = list(sys.argv[:1] if argv is None else argv)
    make_application(argv)
    preview = _show_preview()
    _import_core()
    from ui.app import main as app_main

    return app_main(argv, preview=preview)
