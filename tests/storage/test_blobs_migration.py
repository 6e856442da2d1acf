"""Migration m002_attachments on a store written before attachments existed (issue #15)."""

from __future__ import annotations

from app.attachments import attachment_from_bytes
from app.domain import Node, NodeKind, Session
from storage import open_store
from storage.migrations import MIGRATIONS
from tests import attach_samples as samples
from tests.storage import add_nodes_before_m005


def test_a_store_from_before_attachments_is_migrated_and_then_keeps_files(tmp_path):
    with open_store(tmp_path, migrations=MIGRATIONS[:1]) as repo:
        session = repo.create_session(Session(title="old"))
    # no files: the new tables are not touched
    add_nodes_before_m005(tmp_path / "triptych.db", [Node(session.id, NodeKind.NOTE, "kept")])
    png = attachment_from_bytes("chart.png", samples.png())
    with open_store(tmp_path) as repo:
        assert repo.applied_migrations == [m.name for m in MIGRATIONS[1:]]  # m002_attachments and later ones
        assert repo.backup_path is not None
        assert [n.text for n in repo.load_graph(session.id).nodes.values()] == ["kept"]
        prompt = Node(session.id, NodeKind.PROMPT, "look", attachments=[png])
        repo.add_nodes([prompt])
    with open_store(tmp_path) as repo:
        assert repo.get_node(prompt.id).attachments[0].data == png.data
