"""`triptych` (the GUI) from a fresh process.

Shows nothing but the real window: the QApplication, then ui.app, which builds the window over the
last session and paints it. What makes that fast is less work, not a picture of a previous window:
the session opens with the outline of its cards and makes items only for the readable cards the
restored view shows (ui/canvas/loader.py); the HTTP client, the markdown renderer and the
highlighter's lexers are made after the first paint (the renderer sooner if a card in view shows
text: ui/render_bridge.py).

Order matters (benchmark 6): the app's Qt-free core (the store with SQLAlchemy, the engine) is
imported before PySide6. Once PySide6 is loaded, its import hook (shibokensupport's
feature check) runs on every later import and reads each new module's source to see whether it uses
PySide6: ~400 modules, ~40 ms for nothing, since none of these imports Qt (the import-linter contract
"app and storage never import Qt"). This module itself imports PySide6 only in `make_application`.
"""

from __future__ import annotations

import os
import sys
from typing import TYPE_CHECKING

from ui import gc_policy

if TYPE_CHECKING:
    from PySide6.QtWidgets import QApplication

os.environ.setdefault("QT_API", "pyside6")


def make_application(argv: list[str]) -> QApplication:
    """The one QApplication (made if there is none yet)."""
    from PySide6.QtCore import Qt
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        QApplication.setHighDpiScaleFactorRoundingPolicy(Qt.HighDpiScaleFactorRoundingPolicy.PassThrough)
        app = QApplication(argv)
    assert isinstance(app, QApplication)
    app.setApplicationName("Triptych")  # also the window's WM_CLASS class (StartupWMClass, app.desktop)
    app.setOrganizationName("Triptych")
    # The desktop entry's name (Wayland app_id; task bars group the window under the launcher's icon)
    # and the app icon for every window (ui/app_icon.py).
    from app.paths import APP_ID
    from ui.app_icon import app_icon

    app.setDesktopFileName(APP_ID)
    app.setWindowIcon(app_icon())
    app.setQuitOnLastWindowClosed(False)  # ui.app decides when to quit, after the streams are saved
    return app


def _import_core() -> None:
    """The app's Qt-free core, before PySide6 (see the module docstring)."""
    import sqlalchemy.dialects.sqlite  # noqa: F401 (else loaded when the store's engine is made)

    import storage  # noqa: F401
    from app import catalog, config, engine  # noqa: F401


def main(argv: list[str] | None = None) -> int:
    # No cyclic garbage collection until the window has painted (ui/gc_policy.py).
    gc_policy.enable()
    gc_policy.pause("start-up")
    argv = list(sys.argv[:1] if argv is None else argv)
    _import_core()
    make_application(argv)
    from ui.app import main as app_main

    return app_main(argv)
