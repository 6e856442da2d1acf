"""An answer's numbers in words, one rule for the card's metrics strip, focus mode, the comparison
table, the status bar, the CLI and every export.

Tokens per second (the one definition)
    output tokens / (end − first token), in seconds: the generation rate, not counting the wait for
    the first token. Both ends are measured by the engine on one clock from one request start and
    stored as `Timing.ttft_ms` (request sent → first text or reasoning token) and
    `Timing.duration_ms` (request sent → end), so the span is `duration_ms − ttft_ms`. Every view
    computes it from those stored numbers; nothing else (an earlier engine kept a second figure, from
    unrounded clock readings, in `Node.meta["tokens_per_s"]`: the card showed it, the exports did
    not, and the two disagreed by up to a millisecond's worth — 95.2 against 100.0 on a 20 ms
    answer). Unknown (None) without a token count, a first token or a positive span.
"""

from __future__ import annotations

from app.catalog import estimate_tokens
from app.domain import Node
from app.present.money import fmt_cost


def tokens_per_second(node: Node) -> float | None:
    """Output tokens / (end − first token) in seconds; None when unknown (see the module docstring)."""
    out, ttft, dur = node.usage.output, node.timing.ttft_ms, node.timing.duration_ms
    if not out or ttft is None or dur is None or dur <= ttft:
        return None
    return out / ((dur - ttft) / 1000.0)


def fmt_rate(rate: float | None, *, unit: bool = True) -> str:
    """ "95.2 tok/s" (one decimal under 100, whole from 100: "1234 tok/s"; without the unit in a
    "tok/s" column); "–" when unknown."""
    if rate is None:
        return "–"
    number = f"{rate:.1f}" if rate < 99.95 else f"{rate:.0f}"
    return f"{number} tok/s" if unit else number


def fmt_ms(ms: int | float | None) -> str:
    """ "310 ms", "1.25 s"; "–" when unknown."""
    if ms is None:
        return "–"
    if ms < 1000:
        return f"{round(ms)} ms"
    return f"{ms / 1000:.2f} s"


def fmt_tokens(n: int | None) -> str:
    """A token count in few characters: 845, 1.2k, 12k; "–" when unknown."""
    if n is None:
        return "–"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def fmt_int(value: int | None) -> str:
    """An exact count with thousands separators (tables): 12,345; "–" when unknown."""
    return "–" if value is None else f"{value:,}"


def effective_cost(node: Node) -> float | None:
    """The provider-reported cost when given, else the catalog estimate."""
    return node.reported_cost_usd if node.reported_cost_usd is not None else node.cost_usd


def cost_text(node: Node, *, live: bool | None = None) -> str | None:
    """The answer's cost ("$0.00420"), with "+" when it is a lower bound (the output count never came,
    so it prices the input alone); None when unknown."""
    cost = effective_cost(node)
    if cost is None:
        return None
    live = node.status.is_live if live is None else live
    partial = node.usage.output is None and node.reported_cost_usd is None and not live
    return fmt_cost(cost) + ("+" if partial else "")


def metrics_parts(node: Node, *, live: bool | None = None) -> list[str]:
    """TTFT · tok/s · in (cached) · out (reasoning) · cost · finish · params not sent, omitting what is
    unknown. `live`: whether the card still streams in this view (default: its status); a file passes
    False."""
    if isinstance(node.meta, dict) and node.meta.get("blind"):
        return []  # a blind match's answer before the vote (app.arena_view): no figure may tell it apart
    live = node.status.is_live if live is None else live
    parts: list[str] = []
    if node.timing.ttft_ms is not None:
        parts.append(f"TTFT {fmt_ms(node.timing.ttft_ms)}")
    rate = tokens_per_second(node)
    if rate is not None:
        parts.append(fmt_rate(rate))
    u = node.usage
    if u.input is not None:
        cached = f" ({fmt_tokens(u.cached_input)} cached)" if u.cached_input else ""
        parts.append(f"in {fmt_tokens(u.input)}{cached}")
    if u.output is not None:
        reasoning = f" ({fmt_tokens(u.reasoning)} reasoning)" if u.reasoning else ""
        parts.append(f"out {fmt_tokens(u.output)}{reasoning}")
    elif node.text and not live:
        # stopped or cut before the provider's usage report: an estimate, said to be one (it is not
        # stored, so the session's sums stay what the providers reported)
        parts.append(f"out ~{fmt_tokens(estimate_tokens(node.text))} (estimated)")
    cost = cost_text(node, live=live)
    if cost is not None:
        parts.append(cost)
    if node.finish and node.finish not in ("stop", "error") and not live:
        parts.append(f"finish: {node.finish}")
    dropped = node.run_record.dropped_params
    if dropped:
        parts.append("not sent: " + ", ".join(dropped))
    return parts


def metrics_line(node: Node, *, live: bool | None = None) -> str:
    """The metrics parts joined with " · " ("" when nothing is known)."""
    return " · ".join(metrics_parts(node, live=live))
