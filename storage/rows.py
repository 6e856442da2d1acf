"""Rows <-> domain objects for `SqliteRepository` (storage/repository.py): the column lists, the value
dicts written, the dataclasses read back, and the bulk reads of a session (DBAPI cursor, no Row
objects). Plain functions and constants; no transaction of their own.
"""

from __future__ import annotations

import gc
import json
import re
import sys
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import fields
from typing import Any

from sqlalchemy import Connection, bindparam, select
from sqlalchemy.exc import DBAPIError

from app.domain import (
    NO_RUN_RECORD,
    RUN_RECORD_KEYS,
    Edge,
    EdgeRole,
    ErrorInfo,
    Node,
    NodeKind,
    NodeStatus,
    Owner,
    Params,
    RunRecord,
    Session,
    Timing,
    Usage,
    Viewport,
    now_ts,
)
from app.repository import LIVE_STATUSES
from storage.schema import edges as edges_t
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

# app.domain.RunRecord's columns, in its field order (the last columns of a node row).
_RUN_RECORD_COLUMNS = RUN_RECORD_KEYS

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
    nodes_t.c.author,
    *(nodes_t.c[name] for name in _RUN_RECORD_COLUMNS),
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
    sessions_t.c.owner,
    sessions_t.c.visibility,
)


def _fill_authors(nodes: Iterable[Node], user: str) -> None:
    """New cards without an author are written by `user`."""
    for node in nodes:
        if node.author is None:
            node.author = user


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


def _record_values(record: RunRecord) -> dict[str, Any]:
    return {
        "started_at": record.started_at,
        "request_id": _clean_or_none(record.request_id),
        "no_key": True if record.no_key else None,
        "dropped_params": _dumps(list(record.dropped_params)) if record.dropped_params else None,
        "insecure": _clean_or_none(record.insecure),
        "rerun_of": record.rerun_of,
    }


def _record_from_row(
    started_at: float | None, request_id: str | None, no_key: Any, dropped_params: str | None,
    insecure: str | None, rerun_of: str | None,
) -> RunRecord:
    if started_at is None and request_id is None and not no_key and dropped_params is None and insecure is None \
            and rerun_of is None:
        return NO_RUN_RECORD  # shared: most nodes (prompts, notes) never ran
    return RunRecord(started_at, request_id, bool(no_key), tuple(json.loads(dropped_params)) if dropped_params
                     else (), insecure, rerun_of)


def _node_values(node: Node) -> dict[str, Any]:
    values = _stream_values(node)
    values.update(_record_values(node.run_record))
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
        author=node.author,
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
        author,
        *record,
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
    node = Node(*args) if _NODE_POSITIONAL else Node(**dict(zip(_NODE_FIELDS, args, strict=True)))
    node.run_record = _record_from_row(*record)
    node.author = author
    return node


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
        meta, owner_pid, owner_host, heartbeat, created_at, updated_at, author,
        started_at, request_id, no_key, dropped_params, insecure, rerun_of,
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
        node = Node(
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
        if started_at is not None or request_id is not None or no_key or dropped_params is not None \
                or insecure is not None or rerun_of is not None:
            node.run_record = _record_from_row(started_at, request_id, no_key, dropped_params, insecure, rerun_of)
        node.author = author
        append(node)
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
        "owner": session.owner,
        "visibility": session.visibility or "shared",
    }


def _session_from_row(row: Sequence[Any]) -> Session:
    id_, title, created_at, updated_at, viewport, settings, deleted_at, owner, visibility = row
    return Session(
        title=title,
        id=id_,
        created_at=created_at,
        updated_at=updated_at,
        viewport=Viewport.from_dict(_loads(viewport)),
        settings=_loads(settings) or {},
        deleted=deleted_at is not None,
        owner=owner,
        visibility=visibility or "shared",
    )

# --------------------------------------------------------------------------------------------------
# bulk reads of one session

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

