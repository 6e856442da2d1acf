"""Arena rows (storage.schema `matches`, `votes`) <-> app.arena `Match` / `Vote`, on a connection the
repository opened (`SqliteRepository` wraps each in one transaction)."""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update

from app.arena import Match, Vote
from storage.schema import matches as matches_t
from storage.schema import votes as votes_t

_MATCH_COLUMNS = (matches_t.c.id, matches_t.c.session_id, matches_t.c.prompt_id, matches_t.c.a_node_id,
                  matches_t.c.b_node_id, matches_t.c.a_model, matches_t.c.b_model, matches_t.c.tags,
                  matches_t.c.created_at)


def insert_matches(conn: Connection, matches: Sequence[Match]) -> None:
    """Insert matches and their votes (an import brings both)."""
    if not matches:
        return
    conn.execute(insert(matches_t), [
        {"id": m.id, "session_id": m.session_id, "prompt_id": m.prompt_id, "a_node_id": m.a_node_id,
         "b_node_id": m.b_node_id, "a_model": m.a_model, "b_model": m.b_model,
         "tags": json.dumps(m.tags) if m.tags else None, "created_at": m.created_at} for m in matches])
    rows = [{"match_id": m.id, "voter": v.voter, "vote": v.vote, "created_at": v.created_at}
            for m in matches for v in m.votes]
    if rows:
        conn.execute(insert(votes_t), rows)


def upsert_vote(conn: Connection, vote: Vote) -> None:
    conn.execute(delete(votes_t).where(votes_t.c.match_id == vote.match_id, votes_t.c.voter == vote.voter))
    conn.execute(insert(votes_t).values(match_id=vote.match_id, voter=vote.voter, vote=vote.vote,
                                        created_at=vote.created_at))


def remove_vote(repo: Any, match_id: str, voter: str) -> None:
    """Delete the voter's vote on that match (the window's undo of a first vote), in one write
    transaction of the store (`SqliteRepository`: kept out of its class, which stays under 400 lines)."""
    with repo._write() as conn:
        conn.execute(delete(votes_t).where(votes_t.c.match_id == match_id, votes_t.c.voter == voter))


def set_match_tags(repo: Any, match_id: str, tags: Sequence[str]) -> None:
    """Replace the match's tags (the window's tags field), in one write transaction of the store."""
    with repo._write() as conn:
        conn.execute(update(matches_t).where(matches_t.c.id == match_id)
                     .values(tags=json.dumps(list(tags)) if tags else None))


def _with_votes(conn: Connection, rows: Iterable[Any]) -> list[Match]:
    out = [Match(session_id=r[1], prompt_id=r[2], a_node_id=r[3], b_node_id=r[4], a_model=r[5], b_model=r[6],
                 tags=json.loads(r[7]) if r[7] else [], id=r[0], created_at=r[8]) for r in rows]
    by_id = {m.id: m for m in out}
    ids = list(by_id)
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        stmt = (select(votes_t.c.match_id, votes_t.c.voter, votes_t.c.vote, votes_t.c.created_at)
                .where(votes_t.c.match_id.in_(chunk)).order_by(votes_t.c.created_at, votes_t.c.voter))
        for mid, voter, vote, created in conn.execute(stmt):
            by_id[mid].votes.append(Vote(mid, voter, vote, created))
    return out


def load_matches(conn: Connection, session_id: str | None = None, match_id: str | None = None) -> list[Match]:
    stmt = select(*_MATCH_COLUMNS).order_by(matches_t.c.created_at, matches_t.c.id)
    if session_id is not None:
        stmt = stmt.where(matches_t.c.session_id == session_id)
    if match_id is not None:
        stmt = stmt.where(matches_t.c.id == match_id)
    return _with_votes(conn, conn.execute(stmt))


def match_ids(conn: Connection) -> list[str]:
    return list(conn.execute(select(matches_t.c.id)).scalars())
