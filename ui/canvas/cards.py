"""Card items: lightweight QGraphicsObjects that paint cached QTextDocuments (never proxy widgets).

Contract: `sync(node)` recomputes everything a card shows (documents, texts, button rectangles,
height) from a domain `Node`; `paint()` only reads that precomputed state.

A card is composed of parts, each in its own module: its `state` (ui/canvas/card_state.py: what the
header, sections, body and buttons show and where), its `body` (card_body.py: the answer's document,
scroll, text selection, wide tables), the `reasoning` and `error_box` sections (card_sections.py),
its buttons (card_buttons.py: the action row, a prompt's file tiles, hit-testing), its painter
(card_paint.py: full detail, overview, block) and its `pointer` (card_pointer.py: clicks, text
selection, hover, menus). The words a zoomed-out card shows come from card_text.py.

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

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, QPointF, QRectF
from PySide6.QtGui import QColor, QPainter, QPainterPath, QTextDocument
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsSceneContextMenuEvent,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.domain import Node, NodeKind
from ui.canvas import constants as C
from ui.canvas.card_body import CardBody
from ui.canvas.card_layout import CardLayout, NoteLayout, PromptLayout, ResponseLayout, stripe_color
from ui.canvas.card_paint import CardPainter
from ui.canvas.card_pointer import CardPointer
from ui.canvas.card_sections import ErrorBox, ReasoningSection
from ui.canvas.card_state import CardButton, CardState
from ui.canvas.card_text import estimate_text_height, overview_text

if TYPE_CHECKING:
    from ui.canvas.style import CardStyle


# Enum members looked up once (each lookup of a PySide6 enum member costs a Python call).
_CARD_FLAGS = (
    QGraphicsItem.GraphicsItemFlag.ItemIsMovable
    | QGraphicsItem.GraphicsItemFlag.ItemIsSelectable
    | QGraphicsItem.GraphicsItemFlag.ItemSendsGeometryChanges
    | QGraphicsItem.GraphicsItemFlag.ItemIsFocusable
)
_POSITION_CHANGED = QGraphicsItem.GraphicsItemChange.ItemPositionHasChanged
_SELECTED_CHANGED = QGraphicsItem.GraphicsItemChange.ItemSelectedHasChanged


class CardItem(QGraphicsObject):
    """Base card: rounded box, header with a colour stripe, a markdown body and an action row."""

    kind_label = "Card"
    layout_class: type[CardLayout] = CardLayout  # where things go on this kind of card

    def __init__(self, node_id: str, kind: NodeKind, style: CardStyle, lazy: bool = False) -> None:
        super().__init__()
        self.node_id = node_id
        self.kind = kind
        self._style = style
        self._state = CardState()
        self.body = CardBody(self._resync)  # (formula pictures drawn: ui.math_images)
        self.reasoning = ReasoningSection()
        self.error_box = ErrorBox()
        self.pointer = CardPointer(self)
        self._painter = CardPainter(self)
        self._layout = self.layout_class(self)
        # Lazy cards build their documents on first need (see the module docstring).
        self._lazy = lazy
        self._detailed = not lazy
        self._was_live = False  # the node was streaming at the last sync
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
    def state(self) -> CardState:
        """What the card shows and where (computed by `sync`; read by its painter and pointer)."""
        return self._state

    @property
    def card_style(self) -> CardStyle:
        return self._style

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
        return self.body.doc.plain_text()

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
        return self.error_box.text(self._state)

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
        return self.reasoning.open

    @property
    def stripe_color(self) -> QColor:
        return self._state.stripe

    def button_actions(self) -> list[str]:
        return [b.action for b in self._state.buttons]

    def button_rect(self, action: str) -> QRectF | None:
        if action.startswith("copy_code:"):
            self.ensure_detail()
        st = self._state
        for b in st.buttons + st.code_buttons + st.file_buttons:
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
        return [*self.body.doc.documents(), *self.reasoning.doc.documents(), *self.error_box.documents()]

    def body_line_rects(self) -> list[QRectF]:
        """Where the body's lines of text are drawn now (item coordinates; scrolled out ones too)."""
        self.ensure_detail()
        return self.body.to_item(self.body.doc.line_rects(), self._state.body_rect)

    def wrap_mark_rects(self) -> list[QRectF]:
        """Where the body's wrap arrows are drawn (item coordinates): one left of each continuation
        of a code line too long for the card."""
        self.ensure_detail()
        return self.body.to_item(self.body.doc.wrap_mark_rects(), self._state.body_rect)

    def code_block_count(self) -> int:
        self.ensure_detail()
        return len(self.body.doc.code_block_rects())

    def body_scroll(self) -> float:
        return self.body.scroll

    def anchor_center(self, side: str) -> QPointF:
        """Where edges attach, in scene coordinates: "top" or "bottom" centre."""
        x = self.pos().x() + self._state.width / 2
        y = self.pos().y() + (0.0 if side == "top" else self._state.height)
        return QPointF(x, y)

    # ------------------------------------------------------------------ style and detail
    def set_style(self, style: CardStyle) -> None:
        self._style = style
        self.body.clear()  # re-rendered with the new theme
        self.body.measured = None  # fonts may have changed: measure again
        self.reasoning.clear()
        self.error_box.clear()
        if self._lazy and not (self._node is not None and self._node.status.is_live):
            self._detailed = False  # the scene rebuilds the visible cards' documents
        self._resync()

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
        if not self._lazy or not self._detailed or node is None or node.status.is_live or self.reasoning.open:
            return False
        self.body.drop(node.text)
        self.reasoning.clear()
        self._detailed = False
        self.sync(node)
        return True

    def set_reasoning_open(self, open_: bool) -> None:
        if open_ != self.reasoning.open:
            self.reasoning.open = open_
            self._resync()

    def _resync(self) -> None:
        """Lay the card out again (also when formula pictures replaced their placeholders)."""
        if self._node is not None:
            self.sync(self._node)

    # ------------------------------------------------------------------ state building
    def sync(self, node: Node) -> None:
        """Recompute what this card shows from `node`. Call on the Qt thread; cheap for short text."""
        self._node = node
        # Follow the text while it streams, and once more when it ends: the last text may come in
        # the same repaint as the final status.
        following, self._was_live = node.status.is_live or self._was_live, node.status.is_live
        if node.status.is_live and not node.collapsed:
            self._detailed = True  # a streaming card keeps its documents: they update incrementally
        st = self._layout.build(node, self._detailed, following)
        if self._detailed:
            st.elide(self._style)  # else on the first paint at a readable zoom
        old = self._state
        resized = st.height != old.height or st.width != old.width
        if resized:
            self.prepareGeometryChange()
        self._state = st
        self.update()
        if resized or st.stripe != old.stripe:
            self._geometry_changed()

    # ------------------------------------------------------------------ geometry and painting
    def boundingRect(self) -> QRectF:
        m = C.SELECTION_MARGIN
        return QRectF(-m, -m, self._state.width + 2 * m, self._state.height + 2 * m)

    def shape(self) -> QPainterPath:
        path = QPainterPath()
        path.addRoundedRect(QRectF(0, 0, self._state.width, self._state.height), C.CARD_RADIUS, C.CARD_RADIUS)
        return path

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        self._painter.paint(painter)

    def background(self) -> QColor:
        return QColor(self._style.theme.card)

    # ------------------------------------------------------------------ hit-testing and actions
    def hit_test(self, pos: QPointF) -> str:
        """What is under `pos` (item coordinates): a button action, "link:<url>", "reasoning", "body", ""."""
        return self.pointer.hit_test(pos)

    def activate(self, hit: str) -> None:
        """Perform what a click on `hit` (from `hit_test`) means. Used by mouse handling and tests."""
        self.pointer.activate(hit)

    # ------------------------------------------------------------------ what the card tells its scene
    def _tell_scene(self, method: str, *args: object) -> Any:
        """Call `method` of the scene if it has one (a CanvasScene; ui.canvas.scene imports this module)."""
        call = getattr(self.scene(), method, None)
        return call(*args) if call is not None else None

    def request_action(self, action: str, arg: object = None) -> None:
        self._tell_scene("request_card_action", self.node_id, action, arg)

    def request_detail(self) -> None:
        """Painted at full detail without documents: ask the scene to build them soon."""
        self._tell_scene("request_detail", self.node_id)

    def text_readable(self) -> bool:
        """The scene shows text at its zoom (so it can be selected)."""
        return self._tell_scene("text_readable") is not False

    def text_selection_started(self) -> None:
        self._tell_scene("text_selection_started", self)

    def _geometry_changed(self) -> None:
        self._tell_scene("card_geometry_changed", self.node_id)

    def select_alone(self) -> None:
        """Make this card the selection, unless it is part of it already."""
        if not self.isSelected():
            scene = self.scene()
            if scene is not None:
                scene.clearSelection()
            self.setSelected(True)

    # ------------------------------------------------------------------ text selection
    @property
    def has_text_selection(self) -> bool:
        return self.body.has_selection

    def selected_text(self) -> str:
        """The text selected in the body (double-click a word, or drag in a selected card's body)."""
        return self.body.selected_text()

    def clear_text_selection(self) -> None:
        self.pointer.text_drag = False
        if self.body.selection is not None:
            self.body.selection = None
            self.update()

    # ------------------------------------------------------------------ scrolling (the view's wheel)
    def wide_table_rects(self) -> list[QRectF]:
        """Where the tables wider than the body show (item coordinates, clipped to the body)."""
        return self.body.wide_table_rects(self._state.body_rect)

    def table_scroll(self, pos: QPointF) -> tuple[float, float]:
        """(offset, range) of the sideways scroll of the wide table at `pos` (item coordinates)."""
        return self.body.table_scroll(self._state, pos)

    def can_scroll_x(self, pos: QPointF) -> bool:
        """A table wider than the body is at `pos` (item coordinates): the wheel scrolls it sideways."""
        return self.body.table_at(self._state, pos) >= 0

    def scroll_x_by(self, dx: float, pos: QPointF) -> bool:
        """Scroll the wide table at `pos` sideways by `dx`; True if it moved."""
        if not self.body.scroll_table_by(self._state, dx, pos):
            return False
        self.update()
        return True

    def scroll_by(self, dy: float, pos: QPointF | None = None) -> bool:
        """Scroll the body (or the open reasoning, at `pos`) by `dy` scene units; True if the wheel is
        used up. The view calls this for wheel events over a card: a long answer scrolls inside it."""
        return self.pointer.scroll(dy, pos)

    def can_scroll(self, pos: QPointF | None = None) -> bool:
        return self.pointer.can_scroll(pos)

    # ------------------------------------------------------------------ Qt's events (see CardPointer)
    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self.pointer.press(event):
            return
        # Selecting this card may resize the view (the composer's "Following" bar); the view then replays
        # the press as a mouse move *inside* this handler, before the scene has stored where the button
        # went down: Qt's item drag would use the previous click's position and throw the card hundreds
        # of pixels away (issue #12). Moves that arrive while the press is handled are ignored.
        self.pointer.in_press = True
        try:
            super().mousePressEvent(event)
        finally:
            self.pointer.in_press = False

    def mouseMoveEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if not self.pointer.move(event):
            super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if self.pointer.release(event):
            return
        super().mouseReleaseEvent(event)
        self.setZValue(C.Z_CARD_SELECTED if self.isSelected() else C.Z_CARD)

    def mouseDoubleClickEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        if not self.pointer.double_click(event):
            super().mouseDoubleClickEvent(event)

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.pointer.hover_move(event)
        super().hoverMoveEvent(event)

    def hoverEnterEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.pointer.hover_enter()
        super().hoverEnterEvent(event)

    def hoverLeaveEvent(self, event: QGraphicsSceneHoverEvent) -> None:
        self.pointer.hover_leave()
        super().hoverLeaveEvent(event)

    def contextMenuEvent(self, event: QGraphicsSceneContextMenuEvent) -> None:
        self.pointer.context_menu(event)

    def ungrabMouseEvent(self, event: QEvent) -> None:
        self.pointer.text_drag = False
        self.setZValue(C.Z_CARD_SELECTED if self.isSelected() else C.Z_CARD)
        super().ungrabMouseEvent(event)  # type: ignore[misc]  # PySide6's stubs lack QGraphicsItem.ungrabMouseEvent

    def itemChange(self, change: QGraphicsItem.GraphicsItemChange, value: Any) -> Any:
        if change == _POSITION_CHANGED:
            self._geometry_changed()
        elif change == _SELECTED_CHANGED:
            self.setZValue(C.Z_CARD_SELECTED if value else C.Z_CARD)
            if not value:
                self.clear_text_selection()  # a click elsewhere ends the text selection
        return super().itemChange(change, value)

    def close(self) -> None:
        """Drop references before removal from the scene."""
        self._node = None


class PromptCard(CardItem):
    """The user's prompt: who asked what (system prompt, models, files), its text and its files."""

    kind_label = "Prompt"
    layout_class = PromptLayout

    def background(self) -> QColor:
        return QColor(self._style.theme.prompt_card)


class NoteCard(CardItem):
    kind_label = "Note"
    layout_class = NoteLayout


class ResponseCard(CardItem):
    """One model's answer (or a synthesis): status chip, reasoning, body, error, metrics, actions."""

    kind_label = "Response"
    layout_class = ResponseLayout

    def sync(self, node: Node) -> None:
        blind = self.card_style.blind  # a blind match's answer before the vote: "Model A", masked (app.arena_view)
        super().sync(blind.present(node) if blind is not None else node)


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


__all__ = [
    "ITEM_FOR_KIND",
    "CardButton",
    "CardItem",
    "CardState",
    "NoteCard",
    "PromptCard",
    "ResponseCard",
    "estimate_text_height",
    "make_card",
    "overview_text",
    "stripe_color",
]

