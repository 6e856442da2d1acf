"""Schema versions: every migration is recorded from the first version, a newer database is refused
and left byte-identical, an older one is backed up and then migrated."""

from __future__ import annotations

import sqlite3

import pytest
from sqlalchemy import Connection, inspect, text

from app.domain import Node, NodeKind, Session
from app.repository import StoreError
from storage import (
    MIGRATIONS,
    SCHEMA_VERSION,
    CorruptStoreError,
    Migration,
    NewerSchemaError,
    open_store,
)
from storage import schema as schema_mod


def _add_color_column(conn: Connection) -> None:
    conn.execute(text("ALTER TABLE sessions ADD COLUMN colour TEXT"))
    conn.execute(text("UPDATE sessions SET colour = 'green'"))


V2 = (*MIGRATIONS, Migration("m999_test_session_colour", _add_color_column))


def db_state(path):
    con = sqlite3.connect(path)
    try:
        version = con.execute("PRAGMA user_version").fetchone()[0]
        names = [r[0] for r in con.execute("SELECT name FROM migrations ORDER BY applied_at")]
        return version, names
    finally:
        con.close()


def files_in(directory):
    return sorted(p.name for p in directory.iterdir())


def test_fresh_db_records_every_migration(tmp_path):
    with open_store(tmp_path) as repo:
        assert repo.applied_migrations == [m.name for m in MIGRATIONS]
        assert repo.backup_path is None
    assert SCHEMA_VERSION == len(MIGRATIONS) >= 1
    assert db_state(tmp_path / "triptych.db") == (SCHEMA_VERSION, [m.name for m in MIGRATIONS])


def test_reopening_a_current_db_applies_nothing_and_backs_up_nothing(tmp_path):
    open_store(tmp_path).close()
    with open_store(tmp_path) as repo:
        assert repo.applied_migrations == [] and repo.backup_path is None
    assert files_in(tmp_path) == ["triptych.db"]


def test_migrated_schema_matches_storage_schema(tmp_path):
    with open_store(tmp_path) as repo:
        insp = inspect(repo._engine)
        for table in schema_mod.metadata.sorted_tables:
            columns = {c["name"]: c for c in insp.get_columns(table.name)}
            assert list(columns) == [c.name for c in table.columns], table.name
            for column in table.columns:
                assert columns[column.name]["nullable"] == column.nullable, (table.name, column.name)
            assert {i["name"] for i in insp.get_indexes(table.name)} >= {i.name for i in table.indexes}
            expected_fks = {
                (fk.parent.name, fk.column.table.name, fk.column.name, fk.ondelete)
                for fk in table.foreign_keys
            }
            actual_fks = {
                (
                    fk["constrained_columns"][0],
                    fk["referred_table"],
                    fk["referred_columns"][0],
                    fk["options"].get("ondelete"),
                )
                for fk in insp.get_foreign_keys(table.name)
            }
            assert actual_fks == expected_fks, table.name
        assert insp.get_pk_constraint("edges")["constrained_columns"] == ["parent_id", "child_id", "role"]


def test_newer_db_is_refused_and_left_byte_identical(tmp_path):
    with open_store(tmp_path, migrations=V2) as repo:
        repo.create_session(Session(title="from the future"))
    db = tmp_path / "triptych.db"
    before, names_before = db.read_bytes(), files_in(tmp_path)

    with pytest.raises(NewerSchemaError) as info:
        open_store(tmp_path)
    message = str(info.value)
    assert str(db) in message
    assert (
        f"was written by a newer Triptych (schema {SCHEMA_VERSION + 1}, this version knows {SCHEMA_VERSION})"
        in message
    )
    assert "upgrade Triptych or use another data dir" in message
    assert isinstance(info.value, StoreError)
    assert db.read_bytes() == before
    assert files_in(tmp_path) == names_before  # no -wal/-shm, no backup

    with open_store(tmp_path, migrations=V2) as repo:  # the newer code still opens it
        assert [s.title for s in repo.list_sessions()] == ["from the future"]


def test_newer_db_with_a_pending_wal_is_refused_too(tmp_path):
    """A newer Triptych killed mid-session leaves its version in the WAL, not yet in the main file."""
    db = tmp_path / "triptych.db"
    open_store(tmp_path).close()
    keep = sqlite3.connect(db)  # holds the WAL open so nothing is checkpointed
    keep.execute("PRAGMA journal_mode=WAL")
    keep.execute("PRAGMA wal_autocheckpoint=0")
    keep.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 5}")
    keep.commit()
    try:
        before = db.read_bytes()
        with pytest.raises(NewerSchemaError, match=f"schema {SCHEMA_VERSION + 5}"):
            open_store(tmp_path)
        assert db.read_bytes() == before
    finally:
        keep.close()


def test_older_db_is_backed_up_then_migrated(tmp_path):
    with open_store(tmp_path) as repo:
        session = repo.create_session(Session(title="old data"))
        repo.add_nodes([Node(session.id, NodeKind.NOTE, "kept")])
    db = tmp_path / "triptych.db"

    with open_store(tmp_path, migrations=V2) as repo:
        assert repo.applied_migrations == ["m999_test_session_colour"]
        backup = repo.backup_path
        assert backup is not None and backup.parent == tmp_path
        assert backup.name.startswith(f"triptych.db.bak-{SCHEMA_VERSION}-")
        assert [n.text for n in repo.load_graph(session.id).nodes.values()] == ["kept"]
        with repo._engine.connect() as conn:
            assert conn.execute(text("SELECT colour FROM sessions")).scalar() == "green"

    assert db_state(db) == (SCHEMA_VERSION + 1, [*(m.name for m in MIGRATIONS), "m999_test_session_colour"])
    assert db_state(backup) == (SCHEMA_VERSION, [m.name for m in MIGRATIONS])
    con = sqlite3.connect(backup)
    assert con.execute("SELECT title FROM sessions").fetchall() == [("old data",)]
    assert "colour" not in {r[1] for r in con.execute("PRAGMA table_info(sessions)")}
    con.close()


def test_a_failing_migration_rolls_back_and_names_itself(tmp_path):
    def broken(conn: Connection) -> None:
        conn.execute(text("ALTER TABLE sessions ADD COLUMN half_done TEXT"))
        raise RuntimeError("boom")

    open_store(tmp_path).close()
    with pytest.raises(StoreError, match=r"m998_broken failed.*boom"):
        open_store(tmp_path, migrations=(*MIGRATIONS, Migration("m998_broken", broken)))
    assert db_state(tmp_path / "triptych.db") == (SCHEMA_VERSION, [m.name for m in MIGRATIONS])
    con = sqlite3.connect(tmp_path / "triptych.db")
    assert "half_done" not in {r[1] for r in con.execute("PRAGMA table_info(sessions)")}
    con.close()
    assert any(name.startswith("triptych.db.bak-") for name in files_in(tmp_path))
    with open_store(tmp_path) as repo:  # still usable by the current code
        assert repo.list_sessions() == []


def test_another_programs_sqlite_db_is_refused_untouched(tmp_path):
    db = tmp_path / "triptych.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE bookmarks (url TEXT)")
    con.commit()
    con.close()
    before = db.read_bytes()
    with pytest.raises(CorruptStoreError, match="another program"):
        open_store(tmp_path)
    assert db.read_bytes() == before


def test_an_empty_file_becomes_a_fresh_store(tmp_path):
    (tmp_path / "triptych.db").write_bytes(b"")
    with open_store(tmp_path) as repo:
        assert repo.applied_migrations == [m.name for m in MIGRATIONS]
        assert repo.backup_path is None
