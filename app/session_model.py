"""The open session as one observable model: its record and graph, kept current by graph events.

The engine writes and announces (app/graph_events.py); a `ForeignChangeWatcher` announces what other
processes wrote; `SessionModel.apply` folds each event of *this* session into the graph (the engine's
live `Node` objects while they stream: the store lags ≤ 250 ms) and passes it on to the model's
observers (the GUI's canvas controller). The engine plans and sends from `model.graph`. No Qt here.

Threading: loop thread only, like the events.
"""

from __future__ import annotations

import contextlib
import logging

from app.domain import Graph, Session
from app.graph_events import GraphEvent, GraphListener, NodeChanged, NodesAdded, NodesRemoved, SessionChanged

log = logging.getLogger(__name__)


class SessionModel:
    def __init__(self) -> None:
        self.session: Session | None = None
        self.graph: Graph | None = None
        self._observers: list[GraphListener] = []

    def __repr__(self) -> str:
        count = len(self.graph.nodes) if self.graph is not None else 0
        return f"<SessionModel {self.session!r} {count} nodes>"

    @property
    def session_id(self) -> str | None:
        return self.session.id if self.session is not None else None

    def observe(self, fn: GraphListener) -> None:
        self._observers.append(fn)

    def unobserve(self, fn: GraphListener) -> None:
        with contextlib.suppress(ValueError):
            self._observers.remove(fn)

    def load(self, session: Session, graph: Graph) -> None:
        """Show another session (no event: the observer that asked for it redraws everything)."""
        self.session = session
        self.graph = graph

    def apply(self, event: GraphEvent) -> bool:
        """Fold `event` into the graph and tell the observers; False (and nothing told) when it is
        about another session or a node this graph does not hold (a card deleted while its stream
        winds down)."""
        graph = self.graph
        if graph is None or event.session_id != self.session_id:
            return False
        if isinstance(event, NodesAdded):
            for node in event.nodes:
                graph.nodes[node.id] = node
            if event.edges:
                known = {(e.parent_id, e.child_id, e.role) for e in graph.edges}
                fresh = [e for e in event.edges if (e.parent_id, e.child_id, e.role) not in known]
                if fresh:
                    graph.edges = [*graph.edges, *fresh]
        elif isinstance(event, NodeChanged):
            if event.id not in graph.nodes:
                return False
            graph.nodes[event.id] = event.node
        elif isinstance(event, NodesRemoved):
            gone = set(event.ids)
            if not gone & graph.nodes.keys():
                return False
            for node_id in gone:
                graph.nodes.pop(node_id, None)
            graph.edges = [e for e in graph.edges if e.parent_id not in gone and e.child_id not in gone]
        elif isinstance(event, SessionChanged):
            if event.title is not None and self.session is not None:
                self.session.title = event.title
        self._tell(event)
        return True

    def _tell(self, event: GraphEvent) -> None:
        for fn in list(self._observers):
            try:
                fn(event)
            except Exception:
                log.exception("session model observer failed on %r", event)
