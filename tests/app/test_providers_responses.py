"""ResponsesProvider (OpenAI Responses API) against the loopback fake server."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.domain import Params
from app.events import Finish, ReasoningDelta, ResponseMeta, StreamError, TextDelta, Usage
from app.providers.base import Message, ProviderConfig, ProviderRequest, make_provider
from app.providers.responses import ResponsesProvider
from tests.fakes import Answer, Collected, FakeProviderServer, HTTPFault, Scenario, collect, make_client, sse

KEY = "sk-resp-test-key"
REASONING_MODEL = frozenset({"max_tokens", "effort", "thinking", "temperature", "system"})
PLAIN_MODEL = frozenset({"max_tokens", "temperature", "system"})


@pytest.fixture
async def srv() -> AsyncIterator[FakeProviderServer]:
    async with FakeProviderServer(tokens_per_second=0) as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


def provider(srv: FakeProviderServer, client: httpx.AsyncClient, **kw: Any) -> ResponsesProvider:
    kw.setdefault("api_key", KEY)
    kw.setdefault("idle_timeout", 2.0)
    p = make_provider(ProviderConfig("openai", "responses", srv.url("openai"), **kw), client)
    assert isinstance(p, ResponsesProvider)
    return p


def request(*messages: Message, accepts: frozenset[str] = REASONING_MODEL, **params: Any) -> ProviderRequest:
    return ProviderRequest(
        "gpt-6.2-sol", list(messages) or [Message("user", "Hi")], Params(**params), accepts=accepts
    )


async def ask(p: ResponsesProvider, req: ProviderRequest | None = None) -> Collected:
    return await collect(p.stream(req or request()))


# -- request bodies --------------------------------------------------------------------------------


async def test_body_with_instructions_input_reasoning(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    req = request(
        Message("user", "one"),
        Message("assistant", "two", reasoning="never sent"),
        Message("user", "three"),
        system="You are terse.",
        max_tokens=300,
        effort="high",
        temperature=0.5,
    )
    await ask(provider(srv, client), req)
    sent = srv.last
    assert sent.path == "/v1/responses"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.body == {
        "model": "gpt-6.2-sol",
        "instructions": "You are terse.",
        "input": [
            {"role": "user", "content": "one"},
            {"role": "assistant", "content": "two"},
            {"role": "user", "content": "three"},
        ],
        "stream": True,
        "store": False,
        "max_output_tokens": 300,
        "reasoning": {"effort": "high", "summary": "auto"},
    }


async def test_temperature_only_with_effort_none_or_no_reasoning(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    p = provider(srv, client)
    body = p.build_body(request(effort="none", temperature=0.2))
    assert body["temperature"] == 0.2 and body["reasoning"] == {"effort": "none"}
    assert "temperature" not in p.build_body(request(effort="low", temperature=0.2))
    assert "temperature" not in p.build_body(request(temperature=0.2))  # reasoning model, default effort
    plain = p.build_body(request(accepts=PLAIN_MODEL, temperature=0.7, effort="high"))
    assert plain["temperature"] == 0.7 and "reasoning" not in plain
    assert "temperature" not in p.build_body(
        request(accepts=frozenset({"effort"}), temperature=0.7, effort="none")
    )


async def test_thinking_asks_for_a_summary(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    p = provider(srv, client)
    assert p.build_body(request(thinking=True))["reasoning"] == {"summary": "auto"}
    assert "reasoning" not in p.build_body(request(thinking=False))
    assert "instructions" not in p.build_body(request())


# -- streams ---------------------------------------------------------------------------------------


TEXT = ["Voilà", " — ", "naïve ", "café ✓", " 🎉", "\n\n| a | b |\n|---|---|"]
REASONING = ["**Plan**\n\n", "Look ", "it up."]


async def test_text_reasoning_usage_and_completed(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script(
        "gpt-6.2-sol",
        Answer(
            text=TEXT,
            reasoning=REASONING,
            input_tokens=1200,
            cached_tokens=1024,
            output_tokens=400,
            reasoning_tokens=256,
        ),
    )
    got = await ask(provider(srv, client))
    assert got.events[0] == ResponseMeta("req_fake0001", 200)
    assert got.text == "".join(TEXT)
    assert got.reasoning == "".join(REASONING)
    assert got.events[-2:] == [
        Usage(input=1200, cached_input=1024, output=400, reasoning=256),
        Finish("stop"),
    ]


AWKWARD = [
    {"split": 1},
    {"split": 5},
    {"split_utf8": True},
    {"split_json": True},
    {"eol": "\r\n", "split_crlf": True},
    {"eol": "\r", "split": 9},
    {"space": False, "split": 4},
    {"keepalive": ": keep-alive", "keepalive_every": 3},
    {"unknown_events": True},
]


@pytest.mark.parametrize("cuts", AWKWARD, ids=lambda c: ",".join(f"{k}={v!r}" for k, v in c.items()))
async def test_awkward_delivery(
    srv: FakeProviderServer, client: httpx.AsyncClient, cuts: dict[str, Any]
) -> None:
    srv.script("gpt-6.2-sol", Answer(text=TEXT, reasoning=REASONING, input_tokens=30, **cuts))
    got = await ask(provider(srv, client))
    assert got.error is None, got.error
    assert (got.text, got.reasoning) == ("".join(TEXT), "".join(REASONING))
    assert got.usage == Usage(input=30, cached_input=0, output=9, reasoning=3)
    assert got.finish == "stop"


@pytest.mark.parametrize(("finish", "expected"), [("length", "length"), ("content_filter", "content_filter")])
async def test_incomplete(
    srv: FakeProviderServer, client: httpx.AsyncClient, finish: str, expected: str
) -> None:
    srv.script("gpt-6.2-sol", Answer(text=["cut"], finish=finish, input_tokens=5))
    got = await ask(provider(srv, client))
    assert got.events[-2:] == [Usage(input=5, cached_input=0, output=1, reasoning=0), Finish(expected)]


async def test_incomplete_with_unknown_reason_is_length(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    event = {
        "type": "response.incomplete",
        "response": {"status": "incomplete", "incomplete_details": {"reason": "max_tool_calls"}},
    }
    srv.script("gpt-6.2-sol", Scenario.stream([sse([("response.incomplete", json.dumps(event))])]))
    assert (await ask(provider(srv, client))).events[-1] == Finish("length")


async def test_refusal_is_text_and_content_filter(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    events = [
        {"type": "response.created", "response": {"status": "in_progress"}},
        {"type": "response.refusal.delta", "delta": "I can't "},
        {"type": "response.refusal.delta", "delta": "help with that."},
        {"type": "response.refusal.done", "refusal": "I can't help with that."},
        {
            "type": "response.completed",
            "response": {"status": "completed", "usage": {"input_tokens": 9, "output_tokens": 6}},
        },
    ]
    srv.script("gpt-6.2-sol", Scenario.stream([sse([(e["type"], json.dumps(e)) for e in events])]))
    got = await ask(provider(srv, client))
    assert got.text == "I can't help with that."
    assert got.events[-2:] == [Usage(input=9, output=6), Finish("content_filter")]


async def test_raw_reasoning_text_and_multi_part_summaries(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    events = [
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": "rs_1",
            "summary_index": 0,
            "delta": "Part one.",
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": "rs_1",
            "summary_index": 1,
            "delta": "Part two",
        },
        {
            "type": "response.reasoning_summary_text.delta",
            "item_id": "rs_1",
            "summary_index": 1,
            "delta": ".",
        },
        {"type": "response.reasoning_text.delta", "item_id": "rs_2", "content_index": 0, "delta": "raw"},
        {"type": "response.output_text.delta", "delta": "Answer"},
        {"type": "response.completed", "response": {"status": "completed"}},
    ]
    srv.script("gpt-6.2-sol", Scenario.stream([sse([(e["type"], json.dumps(e)) for e in events])]))
    got = await ask(provider(srv, client))
    assert got.reasoning == "Part one.\n\nPart two.\n\nraw"
    assert got.text == "Answer"
    assert got.usage is None and got.finish == "stop"


async def test_response_failed(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script(
        "gpt-6.2-sol",
        Answer(
            text=["Some", " text", " lost"],
            error_after=2,
            error_code=500,
            error_message="The server had an error while processing your request.",
        ),
    )
    got = await ask(provider(srv, client))
    assert got.text == "Some text"
    assert got.events[-1] == StreamError("server", "The server had an error while processing your request.")


async def test_response_failed_rate_limit_code(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("gpt-6.2-sol", Answer(text=["x"], error_after=0, error_code=429, error_message="slow down"))
    got = await ask(provider(srv, client))
    assert got.events[-1] == StreamError("rate_limit", "slow down")


async def test_top_level_error_event(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script(
        "gpt-6.2-sol",
        Answer(
            text=["a", "b"],
            error_after=1,
            error_event=True,
            error_code=529,
            error_message="The engine is currently overloaded",
        ),
    )
    got = await ask(provider(srv, client))
    assert got.text == "a"
    assert got.events[-1] == StreamError("overloaded", "The engine is currently overloaded")


async def test_nested_error_event(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    event = {
        "type": "error",
        "error": {
            "type": "invalid_request_error",
            "code": "context_length_exceeded",
            "message": "Your input exceeds the context window of this model.",
        },
    }
    srv.script("gpt-6.2-sol", Scenario.stream([sse([("error", json.dumps(event))])]))
    got = await ask(provider(srv, client))
    assert got.events[-1] == StreamError(
        "bad_request", "Your input exceeds the context window of this model."
    )


async def test_truncated_without_completed_is_bad_stream(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script("gpt-6.2-sol", Answer(text=["all ", "text"], truncate=True))
    got = await ask(provider(srv, client))
    assert got.text == "all text"
    assert got.events[-1] == StreamError("bad_stream", "connection closed mid-answer")
    assert got.usage is None


async def test_dropped_connection_is_bad_stream(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("gpt-6.2-sol", Answer(text=["a", "b", "c"], stop_after_text=1, end="reset"))
    got = await ask(provider(srv, client))
    assert got.text == "a"
    assert got.events[-1] == StreamError("bad_stream", "connection closed mid-answer")


async def test_http_errors(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("gpt-6.2-sol", HTTPFault(429, message="Rate limit reached for gpt-6.2-sol", retry_after="3"))
    got = await ask(provider(srv, client))
    assert got.events == [
        ResponseMeta("req_fake0001", 429),
        StreamError("rate_limit", "HTTP 429: Rate limit reached for gpt-6.2-sol", 3.0, 429),
    ]


async def test_default_answer_with_reasoning_summary(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    got = await ask(provider(srv, client), request(Message("user", "What is SSE?"), effort="low"))
    assert got.reasoning.startswith('The user asks: "What is SSE?"')
    assert got.text.startswith("## Answer from gpt-6.2-sol")
    assert got.finish == "stop"
    assert got.usage.output == got.usage.reasoning + len([e for e in got.events if isinstance(e, TextDelta)])
    assert [type(e) for e in got.events[1:3]] == [ReasoningDelta, ReasoningDelta]


async def test_list_models(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    models = await provider(srv, client).list_models()
    assert [m["id"] for m in models] == ["gpt-6.2-astra", "gpt-6.2-sol", "gpt-6-luna"]
    assert srv.last.path == "/v1/models"
