"""Short forms of a text for labels: one rule for every view (the composer's branch chip, the CLI's
run list, the exports' branch headings). No heavy imports (the window's start-up uses it)."""

from __future__ import annotations


def snippet(text: str, limit: int = 60) -> str:
    """The first `limit` characters of a text on one line, with … when cut."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"
