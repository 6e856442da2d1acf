"""The current table definitions (SQLAlchemy Core), used by the queries in `storage.repository`.

Portable on purpose (no SQLite-only types or SQL): a PostgreSQL backend is planned with the same
repository API. SQLite-only objects (the FTS5 search index and its triggers, pragmas) live in
`storage.sqlite`.

These tables describe the schema *after* every migration in `storage.migrations`. Migrations never
import them: each migration carries its own frozen copy of what it creates, so a later change here
cannot alter what an old migration does. `tests/storage/test_migrations.py` checks that a freshly
migrated database matches these definitions.

Conventions: ids are 26-char sortable text ids (`app.domain.new_id`); times are Unix seconds as
floats; JSON values are stored as compact JSON text (NULL for an empty dict / None) and decoded by the
repository only when present. `seq` is an integer row key for `sessions` and `nodes` that the search
index refers to (SQLite may renumber implicit rowids on VACUUM; an explicit integer key is stable).
"""

from __future__ import annotations

from sqlalchemy import (
    Boolean,
    Column,
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
)

metadata = MetaData()

migrations = Table(
    "migrations",
    metadata,
    Column("name", String, primary_key=True),
    Column("applied_at", Float, nullable=False),
)

sessions = Table(
    "sessions",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("id", String, nullable=False, unique=True),
    Column("title", Text, nullable=False, default=""),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("viewport", Text, nullable=True),  # JSON {"x", "y", "zoom"}
    Column("settings", Text, nullable=True),  # JSON object
    Column("deleted_at", Float, nullable=True),  # soft delete
    Column("owner", String, nullable=True),  # the member who created it (migration m005)
    Column("visibility", String, nullable=False, server_default="shared"),  # shared | private
    Index("ix_sessions_updated_at", "updated_at"),
)

nodes = Table(
    "nodes",
    metadata,
    Column("seq", Integer, primary_key=True),
    Column("id", String, nullable=False, unique=True),
    Column("session_id", String, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("kind", String, nullable=False),
    Column("text", Text, nullable=False, default=""),
    Column("reasoning", Text, nullable=False, default=""),
    Column("model", String, nullable=True),
    Column("params", Text, nullable=True),  # JSON, app.domain.Params.to_dict()
    Column("status", String, nullable=False),
    Column("error", Text, nullable=True),  # JSON, app.domain.ErrorInfo.to_dict()
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
    Column("meta", Text, nullable=True),  # JSON object
    Column("owner_pid", Integer, nullable=True),
    Column("owner_host", String, nullable=True),
    Column("heartbeat", Float, nullable=True),
    Column("created_at", Float, nullable=False),
    Column("updated_at", Float, nullable=False),
    Column("author", String, nullable=True),  # the member who wrote it (migration m005)
    # app.domain.RunRecord: what the engine recorded about the request (migration m006_run_record;
    # before it, these were keys of `meta`)
    Column("started_at", Float, nullable=True),
    Column("request_id", String, nullable=True),
    Column("no_key", Boolean, nullable=True),  # NULL = false
    Column("dropped_params", Text, nullable=True),  # JSON list of parameter names
    Column("insecure", Text, nullable=True),
    Column("rerun_of", String, nullable=True),
    Index("ix_nodes_session_order", "session_id", "created_at", "id"),
    Index("ix_nodes_status", "status"),
    Index("ix_nodes_session_xy", "session_id", "x", "y"),  # nodes_in_rect (migration m002)
    Index(  # covers load_outline and session_totals (migration m002)
        "ix_nodes_outline", "session_id", "created_at", "id", "kind", "status", "model", "color", "x", "y",
        "width", "height", "collapsed", "input_tokens", "cached_input_tokens", "cache_write_tokens",
        "output_tokens", "reasoning_tokens", "cost_usd", "reported_cost_usd",
    ),
)

edges = Table(
    "edges",
    metadata,
    Column("parent_id", String, ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
    Column("child_id", String, ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
    Column("role", String, nullable=False),
    Column("position", Integer, nullable=False, default=0),
    Column("session_id", String, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    PrimaryKeyConstraint("parent_id", "child_id", "role"),
    Index("ix_edges_child", "child_id", "position"),
    Index("ix_edges_session", "session_id", "child_id", "position", "parent_id", "role"),  # covers load_graph
)

# Attachments (app.attachments): each file's bytes once, by SHA-256, and which prompt carries which
# file in which order under which name. A blob no node_files row refers to is deleted (storage.blobs).
blobs = Table(
    "blobs",
    metadata,
    Column("sha256", String, primary_key=True),
    Column("kind", String, nullable=False),  # image | pdf | text
    Column("mime", String, nullable=False),
    Column("size", Integer, nullable=False),
    Column("info", Text, nullable=True),  # JSON {"width", "height", "pages"}
    Column("data", LargeBinary, nullable=False),
    Column("created_at", Float, nullable=False),
)

node_files = Table(
    "node_files",
    metadata,
    Column("node_id", String, ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
    Column("position", Integer, nullable=False),
    Column("sha256", String, ForeignKey("blobs.sha256"), nullable=False),
    Column("name", Text, nullable=False),
    PrimaryKeyConstraint("node_id", "position"),
    Index("ix_node_files_sha256", "sha256"),
)

# Blind-match arena (app.arena): two answers to one prompt shown as A and B, and the votes on them
# (one per match and voter: `user` or `judge:PROVIDER:MODEL`; a changed vote replaces the row).
matches = Table(
    "matches",
    metadata,
    Column("id", String, primary_key=True),
    Column("session_id", String, ForeignKey("sessions.id", ondelete="CASCADE"), nullable=False),
    Column("prompt_id", String, ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
    Column("a_node_id", String, ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
    Column("b_node_id", String, ForeignKey("nodes.id", ondelete="CASCADE"), nullable=False),
    Column("a_model", String, nullable=False),
    Column("b_model", String, nullable=False),
    Column("tags", Text, nullable=True),  # JSON list of strings
    Column("created_at", Float, nullable=False),
    Index("ix_matches_session", "session_id"),
)

votes = Table(
    "votes",
    metadata,
    Column("match_id", String, ForeignKey("matches.id", ondelete="CASCADE"), nullable=False),
    Column("voter", String, nullable=False),
    Column("vote", String, nullable=False),  # a | b | tie | bad
    Column("created_at", Float, nullable=False),
    PrimaryKeyConstraint("match_id", "voter"),
)
