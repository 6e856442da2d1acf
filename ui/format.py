"""Plain words for what a card shows beyond app.present's rules: the live metrics strip and error advice.

Pure functions of a domain `Node` (no Qt), kept in ui/ because they are presentation.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from app.domain import Node, NodeStatus
from app.events import NO_TEXT
from app.present.metrics import fmt_tokens as fmt_tokens
from app.present.metrics import metrics_line as answer_metrics_line
from app.present.money import fmt_cost as fmt_cost  # also what the window shows (cards, status bar, lens)
from app.present.status import retry_info


def has_live_countdown(node: Node, now: float) -> bool:
    return retry_info(node, now) is not None


def metrics_line(node: Node) -> str:
    """The answer's metrics line (app.present.metrics, the same words as every export), with what only
    a live window says: "measuring…" before any number, and a store write that failed."""
    line = answer_metrics_line(node)
    if not line and node.status.is_live:
        line = "measuring…"
    unsaved = node.run.persist_error if node.run is not None else None
    if unsaved:
        line = f"⚠ {unsaved} · " + line
    insecure = node.run_record.insecure
    if insecure:  # the key went over plain http:// to another machine (app.keys.plain_http_warning)
        line = f"⚠ {insecure} · " + line
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
    # a file this model cannot read (an image to a text-only model) or over its provider's limits:
    # nothing was sent (app.attachments)
    "unsupported_input": (
        "This model cannot take the prompt's files, so nothing was sent to it.",
        "Re-run on a model that reads them, or ask again without the file.",
    ),
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
    if kind == "auth" and node.run_record.no_key:  # nothing was sent: no provider rejected anything
        what, nxt = "No API key for {provider} — add one in Settings.", "Then Retry."
    if words == "bad_stream" and not node.text:
        what, nxt = "The connection closed before any text came.", "Retry."
    if kind == "network" and err is not None and NO_TEXT in err.message:  # reached, then cut: retried already
        what = "{provider} closed the connection before any text arrived."
        nxt = "Retry; if it keeps happening, check the base URL in Settings."
    detail = ""
    if err is not None and err.message:
        # Provider messages often start with "HTTP 401: …" already; never say it twice.
        status = f"HTTP {err.status}: " if err.status and f"HTTP {err.status}" not in err.message else ""
        detail = f"{status}{err.message}"
    if kind == "network" and err is not None and err.message.startswith(NO_TEXT):
        detail = err.message[len(NO_TEXT):].strip(" —;,.")  # the headline says the rest
    if words == "bad_stream" and err is not None and err.message.lower().startswith(_MID_ANSWER):
        detail = ""  # the headline says it already (the engine's tip only repeats "the text so far is kept")
    actions: list[tuple[str, str]] = []
    if kind == "unsupported_input":  # the same request would fail again: another model, not Retry
        return _para(what, nxt, detail), [("rerun_other", "Re-run on…")]
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


def elide_parts(text: str, width: float, width_of: Callable[[str], float], seps: tuple[str, ...] = (" · ", "; ")) -> str:
    """`text` cut to `width` (as `width_of` measures) at its parts' seams, with "…", so a number is whole or
    not shown ("0 done · 64 failed · …", never "$0.0" for "$0.0779"); the first part alone, cut at a word.
    The whole text belongs in a tooltip."""
    if width_of(text) <= width:
        return text
    cuts = sorted({i for sep in seps for i in _find_all(text, sep)})
    for i in reversed(cuts):
        head = text[:i] + " …"
        if width_of(head) <= width:
            return head
    words = text.split(" ")
    for n in range(len(words) - 1, 0, -1):
        head = " ".join(words[:n]) + "…"
        if width_of(head) <= width:
            return head
    return "…"


def _find_all(text: str, sep: str) -> list[int]:
    out, at = [], text.find(sep)
    while at >= 0:
        out.append(at)
        at = text.find(sep, at + 1)
    return out
