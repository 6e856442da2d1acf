"""Anthropic Messages client (PROTOCOLS.md, "Anthropic Messages"), API version 2026-10-21.

Request: `POST {base}/v1/messages` (a base URL that already ends in `/v1` is accepted too), with
`x-api-key: KEY` (the long-standing key header; proxies such as DeepSeek's `/anthropic` endpoint expect
it too), `anthropic-version: 2026-10-21`, `content-type: application/json`. The body never carries
`temperature`, `top_p` or `top_k` (version 2026-10-21 rejects them with a 400), always carries
`max_tokens` (8192 unless params say otherwise), has `system` at the top level, and its messages
strictly alternate user/assistant starting with user.

Usage: Anthropic's `input_tokens` excludes cache reads and writes; the normalised `Usage.input` adds
them back (`input_tokens + cache_read_input_tokens + cache_creation_input_tokens`) so that `input`
includes `cached_input` as for the other providers.

Async contract: `stream()` is an async generator on the caller's loop; see app.providers.base.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator
from contextlib import aclosing
from typing import Any

import httpx

from app.events import Finish, ReasoningDelta, ResponseMeta, StreamError, StreamEvent, TextDelta, Usage
from app.providers.base import Message, ProviderConfig, ProviderRequest
from app.providers.chat import accepts
from app.providers.http import (
    MID_ANSWER,
    JSONBody,
    ProviderHTTPError,
    decode_event,
    error_from_payload,
    get_json,
    join_url,
    stream_sse,
)

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "AnthropicProvider", "alternate"]

ANTHROPIC_VERSION = "2026-10-21"
DEFAULT_MAX_TOKENS = 8192
_STOP = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "pause_turn": "stop",
    "max_tokens": "length",
    "model_context_window_exceeded": "length",
    "tool_use": "tool_calls",
    "refusal": "content_filter",
}
_LEADING_USER = "(continued)"


def alternate(messages: list[Message]) -> list[dict[str, Any]]:
    """Messages as Anthropic wants them: empty turns dropped, consecutive same-role turns merged with a
    blank line, and a user turn first (a placeholder is inserted when the history starts with the
    assistant)."""
    out: list[dict[str, Any]] = []
    for message in messages:
        text = message.content
        if not text or not text.strip():
            continue
        if out and out[-1]["role"] == message.role:
            out[-1]["content"] = f"{out[-1]['content']}\n\n{text}"
        else:
            out.append({"role": message.role, "content": text})
    if out and out[0]["role"] != "user":
        out.insert(0, {"role": "user", "content": _LEADING_USER})
    return out


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    return None


class _UsageAcc:
    """Anthropic usage as reported so far (message_start, then cumulative message_delta)."""

    __slots__ = ("cache_creation", "cache_read", "input", "output", "seen", "thinking")

    def __init__(self) -> None:
        self.input: int | None = None
        self.cache_read: int | None = None
        self.cache_creation: int | None = None
        self.output: int | None = None
        self.thinking: int | None = None
        self.seen = False

    def update(self, raw: object) -> None:
        if not isinstance(raw, dict):
            return
        self.seen = True
        for attr, name in (
            ("input", "input_tokens"),
            ("cache_read", "cache_read_input_tokens"),
            ("cache_creation", "cache_creation_input_tokens"),
            ("output", "output_tokens"),
        ):
            value = _int(raw.get(name))
            if value is not None:
                setattr(self, attr, value)
        details = raw.get("output_tokens_details")
        if isinstance(details, dict):
            value = _int(details.get("thinking_tokens"))
            if value is None:
                value = _int(details.get("reasoning_tokens"))
            if value is not None:
                self.thinking = value

    def usage(self) -> Usage:
        total: int | None = None
        if self.input is not None or self.cache_read is not None or self.cache_creation is not None:
            total = (self.input or 0) + (self.cache_read or 0) + (self.cache_creation or 0)
        return Usage(
            input=total,
            cached_input=self.cache_read,
            cache_write=self.cache_creation,
            output=self.output,
            reasoning=self.thinking,
        )


class AnthropicProvider:
    """Messages API client. Holds no per-stream state; safe to share across concurrent streams."""

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.client = client

    def __repr__(self) -> str:
        return f"<AnthropicProvider {self.config.id} {self.config.base_url}>"

    def _url(self, path: str) -> str:
        base = self.config.base_url.rstrip("/")
        if base.endswith("/v1"):
            base = base[:-3]
        return join_url(base, f"v1/{path}")

    def build_headers(self) -> dict[str, str]:
        """HTTP headers for a request (with the key: never log them)."""
        headers = {
            "accept": "text/event-stream",
            "accept-encoding": "identity",
            "anthropic-version": ANTHROPIC_VERSION,
            "content-type": "application/json",
        }
        if self.config.api_key:
            headers["x-api-key"] = self.config.api_key
        headers.update(self.config.headers)
        return headers

    def build_body(self, request: ProviderRequest) -> dict[str, Any]:
        """The JSON body `stream()` POSTs. Never temperature/top_p/top_k (see module docstring)."""
        params = request.params
        max_tokens = params.max_tokens if params.max_tokens else DEFAULT_MAX_TOKENS
        body: dict[str, Any] = {"model": request.model, "max_tokens": max_tokens}
        if params.system:
            body["system"] = params.system
        body["messages"] = alternate(request.messages)
        if params.thinking is not None and accepts(request, "thinking"):
            body["thinking"] = (
                {"type": "adaptive", "display": "summarized"} if params.thinking else {"type": "disabled"}
            )
        if params.effort and params.effort != "none" and accepts(request, "effort"):
            body["output_config"] = {"effort": params.effort}
        body["stream"] = True
        body.update(request.extra_body)
        for banned in ("temperature", "top_p", "top_k"):
            body.pop(banned, None)
        return body

    async def stream(self, request: ProviderRequest) -> AsyncGenerator[StreamEvent, None]:
        """Stream one answer as normalised events (contract in app.providers.base)."""
        key = self.config.api_key
        acc = _UsageAcc()
        stop_reason: str | None = None
        async with aclosing(
            stream_sse(
                self.client,
                self.config,
                self._url("messages"),
                headers=self.build_headers(),
                body=self.build_body(request),
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
                if not item.data or item.event == "ping":
                    continue
                event = decode_event(item)
                if isinstance(event, StreamError):
                    yield event
                    return
                kind = event.get("type") or item.event
                if kind == "content_block_delta":
                    delta = event.get("delta")
                    if isinstance(delta, dict):
                        dtype = delta.get("type")
                        if dtype == "text_delta":
                            text = delta.get("text")
                            if isinstance(text, str) and text:
                                yield TextDelta(text)
                        elif dtype == "thinking_delta":
                            text = delta.get("thinking")
                            if isinstance(text, str) and text:
                                yield ReasoningDelta(text)
                        # signature_delta, input_json_delta, citations_delta: nothing to show
                elif kind == "content_block_start":
                    block = event.get("content_block")
                    if isinstance(block, dict):
                        if (
                            block.get("type") == "text"
                            and isinstance(block.get("text"), str)
                            and block["text"]
                        ):
                            yield TextDelta(block["text"])
                        elif (
                            block.get("type") == "thinking"
                            and isinstance(block.get("thinking"), str)
                            and block["thinking"]
                        ):
                            yield ReasoningDelta(block["thinking"])
                elif kind == "message_start":
                    message = event.get("message")
                    if isinstance(message, dict):
                        acc.update(message.get("usage"))
                        if acc.seen:
                            # The input side is final now; the output count comes with message_delta at the
                            # end. Said at once, so an answer stopped mid-stream keeps what was reported.
                            start = acc.usage()
                            yield Usage(input=start.input, cached_input=start.cached_input,
                                        cache_write=start.cache_write)
                elif kind == "message_delta":
                    delta = event.get("delta")
                    if isinstance(delta, dict) and delta.get("stop_reason"):
                        stop_reason = str(delta["stop_reason"])
                    acc.update(event.get("usage"))
                elif kind == "message_stop":
                    if acc.seen:
                        yield acc.usage()
                    yield Finish(_STOP.get(stop_reason or "end_turn", "stop"))
                    return
                elif kind == "error":
                    yield error_from_payload(event, api_key=key)
                    return
                # ping, content_block_stop and unknown events are ignored
            yield StreamError("bad_stream", MID_ANSWER)

    async def list_models(self) -> list[dict[str, Any]]:
        """GET {base}/v1/models (all pages); the raw `data` items. Raises `ProviderHTTPError`."""
        headers = {k: v for k, v in self.build_headers().items() if k not in ("accept", "accept-encoding")}
        headers.pop("content-type", None)
        models: list[dict[str, Any]] = []
        url = self._url("models?limit=1000")
        for _ in range(20):
            data = await get_json(self.client, self.config, url, headers=headers)
            if not isinstance(data, dict) or not isinstance(data.get("data"), list):
                raise ProviderHTTPError(StreamError("bad_stream", "the model list has no `data`"))
            models.extend(m for m in data["data"] if isinstance(m, dict))
            last = data.get("last_id")
            if not data.get("has_more") or not isinstance(last, str):
                break
            url = self._url(f"models?limit=1000&after_id={last}")
        return models


def _from_json_body(data: Any, key: str | None) -> StreamError:
    if isinstance(data, dict) and (data.get("type") == "error" or data.get("error")):
        return error_from_payload(data, api_key=key)
    return StreamError("bad_stream", "expected an event stream, got a JSON document")
