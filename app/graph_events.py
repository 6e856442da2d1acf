"""Typed events about a session's graph: what changed, announced by the one writer.

The engine emits them for everything it writes (`Engine.subscribe`); a `ForeignChangeWatcher`
(app/foreign.py) emits the same events for what *other* processes write to the store. A
`SessionModel` (app/session_model.py) applies them to the open session's graph, and the GUI repaints
from them. No Qt here.

Threading: emitted and delivered on the asyncio loop thread (the Qt main thread in the GUI).
Listeners must be cheap: streamed text arrives as one `NodeChanged` per loop pass per lane.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from app.domain import Edge, Node

# Field names a NodeChanged may carry: the Node attributes that changed ("run" = its RunState).
TEXT_FIELDS = frozenset({"text", "reasoning"})
END_FIELDS = frozenset({"status", "finish", "error", "timing", "cost_usd", "meta", "run_record", "owner", "run"})


@dataclass(frozen=True, slots=True)
class NodesAdded:
    """Cards created together (a send's prompts and answers), with the edges that link them."""

    session_id: str
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...] = ()

    def __repr__(self) -> str:
        return f"<NodesAdded {len(self.nodes)} nodes {len(self.edges)} edges>"


@dataclass(frozen=True, slots=True)
class NodeChanged:
    """Fields of one node changed; `node` is the changed node itself (the live object)."""

    node: Node
    fields: frozenset[str]

    @property
    def id(self) -> str:
        return self.node.id

    @property
    def session_id(self) -> str:
        return self.node.session_id

    def __repr__(self) -> str:
        return f"<NodeChanged {self.node.id[-6:]} {sorted(self.fields)}>"


@dataclass(frozen=True, slots=True)
class NodesRemoved:
    session_id: str
    ids: tuple[str, ...]

    def __repr__(self) -> str:
        return f"<NodesRemoved {len(self.ids)}>"


@dataclass(frozen=True, slots=True)
class SessionChanged:
    """A session's own record changed (title; `deleted` when it went to the trash or came back)."""

    session_id: str
    title: str | None = None
    deleted: bool = False


GraphEvent = NodesAdded | NodeChanged | NodesRemoved | SessionChanged
GraphListener = Callable[[GraphEvent], None]


def legacy_changes(event: GraphEvent) -> list[tuple[Node, str]]:
    """The (node, change) pairs the older `Engine.add_listener` callbacks get for `event`: created,
    reasoning, text, usage, status, retry, phase."""
    if isinstance(event, NodesAdded):
        return [(n, "created") for n in event.nodes]
    if not isinstance(event, NodeChanged):
        return []
    node, fields = event.node, event.fields
    out: list[tuple[Node, str]] = [(node, name) for name in ("reasoning", "text", "usage") if name in fields]
    if fields & (END_FIELDS - {"run"}):
        out.append((node, "status"))
    elif "run" in fields:
        out.append((node, "retry" if node.run is not None and node.run.retry is not None else "phase"))
    return out
