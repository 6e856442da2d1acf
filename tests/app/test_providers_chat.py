"""ChatProvider against the loopback fake server: request bodies, flavours, awkward streams, errors."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.domain import Params
from app.events import Finish, ReasoningDelta, ResponseMeta, StreamError, TextDelta, Usage
from app.providers.base import Message, ProviderConfig, ProviderRequest, make_provider
from app.providers.chat import OPENROUTER_REFERER, ChatProvider
from app.providers.http import ProviderHTTPError
from tests.fakes import Answer, Collected, FakeProviderServer, HTTPFault, Scenario, collect, make_client, sse

KEY = "sk-chat-test-key"


@pytest.fixture
async def srv() -> AsyncIterator[FakeProviderServer]:
    async with FakeProviderServer(tokens_per_second=0) as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


def provider(
    srv: FakeProviderServer, client: httpx.AsyncClient, pid: str = "deepseek", **kw: Any
) -> ChatProvider:
    kw.setdefault("api_key", KEY)
    kw.setdefault("idle_timeout", 2.0)
    cfg = ProviderConfig(pid, "chat", srv.url(pid), **kw)
    p = make_provider(cfg, client)
    assert isinstance(p, ChatProvider)
    return p


def request(
    *messages: Message, model: str = "m", accepts: frozenset[str] = frozenset(), **params: Any
) -> ProviderRequest:
    msgs = list(messages) or [Message("user", "Hello?")]
    return ProviderRequest(model, msgs, Params(**params), accepts=accepts)


async def ask(p: ChatProvider, req: ProviderRequest | None = None) -> Collected:
    return await collect(p.stream(req or request()))


ALL = frozenset({"temperature", "max_tokens", "thinking", "effort", "system"})

# -- request bodies --------------------------------------------------------------------------------


async def test_deepseek_body_headers_and_thinking(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    p = provider(srv, client, "deepseek")
    req = request(
        Message("user", "first"),
        Message("assistant", "answer", reasoning="why", model="deepseek:deepseek-flash"),
        Message("user", "second"),
        model="deepseek-flash",
        accepts=ALL,
        system="Be brief.",
        temperature=0.3,
        max_tokens=500,
        thinking=True,
        effort="high",
    )
    await ask(p, req)
    sent = srv.last
    assert sent.method == "POST" and sent.path == "/chat/completions"
    assert sent.headers["authorization"] == f"Bearer {KEY}"
    assert sent.headers["accept"] == "text/event-stream"
    assert sent.headers["content-type"] == "application/json"
    assert "http-referer" not in sent.headers and "x-title" not in sent.headers
    assert sent.body == {
        "model": "deepseek-flash",
        "messages": [
            {"role": "system", "content": "Be brief."},
            {"role": "user", "content": "first"},
            {"role": "assistant", "content": "answer", "reasoning_content": "why"},
            {"role": "user", "content": "second"},
        ],
        "stream": True,
        "stream_options": {"include_usage": True},
        "temperature": 0.3,
        "max_tokens": 500,
        "thinking": {"type": "enabled"},
        "reasoning_effort": "high",
    }


async def test_deepseek_thinking_disabled_and_effort_mapping(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    p = provider(srv, client, "deepseek")
    assert p.build_body(request(accepts=ALL, thinking=False, effort="high"))["thinking"] == {
        "type": "disabled"
    }
    assert "reasoning_effort" not in p.build_body(request(accepts=ALL, thinking=False, effort="high"))
    assert p.build_body(request(accepts=ALL, effort="xhigh"))["reasoning_effort"] == "max"
    assert p.build_body(request(accepts=ALL, effort="medium"))["reasoning_effort"] == "high"
    assert p.build_body(request(accepts=ALL, effort="none"))["thinking"] == {"type": "disabled"}


async def test_parameters_the_model_does_not_accept_are_never_sent(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    p = provider(srv, client, "deepseek")
    req = request(
        accepts=frozenset({"system"}), system="S", temperature=0.9, max_tokens=10, thinking=True, effort="max"
    )
    await ask(p, req)
    assert srv.last.body == {
        "model": "m",
        "messages": [{"role": "system", "content": "S"}, {"role": "user", "content": "Hello?"}],
        "stream": True,
        "stream_options": {"include_usage": True},
    }


async def test_model_without_system_role_gets_the_system_prompt_in_the_first_user_turn(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    p = provider(srv, client, "ollama", api_key=None, local=True)
    await ask(p, request(Message("user", "Q"), accepts=frozenset({"temperature"}), system="Rules."))
    assert srv.last.body["messages"] == [{"role": "user", "content": "Rules.\n\nQ"}]


async def test_no_key_no_authorization_header(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    p = provider(srv, client, "lmstudio", api_key=None, local=True)
    got = await ask(p)
    assert got.finish == "stop"
    assert "authorization" not in srv.last.headers
    assert srv.last.path == "/lmstudio/v1/chat/completions"


async def test_openrouter_attribution_headers_and_reasoning(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    p = provider(srv, client, "openrouter")
    await ask(p, request(model="deepseek/deepseek-flash", accepts=ALL, effort="low", max_tokens=64))
    sent = srv.last
    assert sent.path == "/api/v1/chat/completions"
    assert sent.headers["http-referer"] == OPENROUTER_REFERER
    assert sent.headers["x-title"] == "Triptych"
    assert sent.body["reasoning"] == {"effort": "low"}
    assert sent.body["max_tokens"] == 64
    assert "thinking" not in sent.body and "reasoning_effort" not in sent.body
    assert p.build_body(request(accepts=ALL, thinking=False, effort="low"))["reasoning"] == {"enabled": False}
    assert p.build_body(request(accepts=ALL, thinking=True))["reasoning"] == {"enabled": True}


async def test_openai_chat_uses_max_completion_tokens_and_reasoning_effort(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    p = provider(srv, client, "openai")
    await ask(p, request(accepts=ALL, max_tokens=99, effort="low", temperature=1.0))
    body = srv.last.body
    assert srv.last.path == "/v1/chat/completions"
    assert body["max_completion_tokens"] == 99 and "max_tokens" not in body
    assert body["reasoning_effort"] == "low"
    assert body["temperature"] == 1.0


async def test_config_headers_and_extra_body(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    p = provider(srv, client, "mycorp", headers={"X-Team": "blue"})
    req = ProviderRequest("m", [Message("user", "x")], extra_body={"seed": 7})
    await ask(p, req)
    assert srv.last.headers["x-team"] == "blue"
    assert srv.last.body["seed"] == 7
    assert srv.last.path == "/v1/chat/completions"


# -- streams ---------------------------------------------------------------------------------------


TEXT = ["Hé", "llo", " wörld ", "✓ 你好", " 🎉", "\n\n```py\nx = 1\n```"]
REASONING = ["Thinking ", "about ", "it… ", "done."]


@pytest.mark.parametrize("pid", ["deepseek", "openrouter", "openai", "ollama", "lmstudio"])
async def test_text_reasoning_usage_finish_per_flavour(
    srv: FakeProviderServer, client: httpx.AsyncClient, pid: str
) -> None:
    srv.script(
        "m",
        Answer(
            text=TEXT,
            reasoning=REASONING if pid != "openai" else (),
            input_tokens=40,
            cached_tokens=32,
            output_tokens=90,
            reasoning_tokens=50 if pid != "openai" else 0,
            cost=0.0012345,
        ),
    )
    got = await ask(provider(srv, client, pid, local=pid in ("ollama", "lmstudio")))
    assert isinstance(got.events[0], ResponseMeta)
    assert got.events[0].status == 200
    assert got.text == "".join(TEXT)
    assert got.reasoning == ("".join(REASONING) if pid != "openai" else "")
    if pid in ("ollama", "lmstudio"):
        assert got.usage == Usage(input=40, output=90)
    elif pid == "openrouter":
        assert got.usage == Usage(
            input=40, cached_input=32, cache_write=0, output=90, reasoning=50, cost_usd=0.0012345
        )
    else:
        assert got.usage == Usage(
            input=40, cached_input=32, output=90, reasoning=50 if pid == "deepseek" else 0
        )
    assert got.events[-2:] == [got.usage, Finish("stop")]
    # reasoning comes before text
    kinds = [type(e) for e in got.events if isinstance(e, TextDelta | ReasoningDelta)]
    assert kinds == sorted(kinds, key=lambda k: k is TextDelta)


AWKWARD = [
    {"split": 1},
    {"split": 3},
    {"split": 7},
    {"split_utf8": True},
    {"split_json": True},
    {"eol": "\r\n", "split_crlf": True},
    {"eol": "\r", "split": 5},
    {"eol": "\r\n", "split": 2, "space": False},
    {"space": False},
    {"keepalive": ": keep-alive", "keepalive_every": 2},
    {"keepalive": ": OPENROUTER PROCESSING", "keepalive_every": 1, "eol": "\r\n"},
    {"unknown_events": True, "split": 4},
    {"framing": "close", "split": 6},
]


@pytest.mark.parametrize("pid", ["deepseek", "openrouter"])
@pytest.mark.parametrize("cuts", AWKWARD, ids=lambda c: ",".join(f"{k}={v!r}" for k, v in c.items()))
async def test_awkward_delivery_gives_exact_results(
    srv: FakeProviderServer, client: httpx.AsyncClient, pid: str, cuts: dict[str, Any]
) -> None:
    srv.script("m", Answer(text=TEXT, reasoning=REASONING, input_tokens=21, cached_tokens=5, **cuts))
    got = await ask(provider(srv, client, pid))
    assert got.error is None, got.error
    assert got.text == "".join(TEXT)
    assert got.reasoning == "".join(REASONING)
    assert (got.usage.input, got.usage.cached_input, got.usage.output, got.usage.reasoning) == (21, 5, 10, 4)
    assert got.finish == "stop"


@pytest.mark.parametrize(
    ("finish", "expected"),
    [
        ("length", "length"),
        ("content_filter", "content_filter"),
        ("tool_calls", "tool_calls"),
        ("stop", "stop"),
    ],
)
async def test_finish_reasons(
    srv: FakeProviderServer, client: httpx.AsyncClient, finish: str, expected: str
) -> None:
    srv.script("m", Answer(text=["x"], finish=finish))
    assert (await ask(provider(srv, client, "openai"))).finish == expected


async def test_deepseek_usage_on_the_finish_chunk(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    chunks = [
        '{"id":"1","object":"chat.completion.chunk","choices":[{"index":0,"delta":{"role":"assistant","content":""},"finish_reason":null}]}',
        '{"id":"1","choices":[{"index":0,"delta":{"content":null,"reasoning_content":"hmm"},"finish_reason":null}]}',
        '{"id":"1","choices":[{"index":0,"delta":{"content":"Hi","reasoning_content":null},"finish_reason":null}]}',
        '{"id":"1","choices":[{"index":0,"delta":{"content":"","reasoning_content":null},"finish_reason":"length"}],'
        '"usage":{"prompt_tokens":100,"completion_tokens":30,"total_tokens":130,"prompt_tokens_details":{"cached_tokens":64},'
        '"prompt_cache_hit_tokens":64,"prompt_cache_miss_tokens":36,"completion_tokens_details":{"reasoning_tokens":28}}}',
        "[DONE]",
    ]
    srv.script("m", Scenario.stream([sse([(None, c) for c in chunks])]))
    got = await ask(provider(srv, client, "deepseek"))
    assert got.events[1:] == [
        ReasoningDelta("hmm"),
        TextDelta("Hi"),
        Usage(input=100, cached_input=64, output=30, reasoning=28),
        Finish("length"),
    ]


async def test_prompt_cache_hit_tokens_when_details_are_missing(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    chunks = [
        '{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"stop"}],'
        '"usage":{"prompt_tokens":10,"completion_tokens":1,"prompt_cache_hit_tokens":8}}',
        "[DONE]",
    ]
    srv.script("m", Scenario.stream([sse([(None, c) for c in chunks])]))
    assert (await ask(provider(srv, client, "deepseek"))).usage == Usage(input=10, cached_input=8, output=1)


async def test_done_without_finish_reason_is_stop_and_no_usage_is_fine(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script(
        "m", Scenario.stream([sse([(None, '{"choices":[{"delta":{"content":"ok"}}]}'), (None, "[DONE]")])])
    )
    got = await ask(provider(srv, client, "openai"))
    assert got.events[1:] == [TextDelta("ok"), Finish("stop")]


async def test_refusal_delta_is_text_and_content_filter(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    chunks = [
        '{"choices":[{"index":0,"delta":{"refusal":"I can\'t help."},"finish_reason":null}]}',
        '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}]}',
        "[DONE]",
    ]
    srv.script("m", Scenario.stream([sse([(None, c) for c in chunks])]))
    got = await ask(provider(srv, client, "openai"))
    assert (got.text, got.finish) == ("I can't help.", "content_filter")


# -- failures inside and at the end of the stream --------------------------------------------------


async def test_openrouter_midstream_error_chunk(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script(
        "m",
        Answer(
            text=["Par", "tial", " text", "never"],
            error_after=3,
            error_code=502,
            error_message="Provider disconnected unexpectedly",
        ),
    )
    got = await ask(provider(srv, client, "openrouter"))
    assert got.text == "Partial text"
    assert got.events[-1] == StreamError("server", "Provider disconnected unexpectedly", None, 502)
    assert got.finish is None


async def test_openrouter_midstream_error_with_string_code(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    chunk = (
        '{"id":"x","object":"chat.completion.chunk","error":{"code":"server_error","message":"Provider '
        'disconnected"},"choices":[{"index":0,"delta":{"content":""},"finish_reason":"error"}]}'
    )
    srv.script(
        "m", Scenario.stream([sse([(None, '{"choices":[{"delta":{"content":"a"}}]}'), (None, chunk)])])
    )
    got = await ask(provider(srv, client, "openrouter"))
    assert got.text == "a"
    assert got.events[-1] == StreamError("server", "Provider disconnected", None, None)


async def test_finish_reason_error_without_error_object(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    chunk = '{"choices":[{"index":0,"delta":{},"finish_reason":"error"}]}'
    srv.script("m", Scenario.stream([sse([(None, chunk), (None, "[DONE]")])]))
    got = await ask(provider(srv, client, "openrouter"))
    assert got.events[-1] == StreamError("server", "the provider reported an error mid-answer")


async def test_finish_reason_error_then_error_details_in_a_later_chunk(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    chunks = [
        '{"choices":[{"index":0,"delta":{"content":"a"},"finish_reason":"error"}]}',
        '{"error":{"code":429,"message":"Upstream rate limited"},"choices":[]}',
        "[DONE]",
    ]
    srv.script("m", Scenario.stream([sse([(None, c) for c in chunks])]))
    got = await ask(provider(srv, client, "openrouter"))
    assert got.events[-2:] == [TextDelta("a"), StreamError("rate_limit", "Upstream rate limited", None, 429)]


async def test_error_named_event_in_a_chat_stream(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", Scenario.stream([sse([("error", '{"message":"vLLM engine died","code":500}')])]))
    got = await ask(provider(srv, client, "mycorp"))
    assert got.events[-1] == StreamError("server", "vLLM engine died", None, 500)


async def test_reasoning_details_without_reasoning(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    chunks = [
        '{"choices":[{"index":0,"delta":{"reasoning_details":[{"type":"reasoning.summary","summary":"Sum"},'
        '{"type":"reasoning.text","text":"mary"}]}}]}',
        '{"choices":[{"index":0,"delta":{"reasoning":"!","reasoning_details":[{"type":"reasoning.text","text":"!"}]}}]}',
        '{"choices":[{"index":0,"delta":{"content":"x"},"finish_reason":"stop"}]}',
        "[DONE]",
    ]
    srv.script("m", Scenario.stream([sse([(None, c) for c in chunks])]))
    got = await ask(provider(srv, client, "openrouter"))
    assert (got.reasoning, got.text, got.finish) == ("Summary!", "x", "stop")


async def test_done_with_extra_space(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", Scenario.stream([b'data: {"choices":[{"delta":{"content":"y"}}]}\n\ndata:  [DONE] \n\n']))
    got = await ask(provider(srv, client, "openai"))
    assert (got.text, got.finish) == ("y", "stop")


@pytest.mark.parametrize(
    ("code", "kind"), [(429, "rate_limit"), (529, "overloaded"), (401, "auth"), (400, "bad_request")]
)
async def test_openai_style_error_chunk_kinds(
    srv: FakeProviderServer, client: httpx.AsyncClient, code: int, kind: str
) -> None:
    srv.script("m", Answer(text=["a", "b"], error_after=1, error_code=code, error_message="boom"))
    got = await ask(provider(srv, client, "openai"))
    assert got.text == "a"
    assert (got.error.kind, got.error.message) == (kind, "boom")


async def test_truncated_without_done_is_bad_stream(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script("m", Answer(text=["Hello", " there"], truncate=True))
    got = await ask(provider(srv, client, "deepseek"))
    assert got.text == "Hello there"
    assert got.events[-1] == StreamError("bad_stream", "connection closed mid-answer")
    # DeepSeek's usage rides on the finish chunk, which did arrive: kept, the provider bills it (issue #14)
    assert got.finish is None and got.usage is not None and got.usage.output == 2


async def test_cut_after_text_is_bad_stream(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script(
        "m", Answer(text=["Hello", " there", " never"], stop_after_text=2, framing="close", end="close")
    )
    got = await ask(provider(srv, client, "openrouter"))
    assert got.text == "Hello there"
    assert got.events[-1] == StreamError("bad_stream", "connection closed mid-answer")


async def test_partial_json_at_end_of_body_is_bad_stream(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script(
        "m",
        Scenario.stream(
            [
                sse([(None, '{"choices":[{"delta":{"content":"ok"}}]}')]),
                b'data: {"choices":[{"delta":{"content":"Hel',
            ]
        ),
    )
    got = await ask(provider(srv, client, "deepseek"))
    assert got.text == "ok"
    assert got.events[-1] == StreamError("bad_stream", "connection closed mid-answer")


async def test_invalid_json_mid_stream_stops_reading(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script(
        "m",
        Scenario.stream(
            [
                sse(
                    [
                        (None, '{"choices":[{"delta":{"content":"ok"}}]}'),
                        (None, "{oops"),
                        (None, '{"choices":[{"delta":{"content":"MORE"}}]}'),
                        (None, "[DONE]"),
                    ]
                )
            ]
        ),
    )
    got = await ask(provider(srv, client, "deepseek"))
    assert got.text == "ok"
    assert got.error.kind == "bad_stream"
    assert got.error.message.startswith("invalid JSON in the stream")


async def test_local_server_without_done_after_finish_reason_is_finished(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script("m", Answer(text=["local ", "answer"], truncate=True))
    local = await ask(provider(srv, client, "ollama", api_key=None, local=True))
    assert local.events[1:] == [
        TextDelta("local "),
        TextDelta("answer"),
        Usage(input=12, output=2),
        Finish("stop"),
    ]
    remote = await ask(provider(srv, client, "openrouter"))
    assert remote.error == StreamError("bad_stream", "connection closed mid-answer")


async def test_local_server_cut_before_finish_reason_is_still_bad_stream(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script("m", Answer(text=["a", "b", "c"], stop_after_text=2))
    got = await ask(provider(srv, client, "ollama", api_key=None, local=True))
    assert got.events[-1] == StreamError("bad_stream", "connection closed mid-answer")


async def test_http_error_before_stream(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", HTTPFault(401))
    got = await ask(provider(srv, client, "deepseek"))
    assert got.events == [
        ResponseMeta("req_fake0001", 401),
        StreamError("auth", "HTTP 401: Incorrect API key provided", None, 401),
    ]


# -- default (unscripted) answers and list_models --------------------------------------------------


async def test_default_answer_echoes_and_reasons(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    got = await ask(
        provider(srv, client, "deepseek"),
        request(Message("user", "Explain monads ✓ " * 10), model="deepseek-flash"),
    )
    assert got.text.startswith('## Answer from deepseek-flash\n\nYou asked: "Explain monads ✓ Explain')
    assert "```python" in got.text and "| Step | What |" in got.text and "- three" in got.text
    assert got.reasoning.startswith('The user asks: "Explain monads')
    assert got.usage.output > got.usage.reasoning > 0
    assert got.finish == "stop"
    no_thinking = await ask(provider(srv, client, "deepseek"), request(accepts=ALL, thinking=False))
    assert no_thinking.reasoning == ""


async def test_default_answer_respects_max_tokens(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    got = await ask(provider(srv, client, "openai"), request(accepts=ALL, max_tokens=5))
    assert got.finish == "length"
    assert got.usage.output == 5


async def test_list_models(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    models = await provider(srv, client, "deepseek").list_models()
    assert [m["id"] for m in models] == ["deepseek-flash", "deepseek-v4-pro"]
    assert srv.last.method == "GET" and srv.last.path == "/models"
    assert srv.last.headers["authorization"] == f"Bearer {KEY}"
    srv.script_path("/api/v1/models", HTTPFault(401))
    with pytest.raises(ProviderHTTPError) as info:
        await provider(srv, client, "openrouter").list_models()
    assert info.value.error.kind == "auth"


# -- the fake server itself, as the GUI and subprocess tests use it -------------------------------


def test_fake_server_in_a_background_thread_with_default_pacing() -> None:
    import time

    url, stop = FakeProviderServer.start_in_thread(tokens_per_second=400)
    try:
        body = {"model": "deepseek-flash", "messages": [{"role": "user", "content": "hello"}], "stream": True}
        started = time.monotonic()
        with (
            httpx.Client() as sync_client,
            sync_client.stream("POST", f"{url}/chat/completions", json=body) as resp,
        ):
            lines = [line for line in resp.iter_lines() if line.startswith("data:")]
        elapsed = time.monotonic() - started
        assert resp.status_code == 200
        assert lines[-1] == "data: [DONE]"
        assert 0.15 < elapsed < 3  # ~140 tokens at 400 tokens/s
    finally:
        stop()
