"""Card placement on the canvas (Qt-free, so the CLI and GUI place new cards the same way).

Fan-out siblings sit in a row under their prompt; follow-ups go below the card they follow, so each
lane reads as a column. `relayout` recomputes a tidy tree for the whole session.
"""

from __future__ import annotations

from app.domain import EdgeRole, Graph, Node, NodeKind

CARD_W = 460.0
PROMPT_W = 460.0
CARD_GAP = 48.0
ROW_GAP = 72.0
DEFAULT_H = {NodeKind.PROMPT: 130.0, NodeKind.NOTE: 160.0, NodeKind.RESPONSE: 560.0, NodeKind.SYNTHESIS: 560.0}


def width(node: Node) -> float:
    return node.width or (PROMPT_W if node.kind in (NodeKind.PROMPT, NodeKind.NOTE) else CARD_W)


def height(node: Node) -> float:
    return node.height or DEFAULT_H[node.kind]


def _overlaps(graph: Graph, x: float, y: float, w: float, h: float, ignore: set[str]) -> bool:
    for n in graph.nodes.values():
        if n.id in ignore:
            continue
        if x < n.x + width(n) + CARD_GAP / 2 and n.x < x + w + CARD_GAP / 2 and y < n.y + height(n) and n.y < y + h:
            return True
    return False


def _free_row(graph: Graph, xs: list[float], y: float, w: float, h: float, ignore: set[str]) -> float:
    """Shift a row right until none of its slots overlaps an existing card; return the shift."""
    shift = 0.0
    for _ in range(200):
        if not any(_overlaps(graph, x + shift, y, w, h, ignore) for x in xs):
            return shift
        shift += w + CARD_GAP
    return shift


def place_root_prompt(graph: Graph, prompt: Node) -> None:
    others = [n for n in graph.nodes.values() if n.id != prompt.id]
    if not others:
        prompt.x, prompt.y = 0.0, 0.0
        return
    prompt.x = min(n.x for n in others)
    prompt.y = max(n.y + height(n) for n in others) + ROW_GAP * 2


def place_follow(graph: Graph, prompt: Node, parent: Node) -> None:
    x = parent.x + (width(parent) - width(prompt)) / 2
    y = parent.y + height(parent) + ROW_GAP
    prompt.x, prompt.y = x + _free_row(graph, [x], y, width(prompt), height(prompt), {prompt.id}), y


def place_fanout(graph: Graph, prompt: Node, responses: list[Node]) -> None:
    """A row of responses centred under their prompt."""
    if not responses:
        return
    w = max(width(r) for r in responses)
    n = len(responses)
    total = n * w + (n - 1) * CARD_GAP
    left = prompt.x + width(prompt) / 2 - total / 2
    y = prompt.y + height(prompt) + ROW_GAP
    xs = [left + i * (w + CARD_GAP) for i in range(n)]
    ignore = {r.id for r in responses} | {prompt.id}
    shift = _free_row(graph, xs, y, w, max(height(r) for r in responses), ignore)
    for r, x in zip(responses, xs, strict=True):
        r.x, r.y = x + shift, y


def place_synthesis(graph: Graph, node: Node, sources: list[Node]) -> None:
    if not sources:
        place_root_prompt(graph, node)
        return
    cx = sum(s.x + width(s) / 2 for s in sources) / len(sources)
    x = cx - width(node) / 2
    y = max(s.y + height(s) for s in sources) + ROW_GAP
    node.x, node.y = x + _free_row(graph, [x], y, width(node), height(node), {node.id}), y


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

    def measure(node: Node, depth: int = 0) -> float:
        kids = children.get(node.id, [])
        own = width(node)
        if depth > 500 or not kids:
            span[node.id] = own
            return own
        total = sum(measure(k, depth + 1) for k in kids) + CARD_GAP * (len(kids) - 1)
        span[node.id] = max(own, total)
        return span[node.id]

    positions: dict[str, tuple[float, float]] = {}

    def place(node: Node, left: float, y: float, depth: int = 0) -> None:
        s = span[node.id]
        positions[node.id] = (left + (s - width(node)) / 2, y)
        kids = children.get(node.id, [])
        if not kids or depth > 500:
            return
        kids_total = sum(span[k.id] for k in kids) + CARD_GAP * (len(kids) - 1)
        x = left + (s - kids_total) / 2
        ky = y + height(node) + ROW_GAP
        for k in kids:
            place(k, x, ky, depth + 1)
            x += span[k.id] + CARD_GAP

    y = 0.0
    for root in children.get(None, []):
        measure(root)
        place(root, 0.0, y)
        bottom = max(positions[n][1] + height(graph.nodes[n]) for n in positions)
        y = bottom + ROW_GAP * 2
    return positions
