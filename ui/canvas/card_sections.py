"""The optional sections of an answer's card above its body: the model's reasoning (a row that opens
into a scrolling box) and the error box (what went wrong, with buttons that fix it).

Each section lays itself out from the node (`layout`, called by `CardItem.sync`, writes its
rectangles into the card's state and returns where the next section starts) and paints from that
state. Qt main thread only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QAbstractTextDocumentLayout, QColor, QPainter, QPalette, QPen, QTextDocument

from app.domain import Node
from ui.canvas import constants as C
from ui.canvas.card_state import CardButton, CardState
from ui.canvas.segdoc import SegmentedDocument
from ui.canvas.text import set_document_html
from ui.format import error_advice

if TYPE_CHECKING:
    from ui.canvas.style import CardStyle


class ReasoningSection:
    """The model's reasoning: "▸ Reasoning (3.2k chars)", and when open, its text in a scrolling box."""

    __slots__ = ("doc", "open", "scroll", "text")

    def __init__(self) -> None:
        self.doc = SegmentedDocument()
        self.text = ""  # the reasoning the document shows
        self.scroll = 0.0
        self.open = False

    def __repr__(self) -> str:
        return f"<ReasoningSection open={self.open} {len(self.text)} chars>"

    def clear(self) -> None:
        self.doc.clear()
        self.text = ""

    def layout(self, node: Node, st: CardState, style: CardStyle, y: float, left: float, w: float) -> float:
        if not node.reasoning:
            return y
        chars = len(node.reasoning)
        live = node.status.is_live and not node.text
        size = f"{chars / 1000:.1f}k chars" if chars >= 1000 else f"{chars} chars"
        st.reasoning_label = ("Thinking… " if live else "Reasoning ") + f"({size})"
        st.reasoning_row = QRectF(left, y + 2, w, C.REASONING_ROW_H)
        y += C.REASONING_ROW_H + 2
        if self.open:
            if node.reasoning != self.text:
                self.text = node.reasoning
                self.doc.set_html(style.render_plain(node.reasoning), w, style.small_font, style.theme.muted)
                if live:
                    self.scroll = 1e9  # follow the tail while thinking
            doc_h = self.doc.height()
            h = min(doc_h, C.REASONING_MAX_H)
            st.reasoning_rect = QRectF(left, y + 4, w, h)
            self.scroll = min(max(self.scroll, 0.0), max(doc_h - h, 0.0))
            y += h + 12
        return y

    def can_scroll(self, rect: QRectF) -> bool:
        return self.doc.height() > rect.height()

    def scroll_by(self, dy: float, rect: QRectF) -> bool | None:
        """Scroll the open box (shown in `rect`) by `dy`: True if it moved, None if it is at its end."""
        max_s = max(self.doc.height() - rect.height(), 0.0)
        new = min(max(self.scroll + dy, 0.0), max_s)
        if new == self.scroll:
            return None if max_s > 0 else False
        self.scroll = new
        return True

    def paint(self, painter: QPainter, st: CardState, style: CardStyle) -> None:
        if st.reasoning_row is None:
            return
        theme = style.theme
        painter.setFont(style.small_font)
        painter.setPen(QColor(theme.status.get("thinking", theme.muted)))
        arrow = "▾" if self.open else "▸"
        painter.drawText(
            st.reasoning_row,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            f"{arrow}  {st.reasoning_label}",
        )
        if st.reasoning_rect is not None:
            r = st.reasoning_rect
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(theme.alt_base))
            painter.drawRoundedRect(r.adjusted(-6, -4, 6, 4), 6, 6)
            self.doc.draw(painter, r, self.scroll, QColor(theme.muted), QColor(theme.accent))


class ErrorBox:
    """A failed card's explanation (ui.format.error_advice) and its buttons (Open Settings, Retry…).
    The document is made when the card first shows an error."""

    __slots__ = ("doc", "key")

    def __init__(self) -> None:
        self.doc: QTextDocument | None = None
        self.key = ""  # the advice the document shows

    def __repr__(self) -> str:
        return f"<ErrorBox {self.key[:30]!r}>"

    def clear(self) -> None:
        self.key = ""

    def text(self, st: CardState) -> str:
        """The explanation as plain text, as displayed ("" when the card shows none)."""
        if self.doc is None or st.error_rect is None:
            return ""
        return self.doc.toPlainText()

    def documents(self) -> list[QTextDocument]:
        return [self.doc] if self.doc is not None else []

    def layout(self, node: Node, st: CardState, style: CardStyle, y: float, left: float, w: float) -> float:
        advice = error_advice(node, style.provider_display)
        if advice is None:
            return y
        text, actions = advice
        if self.doc is None:
            self.doc = QTextDocument()
            self.doc.setDocumentMargin(0)
            self.doc.setUndoRedoEnabled(False)
            self.key = ""
        if text != self.key:
            self.key = text
            set_document_html(self.doc, text, w - 4, style.small_font, style.theme.error_text)
        doc_h = self.doc.size().height()
        btn_y = y + 8 + doc_h + 6
        bx = left
        if not style.interactive:
            actions = []
        for action, label in actions:
            bw = style.small_advance(label) + 18.0
            st.buttons.append(CardButton(action, label, QRectF(bx, btn_y, bw, C.BUTTON_H), primary=True))
            bx += bw + 6
        total = doc_h + (C.BUTTON_H + 6 if actions else 0)
        st.error_rect = QRectF(left, y + 8, w, total)
        return y + 8 + total + 8

    def paint(self, painter: QPainter, st: CardState, style: CardStyle) -> None:
        if st.error_rect is None:
            return
        theme = style.theme
        painter.setPen(QPen(QColor(theme.status["error"]), 1.0))
        painter.setBrush(QColor(theme.error_bg))
        painter.drawRoundedRect(st.error_rect.adjusted(-8, -6, 8, 6), 6, 6)
        if self.doc is not None:
            draw_document(painter, self.doc, st.error_rect, QColor(theme.error_text), QColor(theme.accent))


def draw_document(painter: QPainter, doc: QTextDocument, rect: QRectF, color: QColor, link: QColor) -> None:
    """Paint `doc` into `rect` (clipped), its text in `color` and its links in `link`."""
    painter.save()
    painter.setClipRect(rect)
    painter.translate(rect.left(), rect.top())
    ctx = QAbstractTextDocumentLayout.PaintContext()
    ctx.clip = QRectF(0, 0, rect.width(), rect.height())
    ctx.palette.setColor(QPalette.ColorRole.Text, color)
    ctx.palette.setColor(QPalette.ColorRole.Link, link)
    doc.documentLayout().draw(painter, ctx)
    painter.restore()
