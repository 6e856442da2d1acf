"""Persistence: SQLAlchemy 2.0 Core on SQLite (WAL, FTS5) implementing `app.repository.Repository`.

    from storage import open_store
    repo = open_store(data_dir)   # or a path to a .db file

See `storage.repository` for the threading contract and `storage.migrations` for schema versions.
"""

from __future__ import annotations

from storage.copy import CopyResult, copy_session
from storage.migrations import MIGRATIONS, SCHEMA_VERSION, Migration, NewerSchemaError
from storage.repository import INTERRUPTED_MESSAGE, SqliteRepository, open_store
from storage.sqlite import DB_FILENAME, CorruptStoreError, backup_corrupt, resolve_db_path

__all__ = [
    "DB_FILENAME",
    "INTERRUPTED_MESSAGE",
    "MIGRATIONS",
    "SCHEMA_VERSION",
    "CopyResult",
    "CorruptStoreError",
    "Migration",
    "NewerSchemaError",
    "SqliteRepository",
    "backup_corrupt",
    "copy_session",
    "open_store",
    "resolve_db_path",
]
