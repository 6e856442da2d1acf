"""Attachment storage: content-addressed blobs and the prompt ↔ file links (schema: `blobs`,
`node_files`). Each file's bytes are stored once, however many prompts carry it; a blob that no
prompt refers to any more is deleted in the same transaction as the last reference.

Functions take an open connection (the repository's transaction); no I/O of their own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, delete, exists, insert, select

from app.attachments import Attachment
from app.domain import Node, now_ts
from storage.schema import blobs as blobs_t
from storage.schema import node_files as files_t
from storage.schema import nodes as nodes_t

_CHUNK = 500


def _chunks(items: Sequence[str]) -> Iterable[Sequence[str]]:
    for i in range(0, len(items), _CHUNK):
        yield items[i:i + _CHUNK]


def save_files(conn: Connection, nodes: Iterable[Node]) -> None:
    """Store the attachments of `nodes` (new nodes): missing blobs, then one link per file."""
    links = []
    fresh: dict[str, Attachment] = {}
    for node in nodes:
        for position, att in enumerate(node.attachments):
            links.append({"node_id": node.id, "position": position, "sha256": att.sha256, "name": att.name})
            fresh.setdefault(att.sha256, att)
    if not links:
        return
    shas = list(fresh)
    have: set[str] = set()
    for chunk in _chunks(shas):
        have.update(conn.execute(select(blobs_t.c.sha256).where(blobs_t.c.sha256.in_(chunk))).scalars())
    now = now_ts()
    rows = [
        {"sha256": a.sha256, "kind": a.kind, "mime": a.mime, "size": a.size,
         "info": json.dumps(a.info(), separators=(",", ":")) if a.info() else None, "data": a.data, "created_at": now}
        for sha, a in fresh.items() if sha not in have
    ]
    if rows:
        conn.execute(insert(blobs_t), rows)
    conn.execute(insert(files_t), links)


def _attachments(rows: Iterable[Sequence[Any]]) -> dict[str, list[Attachment]]:
    out: dict[str, list[Attachment]] = {}
    shared: dict[tuple[str, str], Attachment] = {}
    for node_id, _position, name, sha, kind, mime, info, data in rows:
        key = (str(sha), str(name))
        att = shared.get(key)
        if att is None:
            extra = json.loads(str(info)) if info else {}
            att = Attachment(str(name), str(kind), str(mime), bytes(data), str(sha),
                             width=extra.get("width"), height=extra.get("height"), pages=extra.get("pages"))
            shared[key] = att
        out.setdefault(str(node_id), []).append(att)
    return out


_COLUMNS = (files_t.c.node_id, files_t.c.position, files_t.c.name, blobs_t.c.sha256, blobs_t.c.kind,
            blobs_t.c.mime, blobs_t.c.info, blobs_t.c.data)


def files_of_session(conn: Connection, session_id: str) -> dict[str, list[Attachment]]:
    """node id -> its attachments in order, for every node of a session that has any."""
    stmt = (
        select(*_COLUMNS)
        .join(blobs_t, blobs_t.c.sha256 == files_t.c.sha256)
        .join(nodes_t, nodes_t.c.id == files_t.c.node_id)
        .where(nodes_t.c.session_id == session_id)
        .order_by(files_t.c.node_id, files_t.c.position)
    )
    return _attachments(conn.execute(stmt))


def files_of_nodes(conn: Connection, node_ids: Sequence[str]) -> dict[str, list[Attachment]]:
    out: dict[str, list[Attachment]] = {}
    for chunk in _chunks(list(node_ids)):
        stmt = (
            select(*_COLUMNS)
            .join(blobs_t, blobs_t.c.sha256 == files_t.c.sha256)
            .where(files_t.c.node_id.in_(chunk))
            .order_by(files_t.c.node_id, files_t.c.position)
        )
        out.update(_attachments(conn.execute(stmt)))
    return out


def attach(nodes: Iterable[Node], found: dict[str, list[Attachment]]) -> None:
    for node in nodes:
        atts = found.get(node.id)
        if atts:
            node.attachments = list(atts)


def delete_files(conn: Connection, node_ids: Sequence[str]) -> None:
    """Drop the links of these nodes, then every blob nothing refers to."""
    for chunk in _chunks(list(node_ids)):
        conn.execute(delete(files_t).where(files_t.c.node_id.in_(chunk)))
    collect_garbage(conn)


def collect_garbage(conn: Connection) -> int:
    """Delete blobs no node refers to; returns how many."""
    orphan = ~exists().where(files_t.c.sha256 == blobs_t.c.sha256)
    return conn.execute(delete(blobs_t).where(orphan)).rowcount or 0


def copy_files(conn: Connection, id_map: dict[str, str]) -> None:
    """Give the copies (old id -> new id) the same files (duplicate_session): links only, no new blob."""
    rows = []
    for chunk in _chunks(list(id_map)):
        stmt = select(files_t.c.node_id, files_t.c.position, files_t.c.sha256, files_t.c.name).where(
            files_t.c.node_id.in_(chunk))
        rows += [{"node_id": id_map[r[0]], "position": r[1], "sha256": r[2], "name": r[3]}
                 for r in conn.execute(stmt)]
    if rows:
        conn.execute(insert(files_t), rows)


def blob_count(conn: Connection) -> int:
    return len(conn.execute(select(blobs_t.c.sha256)).all())
