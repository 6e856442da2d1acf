"""The scene's edges: the edge items shown between made cards, and the edges that wait for a card not
made yet (a lazily opened session) and are made with their second card.

`SceneEdges` shares the scene's dictionaries of made cards and of pending nodes (it reads them, never
changes them) and adds and removes its items through the scene. Qt main thread only.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING

from app.domain import Edge, Node
from app.outline import CardOutline
from ui.canvas.cards import CardItem
from ui.canvas.edges import EdgeItem

if TYPE_CHECKING:
    from PySide6.QtWidgets import QGraphicsScene

    from ui.theme import UiTheme

EdgeKey = tuple[str, str, str]


def edge_key(edge: Edge) -> EdgeKey:
    return (edge.parent_id, edge.child_id, edge.role.value)


class SceneEdges:
    """Edge items by key and by node, and the edges waiting for their cards."""

    def __init__(
        self,
        scene: QGraphicsScene,
        cards: Mapping[str, CardItem],
        pending: Mapping[str, Node | CardOutline],
        theme: UiTheme,
    ) -> None:
        self._scene = scene
        self._theme = theme
        self._cards = cards
        self._pending = pending
        self.items: dict[EdgeKey, EdgeItem] = {}
        self._by_node: dict[str, set[EdgeKey]] = {}
        # edges waiting for a card to be made, under both their ends: the session's own Edge objects
        # in small tuples (no key tuples, sets or lists: 100,000 cards at start-up, benchmark 6)
        self.waiting_by_node: dict[str, tuple[Edge, ...]] = {}

    def __repr__(self) -> str:
        return f"<SceneEdges made={len(self.items)} waiting={len(self.waiting())}>"

    def register(self, edges: Iterable[Edge]) -> None:
        """`set_edges` on a canvas just cleared (populate), in one pass without key tuples: the
        edges (unique, as the store keeps them) wait for their cards, or are made at once."""
        pending, cards, by_node = self._pending, self._cards, self.waiting_by_node
        get = by_node.get
        for edge in edges:
            a, b = edge.parent_id, edge.child_id
            if a in pending:
                if not (b in pending or b in cards):
                    continue
            elif a in cards:
                if b in cards:
                    self._make(edge_key(edge))
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
        for key in [k for k in self.items if k not in wanted]:
            self.remove(key)
        waiting_before = self.waiting()
        for key, edge in waiting_before.items():
            if key not in wanted:
                self._forget_waiting(edge)
        cards, pending = self._cards, self._pending
        made, by_node = self.items, self.waiting_by_node
        for key, edge in wanted.items():
            if key in made or key in waiting_before:
                continue
            a, b = key[0], key[1]
            a_pending, b_pending = a in pending, b in pending
            if not (a_pending or b_pending):
                if a in cards and b in cards:
                    self._make(key)
            elif (a_pending or a in cards) and (b_pending or b in cards):
                waiting = by_node.get(a)
                by_node[a] = (edge,) if waiting is None else (*waiting, edge)
                waiting = by_node.get(b)
                by_node[b] = (edge,) if waiting is None else (*waiting, edge)

    def keys(self) -> list[EdgeKey]:
        """Every edge shown, or to be shown once both its cards are made."""
        return [*self.items, *self.waiting()]

    def waiting(self) -> dict[EdgeKey, Edge]:
        """Edges to be made once both their cards are (each once, in registration order)."""
        return {edge_key(e): e for waiting in self.waiting_by_node.values() for e in waiting}

    def waiting_ends(self, node_ids: list[str]) -> list[str]:
        """The cards not made yet at the other end of these cards' waiting edges."""
        waiting, pending = self.waiting_by_node, self._pending
        others = {
            other
            for node_id in node_ids
            for edge in waiting.get(node_id, ())
            for other in (edge.parent_id, edge.child_id)
            if other in pending
        }
        return list(others)

    def card_made(self, node_id: str) -> None:
        """Make the edges that waited for this card and have both their cards now."""
        cards = self._cards
        for edge in self.waiting_by_node.get(node_id, ()):
            if edge.parent_id in cards and edge.child_id in cards:
                self._forget_waiting(edge)
                self._make(edge_key(edge))

    def card_moved(self, node_id: str) -> None:
        """Re-route the edges of a card that moved or changed size."""
        items = self.items
        for key in self._by_node.get(node_id, ()):
            item = items.get(key)
            if item is not None:
                self._adjust(item)

    def card_removed(self, node_id: str) -> None:
        for key in list(self._by_node.get(node_id, ())):
            self.remove(key)
        self._by_node.pop(node_id, None)
        for edge in self.waiting_by_node.get(node_id, ()):
            self._forget_waiting(edge)

    def clear(self) -> None:
        self.waiting_by_node.clear()
        for key in list(self.items):
            self.remove(key)

    def set_theme(self, theme: UiTheme) -> None:
        self._theme = theme
        for item in self.items.values():
            item.set_theme(theme)

    def remove(self, key: EdgeKey) -> None:
        item = self.items.pop(key, None)
        for nid in key[:2]:
            keys = self._by_node.get(nid)
            if keys is not None:
                keys.discard(key)
        if item is not None:
            self._scene.removeItem(item)

    def _make(self, key: EdgeKey) -> None:
        item = EdgeItem(key[0], key[1], key[2], self._theme)
        self.items[key] = item
        self._by_node.setdefault(key[0], set()).add(key)
        self._by_node.setdefault(key[1], set()).add(key)
        self._adjust(item)
        self._scene.addItem(item)

    def _forget_waiting(self, edge: Edge) -> None:
        key = edge_key(edge)
        by_node = self.waiting_by_node
        for nid in (edge.parent_id, edge.child_id):
            waiting = by_node.get(nid)
            if waiting is not None:
                rest = tuple(e for e in waiting if edge_key(e) != key)
                if rest:
                    by_node[nid] = rest
                else:
                    del by_node[nid]

    def _adjust(self, item: EdgeItem) -> None:
        parent = self._cards.get(item.parent_id)
        child = self._cards.get(item.child_id)
        if parent is None or child is None:
            return
        item.adjust(parent.anchor_center("bottom"), child.anchor_center("top"))
