"""The start picture: the main window as it looked when Triptych last closed, shown the moment the app
starts, while the real window is built behind it.

Opening a big session takes a while (benchmark 6: ~0.5 s for 10,000 cards: importing the stack,
reading the store, building the window). A user who reopens Triptych should see their canvas at
once, not an empty desktop: so at a clean close (no answer streaming) the window is grabbed and saved
beside the store, and the next start shows that picture in a window of the same geometry within
~0.1 s, with a busy cursor. The real window replaces it as soon as it has painted; keys typed
meanwhile go to the prompt box.

The picture is shown only while it is still true. `start-picture.json` records, taken after the
store was closed: the store's files (size and modification time of `triptych.db` and its WAL), the
config files, the names of the environment variables that set keys, base URLs and options (never
their values), the system colour scheme, the app version and the picture's size, pixel ratio and
screen. Any change since (another window or `triptych ask` wrote to the store, the config was
edited, a key variable was set or unset, the screen or colour scheme changed) and the app starts
without it, as it would have anyway. Not seen: a key added to or removed from the OS keyring
(reading it costs more than the picture saves); the picture then shows the old model chips for the
~0.5 s until the window replaces it.

The picture holds what the window showed: card text and the prompt box, never keys (they live only in
the settings dialog, another window). Both files are written owner-only, like the store.

Imports nothing but PySide6 and the standard library: ui/launch.py uses it before the rest of the
app is loaded.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QObject, Qt, QTimer
from PySide6.QtGui import QGuiApplication, QImage, QKeyEvent, QPainter, QPixmap
from PySide6.QtWidgets import QApplication, QWidget

from app import __version__
from app.paths import CONFIG_FILENAME, DB_FILENAME, PROVIDERS_FILENAME

log = logging.getLogger(__name__)

PICTURE_NAME = "start-picture.png"
META_NAME = "start-picture.json"
FORMAT = 1
_WATCHED = (DB_FILENAME, DB_FILENAME + "-wal", CONFIG_FILENAME, PROVIDERS_FILENAME)


def enabled() -> bool:
    """`TRIPTYCH_NO_START_PICTURE=1`: no picture is shown, and none is written."""
    return not os.environ.get("TRIPTYCH_NO_START_PICTURE")


def fingerprint(data_dir: Path) -> list[list[object]]:
    """Size and modification time of the store's and config's files; absent files (and an empty WAL,
    which holds nothing: a store that was not closed cleanly leaves one) as None."""
    out: list[list[object]] = []
    for name in _WATCHED:
        try:
            st = os.stat(data_dir / name)
        except OSError:
            out.append([name, None])
            continue
        out.append([name, None] if name.endswith("-wal") and st.st_size == 0 else [name, st.st_size, st.st_mtime_ns])
    return out


def environment() -> list[str]:
    """Names (never values) of the set variables that change what the window shows: API keys pick
    the models offered and chosen, `TRIPTYCH_*` the app's options, base URLs the providers."""
    return sorted(
        name
        for name, value in os.environ.items()
        if value and (name.startswith("TRIPTYCH_") or name.endswith(("_API_KEY", "_BASE_URL")))
    )


def color_scheme() -> int:
    try:
        return int(QGuiApplication.styleHints().colorScheme().value)
    except AttributeError:  # older Qt
        return 0


def _conditions(data_dir: Path) -> dict[str, object]:
    """What must be the same at a start as at the close that took the picture (see the module doc)."""
    return {
        "format": FORMAT,
        "version": __version__,
        "color_scheme": color_scheme(),
        "environment": environment(),
        "files": fingerprint(data_dir),
    }


@dataclass(slots=True)
class Grabbed:
    """The window at close, held until the store is closed (`save` needs its final fingerprint)."""

    image: QImage
    geometry: str  # QWidget.saveGeometry, base64
    title: str
    screen: list[int]  # the window's screen's available geometry: x, y, width, height


def _available(widget: QWidget) -> list[int]:
    screen = widget.screen()
    if screen is None:
        return []
    rect = screen.availableGeometry()
    return [rect.x(), rect.y(), rect.width(), rect.height()]


def grab(window: QWidget) -> Grabbed:
    return Grabbed(
        window.grab().toImage(),
        bytes(window.saveGeometry().toBase64().data()).decode("ascii"),
        window.windowTitle(),
        _available(window),
    )


def save(data_dir: Path, grabbed: Grabbed) -> bool:
    """Write the picture and its record. Call once the store is closed. False (logged) on failure
    or when turned off (`enabled`)."""
    if not enabled():
        discard(data_dir)
        return False
    picture, meta = data_dir / PICTURE_NAME, data_dir / META_NAME
    try:
        meta.unlink(missing_ok=True)  # no record may describe a half-written picture
        partial = data_dir / (PICTURE_NAME + ".part")
        if not grabbed.image.save(str(partial), "PNG"):
            raise OSError(f"could not write {partial}")
        os.chmod(partial, 0o600)
        os.replace(partial, picture)
        record = {
            "width": grabbed.image.width(),
            "height": grabbed.image.height(),
            "dpr": grabbed.image.devicePixelRatio(),
            "geometry": grabbed.geometry,
            "title": grabbed.title,
            "screen": grabbed.screen,
            **_conditions(data_dir),
        }
        fd = os.open(meta, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(record, fh)
        return True
    except OSError:
        log.exception("could not save the start picture")
        return False


def discard(data_dir: Path) -> None:
    """Remove the picture and its record: once untrue they are never shown again, and a picture of
    cards since deleted (or of a store since removed) should not stay on disk."""
    for name in (META_NAME, PICTURE_NAME):
        try:
            (data_dir / name).unlink(missing_ok=True)
        except OSError:
            log.warning("could not remove %s", data_dir / name)


def load(data_dir: Path) -> tuple[QPixmap, dict[str, object]] | None:
    """The saved picture and its record, if it still shows what the window will show; else None
    (and an untrue picture is discarded)."""
    try:
        with open(data_dir / META_NAME, encoding="utf-8") as fh:
            record = json.load(fh)
    except FileNotFoundError:
        return None
    except (OSError, ValueError):
        discard(data_dir)
        return None
    if not isinstance(record, dict) or any(record.get(k) != v for k, v in _conditions(data_dir).items()):
        discard(data_dir)
        return None
    pixmap = QPixmap(str(data_dir / PICTURE_NAME))
    if pixmap.isNull() or (pixmap.width(), pixmap.height()) != (record.get("width"), record.get("height")):
        discard(data_dir)
        return None
    pixmap.setDevicePixelRatio(float(record.get("dpr") or 1.0))  # type: ignore[arg-type]
    return pixmap, record


class StartPreview(QWidget):
    """A window showing the start picture until `hand_over(window)`'s window has painted."""

    def __init__(self, pixmap: QPixmap, record: dict[str, object]) -> None:
        super().__init__(None)
        self._pixmap = pixmap
        self._screen = record.get("screen")
        self._window: QWidget | None = None
        self._prompt: QWidget | None = None
        self._watch: OnFirstPaint | None = None
        self.painted = False
        self.closed_by_user = False
        self.typed: list[str] = []
        self.setWindowTitle(str(record.get("title") or "Triptych"))
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setCursor(Qt.CursorShape.BusyCursor)
        self.restoreGeometry(QByteArray.fromBase64(str(record.get("geometry", "")).encode("ascii")))

    def fits(self) -> bool:
        """Will show at the picture's size and pixel ratio (the screen may have changed since)."""
        if abs(self._pixmap.devicePixelRatio() - self.devicePixelRatioF()) >= 0.01:
            return False
        if self.windowState() & (Qt.WindowState.WindowMaximized | Qt.WindowState.WindowFullScreen):
            # Sized by the screen once shown (its size now is the un-maximized one): the same screen
            # area as when the picture was taken gives the same size.
            return bool(self._screen) and _available(self) == self._screen
        size = self._pixmap.deviceIndependentSize()
        return abs(size.width() - self.width()) < 1 and abs(size.height() - self.height()) < 1

    def paintEvent(self, event) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.drawPixmap(0, 0, self._pixmap)
        painter.end()
        self.painted = True

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        if self._prompt is not None:
            # Typed while the window was being built, delivered once it is: the prompt's.
            QApplication.sendEvent(
                self._prompt,
                QKeyEvent(event.type(), event.key(), event.modifiers(), event.text(), event.isAutoRepeat()),
            )
            return
        text = event.text().replace("\r", "\n")
        if text == "\b":  # Backspace
            if self.typed:
                self.typed.pop()
        elif text and (text.isprintable() or text in "\n\t"):
            self.typed.append(text)

    def hand_over(
        self, window: QWidget, canvas: QWidget, prompt: QWidget, append_text: Callable[[str], None]
    ) -> None:
        """`window` is shown: close once `canvas` (its last part to paint) has painted. Keys typed here
        so far are added to the prompt (`append_text`); keys still on their way (the GUI thread was
        busy building the window: they arrive after this) are sent to `prompt`."""
        self._window = window
        self._prompt = prompt
        if self.closed_by_user:  # while the window was being built: they meant the app
            QTimer.singleShot(0, window, window.close)
        if self.typed:
            append_text("".join(self.typed))
            self.typed.clear()
        self._watch = OnFirstPaint(canvas, self._close_and_delete)

    def _close_and_delete(self) -> None:
        self.close()
        self.deleteLater()  # and the picture with it

    def closeEvent(self, event) -> None:  # noqa: N802
        # Closed by the user while the window was being built: they meant the app.
        if event.spontaneous():
            self.closed_by_user = True
            if self._window is not None:
                QTimer.singleShot(0, self._window, self._window.close)
        super().closeEvent(event)


class OnFirstPaint(QObject):
    """Calls `callback` once `widget`'s first paint is done (on the next loop turn; not at all if
    `widget` is deleted first)."""

    def __init__(self, widget: QWidget, callback: Callable[[], None]) -> None:
        super().__init__(widget)
        self._callback = callback
        widget.installEventFilter(self)

    def eventFilter(self, obj, event) -> bool:  # noqa: N802
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(0, self, self._callback)
        return False


def open_preview(data_dir: Path) -> StartPreview | None:
    """Show the start picture if it is still true (see the module doc); None if not."""
    if not enabled():
        return None
    try:
        loaded = load(data_dir)
        if loaded is None:
            return None
        preview = StartPreview(*loaded)
        if not preview.fits():
            preview.deleteLater()
            discard(data_dir)
            return None
        preview.show()
        preview.raise_()
        preview.activateWindow()  # keys typed now are the prompt's (see hand_over)
        return preview
    except Exception:  # never worth failing a start for
        log.exception("could not show the start picture")
        return None
