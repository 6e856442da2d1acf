"""A card's status in words, one rule for the card chip, focus mode, the CLI and the exports.

- :func:`status_chip`: the short word and its colour key in a live view (queued, connecting,
  thinking, streaming, "retry 2/3 in 4s", done, filtered, stopped, error, interrupted);
- :func:`status_label`: the word plus what went wrong ("error · rate_limit: slow down").

`now=None` means a file (an export, a snapshot): nothing streams there, so a card still streaming
reads "interrupted".
"""

from __future__ import annotations

from app.domain import Node, NodeStatus

LIVE_PHASES = ("queued", "connecting", "thinking", "streaming")


def file_status(node: Node) -> NodeStatus:
    """Live statuses make no sense in a file: a pending/streaming card is saved as interrupted."""
    return NodeStatus.INTERRUPTED if node.status.is_live else node.status


def retry_info(node: Node, now: float) -> tuple[int, int, float] | None:
    """(attempt, max attempts, seconds until it starts) while a live card waits to retry, else None."""
    retry = node.run.retry if node.run is not None else None  # RunState: the engine's, this process only
    if retry is None or not node.status.is_live:
        return None
    remaining = retry.remaining(now)
    if remaining <= 0:
        return None
    return retry.attempt, retry.max, remaining


def status_chip(node: Node, now: float | None = None) -> tuple[str, str]:
    """(colour key, word) for a card. `now`: epoch seconds in a live view; None for a file."""
    status = node.status
    if status.is_live and now is not None:
        retry = retry_info(node, now)
        if retry is not None:
            attempt, max_, remaining = retry
            return "retrying", f"retry {attempt}/{max_} in {max(1, round(remaining))}s"
        phase = (node.run.phase if node.run is not None else None) or ""
        if phase in LIVE_PHASES:
            return phase, phase
        if status == NodeStatus.PENDING:
            return "queued", "queued"
        if node.text:
            return "streaming", "streaming"
        if node.reasoning:
            return "thinking", "thinking"
        return "connecting", "connecting"
    status = file_status(node)
    if status == NodeStatus.DONE and node.finish == "content_filter":
        # the provider's safety filter ended the answer: its text is kept, but it is not a plain "done"
        return "filtered", "filtered"
    return status.value, status.value


def status_word(node: Node, now: float | None = None) -> str:
    return status_chip(node, now)[1]


def status_label(node: Node, now: float | None = None) -> str:
    """The word, and for a failed card what failed: "done", "filtered", "error · rate_limit: slow down"."""
    text = status_word(node, now)
    if node.error is not None:
        message = " ".join(node.error.message.split())
        text += f" · {node.error.kind}" + (f": {message}" if message else "")
    return text


def member_note(node: Node, me: str | None = None) -> str:
    """Who else wrote the card, for a team store's card header: "" for one's own cards (and cards
    with no recorded author), "alice is streaming" while another member's answer streams, else
    "by alice"."""
    from app.domain import current_user

    author = node.author
    if not author or author == (me if me is not None else current_user()):
        return ""
    return f"{author} is streaming" if node.status.is_live else f"by {author}"
