"""A card body as a stack of small QTextDocuments, so a streaming answer costs what changed, not its length.

`QTextDocument.setHtml` and its layout cost time linear in the document: re-setting a 60k-character
answer 30 times a second per card freezes the loop. app.render's output is a sequence of top-level
blocks (`<h2>`, `<p>`, `<pre>`, `<table>`, `<ul>`, …; raw HTML in model text is always escaped, so
every `<` is a real tag). `SegmentedDocument` splits that HTML at top-level block boundaries, groups
the blocks into chunks of a few kilobytes, and keeps one laid-out QTextDocument per chunk. On each
update only the chunks after the first changed byte are rebuilt; while a model streams that is the
last chunk. Painting draws only the chunks inside the visible body.

Joins are invisible: each chunk is its own document, and a document drops the top margin of its first
block and the bottom margin of its last, so the space between two blocks that a single document would
have put there (its margins collapsed) is measured once per kind of join on two small stand-ins and
added between the chunks (`join_gap`). The stand-ins are shaped like the chunks (code blocks' headers
and boxes, ui.canvas.text.shape_code_blocks), so a join next to a code block is invisible too.

A markdown table is a chunk of its own, laid out by ui.canvas.tables: when it is wider than the body
(columns at their natural width, words never broken), the chunk keeps a horizontal offset, draws
clipped to the body with a thin scroll bar under it, and `scroll_x` moves it.

Qt main thread only.
"""

from __future__ import annotations

import bisect
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QTextCharFormat,
    QTextCursor,
    QTextDocument,
    QTextOption,
)

from app.render.theme import CODE_LABEL_STATE
from ui.canvas.tables import fit_tables, markdown_tables
from ui.canvas.text import CodeShapes, shape_code_blocks
from ui.math_images import add_math_resources, math_keys, rescale, scale_bucket, selection_text

CHUNK_CHARS = 4000  # HTML characters per chunk (about a screen of text)
HBAR_BAND = 10.0  # space under a wide table for its horizontal scroll bar
HBAR_THICKNESS = 4.0

# A place in the text: (chunk index, character position in that chunk's document). Tuples compare in
# reading order, so a selection is any two of them.
TextPos = tuple[int, int]
_PARAGRAPH_SEPARATORS = str.maketrans({"\u2029": "\n", "\u2028": "\n", "\ufdd0": "", "\ufdd1": ""})

_TAG = re.compile(r"<(/?)([a-zA-Z][a-zA-Z0-9]*)\b[^>]*>")
_COMMENT = re.compile(r"<!--.*?-->", re.S)
_BLOCK_TAGS = frozenset(
    {
        "p",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "pre",
        "table",
        "ul",
        "ol",
        "blockquote",
        "div",
        "dl",
        "details",
    }
)
_VOID_BLOCKS = frozenset({"hr"})
_TAG_NAME = re.compile(r"<([a-zA-Z][a-zA-Z0-9]*)")
_VOID_TAGS = frozenset({"br", "hr", "img", "col", "input", "wbr"})
_CODE_HEADER = re.compile(rf"<p\b[^>]*-qt-user-state:{CODE_LABEL_STATE}\b[^>]*>")  # (app.render)
_HEADED_PRE = re.compile(r"[^<]*</p>\s*<pre\b")  # what follows a header's tag: its label, then its <pre>
_TABLE_ANY = re.compile(r"<table\b[^>]*\bborder=\"[1-9]")  # one anywhere (in a list item, a quote)
_TABLE_AT_START = re.compile(r"\s*<table\b[^>]*\bborder=\"[1-9]")  # a top-level one


def _table_bands(doc: QTextDocument, width: float) -> tuple[tuple[float, float, float], ...]:
    """(top, bottom, left) of each markdown table of `doc` wider than `width` that sits in a list item or
    a quote: from the end of the text above it to its bottom border, from where that text starts."""
    layout = doc.documentLayout()
    out = []
    for table in markdown_tables(doc):
        r = layout.frameBoundingRect(table)
        if r.right() <= width + 1.5:
            continue
        above = table.firstCursorPosition().block().previous()
        box = layout.blockBoundingRect(above) if above.isValid() else QRectF()
        lines = above.layout() if above.isValid() else None
        indent = lines.lineAt(0).x() if lines is not None and lines.lineCount() else 0.0  # (a list item's)
        out.append((box.bottom(), r.bottom() - table.format().bottomMargin() + 1, max(box.left() + indent, 0.0)))
    return tuple(out)


def split_blocks(html: str, start: int = 0) -> list[int]:
    """End offsets of the top-level blocks of `html` that close after `start` (a top-level position)."""
    out: list[int] = []
    depth = 0
    for m in _TAG.finditer(html, start):
        name = m.group(2).lower()
        if name in _VOID_BLOCKS:
            if depth == 0:
                out.append(m.end())
            continue
        if name not in _BLOCK_TAGS:
            continue
        if m.group(1):
            depth -= 1
            if depth <= 0:
                depth = 0
                out.append(m.end())
        else:
            depth += 1
    return out


def _text_spans(html: str) -> list[tuple[int, int]]:
    """(start, end) of each run of non-blank text between tags, an `<img>` counting as text."""
    out = []
    pos = 0
    for m in _TAG.finditer(html):
        if _COMMENT.sub("", html[pos : m.start()]).strip():  # (a comment lays out nothing)
            out.append((pos, m.start()))
        if m.group(2).lower() == "img":
            out.append((m.start(), m.end()))
        pos = m.end()
    if _COMMENT.sub("", html[pos:]).strip():
        out.append((pos, len(html)))
    return out


def _open_tags(html: str, end: int) -> list[str]:
    """The tags still open at `end` (outermost first), as written."""
    stack: list[tuple[str, str]] = []
    for m in _TAG.finditer(html, 0, end):
        name = m.group(2).lower()
        if name in _VOID_TAGS or m.group(0).endswith("/>"):
            continue
        if m.group(1):
            for i in range(len(stack) - 1, -1, -1):
                if stack[i][0] == name:
                    del stack[i:]
                    break
        else:
            stack.append((name, m.group(0)))
    return [tag for _, tag in stack]


def head_stub(block: str) -> str:
    """A small stand-in for the top of `block` (the same tags down to its first text, one letter "Y")."""
    spans = _text_spans(block)
    if not spans:
        return block
    start, stop = spans[0]
    text = block[start:stop]
    names = [_TAG_NAME.match(t).group(1) for t in _open_tags(block, start)]  # type: ignore[union-attr]
    lead = block[:start] + text[: len(text) - len(text.lstrip())]  # a <pre>'s leading blank lines count
    return lead + "Y" + "".join(f"</{n}>" for n in reversed(names))


def tail_stub(block: str) -> str:
    """A small stand-in for the bottom of `block` (the tags open at its last text, one letter "X").

    The last line of a code block keeps its block's header line (also an "X") in front of its `<pre>`:
    shape_code_blocks shapes only a headed `<pre>`, and the shaping moves its bottom (see join_gap)."""
    spans = _text_spans(block)
    if not spans:
        return block
    end = spans[-1][1]
    tags = _open_tags(block, end)
    pre = next((i for i in range(len(tags) - 1, -1, -1) if tags[i].lower().startswith("<pre")), -1)
    if pre >= 0:
        headers = list(_CODE_HEADER.finditer(block, 0, end))
        after = block[headers[-1].end() : end] if headers else ""
        if _HEADED_PRE.match(after) and after.count("<pre") == 1:  # (not a headerless <pre> further on)
            tags.insert(pre, headers[-1].group(0) + "X</p>")
    return "".join(tags) + "X" + block[end:]


_JOIN_GAPS: dict[tuple[str, str, str], float] = {}


def _probe(html: str, font: QFont) -> tuple[QTextDocument, float]:
    """A stand-in laid out like a chunk (its code blocks shaped), and its height as a chunk."""
    doc = QTextDocument()
    doc.setUndoRedoEnabled(False)
    doc.setDocumentMargin(0)
    doc.setDefaultFont(font)
    doc.setTextWidth(400.0)
    doc.setHtml(html)
    return doc, _chunk_height(doc, shape_code_blocks(doc))  # (a head stub is a header without its <pre>)


def _chunk_height(doc: QTextDocument, code: CodeShapes | None) -> float:
    """How tall a chunk's document shows: the last code box's bottom padding may hang below the text
    (into its last line's bottom margin, which a document drops)."""
    height = doc.size().height()
    if code is not None and code.rects:
        height = max(height, code.rects[-1].bottom())
    return height


def _first_y(doc: QTextDocument, letter: str) -> float | None:
    block = doc.begin()
    while block.isValid():
        if letter in block.text():
            return doc.documentLayout().blockBoundingRect(block).y()
        block = block.next()
    return None


def join_gap(tail: str, head: str, font: QFont) -> float:
    """The space a single document puts between a block ending like `tail` and one starting like `head`
    (both stubs) beyond what the two chunks laid out alone show. Measured once per kind of join, on
    stand-ins shaped like chunks: a code block's header has a padded top margin that collapses with the
    margin above it in one document, but that a chunk starting with it shows as a top margin of its own
    (shape_code_blocks makes room for the box there); a code box's bottom padding hangs into its last
    line's bottom margin."""
    key = (font.key(), tail, head)
    gap = _JOIN_GAPS.get(key)
    if gap is None:
        (_, upper_h), (lower, lower_h), (both, both_h) = (
            _probe(tail, font),
            _probe(head, font),
            _probe(tail + head, font),
        )
        alone, joined = _first_y(lower, "Y"), _first_y(both, "Y")
        if alone is None or joined is None:  # a block without text (a rule): compare the heights
            gap = both_h - upper_h - lower_h
        else:
            gap = joined - alone - upper_h
        if len(_JOIN_GAPS) > 512:
            _JOIN_GAPS.clear()
        _JOIN_GAPS[key] = gap
    return gap


@dataclass(slots=True)
class _Chunk:
    start: int
    end: int
    html: str
    doc: QTextDocument
    height: float
    code: CodeShapes | None  # its code blocks (see ui.canvas.text.shape_code_blocks)
    pending: int = 0  # formulas shown as placeholders (see ui.math_images)
    head: str = ""  # stand-ins for its first and last block (see join_gap)
    tail: str = ""
    wide: float = 0.0  # a table wider than the body: its width (0: fits)
    table_h: float = 0.0  # the table's height (its scroll bar goes under it)
    x: float = 0.0  # the horizontal offset of a wide table
    scale: float = 0.0  # the scale its formula pictures were drawn for (0: none asked for yet)
    # A wide table inside a list item or a quote: only it scrolls, (top, bottom, left) of each in the
    # chunk's document; empty: the whole chunk does (a top-level table).
    bands: tuple[tuple[float, float, float], ...] = ()

    def doc_x(self, x: float, y: float) -> float:
        """Where `x` (body coordinates) is in this chunk's document at its height `y`."""
        if not self.bands:
            return x + self.x
        for top, bottom, left in self.bands:
            if top <= y < bottom and x >= left:
                return x + self.x
        return x

    def segments(self, w: float, y0: float, y1: float) -> list[tuple[float, float, float, float, float]]:
        """The parts of this chunk between `y0` and `y1` (its document's coordinates) drawn with one
        sideways shift each: (top, bottom, left, right, shift), left and right in body coordinates
        (`w`: the body's width)."""
        if not self.bands:
            return [(y0, y1, 0.0, w, self.x)]
        out = []
        y = y0
        for top, bottom, left in sorted(self.bands):
            top, bottom = max(top, y), min(bottom, y1)
            if bottom <= top:
                continue
            if top > y:
                out.append((y, top, 0.0, w, 0.0))
            if left > 0:
                out.append((top, bottom, 0.0, left, 0.0))
            out.append((top, bottom, left, w, self.x))
            y = bottom
        if y < y1:
            out.append((y, y1, 0.0, w, 0.0))
        return out

    def line_rects(self, top: float) -> list[QRectF]:
        """Where each laid-out line's text is (the chunk placed at `top`): its start to its natural width."""
        out = []
        layout = self.doc.documentLayout()
        block = self.doc.begin()
        while block.isValid():
            r = layout.blockBoundingRect(block)
            text_layout = block.layout()
            for i in range(text_layout.lineCount()):
                line = text_layout.lineAt(i)
                if line.naturalTextWidth() > 0:
                    out.append(
                        QRectF(r.left() + line.x(), top + r.top() + line.y(), line.naturalTextWidth(), line.height())
                    )
            block = block.next()
        return out

    def cursor(self, i: int, start: TextPos, end: TextPos) -> QTextCursor | None:
        """A cursor selecting this chunk's (chunk `i`'s) share of [start, end)."""
        doc = self.doc
        last = max(doc.characterCount() - 1, 0)
        a = min(start[1], last) if start[0] == i else 0
        b = min(end[1], last) if end[0] == i else last
        if b <= a:
            return None
        cursor = QTextCursor(doc)
        cursor.setPosition(a)
        cursor.setPosition(b, QTextCursor.MoveMode.KeepAnchor)
        return cursor


class SegmentedDocument:
    """Rich text of one card body. `set_html` is incremental; `draw` paints only what is visible."""

    # Every card has two (body, reasoning), most of them empty: keep an empty one small.
    __slots__ = (
        "__weakref__",
        "_bounds",
        "_chunks",
        "_color",
        "_font",
        "_height",
        "_html",
        "_on_formulas",
        "_rescaling",
        "_tops",
        "_width",
    )

    def __init__(self) -> None:
        self._html = ""
        self._bounds: list[int] | tuple[()] = ()  # top-level block end offsets in _html
        self._chunks: list[_Chunk] | tuple[()] = ()
        self._tops: list[float] | tuple[()] = ()  # y of each chunk
        self._height = 0.0
        self._width = 100.0
        self._font: QFont | None = None  # set by the first set_html (cards without text never need one)
        self._color = "#000000"
        self._on_formulas: weakref.WeakMethod | None = None
        self._rescaling = False  # formula pictures for a new zoom are being drawn

    def set_formulas_callback(self, callback: Callable[[], None]) -> None:
        """`callback` (a bound method, held weakly) runs after placeholder formulas were redrawn."""
        self._on_formulas = weakref.WeakMethod(callback)

    def formulas_drawn(self) -> None:
        """Queued formula pictures are ready: rebuild the chunks that showed placeholders (pictures
        for a new zoom are picked up by the next paint)."""
        rescaling, self._rescaling = self._rescaling, False
        if not any(c.pending for c in self._chunks):
            callback = self._on_formulas() if rescaling and self._on_formulas is not None else None
            if callback is not None:
                callback()
            return
        chunks = []
        for c in self._chunks:
            if c.pending:
                x = c.x
                c = self._make_chunk(self._html, c.start, c.end)
                c.x = min(x, max(c.wide - self._width, 0.0))
            chunks.append(c)
        self._chunks = chunks
        self._relayout()
        callback = self._on_formulas() if self._on_formulas is not None else None
        if callback is not None:
            callback()

    def __repr__(self) -> str:
        return f"<SegmentedDocument chars={len(self._html)} chunks={len(self._chunks)} h={self._height:.0f}>"

    # ------------------------------------------------------------------ content
    def set_html(self, html: str, width: float, font: QFont, color: str) -> bool:
        """Show `html` at `width`; rebuilds only the chunks that changed. Returns True if anything did."""
        width = max(width, 10.0)
        if width != self._width or font != self._font or color != self._color:
            self._width, self._font, self._color = width, QFont(font), color
            self._html, self._bounds, self._chunks = "", [], []
        if html == self._html:
            return False
        # How much of the old HTML is unchanged, chunk by chunk: `startswith` at an offset compares in
        # place (no copies), so this is a memcmp over the text, not a re-layout.
        same = 0
        for c in self._chunks:
            if not html.startswith(c.html, c.start):
                break
            same = c.end
        keep = bisect.bisect_right(self._bounds, same)
        bounds = list(self._bounds[:keep])
        bounds += split_blocks(html, bounds[-1] if bounds else 0)
        if not bounds or bounds[-1] < len(html):
            bounds.append(len(html))  # the open tail (or trailing whitespace)
        # Chunk ends: greedy over the closed blocks, so earlier chunks never move while text is
        # appended; the last block (the one still growing while a model streams) is a chunk of its own,
        # so a frame re-lays out only that block.
        # A markdown table is a chunk of its own (it may be wider than the body and scroll sideways), and
        # so is a list or a quote that holds one (the block scrolls sideways with its table).
        tail_start = bounds[-2] if len(bounds) >= 2 else 0
        ends: list[int] = []
        start = prev = 0
        for b in bounds:
            if b > tail_start:
                break
            table = _TABLE_ANY.search(html, prev, b) is not None
            if table and prev > start:
                ends.append(prev)
                start = prev
            if b - start >= CHUNK_CHARS or b == tail_start or table:
                ends.append(b)
                start = b
            prev = b
        if not ends or ends[-1] != bounds[-1]:
            ends.append(bounds[-1])
        chunks: list[_Chunk] = []
        old = {(c.start, c.end): c for c in self._chunks if c.end <= same}  # (their sideways scroll kept)
        start = 0
        for end in ends:
            chunk = old.get((start, end))
            if chunk is None:
                chunk = self._make_chunk(html, start, end)
            chunks.append(chunk)
            start = end
        self._html, self._bounds, self._chunks = html, bounds, chunks
        self._relayout()
        return True

    def clear(self) -> None:
        self._html, self._bounds, self._chunks, self._tops, self._height = "", [], [], [], 0.0

    def _make_chunk(self, html: str, start: int, end: int) -> _Chunk:
        doc = QTextDocument()
        doc.setUndoRedoEnabled(False)
        doc.setDocumentMargin(0)
        if self._font is not None:
            doc.setDefaultFont(self._font)
        doc.setDefaultStyleSheet(f"body {{ color: {QColor(self._color).name()}; }}")
        piece = html[start:end]
        table = _TABLE_ANY.search(piece) is not None
        option = doc.defaultTextOption()
        # a table's words wrap at spaces only (ui.canvas.tables makes it wider instead of splitting them)
        option.setWrapMode(
            QTextOption.WrapMode.WordWrap if table else QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere
        )
        doc.setDefaultTextOption(option)
        doc.setTextWidth(self._width)
        pending = 0
        if self._font is not None:  # formula pictures (app.render.math), drawn lazily
            pending = add_math_resources(doc, piece, self._color, self._font, waiter=self)
        # Whitespace between a chunk's top-level blocks means nothing, but Qt turns a newline after the
        # last closing tag into a space at the end of the last block: a chunk cut where the streamed
        # text ended (its html ends "</div>\n") would differ from the one-shot render's by that space.
        doc.setHtml(piece.strip())
        wide = table_h = 0.0
        if table:
            need = fit_tables(doc, self._width)
            if need > self._width + 1.5:  # (a squeezed table may round a pixel over)
                wide, table_h = need, doc.size().height()
        code = shape_code_blocks(doc) if "<pre" in piece else None  # before measuring: it lays them out
        height = _chunk_height(doc, code) if piece.strip() else 0.0
        bands: tuple[tuple[float, float, float], ...] = ()
        if wide and piece.strip():
            table_h = height
            height += HBAR_BAND
            if not _TABLE_AT_START.match(piece):
                bands = _table_bands(doc, self._width)
        ends = split_blocks(piece)
        if not ends or (ends[-1] < len(piece) and piece[ends[-1] :].strip()):
            ends.append(len(piece))
        head = head_stub(piece[: ends[0]])
        tail = tail_stub(piece[ends[-2] if len(ends) > 1 else 0 :])
        chunk = _Chunk(start, end, piece, doc, height, code, pending, head, tail, wide, table_h)
        chunk.bands = bands
        return chunk

    def _relayout(self) -> None:
        y = 0.0
        tops = []
        before: _Chunk | None = None  # the last chunk with text above
        for c in self._chunks:
            if c.height and before is not None and self._font is not None:
                y += join_gap(before.tail, c.head, self._font)  # the margins a single document has there
            tops.append(y)
            y += c.height
            if c.height:
                before = c
        self._tops = tops
        self._height = y

    # ------------------------------------------------------------------ queries
    def height(self) -> float:
        return self._height

    def width(self) -> float:
        return self._width

    def chunk_count(self) -> int:
        return len(self._chunks)

    def documents(self) -> list[QTextDocument]:
        return [c.doc for c in self._chunks]

    def plain_text(self) -> str:
        return "\n".join(c.doc.toPlainText() for c in self._chunks if c.height)

    def code_block_rects(self) -> list[QRectF]:
        """Each code block, header and code (document coordinates), in document order."""
        return self._code_rects("rects")

    def code_header_rects(self) -> list[QRectF]:
        """Each code block's header line (its language; the card's Copy button goes at its right)."""
        return self._code_rects("headers")

    def wrap_mark_rects(self) -> list[QRectF]:
        """Where a wrap arrow is drawn, left of each continuation of a wrapped code line."""
        return self._code_rects("wrap_marks")

    def line_rects(self) -> list[QRectF]:
        """Where each laid-out line's text is (document coordinates): its start to its natural width."""
        return [r for top, c in zip(self._tops, self._chunks, strict=True) for r in c.line_rects(top)]

    def _code_rects(self, which: str) -> list[QRectF]:
        out: list[QRectF] = []
        for top, c in zip(self._tops, self._chunks, strict=True):
            if c.code is not None:
                out.extend(r.translated(0, top) for r in getattr(c.code, which))
        return out

    def _chunk_at(self, y: float) -> int:
        return max(bisect.bisect_right(self._tops, y) - 1, 0)

    # ------------------------------------------------------------------ wide tables
    def wide_tables(self) -> list[int]:
        """The chunks that are tables wider than the body (they scroll sideways)."""
        return [i for i, c in enumerate(self._chunks) if c.wide]

    def table_at(self, pos: QPointF) -> int:
        """The wide table (chunk index) at `pos` (document coordinates, its scroll bar included), or -1."""
        if not self._chunks or pos.y() < 0 or pos.y() > self._height:
            return -1
        i = self._chunk_at(pos.y())
        c = self._chunks[i]
        return i if c.wide and pos.y() <= self._tops[i] + c.height else -1

    def table_rect(self, i: int) -> QRectF:
        """Where wide table `i` shows (document coordinates: the body's width, its scroll bar included)."""
        return QRectF(0.0, self._tops[i], self._width, self._chunks[i].height)

    def hbar_rect(self, i: int) -> QRectF:
        """The band under wide table `i` that holds its scroll bar (document coordinates)."""
        c = self._chunks[i]
        return QRectF(0.0, self._tops[i] + c.table_h, self._width, HBAR_BAND)

    def x_range(self, i: int) -> float:
        """How far wide table `i` scrolls sideways (0 for any other chunk)."""
        c = self._chunks[i]
        return max(c.wide - self._width, 0.0) if c.wide else 0.0

    def x_offset(self, i: int) -> float:
        return self._chunks[i].x

    def set_x(self, i: int, x: float) -> bool:
        """Scroll wide table `i` to `x` (clamped); True if it moved."""
        c = self._chunks[i]
        x = min(max(x, 0.0), self.x_range(i))
        if x == c.x:
            return False
        c.x = x
        return True

    def anchor_at(self, pos: QPointF) -> str:
        """The link under `pos` (document coordinates), or ""."""
        if not self._chunks or pos.y() < 0 or pos.y() > self._height:
            return ""
        i = self._chunk_at(pos.y())
        c = self._chunks[i]
        y = pos.y() - self._tops[i]
        return c.doc.documentLayout().anchorAt(QPointF(self._chunks[i].doc_x(pos.x(), y), y))

    # ------------------------------------------------------------------ text selection
    def _clamp(self, where: TextPos) -> tuple[QTextDocument, int] | None:
        i, p = where
        if not 0 <= i < len(self._chunks):
            return None
        doc = self._chunks[i].doc
        return doc, min(max(p, 0), max(doc.characterCount() - 1, 0))

    def position_at(self, pos: QPointF) -> TextPos | None:
        """The text position nearest to `pos` (document coordinates), or None without text."""
        if not self._chunks or not self._height:
            return None
        y = min(max(pos.y(), 0.0), self._height - 0.5)
        i = self._chunk_at(y)
        while i > 0 and not self._chunks[i].height:
            i -= 1  # an empty tail chunk: the end of the one before it
        c = self._chunks[i]
        doc_y = min(max(y - self._tops[i], 0.0), c.height - 0.5)
        hit = c.doc.documentLayout().hitTest(
            QPointF(c.doc_x(pos.x(), doc_y), doc_y),
            Qt.HitTestAccuracy.FuzzyHit,
        )
        return (i, max(hit, 0))

    def word_at(self, pos: QPointF) -> tuple[TextPos, TextPos] | None:
        """The start and end of the word under `pos` (document coordinates)."""
        where = self.position_at(pos)
        if where is None:
            return None
        doc, p = self._clamp(where) or (None, 0)
        if doc is None:
            return None
        cursor = QTextCursor(doc)
        cursor.setPosition(p)
        cursor.select(QTextCursor.SelectionType.WordUnderCursor)
        if not cursor.hasSelection():
            return (where, where)
        return ((where[0], cursor.selectionStart()), (where[0], cursor.selectionEnd()))

    def text_between(self, start: TextPos, end: TextPos) -> str:
        """The plain text from `start` to `end` (either order), paragraphs separated by newlines."""
        start, end = min(start, end), max(start, end)
        parts = []
        for i in range(max(start[0], 0), min(end[0], len(self._chunks) - 1) + 1):
            cursor = self._chunks[i].cursor(i, start, end)
            if cursor is not None:
                parts.append(selection_text(cursor).translate(_PARAGRAPH_SEPARATORS))  # formulas as $…$
        return "\n".join(parts)

    # ------------------------------------------------------------------ painting
    def draw(
        self,
        painter: QPainter,
        rect: QRectF,
        scroll: float,
        color: QColor,
        link: QColor,
        selection: tuple[TextPos, TextPos] | None = None,
        highlight: QColor | None = None,
        bar: QColor | None = None,
    ) -> None:
        """Paint the part [scroll, scroll + rect.height()) into `rect` (clipped); `selection` (two text
        positions) is drawn on a `highlight` background; a wide table's scroll bar in `bar`."""
        if not self._chunks:
            return
        sel_format = None
        if selection is not None and selection[0] != selection[1]:
            start, end = min(selection), max(selection)
            sel_format = QTextCharFormat()
            sel_format.setBackground(highlight if highlight is not None else QColor(link))
        painter.save()
        painter.setClipRect(rect)
        first = self._chunk_at(scroll)
        bottom = scroll + rect.height()
        ctx = QAbstractTextDocumentLayout.PaintContext()
        ctx.palette.setColor(QPalette.ColorRole.Text, color)
        ctx.palette.setColor(QPalette.ColorRole.Link, link)
        device = painter.device()
        scale = scale_bucket(abs(painter.worldTransform().m11()) * (device.devicePixelRatioF() if device else 1.0))
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)  # formula pictures
        for i in range(first, len(self._chunks)):
            top = self._tops[i]
            if top > bottom:
                break
            c = self._chunks[i]
            if not c.height:
                continue
            if c.scale != scale and self._font is not None and not c.pending and "<img" in c.html:
                self._rescale(c, scale)
            ctx.selections = []
            if sel_format is not None and start[0] <= i <= end[0]:
                cursor = self._chunks[i].cursor(i, start, end)
                if cursor is not None:
                    chosen = QAbstractTextDocumentLayout.Selection()
                    chosen.cursor = cursor
                    chosen.format = sel_format
                    ctx.selections = [chosen]
            y0 = max(scroll - top, 0.0)
            for seg_top, seg_bottom, left, right, shift in c.segments(self._width, y0, y0 + rect.height()):
                painter.save()
                painter.translate(rect.left() - shift, rect.top() - scroll + top)
                ctx.clip = QRectF(left + shift, seg_top, right - left, seg_bottom - seg_top)
                if c.bands:
                    painter.setClipRect(ctx.clip, Qt.ClipOperation.IntersectClip)
                if c.code is not None and c.code.rects:
                    _draw_code_boxes(painter, c.code, color)
                c.doc.documentLayout().draw(painter, ctx)
                if c.code is not None and c.code.rects:
                    _draw_code_marks(painter, c.code, color)
                painter.restore()
            if c.wide:
                _draw_hbar(painter, rect, rect.top() - scroll + top, c, bar or color)
        painter.restore()

    def _rescale(self, c: _Chunk, scale: float) -> None:
        """Formula pictures drawn for the zoom `c` is painted at (ui.math_images.rescale)."""
        assert self._font is not None
        keys = math_keys(c.html)
        if not keys or rescale(c.doc, keys, self._color, self._font, scale, self):
            c.scale = scale
        else:
            self._rescaling = True



def _draw_hbar(painter: QPainter, rect: QRectF, top: float, c: _Chunk, color: QColor) -> None:
    """A thin horizontal scroll bar under a wide table: a faint track and the visible part."""
    y = top + c.table_h + (HBAR_BAND - HBAR_THICKNESS) / 2
    track = QColor(color)
    track.setAlpha(35)
    thumb = QColor(color)
    thumb.setAlpha(130)
    span = max(c.wide - rect.width(), 1.0)
    thumb_w = max(rect.width() * rect.width() / c.wide, 24.0)
    x = rect.left() + (rect.width() - thumb_w) * min(c.x / span, 1.0)
    r = HBAR_THICKNESS / 2
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(track)
    painter.drawRoundedRect(QRectF(rect.left(), y, rect.width(), HBAR_THICKNESS), r, r)
    painter.setBrush(thumb)
    painter.drawRoundedRect(QRectF(x, y, thumb_w, HBAR_THICKNESS), r, r)


def _edge_color(color: QColor) -> QColor:
    edge = QColor(color)
    edge.setAlphaF(0.16)
    return edge


def _draw_code_boxes(painter: QPainter, code: CodeShapes, color: QColor) -> None:
    """The box of each code block, under its text."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(QPen(_edge_color(color), 1.0))
    painter.setBrush(code.fill)
    for box in code.rects:
        painter.drawRoundedRect(box.adjusted(0.5, 0.5, -0.5, -0.5), 6.0, 6.0)
    painter.restore()


def _draw_code_marks(painter: QPainter, code: CodeShapes, color: QColor) -> None:
    """Over the text of each code block: the rule under its header, and a small ↪-like hook left of
    each continuation of a wrapped line."""
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(QPen(_edge_color(color), 1.0))
    for box, head in zip(code.rects, code.headers, strict=True):
        if head.bottom() < box.bottom() - 1:
            painter.drawLine(QPointF(box.left() + 1, head.bottom()), QPointF(box.right() - 1, head.bottom()))
    mark = QColor(color)
    mark.setAlphaF(0.55)
    pen = QPen(mark, 1.2)
    pen.setCapStyle(Qt.PenCapStyle.RoundCap)
    pen.setJoinStyle(Qt.PenJoinStyle.RoundJoin)
    painter.setPen(pen)
    painter.setBrush(Qt.BrushStyle.NoBrush)
    for r in code.wrap_marks:
        w, h = r.width(), min(r.height(), r.width() * 2.2)
        x, y = r.left(), r.top() + (r.height() - h) / 2
        path = QPainterPath(QPointF(x + 0.15 * w, y + 0.2 * h))
        path.lineTo(x + 0.15 * w, y + 0.62 * h)
        path.lineTo(x + 0.95 * w, y + 0.62 * h)
        path.moveTo(x + 0.62 * w, y + 0.45 * h)
        path.lineTo(x + 0.95 * w, y + 0.62 * h)
        path.lineTo(x + 0.62 * w, y + 0.79 * h)
        painter.drawPath(path)
    painter.restore()
