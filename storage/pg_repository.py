"""`PgRepository`: the same repository on PostgreSQL (the team store, DESIGN.md "Team store").

Every query is `SqliteRepository`'s (SQLAlchemy Core over `storage.schema`); what differs is the
transaction set-up, the error translation (a lost server names the host, never the password), the
search (`storage.backend_pg`: tsvector + GIN, ranked), and that every write NOTIFYs the other
members' windows (`storage.pg_watch`).

    repo = open_store("postgresql+psycopg://user@host/db")
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Engine, event, select, update
from sqlalchemy.exc import DBAPIError

from app.domain import Edge, Node, Session, Viewport
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
        with backend_pg.translate_errors(self._raw_url), self._engine.begin() as conn:
            yield conn

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
        out = super().create_session(session)
        self._announce([session.id], "session")
        return out

    def update_session(self, session: Session) -> None:
        super().update_session(session)
        self._announce([session.id], "session")

    def save_viewport(self, session_id: str, viewport: Viewport) -> None:
        super().save_viewport(session_id, viewport)

    def delete_session(self, session_id: str) -> None:
        super().delete_session(session_id)
        self._announce([session_id], "session")

    def restore_session(self, session_id: str) -> None:
        super().restore_session(session_id)
        self._announce([session_id], "session")

    def add_nodes(self, nodes: Sequence[Node], edges: Sequence[Edge] = ()) -> None:
        super().add_nodes(nodes, edges)
        sessions = {n.session_id for n in nodes} | {e.session_id for e in edges if e.session_id}
        self._announce(sorted(sessions), "add", [n.id for n in nodes])

    def update_node(self, node: Node) -> None:
        super().update_node(node)
        self._announce([node.session_id], "change", [node.id])

    def update_stream(self, node: Node) -> None:
        super().update_stream(node)
        self._announce([node.session_id], "stream", [node.id])

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None:
        super().move_nodes(positions)
        if positions:
            with self._read() as conn:
                sessions = self._sessions_of(conn, list(positions))
            self._announce(sessions, "move", list(positions))

    def delete_nodes(self, node_ids: Iterable[str]) -> tuple[list[Node], list[Edge]]:
        nodes, edges = super().delete_nodes(node_ids)
        if nodes:
            self._announce(sorted({n.session_id for n in nodes}), "delete", [n.id for n in nodes])
        return nodes, edges

    def add_edges(self, edges: Sequence[Edge]) -> None:
        super().add_edges(edges)
        with self._read() as conn:
            sessions = self._sessions_of(conn, [e.child_id for e in edges])
        self._announce(sessions, "add")

    def remove_edges(self, edges: Sequence[Edge]) -> None:
        super().remove_edges(edges)
        with self._read() as conn:
            sessions = self._sessions_of(conn, [e.child_id for e in edges])
        self._announce(sessions, "add")

    def _announce(self, session_ids: Sequence[str], op: str, node_ids: Sequence[str] = ()) -> None:
        """NOTIFY after the write committed (a separate tiny transaction: a lost NOTIFY costs a
        window one refresh, never data)."""
        if not session_ids:
            return
        try:
            with self._write() as conn:
                self._notify(conn, session_ids, op, node_ids)
        except StoreError:
            pass

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
