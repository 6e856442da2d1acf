"""The node and edge tables' multi-statement queries for `SqliteRepository` (storage/repository.py):
the outline and viewport reads, the session lookup of edges, and the deletes that return what they
removed (for undo). Each runs on a connection the repository opened (one transaction).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection, and_, bindparam, delete, or_, select, tuple_

from app import layout
from app.domain import (
    Edge,
    Node,
)
from app.outline import MAX_CARD_EXTENT, CardOutline
from storage import blobs as _blobs
from storage.rows import (
    _EDGE_COLUMNS,
    _KINDS,
    _LOAD_OUTLINE,
    _NODE_COLUMNS,
    _STATUSES,
    _chunks,
    _edge_from_row,
    _fetch_batches,
    _node_from_row,
)
from storage.schema import edges as edges_t
from storage.schema import node_files as node_files_t
from storage.schema import nodes as nodes_t

# the session's prompts that carry files (a row of them makes the card taller: app.layout.height)
_OUTLINE_FILES = (
    select(node_files_t.c.node_id)
    .join(nodes_t, nodes_t.c.id == node_files_t.c.node_id)
    .where(nodes_t.c.session_id == bindparam("session_id"), node_files_t.c.position == 0)
)


def load_outline(conn: Connection, session_id: str) -> list[CardOutline]:
    """Every node of the session without its text (see `SqliteRepository.load_outline`)."""
    kinds, statuses, intern = _KINDS, _STATUSES, sys.intern
    models: dict[str, str] = {}  # one string per model name, not one per card
    out: list[CardOutline] = []
    append = out.append
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


def read_nodes(conn: Connection, stmt: Any) -> list[Node]:
    """The full nodes `stmt` (a select of _NODE_COLUMNS) finds, with their files."""
    found = [_node_from_row(row) for row in conn.execute(stmt)]
    _blobs.attach(found, _blobs.files_of_nodes(conn, [n.id for n in found]))
    return found


def nodes_in_rect(conn: Connection, session_id: str, left: float, top: float, right: float,
                  bottom: float) -> list[Node]:
    """The full nodes of the session's cards that overlap the rectangle (see `SqliteRepository`)."""
    stmt = select(*_NODE_COLUMNS).where(
        nodes_t.c.session_id == session_id,
        nodes_t.c.x > left - MAX_CARD_EXTENT,
        nodes_t.c.x < right,
        nodes_t.c.y > top - MAX_CARD_EXTENT,
        nodes_t.c.y < bottom,
    )
    found = read_nodes(conn, stmt)
    return [
        n for n in found if n.x + layout.width(n) > left and n.y + layout.height(n) > top
    ]


def edge_sessions(conn: Connection, edges: Sequence[Edge], known: dict[str, str]) -> list[str]:
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


def sessions_of_nodes(conn: Connection, ids: Sequence[str]) -> set[str]:
    """The sessions the nodes `ids` belong to."""
    sessions: set[str] = set()
    for chunk in _chunks(ids):
        sessions.update(
            conn.execute(select(nodes_t.c.session_id).where(nodes_t.c.id.in_(chunk)).distinct())
            .scalars()
            .all()
        )
    return sessions


def delete_nodes(conn: Connection, ids: Sequence[str]) -> tuple[list[Node], list[Edge]]:
    """Delete the nodes, their files and every edge touching them; returns what was deleted (nodes
    in the order read, files attached, edges unordered)."""
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
    return deleted_nodes, list(edge_rows.values())


def remove_edges(conn: Connection, keys: Sequence[tuple[str, str, str]]) -> list[str]:
    """Remove edges by (parent, child, role); returns the sessions they were in."""
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
    return touched
