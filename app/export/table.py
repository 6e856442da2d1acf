"""The comparison table: one row per answer to a prompt, and token/cost totals.

Metrics follow DESIGN.md: TTFT from the node's timing; tok/s = output tokens / (duration − TTFT);
cost = the provider-reported cost when given, else the catalog estimate.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from app.domain import EdgeRole, Graph, Node, NodeKind, NodeStatus
from app.export.common import (
    ancestor_ids,
    display_name,
    effective_cost,
    file_status,
    fmt_cost,
    fmt_int,
    fmt_ms,
    fmt_rate,
    tokens_per_second,
)
from app.present.money import fmt_cost_reported


@dataclass(slots=True)
class Row:
    node_id: str
    model: str  # provider:model ("" when unknown)
    display_name: str
    status: str
    ttft_ms: int | None
    duration_ms: int | None
    tok_per_s: float | None
    input_tokens: int | None
    cached_tokens: int | None
    output_tokens: int | None
    reasoning_tokens: int | None
    cost_usd: float | None  # reported if given, else estimated
    cost_reported: bool  # True when cost_usd is the provider's own figure
    finish: str | None
    error: str | None  # "kind: message" for errored lanes
    fastest: bool = False  # lowest TTFT among done answers (only flagged with 2+ rows)
    cheapest: bool = False  # lowest cost among done answers (only flagged with 2+ rows)


def row_for(node: Node, names: Mapping[str, str] | None = None) -> Row:
    return Row(
        node_id=node.id,
        model=node.model or "",
        display_name=display_name(node.model, names),
        status=file_status(node).value,
        ttft_ms=node.timing.ttft_ms,
        duration_ms=node.timing.duration_ms,
        tok_per_s=tokens_per_second(node),
        input_tokens=node.usage.input,
        cached_tokens=node.usage.cached_input,
        output_tokens=node.usage.output,
        reasoning_tokens=node.usage.reasoning,
        cost_usd=effective_cost(node),
        cost_reported=node.reported_cost_usd is not None,
        finish=node.finish,
        error=f"{node.error.kind}: {node.error.message}" if node.error else None,
    )


def answers_of(graph: Graph, prompt_id: str) -> list[Node]:
    """The answers replying to a prompt, in creation order. For an answer id itself: [that answer]."""
    node = graph.nodes.get(prompt_id)
    if node is None:
        raise KeyError(prompt_id)
    if node.kind != NodeKind.PROMPT:
        return [node] if node.is_answer else []
    children = {e.child_id for e in graph.children(prompt_id, (EdgeRole.REPLY,))}
    return [n for nid, n in graph.nodes.items() if nid in children and n.is_answer]


def comparison_rows(graph: Graph, prompt_id: str, names: Mapping[str, str] | None = None) -> list[Row]:
    """One row per answer to `prompt_id`, with fastest/cheapest flagged among the `done` ones."""
    rows = [row_for(n, names) for n in answers_of(graph, prompt_id)]
    done = [r for r in rows if r.status == NodeStatus.DONE.value]
    if len(rows) >= 2:
        ttfts = [r.ttft_ms for r in done if r.ttft_ms is not None]
        if ttfts:
            best = min(ttfts)
            for r in done:
                r.fastest = r.ttft_ms == best
        costs = [r.cost_usd for r in done if r.cost_usd is not None]
        if costs:
            low = min(costs)
            for r in done:
                r.cheapest = r.cost_usd == low
    return rows


@dataclass(slots=True)
class Totals:
    answers: int = 0  # response/synthesis cards counted
    input_tokens: int = 0
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int = 0
    reasoning_tokens: int = 0
    cost_usd: float = 0.0
    cost_complete: bool = True  # False when some answer's cost is unknown (sum is a lower bound)
    duration_ms: int = 0  # sum of answer durations (compute time, not wall time)
    blind: int = 0  # answers of a blind match not voted on yet (app.arena_view): counted, never summed


TOTALS_COLUMNS = ("Answers", "Input", "Cached", "Output", "Reasoning", "Cost")


def row_cost(r: Row) -> str:
    """A comparison row's cost as every table prints it: "$0.00420 (reported)" when the provider said it."""
    return fmt_cost_reported(r.cost_usd, r.cost_reported)


def row_numbers(r: Row) -> list[str]:
    """TTFT, tok/s, input, cached, output, reasoning and cost of a comparison row, as the md and html
    reports print them."""
    return [fmt_ms(r.ttft_ms), fmt_rate(r.tok_per_s, unit=False), fmt_int(r.input_tokens),
            fmt_int(r.cached_tokens), fmt_int(r.output_tokens), fmt_int(r.reasoning_tokens), row_cost(r)]


def totals_cells(t: Totals) -> list[str]:
    """A totals row as the md and html reports print it, one text per TOTALS_COLUMNS entry."""
    if t.blind and t.blind == t.answers:  # only blind answers: nothing to sum, nothing made up
        return [str(t.answers), "–", "–", "–", "–", "– (blind until the vote)"]
    cost = fmt_cost(t.cost_usd) + ("" if t.cost_complete else " (some unknown)")
    if t.blind:
        cost += f" (+{t.blind} blind until the vote)"
    return [str(t.answers), fmt_int(t.input_tokens), fmt_int(t.cached_tokens), fmt_int(t.output_tokens),
            fmt_int(t.reasoning_tokens), cost]


def totals(graph: Graph, node_ids: Iterable[str]) -> Totals:
    """Sum usage and cost over the answers among `node_ids` (prompts and notes count nothing)."""
    t = Totals()
    for nid in dict.fromkeys(node_ids):
        node = graph.nodes.get(nid)
        if node is None or not node.is_answer:
            continue
        t.answers += 1
        if isinstance(node.meta, dict) and node.meta.get("blind"):  # masked: no usage, no cost to sum
            t.blind += 1
            continue
        u = node.usage
        t.input_tokens += u.input or 0
        t.cached_tokens += u.cached_input or 0
        t.cache_write_tokens += u.cache_write or 0
        t.output_tokens += u.output or 0
        t.reasoning_tokens += u.reasoning or 0
        cost = effective_cost(node)
        if cost is None:
            if not u.is_empty() or node.status == NodeStatus.DONE:
                t.cost_complete = False
        else:
            t.cost_usd += cost
        t.duration_ms += node.timing.duration_ms or 0
    return t


def session_totals(graph: Graph) -> Totals:
    return totals(graph, graph.nodes)


def branch_totals(graph: Graph, node_id: str) -> Totals:
    """Totals over the path leading to `node_id` (the node and all its ancestors)."""
    return totals(graph, ancestor_ids(graph, [node_id]))


def descendant_ids(graph: Graph, node_id: str) -> set[str]:
    """The node and everything below it (any edge role)."""
    children: dict[str, list[str]] = {}
    for edge in graph.edges:
        children.setdefault(edge.parent_id, []).append(edge.child_id)
    seen: set[str] = set()
    stack = [node_id]
    while stack:
        nid = stack.pop()
        if nid in seen or nid not in graph.nodes:
            continue
        seen.add(nid)
        stack.extend(children.get(nid, ()))
    return seen


def subtree_totals(graph: Graph, node_id: str) -> Totals:
    """Totals over a branch that starts at `node_id` (the node and all its descendants)."""
    return totals(graph, descendant_ids(graph, node_id))



@dataclass(slots=True)
class Branch:
    """One branch of a session: the path from its first prompt to `tip`, an answer that no later answer
    follows from. `totals` count every answer on that path (the tip and every card it drew context from,
    by any edge), so branches that share their start overlap: their totals do not add up to the session's."""

    tip: Node
    prompt: Node | None  # the prompt the tip answers (None for a synthesis)
    totals: Totals


def branches(graph: Graph, under: str | None = None) -> list[Branch]:
    """Every branch of the session (or only those whose tip is `under` or below it), tips in report
    order (see `tree_order`). Linear in the graph's size plus the lengths of the branches."""
    from app.export.common import tree_order

    parents: dict[str, list[str]] = {}
    prompt_of: dict[str, str] = {}
    for edge in sorted(graph.edges, key=lambda e: e.position):
        if edge.parent_id in graph.nodes and edge.child_id in graph.nodes:
            parents.setdefault(edge.child_id, []).append(edge.parent_id)
            if edge.role == EdgeRole.REPLY:
                prompt_of.setdefault(edge.child_id, edge.parent_id)
    # cards from which some answer can be reached through one or more edges: not tips
    above_answer: set[str] = set()
    stack = [p for nid, n in graph.nodes.items() if n.is_answer for p in parents.get(nid, ())]
    while stack:
        nid = stack.pop()
        if nid not in above_answer:
            above_answer.add(nid)
            stack.extend(parents.get(nid, ()))
    scope = descendant_ids(graph, under) if under is not None else None
    out: list[Branch] = []
    for node in tree_order(graph):
        if not node.is_answer or node.id in above_answer or (scope is not None and node.id not in scope):
            continue
        path: set[str] = set()
        todo = [node.id]
        while todo:
            nid = todo.pop()
            if nid not in path:
                path.add(nid)
                todo.extend(parents.get(nid, ()))
        prompt = graph.nodes.get(prompt_of.get(node.id, "")) if node.kind == NodeKind.RESPONSE else None
        out.append(Branch(node, prompt, totals(graph, path)))
    return out
