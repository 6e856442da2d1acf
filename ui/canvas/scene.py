"""The canvas scene: a registry of card and edge items built from domain models.

The scene holds no business logic. It creates, updates and removes items when told to, and reports
facts as signals carrying ids: `card_action_requested(node_id, action, arg)` for clicks on a card's
buttons and links, `nodes_moved({id: ((old_x, old_y), (new_x, new_y))})` once per drag, on mouse
release. A `CanvasController` decides what those mean. Qt main thread only.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsScene

from app.domain import Edge, Node
from ui.canvas import constants as C
from ui.canvas.cards import CardItem, make_card
from ui.canvas.edges import EdgeItem
from ui.canvas.style import CardStyle


class CanvasScene(QGraphicsScene):
    card_action_requested = Signal(str, str, object)
    nodes_moved = Signal(dict)

    def __init__(self, style: CardStyle, parent=None) -> None:
        super().__init__(parent)
        self._style = style
        self._cards: dict[str, CardItem] = {}
        self._edges: dict[tuple[str, str, str], EdgeItem] = {}
        self._edges_by_node: dict[str, set[tuple[str, str, str]]] = {}
        self._press_positions: dict[str, QPointF] = {}
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
        for card in self._cards.values():
            card.set_style(style)
        for edge in self._edges.values():
            edge.set_theme(style.theme)
        self.update()

    # ------------------------------------------------------------------ cards
    def card(self, node_id: str) -> CardItem | None:
        return self._cards.get(node_id)

    def cards(self) -> list[CardItem]:
        return list(self._cards.values())

    def card_ids(self) -> list[str]:
        return list(self._cards)

    def add_card(self, node: Node) -> CardItem:
        existing = self._cards.get(node.id)
        if existing is not None:
            existing.sync(node)
            return existing
        card = make_card(node, self._style)
        self._cards[node.id] = card
        self.addItem(card)
        self.card_geometry_changed(node.id)
        return card

    def sync_card(self, node: Node) -> None:
        card = self._cards.get(node.id)
        if card is not None:
            card.sync(node)

    def remove_card(self, node_id: str) -> None:
        card = self._cards.pop(node_id, None)
        for key in list(self._edges_by_node.get(node_id, ())):
            self._remove_edge(key)
        self._edges_by_node.pop(node_id, None)
        if card is not None:
            card.close()
            self.removeItem(card)

    def clear_canvas(self) -> None:
        for node_id in list(self._cards):
            self.remove_card(node_id)
        for key in list(self._edges):
            self._remove_edge(key)

    def selected_ids(self) -> list[str]:
        """Selected card ids, in scene reading order (top to bottom, left to right)."""
        cards = [c for c in self._cards.values() if c.isSelected()]
        cards.sort(key=lambda c: (round(c.pos().y() / 40), c.pos().x()))
        return [c.node_id for c in cards]

    def select_only(self, node_ids: Iterable[str]) -> None:
        ids = set(node_ids)
        self.blockSignals(True)
        try:
            for nid, card in self._cards.items():
                card.setSelected(nid in ids)
        finally:
            self.blockSignals(False)
        self.selectionChanged.emit()

    def cards_bounds(self, node_ids: Iterable[str] | None = None) -> QRectF:
        rect = QRectF()
        cards = (
            self._cards.values()
            if node_ids is None
            else [self._cards[i] for i in node_ids if i in self._cards]
        )
        for card in cards:
            rect = rect.united(card.sceneBoundingRect())
        return rect

    # ------------------------------------------------------------------ edges
    def set_edges(self, edges: Iterable[Edge]) -> None:
        """Make the edge items match `edges` (adds the new ones, removes the gone ones)."""
        wanted = {(e.parent_id, e.child_id, str(e.role)): e for e in edges}
        for key in list(self._edges):
            if key not in wanted:
                self._remove_edge(key)
        for key in wanted:
            if key not in self._edges and key[0] in self._cards and key[1] in self._cards:
                item = EdgeItem(key[0], key[1], key[2], self._style.theme)
                self._edges[key] = item
                self._edges_by_node.setdefault(key[0], set()).add(key)
                self._edges_by_node.setdefault(key[1], set()).add(key)
                self.addItem(item)
                self._adjust_edge(item)

    def edge_keys(self) -> list[tuple[str, str, str]]:
        return list(self._edges)

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
        """Called by a card when it moves or changes height: re-route its edges."""
        for key in self._edges_by_node.get(node_id, ()):
            item = self._edges.get(key)
            if item is not None:
                self._adjust_edge(item)

    # ------------------------------------------------------------------ facts from items
    def request_card_action(self, node_id: str, action: str, arg: object = None) -> None:
        self.card_action_requested.emit(node_id, action, arg)

    def mousePressEvent(self, event) -> None:
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
