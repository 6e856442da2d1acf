"""`SqliteRepository`: the `app.repository.Repository` protocol on SQLAlchemy Core over SQLite.

Core, not the ORM: rows become domain dataclasses directly (no identity map, no unit of work), which
keeps `load_graph` of a 10,000-node session and the streaming `update_stream` cheap.

Threading and processes: methods are synchronous, may be called from any thread, and each runs one
short transaction on a pooled connection. Writes start with `BEGIN IMMEDIATE` and wait up to 5 s for
another process's writer (the GUI and the CLI may share one store; the GUI lowers the wait to ~50 ms
with `set_busy_timeout`, past which a write raises StoreBusyError); reads see one consistent
snapshot. A damaged file surfaces as `CorruptStoreError` (a `StoreError`) naming it.

The class is the transaction boundary; the SQL lives with its tables: storage/rows.py (rows <->
domain objects, bulk reads), storage/sessions.py, storage/nodes.py (outline, viewport, deletes),
storage/recovery.py (orphaned streams), storage/search.py (the LIKE fallback), storage/arena.py and
storage/blobs.py.
"""

from __future__ import annotations

import os
import socket
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType

from sqlalchemy import (
    Connection,
    Engine,
    bindparam,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import DBAPIError

from app.arena import Match, Vote
from app.domain import (
    Edge,
    Graph,
    Node,
    Session,
    SessionSummary,
    Viewport,
    current_user,
    now_ts,
)
from app.fsutil import create_private, private_dir, tighten
from app.outline import CardOutline
from app.paths import DB_FILENAME
from app.repository import Repository, SearchHit, StoreError
from storage import arena as _arena
from storage import blobs as _blobs
from storage import migrations as _migrations
from storage import nodes as _nodes
from storage import recovery as _recovery
from storage import search as _search
from storage import sessions as _sessions
from storage import sqlite
from storage.migrations import MIGRATIONS, Migration
from storage.rows import (
    _LOAD_NODES,
    _NODE_COLUMNS,
    _chunks,
    _clean_or_none,
    _dumps,
    _edge_values,
    _edges_of_session,
    _fetchall,
    _fill_authors,
    _gc_paused,
    _node_from_row,
    _node_values,
    _nodes_of_session,
    _session_values,
    _stream_values,
)
from storage.rows import INTERRUPTED_MESSAGE as INTERRUPTED_MESSAGE  # noqa: PLC0414 (re-exported)
from storage.schema import edges as edges_t
from storage.schema import matches as matches_t
from storage.schema import nodes as nodes_t
from storage.schema import sessions as sessions_t

# sessions.updated_at of one session (executed with many rows for several): compiled once, cached
_TOUCH_SESSIONS = update(sessions_t).where(sessions_t.c.id == bindparam("b_sid")).values(updated_at=bindparam("b_now"))


class SqliteRepository:
    """The store. Create it with `open_store`; close it with `close()` (or use it as a context
    manager). See the module docstring for the threading contract."""

    def __init__(
        self,
        engine: Engine,
        path: Path,
        *,
        fts: bool = True,
        backup_path: Path | None = None,
        applied_migrations: Sequence[str] = (),
    ) -> None:
        self._engine = engine
        self._write_engine = sqlite.writer(engine)
        self._path = path
        self._fts = fts
        self.backup_path = backup_path
        """The copy taken before migrating an older database at open, if any."""
        self.applied_migrations = list(applied_migrations)
        """Migrations applied when this store was opened (empty when it was already current)."""
        self._here = socket.gethostname()
        self.user = current_user()  # who writes: sessions' owner, cards' author (DESIGN.md "Team store")
        self._stream_stmt = update(nodes_t).where(nodes_t.c.id == bindparam("b_id"))

    def __repr__(self) -> str:
        return f"<SqliteRepository {self._path}>"

    @property
    def path(self) -> Path:
        return self._path

    @property
    def uses_fts(self) -> bool:
        """Whether search runs on the FTS5 index (False: LIKE fallback)."""
        return self._fts

    def __enter__(self) -> SqliteRepository:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    @property
    def busy_timeout_ms(self) -> int:
        """How long (ms) a write waits for another process's write lock before StoreBusyError (5 s)."""
        return sqlite.busy_timeout(self._engine)

    def set_busy_timeout(self, ms: int) -> None:
        """The busy timeout of every later call, any thread (the GUI's ~50 ms: never freeze the window)."""
        sqlite.set_busy_timeout(self._engine, ms)

    @contextmanager
    def _read(self) -> Iterator[Connection]:
        with sqlite.translate_errors(self._path, self.busy_timeout_ms), self._engine.connect() as conn:
            yield conn

    @contextmanager
    def _write(self) -> Iterator[Connection]:
        with sqlite.translate_errors(self._path, self.busy_timeout_ms), self._write_engine.begin() as conn:
            yield conn

    @staticmethod
    def _touch_sessions(conn: Connection, session_ids: Iterable[str], now: float) -> None:
        ids = sorted(set(session_ids))
        if ids:  # one cached statement (an IN list is compiled anew each time: most of a small write's CPU)
            conn.execute(_TOUCH_SESSIONS, [{"b_sid": sid, "b_now": now} for sid in ids])

    # sessions ---------------------------------------------------------------------------------------

    def create_session(self, session: Session) -> Session:
        session.owner = session.owner or self.user
        with self._write() as conn:
            conn.execute(insert(sessions_t).values(_session_values(session)))
        return session

    def get_session(self, session_id: str) -> Session | None:
        """The session, soft-deleted ones included (`deleted` is then True)."""
        with self._read() as conn:
            return _sessions.get_session(conn, session_id)

    def update_session(self, session: Session) -> None:
        """Write title, viewport and settings; sets `updated_at` to now (also on the object)."""
        session.updated_at = now_ts()
        with self._write() as conn:
            conn.execute(
                update(sessions_t)
                .where(sessions_t.c.id == session.id)
                .values(
                    title=_clean_or_none(session.title),
                    viewport=_dumps(session.viewport.to_dict()),
                    settings=_dumps(session.settings),
                    updated_at=session.updated_at,
                )
            )

    def save_viewport(self, session_id: str, viewport: Viewport) -> None:  # (not a change: updated_at stays)
        with self._write() as conn:
            conn.execute(update(sessions_t).where(sessions_t.c.id == session_id).values(viewport=_dumps(viewport.to_dict())))

    def list_sessions(self, include_deleted: bool = False) -> list[SessionSummary]:
        """Newest first (updated_at), with node counts."""
        with self._read() as conn:
            return _sessions.list_sessions(conn, include_deleted, viewer=self.user)

    def delete_session(self, session_id: str) -> None:
        """Soft delete (restorable with `restore_session`, for undo)."""
        with self._write() as conn:
            conn.execute(
                update(sessions_t)
                .where(sessions_t.c.id == session_id, sessions_t.c.deleted_at.is_(None))
                .values(deleted_at=now_ts())
            )

    def restore_session(self, session_id: str) -> None:
        with self._write() as conn:
            conn.execute(update(sessions_t).where(sessions_t.c.id == session_id).values(deleted_at=None))

    def purge_session(self, session_id: str) -> None:
        """Hard delete with all nodes and edges (foreign keys cascade), and every attached file that no
        other session's prompt carries."""
        with self._write() as conn:
            ids = list(conn.execute(select(nodes_t.c.id).where(nodes_t.c.session_id == session_id)).scalars())
            _blobs.delete_files(conn, ids)
            conn.execute(delete(sessions_t).where(sessions_t.c.id == session_id))

    def duplicate_session(self, session_id: str, title: str | None = None) -> Session:
        """A copy with new ids for the session, every node and edge (fields and positions kept; the
        copy's nodes keep their creation order). Raises KeyError for an unknown session. A node still
        streaming in the original is copied as `interrupted` with no owner: nothing streams into the
        copy."""
        with self._write() as conn:
            return _sessions.duplicate_session(conn, session_id, title, now_ts())

    def resolve_session(self, ref: str) -> str | None:
        """A full id, a unique id prefix or suffix (>= 4 chars, any case), or 'last' (the most
        recently updated session) -> the session id. Soft-deleted sessions are not resolved."""
        with self._read() as conn:
            return _sessions.resolve_session(conn, ref.strip(), viewer=self.user)

    # nodes and edges --------------------------------------------------------------------------------

    def load_graph(self, session_id: str) -> Graph:
        """The whole session: nodes in creation order (created_at, then id), edges ordered by
        (child, position). Raises KeyError for an unknown session (soft-deleted ones load).

        The two big queries run on the DBAPI cursor with `fetchall()`, and the session id column is
        not fetched: SQLAlchemy's per-row fetch and Row objects cost a fifth of the load of a
        10,000-card session (bench/bench_store.py, target ≤ 100 ms)."""
        with self._read() as conn, _gc_paused():
            session = _sessions.get_session(conn, session_id)
            if session is None:
                raise KeyError(f"no session {session_id}")
            node_list = _nodes_of_session(_fetchall(conn, _LOAD_NODES, session_id), session_id)
            edge_list = _edges_of_session(conn, session_id)
            _blobs.attach(node_list, _blobs.files_of_session(conn, session_id))
            matches = _arena.load_matches(conn, session_id=session_id)
        return Graph(session, {node.id: node for node in node_list}, edge_list, matches=matches)

    def load_edges(self, session_id: str) -> list[Edge]:
        """The session's edges alone, in `load_graph`'s order: what the window re-reads after a send
        (~5 ms for 10,000 edges, where `load_graph` reads every card's text)."""
        with self._read() as conn:
            return _edges_of_session(conn, session_id)

    def load_outline(self, session_id: str) -> list[CardOutline]:
        """Every node of the session without its text: id, kind, status, model, colour, position and
        size, in creation order (~10 ms for 10,000 cards, where `load_graph` reads 23 MB of text).
        What a window opening the session needs before it reads the cards it shows."""
        with self._read() as conn, _gc_paused():
            return _nodes.load_outline(conn, session_id)

    def nodes_in_rect(
        self, session_id: str, left: float, top: float, right: float, bottom: float
    ) -> list[Node]:
        """The full nodes of the session's cards that overlap the rectangle (scene units), through the
        index on (session_id, x, y): cards start at most `MAX_CARD_EXTENT` left of or above it."""
        with self._read() as conn, _gc_paused():
            return _nodes.nodes_in_rect(conn, session_id, left, top, right, bottom)

    def load_nodes(self, node_ids: Sequence[str]) -> list[Node]:
        """The full nodes of `node_ids` that exist (any order)."""
        out: list[Node] = []
        with self._read() as conn, _gc_paused():
            for chunk in _chunks(list(node_ids)):
                stmt = select(*_NODE_COLUMNS).where(nodes_t.c.id.in_(chunk))
                out.extend(_nodes.read_nodes(conn, stmt))
        return out

    def node_ids(self, session_id: str) -> set[str]:
        """The session's node ids (~3 ms for 10,000: the primary-key index, no row text)."""
        with self._read() as conn:
            return set(conn.execute(select(nodes_t.c.id).where(nodes_t.c.session_id == session_id)).scalars())

    def get_node(self, node_id: str) -> Node | None:
        with self._read() as conn:
            row = conn.execute(select(*_NODE_COLUMNS).where(nodes_t.c.id == node_id)).first()
            if row is None:
                return None
            node = _node_from_row(row)
            _blobs.attach([node], _blobs.files_of_nodes(conn, [node.id]))
        return node

    def resolve_node(self, ref: str) -> str | None:
        """A full node id or a unique prefix/suffix (>= 4 chars, any case) -> the node id. Nodes of
        soft-deleted sessions are not resolved."""
        base = (
            select(nodes_t.c.id)
            .join(sessions_t, sessions_t.c.id == nodes_t.c.session_id)
            .where(sessions_t.c.deleted_at.is_(None))
        )
        with self._read() as conn:
            return _sessions.resolve_id(conn, nodes_t.c.id, ref.strip(), base)

    def add_nodes(self, nodes: Sequence[Node], edges: Sequence[Edge] = ()) -> None:
        """Insert nodes and edges in one transaction (touches the sessions' updated_at). Fields are
        stored as given, timestamps included (an undo or an import restores them exactly). An edge
        with an empty `session_id` takes its child's."""
        now = now_ts()
        _fill_authors(nodes, self.user)
        with self._write() as conn:
            if nodes:
                conn.execute(insert(nodes_t), [_node_values(node) for node in nodes])
                _blobs.save_files(conn, nodes)
            edge_sessions: list[str] = []
            if edges:
                edge_sessions = _nodes.edge_sessions(conn, edges, {n.id: n.session_id for n in nodes})
                conn.execute(
                    insert(edges_t),
                    [_edge_values(e, s) for e, s in zip(edges, edge_sessions, strict=True)],
                )
            self._touch_sessions(conn, [n.session_id for n in nodes] + edge_sessions, now)

    # arena (app.arena.ArenaStore) ----------------------------------------------------------------------

    def add_match(self, match: Match) -> None:
        """Insert a blind match (and any votes it carries)."""
        with self._write() as conn:
            _arena.insert_matches(conn, [match])

    def add_matches(self, matches: Sequence[Match]) -> None:
        """Insert matches with their votes in one transaction (an import)."""
        with self._write() as conn:
            _arena.insert_matches(conn, matches)

    def get_match(self, match_id: str) -> Match | None:
        with self._read() as conn:
            found = _arena.load_matches(conn, match_id=match_id)
        return found[0] if found else None

    def resolve_match(self, ref: str) -> str | None:
        """A full match id or a unique prefix/suffix (>= 4 chars, any case) -> the match id."""
        with self._read() as conn:
            return _sessions.resolve_id(conn, matches_t.c.id, ref.strip(), select(matches_t.c.id))

    def record_vote(self, vote: Vote) -> None:
        """Insert the vote, replacing the same voter's earlier vote on that match."""
        with self._write() as conn:
            _arena.upsert_vote(conn, vote)

    def list_matches(self, session_id: str | None = None) -> list[Match]:
        """Every match (of one session, or of every session not deleted), oldest first, with its votes."""
        with self._read() as conn:
            found = _arena.load_matches(conn, session_id=session_id)
            if session_id is None:
                live = set(conn.execute(select(sessions_t.c.id).where(sessions_t.c.deleted_at.is_(None))).scalars())
                found = [m for m in found if m.session_id in live]
        return found

    def update_node(self, node: Node) -> None:
        """Write every field of an existing node (one transaction); sets `updated_at` (and the owner's
        heartbeat, if it has an owner) to now, also on the object. Touches the session's updated_at.
        A node that no longer exists is ignored."""
        now = now_ts()
        node.updated_at = now
        if node.owner is not None:
            node.owner.heartbeat = now
        values = _node_values(node)
        del values["id"]
        values["b_id"] = node.id
        with self._write() as conn:
            result = conn.execute(self._stream_stmt, values)
            if result.rowcount:
                self._touch_sessions(conn, [node.session_id], now)

    def update_stream(self, node: Node) -> None:
        """Fast path while streaming (at most every 250 ms per node): one UPDATE of text, reasoning,
        status, error, finish, usage, cost, timing, owner and `updated_at`. `updated_at` and the
        owner's heartbeat are set to now, also on the object. A node that no longer exists (deleted
        meanwhile) is ignored. While the status is pending/streaming the text is not indexed for
        search; it is when the node reaches a final status."""
        now = now_ts()
        node.updated_at = now
        if node.owner is not None:
            node.owner.heartbeat = now
        values = _stream_values(node)
        values["b_id"] = node.id
        with self._write() as conn:
            conn.execute(self._stream_stmt, values)

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None:
        if not positions:
            return
        now = now_ts()
        ids = list(positions)
        with self._write() as conn:
            conn.execute(
                update(nodes_t).where(nodes_t.c.id == bindparam("b_id")),
                [{"b_id": node_id, "x": x, "y": y} for node_id, (x, y) in positions.items()],
            )
            self._touch_sessions(conn, _nodes.sessions_of_nodes(conn, ids), now)

    def delete_nodes(self, node_ids: Iterable[str]) -> tuple[list[Node], list[Edge]]:
        """Delete nodes and every edge touching them; return what was deleted (nodes in creation
        order, edges by child and position) so that `add_nodes(nodes, edges)` undoes it."""
        ids = list(dict.fromkeys(node_ids))
        if not ids:
            return [], []
        now = now_ts()
        with self._write() as conn:
            deleted_nodes, deleted = _nodes.delete_nodes(conn, ids)
            self._touch_sessions(conn, [n.session_id for n in deleted_nodes], now)
        deleted_nodes.sort(key=lambda n: (n.created_at, n.id))
        deleted_edges = sorted(deleted, key=lambda e: (e.child_id, e.position, e.parent_id))
        return deleted_nodes, deleted_edges

    def add_edges(self, edges: Sequence[Edge]) -> None:
        """Insert edges (an edge with an empty `session_id` takes its child's)."""
        if not edges:
            return
        with self._write() as conn:
            sessions = _nodes.edge_sessions(conn, edges, {})
            conn.execute(insert(edges_t), [_edge_values(e, s) for e, s in zip(edges, sessions, strict=True)])
            self._touch_sessions(conn, sessions, now_ts())

    def remove_edges(self, edges: Sequence[Edge]) -> None:
        """Remove edges by (parent, child, role); absent ones are ignored."""
        if not edges:
            return
        keys = [(e.parent_id, e.child_id, e.role.value) for e in edges]
        with self._write() as conn:
            touched = _nodes.remove_edges(conn, keys)
            self._touch_sessions(conn, touched, now_ts())

    # crash recovery and search ----------------------------------------------------------------------

    def mark_orphans_interrupted(self, stale_after_s: float = 10.0) -> list[str]:
        """Mark `pending`/`streaming` nodes whose owner is gone as `interrupted` (text and reasoning
        kept, owner cleared, error kind "interrupted"); returns their ids. Gone: no owner, a heartbeat
        older than `stale_after_s`, or an owner process on this host that no longer exists. Takes a
        write lock only when it finds one (the window calls this every second while another process
        streams into the open session: that process's saves must not queue behind it)."""
        here = self._here
        with self._read() as conn:
            if not _recovery.find_orphans(conn, here=here, stale_after_s=stale_after_s):
                return []
        with self._write() as conn:
            orphans = _recovery.find_orphans(conn, here=here, stale_after_s=stale_after_s)  # again: an owner
            _recovery.mark_interrupted(conn, orphans)  # may have beaten meanwhile
        return orphans

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        """Nodes and session titles matching every term of what the user typed (any punctuation is
        safe; the last term is prefix-matched), best first, with a snippet whose matched terms are in
        [ ]. A session-title hit has kind "session" and an empty node_id. Soft-deleted sessions are
        excluded. Nodes still streaming are not indexed yet (FTS5)."""
        query = query.strip()
        if not query or limit <= 0:
            return []
        match = sqlite.fts_query(query) if self._fts else None
        with self._read() as conn:
            if match is not None:
                try:
                    return sqlite.search_fts(conn, match, limit)
                except DBAPIError as exc:
                    if sqlite.is_corruption(exc):
                        raise
                    conn.rollback()  # an FTS5 query error: answer with the fallback instead
            return _search.search_like(conn, query.split(), limit)

    def session_totals(self, session_id: str) -> dict[str, float | int]:
        """Sums over the session's response and synthesis nodes: {"input", "cached_input",
        "cache_write", "output", "reasoning", "cost_usd", "nodes", "unreported", "cost_unknown"}. Unreported token
        counts count as 0, and "unreported" says how many ended answers (stopped, cut, failed with some text,
        or from a server that reports nothing) have no reported usage, so the sums leave them out; cost is the
        computed cost, else the provider-reported one."""
        with self._read() as conn:
            return _sessions.session_totals(conn, session_id)

    def check_integrity(self) -> list[str]:
        """SQLite's `PRAGMA quick_check`: [] when the file is sound, else the problems it lists."""
        with self._read() as conn:
            rows = [str(r[0]) for r in conn.exec_driver_sql("PRAGMA quick_check")]
        return [] if rows == ["ok"] else rows

    def close(self) -> None:
        """Close every pooled connection (the last one checkpoints the WAL)."""
        self._engine.dispose()


def _as_repository(repo: SqliteRepository) -> Repository:
    return repo  # mypy checks that SqliteRepository implements the protocol


# --------------------------------------------------------------------------------------------------
# opening


def _ensure_writable_dir(directory: Path, data_dir: bool = True) -> None:
    """Create `directory` (0700, whatever the umask) and check it is writable. A data dir that exists
    is tightened to 0700 as well; the folder of a database named by its path (`x.db`) is left as is."""
    try:
        if data_dir:
            private_dir(directory)
        else:
            directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    except OSError as exc:
        raise StoreError(f"cannot create the data dir {directory}: {exc.strerror or exc}") from exc
    try:
        with tempfile.TemporaryFile(dir=directory, prefix=".triptych-write-test-"):
            pass
    except OSError as exc:
        raise StoreError(f"the data dir {directory} is not writable: {exc.strerror or exc}") from exc


def _make_private(db_path: Path, backup: Path | None) -> None:
    """The store file owner-only (0600) before SQLite opens it: SQLite gives the -wal and -shm files it
    creates the database file's mode. An existing store (and its -wal/-shm, written by an older
    version with the umask's 0644) and a migration backup are tightened."""
    try:
        create_private(db_path)
    except OSError:
        return  # a read-only file or dir: inspecting and opening it say what is wrong
    for suffix in ("-wal", "-shm", "-journal"):
        tighten(db_path.with_name(db_path.name + suffix))
    if backup is not None:
        tighten(backup)


def open_store(
    path_or_dir: str | os.PathLike[str],
    *,
    migrations: Sequence[Migration] = MIGRATIONS,
    fts: bool = True,
) -> SqliteRepository:
    """Open (creating if needed) the store in a data dir (`<dir>/triptych.db`; the dir is created) or
    at a `.db` path.

    Before anything writes, the file is inspected read-only: a damaged file or another program's
    database raises `CorruptStoreError`, a newer schema raises `NewerSchemaError` (both StoreErrors
    naming the file, which stays byte-identical). An older schema is copied to
    `<name>.bak-<version>-<timestamp>` and migrated. An unwritable dir raises StoreError naming it.

    `migrations` replaces the built-in list (tests); `fts=False` forces the LIKE search fallback.
    A `postgresql+psycopg://…` URL opens the team store instead (storage.pg_repository).
    """
    if isinstance(path_or_dir, str) and path_or_dir.startswith(("postgresql", "postgres:")):
        from storage.pg_repository import open_pg_store

        return open_pg_store(path_or_dir, migrations=migrations)
    db_path = sqlite.resolve_db_path(os.fspath(path_or_dir))
    _ensure_writable_dir(db_path.parent, data_dir=db_path.name == DB_FILENAME)
    info = _migrations.check_file(db_path, migrations)
    backup = (
        sqlite.backup_before_migration(db_path, info.user_version)
        if _migrations.needs_backup(info, migrations)
        else None
    )
    _make_private(db_path, backup)
    engine = sqlite.make_engine(db_path)
    try:
        with sqlite.translate_errors(db_path):
            applied = _migrations.apply_pending(engine, db_path, migrations)
            use_fts = sqlite.ensure_search_index(engine, enabled=fts)
    except DBAPIError as exc:
        engine.dispose()
        raise StoreError(f"cannot open {db_path}: {exc.orig}") from exc
    except BaseException:
        engine.dispose()
        raise
    return SqliteRepository(engine, db_path, fts=use_fts, backup_path=backup, applied_migrations=applied)
