"""The providers' batch APIs (PROTOCOLS.md, "Batch APIs"), checked against their documentation (Nov 2026):

OpenAI Batch — upload a JSONL file (`POST {base}/files`, multipart, `purpose=batch`), one line per request
`{"custom_id", "method": "POST", "url": "/v1/responses" | "/v1/chat/completions", "body": {…}}`; then
`POST {base}/batches {"input_file_id", "endpoint", "completion_window": "24h", "metadata"}`; poll `GET
{base}/batches/{id}` (`validating`, `in_progress`, `finalizing`, `completed`, `failed`, `expired`,
`cancelling`, `cancelled`; `request_counts` {total, completed, failed}); results are lines of
`output_file_id` and `error_file_id` (`GET {base}/files/{id}/content`): `{"custom_id", "response":
{"status_code", "body"} | null, "error": {"code", "message"} | null}`, in any order. An expired batch
keeps the results it finished; its other requests are in the error file (`batch_expired`) or missing.
Limits: 50,000 requests and 200 MB per input file.

Anthropic Message Batches — `POST {base}/v1/messages/batches {"requests": [{"custom_id", "params": {…}}]}`
with the Messages headers; poll `GET {base}/v1/messages/batches/{id}` (`processing_status`:
`in_progress`, `canceling`, `ended`; `request_counts` {processing, succeeded, errored, canceled,
expired}; `results_url` once ended); the results are JSONL `{"custom_id", "result": {"type":
"succeeded", "message"} | {"type": "errored", "error"} | {"type": "canceled"} | {"type": "expired"}}`.
Limits: 100,000 requests or 256 MB per batch. custom_id: 1–64 of `[A-Za-z0-9_-]`.

A batch body is the live request body (`provider.build_body`) without `stream` (and `stream_options`).
A result is read by the live client of the same protocol (its `on_document` hook, for an answer sent as
one JSON document), so
usage, reasoning and finish reasons come out exactly as from a streamed answer.

Async contract: the API objects run on the caller's loop and share its httpx client.
"""

from __future__ import annotations

import asyncio
import json
import random
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol
from urllib.parse import urlsplit

from app.events import StreamError, StreamEvent
from app.providers.base import ProviderConfig, ProviderRequest, make_provider
from app.providers.http import (
    MAX_ERROR_BODY,
    error_from_exception,
    error_from_payload,
    error_from_response,
    join_url,
    kind_for_code,
    parse_retry_after,
)
from app.providers.streaming import SSEProvider

if TYPE_CHECKING:
    import httpx

__all__ = [
    "ENDED",
    "LIMITS",
    "AnthropicBatchAPI",
    "BatchAPI",
    "BatchError",
    "BatchLimits",
    "BatchStatus",
    "OpenAIBatchAPI",
    "Outcome",
    "batch_api_for",
    "batch_body",
    "document_reader",
    "parse_anthropic_results",
    "parse_openai_results",
    "split_requests",
]

# Statuses after which a batch will not change (its results can be read).
ENDED = frozenset({"completed", "failed", "expired", "cancelled", "ended"})
CREATE_RETRIES = 4
EXPIRED = "the batch expired (24 h) before this request ran; re-run the sweep's failed cells (`--resume`)"
CANCELED = "the batch was cancelled before this request ran"


@dataclass(frozen=True, slots=True)
class BatchLimits:
    max_requests: int
    max_bytes: int


LIMITS = {
    "openai": BatchLimits(50_000, 200 * 1024 * 1024),
    "anthropic": BatchLimits(100_000, 256 * 1024 * 1024),
}


@dataclass(frozen=True, slots=True)
class Outcome:
    """One request's result as the normalised events a stream would have given (ending in `Finish` or
    `StreamError`); `error` is that error, when it is one."""

    events: tuple[StreamEvent, ...]
    error: StreamError | None = None


def _failed(kind: str, message: str, status: int | None = None) -> Outcome:
    err = StreamError(kind, message, status=status)
    return Outcome((err,), err)


def expired_outcome() -> Outcome:
    return _failed("timeout", EXPIRED)


def missing_outcome(status: str) -> Outcome:
    if status in ("cancelled", "canceled", "canceling", "cancelling"):
        return _failed("server", CANCELED)
    return _failed("server", f"the batch ended ({status}) without a result for this request")


def _outcome(events: Iterable[StreamEvent]) -> Outcome:
    evs = tuple(events)
    last = evs[-1] if evs else None
    return Outcome(evs, last if isinstance(last, StreamError) else None)


@dataclass(frozen=True, slots=True)
class BatchStatus:
    id: str
    status: str  # the provider's word; "ended" for Anthropic
    counts: dict[str, int]
    raw: dict[str, Any]


class BatchError(Exception):
    """The provider could not be asked (HTTP error, network). `sent_maybe`: a create whose outcome is
    unknown (the connection broke after the request went out)."""

    def __init__(self, error: StreamError, *, sent_maybe: bool = False) -> None:
        super().__init__(error.message)
        self.error = error
        self.sent_maybe = sent_maybe


def batch_body(provider_body: dict[str, Any]) -> dict[str, Any]:
    """The live request body as a batch request: without `stream` and `stream_options`."""
    return {k: v for k, v in provider_body.items() if k not in ("stream", "stream_options")}


def split_requests(items: Sequence[tuple[int, dict[str, Any]]], limits: BatchLimits,
                   size: Any = None) -> list[list[tuple[int, dict[str, Any]]]]:
    """`items` in order, cut into chunks that keep under `limits` (requests, and bytes as measured by
    `size(item)`: by default its JSON line's length + 1)."""
    measure = size or (lambda item: len(json.dumps(item[1], ensure_ascii=False).encode()) + 1)
    chunks: list[list[tuple[int, dict[str, Any]]]] = []
    current: list[tuple[int, dict[str, Any]]] = []
    used = 0
    for item in items:
        n = measure(item)
        if current and (len(current) >= limits.max_requests or used + n > limits.max_bytes):
            chunks.append(current)
            current, used = [], 0
        current.append(item)
        used += n
    if current:
        chunks.append(current)
    return chunks


# ------------------------------------------------------------------------------------------------ results
DocumentReader = Callable[[Any], Iterable[StreamEvent]]


def document_reader(provider: Any) -> DocumentReader:
    """The live client's reader of an answer sent as one JSON document (`SSEProvider.on_document`): a
    batch result goes through the very code a non-streamed live answer would."""
    sse: SSEProvider = provider
    return lambda doc: sse.on_document(sse.new_state(), doc)


def _lines(text: str) -> Iterable[dict[str, Any]]:
    for line in text.splitlines():
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            continue
        if isinstance(obj, dict) and isinstance(obj.get("custom_id"), str):
            yield obj


def parse_openai_results(text: str, parse: DocumentReader, api_key: str | None = None) -> dict[str, Outcome]:
    """custom_id -> outcome, from OpenAI output and error file lines (matched by custom_id, not order);
    `parse` reads a response body (`document_reader` of the live client)."""
    out: dict[str, Outcome] = {}
    for obj in _lines(text):
        cid = obj["custom_id"]
        response = obj.get("response")
        error = obj.get("error")
        if isinstance(response, dict) and response.get("status_code") == 200 and isinstance(response.get("body"), dict):
            out[cid] = _outcome(parse(response["body"]))
        elif isinstance(response, dict) and isinstance(response.get("status_code"), int):
            status = int(response["status_code"])
            body = json.dumps(response.get("body") or {}).encode()
            err = error_from_response(status, {}, body, api_key=api_key)
            out[cid] = Outcome((err,), err)
        elif isinstance(error, dict):
            code = str(error.get("code") or "")
            if code == "batch_expired":
                out[cid] = expired_outcome()
            elif code == "batch_cancelled":
                out[cid] = _failed("server", CANCELED)
            else:
                message = str(error.get("message") or code or "the request failed")
                out[cid] = _failed(kind_for_code(code, default="bad_request"), message)
        else:
            out[cid] = _failed("bad_stream", "a batch result line without a response or an error")
    return out


def parse_anthropic_results(text: str, parse: DocumentReader, api_key: str | None = None) -> dict[str, Outcome]:
    """custom_id -> outcome, from Anthropic's results JSONL (`parse` reads a message)."""
    out: dict[str, Outcome] = {}
    for obj in _lines(text):
        cid = obj["custom_id"]
        result = obj.get("result")
        kind = result.get("type") if isinstance(result, dict) else None
        if kind == "succeeded" and isinstance(result, dict):
            out[cid] = _outcome(parse(result.get("message")))
        elif kind == "errored" and isinstance(result, dict):
            err = error_from_payload(result.get("error") or {}, default_kind="bad_request", api_key=api_key,
                                     fallback="the request failed in the batch")
            out[cid] = Outcome((err,), err)
        elif kind == "expired":
            out[cid] = expired_outcome()
        elif kind == "canceled":
            out[cid] = _failed("server", CANCELED)
        else:
            out[cid] = _failed("bad_stream", f"an unknown batch result type {kind!r}")
    return out


# ------------------------------------------------------------------------------------------------ HTTP
class _HTTP:
    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.client = client

    def _timeout(self) -> Any:
        import httpx

        return httpx.Timeout(self.config.connect_timeout, read=max(self.config.idle_timeout, 60.0), write=120.0,
                             pool=30.0)

    async def call(self, method: str, url: str, headers: dict[str, str], *, json_body: Any = None,
                   files: Any = None, data: Any = None, creates: bool = False, text: bool = False) -> Any:
        """One request; a POST (upload, create) is retried on 429/529/5xx honouring Retry-After, and on
        a failed connection. Raises BatchError. `creates`: a create, whose outcome is unknown if the
        connection broke after it was sent. A GET is not retried here: the poll loop looks again later."""
        import httpx

        retries = CREATE_RETRIES if method == "POST" else 0
        for attempt in range(retries + 1):
            try:
                response = await self.client.request(method, url, headers=headers, json=json_body, files=files,
                                                     data=data, timeout=self._timeout())
            except (httpx.HTTPError, OSError) as exc:
                err = error_from_exception(exc, config=self.config)
                connect = isinstance(exc, httpx.ConnectError | httpx.ConnectTimeout)
                if attempt < retries and (connect or not creates):
                    await asyncio.sleep(min(0.5 * 2 ** attempt, 8.0))
                    continue
                raise BatchError(err, sent_maybe=creates and not connect) from None
            if response.status_code < 300:
                if text:
                    return response.text
                try:
                    return response.json()
                except ValueError:
                    raise BatchError(StreamError("bad_stream", self.not_json(url, response))) from None
            err = error_from_response(response.status_code, response.headers, response.content[:MAX_ERROR_BODY],
                                      api_key=self.config.api_key)
            if attempt < retries and err.kind in ("rate_limit", "overloaded", "server"):
                wait = parse_retry_after(response.headers)
                if wait is None:
                    wait = min(1.0 * 2 ** attempt, 16.0) * (0.5 + random.random() / 2)
                await asyncio.sleep(min(wait, 120.0))
                continue
            raise BatchError(err)
        raise AssertionError("unreachable")

    def not_json(self, url: str, response: httpx.Response) -> str:
        """What a user reads when the batch endpoint answered something else than JSON (an HTML page, an
        empty body, a proxy's page): what came back, what it likely means, and what to do."""
        who = {"anthropic": "Anthropic's batch API", "openai": "OpenAI's batch API"}.get(
            self.config.id, f"The batch API of {self.config.id}")
        feature = "Message Batches" if self.config.id == "anthropic" else "the Batch API"
        ctype = response.headers.get("content-type", "").split(";")[0].strip() or "no content type"
        size = len(response.content)
        return (f"{who} at {url} answered with something that is not JSON (HTTP {response.status_code}, {ctype}, "
                f"{size:,} byte{'s' if size != 1 else ''}): the endpoint may not support {feature} — run this sweep "
                "again without batch APIs (\"Use batch APIs\" unticked in New sweep; on the command line, "
                "without --batch)")


class BatchAPI(Protocol):
    provider: str
    limits: BatchLimits

    def body(self, request: ProviderRequest) -> dict[str, Any]: ...

    def split(self, items: Sequence[tuple[int, dict[str, Any]]]) -> list[list[tuple[int, dict[str, Any]]]]: ...

    async def create(self, key: str, requests: Sequence[tuple[str, dict[str, Any]]]) -> BatchStatus: ...

    async def retrieve(self, batch_id: str) -> BatchStatus: ...

    async def find(self, key: str, created_after: float, count: int) -> BatchStatus | None: ...

    async def cancel(self, batch_id: str) -> BatchStatus: ...

    async def results(self, status: BatchStatus, custom_ids: set[str]) -> dict[str, Outcome]: ...


class _Base:
    kind = ""

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient) -> None:
        self.config = config
        self.provider = config.id
        self.http = _HTTP(config, client)
        self.live = make_provider(config, client)
        self.read = document_reader(self.live)
        self.limits = LIMITS[self.kind]

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.config.id} {self.config.base_url}>"

    status_field, status_first = "status", ""  # where the provider's answer says a batch's status, and its first

    def _status(self, data: Any) -> BatchStatus:
        """A batch as the provider describes it (create, retrieve, cancel and list answers alike)."""
        if not isinstance(data, dict) or not isinstance(data.get("id"), str):
            raise BatchError(StreamError("bad_stream", "the batch answer has no id"))
        raw = data.get("request_counts")
        counts: dict[str, Any] = raw if isinstance(raw, dict) else {}
        return BatchStatus(data["id"], str(data.get(self.status_field) or self.status_first),
                           {k: int(v) for k, v in counts.items() if isinstance(v, int)}, data)

    def body(self, request: ProviderRequest) -> dict[str, Any]:
        return batch_body(self.live.build_body(request))

    def split(self, items: Sequence[tuple[int, dict[str, Any]]]) -> list[list[tuple[int, dict[str, Any]]]]:
        # each request's line also carries its custom_id and (OpenAI) method and url: ~120 bytes
        return split_requests(items, BatchLimits(self.limits.max_requests, self.limits.max_bytes - 1024),
                              lambda item: len(json.dumps(item[1], ensure_ascii=False).encode()) + 128)


class OpenAIBatchAPI(_Base):
    """OpenAI Batch over the provider's base URL (`…/v1`), for its Responses or Chat Completions endpoint."""

    kind = "openai"

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient) -> None:
        super().__init__(config, client)
        self.endpoint = "/v1/chat/completions" if config.protocol == "chat" else "/v1/responses"

    def _headers(self) -> dict[str, str]:
        headers = {"authorization": f"Bearer {self.config.api_key}"} if self.config.api_key else {}
        headers.update(self.config.headers)
        return headers

    def _url(self, path: str) -> str:
        return join_url(self.config.base_url, path)

    def jsonl(self, requests: Sequence[tuple[str, dict[str, Any]]]) -> bytes:
        return b"".join(json.dumps({"custom_id": cid, "method": "POST", "url": self.endpoint, "body": body},
                                   ensure_ascii=False).encode() + b"\n" for cid, body in requests)

    status_field, status_first = "status", "validating"

    async def create(self, key: str, requests: Sequence[tuple[str, dict[str, Any]]]) -> BatchStatus:
        upload = await self.http.call("POST", self._url("files"), self._headers(), data={"purpose": "batch"},
                                      files={"file": (f"triptych-{key}.jsonl", self.jsonl(requests),
                                                      "application/jsonl")})
        file_id = upload.get("id") if isinstance(upload, dict) else None
        if not isinstance(file_id, str):
            raise BatchError(StreamError("bad_stream", "the file upload answer has no id"))
        data = await self.http.call("POST", self._url("batches"), self._headers(), creates=True,
                                    json_body={"input_file_id": file_id, "endpoint": self.endpoint,
                                               "completion_window": "24h", "metadata": {"triptych_batch": key}})
        return self._status(data)

    async def retrieve(self, batch_id: str) -> BatchStatus:
        return self._status(await self.http.call("GET", self._url(f"batches/{batch_id}"), self._headers()))

    async def cancel(self, batch_id: str) -> BatchStatus:
        return self._status(await self.http.call("POST", self._url(f"batches/{batch_id}/cancel"), self._headers()))

    async def find(self, key: str, created_after: float, count: int) -> BatchStatus | None:
        data = await self.http.call("GET", self._url("batches?limit=100"), self._headers())
        for item in data.get("data", []) if isinstance(data, dict) else []:
            meta = item.get("metadata") if isinstance(item, dict) else None
            if isinstance(meta, dict) and meta.get("triptych_batch") == key:
                return self._status(item)
        return None

    async def results(self, status: BatchStatus, custom_ids: set[str]) -> dict[str, Outcome]:
        out: dict[str, Outcome] = {}
        for name in ("output_file_id", "error_file_id"):
            file_id = status.raw.get(name)
            if isinstance(file_id, str) and file_id:
                text = await self.http.call("GET", self._url(f"files/{file_id}/content"), self._headers(), text=True)
                for cid, outcome in parse_openai_results(text, self.read, self.config.api_key).items():
                    if cid in custom_ids and (cid not in out or out[cid].error is not None):
                        out[cid] = outcome
        if status.status == "failed":  # validation failed: nothing ran
            errors = status.raw.get("errors")
            data = errors.get("data") if isinstance(errors, dict) else None
            first = data[0] if isinstance(data, list) and data and isinstance(data[0], dict) else {}
            message = str(first.get("message") or "the batch failed validation")
            for cid in custom_ids - set(out):
                out[cid] = _failed("bad_request", f"the batch failed: {message}")
        return out


class AnthropicBatchAPI(_Base):
    """Anthropic Message Batches (`{base}/v1/messages/batches`), with the Messages headers."""

    kind = "anthropic"

    def _headers(self) -> dict[str, str]:
        headers = dict(self.live.extra_headers()) if hasattr(self.live, "extra_headers") else {}
        headers.update(self.config.headers)
        return headers

    def _url(self, path: str) -> str:
        base = self.config.base_url.rstrip("/")
        if base.endswith("/v1"):
            base = base[:-3]
        return join_url(base, f"v1/messages/batches{path}")

    status_field, status_first = "processing_status", "in_progress"

    async def create(self, key: str, requests: Sequence[tuple[str, dict[str, Any]]]) -> BatchStatus:
        body = {"requests": [{"custom_id": cid, "params": params} for cid, params in requests]}
        return self._status(await self.http.call("POST", self._url(""), self._headers(), json_body=body,
                                                 creates=True))

    async def retrieve(self, batch_id: str) -> BatchStatus:
        return self._status(await self.http.call("GET", self._url(f"/{batch_id}"), self._headers()))

    async def cancel(self, batch_id: str) -> BatchStatus:
        return self._status(await self.http.call("POST", self._url(f"/{batch_id}/cancel"), self._headers()))

    async def find(self, key: str, created_after: float, count: int) -> BatchStatus | None:
        """Anthropic batches carry no metadata: the one created after `created_after` (less a minute of
        clock skew) with exactly `count` requests, if there is exactly one."""
        data = await self.http.call("GET", self._url("?limit=100"), self._headers())
        found = []
        for item in data.get("data", []) if isinstance(data, dict) else []:
            try:
                status = self._status(item)
                created = datetime.fromisoformat(str(item.get("created_at")).replace("Z", "+00:00")).timestamp()
            except (BatchError, ValueError):
                continue
            if created >= created_after - 60 and sum(status.counts.values()) == count:
                found.append(status)
        return found[0] if len(found) == 1 else None

    def _results_url(self, status: BatchStatus) -> str:
        """The batch's `results_url` when it is on the configured API host (the key goes with it), else
        the documented path under the base URL."""
        url = status.raw.get("results_url")
        ours = self._url(f"/{status.id}/results")
        if isinstance(url, str) and urlsplit(url)[:2] == urlsplit(ours)[:2]:
            return url
        return ours

    async def results(self, status: BatchStatus, custom_ids: set[str]) -> dict[str, Outcome]:
        text = await self.http.call("GET", self._results_url(status), self._headers(), text=True)
        return {cid: o for cid, o in parse_anthropic_results(text, self.read, self.config.api_key).items() if cid in custom_ids}


_BATCH_PROVIDERS = {"openai": OpenAIBatchAPI, "anthropic": AnthropicBatchAPI}


def batch_api_for(config: ProviderConfig, client: httpx.AsyncClient | None = None) -> Any:
    """The batch API of a built-in provider that has one (`openai` over Responses or Chat Completions,
    `anthropic` over Messages): an API object when `client` is given, else its class; None for the
    others (DeepSeek, OpenRouter, local servers and user-defined endpoints run live)."""
    cls = _BATCH_PROVIDERS.get(config.id)
    if cls is None:
        return None
    if (config.id == "anthropic") != (config.protocol == "anthropic"):
        return None
    return cls if client is None else cls(config, client)
