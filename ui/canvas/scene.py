"""The canvas scene: a registry of card and edge items built from domain models.

The scene holds no business logic. It creates, updates and removes items when told to, and reports
facts as signals carrying ids: `card_action_requested(node_id, action, arg)` for clicks on a card's
buttons and links, `nodes_moved({id: ((old_x, old_y), (new_x, new_y))})` once per drag, on mouse
release. A `CanvasController` decides what those mean. Qt main thread only.

Large sessions (`populate`) open lazily: every node is registered at once (cheap records in a grid
index: outlines without text, see ui/canvas/loader.py), but card items are made only for what the
view shows (`show_area`, which the view calls on every viewport change, before painting), with
their full nodes read from the store then (`set_loader`). Zoomed out so far that a card is too
small to read (`BLOCK_ZOOM`), no item is made: the scene draws the registered cards as blocks.
Asking for a card (`card`, `cards`, `select_only` of a few, a press on its block) makes it at once;
selecting many (select all) selects the unmade ones by id. Cards in view at a zoom where text shows
get their text documents; those near the view are made, and get them, in idle slices ahead of a pan;
beyond `MAX_DETAILED` cards, documents of the cards farthest away are dropped (their heights stay). `blocks_changed` (debounced) tells the
minimap that the cards' rectangles, colours or selection changed.

The scene's collaborators: `PendingCards` (scene_index.py: the cards not made yet, by position),
`SceneEdges` (scene_edges.py: edge items, and edges waiting for a card), `CardBlocks` and the
background painters (scene_blocks.py: rectangles and bounds of the cards, grid, blocks) and
`DetailWork` (scene_detail.py: documents built and dropped in idle slices).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QPointF, QRect, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter
from PySide6.QtWidgets import QGraphicsScene, QGraphicsSceneMouseEvent

from app.domain import Edge, Node
from app.outline import CardOutline
from ui.canvas import constants as C
from ui.canvas.cards import CardItem, make_card
from ui.canvas.scene_blocks import CardBlocks, bounds_of, paint_grid, paint_pending
from ui.canvas.scene_detail import BLOCK_ZOOM, BY_BOUNDS, DetailWork
from ui.canvas.scene_edges import EdgeKey, SceneEdges
from ui.canvas.scene_index import PendingCards
from ui.canvas.style import CardStyle

if TYPE_CHECKING:
    from ui.canvas.loader import ViewportLoader

__all__ = ["BLOCK_ZOOM", "CanvasScene", "EdgeKey"]
_EXTEND = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


class DragMoves:
    """Where the selected cards were when the left button went down, and which of them a drag moved."""

    __slots__ = ("_at_press",)

    def __init__(self) -> None:
        self._at_press: dict[str, QPointF] = {}

    def __repr__(self) -> str:
        return f"<DragMoves {len(self._at_press)} cards>"

    def pressed(self, cards: Iterable[CardItem]) -> None:
        self._at_press = {c.node_id: QPointF(c.pos()) for c in cards if c.isSelected()}

    def released(
        self, cards: Mapping[str, CardItem]
    ) -> dict[str, tuple[tuple[float, float], tuple[float, float]]]:
        """{id: ((old_x, old_y), (new_x, new_y))} of the cards the drag moved (one undo step)."""
        moved: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {}
        for node_id, old in self._at_press.items():
            card = cards.get(node_id)
            if card is None:
                continue
            new = card.pos()
            if (new - old).manhattanLength() > 0.5:
                moved[node_id] = ((old.x(), old.y()), (new.x(), new.y()))
        self._at_press = {}
        return moved


class CanvasScene(QGraphicsScene):
    card_action_requested = Signal(str, str, object)
    nodes_moved = Signal(dict)
    blocks_changed = Signal()  # card rectangles, colours or selection changed (debounced)
    filled = Signal()  # nothing left to make: every card of the populated session is made, or cleared

    def __init__(self, style: CardStyle, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._style = style
        self._cards: dict[str, CardItem] = {}
        self._index = PendingCards()
        self._pending = self._index.nodes  # nodes without an item yet (Node, or CardOutline: no text)
        self._selected_pending: dict[str, None] = {}  # selected cards not made yet (select_only)
        self._loader: ViewportLoader | None = None  # full nodes for outlines
        self.edges = SceneEdges(self, self._cards, self._pending, style.theme)
        self._blocks = CardBlocks()
        self._work = DetailWork(self)
        self._drag = DragMoves()
        self._text_card: CardItem | None = None  # the card with selected text (text_selection_started)
        self._materializing = False
        self._blocks_timer = QTimer(self)
        self._blocks_timer.setSingleShot(True)
        self._blocks_timer.setInterval(C.MINIMAP_DEBOUNCE_MS)
        self._blocks_timer.timeout.connect(self.blocks_changed)
        self.selectionChanged.connect(self._mark_blocks_dirty)
        self.draw_grid = True  # off for PNG exports
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self.setSceneRect(QRectF(-50_000, -50_000, 100_000, 100_000))

    def __repr__(self) -> str:
        return f"<CanvasScene cards={len(self._cards)} edges={len(self.edges.items)}>"

    # ------------------------------------------------------------------ style
    @property
    def style(self) -> CardStyle:  # type: ignore[override]  # the cards' style; Qt's style() (a QStyle) is unused
        return self._style

    def set_style(self, style: CardStyle) -> None:
        self._style = style
        self._work.detailed.clear()
        for card in self._cards.values():
            card.set_style(style)
        self.edges.set_theme(style.theme)
        self._blocks.bounds = None
        self._mark_blocks_dirty()
        if not self._work.view_rect.isNull():
            self.show_area(self._work.view_rect, self._work.view_zoom)
        self.update()

    # ------------------------------------------------------------------ cards
    def card(self, node_id: str) -> CardItem | None:
        card = self._cards.get(node_id)
        if card is None and node_id in self._pending:
            try:
                card = self._materialize(node_id)
            except KeyError:
                return None
        return card

    def cards(self) -> list[CardItem]:
        """Every card item (makes the ones a lazily opened session has not made yet)."""
        self.materialize_all()
        return list(self._cards.values())

    def card_ids(self) -> list[str]:
        return [*self._cards, *self._pending]

    def has_card(self, node_id: str) -> bool:
        return node_id in self._cards or node_id in self._pending

    def made_card(self, node_id: str) -> CardItem | None:
        """The card's item if it exists already (never makes one)."""
        return self._cards.get(node_id)

    def pending_count(self) -> int:
        """Cards of a lazily opened session still to be made."""
        return len(self._pending)

    def add_card(self, node: Node) -> CardItem:
        """Show `node` (or update its card); the card's documents are built at once."""
        existing = self.card(node.id)
        if existing is not None:
            existing.sync(node)
            return existing
        return self._add_item(node, lazy=False)

    def _add_item(self, node: Node, lazy: bool) -> CardItem:
        card = make_card(node, self._style, lazy=lazy)
        self._cards[node.id] = card
        self.addItem(card)
        self.card_geometry_changed(node.id)
        self.edges.card_made(node.id)
        return card

    def sync_card(self, node: Node) -> None:
        card = self._cards.get(node.id)
        if card is not None:
            card.sync(node)
        elif node.id in self._pending:
            self._pending[node.id] = node

    def remove_card(self, node_id: str) -> None:
        card = self._cards.pop(node_id, None)
        if card is not None and card is self._text_card:
            self._text_card = None
        pending = self._index.pop(node_id)
        self._selected_pending.pop(node_id, None)
        self.edges.card_removed(node_id)
        self._work.forget(node_id)
        self._blocks.forget(node_id, pending)
        if card is not None:
            card.close()
            self.removeItem(card)
        self._mark_blocks_dirty()

    def clear_canvas(self) -> None:
        self._work.stop()
        self._index.clear()
        self._selected_pending = {}
        self.edges.waiting_by_node.clear()
        for node_id in list(self._cards):
            self.remove_card(node_id)
        self.edges.clear()
        self._blocks.clear()
        self._mark_blocks_dirty()
        self.filled.emit()  # nothing left to make

    # ------------------------------------------------------------------ edges (SceneEdges)
    def set_edges(self, edges: Iterable[Edge]) -> None:
        """Make the edge items match `edges`; an edge to a card not made yet waits for it."""
        self.edges.set_edges(edges)

    def edge_keys(self) -> list[EdgeKey]:
        """Every edge shown, or to be shown once both its cards are made."""
        return self.edges.keys()

    # ------------------------------------------------------------------ lazy opening
    def set_loader(self, loader: ViewportLoader | None) -> None:
        """Where full nodes come from for cards registered by their outline (None: nodes given)."""
        self._loader = loader

    def _full_nodes(self, ids: list[str]) -> None:
        """Replace the outlines of these pending cards by their full nodes (one store read)."""
        pending = self._pending
        need = [i for i in ids if i in pending and not isinstance(pending[i], Node)]
        if not need or self._loader is None:
            return
        for node in self._loader.load(need):
            if node.id in pending:
                pending[node.id] = node

    def populate(self, nodes: Iterable[Node | CardOutline], edges: Iterable[Edge]) -> None:
        """Replace the canvas with `nodes` and `edges`, making items lazily (see the module docstring).

        Live (streaming) nodes get their card at once; the rest as the view reaches them.
        """
        self.clear_canvas()
        live, around = self._index.register(nodes)
        self._full_nodes([n.id for n in live])
        for node in live:
            self._materialize(node.id)
        if not self._pending:
            self.filled.emit()
        self.edges.register(edges)
        # around every card registered (made ones sit where their outline says until they re-measure,
        # which widens the bounds in card_geometry_changed)
        self._blocks.set_registered(around)
        self._mark_blocks_dirty()
        self._work.schedule()

    def pending_in(self, rect: QRectF) -> list[str]:
        """The cards not made yet that `rect` shows."""
        return self._index.in_rect(rect)

    def _materialize(self, node_id: str) -> CardItem:
        if not isinstance(self._pending[node_id], Node):
            self._full_nodes([node_id])
        node = self._index.pop(node_id)
        if not isinstance(node, Node):  # gone from the store meanwhile: nothing to make
            raise KeyError(node_id)
        self._blocks.assume(node_id, node)
        self._materializing = True
        try:
            card = self._add_item(node, lazy=True)
        finally:
            self._materializing = False
        if self._selected_pending.pop(node_id, 0) is None:  # it was selected before it was made
            self.blockSignals(True)
            try:
                card.setSelected(True)
            finally:
                self.blockSignals(False)
        if not self._pending:
            self._mark_blocks_dirty()  # the last one: the minimap draws the made cards exactly
            self.filled.emit()
        return card

    def materialize_all(self) -> None:
        """Make every card a lazily opened session has not made yet."""
        self.make_cards(list(self._pending))

    def make_cards(self, ids: list[str]) -> list[CardItem]:
        """Make these pending cards (one store read for their full nodes); returns the ones made."""
        self._full_nodes(ids)
        pending = self._pending
        return [self._materialize(i) for i in ids if i in pending and isinstance(pending[i], Node)]

    def make_near(self, rect: QRectF, centre: QPointF, limit: int) -> bool:
        """Make up to `limit` of the pending cards in `rect`, nearest `centre` first; True if more wait."""
        ring = self._index.in_rect(rect)
        if not ring:
            return False
        pending = self._pending
        ring.sort(key=lambda i: abs(pending[i].x - centre.x()) + abs(pending[i].y - centre.y()))
        self.make_cards(ring[:limit])
        return len(ring) > limit

    def show_area(self, rect: QRectF, zoom: float) -> None:
        """The view shows `rect` at `zoom` (called on every viewport change, before painting).

        Makes the cards in and around it, with their neighbours (so their edges show), and builds
        the documents of the cards in it when text is readable at `zoom`.
        """
        self._work.view_moved(rect, zoom)
        if self._pending and zoom >= BLOCK_ZOOM:
            ids = self._index.in_rect(rect)
            if self._loader is not None and any(not isinstance(self._pending[i], Node) for i in ids):
                self._loader.load_rect(rect.left(), rect.top(), rect.right(), rect.bottom())
            made = self.make_cards(ids)
            if zoom >= C.LOD_TEXT_MIN:
                # neighbours too, so that every edge into the area has both its ends (zoomed out, the
                # neighbours are mostly in the area already)
                self.make_cards(self.edges.waiting_ends([c.node_id for c in made]))
        if zoom >= C.LOD_TEXT_MIN:
            for item in self.items(rect, BY_BOUNDS):
                if isinstance(item, CardItem) and not item.has_documents:
                    self._work.detail(item)
        self._work.schedule()

    def request_detail(self, node_id: str) -> None:
        """A card was painted at full detail without its documents: build them soon."""
        self._work.request(node_id)

    # ------------------------------------------------------------------ blocks (minimap) and bounds
    def card_blocks(self) -> Iterator[tuple[float, float, float, float, str, bool]]:
        """(x, y, w, h, colour, selected) of every card, made or not (pending: its layout height),
        in `card_ids()` order."""
        return self._blocks.all(
            self._cards, self._pending, set(self.selectedItems()), self._selected_pending, self._style
        )

    def cards_bounds(self, node_ids: Iterable[str] | None = None) -> QRectF:
        """The rectangle around the given cards (default: all; cached), made or not."""
        if node_ids is None:
            return self._blocks.bounds_rect(self._cards.values(), self._pending.values())
        ids = list(node_ids)
        return bounds_of(
            [self._cards[i] for i in ids if i in self._cards],
            [self._pending[i] for i in ids if i in self._pending],
        )

    def card_geometry_changed(self, node_id: str) -> None:
        """Called by a card when it moves or changes size or colour: re-route its edges."""
        self.edges.card_moved(node_id)
        card = self._cards.get(node_id)
        if card is None:
            return
        # (a card just made sits where its block was drawn already)
        if self._blocks.moved(node_id, card, self._materializing) and not self._materializing:
            self._mark_blocks_dirty()

    def _mark_blocks_dirty(self) -> None:
        if not self._blocks_timer.isActive():
            self._blocks_timer.start()

    # ------------------------------------------------------------------ selection
    def selected_ids(self) -> list[str]:
        """Selected card ids, made or not, in scene reading order (top to bottom, left to right)."""
        places = [
            (round(c.pos().y() / 40), c.pos().x(), c.node_id)
            for c in self.selectedItems()  # not a walk of every card
            if isinstance(c, CardItem)
        ]
        pending = self._pending
        places += [
            (round(pending[i].y / 40), pending[i].x, i) for i in self._selected_pending if i in pending
        ]
        places.sort(key=lambda p: (p[0], p[1]))
        return [p[2] for p in places]

    def select_only(self, node_ids: Iterable[str]) -> None:
        """Select exactly these cards. A few cards not made yet are made; many (select all on a big
        session) stay unmade, selected by id: drawn selected as blocks, made selected when reached."""
        ids = set(node_ids)
        waiting = [i for i in ids if i in self._pending]
        if len(waiting) <= C.SELECT_MAKES_MAX:
            self.make_cards(waiting)
            waiting = []
        self._selected_pending = dict.fromkeys(waiting)
        self.blockSignals(True)
        try:
            for item in self.selectedItems():  # the selection, not every card: ~9 ms on 10,000 cards
                if not (isinstance(item, CardItem) and item.node_id in ids):
                    item.setSelected(False)
            for node_id in ids:
                card = self._cards.get(node_id)
                if card is not None:
                    card.setSelected(True)
        finally:
            self.blockSignals(False)
        self.selectionChanged.emit()
        self._mark_blocks_dirty()
        self.update()

    def clearSelection(self) -> None:  # noqa: N802 (Qt's name)
        had = bool(self._selected_pending)
        self._selected_pending = {}
        super().clearSelection()
        if had:
            self.selectionChanged.emit()
            self.update()

    # ------------------------------------------------------------------ text selection in a card
    def text_readable(self) -> bool:
        """The view shows cards at a zoom where their text is drawn (and can be selected)."""
        return self._work.view_zoom >= C.LOD_TEXT_MIN

    def text_selection_started(self, card: CardItem) -> None:
        """`card` now has the text selection: only one card has one at a time."""
        old = self._text_card
        if old is not None and old is not card:
            old.clear_text_selection()
        self._text_card = card

    def text_selection_card(self) -> CardItem | None:
        """The card whose body has selected text, if any."""
        card = self._text_card
        if card is None or card.node_id not in self._cards or not card.has_text_selection:
            return None
        return card

    def clear_text_selection(self) -> bool:
        card, self._text_card = self._text_card, None
        if card is not None and card.has_text_selection:
            card.clear_text_selection()
            return True
        return False

    def copy_text_selection(self) -> bool:
        """Ask (card_action_requested "copy_text") to copy the selected text; False if there is none."""
        card = self.text_selection_card()
        if card is None:
            return False
        self.request_card_action(card.node_id, "copy_text", card.selected_text())
        return True

    # ------------------------------------------------------------------ facts from items
    def request_card_action(self, node_id: str, action: str, arg: object = None) -> None:
        self.card_action_requested.emit(node_id, action, arg)

    def mousePressEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        plain = not event.modifiers() & _EXTEND
        if self._selected_pending and event.button() == Qt.MouseButton.LeftButton and plain:
            self._selected_pending = {}  # a plain click selects anew (Qt clears the made cards' part)
            self.update()
        if self._pending:  # a press on a card drawn as a block makes it first: the press reaches it
            pos = event.scenePos()
            hit = self._index.in_rect(QRectF(pos.x() - 0.5, pos.y() - 0.5, 1.0, 1.0))
            if hit and not any(isinstance(i, CardItem) for i in self.items(pos)):
                self.make_cards(hit[-1:])
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._drag.pressed(self._cards.values())

    def mouseReleaseEvent(self, event: QGraphicsSceneMouseEvent) -> None:
        super().mouseReleaseEvent(event)
        if event.button() == Qt.MouseButton.LeftButton and (moved := self._drag.released(self._cards)):
            self.nodes_moved.emit(moved)

    # ------------------------------------------------------------------ background
    def drawBackground(self, painter: QPainter, rect: QRectF | QRect) -> None:
        rect = QRectF(rect)
        if not self.draw_grid:
            painter.fillRect(rect, QColor(self._style.theme.canvas))
            return
        paint_grid(painter, rect, self._style.theme)
        if self._pending:
            ids = self._index.in_rect(rect)
            if ids:
                waiting = self.edges.waiting_by_node
                paint_pending(
                    painter, ids, self._pending, self._cards, waiting, self._selected_pending, self._style
                )
