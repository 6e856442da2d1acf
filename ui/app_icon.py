"""The app icon (resources/desktop): the window's icon, and the PNG sizes `triptych desktop install`
ships (rendered from the SVGs with QtSvg by scripts/render_icons.py; a test checks they still match).

The design: three answer cards side by side, the middle one raised, in three providers' card colours on
a dark rounded square. `icon-small.svg` redraws it on whole pixels for 16 px, where the text lines of the
big one would blur.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from PySide6.QtCore import QByteArray, QRectF, Qt
from PySide6.QtGui import QIcon, QImage, QPainter, QPixmap

from app.paths import APP_ID

PNG_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)
SMALL_MAX = 16  # sizes up to this are drawn from icon-small.svg


def desktop_resources() -> Path:
    return Path(str(resources.files("resources").joinpath("desktop")))


def svg_for(size: int) -> Path:
    name = "icon-small.svg" if size <= SMALL_MAX else f"{APP_ID}.svg"
    return desktop_resources() / name


def png_path(size: int) -> Path:
    return desktop_resources() / "icons" / "hicolor" / f"{size}x{size}" / "apps" / f"{APP_ID}.png"


def render(size: int) -> QImage:
    """The icon at `size` px (transparent around the rounded square), from its SVG."""
    from PySide6.QtSvg import QSvgRenderer  # only here: start-up uses the PNGs

    renderer = QSvgRenderer(QByteArray(svg_for(size).read_bytes()))
    image = QImage(size, size, QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(Qt.GlobalColor.transparent)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing)
    renderer.render(painter, QRectF(0, 0, size, size))
    painter.end()
    return image


def app_icon() -> QIcon:
    """The window's icon: the shipped PNGs (every size; read when first drawn), else the SVG."""
    icon = QIcon()
    for size in PNG_SIZES:
        path = png_path(size)
        if path.exists():
            icon.addFile(str(path))
    if icon.isNull():
        icon.addPixmap(QPixmap.fromImage(render(256)))
    return icon
