"""QTextDocument helpers for cards: set HTML at a width, find code blocks for their Copy buttons."""

from __future__ import annotations

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QTextBlock, QTextCursor, QTextDocument, QTextFormat, QTextOption


def set_document_html(doc: QTextDocument, html: str, width: float, font: QFont, color: str) -> None:
    """Replace a document's content; lays it out at `width` (scene units)."""
    doc.setDefaultFont(font)
    doc.setDefaultStyleSheet(f"body {{ color: {QColor(color).name()}; }}")
    option = doc.defaultTextOption()
    option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
    doc.setDefaultTextOption(option)
    doc.setTextWidth(max(width, 10.0))
    doc.setHtml(html)


def _is_code(block: QTextBlock) -> bool:
    """A line of a `<pre>`: app.render gives code blocks a background and a monospace font."""
    fmt = block.blockFormat()
    if fmt.nonBreakableLines():
        return True
    if fmt.background().style() == Qt.BrushStyle.NoBrush:
        return False
    families = block.charFormat().fontFamilies() or []
    return any("mono" in str(f).lower() for f in families)


def _starts_block(block: QTextBlock) -> bool:
    # The first line of each <pre> carries the block's top margin; later lines do not.
    return block.blockFormat().hasProperty(QTextFormat.Property.BlockTopMargin)


def code_block_rects(doc: QTextDocument) -> list[QRectF]:
    """Rectangles (document coordinates) of each code block, in document order.

    A code block is a run of consecutive `<pre>` lines inside the same frame; a new `<pre>` starts
    where a line carries a top margin.
    """
    layout = doc.documentLayout()
    rects: list[QRectF] = []
    current: QRectF | None = None
    current_frame = None
    block = doc.begin()
    while block.isValid():
        if _is_code(block):
            frame = QTextCursor(block).currentFrame()
            r = layout.blockBoundingRect(block)
            if current is not None and frame == current_frame and not _starts_block(block):
                current = current.united(r)
            else:
                if current is not None:
                    rects.append(current)
                current = QRectF(r)
                current_frame = frame
        else:
            if current is not None:
                rects.append(current)
                current = None
                current_frame = None
        block = block.next()
    if current is not None:
        rects.append(current)
    # stretch to the document width so the Copy button sits at the right edge of the block
    width = doc.textWidth()
    return [QRectF(0.0, r.top(), max(width, r.right()), r.height()) for r in rects]
