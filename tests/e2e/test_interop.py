"""What running Triptych against third-party servers (LiteLLM proxy, llmock, mock servers; issue #14) found,
reproduced on the loopback fake server: the real engine, the real provider clients, real sockets.

Each test drives a card through `Engine.ask` (the path the GUI and `triptych ask` share) or runs the
CLI in-process, and checks what the user sees: the status, the text, the message, usage and cost.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import AsyncIterator, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from app import cli
from app import logs as app_logs
from app.config import load_settings
from app.domain import NodeStatus, Session
from app.engine import Engine, Target
from app.providers import retry
from storage import open_store
from tests.e2e.test_faults import FORMATS, Rig, _env
from tests.fakes.server import Answer, FakeProviderServer, HTTPFault, Scenario, Send, Stall, sse
from tests.reliability import kept_text, record


def _j(obj: Any) -> str:
    return json.dumps(obj, separators=(",", ":"))


def opening_events(fmt: str, usage: dict[str, int] | None = None) -> bytes:
    """The events a server sends before the first token: a role-only chunk (Chat), response.created and
    response.in_progress (Responses), message_start and content_block_start (Anthropic)."""
    if fmt == "chat":
        return sse([(None, _j({"id": "c1", "object": "chat.completion.chunk", "model": "m", "choices": [
            {"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]}))])
    if fmt == "responses":
        response = {"id": "resp_1", "object": "response", "status": "in_progress", "output": [], "usage": usage}
        return sse([
            ("response.created", _j({"type": "response.created", "sequence_number": 0, "response": response})),
            ("response.in_progress", _j({"type": "response.in_progress", "sequence_number": 1,
                                         "response": response})),
        ])
    return sse([
        ("message_start", _j({"type": "message_start", "message": {
            "id": "msg_1", "type": "message", "role": "assistant", "content": [], "model": "m",
            "stop_reason": None, "usage": usage or {"input_tokens": 25, "output_tokens": 1}}})),
        ("content_block_start", _j({"type": "content_block_start", "index": 0,
                                    "content_block": {"type": "text", "text": ""}})),
    ])


def text_event(fmt: str, text: str) -> bytes:
    if fmt == "chat":
        return sse([(None, _j({"id": "c1", "object": "chat.completion.chunk", "model": "m", "choices": [
            {"index": 0, "delta": {"content": text}, "finish_reason": None}]}))])
    if fmt == "responses":
        return sse([("response.output_text.delta", _j({"type": "response.output_text.delta", "sequence_number": 5,
                                                       "item_id": "msg_1", "output_index": 0,
                                                       "content_index": 0, "delta": text}))])
    return sse([("content_block_delta", _j({"type": "content_block_delta", "index": 0,
                                            "delta": {"type": "text_delta", "text": text}}))])


@pytest.fixture
async def rig(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[Rig]:
    """As in test_faults: the fake server, settings pointing at it, a store, an engine without retries."""
    async with FakeProviderServer(tokens_per_second=0) as srv:
        _env(monkeypatch, srv, tmp_path)
        settings = load_settings(tmp_path)
        repo = open_store(tmp_path)
        engine = Engine(repo, settings, max_retries=0)
        sid = repo.create_session(Session(title="interop")).id
        yield Rig(srv, settings, repo, engine, sid)
        await engine.aclose()
        repo.close()


@pytest.fixture
def fast_backoff(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(retry, "BACKOFF_BASE", 0.01)


# ---------------------------------------------------------------------------- 1. dies before the first token

DEATHS = {
    "empty 200 body": lambda fmt: Scenario.stream([]),
    "cut after the opening events": lambda fmt: Scenario.stream([opening_events(fmt)], end="close"),
    "clean end after the opening events": lambda fmt: Scenario.stream([opening_events(fmt)]),
}


@pytest.mark.parametrize("death", list(DEATHS))
async def test_a_stream_that_dies_before_the_first_token_is_retried(rig: Rig, fast_backoff: None,
                                                                     death: str) -> None:
    rig.engine.max_retries = 1
    for pid, ref in FORMATS.items():
        model = ref.split(":", 1)[1]
        rig.srv.script(model, lambda req: DEATHS[death](req.fmt), Answer(text=("after ", "the retry")))
        node = await rig.ask(ref)
        assert node.status == NodeStatus.DONE and node.text == "after the retry", (pid, node.error)
        assert len(rig.srv.requests_for(model)) == 2, pid
        rig.srv.reset()
    # retries exhausted: the card says that no text arrived, as a network failure
    rig.engine.max_retries = 0
    for pid, ref in FORMATS.items():
        model = ref.split(":", 1)[1]
        rig.srv.script(model, lambda req: DEATHS[death](req.fmt))
        node = await rig.ask(ref)
        assert node.status == NodeStatus.ERROR and node.error is not None, pid
        assert node.error.kind == "network", (pid, node.error)
        assert "before any text arrived" in node.error.message and "mid-answer" not in node.error.message
        rig.srv.reset()
    record("Network", f"{death} (no text yet), then a good answer", "`done`: retried like a network failure; "
           f"with no retries left `{node.status.value}` ({node.error.kind}): {node.error.message}",
           "the retried answer")


async def test_a_timeout_before_the_first_token_is_not_retried(rig: Rig, fast_backoff: None) -> None:
    """Documented choice (README, "Retries"): the user already waited the whole idle timeout."""
    rig.engine.max_retries = 2
    rig.srv.script("claude-sonnet-5-5", Scenario([Send(opening_events("anthropic")), Stall()]),
                   Answer(text=("never",)))
    node = await rig.ask(FORMATS["anthropic"])
    assert node.status == NodeStatus.ERROR and node.error is not None and node.error.kind == "timeout"
    assert len(rig.srv.requests_for("claude-sonnet-5-5")) == 1


# ---------------------------------------------------------------------------- 2. a whole answer as one JSON

DOCUMENTS = {
    "anthropic": {
        "id": "msg_1", "type": "message", "role": "assistant", "model": "claude-sonnet-5-5",
        "content": [{"type": "thinking", "thinking": "Let me think.", "signature": "sig"},
                    {"type": "text", "text": "Whole answer."}],
        "stop_reason": "max_tokens", "stop_sequence": None,
        "usage": {"input_tokens": 30, "cache_read_input_tokens": 10, "output_tokens": 7},
    },
    "openai": {
        "id": "resp_1", "object": "response", "status": "incomplete", "model": "gpt-6.2-sol", "error": None,
        "incomplete_details": {"reason": "max_output_tokens"},
        "output": [{"type": "reasoning", "id": "rs_1", "summary": [{"type": "summary_text", "text": "Let me think."}]},
                   {"type": "message", "id": "msg_1", "role": "assistant", "status": "incomplete",
                    "content": [{"type": "output_text", "text": "Whole answer.", "annotations": []}]}],
        "usage": {"input_tokens": 40, "input_tokens_details": {"cached_tokens": 10}, "output_tokens": 7,
                  "output_tokens_details": {"reasoning_tokens": 3}},
    },
    "deepseek": {
        "id": "c1", "object": "chat.completion", "model": "deepseek-flash",
        "choices": [{"index": 0, "finish_reason": "length", "message": {
            "role": "assistant", "content": "Whole answer.", "reasoning_content": "Let me think."}}],
        "usage": {"prompt_tokens": 40, "completion_tokens": 7, "prompt_cache_hit_tokens": 10},
    },
}


@pytest.mark.parametrize("pid", list(DOCUMENTS))
async def test_a_whole_answer_sent_as_one_json_document_is_the_answer(rig: Rig, pid: str) -> None:
    ref = FORMATS[pid]
    rig.srv.script(ref.split(":", 1)[1], Scenario.respond(200, DOCUMENTS[pid]))
    node = await rig.ask(ref)
    assert node.status == NodeStatus.DONE, node.error
    assert (node.text, node.reasoning, node.finish) == ("Whole answer.", "Let me think.", "length")
    assert (node.usage.input, node.usage.cached_input, node.usage.output) == (40, 10, 7)
    assert node.cost_usd is not None and node.cost_usd > 0
    if pid == "anthropic":
        record("Network", "a whole answer sent as one JSON document instead of a stream (proxies with mock "
               "deployments)", "`done`: text, reasoning, usage, cost and finish as if streamed",
               kept_text(node.text, "Whole answer."))


async def test_a_failed_response_document_is_an_error(rig: Rig) -> None:
    rig.srv.script("gpt-6.2-sol", Scenario.respond(200, {
        "id": "resp_1", "object": "response", "status": "failed", "output": [],
        "error": {"code": "server_error", "message": "The model crashed."}}))
    node = await rig.ask(FORMATS["openai"])
    assert node.status == NodeStatus.ERROR and node.error is not None
    assert node.error.kind == "server" and node.error.message.startswith("The model crashed.")


# ---------------------------------------------------------------------------- 3. usage seen before a cut


def _cut_with_usage(fmt: str) -> Scenario:
    """Text and the usage the provider already reported, then the connection is cut before the end."""
    if fmt == "anthropic":
        delta = sse([("message_delta", _j({"type": "message_delta", "delta": {"stop_reason": "end_turn"},
                                           "usage": {"output_tokens": 5}}))])
        return Scenario.stream([opening_events(fmt, {"input_tokens": 1000, "output_tokens": 1}),
                                text_event(fmt, "partial"), delta], end="close")
    if fmt == "responses":
        return Scenario.stream([opening_events(fmt, {"input_tokens": 1000, "output_tokens": 0}),
                                text_event(fmt, "partial")], end="close")
    finish = sse([(None, _j({"id": "c1", "object": "chat.completion.chunk", "model": "m",
                             "choices": [{"index": 0, "delta": {}, "finish_reason": "stop"}],
                             "usage": {"prompt_tokens": 1000, "completion_tokens": 5, "total_tokens": 1005}}))])
    return Scenario.stream([opening_events(fmt), text_event(fmt, "partial"), finish], end="close")


@pytest.mark.parametrize("pid", ["deepseek", "openai", "anthropic"])
async def test_usage_seen_before_a_cut_is_kept_and_costed(rig: Rig, pid: str) -> None:
    ref = FORMATS[pid]
    rig.srv.script(ref.split(":", 1)[1], lambda req: _cut_with_usage(req.fmt))
    node = await rig.ask(ref)
    assert node.status == NodeStatus.ERROR and node.text == "partial"
    assert node.usage.input == 1000
    if pid != "openai":
        assert node.usage.output == 5
    assert node.cost_usd is not None and node.cost_usd > 0
    if pid == "anthropic":
        record("Network", "connection cut after usage was reported (before message_stop / [DONE])",
               f"`error` ({node.error.kind if node.error else ''}), with the usage seen so far and its cost",
               kept_text(node.text) + "; input and output tokens and the cost")


async def test_an_answer_streaming_or_stopped_keeps_the_cost_of_its_input(rig: Rig) -> None:
    """What is stored while the answer streams is what an app crash leaves (`interrupted`): the input
    tokens of message_start must be costed there already, and kept when the user stops it."""
    rig.srv.script("claude-sonnet-5-5", Scenario([
        Send(opening_events("anthropic", {"input_tokens": 1000, "output_tokens": 1})),
        Send(text_event("anthropic", "first words")), Stall()]))
    run = rig.engine.ask(rig.sid, "Q", [Target(FORMATS["anthropic"])]).runs[0]
    stored = None
    for _ in range(300):
        stored = rig.repo.get_node(run.node.id)
        if stored is not None and stored.text:
            break
        await asyncio.sleep(0.01)
    assert stored is not None and stored.status == NodeStatus.STREAMING and stored.usage.input == 1000
    assert stored.cost_usd is not None and stored.cost_usd > 0
    rig.engine.cancel(run.node.id)
    await rig.engine.wait([run])
    stopped = rig.repo.get_node(run.node.id)
    assert stopped is not None and stopped.status == NodeStatus.STOPPED
    assert stopped.usage.input == 1000 and stopped.cost_usd == stored.cost_usd


# ---------------------------------------------------------------------------- 4. an error body framed as SSE


async def test_an_http_error_whose_body_is_an_event_stream_shows_the_error_message(rig: Rig) -> None:
    body = b'data: {"error": {"message": "Invalid model name passed in model=nope", "code": "400"}}\n\n'
    for pid, ref in FORMATS.items():
        rig.srv.script(ref.split(":", 1)[1], HTTPFault(400, body=body, content_type="text/event-stream"))
        node = await rig.ask(ref)
        assert node.error is not None and node.error.kind == "bad_request", pid
        assert node.error.message.startswith("HTTP 400: Invalid model name passed in model=nope — "), node.error
        assert "data:" not in node.error.message
    record("HTTP errors", "HTTP 400 whose body is an event stream (`data: {\"error\": …}`)",
           f"`error` ({node.error.kind}): {node.error.message}", "no text (none had arrived)")


async def test_an_untyped_error_inside_a_responses_stream_shows_the_error_message(rig: Rig) -> None:
    """LiteLLM answers /responses for a mock deployment with `data: {"error": …}` and `data: [DONE]`."""
    body = sse([(None, _j({"error": {"message": "Error processing stream start", "type": "internal_server_error",
                                     "param": None, "code": "500"}})), (None, "[DONE]")])
    rig.srv.script("gpt-6.2-sol", Scenario.stream([body]))
    node = await rig.ask(FORMATS["openai"])
    assert node.status == NodeStatus.ERROR and node.error is not None and node.error.kind == "server"
    assert node.error.message.startswith("Error processing stream start"), node.error


# ---------------------------------------------------------------------------- 6. smaller things


async def test_a_plain_text_404_says_the_status_once(rig: Rig) -> None:
    rig.srv.script("deepseek-flash", HTTPFault(404, body=b"404: Not Found", content_type="text/plain"))
    node = await rig.ask(FORMATS["deepseek"])
    assert node.error is not None and node.error.message.startswith("HTTP 404: Not Found — check the model id")
    record("HTTP errors", "HTTP 404 with a plain-text body `404: Not Found`", f"`error` ({node.error.kind}): "
           f"{node.error.message}", "no text (none had arrived)")


async def test_a_413_says_the_request_is_too_large(rig: Rig) -> None:
    rig.srv.script("deepseek-flash", HTTPFault(413, html=True))
    node = await rig.ask(FORMATS["deepseek"])
    assert node.error is not None and node.error.status == 413
    assert "the request is too large" in node.error.message
    assert "check the parameters" not in node.error.message
    record("HTTP errors", "HTTP 413 (request too large)", f"`error` ({node.error.kind}): {node.error.message}",
           "no text (none had arrived)")


async def test_cost_has_no_float_artefacts(rig: Rig) -> None:
    # Sonnet 5.5: 2.0 in, 0.20 cached, 10.0 out per million; (1*2.0 + 1*0.2 + 3*10.0) / 1e6 in floats
    # is 3.2200000000000003e-05
    rig.srv.script("claude-sonnet-5-5", Answer(text=("a", "b", "c"), input_tokens=2, cached_tokens=1,
                                               output_tokens=3))
    node = await rig.ask(FORMATS["anthropic"])
    assert (node.usage.input, node.usage.cached_input, node.usage.output) == (2, 1, 3)
    assert node.cost_usd == float(Decimal("0.0000322")) and repr(node.cost_usd) == "3.22e-05"


@pytest.mark.parametrize("header", ["x-litellm-call-id", "apim-request-id", "x-amzn-requestid"])
async def test_a_proxy_request_id_is_logged_as_the_request_id(rig: Rig, header: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    rig.srv.script("deepseek-flash", lambda req: Scenario.stream(
        [opening_events("chat"), text_event("chat", "hi"), sse([(None, "[DONE]")])],
        headers={header: "call-7f3a9"}))
    with caplog.at_level(logging.INFO, logger="app.engine"):
        node = await rig.ask(FORMATS["deepseek"])
    assert node.status == NodeStatus.DONE and node.run_record.request_id == "call-7f3a9"
    assert any("request-id call-7f3a9" in r.getMessage() for r in caplog.records)


# ---------------------------------------------------------------------------- 5, 6: the CLI (in-process)


@pytest.fixture
def cli_server(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[FakeProviderServer]:
    srv = FakeProviderServer(tokens_per_second=0)
    _url, stop = srv.run_in_thread()
    for var in list(os.environ):
        if var.endswith(("_API_KEY", "_BASE_URL")) or var.startswith("TRIPTYCH_"):
            monkeypatch.delenv(var)
    for var, value in srv.env().items():
        if var.endswith("_BASE_URL") or var == "DEEPSEEK_API_KEY":  # only DeepSeek has a key
            monkeypatch.setenv(var, value)
    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    try:
        yield srv
    finally:
        stop()
        if app_logs._installed is not None:  # the in-process CLI installed the support log: take it down
            logging.getLogger().removeHandler(app_logs._installed)
            app_logs._installed.close()
            app_logs._installed = None


def test_doctor_on_a_server_without_a_models_list_says_reachable(cli_server: FakeProviderServer,
                                                                  capsys: pytest.CaptureFixture[str]) -> None:
    cli_server.script_path("/models", HTTPFault(404, body=b"404 page not found", content_type="text/plain"))
    code = cli.main(["doctor"])
    out = capsys.readouterr().out
    conn = out.split("connectivity", 1)[1]
    assert re.search(r"deepseek +reachable; no models list \(HTTP 404\)\n", conn), conn
    assert "FAILED" not in conn and code == 0, out
    record("Support", "`triptych doctor` on a reachable server without a models list (404 on GET /models)",
           "`reachable; no models list (HTTP 404)`; exit 0", "nothing is written")


def test_the_models_table_stays_aligned_with_long_ids(cli_server: FakeProviderServer,
                                                      capsys: pytest.CaptureFixture[str]) -> None:
    long_id = "accounts/fireworks/models/deepseek-v4-flash-instruct-preview-2026-11"
    cli_server.script_path("/models", Scenario.respond(200, {"object": "list", "data": [
        {"id": long_id, "object": "model"}, {"id": "deepseek-flash", "object": "model"}]}))
    code = cli.main(["models", "deepseek", "--refresh"])
    out = capsys.readouterr().out
    assert code == 0, out
    rows = [line for line in out.splitlines() if line.startswith(("model ", "deepseek:"))]
    assert any(long_id in row for row in rows) and len(rows) >= 3
    # every row's "context" column ends at the same offset as the header's
    header = rows[0]
    end = header.index("context") + len("context")
    for row in rows[1:]:
        ref = row.split()[0]
        assert row.index(ref) == 0 and row[len(ref)] == " "
        assert row[end - 1] != " " and row[end] == " ", (header, row)
