"""`triptych` end to end: a real subprocess, real sockets to the loopback fake provider server, and a
check of both what was printed and what was stored (DESIGN.md, CLI contract)."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.catalog import load_catalog
from app.domain import Usage
from tests.fakes.server import Answer, HTTPFault, Respond, Scenario

DS, CL, GP = "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"
ROOT = Path(__file__).resolve().parents[2]


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def costs(model: str, usage: Usage) -> set[float]:
    """Possible catalog costs (DeepSeek's depends on the hour: off-peak or peak)."""
    cat = load_catalog()
    info = cat.info(model)
    return {round(p.cost(usage), 12) for p in (info.price, info.peak_price) if p is not None}


def test_three_models_json_then_sessions_and_show(cli, server):
    server.script("deepseek-flash", Answer(text=("Four", " — 四 🎉"), reasoning=("2+2", " is 4"), input_tokens=30,
                                           cached_tokens=10, output_tokens=9, reasoning_tokens=4))
    server.script("claude-sonnet-5-5", Answer(text=("The answer", " is 4."), reasoning=("Simple",), input_tokens=25,
                                              output_tokens=7, reasoning_tokens=2))
    server.script("gpt-6.2-sol", Answer(text=("4",), input_tokens=20, cached_tokens=0, output_tokens=1))
    r = cli("ask", "-m", DS, "-m", CL, "-m", GP, "--json", "What is 2+2?")
    assert r.returncode == 0, r.stderr
    out = lines(r.stdout)
    assert [o["model"] for o in out] == [DS, CL, GP]
    ds, cl, gp = out
    assert (ds["text"], ds["reasoning"], ds["status"], ds["finish"], ds["error"]) == (
        "Four — 四 🎉", "2+2 is 4", "done", "stop", None)
    assert ds["usage"] == {"input_tokens": 30, "cached_input_tokens": 10, "cache_write_tokens": None,
                           "output_tokens": 9, "reasoning_tokens": 4}
    assert round(ds["cost_usd"], 12) in costs(DS, Usage(input=30, cached_input=10, output=9))
    assert (cl["text"], cl["reasoning"]) == ("The answer is 4.", "Simple")
    assert cl["usage"]["input_tokens"] == 25 and cl["usage"]["output_tokens"] == 7
    assert cl["usage"]["reasoning_tokens"] == 2
    assert (gp["text"], gp["reasoning"], gp["usage"]["output_tokens"]) == ("4", "", 1)
    assert round(gp["cost_usd"], 12) in costs(GP, Usage(input=20, cached_input=0, output=1))
    for o in out:
        assert o["timing"]["ttft_ms"] is not None and o["timing"]["duration_ms"] >= o["timing"]["ttft_ms"]
        assert o["session_id"] == ds["session_id"]

    r = cli("sessions", "--json")
    sessions = json.loads(r.stdout)
    assert len(sessions) == 1 and sessions[0]["id"] == ds["session_id"] and sessions[0]["node_count"] == 4
    assert sessions[0]["title"] == "What is 2+2?"

    r = cli("show", ds["session_id"][-8:], "--json")  # a unique suffix is enough
    shown = json.loads(r.stdout)
    nodes = {n["node_id"]: n for n in shown["nodes"]}
    (prompt,) = [n for n in shown["nodes"] if n["kind"] == "prompt"]
    assert prompt["text"] == "What is 2+2?"
    for o in out:
        stored = nodes[o["node_id"]]
        for key in ("model", "status", "text", "reasoning", "finish", "error", "usage", "cost_usd", "timing"):
            assert stored[key] == o[key], key
        assert stored["parents"] == [{"node_id": prompt["node_id"], "role": "reply"}]
        assert stored["kind"] == "response"
    # the human-readable tree shows every answer
    tree = cli("show", "last").stdout
    assert "Four — 四 🎉" in tree and "The answer is 4." in tree and DS in tree


CASES = {
    # name: (model, scripted reply, expected text, reasoning, usage (in, cached, out, reasoning), finish,
    #        error kind, status code)
    "openai split json + utf8": (GP, Answer(text=("Grüße ", "日本語", " ok"), split_json=True, split_utf8=True,
                                               input_tokens=11, output_tokens=3),
                                 "Grüße 日本語 ok", "", (11, 0, 3, 0), "stop", None, None),
    "deepseek crlf keepalive reasoning": (DS, Answer(text=("a\n", "b"), reasoning=("think",), eol="\r\n",
                                                     keepalive=": keep-alive", keepalive_every=1, input_tokens=40,
                                                     cached_tokens=32, output_tokens=5, reasoning_tokens=1),
                                          "a\nb", "think", (40, 32, 5, 1), "stop", None, None),
    "anthropic pings split crlf": (CL, Answer(text=("x", "y"), reasoning=("r",), eol="\r\n", split_crlf=True,
                                              unknown_events=True, input_tokens=9, cached_tokens=4,
                                              output_tokens=3, reasoning_tokens=1),
                                   "xy", "r", (9, 4, 3, 1), "stop", None, None),
    "openai no space after data, length": (GP, Answer(text=("cut",), space=False, finish="length", input_tokens=5,
                                                      output_tokens=1),
                                           "cut", "", (5, 0, 1, 0), "length", None, None),
    "deepseek error mid-stream": (DS, Answer(text=("one ", "two ", "three"), error_after=2, error_code=500,
                                             error_message="Internal upstream failure"),
                                  "one two ", "", None, "error", "server", None),
    "anthropic overloaded mid-stream": (CL, Answer(text=("p", "q", "r"), error_after=1, error_code=529,
                                                   error_message="Overloaded"),
                                        "p", "", None, "error", "overloaded", None),
    "openai truncated": (GP, Answer(text=("half",), truncate=True), "half", "", None, "error", "bad_stream", None),
    "anthropic dropped": (CL, Answer(text=("a", "b", "c"), stop_after_text=2, end="close"),
                          "ab", "", None, "error", "bad_stream", None),
    "401": (DS, HTTPFault(401, "Authentication Fails, Your api key is invalid"), "", "", None, "error", "auth", 401),
    "429": (GP, HTTPFault(429, "Rate limit reached", retry_after="7"), "", "", None, "error", "rate_limit", 429),
    "529": (CL, HTTPFault(529, "Overloaded"), "", "", None, "error", "overloaded", 529),
    "html 500": (DS, HTTPFault(500, html=True), "", "", None, "error", "server", 500),
}


@pytest.mark.parametrize("name", list(CASES))
def test_recorded_style_streams(cli, server, name):
    model, reply, text, reasoning, usage, finish, kind, status = CASES[name]
    server.script(model.split(":")[1], reply)
    r = cli("ask", "--json", "--max-retries", "0", "-m", model, "Q")
    (o,) = lines(r.stdout)
    assert o["text"] == text
    assert o["reasoning"] == reasoning
    assert o["finish"] == finish
    if kind is None:
        assert r.returncode == 0 and o["status"] == "done" and o["error"] is None
        u = o["usage"]
        assert (u["input_tokens"], u["cached_input_tokens"], u["output_tokens"], u["reasoning_tokens"]) == usage
    else:
        assert r.returncode == 1 and o["status"] == "error"
        assert o["error"]["kind"] == kind and o["error"]["message"]
        if status:
            assert o["error"]["status"] == status
            assert "<html" not in o["error"]["message"].lower()
    stored = json.loads(cli("show", o["session_id"], "--json").stdout)
    (node,) = [n for n in stored["nodes"] if n["node_id"] == o["node_id"]]
    assert (node["text"], node["status"], node["error"]) == (o["text"], o["status"], o["error"])


def test_retry_after_429_then_success(cli, server):
    server.script("gpt-6.2-sol", HTTPFault(429, "slow down", retry_after="0"), Answer(text=("ok",)))
    r = cli("ask", "--json", "-m", GP, "Q")
    (o,) = lines(r.stdout)
    assert r.returncode == 0 and o["text"] == "ok" and o["status"] == "done"
    assert len(server.requests_for("gpt-6.2-sol")) == 2


def test_lanes_follow_up_with_parent_sends_that_models_history(cli, server):
    server.script("deepseek-flash", Answer(text=("DS-1",)), Answer(text=("DS-2",)))
    server.script("claude-sonnet-5-5", Answer(text=("CL-1",)), Answer(text=("CL-2",)))
    first = lines(cli("ask", "--json", "-m", DS, "-m", CL, "Q1").stdout)
    r = cli("ask", "--json", "--parent", first[0]["node_id"], "--parent", first[1]["node_id"], "Why?")
    assert r.returncode == 0, r.stderr
    second = lines(r.stdout)
    assert [o["model"] for o in second] == [DS, CL] and [o["text"] for o in second] == ["DS-2", "CL-2"]
    assert second[0]["session_id"] == first[0]["session_id"]
    ds_req = server.requests_for("deepseek-flash")[-1].body["messages"]
    cl_req = server.requests_for("claude-sonnet-5-5")[-1].body["messages"]
    assert [(m["role"], m["content"]) for m in ds_req] == [("user", "Q1"), ("assistant", "DS-1"), ("user", "Why?")]
    flat = json.dumps(cl_req)
    assert "CL-1" in flat and "DS-1" not in flat


def test_shared_mode_quotes_every_chosen_answer_labelled_by_model(cli, server):
    server.script("deepseek-flash", Answer(text=("DS-1",)))
    server.script("claude-sonnet-5-5", Answer(text=("CL-1",)))
    first = lines(cli("ask", "--json", "-m", DS, "-m", CL, "Q1").stdout)
    r = cli("ask", "--json", "--mode", "shared", "--parent", first[1]["node_id"], "--parent", first[0]["node_id"],
            "-m", DS, "-m", GP, "Reconcile")
    assert r.returncode == 0, r.stderr
    assert [o["model"] for o in lines(r.stdout)] == [DS, GP]
    msgs = server.requests_for("deepseek-flash")[-1].body["messages"]
    assert [m["role"] for m in msgs] == ["user"]  # no chosen answer passes as one model's own turn
    text = msgs[0]["content"]
    assert text.startswith("Q1\n\n") and text.endswith("Reconcile")
    assert text.index(f"Answer from Claude Sonnet 5.5 ({CL})") < text.index("CL-1") < \
        text.index(f"Answer from DeepSeek V4.1 Flash ({DS})") < text.index("DS-1")
    one = cli("ask", "--json", "--mode", "shared", "--parent", first[1]["node_id"], "-m", DS, "Go on")
    assert one.returncode == 0, one.stderr
    msgs = server.requests_for("deepseek-flash")[-1].body["messages"]  # one chosen answer: its assistant turn
    assert [(m["role"], m["content"]) for m in msgs] == [("user", "Q1"), ("assistant", "CL-1"), ("user", "Go on")]


def test_dry_run_prints_messages_and_estimates_and_sends_nothing(cli, server):
    r = cli("ask", "--dry-run", "--json", "-m", CL, "-m", GP, "--temperature", "0.4", "--system", "Be brief", "Hi")
    assert r.returncode == 0, r.stderr
    plans = lines(r.stdout)
    assert [p["model"] for p in plans] == [CL, GP]
    assert plans[0]["messages"] == [{"role": "user", "content": "Hi"}] and plans[0]["system"] == "Be brief"
    assert plans[0]["input_tokens_estimate"] > 0 and plans[0]["cost_estimate_usd"] > 0
    assert "temperature" in plans[0]["dropped_params"]  # Claude's API rejects it
    assert "not sent" in r.stderr
    assert server.requests == []
    assert json.loads(cli("sessions", "--json").stdout) == []


def test_prompt_from_stdin_and_text_mode_streams_labelled_blocks(cli, server):
    server.script("deepseek-flash", Answer(text=("alpha",)))
    server.script("gpt-6.2-sol", Answer(text=("beta",)))
    r = cli("ask", "-m", DS, "-m", GP, "-", input="from stdin\n")
    assert r.returncode == 0, r.stderr
    assert r.stdout.index(f"━━ {DS} ━━") < r.stdout.index("alpha") < r.stdout.index(f"━━ {GP} ━━") < \
        r.stdout.index("beta")
    assert "from stdin" in server.requests_for("deepseek-flash")[-1].body["messages"][0]["content"]
    assert "TTFT" in r.stderr and "$" in r.stderr  # the metrics line every view shows


@pytest.mark.parametrize("args, needle", [
    (["ask", "-m", "nope:model", "Q"], "unknown provider 'nope'"),
    (["ask", "-m", "gpt-6.2-sol", "Q"], "PROVIDER:MODEL"),
    (["ask", "-m", DS, "   "], "prompt is empty"),
    (["ask", "-m", DS, "-"], "prompt is empty"),
    (["ask", "--frobnicate"], "unrecognized arguments"),
    (["show", "zzzzzz"], "no session"),
    (["ask", "--parent", "zzzzzz", "Q"], "no card"),
])
def test_bad_usage_is_one_line_exit_2(cli, args, needle):
    r = cli(*args, input="")
    assert r.returncode == 2
    assert needle in r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1


def test_missing_key_names_the_variable(cli):
    r = cli("ask", "-m", CL, "Q", extra_env={"ANTHROPIC_API_KEY": ""})
    assert r.returncode == 2 and "ANTHROPIC_API_KEY" in r.stderr and "Traceback" not in r.stderr


def test_ctrl_c_keeps_partial_text(cli, server):
    server.script("claude-sonnet-5-5", Answer(text=tuple(f"w{i} " for i in range(400)), delay=0.02))
    p = subprocess.Popen([sys.executable, "-m", "app", "ask", "--json", "-m", CL, "Q"], env=cli.env,
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        deadline = time.monotonic() + 20
        while not server.requests_for("claude-sonnet-5-5") and time.monotonic() < deadline:
            time.sleep(0.05)
        time.sleep(0.8)
        p.send_signal(signal.SIGINT)
        out, err = p.communicate(timeout=20)
    finally:
        p.kill()
    assert p.returncode == 1
    (o,) = lines(out)
    assert o["status"] == "stopped" and o["text"].startswith("w0 w1 ") and len(o["text"]) < len("w0 ") * 400
    stored = json.loads(cli("show", o["session_id"], "--json").stdout)
    (node,) = [n for n in stored["nodes"] if n["node_id"] == o["node_id"]]
    assert node["status"] == "stopped" and node["text"] == o["text"]


def test_models_lists_catalog_and_refresh_merges_provider_lists(cli, server):
    r = cli("models", "--json")
    refs = {m["model"] for m in json.loads(r.stdout)}
    assert {DS, CL, GP} <= refs
    r = cli("models", "ollama", "--refresh", "--json")
    assert r.returncode == 0, r.stderr
    assert {m["model"] for m in json.loads(r.stdout)} == {"ollama:qwen3:8b", "ollama:llama3.3:70b"}
    r = cli("models", "openrouter", "--refresh", "--json")
    priced = {m["model"]: m["price"] for m in json.loads(r.stdout)}
    assert priced["openrouter:openai/gpt-6.2-sol"]["input"] == pytest.approx(2.0)
    assert (cli.home / "models-cache.json").exists()


def test_rerun_an_answer_on_another_model_and_replay_its_lane(cli, server):
    server.script("deepseek-flash", Answer(text=("DS-1",)), Answer(text=("DS-2",)))
    server.script("claude-sonnet-5-5", Answer(text=("CL-A",)), Answer(text=("CL-1",)), Answer(text=("CL-2",)))
    first = lines(cli("ask", "--json", "-m", DS, "Q1").stdout)[0]
    second = lines(cli("ask", "--json", "--parent", first["node_id"], "Q2").stdout)[0]

    # one answer re-run on Claude: a sibling under the same prompt
    r = cli("rerun", "--json", "-m", CL, first["node_id"])
    assert r.returncode == 0, r.stderr
    (again,) = lines(r.stdout)
    assert again["model"] == CL and again["text"] == "CL-A" and again["session_id"] == first["session_id"]

    # the whole lane replayed on Claude: each turn follows Claude's own previous answer
    r = cli("rerun", "--lane", "--json", "-m", CL, second["node_id"])
    assert r.returncode == 0, r.stderr
    replay = lines(r.stdout)
    assert [(o["model"], o["text"], o["status"]) for o in replay] == [(CL, "CL-1", "done"), (CL, "CL-2", "done")]
    msgs = server.requests_for("claude-sonnet-5-5")[-1].body["messages"]
    assert json.dumps(msgs).count("DS-") == 0
    assert [m["role"] for m in msgs] == ["user", "assistant", "user"]
    assert "Q1" in json.dumps(msgs[0]) and "CL-1" in json.dumps(msgs[1]) and "Q2" in json.dumps(msgs[2])
    shown = json.loads(cli("show", "--json", first["session_id"]).stdout)
    prompts = [n for n in shown["nodes"] if n["kind"] == "prompt"]
    assert sorted(p["text"] for p in prompts) == ["Q1", "Q2", "Q2"]  # Q2 copied under Claude's answer

    # text mode labels each turn; a prompt is refused with exit 2
    r = cli("rerun", "-m", CL, first["session_id"])
    assert r.returncode == 2 and "Traceback" not in r.stderr
    prompt_id = prompts[0]["node_id"]
    r = cli("rerun", prompt_id)
    assert r.returncode == 2 and "not an answer" in r.stderr


def test_a_lane_replay_that_fails_midway_exits_1_and_keeps_what_ran(cli, server):
    first = lines(cli("ask", "--json", "-m", DS, "Q1").stdout)[0]
    second = lines(cli("ask", "--json", "--parent", first["node_id"], "Q2").stdout)[0]
    server.script("claude-sonnet-5-5", Answer(text=("CL-1",)),
                  Scenario([Respond(500, b'{"error": {"message": "boom", "type": "api_error"}}')]))
    r = cli("rerun", "--lane", "-m", CL, second["node_id"], "--max-retries", "0")
    assert r.returncode == 1
    assert "CL-1" in r.stdout  # the first turn streamed to the terminal
    assert "error" in r.stdout.lower() or "error" in r.stderr.lower()
