"""Fake batch APIs for the loopback server (tests/fakes/server.py): OpenAI Batch (files + batches) and
Anthropic Message Batches, shaped as PROTOCOLS.md "Batch APIs" and app/batch_api.py describe them.

Each request in a batch is answered like the same request sent live (the server's scripts by model
name, else the deterministic default answer), as one JSON document in the endpoint's format. Special
model names inside a batch:

    batch-expire      the request is never run: the batch ends `expired` (OpenAI: the request is in the
                      error file with `batch_expired`; Anthropic: result type `expired`); the others keep
                      their results
    fail-<status>     the request errors (OpenAI: an error response line with that status; Anthropic:
                      an `errored` result)

Knobs on `server.batches`: `polls_to_end` (GETs of a batch before it ends, default 1), `hold` (while
True no batch ends), `expire_models` (models whose requests expire, like `batch-expire`), `fail_polls` (how many
GETs of a batch answer 503 first), `create_429` (how many creates answer 429 with `retry-after: retry_after` first).
`creates` counts the accepted creates (path → n); `created` lists the batch objects.
"""

from __future__ import annotations

import itertools
import json
import re
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

_OPENAI_FINISH_INCOMPLETE = {"length": "max_output_tokens", "content_filter": "content_filter"}
_FAIL = re.compile(r"^fail-(\d{3})$")
_ids = itertools.count(1)


def _iso(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat().replace("+00:00", "Z")


@dataclass
class _Batch:
    id: str
    kind: str  # openai | anthropic
    endpoint: str
    requests: list[tuple[str, dict[str, Any]]]  # (custom_id, body)
    created: float = field(default_factory=time.time)
    metadata: dict[str, Any] = field(default_factory=dict)
    polls: int = 0
    ended: bool = False
    output_file_id: str | None = None
    error_file_id: str | None = None
    results: list[dict[str, Any]] = field(default_factory=list)  # anthropic result lines
    status: str = ""


class FakeBatches:
    def __init__(self, server: Any) -> None:
        self.server = server
        self.polls_to_end = 1
        self.hold = False
        self.create_429 = 0
        self.retry_after = "0.2"
        self.expire_models: set[str] = set()
        self.fail_polls = 0
        self.files: dict[str, bytes] = {}
        self.batches: dict[str, _Batch] = {}
        self.creates: dict[str, int] = {}
        self.rejected_creates = 0
        self._lock = threading.Lock()

    def reset(self) -> None:
        with self._lock:
            self.polls_to_end, self.hold, self.create_429, self.retry_after = 1, False, 0, "0.2"
            self.expire_models = set()
            self.fail_polls = 0
            self.files.clear()
            self.batches.clear()
            self.creates.clear()
            self.rejected_creates = 0

    @property
    def created(self) -> list[_Batch]:
        with self._lock:
            return list(self.batches.values())

    # ------------------------------------------------------------------------------------- routing
    def handle(self, request: Any) -> Any:
        from tests.fakes.server import Scenario

        route = request.path.split("?", 1)[0].rstrip("/")
        m, body = request.method, request.body
        with self._lock:
            if m == "POST" and route.endswith("/files"):
                return self._upload(request)
            if m == "GET" and (fm := re.search(r"/files/([^/]+)/content$", route)):
                data = self.files.get(fm.group(1))
                if data is None:
                    return Scenario.respond(404, {"error": {"message": "No such File object", "type": "invalid_request_error"}})
                return Scenario.respond(200, data, {"content-type": "application/octet-stream"})
            if m == "POST" and (cm := re.search(r"/batches/([^/]+)/cancel$", route)):
                b = self.batches.get(cm.group(1))
                if b is None:
                    return Scenario.respond(404, {"error": {"message": "No such batch"}})
                if not b.ended:
                    self._cancel(b)
                return Scenario.respond(200, self._view(b, request))
            if m == "POST" and route.endswith(("/batches",)):
                if self.create_429 > 0:
                    self.create_429 -= 1
                    self.rejected_creates += 1
                    err = ({"type": "error", "error": {"type": "rate_limit_error", "message": "Too many batches"}}
                           if "/messages/" in route else
                           {"error": {"message": "Too many batches", "type": "requests", "code": "rate_limit_exceeded"}})
                    return Scenario.respond(429, err, {"retry-after": self.retry_after})
                self.creates[route] = self.creates.get(route, 0) + 1
                if "/messages/" in route:
                    return self._create_anthropic(body, request)
                return self._create_openai(body)
            if m == "GET" and route.endswith("/batches"):
                kind = "anthropic" if "/messages/" in route else "openai"
                items = [self._view(b, request) for b in self.batches.values() if b.kind == kind]
                return Scenario.respond(200, {"data": items[::-1], "has_more": False, "object": "list"})
            if m == "GET" and (rm := re.search(r"/messages/batches/([^/]+)/results$", route)):
                b = self.batches.get(rm.group(1))
                if b is None or not b.ended:
                    return Scenario.respond(404, {"type": "error", "error": {"type": "not_found_error",
                                                                             "message": "results not ready"}})
                data = "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in b.results).encode()
                return Scenario.respond(200, data, {"content-type": "application/binary"})
            if m == "GET" and (bm := re.search(r"/batches/([^/]+)$", route)):
                b = self.batches.get(bm.group(1))
                if b is None:
                    return Scenario.respond(404, {"error": {"message": "No such batch"}})
                if self.fail_polls > 0:
                    self.fail_polls -= 1
                    return Scenario.respond(503, b"<html><title>503 Service Unavailable</title></html>",
                                            {"content-type": "text/html"})
                b.polls += 1
                if not b.ended and not self.hold and b.polls >= self.polls_to_end:
                    self._run(b)
                return Scenario.respond(200, self._view(b, request))
        return Scenario.respond(404, {"error": {"message": f"no route for {m} {request.path}"}})

    # ------------------------------------------------------------------------------------- OpenAI
    def _upload(self, request: Any) -> Any:
        from tests.fakes.server import Scenario

        fields = _multipart(request.headers.get("content-type", ""), request.raw)
        if fields.get("purpose", b"").decode() != "batch" or "file" not in fields:
            return Scenario.respond(400, {"error": {"message": "purpose must be batch, with a file"}})
        fid = f"file-fake{next(_ids):05d}"
        self.files[fid] = fields["file"]
        return Scenario.respond(200, {"id": fid, "object": "file", "bytes": len(fields["file"]), "purpose": "batch",
                                      "created_at": int(time.time()), "filename": "batch.jsonl"})

    def _create_openai(self, body: Any) -> Any:
        from tests.fakes.server import Scenario

        if not isinstance(body, dict) or body.get("completion_window") != "24h" or body.get("input_file_id") not in self.files:
            return Scenario.respond(400, {"error": {"message": "bad batch create", "type": "invalid_request_error"}})
        endpoint = body.get("endpoint")
        requests = []
        for line in self.files[body["input_file_id"]].decode().splitlines():
            if line.strip():
                obj = json.loads(line)
                if obj.get("method") != "POST" or obj.get("url") != endpoint:
                    return Scenario.respond(400, {"error": {"message": f"line url {obj.get('url')} != {endpoint}"}})
                requests.append((obj["custom_id"], obj["body"]))
        if len({c for c, _ in requests}) != len(requests):
            return Scenario.respond(400, {"error": {"message": "duplicate custom_id"}})
        b = _Batch(f"batch_fake{next(_ids):05d}", "openai", str(endpoint), requests,
                   metadata=dict(body.get("metadata") or {}))
        b.status = "validating"
        self.batches[b.id] = b
        return Scenario.respond(200, self._view(b, None))

    # ------------------------------------------------------------------------------------- Anthropic
    def _create_anthropic(self, body: Any, request: Any) -> Any:
        from tests.fakes.server import Scenario

        if "anthropic-version" not in request.headers:
            return Scenario.respond(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                                     "message": "anthropic-version header is required"}})
        reqs = body.get("requests") if isinstance(body, dict) else None
        if not isinstance(reqs, list) or not reqs:
            return Scenario.respond(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                                     "message": "requests: field required"}})
        requests = [(r["custom_id"], r["params"]) for r in reqs]
        for cid, params in requests:
            if not re.fullmatch(r"[A-Za-z0-9_-]{1,64}", cid) or "stream" in params:
                return Scenario.respond(400, {"type": "error", "error": {"type": "invalid_request_error",
                                                                         "message": f"bad request {cid}"}})
        b = _Batch(f"msgbatch_fake{next(_ids):05d}", "anthropic", "/v1/messages", requests)
        b.status = "in_progress"
        self.batches[b.id] = b
        return Scenario.respond(200, self._view(b, request))

    # ------------------------------------------------------------------------------------- running
    def _answer(self, b: _Batch, body: dict[str, Any]) -> tuple[str, Any]:
        """('ok', document) | ('expire', None) | ('fail', status) for one request."""
        from tests.fakes.server import Answer, HTTPFault, RecordedRequest, Scenario, default_answer

        model = str(body.get("model") or "fake-model")
        name = model.rsplit("/", 1)[-1]
        if "batch-expire" in name or model in self.expire_models:
            return "expire", None
        fm = _FAIL.match(name)
        if fm:
            return "fail", int(fm.group(1))
        fmt = "anthropic" if b.kind == "anthropic" else "chat" if b.endpoint.endswith("/chat/completions") else "responses"
        req = RecordedRequest("POST", b.endpoint, {}, body, b"", fmt, "anthropic" if fmt == "anthropic" else "openai")
        item = self.server._pick(req)
        if callable(item) and not isinstance(item, Scenario | Answer | HTTPFault):
            item = item(req)
        if isinstance(item, HTTPFault):
            return "fail", item.status
        answer = item if isinstance(item, Answer) else default_answer(req, rate=0)
        return "ok", _document(answer, fmt, model)

    def _run(self, b: _Batch) -> None:
        b.ended = True
        outputs, errors, expired = [], [], 0
        for n, (cid, body) in enumerate(b.requests):
            kind, doc = self._answer(b, body)
            rid = f"req_fake{n:04d}"
            if b.kind == "anthropic":
                if kind == "ok":
                    b.results.append({"custom_id": cid, "result": {"type": "succeeded", "message": doc}})
                elif kind == "fail":
                    b.results.append({"custom_id": cid, "result": {"type": "errored", "error": {
                        "type": "error", "error": {"type": "invalid_request_error" if doc < 500 else "api_error",
                                                   "message": f"fake error {doc} for this request"}}}})
                else:
                    b.results.append({"custom_id": cid, "result": {"type": "expired"}})
                continue
            if kind == "ok":
                outputs.append({"id": f"batch_req_{n}", "custom_id": cid,
                                "response": {"status_code": 200, "request_id": rid, "body": doc}, "error": None})
            elif kind == "fail":
                errors.append({"id": f"batch_req_{n}", "custom_id": cid, "response": {
                    "status_code": doc, "request_id": rid,
                    "body": {"error": {"message": f"fake error {doc} for this request", "type": "invalid_request_error",
                                       "code": None}}}, "error": None})
            else:
                expired += 1
                errors.append({"id": f"batch_req_{n}", "custom_id": cid, "response": None,
                               "error": {"code": "batch_expired", "message": "This request could not be executed "
                                                                             "before the completion window expired."}})
        if b.kind == "openai":
            b.status = "expired" if expired else "completed"
            if outputs:
                b.output_file_id = f"file-fakeout{next(_ids):05d}"
                self.files[b.output_file_id] = "".join(json.dumps(o) + "\n" for o in outputs[::-1]).encode()
            if errors:
                b.error_file_id = f"file-fakeerr{next(_ids):05d}"
                self.files[b.error_file_id] = "".join(json.dumps(o) + "\n" for o in errors).encode()
        else:
            b.status = "ended"
            b.results.reverse()  # results come in any order: matched by custom_id

    def _cancel(self, b: _Batch) -> None:
        """Cancelled before anything ran: OpenAI ends `cancelled` with no files, Anthropic `ended` with
        every result `canceled` (the fake runs a batch's requests only when it ends)."""
        b.ended = True
        if b.kind == "openai":
            b.status = "cancelled"
        else:
            b.status = "ended"
            b.results = [{"custom_id": cid, "result": {"type": "canceled"}} for cid, _ in b.requests]

    def _view(self, b: _Batch, request: Any) -> dict[str, Any]:
        n = len(b.requests)
        if b.kind == "anthropic":
            counts = {"processing": n, "succeeded": 0, "errored": 0, "canceled": 0, "expired": 0}
            if b.ended:
                counts["processing"] = 0
                for r in b.results:
                    counts[r["result"]["type"]] += 1
            host = request.headers.get("host") if request is not None else None
            base = f"http://{host}" if host else self.server.base_url
            return {"id": b.id, "type": "message_batch", "processing_status": "ended" if b.ended else "in_progress",
                    "request_counts": counts, "ended_at": _iso(time.time()) if b.ended else None,
                    "created_at": _iso(b.created), "expires_at": _iso(b.created + 86400), "archived_at": None,
                    "cancel_initiated_at": None,
                    "results_url": f"{base}/v1/messages/batches/{b.id}/results" if b.ended else None}
        status = b.status if b.ended else ("validating" if b.polls == 0 else "in_progress")
        done = failed = 0
        if b.ended:
            for f, target in ((b.output_file_id, "done"), (b.error_file_id, "failed")):
                if f:
                    k = sum(1 for line in self.files[f].splitlines() if line.strip())
                    if target == "done":
                        done = k
                    else:
                        failed = k
        return {"id": b.id, "object": "batch", "endpoint": b.endpoint, "errors": None,
                "input_file_id": "file-in", "completion_window": "24h", "status": status,
                "output_file_id": b.output_file_id, "error_file_id": b.error_file_id,
                "created_at": int(b.created), "metadata": b.metadata,
                "request_counts": {"total": n, "completed": done, "failed": failed}}


def _document(a: Any, fmt: str, model: str) -> dict[str, Any]:
    """`a` (tests.fakes.server.Answer) as one non-streamed JSON answer in `fmt`."""
    text, reasoning = "".join(a.text), "".join(a.reasoning)
    inp, out, cached = a.input_tokens, a.out_tokens, a.cached_tokens
    if fmt == "anthropic":
        content: list[dict[str, Any]] = []
        if reasoning:
            content.append({"type": "thinking", "thinking": reasoning, "signature": "sig-fake"})
        content.append({"type": "text", "text": text})
        stop = {"stop": "end_turn", "length": "max_tokens", "content_filter": "refusal"}.get(a.finish, "end_turn")
        return {"id": "msg_fake", "type": "message", "role": "assistant", "model": model, "content": content,
                "stop_reason": stop, "stop_sequence": None,
                "usage": {"input_tokens": inp - cached - a.cache_write_tokens, "output_tokens": out,
                          "cache_read_input_tokens": cached, "cache_creation_input_tokens": a.cache_write_tokens}}
    if fmt == "responses":
        output: list[dict[str, Any]] = []
        if reasoning:
            output.append({"type": "reasoning", "id": "rs_fake", "summary": [{"type": "summary_text", "text": reasoning}]})
        output.append({"type": "message", "id": "msg_fake", "role": "assistant", "status": "completed",
                       "content": [{"type": "output_text", "text": text, "annotations": []}]})
        incomplete = _OPENAI_FINISH_INCOMPLETE.get(a.finish)
        return {"id": "resp_fake", "object": "response", "model": model,
                "status": "incomplete" if incomplete else "completed",
                "incomplete_details": {"reason": incomplete} if incomplete else None, "output": output,
                "usage": {"input_tokens": inp, "input_tokens_details": {"cached_tokens": cached},
                          "output_tokens": out, "output_tokens_details": {"reasoning_tokens": a.reason_tokens},
                          "total_tokens": inp + out}}
    return {"id": "chatcmpl-fake", "object": "chat.completion", "created": int(time.time()), "model": model,
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": a.finish}],
            "usage": {"prompt_tokens": inp, "completion_tokens": out, "total_tokens": inp + out,
                      "prompt_tokens_details": {"cached_tokens": cached},
                      "completion_tokens_details": {"reasoning_tokens": a.reason_tokens}}}


def _multipart(content_type: str, raw: bytes) -> dict[str, bytes]:
    """The fields of a multipart/form-data body (name -> content)."""
    m = re.search(r'boundary="?([^";]+)"?', content_type)
    if not m:
        return {}
    out: dict[str, bytes] = {}
    for part in raw.split(b"--" + m.group(1).encode()):
        head, sep, content = part.partition(b"\r\n\r\n")
        if not sep:
            continue
        nm = re.search(rb'name="([^"]+)"', head)
        if nm:
            out[nm.group(1).decode()] = content.removesuffix(b"\r\n")
    return out
