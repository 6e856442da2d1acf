"""The search fallback (LIKE), used when FTS5 is unavailable or cannot answer the query (CJK,
symbols): every term must match a node's text or reasoning, or a session title.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from sqlalchemy import Connection, func, or_, select

from app.repository import SearchHit
from storage.schema import nodes as nodes_t
from storage.schema import sessions as sessions_t


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


def search_like(conn: Connection, terms: list[str], limit: int) -> list[SearchHit]:
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
