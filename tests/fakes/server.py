"""A loopback fake provider server: every provider format on one port (PROTOCOLS.md, "Fake servers").

Real sockets, hand-written HTTP/1.1 on asyncio streams (Content-Length or chunked request bodies,
chunked or close-delimited streaming responses, keep-alive). It serves

    POST /chat/completions            Chat Completions, DeepSeek flavour   (DEEPSEEK_BASE_URL=root)
    POST /v1/chat/completions         Chat Completions, OpenAI flavour     (OPENAI_BASE_URL=root/v1)
    POST /api/v1/chat/completions     Chat Completions, OpenRouter flavour (OPENROUTER_BASE_URL=root/api/v1)
    POST /ollama/v1/chat/completions  Chat Completions, Ollama flavour     (OLLAMA_BASE_URL=root/ollama/v1)
    POST /lmstudio/v1/chat/completions  … LM Studio flavour                (LMSTUDIO_BASE_URL=root/lmstudio/v1)
    POST /responses, /v1/responses    OpenAI Responses API
    POST /v1/messages                 Anthropic Messages                   (ANTHROPIC_BASE_URL=root)
    …/files, …/batches, /v1/messages/batches  OpenAI Batch and Anthropic Message Batches
                                      (tests/fakes/batch.py: expiring and failing requests, 429 on create)
    GET  …/models                     the model list of the flavour (Anthropic's shape when the request
                                      carries `anthropic-version` or `x-api-key`)

Two ways to drive it:

(a) Scripted, for tests: `srv.script(model, item, ...)` queues replies for a model name (the last one
    repeats). An item is a `Scenario` (raw steps: `Head`, `Send`, `Sleep`, `Close`, `Stall`, `End`,
    `Respond`, `Repeat`), an `Answer` (a high-level answer rendered in whatever format the request's
    endpoint speaks, with optional awkward cuts), an `HTTPFault` (an HTTP error in the endpoint's
    format, or an HTML page), or a callable `(RecordedRequest) -> item`. `srv.script_path(path, ...)`
    does the same by path. Every request is recorded in `srv.requests` (path, headers, parsed JSON,
    and `sent`: the wall-clock time of every body chunk of its reply, for timing assertions).

(b) Unscripted, for the CLI/GUI: any model name streams a deterministic markdown answer (heading, a
    paragraph echoing the last user message, a python block, a table, a list; reasoning first when
    thinking is on, the model name contains "reason", or for the DeepSeek/Anthropic flavours) with
    realistic usage, at `tokens_per_second` (default 400, env `TRIPTYCH_FAKE_RATE`; 0 = no delay).
    Special model names (any `vendor/` prefix is ignored), see `SPECIAL_MODELS`.

    python -m tests.fakes.server [--port N] [--rate TOKS]

prints the base URL and the environment exports. From a test with its own loop:
`async with FakeProviderServer() as srv: ...`; from a thread-less caller that runs another loop (GUI,
subprocess CLI tests): `url, stop = FakeProviderServer.start_in_thread()` or, for a scripted instance,
`url, stop = srv.run_in_thread()`.

Threading: a server runs on one event loop; `script()`/`requests` may be used from another thread
(guarded by a lock).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import functools
import itertools
import json
import os
import re
import socket
import ssl
import struct
import sys
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from http import HTTPStatus
from typing import Any, Literal, TypeAlias

import httpx

__all__ = [
    "SPECIAL_MODELS",
    "Answer",
    "Close",
    "Collected",
    "End",
    "FakeProviderServer",
    "HTTPFault",
    "Head",
    "RecordedRequest",
    "Repeat",
    "Respond",
    "Scenario",
    "Send",
    "Sleep",
    "Stall",
    "collect",
    "cut",
    "default_answer",
    "html_page",
    "make_client",
    "sse",
]

CREATED = 1763900000
DEFAULT_RATE = 400.0
TICK = 0.01  # seconds between sends at a given token rate

SPECIAL_MODELS = {
    "fail-<status>": "HTTP error in the endpoint's format (401, 402, 403, 404, 400, 429 + retry-after: 1, "
    "500, 502, 503, 529, …)",
    "fail-<status>-html": "HTTP error with an HTML page (e.g. fail-500-html, fail-502-html)",
    "flaky-<status>": "the first request for this model fails with <status>, later ones succeed",
    "fail-midstream": "some text, then an error inside the 200 stream",
    "stall": "200 headers, then nothing, forever",
    "stall-keepalive": "200 headers, then only keep-alive comments (and Anthropic pings), forever",
    "truncated": "the answer without its terminal event, body ends cleanly",
    "drop": "the connection is cut mid-answer",
    "garbage": "a non-JSON data line mid-answer",
    "filtered": "a short answer that finishes with content_filter",
    "slow": "the default answer at 20 tokens/s",
    "echo-key-401": "HTTP 401 whose body echoes the request's Authorization / x-api-key header (a careless proxy)",
}


# ---------------------------------------------------------------------------------------------------
# Scenario steps


@dataclass(frozen=True)
class Head:
    """Status line and headers of a streamed response. `framing`: chunked or close-delimited."""

    status: int = 200
    headers: tuple[tuple[str, str], ...] = (("content-type", "text/event-stream; charset=utf-8"),)
    framing: Literal["chunked", "close"] = "chunked"


@dataclass(frozen=True)
class Send:
    """Bytes of the body (one chunk when chunked). A `Head` with defaults is sent first if needed."""

    data: bytes


@dataclass(frozen=True)
class Sleep:
    seconds: float


@dataclass(frozen=True)
class Close:
    """Close the connection now: without the chunked terminator (mid-body cut) when chunked.
    `reset=True` sends a TCP RST instead of a FIN."""

    reset: bool = False


@dataclass(frozen=True)
class Stall:
    """Send nothing more until the client goes away (or the server stops)."""


@dataclass(frozen=True)
class End:
    """Finish the body cleanly (chunked terminator; close when close-delimited)."""


@dataclass(frozen=True)
class Respond:
    """A complete response with Content-Length."""

    status: int
    body: bytes = b""
    headers: tuple[tuple[str, str], ...] = (("content-type", "application/json"),)


@dataclass(frozen=True)
class Repeat:
    """Run `steps` `times` times (None: until the client goes away)."""

    steps: tuple[Step, ...]
    times: int | None = None


Step: TypeAlias = Head | Send | Sleep | Close | Stall | End | Respond | Repeat


@dataclass(frozen=True)
class Scenario:
    steps: tuple[Step, ...]

    def __init__(self, steps: Iterable[Step]) -> None:
        object.__setattr__(self, "steps", tuple(steps))

    @classmethod
    def stream(
        cls,
        pieces: Iterable[bytes | str],
        *,
        status: int = 200,
        headers: dict[str, str] | None = None,
        delay: float = 0.0,
        end: Literal["end", "close", "reset", "stall"] = "end",
        framing: Literal["chunked", "close"] = "chunked",
    ) -> Scenario:
        """Head, then each piece as its own send (with `delay` between), then the ending."""
        hdrs = {"content-type": "text/event-stream; charset=utf-8", **(headers or {})}
        steps: list[Step] = [Head(status, tuple(hdrs.items()), framing)]
        for i, piece in enumerate(pieces):
            if i and delay:
                steps.append(Sleep(delay))
            steps.append(Send(piece.encode() if isinstance(piece, str) else piece))
        steps.append(_ending(end))
        return cls(steps)

    @classmethod
    def respond(
        cls, status: int, body: bytes | str | Any = b"", headers: dict[str, str] | None = None
    ) -> Scenario:
        """A complete response; a non-bytes/str body is sent as JSON."""
        content_type = "application/json"
        if isinstance(body, str):
            data = body.encode()
            content_type = "text/plain; charset=utf-8"
        elif isinstance(body, bytes):
            data = body
        else:
            data = json.dumps(body).encode()
        hdrs = {"content-type": content_type, **(headers or {})}
        return cls([Respond(status, data, tuple(hdrs.items()))])


def _ending(end: str) -> Step:
    if end == "close":
        return Close()
    if end == "reset":
        return Close(reset=True)
    if end == "stall":
        return Stall()
    return End()


# ---------------------------------------------------------------------------------------------------
# Byte-level helpers


def sse(events: Iterable[tuple[str | None, str] | str], *, eol: str = "\n", space: bool = True) -> bytes:
    """Serialise events: `(event_name_or_None, data)` pairs, or a str starting with ':' (a comment)."""
    out: list[str] = []
    sep = ": " if space else ":"
    for item in events:
        if isinstance(item, str):
            out.append(item + eol + eol)
            continue
        name, data = item
        lines = []
        if name:
            lines.append(f"event{sep}{name}")
        lines.extend(f"data{sep}{line}" for line in data.split("\n"))
        out.append(eol.join(lines) + eol + eol)
    return "".join(out).encode()


def cut(data: bytes, *, size: int | None = None, at: Iterable[int] = ()) -> list[bytes]:
    """Split bytes every `size` bytes and/or at explicit offsets."""
    offsets = set(at)
    if size:
        offsets.update(range(size, len(data), size))
    points = sorted(o for o in offsets if 0 < o < len(data))
    pieces: list[bytes] = []
    last = 0
    for point in points:
        pieces.append(data[last:point])
        last = point
    pieces.append(data[last:])
    return [p for p in pieces if p]


def _utf8_cuts(data: bytes) -> list[int]:
    """An offset inside every multi-byte UTF-8 character."""
    return [i + 1 for i, byte in enumerate(data) if byte >= 0xC0]


def _crlf_cuts(data: bytes) -> list[int]:
    return [m.start() + 1 for m in re.finditer(rb"\r\n", data)]


def html_page(status: int, server: str = "nginx") -> bytes:
    """A proxy-style HTML error page."""
    title = f"{status} {_phrase(status)}"
    return (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>{server}</center>\r\n</body>\r\n</html>\r\n"
    ).encode()


def _phrase(status: int) -> str:
    if status == 529:
        return "Site Overloaded"
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return "Error"


# ---------------------------------------------------------------------------------------------------
# High-level replies


@dataclass(frozen=True)
class Answer:
    """A model answer described once and rendered in the format of whichever endpoint was called.

    Token fields are *normalised* (as our Usage: `input_tokens` includes cached and cache-write tokens,
    `output_tokens` includes reasoning); the Anthropic rendering subtracts cache tokens from
    `input_tokens` as Anthropic does. `output_tokens`/`reasoning_tokens` default to the chunk counts.

    Awkward delivery: `eol` ("\\n", "\\r\\n", "\\r"), `space` after `data:`, `keepalive` comments (before
    the first event and every `keepalive_every` events), Anthropic `pings`, `unknown_events`, cuts
    (`split` every N bytes, `split_utf8` inside every multi-byte character, `split_json` inside every
    event, `split_crlf` between every CR and LF), `delay` between pieces (or `rate` tokens/s),
    `truncate` (drop the terminal event), `stop_after_text` (nothing after the N-th text chunk),
    `error_after` (an in-stream error after N text chunks: `error_code`, `error_message`), `end`
    (how the body ends) and `framing`.
    """

    text: Sequence[str] = ("Hello", ", world", "!")
    reasoning: Sequence[str] = ()
    input_tokens: int = 12
    cached_tokens: int = 0
    cache_write_tokens: int = 0
    output_tokens: int | None = None
    reasoning_tokens: int | None = None
    cost: float | None = None
    usage: bool = True
    finish: str = "stop"
    model: str | None = None
    flavor: str | None = None
    eol: str = "\n"
    space: bool = True
    keepalive: str | None = None
    keepalive_every: int = 0
    pings: bool = True
    unknown_events: bool = False
    split: int | None = None
    split_utf8: bool = False
    split_json: bool = False
    split_crlf: bool = False
    delay: float = 0.0
    rate: float | None = None
    truncate: bool = False
    stop_after_text: int | None = None
    error_after: int | None = None
    error_code: int = 502
    error_message: str = "Upstream provider disconnected"
    error_event: bool = False  # Responses API: a top-level `error` event instead of response.failed
    end: Literal["end", "close", "reset", "stall"] = "end"
    framing: Literal["chunked", "close"] = "chunked"
    headers: tuple[tuple[str, str], ...] = ()

    @property
    def out_tokens(self) -> int:
        if self.output_tokens is not None:
            return self.output_tokens
        return len(self.text) + len(self.reasoning)

    @property
    def reason_tokens(self) -> int:
        return self.reasoning_tokens if self.reasoning_tokens is not None else len(self.reasoning)


@dataclass(frozen=True)
class HTTPFault:
    """An HTTP error reply in the endpoint's JSON error format (or an HTML page, or a raw body)."""

    status: int
    message: str | None = None
    retry_after: str | None = None
    retry_after_ms: str | None = None
    html: bool = False
    body: bytes | None = None
    content_type: str | None = None
    headers: tuple[tuple[str, str], ...] = ()


Item: TypeAlias = "Scenario | Answer | HTTPFault | Callable[[RecordedRequest], Scenario | Answer | HTTPFault]"


@dataclass
class RecordedRequest:
    method: str
    path: str
    headers: dict[str, str]  # names lower-cased
    body: Any  # parsed JSON, or None
    raw: bytes
    fmt: str  # chat | responses | anthropic | models | unknown
    flavor: str  # openai | deepseek | openrouter | ollama | lmstudio | anthropic
    # (time.time(), bytes) of every body `Send` of the reply, stamped once the bytes were handed to the
    # kernel (after drain): what the client could have received by a given wall-clock time.
    sent: list[tuple[float, bytes]] = field(default_factory=list)

    @property
    def model(self) -> str | None:
        if isinstance(self.body, dict) and isinstance(self.body.get("model"), str):
            return str(self.body["model"])
        return None

    def __repr__(self) -> str:
        return f"<RecordedRequest {self.method} {self.path} {self.fmt}/{self.flavor} model={self.model!r}>"


# ---------------------------------------------------------------------------------------------------
# Rendering per format


_CHAT_FINISH = {
    "stop": "stop",
    "length": "length",
    "tool_calls": "tool_calls",
    "content_filter": "content_filter",
}
_ANTHROPIC_STOP = {
    "stop": "end_turn",
    "length": "max_tokens",
    "tool_calls": "tool_use",
    "content_filter": "refusal",
}
_ANTHROPIC_TYPE = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    502: "api_error",
    503: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
}
_OPENAI_TYPE = {
    400: ("invalid_request_error", None),
    401: ("invalid_request_error", "invalid_api_key"),
    402: ("invalid_request_error", "insufficient_balance"),
    403: ("invalid_request_error", "unsupported_country_region_territory"),
    404: ("invalid_request_error", "model_not_found"),
    429: ("requests", "rate_limit_exceeded"),
    500: ("server_error", "server_error"),
    502: ("server_error", "server_error"),
    503: ("server_error", "server_error"),
    529: ("server_error", "overloaded"),
}
_DEFAULT_MESSAGES = {
    400: "Invalid request",
    401: "Incorrect API key provided",
    402: "Insufficient Balance",
    403: "Permission denied",
    404: "The model does not exist or you do not have access to it.",
    408: "Request timeout",
    413: "Request too large",
    422: "Unprocessable request",
    429: "Rate limit reached, please try again later",
    500: "Internal server error",
    502: "Bad gateway",
    503: "Service unavailable",
    504: "Gateway timeout",
    529: "Overloaded",
}


def _j(obj: Any) -> str:
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"))


class _Frames:
    """SSE frames under construction: ("event", name, data) or ("comment", text) items, with a marker
    of which frames carry text (for `error_after` / `stop_after_text`)."""

    def __init__(self) -> None:
        self.items: list[tuple[str | None, str] | str] = []
        self.text_index: list[int] = []  # item index of each text frame
        self.terminal: list[int] = []  # item indexes of terminal events

    def add(self, name: str | None, data: Any, *, text: bool = False, terminal: bool = False) -> None:
        if text:
            self.text_index.append(len(self.items))
        if terminal:
            self.terminal.append(len(self.items))
        self.items.append((name, data if isinstance(data, str) else _j(data)))


def _chat_usage(a: Answer, flavor: str) -> dict[str, Any]:
    inp, out, cached, reasoning = a.input_tokens, a.out_tokens, a.cached_tokens, a.reason_tokens
    base: dict[str, Any] = {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out}
    if flavor == "deepseek":
        base["prompt_tokens_details"] = {"cached_tokens": cached}
        base["completion_tokens_details"] = {"reasoning_tokens": reasoning}
        base["prompt_cache_hit_tokens"] = cached
        base["prompt_cache_miss_tokens"] = inp - cached
    elif flavor == "openrouter":
        cost = a.cost if a.cost is not None else round((inp * 0.3 + out * 1.2) / 1e6, 10)
        base.update(
            {
                "cost": cost,
                "is_byok": False,
                "prompt_tokens_details": {
                    "cached_tokens": cached,
                    "cache_write_tokens": a.cache_write_tokens,
                    "audio_tokens": 0,
                    "video_tokens": 0,
                },
                "cost_details": {
                    "upstream_inference_cost": None,
                    "upstream_inference_prompt_cost": cost * 0.4,
                    "upstream_inference_completions_cost": cost * 0.6,
                },
                "completion_tokens_details": {"reasoning_tokens": reasoning, "image_tokens": 0},
            }
        )
    elif flavor in ("ollama", "lmstudio"):
        pass
    else:
        base["prompt_tokens_details"] = {"cached_tokens": cached, "audio_tokens": 0}
        base["completion_tokens_details"] = {
            "reasoning_tokens": reasoning,
            "audio_tokens": 0,
            "accepted_prediction_tokens": 0,
            "rejected_prediction_tokens": 0,
        }
    return base


def _chat_frames(a: Answer, model: str, flavor: str) -> _Frames:
    frames = _Frames()
    cid = "gen-1763900000-FAKEfakeFAKE" if flavor == "openrouter" else "chatcmpl-fake0001"
    base: dict[str, Any] = {"id": cid, "object": "chat.completion.chunk", "created": CREATED, "model": model}
    if flavor == "openrouter":
        base["provider"] = "FakeProvider"
    elif flavor in ("openai", "deepseek"):
        base["system_fingerprint"] = "fp_fake"

    def chunk(delta: dict[str, Any], finish: str | None = None, usage: Any = ...) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "delta": delta}
        if flavor != "ollama":
            choice["logprobs"] = None
        choice["finish_reason"] = finish
        if flavor == "openrouter":
            choice["native_finish_reason"] = finish
        out = {**base, "choices": [choice]}
        if usage is not ...:
            out["usage"] = usage
        elif flavor == "openai" and a.usage:
            out["usage"] = None
        return out

    if flavor == "deepseek":
        frames.add(None, chunk({"role": "assistant", "content": ""}))
    elif flavor == "openai":
        frames.add(None, chunk({"role": "assistant", "content": "", "refusal": None}))
    else:
        frames.add(None, chunk({"role": "assistant", "content": ""}))
    for piece in a.reasoning:
        if flavor == "deepseek":
            delta: dict[str, Any] = {"content": None, "reasoning_content": piece}
        elif flavor == "openrouter":
            delta = {
                "role": "assistant",
                "content": "",
                "reasoning": piece,
                "reasoning_details": [
                    {"type": "reasoning.text", "text": piece, "format": "unknown", "index": 0}
                ],
            }
        elif flavor == "lmstudio":
            delta = {"reasoning_content": piece}
        else:
            delta = {"role": "assistant", "content": "", "reasoning": piece}
        frames.add(None, chunk(delta))
    if a.unknown_events:
        frames.add(None, {**chunk({}), "x_fake_extension": {"note": "ignore me"}})
    for i, piece in enumerate(a.text):
        if a.error_after is not None and i == a.error_after:
            _chat_error(frames, a, base, flavor)
            return frames
        if flavor == "deepseek":
            delta = {"content": piece, "reasoning_content": None}
        elif flavor == "openrouter":
            delta = {"role": "assistant", "content": piece, "reasoning": None}
        else:
            delta = {"content": piece}
        frames.add(None, chunk(delta), text=True)
    if a.error_after is not None:
        _chat_error(frames, a, base, flavor)
        return frames
    finish = _CHAT_FINISH.get(a.finish, a.finish)
    if flavor == "deepseek":
        frames.add(
            None,
            chunk(
                {"content": "", "reasoning_content": None}, finish, _chat_usage(a, flavor) if a.usage else ...
            ),
        )
    else:
        frames.add(None, chunk({}, finish))
        if a.usage:
            frames.add(None, {**base, "choices": [], "usage": _chat_usage(a, flavor)})
    frames.add(None, "[DONE]", terminal=True)
    return frames


def _chat_error(frames: _Frames, a: Answer, base: dict[str, Any], flavor: str) -> None:
    if flavor == "openrouter":
        frames.add(
            None,
            {
                **base,
                "error": {"code": a.error_code, "message": a.error_message},
                "choices": [
                    {
                        "index": 0,
                        "delta": {"content": ""},
                        "finish_reason": "error",
                        "native_finish_reason": "error",
                    }
                ],
            },
        )
        frames.add(None, "[DONE]")
    else:
        etype, code = _OPENAI_TYPE.get(a.error_code, ("server_error", "server_error"))
        frames.add(None, {"error": {"message": a.error_message, "type": etype, "param": None, "code": code}})


def _responses_frames(a: Answer, model: str) -> _Frames:
    frames = _Frames()
    seq = itertools.count()
    response: dict[str, Any] = {
        "id": "resp_fake0001",
        "object": "response",
        "created_at": CREATED,
        "status": "in_progress",
        "background": False,
        "error": None,
        "incomplete_details": None,
        "instructions": None,
        "max_output_tokens": None,
        "model": model,
        "output": [],
        "parallel_tool_calls": True,
        "reasoning": {"effort": None, "summary": None},
        "store": True,
        "temperature": None,
        "text": {"format": {"type": "text"}},
        "usage": None,
    }

    def ev(kind: str, is_terminal: bool = False, is_text: bool = False, **fields: Any) -> None:
        frames.add(
            kind, {"type": kind, "sequence_number": next(seq), **fields}, terminal=is_terminal, text=is_text
        )

    ev("response.created", response=response)
    ev("response.in_progress", response=response)
    out_index = 0
    output: list[dict[str, Any]] = []
    if a.reasoning:
        item = {"id": "rs_fake0001", "type": "reasoning", "summary": []}
        ev("response.output_item.added", output_index=0, item=item)
        part: dict[str, Any] = {"type": "summary_text", "text": ""}
        ev(
            "response.reasoning_summary_part.added",
            item_id="rs_fake0001",
            output_index=0,
            summary_index=0,
            part=part,
        )
        for piece in a.reasoning:
            ev(
                "response.reasoning_summary_text.delta",
                item_id="rs_fake0001",
                output_index=0,
                summary_index=0,
                delta=piece,
                obfuscation="xx",
            )
        full = "".join(a.reasoning)
        ev(
            "response.reasoning_summary_text.done",
            item_id="rs_fake0001",
            output_index=0,
            summary_index=0,
            text=full,
        )
        done_part = {"type": "summary_text", "text": full}
        ev(
            "response.reasoning_summary_part.done",
            item_id="rs_fake0001",
            output_index=0,
            summary_index=0,
            part=done_part,
        )
        done_item = {**item, "summary": [done_part]}
        ev("response.output_item.done", output_index=0, item=done_item)
        output.append(done_item)
        out_index = 1
    msg = {
        "id": "msg_fake0001",
        "type": "message",
        "status": "in_progress",
        "content": [],
        "role": "assistant",
    }
    ev("response.output_item.added", output_index=out_index, item=msg)
    part = {"type": "output_text", "annotations": [], "logprobs": [], "text": ""}
    ev(
        "response.content_part.added",
        item_id="msg_fake0001",
        output_index=out_index,
        content_index=0,
        part=part,
    )
    if a.unknown_events:
        ev("response.future_feature.delta", item_id="msg_fake0001", delta="ignore me")
    for i, piece in enumerate(a.text):
        if a.error_after is not None and i == a.error_after:
            break
        ev(
            "response.output_text.delta",
            is_text=True,
            item_id="msg_fake0001",
            output_index=out_index,
            content_index=0,
            delta=piece,
            logprobs=[],
            obfuscation="xx",
        )
    if a.error_after is not None:
        etype, code = _OPENAI_TYPE.get(a.error_code, ("server_error", "server_error"))
        if a.error_event:
            ev("error", code=code or etype, message=a.error_message, param=None)
        else:
            failed = {
                **response,
                "status": "failed",
                "error": {"code": code or etype, "message": a.error_message},
            }
            ev("response.failed", response=failed)
        return frames
    full = "".join(a.text)
    ev(
        "response.output_text.done",
        item_id="msg_fake0001",
        output_index=out_index,
        content_index=0,
        text=full,
        logprobs=[],
    )
    done = {**part, "text": full}
    ev(
        "response.content_part.done",
        item_id="msg_fake0001",
        output_index=out_index,
        content_index=0,
        part=done,
    )
    msg_done = {**msg, "status": "completed", "content": [done]}
    ev("response.output_item.done", output_index=out_index, item=msg_done)
    output.append(msg_done)
    usage = {
        "input_tokens": a.input_tokens,
        "input_tokens_details": {"cached_tokens": a.cached_tokens},
        "output_tokens": a.out_tokens,
        "output_tokens_details": {"reasoning_tokens": a.reason_tokens},
        "total_tokens": a.input_tokens + a.out_tokens,
    }
    final = {**response, "output": output, "usage": usage if a.usage else None}
    if a.finish in ("length", "content_filter"):
        reason = "max_output_tokens" if a.finish == "length" else "content_filter"
        final.update(status="incomplete", incomplete_details={"reason": reason})
        ev("response.incomplete", is_terminal=True, response=final)
    else:
        final["status"] = "completed"
        ev("response.completed", is_terminal=True, response=final)
    return frames


def _anthropic_frames(a: Answer, model: str) -> _Frames:
    frames = _Frames()
    raw_input = a.input_tokens - a.cached_tokens - a.cache_write_tokens
    start_usage = {
        "input_tokens": raw_input,
        "cache_creation_input_tokens": a.cache_write_tokens,
        "cache_read_input_tokens": a.cached_tokens,
        "cache_creation": {"ephemeral_5m_input_tokens": a.cache_write_tokens, "ephemeral_1h_input_tokens": 0},
        "output_tokens": 1,
        "service_tier": "standard",
    }
    message: dict[str, Any] = {
        "id": "msg_fake0001",
        "type": "message",
        "role": "assistant",
        "model": model,
        "content": [],
        "stop_reason": None,
        "stop_sequence": None,
        "usage": start_usage if a.usage else None,
    }
    frames.add("message_start", {"type": "message_start", "message": message})
    if a.pings:
        frames.add("ping", {"type": "ping"})
    index = 0
    if a.reasoning:
        block = {"type": "thinking", "thinking": "", "signature": ""}
        frames.add("content_block_start", {"type": "content_block_start", "index": 0, "content_block": block})
        for piece in a.reasoning:
            delta = {"type": "thinking_delta", "thinking": piece}
            frames.add("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": delta})
        sig = {"type": "signature_delta", "signature": "RmFrZVNpZ25hdHVyZQ=="}
        frames.add("content_block_delta", {"type": "content_block_delta", "index": 0, "delta": sig})
        frames.add("content_block_stop", {"type": "content_block_stop", "index": 0})
        index = 1
    block = {"type": "text", "text": ""}
    frames.add("content_block_start", {"type": "content_block_start", "index": index, "content_block": block})
    if a.unknown_events:
        frames.add(
            "content_block_future", {"type": "content_block_future", "index": index, "note": "ignore me"}
        )
    for i, piece in enumerate(a.text):
        if a.error_after is not None and i == a.error_after:
            break
        if a.pings and i and i % 8 == 0:
            frames.add("ping", {"type": "ping"})
        delta = {"type": "text_delta", "text": piece}
        frames.add(
            "content_block_delta", {"type": "content_block_delta", "index": index, "delta": delta}, text=True
        )
    if a.error_after is not None:
        etype = _ANTHROPIC_TYPE.get(a.error_code, "api_error")
        err = {
            "type": "error",
            "error": {"type": etype, "message": a.error_message},
            "request_id": "req_fake0001",
        }
        frames.add("error", err)
        return frames
    frames.add("content_block_stop", {"type": "content_block_stop", "index": index})
    end_usage: dict[str, Any] = {
        "input_tokens": raw_input,
        "cache_creation_input_tokens": a.cache_write_tokens,
        "cache_read_input_tokens": a.cached_tokens,
        "output_tokens": a.out_tokens,
    }
    if a.reason_tokens:
        end_usage["output_tokens_details"] = {"thinking_tokens": a.reason_tokens}
    delta_ev: dict[str, Any] = {
        "type": "message_delta",
        "delta": {"stop_reason": _ANTHROPIC_STOP.get(a.finish, a.finish), "stop_sequence": None},
    }
    if a.usage:
        delta_ev["usage"] = end_usage
    frames.add("message_delta", delta_ev)
    frames.add("message_stop", {"type": "message_stop"}, terminal=True)
    return frames


def render_answer(a: Answer, fmt: str, flavor: str, model: str) -> Scenario:
    """Turn an `Answer` into raw steps for one endpoint format."""
    model = a.model or model
    flavor = a.flavor or flavor
    if fmt == "responses":
        frames = _responses_frames(a, model)
    elif fmt == "anthropic":
        frames = _anthropic_frames(a, model)
    else:
        frames = _chat_frames(a, model, flavor)
    items = list(frames.items)
    drop: set[int] = set(frames.terminal) if a.truncate else set()
    if a.stop_after_text is not None and a.stop_after_text <= len(frames.text_index):
        last = frames.text_index[a.stop_after_text - 1] if a.stop_after_text else 0
        drop.update(range(last + 1, len(items)))
    items = [item for i, item in enumerate(items) if i not in drop]
    if a.keepalive:
        spaced: list[tuple[str | None, str] | str] = [a.keepalive]
        for i, item in enumerate(items):
            spaced.append(item)
            if a.keepalive_every and (i + 1) % a.keepalive_every == 0:
                spaced.append(a.keepalive)
        items = spaced
    per_item = [sse([item], eol=a.eol, space=a.space) for item in items]
    body = b"".join(per_item)
    offsets: set[int] = set()
    if a.split_utf8:
        offsets.update(_utf8_cuts(body))
    if a.split_crlf:
        offsets.update(_crlf_cuts(body))
    if a.split_json:
        pos = 0
        for frame in per_item:
            offsets.add(pos + len(frame) // 2)
            pos += len(frame)
    if offsets or a.split:
        pieces = cut(body, size=a.split, at=offsets)
    elif a.rate:
        per_tick = max(1, round(a.rate * TICK))
        pieces = [b"".join(per_item[i : i + per_tick]) for i in range(0, len(per_item), per_tick)]
    else:
        pieces = per_item
    delay = a.delay if not a.rate else max(a.delay, max(1, round(a.rate * TICK)) / a.rate)
    headers = {"content-type": "text/event-stream; charset=utf-8", "cache-control": "no-cache"}
    headers.update(_request_id_header(fmt, flavor))
    headers.update(dict(a.headers))
    return Scenario.stream(pieces, headers=headers, delay=delay, end=a.end, framing=a.framing)


def _request_id_header(fmt: str, flavor: str) -> dict[str, str]:
    if fmt == "anthropic":
        return {"request-id": "req_fake0001"}
    if flavor == "openrouter":
        return {"X-Generation-Id": "gen-1763900000-FAKEfakeFAKE"}
    return {"x-request-id": "req_fake0001"}


def render_fault(f: HTTPFault, fmt: str, flavor: str, model: str) -> Scenario:
    """Turn an `HTTPFault` into a complete response in the endpoint's error format."""
    headers: dict[str, str] = dict(_request_id_header(fmt, flavor))
    if f.retry_after is not None:
        headers["retry-after"] = f.retry_after
    if f.retry_after_ms is not None:
        headers["retry-after-ms"] = f.retry_after_ms
    headers.update(dict(f.headers))
    if f.body is not None:
        headers["content-type"] = f.content_type or "application/json"
        return Scenario([Respond(f.status, f.body, tuple(headers.items()))])
    if f.html:
        headers["content-type"] = "text/html"
        return Scenario([Respond(f.status, html_page(f.status), tuple(headers.items()))])
    message = f.message or _DEFAULT_MESSAGES.get(f.status, _phrase(f.status))
    if f.status == 404 and f.message is None:
        message = f"The model `{model}` does not exist or you do not have access to it."
    body: dict[str, Any]
    if fmt == "anthropic":
        etype = _ANTHROPIC_TYPE.get(f.status, "api_error" if f.status >= 500 else "invalid_request_error")
        body = {"type": "error", "error": {"type": etype, "message": message}, "request_id": "req_fake0001"}
    elif flavor == "openrouter":
        err: dict[str, Any] = {"code": f.status, "message": message}
        if f.status >= 500:
            err["metadata"] = {
                "provider_name": "FakeProvider",
                "raw": _j({"error": {"message": "upstream failed"}}),
            }
        body = {"error": err, "user_id": "user_fake"}
    else:
        etype, code = _OPENAI_TYPE.get(
            f.status, ("server_error" if f.status >= 500 else "invalid_request_error", None)
        )
        if flavor == "deepseek":  # DeepSeek's bodies carry a generic code whatever the status
            etype = {401: "authentication_error", 402: "unknown_error", 429: "rate_limit_error"}.get(
                f.status, etype
            )
            code = "invalid_request_error"
        body = {"error": {"message": message, "type": etype, "param": None, "code": code}}
    headers["content-type"] = "application/json"
    return Scenario([Respond(f.status, _j(body).encode(), tuple(headers.items()))])


# ---------------------------------------------------------------------------------------------------
# Default (unscripted) behaviour


_TOKEN = re.compile(r"\s*\S+|\s+")


def tokens(text: str) -> list[str]:
    """Word-ish pieces (leading whitespace attached), roughly one per token."""
    return _TOKEN.findall(text)


def _content_text(content: Any) -> str:
    if isinstance(content, str):
        return content
    if isinstance(content, list):
        parts = []
        for part in content:
            if isinstance(part, dict) and isinstance(part.get("text"), str):
                parts.append(part["text"])
            elif isinstance(part, str):
                parts.append(part)
        return "\n".join(parts)
    return ""


def _conversation(req: RecordedRequest) -> tuple[str, str]:
    """(last user message, all text sent) of a request."""
    body = req.body if isinstance(req.body, dict) else {}
    items: Any = body.get("input") if req.fmt == "responses" else body.get("messages")
    if isinstance(items, str):
        items = [{"role": "user", "content": items}]
    last_user = ""
    everything = [_content_text(body.get("system")), _content_text(body.get("instructions"))]
    for item in items if isinstance(items, list) else []:
        if not isinstance(item, dict):
            continue
        text = _content_text(item.get("content"))
        everything.append(text)
        if item.get("role") == "user":
            last_user = text
    return last_user, "\n".join(t for t in everything if t)


def _thinking_on(req: RecordedRequest, model: str) -> bool:
    body = req.body if isinstance(req.body, dict) else {}
    if "reason" in model.lower():
        return True
    if req.fmt == "anthropic":
        thinking = body.get("thinking")
        return not (isinstance(thinking, dict) and thinking.get("type") == "disabled")
    if req.fmt == "responses":
        reasoning = body.get("reasoning")
        return isinstance(reasoning, dict) and reasoning.get("effort") not in ("none",) and bool(reasoning)
    if req.flavor == "deepseek":
        thinking = body.get("thinking")
        return not (isinstance(thinking, dict) and thinking.get("type") == "disabled")
    if req.flavor == "openrouter":
        reasoning = body.get("reasoning")
        return isinstance(reasoning, dict) and reasoning.get("enabled", True) is not False
    return False


def _max_tokens(req: RecordedRequest) -> int | None:
    body = req.body if isinstance(req.body, dict) else {}
    for name in ("max_output_tokens", "max_completion_tokens", "max_tokens"):
        value = body.get(name)
        if isinstance(value, int) and not isinstance(value, bool) and value > 0:
            return value
    return None


# Realistic answers (`--corpus DIR`: every *.md in it) for trying the window by hand: a prompt that
# names a file's stem ("math", "finance", "gfm", …) gets that file, any other one is given by model and
# prompt, so three models answer differently.
_CORPUS: list[tuple[str, str]] = []


def load_corpus(folder: str) -> int:
    from pathlib import Path

    _CORPUS[:] = [(p.stem.lower(), p.read_text(encoding="utf-8")) for p in sorted(Path(folder).glob("*.md"))]
    return len(_CORPUS)


def _corpus_answer(model: str, prompt: str) -> str | None:
    if not _CORPUS:
        return None
    import zlib

    pick = zlib.crc32(f"{model}\n{prompt}".encode())
    # a judge's prompt gets what a judge replies, so that scores and verdicts can be tried by hand: the sweep
    # judge (app.sweep.JUDGE_INSTRUCTION) a SCORE line, the arena's pair judge (app.arena) a VERDICT line
    if "`SCORE: N — one short reason`" in prompt:
        return f"SCORE: {4 + pick % 7} — {('clear and correct', 'misses a step', 'too long', 'accurate')[pick % 4]}"
    if "`VERDICT: A`" in prompt:
        return f"Both are close; one is clearer.\n\nVERDICT: {('A', 'B', 'TIE', 'A', 'B')[pick % 5]}"
    words = prompt.lower()
    for stem, text in _CORPUS:
        if any(part and part in words for part in stem.split("_")):
            return text
    return _CORPUS[pick % len(_CORPUS)][1]


def default_answer_text(model: str, prompt: str) -> str:
    if (text := _corpus_answer(model, prompt)) is not None:
        return text
    echo = " ".join(prompt.split())
    if len(echo) > 60:
        echo = echo[:60].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
    return (
        f"## Answer from {model}\n\n"
        f'You asked: "{echo}". This is a deterministic reply from the Triptych fake provider — naïve, '
        "but it streams like the real thing ✓.\n\n"
        "```python\n"
        "def fibonacci(n: int) -> list[int]:\n"
        "    seq = [0, 1]\n"
        "    while len(seq) < n:\n"
        "        seq.append(seq[-1] + seq[-2])\n"
        "    return seq[:n]\n"
        "```\n\n"
        "| Step | What |\n"
        "|---|---|\n"
        "| 1 | heading |\n"
        "| 2 | paragraph and code |\n"
        "| 3 | this table |\n\n"
        "- one\n"
        "- two\n"
        "- three\n"
    )


def default_reasoning_text(prompt: str) -> str:
    echo = " ".join(prompt.split())
    if len(echo) > 60:
        echo = echo[:60].rsplit(" ", 1)[0].rstrip(",.;:") + "…"
    return (
        f'The user asks: "{echo}". I will answer with a heading, a short paragraph, a small code block, '
        "a table and a list, and keep it brief."
    )


def default_answer(req: RecordedRequest, *, rate: float | None = None, model: str | None = None) -> Answer:
    """The deterministic markdown answer for a request (what unscripted models stream)."""
    name = model or req.model or "fake-model"
    prompt, sent = _conversation(req)
    text = tokens(default_answer_text(name, prompt))
    reasoning = tokens(default_reasoning_text(prompt)) if _thinking_on(req, name) else []
    limit = _max_tokens(req)
    finish = "stop"
    if limit is not None and len(reasoning) + len(text) > limit:
        finish = "length"
        reasoning = reasoning[:limit]
        text = text[: max(limit - len(reasoning), 0)]
    return Answer(
        text=text,
        reasoning=reasoning,
        input_tokens=8 + len(sent) // 4,
        finish=finish,
        rate=rate,
        keepalive=": keep-alive"
        if req.flavor == "deepseek"
        else ": OPENROUTER PROCESSING"
        if req.flavor == "openrouter"
        else None,
    )


_FAIL = re.compile(r"^(fail|flaky)-(\d{3})(-html)?$")


# ---------------------------------------------------------------------------------------------------
# The server


_MODEL_LISTS: dict[str, list[dict[str, Any]]] = {
    "openai": [
        {"id": m, "object": "model", "created": CREATED, "owned_by": "openai"}
        for m in ("gpt-6.2-astra", "gpt-6.2-sol", "gpt-6-luna")
    ],
    "deepseek": [
        {"id": m, "object": "model", "owned_by": "deepseek"} for m in ("deepseek-flash", "deepseek-v4-pro")
    ],
    "openrouter": [
        {
            "id": m,
            "name": m,
            "created": CREATED,
            "context_length": 1_000_000,
            "pricing": {"prompt": "0.000002", "completion": "0.00001"},
        }
        for m in ("deepseek/deepseek-flash", "anthropic/claude-sonnet-5-5", "openai/gpt-6.2-sol")
    ],
    "ollama": [
        {"id": m, "object": "model", "created": CREATED, "owned_by": "library"}
        for m in ("qwen3:8b", "llama3.3:70b")
    ],
    "lmstudio": [
        {"id": m, "object": "model", "owned_by": "organization_owner"} for m in ("qwen3-8b", "gemma-3-12b")
    ],
    "anthropic": [
        {"type": "model", "id": m, "display_name": d, "created_at": "2026-09-30T00:00:00Z"}
        for m, d in (
            ("claude-opus-5-5", "Claude Opus 5.5"),
            ("claude-sonnet-5-5", "Claude Sonnet 5.5"),
            ("claude-haiku-5-5", "Claude Haiku 5.5"),
        )
    ],
}

_PREFIX_FLAVOR = {
    "": "deepseek",
    "/v1": "openai",
    "/api/v1": "openrouter",
    "/ollama/v1": "ollama",
    "/ollama": "ollama",
    "/lmstudio/v1": "lmstudio",
    "/lmstudio": "lmstudio",
    "/deepseek": "deepseek",
    "/deepseek/v1": "deepseek",
}


def classify(method: str, path: str, headers: dict[str, str]) -> tuple[str, str]:
    """(format, flavor) of a request path."""
    route = path.split("?", 1)[0].rstrip("/")
    if re.search(r"/(batches|files)(/|$)", route):  # the batch APIs (tests/fakes/batch.py)
        return "batch", "anthropic" if "/messages/batches" in route else "openai"
    if method == "GET" and route.endswith("/models"):
        prefix = route[: -len("/models")]
        if "anthropic-version" in headers or "x-api-key" in headers:
            return "models", "anthropic"
        return "models", _PREFIX_FLAVOR.get(prefix, "openai")
    if method == "POST" and route.endswith("/chat/completions"):
        return "chat", _PREFIX_FLAVOR.get(route[: -len("/chat/completions")], "openai")
    if method == "POST" and route.endswith("/responses"):
        return "responses", "openai"
    if method == "POST" and route.endswith("/messages"):
        return "anthropic", "anthropic"
    return "unknown", "openai"


class FakeProviderServer:
    """The fake provider server. Use as `async with FakeProviderServer() as srv:` (own loop) or start it
    in a background thread with `run_in_thread()` / `start_in_thread()`.

    `tokens_per_second` paces *unscripted* default answers (None → env `TRIPTYCH_FAKE_RATE` or 400;
    0 → no pacing). `api_key`, when set, makes requests without that key fail with 401.
    """

    def __init__(
        self,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        tokens_per_second: float | None = None,
        api_key: str | None = None,
    ) -> None:
        self.host = host
        self.port = port
        if tokens_per_second is None:
            tokens_per_second = float(os.environ.get("TRIPTYCH_FAKE_RATE", DEFAULT_RATE))
        self.tokens_per_second = tokens_per_second
        self.api_key = api_key
        self.requests: list[RecordedRequest] = []
        self.models: dict[str, list[dict[str, Any]]] = {k: list(v) for k, v in _MODEL_LISTS.items()}
        self._scripts: dict[str, list[Item]] = {}
        self._path_scripts: dict[str, list[Item]] = {}
        self._counts: dict[str, int] = {}
        self._lock = threading.Lock()
        self._server: asyncio.Server | None = None
        self._conns: set[asyncio.Task[None]] = set()
        self._writers: set[asyncio.StreamWriter] = set()
        from tests.fakes.batch import FakeBatches

        self.batches = FakeBatches(self)

    # -- lifecycle -----------------------------------------------------------------------------------

    async def start(self) -> str:
        """Listen on (host, port); returns the base URL. Must run on the loop that will serve."""
        self._server = await asyncio.start_server(self._on_connection, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self.base_url

    async def stop(self) -> None:
        """Stop listening, cut every open connection and wait for the handlers to finish."""
        if self._server is not None:
            self._server.close()
        for writer in list(self._writers):
            with contextlib.suppress(Exception):
                writer.transport.abort()
        tasks = list(self._conns)
        for task in tasks:
            task.cancel()
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await self._server.wait_closed()
            self._server = None

    async def __aenter__(self) -> FakeProviderServer:
        await self.start()
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.stop()

    def run_in_thread(self) -> tuple[str, Callable[[], None]]:
        """Serve from a daemon thread with its own loop; returns (base URL, stop function)."""
        loop = asyncio.new_event_loop()
        ready = threading.Event()
        failure: list[BaseException] = []

        def main() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self.start())
            except BaseException as exc:
                failure.append(exc)
                ready.set()
                loop.close()
                return
            ready.set()
            try:
                loop.run_forever()
            finally:
                loop.run_until_complete(self.stop())
                loop.run_until_complete(loop.shutdown_asyncgens())
                loop.close()

        thread = threading.Thread(target=main, name="fake-provider-server", daemon=True)
        thread.start()
        ready.wait(10)
        if failure:
            raise failure[0]

        def stop() -> None:
            if thread.is_alive():
                loop.call_soon_threadsafe(loop.stop)
                thread.join(10)

        return self.base_url, stop

    @classmethod
    def start_in_thread(cls, **kwargs: Any) -> tuple[str, Callable[[], None]]:
        """A new server (constructor kwargs) served from a background thread: (base URL, stop)."""
        return cls(**kwargs).run_in_thread()

    # -- configuration -------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def url(self, provider: str) -> str:
        """The base URL to configure for a provider id."""
        return {
            "openai": f"{self.base_url}/v1",
            "anthropic": self.base_url,
            "deepseek": self.base_url,
            "openrouter": f"{self.base_url}/api/v1",
            "ollama": f"{self.base_url}/ollama/v1",
            "lmstudio": f"{self.base_url}/lmstudio/v1",
        }.get(provider, f"{self.base_url}/v1")

    def env(self) -> dict[str, str]:
        """Environment variables that point every built-in provider at this server (with dummy keys)."""
        env: dict[str, str] = {}
        for provider in ("openai", "anthropic", "deepseek", "openrouter", "ollama", "lmstudio"):
            env[f"{provider.upper()}_BASE_URL"] = self.url(provider)
        for provider in ("openai", "anthropic", "deepseek", "openrouter"):
            env[f"{provider.upper()}_API_KEY"] = self.api_key or "sk-fake-test-key"
        return env

    def script(self, model: str, *items: Item) -> None:
        """Queue replies for requests naming `model`; the last one repeats."""
        with self._lock:
            self._scripts[model] = list(items)

    def script_path(self, path: str, *items: Item) -> None:
        """Queue replies for requests to `path` (exact, without query); the last one repeats."""
        with self._lock:
            self._path_scripts[path.rstrip("/")] = list(items)

    def reset(self) -> None:
        """Forget every script, recorded request and flaky-model counter (between tests)."""
        with self._lock:
            self._scripts.clear()
            self._path_scripts.clear()
            self._counts.clear()
            self.requests.clear()
        self.batches.reset()

    def requests_for(self, model: str) -> list[RecordedRequest]:
        with self._lock:
            return [r for r in self.requests if r.model == model]

    @property
    def last(self) -> RecordedRequest:
        with self._lock:
            return self.requests[-1]

    # -- HTTP ----------------------------------------------------------------------------------------

    async def _on_connection(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._conns.add(task)
        self._writers.add(writer)
        try:
            while True:
                request = await self._read_request(reader)
                if request is None:
                    break
                keep = await self._serve(request, reader, writer)
                if not keep:
                    break
        except (ConnectionError, asyncio.IncompleteReadError, asyncio.LimitOverrunError, ValueError):
            pass
        except asyncio.CancelledError:
            pass
        finally:
            self._conns.discard(task)
            self._writers.discard(writer)
            with contextlib.suppress(Exception):
                writer.close()

    async def _read_request(self, reader: asyncio.StreamReader) -> RecordedRequest | None:
        first = await reader.read(1)
        if not first:
            return None
        if not first.isalpha():  # not HTTP (e.g. a TLS ClientHello): hang up like a plain server would
            raise ConnectionAbortedError("not an HTTP request")
        try:
            head = first + await reader.readuntil(b"\r\n\r\n")
        except asyncio.IncompleteReadError:
            return None
        lines = head.decode("latin-1").split("\r\n")
        method, path, _version = lines[0].split(" ", 2)
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if not line:
                continue
            name, _, value = line.partition(":")
            headers[name.strip().lower()] = value.strip()
        raw = b""
        if "content-length" in headers:
            raw = await reader.readexactly(int(headers["content-length"]))
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            parts = []
            while True:
                size_line = await reader.readuntil(b"\r\n")
                size = int(size_line.split(b";")[0].strip(), 16)
                if size == 0:
                    await reader.readuntil(b"\r\n")
                    break
                parts.append(await reader.readexactly(size))
                await reader.readexactly(2)
            raw = b"".join(parts)
        body: Any = None
        if raw:
            try:
                body = json.loads(raw)
            except ValueError:
                body = None
        fmt, flavor = classify(method, path, headers)
        request = RecordedRequest(method, path, headers, body, raw, fmt, flavor)
        with self._lock:
            self.requests.append(request)
        return request

    def _pick(self, request: RecordedRequest) -> Item | None:
        with self._lock:
            route = request.path.split("?", 1)[0].rstrip("/")
            queue = self._path_scripts.get(route)
            if queue is None and request.model is not None:
                queue = self._scripts.get(request.model)
            if not queue:
                return None
            return queue.pop(0) if len(queue) > 1 else queue[0]

    def _resolve(self, request: RecordedRequest) -> Scenario:
        if request.fmt == "batch" and self._authorized(request):
            return self.batches.handle(request)
        item = self._pick(request)
        if item is None:
            item = self._default(request)
        if callable(item) and not isinstance(item, Scenario | Answer | HTTPFault):
            item = item(request)
        model = request.model or "fake-model"
        if isinstance(item, Answer):
            return render_answer(item, request.fmt, request.flavor, model)
        if isinstance(item, HTTPFault):
            return render_fault(item, request.fmt, request.flavor, model)
        assert isinstance(item, Scenario), item
        return item

    def _authorized(self, request: RecordedRequest) -> bool:
        if not self.api_key:
            return True
        return (
            request.headers.get("authorization") == f"Bearer {self.api_key}"
            or request.headers.get("x-api-key") == self.api_key
        )

    def _default(self, request: RecordedRequest) -> Item:
        if not self._authorized(request):
            return HTTPFault(401, "Invalid API key" if request.fmt != "anthropic" else "invalid x-api-key")
        if request.fmt == "models":
            if request.flavor == "anthropic":
                data = self.models["anthropic"]
                return Scenario.respond(
                    200,
                    {
                        "data": data,
                        "has_more": False,
                        "first_id": data[0]["id"] if data else None,
                        "last_id": data[-1]["id"] if data else None,
                    },
                    {"request-id": "req_fake0001"},
                )
            return Scenario.respond(200, {"object": "list", "data": self.models.get(request.flavor, [])})
        if request.fmt == "unknown":
            return Scenario.respond(
                404, {"error": {"message": f"no route for {request.method} {request.path}"}}
            )
        full = request.model or "fake-model"
        name = full.rsplit("/", 1)[-1]
        rate = self.tokens_per_second or None
        match = _FAIL.match(name)
        if match:
            kind, status, html = match.group(1), int(match.group(2)), bool(match.group(3))
            with self._lock:
                count = self._counts.get(full, 0)
                self._counts[full] = count + 1
            if kind == "fail" or count == 0:
                retry = "1" if status in (429, 503, 529) else None
                return HTTPFault(status, html=html, retry_after=retry)
            return default_answer(request, rate=rate)
        if name == "fail-midstream":
            return replace(default_answer(request, rate=rate), error_after=6)
        if name == "stall":
            return Scenario(
                [
                    Head(
                        headers=(
                            ("content-type", "text/event-stream"),
                            *_request_id_header(request.fmt, request.flavor).items(),
                        )
                    ),
                    Stall(),
                ]
            )
        if name == "stall-keepalive":
            beat = sse([("ping", '{"type":"ping"}')]) if request.fmt == "anthropic" else b": keep-alive\n\n"
            return Scenario([Head(), Repeat((Send(beat), Sleep(0.5)))])
        if name == "truncated":
            return replace(default_answer(request, rate=rate), truncate=True)
        if name == "drop":
            return replace(default_answer(request, rate=rate), stop_after_text=10, end="close")
        if name == "garbage":
            return Scenario.stream(
                [sse([(None, '{"choices": [{"delta": {"content": "ok"}}]}')]), b"data: {not json\n\n"]
            )
        if name == "filtered":
            return Answer(text=("I can't help with that.",), finish="content_filter", rate=rate)
        if name == "slow":
            return default_answer(request, rate=20.0)
        if name == "echo-key-401":
            presented = request.headers.get("authorization") or request.headers.get("x-api-key") or "(none)"
            return HTTPFault(401, f"Invalid credentials presented: {presented}")
        return default_answer(request, rate=rate)

    async def _serve(
        self, request: RecordedRequest, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> bool:
        scenario = self._resolve(request)
        state = _ResponseState(request=request)
        keep = await self._run(scenario.steps, state, reader, writer)
        if keep is None:  # the steps ran out: end cleanly
            keep = await self._finish(state, writer)
        return keep

    async def _run(
        self,
        steps: Sequence[Step],
        state: _ResponseState,
        reader: asyncio.StreamReader,
        writer: asyncio.StreamWriter,
    ) -> bool | None:
        """Run steps; returns None to continue, or whether the connection may be reused."""
        for step in steps:
            if isinstance(step, Head):
                await self._head(step, state, writer)
            elif isinstance(step, Send):
                if not state.head_sent:
                    await self._head(Head(), state, writer)
                if state.framing == "chunked":
                    writer.write(b"%x\r\n%s\r\n" % (len(step.data), step.data))
                else:
                    writer.write(step.data)
                await writer.drain()
                if state.request is not None:
                    state.request.sent.append((time.time(), step.data))
            elif isinstance(step, Sleep):
                await asyncio.sleep(step.seconds)
            elif isinstance(step, Close):
                await writer.drain()
                if step.reset:
                    sock = writer.get_extra_info("socket")
                    if sock is not None:
                        sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
                    writer.transport.abort()
                else:
                    writer.close()
                return False
            elif isinstance(step, Stall):
                if not state.head_sent:
                    await self._head(Head(), state, writer)
                await writer.drain()
                while await reader.read(65536):
                    pass
                return False
            elif isinstance(step, End):
                return await self._finish(state, writer)
            elif isinstance(step, Respond):
                head = [f"HTTP/1.1 {step.status} {_phrase(step.status)}"]
                head.extend(f"{k}: {v}" for k, v in step.headers)
                head.append(f"content-length: {len(step.body)}")
                writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + step.body)
                await writer.drain()
                return True
            elif isinstance(step, Repeat):
                for _ in range(step.times) if step.times is not None else itertools.count():
                    result = await self._run(step.steps, state, reader, writer)
                    if result is not None:
                        return result
        return None

    async def _head(self, step: Head, state: _ResponseState, writer: asyncio.StreamWriter) -> None:
        state.head_sent = True
        state.framing = step.framing
        head = [f"HTTP/1.1 {step.status} {_phrase(step.status)}"]
        head.extend(f"{k}: {v}" for k, v in step.headers)
        head.append("transfer-encoding: chunked" if step.framing == "chunked" else "connection: close")
        writer.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
        await writer.drain()

    async def _finish(self, state: _ResponseState, writer: asyncio.StreamWriter) -> bool:
        if not state.head_sent:
            await self._head(Head(), state, writer)
        if state.framing == "chunked":
            writer.write(b"0\r\n\r\n")
            await writer.drain()
            return True
        await writer.drain()
        writer.close()
        return False


@dataclass
class _ResponseState:
    head_sent: bool = False
    framing: str = "chunked"
    extra: dict[str, Any] = field(default_factory=dict)
    request: RecordedRequest | None = None


# ---------------------------------------------------------------------------------------------------
# Collecting a provider stream (test helper)


@dataclass
class Collected:
    """Everything a provider stream yielded, with the usual questions answered."""

    events: list[Any]

    def _of(self, name: str) -> list[Any]:
        return [e for e in self.events if type(e).__name__ == name]

    @property
    def text(self) -> str:
        return "".join(e.text for e in self._of("TextDelta"))

    @property
    def reasoning(self) -> str:
        return "".join(e.text for e in self._of("ReasoningDelta"))

    @property
    def usage(self) -> Any:
        found = self._of("Usage")
        return found[-1] if found else None

    @property
    def finish(self) -> str | None:
        found = self._of("Finish")
        return found[-1].reason if found else None

    @property
    def error(self) -> Any:
        found = self._of("StreamError")
        return found[-1] if found else None

    @property
    def meta(self) -> Any:
        found = self._of("ResponseMeta")
        return found[0] if found else None

    @property
    def retries(self) -> list[Any]:
        return self._of("Retrying")

    @property
    def terminal(self) -> Any:
        return self.events[-1] if self.events else None


@functools.cache
def _ssl_context() -> ssl.SSLContext:
    return ssl.create_default_context()


def make_client(**kwargs: Any) -> httpx.AsyncClient:
    """An `httpx.AsyncClient` that reuses one SSL context (building one costs ~40 ms per client)."""
    kwargs.setdefault("verify", _ssl_context())
    return httpx.AsyncClient(**kwargs)


async def collect(stream: Any) -> Collected:
    """Drain an async iterator of stream events (closing it) into a `Collected`."""
    events = []
    try:
        async for event in stream:
            events.append(event)
    finally:
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()
    return Collected(events)


# ---------------------------------------------------------------------------------------------------
# Command line


def _exports(srv: FakeProviderServer) -> str:
    return "\n".join(f"export {k}={v}" for k, v in srv.env().items())


async def _main(host: str, port: int, rate: float | None, key: str | None) -> None:
    srv = FakeProviderServer(host=host, port=port, tokens_per_second=rate, api_key=key)
    await srv.start()
    print(f"Triptych fake provider server on {srv.base_url} ({srv.tokens_per_second:g} tokens/s)")
    print(_exports(srv))
    print("special models: " + ", ".join(SPECIAL_MODELS))
    sys.stdout.flush()
    try:
        await asyncio.Event().wait()
    finally:
        await srv.stop()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m tests.fakes.server", description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--rate", type=float, default=None, help="tokens per second (0 = no pacing)")
    parser.add_argument("--key", default=None, help="require this API key")
    parser.add_argument("--corpus", default=None, help="answer with the *.md files of this folder (by hand)")
    args = parser.parse_args(argv)
    if args.corpus:
        print(f"answers from {load_corpus(args.corpus)} files in {args.corpus}")
    with contextlib.suppress(KeyboardInterrupt):
        asyncio.run(_main(args.host, args.port, args.rate, args.key))


if __name__ == "__main__":
    # Run as tests.fakes.server, not __main__: tests/fakes/batch.py imports this module by that name,
    # and two copies of it (two Scenario classes) made every batch request by hand an empty answer.
    from tests.fakes.server import main as _main_of_module

    _main_of_module()
