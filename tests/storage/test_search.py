"""Search: what a user types never raises, matches come back best first with [bracketed] snippets,
soft-deleted sessions stay hidden, and the FTS5 index follows every insert, update and delete."""

from __future__ import annotations

import pytest

from app.domain import Node, NodeKind, NodeStatus, Owner, Session
from storage import open_store
from storage import sqlite as sqlite_mod

NASTY_QUERIES = [
    "C++",
    '"',
    '""',
    "-",
    "--",
    "-rust",
    "foo-bar",
    'say "hi',
    "AND",
    "OR NOT",
    "NEAR(a b)",
    "(",
    ")",
    "*",
    "a*",
    "^start",
    "col:value",
    "text:rust",
    "'",
    "a'b",
    "{x}",
    "[y]",
    "%",
    "_",
    "\\",
    "🎉",
    "->",
    "...",
    "+",
    "C#",
    ":",
    "a AND OR b",
]


@pytest.fixture(params=["fts5", "like", "pg"])
def repo(request, tmp_path):
    if request.param == "pg":  # the team store: tsvector + GIN
        store = open_store(request.getfixturevalue("pg_url"))
    else:
        store = open_store(tmp_path / "data", fts=request.param == "fts5")
        assert store.uses_fts is (request.param == "fts5")
    yield store
    store.close()


@pytest.fixture
def corpus(repo):
    s1 = repo.create_session(Session(title="Rust versus C++ performance"))
    s2 = repo.create_session(Session(title="Gardening notes"))
    nodes = {
        "cpp": Node(
            s1.id, NodeKind.RESPONSE, "Modern C++ templates compile slowly; Rust generics too.", model="a:m1"
        ),
        "rust": Node(s1.id, NodeKind.RESPONSE, "Rust rust rust: the borrow checker. Rust!", model="b:m2"),
        "think": Node(
            s1.id,
            NodeKind.RESPONSE,
            "Short.",
            reasoning="Let me consider synthesis of tomatoes",
            model="c:m3",
        ),
        "garden": Node(s2.id, NodeKind.NOTE, "Tomatoes need sun and water 🌞; percent 100% and snake_case"),
        "cjk": Node(s2.id, NodeKind.NOTE, "今天我们讨论你好世界的问题"),
        "prompt": Node(s2.id, NodeKind.PROMPT, 'He said "hello-world" to the co-op'),
    }
    repo.add_nodes(list(nodes.values()))
    return s1, s2, nodes


def node_ids(hits):
    return [h.node_id for h in hits if h.kind != "session"]


@pytest.mark.parametrize("query", NASTY_QUERIES)
def test_punctuation_never_raises(repo, corpus, query):
    hits = repo.search(query)
    assert isinstance(hits, list)


def test_empty_query(repo, corpus):
    assert repo.search("") == [] and repo.search("   ") == []
    assert repo.search("rust", limit=0) == []


def test_finds_terms_with_bracketed_snippets(repo, corpus):
    _, _, nodes = corpus
    hits = repo.search("borrow checker")
    assert node_ids(hits) == [nodes["rust"].id]
    hit = hits[0]
    assert "[borrow]" in hit.snippet and "[checker]" in hit.snippet
    assert hit.kind == "response" and hit.model == "b:m2"
    assert hit.session_title == "Rust versus C++ performance"
    assert "\n" not in hit.snippet


def test_all_terms_are_required(repo, corpus):
    _, _, nodes = corpus
    assert node_ids(repo.search("tomatoes sun")) == [nodes["garden"].id]
    assert node_ids(repo.search("tomatoes borrow")) == []


def test_case_insensitive(repo, corpus):
    _, _, nodes = corpus
    assert node_ids(repo.search("BORROW")) == [nodes["rust"].id]


def test_last_term_is_prefix_matched(repo, corpus):
    _, _, nodes = corpus
    assert node_ids(repo.search("borrow chec")) == [nodes["rust"].id]
    assert nodes["think"].id in node_ids(repo.search("synth"))


def test_reasoning_is_searched(repo, corpus):
    _, _, nodes = corpus
    hits = [h for h in repo.search("synthesis") if h.kind != "session"]
    assert [h.node_id for h in hits] == [nodes["think"].id]
    assert "[synthesis]" in hits[0].snippet


def test_punctuation_terms_match_literally_enough(repo, corpus):
    _, _, nodes = corpus
    assert nodes["cpp"].id in node_ids(repo.search("C++ templates"))
    assert node_ids(repo.search('"hello-world"')) == [nodes["prompt"].id]
    assert node_ids(repo.search("co-op")) == [nodes["prompt"].id]


def test_best_matches_first(repo, corpus):
    if not repo.uses_fts:
        pytest.skip("the LIKE fallback orders by recency, not relevance")
    _, _, nodes = corpus
    ids = node_ids(repo.search("rust"))
    assert ids[0] == nodes["rust"].id and nodes["cpp"].id in ids


def test_session_titles_are_searched(repo, corpus):
    s1, _, _ = corpus
    hits = [h for h in repo.search("performance") if h.kind == "session"]
    assert [(h.session_id, h.node_id) for h in hits] == [(s1.id, "")]
    assert "[performance]" in hits[0].snippet


def test_soft_deleted_sessions_are_excluded(repo, corpus):
    s1, _, nodes = corpus
    repo.delete_session(s1.id)
    assert repo.search("rust") == []
    repo.restore_session(s1.id)
    assert nodes["rust"].id in node_ids(repo.search("rust"))
    repo.purge_session(s1.id)
    assert repo.search("rust") == []


def test_cjk_substring(repo, corpus):
    _, _, nodes = corpus
    hits = repo.search("你好世界")
    assert node_ids(hits) == [nodes["cjk"].id]
    assert "[你好世界]" in hits[0].snippet
    assert node_ids(repo.search("世界")) == [nodes["cjk"].id]


def test_symbol_only_queries_use_substrings(repo, corpus):
    _, _, nodes = corpus
    assert node_ids(repo.search("🌞")) == [nodes["garden"].id]
    assert node_ids(repo.search("100%")) == [nodes["garden"].id]


def test_like_wildcards_are_literal(repo, corpus):
    assert repo.search("%%%") == []
    assert repo.search("_x_") == []


def test_index_follows_updates_and_deletes(repo, corpus):
    _, _, nodes = corpus
    garden = nodes["garden"]
    garden.text = "Cucumbers instead"
    repo.update_node(garden)
    assert node_ids(repo.search("tomatoes")) == [nodes["think"].id]  # only the reasoning one left
    assert node_ids(repo.search("cucumbers")) == [garden.id]
    repo.delete_nodes([garden.id])
    assert repo.search("cucumbers") == []


def test_streaming_text_is_indexed_when_final(repo, corpus):
    if not repo.uses_fts:
        pytest.skip("the LIKE fallback searches live text directly")
    s1, _, _ = corpus
    node = Node(s1.id, NodeKind.RESPONSE, status=NodeStatus.PENDING, owner=Owner.here())
    repo.add_nodes([node])
    node.status, node.text = NodeStatus.STREAMING, "quetzalcoatl appears"
    repo.update_stream(node)
    assert repo.search("quetzalcoatl") == []  # not indexed while streaming
    node.status = NodeStatus.DONE
    repo.update_stream(node)
    assert node_ids(repo.search("quetzalcoatl")) == [node.id]
    node.status, node.text = NodeStatus.STREAMING, "rerun text"  # back to live: leaves the index
    repo.update_node(node)
    assert repo.search("quetzalcoatl") == []
    node.status = NodeStatus.INTERRUPTED
    repo.update_node(node)
    assert node_ids(repo.search("rerun")) == [node.id]


def test_fts_index_integrity_after_many_changes(tmp_path):
    with open_store(tmp_path) as repo:
        s = repo.create_session(Session(title="one"))
        nodes = [Node(s.id, NodeKind.RESPONSE, f"alpha {i}", status=NodeStatus.STREAMING) for i in range(20)]
        repo.add_nodes(nodes)
        for i, node in enumerate(nodes):
            node.text = f"beta {i}"
            node.status = NodeStatus.DONE if i % 2 else NodeStatus.STREAMING
            repo.update_stream(node)
        repo.delete_nodes([n.id for n in nodes[::3]])
        s.title = "renamed"
        repo.update_session(s)
        copy = repo.duplicate_session(s.id)
        repo.purge_session(s.id)
        with repo._engine.connect() as conn:
            sqlite_mod.check_search_index(conn)
        # the copy holds the 13 surviving nodes; its still-streaming ones became interrupted: indexed
        assert len(node_ids(repo.search("beta"))) == 13
        assert [h.session_id for h in repo.search("renamed copy") if h.kind == "session"] == [copy.id]


def test_reopening_with_fts_rebuilds_the_index(tmp_path):
    with open_store(tmp_path, fts=False) as repo:
        s = repo.create_session(Session(title="written without fts"))
        node = Node(s.id, NodeKind.NOTE, "zebra crossing")
        repo.add_nodes([node])
        assert node_ids(repo.search("zebra")) == [node.id]
    with open_store(tmp_path) as repo:
        assert repo.uses_fts
        assert node_ids(repo.search("zebra")) == [node.id]
        assert [h.kind for h in repo.search("without")] == ["session"]


def test_fts_query_quotes_every_term():
    assert sqlite_mod.fts_query("C++ rust") == '"C++" "rust"*'
    assert sqlite_mod.fts_query('say "hi') == '"say" """hi"*'
    assert sqlite_mod.fts_query("C++") == '"C++"'  # no prefix match after punctuation
    assert sqlite_mod.fts_query("- -- ...") is None
    assert sqlite_mod.fts_query("你好") is None
