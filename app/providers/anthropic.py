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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from app.attachments import Attachment
from app.events import Finish, ReasoningDelta, StreamError, StreamEvent, TextDelta, Usage
from app.providers.base import Message, ProviderConfig, ProviderRequest
from app.providers.chat import accepts
from app.providers.http import ProviderHTTPError, error_from_payload, get_json, join_url
from app.providers.sse import SSEEvent
from app.providers.streaming import SSEProvider, StreamState

__all__ = ["ANTHROPIC_VERSION", "DEFAULT_MAX_TOKENS", "AnthropicOptions", "AnthropicProvider", "alternate"]

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
    assistant). A turn with files becomes a list of content blocks: the files first (Anthropic's
    advice: documents and images before the question), then the text."""
    out: list[dict[str, Any]] = []
    files: list[list[Attachment]] = []
    for message in messages:
        text = message.content
        if (not text or not text.strip()) and not message.attachments:
            continue
        if out and out[-1]["role"] == message.role:
            if text and text.strip():
                out[-1]["content"] = f"{out[-1]['content']}\n\n{text}" if out[-1]["content"] else text
            files[-1].extend(message.attachments)
        else:
            out.append({"role": message.role, "content": text if text.strip() else ""})
            files.append(list(message.attachments))
    for item, atts in zip(out, files, strict=True):
        if atts:
            blocks: list[dict[str, Any]] = [file_block(a) for a in atts]
            if item["content"]:
                blocks.append({"type": "text", "text": item["content"]})
            item["content"] = blocks
    if out and out[0]["role"] != "user":
        out.insert(0, {"role": "user", "content": _LEADING_USER})
    return out


def file_block(att: Attachment) -> dict[str, Any]:
    """An `image` or `document` content block with the file inline as base64."""
    source = {"type": "base64", "media_type": att.mime, "data": att.b64()}
    if att.kind == "image":
        return {"type": "image", "source": source}
    return {"type": "document", "source": source, "title": att.name}


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


@dataclass(frozen=True, slots=True)
class AnthropicOptions:
    """Typed options of the Messages protocol."""

    version: str = ANTHROPIC_VERSION  # the anthropic-version header
    default_max_tokens: int = DEFAULT_MAX_TOKENS  # `max_tokens` is required: sent when params have none


@dataclass(slots=True)
class _AnthropicState(StreamState):
    acc: _UsageAcc = field(default_factory=lambda: _UsageAcc())
    stop_reason: str | None = None


class AnthropicProvider(SSEProvider):
    """Messages API client. Holds no per-stream state; safe to share across concurrent streams."""

    protocol = "anthropic"
    options: AnthropicOptions

    @classmethod
    def options_for(cls, config: ProviderConfig) -> AnthropicOptions:
        return AnthropicOptions()

    def _url(self, path: str) -> str:
        base = self.config.base_url.rstrip("/")
        if base.endswith("/v1"):
            base = base[:-3]
        return join_url(base, f"v1/{path}")

    def url(self) -> str:
        return self._url("messages")

    def extra_headers(self) -> dict[str, str]:
        headers = {"anthropic-version": self.options.version, "content-type": "application/json"}
        if self.config.api_key:
            headers["x-api-key"] = self.config.api_key
        return headers

    def build_body(self, request: ProviderRequest) -> dict[str, Any]:
        """The JSON body `stream()` POSTs. Never temperature/top_p/top_k (see module docstring)."""
        params = request.params
        max_tokens = params.max_tokens if params.max_tokens else self.options.default_max_tokens
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

    # -- streaming (hooks of SSEProvider) ---------------------------------------------------------

    def new_state(self) -> _AnthropicState:
        return _AnthropicState()

    def on_event(self, state: _AnthropicState, event: dict[str, Any], item: SSEEvent) -> Iterator[StreamEvent]:
        acc = state.acc
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
                if block.get("type") == "text" and isinstance(block.get("text"), str) and block["text"]:
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
                    yield Usage(input=start.input, cached_input=start.cached_input, cache_write=start.cache_write)
        elif kind == "message_delta":
            delta = event.get("delta")
            if isinstance(delta, dict) and delta.get("stop_reason"):
                state.stop_reason = str(delta["stop_reason"])
            acc.update(event.get("usage"))
            if acc.seen:
                state.usage = acc.usage()  # said before an error if the stream is cut before message_stop
        elif kind == "message_stop":
            if acc.seen:
                yield acc.usage()
            yield Finish(_STOP.get(state.stop_reason or "end_turn", "stop"))
        elif kind == "error":
            yield error_from_payload(event, api_key=self.config.api_key)
        # ping, content_block_stop and unknown events are ignored

    def on_document(self, state: _AnthropicState, data: Any) -> Iterable[StreamEvent]:
        return _from_json_body(data, self.config.api_key)

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


def _from_json_body(data: Any, key: str | None) -> list[StreamEvent]:
    """A server that answered `stream: true` with one JSON document (a proxy with a mock deployment, a
    server without streaming): an error, or a whole message object taken as the answer."""
    if isinstance(data, dict) and (data.get("type") == "error" or data.get("error")):
        return [error_from_payload(data, api_key=key)]
    content = data.get("content") if isinstance(data, dict) else None
    if not isinstance(data, dict) or data.get("type", "message") != "message" or not isinstance(content, list):
        return [StreamError("bad_stream", "expected an event stream, got a JSON document without an answer")]
    events: list[StreamEvent] = []
    reasoning = "".join(
        b["thinking"] for b in content
        if isinstance(b, dict) and b.get("type") == "thinking" and isinstance(b.get("thinking"), str)
    )
    if reasoning:
        events.append(ReasoningDelta(reasoning))
    text = "".join(
        b["text"] for b in content if isinstance(b, dict) and b.get("type") == "text" and isinstance(b.get("text"), str)
    )
    if text:
        events.append(TextDelta(text))
    acc = _UsageAcc()
    acc.update(data.get("usage"))
    if acc.seen:
        events.append(acc.usage())
    events.append(Finish(_STOP.get(str(data.get("stop_reason") or "end_turn"), "stop")))
    return events
