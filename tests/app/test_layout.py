"""Where new cards land (issue #12, 8), Qt-free: the engine places every new card next to the card it
comes from, on free canvas, with no edge through an unrelated card."""

from __future__ import annotations

from app.domain import EdgeRole, Graph, Node, NodeKind, Session
from app.layout import edge_points, height, place_sibling, place_synthesis, place_turn, width


def _rect(n: Node) -> tuple[float, float, float, float]:
    return (n.x, n.y, width(n), height(n))


def assert_clear(g: Graph) -> None:
    nodes = list(g.nodes.values())
    for i, a in enumerate(nodes):
        for b in nodes[i + 1:]:
            ax, ay, aw, ah = _rect(a)
            bx, by, bw, bh = _rect(b)
            assert not (ax < bx + bw and bx < ax + aw and ay < by + bh and by < ay + ah), (a, b)
    for e in g.edges:
        pts = edge_points(_rect(g.nodes[e.parent_id]), _rect(g.nodes[e.child_id]))
        for n in nodes:
            if n.id in (e.parent_id, e.child_id):
                continue
            x, y, w, h = _rect(n)
            assert not any(x + 1 < px < x + w - 1 and y + 1 < py < y + h - 1 for px, py in pts), (e, n)


class Canvas:
    def __init__(self) -> None:
        self.g = Graph(Session(title="t"))

    def turn(self, n: int, *parents: Node, beside: Node | None = None) -> tuple[Node, list[Node]]:
        g = self.g
        p = g.add(Node(g.session.id, NodeKind.PROMPT, "q"))
        for i, parent in enumerate(parents):
            g.link(parent.id, p.id, EdgeRole.FOLLOW if i == 0 else EdgeRole.REF)
        rs = [g.add(Node(g.session.id, NodeKind.RESPONSE, "a", model="x:y")) for _ in range(n)]
        for r in rs:
            g.link(p.id, r.id, EdgeRole.REPLY)
        place_turn(g, p, rs, parent=parents[0] if parents else None, beside=beside, also=parents[1:])
        return p, rs


def test_follow_ups_branches_reruns_shared_turns_and_syntheses_land_clear():
    c = Canvas()
    p, (a, b, d) = c.turn(3)
    _, (b2, b3, b4) = c.turn(3, b)  # a row under the middle lane
    pa, (a2,) = c.turn(1, a)  # the left lane cannot go straight down: that row is taken
    assert pa.y > a.y + height(a) and abs(pa.x - a.x) <= 2 * (width(a) + 48)
    branch, _ = c.turn(3, beside=p)
    assert branch.y == p.y and branch.x > p.x
    rerun = c.g.add(Node(c.g.session.id, NodeKind.RESPONSE, "a", model="x:y"))
    c.g.link(p.id, rerun.id, EdgeRole.REPLY)
    place_sibling(c.g, rerun, p, d)
    assert rerun.y == d.y
    shared, _ = c.turn(2, a2, b3)
    syn = c.g.add(Node(c.g.session.id, NodeKind.SYNTHESIS, "s", model="x:y"))
    for src in (b2, b3, b4):
        c.g.link(src.id, syn.id, EdgeRole.SOURCE)
    place_synthesis(c.g, syn, [b2, b3, b4])
    assert_clear(c.g)


def test_tidy_up_lays_out_a_lane_thousands_of_turns_deep() -> None:
    """Tidy up (relayout) walks the tree without recursion: a 2,500-turn lane used to raise
    RecursionError, and the old depth cap left cards past turn 250 where they were."""
    from app.layout import relayout

    g = Graph(Session(title="deep"))
    parent: Node | None = None
    for _ in range(2500):
        p = g.add(Node(g.session.id, NodeKind.PROMPT, "q"))
        if parent is not None:
            g.link(parent.id, p.id, EdgeRole.FOLLOW)
        r = g.add(Node(g.session.id, NodeKind.RESPONSE, "a", model="x:y"))
        g.link(p.id, r.id, EdgeRole.REPLY)
        parent = r
    positions = relayout(g)
    assert set(positions) == set(g.nodes)
    ys = [positions[n.id][1] for n in g.nodes.values()]
    assert len(set(ys)) == len(ys)  # one card per row, each below the one before
    assert sorted(ys) == ys


def test_new_questions_stack_in_one_column_not_drifting_left() -> None:
    """Each new question of a session (no parent) goes below everything with its row of answers'
    left edge where the canvas starts: five questions with three answers each stay in one column
    (they used to step left by a card's width each time, so Fit all zoomed out to ~15 %)."""
    c = Canvas()
    lefts = []
    for _ in range(5):
        p, rs = c.turn(3)
        lefts.append(min(n.x for n in [p, *rs]))
    assert max(lefts) - min(lefts) < 1.0, lefts
    assert_clear(c.g)


def test_a_retry_sits_beside_the_answer_it_retries() -> None:
    """Retry of the right-hand answer of a row lands right of it, not at the far left of the row
    (where the prompt's centre would have put it)."""
    c = Canvas()
    p, rs = c.turn(5)
    right = max(rs, key=lambda n: n.x)
    other = c.g.add(Node(c.g.session.id, NodeKind.NOTE, "another tree right of the row"))
    other.x, other.y = right.x + width(right) + 60, right.y + 40  # just right of the row: the next spot is past it
    again = c.g.add(Node(c.g.session.id, NodeKind.RESPONSE, "a", model="x:y"))
    c.g.link(p.id, again.id, EdgeRole.REPLY)
    place_sibling(c.g, again, p, right)
    assert again.y == right.y
    left = min(rs, key=lambda n: n.x)
    assert abs(again.x - right.x) < abs(again.x - left.x), (again.x, left.x, right.x)  # nearer its own card
    assert_clear(c.g)



def test_a_new_question_in_a_big_session_lands_where_a_full_scan_puts_it() -> None:
    """place_turn finds the canvas's left edge and lowest bottom without looking at every card when
    it can (a 1,000-cell sweep asks 1,000 questions into one session): the spot is the one a plain
    scan of every card gives, with cards of every height, files, and the new cards themselves sitting
    leftmost or lowest before they are placed."""
    import random

    from app.attachments import Attachment
    from app.layout import ROW_GAP

    rnd = random.Random(5)
    for trial in range(60):
        g = Graph(Session(title="t"))
        for _ in range(rnd.randint(60, 200)):
            kind = rnd.choice([NodeKind.PROMPT, NodeKind.RESPONSE, NodeKind.NOTE, NodeKind.SWEEP])
            n = g.add(Node(g.session.id, kind, "x", x=rnd.uniform(-3000, 3000), y=rnd.uniform(-3000, 3000)))
            if rnd.random() < 0.2:
                n.height = rnd.choice([0.0, rnd.uniform(10, 2500)])
            if kind == NodeKind.PROMPT and rnd.random() < 0.3:
                n.attachments = [Attachment(name="a.png", kind="image", mime="image/png", data=b"x")]
        old = list(g.nodes.values())
        p = g.add(Node(g.session.id, NodeKind.PROMPT, "q"))
        rs = [g.add(Node(g.session.id, NodeKind.RESPONSE, "a", model="x:y")) for _ in range(rnd.randint(1, 4))]
        if trial % 3 == 1:  # a new card is, before it is placed, the leftmost, or the lowest
            rs[0].x = -10_000.0
        elif trial % 3 == 2:
            rs[-1].y = 10_000.0
        elif trial % 4 == 3:  # ties: new cards exactly as far left / as low as the old extremes
            rs[0].x = min(n.x for n in old)
            p.y = max(n.y for n in old)
        if trial == 7:  # the lowest bottom is a tall card's whose top is far above the lowest top
            old[0].y, old[0].height = -2000.0, 9000.0
        left = min(n.x for n in old)
        bottom = max(n.y + height(n) for n in old)
        place_turn(g, p, rs)
        assert abs(min(n.x for n in (p, *rs)) - left) < 1e-6, trial
        assert p.y == bottom + ROW_GAP * 2, trial


def test_a_scratch_copy_and_its_graph_never_see_each_others_new_edges() -> None:
    """Engine.ask plans into `graph.scratch()` (the edge index carried over, not rebuilt): edges linked
    on the copy stay off the caller's graph and the other way round, also for a card both link to."""
    g = Graph(Session(title="t"))
    a, b = g.add(Node(g.session.id, NodeKind.PROMPT, "a")), g.add(Node(g.session.id, NodeKind.RESPONSE, "b"))
    g.link(a.id, b.id, EdgeRole.REPLY)
    assert [e.child_id for e in g.children(a.id)] == [b.id]  # the index is built
    copy = g.scratch()
    c = copy.add(Node(g.session.id, NodeKind.RESPONSE, "c"))
    copy.link(a.id, c.id, EdgeRole.REPLY)
    d = g.add(Node(g.session.id, NodeKind.RESPONSE, "d"))
    g.link(a.id, d.id, EdgeRole.REPLY)
    assert [e.child_id for e in g.children(a.id)] == [b.id, d.id]
    assert [e.child_id for e in copy.children(a.id)] == [b.id, c.id]
    assert c.id not in g.nodes and len(g.edges) == 2 and len(copy.edges) == 2
    assert [e.parent_id for e in copy.parents(c.id)] == [a.id] and g.parents(c.id) == []
