"""What other processes write to the open session, as graph events (app/graph_events.py).

The GUI and the CLI may share one store: another process can add cards to the open session, stream
into them, and delete them. A `ForeignChangeWatcher` turns those writes into the same events the
engine emits for its own, delivered to one callback. `StorePoller` is the SQLite implementation: it
checks the store when asked (`check`, the GUI calls it about once a second from a timer). A
PostgreSQL store can implement the same interface from LISTEN/NOTIFY instead of polling. No Qt here.

Threading: loop thread only; `check` makes a few short store reads.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection
from typing import Protocol

from app.domain import Graph
from app.graph_events import END_FIELDS, TEXT_FIELDS, GraphEvent, NodeChanged, NodesAdded, NodesRemoved
from app.repository import Repository

log = logging.getLogger(__name__)

ForeignListener = Callable[[list[GraphEvent]], None]
ALL_FIELDS = TEXT_FIELDS | END_FIELDS | {"usage"}


class ForeignChangeWatcher(Protocol):
    """Watches one session for other processes' writes; calls its listener with their events."""

    def watch(self, graph: Graph | None) -> None:
        """Watch `graph`'s session from now on (None: watch nothing)."""

    def check(self) -> list[GraphEvent]:
        """Look for changes now; returns (and passes to the listener) what it found."""

    def close(self) -> None: ...


class StorePoller:
    """`ForeignChangeWatcher` for a store read by polling (SQLite): the session's `updated_at` moving
    means cards were added or deleted (its edges are read again; the cards they name that the graph
    does not hold are read one by one: never the whole graph); a card streaming in another process
    is read again on every check until it ends, or is marked interrupted when its process is gone."""

    def __init__(self, repo: Repository, on_events: ForeignListener,
                 own: Callable[[], Collection[str]]) -> None:
        self.repo = repo
        self._on_events = on_events
        self._own = own  # ids of the nodes this process streams (not foreign)
        self._graph: Graph | None = None
        self._seen_updated_at = 0.0
        self.streaming: set[str] = set()  # cards of the session streaming in another process

    def __repr__(self) -> str:
        return f"<StorePoller foreign={len(self.streaming)}>"

    def watch(self, graph: Graph | None) -> None:
        self._graph = graph
        self._seen_updated_at = 0.0
        if graph is not None:
            stored = self.repo.get_session(graph.session.id)
            self._seen_updated_at = stored.updated_at if stored is not None else graph.session.updated_at
        self.rescan()

    def rescan(self) -> None:
        """Which of the graph's live cards stream elsewhere (after this process added or ended some)."""
        graph = self._graph
        if graph is None:
            self.streaming = set()
            return
        own = self._own()
        nodes = graph.nodes  # an outline-backed SessionNodes in the window: its live ids without reading nodes
        live = nodes.live_ids() if hasattr(nodes, "live_ids") else [i for i, n in nodes.items() if n.status.is_live]
        self.streaming = {i for i in live if i not in own}

    def close(self) -> None:
        self._graph = None
        self.streaming = set()

    def check(self) -> list[GraphEvent]:
        graph = self._graph
        if graph is None:
            return []
        events: list[GraphEvent] = []
        session_id = graph.session.id
        stored = self.repo.get_session(session_id)
        if stored is not None and stored.updated_at != self._seen_updated_at:
            self._seen_updated_at = stored.updated_at
            edges = self.repo.load_edges(session_id)
            known = {(e.parent_id, e.child_id, e.role) for e in graph.edges}
            fresh = [e for e in edges if (e.parent_id, e.child_id, e.role) not in known]
            named = {i for e in edges for i in (e.parent_id, e.child_id)} - graph.nodes.keys()
            added = [n for n in (self.repo.get_node(i) for i in sorted(named)) if n is not None]
            if added or fresh:
                events.append(NodesAdded(session_id, tuple(added), tuple(fresh)))
            gone = graph.nodes.keys() - self.repo.node_ids(session_id) - set(self._own())
            if gone:
                events.append(NodesRemoved(session_id, tuple(sorted(gone))))
        if self.streaming:
            self.repo.mark_orphans_interrupted()
            for node_id in sorted(self.streaming):
                node = self.repo.get_node(node_id)
                if node is not None and node_id in graph.nodes:
                    events.append(NodeChanged(node, ALL_FIELDS))
        if events:
            self._on_events(events)
        return events
