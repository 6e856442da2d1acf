"""Copying a session between two stores (`triptych copy SESSION --to URL | --from URL`, File → Copy to
team store…), keeping every id: the session, its cards, edges, attached files, blind matches and
votes. A union of rows: what the destination already holds is left as it is (finished answers never
change), so copying again adds only what is new, and a member can work offline in the local SQLite
store and publish to the team store later. A card still streaming in the source arrives
`interrupted`, with no owner: nothing streams into the copy.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from app.domain import ErrorInfo, NodeStatus
from app.repository import StoreError
from storage.repository import SqliteRepository
from storage.rows import INTERRUPTED_MESSAGE


@dataclass(slots=True)
class CopyResult:
    session_id: str
    title: str
    new_session: bool
    cards: int
    edges: int
    matches: int
    votes: int
    already: int  # cards the destination held before

    def to_dict(self) -> dict[str, object]:
        return {"session_id": self.session_id, "title": self.title, "new_session": self.new_session,
                "cards": self.cards, "edges": self.edges, "matches": self.matches, "votes": self.votes,
                "already": self.already}


def copy_session(src: SqliteRepository, dst: SqliteRepository, session_id: str) -> CopyResult:
    """Copy what `dst` lacks of the session `session_id` of `src` (see the module docstring)."""
    graph = src.load_graph(session_id)
    session = graph.session
    new_session = dst.get_session(session_id) is None
    if new_session:
        dst.create_session(replace(session, deleted=False))
    have = dst.node_ids(session_id)
    if not new_session and have and dst.get_session(session_id) is None:
        raise StoreError(f"the destination holds session {session_id} but cannot read it")
    nodes = []
    for node in graph.nodes.values():
        if node.id in have:
            continue
        if node.status.is_live:
            node = replace(node, status=NodeStatus.INTERRUPTED, owner=None,
                           error=ErrorInfo(kind="interrupted", message=INTERRUPTED_MESSAGE))
        nodes.append(node)
    after = have | {n.id for n in nodes}
    known = {(e.parent_id, e.child_id, e.role) for e in ([] if new_session else dst.load_edges(session_id))}
    edges = [e for e in graph.edges
             if (e.parent_id, e.child_id, e.role) not in known and e.parent_id in after and e.child_id in after]
    if nodes or edges:
        dst.add_nodes(nodes, edges)
    there = {m.id: m for m in dst.list_matches(session_id)}
    fresh = [m for m in graph.matches if m.id not in there]
    if fresh:
        dst.add_matches(fresh)
    votes = 0
    for match in graph.matches:
        if match.id in there:
            voters = {v.voter for v in there[match.id].votes}
            for vote in match.votes:
                if vote.voter not in voters:
                    dst.record_vote(vote)
                    votes += 1
        else:
            votes += len(match.votes)
    return CopyResult(session_id, session.title, new_session, len(nodes), len(edges), len(fresh), votes, len(have))
