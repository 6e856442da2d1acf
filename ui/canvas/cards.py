"""Card items: lightweight QGraphicsObjects that paint cached QTextDocuments (never proxy widgets).

Contract: `sync(node)` recomputes everything a card shows (documents, texts, button rectangles,
height) from a domain `Node`; `paint()` only reads that precomputed state.

Lazy cards (`make_card(..., lazy=True)`, what `CanvasScene.populate` makes when a session opens)
skip the expensive part until it is needed: their text documents are built by `ensure_detail()` (the
scene calls it for the cards in or near the visible area, at a zoom where text shows), and until
then the body height is an estimate from the text (`estimate_text_height`), or the exact height
remembered from documents built earlier and dropped (`drop_detail()`, for cards far off screen). The
public accessors that report what the card shows (`body_text`, `card_height`, `text_documents`, …)
build the documents first, so they always answer for the card as displayed. The controller calls
`sync` from the shared frame tick (≤ 30 fps per card) while a node streams. Items emit nothing
themselves: they report ids and facts to their `CanvasScene` (`card_action_requested`,
`link_clicked`), and a controller decides what to do.

Runs on the Qt main thread only.
"""

from __future__ import annotations

import html
import math
import re
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QBrush,
    QColor,
    QPainter,
    QPainterPath,
    QPalette,
    QPen,
    QStaticText,
    QTextDocument,
    QTransform,
)
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem

from app import layout
from app.domain import Node, NodeKind, NodeStatus
from app.present.status import status_chip
from app.render.math import formulas_as_text, latex_to_text
from ui.canvas import constants as C
from ui.canvas.segdoc import SegmentedDocument, TextPos
from ui.canvas.text import CODE_HEADER_H, set_document_html
from ui.card_actions import buttons_for
from ui.format import error_advice, metrics_line

if TYPE_CHECKING:
    from ui.canvas.style import CardStyle


# Enum members looked up once (each lookup of a PySide6 enum member costs a Python call).
_CARD_FLAGS = (
    QGraphicsItem.GraphicsItemFlag.ItemIsMovable
    | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
    | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
    | QGraphicsItem.GraphicsItemFlag.ItemIsFocusable
)
_ELIDE_RIGHT = Qt.TextElideMode.ElideRight
TINY_RADIUS_PX = 1.5  # below this on screen, a card's rounded corners are drawn square (see paint)
_POSITION_CHANGED = QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged
_SELECTED_CHANGED = QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged


@dataclass(slots=True)
class CardButton:
    action: str
    label: str
    rect: QRectF
    primary: bool = False
    arg: object = None


@dataclass(slots=True)
class _CardState:
    """Everything paint() reads. Rebuilt by sync()."""

    width: float = layout.CARD_W
    height: float = 120.0
    title: str = ""
    subtitle: str = ""
    stripe: QColor = field(default_factory=lambda: QColor("#888888"))
    status_key: str = ""
    status_text: str = ""
    status_rect: QRectF = field(default_factory=QRectF)
    reasoning_row: QRectF | None = None
    reasoning_label: str = ""
    reasoning_rect: QRectF | None = None  # the visible reasoning text area (expanded)
    error_rect: QRectF | None = None
    body_rect: QRectF = field(default_factory=QRectF)
    doc_h: float = 0.0  # the body's full text height (exact, or estimated while no documents exist)
    body_placeholder: str = ""
    metrics_rect: QRectF | None = None
    metrics_text: str = ""
    buttons: list[CardButton] = field(default_factory=list)
    code_buttons: list[CardButton] = field(default_factory=list)
    file_buttons: list[CardButton] = field(default_factory=list)  # a prompt's files (thumbnails, chips)
    body_scrollable: bool = False
    grown: float = 0.0  # how much taller the body is than the card's height on the canvas allows
    collapsed: bool = False
    preview: str = ""
    # texts elided to fit, and where they go (computed in sync, read by paint)
    title_rect: QRectF = field(default_factory=QRectF)
    title_shown: str = ""
    subtitle_rect: QRectF = field(default_factory=QRectF)
    subtitle_shown: str = ""
    metrics_shown: str = ""
    preview_rect: QRectF = field(default_factory=QRectF)
    preview_shown: str = ""
    overview: str = ""  # the first words, as plain text, for the zoomed-out card
    elided: bool = False  # the *_shown texts above are computed (a lazy card elides on first paint)


class CardItem(QGraphicsObject):
    """Base card: rounded box, header with a colour stripe, a markdown body and an action row."""

    kind_label = "Card"

    def __init__(self, node_id: str, kind: NodeKind, style: CardStyle, lazy: bool = False) -> None:
        super().__init__()
        self.node_id = node_id
        self.kind = kind
        self._style = style
        self._state = _CardState()
        self._body = SegmentedDocument()  # incremental: a streaming answer costs what changed
        self._body.set_formulas_callback(self._on_body_formulas_drawn)
        self._reasoning = SegmentedDocument()
        self._reasoning_text = ""
        self._error_key = ""
        self._error_doc: QTextDocument | None = None  # built when the card first shows an error
        self._body_html = ""
        # Lazy cards build their documents on first need (see the module docstring).
        self._lazy = lazy
        self._detailed = not lazy
        self._measured: tuple[str, float, float] | None = None  # (text, width, height) of dropped docs
        self._body_scroll = 0.0
        self._reasoning_scroll = 0.0
        self._stick_bottom = True
        self._was_live = False  # the node was streaming at the last sync
        self._reasoning_open = False
        self._hover_button: str | None = None
        self._hovered = False
        self._hover_code: int | None = None
        self._press_button: CardButton | None = None
        self._in_press = False  # inside mousePressEvent (see there)
        self._overview_text: tuple[tuple[str, int, int], QStaticText] | None = None  # (_paint_overview)
        self._text_sel: tuple[TextPos, TextPos] | None = None  # (anchor, cursor) in the body's text
        self._text_drag = False  # the left button is selecting text
        self._hbar_drag: tuple[int, float, float] | None = None  # (table, press x, its offset then)
        self._node: Node | None = None
        self.setFlags(_CARD_FLAGS)
        self.setAcceptHoverEvents(True)
        self.setZValue(C.Z_CARD)
        # No item cache (QGraphicsItem's default): a device-coordinate pixmap per card was re-rendered on
        # every zoom step and cost memory per card (bench/bench_canvas.py).

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.node_id[-6:]} {self._state.status_key}>"

    # ------------------------------------------------------------------ public, read-only facts
    @property
    def node(self) -> Node | None:
        return self._node

    @property
    def card_width(self) -> float:
        return self._state.width

    @property
    def card_height(self) -> float:
        """The card's exact height (builds its documents if it has none yet)."""
        self.ensure_detail()
        return self._state.height

    @property
    def body_text(self) -> str:
        """The body as plain text, as displayed (used by tests and accessibility)."""
        self.ensure_detail()
        return self._body.plain_text()

    @property
    def has_documents(self) -> bool:
        """True once the card's text documents exist (a lazy card off screen has none)."""
        return self._detailed

    @property
    def layout_height(self) -> float:
        """The height the card occupies now (estimated while a lazy card has no documents)."""
        return self._state.height

    @property
    def grown_height(self) -> float:
        """How much taller this card is than the canvas shows it: a style with `whole_answers` (the PNG
        export) shows the whole text where the canvas cuts the card at its height and scrolls."""
        return self._state.grown

    @property
    def body_rect(self) -> QRectF:
        """Where the answer text shows, in item coordinates."""
        return QRectF(self._state.body_rect)

    @property
    def status_text(self) -> str:
        return self._state.status_text

    @property
    def status_color(self) -> QColor:
        """The colour of the status badge in the header."""
        return self._style.theme.status_color(self._state.status_key)

    @property
    def error_text(self) -> str:
        """The failed card's explanation as plain text, as displayed ("" when it shows none)."""
        self.ensure_detail()
        if self._error_doc is None or self._state.error_rect is None:
            return ""
        return self._error_doc.toPlainText()

    @property
    def title_text(self) -> str:
        """The name in the card's header (a model's display name for an answer)."""
        return self._state.title

    @property
    def metrics_text(self) -> str:
        return self._state.metrics_text

    @property
    def summary_text(self) -> str:
        """The words a zoomed-out card draws under its title (its first words, or why it has none)."""
        return self._state.overview or self._state.body_placeholder

    @property
    def reasoning_open(self) -> bool:
        return self._reasoning_open

    def button_actions(self) -> list[str]:
        return [b.action for b in self._state.buttons]

    def button_rect(self, action: str) -> QRectF | None:
        if action.startswith("copy_code:"):
            self.ensure_detail()
        for b in self._state.buttons + self._state.code_buttons + self._state.file_buttons:
            if b.action == action:
                return QRectF(b.rect)
        return None

    def file_tiles(self) -> list[tuple[str, QRectF]]:
        """A prompt's files as shown on the card: (action, rectangle in item coordinates); the action is
        "open_file:<index>" (a click opens the viewer there; the last tile may be "+N" more)."""
        return [(b.action, QRectF(b.rect)) for b in self._state.file_buttons]

    def code_copy_count(self) -> int:
        """Copy buttons currently shown (one per code block visible in the body)."""
        self.ensure_detail()
        return len(self._state.code_buttons)

    def text_documents(self) -> list[QTextDocument]:
        """Every QTextDocument this card paints (body chunks, reasoning chunks, error box)."""
        self.ensure_detail()
        error = [self._error_doc] if self._error_doc is not None else []
        return [*self._body.documents(), *self._reasoning.documents(), *error]

    def body_line_rects(self) -> list[QRectF]:
        """Where the body's lines of text are drawn now (item coordinates; scrolled out ones too)."""
        self.ensure_detail()
        r = self._state.body_rect
        return [line.translated(r.left(), r.top() - self._body_scroll) for line in self._body.line_rects()]

    def wrap_mark_rects(self) -> list[QRectF]:
        """Where the body's wrap arrows are drawn (item coordinates): one left of each continuation
        of a code line too long for the card."""
        self.ensure_detail()
        r = self._state.body_rect
        return [m.translated(r.left(), r.top() - self._body_scroll) for m in self._body.wrap_mark_rects()]

    def code_block_count(self) -> int:
        self.ensure_detail()
        return len(self._body.code_block_rects())

    def body_scroll(self) -> float:
        return self._body_scroll

    @property
    def stripe_color(self) -> QColor:
        return self._state.stripe

    def anchor_center(self, side: str) -> QPointF:
        """Where edges attach, in scene coordinates: "top" or "bottom" centre."""
        x = self.pos().x() + self._state.width / 2
        y = self.pos().y() + (0.0 if side == "top" else self._state.height)
        return QPointF(x, y)

    def set_style(self, style: CardStyle) -> None:
        self._style = style
        self._text_sel = None
        self._body_html = ""  # force a re-render with the new theme
        self._body.clear()
        self._reasoning.clear()
        self._reasoning_text = ""
        self._error_key = ""
        self._measured = None  # fonts may have changed: measure again
        if self._lazy and not (self._node is not None and self._node.status.is_live):
            self._detailed = False  # the scene rebuilds the visible cards' documents
        if self._node is not None:
            self.sync(self._node)

    def ensure_detail(self) -> bool:
        """Build this card's documents if it has none; True if that changed its height."""
        if self._detailed:
            return False
        self._detailed = True
        if self._node is None:
            return False
        height = self._state.height
        self.sync(self._node)
        return self._state.height != height

    def drop_detail(self) -> bool:
        """Free this card's documents (a lazy card far off screen); its height stays as it was.

        Live cards and cards with their reasoning open keep theirs. Returns True if anything was freed.
        """
        node = self._node
        if (
            not self._lazy
            or not self._detailed
            or node is None
            or node.status.is_live
            or self._reasoning_open
        ):
            return False
        if node.text and self._body.chunk_count():
            self._measured = (node.text, self._body.width(), self._body.height())
        self._body.clear()
        self._reasoning.clear()
        self._body_html = ""
        self._reasoning_text = ""
        self._detailed = False
        self._text_sel = None
        self.sync(node)
        return True

    def set_reasoning_open(self, open_: bool) -> None:
        if open_ != self._reasoning_open:
            self._reasoning_open = open_
            if self._node is not None:
                self.sync(self._node)

    def _on_body_formulas_drawn(self) -> None:
        """Formula pictures replaced their placeholders (ui.math_images): lay the card out again."""
        if self._node is not None:
            self.sync(self._node)

    # ------------------------------------------------------------------ state building
    def sync(self, node: Node) -> None:
        """Recompute what this card shows from `node`. Call on the Qt thread; cheap for short text."""
        self._node = node
        # Follow the text while it streams, and once more when it ends: the last text may come in
        # the same repaint as the final status.
        following, self._was_live = node.status.is_live or self._was_live, node.status.is_live
        st = _CardState()
        st.width = layout.width(node)
        st.collapsed = node.collapsed
        st.overview = overview_text(node.text)
        if node.status == NodeStatus.ERROR:  # zoomed out, a failed card still says why
            advice = error_advice(node, self._style.provider_display)
            if advice is not None:
                st.overview = overview_text(_html_text(advice[0]) + "\n\n" + node.text)
        self._fill_header(node, st)
        inner_w = st.width - 2 * C.CARD_PAD - C.STRIPE_W
        left = C.STRIPE_W + C.CARD_PAD
        y = C.HEADER_H
        max_h = layout.height(node)
        if st.collapsed:
            st.preview = " ".join(node.text.split())[:400]
            y += 22.0
            y = self._fill_actions(node, st, y, left, inner_w)
            self._apply_state(st, y + 6.0)
            return
        y = self._fill_reasoning(node, st, y, left, inner_w)
        y = self._fill_error(node, st, y, left, inner_w)
        # body
        footer_h = self._footer_height(node)
        available = max(max_h - y - footer_h - 16.0, 60.0)
        if node.status.is_live:
            self._detailed = True  # a streaming card keeps its documents: they update incrementally
        if self._detailed:
            html = self._body_html_for(node)
            if html != self._body_html:
                self._body_html = html
                self._body.set_html(html, inner_w, self._style.body_font, self._style.theme.text)
            doc_h = self._body.height() if node.text else 0.0
        else:
            doc_h = self._body_height_estimate(node, inner_w, available) if node.text else 0.0
        st.doc_h = doc_h
        if not node.text:
            st.body_placeholder = self._placeholder(node)
            body_h = C.BODY_MIN_H if st.body_placeholder else 0.0
        else:
            body_h = min(doc_h, available)
            if self._style.whole_answers:
                st.grown, body_h = doc_h - body_h, doc_h
        st.body_rect = QRectF(left, y + 4.0, inner_w, body_h)
        st.body_scrollable = doc_h > body_h + 0.5
        max_scroll = max(doc_h - body_h, 0.0)
        if st.body_scrollable and self._stick_bottom and following:
            self._body_scroll = max_scroll
        self._body_scroll = min(max(self._body_scroll, 0.0), max_scroll)
        y += body_h + 12.0
        st.code_buttons = self._code_buttons(node, st)
        y = self._fill_metrics(node, st, y, left, inner_w)
        y = self._fill_actions(node, st, y, left, inner_w)
        self._apply_state(st, y + 4.0)

    def _body_height_estimate(self, node: Node, width: float, cap: float) -> float:
        measured = self._measured
        if measured is not None and measured[1] == width and measured[0] == node.text:
            return measured[2]
        return estimate_text_height(node.text, width, self._style, cap)

    def _elide_texts(self, st: _CardState) -> None:
        st.elided = True
        elide = _ELIDE_RIGHT
        left = C.STRIPE_W + C.CARD_PAD
        title_w = (st.status_rect.left() - 8 if st.status_text else st.width - C.CARD_PAD) - left
        st.title_rect = QRectF(left, 0, title_w, 24 if st.subtitle else C.HEADER_H)
        st.title_shown = self._style.title_metrics.elidedText(st.title, elide, title_w)
        small = self._style.small_metrics
        st.subtitle_rect = QRectF(left, 24, title_w, 14)
        st.subtitle_shown = small.elidedText(st.subtitle, elide, title_w) if st.subtitle else ""
        if st.metrics_rect is not None:
            st.metrics_shown = small.elidedText(st.metrics_text, elide, st.metrics_rect.width())
        st.preview_rect = QRectF(left, C.HEADER_H, st.width - 2 * C.CARD_PAD - C.STRIPE_W, 20)
        st.preview_shown = small.elidedText(st.preview, elide, st.preview_rect.width()) if st.preview else ""

    def _apply_state(self, st: _CardState, height: float) -> None:
        if self._detailed:
            self._elide_texts(st)  # else on the first paint at a readable zoom
        height = max(height, C.HEADER_H + 10.0)
        old = self._state
        resized = height != old.height or st.width != old.width
        if resized:
            self.prepareGeometryChange()
        st.height = height
        self._state = st
        self.update()
        if resized or st.stripe != old.stripe:
            scene = self.scene()
            if scene is not None and hasattr(scene, "card_geometry_changed"):
                scene.card_geometry_changed(self.node_id)

    def _fill_header(self, node: Node, st: _CardState) -> None:
        st.title = "Card"
        st.stripe = QColor(stripe_color(node, self._style))

    def _body_html_for(self, node: Node) -> str:
        return self._style.render_markdown(node.text) if node.text else ""

    def _placeholder(self, node: Node) -> str:
        return ""

    def _footer_height(self, node: Node) -> float:
        return C.ACTIONS_H if self._style.interactive else 0.0

    def _fill_reasoning(self, node: Node, st: _CardState, y: float, left: float, w: float) -> float:
        return y

    def _fill_error(self, node: Node, st: _CardState, y: float, left: float, w: float) -> float:
        return y

    def _fill_metrics(self, node: Node, st: _CardState, y: float, left: float, w: float) -> float:
        return y

    def _actions_for(self, node: Node) -> list[tuple[str, str, bool]]:
        """The card's buttons (ui/card_actions.py, the one table of card actions), then its "⋯" menu."""
        return [(action, label, False) for action, label in buttons_for(node)] + [("menu", "⋯", False)]

    def _fill_actions(self, node: Node, st: _CardState, y: float, left: float, w: float) -> float:
        if not self._style.interactive:
            return y
        x = left
        row_y = y + (C.ACTIONS_H - C.BUTTON_H) / 2
        for action, label, primary in self._actions_for(node):
            bw = self._style.small_advance(label) + 18.0
            if action == "menu":  # the overflow menu sits at the right end
                rect = QRectF(left + w - bw, row_y, bw, C.BUTTON_H)
            else:
                rect = QRectF(x, row_y, bw, C.BUTTON_H)
                x += bw + 6.0
            st.buttons.append(CardButton(action, label, rect, primary))
        return y + C.ACTIONS_H

    def _code_buttons(self, node: Node, st: _CardState) -> list[CardButton]:
        out: list[CardButton] = []
        if not self._style.interactive:
            return out
        if not node.text or ("```" not in node.text and "~~~" not in node.text and "    " not in node.text):
            return out
        body = st.body_rect
        for index, header in enumerate(self._body.code_header_rects()):
            # In the block's header line, right of its language: never over the code. Shown while that
            # line is inside the visible body.
            top = body.top() + header.top() - self._body_scroll + (header.height() - C.CODE_COPY_H) / 2
            if top < body.top() - 0.5 or top + C.CODE_COPY_H > body.bottom() + 0.5:
                continue
            bx = body.left() + header.right() - C.CODE_COPY_W - 4.0
            out.append(
                CardButton(
                    f"copy_code:{index}",
                    "Copy",
                    QRectF(bx, top, C.CODE_COPY_W, C.CODE_COPY_H),
                    arg=index,
                )
            )
        return out

    # ------------------------------------------------------------------ geometry
    def boundingRect(self) -> QRectF:
        m = C.SELECTION_MARGIN
        return QRectF(-m, -m, self._state.width + 2 * m, self._state.height + 2 * m)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, self._state.width, self._state.height), C.CARD_RADIUS, C.CARD_RADIUS)
        return path

    # ------------------------------------------------------------------ painting (reads state only)
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        st = self._state
        theme = self._style.theme
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        rect = QRectF(0, 0, st.width, st.height)
        selected = self.isSelected()
        border = QColor(theme.card_selected if selected else theme.card_border)
        painter.setPen(QPen(border, 2.0 if selected else 1.0))
        painter.setBrush(QBrush(self._background()))
        if lod * C.CARD_RADIUS < TINY_RADIUS_PX:
            # So far out that the corners round by less than a pixel: square, aliased shapes look the
            # same and cost a fifth (an antialiased rounded rectangle is ~20 µs; benchmark 6 paints
            # ~500 of these for a zoomed-out 10k-card session's first frame).
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.drawRect(rect)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(st.stripe)
            painter.drawRect(QRectF(0, 0, C.STRIPE_W, st.height))
            if st.width * lod >= C.OVERVIEW_MIN_W_PX:
                self._paint_overview(painter, st, lod, tiny=True)
            else:
                self._paint_low_detail(painter, st, tiny=True)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.drawRoundedRect(rect, C.CARD_RADIUS, C.CARD_RADIUS)
        # colour stripe on the left edge
        stripe = QPainterPath()
        stripe.addRoundedRect(
            QRectF(0.5, 0.5, C.STRIPE_W + C.CARD_RADIUS, st.height - 1), C.CARD_RADIUS, C.CARD_RADIUS
        )
        clip = QPainterPath()
        clip.addRect(QRectF(0, 0, C.STRIPE_W, st.height))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(st.stripe)
        painter.drawPath(stripe.intersected(clip))
        if lod < C.LOD_TEXT_MIN:
            if st.width * lod >= C.OVERVIEW_MIN_W_PX:
                self._paint_overview(painter, st, lod)
            else:
                self._paint_low_detail(painter, st)
            return
        if not st.elided:
            self._elide_texts(st)
        self._paint_header(painter, st)
        if st.collapsed:
            painter.setFont(self._style.small_font)
            painter.setPen(QColor(theme.muted))
            painter.drawText(
                st.preview_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, st.preview_shown
            )
            self._paint_buttons(painter, st.buttons)
            return
        self._paint_reasoning(painter, st)
        self._paint_error(painter, st)
        self._paint_body(painter, st)
        self._paint_metrics(painter, st)
        self._paint_buttons(painter, st.buttons)
        if self._hovered or self.isSelected():  # code Copy buttons appear on hover, off the code
            self._paint_buttons(painter, st.code_buttons, small=True)

    def _background(self) -> QColor:
        return QColor(self._style.theme.card)

    def _paint_overview(self, painter: QPainter, st: _CardState, lod: float, tiny: bool = False) -> None:
        """A zoomed-out card that is still a fair size on screen: its title and its first words, in
        fonts sized in device pixels (legible at any zoom), over a tint of its colour.

        Drawn in device pixels (the painter scaled by 1/lod); the wrapped text is a QStaticText laid
        out once per card and text width (in 4 px steps), so a frame of many cards only draws glyphs.
        """
        style = self._style
        theme = style.theme
        painter.save()
        painter.scale(1.0 / lod, 1.0 / lod)
        w, h = st.width * lod, st.height * lod
        left = C.STRIPE_W * lod + C.OVERVIEW_PAD_PX
        right = w - C.OVERVIEW_PAD_PX
        band_h = min(style.overview_title_px + 2 * C.OVERVIEW_PAD_PX, h)
        painter.setPen(Qt.PenStyle.NoPen)
        tint = QColor(st.stripe)
        tint.setAlpha(28)
        painter.setBrush(tint)
        painter.drawRect(QRectF(C.STRIPE_W * lod, band_h, w - C.STRIPE_W * lod - 1, h - band_h - 1))
        if st.status_key:
            r = max(min(band_h / 5, 4.0), 2.0)
            painter.setBrush(theme.status_color(st.status_key))
            dot = QPointF(right - r, band_h / 2)
            if tiny:
                painter.drawRect(QRectF(dot.x() - r, dot.y() - r, 2 * r, 2 * r))
            else:
                painter.drawEllipse(dot, r, r)
            right -= 2 * r + 4
        text = st.overview or st.body_placeholder
        body = QRectF(left, band_h + 2, w - C.OVERVIEW_PAD_PX - left, h - band_h - 2 - C.OVERVIEW_PAD_PX)
        title = st.title
        if body.height() < style.overview_text_px and st.overview:
            title = f"{title}: {st.overview}"  # no room under the title (a prompt): the words beside it
        painter.setPen(QColor(theme.text))
        painter.setFont(style.overview_title_font)
        title_w = max(right - left, 1.0)
        painter.drawText(
            QRectF(left, 0, title_w, band_h),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            style.overview_title_metrics.elidedText(title, _ELIDE_RIGHT, title_w),
        )
        if text and body.height() >= style.overview_text_px and body.width() > 8:
            width = max(math.floor(body.width() / 4) * 4, 8)
            cached = self._overview_text
            if cached is None or cached[0] != (text, width, style.overview_text_px):
                static = QStaticText(text)
                static.setTextFormat(Qt.TextFormat.PlainText)
                static.setTextWidth(width)
                static.prepare(QTransform(), style.overview_font)
                cached = self._overview_text = ((text, width, style.overview_text_px), static)
            lines = max(math.floor(body.height() / style.overview_line_px), 1)
            painter.setClipRect(QRectF(body.left(), body.top(), body.width(), lines * style.overview_line_px))
            painter.setFont(style.overview_font)
            painter.setPen(QColor(theme.text if st.overview else theme.muted))
            painter.drawStaticText(body.topLeft(), cached[1])
        painter.restore()

    def _paint_low_detail(self, painter: QPainter, st: _CardState, tiny: bool = False) -> None:
        """A zoomed-out card: its title over a block of its colour. `tiny`: square shapes (see paint)."""
        theme = self._style.theme
        painter.setBrush(QColor(theme.card_header))
        bar = QRectF(C.STRIPE_W, 0, st.width - C.STRIPE_W, C.HEADER_H * 1.6)
        painter.drawRect(bar.adjusted(0, 1, -1, 0))
        painter.setPen(QColor(theme.text))
        painter.setFont(self._style.lod_font)
        painter.drawText(
            bar.adjusted(C.CARD_PAD, 0, -C.CARD_PAD, 0),
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            st.title,
        )
        block = QColor(st.stripe)
        block.setAlpha(60)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(block)
        inner = QRectF(
            C.STRIPE_W + C.CARD_PAD,
            bar.bottom() + C.CARD_PAD,
            st.width - C.STRIPE_W - 2 * C.CARD_PAD,
            max(st.height - bar.bottom() - 2 * C.CARD_PAD, 4),
        )
        if tiny:
            painter.drawRect(inner)
        else:
            painter.drawRoundedRect(inner, 6, 6)
        if st.status_key:
            painter.setBrush(self._style.theme.status_color(st.status_key))
            dot = QPointF(st.width - 24, bar.center().y())
            if tiny:
                painter.drawRect(QRectF(dot.x() - 10, dot.y() - 10, 20, 20))
            else:
                painter.drawEllipse(dot, 10, 10)

    def _paint_header(self, painter: QPainter, st: _CardState) -> None:
        theme = self._style.theme
        painter.setFont(self._style.title_font)
        painter.setPen(QColor(theme.text))
        align = Qt.AlignmentFlag.AlignBottom if st.subtitle else Qt.AlignmentFlag.AlignVCenter
        painter.drawText(st.title_rect, Qt.AlignmentFlag.AlignLeft | align, st.title_shown)
        if st.subtitle_shown:
            painter.setFont(self._style.small_font)
            painter.setPen(QColor(theme.muted))
            painter.drawText(
                st.subtitle_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, st.subtitle_shown
            )
        if st.status_text:
            color = theme.status_color(st.status_key)
            fill = QColor(color)
            fill.setAlpha(38 if not theme.is_dark else 56)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(fill)
            painter.drawRoundedRect(st.status_rect, st.status_rect.height() / 2, st.status_rect.height() / 2)
            painter.setBrush(color)
            dot = QPointF(st.status_rect.left() + 9, st.status_rect.center().y())
            painter.drawEllipse(dot, 3.2, 3.2)
            painter.setPen(color)
            painter.setFont(self._style.small_bold_font)
            painter.drawText(
                st.status_rect.adjusted(16, 0, -8, 0), Qt.AlignmentFlag.AlignVCenter, st.status_text
            )
        painter.setPen(QPen(QColor(theme.card_border), 1.0))
        painter.drawLine(QPointF(C.STRIPE_W, C.HEADER_H), QPointF(st.width, C.HEADER_H))

    def _paint_reasoning(self, painter: QPainter, st: _CardState) -> None:
        if st.reasoning_row is None:
            return
        theme = self._style.theme
        painter.setFont(self._style.small_font)
        painter.setPen(QColor(theme.status.get("thinking", theme.muted)))
        arrow = "▾" if self._reasoning_open else "▸"
        painter.drawText(
            st.reasoning_row,
            Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
            f"{arrow}  {st.reasoning_label}",
        )
        if st.reasoning_rect is not None:
            r = st.reasoning_rect
            bg = QColor(theme.alt_base)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(bg)
            painter.drawRoundedRect(r.adjusted(-6, -4, 6, 4), 6, 6)
            self._reasoning.draw(
                painter, r, self._reasoning_scroll, QColor(theme.muted), QColor(theme.accent)
            )

    def _paint_error(self, painter: QPainter, st: _CardState) -> None:
        if st.error_rect is None:
            return
        theme = self._style.theme
        painter.setPen(QPen(QColor(theme.status["error"]), 1.0))
        painter.setBrush(QColor(theme.error_bg))
        painter.drawRoundedRect(st.error_rect.adjusted(-8, -6, 8, 6), 6, 6)
        if self._error_doc is not None:
            self._draw_doc(painter, self._error_doc, st.error_rect, 0.0, QColor(theme.error_text))

    def _paint_body(self, painter: QPainter, st: _CardState) -> None:
        theme = self._style.theme
        if st.body_placeholder:
            painter.setFont(self._style.body_font)
            painter.setPen(QColor(theme.muted))
            painter.drawText(
                st.body_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, st.body_placeholder
            )
            return
        if st.body_rect.height() <= 0:
            return
        if not self._detailed:
            # Shown before its documents exist (the scene builds them in a moment): grey text lines.
            self._paint_text_skeleton(painter, st)
            scene = self.scene()
            if scene is not None and hasattr(scene, "request_detail"):
                scene.request_detail(self.node_id)
            return
        highlight = None
        if self._text_sel is not None:
            highlight = QColor(theme.accent)
            highlight.setAlpha(90)
        self._body.draw(
            painter,
            st.body_rect,
            self._body_scroll,
            QColor(theme.text),
            QColor(theme.accent),
            self._text_sel,
            highlight,
            QColor(theme.muted),
        )
        if st.body_scrollable:
            # a thin scroll indicator and a fade at the cut edge
            doc_h = st.doc_h
            r = st.body_rect
            frac = r.height() / doc_h
            bar_h = max(r.height() * frac, 18.0)
            top = r.top() + (r.height() - bar_h) * (self._body_scroll / max(doc_h - r.height(), 1.0))
            bar_color = QColor(theme.muted)
            bar_color.setAlpha(110)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(bar_color)
            painter.drawRoundedRect(QRectF(r.right() + C.CARD_PAD / 2 - 2, top, 4, bar_h), 2, 2)

    def _paint_text_skeleton(self, painter: QPainter, st: _CardState) -> None:
        color = QColor(self._style.theme.muted)
        color.setAlpha(45)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        line = self._style.body_metrics.lineSpacing()
        r = st.body_rect
        y = r.top() + line * 0.25
        i = 0
        while y + line * 0.5 <= r.bottom() and i < 40:
            w = r.width() * (0.62 if i % 5 == 4 else 0.96)
            painter.drawRoundedRect(QRectF(r.left(), y, w, line * 0.5), 3, 3)
            y += line
            i += 1

    def _paint_metrics(self, painter: QPainter, st: _CardState) -> None:
        if st.metrics_rect is None or not st.metrics_text:
            return
        theme = self._style.theme
        painter.setPen(QPen(QColor(theme.card_border), 1.0))
        painter.drawLine(
            QPointF(st.metrics_rect.left(), st.metrics_rect.top()),
            QPointF(st.metrics_rect.right(), st.metrics_rect.top()),
        )
        painter.setFont(self._style.small_font)
        painter.setPen(QColor(theme.muted))
        painter.drawText(
            st.metrics_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, st.metrics_shown
        )

    def _paint_buttons(self, painter: QPainter, buttons: list[CardButton], small: bool = False) -> None:
        theme = self._style.theme
        painter.setFont(self._style.small_font)
        for b in buttons:
            hovered = b.action == self._hover_button
            if b.primary:
                bg = QColor(theme.accent)
                fg = QColor(theme.accent_text)
                if hovered:
                    bg = bg.lighter(112)
            else:
                bg = QColor(theme.button_hover if hovered else theme.button_bg)
                fg = QColor(theme.text)
            if small:
                bg.setAlpha(235)
            painter.setPen(QPen(QColor(theme.card_border), 1.0) if not b.primary else Qt.PenStyle.NoPen)
            painter.setBrush(bg)
            painter.drawRoundedRect(b.rect, 5, 5)
            painter.setPen(fg)
            painter.drawText(b.rect, Qt.AlignmentFlag.AlignCenter, b.label)

    def _draw_doc(
        self, painter: QPainter, doc: QTextDocument, rect: QRectF, scroll: float, color: QColor
    ) -> None:
        painter.save()
        painter.setClipRect(rect)
        painter.translate(rect.left(), rect.top() - scroll)
        ctx = QAbstractTextDocumentLayout.PaintContext()
        ctx.clip = QRectF(0, scroll, rect.width(), rect.height())
        ctx.palette.setColor(QPalette.ColorRole.Text, color)
        ctx.palette.setColor(QPalette.ColorRole.Link, QColor(self._style.theme.accent))
        doc.documentLayout().draw(painter, ctx)
        painter.restore()

    # ------------------------------------------------------------------ interaction
    def _button_at(self, pos: QPointF) -> CardButton | None:
        for b in self._state.code_buttons + self._state.buttons + self._state.file_buttons:
            if b.rect.contains(pos):
                return b
        return None

    def _link_at(self, pos: QPointF) -> str:
        r = self._state.body_rect
        if not r.contains(pos) or self._state.body_placeholder:
            return ""
        doc_pos = QPointF(pos.x() - r.left(), pos.y() - r.top() + self._body_scroll)
        return self._body.anchor_at(doc_pos)

    def hit_test(self, pos: QPointF) -> str:
        """What is under `pos` (item coordinates): a button action, "link:<url>", "reasoning", "body", ""."""
        b = self._button_at(pos)
        if b is not None:
            return b.action
        link = self._link_at(pos)
        if link:
            return f"link:{link}"
        if self._state.reasoning_row is not None and self._state.reasoning_row.contains(pos):
            return "toggle_reasoning"
        if self._state.body_rect.contains(pos):
            return "body"
        return ""

    def _emit(self, action: str, arg: object = None) -> None:
        scene = self.scene()
        if scene is not None and hasattr(scene, "request_card_action"):
            scene.request_card_action(self.node_id, action, arg)

    # ------------------------------------------------------------------ text selection
    @property
    def has_text_selection(self) -> bool:
        sel = self._text_sel
        return sel is not None and sel[0] != sel[1]

    def selected_text(self) -> str:
        """The text selected in the body (double-click a word, or drag in a selected card's body)."""
        sel = self._text_sel
        return self._body.text_between(*sel) if sel is not None and sel[0] != sel[1] else ""

    def clear_text_selection(self) -> None:
        self._text_drag = False
        if self._text_sel is not None:
            self._text_sel = None
            self.update()

    def _body_doc_pos(self, pos: QPointF) -> QPointF:
        r = self._state.body_rect
        return QPointF(pos.x() - r.left(), pos.y() - r.top() + self._body_scroll)

    def _selected_alone(self) -> bool:
        if not self.isSelected():
            return False
        scene = self.scene()
        return scene is None or len(scene.selectedItems()) == 1

    def _text_allowed(self, pos: QPointF) -> bool:
        """Text can be selected at `pos`: over the body's text, at a zoom where text shows."""
        if self._state.body_placeholder or self._state.collapsed or self.hit_test(pos) != "body":
            return False
        scene = self.scene()
        if scene is not None and hasattr(scene, "text_readable") and not scene.text_readable():
            return False
        self.ensure_detail()
        return bool(self._body.height())

    def _set_text_sel(self, anchor, pos) -> None:
        self._text_sel = (anchor, pos)
        scene = self.scene()
        if scene is not None and hasattr(scene, "text_selection_started"):
            scene.text_selection_started(self)
        self.update()

    def _drag_text_to(self, pos: QPointF) -> None:
        r = self._state.body_rect
        if pos.y() > r.bottom():
            self.scroll_by(min(pos.y() - r.bottom(), 40.0))  # dragging past the edge scrolls the body
        elif pos.y() < r.top():
            self.scroll_by(-min(r.top() - pos.y(), 40.0))
        where = self._body.position_at(self._body_doc_pos(pos))
        if where is not None and self._text_sel is not None:
            self._set_text_sel(self._text_sel[0], where)

    # ------------------------------------------------------------------ mouse
    def _hbar_at(self, pos: QPointF) -> int:
        """The wide table whose scroll bar is under `pos` (item coordinates), or -1."""
        st = self._state
        if not self._detailed or st.collapsed or not st.body_rect.contains(pos):
            return -1
        doc_pos = self._body_doc_pos(pos)
        i = self._body.table_at(doc_pos)
        return i if i >= 0 and self._body.hbar_rect(i).adjusted(0, -2, 0, 2).contains(doc_pos) else -1

    def wide_table_rects(self) -> list[QRectF]:
        """Where the tables wider than the body show (item coordinates, clipped to the body)."""
        r = self._state.body_rect
        out = []
        for i in self._body.wide_tables():
            rect = self._body.table_rect(i).translated(r.left(), r.top() - self._body_scroll) & r
            if not rect.isEmpty():
                out.append(rect)
        return out

    def table_scroll(self, pos: QPointF) -> tuple[float, float]:
        """(offset, range) of the sideways scroll of the wide table at `pos` (item coordinates)."""
        i = self._table_at(pos)
        return (self._body.x_offset(i), self._body.x_range(i)) if i >= 0 else (0.0, 0.0)

    def _table_at(self, pos: QPointF) -> int:
        st = self._state
        if not self._detailed or st.collapsed or st.body_placeholder or not st.body_rect.contains(pos):
            return -1
        return self._body.table_at(self._body_doc_pos(pos))

    def can_scroll_x(self, pos: QPointF) -> bool:
        """A table wider than the body is at `pos` (item coordinates): the wheel scrolls it sideways."""
        return self._table_at(pos) >= 0

    def scroll_x_by(self, dx: float, pos: QPointF) -> bool:
        """Scroll the wide table at `pos` sideways by `dx`; True if it moved."""
        i = self._table_at(pos)
        if i < 0 or not self._body.set_x(i, self._body.x_offset(i) + dx):
            return False
        self.update()
        return True

    def mousePressEvent(self, event) -> None:
        overview = _overview(event)  # no buttons, links or text there: select or drag, as on a header
        if overview:
            self.clear_text_selection()
        elif event.button() == Qt.MouseButton.LeftButton and (i := self._hbar_at(event.pos())) >= 0:
            # the thin scroll bar under a wide table: dragging it scrolls the table
            self._hbar_drag = (i, event.pos().x(), self._body.x_offset(i))
            self._press_button = None
            event.accept()
            return
        if event.button() == Qt.MouseButton.LeftButton and not overview:
            hit = self.hit_test(event.pos())
            b = self._button_at(event.pos())
            if b is not None or hit.startswith("link:") or hit == "toggle_reasoning":
                self._press_button = b or CardButton(hit, "", QRectF())
                event.accept()
                return
            if (
                self._selected_alone()
                and not event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
                and self._text_allowed(event.pos())
            ):
                # In the selected card's body a drag selects text (the header still moves the card; with
                # several cards selected, dragging any of them moves them all, as before).
                where = self._body.position_at(self._body_doc_pos(event.pos()))
                if where is not None:
                    self._press_button = None
                    self._text_drag = True
                    self._set_text_sel(where, where)
                    event.accept()
                    return
            self.clear_text_selection()
        self._press_button = None
        if event.button() == Qt.MouseButton.LeftButton:
            self.setZValue(C.Z_CARD_DRAGGED)
        # Selecting this card may resize the view (the composer's "Following" bar); the view then replays
        # the press as a mouse move *inside* this handler, before the scene has stored where the button
        # went down: Qt's item drag would use the previous click's position and throw the card hundreds
        # of pixels away (issue #12). Moves that arrive while the press is handled are ignored.
        self._in_press = True
        try:
            super().mousePressEvent(event)
        finally:
            self._in_press = False

    def mouseMoveEvent(self, event) -> None:
        if self._in_press:
            event.accept()
            return
        if self._text_drag:
            self._drag_text_to(event.pos())
            event.accept()
            return
        if self._hbar_drag is not None:
            i, x0, offset = self._hbar_drag
            width = self._state.body_rect.width()
            span = self._body.x_range(i)
            thumb = max(width * width / (span + width), 24.0)
            if self._body.set_x(i, offset + (event.pos().x() - x0) * span / max(width - thumb, 1.0)):
                self.update()
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event) -> None:
        if self._hbar_drag is not None and event.button() == Qt.MouseButton.LeftButton:
            self._hbar_drag = None
            event.accept()
            return
        if self._text_drag and event.button() == Qt.MouseButton.LeftButton:
            self._text_drag = False
            if not self.has_text_selection:
                self.clear_text_selection()  # a plain click in the text
            event.accept()
            return
        pressed = self._press_button
        self._press_button = None
        if pressed is not None and event.button() == Qt.MouseButton.LeftButton:
            hit = self.hit_test(event.pos())
            if hit == pressed.action:
                self.activate(hit)
            event.accept()
            return
        super().mouseReleaseEvent(event)
        self.setZValue(C.Z_CARD_SELECTED if self.isSelected() else C.Z_CARD)

    def activate(self, hit: str) -> None:
        """Perform what a click on `hit` (from `hit_test`) means. Used by mouse handling and tests."""
        if hit == "toggle_reasoning":
            self.set_reasoning_open(not self._reasoning_open)
        elif hit.startswith("link:"):
            self._emit("open_link", hit[5:])
        elif hit.startswith("copy_code:"):
            self._emit("copy_code", int(hit.split(":", 1)[1]))
        elif hit.startswith("open_file:"):
            self._emit("open_file", int(hit.split(":", 1)[1]))
        elif hit:
            self._emit(hit)

    def mouseDoubleClickEvent(self, event) -> None:
        if _overview(event):  # no text shown to select: the card in focus mode
            self._emit("focus")
            event.accept()
            self._let_go()
            return
        if event.button() == Qt.MouseButton.LeftButton and self._text_allowed(event.pos()):
            # A double-click on the text selects the word under it, as in every reader; dragging on
            # from there extends the selection.
            word = self._body.word_at(self._body_doc_pos(event.pos()))
            if word is not None:
                if not self.isSelected():
                    scene = self.scene()
                    if scene is not None:
                        scene.clearSelection()
                    self.setSelected(True)
                self._text_drag = True
                self._set_text_sel(*word)
                event.accept()
                return
        if self.hit_test(event.pos()) == "":  # the header or the margins: the card in focus mode
            self._emit("focus")
            event.accept()
            self._let_go()  # the release goes to the focus window
            return
        super().mouseDoubleClickEvent(event)

    def hoverMoveEvent(self, event) -> None:
        hit = self.hit_test(event.pos())
        button = hit if hit and hit not in ("body",) and not hit.startswith("link:") else None
        if button != self._hover_button:
            self._hover_button = button
            self.update()
        if button or hit.startswith("link:"):
            self.setCursor(Qt.CursorShape.PointingHandCursor)
        elif (
            hit == "body" and self.isSelected() and not self._state.body_placeholder and self._hbar_at(event.pos()) < 0
        ):
            self.setCursor(Qt.CursorShape.IBeamCursor)  # a drag here selects text
        else:
            self.unsetCursor()
        super().hoverMoveEvent(event)

    def hoverEnterEvent(self, event) -> None:
        self._hovered = True
        self.update()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event) -> None:
        self._hovered = False
        self._hover_button = None
        self.update()
        self.unsetCursor()
        super().hoverLeaveEvent(event)

    def contextMenuEvent(self, event) -> None:
        if not self.isSelected():
            scene = self.scene()
            if scene is not None:
                scene.clearSelection()
            self.setSelected(True)
        self._emit("menu", event.screenPos())
        event.accept()
        self._let_go()  # the menu took the release

    def _let_go(self) -> None:
        """Stop grabbing the mouse after a gesture that opened a menu or a window: the button's release
        goes there, and a card left grabbing would follow the next move (issue #12)."""
        scene = self.scene()
        if scene is not None and scene.mouseGrabberItem() is self:
            self.ungrabMouse()

    def ungrabMouseEvent(self, event) -> None:
        self._text_drag = False
        self.setZValue(C.Z_CARD_SELECTED if self.isSelected() else C.Z_CARD)
        super().ungrabMouseEvent(event)

    def scroll_by(self, dy: float, pos: QPointF | None = None) -> bool:
        """Scroll the body (or the open reasoning) by `dy` scene units; True if anything moved.

        The view calls this for wheel events over a card, so a long answer scrolls inside its card.
        """
        st = self._state
        if pos is not None and st.reasoning_rect is not None and st.reasoning_rect.contains(pos):
            doc_h = self._reasoning.height()
            max_s = max(doc_h - st.reasoning_rect.height(), 0.0)
            new = min(max(self._reasoning_scroll + dy, 0.0), max_s)
            if new == self._reasoning_scroll:
                return max_s > 0
            self._reasoning_scroll = new
            self.update()
            return True
        if not st.body_scrollable:
            return False
        doc_h = st.doc_h
        max_s = max(doc_h - st.body_rect.height(), 0.0)
        new = min(max(self._body_scroll + dy, 0.0), max_s)
        if new == self._body_scroll:
            return True  # at the end: still swallow the wheel so the canvas does not jump
        self._body_scroll = new
        self._stick_bottom = new >= max_s - 2.0
        if self._node is not None:
            st.code_buttons = self._code_buttons(self._node, st)
        self.update()
        return True

    def can_scroll(self, pos: QPointF | None = None) -> bool:
        st = self._state
        if pos is not None and st.reasoning_rect is not None and st.reasoning_rect.contains(pos):
            return self._reasoning.height() > st.reasoning_rect.height()
        return st.body_scrollable

    # ------------------------------------------------------------------ moves
    def itemChange(self, change, value):
        if change == _POSITION_CHANGED:
            scene = self.scene()
            if scene is not None and hasattr(scene, "card_geometry_changed"):
                scene.card_geometry_changed(self.node_id)
        elif change == _SELECTED_CHANGED:
            self.setZValue(C.Z_CARD_SELECTED if value else C.Z_CARD)
            if not value:
                self.clear_text_selection()  # a click elsewhere ends the text selection
        return super().itemChange(change, value)

    def close(self) -> None:
        """Drop references before removal from the scene."""
        self._node = None


class PromptCard(CardItem):
    kind_label = "Prompt"

    def _background(self) -> QColor:
        return QColor(self._style.theme.prompt_card)

    def _fill_header(self, node: Node, st: _CardState) -> None:
        st.title = node.title or "You"
        st.stripe = QColor(stripe_color(node, self._style))
        bits = []
        if node.params.system:
            bits.append("system prompt")
        targets = node.meta.get("targets") if isinstance(node.meta, dict) else None
        if isinstance(targets, list) and targets:
            bits.append(f"asked {len(targets)} model{'s' if len(targets) != 1 else ''}")
        mode = node.meta.get("mode") if isinstance(node.meta, dict) else None
        if mode == "shared":
            bits.append("shared context")
        if node.attachments:
            bits.append(f"{len(node.attachments)} file{'s' if len(node.attachments) != 1 else ''}")
        st.subtitle = " · ".join(bits)

    # -- the prompt's files: a row of thumbnails (images) and chips (PDF, text) under its text
    def _footer_height(self, node: Node) -> float:
        return super()._footer_height(node) + (layout.FILES_ROW_H if node.attachments else 0.0)

    def _fill_metrics(self, node: Node, st: _CardState, y: float, left: float, w: float) -> float:
        if not node.attachments:
            return y
        h = C.FILE_TILE_H
        top = y + (layout.FILES_ROW_H - h) / 2 - 4.0
        files = node.attachments
        widths = [_tile_width(a) for a in files]
        shown = len(files)
        more_w = 48.0
        while shown and sum(widths[:shown]) + 8.0 * (shown - 1) + (
            more_w + 8.0 if shown < len(files) else 0.0
        ) > w:
            shown -= 1
        x = left
        for i in range(shown):
            st.file_buttons.append(CardButton(f"open_file:{i}", files[i].name, QRectF(x, top, widths[i], h), arg=i))
            x += widths[i] + 8.0
        if shown < len(files):
            st.file_buttons.append(
                CardButton(f"open_file:{shown}", f"+{len(files) - shown}", QRectF(x, top, more_w, h), arg=shown)
            )
        return y + layout.FILES_ROW_H

    def _paint_metrics(self, painter: QPainter, st: _CardState) -> None:
        node = self._node
        if not st.file_buttons or node is None:
            return
        from ui.thumbs import thumbnail

        theme = self._style.theme
        small = self._style.small_font
        for b in st.file_buttons:
            hovered = b.action == self._hover_button
            r = b.rect
            att = node.attachments[b.arg] if isinstance(b.arg, int) and b.arg < len(node.attachments) else None
            pixmap = None
            if att is not None and not b.label.startswith("+"):
                pixmap = thumbnail(att, int(r.width() * 2), int(r.height() * 2))
            painter.setPen(QPen(QColor(theme.accent if hovered else theme.card_border), 1.0))
            painter.setBrush(QColor(theme.button_hover if hovered else theme.button_bg))
            painter.drawRoundedRect(r, 6, 6)
            if pixmap is not None:
                target = QRectF(r.adjusted(1, 1, -1, -1))
                size = pixmap.size().scaled(int(target.width() * 2), int(target.height() * 2),
                                            Qt.AspectRatioMode.KeepAspectRatio)
                dw, dh = size.width() / 2, size.height() / 2
                dest = QRectF(target.center().x() - dw / 2, target.center().y() - dh / 2, dw, dh)
                painter.save()
                clip = QPainterPath()
                clip.addRoundedRect(target, 5, 5)
                painter.setClipPath(clip)
                painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
                painter.drawPixmap(dest, pixmap, QRectF(pixmap.rect()))
                painter.restore()
                continue
            painter.setFont(small)
            painter.setPen(QColor(theme.text))
            inner = r.adjusted(8, 6, -8, -6)
            if att is None or b.label.startswith("+"):
                painter.drawText(r, Qt.AlignmentFlag.AlignCenter, b.label)
                continue
            from ui.attach import short_kind

            metrics = self._style.small_metrics
            line = metrics.lineSpacing()
            painter.drawText(QRectF(inner.left(), inner.top(), inner.width(), line),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             metrics.elidedText(f"📎 {att.name}", Qt.TextElideMode.ElideMiddle, int(inner.width())))
            painter.setPen(QColor(theme.muted))
            detail = short_kind(att)
            painter.drawText(QRectF(inner.left(), inner.top() + line + 2, inner.width(), line),
                             Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                             metrics.elidedText(detail, Qt.TextElideMode.ElideRight, int(inner.width())))


def _tile_width(att) -> float:
    """A file's tile on a prompt card: an image as wide as its picture at FILE_TILE_H (within limits),
    a PDF or text file as a chip."""
    if att.kind == "image" and att.width and att.height:
        return max(40.0, min(C.FILE_TILE_H * att.width / att.height, 160.0))
    return 168.0


class NoteCard(CardItem):
    kind_label = "Note"

    def _fill_header(self, node: Node, st: _CardState) -> None:
        st.title = node.title or "Note"
        st.stripe = QColor(stripe_color(node, self._style))


class ResponseCard(CardItem):
    """One model's answer (or a synthesis): status chip, reasoning, body, error, metrics, actions."""

    kind_label = "Response"

    def __init__(self, node_id: str, kind: NodeKind, style: CardStyle, lazy: bool = False) -> None:
        super().__init__(node_id, kind, style, lazy)
        self._renderer = None  # an app.render IncrementalRenderer while the node streams
        self._renderer_style: CardStyle | None = None
        self._reasoning_text = ""
        self._error_key = ""

    def sync(self, node: Node) -> None:
        blind = self._style.blind  # a blind match's answer before the vote: "Model A", masked (app.arena_view)
        super().sync(blind.present(node) if blind is not None else node)

    def _body_html_for(self, node: Node) -> str:
        if not node.text:
            return ""
        if node.status.is_live:
            if self._renderer is None or self._renderer_style is not self._style:
                self._renderer = self._style.incremental_renderer()
                self._renderer_style = self._style
            return self._renderer.update(node.text)
        if self._renderer is not None and self._renderer_style is self._style:
            # The stream ended: the same renderer's final pass equals render_markdown(text) but only
            # re-does what streaming approximated, instead of parsing the whole answer again.
            renderer, self._renderer = self._renderer, None
            return renderer.update(node.text, final=True)
        self._renderer = None
        return self._style.render_markdown(node.text)

    def _fill_header(self, node: Node, st: _CardState) -> None:
        style = self._style
        st.title = style.display_name(node.model) if node.model else (node.title or "Response")
        if node.kind == NodeKind.SYNTHESIS:
            how = str(node.meta.get("instruction_kind") or "synthesis")
            label = {
                "merge": "Merged answer",
                "judge": "Judgement",
                "compare": "Comparison",
                "custom": "Custom synthesis",
            }.get(how, "Synthesis")
            st.subtitle = f"{label} · {node.model}" if node.model else label
        elif node.model:
            st.subtitle = node.model
        st.stripe = QColor(stripe_color(node, style))
        key, text = status_chip(node, time.time())
        st.status_key, st.status_text = key, text
        chip_w = style.small_bold_advance(text) + 26.0
        st.status_rect = QRectF(st.width - C.CARD_PAD - chip_w, (C.HEADER_H - 20) / 2, chip_w, 20)

    def _placeholder(self, node: Node) -> str:
        if node.status.is_live:
            phase = node.run.phase if node.run is not None else None
            if phase == "thinking" or node.reasoning:
                return "Thinking…"
            if phase == "queued":
                return "Waiting for a free slot…"
            return "Waiting for the first token…"
        if node.status == NodeStatus.DONE:
            return "(empty answer)"
        return ""

    def _fill_reasoning(self, node: Node, st: _CardState, y: float, left: float, w: float) -> float:
        if not node.reasoning:
            return y
        chars = len(node.reasoning)
        live = node.status.is_live and not node.text
        size = f"{chars / 1000:.1f}k chars" if chars >= 1000 else f"{chars} chars"
        st.reasoning_label = ("Thinking… " if live else "Reasoning ") + f"({size})"
        st.reasoning_row = QRectF(left, y + 2, w, C.REASONING_ROW_H)
        y += C.REASONING_ROW_H + 2
        if self._reasoning_open:
            if node.reasoning != self._reasoning_text:
                self._reasoning_text = node.reasoning
                self._reasoning.set_html(
                    self._style.render_plain(node.reasoning),
                    w,
                    self._style.small_font,
                    self._style.theme.muted,
                )
                if live:
                    self._reasoning_scroll = 1e9  # follow the tail while thinking
            doc_h = self._reasoning.height()
            h = min(doc_h, C.REASONING_MAX_H)
            st.reasoning_rect = QRectF(left, y + 4, w, h)
            self._reasoning_scroll = min(max(self._reasoning_scroll, 0.0), max(doc_h - h, 0.0))
            y += h + 12
        return y

    def _fill_error(self, node: Node, st: _CardState, y: float, left: float, w: float) -> float:
        advice = error_advice(node, self._style.provider_display)
        if advice is None:
            return y
        text, actions = advice
        key = text
        if self._error_doc is None:
            self._error_doc = QTextDocument()
            self._error_doc.setDocumentMargin(0)
            self._error_doc.setUndoRedoEnabled(False)
            self._error_key = ""
        if key != self._error_key:
            self._error_key = key
            set_document_html(
                self._error_doc, text, w - 4, self._style.small_font, self._style.theme.error_text
            )
        doc_h = self._error_doc.size().height()
        btn_y = y + 8 + doc_h + 6
        bx = left
        if not self._style.interactive:
            actions = []
        for action, label in actions:
            bw = self._style.small_advance(label) + 18.0
            st.buttons.append(CardButton(action, label, QRectF(bx, btn_y, bw, C.BUTTON_H), primary=True))
            bx += bw + 6
        total = doc_h + (C.BUTTON_H + 6 if actions else 0)
        st.error_rect = QRectF(left, y + 8, w, total)
        return y + 8 + total + 8

    def _footer_height(self, node: Node) -> float:
        return C.METRICS_H + (C.ACTIONS_H if self._style.interactive else 0.0)

    def _fill_metrics(self, node: Node, st: _CardState, y: float, left: float, w: float) -> float:
        st.metrics_text = metrics_line(node)
        st.metrics_rect = QRectF(left, y, w, C.METRICS_H)
        return y + C.METRICS_H

    def _fill_actions(self, node: Node, st: _CardState, y: float, left: float, w: float) -> float:
        if not self._style.interactive:
            return y
        # avoid a second Retry next to the one in the error box
        has_primary_retry = any(b.action == "retry" for b in st.buttons)
        actions = [a for a in self._actions_for(node) if not (a[0] == "retry" and has_primary_retry)]
        x = left
        row_y = y + (C.ACTIONS_H - C.BUTTON_H) / 2
        for action, label, primary in actions:
            bw = self._style.small_advance(label) + 18.0
            if action == "menu":
                rect = QRectF(left + w - bw, row_y, bw, C.BUTTON_H)
            else:
                rect = QRectF(x, row_y, bw, C.BUTTON_H)
                x += bw + 6.0
            st.buttons.append(CardButton(action, label, rect, primary))
        return y + C.ACTIONS_H


ITEM_FOR_KIND: dict[NodeKind, type[CardItem]] = {
    NodeKind.PROMPT: PromptCard,
    NodeKind.RESPONSE: ResponseCard,
    NodeKind.SYNTHESIS: ResponseCard,
    NodeKind.NOTE: NoteCard,
    NodeKind.SWEEP: NoteCard,  # until the sweep grid item exists (issue #16): its summary as a note
}


def make_card(node: Node, style: CardStyle, lazy: bool = False) -> CardItem:
    """A card item for `node` at its position. `lazy`: build its text documents only when needed."""
    card = ITEM_FOR_KIND[node.kind](node.id, node.kind, style, lazy)
    card.setPos(node.x, node.y)
    card.sync(node)
    return card


def stripe_color(node: Node, style: CardStyle) -> str:
    """The colour of a card's left stripe (and of its block on the minimap)."""
    theme = style.theme
    if node.kind == NodeKind.PROMPT:
        return theme.accent
    if node.kind == NodeKind.NOTE:
        return node.color or theme.status.get("thinking", "#7C3AED")
    if node.kind in (NodeKind.RESPONSE, NodeKind.SYNTHESIS):
        if style.blind is not None and style.blind.is_blind(node.id):
            return style.blind.present(node).color or theme.muted
        provider = node.model.split(":", 1)[0] if node.model else ""
        return node.color or style.provider_color(provider)
    return theme.muted


_FENCE = re.compile(r"^\s*(?:```|~~~)")
_RULE = re.compile(r"^\s*(?:[-:|]\s*){3,}$|^\s*(?:[*_]\s*){3,}$")  # table rules, thematic breaks
_LEAD = re.compile(r"^\s{0,3}(?:#{1,6}(?:\s+|$)|>\s?)")  # a heading's or a quote's marks
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_TASK = re.compile(r"^\[([ xX])\](?:\s+|$)")
# Inline code and math are kept as written (emphasis is not looked for inside them).
_VERBATIM = re.compile(r"(`+)(.+?)\1|(\$\$?)(.+?)\3")
# Emphasis pairs only where they wrap words: `**x**`, `__x__`, `*x*`, `_x_`, `~~x~~`; `y_i`,
# `\int_{-\infty}` and `base * 2 ** i` are not emphasis and stay as they are.
_EMPHASIS = (
    re.compile(r"(?<![\w*\\])(\*\*|__)(?=[^\s*_])(.+?)(?<=[^\s*_\\])\1(?![\w*])"),
    re.compile(r"(?<![\w*\\])\*(?=[^\s*])(.+?)(?<=[^\s*\\])\*(?![\w*])"),
    re.compile(r"(?<![\w_\\])_(?=[^\s_])(.+?)(?<=[^\s_\\])_(?![\w_])"),
    re.compile(r"(?<!~)~~(?=\S)(.+?)(?<=\S)~~(?!~)"),
)
_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")


def _html_text(markup: str) -> str:
    """The text of a small HTML fragment (an error's advice): tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<br\s*/?>", "\n", re.sub(r"<(?!br)[^>]*>", "", markup)))


def _plain_inline(text: str) -> str:
    out: list[str] = []
    last = 0
    for m in _VERBATIM.finditer(text):
        out.append(_unemphasize(text[last : m.start()]))
        out.append(m.group(2) if m.group(1) else m.group(0))  # code without its ticks; math as written
        last = m.end()
    out.append(_unemphasize(text[last:]))
    return "".join(out)


def _unemphasize(text: str) -> str:
    text = _LINK.sub(r"\1", text)
    for pattern in _EMPHASIS:
        text = pattern.sub(lambda m: m.group(m.lastindex or 0), text)
    return text


def overview_text(text: str, limit: int = 320) -> str:
    """The first words of a card's markdown as plain text, for the zoomed-out card: only the markdown
    structure goes (heading and quote marks, list bullets, fences, table pipes and rules, emphasis
    pairs around words, link targets), formulas become readable words (app.render.math.latex_to_text:
    `$\\frac{1}{1+e^{-z}}$` → `1/(1+e^(−z))`); everything else stays as written (`y_i`, `2 ** i`).
    Task items show their box (☐/☑) where it is. Lines are joined. Looks at the start of the text
    only: cheap on every streaming frame."""
    if not text:
        return ""
    words: list[str] = []
    in_code = in_math = False
    for line in text[: limit * 2].split("\n"):
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            words.append(line)
            continue
        if line.strip() in ("$$", "\\[", "\\]"):  # a display formula's own lines
            in_math = not in_math if line.strip() == "$$" else line.strip() == "\\["
            continue
        if in_math:
            words.append(latex_to_text(line))
            continue
        if _RULE.match(line):
            continue
        while True:  # nested quotes, a heading in a quote
            stripped = _LEAD.sub("", line, count=1)
            if stripped == line:
                break
            line = stripped
        bullet = _BULLET.match(line)
        if bullet:
            line = line[bullet.end() :]
            task = _TASK.match(line)
            if task:
                line = ("☐ " if task.group(1) == " " else "☑ ") + line[task.end() :]
        if line.lstrip().startswith("|"):  # a table row: its cells, without the pipes
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
            line = "  ".join(c for c in cells if c)
        words.append(formulas_as_text(_plain_inline(line)))  # (emphasis first: formulas are left alone by it)
    return " ".join(" ".join(words).split())[:limit]


def estimate_text_height(text: str, width: float, style: CardStyle, cap: float = math.inf) -> float:
    """About how tall `text` (markdown) lays out at `width` in the body font, without laying it out.

    Counts wrapped lines per source line (code lines never wrap); blank lines and headings add the
    spacing the renderer gives paragraphs. Used for lazy cards until their documents exist; a card
    never grows past its layout height, so long answers come out exact (capped) anyway.
    """
    fm = style.body_metrics
    line = fm.lineSpacing()
    per_line = max(int(width / max(fm.averageCharWidth() * 1.08, 1.0)), 8)
    rough = len(text) / per_line * line * 0.5  # even lines half full, no spacing: below the real height
    if rough > cap:
        return rough  # taller than the card can show: it is cut at `cap` anyway
    total = 0.0
    in_code = False
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped.startswith(("```", "~~~")):
            in_code = not in_code
            # an opening fence: the block's header line (its language); a closing one: its padding
            total += CODE_HEADER_H + 6.0 if in_code else line * 0.5
            continue
        if in_code:
            total += line * 1.05
        elif not stripped:
            total += line * 0.6
        elif stripped.startswith("#"):
            total += line * 1.9
        elif stripped.startswith("|"):
            total += line * 1.4
        else:
            total += line * -(-len(stripped) // per_line)
    return max(total, line)


__all__ = [
    "ITEM_FOR_KIND",
    "CardItem",
    "NoteCard",
    "PromptCard",
    "ResponseCard",
    "estimate_text_height",
    "make_card",
    "overview_text",
    "stripe_color",
]


def _overview(event) -> bool:
    """Whether the view the mouse `event` came from shows cards as their overview (title and first
    words, no buttons or text to select): then a click anywhere on a card selects or drags it
    (issue #12: a click on the title strip at 22 % hit a button that was not drawn)."""
    viewport = event.widget()
    view = viewport.parentWidget() if viewport is not None else None
    return view is not None and hasattr(view, "transform") and view.transform().m11() < C.LOD_TEXT_MIN
