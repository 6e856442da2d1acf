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

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

from app.events import Finish, ReasoningDelta, StreamError, StreamEvent, TextDelta, Usage
from app.providers.base import Message, ProviderConfig, ProviderRequest
from app.providers.chat import accepts
from app.providers.http import error_from_payload, get_json, join_url
from app.providers.sse import SSEEvent
from app.providers.streaming import SSEProvider, StreamState

__all__ = ["ResponsesOptions", "ResponsesProvider", "responses_usage"]

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


@dataclass(frozen=True, slots=True)
class ResponsesOptions:
    """Typed options of the Responses protocol."""

    # Triptych keeps every answer locally; do not also ask OpenAI to store the conversation.
    store: bool = False


@dataclass(slots=True)
class _ResponsesState(StreamState):
    refused: bool = False
    summary_key: tuple[object, object] | None = None


class ResponsesProvider(SSEProvider):
    """Responses API client. Holds no per-stream state; safe to share across concurrent streams."""

    protocol = "responses"
    endpoint = "responses"
    options: ResponsesOptions

    @classmethod
    def options_for(cls, config: ProviderConfig) -> ResponsesOptions:
        return ResponsesOptions()

    def build_body(self, request: ProviderRequest) -> dict[str, Any]:
        """The JSON body `stream()` POSTs: only parameters the model accepts.

        `temperature` goes only to a model that accepts it and then only with effort `none` (or when the
        model has no reasoning controls at all): reasoning models reject it otherwise.
        """
        params = request.params
        body: dict[str, Any] = {"model": request.model}
        if params.system:
            body["instructions"] = params.system
        body["input"] = [_input_item(m) for m in request.messages]
        body["stream"] = True
        body["store"] = self.options.store
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

    # -- streaming (hooks of SSEProvider) ---------------------------------------------------------

    def new_state(self) -> _ResponsesState:
        return _ResponsesState()

    def on_event(self, state: _ResponsesState, event: dict[str, Any], item: SSEEvent) -> Iterator[StreamEvent]:
        key = self.config.api_key
        kind = event.get("type") or item.event
        if kind == "response.output_text.delta":
            delta = event.get("delta")
            if isinstance(delta, str) and delta:
                yield TextDelta(delta)
        elif kind in ("response.reasoning_summary_text.delta", "response.reasoning_text.delta"):
            delta = event.get("delta")
            if isinstance(delta, str) and delta:
                part = (event.get("item_id"), event.get("summary_index", event.get("content_index")))
                if state.summary_key is not None and part != state.summary_key:
                    yield ReasoningDelta("\n\n")
                state.summary_key = part
                yield ReasoningDelta(delta)
        elif kind == "response.refusal.delta":
            delta = event.get("delta")
            if isinstance(delta, str) and delta:
                state.refused = True
                yield TextDelta(delta)
        elif kind in ("response.completed", "response.incomplete"):
            response = event.get("response")
            response = response if isinstance(response, dict) else {}
            raw_usage = response.get("usage")
            if isinstance(raw_usage, dict):
                yield responses_usage(raw_usage)
            if kind == "response.completed" and response.get("status", "completed") == "completed":
                yield Finish("content_filter" if state.refused else "stop")
            else:
                details = response.get("incomplete_details")
                reason = details.get("reason") if isinstance(details, dict) else None
                yield Finish(_INCOMPLETE.get(str(reason), "length"))
        elif kind == "response.failed":
            response = event.get("response")
            error = response.get("error") if isinstance(response, dict) else None
            yield error_from_payload(
                error if isinstance(error, dict) else {}, api_key=key, fallback="the response failed"
            )
        elif kind == "error" or (kind == "message" and event.get("error")):
            # a top-level `error` event, or an untyped `data: {"error": …}` as proxies send (LiteLLM)
            yield error_from_payload(event, api_key=key)
        elif kind in ("response.created", "response.in_progress"):
            response = event.get("response")
            raw_usage = response.get("usage") if isinstance(response, dict) else None
            if isinstance(raw_usage, dict):  # some servers count the input up front
                state.usage = responses_usage(raw_usage)
        # *.added, *.done, ping-like and unknown events carry nothing we show

    def on_document(self, state: _ResponsesState, data: Any) -> Iterable[StreamEvent]:
        return _from_json_body(data, self.config.api_key)

    async def list_models(self) -> list[dict[str, Any]]:
        """GET {base}/models; the raw `data` list. Raises `ProviderHTTPError` on failure."""
        headers = {k: v for k, v in self.build_headers().items() if k not in ("accept", "accept-encoding")}
        data = await get_json(
            self.client, self.config, join_url(self.config.base_url, "models"), headers=headers
        )
        if isinstance(data, dict) and isinstance(data.get("data"), list):
            return [m for m in data["data"] if isinstance(m, dict)]
        return []


def _from_json_body(data: Any, key: str | None) -> list[StreamEvent]:
    """A server that answered `stream: true` with one JSON document: an error, or a whole response
    object taken as the answer (reasoning summaries, output text and refusals, usage, status)."""
    if isinstance(data, dict) and data.get("error"):
        if data.get("object") == "response" and isinstance(data["error"], dict):
            return [error_from_payload(data["error"], api_key=key, fallback="the response failed")]
        return [error_from_payload(data, api_key=key)]
    output = data.get("output") if isinstance(data, dict) else None
    if not isinstance(data, dict) or not isinstance(output, list):
        return [StreamError("bad_stream", "expected an event stream, got a JSON document without an answer")]
    summaries: list[str] = []
    text: list[str] = []
    refused = False
    for entry in output:
        if not isinstance(entry, dict):
            continue
        if entry.get("type") == "reasoning":
            for part in entry.get("summary") or entry.get("content") or []:
                if isinstance(part, dict) and isinstance(part.get("text"), str) and part["text"]:
                    summaries.append(part["text"])
        elif entry.get("type") == "message":
            for part in entry.get("content") or []:
                if not isinstance(part, dict):
                    continue
                if part.get("type") == "output_text" and isinstance(part.get("text"), str):
                    text.append(part["text"])
                elif part.get("type") == "refusal" and isinstance(part.get("refusal"), str):
                    text.append(part["refusal"])
                    refused = True
    events: list[StreamEvent] = []
    if summaries:
        events.append(ReasoningDelta("\n\n".join(summaries)))
    if "".join(text):
        events.append(TextDelta("".join(text)))
    raw_usage = data.get("usage")
    if isinstance(raw_usage, dict):
        events.append(responses_usage(raw_usage))
    status = data.get("status", "completed")
    if status == "failed":
        return [*events, StreamError("server", "the response failed")]
    if status == "incomplete":
        details = data.get("incomplete_details")
        reason = details.get("reason") if isinstance(details, dict) else None
        events.append(Finish(_INCOMPLETE.get(str(reason), "length")))
    else:
        events.append(Finish("content_filter" if refused else "stop"))
    return events


def _input_item(m: Message) -> dict[str, Any]:
    """One `input` message; a turn with files is a list: `input_image` / `input_file` (data URLs; a
    file part carries its name), then `input_text`."""
    if not m.attachments:
        return {"role": m.role, "content": m.content}
    parts: list[dict[str, Any]] = []
    for att in m.attachments:
        if att.kind == "image":
            parts.append({"type": "input_image", "image_url": att.data_url()})
        else:
            parts.append({"type": "input_file", "filename": att.name, "file_data": att.data_url()})
    if m.content.strip():
        parts.append({"type": "input_text", "text": m.content})
    return {"role": m.role, "content": parts}
