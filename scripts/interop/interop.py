"""Run `triptych ask` against servers Triptych did not write: llmock (a third-party mock of the OpenAI and
Anthropic APIs, with scripted faults) and the LiteLLM proxy (a streaming front proxy in front of llmock,
plus LiteLLM's own mock deployment). Every provider path (Chat Completions, Responses, Anthropic
Messages) is asked for a plain answer, and through llmock for every fault it can script; each row says
what Triptych should show and what it showed.

Run by scripts/interop.sh (which makes the virtual environment with LiteLLM and llmock); by hand:

    .venv/bin/python scripts/interop/interop.py --tools .interop-venv/bin [--keep-logs]

Standard library only: it runs on the app's Python and talks to the servers over loopback HTTP.
Exit status 0 when every row matches, 1 otherwise.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
IDLE_TIMEOUT = 2.0  # seconds; the stall fault lasts longer
MAX_RETRIES = 2

# llmock sends one SSE event per body message; these many come before the first text in each format:
# Chat: the role-only chunk; Responses: created, in_progress, output_item.added, content_part.added;
# Anthropic: message_start, content_block_start, ping.
OPENING = {"chat": 1, "responses": 4, "anthropic": 3}


@dataclass
class Row:
    path: str  # provider id in providers.toml
    model: str
    fault: str
    behaviors: list[dict[str, Any]] = field(default_factory=list)
    status: str = "done"  # expected card status
    kind: str | None = None  # expected error kind
    requests: int | None = None  # expected requests llmock served for this model (None: not checked)
    text: bool = True  # some text expected on the card
    # filled in by the run
    got: str = ""
    got_requests: int | None = None
    detail: str = ""
    ok: bool = False


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def http(method: str, url: str, body: Any = None, timeout: float = 10.0) -> Any:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"content-type": "application/json"})
    with urllib.request.urlopen(req, timeout=timeout) as resp:
        raw = resp.read()
    return json.loads(raw) if raw else None


def wait_until_up(url: str, proc: subprocess.Popen[bytes], log: Path, seconds: float) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            sys.exit(f"interop: {url} did not start (exit {proc.returncode}); last lines of {log}:\n"
                     + "\n".join(log.read_text(errors="replace").splitlines()[-20:]))
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except (urllib.error.URLError, OSError):
            time.sleep(0.3)
    sys.exit(f"interop: {url} not up after {seconds:g} s; see {log}")


def rows() -> list[Row]:
    out: list[Row] = []
    for fmt in ("chat", "responses", "anthropic"):
        path = f"llmock-{fmt}"
        n = OPENING[fmt]

        def row(fault: str, *behaviors: dict[str, Any], fmt: str = fmt, path: str = path, **expect: Any) -> None:
            model = f"interop-{fmt}-{len(out)}"
            scripted = [{**b, "match": {"model": model}} for b in behaviors]
            out.append(Row(path, model, fault, scripted, **expect))

        row("plain answer", requests=1)
        row("HTTP 429 once (retry-after)", {"type": "fail", "status": 429, "retry_after": 0.2}, requests=2)
        # llmock's Anthropic 503 body is an `overloaded_error`, which Triptych reads as overloaded
        row("HTTP 503 every time", {"type": "fail", "status": 503, "times": None}, status="error",
            kind="overloaded" if fmt == "anthropic" else "server", requests=1 + MAX_RETRIES, text=False)
        row("HTTP 401", {"type": "fail", "status": 401}, status="error", kind="auth", requests=1, text=False)
        row("empty 200 body", {"type": "stream_fault", "kind": "truncate", "after_chunks": 0}, requests=2)
        row("cut before the first event", {"type": "stream_fault", "kind": "disconnect", "after_chunks": 0},
            requests=2)
        row("cut after the opening events", {"type": "stream_fault", "kind": "disconnect", "after_chunks": n},
            requests=2)
        row("clean end after the opening events", {"type": "stream_fault", "kind": "truncate", "after_chunks": n},
            requests=2)
        row("cut mid-answer", {"type": "stream_fault", "kind": "disconnect", "after_chunks": n + 2},
            status="error", kind="bad_stream", requests=1)
        row("clean end mid-answer", {"type": "stream_fault", "kind": "truncate", "after_chunks": n + 2},
            status="error", kind="bad_stream", requests=1)
        row("malformed event mid-answer", {"type": "stream_fault", "kind": "malformed", "after_chunks": n + 2},
            status="error", kind="bad_stream", requests=1)
        row("stall mid-answer", {"type": "stream_fault", "kind": "stall", "after_chunks": n + 2,
                                 "stall_seconds": IDLE_TIMEOUT * 3},
            status="error", kind="timeout", requests=1)
        row("slow first token (1 s)", {"type": "slow_first_token", "seconds": 1.0}, requests=1)
    for fmt in ("chat", "responses", "anthropic"):
        for model in ("mock-gpt", "mock-claude"):
            out.append(Row(f"litellm-{fmt}", model, f"LiteLLM → llmock {'OpenAI' if 'gpt' in model else 'Anthropic'}"))
    out.append(Row("litellm-chat", "mock-static", "LiteLLM mock_response"))
    out.append(Row("litellm-anthropic", "mock-static", "LiteLLM mock_response: one JSON message, not a stream"))
    # LiteLLM cannot turn a mock_response into Responses events: it says so inside the 200 stream
    # (`data: {"error": …}`), which must reach the card as LiteLLM's message.
    out.append(Row("litellm-responses", "mock-static", "LiteLLM mock_response on /responses (LiteLLM error)",
                   status="error", kind="server", text=False))
    return out


def providers_toml(llmock: str, litellm: str) -> str:
    entries = {
        "llmock-chat": (f"{llmock}/v1", "chat", "INTEROP_LLMOCK_KEY"),
        "llmock-responses": (f"{llmock}/v1", "responses", "INTEROP_LLMOCK_KEY"),
        "llmock-anthropic": (f"{llmock}/anthropic", "anthropic", "INTEROP_LLMOCK_KEY"),
        "litellm-chat": (f"{litellm}/v1", "chat", "INTEROP_LITELLM_KEY"),
        "litellm-responses": (f"{litellm}/v1", "responses", "INTEROP_LITELLM_KEY"),
        "litellm-anthropic": (litellm, "anthropic", "INTEROP_LITELLM_KEY"),
    }
    return "".join(f'[{name}]\nbase_url = "{base}"\nprotocol = "{protocol}"\nkey_env = "{key}"\n\n'
                   for name, (base, protocol, key) in entries.items())


def ask(row: Row, env: dict[str, str]) -> dict[str, Any] | None:
    cmd = [sys.executable, "-m", "app", "ask", "--json", "--new", "--max-retries", str(MAX_RETRIES),
           "-m", f"{row.path}:{row.model}", "Say hello in five words."]
    proc = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True, timeout=120)
    lines = [line for line in proc.stdout.splitlines() if line.startswith("{")]
    if not lines:
        row.detail = (proc.stderr.strip().splitlines() or ["no output"])[-1][:120]
        return None
    return json.loads(lines[-1])


def check(row: Row, result: dict[str, Any] | None) -> None:
    if result is None:
        row.got = "no answer"
        return
    error = result.get("error") or {}
    row.got = result["status"] + (f" ({error.get('kind')})" if error else "")
    usage = result.get("usage") or {}
    text = result.get("text") or ""
    if error:
        row.detail = error.get("message", "")[:110]
    else:
        row.detail = f"{len(text)} chars, {usage.get('input_tokens')} in / {usage.get('output_tokens')} out"
    ok = result["status"] == row.status and (row.kind is None or error.get("kind") == row.kind)
    ok = ok and (bool(text) == row.text or (row.status == "error" and row.text))
    if row.requests is not None:
        ok = ok and row.got_requests == row.requests
    row.ok = ok


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tools", required=True, help="bin directory with `llmock` and `litellm`")
    parser.add_argument("--keep-logs", action="store_true", help="keep the servers' logs and the data dir")
    args = parser.parse_args()
    tools = Path(args.tools).resolve()
    work = Path(tempfile.mkdtemp(prefix="triptych-interop-"))
    p_llmock, p_litellm = free_port(), free_port()
    llmock = f"http://127.0.0.1:{p_llmock}"
    litellm = f"http://127.0.0.1:{p_litellm}"
    procs: list[subprocess.Popen[bytes]] = []
    failed = True
    try:
        log1 = work / "llmock.log"
        procs.append(subprocess.Popen(
            [str(tools / "llmock"), "serve", "--host", "127.0.0.1", "--port", str(p_llmock), "--log-level",
             "warning"], stdout=log1.open("wb"), stderr=subprocess.STDOUT, start_new_session=True))
        log2 = work / "litellm.log"
        env2 = {**os.environ, "LLMOCK_OPENAI_BASE": f"{llmock}/v1", "LLMOCK_ANTHROPIC_BASE": f"{llmock}/anthropic",
                "LITELLM_LOCAL_MODEL_COST_MAP": "True", "LITELLM_TELEMETRY": "False", "NO_COLOR": "1"}
        procs.append(subprocess.Popen(
            [str(tools / "litellm"), "--config", str(HERE / "litellm.yaml"), "--host", "127.0.0.1", "--port",
             str(p_litellm)], stdout=log2.open("wb"), stderr=subprocess.STDOUT, env=env2, cwd=work,
            start_new_session=True))
        wait_until_up(f"{llmock}/health", procs[0], log1, 60)
        wait_until_up(f"{litellm}/health/liveliness", procs[1], log2, 180)

        home = work / "home"
        home.mkdir()
        (home / "providers.toml").write_text(providers_toml(llmock, litellm))
        env = {k: v for k, v in os.environ.items()
               if not k.endswith(("_API_KEY", "_BASE_URL")) and not k.startswith("TRIPTYCH_")}
        env.update({"TRIPTYCH_HOME": str(home), "TRIPTYCH_NO_KEYRING": "1",
                    "TRIPTYCH_IDLE_TIMEOUT": str(IDLE_TIMEOUT), "INTEROP_LLMOCK_KEY": "sk-llmock",
                    "INTEROP_LITELLM_KEY": "sk-interop", "PYTHONPATH": str(ROOT)})

        table = rows()
        for row in table:
            http("POST", f"{llmock}/_llmock/reset")
            if row.behaviors:
                http("POST", f"{llmock}/_llmock/scenario", {"behaviors": row.behaviors})
            result = ask(row, env)
            if row.path.startswith("llmock-"):
                served = http("GET", f"{llmock}/_llmock/requests", timeout=15)["requests"]
                row.got_requests = sum(1 for r in served if r.get("model") == row.model)
            check(row, result)
            print(f"  {'ok  ' if row.ok else 'FAIL'} {row.path:18} {row.fault}", file=sys.stderr, flush=True)
        failed = print_table(table)
    finally:
        for proc in procs:
            if proc.poll() is None:
                os.killpg(proc.pid, signal.SIGTERM)
        for proc in procs:
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
        if args.keep_logs or failed:
            print(f"logs and data dir kept in {work}", file=sys.stderr)
        else:
            shutil.rmtree(work, ignore_errors=True)
    return 1 if failed else 0


def print_table(table: list[Row]) -> bool:
    head = ("", "path", "model", "fault", "expected", "got", "requests", "detail")
    cells = [(
        "ok" if r.ok else "FAIL", r.path, r.model, r.fault,
        r.status + (f" ({r.kind})" if r.kind else ""), r.got,
        "-" if r.requests is None else f"{r.got_requests}/{r.requests}", r.detail,
    ) for r in table]
    widths = [max(len(str(c[i])) for c in [head, *cells]) for i in range(len(head) - 1)]
    for c in [head, *cells]:
        print("  ".join(str(v).ljust(w) for v, w in zip(c[:-1], widths, strict=True)) + "  " + str(c[-1]))
    bad = sum(not r.ok for r in table)
    print(f"\n{len(table) - bad} of {len(table)} rows as expected" + (f"; {bad} FAILED" if bad else ""))
    return bad > 0


if __name__ == "__main__":
    sys.exit(main())
