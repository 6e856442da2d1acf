"""Markdown tables in a QTextDocument: natural column widths, words never broken mid-letter.

Squeezed into a card (a few hundred pixels), a ten-column table had its words split a few letters per
line. `fit_tables` measures each markdown table of a document (with `QTextOption.WrapMode.WordWrap`,
so a line breaks only at a space) and fixes its column widths:

- a table whose cells all fit on one line within the width is left as it is;
- one that fits with its columns wrapping at spaces, none narrower than `READABLE` (or its longest
  word), shares the width among its columns, never below a column's longest word (Qt's own share
  may split words where lines may break anywhere);
- a wider one gets its columns' natural widths, each at most `COLUMN_CAP` pixels (wrapping at spaces
  inside): the document's content is then wider than the width, and the caller scrolls it sideways
  (a card draws it clipped with an offset, a QTextBrowser shows its horizontal scroll bar).

Qt main thread only.
"""

from __future__ import annotations

import math

from PySide6.QtGui import QTextDocument, QTextFrame, QTextLength, QTextOption, QTextTable

COLUMN_CAP = 320.0  # a column never gets wider than this: its text wraps at spaces
READABLE = 120.0  # a table squeezed narrower than this per column (or its text) scrolls instead
_HUGE = 100000.0
_SPARE = 2.0  # pixels a fixed column may add to its measured width (see _fix)
_BORDERS = 8.0  # about what a table's borders add around its columns


def markdown_tables(doc: QTextDocument) -> list[QTextTable]:
    """The tables that app.render made from markdown, in document order: top-level ones, in list items
    and inside block quotes (a block quote's bar is a table without a border: its cells are searched)."""
    out: list[QTextTable] = []

    def walk(frame: QTextFrame) -> None:
        for child in frame.childFrames():
            if isinstance(child, QTextTable) and child.format().border() > 0:
                out.append(child)
            else:
                walk(child)

    walk(doc.rootFrame())
    return out


def column_widths(doc: QTextDocument, table: QTextTable) -> list[float]:
    """The laid-out width of each column of `table` (cell borders and padding included)."""
    layout = doc.documentLayout()
    xs = []
    for c in range(table.columns()):
        cell = table.cellAt(0, c)
        xs.append(layout.blockBoundingRect(cell.firstCursorPosition().block()).x() if cell.isValid() else 0.0)
    width = layout.frameBoundingRect(table).width()
    out = [b - a for a, b in zip(xs, xs[1:], strict=False)]
    out.append(width - (xs[-1] - xs[0]) if xs else width)
    return out


def fit_tables(doc: QTextDocument, width: float, layout: bool = True) -> float:
    """Fix the column widths of the markdown tables of `doc` (already filled) for a page `width` wide
    (see the module docstring); returns the width its content needs (more than `width` when a table
    is wider). Measures on a copy (a QTextEdit resets the width of its own document as it changes);
    `layout`: lay `doc` out at `width` too (not for a QTextEdit's document, which it lays out itself)."""
    tables = markdown_tables(doc)
    if not tables:
        if layout and doc.textWidth() != width:
            doc.setTextWidth(width)
        return width
    work = doc.clone()
    work.setDocumentMargin(doc.documentMargin())
    work.setDefaultFont(doc.defaultFont())
    measuring = QTextOption(doc.defaultTextOption())
    measuring.setWrapMode(QTextOption.WrapMode.WordWrap)  # a word is never split to measure a column
    work.setDefaultTextOption(measuring)
    copies = markdown_tables(work)
    for table in copies:  # measured afresh (a second call with another width)
        _unfix(table)
    work.setTextWidth(1.0)  # every column at its longest word
    least = [column_widths(work, t) for t in copies]
    work.setTextWidth(_HUGE)  # every column on one line
    natural = [column_widths(work, t) for t in copies]
    # (a table in a list item or a block quote starts further right: less room)
    indents = [work.documentLayout().frameBoundingRect(t).left() - doc.documentMargin() for t in copies]
    for table, copy, low, high, indent in zip(tables, copies, least, natural, indents, strict=True):
        room = width - 2 * doc.documentMargin() - max(indent, 0.0)
        needed = sum(max(lo, min(hi, READABLE)) for lo, hi in zip(low, high, strict=True))
        if sum(high) <= room:
            _unfix(table)  # fits with every column on one line: as it is
            continue
        if needed + _SPARE * len(low) + _BORDERS <= room:
            # Squeezed to the width: share what the longest words leave in proportion to what each
            # column would like (Qt's own share may go below a word when lines may break anywhere).
            widths = _share(work, copy, low, high, room)
        else:  # wide: natural widths (at most COLUMN_CAP), the caller scrolls it sideways
            widths = [max(lo, min(hi, COLUMN_CAP)) for lo, hi in zip(low, high, strict=True)]
        _fix(copy, widths)
        _fix(table, widths)
    work.setTextWidth(width)
    if layout:
        doc.setTextWidth(width)
    rights = [work.documentLayout().frameBoundingRect(t).right() + doc.documentMargin() for t in copies]
    return max(width, float(work.size().width()), *rights)


def _unfix(table: QTextTable) -> None:
    if table.format().columnWidthConstraints():
        fmt = table.format()
        fmt.setColumnWidthConstraints([])
        table.setFormat(fmt)


def _fix(table: QTextTable, widths: list[float]) -> float:
    """Fix the columns at `widths` (a pixel more each: measured widths are rounded, and a column a
    fraction narrower than its longest word splits it). Returns their sum."""
    fixed = [math.ceil(w) + 1.0 for w in widths]
    fmt = table.format()
    fmt.setColumnWidthConstraints([QTextLength(QTextLength.Type.FixedLength, w) for w in fixed])
    table.setFormat(fmt)
    return sum(fixed)


def _share(doc: QTextDocument, table: QTextTable, low: list[float], high: list[float], room: float) -> list[float]:
    """Column widths that make the table `room` wide, each column at least `low` (its longest word),
    the rest shared in proportion to how much wider each would like to be (`high`)."""
    grow = [hi - lo for lo, hi in zip(low, high, strict=True)]
    total = sum(grow) or 1.0

    def widths(extra: float) -> list[float]:
        return [lo + math.floor(max(extra, 0.0) * g / total) for lo, g in zip(low, grow, strict=True)]

    # (each fixed width is rounded up and a pixel wider, see _fix)
    first = widths(room - sum(low) - _SPARE * len(low))
    fixed = _fix(table, first)
    doc.setTextWidth(_HUGE)
    chrome = doc.documentLayout().frameBoundingRect(table).width() - fixed  # borders around the columns
    return widths(room - chrome - sum(low) - _SPARE * len(low)) if chrome > 0.5 else first
