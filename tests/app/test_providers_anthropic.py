"""AnthropicProvider (Messages API, version 2026-10-21) against the loopback fake server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.domain import Params
from app.events import Finish, ResponseMeta, StreamError, TextDelta, Usage
from app.providers.anthropic import AnthropicProvider
from app.providers.base import Message, ProviderConfig, ProviderRequest, make_provider
from tests.fakes import Answer, Collected, FakeProviderServer, HTTPFault, Scenario, collect, make_client, sse

KEY = "sk-ant-test-key"
ACCEPTS = frozenset({"max_tokens", "thinking", "effort", "system", "temperature"})


@pytest.fixture
async def srv() -> AsyncIterator[FakeProviderServer]:
    async with FakeProviderServer(tokens_per_second=0) as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


def provider(
    srv: FakeProviderServer, client: httpx.AsyncClient, base: str | None = None, **kw: Any
) -> AnthropicProvider:
    kw.setdefault("api_key", KEY)
    kw.setdefault("idle_timeout", 2.0)
    p = make_provider(ProviderConfig("anthropic", "anthropic", base or srv.url("anthropic"), **kw), client)
    assert isinstance(p, AnthropicProvider)
    return p


def request(*messages: Message, accepts: frozenset[str] = ACCEPTS, **params: Any) -> ProviderRequest:
    return ProviderRequest(
        "claude-sonnet-5-5", list(messages) or [Message("user", "Hi")], Params(**params), accepts=accepts
    )


async def ask(p: AnthropicProvider, req: ProviderRequest | None = None) -> Collected:
    return await collect(p.stream(req or request()))


# -- request ---------------------------------------------------------------------------------------


async def test_headers_and_body(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    req = request(
        Message("user", "one"),
        Message("assistant", "two", reasoning="secret thoughts", model="openai:gpt-6.2-sol"),
        Message("user", "three"),
        system="Answer in French.",
        temperature=0.4,
        max_tokens=2048,
        thinking=True,
        effort="high",
    )
    await ask(provider(srv, client), req)
    sent = srv.last
    assert (sent.method, sent.path) == ("POST", "/v1/messages")
    assert sent.headers["anthropic-version"] == "2026-10-21"
    assert sent.headers["x-api-key"] == KEY
    assert "authorization" not in sent.headers
    assert sent.headers["content-type"] == "application/json"
    assert sent.body == {
        "model": "claude-sonnet-5-5",
        "max_tokens": 2048,
        "system": "Answer in French.",
        "messages": [
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "two"},
            {"role": "user", "content": "three"},
        ],
        "thinking": {"type": "adaptive", "display": "summarized"},
        "output_config": {"effort": "high"},
        "stream": True,
    }


async def test_never_temperature_top_p_top_k_and_default_max_tokens(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    req = ProviderRequest(
        "claude-haiku-5-5",
        [Message("user", "x")],
        Params(temperature=0.9),
        accepts=frozenset({"temperature"}),
        extra_body={"temperature": 1, "top_p": 0.5, "top_k": 3, "metadata": {"user_id": "u1"}},
    )
    await ask(provider(srv, client), req)
    body = srv.last.body
    assert not {"temperature", "top_p", "top_k"} & body.keys()
    assert body["max_tokens"] == 8192
    assert body["metadata"] == {"user_id": "u1"}
    assert "thinking" not in body and "output_config" not in body and "system" not in body


async def test_thinking_disabled_and_unaccepted_params(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    p = provider(srv, client)
    assert p.build_body(request(thinking=False))["thinking"] == {"type": "disabled"}
    body = p.build_body(request(accepts=frozenset({"max_tokens"}), thinking=True, effort="max"))
    assert "thinking" not in body and "output_config" not in body


async def test_alternation_is_enforced(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    req = request(
        Message("assistant", "I spoke first"),
        Message("user", "a"),
        Message("user", "b"),
        Message("assistant", ""),
        Message("assistant", "c"),
        Message("assistant", "d"),
        Message("user", "e"),
    )
    await ask(provider(srv, client), req)
    assert srv.last.body["messages"] == [
        {"role": "user", "content": "(continued)"},
        {"role": "assistant", "content": "I spoke first"},
        {"role": "user", "content": "a\n\nb"},
        {"role": "assistant", "content": "c\n\nd"},
        {"role": "user", "content": "e"},
    ]


async def test_base_url_with_v1_suffix(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    await ask(provider(srv, client, base=srv.base_url + "/v1/"))
    assert srv.last.path == "/v1/messages"


# -- streams ---------------------------------------------------------------------------------------


TEXT = ["Bonjour", " — ", "ça va ", "✓ 你好", " 🎉", "\n\n```js\nlet x\n```"]
THINKING = ["Let me ", "think… ", "OK."]


async def test_text_thinking_usage_with_cache(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script(
        "claude-sonnet-5-5",
        Answer(
            text=TEXT,
            reasoning=THINKING,
            input_tokens=5000,
            cached_tokens=4000,
            cache_write_tokens=900,
            output_tokens=321,
            reasoning_tokens=120,
        ),
    )
    got = await ask(provider(srv, client))
    assert got.events[0] == ResponseMeta("req_fake0001", 200)
    assert got.text == "".join(TEXT)
    assert got.reasoning == "".join(THINKING)
    assert got.events[-2:] == [
        Usage(input=5000, cached_input=4000, cache_write=900, output=321, reasoning=120),
        Finish("stop"),
    ]


async def test_input_tokens_exclude_cache_on_the_wire(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    start_usage = {
        "input_tokens": 100,
        "cache_read_input_tokens": 4000,
        "cache_creation_input_tokens": 900,
        "output_tokens": 1,
    }
    events = [
        ("message_start", {"type": "message_start", "message": {"usage": start_usage}}),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "thinking_delta", "thinking": "hm"},
            },
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 1, "delta": {"type": "text_delta", "text": "ok"}},
        ),
        # message_delta usage is cumulative; here it repeats only the output side
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "end_turn"},
                "usage": {"output_tokens": 77, "output_tokens_details": {"thinking_tokens": 60}},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    srv.script("claude-sonnet-5-5", Scenario.stream([sse([(n, json.dumps(d)) for n, d in events])]))
    got = await ask(provider(srv, client))
    assert (got.reasoning, got.text) == ("hm", "ok")
    assert got.usage == Usage(input=5000, cached_input=4000, cache_write=900, output=77, reasoning=60)


AWKWARD = [
    {"split": 1},
    {"split": 6},
    {"split_utf8": True},
    {"split_json": True},
    {"eol": "\r\n", "split_crlf": True},
    {"eol": "\r", "split": 3},
    {"space": False},
    {"unknown_events": True, "split": 11},
    {"pings": True, "keepalive": ": keep-alive", "keepalive_every": 2},
]


@pytest.mark.parametrize("cuts", AWKWARD, ids=lambda c: ",".join(f"{k}={v!r}" for k, v in c.items()))
async def test_awkward_delivery(
    srv: FakeProviderServer, client: httpx.AsyncClient, cuts: dict[str, Any]
) -> None:
    srv.script(
        "claude-sonnet-5-5",
        Answer(text=TEXT * 3, reasoning=THINKING, input_tokens=50, cached_tokens=10, **cuts),
    )
    got = await ask(provider(srv, client))
    assert got.error is None, got.error
    assert (got.text, got.reasoning) == ("".join(TEXT * 3), "".join(THINKING))
    assert got.usage == Usage(input=50, cached_input=10, cache_write=0, output=21, reasoning=3)
    assert got.finish == "stop"


@pytest.mark.parametrize(
    ("stop_reason", "finish"),
    [
        ("end_turn", "stop"),
        ("stop_sequence", "stop"),
        ("pause_turn", "stop"),
        ("max_tokens", "length"),
        ("model_context_window_exceeded", "length"),
        ("tool_use", "tool_calls"),
        ("refusal", "content_filter"),
        ("something_new", "stop"),
    ],
)
async def test_stop_reasons(
    srv: FakeProviderServer, client: httpx.AsyncClient, stop_reason: str, finish: str
) -> None:
    events = [
        (
            "message_start",
            {"type": "message_start", "message": {"usage": {"input_tokens": 3, "output_tokens": 1}}},
        ),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 0, "delta": {"type": "text_delta", "text": "x"}},
        ),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": stop_reason, "stop_details": None},
                "usage": {"output_tokens": 2},
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    srv.script("claude-sonnet-5-5", Scenario.stream([sse([(n, json.dumps(d)) for n, d in events])]))
    got = await ask(provider(srv, client))
    assert got.events[-2:] == [Usage(input=3, output=2), Finish(finish)]


async def test_ignored_deltas_blocks_and_unknown_events(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    events = [
        (
            "message_start",
            {
                "type": "message_start",
                "message": {"usage": {"input_tokens": 7, "output_tokens": 1, "cache_read_input_tokens": 0}},
            },
        ),
        ("ping", {"type": "ping"}),
        (
            "content_block_start",
            {
                "type": "content_block_start",
                "index": 0,
                "content_block": {"type": "tool_use", "id": "t", "name": "f", "input": {}},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 0,
                "delta": {"type": "input_json_delta", "partial_json": '{"a":'},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "citations_delta", "citation": {"cited_text": "zzz"}},
            },
        ),
        (
            "content_block_delta",
            {
                "type": "content_block_delta",
                "index": 1,
                "delta": {"type": "signature_delta", "signature": "sig"},
            },
        ),
        ("brand_new_event", {"type": "brand_new_event", "data": 1}),
        (
            "content_block_delta",
            {"type": "content_block_delta", "index": 2, "delta": {"type": "text_delta", "text": "visible"}},
        ),
        (
            "message_delta",
            {
                "type": "message_delta",
                "delta": {"stop_reason": "tool_use"},
                "usage": {
                    "input_tokens": 7,
                    "output_tokens": 40,
                    "output_tokens_details": {"thinking_tokens": 0},
                },
            },
        ),
        ("message_stop", {"type": "message_stop"}),
    ]
    srv.script("claude-sonnet-5-5", Scenario.stream([sse([(n, json.dumps(d)) for n, d in events])]))
    got = await ask(provider(srv, client))
    assert got.events[1:] == [
        Usage(input=7, cached_input=0),  # the input side, said at message_start
        TextDelta("visible"),
        Usage(input=7, cached_input=0, output=40, reasoning=0),
        Finish("tool_calls"),
    ]


@pytest.mark.parametrize(
    ("error_code", "kind"),
    [(529, "overloaded"), (429, "rate_limit"), (500, "server"), (401, "auth"), (400, "bad_request")],
)
async def test_error_event_mid_stream(
    srv: FakeProviderServer, client: httpx.AsyncClient, error_code: int, kind: str
) -> None:
    srv.script(
        "claude-sonnet-5-5",
        Answer(
            text=["par", "tial", "x"],
            error_after=2,
            error_code=error_code,
            error_message="Overloaded" if error_code == 529 else "nope",
        ),
    )
    got = await ask(provider(srv, client))
    assert got.text == "partial"
    assert got.events[-1] == StreamError(kind, "Overloaded" if error_code == 529 else "nope")
    assert got.finish is None


async def test_truncated_without_message_stop(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("claude-sonnet-5-5", Answer(text=["complete", " text"], truncate=True))
    got = await ask(provider(srv, client))
    assert got.text == "complete text"
    assert got.events[-1] == StreamError("bad_stream", "connection closed mid-answer")
    # message_stop never came; the input side (message_start, issue #12) and the cumulative output count
    # of the message_delta that did arrive are kept: the provider bills them (issue #14)
    assert got.usage is not None and got.usage.input == 12 and got.usage.output == 2


async def test_input_usage_is_said_before_the_text(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    """Issue #12: an answer stopped mid-stream lost all usage, as it was held back until message_stop."""
    srv.script("claude-sonnet-5-5", Answer(text=["a", "b"], input_tokens=321, cached_tokens=300))
    got = await ask(provider(srv, client))
    first_text = next(i for i, e in enumerate(got.events) if isinstance(e, TextDelta))
    early = [e for e in got.events[:first_text] if isinstance(e, Usage)]
    assert early == [Usage(input=321, cached_input=300, cache_write=0)]


async def test_dropped_mid_answer(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("claude-sonnet-5-5", Answer(text=["a", "b", "c"], stop_after_text=2, end="close"))
    got = await ask(provider(srv, client))
    assert got.text == "ab"
    assert got.events[-1] == StreamError("bad_stream", "connection closed mid-answer")


async def test_http_529_and_401(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("claude-sonnet-5-5", HTTPFault(529, retry_after="2"))
    got = await ask(provider(srv, client))
    assert got.events == [
        ResponseMeta("req_fake0001", 529),
        StreamError("overloaded", "HTTP 529: Overloaded", 2.0, 529),
    ]
    srv.script("claude-sonnet-5-5", HTTPFault(401, message="invalid x-api-key"))
    assert (await ask(provider(srv, client))).error == StreamError(
        "auth", "HTTP 401: invalid x-api-key", None, 401
    )


async def test_default_answer_has_thinking_unless_disabled(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    got = await ask(provider(srv, client), request(Message("user", "Tell me about canvases")))
    assert got.reasoning.startswith('The user asks: "Tell me about canvases"')
    assert got.text.startswith("## Answer from claude-sonnet-5-5")
    assert got.finish == "stop"
    assert got.usage.reasoning and got.usage.output > got.usage.reasoning
    off = await ask(provider(srv, client), request(thinking=False))
    assert off.reasoning == ""


async def test_list_models_pages(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    models = await provider(srv, client).list_models()
    assert [m["id"] for m in models] == ["claude-opus-5-5", "claude-sonnet-5-5", "claude-haiku-5-5"]
    assert srv.last.path.startswith("/v1/models")
    assert srv.last.headers["anthropic-version"] == "2026-10-21"

    pages = [
        {"data": [{"id": "a"}], "has_more": True, "last_id": "a"},
        {"data": [{"id": "b"}], "has_more": False, "last_id": "b"},
    ]
    srv.script_path("/v1/models", *(Scenario.respond(200, page) for page in pages))
    models = await provider(srv, client).list_models()
    assert [m["id"] for m in models] == ["a", "b"]
    assert "after_id=a" in srv.last.path
