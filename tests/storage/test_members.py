"""Members of a team store (DESIGN.md "Team store"): every write records its author (TRIPTYCH_USER,
else the OS user name), sessions have an owner and a visibility; a private session is invisible to
the other members. On both backends; two members share one PostgreSQL database."""

from __future__ import annotations

import getpass

from app.domain import Node, NodeKind, Session
from app.present.status import member_note
from storage import open_store


def test_writes_record_their_author(store_target, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_USER", "alice")
    with open_store(store_target) as repo:
        s = repo.create_session(Session(title="shared work"))
        n = Node(s.id, NodeKind.PROMPT, "hello")
        repo.add_nodes([n])
        assert repo.get_node(n.id).author == "alice"
        assert repo.load_graph(s.id).nodes[n.id].author == "alice"
        assert repo.get_session(s.id).owner == "alice"
        assert [(x.owner, x.visibility) for x in repo.list_sessions()] == [("alice", "shared")]


def test_without_triptych_user_the_os_user_name_is_recorded(store_target, monkeypatch):
    monkeypatch.delenv("TRIPTYCH_USER", raising=False)
    with open_store(store_target) as repo:
        s = repo.create_session(Session(title="mine"))
        assert repo.get_session(s.id).owner == getpass.getuser()


def test_a_private_session_is_invisible_to_other_members(pg_url, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_USER", "alice")
    alice = open_store(pg_url)
    monkeypatch.setenv("TRIPTYCH_USER", "bob")
    bob = open_store(pg_url)
    try:
        shared = alice.create_session(Session(title="team notes"))
        secret = alice.create_session(Session(title="alice drafts"))
        alice.add_nodes([Node(secret.id, NodeKind.NOTE, "draft of the plan")])
        alice.set_visibility(secret.id, "private")
        assert {s.title for s in alice.list_sessions()} == {"team notes", "alice drafts"}
        seen = bob.list_sessions()
        assert [(s.title, s.owner) for s in seen] == [("team notes", "alice")]
        assert bob.resolve_session(secret.id) is None and bob.resolve_session(shared.id) == shared.id
        assert bob.search("draft") == [] and alice.search("draft")
        # bob's card in alice's shared session says who wrote it, in alice's window
        card = Node(shared.id, NodeKind.RESPONSE, "bob's answer", model="a:b")
        bob.add_nodes([card])
        stored = alice.get_node(card.id)
        assert stored.author == "bob" and member_note(stored, me="alice") == "by bob"
        assert member_note(stored, me="bob") == ""
    finally:
        alice.close()
        bob.close()
