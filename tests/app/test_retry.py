"""stream_with_retries: retries only before the first token, backoff and Retry-After, over real sockets."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from app.domain import Params
from app.events import Finish, ReasoningDelta, ResponseMeta, Retrying, StreamError, TextDelta
from app.providers.base import Message, ProviderConfig, ProviderRequest, make_provider
from app.providers.retry import backoff_delay, stream_with_retries
from tests.fakes import Answer, FakeProviderServer, HTTPFault, collect, make_client


@pytest.fixture
async def srv() -> AsyncIterator[FakeProviderServer]:
    async with FakeProviderServer(tokens_per_second=0) as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


class Sleeps:
    """A recording stand-in for asyncio.sleep (no real waiting)."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, delay: float) -> None:
        self.delays.append(delay)


def provider(srv: FakeProviderServer, client: httpx.AsyncClient, pid: str = "openai", **kw: Any) -> Any:
    protocol = {"anthropic": "anthropic"}.get(pid, "chat")
    return make_provider(
        ProviderConfig(pid, protocol, srv.url(pid), api_key="k", idle_timeout=2.0, **kw), client
    )


REQ = ProviderRequest("m", [Message("user", "hi")], Params())


async def test_429_with_retry_after_then_success(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", HTTPFault(429, message="slow down", retry_after="3"), Answer(text=["ok"]))
    sleeps = Sleeps()
    got = await collect(stream_with_retries(provider(srv, client), REQ, sleep=sleeps, rng=lambda: 0.0))
    error = StreamError("rate_limit", "HTTP 429: slow down", 3.0, 429)
    assert got.events[:3] == [
        ResponseMeta("req_fake0001", 429),
        Retrying(1, 2, 3.0, error),
        ResponseMeta("req_fake0001", 200),
    ]
    assert got.text == "ok" and got.finish == "stop"
    assert sleeps.delays == [3.0]
    assert len(srv.requests) == 2


async def test_backoff_then_give_up_with_the_last_error(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script("m", HTTPFault(500, message="e1"), HTTPFault(502, message="e2"), HTTPFault(503, message="e3"))
    sleeps = Sleeps()
    got = await collect(stream_with_retries(provider(srv, client), REQ, sleep=sleeps, rng=lambda: 0.5))
    assert [r.attempt for r in got.retries] == [1, 2]
    assert [r.error.message for r in got.retries] == ["HTTP 500: e1", "HTTP 502: e2"]
    assert sleeps.delays == [0.75, 1.5]  # 1 s and 2 s × jitter 0.75
    assert got.events[-1] == StreamError("server", "HTTP 503: e3", None, 503)
    assert len(srv.requests) == 3


@pytest.mark.parametrize("status", [529, 503])
async def test_overloaded_and_server_are_retried(
    srv: FakeProviderServer, client: httpx.AsyncClient, status: int
) -> None:
    srv.script("m", HTTPFault(status), Answer(text=["fine"]))
    got = await collect(stream_with_retries(provider(srv, client, "anthropic"), REQ, sleep=Sleeps()))
    assert got.text == "fine" and len(got.retries) == 1


@pytest.mark.parametrize("status", [400, 401, 402, 403, 404])
async def test_client_errors_are_not_retried(
    srv: FakeProviderServer, client: httpx.AsyncClient, status: int
) -> None:
    srv.script("m", HTTPFault(status), Answer(text=["never"]))
    sleeps = Sleeps()
    got = await collect(stream_with_retries(provider(srv, client), REQ, sleep=sleeps))
    assert got.retries == [] and sleeps.delays == []
    assert got.error.status == status
    assert len(srv.requests) == 1


async def test_no_retry_after_the_first_token(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", Answer(text=["partial", "x"], error_after=1, error_code=502), Answer(text=["never"]))
    got = await collect(stream_with_retries(provider(srv, client, "openrouter"), REQ, sleep=Sleeps()))
    assert got.text == "partial"
    assert got.retries == []
    assert got.events[-1].kind == "server"
    assert len(srv.requests) == 1


async def test_reasoning_counts_as_the_first_token(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script(
        "m", Answer(text=["t"], reasoning=["r"], error_after=0, error_code=529), Answer(text=["never"])
    )
    got = await collect(stream_with_retries(provider(srv, client, "deepseek"), REQ, sleep=Sleeps()))
    assert [type(e) for e in got.events if isinstance(e, TextDelta | ReasoningDelta)] == [ReasoningDelta]
    assert got.retries == [] and got.error.kind == "overloaded"


async def test_error_before_first_token_inside_a_200_is_retried(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script(
        "m",
        Answer(text=["x"], error_after=0, error_code=529, error_message="Overloaded"),
        Answer(text=["ok"]),
    )
    got = await collect(stream_with_retries(provider(srv, client, "anthropic"), REQ, sleep=Sleeps()))
    assert got.retries[0].error == StreamError("overloaded", "Overloaded")
    assert (got.text, got.finish) == ("ok", "stop")


async def test_network_errors_are_retried(client: httpx.AsyncClient) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    cfg = ProviderConfig("openai", "chat", f"http://127.0.0.1:{port}/v1")
    sleeps = Sleeps()
    got = await collect(
        stream_with_retries(make_provider(cfg, client), REQ, max_retries=3, sleep=sleeps, rng=lambda: 1.0)
    )
    assert sleeps.delays == [1.0, 2.0, 4.0]
    assert got.events[-1].kind == "network"
    assert [r.max_retries for r in got.retries] == [3, 3, 3]


async def test_a_cut_before_the_first_token_is_retried_but_not_a_cut_after_it(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    # issue #14: a stream that dies before any text is retried like a network error
    srv.script(
        "m", Answer(text=["x"], stop_after_text=0, end="close", framing="close"), Answer(text=["second"])
    )
    got = await collect(stream_with_retries(provider(srv, client), REQ, sleep=Sleeps()))
    assert [r.error.message for r in got.retries] == ["the connection closed before any text arrived"]
    assert got.text == "second" and got.finish == "stop"
    srv.script(
        "m", Answer(text=["x", "y"], stop_after_text=1, end="close", framing="close"), Answer(text=["never"])
    )
    got = await collect(stream_with_retries(provider(srv, client), REQ, sleep=Sleeps()))
    assert got.error.kind == "bad_stream" and got.retries == [] and got.text == "x"


async def test_max_retries_zero(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", HTTPFault(429), Answer(text=["never"]))
    got = await collect(stream_with_retries(provider(srv, client), REQ, max_retries=0, sleep=Sleeps()))
    assert got.retries == [] and got.error.kind == "rate_limit"


async def test_default_flaky_model(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    req = ProviderRequest("flaky-529", [Message("user", "hi")])
    got = await collect(stream_with_retries(provider(srv, client, "anthropic"), req, sleep=Sleeps()))
    assert len(got.retries) == 1 and got.retries[0].delay == 1.0  # retry-after: 1
    assert got.finish == "stop" and got.text.startswith("## Answer from flaky-529")


async def test_cancel_during_backoff_propagates(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", HTTPFault(429, retry_after="60"))
    seen: list[Any] = []
    retrying = asyncio.Event()

    async def consume() -> None:
        async for event in stream_with_retries(provider(srv, client), REQ):
            seen.append(event)
            if isinstance(event, Retrying):
                retrying.set()

    task = asyncio.create_task(consume())
    await asyncio.wait_for(retrying.wait(), 5)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert isinstance(seen[-1], Retrying) and seen[-1].delay == 60.0


def test_backoff_delay_rules() -> None:
    err = StreamError("server", "x")
    assert backoff_delay(1, err, lambda: 0.0) == 0.5
    assert backoff_delay(1, err, lambda: 1.0) == 1.0
    assert backoff_delay(3, err, lambda: 1.0) == 4.0
    assert backoff_delay(10, err, lambda: 1.0) == 30.0  # capped
    assert backoff_delay(1, StreamError("rate_limit", "x", retry_after=500), lambda: 0.5) == 120.0
    assert backoff_delay(1, StreamError("rate_limit", "x", retry_after=-4), lambda: 0.5) == 0.0
    assert backoff_delay(2, StreamError("rate_limit", "x", retry_after=0.25), lambda: 0.5) == 0.25


async def test_passes_events_through_unchanged(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", Answer(text=["a", "b"], input_tokens=3))
    direct = await collect(provider(srv, client).stream(REQ))
    wrapped = await collect(stream_with_retries(provider(srv, client), REQ, sleep=Sleeps()))
    assert wrapped.events == direct.events
    assert isinstance(wrapped.events[-1], Finish)
