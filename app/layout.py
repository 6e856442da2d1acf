"""Card placement on the canvas (Qt-free, so the CLI and GUI place new cards the same way).

Fan-out siblings sit in a row under their prompt; follow-ups go below the card they follow, so each
lane reads as a column. A new card goes on free canvas nearest that spot: it covers no card, no edge
runs through it and its edge runs through no other card (existing cards never move). `relayout`
recomputes a tidy tree for the whole session.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from operator import attrgetter
from typing import TYPE_CHECKING

from app.domain import EdgeRole, Graph, Node, NodeKind

if TYPE_CHECKING:
    from app.outline import CardOutline

CARD_W = 460.0
PROMPT_W = 460.0
CARD_GAP = 48.0
ROW_GAP = 72.0
DEFAULT_H = {NodeKind.PROMPT: 130.0, NodeKind.NOTE: 160.0, NodeKind.RESPONSE: 560.0, NodeKind.SYNTHESIS: 560.0,
             NodeKind.SWEEP: 160.0}


def width(node: Node | CardOutline) -> float:
    return node.width or (PROMPT_W if node.kind in (NodeKind.PROMPT, NodeKind.NOTE) else CARD_W)


# A prompt with files shows them in a row of thumbnails and chips (ui/canvas/card_layout.py PromptLayout, card_buttons.py file_tile_row).
FILES_ROW_H = 92.0


def height(node: Node | CardOutline) -> float:
    """A card's height on the canvas: its own, else its kind's default (plus the files row). An
    outline (a card not read yet) is placed exactly as its full node will be."""
    if node.height:
        return node.height
    return DEFAULT_H[node.kind] + (FILES_ROW_H if node.has_files else 0.0)


Rect = tuple[float, float, float, float]  # x, y, w, h

# How far from the ideal spot a new card may go looking for free canvas: half-card steps sideways,
# a few rows further down.
_STEP = (CARD_W + CARD_GAP) / 2
_MAX_STEPS = 40
_LEVELS = 4
_LEVEL_H = ROW_GAP * 2
_MARGIN_X = CARD_GAP / 2 - 1.0  # cards side by side keep CARD_GAP between them
_MARGIN_Y = ROW_GAP / 3  # rows keep room for the edges between them
_EDGE_CLEARANCE = 6.0


def _rect(node: Node) -> Rect:
    return (node.x, node.y, width(node), height(node))


def _hits(a: Rect, b: Rect, mx: float = 0.0, my: float = 0.0) -> bool:
    return a[0] - mx < b[0] + b[2] and b[0] < a[0] + a[2] + mx and a[1] - my < b[1] + b[3] and b[1] < a[1] + a[3] + my


def _bend(sy: float, ey: float) -> float:
    """As ui/canvas/edges.py draws an edge (a cubic Bézier, parent bottom-centre to child top-centre)."""
    dy = ey - sy
    if dy < 0:
        return max(abs(dy) * 0.5 + 60.0, 80.0)
    return max(abs(dy) * 0.5, 40.0)


def edge_points(parent: Rect, child: Rect, steps: int = 32) -> list[tuple[float, float]]:
    """Points along the edge drawn from `parent` to `child`."""
    sx, sy = parent[0] + parent[2] / 2, parent[1] + parent[3]
    ex, ey = child[0] + child[2] / 2, child[1]
    bend = _bend(sy, ey)
    c1y, c2y = sy + bend, ey - bend
    out = []
    for i in range(steps + 1):
        t = i / steps
        u = 1 - t
        x = u * u * u * sx + 3 * u * u * t * sx + 3 * u * t * t * ex + t * t * t * ex
        y = u * u * u * sy + 3 * u * u * t * c1y + 3 * u * t * t * c2y + t * t * t * ey
        out.append((x, y))
    return out


def _inside(pt: tuple[float, float], r: Rect, pad: float) -> bool:
    return r[0] - pad < pt[0] < r[0] + r[2] + pad and r[1] - pad < pt[1] < r[1] + r[3] + pad


class _Canvas:
    """The cards and edges near where a new block of cards may go (a region, so a 10,000-card
    session costs one pass over its cards, not one per candidate spot)."""

    def __init__(self, graph: Graph, region: Rect, ignore: set[str]) -> None:
        self.cards: list[tuple[str, Rect]] = []
        rects: dict[str, Rect] = {}
        for n in graph.nodes.values():
            if n.id in ignore:
                continue
            r = _rect(n)
            rects[n.id] = r
            if _hits(r, region, CARD_W, ROW_GAP):
                self.cards.append((n.id, r))
        self.edges: list[tuple[Rect, list[tuple[float, float]]]] = []  # (box around it, points)
        for e in graph.edges:
            pr, cr = rects.get(e.parent_id), rects.get(e.child_id)
            if pr is None or cr is None:
                continue
            left, right = min(pr[0], cr[0]), max(pr[0] + pr[2], cr[0] + cr[2])
            top, bottom = min(pr[1], cr[1]), max(pr[1] + pr[3], cr[1] + cr[3])
            box = (left, top, right - left, bottom - top)
            if _hits(box, region):
                self.edges.append((box, edge_points(pr, cr)))
        self.rects = rects

    def free(self, boxes: list[Rect], links: list[tuple[Rect, Rect, set[str]]]) -> bool:
        """No card within the margins of `boxes`, no edge through them, no `links` edge (from a
        card outside to one of the boxes) through another card."""
        for _, r in self.cards:
            for b in boxes:
                if _hits(b, r, _MARGIN_X, _MARGIN_Y):
                    return False
        for box, pts in self.edges:
            for b in boxes:
                if _hits(box, b, _EDGE_CLEARANCE, _EDGE_CLEARANCE) and any(_inside(p, b, _EDGE_CLEARANCE) for p in pts):
                    return False
        for parent, child, ends in links:
            pts = edge_points(parent, child)
            xs, ys = [p[0] for p in pts], [p[1] for p in pts]
            box = (min(xs), min(ys), max(xs) - min(xs), max(ys) - min(ys))
            for cid, r in self.cards:
                if cid not in ends and _hits(box, r, _EDGE_CLEARANCE, _EDGE_CLEARANCE) \
                        and any(_inside(p, r, _EDGE_CLEARANCE) for p in pts):
                    return False
        return True


def _place_block(
    graph: Graph,
    block: list[tuple[Node, float, float]],
    ideal: tuple[float, float],
    links: list[tuple[Node, Node]],
    *,
    extra_links: list[tuple[Node, Node]] | None = None,
    anchor: float | None = None,
    left_cost: float = 1.0,
) -> None:
    """Put `block` (nodes at offsets from its origin) at a free spot near `ideal` (its origin):
    sideways in half-card steps, then a few rows lower, the nearest to `anchor` (the x its first
    node's centre should be near: its parent's centre; by default the ideal spot's). A spot is free when no card is in
    the way, no edge runs through it, and the edges `links` (existing parent -> node of the block)
    would run through no other card (nor, where that can be had too, the `extra_links`: a shared
    follow-up's further parents). Failing that, below every card."""
    ids = {n.id for n, _, _ in block}
    sizes = [(n, dx, dy, width(n), height(n)) for n, dx, dy in block]
    bx0 = min(dx for _, dx, _, _, _ in sizes)
    bx1 = max(dx + w for _, dx, _, w, _ in sizes)
    by1 = max(dy + h for _, _, dy, _, h in sizes)
    reach = _MAX_STEPS * _STEP
    all_links = links + [link for link in (extra_links or []) if link not in links]
    top = min([p.y for p, _ in all_links] + [ideal[1]])
    left = min([p.x for p, _ in all_links] + [ideal[0] + bx0 - reach])
    right = max([p.x + width(p) for p, _ in all_links] + [ideal[0] + bx1 + reach])
    region = (left, top, right - left, ideal[1] + _LEVELS * _LEVEL_H + by1 - top)
    canvas = _Canvas(graph, region, ids)
    offsets = {n.id: (dx, dy) for n, dx, dy, _, _ in sizes}

    def boxes_at(x: float, y: float) -> list[Rect]:
        return [(x + dx, y + dy, w, h) for _, dx, dy, w, h in sizes]

    def links_at(x: float, y: float, links: list[tuple[Node, Node]]) -> list[tuple[Rect, Rect, set[str]]]:
        out = []
        for parent, child in links:
            dx, dy = offsets[child.id]
            out.append((canvas.rects.get(parent.id, _rect(parent)), (x + dx, y + dy, width(child), height(child)),
                        {parent.id, child.id}))
        return out

    head_cx = sizes[0][1] + sizes[0][3] / 2
    want = ideal[0] + head_cx if anchor is None else anchor
    candidates = []
    for level in range(_LEVELS):
        for k in range(-_MAX_STEPS, _MAX_STEPS + 1):
            off = (ideal[0] + k * _STEP + head_cx - want) / _STEP
            cost = (off if off >= 0 else -off * left_cost) + level * 3
            candidates.append((cost, level, k))
    candidates.sort()
    spot: tuple[float, float] | None = None
    passes = [all_links, links, []] if len(all_links) > len(links) else [links, []]
    for checked in passes:
        for _, level, k in candidates:
            x, y = ideal[0] + k * _STEP, ideal[1] + level * _LEVEL_H
            if canvas.free(boxes_at(x, y), links_at(x, y, checked)):
                spot = (x, y)
                break
        if spot is not None:
            break
    if spot is None:
        others = [n for n in graph.nodes.values() if n.id not in ids]
        bottom = max((n.y + height(n) for n in others), default=0.0)
        spot = (ideal[0], max(ideal[1], bottom + ROW_GAP * 2))
    for n, dx, dy, _, _ in sizes:
        n.x, n.y = spot[0] + dx, spot[1] + dy


def _turn_block(prompt: Node, responses: list[Node]) -> list[tuple[Node, float, float]]:
    """A prompt with its responses in a row centred under it, at offsets from the prompt."""
    block = [(prompt, 0.0, 0.0)]
    if responses:
        w = max(width(r) for r in responses)
        n = len(responses)
        left = width(prompt) / 2 - (n * w + (n - 1) * CARD_GAP) / 2
        y = height(prompt) + ROW_GAP
        block += [(r, left + i * (w + CARD_GAP), y) for i, r in enumerate(responses)]
    return block


def place_root_prompt(graph: Graph, prompt: Node) -> None:
    others = [n for n in graph.nodes.values() if n.id != prompt.id]
    if not others:
        prompt.x, prompt.y = 0.0, 0.0
        return
    prompt.x = min(n.x for n in others)
    prompt.y = max(n.y + height(n) for n in others) + ROW_GAP * 2


def _bounds(nodes: Iterable[Node]) -> tuple[float, float] | None:
    """(leftmost x, lowest bottom edge) of `nodes`, None when there are none."""
    found = False
    left = bottom = 0.0
    for n in nodes:
        low = n.y + (n.height or DEFAULT_H[n.kind] + (FILES_ROW_H if n.has_files else 0.0))  # + height(n)
        if not found:
            found, left, bottom = True, n.x, low
            continue
        if n.x < left:
            left = n.x
        if low > bottom:
            bottom = low
    return (left, bottom) if found else None


_X, _Y, _H = attrgetter("x"), attrgetter("y"), attrgetter("height")
_TALLEST_DEFAULT = max(DEFAULT_H.values()) + FILES_ROW_H


def _left_and_bottom(graph: Graph, ids: set[str]) -> tuple[float, float] | None:
    """`_bounds` of every card but `ids`, exactly, without a Python loop over every card (a sweep asks
    1,000 new questions into one session): the leftmost x and the lowest top come from C-level passes;
    only the cards within the tallest card's height of that lowest top can hold the lowest bottom.
    The cards of `ids` must be out of the way (x = +inf, y = -inf: place_turn puts them there)."""
    values = graph.nodes.values()
    if len(graph.nodes) < 64:
        return _bounds(n for n in values if n.id not in ids)
    left = min(map(_X, values))
    tallest = max(_TALLEST_DEFAULT, max(filter(None, map(_H, values)), default=0.0))
    floor = max(map(_Y, values)) - tallest
    near = _bounds([n for n in values if n.y >= floor and n.id not in ids])
    return None if near is None else (left, near[1])


def place_turn(graph: Graph, prompt: Node, responses: list[Node], parent: Node | None = None,
               beside: Node | None = None, also: Sequence[Node] = ()) -> None:
    """A new prompt and its responses (already in `graph`): under the card it follows, or, for a
    branch of a root prompt (`beside`), next to that prompt; a new question goes below everything.
    Always on free canvas near that spot, so the new cards cover nothing and no edge crosses a card
    (`also`: further cards the prompt hangs from, whose edges are kept clear where possible)."""
    block = _turn_block(prompt, responses)
    ids = {n.id for n, _, _ in block}
    if parent is not None:
        ideal = (parent.x + (width(parent) - width(prompt)) / 2, parent.y + height(parent) + ROW_GAP)
        _place_block(graph, block, ideal, [(parent, prompt)], extra_links=[(p, prompt) for p in also])
    elif beside is not None and beside.id in graph.nodes:
        _place_block(graph, block, (beside.x + width(beside) + CARD_GAP, beside.y), [],
                     anchor=beside.x + width(beside) / 2, left_cost=1.5)
    else:
        for n, _, _ in block:  # out of the way of the canvas's extremes until placed (just below)
            n.x, n.y = math.inf, -math.inf
        bounds = _left_and_bottom(graph, ids)
        if bounds is None:
            prompt.x, prompt.y = 0.0, 0.0
        else:
            left, bottom = bounds
            # The block's left edge (its answers may reach left of the prompt) at the canvas's left
            # edge: one new question after another stays in one column, not drifting down-left.
            prompt.x = left - min(dx for _, dx, _ in block)
            prompt.y = bottom + ROW_GAP * 2
        for n, dx, dy in block[1:]:
            n.x, n.y = prompt.x + dx, prompt.y + dy


def place_sibling(graph: Graph, node: Node, prompt: Node, like: Node) -> None:
    """A re-run answer (Retry, re-run on another model): in its prompt's row of answers, at the free
    spot nearest the answer it re-runs (`like`), so a retry sits beside the card it retries."""
    siblings = [graph.nodes[e.child_id] for e in graph.children(prompt.id, (EdgeRole.REPLY,))
                if e.child_id in graph.nodes and e.child_id != node.id]
    row = [s for s in siblings if abs(s.y - like.y) < 1.0] or [like]
    x = max(s.x + width(s) for s in row) + CARD_GAP
    _place_block(graph, [(node, 0.0, 0.0)], (x, like.y), [(prompt, node)], anchor=like.x + width(like) / 2,
                 left_cost=1.2)


def place_synthesis(graph: Graph, node: Node, sources: list[Node]) -> None:
    if not sources:
        place_root_prompt(graph, node)
        return
    cx = sum(s.x + width(s) / 2 for s in sources) / len(sources)
    x = cx - width(node) / 2
    y = max(s.y + height(s) for s in sources) + ROW_GAP
    _place_block(graph, [(node, 0.0, 0.0)], (x, y), [(s, node) for s in sources])


def relayout(graph: Graph) -> dict[str, tuple[float, float]]:
    """A tidy tree over the primary-parent links: siblings side by side, lanes in columns."""
    from app.context import primary_parent

    children: dict[str | None, list[Node]] = {}
    for node in graph.nodes.values():
        if node.kind == NodeKind.SYNTHESIS:
            srcs = graph.parents(node.id, (EdgeRole.SOURCE,))
            parent = graph.nodes.get(srcs[-1].parent_id) if srcs else None
        else:
            parent = primary_parent(graph, node)
        children.setdefault(parent.id if parent else None, []).append(node)

    span: dict[str, float] = {}

    def measure(root: Node) -> None:
        # Iterative post-order walk: a lane may be thousands of turns deep (no recursion limit).
        stack: list[tuple[Node, bool]] = [(root, False)]
        entered: set[str] = set()
        while stack:
            node, done = stack.pop()
            kids = children.get(node.id, [])
            if done:
                known = [span[k.id] for k in kids if k.id in span]
                span[node.id] = max(width(node), sum(known) + CARD_GAP * (len(known) - 1))
            elif node.id not in entered:  # (entered: a damaged store with a cycle is laid out once)
                entered.add(node.id)
                stack.append((node, True))
                stack.extend((k, False) for k in kids)

    positions: dict[str, tuple[float, float]] = {}

    def place(root: Node, left0: float, y0: float) -> None:
        stack: list[tuple[Node, float, float]] = [(root, left0, y0)]
        while stack:
            node, left, y = stack.pop()
            if node.id in positions or node.id not in span:
                continue
            s = span[node.id]
            positions[node.id] = (left + (s - width(node)) / 2, y)
            kids = [k for k in children.get(node.id, []) if k.id in span]
            if not kids:
                continue
            kids_total = sum(span[k.id] for k in kids) + CARD_GAP * (len(kids) - 1)
            x = left + (s - kids_total) / 2
            ky = y + height(node) + ROW_GAP
            for k in kids:
                stack.append((k, x, ky))
                x += span[k.id] + CARD_GAP

    y = 0.0
    for root in children.get(None, []):
        measure(root)
        place(root, 0.0, y)
        bottom = max(positions[n][1] + height(graph.nodes[n]) for n in positions)
        y = bottom + ROW_GAP * 2
    return positions
