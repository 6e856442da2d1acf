"""Where the main window is and how it is split: saved in `settings.ui` at close, restored (and fitted to
the screen it opens on) at start. Qt main thread only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QByteArray, QMargins

if TYPE_CHECKING:
    from ui.main_window import MainWindow


def restore_window_state(w: MainWindow) -> None:
    """The geometry and splitter sizes saved by `save_window_state`, fitted to the screen."""
    ui = w.settings.ui
    geometry = ui.get("window_geometry")
    restored = False
    if isinstance(geometry, str) and geometry:
        restored = w.restoreGeometry(QByteArray.fromBase64(geometry.encode("ascii")))
    _fit_to_screen(w, restored)
    for key, split in (("main_splitter", w.main_split), ("canvas_splitter", w.canvas_split)):
        sizes = ui.get(key)
        if (
            isinstance(sizes, list)
            and len(sizes) == split.count()
            and all(isinstance(s, int) for s in sizes)
        ):
            split.setSizes(sizes)

def _fit_to_screen(w: MainWindow, restored: bool) -> None:
    """Fit the window inside the screen's available area: the default 1440×900 on a 1366×768
    laptop, or a geometry saved on a bigger monitor. The frame the window manager adds is not known
    before the first show: leave room for a usual one (a title bar and thin borders)."""
    screen = w.screen()
    if screen is None:
        return
    available = screen.availableGeometry()
    frame = QMargins(4, 32, 4, 4)
    width = min(w.width(), available.width() - frame.left() - frame.right())
    height = min(w.height(), available.height() - frame.top() - frame.bottom())
    if (width, height) != (w.width(), w.height()):
        w.resize(width, height)
    if restored:  # a new window is placed by the window manager; a restored one where it was, if it fits
        right = available.right() + 1 - width - frame.left() - frame.right()
        bottom = available.bottom() + 1 - height - frame.top() - frame.bottom()
        x = max(available.left(), min(w.x(), right))
        y = max(available.top(), min(w.y(), bottom))
        if (x, y) != (w.x(), w.y()):
            w.move(x, y)


def save_window_state(w: MainWindow) -> None:
    """Keep the window's geometry and splitter sizes in `settings.ui` (written with the settings)."""
    ui = w.settings.ui
    ui["window_geometry"] = bytes(w.saveGeometry().toBase64().data()).decode("ascii")
    ui["main_splitter"] = [int(s) for s in w.main_split.sizes()]
    if w.lens.isVisible():
        ui["canvas_splitter"] = [int(s) for s in w.canvas_split.sizes()]
