"""Markdown tables in a QTextDocument: natural column widths, words never broken mid-letter.

Squeezed into a card (a few hundred pixels), a ten-column table had its words split a few letters per
line. `fit_tables` measures each table of a document (laid out with `QTextOption.WrapMode.WordWrap`,
so a line breaks only at a space) and gives it fixed column widths when it is wide: a table that fits the width, its columns wrapping at spaces but
none narrower than `READABLE` (or its own text), is left to the width; a wider one gets its columns'
natural widths, each at most `COLUMN_CAP` pixels (wrapping at spaces inside), and the document is made
as wide as that table. The caller scrolls it sideways (a card draws it clipped with an offset, a
QTextBrowser shows its horizontal scroll bar).

Qt main thread only.
"""

from __future__ import annotations

from PySide6.QtGui import QTextDocument, QTextLength, QTextOption, QTextTable

COLUMN_CAP = 320.0  # a column never gets wider than this: its text wraps at spaces
READABLE = 120.0  # a table squeezed narrower than this per column (or its text) scrolls instead
_HUGE = 100000.0


def markdown_tables(doc: QTextDocument) -> list[QTextTable]:
    """The top-level tables that app.render made from markdown (a block quote's bar table has no border)."""
    return [f for f in doc.rootFrame().childFrames() if isinstance(f, QTextTable) and f.format().border() > 0]


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


def fit_tables(doc: QTextDocument, width: float) -> float:
    """Give the wide markdown tables of `doc` (already filled, wrapping at word boundaries) their
    natural column widths (fixed, so they hold at any text width). Leaves the document laid out at
    `width` and returns the width its content needs (more than `width` when a table is wider)."""
    tables = markdown_tables(doc)
    if not tables:
        if doc.textWidth() != width:
            doc.setTextWidth(width)
        return width
    for table in tables:  # measured afresh (a second call with another width)
        if table.format().columnWidthConstraints():
            fmt = table.format()
            fmt.setColumnWidthConstraints([])
            table.setFormat(fmt)
    option = doc.defaultTextOption()
    measuring = QTextOption(option)
    measuring.setWrapMode(QTextOption.WrapMode.WordWrap)  # a word is never split to measure a column
    doc.setDefaultTextOption(measuring)
    doc.setTextWidth(1.0)  # every column at its longest word
    least = [column_widths(doc, t) for t in tables]
    doc.setTextWidth(_HUGE)  # every column on one line
    natural = [column_widths(doc, t) for t in tables]
    doc.setDefaultTextOption(option)
    for table, low, high in zip(tables, least, natural, strict=True):
        needed = sum(max(lo, min(hi, READABLE)) for lo, hi in zip(low, high, strict=True))
        if needed <= width:
            continue
        fmt = table.format()
        fmt.setColumnWidthConstraints(
            [
                QTextLength(QTextLength.Type.FixedLength, max(lo, min(hi, COLUMN_CAP)))
                for lo, hi in zip(low, high, strict=True)
            ]
        )
        table.setFormat(fmt)
    doc.setTextWidth(width)
    return max(width, float(doc.size().width()))
