"""Normalised stream events. Every provider client yields only these (DESIGN.md, "Engine")."""

from __future__ import annotations

from dataclasses import dataclass

# A StreamError message (kind "network"): the server answered, then closed before any text came. The
# providers retry it like a network error; the card's headline says it in the user's words (ui.format).
NO_TEXT = "the connection closed before any text arrived"


@dataclass(frozen=True, slots=True)
class TextDelta:
    text: str


@dataclass(frozen=True, slots=True)
class ReasoningDelta:
    text: str


@dataclass(frozen=True, slots=True)
class Usage:
    """Cumulative usage as last reported. `input` includes `cached_input`; `output` includes `reasoning`."""

    input: int | None = None
    cached_input: int | None = None
    cache_write: int | None = None
    output: int | None = None
    reasoning: int | None = None
    cost_usd: float | None = None  # provider-reported (OpenRouter `usage.cost`)


@dataclass(frozen=True, slots=True)
class Finish:
    reason: str  # stop | length | tool_calls | content_filter | error


@dataclass(frozen=True, slots=True)
class StreamError:
    kind: str  # auth | rate_limit | overloaded | server | bad_request | network | timeout | bad_stream
    message: str
    retry_after: float | None = None
    status: int | None = None

    @property
    def retryable(self) -> bool:
        return self.kind in RETRYABLE_KINDS


@dataclass(frozen=True, slots=True)
class ResponseMeta:
    """Out-of-band facts about the HTTP exchange (request ids for the support log). Not model output."""

    request_id: str | None = None
    status: int | None = None


@dataclass(frozen=True, slots=True)
class Retrying:
    """Emitted by the retry wrapper before it sleeps: attempt N of max, after `delay` seconds."""

    attempt: int
    max_retries: int
    delay: float
    error: StreamError


RETRYABLE_KINDS = frozenset({"rate_limit", "overloaded", "server", "network"})

StreamEvent = TextDelta | ReasoningDelta | Usage | Finish | StreamError | ResponseMeta | Retrying
