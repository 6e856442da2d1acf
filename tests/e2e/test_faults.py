"""Network faults and concurrency through the real engine, the real provider clients and real sockets
to the loopback fake server. Each fault must end its card with an honest status, a message that says
what happened *and what to do*, and every byte of text that had arrived on disk.

Each test records (fault, what the user sees, what is kept) for docs/reliability.md (tests/reliability.py).
"""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from app.config import Settings, load_settings
from app.domain import Node, NodeStatus, Session
from app.engine import Engine, Target
from storage import SqliteRepository, open_store
from tests.fakes.server import (
    Answer,
    Close,
    FakeProviderServer,
    HTTPFault,
    RecordedRequest,
    Repeat,
    Respond,
    Scenario,
    Send,
    Sleep,
    Stall,
    render_answer,
    sse,
)
from tests.reliability import kept_text, record

ROOT = Path(__file__).resolve().parents[2]
IDLE = 0.6  # seconds: the idle timeout these tests run with (default 120 s)
CONNECT = 0.5  # seconds: the connect timeout these tests run with (default 10 s)
# One model per wire format / flavour: Chat Completions (DeepSeek, OpenRouter), Responses, Anthropic.
FORMATS = {
    "deepseek": "deepseek:deepseek-flash",
    "openrouter": "openrouter:openai/gpt-6.2-sol",
    "openai": "openai:gpt-6.2-sol",
    "anthropic": "anthropic:claude-sonnet-5-5",
}
KEY_VARS = {"deepseek": "DEEPSEEK_API_KEY", "openrouter": "OPENROUTER_API_KEY", "openai": "OPENAI_API_KEY",
            "anthropic": "ANTHROPIC_API_KEY"}


@dataclass
class Rig:
    srv: FakeProviderServer
    settings: Settings
    repo: SqliteRepository
    engine: Engine
    sid: str

    async def ask(self, model: str, prompt: str = "Q") -> Node:
        result = self.engine.ask(self.sid, prompt, [Target(model)])
        await self.engine.wait(result.runs)
        node = self.repo.get_node(result.runs[0].node.id)
        assert node is not None
        return node


def _env(monkeypatch: pytest.MonkeyPatch, srv: FakeProviderServer, tmp_path) -> None:
    for var in list(os.environ):
        if var.endswith(("_API_KEY", "_BASE_URL")) or var.startswith("TRIPTYCH_"):
            monkeypatch.delenv(var)
    for var, value in srv.env().items():
        monkeypatch.setenv(var, value)
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    monkeypatch.setenv("TRIPTYCH_IDLE_TIMEOUT", str(IDLE))
    (tmp_path / "config.toml").write_text(f"[network]\nconnect_timeout = {CONNECT}\n")


@pytest.fixture
async def rig(tmp_path, monkeypatch) -> AsyncIterator[Rig]:
    async with FakeProviderServer(tokens_per_second=0) as srv:
        _env(monkeypatch, srv, tmp_path)
        settings = load_settings(tmp_path)
        repo = open_store(tmp_path)
        engine = Engine(repo, settings, max_retries=0)
        sid = repo.create_session(Session(title="faults")).id
        yield Rig(srv, settings, repo, engine, sid)
        await engine.aclose()
        repo.close()


def seen(node: Node) -> str:
    assert node.error is not None
    return f"`{node.status.value}` ({node.error.kind}): {node.error.message}"


# ---------------------------------------------------------------------------------------------- HTTP errors

CONTEXT_TOO_LONG = {
    "deepseek": "This model's maximum context length is 1000000 tokens. However, you requested 1203411 tokens.",
    "openrouter": "This endpoint's maximum context length is 1000000 tokens. However, you requested about "
                  "1203411 tokens.",
    "openai": "Your input exceeds the context window of this model. Please adjust your input and try again.",
    "anthropic": "prompt is too long: 1203411 tokens > 1000000 maximum",
}

# status: (fault, item or None for the fake server's default `fail-<status>`, kind, words the message must
# contain besides "HTTP <status>" — what happened and what to do)
HTTP_CASES = {
    "401": ("HTTP 401: key rejected", None, "auth", ["check the key", "{KEY}", "Settings"]),
    "403": ("HTTP 403: key not allowed", None, "auth", ["may not have access", "{KEY}"]),
    "404": ("HTTP 404: unknown model id", None, "bad_request", ["does not exist", "check the model id",
                                                                "triptych models {PID} --refresh"]),
    "400": ("HTTP 400: prompt longer than the context window", "context", "bad_request",
            ["context window", "shorten the prompt"]),
    "402": ("HTTP 402: out of credit", None, "bad_request", ["out of credit", "add credit"]),
    "429": ("HTTP 429: rate limited (retries exhausted)", None, "rate_limit", ["rate-limiting", "wait a minute"]),
    "500": ("HTTP 500: server error", None, "server", ["internal error", "Retry later"]),
    "502": ("HTTP 502: bad gateway", None, "server", ["unavailable", "Retry later"]),
    "503": ("HTTP 503: service unavailable", None, "server", ["unavailable", "Retry later"]),
    "529": ("HTTP 529: overloaded", None, "overloaded", ["overloaded", "another model"]),
    "502-html": ("HTTP 502 as a proxy's HTML page", "html", "server", ["Bad Gateway", "unavailable"]),
}


@pytest.mark.parametrize("case", list(HTTP_CASES))
async def test_http_error_statuses_say_what_happened_and_what_to_do(rig: Rig, case: str) -> None:
    fault, item, kind, words = HTTP_CASES[case]
    status = int(case.split("-")[0])
    for pid in FORMATS:
        name = f"fail-{case}" if item is None else f"scripted-{case}"
        model_id = name if pid != "openrouter" else f"vendor/{name}"  # OpenRouter ids carry a vendor
        if item == "context":
            rig.srv.script(model_id, HTTPFault(400, CONTEXT_TOO_LONG[pid]))
        elif item == "html":
            rig.srv.script(model_id, HTTPFault(status, html=True))
        node = await rig.ask(f"{pid}:{model_id}")
        assert node.status == NodeStatus.ERROR and node.finish == "error", (pid, node)
        assert node.error is not None and node.error.kind == kind and node.error.status == status, (pid, node.error)
        message = node.error.message
        assert message.startswith(f"HTTP {status}: "), message
        assert "<" not in message, message  # never a page of HTML
        for word in words:
            word = word.replace("{KEY}", KEY_VARS[pid]).replace("{PID}", pid)
            assert word in message, (pid, word, message)
        assert node.text == "" and node.owner is None
        if pid == "deepseek":
            record("HTTP errors", fault, seen(node), "the prompt card and the failed card (no text had arrived)")


async def test_rate_limit_with_retry_after_is_retried_then_streams(rig: Rig) -> None:
    rig.engine.max_retries = 2
    rig.srv.script("gpt-6.2-sol", HTTPFault(429, "Rate limit reached", retry_after="0.3"),
                   Answer(text=("after ", "the wait")))
    began = time.monotonic()
    node = await rig.ask(FORMATS["openai"])
    assert node.status == NodeStatus.DONE and node.text == "after the wait" and node.error is None
    assert time.monotonic() - began >= 0.3  # Retry-After honoured
    assert len(rig.srv.requests_for("gpt-6.2-sol")) == 2
    record("HTTP errors", "HTTP 429 with Retry-After, then success", "`done` (a retry countdown while waiting)",
           kept_text(node.text, "after the wait"))


# ---------------------------------------------------------------------------------------------- network


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def full_backlog() -> Iterator[int]:
    """A listening socket that never accepts, its accept queue full: new connects hang (SYN dropped)."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(0)
    port = listener.getsockname()[1]
    fillers = []
    for _ in range(3):
        c = socket.socket()
        c.setblocking(False)
        try:
            c.connect(("127.0.0.1", port))
        except BlockingIOError:
            pass
        fillers.append(c)
    yield port
    for c in fillers:
        c.close()
    listener.close()


async def test_connection_refused(rig: Rig) -> None:
    port = free_port()
    rig.settings.providers["deepseek"].base_url = f"http://127.0.0.1:{port}"
    node = await rig.ask(FORMATS["deepseek"])
    assert node.error is not None and node.error.kind == "network"
    assert f"could not connect to 127.0.0.1:{port} (connection refused)" in node.error.message
    assert "is the server running?" in node.error.message and "DEEPSEEK_BASE_URL" in node.error.message
    record("Network", "connection refused (nothing listening)", seen(node), kept_text(node.text))


async def test_dns_failure(rig: Rig) -> None:
    # The reserved .invalid TLD never resolves; the connect timeout bounds a slow resolver.
    rig.settings.providers["anthropic"].base_url = "https://api.triptych-test.invalid"
    began = time.monotonic()
    node = await rig.ask(FORMATS["anthropic"])
    assert time.monotonic() - began < CONNECT + 2
    assert node.error is not None and node.error.kind in ("network", "timeout")
    if node.error.kind == "network":
        assert "could not resolve host api.triptych-test.invalid" in node.error.message
        assert "host name" in node.error.message and "ANTHROPIC_BASE_URL" in node.error.message
    record("Network", "DNS failure (unknown host)", seen(node), kept_text(node.text))


async def test_tls_failure_https_to_a_plain_http_server(rig: Rig) -> None:
    rig.settings.providers["openai"].base_url = rig.srv.base_url.replace("http://", "https://") + "/v1"
    node = await rig.ask(FORMATS["openai"])
    assert node.error is not None and node.error.kind == "network"
    assert node.error.message.startswith("TLS handshake failed with 127.0.0.1:")
    assert "may not speak HTTPS" in node.error.message and "OPENAI_BASE_URL" in node.error.message
    record("Network", "TLS failure (https:// to a plain-HTTP server)", seen(node), kept_text(node.text))


async def test_connect_timeout(rig: Rig, full_backlog: int) -> None:
    rig.settings.providers["deepseek"].base_url = f"http://127.0.0.1:{full_backlog}"
    began = time.monotonic()
    node = await rig.ask(FORMATS["deepseek"])
    took = time.monotonic() - began
    assert CONNECT * 0.8 <= took < CONNECT + 1.5, took
    assert node.error is not None and node.error.kind == "timeout"
    assert f"no connection after {CONNECT:g} s to 127.0.0.1:{full_backlog}" in node.error.message
    assert "proxy or firewall" in node.error.message
    record("Network", "connect timeout (server never accepts)", seen(node), kept_text(node.text))


async def test_stall_after_headers(rig: Rig) -> None:
    began = time.monotonic()
    node = await rig.ask("openrouter:vendor/stall")
    took = time.monotonic() - began
    assert IDLE * 0.9 <= took < IDLE + 1.5, took
    assert node.error is not None and node.error.kind == "timeout"
    assert f"no data for {IDLE:g} s" in node.error.message and "stopped sending" in node.error.message
    assert "TRIPTYCH_IDLE_TIMEOUT" in node.error.message
    record("Network", "stall after the response headers", seen(node), kept_text(node.text))


def _keepalive_for(req: RecordedRequest) -> bytes:
    return sse([("ping", '{"type": "ping"}')]) if req.fmt == "anthropic" else b": keep-alive\n\n"


def _then(steps_of: Scenario, tail: list) -> Scenario:
    """A rendered answer's steps up to (not including) its ending, then `tail`."""
    return Scenario([*steps_of.steps[:-1], *tail])


@pytest.mark.parametrize("pid", list(FORMATS))
async def test_stall_mid_stream_while_keepalives_keep_arriving(rig: Rig, pid: str) -> None:
    text = ("Partial ", "answer ", "so far")

    def reply(req: RecordedRequest) -> Scenario:
        rendered = render_answer(Answer(text=text, stop_after_text=3), req.fmt, req.flavor, "m")
        return _then(rendered, [Repeat((Send(_keepalive_for(req)), Sleep(0.05)))])

    model = FORMATS[pid]
    rig.srv.script(model.split(":", 1)[1], reply)
    began = time.monotonic()
    node = await rig.ask(model)
    took = time.monotonic() - began
    assert IDLE * 0.9 <= took < IDLE + 1.5, took  # the keep-alives did not reset the idle timeout
    assert node.status == NodeStatus.ERROR and node.error is not None and node.error.kind == "timeout"
    assert node.text == "Partial answer so far"
    if pid == "anthropic":
        record("Network", "stall mid-answer while keep-alives (comments, pings) keep arriving", seen(node),
               kept_text(node.text))


@pytest.mark.parametrize("pid", list(FORMATS))
async def test_server_closes_mid_event(rig: Rig, pid: str) -> None:
    def reply(req: RecordedRequest) -> Scenario:
        # split_json cuts every event in two; keep the first half of the third text event, then hang up.
        rendered = render_answer(Answer(text=("one ", "two ", "three"), split_json=True, stop_after_text=3),
                                 req.fmt, req.flavor, "m")
        steps = list(rendered.steps[:-1])
        last_send = max(i for i, s in enumerate(steps) if isinstance(s, Send))
        return Scenario([*steps[:last_send], Sleep(0.05), Close()])

    model = FORMATS[pid]
    rig.srv.script(model.split(":", 1)[1], reply)
    node = await rig.ask(model)
    assert node.status == NodeStatus.ERROR and node.error is not None and node.error.kind == "bad_stream"
    assert node.text == "one two "  # every complete event, nothing invented from the cut one
    assert "connection closed mid-answer" in node.error.message and "text so far is kept" in node.error.message
    if pid == "openai":
        record("Network", "server closes the connection mid-event", seen(node), kept_text(node.text))


@pytest.mark.parametrize("pid", list(FORMATS))
async def test_buffering_proxy_delivers_the_whole_stream_at_once(rig: Rig, pid: str) -> None:
    answer = Answer(text=("Buffered ", "but ", "complete."), reasoning=("thinking",), input_tokens=21,
                    output_tokens=5, keepalive=": keep-alive")

    def reply(req: RecordedRequest) -> Scenario:
        rendered = render_answer(answer, req.fmt, req.flavor, "m")
        body = b"".join(s.data for s in rendered.steps if isinstance(s, Send))
        return Scenario([Sleep(0.2), Respond(200, body, (("content-type", "text/event-stream"),))])

    model = FORMATS[pid]
    rig.srv.script(model.split(":", 1)[1], reply)
    node = await rig.ask(model)
    assert node.status == NodeStatus.DONE and node.error is None and node.finish == "stop"
    assert node.text == "Buffered but complete." and node.reasoning == "thinking"
    assert node.usage.input == 21 and node.usage.output == 5
    if pid == "deepseek":
        record("Network", "a proxy buffers the whole stream (it arrives at once, at the end)",
               f"`{node.status.value}`, parsed as usual", kept_text(node.text, "Buffered but complete."))


async def test_html_page_instead_of_a_stream(rig: Rig) -> None:
    page = b"<html><head><title>Sign in to the guest network</title></head><body>...</body></html>"
    rig.srv.script("deepseek-flash", Scenario([Respond(200, page, (("content-type", "text/html"),))]))
    node = await rig.ask(FORMATS["deepseek"])
    assert node.error is not None and node.error.kind == "bad_stream"
    assert "expected an event stream, got an HTML page: Sign in to the guest network" in node.error.message
    assert "proxy or a wrong base URL" in node.error.message and "<" not in node.error.message
    record("Network", "HTTP 200 with an HTML page (captive portal, proxy)", seen(node), kept_text(node.text))


async def test_error_inside_a_200_stream_keeps_the_text(rig: Rig) -> None:
    rig.srv.script("openai/gpt-6.2-sol", Answer(text=("a ", "b ", "c "), error_after=2, error_code=500,
                                         error_message="The server had an error while processing your request"))
    node = await rig.ask("openrouter:openai/gpt-6.2-sol")
    assert node.status == NodeStatus.ERROR and node.text == "a b "
    assert node.error is not None and node.error.kind == "server" and "Retry later" in node.error.message
    record("Network", "error event inside a 200 stream, after some text", seen(node), kept_text(node.text))


async def test_connection_reset_mid_answer(rig: Rig) -> None:
    rig.srv.script("claude-sonnet-5-5", Answer(text=("kept ", "words ", "lost"), stop_after_text=2, end="reset"))
    node = await rig.ask(FORMATS["anthropic"])
    assert node.status == NodeStatus.ERROR and node.text == "kept words "
    assert node.error is not None and node.error.kind == "bad_stream"
    record("Network", "TCP reset mid-answer", seen(node), kept_text(node.text))


# ---------------------------------------------------------------------------------------------- concurrency


async def test_24_simultaneous_streams_one_failing_one_stalling_one_rate_limited(rig: Rig) -> None:
    """24 lanes in one send across the four wire formats: one fails mid-stream, one stalls past the idle
    timeout, one is rate-limited (Retry-After) and then succeeds; the 21 others complete untouched."""
    rig.engine.max_retries = 2
    providers = ["deepseek", "openrouter", "openai", "anthropic"]
    lanes: list[tuple[str, str]] = []  # (model ref, scripted model name)
    expected: dict[str, str] = {}
    for i in range(24):
        pid = providers[i % 4]
        name = f"lane-{i:02d}" if pid != "openrouter" else f"vendor/lane-{i:02d}"
        ref = f"{pid}:{name}"
        lanes.append((ref, name))
        words = tuple(f"L{i}w{j} " for j in range(40))
        expected[ref] = "".join(words)
        rig.srv.script(name, Answer(text=words, delay=0.015, input_tokens=100 + i, output_tokens=40))
    failing, stalling = lanes[5][0], lanes[10][0]
    rig.srv.script(lanes[5][1], Answer(text=tuple(f"F{j} " for j in range(40)), delay=0.015, error_after=12,
                                       error_code=502, error_message="Upstream provider disconnected"))

    def stall(req: RecordedRequest) -> Scenario:
        return _then(render_answer(Answer(text=("S1 ", "S2 ", "S3 "), stop_after_text=3), req.fmt, req.flavor, "m"),
                     [Stall()])

    rig.srv.script(lanes[10][1], stall)
    rig.srv.script(lanes[15][1], HTTPFault(429, "Too many requests", retry_after="0.3"),
                   Answer(text=tuple(f"L15w{j} " for j in range(40)), delay=0.015, input_tokens=115, output_tokens=40))

    began = time.monotonic()
    result = rig.engine.ask(rig.sid, "Same question for all", [Target(ref) for ref, _ in lanes])
    await rig.engine.wait(result.runs)
    took = time.monotonic() - began
    stored = {r.node.model: rig.repo.get_node(r.node.id) for r in result.runs}
    assert len(stored) == 24

    for ref, _ in lanes:
        node = stored[ref]
        assert node is not None and node.owner is None
        if ref == failing:
            assert node.status == NodeStatus.ERROR and node.error is not None
            assert node.error.kind == "server" and node.text.startswith("F0 F1 ") and len(node.text.split()) == 12
        elif ref == stalling:
            assert node.status == NodeStatus.ERROR and node.error is not None and node.error.kind == "timeout"
            assert node.text == "S1 S2 S3 "
        else:
            assert node.status == NodeStatus.DONE and node.error is None, (ref, node.error)
            assert node.text == expected[ref], ref
            assert node.usage.output == 40 and node.usage.input is not None
    # Truly simultaneous: every stream had started before the first of the healthy ones ended.
    healthy = [r for r in rig.srv.requests if r.model and "lane-" in r.model and r.sent
               and r.model not in (lanes[5][1], lanes[10][1], lanes[15][1])]
    assert len(healthy) == 21
    assert max(r.sent[0][0] for r in healthy) < min(r.sent[-1][0] for r in healthy)
    assert len(rig.srv.requests_for(lanes[15][1])) == 2  # one 429, one success
    # 40 chunks at 15 ms ≈ 0.6 s per stream; in parallel the whole send takes about one stream (plus the
    # idle timeout of the stalled lane), not 24 of them.
    assert took < 5.0, took
    record("Concurrency", "24 simultaneous streams (4 wire formats); one fails mid-stream, one stalls, "
           "one is rate-limited then succeeds",
           "the failing lane `error` (server), the stalled one `error` (timeout), the rate-limited one retries "
           "then `done`; the 21 others `done`",
           "every lane's text; partial text of the failed and stalled lanes")


# ---------------------------------------------------------------------------------------------- CLI wording


def test_cli_prints_the_same_advice(tmp_path) -> None:
    """A CLI user reads the same words: the labelled block ends with the error line."""
    srv = FakeProviderServer(tokens_per_second=0)
    _url, stop = srv.run_in_thread()
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_BASE_URL")) and not k.startswith("TRIPTYCH_")}
    env.update(srv.env())
    env.update({"TRIPTYCH_HOME": str(tmp_path), "TRIPTYCH_NO_KEYRING": "1", "PYTHONPATH": str(ROOT)})
    try:
        r = subprocess.run([sys.executable, "-m", "app", "ask", "--max-retries", "0", "-m", "deepseek:fail-401",
                            "-m", "anthropic:fail-529", "Q"], env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
    finally:
        stop()
    assert r.returncode == 1
    assert "━━ deepseek:fail-401 ━━\n[error: HTTP 401: Incorrect API key provided — check the key: set " \
           "DEEPSEEK_API_KEY or add the key in Settings → Providers]" in r.stdout
    assert "[error: HTTP 529: Overloaded — Anthropic is overloaded: Retry in a moment, or re-run on another " \
           "model]" in r.stdout
    assert "Traceback" not in r.stderr


# ---------------------------------------------------------------------------------------------- doctor


def test_doctor_reports_versions_store_keys_and_connectivity(tmp_path) -> None:
    """`triptych doctor` against the fake server: one provider answers, one rejects the key (HTTP 401),
    one is unreachable, one has no key, a local server is not running (not a problem)."""
    srv = FakeProviderServer(tokens_per_second=0)
    srv.script_path("/v1/models", HTTPFault(401, "invalid x-api-key"))  # Anthropic's models list
    _url, stop = srv.run_in_thread()
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_BASE_URL")) and not k.startswith("TRIPTYCH_")}
    env.update(srv.env())
    dead = free_port()
    env.update({"OPENAI_BASE_URL": f"http://127.0.0.1:{dead}/v1", "LMSTUDIO_BASE_URL": f"http://127.0.0.1:{dead}/v1",
                "TRIPTYCH_HOME": str(tmp_path / "home"), "TRIPTYCH_NO_KEYRING": "1", "PYTHONPATH": str(ROOT)})
    del env["OPENROUTER_API_KEY"]
    try:
        r = subprocess.run([sys.executable, "-m", "app", "doctor"], env=env, cwd=ROOT, capture_output=True,
                           text=True, timeout=60)
        offline = subprocess.run([sys.executable, "-m", "app", "doctor", "--offline"], env=env, cwd=ROOT,
                                 capture_output=True, text=True, timeout=60)
    finally:
        stop()
    out = r.stdout
    assert r.returncode == 1, out + r.stderr  # a provider with a key fails
    assert out.startswith("triptych 0.") and "python 3.11" in out and "httpx " in out
    assert f"data dir: {tmp_path / 'home'}" in out
    assert "triptych.db ok (0 sessions, integrity ok)" in out
    assert "keyring: disabled (TRIPTYCH_NO_KEYRING)" in out
    assert re.search(r"deepseek .* key: yes \(env\)", out) and re.search(r"openrouter .* key: no \(OPENROUTER_API_KEY\)", out)
    conn = out.split("connectivity", 1)[1]
    assert re.search(r"deepseek +ok \(HTTP 200, 2 models, \d+ ms\)", conn), conn
    assert re.search(r"anthropic +FAILED: HTTP 401: invalid x-api-key", conn), conn
    assert re.search(rf"openai +FAILED: could not connect to 127\.0\.0\.1:{dead} \(connection refused\)", conn), conn
    assert re.search(r"openrouter +skipped \(no key\)", conn), conn
    assert re.search(r"ollama +ok \(HTTP 200, 2 models", conn), conn
    assert re.search(r"lmstudio +not reachable: could not connect .*\(connection refused\) — fine unless", conn), conn
    assert "sk-fake-test-key" not in out + r.stderr
    assert offline.returncode == 0 and "connectivity" not in offline.stdout
    record("Support", "`triptych doctor` with one provider rejecting its key and one unreachable",
           "versions, data dir, `database: … ok (0 sessions, integrity ok)`, keyring backend, `key: yes (env)` / "
           "`key: no (VAR)` per provider, then per provider `ok (HTTP 200, N models, T ms)`, `FAILED: HTTP 401: …`, "
           "`FAILED: could not connect … (connection refused)` or `skipped (no key)`; exit 1",
           "nothing is written; no key is printed")
