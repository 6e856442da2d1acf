"""Migration m006_run_record: what the engine records about a request (started_at, request_id, no_key,
dropped_params, insecure, rerun_of) moves out of a node's untyped `meta` JSON into columns of its own
(app.domain.RunRecord), in a store an older Triptych wrote."""

from __future__ import annotations

import json
import sqlite3
from datetime import UTC, datetime

from app.domain import NO_RUN_RECORD, Node, NodeKind, NodeStatus, RunRecord, Session
from app.export import export_json, import_file, save_imported
from storage import open_store
from storage.migrations import MIGRATIONS
from tests.storage import add_nodes_before_m006

BEFORE = next(i for i, m in enumerate(MIGRATIONS) if m.name == "m006_run_record")
STARTED = "2026-05-01T12:00:00+00:00"


def _old_store(tmp_path):
    """A store made by the schema up to m004, with nodes as the Triptych of then wrote them."""
    with open_store(tmp_path, migrations=MIGRATIONS[:BEFORE]) as old:
        session = old.create_session(Session(title="old"))
    sid = session.id
    answered = Node(sid, NodeKind.RESPONSE, "hi", model="anthropic:claude-sonnet-5-5", meta={
        "started_at": STARTED, "request_id": "req_011", "dropped_params": ["temperature"],
        "insecure": "the key went over plain http://", "sweep_cell": {"sweep": "S", "cell": 3}})
    keyless = Node(sid, NodeKind.RESPONSE, "", model="openai:gpt-6.2-sol", status=NodeStatus.ERROR,
                   meta={"no_key": True, "started_at": STARTED})
    rerun = Node(sid, NodeKind.RESPONSE, "again", model="deepseek:deepseek-flash",
                 meta={"rerun_of": answered.id, "request_id": 42})  # 42: never written so; kept in meta
    synthesis = Node(sid, NodeKind.SYNTHESIS, "merged", meta={"instruction_kind": "merge", "instruction": None})
    note = Node(sid, NodeKind.NOTE, "plain")
    add_nodes_before_m006(tmp_path / "triptych.db", [answered, keyless, rerun, synthesis, note])
    return sid, answered, keyless, rerun, synthesis, note


def test_an_m004_store_is_migrated_and_its_run_facts_read_back_typed(tmp_path):
    sid, answered, keyless, rerun, synthesis, note = _old_store(tmp_path)
    started = datetime(2026, 5, 1, 12, tzinfo=UTC).timestamp()
    with open_store(tmp_path) as repo:
        assert repo.applied_migrations == ["m006_run_record", *(m.name for m in MIGRATIONS[BEFORE + 1:])]
        assert repo.backup_path is not None
        for nodes in (repo.load_graph(sid).nodes, {n: repo.get_node(n) for n in (answered.id, keyless.id,
                                                                                  rerun.id, note.id)}):
            got = nodes[answered.id]
            assert got.run_record == RunRecord(started_at=started, request_id="req_011",
                                               dropped_params=("temperature",),
                                               insecure="the key went over plain http://")
            assert got.meta == {"sweep_cell": {"sweep": "S", "cell": 3}}  # what is not a run fact stays
            assert nodes[keyless.id].run_record == RunRecord(started_at=started, no_key=True)
            assert nodes[keyless.id].meta == {}
            assert nodes[rerun.id].run_record == RunRecord(rerun_of=answered.id)
            assert nodes[rerun.id].meta == {"request_id": 42}
            assert nodes[note.id].run_record is NO_RUN_RECORD and nodes[note.id].meta == {}
        assert repo.get_node(synthesis.id).meta == {"instruction_kind": "merge", "instruction": None}
    con = sqlite3.connect(tmp_path / "triptych.db")
    try:
        row = con.execute("SELECT meta, started_at, request_id, no_key, dropped_params, insecure FROM nodes "
                          "WHERE id = ?", (answered.id,)).fetchone()
    finally:
        con.close()
    assert json.loads(row[0]) == {"sweep_cell": {"sweep": "S", "cell": 3}}
    assert row[1:] == (started, "req_011", None, '["temperature"]', "the key went over plain http://")


def test_a_migrated_store_writes_and_exports_the_record(tmp_path):
    sid, answered, *_ = _old_store(tmp_path)
    with open_store(tmp_path) as repo:
        graph = repo.load_graph(sid)
        doc = json.loads(export_json(graph))
        exported = next(n for n in doc["nodes"] if n["id"] == answered.id)
        assert exported["run"] == {"started_at": datetime(2026, 5, 1, 12, tzinfo=UTC).timestamp(),
                                   "request_id": "req_011", "dropped_params": ["temperature"],
                                   "insecure": "the key went over plain http://"}
        assert "request_id" not in exported["meta"]
        copy = save_imported(repo, import_file(json.dumps(doc).encode()))
        again = next(n for n in repo.load_graph(copy.id).nodes.values() if n.text == "hi")
        assert again.run_record == graph.nodes[answered.id].run_record
