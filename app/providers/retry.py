"""Retries around a provider stream (DESIGN.md, "Engine": only before the first token).

Async contract: `stream_with_retries()` is an async generator on the caller's loop. It yields the
provider's events unchanged, plus one `Retrying` event before each backoff sleep. Cancellation
propagates (also during the sleep); the inner stream is always closed before a retry or on exit.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import AsyncIterator, Awaitable, Callable

from app.events import RETRYABLE_KINDS, ReasoningDelta, Retrying, StreamError, StreamEvent, TextDelta
from app.providers.base import Provider, ProviderRequest

__all__ = ["BACKOFF_BASE", "BACKOFF_CAP", "RETRY_AFTER_CAP", "backoff_delay", "stream_with_retries"]

BACKOFF_BASE = 1.0
BACKOFF_CAP = 30.0
RETRY_AFTER_CAP = 120.0


def backoff_delay(attempt: int, error: StreamError, rng: Callable[[], float] = random.random) -> float:
    """Seconds to wait before retry number `attempt` (1-based).

    The server's `retry_after` wins when given (clamped to 0…120 s); otherwise exponential backoff
    1 s, 2 s, 4 s, … capped at 30 s, times a jitter factor in [0.5, 1.0).
    """
    if error.retry_after is not None:
        return min(max(error.retry_after, 0.0), RETRY_AFTER_CAP)
    base = min(BACKOFF_BASE * (2 ** max(attempt - 1, 0)), BACKOFF_CAP)
    return base * (0.5 + 0.5 * rng())


async def stream_with_retries(
    provider: Provider,
    request: ProviderRequest,
    max_retries: int = 2,
    *,
    sleep: Callable[[float], Awaitable[object]] = asyncio.sleep,
    rng: Callable[[], float] = random.random,
    on_attempt: Callable[[], object] | None = None,
) -> AsyncIterator[StreamEvent]:
    """`provider.stream(request)`, retried on `rate_limit | overloaded | server | network` errors that
    arrive before the first `TextDelta`/`ReasoningDelta`, at most `max_retries` times.

    Yields `Retrying(attempt, max_retries, delay, error)` before each sleep; when retries run out the
    last `StreamError` is yielded. Errors after the first token pass through unretried.
    `on_attempt()` is called right before each request is sent (the first one and every retry, after
    its backoff sleep), so a caller can time the request that is really running.
    """
    attempt = 0
    while True:
        started = False
        retry_error: StreamError | None = None
        if on_attempt is not None:
            on_attempt()
        events = provider.stream(request)
        try:
            async for event in events:
                if isinstance(event, StreamError):
                    if not started and event.kind in RETRYABLE_KINDS and attempt < max_retries:
                        retry_error = event
                        break
                    yield event
                    return
                if not started and isinstance(event, TextDelta | ReasoningDelta):
                    started = True
                yield event
        finally:
            aclose = getattr(events, "aclose", None)
            if aclose is not None:
                await aclose()
        if retry_error is None:
            return
        attempt += 1
        delay = backoff_delay(attempt, retry_error, rng)
        yield Retrying(attempt, max_retries, delay, retry_error)
        await sleep(delay)
