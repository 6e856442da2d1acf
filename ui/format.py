"""Plain words for what a card shows: status chips, metrics strips and error advice.

Pure functions of a domain `Node` (no Qt), kept in ui/ because they are presentation.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from app.catalog import estimate_tokens
from app.domain import Node, NodeStatus
from app.engine import tokens_per_second
from app.money import fmt_cost as fmt_cost  # also what the window shows (cards, status bar, lens)


def _retry_info(node: Node, now: float) -> tuple[int, int, float] | None:
    retry = node.run.retry if node.run is not None else None
    if retry is None or not node.status.is_live:
        return None
    remaining = retry.remaining(now)
    if remaining <= 0:
        return None
    return retry.attempt, retry.max, remaining


def status_label(node: Node, now: float) -> tuple[str, str]:
    """(colour key, chip text) for a response card."""
    status = node.status
    if status.is_live:
        retry = _retry_info(node, now)
        if retry is not None:
            attempt, max_, remaining = retry
            return "retrying", f"retry {attempt}/{max_} in {max(1, round(remaining))}s"
        phase = (node.run.phase if node.run is not None else None) or ""
        if phase in ("queued", "connecting", "thinking", "streaming"):
            return phase, phase
        if status == NodeStatus.PENDING:
            return "queued", "queued"
        if node.text:
            return "streaming", "streaming"
        if node.reasoning:
            return "thinking", "thinking"
        return "connecting", "connecting"
    if status == NodeStatus.DONE and node.finish == "content_filter":
        # the provider's safety filter ended the answer: its text is kept, but it is not a plain "done"
        return "filtered", "filtered"
    return status.value, status.value


def has_live_countdown(node: Node, now: float) -> bool:
    return _retry_info(node, now) is not None


def fmt_tokens(n: int | None) -> str:
    if n is None:
        return "–"
    if n >= 10_000:
        return f"{n / 1000:.0f}k"
    if n >= 1000:
        return f"{n / 1000:.1f}k"
    return str(n)


def metrics_line(node: Node) -> str:
    """TTFT · tok/s · in (cached) · out (reasoning) · cost, omitting what is unknown."""
    parts: list[str] = []
    t = node.timing
    if t.ttft_ms is not None:
        parts.append(f"TTFT {t.ttft_ms / 1000:.2f}s" if t.ttft_ms >= 1000 else f"TTFT {t.ttft_ms} ms")
    tps = tokens_per_second(node)
    if tps is not None:
        parts.append(f"{tps:.0f} tok/s")
    u = node.usage
    if u.input is not None:
        cached = f" ({fmt_tokens(u.cached_input)} cached)" if u.cached_input else ""
        parts.append(f"in {fmt_tokens(u.input)}{cached}")
    if u.output is not None:
        reasoning = f" ({fmt_tokens(u.reasoning)} reasoning)" if u.reasoning else ""
        parts.append(f"out {fmt_tokens(u.output)}{reasoning}")
    elif node.text and not node.status.is_live:
        # stopped or cut before the provider's usage report: an estimate, said to be one (it is not
        # stored, so the session's sums stay what the providers reported)
        parts.append(f"out ~{fmt_tokens(estimate_tokens(node.text))} (estimated)")
    cost = node.reported_cost_usd if node.reported_cost_usd is not None else node.cost_usd
    if cost is not None:
        # without the output count the computed cost is the input's alone: a lower bound
        partial = u.output is None and node.reported_cost_usd is None and not node.status.is_live
        parts.append(fmt_cost(cost) + ("+" if partial else ""))
    if node.finish and node.finish not in ("stop", "error") and not node.status.is_live:
        parts.append(f"finish: {node.finish}")
    dropped = node.meta.get("dropped_params") if isinstance(node.meta, dict) else None
    if dropped:
        parts.append("not sent: " + ", ".join(str(d) for d in dropped))
    if not parts and node.status.is_live:
        parts.append("measuring…")
    line = " · ".join(parts)
    unsaved = node.run.persist_error if node.run is not None else None
    if unsaved:
        line = f"⚠ {unsaved} · " + line
    return line


ERROR_WORDS: dict[str, tuple[str, str]] = {
    # kind -> (what happened, what to do next)
    "auth": ("{provider} rejected the API key.", "Open Settings to check or replace the key, then Retry."),
    "rate_limit": ("{provider} is rate-limiting requests right now.", "Wait a moment, then Retry."),
    "overloaded": (
        "{provider} is overloaded right now.",
        "Retry in a little while, or re-run on another model.",
    ),
    "server": ("{provider} had a server error.", "Retry; if it keeps failing, re-run on another model."),
    "bad_request": (
        "{provider} refused the request.",
        "Check this model's parameters (max tokens, thinking, effort), then Retry.",
    ),
    "network": (
        "Could not reach {provider}.",
        "Check your connection and the base URL in Settings, then Retry.",
    ),
    "timeout": ("{provider} stopped sending data and the request timed out.", "Retry."),
    "bad_stream": (
        "The connection closed mid-answer; the text so far is kept.",
        "Retry to get a full answer.",
    ),
    # a bad_stream whose data could not be read (not JSON, an HTML page, an unexpected event): see
    # _stream_kind; often a proxy or a wrong base URL
    "bad_data": (
        "The provider sent data Triptych could not read.",
        "Retry; if it happens again, check the base URL in Settings.",
    ),
    "internal": ("Something went wrong inside Triptych.", "Retry."),
}

# How the providers and the engine word a bad_stream (app/providers/http.py MID_ANSWER and friends).
_MID_ANSWER = "connection closed mid-answer"
_UNREADABLE = ("invalid json", "html page", "json document", "unexpected event", "is not json")


def _stream_kind(message: str) -> str:
    """Which bad_stream this is: "bad_data" (unreadable data), "internal" (a Triptych bug) or
    "bad_stream" (the connection ended mid-answer)."""
    low = message.lower()
    if low.startswith("internal error"):
        return "internal"
    if any(w in low for w in _UNREADABLE):
        return "bad_data"
    return "bad_stream"


def error_advice(
    node: Node, provider_display: Callable[[str], str]
) -> tuple[str, list[tuple[str, str]]] | None:
    """(HTML paragraph, [(action, label)]) explaining a failed or interrupted card, or None."""
    provider_id = node.model.split(":", 1)[0] if node.model else ""
    provider = provider_display(provider_id) if provider_id else "The provider"
    if node.status == NodeStatus.INTERRUPTED:
        what = "This answer was cut off when Triptych closed."
        nxt = "The text so far is kept. Retry to ask again."
        return _para(what, nxt, ""), [("retry", "Retry")]
    if node.status != NodeStatus.ERROR:
        return None
    err = node.error
    kind = err.kind if err else "server"
    words = _stream_kind(err.message) if err is not None and kind == "bad_stream" else kind
    what, nxt = ERROR_WORDS.get(words, ("Something went wrong.", "Retry."))
    if kind == "auth" and node.meta.get("no_key"):  # nothing was sent: no provider rejected anything
        what, nxt = "No API key for {provider} — add one in Settings.", "Then Retry."
    if words == "bad_stream" and not node.text:
        what, nxt = "The connection closed before any text came.", "Retry."
    detail = ""
    if err is not None and err.message:
        # Provider messages often start with "HTTP 401: …" already; never say it twice.
        status = f"HTTP {err.status}: " if err.status and f"HTTP {err.status}" not in err.message else ""
        detail = f"{status}{err.message}"
    if words == "bad_stream" and err is not None and err.message.lower().startswith(_MID_ANSWER):
        detail = ""  # the headline says it already (the engine's tip only repeats "the text so far is kept")
    actions: list[tuple[str, str]] = []
    if kind in ("auth", "network") or words == "bad_data":
        actions.append(("open_settings", "Open Settings"))
    actions.append(("retry", "Retry"))
    if kind in ("overloaded", "server", "rate_limit"):
        actions.append(("rerun_other", "Re-run on…"))
    return _para(what.format(provider=provider), nxt, detail), actions


def _para(what: str, nxt: str, detail: str) -> str:
    out = f"<b>{html.escape(what)}</b> {html.escape(nxt)}"
    if detail:
        out += f"<br><span style='font-size:small'>{html.escape(detail[:300])}</span>"
    return out
