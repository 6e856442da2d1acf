"""The GUI's store: a write that finds the store locked by another process is queued, not refused.

The GUI's store waits at most ~50 ms for another process's write lock (a `triptych` command writing
to the same store), then raises `StoreBusyError`. `WriteBehindStore` wraps that repository: a write
that gives up on the lock (a moved card, a renamed or new session, a collapse, a delete…) joins a
queue instead, and every later write queues behind it, so they land in the order the user made them.
The window has already shown the change (the engine announces it either way); the queue writes it
when the lock frees, retrying on the event loop with backoff (each try waits at most the busy
timeout). While writes wait, the sessions they create, rename, delete or restore read back as they
will be (the sidebar and "open this session" see them); cards are the window's own graph.

Listeners (`subscribe`) hear the number of writes still waiting after each change (the status bar
says "Saving… (the store is busy)" while it is not 0). A queued write that fails for another reason
(disk full) is dropped and reported to the loop's exception handler, the one place errors are shown.
On quit, `flush(within)` tries for a few seconds and returns what could not be written. No Qt here.

Threading: the asyncio loop thread only (the Qt main thread in the GUI).
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import logging
import time
from collections import deque
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.arena import Match, Vote
from app.domain import Edge, Graph, Node, Session, SessionSummary, Viewport
from app.repository import Repository, SearchHit, StoreBusyError

if TYPE_CHECKING:
    from app.outline import CardOutline

log = logging.getLogger(__name__)

FIRST_RETRY_S = 0.05
MAX_RETRY_S = 1.0
PendingListener = Callable[[int], None]


@dataclass(slots=True)
class _Write:
    label: str  # what the user did, in words ("move 2 cards"), for the quit message
    write: Callable[[], object]
    key: str | None = None  # a later write with the same key replaces this one while it waits (viewport)


class WriteBehindStore:
    """A `Repository` whose writes queue while another process holds the store's write lock (see the
    module docstring). Reads go straight to the wrapped store; anything else it has (`path`,
    `set_busy_timeout`, the arena's methods) is reached through attribute access."""

    def __init__(self, repo: Repository) -> None:
        self.repo = repo
        self._queue: deque[_Write] = deque()
        self._sessions: dict[str, Session] = {}  # what queued writes will make of these sessions
        self._listeners: list[PendingListener] = []
        self._timer: asyncio.TimerHandle | None = None  # the next retry of the waiting writes
        self._delay = FIRST_RETRY_S
        self.last_busy = ""  # why the oldest waiting write could not be made, last time it was tried

    def __repr__(self) -> str:
        return f"<WriteBehindStore waiting={len(self._queue)}>"

    def __getattr__(self, name: str) -> Any:
        return getattr(self.repo, name)

    # ------------------------------------------------------------------ the queue
    @property
    def pending(self) -> int:
        """How many writes wait for the store's lock."""
        return len(self._queue)

    def pending_labels(self) -> list[str]:
        return [w.label for w in self._queue]

    def subscribe(self, fn: PendingListener) -> None:
        self._listeners.append(fn)

    def unsubscribe(self, fn: PendingListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(fn)

    def _tell(self) -> None:
        count = len(self._queue)
        for fn in list(self._listeners):
            try:
                fn(count)
            except Exception:
                log.exception("write-queue listener failed")

    def _submit(self, label: str, write: Callable[[], object], key: str | None = None) -> bool:
        """Write now if nothing waits and the lock is free; else queue. True when written now."""
        if not self._queue:
            try:
                write()
                return True
            except StoreBusyError:
                log.info("the store is busy (another program is writing): %s is queued", label)
        elif key is not None and self._queue[-1].key == key:
            self._queue[-1] = _Write(label, write, key)  # the newer one says it all (a viewport)
            return False
        self._queue.append(_Write(label, write, key))
        self._tell()
        self._start()
        return False

    def _start(self) -> None:
        if self._timer is not None:
            return
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:  # no loop (a script): `flush` writes them
            return
        self._timer = loop.call_later(self._delay, self._retry)

    def _retry(self) -> None:
        """Timer callback: write what the lock lets through, in order; try again later (backing off)
        while the oldest write still finds the store locked."""
        self._timer = None
        before = len(self._queue)
        while self._queue and self._write_head():
            pass
        if len(self._queue) != before:
            self._settle()
            self._delay = FIRST_RETRY_S
        else:
            self._delay = min(self._delay * 2, MAX_RETRY_S)
        if self._queue:
            self._start()

    def _write_head(self) -> bool:
        """Try the oldest waiting write: True when it is done with (written, or failed for good)."""
        head = self._queue[0]
        try:
            head.write()
        except StoreBusyError as exc:
            self.last_busy = str(exc)
            return False
        except Exception as exc:  # not the lock: it would fail again; drop it and say so
            log.error("could not save %s: %s", head.label, exc)
            self._queue.popleft()
            with contextlib.suppress(RuntimeError):
                asyncio.get_running_loop().call_exception_handler(
                    {"message": f"could not save {head.label}", "exception": exc})
            return True
        self._queue.popleft()
        return True

    def _settle(self) -> None:
        if not self._queue:
            self._sessions.clear()
            log.info("the store is free again: every queued write is saved")
        self._tell()

    async def flush(self, within: float) -> list[str]:
        """Try the waiting writes for up to `within` seconds (on quit); returns the labels of those
        still not written."""
        deadline = time.monotonic() + within
        delay = FIRST_RETRY_S
        while self._queue:
            before = len(self._queue)
            while self._queue and self._write_head():
                pass
            if len(self._queue) != before:
                self._settle()
            left = deadline - time.monotonic()
            if not self._queue or left <= 0:
                break
            await asyncio.sleep(min(delay, left))
            delay = min(delay * 2, MAX_RETRY_S)
        return self.pending_labels()

    # ------------------------------------------------------------------ sessions (overlaid while queued)
    def _intend(self, session: Session) -> None:
        if self._queue:
            self._sessions[session.id] = copy.deepcopy(session)

    def create_session(self, session: Session) -> Session:
        snapshot = copy.deepcopy(session)
        self._submit(f"the new session “{session.title}”", lambda: self.repo.create_session(snapshot))
        self._intend(session)
        return session

    def get_session(self, session_id: str) -> Session | None:
        if session_id in self._sessions:
            return copy.deepcopy(self._sessions[session_id])
        return self.repo.get_session(session_id)

    def update_session(self, session: Session) -> None:
        snapshot = copy.deepcopy(session)
        self._submit(f"the session “{session.title}”", lambda: self.repo.update_session(snapshot))
        self._intend(session)

    def save_viewport(self, session_id: str, viewport: Viewport) -> None:
        vp = Viewport(viewport.x, viewport.y, viewport.zoom)
        self._submit("where you were looking", lambda: self.repo.save_viewport(session_id, vp),
                     key=f"viewport:{session_id}")
        if session_id in self._sessions:
            self._sessions[session_id].viewport = vp

    def _mark_deleted(self, session_id: str, deleted: bool) -> None:
        session = self.get_session(session_id)
        if session is not None and self._queue:
            session.deleted = deleted
            self._sessions[session_id] = session

    def delete_session(self, session_id: str) -> None:
        self._submit("a deleted session", lambda: self.repo.delete_session(session_id))
        self._mark_deleted(session_id, True)

    def restore_session(self, session_id: str) -> None:
        self._submit("a restored session", lambda: self.repo.restore_session(session_id))
        self._mark_deleted(session_id, False)

    def list_sessions(self, include_deleted: bool = False) -> list[SessionSummary]:
        found = self.repo.list_sessions(include_deleted)
        if not self._sessions:
            return found
        by_id = {s.id: s for s in found}
        for sid, session in self._sessions.items():
            if session.deleted and not include_deleted:
                by_id.pop(sid, None)
                continue
            known = by_id.get(sid)
            by_id[sid] = SessionSummary(sid, session.title, session.created_at, session.updated_at,
                                        known.node_count if known is not None else 0,
                                        sweep_cells=known.sweep_cells if known is not None else None)
        return sorted(by_id.values(), key=lambda s: s.updated_at, reverse=True)

    def purge_session(self, session_id: str) -> None:
        self._submit("a purged session", lambda: self.repo.purge_session(session_id))

    def duplicate_session(self, session_id: str, title: str | None = None) -> Session:
        """Not queued (the store makes the copy): raises StoreBusyError while writes wait or the store
        is locked."""
        if self._queue:
            raise StoreBusyError("another program is writing to the store; changes are waiting to be saved")
        return self.repo.duplicate_session(session_id, title)

    def resolve_session(self, ref: str) -> str | None:
        return self.repo.resolve_session(ref)

    # ------------------------------------------------------------------ nodes and edges
    def add_nodes(self, nodes: Sequence[Node], edges: Sequence[Edge] = ()) -> None:
        nodes, edges = list(nodes), list(edges)
        self._submit(_count(len(nodes), "new card"), lambda: self.repo.add_nodes(nodes, edges))

    def update_node(self, node: Node) -> None:
        self._submit(f"a change to a card ({node.kind.value})", lambda: self.repo.update_node(node))

    def update_stream(self, node: Node) -> None:
        """Streamed text: not queued (the engine keeps it in memory and retries, app/lanes.py); refused
        while other writes wait, so it never lands before them."""
        if self._queue:
            raise StoreBusyError("another program is writing to the store; changes are waiting to be saved")
        self.repo.update_stream(node)

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None:
        moved = dict(positions)
        self._submit(f"{_count(len(moved), 'moved card')}", lambda: self.repo.move_nodes(moved))

    def delete_nodes(self, node_ids: Iterable[str]) -> tuple[list[Node], list[Edge]]:
        ids = list(dict.fromkeys(node_ids))
        if not self._queue:
            try:
                return self.repo.delete_nodes(ids)
            except StoreBusyError:
                pass
        # what the store will delete, read now (reading needs no lock), for the caller's undo
        nodes = sorted(self.repo.load_nodes(ids), key=lambda n: (n.created_at, n.id))
        gone = set(ids)
        edges: list[Edge] = []
        for sid in dict.fromkeys(n.session_id for n in nodes):
            edges.extend(e for e in self.repo.load_edges(sid) if e.parent_id in gone or e.child_id in gone)
        edges.sort(key=lambda e: (e.child_id, e.position, e.parent_id))
        self._submit(_count(len(ids), "deleted card"), lambda: self.repo.delete_nodes(ids))
        return nodes, edges

    def add_edges(self, edges: Sequence[Edge]) -> None:
        edges = list(edges)
        self._submit(_count(len(edges), "new link"), lambda: self.repo.add_edges(edges))

    def remove_edges(self, edges: Sequence[Edge]) -> None:
        edges = list(edges)
        self._submit(_count(len(edges), "removed link"), lambda: self.repo.remove_edges(edges))

    # the arena's writes (app.arena.ArenaStore; the wrapped store must have them)
    def add_match(self, match: Match) -> None:
        self._submit("a blind match", lambda: self.repo.add_match(match))  # type: ignore[attr-defined]

    def add_matches(self, matches: Sequence[Match]) -> None:
        found = list(matches)
        self._submit(_count(len(found), "blind match", "es"), lambda: self.repo.add_matches(found))  # type: ignore[attr-defined]

    def record_vote(self, vote: Vote) -> None:
        self._submit(f"your vote ({vote.vote})", lambda: self.repo.record_vote(vote))  # type: ignore[attr-defined]

    def mark_orphans_interrupted(self, stale_after_s: float = 10.0) -> list[str]:
        """Another process's dead lanes: tried again at the next check while the store is busy."""
        if self._queue:
            return []
        try:
            return self.repo.mark_orphans_interrupted(stale_after_s)
        except StoreBusyError:
            return []

    # ------------------------------------------------------------------ reads
    def load_graph(self, session_id: str) -> Graph:
        if session_id in self._sessions and self.repo.get_session(session_id) is None:
            return Graph(session=copy.deepcopy(self._sessions[session_id]))
        return self.repo.load_graph(session_id)

    def load_edges(self, session_id: str) -> list[Edge]:
        return self.repo.load_edges(session_id)

    def load_outline(self, session_id: str) -> list[CardOutline]:
        return self.repo.load_outline(session_id)

    def nodes_in_rect(self, session_id: str, left: float, top: float, right: float, bottom: float) -> list[Node]:
        return self.repo.nodes_in_rect(session_id, left, top, right, bottom)

    def load_nodes(self, node_ids: Sequence[str]) -> list[Node]:
        return self.repo.load_nodes(node_ids)

    def node_ids(self, session_id: str) -> set[str]:
        return self.repo.node_ids(session_id)

    def get_node(self, node_id: str) -> Node | None:
        return self.repo.get_node(node_id)

    def resolve_node(self, ref: str) -> str | None:
        return self.repo.resolve_node(ref)

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        return self.repo.search(query, limit)

    def session_totals(self, session_id: str) -> dict[str, float | int]:
        return self.repo.session_totals(session_id)

    def close(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self.repo.close()


def _count(n: int, what: str, plural: str = "s") -> str:
    return f"{n} {what}{'' if n == 1 else plural}"
