"""`triptych` (the GUI) from a fresh process.

Shows nothing but the real window: the QApplication, then ui.app, which builds the window over the
last session and paints it. What makes that fast is less work, not a picture of a previous window:
the session opens with the outline of its cards and makes items only for the readable cards the
restored view shows (ui/canvas/loader.py); the renderer, the highlighter and the HTTP client are
imported when first used or after the first paint.
"""

from __future__ import annotations

import os
import sys

os.environ.setdefault("QT_API", "pyside6")

from PySide6.QtCore import Qt  # noqa: E402
from PySide6.QtWidgets import QApplication  # noqa: E402

from ui import gc_policy  # noqa: E402


def make_application(argv: list[str]) -> QApplication:
    """The one QApplication (made if there is none yet)."""
    app = QApplication.instance()
    if app is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("Triptych")
    app.setOrganizationName("Triptych")
    app.setQuitOnLastWindowClosed(False)  # ui.app decides when to quit, after the streams are saved
    return app


def main(argv: list[str] | None = None) -> int:
    # No cyclic garbage collection until the window has painted (ui/gc_policy.py).
    gc_policy.enable()
    gc_policy.pause("start-up")
    argv = list(sys.argv[:1] if argv is None else argv)
    make_application(argv)
    from ui.app import main as app_main

    return app_main(argv)
