"""Everything SQLite-only lives here: the engine and its pragmas (WAL, synchronous, foreign keys,
busy timeout), explicit `BEGIN`/`BEGIN IMMEDIATE` transactions, the schema version in
`PRAGMA user_version`, read-only inspection of a database file before anything writes to it, the
backup copies, and the FTS5 search index (its virtual tables, sync triggers and queries).

A PostgreSQL backend would replace this module and keep `storage.schema` and the repository queries.

Threading: the engine may be used from any thread (`check_same_thread=False`, pooled connections);
every repository method holds one connection for one short transaction.
"""

from __future__ import annotations

import re
import sqlite3
import struct
import time
import weakref
from collections.abc import Iterator
from contextlib import closing, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Connection, Engine, bindparam, create_engine, event, text
from sqlalchemy.exc import DBAPIError

from app.paths import DB_FILENAME
from app.repository import LIVE_STATUSES, SearchHit, StoreBusyError, StoreError

BUSY_TIMEOUT_MS = 5000
"""How long a write waits for another process's write lock by default (the CLI; the GUI's store uses
`GUI_BUSY_TIMEOUT_MS` once it is open, see `set_busy_timeout`)."""
GUI_BUSY_TIMEOUT_MS = 50
"""The longest a store call on the GUI thread may wait for another process's writer: past it the call
fails with a StoreError (streaming writes are kept in memory and retried, see app.engine)."""
_HEADER_MAGIC = b"SQLite format 3\x00"
_LIVE_SQL = ", ".join(f"'{s.value}'" for s in LIVE_STATUSES)  # 'pending', 'streaming'


class CorruptStoreError(StoreError):
    """The database file is damaged or is not a Triptych database. `path` names it; the file has not
    been modified. `backup_corrupt(path)` moves it aside so a fresh store can be created."""

    def __init__(self, message: str, path: Path) -> None:
        super().__init__(message)
        self.path = path


def _timestamp() -> str:
    return time.strftime("%Y%m%d-%H%M%S")


def _free_name(path: Path) -> Path:
    """`path`, or `path-2`, `path-3`… if it exists (two backups in the same second)."""
    candidate, n = path, 1
    while candidate.exists():
        n += 1
        candidate = path.with_name(f"{path.name}-{n}")
    return candidate


# --------------------------------------------------------------------------------------------------
# engine and transactions


def make_engine(db_path: Path, busy_timeout_ms: int = BUSY_TIMEOUT_MS) -> Engine:
    """A pooled engine on `db_path` with WAL, `synchronous=NORMAL` (a committed transaction survives
    a killed process; only an OS crash can lose the last ones), foreign keys and a busy timeout
    (5 s by default; `set_busy_timeout` changes it for every pooled connection).

    pysqlite's own implicit transactions are turned off: each transaction starts with an explicit
    `BEGIN` (reads) or `BEGIN IMMEDIATE` (writes, see `writer`). A write that starts as a read could
    not wait for another process's write lock (SQLITE_BUSY_SNAPSHOT ignores the busy timeout).
    """
    engine = create_engine(
        URL.create("sqlite", database=str(db_path)),
        connect_args={"check_same_thread": False, "timeout": busy_timeout_ms / 1000},
        # Errors must never carry the bound values (answer text, prompts) into logs and messages.
        hide_parameters=True,
    )
    _BUSY_MS[engine] = busy_timeout_ms

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_conn: Any, record: Any) -> None:
        dbapi_conn.isolation_level = None  # we issue BEGIN ourselves (see _on_begin)
        busy = busy_timeout(engine)
        with closing(dbapi_conn.cursor()) as cur:
            cur.execute(f"PRAGMA busy_timeout = {busy}")
            cur.execute("PRAGMA journal_mode = WAL")
            cur.execute("PRAGMA synchronous = NORMAL")
            cur.execute("PRAGMA foreign_keys = ON")
        record.info["busy_ms"] = busy

    @event.listens_for(engine, "checkout")
    def _on_checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        busy = busy_timeout(engine)
        if record.info.get("busy_ms") != busy:  # set_busy_timeout since this connection was made
            with closing(dbapi_conn.cursor()) as cur:
                cur.execute(f"PRAGMA busy_timeout = {busy}")
            record.info["busy_ms"] = busy

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Connection) -> None:
        mode = conn.get_execution_options().get("sqlite_begin", "DEFERRED")
        conn.exec_driver_sql(f"BEGIN {mode}")

    return engine


_BUSY_MS: weakref.WeakKeyDictionary[Engine, int] = weakref.WeakKeyDictionary()


def busy_timeout(engine: Engine) -> int:
    """The busy timeout (ms) of `engine`'s connections."""
    return _BUSY_MS.get(engine, BUSY_TIMEOUT_MS)


def set_busy_timeout(engine: Engine, ms: int) -> None:
    """From now on every transaction of `engine` (any thread) waits at most `ms` for another process's
    write lock; pooled connections take the new value when next checked out."""
    _BUSY_MS[engine] = int(ms)


def writer(engine: Engine) -> Engine:
    """The same engine (same pool) whose transactions start with `BEGIN IMMEDIATE`: the write lock is
    taken up front, waiting up to the busy timeout for another process's writer."""
    return engine.execution_options(sqlite_begin="IMMEDIATE")


def get_user_version(conn: Connection) -> int:
    return int(conn.exec_driver_sql("PRAGMA user_version").scalar_one())


def set_user_version(conn: Connection, version: int) -> None:
    conn.exec_driver_sql(f"PRAGMA user_version = {int(version)}")


_CORRUPTION_MARKERS = ("malformed", "not a database", "file is encrypted")


def is_corruption(exc: BaseException) -> bool:
    """Whether an exception (SQLAlchemy-wrapped or raw sqlite3) says the file is damaged."""
    orig = exc.orig if isinstance(exc, DBAPIError) else exc
    if not isinstance(orig, sqlite3.DatabaseError) or isinstance(orig, sqlite3.OperationalError):
        return False
    message = str(orig).lower()
    return any(marker in message for marker in _CORRUPTION_MARKERS)


# --------------------------------------------------------------------------------------------------
# read-only inspection, backups


@dataclass(slots=True)
class FileInfo:
    """What a database file holds, read without writing to it. `empty`: absent or zero bytes."""

    empty: bool
    user_version: int = 0
    tables: set[str] = field(default_factory=set)
    migrations: list[str] = field(default_factory=list)


def _corrupt(db_path: Path, detail: str) -> CorruptStoreError:
    return CorruptStoreError(
        f"{db_path} is damaged or is not a Triptych database ({detail}). The file has not been "
        "changed; move it aside (keeping a copy) to start with a fresh store, or use another data dir.",
        db_path,
    )


def _check_header(db_path: Path) -> None:
    """Cheap structural checks that catch garbage and truncated files before SQLite reads pages."""
    size = db_path.stat().st_size
    with db_path.open("rb") as fh:
        header = fh.read(100)
    if len(header) < 100 or not header.startswith(_HEADER_MAGIC):
        raise _corrupt(db_path, "not an SQLite database file")
    page_size = struct.unpack(">H", header[16:18])[0]
    page_size = 65536 if page_size == 1 else page_size
    if page_size < 512 or page_size & (page_size - 1):
        raise _corrupt(db_path, f"invalid page size {page_size}")
    change_counter, page_count = struct.unpack(">II", header[24:32])
    valid_for = struct.unpack(">I", header[92:96])[0]
    wal = db_path.with_name(db_path.name + "-wal")
    wal_has_data = wal.exists() and wal.stat().st_size > 0
    # Pages missing from the main file may still be in the WAL (a checkpoint cut short): only judge
    # the size when there is no WAL content.
    if not wal_has_data and page_count and change_counter == valid_for and size < page_count * page_size:
        raise _corrupt(db_path, f"truncated: {size} bytes, expected {page_count * page_size}")


def _connect_readonly(db_path: Path, immutable: bool) -> sqlite3.Connection:
    # immutable=1 opens without locks and without creating -wal/-shm files (safe only when there is
    # no WAL: then no other process has the database open in WAL mode). mode=ro reads the WAL.
    query = "immutable=1" if immutable else "mode=ro"
    return sqlite3.connect(f"{db_path.absolute().as_uri()}?{query}", uri=True, timeout=BUSY_TIMEOUT_MS / 1000)


def inspect_file(db_path: Path) -> FileInfo:
    """Read the schema version, table names and applied migrations of `db_path` without writing to
    it. Raises CorruptStoreError for a damaged file. Never creates the file."""
    if not db_path.exists() or db_path.stat().st_size == 0:
        return FileInfo(empty=True)
    try:
        _check_header(db_path)
    except OSError as exc:
        raise StoreError(f"cannot read {db_path}: {exc.strerror or exc}") from exc
    # immutable first when no other process can have the file open in WAL mode (no -wal file) and
    # there is no hot rollback journal; then, or to rule out a writer that raced us, read-only.
    sidecars = [db_path.with_name(db_path.name + suffix) for suffix in ("-wal", "-journal")]
    attempts = [False] if any(p.exists() for p in sidecars) else [True, False]
    last: sqlite3.DatabaseError | None = None
    for immutable in attempts:
        try:
            with closing(_connect_readonly(db_path, immutable)) as con:
                version = int(con.execute("PRAGMA user_version").fetchone()[0])
                tables = {
                    str(row[0]) for row in con.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
                }
                applied: list[str] = []
                if "migrations" in tables:
                    applied = [
                        str(r[0]) for r in con.execute("SELECT name FROM migrations ORDER BY applied_at")
                    ]
                return FileInfo(empty=False, user_version=version, tables=tables, migrations=applied)
        except sqlite3.OperationalError as exc:
            if "locked" in str(exc) or "busy" in str(exc):
                raise StoreError(f"{db_path} is locked by another program: {exc}") from exc
            last = exc
        except sqlite3.DatabaseError as exc:
            last = exc
    assert last is not None
    if isinstance(last, sqlite3.OperationalError) and not is_corruption(last):
        raise StoreError(f"cannot open {db_path}: {last}") from last
    raise _corrupt(db_path, str(last)) from last


def copy_database(db_path: Path, dest: Path) -> None:
    """A consistent copy of `db_path` (WAL content included) at `dest`, via `VACUUM INTO` on a
    read-only connection."""
    try:
        with closing(_connect_readonly(db_path, immutable=False)) as con:
            con.execute("VACUUM INTO ?", (str(dest),))
    except sqlite3.Error as exc:
        raise StoreError(f"could not back up {db_path} to {dest}: {exc}") from exc


def backup_before_migration(db_path: Path, from_version: int) -> Path:
    """Copy `db_path` to `<name>.bak-<version>-<timestamp>` next to it; returns the copy's path."""
    dest = _free_name(db_path.with_name(f"{db_path.name}.bak-{from_version}-{_timestamp()}"))
    copy_database(db_path, dest)
    return dest


def backup_corrupt(path: str | Path) -> Path:
    """Rename a damaged database (and its -wal/-shm files) aside to `<name>.corrupt-<timestamp>` so a
    fresh store can be created at the same place. `path` is the data dir or the .db file. Returns the
    new path of the database file. Nothing is deleted."""
    db_path = resolve_db_path(path)
    dest = _free_name(db_path.with_name(f"{db_path.name}.corrupt-{_timestamp()}"))
    try:
        for suffix in ("", "-wal", "-shm", "-journal"):
            src = db_path.with_name(db_path.name + suffix)
            if src.exists():
                src.rename(dest.with_name(dest.name + suffix))
    except OSError as exc:
        raise StoreError(f"could not move {db_path} aside: {exc.strerror or exc}") from exc
    return dest


def resolve_db_path(path_or_dir: str | Path) -> Path:
    """A data dir -> `<dir>/triptych.db`; a path ending in .db/.sqlite/.sqlite3, or an existing file,
    is the database itself."""
    path = Path(path_or_dir).expanduser()
    if path.suffix.lower() in (".db", ".sqlite", ".sqlite3") or path.is_file():
        return path
    return path / DB_FILENAME


# --------------------------------------------------------------------------------------------------
# full-text search (FTS5)
#
# External-content FTS5 tables over `nodes` (text, reasoning) and `sessions` (title), kept in sync by
# triggers. Nodes that are still `pending`/`streaming` are NOT indexed: the hot streaming UPDATE then
# costs no re-indexing (a 50k-char answer would otherwise be re-tokenized 4 times a second). A node
# is indexed when it reaches a final status, and re-indexed when its text changes afterwards.

_FTS_DDL = (
    "CREATE VIRTUAL TABLE IF NOT EXISTS nodes_fts USING fts5("
    "text, reasoning, content='nodes', content_rowid='seq', tokenize='unicode61 remove_diacritics 2')",
    "CREATE VIRTUAL TABLE IF NOT EXISTS sessions_fts USING fts5("
    "title, content='sessions', content_rowid='seq', tokenize='unicode61 remove_diacritics 2')",
    f"""CREATE TRIGGER IF NOT EXISTS nodes_fts_ai AFTER INSERT ON nodes
    WHEN new.status NOT IN ({_LIVE_SQL}) BEGIN
        INSERT INTO nodes_fts(rowid, text, reasoning) VALUES (new.seq, new.text, new.reasoning);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS nodes_fts_ad AFTER DELETE ON nodes
    WHEN old.status NOT IN ({_LIVE_SQL}) BEGIN
        INSERT INTO nodes_fts(nodes_fts, rowid, text, reasoning)
        VALUES ('delete', old.seq, old.text, old.reasoning);
    END""",
    f"""CREATE TRIGGER IF NOT EXISTS nodes_fts_au AFTER UPDATE OF text, reasoning, status ON nodes
    WHEN NOT (old.status IN ({_LIVE_SQL}) AND new.status IN ({_LIVE_SQL}))
     AND (old.text IS NOT new.text OR old.reasoning IS NOT new.reasoning
          OR (old.status IN ({_LIVE_SQL})) <> (new.status IN ({_LIVE_SQL}))) BEGIN
        INSERT INTO nodes_fts(nodes_fts, rowid, text, reasoning)
        SELECT 'delete', old.seq, old.text, old.reasoning WHERE old.status NOT IN ({_LIVE_SQL});
        INSERT INTO nodes_fts(rowid, text, reasoning)
        SELECT new.seq, new.text, new.reasoning WHERE new.status NOT IN ({_LIVE_SQL});
    END""",
    """CREATE TRIGGER IF NOT EXISTS sessions_fts_ai AFTER INSERT ON sessions BEGIN
        INSERT INTO sessions_fts(rowid, title) VALUES (new.seq, new.title);
    END""",
    """CREATE TRIGGER IF NOT EXISTS sessions_fts_ad AFTER DELETE ON sessions BEGIN
        INSERT INTO sessions_fts(sessions_fts, rowid, title) VALUES ('delete', old.seq, old.title);
    END""",
    """CREATE TRIGGER IF NOT EXISTS sessions_fts_au AFTER UPDATE OF title ON sessions
    WHEN old.title IS NOT new.title BEGIN
        INSERT INTO sessions_fts(sessions_fts, rowid, title) VALUES ('delete', old.seq, old.title);
        INSERT INTO sessions_fts(rowid, title) VALUES (new.seq, new.title);
    END""",
)
_FTS_TRIGGERS = (
    "nodes_fts_ai",
    "nodes_fts_ad",
    "nodes_fts_au",
    "sessions_fts_ai",
    "sessions_fts_ad",
    "sessions_fts_au",
)
_FTS_TABLES = ("nodes_fts", "sessions_fts")


def fts5_available(conn: Connection) -> bool:
    """Whether this SQLite build has FTS5 (it almost always has)."""
    try:
        conn.exec_driver_sql("CREATE VIRTUAL TABLE temp._triptych_fts5_probe USING fts5(x)")
        conn.exec_driver_sql("DROP TABLE temp._triptych_fts5_probe")
    except DBAPIError:
        return False
    return True


def _schema_names(conn: Connection, kind: str) -> set[str]:
    rows = conn.exec_driver_sql("SELECT name FROM sqlite_master WHERE type = ?", (kind,))
    return {str(r[0]) for r in rows}


def ensure_search_index(engine: Engine, *, enabled: bool = True) -> bool:
    """Create the FTS5 tables and triggers if missing (and fill them), or, when FTS5 is unavailable
    (or `enabled` is False), drop the triggers so writes keep working and search falls back to LIKE.
    Returns whether the FTS index is in use. Idempotent; writes only when something is missing."""
    with engine.connect() as conn:
        tables, triggers = _schema_names(conn, "table"), _schema_names(conn, "trigger")
        conn.rollback()
        complete = set(_FTS_TABLES) <= tables and set(_FTS_TRIGGERS) <= triggers
        use_fts = enabled and fts5_available(conn)
        conn.rollback()
    if use_fts and complete:
        return True
    if not use_fts and not (set(_FTS_TRIGGERS) & triggers):
        return False
    with writer(engine).begin() as conn:
        # Re-check under the write lock: another process may have done it meanwhile.
        tables, triggers = _schema_names(conn, "table"), _schema_names(conn, "trigger")
        complete = set(_FTS_TABLES) <= tables and set(_FTS_TRIGGERS) <= triggers
        if use_fts and complete:
            return True
        if not use_fts:
            for name in _FTS_TRIGGERS:
                conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
            return False
        # Rebuild from scratch: drop whatever half exists, create, fill from the content tables.
        for name in _FTS_TRIGGERS:
            conn.exec_driver_sql(f"DROP TRIGGER IF EXISTS {name}")
        for name in _FTS_TABLES:
            conn.exec_driver_sql(f"DROP TABLE IF EXISTS {name}")
        for ddl in _FTS_DDL:
            conn.exec_driver_sql(ddl)
        conn.exec_driver_sql(
            "INSERT INTO nodes_fts(rowid, text, reasoning) SELECT seq, text, reasoning FROM nodes "
            f"WHERE status NOT IN ({_LIVE_SQL})"
        )
        conn.exec_driver_sql("INSERT INTO sessions_fts(rowid, title) SELECT seq, title FROM sessions")
    return True


def check_search_index(conn: Connection) -> None:
    """FTS5's own integrity check of both indexes against their content tables (tests, repair)."""
    conn.exec_driver_sql("INSERT INTO nodes_fts(nodes_fts, rank) VALUES ('integrity-check', 1)")
    conn.exec_driver_sql("INSERT INTO sessions_fts(sessions_fts, rank) VALUES ('integrity-check', 1)")


def _is_cjk(ch: str) -> bool:
    code = ord(ch)
    return (
        0x3040 <= code <= 0x30FF  # kana
        or 0x3400 <= code <= 0x4DBF
        or 0x4E00 <= code <= 0x9FFF
        or 0xAC00 <= code <= 0xD7AF  # hangul
        or 0xF900 <= code <= 0xFAFF
        or 0x20000 <= code <= 0x2FFFF
    )


def fts_query(user_text: str) -> str | None:
    """Turn what a user typed into a safe FTS5 query: every term quoted (so `C++`, `"`, `-`, `AND`,
    `col:` are plain text, never syntax), all terms required, the last one prefix-matched when it ends
    in a letter or digit and has two characters or more (search as you type; a one-letter prefix
    would expand to most of the vocabulary). None when FTS5 cannot answer it well: no term with a
    letter or digit (`->`, emoji), or CJK text (the unicode61 tokenizer does not segment words, so a
    substring search is used instead)."""
    terms = [t for t in user_text.split() if any(ch.isalnum() for ch in t)]
    if not terms or any(_is_cjk(ch) for ch in user_text):
        return None
    quoted = ['"' + t.replace('"', '""') + '"' for t in terms]
    if terms[-1][-1].isalnum() and len(terms[-1]) >= 2:
        quoted[-1] += "*"
    return " ".join(quoted)


_WS = re.compile(r"\s+")


def _clean_snippet(snippet: str) -> str:
    return _WS.sub(" ", snippet).strip()


RANK_WINDOW = 20_000
"""At most this many of a query's matches, the most recently stored, are ranked (see `search_fts`)."""


def search_fts(conn: Connection, match: str, limit: int) -> list[SearchHit]:
    """Nodes (text, reasoning) and session titles matching the FTS5 query `match`, best first (bm25;
    text weighs twice reasoning), soft-deleted sessions excluded.

    A query with more than `RANK_WINDOW` matching nodes ranks only the `RANK_WINDOW` most recently
    stored ones (highest `seq`): bm25 for every match of a word found in most of 100k nodes costs
    ~70 ms a keystroke (bench/bench_store.py, target ≤ 50 ms), and the best of 20,000 recent
    matches is what the sidebar can show anyway."""
    # The cut-off: FTS5 walks a term's doclist backwards cheaply (~1 ms for 85k matches).
    after = conn.execute(
        text(
            "SELECT rowid FROM nodes_fts WHERE nodes_fts MATCH :match ORDER BY rowid DESC LIMIT 1 OFFSET :window"
        ),
        {"match": match, "window": RANK_WINDOW},
    ).scalar()
    # Rank on the FTS table alone, excluding the (few) nodes of soft-deleted sessions by rowid: a
    # join per match would double the cost of a term found in most of 100k nodes. Then fetch the
    # node and session fields of the top rows only.
    window = "AND nodes_fts.rowid > :after" if after is not None else ""
    ranked = conn.execute(
        text(
            f"""
            SELECT nodes_fts.rowid AS seq,
                   snippet(nodes_fts, -1, '[', ']', '…', 16) AS snip,
                   bm25(nodes_fts, 2.0, 1.0) AS score
            FROM nodes_fts
            WHERE nodes_fts MATCH :match {window}
              AND nodes_fts.rowid NOT IN (
                  SELECT seq FROM nodes
                  WHERE session_id IN (SELECT id FROM sessions WHERE deleted_at IS NOT NULL))
            ORDER BY score
            LIMIT :limit
            """
        ),
        {"match": match, "limit": limit, "after": after},
    ).all()
    details = {
        r.seq: r
        for r in conn.execute(
            text(
                "SELECT n.seq, n.session_id, s.title, n.id, n.kind, n.model FROM nodes AS n "
                "JOIN sessions AS s ON s.id = n.session_id WHERE n.seq IN :seqs"
            ).bindparams(bindparam("seqs", expanding=True)),
            {"seqs": [r.seq for r in ranked]},
        )
    }
    node_rows = [(r, details[r.seq]) for r in ranked if r.seq in details]
    session_rows = conn.execute(
        text(
            """
            SELECT s.id, s.title, highlight(sessions_fts, 0, '[', ']') AS snip,
                   bm25(sessions_fts) AS score
            FROM sessions_fts
            JOIN sessions AS s ON s.seq = sessions_fts.rowid
            WHERE sessions_fts MATCH :match AND s.deleted_at IS NULL
            ORDER BY score
            LIMIT :limit
            """
        ),
        {"match": match, "limit": limit},
    ).all()
    scored: list[tuple[float, SearchHit]] = [
        (float(r.score), SearchHit(d.session_id, d.title, d.id, d.kind, d.model, _clean_snippet(r.snip)))
        for r, d in node_rows
    ]
    scored += [
        (float(r.score), SearchHit(r.id, r.title, "", "session", None, _clean_snippet(r.snip)))
        for r in session_rows
    ]
    scored.sort(key=lambda pair: pair[0])
    return [hit for _, hit in scored[:limit]]


@contextmanager
def translate_errors(db_path: Path, busy_ms: int = BUSY_TIMEOUT_MS) -> Iterator[None]:
    """Turn SQLite's 'malformed' errors into a CorruptStoreError naming the file, and a write lock
    held by another process for longer than the busy timeout, a full disk, a read-only file or an I/O
    error into a StoreError that says what to do."""
    try:
        yield
    except DBAPIError as exc:
        if is_corruption(exc):
            raise _corrupt(db_path, str(exc.orig)) from exc
        if isinstance(exc.orig, sqlite3.OperationalError):
            detail = str(exc.orig)
            if "locked" in detail:
                waited = f"{busy_ms / 1000:g} s" if busy_ms >= 1000 else f"{busy_ms} ms"
                raise StoreBusyError(
                    f"{db_path} is locked: another program has been writing to it for more than "
                    f"{waited} ({detail})"
                ) from exc
            if "disk is full" in detail:
                raise StoreError(f"cannot write {db_path}: the disk is full ({detail}); free some space") from exc
            if "readonly" in detail or "read-only" in detail:
                raise StoreError(
                    f"cannot write {db_path}: the file or its folder is read-only ({detail}); check its "
                    "permissions, or use another data dir"
                ) from exc
            if "disk i/o error" in detail.lower():
                raise StoreError(f"cannot write {db_path}: disk I/O error ({detail}); check the disk") from exc
        raise
