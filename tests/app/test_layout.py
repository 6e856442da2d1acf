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
