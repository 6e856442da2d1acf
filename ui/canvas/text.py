"""QTextDocument helpers for cards: set HTML at a width, lay out code blocks and find them (Copy buttons)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import (
    QBrush,
    QColor,
    QFont,
    QFontMetricsF,
    QTextBlock,
    QTextBlockFormat,
    QTextCursor,
    QTextDocument,
    QTextOption,
)

from app.render.theme import CODE_LABEL_STATE
from ui.canvas.constants import CODE_COPY_W


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


CODE_PAD = 8.0  # inner padding of a code block (QTextDocument ignores a <pre>'s padding)
CODE_HEADER_H = 24.0  # the header line's height: room for the Copy button beside the language
HEADER_RIGHT = CODE_COPY_W + 12.0  # the header's right margin: where the card draws the Copy button
HANG_CHARS = 2  # a wrapped code line continues this many characters right of the line's indentation
TAB_CHARS = 4


@dataclass(slots=True)
class CodeShapes:
    """Where a document's code blocks are (document coordinates), in document order."""

    rects: list[QRectF] = field(default_factory=list)  # each block's box: header and code
    headers: list[QRectF] = field(default_factory=list)  # each block's header line
    wrap_marks: list[QRectF] = field(default_factory=list)  # the gutter cell left of each continuation
    fill: QColor = field(default_factory=QColor)  # the boxes' background (the code background)


def _lead_chars(text: str) -> int:
    n = 0
    for ch in text:
        if ch == " ":
            n += 1
        elif ch == "\t":
            n += TAB_CHARS - n % TAB_CHARS
        else:
            break
    return n


def _metrics(doc: QTextDocument, block: QTextBlock) -> QFontMetricsF:
    it = block.begin()
    fmt = it.fragment().charFormat() if not it.atEnd() else block.charFormat()
    return QFontMetricsF(fmt.font().resolve(doc.defaultFont()))


def _char_width(doc: QTextDocument, block: QTextBlock) -> float:
    return _metrics(doc, block).horizontalAdvance(" ") or 7.0


def shape_code_blocks(doc: QTextDocument) -> CodeShapes:
    """Lay out the code blocks of a document of app.render HTML, and say where they are.

    A code block is its header line (the `<p>` tagged with CODE_LABEL_STATE: the language, and the
    room where the card draws its Copy button, so the button never covers code) and the `<pre>` lines
    that follow it in the same frame. The card draws each block's box (`rects`, in `fill`) under the
    text; its lines get an inner padding (margins: the box spans them) and a hanging indent: a long
    line wraps to its own indentation plus HANG_CHARS, and the gutter left of each continuation is a
    `wrap_marks` cell where the card draws a wrap arrow. A `<pre>` without a header (a formula's source
    shown as code) is not a code block.
    """
    found: list[tuple[QTextBlock, list[QTextBlock]]] = []
    block = doc.begin()
    while block.isValid():
        if block.userState() == CODE_LABEL_STATE:
            frame = QTextCursor(block).currentFrame()
            lines: list[QTextBlock] = []
            nxt = block.next()
            while (
                nxt.isValid()
                and nxt.userState() != CODE_LABEL_STATE
                and _is_code(nxt)
                and QTextCursor(nxt).currentFrame() == frame
            ):
                lines.append(nxt)
                nxt = nxt.next()
            found.append((block, lines))
            block = nxt
            continue
        block = block.next()
    out = CodeShapes()
    if not found:
        return out
    width = doc.textWidth()
    cursor = QTextCursor(doc)
    cursor.beginEditBlock()
    out.fill = found[0][0].blockFormat().background().color()
    no_fill = QBrush()  # the card draws the box (Qt would fill only behind each line)
    tabs = False
    pads: list[float] = []
    for header, lines in found:
        # The label's line, centred in a CODE_HEADER_H row (margins above and below it).
        pad = max((CODE_HEADER_H - _metrics(doc, header).height()) / 2, 2.0)
        pads.append(pad)
        header_fmt = QTextBlockFormat()
        header_fmt.setLeftMargin(CODE_PAD)
        header_fmt.setRightMargin(HEADER_RIGHT)  # the Copy button's room, also in a narrow quote
        header_fmt.setTopMargin(header.blockFormat().topMargin() + pad)
        header_fmt.setBottomMargin(pad)
        header_fmt.setBackground(no_fill)
        cursor.setPosition(header.position())
        cursor.mergeBlockFormat(header_fmt)
        if not lines:
            continue
        char_w = _char_width(doc, lines[0])
        for line in lines:
            text = line.text()
            tabs = tabs or "\t" in text
            hang = min((_lead_chars(text) + HANG_CHARS) * char_w, max(width / 2, 0.0))
            fmt = QTextBlockFormat()
            fmt.setLeftMargin(CODE_PAD + hang)
            fmt.setTextIndent(-hang)
            fmt.setRightMargin(CODE_PAD)
            fmt.setBackground(no_fill)
            if line == lines[-1]:
                fmt.setBottomMargin(line.blockFormat().bottomMargin() + CODE_PAD / 2)
            cursor.setPosition(line.position())
            cursor.mergeBlockFormat(fmt)
        if tabs:  # tab stops of TAB_CHARS monospace characters, not Qt's 80 px
            option = doc.defaultTextOption()
            option.setTabStopDistance(TAB_CHARS * char_w)
            doc.setDefaultTextOption(option)
    cursor.endEditBlock()
    layout = doc.documentLayout()
    first = layout.blockBoundingRect(found[0][0]).top()
    if first < pads[0]:  # Qt drops the top margin of a document's first block: make room for the box
        root = doc.rootFrame()
        frame_fmt = root.frameFormat()
        frame_fmt.setTopMargin(frame_fmt.topMargin() + math.ceil(pads[0] - first))
        root.setFrameFormat(frame_fmt)
    for (header, lines), pad in zip(found, pads, strict=True):
        head = layout.blockBoundingRect(header).adjusted(0, -pad, 0, pad)
        bottom = head.bottom()
        # the box spans the header's line (its margins and indentation inside a list or a quote)
        if header.layout().lineCount():
            label = header.layout().lineAt(0)
            left = head.left() + label.x() - CODE_PAD
            right = head.left() + label.x() + label.width() + HEADER_RIGHT
        else:
            left, right = 0.0, max(width, head.right())
        for line in lines:
            r = layout.blockBoundingRect(line)
            bottom = r.bottom() + (CODE_PAD / 2 if line == lines[-1] else 0.0)
            text_layout = line.layout()
            if text_layout.lineCount() > 1:
                char_w = _char_width(doc, line)
                for i in range(1, text_layout.lineCount()):
                    tl = text_layout.lineAt(i)
                    x = r.left() + tl.x() - char_w * 1.5
                    out.wrap_marks.append(QRectF(x, r.top() + tl.y(), char_w, tl.height()))
        out.headers.append(QRectF(left, head.top(), right - left, head.height()))
        out.rects.append(QRectF(left, head.top(), right - left, bottom - head.top()))
    return out
