"""Blind matches and votes in the store (migration m004_arena) and in the json export/import."""

from __future__ import annotations

import json

import pytest

from app.arena import Match, Vote
from app.domain import Edge, EdgeRole, Node, NodeKind, Session, Usage
from app.export import export_json, import_file, save_imported
from app.export.common import ExportOptions, export_graph
from storage import open_store
from tests.storage import add_nodes_before_m005


@pytest.fixture
def repo(tmp_path):
    with open_store(tmp_path) as r:
        yield r


def _session_with_match(repo, tags=("coding",)):
    s = repo.create_session(Session(title="blind"))
    p = Node(s.id, NodeKind.PROMPT, "q")
    a = Node(s.id, NodeKind.RESPONSE, "A text", model="openai:gpt-6.2-sol", usage=Usage(input=3, output=4))
    b = Node(s.id, NodeKind.RESPONSE, "B text", model="deepseek:deepseek-flash")
    repo.add_nodes([p, a, b], [Edge(p.id, a.id, EdgeRole.REPLY), Edge(p.id, b.id, EdgeRole.REPLY)])
    m = Match(s.id, p.id, a.id, b.id, a.model, b.model, tags=list(tags))
    repo.add_match(m)
    return s, m


def test_a_changed_vote_replaces_the_voters_earlier_one(repo):
    s, m = _session_with_match(repo)
    repo.record_vote(Vote(m.id, "user", "a", created_at=1.0))
    repo.record_vote(Vote(m.id, "judge:openai:gpt-6-luna", "tie", created_at=2.0))
    repo.record_vote(Vote(m.id, "user", "b", created_at=3.0))
    got = repo.get_match(m.id)
    assert [(v.voter, v.vote) for v in got.votes] == [("judge:openai:gpt-6-luna", "tie"), ("user", "b")]
    assert got.tags == ["coding"] and got.a_model == "openai:gpt-6.2-sol"
    assert repo.resolve_match(m.id[-6:]) == m.id
    assert [x.id for x in repo.list_matches()] == [m.id]
    assert repo.load_graph(s.id).matches[0].vote_of("user").vote == "b"


def test_a_purged_session_takes_its_matches_and_votes_along(repo):
    s, m = _session_with_match(repo)
    repo.record_vote(Vote(m.id, "user", "a"))
    repo.purge_session(s.id)
    assert repo.get_match(m.id) is None and repo.list_matches() == []


def test_deleted_sessions_matches_leave_the_leaderboard(repo):
    s, m = _session_with_match(repo)
    repo.delete_session(s.id)
    assert repo.list_matches() == []
    repo.restore_session(s.id)
    assert len(repo.list_matches()) == 1


def test_json_export_and_import_keep_matches_and_votes_losslessly(repo, tmp_path):
    s, m = _session_with_match(repo, tags=("coding", "legal"))
    repo.record_vote(Vote(m.id, "user", "bad", created_at=10.5))
    repo.record_vote(Vote(m.id, "judge:anthropic:claude-haiku-5-5", "a", created_at=11.25))
    text = export_json(export_graph(repo.load_graph(s.id), ExportOptions()))
    doc = json.loads(text)
    assert doc["matches"][0]["votes"] == [
        {"voter": "user", "vote": "bad", "created_at": 10.5},
        {"voter": "judge:anthropic:claude-haiku-5-5", "vote": "a", "created_at": 11.25}]
    path = tmp_path / "s.json"
    path.write_text(text, encoding="utf-8")
    graph = import_file(path)
    new = save_imported(repo, graph)
    back = repo.load_graph(new.id)
    (mm,) = back.matches
    assert mm.id != m.id and mm.session_id == new.id
    old = repo.load_graph(s.id)
    texts = {n.id: n.text for n in back.nodes.values()}
    assert (texts[mm.a_node_id], texts[mm.b_node_id], texts[mm.prompt_id]) == ("A text", "B text", "q")
    assert (mm.a_model, mm.b_model, mm.tags, mm.created_at) == (m.a_model, m.b_model, ["coding", "legal"], m.created_at)
    assert [v.to_dict() for v in mm.votes] == [v.to_dict() for v in old.matches[0].votes]
    # exported again, the document is the same but for the ids
    again = json.loads(export_json(export_graph(back, ExportOptions())))
    strip = lambda d: {k: v for k, v in d.items() if not k.endswith("id")}  # noqa: E731
    assert [strip(x) for x in again["matches"]] == [strip(x) for x in doc["matches"]]


def test_import_refuses_a_match_naming_a_node_not_in_the_file(repo, tmp_path):
    s, m = _session_with_match(repo)
    doc = json.loads(export_json(repo.load_graph(s.id)))
    doc["matches"][0]["a_node_id"] = "nope"
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(doc), encoding="utf-8")
    from app.export import ImportFailed

    with pytest.raises(ImportFailed, match="match 1: a_node_id 'nope' is not a node"):
        import_file(path)
    doc["matches"][0]["a_node_id"] = m.a_node_id
    doc["matches"][0]["votes"] = [{"voter": "someone", "vote": "a"}]
    path.write_text(json.dumps(doc), encoding="utf-8")
    with pytest.raises(ImportFailed, match="match 1 vote 1: a voter is"):
        import_file(path)


def test_a_path_export_keeps_only_matches_whose_answers_it_holds(repo):
    s, m = _session_with_match(repo)
    g = repo.load_graph(s.id)
    assert export_graph(g, ExportOptions(scope="path", node_ids=[m.a_node_id])).matches == []
    assert len(export_graph(g, ExportOptions(include_reasoning=False)).matches) == 1


def test_a_store_from_before_the_arena_is_migrated_and_then_keeps_votes(tmp_path):
    from storage.migrations import MIGRATIONS

    before = next(i for i, m in enumerate(MIGRATIONS) if m.name == "m004_arena")
    with open_store(tmp_path, migrations=MIGRATIONS[:before]) as old:
        s = old.create_session(Session(title="old"))
    add_nodes_before_m005(tmp_path / "triptych.db", [Node(s.id, NodeKind.NOTE, "kept")])
    with open_store(tmp_path) as r:
        assert "m004_arena" in r.applied_migrations and r.backup_path is not None
        assert r.load_graph(s.id).matches == []
        _s, m = _session_with_match(r)
        r.record_vote(Vote(m.id, "user", "tie"))
    with open_store(tmp_path) as r:
        assert r.get_match(m.id).votes[0].vote == "tie"
