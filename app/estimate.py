"""Costing before sending and after: the composer's estimate over the context lens's planned calls,
and whether a session's cost sum leaves answers out. No Qt; the window words the numbers.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from app.domain import Graph
from app.engine import PlannedCall


@dataclass(frozen=True, slots=True)
class DraftEstimate:
    """What a draft would cost: input tokens of the largest context, and the estimated cost over all
    models (input plus ASSUMED_OUTPUT_TOKENS each), None when no model has a price."""

    input_tokens: int
    cost_usd: float | None


def draft_estimate(plans: Sequence[PlannedCall]) -> DraftEstimate | None:
    if not plans:
        return None
    costs = [p.cost_est_usd for p in plans if p.cost_est_usd is not None]
    return DraftEstimate(max(p.input_tokens_est for p in plans), sum(costs) if costs else None)


def session_cost_incomplete(graph: Graph | None) -> bool:
    """Whether some answer of the session has no known cost (the comparison table's rule)."""
    if graph is None or not any(
        n.is_answer and n.cost_usd is None and n.reported_cost_usd is None for n in graph.nodes.values()
    ):
        return False  # the common case, without importing app.export
    from app.export import session_totals

    return not session_totals(graph).cost_complete
