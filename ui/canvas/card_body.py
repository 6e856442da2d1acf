"""A card's body: the answer's text document, where it is scrolled to, the text selected in it, and
the wide tables that scroll sideways inside it.

`CardBody` holds no item: its owner (`CardItem`) passes the body's rectangle (item coordinates) to
every call that maps between the card and the text, and repaints when a call says something changed.
Qt main thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter

from ui.canvas import constants as C
from ui.canvas.card_state import CardButton, CardState
from ui.canvas.card_text import estimate_text_height
from ui.canvas.segdoc import SegmentedDocument, TextPos

if TYPE_CHECKING:
    from ui.canvas.style import CardStyle


class CardBody:
    """The body's document (incremental: a streaming answer costs what changed), its scroll and its
    text selection."""

    __slots__ = ("doc", "html", "measured", "scroll", "selection", "stick_bottom")

    def __init__(self, on_formulas_drawn: Callable[[], None]) -> None:
        self.doc = SegmentedDocument()
        self.doc.set_formulas_callback(on_formulas_drawn)
        self.html = ""
        # (text, width, height) of documents built earlier and dropped (a lazy card far off screen)
        self.measured: tuple[str, float, float] | None = None
        self.scroll = 0.0
        self.stick_bottom = True  # follow the tail while the text grows
        self.selection: tuple[TextPos, TextPos] | None = None  # (anchor, cursor) in the body's text

    def __repr__(self) -> str:
        return f"<CardBody {self.doc.chunk_count()} chunks scroll={self.scroll:.0f}>"

    # ------------------------------------------------------------------ building
    def clear(self) -> None:
        """Drop the document (it is built again from the node's text on the next layout)."""
        self.doc.clear()
        self.html = ""
        self.selection = None

    def drop(self, text: str) -> None:
        """Free the document, remembering its height for `text` (the card keeps its size)."""
        if text and self.doc.chunk_count():
            self.measured = (text, self.doc.width(), self.doc.height())
        self.clear()

    def set_html(self, html: str, width: float, style: CardStyle) -> None:
        if html != self.html:
            self.html = html
            self.doc.set_html(html, width, style.body_font, style.theme.text)

    def estimate_height(self, text: str, width: float, style: CardStyle, cap: float) -> float:
        """The body's height without its document: as measured before it was dropped, or estimated."""
        measured = self.measured
        if measured is not None and measured[1] == width and measured[0] == text:
            return measured[2]
        return estimate_text_height(text, width, style, cap)

    def place(self, doc_h: float, shown_h: float, following: bool) -> None:
        """The body shows `shown_h` of `doc_h`: keep the scroll in range, at the end while `following`."""
        max_scroll = max(doc_h - shown_h, 0.0)
        if doc_h > shown_h + 0.5 and self.stick_bottom and following:
            self.scroll = max_scroll
        self.scroll = min(max(self.scroll, 0.0), max_scroll)

    def scroll_by(self, dy: float, st: CardState) -> bool:
        """Scroll by `dy`; True if the scroll moved."""
        max_s = max(st.doc_h - st.body_rect.height(), 0.0)
        new = min(max(self.scroll + dy, 0.0), max_s)
        if new == self.scroll:
            return False
        self.scroll = new
        self.stick_bottom = new >= max_s - 2.0
        return True

    def code_buttons(self, text: str, st: CardState, interactive: bool) -> list[CardButton]:
        """A Copy button for each code block whose header line shows in the body now."""
        out: list[CardButton] = []
        if not interactive or not text or ("```" not in text and "~~~" not in text and "    " not in text):
            return out
        body = st.body_rect
        for index, header in enumerate(self.doc.code_header_rects()):
            # In the block's header line, right of its language: never over the code. Shown while that
            # line is inside the visible body.
            top = body.top() + header.top() - self.scroll + (header.height() - C.CODE_COPY_H) / 2
            if top < body.top() - 0.5 or top + C.CODE_COPY_H > body.bottom() + 0.5:
                continue
            bx = body.left() + header.right() - C.CODE_COPY_W - 4.0
            out.append(
                CardButton(
                    f"copy_code:{index}", "Copy", QRectF(bx, top, C.CODE_COPY_W, C.CODE_COPY_H), arg=index
                )
            )
        return out

    # ------------------------------------------------------------------ card ↔ text
    def doc_pos(self, rect: QRectF, pos: QPointF) -> QPointF:
        """`pos` (item coordinates) in the document, for a body shown in `rect`."""
        return QPointF(pos.x() - rect.left(), pos.y() - rect.top() + self.scroll)

    def to_item(self, rects: list[QRectF], rect: QRectF) -> list[QRectF]:
        return [r.translated(rect.left(), rect.top() - self.scroll) for r in rects]

    def link_at(self, rect: QRectF, pos: QPointF) -> str:
        return self.doc.anchor_at(self.doc_pos(rect, pos)) if rect.contains(pos) else ""

    def table_at(self, st: CardState, pos: QPointF) -> int:
        """The wide table at `pos` (item coordinates), or -1."""
        rect = st.body_rect
        if st.collapsed or st.body_placeholder or not rect.contains(pos):
            return -1
        return self.doc.table_at(self.doc_pos(rect, pos))

    def table_scroll(self, st: CardState, pos: QPointF) -> tuple[float, float]:
        """(offset, range) of the sideways scroll of the wide table at `pos` (item coordinates)."""
        i = self.table_at(st, pos)
        return (self.doc.x_offset(i), self.doc.x_range(i)) if i >= 0 else (0.0, 0.0)

    def scroll_table_by(self, st: CardState, dx: float, pos: QPointF) -> bool:
        """Scroll the wide table at `pos` sideways by `dx`; True if it moved."""
        i = self.table_at(st, pos)
        return i >= 0 and self.doc.set_x(i, self.doc.x_offset(i) + dx)

    def hbar_at(self, st: CardState, pos: QPointF) -> int:
        """The wide table whose scroll bar is under `pos` (item coordinates), or -1."""
        rect = st.body_rect
        if st.collapsed or not rect.contains(pos):
            return -1
        doc_pos = self.doc_pos(rect, pos)
        i = self.doc.table_at(doc_pos)
        return i if i >= 0 and self.doc.hbar_rect(i).adjusted(0, -2, 0, 2).contains(doc_pos) else -1

    def wide_table_rects(self, rect: QRectF) -> list[QRectF]:
        """Where the tables wider than the body show (item coordinates, clipped to the body)."""
        out = []
        for i in self.doc.wide_tables():
            shown = self.doc.table_rect(i).translated(rect.left(), rect.top() - self.scroll) & rect
            if not shown.isEmpty():
                out.append(shown)
        return out

    def drag_hbar(self, table: int, offset: float, dx: float, width: float) -> bool:
        """Move table `table`'s scroll bar thumb by `dx` from where it was at `offset`; True if it moved."""
        span = self.doc.x_range(table)
        thumb = max(width * width / (span + width), 24.0)
        return self.doc.set_x(table, offset + dx * span / max(width - thumb, 1.0))

    # ------------------------------------------------------------------ text selection
    @property
    def has_selection(self) -> bool:
        sel = self.selection
        return sel is not None and sel[0] != sel[1]

    def selected_text(self) -> str:
        sel = self.selection
        return self.doc.text_between(*sel) if sel is not None and sel[0] != sel[1] else ""

    def position_at(self, rect: QRectF, pos: QPointF) -> TextPos | None:
        return self.doc.position_at(self.doc_pos(rect, pos))

    def word_at(self, rect: QRectF, pos: QPointF) -> tuple[TextPos, TextPos] | None:
        return self.doc.word_at(self.doc_pos(rect, pos))

    # ------------------------------------------------------------------ painting
    def paint(self, painter: QPainter, st: CardState, style: CardStyle) -> None:
        """The text (with the selection), and a thin scroll bar when it is cut."""
        theme = style.theme
        highlight = None
        if self.selection is not None:
            highlight = QColor(theme.accent)
            highlight.setAlpha(90)
        self.doc.draw(
            painter,
            st.body_rect,
            self.scroll,
            QColor(theme.text),
            QColor(theme.accent),
            self.selection,
            highlight,
            QColor(theme.muted),
        )
        if st.body_scrollable:
            doc_h = st.doc_h
            r = st.body_rect
            bar_h = max(r.height() * r.height() / doc_h, 18.0)
            top = r.top() + (r.height() - bar_h) * (self.scroll / max(doc_h - r.height(), 1.0))
            bar_color = QColor(theme.muted)
            bar_color.setAlpha(110)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(bar_color)
            painter.drawRoundedRect(QRectF(r.right() + C.CARD_PAD / 2 - 2, top, 4, bar_h), 2, 2)


def paint_text_skeleton(painter: QPainter, rect: QRectF, style: CardStyle) -> None:
    """Grey lines where the text goes, for a body shown before its document exists."""
    color = QColor(style.theme.muted)
    color.setAlpha(45)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(color)
    line = style.body_metrics.lineSpacing()
    y = rect.top() + line * 0.25
    i = 0
    while y + line * 0.5 <= rect.bottom() and i < 40:
        w = rect.width() * (0.62 if i % 5 == 4 else 0.96)
        painter.drawRoundedRect(QRectF(rect.left(), y, w, line * 0.5), 3, 3)
        y += line
        i += 1


__all__ = ["CardBody", "paint_text_skeleton"]
