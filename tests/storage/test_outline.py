"""A session opened by its outline (storage: load_outline, nodes_in_rect, load_nodes; app.outline):
where every card is without reading any text, full nodes read for a rectangle through the index on
card positions, and the session's `{id: Node}` mapping reading only what it is asked for."""

from __future__ import annotations

import pytest

from app.domain import Node, NodeKind, NodeStatus, Session
from app.outline import SessionNodes
from storage import open_store


@pytest.fixture
def repo(store_target):
    store = open_store(store_target)
    yield store
    store.close()


def grid_session(repo, n: int = 40) -> tuple[Session, list[Node]]:
    session = repo.create_session(Session(title="grid"))
    nodes = [
        Node(session.id, NodeKind.RESPONSE, f"answer {i} " * 50, model="openai:gpt-6", x=(i % 8) * 600.0, y=(i // 8) * 700.0,
             status=NodeStatus.STREAMING if i == 3 else NodeStatus.DONE, created_at=1000.0 + i)
        for i in range(n)
    ]  # fmt: skip
    repo.add_nodes(nodes)
    return session, nodes


def test_the_outline_places_every_card_in_creation_order_without_text(repo):
    session, nodes = grid_session(repo)
    outline = repo.load_outline(session.id)
    assert [o.id for o in outline] == [n.id for n in nodes]
    assert (outline[9].x, outline[9].y, outline[9].w, outline[9].h) == (600.0, 700.0, 460.0, 560.0)
    assert outline[3].status == NodeStatus.STREAMING and not hasattr(outline[0], "text")
    assert outline[0].model is outline[1].model  # one string per model name


def test_nodes_in_a_rectangle_include_cards_reaching_into_it(repo):
    session, nodes = grid_session(repo)
    # x 500..700, y 0..100: card 0 (x 0..460) is outside, card 1 (x 600..1060) inside
    found = repo.nodes_in_rect(session.id, 500.0, 0.0, 700.0, 100.0)
    assert [n.id for n in found] == [nodes[1].id] and found[0].text == nodes[1].text
    # a card starting left of and above the rectangle that still overlaps it
    found = repo.nodes_in_rect(session.id, 400.0, 500.0, 450.0, 650.0)
    assert {n.id for n in found} == {nodes[0].id}
    assert repo.nodes_in_rect(session.id, 100_000.0, 0.0, 100_100.0, 10.0) == []
    query = "SELECT id FROM nodes WHERE session_id = 'x' AND x > 1 AND x < 2 AND y > 1 AND y < 2"
    with repo._engine.connect() as conn:
        if conn.dialect.name == "postgresql":  # a planner that sees a tiny table would scan it
            conn.exec_driver_sql("SET enable_seqscan = off")
            plan = conn.exec_driver_sql("EXPLAIN " + query).fetchall()
            assert "Index" in str(plan) and "Seq Scan" not in str(plan)  # either covering index
            return
        plan = conn.exec_driver_sql("EXPLAIN QUERY PLAN " + query).fetchall()
    assert "ix_nodes_session_xy" in str(plan)


def test_session_nodes_read_only_what_is_asked_for(repo):
    session, nodes = grid_session(repo)
    mapping = SessionNodes(
        repo.load_outline(session.id),
        repo.load_nodes,
        lambda *rect: repo.nodes_in_rect(session.id, *rect),
    )
    assert len(mapping) == len(nodes) and nodes[5].id in mapping and mapping.reads == 0
    assert mapping.live_ids() == [nodes[3].id]
    mapping.load_rect(500.0, 0.0, 700.0, 100.0)
    assert (
        mapping.reads == 1 and mapping.loaded(nodes[1].id) is not None and mapping.loaded(nodes[0].id) is None
    )
    assert mapping[nodes[7].id].text == nodes[7].text and mapping.reads == 2
    assert mapping[nodes[7].id] is mapping[nodes[7].id]  # one object per id: edits to it stay
    mapping.pop(nodes[8].id)  # forgetting a node never reads it
    assert mapping.reads == 2 and nodes[8].id not in mapping and len(mapping) == len(nodes) - 1
    assert len(mapping.values()) == len(nodes) - 1 and mapping.reads == 3  # the rest in one read
    assert mapping.fully_loaded


def test_a_walk_one_id_at_a_time_reads_the_rest_at_once(repo):
    session, nodes = grid_session(repo, 100)
    mapping = SessionNodes(repo.load_outline(session.id), repo.load_nodes)
    texts = [mapping.get(n.id).text for n in nodes]  # e.g. a whole-session total through .get()
    assert texts == [n.text for n in nodes]
    assert mapping.reads <= 34 and mapping.fully_loaded


def test_a_prompt_with_files_is_as_tall_in_the_outline_as_when_read(repo):
    """The outline knows which prompts carry files: their cards are placed (the scene's grid, the
    minimap, the next free spot) with the files row before their text is read."""
    from app import layout
    from app.attachments import attachment_from_bytes
    from tests import attach_samples as samples

    session = repo.create_session(Session(title="files"))
    png = attachment_from_bytes("chart.png", samples.png())
    with_files = Node(session.id, NodeKind.PROMPT, "look", attachments=[png], created_at=1.0)
    plain = Node(session.id, NodeKind.PROMPT, "hello", x=600.0, created_at=2.0)
    repo.add_nodes([with_files, plain])
    outline = {o.id: o for o in repo.load_outline(session.id)}
    assert outline[with_files.id].has_files and not outline[plain.id].has_files
    for node in (with_files, plain):
        full = repo.load_nodes([node.id])[0]
        assert layout.height(outline[node.id]) == outline[node.id].h == layout.height(full)
    assert layout.height(outline[with_files.id]) > layout.height(outline[plain.id])
