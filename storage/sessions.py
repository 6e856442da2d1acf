"""The session table's queries for `SqliteRepository` (storage/repository.py): the listing, id
resolution, the copy of a whole session and its usage/cost totals. Each runs on a connection the
repository opened (one transaction).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from sqlalchemy import Connection, and_, case, func, insert, or_, select

from app.domain import (
    ErrorInfo,
    NodeKind,
    NodeStatus,
    Session,
    SessionSummary,
    new_id,
)
from storage import blobs as _blobs
from storage.rows import (
    _ANSWER_KINDS,
    _EDGE_COLUMNS,
    _NODE_COLUMNS,
    _SESSION_COLUMNS,
    INTERRUPTED_MESSAGE,
    _edge_from_row,
    _node_from_row,
    _node_values,
    _session_from_row,
    _session_values,
)
from storage.schema import edges as edges_t
from storage.schema import nodes as nodes_t
from storage.schema import sessions as sessions_t


def nodes_stmt(session_id: str) -> Any:
    return (
        select(*_NODE_COLUMNS)
        .where(nodes_t.c.session_id == session_id)
        .order_by(nodes_t.c.created_at, nodes_t.c.id)
    )


def edges_stmt(session_id: str) -> Any:
    return (
        select(*_EDGE_COLUMNS)
        .where(edges_t.c.session_id == session_id)
        .order_by(edges_t.c.child_id, edges_t.c.position, edges_t.c.parent_id)
    )


def get_session(conn: Connection, session_id: str) -> Session | None:
    row = conn.execute(select(*_SESSION_COLUMNS).where(sessions_t.c.id == session_id)).first()
    return _session_from_row(row) if row is not None else None


def visible_to(viewer: str | None) -> Any:
    """The sessions `viewer` may see: shared ones, its own, and those with no owner (older stores)."""
    if viewer is None:
        return sessions_t.c.id.is_not(None)
    c = sessions_t.c
    return or_(c.visibility != "private", c.owner == viewer, c.owner.is_(None))


def list_sessions(conn: Connection, include_deleted: bool, viewer: str | None = None) -> list[SessionSummary]:
    count = (
        select(func.count())
        .select_from(nodes_t)
        .where(nodes_t.c.session_id == sessions_t.c.id)
        .scalar_subquery()
    )
    stmt = (
        select(
            sessions_t.c.id, sessions_t.c.title, sessions_t.c.created_at, sessions_t.c.updated_at, count,
            sessions_t.c.owner, sessions_t.c.visibility,
        )
        .where(visible_to(viewer))
        .order_by(sessions_t.c.updated_at.desc(), sessions_t.c.id.desc())
    )
    if not include_deleted:
        stmt = stmt.where(sessions_t.c.deleted_at.is_(None))
    out = [SessionSummary(r[0], r[1], r[2], r[3], r[4], r[5], r[6] or "shared") for r in conn.execute(stmt)]
    if out:
        cells = _sweep_cells(conn)
        for summary in out:
            summary.sweep_cells = cells.get(summary.id)
    return out


def _sweep_cells(conn: Connection) -> dict[str, int]:
    """Session id -> the cells of the sweep it holds (app.sweep.SweepDef.size: the planned cells, a model's
    variants that send it the same one cell, from the sweep node's stored definition); sessions without a
    sweep are left out."""
    import json

    from app.sweep import SweepDef

    out: dict[str, int] = {}
    for session_id, meta in conn.execute(
            select(nodes_t.c.session_id, nodes_t.c.meta).where(nodes_t.c.kind == NodeKind.SWEEP.value)):
        try:
            out[session_id] = SweepDef.from_dict(json.loads(meta or "{}").get("sweep")).size
        except (ValueError, TypeError, KeyError, AttributeError):  # not a sweep's definition
            continue
    return out


def duplicate_session(conn: Connection, session_id: str, title: str | None, now: float) -> Session:
    """Copy the session with new ids (see `SqliteRepository.duplicate_session`)."""
    source = get_session(conn, session_id)
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
    node_rows = conn.execute(nodes_stmt(session_id)).all()
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
        for edge in map(_edge_from_row, conn.execute(edges_stmt(session_id)))
    ]
    if edge_values:
        conn.execute(insert(edges_t), edge_values)
    _blobs.copy_files(conn, id_map)
    return copy


def resolve_session(conn: Connection, ref: str, viewer: str | None = None) -> str | None:
    live = and_(sessions_t.c.deleted_at.is_(None), visible_to(viewer))
    if ref.lower() == "last":
        stmt = (
            select(sessions_t.c.id)
            .where(live)
            .order_by(sessions_t.c.updated_at.desc(), sessions_t.c.id.desc())
            .limit(1)
        )
        return conn.execute(stmt).scalar()
    return resolve_id(conn, sessions_t.c.id, ref, select(sessions_t.c.id).where(live))


def resolve_id(conn: Connection, column: Any, ref: str, base: Any) -> str | None:
    """A full id, or a unique prefix or suffix (>= 4 chars, any case) of `column` among `base`'s rows."""
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


def session_totals(conn: Connection, session_id: str) -> dict[str, float | int]:
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
                  c.status.notin_((NodeStatus.PENDING.value, NodeStatus.STREAMING.value)),
                  # a failed try that produced nothing (no text, no reasoning) has no usage to miss
                  or_(c.status != NodeStatus.ERROR.value, c.text != "", c.reasoning != "")), 1),
            else_=0)), 0),
        func.coalesce(func.sum(case(
            (and_(c.cost_usd.is_(None), c.reported_cost_usd.is_(None),
                  or_(c.status == NodeStatus.DONE.value, c.input_tokens.is_not(None),
                      c.cached_input_tokens.is_not(None), c.cache_write_tokens.is_not(None),
                      c.output_tokens.is_not(None), c.reasoning_tokens.is_not(None))), 1),
            else_=0)), 0),
    ).where(c.session_id == session_id, c.kind.in_(_ANSWER_KINDS))
    row = conn.execute(stmt).one()
    keys = ("input", "cached_input", "cache_write", "output", "reasoning")
    totals: dict[str, float | int] = {k: int(v) for k, v in zip(keys, row[:5], strict=True)}
    totals["cost_usd"] = float(row[5])
    totals["nodes"] = int(row[6])
    totals["unreported"] = int(row[7])
    totals["cost_unknown"] = int(row[8])  # answers whose cost is unknown (the export's rule)
    return totals

