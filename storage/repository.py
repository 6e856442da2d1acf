"""`SqliteRepository`: the `app.repository.Repository` protocol on SQLAlchemy Core over SQLite.

Core, not the ORM: rows become domain dataclasses directly (no identity map, no unit of work), which
keeps `load_graph` of a 10,000-node session and the streaming `update_stream` cheap.

Threading and processes: methods are synchronous, may be called from any thread, and each runs one
short transaction on a pooled connection. Writes start with `BEGIN IMMEDIATE` and wait up to 5 s for
another process's writer (the GUI and the CLI may share one store; the GUI lowers the wait to ~50 ms
with `set_busy_timeout`, past which a write raises StoreBusyError); reads see one consistent
snapshot. A damaged file surfaces as `CorruptStoreError` (a `StoreError`) naming it.
"""

from __future__ import annotations

import gc
import json
import os
import re
import socket
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields, replace
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    and_,
    bindparam,
    case,
    delete,
    func,
    insert,
    or_,
    select,
    tuple_,
    update,
)
from sqlalchemy.exc import DBAPIError

from app import layout
from app.arena import Match, Vote
from app.domain import (
    Edge,
    EdgeRole,
    ErrorInfo,
    Graph,
    Node,
    NodeKind,
    NodeStatus,
    Owner,
    Params,
    Session,
    SessionSummary,
    Timing,
    Usage,
    Viewport,
    new_id,
    now_ts,
)
from app.fsutil import create_private, private_dir, tighten
from app.outline import MAX_CARD_EXTENT, CardOutline
from app.paths import DB_FILENAME
from app.repository import LIVE_STATUSES, Repository, SearchHit, StoreError
from storage import arena as _arena
from storage import blobs as _blobs
from storage import migrations as _migrations
from storage import sqlite
from storage.migrations import MIGRATIONS, Migration
from storage.schema import edges as edges_t
from storage.schema import matches as matches_t
from storage.schema import node_files as node_files_t
from storage.schema import nodes as nodes_t
from storage.schema import sessions as sessions_t

INTERRUPTED_MESSAGE = "The app stopped while this answer was streaming; the text received so far is kept."

_KINDS = {k.value: k for k in NodeKind}
_STATUSES = {s.value: s for s in NodeStatus}
_ROLES = {r.value: r for r in EdgeRole}
_LIVE = [s.value for s in LIVE_STATUSES]
_ANSWER_KINDS = [NodeKind.RESPONSE.value, NodeKind.SYNTHESIS.value]
_CHUNK = 500  # ids per IN (...) list
_PARAM_FIELDS = frozenset(f.name for f in fields(Params))


_SURROGATES = re.compile("[\ud800-\udfff]")


def _clean(text: str) -> str:
    """`text` storable as UTF-8: unpaired surrogates (undecodable input read with `surrogateescape`,
    a JSON `\\ud800` escape in an import or a model's output) become U+FFFD. SQLite would raise on
    them and lose the whole write."""
    if text.isascii() or _SURROGATES.search(text) is None:
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def _clean_or_none(text: str | None) -> str | None:
    return None if text is None else _clean(text)


def _dumps(value: Any) -> str | None:
    """Compact JSON, or NULL for None / an empty dict (most params, meta and errors are empty)."""
    if value is None or value == {}:
        return None
    return _clean(json.dumps(value, ensure_ascii=False, separators=(",", ":")))


def _loads(text: str | None) -> Any:
    return json.loads(text) if text else None


def _chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), _CHUNK):
        yield items[start : start + _CHUNK]


@contextmanager
def _gc_paused() -> Iterator[None]:
    """Pause the cyclic GC while building many objects at once: with it running, building 10,000
    nodes triggers dozens of collections that together cost as much as the building itself."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


# --------------------------------------------------------------------------------------------------
# rows <-> domain objects

_NODE_COLUMNS = (
    nodes_t.c.id,
    nodes_t.c.session_id,
    nodes_t.c.kind,
    nodes_t.c.text,
    nodes_t.c.reasoning,
    nodes_t.c.model,
    nodes_t.c.params,
    nodes_t.c.status,
    nodes_t.c.error,
    nodes_t.c.finish,
    nodes_t.c.input_tokens,
    nodes_t.c.cached_input_tokens,
    nodes_t.c.cache_write_tokens,
    nodes_t.c.output_tokens,
    nodes_t.c.reasoning_tokens,
    nodes_t.c.cost_usd,
    nodes_t.c.reported_cost_usd,
    nodes_t.c.ttft_ms,
    nodes_t.c.duration_ms,
    nodes_t.c.x,
    nodes_t.c.y,
    nodes_t.c.width,
    nodes_t.c.height,
    nodes_t.c.collapsed,
    nodes_t.c.color,
    nodes_t.c.title,
    nodes_t.c.meta,
    nodes_t.c.owner_pid,
    nodes_t.c.owner_host,
    nodes_t.c.heartbeat,
    nodes_t.c.created_at,
    nodes_t.c.updated_at,
)
_EDGE_COLUMNS = (
    edges_t.c.parent_id,
    edges_t.c.child_id,
    edges_t.c.role,
    edges_t.c.position,
    edges_t.c.session_id,
)
_SESSION_COLUMNS = (
    sessions_t.c.id,
    sessions_t.c.title,
    sessions_t.c.created_at,
    sessions_t.c.updated_at,
    sessions_t.c.viewport,
    sessions_t.c.settings,
    sessions_t.c.deleted_at,
)


def _owner_values(owner: Owner | None) -> dict[str, Any]:
    if owner is None:
        return {"owner_pid": None, "owner_host": None, "heartbeat": None}
    return {"owner_pid": owner.pid, "owner_host": owner.host, "heartbeat": owner.heartbeat}


def _stream_values(node: Node) -> dict[str, Any]:
    """The columns `update_stream` writes (also part of every full write)."""
    usage, timing = node.usage, node.timing
    values = {
        "text": _clean(node.text),
        "reasoning": _clean(node.reasoning),
        "status": node.status.value,
        "error": _dumps(node.error.to_dict()) if node.error is not None else None,
        "finish": _clean_or_none(node.finish),
        "input_tokens": usage.input,
        "cached_input_tokens": usage.cached_input,
        "cache_write_tokens": usage.cache_write,
        "output_tokens": usage.output,
        "reasoning_tokens": usage.reasoning,
        "cost_usd": node.cost_usd,
        "reported_cost_usd": node.reported_cost_usd,
        "ttft_ms": timing.ttft_ms,
        "duration_ms": timing.duration_ms,
        "updated_at": node.updated_at,
    }
    values.update(_owner_values(node.owner))
    return values


def _node_values(node: Node) -> dict[str, Any]:
    values = _stream_values(node)
    values.update(
        id=node.id,
        session_id=node.session_id,
        kind=node.kind.value,
        model=_clean_or_none(node.model),
        params=_dumps(node.params.to_dict()),
        x=node.x,
        y=node.y,
        width=node.width,
        height=node.height,
        collapsed=node.collapsed,
        color=_clean_or_none(node.color),
        title=_clean_or_none(node.title),
        meta=_dumps(node.meta),
        created_at=node.created_at,
    )
    return values


# The order of `args` in `_node_from_row`. Positional construction is used only while it matches
# the dataclass's field order (checked here, at import); otherwise keywords, so a reordered
# `app.domain.Node` stays correct.
_NODE_FIELDS = (
    "session_id",
    "kind",
    "text",
    "id",
    "reasoning",
    "model",
    "params",
    "status",
    "error",
    "finish",
    "usage",
    "cost_usd",
    "reported_cost_usd",
    "timing",
    "x",
    "y",
    "width",
    "height",
    "collapsed",
    "color",
    "title",
    "meta",
    "owner",
    "created_at",
    "updated_at",
)
# Fields after these (Node.attachments, filled in afterwards by storage.blobs; Node.run, never stored)
# have defaults.
_NODE_POSITIONAL = tuple(f.name for f in fields(Node))[: len(_NODE_FIELDS)] == _NODE_FIELDS


def _params_from_json(text: str) -> Params:
    data = json.loads(text)
    return Params(**{k: v for k, v in data.items() if k in _PARAM_FIELDS})


def _node_from_row(row: Sequence[Any]) -> Node:
    (
        id_,
        session_id,
        kind,
        text,
        reasoning,
        model,
        params,
        status,
        error,
        finish,
        input_tokens,
        cached_input_tokens,
        cache_write_tokens,
        output_tokens,
        reasoning_tokens,
        cost_usd,
        reported_cost_usd,
        ttft_ms,
        duration_ms,
        x,
        y,
        width,
        height,
        collapsed,
        color,
        title,
        meta,
        owner_pid,
        owner_host,
        heartbeat,
        created_at,
        updated_at,
    ) = row
    args = (
        session_id,
        _KINDS[kind],
        text,
        id_,
        reasoning,
        model,
        _params_from_json(params) if params else Params(),
        _STATUSES[status],
        ErrorInfo.from_dict(json.loads(error)) if error else None,
        finish,
        Usage(input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens),
        cost_usd,
        reported_cost_usd,
        Timing(ttft_ms, duration_ms),
        x,
        y,
        width,
        height,
        bool(collapsed),
        color,
        title,
        json.loads(meta) if meta else {},
        Owner(owner_pid, owner_host, heartbeat or 0.0) if owner_pid is not None and owner_host else None,
        created_at,
        updated_at,
    )
    if _NODE_POSITIONAL:
        return Node(*args)  # about 3x cheaper than keywords: matters for load_graph of 10k nodes
    return Node(**dict(zip(_NODE_FIELDS, args, strict=True)))


def _edge_values(edge: Edge, session_id: str) -> dict[str, Any]:
    return {
        "parent_id": edge.parent_id,
        "child_id": edge.child_id,
        "role": edge.role.value,
        "position": edge.position,
        "session_id": session_id,
    }


_FLAT_JSON = (str, int, float, bool, type(None))


def _nodes_of_session(rows: Iterable[Sequence[Any]], session_id: str) -> list[Node]:
    """`_node_from_row` for the rows of `_LOAD_NODE_COLUMNS` (no session_id column: every node gets the
    caller's `session_id`), for `load_graph`'s 10,000 rows: params and meta texts repeat across a
    session's nodes, so each distinct text is decoded once (a flat meta dict is then copied, a Params
    rebuilt from its fields; nested values are decoded per node, never shared)."""
    if not _NODE_POSITIONAL:
        return [_node_from_row((r[0], session_id, *r[1:])) for r in rows]
    kinds, statuses = _KINDS, _STATUSES
    params_seen: dict[str, tuple[Any, ...]] = {}
    meta_seen: dict[str, dict[str, Any] | None] = {}
    out: list[Node] = []
    append = out.append
    for (
        id_, kind, text, reasoning, model, params, status, error, finish,
        input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens,
        cost_usd, reported_cost_usd, ttft_ms, duration_ms, x, y, width, height, collapsed, color, title,
        meta, owner_pid, owner_host, heartbeat, created_at, updated_at,
    ) in rows:  # fmt: skip
        if params:
            p = params_seen.get(params)
            if p is None:
                q = _params_from_json(params)
                p = params_seen[params] = (q.system, q.temperature, q.max_tokens, q.thinking, q.effort)
            node_params = Params(*p)
        else:
            node_params = Params()
        if meta:
            if meta in meta_seen:
                flat = meta_seen[meta]
            else:
                decoded = json.loads(meta)
                flat = meta_seen[meta] = (
                    decoded
                    if isinstance(decoded, dict) and all(type(v) in _FLAT_JSON for v in decoded.values())
                    else None
                )
            node_meta = flat.copy() if flat is not None else json.loads(meta)
        else:
            node_meta = {}
        append(
            Node(
                session_id,
                kinds[kind],
                text,
                id_,
                reasoning,
                model,
                node_params,
                statuses[status],
                ErrorInfo.from_dict(json.loads(error)) if error else None,
                finish,
                Usage(input_tokens, cached_input_tokens, cache_write_tokens, output_tokens, reasoning_tokens),
                cost_usd,
                reported_cost_usd,
                Timing(ttft_ms, duration_ms),
                x,
                y,
                width,
                height,
                bool(collapsed),
                color,
                title,
                node_meta,
                Owner(owner_pid, owner_host, heartbeat or 0.0)
                if owner_pid is not None and owner_host
                else None,
                created_at,
                updated_at,
            )
        )
    return out


def _edge_from_row(row: Sequence[Any]) -> Edge:
    parent_id, child_id, role, position, session_id = row
    return Edge(parent_id, child_id, _ROLES[role], position, session_id)


def _session_values(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "title": _clean_or_none(session.title),
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "viewport": _dumps(session.viewport.to_dict()),
        "settings": _dumps(session.settings),
        "deleted_at": now_ts() if session.deleted else None,
    }


def _session_from_row(row: Sequence[Any]) -> Session:
    id_, title, created_at, updated_at, viewport, settings, deleted_at = row
    return Session(
        title=title,
        id=id_,
        created_at=created_at,
        updated_at=updated_at,
        viewport=Viewport.from_dict(_loads(viewport)),
        settings=_loads(settings) or {},
        deleted=deleted_at is not None,
    )


# --------------------------------------------------------------------------------------------------
# orphan detection


def _pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this host (a process we may not signal counts as alive)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C_EVENT on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return bool(kernel32.GetLastError() == 5)  # ERROR_ACCESS_DENIED: exists
        try:
            code = ctypes.c_ulong()
            ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return bool(ok) and code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed process not yet reaped by its parent (Linux state Z): it still answers kill(pid, 0)
    but will never write again. After a kill -9 under a parent that reaps late, the restarted window
    showed its cut answers as live ("queued", a Stop that stops nothing) instead of interrupted."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False  # no /proc (macOS) or no access: trust kill(pid, 0)
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]  # the field after "(comm)"
    return state in (b"Z", b"X")


def _is_orphan(
    pid: int | None, host: str | None, heartbeat: float | None, *, here: str, now: float, stale_after_s: float
) -> bool:
    if pid is None or not host or heartbeat is None:
        return True  # nobody owns it
    if now - heartbeat > stale_after_s:
        return True
    return host == here and not _pid_alive(pid)


# --------------------------------------------------------------------------------------------------
# search fallback (LIKE), used when FTS5 is unavailable or cannot answer the query (CJK, symbols)


def _like_pattern(term: str) -> str:
    escaped = term.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _like_snippet(text: str, terms: Sequence[str], width: int = 96) -> str:
    pattern = re.compile("|".join(re.escape(t) for t in sorted(terms, key=len, reverse=True)), re.IGNORECASE)
    found = pattern.search(text)
    if found is None:
        return " ".join(text[:width].split())
    start = max(0, found.start() - width // 3)
    end = min(len(text), start + width)
    piece = pattern.sub(lambda m: f"[{m.group(0)}]", text[start:end])
    return ("…" if start > 0 else "") + " ".join(piece.split()) + ("…" if end < len(text) else "")


# --------------------------------------------------------------------------------------------------


# load_graph's two queries: the session's rows without their (known) session id column.
_LOAD_NODE_COLUMNS = tuple(c for c in _NODE_COLUMNS if c.name != "session_id")
_LOAD_NODES = (
    select(*_LOAD_NODE_COLUMNS)
    .where(nodes_t.c.session_id == bindparam("session_id"))
    .order_by(nodes_t.c.created_at, nodes_t.c.id)
)
_LOAD_OUTLINE = (
    select(
        nodes_t.c.id, nodes_t.c.kind, nodes_t.c.status, nodes_t.c.model, nodes_t.c.color, nodes_t.c.x,
        nodes_t.c.y, nodes_t.c.width, nodes_t.c.height, nodes_t.c.collapsed,
    )
    .where(nodes_t.c.session_id == bindparam("session_id"))
    .order_by(nodes_t.c.created_at, nodes_t.c.id)
)
_OUTLINE_FILES = (
    select(node_files_t.c.node_id)
    .join(nodes_t, nodes_t.c.id == node_files_t.c.node_id)
    .where(nodes_t.c.session_id == bindparam("session_id"), node_files_t.c.position == 0)
)
_LOAD_EDGES = (
    select(edges_t.c.parent_id, edges_t.c.child_id, edges_t.c.role, edges_t.c.position)
    .where(edges_t.c.session_id == bindparam("session_id"))
    .order_by(edges_t.c.child_id, edges_t.c.position, edges_t.c.parent_id)
)


def _edges_of_session(conn: Connection, session_id: str) -> list[Edge]:
    roles, intern = _ROLES, sys.intern  # (ids interned: load_outline's, one string per id)
    return [
        Edge(intern(parent_id), intern(child_id), roles[role], position, session_id)
        for parent_id, child_id, role, position in _fetchall(conn, _LOAD_EDGES, session_id)
    ]


def _outline(conn: Connection, session_id: str) -> list[CardOutline]:
    """SqliteRepository.load_outline's reading, in one read transaction."""
    kinds, statuses, intern = _KINDS, _STATUSES, sys.intern
    models: dict[str, str] = {}  # one string per model name, not one per card
    out: list[CardOutline] = []
    append = out.append
    # the cards with files (prompts; a row of them makes the card taller: app.layout.height)
    with_files = set(conn.execute(_OUTLINE_FILES, {"session_id": session_id}).scalars())
    for rows in _fetch_batches(conn, _LOAD_OUTLINE, session_id):  # (not every row at once)
        for id_, kind, status, model, color, x, y, w, h, collapsed in rows:
            if model is not None:
                model = models.setdefault(model, model)
            append(
                # ids interned: the edges' (load_edges) are the same strings (100,000 cards: 15 MB)
                CardOutline(
                    intern(id_), kinds[kind], statuses[status], model, color, x, y, w, h, bool(collapsed),
                    id_ in with_files,
                )
            )
    return out


def _read_nodes(conn: Connection, stmt: Any) -> list[Node]:
    """The full nodes `stmt` (a select of _NODE_COLUMNS) finds, with their files."""
    found = [_node_from_row(row) for row in conn.execute(stmt)]
    _blobs.attach(found, _blobs.files_of_nodes(conn, [n.id for n in found]))
    return found


def _fetch_batches(conn: Connection, stmt: Any, session_id: str, size: int = 4096) -> Iterator[list[Any]]:
    """The rows of `stmt` (one `session_id` parameter) as plain DBAPI tuples, `size` at a time
    (a big session's rows are never all in memory at once)."""
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect)
    params = compiled.construct_params({"session_id": session_id})
    args: Any = tuple(params[name] for name in compiled.positiontup or ()) if compiled.positional else params
    dbapi_error = dialect.loaded_dbapi.Error
    sql = str(compiled)
    try:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, args)
            while rows := cursor.fetchmany(size):
                yield rows
        finally:
            cursor.close()
    except dbapi_error as exc:
        raise DBAPIError.instance(sql, args, exc, dbapi_error, hide_parameters=True, dialect=dialect) from exc


def _fetchall(conn: Connection, stmt: Any, session_id: str) -> list[Any]:
    """All rows of `stmt` (one `session_id` parameter) as plain DBAPI tuples, on `conn`'s transaction.
    Portable: the statement is compiled for the connection's dialect and paramstyle; a driver error
    is wrapped as SQLAlchemy would wrap it (a `DBAPIError`, parameters hidden), so callers' error
    translation still applies."""
    dialect = conn.dialect
    compiled = stmt.compile(dialect=dialect)
    params = compiled.construct_params({"session_id": session_id})
    args: Any = tuple(params[name] for name in compiled.positiontup or ()) if compiled.positional else params
    dbapi_error = dialect.loaded_dbapi.Error
    sql = str(compiled)
    try:
        cursor = conn.connection.driver_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(sql, args)
            return list(cursor.fetchall())
        finally:
            cursor.close()
    except dbapi_error as exc:
        raise DBAPIError.instance(sql, args, exc, dbapi_error, hide_parameters=True, dialect=dialect) from exc


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
        """How long a write waits for another process's write lock before it fails with
        StoreBusyError (5 s unless `set_busy_timeout` changed it)."""
        return sqlite.busy_timeout(self._engine)

    def set_busy_timeout(self, ms: int) -> None:
        """Change the busy timeout for every later call, on any thread (the GUI sets ~50 ms once the
        store is open: no call on its thread may freeze the window while the CLI writes)."""
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
        if ids:
            conn.execute(update(sessions_t).where(sessions_t.c.id.in_(ids)).values(updated_at=now))

    # sessions ---------------------------------------------------------------------------------------

    def create_session(self, session: Session) -> Session:
        with self._write() as conn:
            conn.execute(insert(sessions_t).values(_session_values(session)))
        return session

    def _get_session(self, conn: Connection, session_id: str) -> Session | None:
        row = conn.execute(select(*_SESSION_COLUMNS).where(sessions_t.c.id == session_id)).first()
        return _session_from_row(row) if row is not None else None

    def get_session(self, session_id: str) -> Session | None:
        """The session, soft-deleted ones included (`deleted` is then True)."""
        with self._read() as conn:
            return self._get_session(conn, session_id)

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

    def save_viewport(self, session_id: str, viewport: Viewport) -> None:
        """Where the user last looked: not a change to the session (its `updated_at`, which orders the
        sidebar and tells other processes to re-read it, stays)."""
        with self._write() as conn:
            conn.execute(
                update(sessions_t).where(sessions_t.c.id == session_id).values(viewport=_dumps(viewport.to_dict()))
            )

    def list_sessions(self, include_deleted: bool = False) -> list[SessionSummary]:
        """Newest first (updated_at), with node counts."""
        count = (
            select(func.count())
            .select_from(nodes_t)
            .where(nodes_t.c.session_id == sessions_t.c.id)
            .scalar_subquery()
        )
        stmt = select(
            sessions_t.c.id, sessions_t.c.title, sessions_t.c.created_at, sessions_t.c.updated_at, count
        ).order_by(sessions_t.c.updated_at.desc(), sessions_t.c.id.desc())
        if not include_deleted:
            stmt = stmt.where(sessions_t.c.deleted_at.is_(None))
        with self._read() as conn:
            return [SessionSummary(r[0], r[1], r[2], r[3], r[4]) for r in conn.execute(stmt)]

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
        now = now_ts()
        with self._write() as conn:
            source = self._get_session(conn, session_id)
            if source is None:
                raise KeyError(f"no session {session_id}")
            copy = Session(
                title=title if title is not None else f"{source.title} (copy)",
                created_at=now,
                updated_at=now,
                viewport=replace(source.viewport),
                settings=source.settings,
            )
            conn.execute(insert(sessions_t).values(_session_values(copy)))
            node_rows = conn.execute(self._nodes_stmt(session_id)).all()
            id_map = {row[0]: new_id() for row in node_rows}
            values = []
            for row in node_rows:
                node = _node_from_row(row)
                node.id, node.session_id = id_map[node.id], copy.id
                if node.status.is_live:
                    node.status = NodeStatus.INTERRUPTED
                    node.error = ErrorInfo(kind="interrupted", message=INTERRUPTED_MESSAGE)
                node.owner = None
                values.append(_node_values(node))
            if values:
                conn.execute(insert(nodes_t), values)
            edge_values = [
                {
                    "parent_id": id_map[edge.parent_id],
                    "child_id": id_map[edge.child_id],
                    "role": edge.role.value,
                    "position": edge.position,
                    "session_id": copy.id,
                }
                for edge in map(_edge_from_row, conn.execute(self._edges_stmt(session_id)))
            ]
            if edge_values:
                conn.execute(insert(edges_t), edge_values)
            _blobs.copy_files(conn, id_map)
        return copy

    def resolve_session(self, ref: str) -> str | None:
        """A full id, a unique id prefix or suffix (>= 4 chars, any case), or 'last' (the most
        recently updated session) -> the session id. Soft-deleted sessions are not resolved."""
        ref = ref.strip()
        live = sessions_t.c.deleted_at.is_(None)
        with self._read() as conn:
            if ref.lower() == "last":
                stmt = (
                    select(sessions_t.c.id)
                    .where(live)
                    .order_by(sessions_t.c.updated_at.desc(), sessions_t.c.id.desc())
                    .limit(1)
                )
                return conn.execute(stmt).scalar()
            return self._resolve(conn, sessions_t.c.id, ref, select(sessions_t.c.id).where(live))

    def _resolve(self, conn: Connection, column: Any, ref: str, base: Any) -> str | None:
        if not ref:
            return None
        exact = conn.execute(base.where(column == ref)).scalar()
        if exact is not None:
            return str(exact)
        if len(ref) < 4:
            return None
        escaped = ref.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        lowered = func.lower(column)
        stmt = base.where(
            or_(lowered.like(f"{escaped}%", escape="\\"), lowered.like(f"%{escaped}", escape="\\"))
        ).limit(2)
        found = conn.execute(stmt).scalars().all()
        return str(found[0]) if len(found) == 1 else None

    # nodes and edges --------------------------------------------------------------------------------

    @staticmethod
    def _nodes_stmt(session_id: str) -> Any:
        return (
            select(*_NODE_COLUMNS)
            .where(nodes_t.c.session_id == session_id)
            .order_by(nodes_t.c.created_at, nodes_t.c.id)
        )

    @staticmethod
    def _edges_stmt(session_id: str) -> Any:
        return (
            select(*_EDGE_COLUMNS)
            .where(edges_t.c.session_id == session_id)
            .order_by(edges_t.c.child_id, edges_t.c.position, edges_t.c.parent_id)
        )

    def load_graph(self, session_id: str) -> Graph:
        """The whole session: nodes in creation order (created_at, then id), edges ordered by
        (child, position). Raises KeyError for an unknown session (soft-deleted ones load).

        The two big queries run on the DBAPI cursor with `fetchall()`, and the session id column is
        not fetched: SQLAlchemy's per-row fetch and Row objects cost a fifth of the load of a
        10,000-card session (bench/bench_store.py, target ≤ 100 ms)."""
        with self._read() as conn, _gc_paused():
            session = self._get_session(conn, session_id)
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
            return _outline(conn, session_id)

    def nodes_in_rect(
        self, session_id: str, left: float, top: float, right: float, bottom: float
    ) -> list[Node]:
        """The full nodes of the session's cards that overlap the rectangle (scene units), through the
        index on (session_id, x, y): cards start at most `MAX_CARD_EXTENT` left of or above it."""
        stmt = select(*_NODE_COLUMNS).where(
            nodes_t.c.session_id == session_id,
            nodes_t.c.x > left - MAX_CARD_EXTENT,
            nodes_t.c.x < right,
            nodes_t.c.y > top - MAX_CARD_EXTENT,
            nodes_t.c.y < bottom,
        )
        with self._read() as conn, _gc_paused():
            found = _read_nodes(conn, stmt)
        return [
            n for n in found if n.x + layout.width(n) > left and n.y + layout.height(n) > top
        ]

    def load_nodes(self, node_ids: Sequence[str]) -> list[Node]:
        """The full nodes of `node_ids` that exist (any order)."""
        out: list[Node] = []
        with self._read() as conn, _gc_paused():
            for chunk in _chunks(list(node_ids)):
                stmt = select(*_NODE_COLUMNS).where(nodes_t.c.id.in_(chunk))
                out.extend(_read_nodes(conn, stmt))
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
            return self._resolve(conn, nodes_t.c.id, ref.strip(), base)

    def _edge_sessions(self, conn: Connection, edges: Sequence[Edge], known: dict[str, str]) -> list[str]:
        """Each edge's session id: its own, else its child's (from `known` or the database)."""
        missing = sorted({e.child_id for e in edges if not e.session_id and e.child_id not in known})
        lookup = dict(known)
        for chunk in _chunks(missing):
            rows = conn.execute(select(nodes_t.c.id, nodes_t.c.session_id).where(nodes_t.c.id.in_(chunk)))
            lookup.update({r[0]: r[1] for r in rows})
        result = []
        for edge in edges:
            session_id = edge.session_id or lookup.get(edge.child_id)
            if not session_id:
                raise KeyError(f"edge {edge!r}: no node {edge.child_id}")
            result.append(session_id)
        return result

    def add_nodes(self, nodes: Sequence[Node], edges: Sequence[Edge] = ()) -> None:
        """Insert nodes and edges in one transaction (touches the sessions' updated_at). Fields are
        stored as given, timestamps included (an undo or an import restores them exactly). An edge
        with an empty `session_id` takes its child's."""
        now = now_ts()
        with self._write() as conn:
            if nodes:
                conn.execute(insert(nodes_t), [_node_values(node) for node in nodes])
                _blobs.save_files(conn, nodes)
            edge_sessions: list[str] = []
            if edges:
                edge_sessions = self._edge_sessions(conn, edges, {n.id: n.session_id for n in nodes})
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
            return self._resolve(conn, matches_t.c.id, ref.strip(), select(matches_t.c.id))

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
            sessions: set[str] = set()
            for chunk in _chunks(ids):
                sessions.update(
                    conn.execute(select(nodes_t.c.session_id).where(nodes_t.c.id.in_(chunk)).distinct())
                    .scalars()
                    .all()
                )
            self._touch_sessions(conn, sessions, now)

    def delete_nodes(self, node_ids: Iterable[str]) -> tuple[list[Node], list[Edge]]:
        """Delete nodes and every edge touching them; return what was deleted (nodes in creation
        order, edges by child and position) so that `add_nodes(nodes, edges)` undoes it."""
        ids = list(dict.fromkeys(node_ids))
        if not ids:
            return [], []
        now = now_ts()
        with self._write() as conn:
            deleted_nodes: list[Node] = []
            edge_rows: dict[tuple[str, str, str], Edge] = {}
            for chunk in _chunks(ids):
                rows = conn.execute(select(*_NODE_COLUMNS).where(nodes_t.c.id.in_(chunk)))
                deleted_nodes.extend(_node_from_row(row) for row in rows)
                touching = select(*_EDGE_COLUMNS).where(
                    or_(edges_t.c.parent_id.in_(chunk), edges_t.c.child_id.in_(chunk))
                )
                for edge in map(_edge_from_row, conn.execute(touching)):
                    edge_rows[(edge.parent_id, edge.child_id, edge.role.value)] = edge
            _blobs.attach(deleted_nodes, _blobs.files_of_nodes(conn, ids))  # undo re-adds the files
            _blobs.delete_files(conn, ids)
            for chunk in _chunks(ids):
                conn.execute(
                    delete(edges_t).where(or_(edges_t.c.parent_id.in_(chunk), edges_t.c.child_id.in_(chunk)))
                )
                conn.execute(delete(nodes_t).where(nodes_t.c.id.in_(chunk)))
            self._touch_sessions(conn, [n.session_id for n in deleted_nodes], now)
        deleted_nodes.sort(key=lambda n: (n.created_at, n.id))
        deleted_edges = sorted(edge_rows.values(), key=lambda e: (e.child_id, e.position, e.parent_id))
        return deleted_nodes, deleted_edges

    def add_edges(self, edges: Sequence[Edge]) -> None:
        """Insert edges (an edge with an empty `session_id` takes its child's)."""
        if not edges:
            return
        with self._write() as conn:
            sessions = self._edge_sessions(conn, edges, {})
            conn.execute(insert(edges_t), [_edge_values(e, s) for e, s in zip(edges, sessions, strict=True)])
            self._touch_sessions(conn, sessions, now_ts())

    def remove_edges(self, edges: Sequence[Edge]) -> None:
        """Remove edges by (parent, child, role); absent ones are ignored."""
        if not edges:
            return
        keys = [(e.parent_id, e.child_id, e.role.value) for e in edges]
        with self._write() as conn:
            sessions = conn.execute(
                select(edges_t.c.session_id)
                .where(tuple_(edges_t.c.parent_id, edges_t.c.child_id, edges_t.c.role).in_(keys))
                .distinct()
            ).scalars()
            touched = list(sessions)
            conn.execute(
                delete(edges_t).where(
                    and_(
                        edges_t.c.parent_id == bindparam("p"),
                        edges_t.c.child_id == bindparam("c"),
                        edges_t.c.role == bindparam("r"),
                    )
                ),
                [{"p": p, "c": c, "r": r} for p, c, r in keys],
            )
            self._touch_sessions(conn, touched, now_ts())

    # crash recovery and search ----------------------------------------------------------------------

    def mark_orphans_interrupted(self, stale_after_s: float = 10.0) -> list[str]:
        """Mark `pending`/`streaming` nodes whose owner is gone as `interrupted` (text and reasoning
        kept, owner cleared, error kind "interrupted"); returns their ids. Gone: no owner, a heartbeat
        older than `stale_after_s`, or an owner process on this host that no longer exists. Takes a
        write lock only when it finds one (the window calls this every second while another process
        streams into the open session: that process's saves must not queue behind it)."""
        live = select(nodes_t.c.id, nodes_t.c.owner_pid, nodes_t.c.owner_host, nodes_t.c.heartbeat).where(
            nodes_t.c.status.in_(_LIVE)
        )

        def orphans_of(rows: Iterable[Any]) -> list[str]:
            now = now_ts()
            here = self._here
            return [
                row[0]
                for row in rows
                if _is_orphan(row[1], row[2], row[3], here=here, now=now, stale_after_s=stale_after_s)
            ]

        with self._read() as conn:
            if not orphans_of(conn.execute(live)):
                return []
        error = _dumps(ErrorInfo(kind="interrupted", message=INTERRUPTED_MESSAGE).to_dict())
        with self._write() as conn:
            now = now_ts()
            orphans = orphans_of(conn.execute(live))  # again: an owner may have beaten meanwhile
            if orphans:
                conn.execute(
                    update(nodes_t).where(nodes_t.c.id == bindparam("b_id")),
                    [
                        {
                            "b_id": node_id,
                            "status": NodeStatus.INTERRUPTED.value,
                            "error": error,
                            "owner_pid": None,
                            "owner_host": None,
                            "heartbeat": None,
                            "updated_at": now,
                        }
                        for node_id in orphans
                    ],
                )
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
            return self._search_like(conn, query.split(), limit)

    def _search_like(self, conn: Connection, terms: list[str], limit: int) -> list[SearchHit]:
        node_terms = [
            or_(
                func.lower(nodes_t.c.text).like(_like_pattern(t), escape="\\"),
                func.lower(nodes_t.c.reasoning).like(_like_pattern(t), escape="\\"),
            )
            for t in terms
        ]
        node_rows = conn.execute(
            select(
                nodes_t.c.session_id,
                sessions_t.c.title,
                nodes_t.c.id,
                nodes_t.c.kind,
                nodes_t.c.model,
                nodes_t.c.text,
                nodes_t.c.reasoning,
            )
            .join(sessions_t, sessions_t.c.id == nodes_t.c.session_id)
            .where(sessions_t.c.deleted_at.is_(None), *node_terms)
            .order_by(nodes_t.c.updated_at.desc())
            .limit(limit)
        ).all()
        session_rows = conn.execute(
            select(sessions_t.c.id, sessions_t.c.title)
            .where(
                sessions_t.c.deleted_at.is_(None),
                *[func.lower(sessions_t.c.title).like(_like_pattern(t), escape="\\") for t in terms],
            )
            .order_by(sessions_t.c.updated_at.desc())
            .limit(limit)
        ).all()
        hits = [SearchHit(r[0], r[1], "", "session", None, _like_snippet(r[1], terms)) for r in session_rows]
        for session_id, title, node_id, kind, model, text, reasoning in node_rows:
            lowered = text.lower()
            body = text if all(t.lower() in lowered for t in terms) or not reasoning else reasoning
            hits.append(SearchHit(session_id, title, node_id, kind, model, _like_snippet(body, terms)))
        return hits[:limit]

    def session_totals(self, session_id: str) -> dict[str, float | int]:
        """Sums over the session's response and synthesis nodes: {"input", "cached_input",
        "cache_write", "output", "reasoning", "cost_usd", "nodes", "unreported", "cost_unknown"}. Unreported token
        counts count as 0, and "unreported" says how many ended answers (stopped, cut, failed, or from a
        server that reports nothing) have no reported usage, so the sums leave them out; cost is the computed cost, else the
        provider-reported one."""
        c = nodes_t.c
        stmt = select(
            func.coalesce(func.sum(c.input_tokens), 0),
            func.coalesce(func.sum(c.cached_input_tokens), 0),
            func.coalesce(func.sum(c.cache_write_tokens), 0),
            func.coalesce(func.sum(c.output_tokens), 0),
            func.coalesce(func.sum(c.reasoning_tokens), 0),
            func.coalesce(func.sum(func.coalesce(c.cost_usd, c.reported_cost_usd)), 0.0),
            func.count(),
            func.coalesce(func.sum(case(
                (and_(c.output_tokens.is_(None),
                      c.status.notin_((NodeStatus.PENDING.value, NodeStatus.STREAMING.value))), 1),
                else_=0)), 0),
            func.coalesce(func.sum(case(
                (and_(c.cost_usd.is_(None), c.reported_cost_usd.is_(None),
                      or_(c.status == NodeStatus.DONE.value, c.input_tokens.is_not(None),
                          c.cached_input_tokens.is_not(None), c.cache_write_tokens.is_not(None),
                          c.output_tokens.is_not(None), c.reasoning_tokens.is_not(None))), 1),
                else_=0)), 0),
        ).where(c.session_id == session_id, c.kind.in_(_ANSWER_KINDS))
        with self._read() as conn:
            row = conn.execute(stmt).one()
        keys = ("input", "cached_input", "cache_write", "output", "reasoning")
        totals: dict[str, float | int] = {k: int(v) for k, v in zip(keys, row[:5], strict=True)}
        totals["cost_usd"] = float(row[5])
        totals["nodes"] = int(row[6])
        totals["unreported"] = int(row[7])
        totals["cost_unknown"] = int(row[8])  # answers whose cost is unknown (the export's rule)
        return totals

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
    """
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
