"""OpenAI Responses API client (PROTOCOLS.md, "OpenAI Responses API").

Terminal events: `response.completed`, `response.incomplete`, `response.failed` or a top-level `error`
event. There is no `[DONE]`: a body that ends before one of them is `bad_stream` ("connection closed
mid-answer").

Reasoning text: `response.reasoning_summary_text.delta` (and raw `response.reasoning_text.delta`)
become `ReasoningDelta`s; when a reasoning summary has several parts, a blank line separates them.
A refusal (`response.refusal.delta`) is shown as text and finishes with `content_filter`.

Async contract: `stream()` is an async generator on the caller's loop; see app.providers.base.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import httpx

from app.events import Finish, ReasoningDelta, ResponseMeta, StreamError, StreamEvent, TextDelta, Usage
from app.providers.base import ProviderConfig, ProviderRequest
from app.providers.chat import accepts
from app.providers.http import (
    MID_ANSWER,
    JSONBody,
    decode_event,
    error_from_payload,
    get_json,
    join_url,
    stream_sse,
)

__all__ = ["ResponsesProvider", "responses_usage"]

_INCOMPLETE = {"max_output_tokens": "length", "content_filter": "content_filter"}


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return None


def responses_usage(raw: dict[str, Any]) -> Usage:
    """Normalise a Responses API `usage` object."""
    in_details = raw.get("input_tokens_details")
    out_details = raw.get("output_tokens_details")
    in_details = in_details if isinstance(in_details, dict) else {}
    out_details = out_details if isinstance(out_details, dict) else {}
    return Usage(
        input=_int(raw.get("input_tokens")),
        cached_input=_int(in_details.get("cached_tokens")),
        cache_write=_int(in_details.get("cache_write_tokens")),
        output=_int(raw.get("output_tokens")),
        reasoning=_int(out_details.get("reasoning_tokens")),
    )


class ResponsesProvider:
    """Responses API client. Holds no per-stream state; safe to share across concurrent streams."""

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.client = client

    def __repr__(self) -> str:
        return f"<ResponsesProvider {self.config.id} {self.config.base_url}>"

    def build_headers(self) -> dict[str, str]:
        """HTTP headers for a request (with the key: never log them)."""
        headers = {"accept": "text/event-stream", "accept-encoding": "identity"}
        if self.config.api_key:
            headers["authorization"] = f"Bearer {self.config.api_key}"
        headers.update(self.config.headers)
        return headers

    def build_body(self, request: ProviderRequest) -> dict[str, Any]:
        """The JSON body `stream()` POSTs: only parameters the model accepts.

        `temperature` goes only to a model that accepts it and then only with effort `none` (or when the
        model has no reasoning controls at all): reasoning models reject it otherwise.
        """
        params = request.params
        body: dict[str, Any] = {"model": request.model}
        if params.system:
            body["instructions"] = params.system
        body["input"] = [{"role": m.role, "content": m.content} for m in request.messages]
        body["stream"] = True
        # Triptych keeps every answer locally; do not also ask OpenAI to store the conversation.
        body["store"] = False
        if params.max_tokens is not None and accepts(request, "max_tokens"):
            body["max_output_tokens"] = params.max_tokens
        reasoning_model = "effort" in request.accepts or "thinking" in request.accepts
        effort = params.effort if accepts(request, "effort") else None
        if effort:
            reasoning: dict[str, Any] = {"effort": effort}
            if effort != "none":
                reasoning["summary"] = "auto"
            body["reasoning"] = reasoning
        elif reasoning_model and params.thinking is not False:
            # Ask for the reasoning summary by default: the card has a reasoning section to fill.
            body["reasoning"] = {"summary": "auto"}
        if (
            params.temperature is not None
            and accepts(request, "temperature")
            and (effort == "none" or not reasoning_model)
        ):
            body["temperature"] = params.temperature
        body.update(request.extra_body)
        return body

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[StreamEvent, None]:
        """Stream one answer as normalised events (contract in app.providers.base)."""
        url = join_url(self.config.base_url, "responses")
        key = self.config.api_key
        refused = False
        summary_key: tuple[object, object] | None = None
        async with aclosing(
            stream_sse(
                self.client, self.config, url, headers=self.build_headers(), body=self.build_body(request)
            )
        ) as items:
            async for item in items:
                if isinstance(item, ResponseMeta):
                    yield item
                    continue
                if isinstance(item, StreamError):
                    yield item
                    return
                if isinstance(item, JSONBody):
                    yield _from_json_body(item.data, key)
                    return
                if not item.data:
                    continue
                event = decode_event(item)
                if isinstance(event, StreamError):
                    yield event
                    return
                kind = event.get("type") or item.event
                if kind == "response.output_text.delta":
                    delta = event.get("delta")
                    if isinstance(delta, str) and delta:
                        yield TextDelta(delta)
                elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
                    delta = event.get("delta")
                    if isinstance(delta, str) and delta:
                        part = (event.get("item_id"), event.get("summary_index", event.get("content_index")))
                        if summary_key is not None and part != summary_key:
                            yield ReasoningDelta("\n\n")
                        summary_key = part
                        yield ReasoningDelta(delta)
                elif kind == "response.refusal.delta":
                    delta = event.get("delta")
                    if isinstance(delta, str) and delta:
                        refused = True
                        yield TextDelta(delta)
                elif kind in ("response.completed", "response.incomplete"):
                    response = event.get("response")
                    response = response if isinstance(response, dict) else {}
                    raw_usage = response.get("usage")
                    if isinstance(raw_usage, dict):
                        yield responses_usage(raw_usage)
                    if kind == "response.completed" and response.get("status", "completed") == "completed":
                        yield Finish("content_filter" if refused else "stop")
                    else:
                        details = response.get("incomplete_details")
                        reason = details.get("reason") if isinstance(details, dict) else None
                        yield Finish(_INCOMPLETE.get(str(reason), "length"))
                    return
                elif kind == "response.failed":
                    response = event.get("response")
                    error = response.get("error") if isinstance(response, dict) else None
                    yield error_from_payload(
                        error if isinstance(error, dict) else {}, api_key=key, fallback="the response failed"
                    )
                    return
                elif kind == "error":
                    yield error_from_payload(event, api_key=key)
                    return
                # response.created, *.added, *.done, ping-like and unknown events carry nothing we show
            yield StreamError("bad_stream", MID_ANSWER)

    async def list_models(self) -> list[dict[str, Any]]:
        """GET {base}/models; the raw `data` list. Raises `ProviderHTTPError` on failure."""
        headers = {k: v for k, v in self.build_headers().items() if k not in ("accept", "accept-encoding")}
        data = await get_json(
            self.client, self.config, join_url(self.config.base_url, "models"), headers=headers
        )
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            return [m for m in data["data"] if isinstance(m, dict)]
        return []


def _from_json_body(data: Any, key: str | None) -> StreamError:
    if isinstance(data, dict) and data.get("error"):
        return error_from_payload(data, api_key=key)
    return StreamError("bad_stream", "expected an event stream, got a JSON document")
