"""The SSE provider base: the stream prologue every wire format shares, and the hooks a format fills in.

A wire format (app.providers.chat, .anthropic, .responses) subclasses `SSEProvider` and supplies:

- `endpoint` (path under the base URL, or override `url()`), `build_body()`, and `extra_headers()`;
- `options_for(config)`: its typed, frozen per-protocol options (`self.options`);
- `new_state()`: a fresh per-stream state (a `StreamState` subclass with the format's own fields);
- the event hook `on_event(state, data, item)`: one decoded JSON event in, normalised events out;
- optionally `on_raw(state, item)` for non-JSON data lines (Chat's `[DONE]`), `on_document(state, data)`
  for a 2xx answer that is one JSON document, and `on_end(state)` for a body that ended without a
  terminal event.

`stream()` does the rest once for all formats: POST through `stream_sse`, pass `ResponseMeta` through,
end on an HTTP/transport `StreamError`, skip keep-alive and empty events, decode JSON, and stop after the
first terminal event (`Finish` or `StreamError`) a hook yields.

Async contract: `stream()` is an async generator on the caller's loop (see app.providers.base); hooks are
plain synchronous generators and never do I/O.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, Iterable, Iterator
from contextlib import aclosing
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from app.events import NO_TEXT, Finish, ReasoningDelta, StreamError, StreamEvent, TextDelta, Usage
from app.providers.base import ProviderConfig, ProviderRequest
from app.providers.http import MID_ANSWER, JSONBody, decode_event, join_url, stream_sse
from app.providers.sse import DEFAULT_KEEPALIVE_EVENTS, SSEEvent

__all__ = ["NO_TEXT", "SSEProvider", "StreamState"]

# A stream that ended before any text: as retryable as a connection that failed before the answer began.


@dataclass(slots=True)
class StreamState:
    """What one stream has seen so far. Formats subclass it for their own fields.

    `usage`: usage a hook has read but not yet yielded (set it rather than yield it when it should
    come just before the `Finish`); the base yields it before an error ends the stream, so an answer
    cut short keeps the tokens the provider bills. `text_seen`: a text or reasoning delta went out.
    """

    usage: Usage | None = None
    text_seen: bool = False


class SSEProvider:
    """Base of the streaming clients. Holds no per-stream state (that lives in a `StreamState`), so
    one instance is safe to share across concurrent streams."""

    protocol: ClassVar[str] = ""
    endpoint: ClassVar[str] = ""
    keepalive_events: ClassVar[frozenset[str]] = DEFAULT_KEEPALIVE_EVENTS

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.client = client
        self.options = self.options_for(config)

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.config.id} {self.config.base_url}>"

    # -- hooks a format overrides ------------------------------------------------------------------

    @classmethod
    def options_for(cls, config: ProviderConfig) -> Any:
        """The format's typed options for `config` (a frozen dataclass)."""
        return None

    def url(self) -> str:
        return join_url(self.config.base_url, self.endpoint)

    def extra_headers(self) -> dict[str, str]:
        """Format headers, auth included (with the key: never log them)."""
        if self.config.api_key:
            return {"authorization": f"Bearer {self.config.api_key}"}
        return {}

    def build_body(self, request: ProviderRequest) -> dict[str, Any]:
        raise NotImplementedError

    def new_state(self) -> StreamState:
        return StreamState()

    def on_raw(self, state: Any, item: SSEEvent) -> Iterable[StreamEvent] | None:
        """Events for a data line that is not JSON, or None to decode it as JSON."""
        return None

    def on_event(self, state: Any, data: dict[str, Any], item: SSEEvent) -> Iterable[StreamEvent]:
        """The event hook: normalised events for one decoded JSON event."""
        raise NotImplementedError

    def on_document(self, state: Any, data: Any) -> Iterable[StreamEvent]:
        """Events for a 2xx answer sent as one JSON document instead of a stream."""
        yield StreamError("bad_stream", "expected an event stream, got a JSON document")

    def on_end(self, state: Any) -> Iterable[StreamEvent]:
        """Events for a body that ended before any terminal event."""
        yield StreamError("bad_stream", MID_ANSWER)

    def _settle(self, state: StreamState, event: StreamEvent) -> Iterator[StreamEvent]:
        """`event` as the consumer gets it, with the stream's bookkeeping: usage read but not yet said
        goes out before an error; a cut before any text is a retryable network error."""
        if isinstance(event, TextDelta | ReasoningDelta):
            state.text_seen = True
        elif isinstance(event, Usage):
            state.usage = None
        elif isinstance(event, StreamError):
            if state.usage is not None:
                yield state.usage
                state.usage = None
            if not state.text_seen and event.kind == "bad_stream" and event.message == MID_ANSWER:
                event = StreamError("network", NO_TEXT)
        yield event

    # -- the shared stream -------------------------------------------------------------------------

    def build_headers(self) -> dict[str, str]:
        """HTTP headers for a request (with the key: never log them)."""
        headers = {"accept": "text/event-stream", "accept-encoding": "identity"}
        headers.update(self.extra_headers())
        headers.update(self.config.headers)
        return headers

    def _events(self, state: Any, item: SSEEvent) -> Iterable[StreamEvent]:
        raw = self.on_raw(state, item)
        if raw is not None:
            return raw
        data = decode_event(item)
        if isinstance(data, StreamError):
            return (data,)
        return self.on_event(state, data, item)

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[StreamEvent, None]:
        """Stream one answer as normalised events (contract in app.providers.base)."""
        state = self.new_state()
        async with aclosing(
            stream_sse(
                self.client,
                self.config,
                self.url(),
                headers=self.build_headers(),
                body=self.build_body(request),
                keepalive_events=self.keepalive_events,
            )
        ) as items:
            async for item in items:
                events: Iterable[StreamEvent]
                if isinstance(item, StreamError):
                    events = (item,)
                elif isinstance(item, JSONBody):
                    events = self.on_document(state, item.data)
                elif not isinstance(item, SSEEvent):  # ResponseMeta
                    yield item
                    continue
                elif not item.data or item.event in self.keepalive_events:
                    continue
                else:
                    events = self._events(state, item)
                for event in events:
                    for out in self._settle(state, event):
                        yield out
                    if isinstance(event, Finish | StreamError):
                        return
            for event in self.on_end(state):
                for out in self._settle(state, event):
                    yield out
                if isinstance(event, Finish | StreamError):
                    return
