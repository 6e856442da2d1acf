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
import threading
from collections.abc import Callable, Collection
from typing import Protocol

from app.domain import Graph
from app.graph_events import (
    END_FIELDS,
    TEXT_FIELDS,
    GraphEvent,
    NodeChanged,
    NodesAdded,
    NodesRemoved,
    SessionChanged,
)
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


class _Listening(Protocol):
    def close(self) -> None: ...


Note = dict[str, object]


class PushWatcher(StorePoller):
    """`ForeignChangeWatcher` for a store that announces writes (PostgreSQL LISTEN/NOTIFY, see
    storage.pg_watch): no clock. `listen(on_note)` starts the store's listener, which calls `on_note`
    on its own thread; the note is queued and `wake(fn)` asks the loop thread to run `check` soon
    (several notes arriving meanwhile are read together). A check reads only what the notes name:
    the cards added or deleted (as `StorePoller` does when the session's `updated_at` moves), the
    cards that streamed, changed or moved (`NodeChanged`), the session's title (`SessionChanged`).
    Positions, titles, collapse state: the last write wins (the card takes the stored value)."""

    def __init__(self, repo: Repository, on_events: ForeignListener, own: Callable[[], Collection[str]],
                 listen: Callable[[Callable[[Note], None]], _Listening],
                 wake: Callable[[Callable[[], None]], object],
                 on_other_sessions: Callable[[], None] | None = None) -> None:
        super().__init__(repo, on_events, own)
        self._on_other_sessions = on_other_sessions  # another session was created, renamed, grew, went
        self._others = False
        self._lock = threading.Lock()
        self._notes: list[Note] = []
        self._scheduled = False
        self._wake = wake
        self._listener = listen(self._on_note)
        self.checks = 0

    def __repr__(self) -> str:
        return f"<PushWatcher foreign={len(self.streaming)} {self._listener!r}>"

    def _on_note(self, note: Note) -> None:  # listener thread
        graph = self._graph
        other = graph is None or (note.get("s") != graph.session.id and note.get("op") != "resync")
        if other and (self._on_other_sessions is None or note.get("op") not in ("session", "add", "delete")):
            return
        with self._lock:
            if other:
                self._others = True
            else:
                self._notes.append(note)
            if self._scheduled:
                return
            self._scheduled = True
        self._wake(self._drain)

    def _drain(self) -> None:
        try:
            self.check()
        except Exception as exc:  # a lost connection: the next note (or the resync) tries again
            log.warning("could not read another member's change: %s", exc)

    def close(self) -> None:
        super().close()
        self._listener.close()

    def check(self) -> list[GraphEvent]:
        with self._lock:
            notes, self._notes, self._scheduled = self._notes, [], False
            others, self._others = self._others, False
        if others and self._on_other_sessions is not None:
            self._on_other_sessions()  # the sidebar lists them again
        graph = self._graph
        if graph is None:
            return []
        self.checks += 1
        ops = {str(n.get("op")) for n in notes}
        if ops & {"add", "delete", "resync"} or not notes:
            events = super().check()  # cards added or deleted; streaming ones read again
        else:
            events = []
            if self.streaming and "stream" in ops:
                self.repo.mark_orphans_interrupted()
        own = set(self._own())
        changed: dict[str, frozenset[str]] = {}
        for note in notes:
            ids = note.get("n") or []
            op = note.get("op")
            fields = {"move": frozenset({"x", "y"}), "stream": ALL_FIELDS}.get(
                str(op), ALL_FIELDS | {"x", "y", "title", "collapsed", "color", "width", "height"})
            for node_id in ids if isinstance(ids, list) else []:
                if node_id in graph.nodes and node_id not in own:
                    changed[node_id] = changed.get(node_id, frozenset()) | fields
        # cards the notes say were added that no edge names (a note card): read them by id
        have = set(graph.nodes.keys()) | {n.id for e in events if isinstance(e, NodesAdded) for n in e.nodes}
        loose: list[str] = []
        for note in notes:
            ids = note.get("n")
            if note.get("op") == "add" and isinstance(ids, list):
                loose += [str(i) for i in ids if i not in have]
        if "resync" in ops:  # notes may have been lost while the connection was down
            loose += sorted(self.repo.node_ids(graph.session.id) - have)
        lone = [n for n in self.repo.load_nodes(loose) if n.session_id == graph.session.id] if loose else []
        if lone:
            events.append(NodesAdded(graph.session.id, tuple(lone)))
            self._on_events([events[-1]])
        done = {e.node.id for e in events if isinstance(e, NodeChanged)}
        fresh = {n.id: n for n in self.repo.load_nodes([i for i in changed if i not in done])} if changed else {}
        extra: list[GraphEvent] = [NodeChanged(fresh[i], f) for i, f in changed.items() if i in fresh]
        if "session" in ops:
            stored = self.repo.get_session(graph.session.id)
            if stored is not None and stored.title != graph.session.title:
                extra.append(SessionChanged(stored.id, title=stored.title))
        if extra:
            self._on_events(extra)
        return events + extra
