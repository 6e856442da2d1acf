"""A judge model's vote on a blind match (DESIGN.md, "Evaluate"): asked twice, the second time with the
sides swapped; the same answer preferred both times is its vote, a disagreement a tie
(app.arena.combine_judge_verdicts). Stored with the voter `judge:PROVIDER:MODEL`. `triptych arena
--judge` and the window's "Judge…" button both run it on the asyncio loop (the window's is qasync's).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from app.arena import Match, Vote, combine_judge_verdicts, judge_prompt, mask_identities, parse_verdict
from app.domain import Graph, NodeStatus
from app.planner import Target

__all__ = ["judge_match"]


async def judge_match(engine: Any, match: Match, prompt: str, text_a: str, text_b: str, judge: str,
                      pattern: re.Pattern[str], *, graph_of: Callable[[], Graph | None] = lambda: None,
                      on_started: Callable[[list[str]], object] | None = None, rubric: str | None = None) -> str:
    """Ask `judge` twice (A/B, then the sides swapped), record its combined vote; returns a line that
    names neither the contestants nor the judge (the user may not have voted yet). `graph_of`: the
    session as the caller holds it (the window's), for the engine; `on_started(node ids)`: the judge's
    cards, once created (the window stops them on cancel); `rubric`: what to judge against (None: the
    plain comparison). Cancelling the awaiting task leaves the
    cards as they are and records nothing."""
    a, b = mask_identities(text_a, pattern), mask_identities(text_b, pattern)
    asks = []
    for x, y in ((a, b), (b, a)):
        asks.append(engine.ask(match.session_id, judge_prompt(prompt, x, y, rubric), [Target(judge)], graph=graph_of()))
    for swapped, res in enumerate(asks):
        for node in (*res.prompts, res.runs[0].node):
            node.meta["arena_judge"] = {"match": match.id, "swapped": bool(swapped)}
            engine.repo.update_node(node)
    if on_started is not None:
        on_started([n.id for res in asks for n in (*res.prompts, res.runs[0].node)])
    await engine.wait([r.runs[0] for r in asks])
    verdicts = []
    for res in asks:
        node = res.runs[0].node
        verdicts.append(parse_verdict(node.text) if node.status == NodeStatus.DONE else None)
    if None in verdicts:
        return "the judge gave no verdict (its answers lack a VERDICT line or failed); no judge vote was recorded"
    first, second = verdicts
    assert first is not None and second is not None
    vote = combine_judge_verdicts(first, second)
    engine.repo.record_vote(Vote(match.id, f"judge:{judge}", vote))
    return f"the judge voted {vote} (it said {first}, then {second} with the sides swapped)"
