"""Copying a session between stores (storage.copy, `triptych copy`): ids kept, files, matches and votes
carried, a card still streaming arrives interrupted, and a second copy adds only what is new."""

from __future__ import annotations

from app.arena import Match, Vote
from app.attachments import attachment_from_bytes
from app.domain import Edge, EdgeRole, Node, NodeKind, NodeStatus, Owner, Session
from storage import copy_session, open_store


def test_copy_local_to_team_and_again(tmp_path, pg_url):
    local, team = open_store(tmp_path / "data"), open_store(pg_url)
    try:
        s = local.create_session(Session(title="offline work"))
        note = attachment_from_bytes("notes.txt", b"some notes\n")
        p = Node(s.id, NodeKind.PROMPT, "q", attachments=[note])
        a = Node(s.id, NodeKind.RESPONSE, "A", model="openai:gpt-6.2-sol")
        b = Node(s.id, NodeKind.RESPONSE, "B so far", model="deepseek:deepseek-flash", status=NodeStatus.STREAMING,
                 owner=Owner(pid=1, host="laptop", heartbeat=1.0))
        local.add_nodes([p, a, b], [Edge(p.id, a.id, EdgeRole.REPLY), Edge(p.id, b.id, EdgeRole.REPLY)])
        m = Match(s.id, p.id, a.id, b.id, a.model, b.model)
        local.add_match(m)
        local.record_vote(Vote(m.id, "user", "a"))
        first = copy_session(local, team, s.id)
        assert (first.cards, first.edges, first.matches, first.votes) == (3, 2, 1, 1)
        graph = team.load_graph(s.id)
        assert set(graph.nodes) == {p.id, a.id, b.id}
        assert graph.nodes[p.id].attachments[0].data == b"some notes\n"
        assert graph.nodes[b.id].status == NodeStatus.INTERRUPTED and graph.nodes[b.id].owner is None
        assert graph.nodes[b.id].text == "B so far"
        assert [v.vote for v in graph.matches[0].votes] == ["a"]
        again = copy_session(local, team, s.id)
        assert (again.cards, again.edges, again.matches, again.votes, again.already) == (0, 0, 0, 0, 3)
        # a judge votes later, offline: only that vote travels
        local.record_vote(Vote(m.id, "judge:x:y", "tie"))
        third = copy_session(local, team, s.id)
        assert (third.cards, third.votes) == (0, 1)
        assert sorted(v.voter for v in team.get_match(m.id).votes) == ["judge:x:y", "user"]
    finally:
        local.close()
        team.close()
