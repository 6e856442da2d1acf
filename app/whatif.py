"""Cost what-if (DESIGN.md, "Evaluate"): what a session, the path to a card, or a sweep would have cost
on every catalog model with a price, from the token counts recorded on its answers.

Qt-free and pure: `cost_whatif(graph, catalog)` reads nodes and prices, nothing else. The window's
"Cost on other models" panel and `triptych cost` both call it.

The arithmetic, per answer (a response or synthesis with recorded usage), then summed:
- uncached input = input - cached input - cache writes, at the model's input price;
- cached input at its cached-input price (the input price where it has none);
- cache writes at its cache-write price (the input price where it has none);
- output (which includes reasoning tokens) at its output price.
That is `app.catalog.Price.cost` applied to the recorded `Usage`. Three figures per model:
- `cost_usd`: each answer priced at the time it was recorded (DeepSeek's peak hours use its peak price);
- `off_peak_cost_usd`: every answer at the off-peak price (only models with a peak price, else None);
- `batch_cost_usd`: at the provider's batch price (only providers with a batch API, else None).
The other models' tokenizers count the same text differently: the figures are estimates (`NOTE`).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from app.catalog import Catalog, Price
from app.domain import Graph, Node, Usage

__all__ = ["NOTE", "WhatIf", "WhatIfRow", "answers_in_scope", "answers_phrase", "cost_whatif", "recorded_usage", "whatif_json"]

NOTE = ("Estimates: other models' tokenizers count the same text differently, so the same conversation "
        "would have used more or fewer tokens there.")


@dataclass(frozen=True, slots=True)
class WhatIfRow:
    model: str  # provider:model
    display: str
    cost_usd: float
    batch_cost_usd: float | None
    off_peak_cost_usd: float | None
    used: bool  # the session has answers from this model
    spent_usd: float | None = None  # what its answers in scope actually cost (used models; None if unknown)

    def __repr__(self) -> str:
        return f"<WhatIfRow {self.model} {self.cost_usd}>"


@dataclass(frozen=True, slots=True)
class WhatIf:
    actual_usd: float | None  # what the answers cost (reported, else catalog); None if none is known
    rows: list[WhatIfRow]  # cheapest first
    usage: Usage  # the token totals priced (input includes cached input and cache writes)
    answers: int  # answers with recorded usage
    unreported: int  # answers without any usage (not priced)
    judge_answers: int = 0  # of `answers`: a blind-match judge's (app.arena_judge), paid for like the rest

    def __repr__(self) -> str:
        return f"<WhatIf {len(self.rows)} models, {self.answers} answers>"


def answers_in_scope(graph: Graph, path_to: str | None = None) -> list[Node]:
    """The answers (responses and syntheses, judge verdicts included: they were paid for) of the whole
    session, or of the path to `path_to` (that card and its ancestors). KeyError for a node not in it."""
    if path_to is None:
        nodes: Iterable[Node] = graph.nodes.values()
    else:
        if path_to not in graph.nodes:
            raise KeyError(path_to)
        from app.export.common import ancestor_ids

        keep = ancestor_ids(graph, [path_to])
        nodes = (n for nid, n in graph.nodes.items() if nid in keep)
    return [n for n in nodes if n.is_answer]


def recorded_usage(node: Node) -> Usage | None:
    """The node's usage, or None when the provider reported no token counts at all."""
    u = node.usage
    if u.input is None and u.output is None:
        return None
    return u


def _actual(node: Node) -> float | None:
    return node.reported_cost_usd if node.reported_cost_usd is not None else node.cost_usd


def _sum(values: Iterable[float | None]) -> float | None:
    total: float | None = 0.0
    for v in values:
        if v is None:
            return None
        total = (total or 0.0) + v
    return None if total is None else round(total, 10)


def _priced(price: Price | None, usages: list[Usage]) -> float | None:
    if price is None:
        return None
    return _sum(price.cost(u) for u in usages)


def cost_whatif(graph: Graph, catalog: Catalog, path_to: str | None = None) -> WhatIf:
    """What the session (or the path to `path_to`) would have cost on each catalog model with a price,
    cheapest first (ties by model id). See the module docstring for the arithmetic."""
    answers = answers_in_scope(graph, path_to)
    recorded = [(n, u) for n in answers if (u := recorded_usage(n)) is not None]
    usages = [u for _, u in recorded]
    costs = [c for n in answers if (c := _actual(n)) is not None]
    actual = round(sum(costs), 10) if costs else None
    used = {n.model for n in answers if n.model}
    rows: list[WhatIfRow] = []
    for info in catalog.models():
        if info.price is None:
            continue
        mine = [c for n in answers if n.model and (n.model == info.ref or catalog.canonical(n.model) == info.ref)
                and (c := _actual(n)) is not None]
        timed = _sum(catalog.cost(info.ref, u, at=datetime.fromtimestamp(n.created_at, UTC))
                     for n, u in recorded)
        rows.append(WhatIfRow(
            model=info.ref,
            display=info.display,
            cost_usd=timed if timed is not None else 0.0,
            batch_cost_usd=_priced(info.batch_price, usages),
            off_peak_cost_usd=_priced(info.price, usages) if info.peak_price is not None else None,
            used=info.ref in used or any(catalog.canonical(m) == info.ref for m in used),
            spent_usd=round(sum(mine), 10) if mine else None,
        ))
    rows.sort(key=lambda r: (r.cost_usd, r.model))
    total = Usage(
        input=sum(u.input or 0 for u in usages),
        cached_input=sum(u.cached_input or 0 for u in usages),
        cache_write=sum(u.cache_write or 0 for u in usages),
        output=sum(u.output or 0 for u in usages),
        reasoning=sum(u.reasoning or 0 for u in usages),
    )
    judges = sum(1 for n, _ in recorded if isinstance(n.meta, dict) and "arena_judge" in n.meta)
    return WhatIf(actual_usd=actual, rows=rows, usage=total, answers=len(recorded),
                  unreported=len(answers) - len(recorded), judge_answers=judges)


def answers_phrase(result: WhatIf) -> str:
    """ "2 answers", or with a judge's: "2 answers (+2 judge)" (the contestants' answers, then the judge's)."""
    own = result.answers - result.judge_answers
    text = f"{own} answer{'s' if own != 1 else ''}"
    return text + (f" (+{result.judge_answers} judge)" if result.judge_answers else "")


def whatif_json(result: WhatIf) -> dict[str, Any]:
    """`triptych cost --json` (DESIGN.md): {"actual_usd", "rows": [{"model", "cost_usd", "batch_cost_usd",
    "off_peak_cost_usd"}]}."""
    return {
        "actual_usd": result.actual_usd,
        "rows": [{"model": r.model, "cost_usd": r.cost_usd, "batch_cost_usd": r.batch_cost_usd,
                  "off_peak_cost_usd": r.off_peak_cost_usd} for r in result.rows],
    }
