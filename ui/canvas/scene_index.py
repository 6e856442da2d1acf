"""The cards of a lazily opened session that have no item yet: their nodes (or outlines, without
text) in a grid index by position, so the scene finds the ones a rectangle shows without a walk of
every card. Qt main thread only."""

from __future__ import annotations

import math
from collections.abc import Iterable

from PySide6.QtCore import QRectF

from app import layout
from app.domain import Node, NodeKind, NodeStatus
from app.outline import CardOutline

GRID_CELL = 2048.0  # scene units per cell of the index of cards not yet made
_LIVE = frozenset(s for s in NodeStatus if s.is_live)
Bounds = tuple[float, float, float, float]  # left, top, right, bottom


def cells(x: float, y: float, w: float, h: float) -> list[tuple[int, int]]:
    """The grid cells a rectangle touches. A list, and one cell without a loop: populate asks this
    for every node of a session (10,000 at start-up, benchmark 6), most of them in one cell."""
    i0, i1 = math.floor(x / GRID_CELL), math.floor((x + w) / GRID_CELL)
    j0, j1 = math.floor(y / GRID_CELL), math.floor((y + h) / GRID_CELL)
    if i0 == i1 and j0 == j1:
        return [(i0, j0)]
    return [(i, j) for i in range(i0, i1 + 1) for j in range(j0, j1 + 1)]


class PendingCards:
    """Nodes registered without an item, by id (`nodes`, shared with the scene) and by grid cell."""

    def __init__(self) -> None:
        self.nodes: dict[str, Node | CardOutline] = {}
        self._grid: dict[tuple[int, int], list[str]] = {}  # (lists: a cell holds a few dozen cards)

    def __repr__(self) -> str:
        return f"<PendingCards {len(self.nodes)} in {len(self._grid)} cells>"

    def __len__(self) -> int:
        return len(self.nodes)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.nodes

    def clear(self) -> None:
        self.nodes.clear()
        self._grid.clear()

    def register(self, nodes: Iterable[Node | CardOutline]) -> tuple[list[Node | CardOutline], Bounds | None]:
        """Add `nodes` (on an empty index); returns the live (streaming) ones and the rectangle around
        them all (None for none)."""
        live: list[Node | CardOutline] = []
        pending, grid, floor = self.nodes, self._grid, math.floor
        narrow = (NodeKind.PROMPT, NodeKind.NOTE)
        live_statuses = _LIVE
        left = top = math.inf
        right = bottom = -math.inf
        for node in nodes:  # (inlined index and bounds: 100,000 cards at start-up, benchmark 6)
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
        return live, (None if left == math.inf else (left, top, right, bottom))

    def pop(self, node_id: str) -> Node | CardOutline | None:
        """Remove a node from the index (its card is made, or it is gone); None if it was not there."""
        node = self.nodes.pop(node_id, None)
        if node is not None:
            for cell in cells(node.x, node.y, layout.width(node), layout.height(node)):
                bucket = self._grid.get(cell)
                if bucket is not None and node_id in bucket:
                    bucket.remove(node_id)
            if not self.nodes:
                self._grid.clear()
        return node

    def in_rect(self, rect: QRectF) -> list[str]:
        """The ids of the pending cards that `rect` shows (any part of them)."""
        out: list[str] = []
        seen: set[str] = set()
        for cell in cells(rect.left(), rect.top(), rect.width(), rect.height()):
            for node_id in self._grid.get(cell, ()):
                if node_id in seen:
                    continue
                seen.add(node_id)
                node = self.nodes[node_id]
                w, h = layout.width(node), layout.height(node)
                if (
                    node.x < rect.right()
                    and node.x + w > rect.left()
                    and node.y < rect.bottom()
                    and node.y + h > rect.top()
                ):
                    out.append(node_id)
        return out
