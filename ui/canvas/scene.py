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
"""

from __future__ import annotations

import math
import time
from collections.abc import Iterable, Iterator

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsScene

from app import layout
from app.domain import Edge, Node, NodeKind, NodeStatus
from app.outline import CardOutline
from ui.canvas import constants as C
from ui.canvas.cards import CardItem, make_card, stripe_color
from ui.canvas.edges import EdgeItem
from ui.canvas.style import CardStyle

EdgeKey = tuple[str, str, str]
# Below this zoom a card (460 units wide) is narrower than C.OVERVIEW_MIN_W_PX on screen: too small to
# read. The scene then makes no items for it and draws its block (drawBackground).
BLOCK_ZOOM = C.OVERVIEW_MIN_W_PX / layout.CARD_W
GRID_CELL = 2048.0  # scene units per cell of the index of cards not yet made
_BY_BOUNDS = Qt.ItemSelectionMode.IntersectsItemBoundingRect
_LIVE = frozenset(s for s in NodeStatus if s.is_live)


def _edge_key(edge: Edge) -> EdgeKey:
    return (edge.parent_id, edge.child_id, edge.role.value)


def _cells(x: float, y: float, w: float, h: float) -> list[tuple[int, int]]:
    """The grid cells a rectangle touches. A list, and one cell without a loop: populate asks this
    for every node of a session (10,000 at start-up, benchmark 6), most of them in one cell."""
    i0, i1 = math.floor(x / GRID_CELL), math.floor((x + w) / GRID_CELL)
    j0, j1 = math.floor(y / GRID_CELL), math.floor((y + h) / GRID_CELL)
    if i0 == i1 and j0 == j1:
        return [(i0, j0)]
    return [(i, j) for i in range(i0, i1 + 1) for j in range(j0, j1 + 1)]


class CanvasScene(QGraphicsScene):
    card_action_requested = Signal(str, str, object)
    nodes_moved = Signal(dict)
    blocks_changed = Signal()  # card rectangles, colours or selection changed (debounced)
    filled = Signal()  # nothing left to make: every card of the populated session is made, or cleared

    def __init__(self, style: CardStyle, parent=None) -> None:
        super().__init__(parent)
        self._style = style
        self._cards: dict[str, CardItem] = {}
        self._edges: dict[EdgeKey, EdgeItem] = {}
        self._edges_by_node: dict[str, set[EdgeKey]] = {}
        self._press_positions: dict[str, QPointF] = {}
        self._text_card: CardItem | None = None  # the card with selected text (text_selection_started)
        # lazy opening (populate): nodes without an item yet, their grid index, their edges
        self._pending: dict[str, Node] = {}  # Node or app.outline.CardOutline (no text)
        self._selected_pending: dict[str, None] = {}  # selected cards not made yet (select_only)
        self._loader = None  # ui.canvas.loader.ViewportLoader: full nodes for outlines
        self._grid: dict[tuple[int, int], list[str]] = {}  # (lists: a cell holds a few dozen cards)
        # edges waiting for a card to be made, under both their ends: the session's own Edge objects
        # in small tuples (no key tuples, sets or lists: 100,000 cards at start-up, benchmark 6)
        self._pending_edges_by_node: dict[str, tuple[Edge, ...]] = {}
        self._detailed: dict[str, None] = {}  # cards whose documents the scene built, oldest first
        self._detail_requests: dict[str, None] = {}
        self._view_rect = QRectF()
        self._view_zoom = 1.0
        # (x, y, w, h) of each made card as last reported, and the (left, top, right, bottom) around
        # every card, kept up to date incrementally (recomputed only when a card on its edge moves in)
        self._blocks: dict[str, tuple[float, float, float, float]] = {}
        self._bounds: tuple[float, float, float, float] | None = None
        self._materializing = False
        self._moved_at = 0.0  # when the view last moved (background work waits while it moves)
        self._work = QTimer(self)
        self._work.setSingleShot(True)
        self._work.setInterval(0)
        self._work.timeout.connect(self._on_work_timeout)
        self._blocks_timer = QTimer(self)
        self._blocks_timer.setSingleShot(True)
        self._blocks_timer.setInterval(C.MINIMAP_DEBOUNCE_MS)
        self._blocks_timer.timeout.connect(self.blocks_changed)
        self.selectionChanged.connect(self._mark_blocks_dirty)
        self.draw_grid = True  # off for PNG exports
        self.setItemIndexMethod(QGraphicsScene.ItemIndexMethod.BspTreeIndex)
        self.setSceneRect(QRectF(-50_000, -50_000, 100_000, 100_000))

    def __repr__(self) -> str:
        return f"<CanvasScene cards={len(self._cards)} edges={len(self._edges)}>"

    # ------------------------------------------------------------------ style
    @property
    def style(self) -> CardStyle:
        return self._style

    def set_style(self, style: CardStyle) -> None:
        self._style = style
        self._detailed.clear()
        for card in self._cards.values():
            card.set_style(style)
        for edge in self._edges.values():
            edge.set_theme(style.theme)
        self._geometry_changed()
        if not self._view_rect.isNull():
            self.show_area(self._view_rect, self._view_zoom)
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
        self._make_pending_edges(node.id)
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
        pending = self._pending.pop(node_id, None)
        self._selected_pending.pop(node_id, None)
        if pending is not None:
            self._unindex(pending)
        for key in list(self._edges_by_node.get(node_id, ())):
            self._remove_edge(key)
        self._edges_by_node.pop(node_id, None)
        for edge in self._pending_edges_by_node.get(node_id, ()):
            self._forget_pending_edge(edge)
        self._detailed.pop(node_id, None)
        self._detail_requests.pop(node_id, None)
        old = self._blocks.pop(node_id, None)
        if pending is not None:
            old = (pending.x, pending.y, layout.width(pending), layout.height(pending))
        if old is not None and self._bounds is not None and self._on_bounds_edge(old):
            self._bounds = None
        if card is not None:
            card.close()
            self.removeItem(card)
        self._mark_blocks_dirty()

    def clear_canvas(self) -> None:
        self._work.stop()
        self._pending.clear()
        self._selected_pending = {}
        self._grid.clear()
        self._pending_edges_by_node.clear()
        self._detailed.clear()
        self._detail_requests.clear()
        for node_id in list(self._cards):
            self.remove_card(node_id)
        for key in list(self._edges):
            self._remove_edge(key)
        self._blocks.clear()
        self._bounds = None
        self._mark_blocks_dirty()
        self.filled.emit()  # nothing left to make

    # ------------------------------------------------------------------ lazy opening
    def set_loader(self, loader) -> None:
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
        live: list[Node] = []
        pending, grid, floor = self._pending, self._grid, math.floor
        narrow = (NodeKind.PROMPT, NodeKind.NOTE)
        live_statuses = _LIVE
        left = top = math.inf
        right = bottom = -math.inf
        for node in nodes:  # (inlined _index and bounds: 100,000 cards at start-up, benchmark 6)
            node_id = node.id
            pending[node_id] = node
            kind = node.kind
            w = node.width or (layout.PROMPT_W if kind in narrow else layout.CARD_W)
            h = node.height or layout.DEFAULT_H[kind]
            x, y = node.x, node.y
            if x < left:
                left = x
            if y < top:
                top = y
            if x + w > right:
                right = x + w
            if y + h > bottom:
                bottom = y + h
            i0, i1 = floor(x / GRID_CELL), floor((x + w) / GRID_CELL)
            j0, j1 = floor(y / GRID_CELL), floor((y + h) / GRID_CELL)
            for i in range(i0, i1 + 1):
                for j in range(j0, j1 + 1):
                    bucket = grid.get((i, j))
                    if bucket is None:
                        grid[(i, j)] = [node_id]
                    else:
                        bucket.append(node_id)
            if node.status in live_statuses:
                live.append(node)
        self._full_nodes([n.id for n in live])
        for node in live:
            self._materialize(node.id)
        if not self._pending:
            self.filled.emit()
        self._register_edges(edges)
        m = C.SELECTION_MARGIN
        # around every card registered (made ones sit where their outline says until they re-measure,
        # which widens the bounds in card_geometry_changed)
        self._bounds = None if left == math.inf else (left - m, top - m, right + m, bottom + m)
        self._mark_blocks_dirty()
        self._schedule_work()

    def _index(self, node: Node) -> None:
        grid, node_id = self._grid, node.id
        for cell in _cells(node.x, node.y, layout.width(node), layout.height(node)):
            bucket = grid.get(cell)
            if bucket is None:
                grid[cell] = [node_id]
            elif node_id not in bucket:
                bucket.append(node_id)

    def _unindex(self, node: Node) -> None:
        for cell in _cells(node.x, node.y, layout.width(node), layout.height(node)):
            bucket = self._grid.get(cell)
            if bucket is not None and node.id in bucket:
                bucket.remove(node.id)

    def _pending_in(self, rect: QRectF) -> list[str]:
        out: list[str] = []
        seen: set[str] = set()
        for cell in _cells(rect.left(), rect.top(), rect.width(), rect.height()):
            for node_id in self._grid.get(cell, ()):
                if node_id in seen:
                    continue
                seen.add(node_id)
                node = self._pending[node_id]
                w, h = layout.width(node), layout.height(node)
                if (
                    node.x < rect.right()
                    and node.x + w > rect.left()
                    and node.y < rect.bottom()
                    and node.y + h > rect.top()
                ):
                    out.append(node_id)
        return out

    def _materialize(self, node_id: str) -> CardItem:
        if not isinstance(self._pending[node_id], Node):
            self._full_nodes([node_id])
        node = self._pending.pop(node_id)
        if not isinstance(node, Node):  # gone from the store meanwhile: nothing to make
            self._unindex(node)
            raise KeyError(node_id)
        self._unindex(node)
        # where the card was assumed to be until now (its layout size), for the bounds
        self._blocks[node_id] = (node.x, node.y, layout.width(node), layout.height(node))
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
            self._grid.clear()
            self._mark_blocks_dirty()  # the last one: the minimap draws the made cards exactly
            self.filled.emit()
        return card

    def materialize_all(self) -> None:
        """Make every card a lazily opened session has not made yet."""
        self._materialize_many(list(self._pending))

    def _materialize_many(self, ids: list[str]) -> list[CardItem]:
        self._full_nodes(ids)
        made = []
        for node_id in ids:
            if node_id in self._pending and isinstance(self._pending[node_id], Node):
                made.append(self._materialize(node_id))
        return made

    def show_area(self, rect: QRectF, zoom: float) -> None:
        """The view shows `rect` at `zoom` (called on every viewport change, before painting).

        Makes the cards in and around it, with their neighbours (so their edges show), and builds
        the documents of the cards in it when text is readable at `zoom`.
        """
        self._view_rect = QRectF(rect)
        self._view_zoom = zoom
        self._moved_at = time.monotonic()
        if self._pending and zoom >= BLOCK_ZOOM:
            ids = self._pending_in(rect)
            if self._loader is not None and any(not isinstance(self._pending[i], Node) for i in ids):
                self._loader.load_rect(rect.left(), rect.top(), rect.right(), rect.bottom())
            made = self._materialize_many(ids)
            if zoom >= C.LOD_TEXT_MIN:
                # neighbours too, so that every edge into the area has both its ends (zoomed out, the
                # neighbours are mostly in the area already)
                others = {
                    other
                    for card in made
                    for edge in self._pending_edges_by_node.get(card.node_id, ())
                    for other in (edge.parent_id, edge.child_id)
                    if other in self._pending
                }
                self._materialize_many(list(others))
        if zoom >= C.LOD_TEXT_MIN:
            for item in self.items(rect, _BY_BOUNDS):
                if isinstance(item, CardItem) and not item.has_documents:
                    self._detail(item)
        self._schedule_work()

    def request_detail(self, node_id: str) -> None:
        """A card was painted at full detail without its documents: build them soon."""
        self._detail_requests[node_id] = None
        self._schedule_work()

    def _detail(self, card: CardItem) -> None:
        card.ensure_detail()
        self._detailed.pop(card.node_id, None)
        self._detailed[card.node_id] = None

    def _schedule_work(self) -> None:
        if not self._work.isActive():
            self._work.start(0 if self._detail_requests else self._wait_for_still_view())

    def _wait_for_still_view(self) -> int:
        """ms until the view has been still for WORK_IDLE_MS (0 if it has)."""
        still = (time.monotonic() - self._moved_at) * 1000
        return max(0, math.ceil(C.WORK_IDLE_MS - still))

    def _on_work_timeout(self) -> None:
        """One slice of background work: requested documents, then the documents of cards around the
        view (ahead of a pan), then documents far away are dropped. (Cards are made only as the view
        reaches them: `show_area`.)

        While the view moves (pan, zoom) only requested documents are built: the frames stay short,
        and the rest resumes once the view has been still for WORK_IDLE_MS."""
        deadline = time.perf_counter() + C.FILL_SLICE_MS / 1000
        more = False
        for node_id in list(self._detail_requests):
            self._detail_requests.pop(node_id, None)
            card = self._cards.get(node_id)
            if card is not None:
                self._detail(card)
        wait = self._wait_for_still_view()
        if wait:
            self._work.start(wait)
            return
        view = self._view_rect
        if self._pending and not view.isNull() and self._view_zoom >= BLOCK_ZOOM:
            # the cards just around the view, ahead of a pan (a bounded ring, never the whole session)
            dx, dy = view.width() * C.PREFETCH_VIEWS, view.height() * C.PREFETCH_VIEWS
            ring = self._pending_in(view.adjusted(-dx, -dy, dx, dy))
            if ring:
                c = view.center()
                ring.sort(key=lambda i: abs(self._pending[i].x - c.x()) + abs(self._pending[i].y - c.y()))
                batch = ring[: C.PREFETCH_BATCH]
                self._materialize_many(batch)
                more = len(ring) > len(batch)
        if not view.isNull() and self._view_zoom >= C.LOD_TEXT_MIN and time.perf_counter() < deadline:
            dx, dy = view.width() * C.PREFETCH_VIEWS, view.height() * C.PREFETCH_VIEWS
            ring = view.adjusted(-dx, -dy, dx, dy)
            todo = [
                i for i in self.items(ring, _BY_BOUNDS) if isinstance(i, CardItem) and not i.has_documents
            ]
            if todo:
                centre = view.center()
                todo.sort(key=lambda c: (c.pos() - centre).manhattanLength())
                for card in todo:
                    if time.perf_counter() >= deadline:
                        more = True
                        break
                    self._detail(card)
        if len(self._detailed) > C.MAX_DETAILED:
            self._drop_far_details()
        if more:
            self._work.start(0)

    def _drop_far_details(self) -> None:
        view = self._view_rect
        dx, dy = view.width() * C.PREFETCH_VIEWS, view.height() * C.PREFETCH_VIEWS
        keep = view.adjusted(-dx, -dy, dx, dy)
        centre = view.center()
        cards = [self._cards[i] for i in self._detailed if i in self._cards]
        cards.sort(key=lambda c: (c.pos() - centre).manhattanLength(), reverse=True)
        excess = len(cards) - C.MAX_DETAILED
        for card in cards:
            if excess <= 0:
                break
            if self._view_zoom >= C.LOD_TEXT_MIN and card.sceneBoundingRect().intersects(keep):
                break  # every card left is near the view
            if card.drop_detail():
                self._detailed.pop(card.node_id, None)
                excess -= 1

    # ------------------------------------------------------------------ blocks (minimap)
    def card_blocks(self) -> Iterator[tuple[float, float, float, float, str, bool]]:
        """(x, y, w, h, colour, selected) of every card, made or not (pending: its layout height),
        in `card_ids()` order."""
        selected = set(self.selectedItems())
        blocks = self._blocks
        for node_id, card in self._cards.items():
            x, y, w, h = blocks.get(node_id) or self._block_of(card)
            yield x, y, w, h, card.stripe_color.name(), card in selected
        style = self._style
        colours: dict[tuple[object, ...], str] = {}
        chosen = self._selected_pending
        for node in self._pending.values():
            look = (node.kind, node.model, node.color)
            colour = colours.get(look)
            if colour is None:
                colour = colours[look] = stripe_color(node, style)
            yield node.x, node.y, layout.width(node), layout.height(node), colour, node.id in chosen

    @staticmethod
    def _block_of(card: CardItem) -> tuple[float, float, float, float]:
        p = card.pos()
        return p.x(), p.y(), card.card_width, card.layout_height

    def _on_bounds_edge(self, block: tuple[float, float, float, float]) -> bool:
        assert self._bounds is not None
        left, top, right, bottom = self._bounds
        m = C.SELECTION_MARGIN + 0.5
        x, y, w, h = block
        return x - m <= left or y - m <= top or x + w + m >= right or y + h + m >= bottom

    def _geometry_changed(self) -> None:
        self._bounds = None
        self._mark_blocks_dirty()

    def _mark_blocks_dirty(self) -> None:
        if not self._blocks_timer.isActive():
            self._blocks_timer.start()


    def selected_ids(self) -> list[str]:
        """Selected card ids, made or not, in scene reading order (top to bottom, left to right)."""
        places = [
            (round(c.pos().y() / 40), c.pos().x(), c.node_id)
            for c in self.selectedItems()  # not a walk of every card
            if isinstance(c, CardItem)
        ]
        pending = self._pending
        places += [(round(pending[i].y / 40), pending[i].x, i) for i in self._selected_pending if i in pending]
        places.sort(key=lambda p: (p[0], p[1]))
        return [p[2] for p in places]

    def select_only(self, node_ids: Iterable[str]) -> None:
        """Select exactly these cards. A few cards not made yet are made; many (select all on a big
        session) stay unmade, selected by id: drawn selected as blocks, made selected when reached."""
        ids = set(node_ids)
        waiting = [i for i in ids if i in self._pending]
        if len(waiting) <= C.SELECT_MAKES_MAX:
            self._materialize_many(waiting)
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

    def cards_bounds(self, node_ids: Iterable[str] | None = None) -> QRectF:
        """The rectangle around the given cards (default: all; cached), made or not."""
        if node_ids is None:
            if self._bounds is None:
                rect = self._bounds_of(self._cards.values(), self._pending.values())
                if rect.isNull():
                    return rect
                self._bounds = (rect.left(), rect.top(), rect.right(), rect.bottom())
            left, top, right, bottom = self._bounds
            return QRectF(left, top, right - left, bottom - top)
        ids = list(node_ids)
        return self._bounds_of(
            [self._cards[i] for i in ids if i in self._cards],
            [self._pending[i] for i in ids if i in self._pending],
        )

    @staticmethod
    def _bounds_of(cards: Iterable[CardItem], nodes: Iterable[Node]) -> QRectF:
        left = top = math.inf
        right = bottom = -math.inf
        m = C.SELECTION_MARGIN
        for card in cards:
            p = card.pos()
            x, y = p.x() - m, p.y() - m
            left, top = min(left, x), min(top, y)
            right = max(right, x + card.card_width + 2 * m)
            bottom = max(bottom, y + card.layout_height + 2 * m)
        for node in nodes:
            left, top = min(left, node.x - m), min(top, node.y - m)
            right = max(right, node.x + layout.width(node) + m)
            bottom = max(bottom, node.y + layout.height(node) + m)
        if left == math.inf:
            return QRectF()
        return QRectF(left, top, right - left, bottom - top)

    # ------------------------------------------------------------------ edges
    def _register_edges(self, edges: Iterable[Edge]) -> None:
        """`set_edges` on a canvas just cleared (populate), in one pass without key tuples: the
        edges (unique, as the store keeps them) wait for their cards, or are made at once."""
        pending, cards, by_node = self._pending, self._cards, self._pending_edges_by_node
        get = by_node.get
        for edge in edges:
            a, b = edge.parent_id, edge.child_id
            if a in pending:
                if not (b in pending or b in cards):
                    continue
            elif a in cards:
                if b in cards:
                    self._make_edge(_edge_key(edge))
                    continue
                if b not in pending:
                    continue
            else:
                continue
            waiting = get(a)
            by_node[a] = (edge,) if waiting is None else (*waiting, edge)
            waiting = get(b)
            by_node[b] = (edge,) if waiting is None else (*waiting, edge)

    def set_edges(self, edges: Iterable[Edge]) -> None:
        """Make the edge items match `edges` (adds the new ones, removes the gone ones).

        An edge to a card not made yet waits (pending) and is made with its second card."""
        wanted = {(e.parent_id, e.child_id, e.role.value): e for e in edges}
        for key in [k for k in self._edges if k not in wanted]:
            self._remove_edge(key)
        waiting_before = self._waiting_edges()
        for key, edge in waiting_before.items():
            if key not in wanted:
                self._forget_pending_edge(edge)
        cards, pending = self._cards, self._pending
        made, by_node = self._edges, self._pending_edges_by_node
        for key, edge in wanted.items():
            if key in made or key in waiting_before:
                continue
            a, b = key[0], key[1]
            a_pending, b_pending = a in pending, b in pending
            if not (a_pending or b_pending):
                if a in cards and b in cards:
                    self._make_edge(key)
            elif (a_pending or a in cards) and (b_pending or b in cards):
                waiting = by_node.get(a)
                by_node[a] = (edge,) if waiting is None else (*waiting, edge)
                waiting = by_node.get(b)
                by_node[b] = (edge,) if waiting is None else (*waiting, edge)

    def _make_edge(self, key: EdgeKey) -> None:
        item = EdgeItem(key[0], key[1], key[2], self._style.theme)
        self._edges[key] = item
        self._edges_by_node.setdefault(key[0], set()).add(key)
        self._edges_by_node.setdefault(key[1], set()).add(key)
        self._adjust_edge(item)
        self.addItem(item)

    def _forget_pending_edge(self, edge: Edge) -> None:
        key = _edge_key(edge)
        by_node = self._pending_edges_by_node
        for nid in (edge.parent_id, edge.child_id):
            waiting = by_node.get(nid)
            if waiting is not None:
                rest = tuple(e for e in waiting if _edge_key(e) != key)
                if rest:
                    by_node[nid] = rest
                else:
                    del by_node[nid]

    def _make_pending_edges(self, node_id: str) -> None:
        cards = self._cards
        for edge in self._pending_edges_by_node.get(node_id, ()):
            if edge.parent_id in cards and edge.child_id in cards:
                self._forget_pending_edge(edge)
                self._make_edge(_edge_key(edge))

    def edge_keys(self) -> list[EdgeKey]:
        """Every edge shown, or to be shown once both its cards are made."""
        return [*self._edges, *self._waiting_edges()]

    def _waiting_edges(self) -> dict[EdgeKey, Edge]:
        """Edges to be made once both their cards are (each once, in registration order)."""
        return {_edge_key(e): e for waiting in self._pending_edges_by_node.values() for e in waiting}

    def _remove_edge(self, key: tuple[str, str, str]) -> None:
        item = self._edges.pop(key, None)
        for nid in key[:2]:
            keys = self._edges_by_node.get(nid)
            if keys is not None:
                keys.discard(key)
        if item is not None:
            self.removeItem(item)

    def _adjust_edge(self, item: EdgeItem) -> None:
        parent = self._cards.get(item.parent_id)
        child = self._cards.get(item.child_id)
        if parent is None or child is None:
            return
        item.adjust(parent.anchor_center("bottom"), child.anchor_center("top"))

    def card_geometry_changed(self, node_id: str) -> None:
        """Called by a card when it moves or changes size or colour: re-route its edges."""
        for key in self._edges_by_node.get(node_id, ()):
            item = self._edges.get(key)
            if item is not None:
                self._adjust_edge(item)
        card = self._cards.get(node_id)
        if card is None:
            return
        new = self._block_of(card)
        old = self._blocks.get(node_id)
        self._blocks[node_id] = new
        if new == old:
            return
        if self._bounds is not None:
            if old is not None and not self._materializing and self._on_bounds_edge(old):
                self._bounds = None  # it may have moved in from the edge: measure again when asked
            else:
                m = C.SELECTION_MARGIN
                x, y, w, h = new
                left, top, right, bottom = self._bounds
                self._bounds = (
                    min(left, x - m),
                    min(top, y - m),
                    max(right, x + w + m),
                    max(bottom, y + h + m),
                )
        if not self._materializing:  # (a card just made sits where its block was drawn already)
            self._mark_blocks_dirty()

    # ------------------------------------------------------------------ text selection in a card
    def text_readable(self) -> bool:
        """The view shows cards at a zoom where their text is drawn (and can be selected)."""
        return self._view_zoom >= C.LOD_TEXT_MIN

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

    def mousePressEvent(self, event) -> None:
        mods = event.modifiers() & (Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier)
        if self._selected_pending and event.button() == Qt.MouseButton.LeftButton and not mods:
            self._selected_pending = {}  # a plain click selects anew (Qt clears the made cards' part)
            self.update()
        if self._pending:  # a press on a card drawn as a block makes it first: the press reaches it
            pos = event.scenePos()
            hit = self._pending_in(QRectF(pos.x() - 0.5, pos.y() - 0.5, 1.0, 1.0))
            if hit and not any(isinstance(i, CardItem) for i in self.items(pos)):
                self._materialize_many(hit[-1:])
        super().mousePressEvent(event)
        if event.button() == Qt.MouseButton.LeftButton:
            self._press_positions = {
                c.node_id: QPointF(c.pos()) for c in self._cards.values() if c.isSelected()
            }

    def mouseReleaseEvent(self, event) -> None:
        super().mouseReleaseEvent(event)
        if event.button() != Qt.MouseButton.LeftButton or not self._press_positions:
            return
        moved: dict[str, tuple[tuple[float, float], tuple[float, float]]] = {}
        for node_id, old in self._press_positions.items():
            card = self._cards.get(node_id)
            if card is None:
                continue
            new = card.pos()
            if (new - old).manhattanLength() > 0.5:
                moved[node_id] = ((old.x(), old.y()), (new.x(), new.y()))
        self._press_positions = {}
        if moved:
            self.nodes_moved.emit(moved)

    # ------------------------------------------------------------------ background
    def drawBackground(self, painter: QPainter, rect: QRectF) -> None:
        theme = self._style.theme
        painter.fillRect(rect, QColor(theme.canvas))
        if not self.draw_grid:
            return
        scale = painter.worldTransform().m11()
        step = C.GRID_STEP
        while step * scale < 14:  # keep the grid from turning into a solid fill when zoomed out
            step *= 4
        left = math.floor(rect.left() / step) * step
        top = math.floor(rect.top() / step) * step
        # Axis-aligned hairlines: drawn in two batched calls, without antialiasing (which costs ~30 µs a
        # line on the raster engine and buys nothing for straight lines).
        lines_minor: list[QLineF] = []
        lines_major: list[QLineF] = []
        x = left
        while x < rect.right():
            (lines_major if round(x / step) % 5 == 0 else lines_minor).append(
                QLineF(x, rect.top(), x, rect.bottom())
            )
            x += step
        y = top
        while y < rect.bottom():
            (lines_major if round(y / step) % 5 == 0 else lines_minor).append(
                QLineF(rect.left(), y, rect.right(), y)
            )
            y += step
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        painter.setPen(QPen(QColor(theme.grid), 0))
        painter.drawLines(lines_minor)
        painter.setPen(QPen(QColor(theme.grid_major), 0))
        painter.drawLines(lines_major)
        painter.restore()
        if self._pending:
            self._draw_blocks(painter, rect)

    def _draw_blocks(self, painter: QPainter, rect: QRectF) -> None:
        """The cards registered but not made that `rect` shows (too small to read, or not reached yet):
        their edges as lines, each card as its block (background, colour stripe, header bar, a tint of
        its colour), as a made card draws itself that far out (CardItem._paint_low_detail)."""
        ids = self._pending_in(rect)
        if not ids:
            return
        theme = self._style.theme
        pending, cards = self._pending, self._cards
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
        lines: list[QLineF] = []
        for node_id in ids:
            for edge in self._pending_edges_by_node.get(node_id, ()):
                if edge.child_id != node_id:
                    continue
                a = pending.get(edge.parent_id)
                if a is not None:
                    top = QPointF(a.x + layout.width(a) / 2, a.y + layout.height(a))
                else:
                    card = cards.get(edge.parent_id)
                    if card is None:
                        continue
                    top = card.anchor_center("bottom")
                b = pending[node_id]
                lines.append(QLineF(top, QPointF(b.x + layout.width(b) / 2, b.y)))
        if lines:
            painter.setPen(QPen(QColor(theme.muted), 0))
            painter.drawLines(lines)
        border = QPen(QColor(theme.card_border), 0)
        chosen_border = QPen(QColor(theme.card_selected), 0)
        chosen = self._selected_pending
        header = QColor(theme.card_header)
        card_bg = QColor(theme.card)
        colours: dict[str, QColor] = {}
        for node_id in ids:
            n = pending[node_id]
            w, h = layout.width(n), layout.height(n)
            name = stripe_color(n, self._style)
            stripe = colours.get(name)
            if stripe is None:
                stripe = colours[name] = QColor(name)
            painter.setPen(chosen_border if node_id in chosen else border)
            painter.setBrush(card_bg)
            painter.drawRect(QRectF(n.x, n.y, w, h))
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(stripe)
            painter.drawRect(QRectF(n.x, n.y, C.STRIPE_W, h))
            painter.setBrush(header)
            bar = C.HEADER_H * 1.6
            painter.drawRect(QRectF(n.x + C.STRIPE_W, n.y + 1, w - C.STRIPE_W - 1, bar))
            tint = QColor(stripe)
            tint.setAlpha(60)
            painter.setBrush(tint)
            painter.drawRect(
                QRectF(
                    n.x + C.STRIPE_W + C.CARD_PAD,
                    n.y + bar + C.CARD_PAD,
                    w - C.STRIPE_W - 2 * C.CARD_PAD,
                    max(h - bar - 2 * C.CARD_PAD, 4),
                )
            )
        painter.restore()
