"""Shared HTTP plumbing for the provider clients: streaming POST with connect and idle timeouts, and the
mapping of HTTP statuses, error bodies and transport failures to `StreamError`.

Async contract: `stream_sse()` is an async generator that runs on the caller's event loop; it never
raises for HTTP, provider or network trouble (each becomes one `StreamError`, after which it stops) and
lets `asyncio.CancelledError` propagate. Close it with `contextlib.aclosing` when you stop early: its
`finally` closes the HTTP response.

Status mapping (documented choice):

| status | kind | note |
|---|---|---|
| 400, 409, 413, 422, other 4xx | bad_request | |
| 401, 403 | auth | |
| 402 | bad_request | out of credit / payment required: retrying cannot help |
| 404 | bad_request | wrong model id or base URL |
| 408 | timeout | the server gave up waiting for our request |
| 429 | rate_limit | except OpenAI `insufficient_quota` (out of credit) → bad_request |
| 529 | overloaded | also any status whose body says `overloaded_error` |
| 504 | server | a gateway timed out upstream: worth a retry before the first token |
| other 5xx | server | |
| 3xx | bad_request | we do not follow redirects for a POST: fix the base URL |

Never puts the API key in a message: every message is scrubbed of `config.api_key`.
"""

from __future__ import annotations

import asyncio
import email.utils
import html
import json
import re
import socket
import ssl
import time
from collections.abc import AsyncGenerator, Mapping
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

import httpx

from app.events import ResponseMeta, StreamError
from app.providers.base import ProviderConfig
from app.providers.sse import DEFAULT_KEEPALIVE_EVENTS, SSEDecoder, SSEEvent

__all__ = [
    "MID_ANSWER",
    "JSONBody",
    "ProviderHTTPError",
    "error_from_exception",
    "error_from_payload",
    "error_from_response",
    "get_json",
    "join_url",
    "kind_for_code",
    "kind_for_status",
    "parse_retry_after",
    "redact",
    "stream_sse",
]

MID_ANSWER = "connection closed mid-answer"
MAX_ERROR_BODY = 64 * 1024
MAX_MESSAGE = 300
MAX_DOCUMENT = 16 * 1024 * 1024  # a non-streamed JSON answer
_NOT_JSON = object()
# The provider's own id first, then those of proxies and gateways in between (LiteLLM, AWS, Azure), and
# Cloudflare's ray id as a last resort: whichever a support desk can look up.
REQUEST_ID_HEADERS = (
    "request-id",
    "x-request-id",
    "x-generation-id",
    "openai-request-id",
    "x-litellm-call-id",
    "x-amzn-requestid",
    "apim-request-id",
    "x-ms-request-id",
    "x-correlation-id",
    "cf-ray",
)


@dataclass(slots=True)
class JSONBody:
    """A 2xx answer that is a JSON document instead of an event stream (a proxy's error, or a server
    that ignored `stream: true`). Providers turn it into events or a `StreamError`."""

    data: Any
    status: int


def decode_event(event: SSEEvent) -> dict[str, Any] | StreamError:
    """The JSON object an SSE event carries, or the `bad_stream` error that ends the answer: invalid
    JSON (cut mid-event when the body ended there), or JSON that is not an object."""
    try:
        data = json.loads(event.data)
    except ValueError:
        if event.eof:
            return StreamError("bad_stream", MID_ANSWER)
        return StreamError("bad_stream", f"invalid JSON in the stream: {event.data[:80]!r}")
    if not isinstance(data, dict):
        return StreamError("bad_stream", f"unexpected event in the stream: {event.data[:80]!r}")
    return data


class ProviderHTTPError(Exception):
    """Raised by the non-streaming helpers (`get_json`, `list_models()`); carries the `StreamError`."""

    def __init__(self, error: StreamError) -> None:
        super().__init__(error.message)
        self.error = error


# -- small helpers ---------------------------------------------------------------------------------


def join_url(base: str, path: str) -> str:
    """`base` + `/path`, with exactly one slash between them."""
    return base.rstrip("/") + "/" + path.lstrip("/")


def redact(text: str, secret: str | None) -> str:
    """Replace every occurrence of the API key in a message with `***`."""
    if secret and len(secret) >= 4 and secret in text:
        text = text.replace(secret, "***")
    return text


def _one_line(text: str, limit: int = MAX_MESSAGE) -> str:
    text = " ".join(text.split())
    if len(text) > limit:
        text = text[: limit - 1].rstrip() + "…"
    return text


def _fmt_seconds(seconds: float) -> str:
    return f"{seconds:g}"


def _timeouts(config: ProviderConfig) -> httpx.Timeout:
    # httpx's read timeout bounds the wait for the response headers (and any single read); while the
    # body streams, our own idle timeout (reset only by payload) is the stricter one.
    return httpx.Timeout(
        connect=config.connect_timeout,
        read=config.idle_timeout,
        write=max(config.idle_timeout, config.connect_timeout),
        pool=max(config.idle_timeout, config.connect_timeout),
    )


def _host_port(url: httpx.URL | None) -> str:
    if url is None:
        return "the server"
    port = url.port or (443 if url.scheme == "https" else 80)
    return f"{url.host}:{port}"


def request_id_of(headers: httpx.Headers) -> str | None:
    for name in REQUEST_ID_HEADERS:
        value = headers.get(name)
        if value:
            return value
    return None


# -- Retry-After -----------------------------------------------------------------------------------


def parse_retry_after(headers: Mapping[str, str], now: float | None = None) -> float | None:
    """Seconds to wait from `retry-after-ms`, or `Retry-After` (delta seconds or an HTTP date)."""
    ms = headers.get("retry-after-ms")
    if ms:
        try:
            value = float(ms) / 1000.0
            if value == value and value >= 0:  # not NaN
                return value
        except ValueError:
            pass
    raw = headers.get("retry-after")
    if not raw:
        return None
    raw = raw.strip()
    try:
        value = float(raw)
        return max(value, 0.0) if value == value else None
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(raw)
    except (TypeError, ValueError, IndexError):
        return None
    if when is None:
        return None
    return max(when.timestamp() - (time.time() if now is None else now), 0.0)


# -- kinds -----------------------------------------------------------------------------------------

_CODE_KINDS: dict[str, str] = {
    # Anthropic error types
    "overloaded_error": "overloaded",
    "rate_limit_error": "rate_limit",
    "api_error": "server",
    "authentication_error": "auth",
    "permission_error": "auth",
    "invalid_request_error": "bad_request",
    "not_found_error": "bad_request",
    "request_too_large": "bad_request",
    "billing_error": "bad_request",
    "timeout_error": "timeout",
    # OpenAI / OpenRouter / DeepSeek codes and types
    "server_error": "server",
    "internal_error": "server",
    "internal_server_error": "server",
    "service_unavailable": "server",
    "bad_gateway": "server",
    "overloaded": "overloaded",
    "server_overloaded": "overloaded",
    "engine_overloaded": "overloaded",
    "rate_limit_exceeded": "rate_limit",
    "rate_limit": "rate_limit",
    "too_many_requests": "rate_limit",
    "insufficient_quota": "bad_request",
    "insufficient_balance": "bad_request",
    "invalid_api_key": "auth",
    "unauthorized": "auth",
    "authentication": "auth",
    "forbidden": "auth",
    "context_length_exceeded": "bad_request",
    "invalid_prompt": "bad_request",
    "invalid_request": "bad_request",
    "model_not_found": "bad_request",
    "content_filter": "bad_request",
    "timeout": "timeout",
}


_OUT_OF_CREDIT = frozenset(
    {"insufficient_quota", "insufficient_balance", "billing_error", "billing_hard_limit_reached"}
)


def kind_for_status(status: int) -> str:
    """The `StreamError` kind for an HTTP status (see the table in the module docstring)."""
    if status in (401, 403):
        return "auth"
    if status == 429:
        return "rate_limit"
    if status == 529:
        return "overloaded"
    if status == 408:
        return "timeout"
    if status >= 500:
        return "server"
    return "bad_request"


def kind_for_code(code: object, default: str = "server") -> str:
    """The kind for an error code found in a body: an HTTP-like number or a provider's string code."""
    if isinstance(code, bool):
        return default
    if isinstance(code, int | float) and 300 <= int(code) <= 599:
        return kind_for_status(int(code))
    if isinstance(code, str):
        text = code.strip().lower()
        if text.isdigit() and 300 <= int(text) <= 599:
            return kind_for_status(int(text))
        if text in _CODE_KINDS:
            return _CODE_KINDS[text]
        if "overload" in text:
            return "overloaded"
        if "rate" in text and "limit" in text:
            return "rate_limit"
    return default


# -- error bodies ----------------------------------------------------------------------------------

_TITLE = re.compile(r"<title[^>]*>(.*?)</title\s*>", re.I | re.S)
_H1 = re.compile(r"<h1[^>]*>(.*?)</h1\s*>", re.I | re.S)
_TAGS = re.compile(r"<[^>]+>")
_SCRIPT = re.compile(r"<(script|style)[^>]*>.*?</\1\s*>", re.I | re.S)


def _html_text(body: str) -> str:
    """Readable text of an HTML error page: its <title>, then <h1>, else all text without tags."""
    parts: list[str] = []
    for pattern in (_TITLE, _H1):
        match = pattern.search(body)
        if match:
            text = _one_line(html.unescape(_TAGS.sub(" ", match.group(1))))
            if text and text not in parts and not any(text in p for p in parts):
                parts.append(text)
    if not parts:
        text = _one_line(html.unescape(_TAGS.sub(" ", _SCRIPT.sub(" ", body))))
        if text:
            parts.append(text)
    return " — ".join(parts)


def _looks_html(body: str, content_type: str) -> bool:
    if "html" in content_type:
        return True
    head = body.lstrip()[:200].lower()
    return head.startswith(("<!doctype html", "<html", "<head", "<body")) or "<title" in head


def _payload_error(data: Any) -> tuple[str | None, object, dict[str, Any]]:
    """(message, code-or-type, the error object) from a provider JSON error document."""
    if not isinstance(data, dict):
        return None, None, {}
    err = data.get("error")
    if isinstance(err, str):
        # {"error": "message"} (Ollama and some proxies); a type may sit beside it
        return err, data.get("code") or data.get("type"), data
    if not isinstance(err, dict):
        # Responses API `error` event and DeepSeek-like flat bodies: {"code":…, "message":…}
        if "message" in data and ("code" in data or data.get("type") == "error"):
            return _str_or_none(data.get("message")), data.get("code"), data
        if "detail" in data and isinstance(data["detail"], str):
            return data["detail"], None, data
        return None, None, {}
    message = _str_or_none(err.get("message"))
    code: object = err.get("code")
    etype = err.get("type")
    # Prefer the more specific of code/type for kind mapping: Anthropic has only `type`; OpenAI has
    # `type` ("invalid_request_error") and a sharper `code` ("insufficient_quota").
    if code is None or (isinstance(code, str) and code not in _CODE_KINDS and etype in _CODE_KINDS):
        code = etype if etype is not None else code
    meta = err.get("metadata")
    if isinstance(meta, dict):
        detail = _openrouter_detail(meta)
        if detail and message and detail not in message:
            message = f"{message} ({detail})"
        elif detail and not message:
            message = detail
    return message, code, err


def _openrouter_detail(meta: dict[str, Any]) -> str | None:
    provider = meta.get("provider_name")
    raw = meta.get("raw")
    raw_text: str | None = None
    if isinstance(raw, str) and raw.strip():
        raw_text = raw
        try:
            inner = json.loads(raw)
        except ValueError:
            inner = None
        if inner is not None:
            inner_message, _, _ = _payload_error(inner)
            raw_text = inner_message or raw_text
    elif isinstance(raw, dict):
        raw_text = _payload_error(raw)[0] or json.dumps(raw)[:200]
    reasons = meta.get("reasons")
    if not raw_text and isinstance(reasons, list) and reasons:
        raw_text = ", ".join(str(r) for r in reasons)
    if provider and raw_text:
        return f"{provider}: {_one_line(raw_text, 200)}"
    if raw_text:
        return _one_line(raw_text, 200)
    if provider:
        return str(provider)
    return None


def _str_or_none(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _fallback_message(status: int) -> str:
    if status == 404:
        return "not found (check the model id and the base URL)"
    if status == 402:
        return "payment required: the account is out of credit"
    if status == 529:
        return "overloaded"
    try:
        return HTTPStatus(status).phrase.lower()
    except ValueError:
        return "error"


def error_from_response(
    status: int,
    headers: Mapping[str, str],
    body: bytes,
    *,
    api_key: str | None = None,
) -> StreamError:
    """Map an HTTP error response (status, headers, body as received) to one `StreamError`.

    The message is one readable line, always starting with `HTTP <status>`, taken from a JSON error
    body (OpenAI, Anthropic, OpenRouter, DeepSeek shapes), an HTML page (title/h1) or plain text.
    """
    content_type = (headers.get("content-type") or "").lower()
    text = body.decode("utf-8", errors="replace").strip()
    message: str | None = None
    code: object = None
    data: Any = None
    if text[:1] in ("{", "["):
        try:
            data = json.loads(text)
        except ValueError:
            data = None
    elif "event-stream" in content_type or text.startswith(("data:", "event:", ":")):
        data = _sse_error(body)
    if data is not None:
        message, code, _ = _payload_error(data)
        if message is None:
            message = _one_line(text)
    elif text and _looks_html(text, content_type):
        message = _html_text(text) or None
    elif text:
        message = _one_line(text)
    if message:
        # "500 Internal Server Error", "404: Not Found", "404 page not found": no repeated status
        message = re.sub(rf"^{status}\b[\s:.-]*", "", message) or None
    kind = kind_for_status(status)
    if code is not None:
        by_code = kind_for_code(code, default="")
        if by_code == "overloaded":
            kind = by_code  # overloaded_error under any status
        elif status == 429 and isinstance(code, str) and code.lower() in _OUT_OF_CREDIT:
            kind = "bad_request"  # OpenAI's 429 insufficient_quota: out of credit, retrying cannot help
    if not message:
        message = _fallback_message(status)
    elif status == 404 and "not found" not in message.lower() and "does not exist" not in message.lower():
        message = f"{message} (not found)"
    line = _one_line(f"HTTP {status}: {message}")
    retry_after = parse_retry_after(headers) if kind in ("rate_limit", "overloaded", "server") else None
    return StreamError(kind, redact(line, api_key), retry_after=retry_after, status=status)


def _sse_error(body: bytes) -> Any:
    """The error document inside an error body framed as an event stream (`data: {"error": …}`): the
    first event whose JSON carries an error, else the first JSON object; None when there is none."""
    decoder = SSEDecoder()
    first: Any = None
    for event in [*decoder.feed(body), *decoder.flush()]:
        try:
            data = json.loads(event.data)
        except ValueError:
            continue
        if isinstance(data, dict):
            if data.get("error") or data.get("type") == "error":
                return data
            if first is None:
                first = data
    return first


def error_from_payload(
    data: Any,
    *,
    default_kind: str = "server",
    api_key: str | None = None,
    fallback: str = "the provider reported an error",
) -> StreamError:
    """A `StreamError` for an error that arrived *inside* a 200 stream (an `error` event or a chunk
    with an `error` object). `status` is the error's own numeric code when it has one, else None."""
    message, code, _ = _payload_error(data)
    if message is None and isinstance(data, dict) and isinstance(data.get("error"), dict):
        message = _str_or_none(data["error"].get("code"))
    kind = kind_for_code(code, default=default_kind)
    status: int | None = None
    if isinstance(code, int) and not isinstance(code, bool) and 300 <= code <= 599:
        status = code
    elif isinstance(code, str) and code.isdigit() and 300 <= int(code) <= 599:
        status = int(code)
    text = _one_line(message or fallback)
    return StreamError(kind, redact(text, api_key), status=status)


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    node: BaseException | None = exc
    while node is not None and node not in seen and len(seen) < 12:
        seen.append(node)
        node = node.__cause__ or node.__context__
    return seen


def error_from_exception(
    exc: BaseException,
    *,
    config: ProviderConfig,
    url: httpx.URL | None = None,
    started: bool = False,
) -> StreamError:
    """Map a transport failure (httpx/OS exception) to a `StreamError`.

    `started`: payload data had already arrived; a connection lost then is `bad_stream`
    ("connection closed mid-answer"), before that it is `network` (and retryable).
    """
    if url is None and isinstance(exc, httpx.RequestError):
        try:
            url = exc.request.url
        except RuntimeError:
            url = None
    where = _host_port(url)
    chain = _chain(exc)
    detail = _one_line(redact(str(chain[-1]) or type(chain[-1]).__name__, config.api_key), 160)
    if isinstance(exc, httpx.ConnectTimeout):
        return StreamError(
            "timeout", f"no connection after {_fmt_seconds(config.connect_timeout)} s to {where}"
        )
    if isinstance(exc, httpx.PoolTimeout):
        return StreamError(
            "timeout", f"no free connection to {where} after {_fmt_seconds(config.idle_timeout)} s"
        )
    if isinstance(exc, httpx.WriteTimeout):
        return StreamError("timeout", f"sending the request to {where} timed out")
    if isinstance(exc, httpx.ReadTimeout):
        return StreamError("timeout", f"no data for {_fmt_seconds(config.idle_timeout)} s")
    if isinstance(exc, httpx.UnsupportedProtocol | httpx.InvalidURL):
        return StreamError("bad_request", f"invalid base URL {config.base_url!r}: {detail}")
    if isinstance(exc, httpx.ConnectError) or (not started and _is_connect_failure(chain)):
        if any(isinstance(e, ssl.SSLError) for e in chain) or "SSL" in str(exc) or "TLS" in str(exc):
            return StreamError("network", f"TLS handshake failed with {where}: {detail}")
        if any(isinstance(e, socket.gaierror) for e in chain) or _dns_text(str(exc)):
            host = url.host if url is not None else where
            return StreamError("network", f"could not resolve host {host} ({detail})")
        if any(isinstance(e, ConnectionRefusedError) for e in chain):
            return StreamError("network", f"could not connect to {where} (connection refused)")
        return StreamError("network", f"could not connect to {where} ({detail})")
    if started:
        return StreamError("bad_stream", MID_ANSWER)
    return StreamError("network", f"connection to {where} lost before the answer started ({detail})")


def _is_connect_failure(chain: list[BaseException]) -> bool:
    return any(isinstance(e, ConnectionRefusedError | socket.gaierror | ssl.SSLError) for e in chain)


def _dns_text(text: str) -> bool:
    text = text.lower()
    return (
        "name or service not known" in text
        or "nodename nor servname" in text
        or "getaddrinfo failed" in text
        or "temporary failure in name resolution" in text
        or "no address associated" in text
    )


# -- streaming -------------------------------------------------------------------------------------


async def _read_capped(response: httpx.Response, limit: int, wait: float) -> bytes:
    """Up to `limit` bytes of an (error) body; whatever arrived if it stalls or breaks."""
    parts: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(wait):
            async for chunk in response.aiter_bytes():
                parts.append(chunk)
                size += len(chunk)
                if size >= limit:
                    break
    except (TimeoutError, httpx.HTTPError, OSError):
        pass
    return b"".join(parts)[:limit]


async def stream_sse(
    client: httpx.AsyncClient,
    config: ProviderConfig,
    url: str,
    *,
    headers: Mapping[str, str],
    body: Mapping[str, Any],
    keepalive_events: frozenset[str] = DEFAULT_KEEPALIVE_EVENTS,
) -> AsyncGenerator[SSEEvent | ResponseMeta | StreamError | JSONBody, None]:
    """POST `body` as JSON and yield what comes back.

    Yields, in order: one `ResponseMeta(request_id, status)` once headers arrive; then either a single
    `StreamError` (HTTP error status) or the body's `SSEEvent`s as they complete (events completed only
    by the end of the body come with `eof=True`) or one `JSONBody` for a 2xx JSON answer. Any transport
    failure or idle timeout ends the generator with one `StreamError`. A body that simply ends is not an
    error here: the caller decides whether its terminal event arrived.

    Timeouts: `config.connect_timeout` for the TCP/TLS connect; `config.idle_timeout` for the response
    headers (no response: `timeout` "no response from HOST:PORT for N s") and then for the body, where only payload events (`data:` of non-keep-alive events) restart
    it. Time the consumer spends between reads does not count as idle.
    """
    idle = config.idle_timeout
    request = client.build_request(
        "POST", url, json=dict(body), headers=dict(headers), timeout=_timeouts(config)
    )
    try:
        response = await client.send(request, stream=True)
    except httpx.ReadTimeout:
        yield StreamError("timeout", f"no response from {_host_port(request.url)} for {_fmt_seconds(idle)} s")
        return
    except (httpx.HTTPError, OSError) as exc:
        yield error_from_exception(exc, config=config, url=request.url)
        return
    try:
        status = response.status_code
        yield ResponseMeta(request_id_of(response.headers), status)
        if status >= 300:
            raw = await _read_capped(response, MAX_ERROR_BODY, min(idle, 10.0))
            yield error_from_response(status, response.headers, raw, api_key=config.api_key)
            return
        encoding = response.headers.get("content-encoding", "identity").lower()
        chunks = response.aiter_raw() if encoding in ("", "identity") else response.aiter_bytes()
        decoder = SSEDecoder(keepalive_events)
        loop = asyncio.get_running_loop()
        waited = 0.0
        started = False
        pending: list[bytes] = []
        # Sniff the first bytes, whatever the content type says: an SSE stream never starts with
        # "{", "[" or "<". A JSON document (an error from a proxy, or a server that ignored
        # `stream: true`) or an HTML page is handled whole; anything else is parsed as SSE (some
        # servers label their streams text/plain or application/json).
        sniff_began = loop.time()
        try:
            async with asyncio.timeout(idle):
                async for chunk in chunks:
                    pending.append(chunk)
                    if b"".join(pending).strip():
                        break
                head = b"".join(pending).lstrip()[:1]
                if head in (b"{", b"[", b"<"):
                    size = sum(map(len, pending))
                    async for chunk in chunks:
                        pending.append(chunk)
                        size += len(chunk)
                        if size > MAX_DOCUMENT:
                            break
        except TimeoutError:
            yield StreamError("timeout", f"no data for {_fmt_seconds(idle)} s")
            return
        except (httpx.HTTPError, OSError) as exc:
            yield error_from_exception(exc, config=config, url=request.url, started=False)
            return
        raw = b"".join(pending)
        if head in (b"{", b"["):
            try:
                data = json.loads(raw)
            except ValueError:
                data = _NOT_JSON
            if data is not _NOT_JSON:
                yield JSONBody(data, status)
                return
        elif head == b"<":
            text = _html_text(raw[:MAX_ERROR_BODY].decode("utf-8", errors="replace"))
            suffix = f": {text}" if text else ""
            yield StreamError("bad_stream", _one_line(f"expected an event stream, got an HTML page{suffix}"))
            return
        waited = loop.time() - sniff_began
        while True:
            if pending:
                chunk = pending.pop(0)
                began = loop.time()
            else:
                began = loop.time()
                try:
                    async with asyncio.timeout(idle - waited):
                        chunk = await anext(chunks)
                except StopAsyncIteration:
                    break
                except TimeoutError:
                    yield StreamError("timeout", f"no data for {_fmt_seconds(idle)} s")
                    return
                except (httpx.HTTPError, OSError) as exc:
                    yield error_from_exception(exc, config=config, url=request.url, started=started)
                    return
            events = decoder.feed(chunk)
            if decoder.had_payload:
                waited = 0.0
                started = True
            else:
                waited += loop.time() - began
                if waited >= idle:
                    yield StreamError("timeout", f"no data for {_fmt_seconds(idle)} s")
                    return
            for event in events:
                yield event
        for event in decoder.flush():
            yield event
    finally:
        await response.aclose()


async def get_json(
    client: httpx.AsyncClient, config: ProviderConfig, url: str, *, headers: Mapping[str, str]
) -> Any:
    """GET a JSON document. Raises `ProviderHTTPError` (with a `StreamError`) on any failure."""
    timeout = httpx.Timeout(config.connect_timeout, read=config.idle_timeout)
    try:
        response = await client.get(url, headers=dict(headers), timeout=timeout)
    except (httpx.HTTPError, OSError) as exc:
        raise ProviderHTTPError(error_from_exception(exc, config=config)) from None
    if response.status_code >= 300:
        raise ProviderHTTPError(
            error_from_response(
                response.status_code,
                response.headers,
                response.content[:MAX_ERROR_BODY],
                api_key=config.api_key,
            )
        )
    try:
        return response.json()
    except ValueError:
        raise ProviderHTTPError(StreamError("bad_stream", f"{url}: the answer is not JSON")) from None
