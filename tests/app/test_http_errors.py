"""HTTP statuses, error bodies, transport failures and timeouts → StreamError (real sockets, real httpx)."""

from __future__ import annotations

import asyncio
import email.utils
import gzip
import json
import socket
import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app.events import ResponseMeta, StreamError
from app.providers.base import Message, ProviderConfig, ProviderRequest, make_provider
from app.providers.http import error_from_response, parse_retry_after, stream_sse
from tests.fakes import (
    Answer,
    Close,
    FakeProviderServer,
    Head,
    HTTPFault,
    Repeat,
    Respond,
    Scenario,
    Send,
    Sleep,
    Stall,
    collect,
    make_client,
    sse,
)

KEY = "-".join(("sk", "secret", "key", "0123456789"))  # put together: no key-like literal in the source


@pytest.fixture
async def srv() -> AsyncIterator[FakeProviderServer]:
    async with FakeProviderServer(tokens_per_second=0) as server:
        yield server


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    async with make_client() as c:
        yield c


def config(srv: FakeProviderServer, provider: str = "openai", **kw: object) -> ProviderConfig:
    protocol = {"anthropic": "anthropic", "openai": "chat"}.get(provider, "chat")
    fields: dict = {"api_key": KEY, "connect_timeout": 2.0, "idle_timeout": 2.0, **kw}
    return ProviderConfig(provider, protocol, srv.url(provider), **fields)  # type: ignore[arg-type]


def req(model: str = "m") -> ProviderRequest:
    return ProviderRequest(model, [Message("user", "hi")])


async def run(
    srv: FakeProviderServer,
    client: httpx.AsyncClient,
    provider: str = "openai",
    model: str = "m",
    **kw: object,
):
    provider_obj = make_provider(config(srv, provider, **kw), client)
    return await collect(provider_obj.stream(req(model)))


# -- statuses and JSON bodies ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "kind"),
    [
        (400, "bad_request"),
        (401, "auth"),
        (402, "bad_request"),
        (403, "auth"),
        (404, "bad_request"),
        (408, "timeout"),
        (409, "bad_request"),
        (413, "bad_request"),
        (422, "bad_request"),
        (429, "rate_limit"),
        (500, "server"),
        (502, "server"),
        (503, "server"),
        (504, "server"),
        (529, "overloaded"),
    ],
)
@pytest.mark.parametrize("provider", ["openai", "anthropic", "deepseek", "openrouter"])
async def test_status_maps_to_kind_with_message_and_status(
    srv: FakeProviderServer, client: httpx.AsyncClient, provider: str, status: int, kind: str
) -> None:
    srv.script("m", HTTPFault(status, message=f"custom failure {status}"))
    got = await run(srv, client, provider)
    assert got.events[0] == ResponseMeta(got.meta.request_id, status)
    assert got.meta.request_id  # every flavour sends one of the request-id headers
    assert len(got.events) == 2
    err = got.error
    assert (err.kind, err.status) == (kind, status)
    assert err.message.startswith(f"HTTP {status}: custom failure {status}")
    assert "\n" not in err.message


async def test_openai_401_body(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    body = {
        "error": {
            "message": "Incorrect API key provided: sk-secr***********6789. You can find your API key at "
            "https://platform.openai.com/account/api-keys.",
            "type": "invalid_request_error",
            "param": None,
            "code": "invalid_api_key",
        }
    }
    srv.script("m", HTTPFault(401, body=json.dumps(body).encode()))
    err = (await run(srv, client)).error
    assert err == StreamError(
        "auth",
        "HTTP 401: Incorrect API key provided: sk-secr***********6789. You can find your API key at "
        "https://platform.openai.com/account/api-keys.",
        None,
        401,
    )


async def test_anthropic_529_overloaded_body(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    body = (
        b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"},"request_id":"req_011"}'
    )
    srv.script("m", HTTPFault(529, body=body, headers=(("request-id", "req_011"),)))
    got = await run(srv, client, "anthropic")
    assert got.meta == ResponseMeta("req_011", 529)
    assert got.error == StreamError("overloaded", "HTTP 529: Overloaded", None, 529)


async def test_overloaded_error_type_wins_over_a_500_status(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    body = b'{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}'
    srv.script("m", HTTPFault(500, body=body))
    assert (await run(srv, client, "anthropic")).error.kind == "overloaded"


async def test_openrouter_402_and_metadata(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script(
        "m",
        HTTPFault(
            402,
            body=b'{"error":{"code":402,"message":"Insufficient credits. Add more using '
            b'https://openrouter.ai/settings/credits"},"user_id":"user_1"}',
        ),
    )
    err = (await run(srv, client, "openrouter")).error
    assert err.kind == "bad_request" and err.status == 402
    assert err.message == (
        "HTTP 402: Insufficient credits. Add more using https://openrouter.ai/settings/credits"
    )
    raw = json.dumps({"error": {"message": "upstream exploded", "type": "server_error"}})
    body = json.dumps(
        {
            "error": {
                "code": 502,
                "message": "Provider returned error",
                "metadata": {"provider_name": "Foo", "raw": raw},
            }
        }
    )
    srv.script("m", HTTPFault(502, body=body.encode()))
    err = (await run(srv, client, "openrouter")).error
    assert err.kind == "server"
    assert err.message == "HTTP 502: Provider returned error (Foo: upstream exploded)"


async def test_deepseek_402_insufficient_balance(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    body = b'{"error":{"message":"Insufficient Balance","type":"unknown_error","param":null,"code":"invalid_request_error"}}'
    srv.script("m", HTTPFault(402, body=body))
    assert (await run(srv, client, "deepseek")).error == StreamError(
        "bad_request", "HTTP 402: Insufficient Balance", None, 402
    )


async def test_openai_429_insufficient_quota_is_not_a_rate_limit(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    body = b'{"error":{"message":"You exceeded your current quota.","type":"insufficient_quota","code":"insufficient_quota"}}'
    srv.script("m", HTTPFault(429, body=body))
    err = (await run(srv, client)).error
    assert (err.kind, err.status, err.retry_after) == ("bad_request", 429, None)


async def test_404_model_not_found(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("gpt-nope", HTTPFault(404))
    err = (await run(srv, client, model="gpt-nope")).error
    assert err == StreamError(
        "bad_request",
        "HTTP 404: The model `gpt-nope` does not exist or you do not have access to it.",
        None,
        404,
    )
    srv.script("m", HTTPFault(404, body=b""))
    assert (
        await run(srv, client)
    ).error.message == "HTTP 404: not found (check the model id and the base URL)"


@pytest.mark.parametrize("status", [500, 502, 503])
async def test_html_error_page(srv: FakeProviderServer, client: httpx.AsyncClient, status: int) -> None:
    srv.script("m", HTTPFault(status, html=True))
    err = (await run(srv, client, "deepseek")).error
    phrase = {500: "Internal Server Error", 502: "Bad Gateway", 503: "Service Unavailable"}[status]
    assert err == StreamError("server", f"HTTP {status}: {phrase}", None, status)


async def test_cloudflare_like_html_with_title_and_h1(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    page = (
        b"<!DOCTYPE html><html><head><title>api.example.com | 502: Bad gateway</title>"
        b"<style>body{color:red}</style></head><body><h1>  Bad   <span>gateway</span> </h1>"
        b"<p>" + b"x" * 5000 + b"</p></body></html>"
    )
    srv.script("m", HTTPFault(502, body=page, content_type="text/html; charset=UTF-8"))
    err = (await run(srv, client)).error
    assert err.message == "HTTP 502: api.example.com | 502: Bad gateway"  # the h1 repeats the title
    assert len(err.message) < 320


async def test_plain_text_and_empty_bodies(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script(
        "m",
        HTTPFault(
            500, body=b"upstream connect error or disconnect/reset\nbefore headers", content_type="text/plain"
        ),
    )
    assert (
        await run(srv, client)
    ).error.message == "HTTP 500: upstream connect error or disconnect/reset before headers"
    srv.script("m", HTTPFault(503, body=b""))
    assert (await run(srv, client)).error == StreamError("server", "HTTP 503: service unavailable", None, 503)
    srv.script("m", HTTPFault(500, body=b"y" * 5000, content_type="text/plain"))
    assert len((await run(srv, client)).error.message) <= 300


async def test_api_key_never_in_a_message(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", HTTPFault(401, message=f"Incorrect API key provided: {KEY}"))
    err = (await run(srv, client)).error
    assert KEY not in err.message and "***" in err.message
    assert KEY not in repr(config(srv))


# -- Retry-After -----------------------------------------------------------------------------------


async def test_429_retry_after_seconds(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", HTTPFault(429, retry_after="7"))
    err = (await run(srv, client)).error
    assert (err.kind, err.retry_after, err.status) == ("rate_limit", 7.0, 429)


async def test_429_retry_after_ms_wins(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", HTTPFault(429, retry_after="7", retry_after_ms="1500"))
    assert (await run(srv, client, "anthropic")).error.retry_after == 1.5


async def test_529_retry_after_http_date(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    when = email.utils.formatdate(time.time() + 30, usegmt=True)
    srv.script("m", HTTPFault(529, retry_after=when))
    err = (await run(srv, client, "anthropic")).error
    assert err.kind == "overloaded"
    assert 25 <= err.retry_after <= 31


def test_parse_retry_after_variants() -> None:
    assert parse_retry_after({"retry-after": "0"}) == 0.0
    assert parse_retry_after({"retry-after": "-3"}) == 0.0
    assert parse_retry_after({"retry-after": "2.5"}) == 2.5
    assert parse_retry_after({"retry-after": "soon"}) is None
    assert parse_retry_after({}) is None
    assert parse_retry_after({"retry-after-ms": "250"}) == 0.25
    past = email.utils.formatdate(time.time() - 60, usegmt=True)
    assert parse_retry_after({"retry-after": past}) == 0.0
    now = 1_700_000_000.0
    date = email.utils.formatdate(now + 12, usegmt=True)
    assert parse_retry_after({"retry-after": date}, now=now) == pytest.approx(12, abs=1)


def test_error_from_response_without_a_socket() -> None:
    err = error_from_response(400, {"content-type": "application/json"}, b'{"error": "bad thing"}')
    assert err == StreamError("bad_request", "HTTP 400: bad thing", None, 400)
    err = error_from_response(401, {}, b'{"detail": "Not authenticated"}')
    assert err == StreamError("auth", "HTTP 401: Not authenticated", None, 401)
    err = error_from_response(500, {}, b"{not json")
    assert err.message == "HTTP 500: {not json"
    err = error_from_response(301, {"location": "https://x"}, b"")
    assert (err.kind, err.status) == ("bad_request", 301)


# -- transport failures ----------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def test_connection_refused(client: httpx.AsyncClient) -> None:
    port = free_port()
    cfg = ProviderConfig("openai", "chat", f"http://127.0.0.1:{port}/v1", api_key=KEY)
    got = await collect(make_provider(cfg, client).stream(req()))
    assert got.events == [
        StreamError("network", f"could not connect to 127.0.0.1:{port} (connection refused)")
    ]


async def test_dns_failure(client: httpx.AsyncClient) -> None:
    cfg = ProviderConfig("openai", "chat", "http://no-such-host.invalid/v1", api_key=KEY, connect_timeout=3)
    err = (await collect(make_provider(cfg, client).stream(req()))).error
    assert err.kind in ("network", "timeout")
    if err.kind == "network":
        assert err.message.startswith("could not resolve host no-such-host.invalid")


async def test_tls_handshake_failure(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    cfg = ProviderConfig("openai", "chat", f"https://127.0.0.1:{srv.port}/v1", api_key=KEY, connect_timeout=3)
    err = (await collect(make_provider(cfg, client).stream(req()))).error
    assert err.kind == "network"
    assert err.message.startswith(f"TLS handshake failed with 127.0.0.1:{srv.port}")


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A listening socket whose accept queue is full: new connects hang (SYNs are dropped)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(4):
        s = socket.socket()
        s.setblocking(False)
        try:
            s.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(s)
    try:
        yield port
    finally:
        for s in fillers:
            s.close()
        listener.close()


async def test_connect_timeout(client: httpx.AsyncClient, full_backlog: int) -> None:
    cfg = ProviderConfig(
        "openai", "chat", f"http://127.0.0.1:{full_backlog}/v1", api_key=KEY, connect_timeout=0.3
    )
    started = time.monotonic()
    err = (await collect(make_provider(cfg, client).stream(req()))).error
    elapsed = time.monotonic() - started
    if err.kind != "timeout":  # pragma: no cover - a kernel that refuses instead of dropping SYNs
        pytest.skip(f"could not provoke a connect timeout here: {err}")
    assert err == StreamError("timeout", f"no connection after 0.3 s to 127.0.0.1:{full_backlog}")
    assert elapsed < 2


async def test_reset_mid_body_after_payload_is_bad_stream(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script("m", Answer(text=["Hel", "lo"], stop_after_text=2, end="reset"))
    got = await run(srv, client)
    assert got.text == "Hello"
    assert got.error == StreamError("bad_stream", "connection closed mid-answer")


async def test_fin_mid_chunked_body_is_bad_stream(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", Answer(text=["Hel", "lo"], stop_after_text=1, end="close"))
    got = await run(srv, client, "anthropic")
    assert got.text == "Hel"
    assert got.error == StreamError("bad_stream", "connection closed mid-answer")


async def test_drop_before_any_payload_is_network(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", Scenario([Head(), Send(b": keep-alive\n\n"), Close(reset=True)]))
    got = await run(srv, client, "deepseek")
    assert got.error.kind == "network"
    assert got.error.message.startswith(f"connection to 127.0.0.1:{srv.port} lost before the answer started")


async def test_server_closes_without_any_response(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", Scenario([Close()]))
    got = await run(srv, client)
    assert got.error.kind == "network"


# -- idle timeout ----------------------------------------------------------------------------------


async def test_keepalive_comments_do_not_reset_idle_timeout(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script(
        "m",
        Scenario(
            [
                Head(),
                Send(sse([(None, '{"choices":[{"delta":{"content":"a"}}]}')])),
                Repeat((Sleep(0.05), Send(b": keep-alive\n\n"))),
            ]
        ),
    )
    started = time.monotonic()
    got = await run(srv, client, "deepseek", idle_timeout=0.3)
    elapsed = time.monotonic() - started
    assert got.text == "a"
    assert got.error == StreamError("timeout", "no data for 0.3 s")
    assert 0.28 <= elapsed < 1.0


async def test_openrouter_processing_comments_and_blank_lines_do_not_reset(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script(
        "m",
        Scenario(
            [Head(), Repeat((Send(b": OPENROUTER PROCESSING\n\n"), Sleep(0.04), Send(b"\r\n"), Sleep(0.04)))]
        ),
    )
    started = time.monotonic()
    got = await run(srv, client, "openrouter", idle_timeout=0.3)
    assert got.error == StreamError("timeout", "no data for 0.3 s")
    assert time.monotonic() - started < 1.0


async def test_anthropic_pings_do_not_reset_idle_timeout(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    ping = sse([("ping", '{"type": "ping"}')])
    srv.script("m", Scenario([Head(), Repeat((Send(ping), Sleep(0.05)))]))
    started = time.monotonic()
    got = await run(srv, client, "anthropic", idle_timeout=0.3)
    assert got.error == StreamError("timeout", "no data for 0.3 s")
    assert time.monotonic() - started < 1.0


async def test_payload_every_50ms_keeps_the_stream_alive(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script("m", Answer(text=[f"t{i} " for i in range(16)], delay=0.05))
    started = time.monotonic()
    got = await run(srv, client, "openai", idle_timeout=0.3)
    assert time.monotonic() - started > 0.6  # longer than the idle timeout twice over
    assert got.finish == "stop" and got.error is None
    assert got.text == "".join(f"t{i} " for i in range(16))


async def test_stall_after_headers_times_out(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", Scenario([Head(), Stall()]))
    got = await run(srv, client, idle_timeout=0.3)
    assert got.events == [ResponseMeta(None, 200), StreamError("timeout", "no data for 0.3 s")]


async def test_stall_before_headers_times_out(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", Scenario([Stall()]))
    # A Stall step sends a default head first; to stall *before* headers, sleep instead.
    srv.script("m", Scenario([Sleep(30)]))
    started = time.monotonic()
    got = await run(srv, client, idle_timeout=0.3)
    assert got.events == [StreamError("timeout", f"no response from 127.0.0.1:{srv.port} for 0.3 s")]
    assert time.monotonic() - started < 1.5


async def test_slow_consumer_is_not_an_idle_server(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script("m", Answer(text=["a", "b"]))
    provider = make_provider(config(srv, idle_timeout=0.15), client)
    events = []
    async for event in provider.stream(req()):
        events.append(event)
        await asyncio.sleep(0.1)  # the consumer dawdles between events; the server did its job
    assert type(events[-1]).__name__ == "Finish"


# -- odd 200 answers -------------------------------------------------------------------------------


async def test_200_json_error_body_instead_of_a_stream(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script("m", Scenario([Respond(200, b'{"error":{"message":"model is loading","code":503}}')]))
    got = await run(srv, client, "ollama")
    assert got.error == StreamError("server", "model is loading", None, 503)


async def test_200_non_streaming_completion_is_accepted(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    body = {
        "choices": [
            {"index": 0, "message": {"role": "assistant", "content": "Whole answer"}, "finish_reason": "stop"}
        ],
        "usage": {"prompt_tokens": 5, "completion_tokens": 2},
    }
    srv.script("m", Scenario([Respond(200, json.dumps(body).encode())]))
    got = await run(srv, client, "lmstudio")
    assert got.text == "Whole answer"
    assert (got.usage.input, got.usage.output, got.finish) == (5, 2, "stop")


async def test_200_html_page_is_bad_stream(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    page = b"<html><head><title>Captive portal</title></head><body>login</body></html>"
    srv.script("m", Scenario([Respond(200, page, (("content-type", "text/html"),))]))
    got = await run(srv, client)
    assert got.error == StreamError(
        "bad_stream", "expected an event stream, got an HTML page: Captive portal"
    )


async def test_gzip_encoded_stream_is_decoded(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    body = sse(
        [
            (None, '{"choices":[{"index":0,"delta":{"content":"zipped ✓"},"finish_reason":"stop"}]}'),
            (None, "[DONE]"),
        ]
    )
    packed = gzip.compress(body)
    srv.script(
        "m",
        Scenario(
            [
                Head(headers=(("content-type", "text/event-stream"), ("content-encoding", "gzip"))),
                Send(packed[:10]),
                Send(packed[10:]),
            ]
        ),
    )
    got = await run(srv, client)
    assert (got.text, got.finish) == ("zipped ✓", "stop")


async def test_close_delimited_body(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script("m", Answer(text=["one ", "two"], framing="close"))
    got = await run(srv, client, "anthropic")
    assert (got.text, got.finish, got.error) == ("one two", "stop", None)


async def test_request_id_headers(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    for header in ("request-id", "x-request-id", "X-Generation-Id"):
        srv.script("m", Answer(text=["x"], headers=((header, f"id-{header}"),)))
        got = await run(srv, client, "openrouter")
        # OpenRouter's default header is X-Generation-Id; the scripted one overrides or adds
        assert got.meta.status == 200
        assert got.meta.request_id is not None


async def test_stream_sse_yields_meta_then_events(srv: FakeProviderServer, client: httpx.AsyncClient) -> None:
    srv.script(
        "m",
        Scenario(
            [
                Head(headers=(("content-type", "text/event-stream"), ("x-request-id", "abc"))),
                Send(b"event: a\ndata: 1\n\n: c\n\n"),
                Send(b"data: 2"),
            ]
        ),
    )
    cfg = config(srv)
    items = [
        item
        async for item in stream_sse(
            client, cfg, f"{cfg.base_url}/chat/completions", headers={}, body={"model": "m"}
        )
    ]
    assert items[0] == ResponseMeta("abc", 200)
    assert [(e.event, e.data, e.eof) for e in items[1:]] == [("a", "1", False), ("message", "2", True)]


@pytest.mark.parametrize("content_type", ["application/json", "text/plain", "application/octet-stream", ""])
async def test_mislabelled_event_stream_is_still_parsed(
    srv: FakeProviderServer, client: httpx.AsyncClient, content_type: str
) -> None:
    body = sse(
        [
            (None, '{"choices":[{"index":0,"delta":{"content":"ok"},"finish_reason":"stop"}]}'),
            (None, "[DONE]"),
        ]
    )
    headers = (("content-type", content_type),) if content_type else ()
    srv.script("m", Scenario([Head(headers=headers), Send(b"\n"), Send(body)]))
    got = await run(srv, client)
    assert (got.text, got.finish, got.error) == ("ok", "stop", None)


async def test_json_error_labelled_as_event_stream(
    srv: FakeProviderServer, client: httpx.AsyncClient
) -> None:
    srv.script(
        "m",
        Scenario(
            [
                Head(headers=(("content-type", "text/event-stream"),)),
                Send(b'{"type":"error","error":{"type":"overloaded_error",'),
                Send(b'"message":"Overloaded"}}'),
            ]
        ),
    )
    got = await run(srv, client, "anthropic")
    assert got.events == [ResponseMeta(None, 200), StreamError("overloaded", "Overloaded")]
