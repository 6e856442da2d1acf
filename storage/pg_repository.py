"""`PgRepository`: the same repository on PostgreSQL (the team store, DESIGN.md "Team store").

Every query is `SqliteRepository`'s (SQLAlchemy Core over `storage.schema`); what differs is the
transaction set-up, the error translation (a lost server names the host, never the password), the
search (`storage.backend_pg`: tsvector + GIN, ranked), and that every write NOTIFYs the other
members' windows (`storage.pg_watch`).

    repo = open_store("postgresql+psycopg://user@host/db")
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, event, select, update
from sqlalchemy.exc import DBAPIError

from app.domain import Edge, Node, Session
from app.repository import SearchHit, StoreError
from storage import backend_pg
from storage import migrations as _migrations
from storage import search as _search
from storage.migrations import MIGRATIONS, Migration
from storage.repository import SqliteRepository
from storage.schema import nodes as nodes_t
from storage.schema import sessions as sessions_t

if TYPE_CHECKING:
    from storage.pg_watch import PgListener


class PgRepository(SqliteRepository):
    """The store on a PostgreSQL server. Create it with `open_store(url)`."""

    def __init__(self, engine: Engine, url: str, *, applied_migrations: Sequence[str] = ()) -> None:
        super().__init__(engine, Path(os.devnull), fts=True, applied_migrations=applied_migrations)
        self._write_engine = engine
        self.url = backend_pg.redact(url)
        """The store's URL without its password (for messages and logs)."""
        self._raw_url = url
        self.where = backend_pg.where(url)
        self._busy_ms = 5000
        self._local = threading.local()  # the announcement of this thread's next write (`_noting`)
        self.connect_timeout_s = backend_pg.CONNECT_TIMEOUT_S
        """How long a new connection may take (the GUI's store: 2 s, libpq's least; see set_busy_timeout)."""

        @event.listens_for(engine, "do_connect")
        def _on_connect(_dialect: Any, _rec: Any, _args: Any, params: dict[str, Any]) -> None:
            params["connect_timeout"] = self.connect_timeout_s
        self.token = f"{self._here}:{os.getpid()}:{id(self)}"
        """Sent with every NOTIFY: a watcher ignores its own process's writes."""

    def __repr__(self) -> str:
        return f"<PgRepository {self.where}>"

    @property
    def is_team_store(self) -> bool:
        return True

    @property
    def busy_timeout_ms(self) -> int:
        return self._busy_ms

    def set_busy_timeout(self, ms: int) -> None:
        """Row locks are short on PostgreSQL and writers do not block readers; a short timeout (the
        GUI's) also shortens how long reaching a server that went away may take (2 s, libpq's least)."""
        self._busy_ms = int(ms)
        self.connect_timeout_s = 2 if ms < 1000 else backend_pg.CONNECT_TIMEOUT_S

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with backend_pg.translate_errors(self._raw_url), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        """A transaction; the write's announcement (`_noting`) is NOTIFYed inside it, so other members
        hear of a write exactly when it commits, and never of one that failed."""
        with backend_pg.translate_errors(self._raw_url), self._engine.begin() as conn:
            yield conn
            note = getattr(self._local, "note", None)
            if note is not None:
                self._local.note = None
                sessions, op, ids = note
                self._notify(conn, sessions if sessions is not None else self._sessions_of(conn, ids), op, ids)

    @contextmanager
    def _noting(self, sessions: Sequence[str] | None, op: str, ids: Sequence[str] = ()) -> Iterator[None]:
        """The next transaction of this thread announces `op` (sessions None: those of the nodes `ids`)."""
        self._local.note = (sessions, op, list(ids))
        try:
            yield
        finally:
            self._local.note = None

    def _notify(self, conn: Connection, session_ids: Iterable[str], op: str, node_ids: Sequence[str] = ()) -> None:
        backend_pg.notify(conn, list(session_ids), op, node_ids, author=self.user, pid=self.token)

    # writes announce themselves --------------------------------------------------------------------

    @staticmethod
    def _sessions_of(conn: Connection, node_ids: Sequence[str]) -> list[str]:
        if not node_ids:
            return []
        rows = conn.execute(select(nodes_t.c.session_id).where(nodes_t.c.id.in_(list(node_ids))).distinct())
        return [str(r[0]) for r in rows]

    def create_session(self, session: Session) -> Session:
        with self._noting([session.id], "session"):
            return super().create_session(session)

    def update_session(self, session: Session) -> None:
        with self._noting([session.id], "session"):
            super().update_session(session)

    def delete_session(self, session_id: str) -> None:
        with self._noting([session_id], "session"):
            super().delete_session(session_id)

    def restore_session(self, session_id: str) -> None:
        with self._noting([session_id], "session"):
            super().restore_session(session_id)

    def add_nodes(self, nodes: Sequence[Node], edges: Sequence[Edge] = ()) -> None:
        sessions = sorted({n.session_id for n in nodes} | {e.session_id for e in edges if e.session_id})
        with self._noting(sessions or None, "add", [n.id for n in nodes] or [e.child_id for e in edges]):
            super().add_nodes(nodes, edges)

    def update_node(self, node: Node) -> None:
        with self._noting([node.session_id], "change", [node.id]):
            super().update_node(node)

    def update_stream(self, node: Node) -> None:
        with self._noting([node.session_id], "stream", [node.id]):
            super().update_stream(node)

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None:
        with self._noting(None, "move", list(positions)):
            super().move_nodes(positions)

    def delete_nodes(self, node_ids: Iterable[str]) -> tuple[list[Node], list[Edge]]:
        ids = list(dict.fromkeys(node_ids))
        with self._read() as conn:  # (after the delete, the nodes no longer name their sessions)
            sessions = self._sessions_of(conn, ids)
        with self._noting(sessions, "delete", ids):
            return super().delete_nodes(ids)

    def add_edges(self, edges: Sequence[Edge]) -> None:
        with self._noting(None, "add", [e.child_id for e in edges]):
            super().add_edges(edges)

    def remove_edges(self, edges: Sequence[Edge]) -> None:
        with self._noting(None, "add", [e.child_id for e in edges]):
            super().remove_edges(edges)

    def set_visibility(self, session_id: str, visibility: str) -> None:
        """"shared" (every member sees the session) or "private" (only its owner does)."""
        if visibility not in ("shared", "private"):
            raise ValueError(f"visibility must be shared or private, not {visibility!r}")
        with self._write() as conn:
            conn.execute(update(sessions_t).where(sessions_t.c.id == session_id).values(visibility=visibility))
            self._notify(conn, [session_id], "session")

    def listen(self, on_note: Callable[[dict[str, Any]], None]) -> PgListener:
        """Start a LISTEN thread calling `on_note` (on that thread) for other processes' writes."""
        from storage.pg_watch import PgListener

        return PgListener(self._raw_url, on_note, self.token)

    # search and checks -----------------------------------------------------------------------------

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Ranked full-text search (tsvector, GIN), else the LIKE fallback (no word in the query)."""
        query = query.strip()
        if not query or limit <= 0:
            return []
        tsq = backend_pg.ts_query(query)
        visible = ("(s.visibility <> 'private' OR s.owner = :viewer OR s.owner IS NULL)", {"viewer": self.user})
        with self._read() as conn:
            if tsq is not None:
                try:
                    return backend_pg.search(conn, tsq, limit, visible)
                except DBAPIError:
                    conn.rollback()
            hits = _search.search_like(conn, query.split(), limit)
        shown = {s.id for s in self.list_sessions()}
        return [h for h in hits if h.session_id in shown]

    def check_integrity(self) -> list[str]:
        """The server keeps its own files sound: nothing to check from here."""
        with self._read() as conn:
            conn.exec_driver_sql("SELECT 1")
        return []

    def close(self) -> None:
        self._engine.dispose()


def open_pg_store(url: str, *, migrations: Sequence[Migration] = MIGRATIONS) -> PgRepository:
    """Open (migrating if needed) the team store at `url`. An unreachable server raises
    StoreUnreachableError naming host, port and database; a newer schema NewerSchemaError (nothing
    written)."""
    engine = backend_pg.make_engine(url)
    where = backend_pg.where(url)
    try:
        with backend_pg.translate_errors(url):
            applied = _migrations.apply_pending_pg(engine, where, migrations)
            with engine.begin() as conn:
                backend_pg.ensure_search_index(conn)
    except DBAPIError as exc:
        engine.dispose()
        raise StoreError(f"cannot open the team store at {where}: {exc.orig}") from None
    except BaseException:
        engine.dispose()
        raise
    return PgRepository(engine, url, applied_migrations=applied)
