"""Everything PostgreSQL-only lives here (the counterpart of `storage.sqlite`): the engine (psycopg 3),
the schema version (the rows of the `migrations` table, under an advisory lock), the full-text search
index (`tsvector` expressions under GIN indexes) and its ranked queries, LISTEN/NOTIFY, and turning
driver errors into StoreErrors that name the server but never its password.

The tables and the repository queries are the same as on SQLite (`storage.schema`, `storage.rows`…).
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from sqlalchemy import Connection, Engine, bindparam, create_engine, event, insert, text
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError, DBAPIError

from app.domain import now_ts
from app.repository import LIVE_STATUSES, SearchHit, StoreError
from storage.sqlite import _is_cjk

CHANNEL = "triptych_changes"
"""The NOTIFY channel every write announces itself on (payload: see `notify`)."""
_LOCK_KEY = 0x7472_6970  # pg_advisory_xact_lock key serialising migrations ("trip")
_LIVE_SQL = ", ".join(f"'{s.value}'" for s in LIVE_STATUSES)
CONNECT_TIMEOUT_S = 5
WORK_MEM = "64MB"
"""Each Triptych connection's `work_mem`: loading a 10,000-card session sorts ~20 MB of rows (by
created_at, id), which the server's default 4 MB spills to disk (an external merge: +30-60 ms per load
until the table's statistics make the planner walk the ordered index instead)."""


class StoreUnreachableError(StoreError):
    """The PostgreSQL server could not be reached (or refused the login). `where` names it as
    `host:port/db` (never the password)."""

    def __init__(self, message: str, where: str) -> None:
        super().__init__(message)
        self.where = where


def is_url(location: object) -> bool:
    """Whether a store location is a PostgreSQL URL (else it is a data dir or a .db path)."""
    return isinstance(location, str) and location.startswith(("postgresql:", "postgresql+", "postgres:"))


def normalize_url(url: str) -> str:
    """`postgres://` and `postgresql://` mean psycopg 3 (the only driver Triptych ships)."""
    for prefix in ("postgres://", "postgresql://"):
        if url.startswith(prefix):
            return "postgresql+psycopg://" + url[len(prefix):]
    return url


def redact(url: str) -> str:
    """The URL with its password replaced by `***` (for logs, errors, doctor)."""
    try:
        return make_url(normalize_url(url)).render_as_string(hide_password=True)
    except ArgumentError:
        return re.sub(r"://([^:/@]*):[^@]*@", r"://\1:***@", url)


def where(url: str) -> str:
    """`host:port/database` of a URL: what a message names."""
    try:
        u = make_url(normalize_url(url))
    except ArgumentError:
        return redact(url)
    host = u.host or "localhost"
    return f"{host}:{u.port or 5432}/{u.database or ''}"


def make_engine(url: str) -> Engine:
    """A pooled engine (pre-ping: a connection the server dropped is replaced, not handed out). The
    password comes from the URL, else the OS keyring (`_keyring_password`), else libpq's own sources
    (`PGPASSWORD`, `~/.pgpass`)."""
    engine = create_engine(
        normalize_url(url),
        hide_parameters=True,
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
        connect_args={"connect_timeout": CONNECT_TIMEOUT_S, "application_name": "triptych"},
    )
    event.listen(engine, "connect", _on_connect)
    if make_url(normalize_url(url)).password is None:
        event.listen(engine, "do_connect", _keyring_password(url))
    return engine


def _keyring_password(url: str) -> Any:
    """A `do_connect` hook giving libpq the password kept in the OS keyring for this store (Settings →
    Store, `triptych store-password`), asked once, at the first connection; none there: libpq's own
    sources (PGPASSWORD, ~/.pgpass). It goes to the driver only: never into the URL, a message or a log."""
    asked: list[str | None] = []

    def hook(_dialect: Any, _rec: Any, _args: Any, params: dict[str, Any]) -> None:
        if not asked:
            asked.append(keyring_password(url))
        if asked[0] and not params.get("password"):
            params["password"] = asked[0]

    return hook


def keyring_password(url: str) -> str | None:
    """The password the OS keyring keeps for the store at `url` (None: none, or the URL has one)."""
    from app.config import store_password

    return store_password(url)


def _on_connect(dbapi_conn: Any, _record: Any) -> None:
    """Session settings of every new connection (committed: the pool's rollback must not undo them)."""
    with dbapi_conn.cursor() as cur:
        cur.execute(f"SET work_mem = '{WORK_MEM}'")
    dbapi_conn.commit()


# --------------------------------------------------------------------------------------------------
# errors


def _is_connection_error(exc: DBAPIError) -> bool:
    if exc.connection_invalidated:
        return True
    try:
        import psycopg
    except ImportError:  # pragma: no cover
        return False
    return isinstance(exc.orig, psycopg.OperationalError)


@contextmanager
def translate_errors(url: str) -> Iterator[None]:
    """A lost or refused connection -> StoreUnreachableError naming the server (no password)."""
    try:
        yield
    except DBAPIError as exc:
        if _is_connection_error(exc):
            detail = _first_line(str(exc.orig))
            raise StoreUnreachableError(
                f"cannot reach the team store at {where(url)}: {detail}", where(url)
            ) from None
        raise


def _first_line(message: str) -> str:
    message = re.sub(r"password=\S+", "password=***", message)
    return message.strip().splitlines()[0] if message.strip() else "connection failed"


# --------------------------------------------------------------------------------------------------
# schema version


def get_version(conn: Connection) -> tuple[int, list[str]]:
    """(number of applied migrations, their names); (0, []) for an empty database."""
    exists = conn.execute(text("SELECT to_regclass('migrations') IS NOT NULL")).scalar()
    if not exists:
        return 0, []
    names = [str(r[0]) for r in conn.execute(text("SELECT name FROM migrations ORDER BY applied_at, name"))]
    return len(names), names


def foreign_tables(conn: Connection, own: set[str]) -> list[str]:
    """Tables of the public schema that are not Triptych's (another program's database)."""
    rows = conn.execute(text("SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"))
    return sorted(str(r[0]) for r in rows if str(r[0]) not in own)


def lock_migrations(conn: Connection) -> None:
    """Serialise migrations between processes opening the same database at once (until commit)."""
    conn.execute(text("SELECT pg_advisory_xact_lock(:k)"), {"k": _LOCK_KEY})


def record_migration(conn: Connection, table: Any, name: str) -> None:
    conn.execute(insert(table).values(name=name, applied_at=now_ts()))


# --------------------------------------------------------------------------------------------------
# full-text search ('simple' configuration: no stemming, any language). Each node's tsvector is kept
# in `nodes.search_tsv` (a PostgreSQL-only column, outside storage.schema) under a GIN index, set by
# a trigger only when the node is final and its text changed: like the FTS5 index, a node still
# streaming is not indexed (the hot streaming UPDATE tokenizes nothing), and ranking reads the stored
# vector instead of tokenizing every match again. Text weighs A, reasoning B.

_SESSION_TSV = "to_tsvector('simple'::regconfig, title)"
_NODE_VECTOR = ("setweight(to_tsvector('simple'::regconfig, {p}text), 'A') || "
                "setweight(to_tsvector('simple'::regconfig, {p}reasoning), 'B')")
_SEARCH_DDL = (
    "ALTER TABLE nodes ADD COLUMN IF NOT EXISTS search_tsv tsvector",
    f"""CREATE OR REPLACE FUNCTION triptych_nodes_tsv() RETURNS trigger AS $$
    BEGIN
        IF NEW.status IN ({_LIVE_SQL}) THEN
            NEW.search_tsv := NULL;
        ELSIF TG_OP = 'INSERT' OR OLD.search_tsv IS NULL OR NEW.text IS DISTINCT FROM OLD.text
              OR NEW.reasoning IS DISTINCT FROM OLD.reasoning THEN
            NEW.search_tsv := {_NODE_VECTOR.format(p="NEW.")};
        END IF;
        RETURN NEW;
    END $$ LANGUAGE plpgsql""",
    "DROP TRIGGER IF EXISTS nodes_search_tsv ON nodes",
    "CREATE TRIGGER nodes_search_tsv BEFORE INSERT OR UPDATE ON nodes "
    "FOR EACH ROW EXECUTE FUNCTION triptych_nodes_tsv()",
    f"UPDATE nodes SET search_tsv = {_NODE_VECTOR.format(p='')} "
    f"WHERE search_tsv IS NULL AND status NOT IN ({_LIVE_SQL})",
    "CREATE INDEX IF NOT EXISTS ix_nodes_search_tsv ON nodes USING GIN (search_tsv)",
    f"CREATE INDEX IF NOT EXISTS ix_sessions_search ON sessions USING GIN ({_SESSION_TSV})",
)
RANK_WINDOW = 20_000
"""At most this many of a query's matches, the most recently stored, are ranked (as on SQLite)."""


def ensure_search_index(conn: Connection) -> None:
    """Create the search column, its trigger and indexes once (under the migrations' lock)."""
    ready = conn.execute(text("SELECT 1 FROM pg_trigger WHERE tgname = 'nodes_search_tsv'")).first()
    if ready is not None:
        return
    lock_migrations(conn)
    if conn.execute(text("SELECT 1 FROM pg_trigger WHERE tgname = 'nodes_search_tsv'")).first() is not None:
        return
    for ddl in _SEARCH_DDL:
        conn.execute(text(ddl))


_WORD = re.compile(r"\w+")


def ts_query(user_text: str) -> str | None:
    """What a user typed -> a safe `to_tsquery('simple', …)` string: every word quoted (punctuation is
    never syntax), all required, the last one prefix-matched when the text ends in it and it has two
    characters or more. None when there is no word (the LIKE fallback answers)."""
    words = _WORD.findall(user_text.lower())
    if not words or any(_is_cjk(ch) for ch in user_text):  # the parser does not segment CJK
        return None
    terms = [f"'{w}'" for w in words]
    stripped = user_text.rstrip()
    if stripped and stripped[-1].isalnum() and len(words[-1]) >= 2:
        terms[-1] += ":*"
    return " & ".join(terms)


_WS = re.compile(r"\s+")
_HEADLINE = "StartSel=[, StopSel=], MaxWords=16, MinWords=6, ShortWord=1, FragmentDelimiter=…, MaxFragments=1"


def search(conn: Connection, query: str, limit: int, visible: Any = None) -> list[SearchHit]:
    """Nodes (text, reasoning) and session titles matching the tsquery `query`, best first
    (`ts_rank` with text above reasoning), soft-deleted sessions excluded. `visible`: an extra SQL
    condition on the session alias `s` (the member's own and shared sessions), with its params."""
    cond, params = visible if visible is not None else ("TRUE", {})
    rows = conn.execute(
        text(
            f"""
            WITH recent AS (
                SELECT id, search_tsv FROM nodes
                WHERE search_tsv @@ to_tsquery('simple', :q)
                ORDER BY seq DESC
                LIMIT :recent),
            top AS (
                SELECT id, ts_rank(search_tsv, to_tsquery('simple', :q)) AS r
                FROM recent
                ORDER BY r DESC
                LIMIT :window)
            SELECT n.session_id, s.title, n.id, n.kind, n.model, top.r AS score,
                   ts_headline('simple', n.text || ' ' || n.reasoning, to_tsquery('simple', :q), :opts) AS snip
            FROM top
            JOIN nodes AS n ON n.id = top.id
            JOIN sessions AS s ON s.id = n.session_id
            WHERE s.deleted_at IS NULL AND {cond}
            ORDER BY top.r DESC, n.id
            LIMIT :limit
            """
        ),
        {"q": query, "opts": _HEADLINE, "limit": limit, "window": max(limit * 4, 200), "recent": RANK_WINDOW,
         **params},
    ).all()
    session_rows = conn.execute(
        text(
            f"""
            SELECT s.id, s.title, ts_headline('simple', s.title, q, :opts) AS snip,
                   ts_rank({_SESSION_TSV.replace('title', 's.title')}, q) AS score
            FROM sessions AS s, to_tsquery('simple', :q) AS q
            WHERE {_SESSION_TSV.replace('title', 's.title')} @@ q AND s.deleted_at IS NULL AND {cond}
            ORDER BY score DESC
            LIMIT :limit
            """
        ),
        {"q": query, "opts": _HEADLINE, "limit": limit, **params},
    ).all()
    scored: list[tuple[float, SearchHit]] = [
        (float(r.score), SearchHit(r.session_id, r.title, r.id, r.kind, r.model, _WS.sub(" ", r.snip).strip()))
        for r in rows
    ]
    scored += [
        (float(r.score), SearchHit(r.id, r.title, "", "session", None, _WS.sub(" ", r.snip).strip()))
        for r in session_rows
    ]
    scored.sort(key=lambda pair: -pair[0])
    return [hit for _, hit in scored[:limit]]


# --------------------------------------------------------------------------------------------------
# LISTEN/NOTIFY

NOTIFY_LIMIT = 7000  # bytes: NOTIFY payloads must stay under 8000


def notify(conn: Connection, session_ids: Sequence[str], op: str, node_ids: Sequence[str] = (),
           author: str = "", pid: str = "") -> None:
    """Announce a write on `CHANNEL`, delivered to listeners when the transaction commits. Payload:
    {"s": session id, "op": what, "n": node ids, "a": author, "p": writer's token}; a payload too long
    for NOTIFY drops its node ids (the listener then reads the session's ids itself)."""
    for sid in dict.fromkeys(session_ids):
        payload = json.dumps({"s": sid, "op": op, "n": list(node_ids), "a": author, "p": pid},
                             separators=(",", ":"))
        if len(payload.encode()) > NOTIFY_LIMIT:
            payload = json.dumps({"s": sid, "op": op, "n": None, "a": author, "p": pid}, separators=(",", ":"))
        conn.execute(text("SELECT pg_notify(:c, :p)"), {"c": CHANNEL, "p": payload})


def ids_param(name: str) -> Any:
    return bindparam(name, expanding=True)


__all__ = ["CHANNEL", "StoreUnreachableError", "is_url", "redact", "where"]
