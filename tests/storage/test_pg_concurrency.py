"""Twenty members stream three lanes each into one shared session of the team store at once: no
update is lost, no writer fails (row locks, no database-wide write lock as in SQLite)."""

from __future__ import annotations

import threading

from app.domain import Edge, EdgeRole, Node, NodeKind, NodeStatus, Session
from storage import open_store

WRITERS, LANES, CHUNKS = 20, 3, 15


def test_twenty_writers_streaming_three_lanes_lose_nothing(pg_url):
    with open_store(pg_url) as repo:
        session = repo.create_session(Session(title="busy team"))
    errors: list[BaseException] = []
    start = threading.Barrier(WRITERS)

    def writer(w: int) -> None:
        try:
            with open_store(pg_url) as mine:
                prompt = Node(session.id, NodeKind.PROMPT, f"question {w}")
                lanes = [Node(session.id, NodeKind.RESPONSE, "", model=f"p:m{lane}", status=NodeStatus.STREAMING)
                         for lane in range(LANES)]
                start.wait()
                mine.add_nodes([prompt, *lanes], [Edge(prompt.id, n.id, EdgeRole.REPLY, 0, session.id) for n in lanes])
                for chunk in range(CHUNKS):
                    for node in lanes:
                        node.text += f"{w}.{chunk} "
                        mine.update_stream(node)
                for node in lanes:
                    node.status = NodeStatus.DONE
                    mine.update_node(node)
                    mine.move_nodes({node.id: (float(w), float(chunk))})
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(WRITERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors[:3]
    with open_store(pg_url) as repo:
        graph = repo.load_graph(session.id)
    answers = [n for n in graph.nodes.values() if n.kind == NodeKind.RESPONSE]
    assert len(answers) == WRITERS * LANES and len(graph.edges) == WRITERS * LANES
    for node in answers:
        w = int(node.text.split(".")[0])
        assert node.text == "".join(f"{w}.{c} " for c in range(CHUNKS)) and node.status == NodeStatus.DONE
        assert node.x == float(w)
