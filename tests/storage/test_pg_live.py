"""Live updates between members of a team store (LISTEN/NOTIFY, app.foreign.PushWatcher): another
process's new cards, streamed text, moves, renames and deletes reach a watcher within a second, with
no polling; a server restart is survived (reconnect, LISTEN again, catch up)."""

from __future__ import annotations

import queue
import time

from app.domain import Edge, EdgeRole, Node, NodeKind, NodeStatus, Owner, Session
from app.foreign import PushWatcher
from app.graph_events import NodeChanged, NodesAdded, NodesRemoved, SessionChanged
from app.session_model import SessionModel
from storage import open_store


class Loop:
    """The loop thread of a test: `wake` queues work from the listener thread, `pump` runs it."""

    def __init__(self) -> None:
        self.jobs: queue.Queue = queue.Queue()
        self.events: list = []

    def wake(self, fn) -> None:
        self.jobs.put(fn)

    def pump(self, until, timeout: float = 3.0) -> float:
        start = time.monotonic()
        while not until():
            left = timeout - (time.monotonic() - start)
            assert left > 0, f"nothing arrived within {timeout} s; events: {self.events}"
            try:
                self.jobs.get(timeout=min(left, 0.05))()
            except queue.Empty:
                pass
        return time.monotonic() - start


def _watch(repo, graph, loop: Loop) -> PushWatcher:
    model = SessionModel()  # what the window does with the events: fold them into its graph
    model.load(graph.session, graph)

    def on_events(events) -> None:
        loop.events.extend(events)
        for event in events:
            model.apply(event)

    watcher = PushWatcher(repo, on_events, lambda: (), repo.listen, loop.wake)
    watcher.watch(graph)
    assert watcher._listener.connected.wait(5)
    return watcher


def test_another_members_cards_stream_move_rename_and_delete_reach_the_window(pg_url, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_USER", "alice")
    mine = open_store(pg_url)
    monkeypatch.setenv("TRIPTYCH_USER", "bob")
    theirs = open_store(pg_url)  # another process: another connection pool, another NOTIFY token
    loop = Loop()
    try:
        session = mine.create_session(Session(title="team"))
        watcher = _watch(mine, mine.load_graph(session.id), loop)
        prompt = Node(session.id, NodeKind.PROMPT, "Q?")
        answer = Node(session.id, NodeKind.RESPONSE, "", model="a:m", status=NodeStatus.STREAMING,
                      owner=Owner(pid=1, host="elsewhere", heartbeat=time.time()))
        t0 = time.monotonic()
        theirs.add_nodes([prompt, answer], [Edge(prompt.id, answer.id, EdgeRole.REPLY, 0, session.id)])
        loop.pump(lambda: any(isinstance(e, NodesAdded) for e in loop.events))
        added = time.monotonic() - t0
        assert added < 1.0, added
        watcher.rescan()
        assert watcher.streaming == {answer.id}
        got = next(e for e in loop.events if isinstance(e, NodesAdded))
        assert {n.author for n in got.nodes} == {"bob"}
        # streamed text
        answer.text = "Hello wor"
        t0 = time.monotonic()
        theirs.update_stream(answer)
        loop.pump(lambda: any(isinstance(e, NodeChanged) and e.node.text == "Hello wor" for e in loop.events))
        assert time.monotonic() - t0 < 1.0
        # a move (last write wins: the stored position)
        theirs.move_nodes({prompt.id: (500.0, 40.0)})
        loop.pump(lambda: any(isinstance(e, NodeChanged) and e.node.id == prompt.id and e.node.x == 500.0
                              for e in loop.events))
        # a rename of the session
        renamed = theirs.get_session(session.id)
        renamed.title = "team (renamed)"
        theirs.update_session(renamed)
        loop.pump(lambda: any(isinstance(e, SessionChanged) and e.title == "team (renamed)" for e in loop.events))
        # a delete
        theirs.delete_nodes([prompt.id])
        loop.pump(lambda: any(isinstance(e, NodesRemoved) and prompt.id in e.ids for e in loop.events))
        # nothing of one's own comes back
        before = len(loop.events)
        mine.move_nodes({answer.id: (1.0, 2.0)})
        time.sleep(0.3)
        while not loop.jobs.empty():
            loop.jobs.get()()
        assert not [e for e in loop.events[before:] if isinstance(e, NodeChanged) and e.node.x == 1.0]
        watcher.close()
    finally:
        mine.close()
        theirs.close()


def test_the_watcher_survives_a_server_restart(pg_cluster, monkeypatch):
    url = pg_cluster.url(pg_cluster.create_db())
    mine, theirs = open_store(url), open_store(url)
    loop = Loop()
    try:
        session = mine.create_session(Session(title="restart"))
        watcher = _watch(mine, mine.load_graph(session.id), loop)
        pg_cluster.restart()
        assert watcher._listener.connected.wait(10)
        deadline = time.monotonic() + 10
        while watcher._listener.reconnects == 0 and time.monotonic() < deadline:
            time.sleep(0.05)
        assert watcher._listener.reconnects >= 1
        # both stores' pools reconnect (pre-ping), the listener LISTENs again
        note = Node(session.id, NodeKind.NOTE, "after the restart")
        theirs.add_nodes([note])
        loop.pump(lambda: any(isinstance(e, NodesAdded) and note.id in {n.id for n in e.nodes}
                              for e in loop.events), timeout=5)
        assert mine.get_node(note.id).text == "after the restart"
        watcher.close()
    finally:
        mine.close()
        theirs.close()
