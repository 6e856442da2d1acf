"""Named schema migrations, recorded in a `migrations` table from the very first version (in the
manner of simonw/llm's `migrations.py`), with the schema version in `PRAGMA user_version` (the number
of migrations applied, in order).

Rules for adding one:
- Append a `Migration` to `MIGRATIONS`; never edit, rename, reorder or remove a released one.
- A migration creates what it needs from its *own* table definitions (a frozen copy), never from
  `storage.schema`, whose tables describe the latest schema. Then update `storage.schema` to match
  (a test compares a freshly migrated database with it).
- Each migration runs in its own `BEGIN IMMEDIATE` transaction together with its `migrations` row
  and the new `user_version`: it applies completely or not at all. SQLite ignores
  `PRAGMA foreign_keys` inside a transaction; a table rebuild must keep the foreign keys valid.

Opening a store (`check_file`, then `apply_pending`): a database whose version is newer than the
code knows is refused and never written (it is only opened read-only); an older one is copied to
`triptych.db.bak-<version>-<timestamp>` before the first pending migration runs.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import (
    Boolean,
    Column,
    Connection,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    PrimaryKeyConstraint,
    String,
    Table,
    Text,
    insert,
    or_,
    select,
    text,
    update,
)
from sqlalchemy.schema import CreateColumn

from app.domain import now_ts
from app.repository import StoreError
from storage import sqlite
from storage.sqlite import CorruptStoreError, FileInfo

MigrationFn = Callable[[Connection], None]


@dataclass(frozen=True, slots=True)
class Migration:
    name: str
    apply: MigrationFn

    def __repr__(self) -> str:
        return f"<Migration {self.name}>"


class NewerSchemaError(StoreError):
    """The database was written by a newer Triptych. It has not been modified."""

    def __init__(self, path: Path | str, found: int, known: int) -> None:
        super().__init__(
            f"{path} was written by a newer Triptych (schema {found}, this version knows {known}); "
            "upgrade Triptych or use another " + ("store" if isinstance(path, str) else "data dir")
        )
        self.path = path
        self.found = found
        self.known = known


# The runner's own bookkeeping table. Its shape never changes.
_runner_metadata = MetaData()
_migrations_table = Table(
    "migrations",
    _runner_metadata,
    Column("name", String, primary_key=True),
    Column("applied_at", Float, nullable=False),
)


def _m001_initial(conn: Connection) -> None:
    """sessions, nodes, edges (frozen copy of the first schema; see the module docstring)."""
    md = MetaData()
    Table(
        "sessions",
        md,
        Column("seq", Integer, primary_key=True),
        Column("id", String, nullable=False, unique=True),
        Column("title", Text, nullable=False, default=""),
        Column("created_at", Float, nullable=False),
        Column("updated_at", Float, nullable=False),
        Column("viewport", Text, nullable=True),
        Column("settings", Text, nullable=True),
        Column("deleted_at", Float, nullable=True),
        Index("ix_sessions_updated_at", "updated_at"),
    )
    Table(
        "nodes",
        md,
        Column("seq", Integer, primary_key=True),
        Column("id", String, nullable=False, unique=True),
        Column("session_id", String, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        Column("kind", String, nullable=False),
        Column("text", Text, nullable=False, default=""),
        Column("reasoning", Text, nullable=False, default=""),
        Column("model", String, nullable=True),
        Column("params", Text, nullable=True),
        Column("status", String, nullable=False),
        Column("error", Text, nullable=True),
        Column("finish", String, nullable=True),
        Column("input_tokens", Integer, nullable=True),
        Column("cached_input_tokens", Integer, nullable=True),
        Column("cache_write_tokens", Integer, nullable=True),
        Column("output_tokens", Integer, nullable=True),
        Column("reasoning_tokens", Integer, nullable=True),
        Column("cost_usd", Float, nullable=True),
        Column("reported_cost_usd", Float, nullable=True),
        Column("ttft_ms", Integer, nullable=True),
        Column("duration_ms", Integer, nullable=True),
        Column("x", Float, nullable=False, default=0.0),
        Column("y", Float, nullable=False, default=0.0),
        Column("width", Float, nullable=True),
        Column("height", Float, nullable=True),
        Column("collapsed", Boolean, nullable=False, default=False),
        Column("color", String, nullable=True),
        Column("title", Text, nullable=True),
        Column("meta", Text, nullable=True),
        Column("owner_pid", Integer, nullable=True),
        Column("owner_host", String, nullable=True),
        Column("heartbeat", Float, nullable=True),
        Column("created_at", Float, nullable=False),
        Column("updated_at", Float, nullable=False),
        Index("ix_nodes_session_order", "session_id", "created_at", "id"),
        Index("ix_nodes_status", "status"),
    )
    Table(
        "edges",
        md,
        Column("parent_id", String, ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
        Column("child_id", String, ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
        Column("role", String, nullable=False),
        Column("position", Integer, nullable=False, default=0),
        Column("session_id", String, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        PrimaryKeyConstraint("parent_id", "child_id", "role"),
        Index("ix_edges_child", "child_id", "position"),
        Index(
            "ix_edges_session", "session_id", "child_id", "position", "parent_id", "role"
        ),  # covers load_graph
    )
    md.create_all(conn)


def _m002_attachments(conn: Connection) -> None:
    """Attachments: `blobs` (each file's bytes once, by SHA-256) and `node_files` (which prompt carries
    which file, in order, under which name). Self-contained: it creates only its own two tables."""
    md = MetaData()
    Table("nodes", md, Column("id", String, primary_key=True))  # referenced only, not created
    Table(
        "blobs",
        md,
        Column("sha256", String, primary_key=True),
        Column("kind", String, nullable=False),
        Column("mime", String, nullable=False),
        Column("size", Integer, nullable=False),
        Column("info", Text, nullable=True),
        Column("data", LargeBinary, nullable=False),
        Column("created_at", Float, nullable=False),
    )
    Table(
        "node_files",
        md,
        Column("node_id", String, ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
        Column("position", Integer, nullable=False),
        Column("sha256", String, ForeignKey("blobs.sha256"), nullable=False),
        Column("name", Text, nullable=False),
        PrimaryKeyConstraint("node_id", "position"),
        Index("ix_node_files_sha256", "sha256"),
    )
    md.create_all(conn, tables=[md.tables["blobs"], md.tables["node_files"]])
_USAGE_COLUMNS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens")


def _m003_card_positions(conn: Connection) -> None:
    """Indexes for opening a session without reading every card's text: on card positions (the
    cards the view shows, `nodes_in_rect`: a range on x, then y, within the session) and one that
    covers the session's outline (`load_outline`) and its totals (`session_totals`)."""
    md = MetaData()
    nodes = Table(
        "nodes",
        md,
        *(Column(name, String) for name in ("session_id", "id", "kind", "status", "model", "color")),
        *(Column(name, Float) for name in ("x", "y", "width", "height", "created_at")),
        Column("collapsed", Boolean),
        *(Column(name, Integer) for name in _USAGE_COLUMNS),
        *(Column(name, Float) for name in ("cost_usd", "reported_cost_usd")),
    )
    Index("ix_nodes_session_xy", nodes.c.session_id, nodes.c.x, nodes.c.y).create(conn)
    # covers load_outline (every card's place and look in creation order) and session_totals (usage
    # and cost), without reading the rows, whose text comes first in the record: 23 MB for 10,000
    # cards, 230 MB for 100,000
    c = nodes.c
    Index(
        "ix_nodes_outline", c.session_id, c.created_at, c.id, c.kind, c.status, c.model, c.color, c.x, c.y,
        c.width, c.height, c.collapsed, *(c[name] for name in _USAGE_COLUMNS), c.cost_usd,
        c.reported_cost_usd,
    ).create(conn)  # fmt: skip


def _m004_arena(conn: Connection) -> None:
    """Blind-match arena (app.arena): `matches` (two answers to one prompt, sides A/B, tags) and
    `votes` (one per match and voter; a changed vote replaces the row). Self-contained: it creates
    only its own two tables (sessions and nodes are referenced, not created)."""
    md = MetaData()
    Table("sessions", md, Column("id", String, primary_key=True))  # referenced only
    Table("nodes", md, Column("id", String, primary_key=True))  # referenced only
    Table(
        "matches",
        md,
        Column("id", String, primary_key=True),
        Column("session_id", String, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
        Column("prompt_id", String, ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
        Column("a_node_id", String, ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
        Column("b_node_id", String, ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
        Column("a_model", String, nullable=False),
        Column("b_model", String, nullable=False),
        Column("tags", Text, nullable=True),
        Column("created_at", Float, nullable=False),
        Index("ix_matches_session", "session_id"),
    )
    Table(
        "votes",
        md,
        Column("match_id", String, ForeignKey("matches.id", ondelete="CASCADE"), nullable=False),
        Column("voter", String, nullable=False),
        Column("vote", String, nullable=False),
        Column("created_at", Float, nullable=False),
        PrimaryKeyConstraint("match_id", "voter"),
    )
    md.create_all(conn, tables=[md.tables["matches"], md.tables["votes"]])


def _m005_pg_members(conn: Connection) -> None:
    """Members of a team store (DESIGN.md "Team store"): who created each session and whether others
    see it, who wrote each card. Plain ALTERs that both SQLite and PostgreSQL run as written."""
    conn.exec_driver_sql("ALTER TABLE sessions ADD COLUMN owner VARCHAR")
    conn.exec_driver_sql("ALTER TABLE sessions ADD COLUMN visibility VARCHAR DEFAULT 'shared' NOT NULL")
    conn.exec_driver_sql("ALTER TABLE nodes ADD COLUMN author VARCHAR")


def _m006_started_at(value: object) -> float | None:
    """m006's reading of the request start an older Triptych kept in meta (ISO 8601 text, UTC)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    if not isinstance(value, str):
        return None
    try:
        when = datetime.fromisoformat(value.strip())
    except ValueError:
        return None
    return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()


def _m006_run_record(conn: Connection) -> None:
    """The run record (app.domain.RunRecord) gets its own columns of `nodes`: started_at (Unix s),
    request_id, no_key, dropped_params (JSON list), insecure and rerun_of, which an older Triptych kept
    as keys of the untyped `meta` JSON. Each value moves out of `meta` into its column; one that is
    not of its column's type (never written so by Triptych) stays in `meta`, so nothing is lost."""

    def columns() -> tuple[Column[Any], ...]:
        return (
            Column("started_at", Float, nullable=True),
            Column("request_id", String, nullable=True),
            Column("no_key", Boolean, nullable=True),
            Column("dropped_params", Text, nullable=True),
            Column("insecure", Text, nullable=True),
            Column("rerun_of", String, nullable=True),
        )

    for column in columns():
        conn.execute(text(f"ALTER TABLE nodes ADD COLUMN {CreateColumn(column).compile(dialect=conn.dialect)}"))
    md = MetaData()
    nodes = Table("nodes", md, Column("seq", Integer, primary_key=True), Column("meta", Text), *columns())
    keys = ("started_at", "request_id", "no_key", "dropped_params", "insecure", "rerun_of")
    has_key = or_(*(nodes.c.meta.like(f'%"{key}"%') for key in keys))
    last = -1
    while True:
        rows = conn.execute(
            select(nodes.c.seq, nodes.c.meta)
            .where(nodes.c.seq > last, nodes.c.meta.is_not(None))
            .where(has_key)
            .order_by(nodes.c.seq)
            .limit(1000)
        ).all()
        if not rows:
            return
        for seq, meta_text in rows:
            last = seq
            try:
                meta = json.loads(meta_text)
            except ValueError:
                continue
            if not isinstance(meta, dict):
                continue
            values: dict[str, object] = {}  # column -> value; the key leaves meta
            started = _m006_started_at(meta.get("started_at"))
            if started is not None:
                values["started_at"] = started
            for key in ("request_id", "insecure", "rerun_of"):
                if isinstance(meta.get(key), str):
                    values[key] = meta[key]
            if isinstance(meta.get("no_key"), bool):
                values["no_key"] = meta["no_key"] or None
            dropped = meta.get("dropped_params")
            if isinstance(dropped, list) and all(isinstance(d, str) for d in dropped):
                values["dropped_params"] = json.dumps(dropped, ensure_ascii=False, separators=(",", ":")) if dropped else None
            if not values:
                continue
            rest = {k: v for k, v in meta.items() if k not in values}
            values["meta"] = json.dumps(rest, ensure_ascii=False, separators=(",", ":")) if rest else None
            conn.execute(update(nodes).where(nodes.c.seq == seq).values(**values))


MIGRATIONS: tuple[Migration, ...] = (
    Migration("m001_initial", _m001_initial),
    Migration("m002_attachments", _m002_attachments),
    Migration("m003_card_positions", _m003_card_positions),
    Migration("m004_arena", _m004_arena),
    Migration("m005_pg_members", _m005_pg_members),
    Migration("m006_run_record", _m006_run_record),
)
SCHEMA_VERSION = len(MIGRATIONS)

_OWN_TABLES = {"migrations", "sessions", "nodes", "edges", "blobs", "node_files", "matches", "votes"}


def check_file(db_path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> FileInfo:
    """Inspect `db_path` read-only and refuse what this code must not open: a newer schema
    (NewerSchemaError), a damaged file or another program's database (CorruptStoreError)."""
    info = sqlite.inspect_file(db_path)
    if info.empty:
        return info
    known = len(migrations)
    if info.user_version > known:
        raise NewerSchemaError(db_path, info.user_version, known)
    user_tables = {t for t in info.tables if not t.startswith("sqlite_")}
    if info.user_version == 0 and user_tables - _OWN_TABLES - {"nodes_fts", "sessions_fts"}:
        foreign = ", ".join(sorted(user_tables)[:5])
        raise CorruptStoreError(
            f"{db_path} is an SQLite database of another program (tables: {foreign}), not a Triptych "
            "store. The file has not been changed; use another data dir or move it aside.",
            db_path,
        )
    if info.user_version > 0 and "migrations" not in info.tables:
        raise CorruptStoreError(
            f"{db_path} has schema version {info.user_version} but no migrations table: it is not a "
            "Triptych store. The file has not been changed; use another data dir or move it aside.",
            db_path,
        )
    return info


def needs_backup(info: FileInfo, migrations: Sequence[Migration] = MIGRATIONS) -> bool:
    """An existing database with data whose version is older than the code's."""
    return not info.empty and 0 < info.user_version < len(migrations)


def applied_migrations(conn: Connection) -> list[str]:
    rows = conn.execute(select(_migrations_table.c.name).order_by(_migrations_table.c.applied_at))
    return [str(r[0]) for r in rows]


def apply_pending(engine: Engine, db_path: Path, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """Apply the migrations the database lacks, each in its own IMMEDIATE transaction (safe when two
    processes open an old store at once: the second sees the first's work and skips it). Returns the
    names applied by this call."""
    known = len(migrations)
    with engine.connect() as conn:
        version = sqlite.get_user_version(conn)
        conn.rollback()
    if version == known:
        return []
    done: list[str] = []
    write = sqlite.writer(engine)
    for index, migration in enumerate(migrations):
        try:
            with write.begin() as conn:
                version = sqlite.get_user_version(conn)
                if version > known:
                    raise NewerSchemaError(db_path, version, known)
                if version > index:
                    continue
                _migrations_table.create(conn, checkfirst=True)
                migration.apply(conn)
                conn.execute(insert(_migrations_table).values(name=migration.name, applied_at=now_ts()))
                sqlite.set_user_version(conn, index + 1)
        except StoreError:
            raise
        except Exception as exc:
            raise StoreError(
                f"migration {migration.name} failed on {db_path}: {exc}; that migration was rolled back"
            ) from exc
        done.append(migration.name)
    return done


def apply_pending_pg(engine: Engine, where: str, migrations: Sequence[Migration] = MIGRATIONS) -> list[str]:
    """The same migrations on PostgreSQL (storage.backend_pg): the version is the number of rows in
    `migrations`; all pending ones run in one transaction under an advisory lock (a second process
    opening the store at once waits, then finds nothing to do). A newer schema, or another program's
    tables in an empty store, is refused before anything is written."""
    from storage import backend_pg

    known = len(migrations)
    done: list[str] = []
    with engine.begin() as conn:
        version, _names = backend_pg.get_version(conn)
        if version > known:
            raise NewerSchemaError(where, version, known)
        if version == known:
            return []
        backend_pg.lock_migrations(conn)
        version, _names = backend_pg.get_version(conn)
        if version > known:
            raise NewerSchemaError(where, version, known)
        if version == 0:
            foreign = backend_pg.foreign_tables(conn, _OWN_TABLES)
            if foreign:
                raise StoreError(
                    f"the database {where} holds another program's tables ({', '.join(foreign[:5])}), not a "
                    "Triptych store; nothing was changed. Use an empty database."
                )
        _migrations_table.create(conn, checkfirst=True)
        for migration in migrations[version:]:
            try:
                with conn.begin_nested():
                    migration.apply(conn)
                    backend_pg.record_migration(conn, _migrations_table, migration.name)
            except Exception as exc:
                raise StoreError(
                    f"migration {migration.name} failed on {where}: {exc}; nothing was changed"
                ) from exc
            done.append(migration.name)
    return done
