"""A session's outline, and the session's nodes read from the store as they are needed (Qt-free).

Opening a big session does not read every card's text: `Repository.load_outline` gives one small
`CardOutline` per node (id, kind, status, model, colour, position, size: what the canvas needs to
place and draw a card it has not made, the minimap and the bounds), and `SessionNodes` is the
session's `{id: Node}` mapping that reads full nodes from the store only when asked:
`nodes_in_rect` for what the view reaches (the spatial index on card positions), `load_nodes` for
ids. Every node of the session is in it (`in`, `len`, iteration over ids, `outline`); `values()` and
`items()` read what is still missing in one query (export, relayout: they need every node).

A node read once stays (the controller and the engine hand out and mutate these objects: one object
per id for the life of the session). Nothing is ever written from an outline.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, MutableMapping, Sequence
from dataclasses import dataclass

from app import layout
from app.domain import Node, NodeKind, NodeStatus


@dataclass(slots=True)
class CardOutline:
    """Where a card is and how it looks from afar, without its text. Has the attributes of a `Node`
    that placement (`app.layout.width/height`) and a card's colour read."""

    id: str
    kind: NodeKind
    status: NodeStatus
    model: str | None
    color: str | None
    x: float
    y: float
    width: float | None
    height: float | None
    collapsed: bool = False
    has_files: bool = False  # a prompt with files: its card shows them in a row (app.layout.height)

    def __repr__(self) -> str:
        return f"<CardOutline {self.kind.value} {self.id[-6:]} ({self.x:.0f}, {self.y:.0f})>"

    @property
    def w(self) -> float:
        return layout.width(self)

    @property
    def h(self) -> float:
        return layout.height(self)

    @property
    def is_answer(self) -> bool:
        return self.kind in (NodeKind.RESPONSE, NodeKind.SYNTHESIS)

    @classmethod
    def of(cls, node: Node) -> CardOutline:
        return cls(
            node.id, node.kind, node.status, node.model, node.color, node.x, node.y, node.width,
            node.height, node.collapsed, node.has_files,
        )  # fmt: skip


_LIVE = frozenset(s for s in NodeStatus if s.is_live)

WALK_MISSES = 32
WALK_WINDOW_S = 0.5

# the largest card the rectangle queries must reach back for (a card starting left of or above
# the rectangle that still overlaps it); cards are at most this big on the canvas
MAX_CARD_EXTENT = 4_000.0


class SessionNodes(MutableMapping[str, Node]):
    """The open session's nodes: every id known from the outline, full nodes read on demand.

    `fetch_ids(ids)` and `fetch_rect(left, top, right, bottom)` read full nodes from the store
    (`Repository.load_nodes` / `nodes_in_rect`, bound to the session). GUI thread only."""

    def __init__(
        self,
        outline: Iterable[CardOutline],
        fetch_ids: Callable[[Sequence[str]], list[Node]],
        fetch_rect: Callable[[float, float, float, float], list[Node]] | None = None,
    ) -> None:
        self.outline: dict[str, CardOutline] = {o.id: o for o in outline}
        self._loaded: dict[str, Node] = {}
        self._fetch_ids = fetch_ids
        self._fetch_rect = fetch_rect
        self.reads = 0  # store reads so far (tests and the benchmark count them)
        self._misses = 0  # single-node reads since _miss_started
        self._miss_started = 0.0

    def __repr__(self) -> str:
        return f"<SessionNodes {len(self._loaded)}/{len(self.outline)} read>"

    # ------------------------------------------------------------------ Mapping
    def __getitem__(self, node_id: str) -> Node:
        node = self._loaded.get(node_id)
        if node is not None:
            return node
        if node_id not in self.outline:
            raise KeyError(node_id)
        # A walk over every node one id at a time (a whole-session total, a layout) would read the
        # store once per node: after WALK_MISSES misses in quick succession, read the rest at once.
        now = time.monotonic()
        if now - self._miss_started > WALK_WINDOW_S:
            self._miss_started, self._misses = now, 0
        self._misses += 1
        if self._misses > WALK_MISSES:
            self.load_all()
        else:
            self.load([node_id])
        return self._loaded[node_id]

    def __setitem__(self, node_id: str, node: Node) -> None:
        self._loaded[node_id] = node
        self.outline[node_id] = CardOutline.of(node)

    def __delitem__(self, node_id: str) -> None:
        del self.outline[node_id]
        self._loaded.pop(node_id, None)

    def pop(self, node_id: str, *default: Node | None) -> Node | None:  # type: ignore[override]
        """Forget a node (never reads it from the store: it may be gone from there already)."""
        node = self._loaded.pop(node_id, None)
        known = self.outline.pop(node_id, None)
        if node is None and known is None:
            if default:
                return default[0]
            raise KeyError(node_id)
        return node if node is not None else (default[0] if default else None)

    def __contains__(self, node_id: object) -> bool:
        return node_id in self.outline

    def __iter__(self) -> Iterator[str]:
        return iter(list(self.outline))

    def __len__(self) -> int:
        return len(self.outline)

    def values(self) -> list[Node]:  # type: ignore[override]
        self.load_all()
        return [self._loaded[i] for i in self.outline if i in self._loaded]

    def items(self) -> list[tuple[str, Node]]:  # type: ignore[override]
        self.load_all()
        return [(i, self._loaded[i]) for i in self.outline if i in self._loaded]

    # ------------------------------------------------------------------ reading
    @property
    def fully_loaded(self) -> bool:
        return len(self._loaded) >= len(self.outline)

    def loaded(self, node_id: str) -> Node | None:
        """The node if it has been read (never reads)."""
        return self._loaded.get(node_id)

    def loaded_items(self) -> list[tuple[str, Node]]:
        return list(self._loaded.items())

    def load(self, ids: Iterable[str]) -> list[Node]:
        """The full nodes of `ids` (those of the session), reading the missing ones in one query."""
        ids = [i for i in ids if i in self.outline]
        missing = [i for i in ids if i not in self._loaded]
        if missing:
            self.reads += 1
            for node in self._fetch_ids(missing):
                self._loaded.setdefault(node.id, node)
        return [self._loaded[i] for i in ids if i in self._loaded]

    def load_rect(self, left: float, top: float, right: float, bottom: float) -> None:
        """Read the full nodes of every card overlapping the rectangle (one spatial query)."""
        if self._fetch_rect is None:
            self.load(self.ids_in_rect(left, top, right, bottom))
            return
        self.reads += 1
        for node in self._fetch_rect(left, top, right, bottom):
            if node.id in self.outline:
                self._loaded.setdefault(node.id, node)

    def load_all(self) -> None:
        missing = [i for i in self.outline if i not in self._loaded]
        if missing:
            self.load(missing)

    def ids_in_rect(self, left: float, top: float, right: float, bottom: float) -> list[str]:
        return [
            o.id
            for o in self.outline.values()
            if o.x < right and o.x + o.w > left and o.y < bottom and o.y + o.h > top
        ]

    def live_ids(self) -> list[str]:
        """Cards whose status is live (streaming, waiting), from what is known without reading."""
        loaded, live = self._loaded, _LIVE
        return [i for i, o in self.outline.items() if (loaded[i] if i in loaded else o).status in live]
