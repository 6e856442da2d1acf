"""Migration m002_attachments on a store written before attachments existed (issue #15)."""

from __future__ import annotations

from app.attachments import attachment_from_bytes
from app.domain import Node, NodeKind, Session
from storage import open_store
from storage.migrations import MIGRATIONS
from tests import attach_samples as samples


def test_a_store_from_before_attachments_is_migrated_and_then_keeps_files(tmp_path):
    session = Session(title="old")
    with open_store(tmp_path, migrations=MIGRATIONS[:1]) as repo, repo._engine.begin() as conn:
        # rows as that version wrote them (no files; today's code writes columns later migrations add)
        conn.exec_driver_sql("INSERT INTO sessions (id, title, created_at, updated_at) VALUES (?, ?, 1, 1)",
                             (session.id, session.title))
        conn.exec_driver_sql("INSERT INTO nodes (id, session_id, kind, text, reasoning, status, x, y, collapsed, "
                             "created_at, updated_at) VALUES ('n1', ?, 'note', 'kept', '', 'done', 0, 0, 0, 1, 1)",
                             (session.id,))
    png = attachment_from_bytes("chart.png", samples.png())
    with open_store(tmp_path) as repo:
        assert repo.applied_migrations == [m.name for m in MIGRATIONS[1:]]  # m002_attachments and later ones
        assert repo.backup_path is not None
        assert [n.text for n in repo.load_graph(session.id).nodes.values()] == ["kept"]
        prompt = Node(session.id, NodeKind.PROMPT, "look", attachments=[png])
        repo.add_nodes([prompt])
    with open_store(tmp_path) as repo:
        assert repo.get_node(prompt.id).attachments[0].data == png.data
