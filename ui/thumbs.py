"""Pictures of attached images (issue #15): thumbnails for prompt cards and chips, the full image for
the viewer. Decoded from the attachment's own bytes with QImageReader (never fetched from anywhere),
scaled while decoding, and cached by SHA-256 and size, so a card repainted at 30 fps or a session
with the same chart on ten prompts decodes it once.

Qt main thread only (QPixmap).
"""

from __future__ import annotations

from collections import OrderedDict

from PySide6.QtCore import QBuffer, QByteArray, QIODevice, QSize, Qt
from PySide6.QtGui import QImage, QImageReader, QPixmap

from app.attachments import Attachment

THUMB_CACHE = 256  # pixmaps kept (a 128×128 thumbnail is ~64 KB)
_thumbs: OrderedDict[tuple[str, int, int], QPixmap | None] = OrderedDict()


def _reader(att: Attachment) -> tuple[QImageReader, QBuffer]:
    buf = QBuffer()
    buf.setData(QByteArray(att.data))
    buf.open(QIODevice.OpenModeFlag.ReadOnly)
    reader = QImageReader(buf)
    reader.setAutoTransform(True)
    return reader, buf


def thumbnail(att: Attachment, width: int, height: int) -> QPixmap | None:
    """`att` scaled to fit width × height (aspect kept), or None when it is not an image Qt can
    decode (then the caller draws a chip instead)."""
    if att.kind != "image":
        return None
    key = (att.sha256, width, height)
    if key in _thumbs:
        _thumbs.move_to_end(key)
        return _thumbs[key]
    reader, buf = _reader(att)
    size = reader.size()
    if size.isValid() and size.width() > 0 and size.height() > 0:
        reader.setScaledSize(size.scaled(QSize(width, height), Qt.AspectRatioMode.KeepAspectRatio))
    image = reader.read()
    buf.close()
    pixmap: QPixmap | None = None
    if not image.isNull():
        if image.width() > width or image.height() > height:  # the format could not scale while decoding
            image = image.scaled(width, height, Qt.AspectRatioMode.KeepAspectRatio,
                                 Qt.TransformationMode.SmoothTransformation)
        pixmap = QPixmap.fromImage(image)
    _thumbs[key] = pixmap
    while len(_thumbs) > THUMB_CACHE:
        _thumbs.popitem(last=False)
    return pixmap


def full_image(att: Attachment) -> QImage:
    """The whole image (a null QImage when Qt cannot decode it)."""
    if att.kind != "image":
        return QImage()
    reader, buf = _reader(att)
    image = reader.read()
    buf.close()
    return image


def png_bytes(image: QImage) -> bytes:
    """`image` encoded as PNG (a pasted or dropped picture becomes a PNG file)."""
    array = QByteArray()
    buf = QBuffer(array)
    buf.open(QIODevice.OpenModeFlag.WriteOnly)
    # PySide6 6.11 stubs say `format: bytes`, but the binding takes a str and rejects bytes.
    image.save(buf, "PNG")  # type: ignore[call-overload]
    buf.close()
    return bytes(array.data())
