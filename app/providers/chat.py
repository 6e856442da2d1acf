"""OpenAI Chat Completions wire format: OpenAI (`api = "chat"`), DeepSeek, OpenRouter, Ollama, LM Studio
and user-defined chat endpoints (PROTOCOLS.md, "OpenAI Chat Completions").

Flavours are chosen from the config: DeepSeek when `config.id == "deepseek"` or the base URL's host is
`api.deepseek.com` (thinking via `thinking` + `reasoning_effort`); OpenRouter when `config.id ==
"openrouter"` or the host is `openrouter.ai` (attribution headers, `reasoning: {effort}`); OpenAI when
`config.id == "openai"` (`max_completion_tokens`, `reasoning_effort`); anything else is generic
(`max_tokens`, `reasoning_effort`).

Terminal rule: `data: [DONE]` finishes the answer. A body that ends without it is `bad_stream`
("connection closed mid-answer"), except for `config.local` servers (Ollama, LM Studio), where a body
that ends cleanly after a chunk with a `finish_reason` counts as finished: some local OpenAI-compatible
servers and their versions have been known to omit `[DONE]`, and a local server has no proxy in between
that could cut the stream short at exactly that point.

Async contract: `stream()` is an async generator on the caller's loop; see app.providers.base.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, Literal
from urllib.parse import urlsplit

from app.attachments import Attachment
from app.events import Finish, ReasoningDelta, StreamError, StreamEvent, TextDelta, Usage
from app.providers.base import ProviderConfig, ProviderRequest
from app.providers.http import MID_ANSWER, error_from_payload, get_json, join_url
from app.providers.sse import SSEEvent
from app.providers.streaming import SSEProvider, StreamState

__all__ = ["OPENROUTER_REFERER", "ChatOptions", "ChatProvider", "accepts", "chat_usage"]

OPENROUTER_REFERER = "https://github.com/triptych-app/triptych"
_FINISH = {
    "stop": "stop",
    "end_turn": "stop",
    "eos": "stop",
    "length": "length",
    "max_tokens": "length",
    "tool_calls": "tool_calls",
    "function_call": "tool_calls",
    "tool_use": "tool_calls",
    "content_filter": "content_filter",
    "error": "error",
}
_ERROR_FINISH = "the provider reported an error mid-answer"
_DEEPSEEK_EFFORT = {
    "minimal": "low",
    "low": "low",
    "medium": "high",
    "high": "high",
    "xhigh": "max",
    "max": "max",
}


def accepts(request: ProviderRequest, capability: str) -> bool:
    """Whether the target model takes `capability`.

    An empty `accepts` set means the catalog knows nothing about the model: the params were already
    filtered upstream, so whatever is set is sent.
    """
    return not request.accepts or capability in request.accepts


def _int(value: object) -> int | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return None


def chat_usage(raw: dict[str, Any]) -> Usage:
    """Normalise a Chat Completions `usage` object (OpenAI, DeepSeek, OpenRouter)."""
    prompt_details = raw.get("prompt_tokens_details") or {}
    completion_details = raw.get("completion_tokens_details") or {}
    if not isinstance(prompt_details, dict):
        prompt_details = {}
    if not isinstance(completion_details, dict):
        completion_details = {}
    cached = _int(prompt_details.get("cached_tokens"))
    if cached is None:
        cached = _int(raw.get("prompt_cache_hit_tokens"))
    cost = raw.get("cost")
    return Usage(
        input=_int(raw.get("prompt_tokens")),
        cached_input=cached,
        cache_write=_int(prompt_details.get("cache_write_tokens")),
        output=_int(raw.get("completion_tokens")),
        reasoning=_int(completion_details.get("reasoning_tokens")),
        cost_usd=float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None,
    )


Flavor = Literal["deepseek", "openrouter", "openai", "generic"]


@dataclass(frozen=True, slots=True)
class ChatOptions:
    """Typed options of the Chat Completions protocol, derived from the provider config."""

    flavor: Flavor = "generic"
    # A body that ends cleanly after a finish_reason counts as finished (local servers, see module doc).
    finish_without_done: bool = False

    @classmethod
    def from_config(cls, config: ProviderConfig) -> ChatOptions:
        host = (urlsplit(config.base_url).hostname or "").lower()
        flavor: Flavor = (
            "deepseek"
            if config.id == "deepseek" or host.endswith("deepseek.com")
            else "openrouter"
            if config.id == "openrouter" or host.endswith("openrouter.ai")
            else "openai"
            if config.id == "openai"
            else "generic"
        )
        return cls(flavor=flavor, finish_without_done=config.local)


@dataclass(slots=True)
class _ChatState(StreamState):
    finish: str | None = None


class ChatProvider(SSEProvider):
    """Chat Completions client. One instance per provider config; safe to share across concurrent
    streams (it holds no per-stream state)."""

    protocol = "chat"
    endpoint = "chat/completions"
    options: ChatOptions

    @classmethod
    def options_for(cls, config: ProviderConfig) -> ChatOptions:
        return ChatOptions.from_config(config)

    @property
    def flavor(self) -> Flavor:
        return self.options.flavor

    def __repr__(self) -> str:
        return f"<ChatProvider {self.config.id} {self.flavor} {self.config.base_url}>"

    # -- request -----------------------------------------------------------------------------------

    def extra_headers(self) -> dict[str, str]:
        headers = super().extra_headers()
        if self.flavor == "openrouter":
            headers["HTTP-Referer"] = OPENROUTER_REFERER
            headers["X-Title"] = "Triptych"
        return headers

    def build_body(self, request: ProviderRequest) -> dict[str, Any]:
        """The JSON body `stream()` POSTs: only parameters the model accepts."""
        params = request.params
        messages: list[dict[str, Any]] = []
        system = params.system
        fold_system = bool(system) and not accepts(request, "system")
        if system and not fold_system:
            messages.append({"role": "system", "content": system})
        files: dict[int, tuple[Attachment, ...]] = {}
        for message in request.messages:
            item: dict[str, Any] = {"role": message.role, "content": message.content}
            if message.role == "assistant" and message.reasoning and self.flavor == "deepseek":
                item["reasoning_content"] = message.reasoning
            if message.attachments:
                files[id(item)] = message.attachments
            messages.append(item)
        if fold_system and system:
            # The model takes no system role: put the instruction at the head of the first user turn.
            for item in messages:
                if item["role"] == "user":
                    item["content"] = f"{system}\n\n{item['content']}" if item["content"] else system
                    break
            else:
                messages.insert(0, {"role": "user", "content": system})
        for item in messages:  # a turn with files: a list of parts, the files first, then the text
            atts = files.get(id(item))
            if atts:
                parts = [content_part(a) for a in atts]
                if item["content"]:
                    parts.append({"type": "text", "text": item["content"]})
                item["content"] = parts
        body: dict[str, Any] = {
            "model": request.model,
            "messages": messages,
            "stream": True,
            "stream_options": {"include_usage": True},
        }
        if params.temperature is not None and accepts(request, "temperature"):
            body["temperature"] = params.temperature
        if params.max_tokens is not None and accepts(request, "max_tokens"):
            body["max_completion_tokens" if self.flavor == "openai" else "max_tokens"] = params.max_tokens
        effort = params.effort
        if self.flavor == "deepseek":
            if params.thinking is not None and accepts(request, "thinking"):
                body["thinking"] = {"type": "enabled" if params.thinking else "disabled"}
            if effort and accepts(request, "effort") and params.thinking is not False:
                if effort == "none":
                    if "thinking" not in body and accepts(request, "thinking"):
                        body["thinking"] = {"type": "disabled"}
                else:
                    body["reasoning_effort"] = _DEEPSEEK_EFFORT.get(effort, effort)
        elif self.flavor == "openrouter":
            reasoning: dict[str, Any] = {}
            if effort and accepts(request, "effort"):
                reasoning["effort"] = effort
            if params.thinking is not None and accepts(request, "thinking"):
                if params.thinking:
                    reasoning.setdefault("enabled", True)
                else:
                    reasoning = {"enabled": False}
            if reasoning:
                body["reasoning"] = reasoning
        elif effort and accepts(request, "effort"):
            body["reasoning_effort"] = effort
        body.update(request.extra_body)
        return body

    # -- streaming (hooks of SSEProvider) ---------------------------------------------------------

    def new_state(self) -> _ChatState:
        return _ChatState()

    def on_raw(self, state: _ChatState, item: SSEEvent) -> Iterable[StreamEvent] | None:
        data = item.data
        if data[0] == "{" or data.strip() != "[DONE]":
            return None
        if state.finish == "error":
            return (StreamError("server", _ERROR_FINISH),)
        return (*((state.usage,) if state.usage is not None else ()), Finish(state.finish or "stop"))

    def on_event(self, state: _ChatState, chunk: dict[str, Any], item: SSEEvent) -> Iterator[StreamEvent]:
        if chunk.get("error") or item.event == "error":
            yield error_from_payload(chunk, api_key=self.config.api_key, fallback=_ERROR_FINISH)
            return
        choices = chunk.get("choices")
        if choices and isinstance(choices, list):
            choice = choices[0]
            if isinstance(choice, dict) and not choice.get("index"):  # the first choice only
                delta = choice.get("delta")
                if isinstance(delta, dict):
                    reasoning = delta.get("reasoning_content")
                    if reasoning is None:
                        reasoning = delta.get("reasoning")
                        if reasoning is None and delta.get("reasoning_details"):
                            reasoning = _details_text(delta["reasoning_details"])
                    if reasoning and isinstance(reasoning, str):
                        yield ReasoningDelta(reasoning)
                    content = delta.get("content")
                    if content and isinstance(content, str):
                        yield TextDelta(content)
                    refusal = delta.get("refusal")
                    if refusal and isinstance(refusal, str):
                        yield TextDelta(refusal)
                        state.finish = "content_filter"
                reason = choice.get("finish_reason")
                if reason and state.finish != "content_filter":
                    # "error" without an error object: the details may follow in a later chunk
                    state.finish = _FINISH.get(str(reason), "stop")
        raw_usage = chunk.get("usage")
        if isinstance(raw_usage, dict):
            state.usage = chat_usage(raw_usage)

    def on_document(self, state: _ChatState, data: Any) -> Iterable[StreamEvent]:
        return _from_json_body(data, self.config.api_key)

    def on_end(self, state: _ChatState) -> Iterator[StreamEvent]:
        # The body ended without [DONE].
        if state.finish == "error":
            yield StreamError("server", _ERROR_FINISH)
            return
        if self.options.finish_without_done and state.finish is not None:
            if state.usage is not None:
                yield state.usage
            yield Finish(state.finish)
            return
        yield StreamError("bad_stream", MID_ANSWER)

    async def list_models(self) -> list[dict[str, Any]]:
        """GET {base}/models; the raw `data` list. Raises `ProviderHTTPError` on failure."""
        headers = {k: v for k, v in self.build_headers().items() if k not in ("accept", "accept-encoding")}
        data = await get_json(
            self.client, self.config, join_url(self.config.base_url, "models"), headers=headers
        )
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            return [m for m in data["data"] if isinstance(m, dict)]
        if isinstance(data, dict) and isinstance(data.get("models"), list):  # Ollama's native shape
            return [m for m in data["models"] if isinstance(m, dict)]
        if isinstance(data, list):
            return [m for m in data if isinstance(m, dict)]
        return []


def _details_text(details: object) -> str | None:
    """Text of OpenRouter `reasoning_details` entries (used only when `reasoning` is absent)."""
    if not isinstance(details, list):
        return None
    parts = []
    for entry in details:
        if isinstance(entry, dict):
            text = entry.get("text") if entry.get("text") is not None else entry.get("summary")
            if isinstance(text, str):
                parts.append(text)
    return "".join(parts) or None


def _from_json_body(data: Any, key: str | None) -> list[StreamEvent]:
    """A server that answered `stream: true` with one JSON document: an error or a whole completion."""
    if isinstance(data, dict) and data.get("error"):
        return [error_from_payload(data, api_key=key)]
    events: list[StreamEvent] = []
    choices = data.get("choices") if isinstance(data, dict) else None
    if not choices or not isinstance(choices, list) or not isinstance(choices[0], dict):
        return [StreamError("bad_stream", "expected an event stream, got a JSON document without an answer")]
    choice = choices[0]
    message = choice.get("message") or {}
    if isinstance(message, dict):
        reasoning = message.get("reasoning_content") or message.get("reasoning")
        if isinstance(reasoning, str) and reasoning:
            events.append(ReasoningDelta(reasoning))
        content = message.get("content")
        if isinstance(content, str) and content:
            events.append(TextDelta(content))
    raw_usage = data.get("usage")
    if isinstance(raw_usage, dict):
        events.append(chat_usage(raw_usage))
    events.append(Finish(_FINISH.get(str(choice.get("finish_reason") or "stop"), "stop")))
    return events


def content_part(att: Attachment) -> dict[str, Any]:
    """A Chat Completions content part for a file: `image_url` with a data URL for an image, a `file`
    part (filename + data URL) for a PDF (OpenAI and OpenRouter take PDFs this way)."""
    if att.kind == "image":
        return {"type": "image_url", "image_url": {"url": att.data_url()}}
    return {"type": "file", "file": {"filename": att.name, "file_data": att.data_url()}}
