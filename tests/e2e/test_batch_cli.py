"""`triptych sweep --batch` end to end: a real subprocess against the loopback fake batch APIs (OpenAI
Batch and Anthropic Message Batches, tests/fakes/batch.py). OpenAI and Anthropic cells go through one
batch per provider at batch prices while DeepSeek runs live; a SIGKILL while the batches run and then
`--resume` polls the stored batches (one create per batch, never a cell twice); `--no-wait` returns once
submitted; a batch that expires with part of its results fails those cells with the reason, and
re-running the failed cells runs them."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

DS, CL, GP = "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"
ROOT = Path(__file__).resolve().parents[2]
POLL = ("--poll-interval", "0.05")


@pytest.fixture
def rows(tmp_path):
    path = tmp_path / "rows.csv"
    path.write_text('id,q\n1,"He said ""hi"", then left"\n2,日本語で答えて\n3,"line one\nline two"\n',
                    encoding="utf-8")
    return path


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def batch_requests(server) -> dict[str, list]:
    """custom_id -> the batches (ids) it was sent in."""
    seen: dict[str, list] = {}
    for b in server.batches.created:
        for cid, _ in b.requests:
            seen.setdefault(cid, []).append(b.id)
    return seen


def test_batch_sweep_through_both_apis_with_deepseek_live(cli, server, rows):
    r = cli("sweep", "--batch", *POLL, "-m", GP, "-m", CL, "-m", DS, "-p", "Q{{id}}: {{q}}", "--vars", str(rows),
            "--check", "contains:Answer from", "--json")
    assert r.returncode == 0, r.stderr
    out = lines(r.stdout)
    assert len(out) == 9 and all(o["status"] == "done" and o["checks"][0]["pass"] for o in out)
    # one batch per provider, each holding that provider's 3 cells; DeepSeek's 3 cells ran live
    assert server.batches.creates == {"/v1/batches": 1, "/v1/messages/batches": 1}
    assert sorted((b.kind, len(b.requests)) for b in server.batches.created) == [("anthropic", 3), ("openai", 3)]
    assert len([q for q in server.requests if q.fmt == "chat" and q.flavor == "deepseek"]) == 3
    assert not [q for q in server.requests if q.fmt in ("responses", "anthropic")]  # nothing live for them
    # the awkward values reached the batch verbatim
    sent = [json.dumps(body, ensure_ascii=False) for b in server.batches.created for _, body in b.requests]
    assert any("He said \\\"hi\\\", then left" in s for s in sent) and any("日本語で答えて" in s for s in sent)
    # batch cells cost half the live price; the live ones their live price and a measured latency
    for o in out:
        if o["model"] == DS:
            assert o["timing"]["duration_ms"] is not None
        else:
            u = o["usage"]
            live = 2 * (u["input_tokens"] - (u["cached_input_tokens"] or 0)) / 1e6 + 10 * u["output_tokens"] / 1e6
            assert o["cost_usd"] == pytest.approx(live / 2) and o["timing"]["duration_ms"] is None
    assert "batch batch_fake" in r.stderr and "batch msgbatch_fake" in r.stderr and "ended" in r.stderr
    assert "batch prices" in r.stderr  # the estimate says so


def test_sigkill_while_batches_run_then_resume_polls_them_and_sends_no_cell_twice(cli, server, rows, tmp_path):
    server.batches.hold = True  # the batches stay in progress until the test lets them end
    err_path = tmp_path / "stderr.txt"
    with err_path.open("w") as err:
        proc = subprocess.Popen([sys.executable, "-m", "app", "sweep", "--batch", *POLL, "-m", GP, "-m", CL,
                                 "-m", DS, "-p", "Q{{id}}: {{q}}", "--vars", str(rows), "--json"],
                                stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, env=cli.env, cwd=ROOT)
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline:
                text = err_path.read_text()
                gets = [q for q in server.requests if q.method == "GET" and "/batches/" in q.path]
                if "batch msgbatch_fake" in text and "batch batch_fake" in text and len(gets) >= 4:
                    break
                time.sleep(0.02)
            else:
                pytest.fail(f"the batches were never submitted and polled: {err_path.read_text()}")
        finally:
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
    sweep_id = err_path.read_text().split("triptych: sweep ", 1)[1].split(":", 1)[0]
    assert server.batches.creates == {"/v1/batches": 1, "/v1/messages/batches": 1}

    server.batches.hold = False
    r = cli("sweep", "--resume", sweep_id, *POLL, "--json")
    assert r.returncode == 0, r.stderr
    assert "6 waiting in batches" in r.stderr
    out = lines(r.stdout)
    assert len(out) == 9 and all(o["status"] == "done" for o in out)
    # the resume polled the stored batches: still one create per batch, every batch cell sent once
    assert server.batches.creates == {"/v1/batches": 1, "/v1/messages/batches": 1}
    sent = batch_requests(server)
    assert len(sent) == 6 and all(len(v) == 1 for v in sent.values())
    shown = json.loads(cli("show", sweep_id, "--json").stdout)["nodes"]
    answers = [n for n in shown if n["kind"] == "response" and n["model"] in (GP, CL)]
    assert len(answers) == 6 and all(n["status"] == "done" for n in answers)


def test_no_wait_returns_once_submitted_and_resume_collects(cli, server, rows):
    server.batches.hold = True
    r = cli("sweep", "--batch", "--no-wait", *POLL, "-m", CL, "-p", "{{q}}", "--vars", str(rows), "--json")
    assert r.returncode == 0, r.stderr
    out = lines(r.stdout)
    assert [o["status"] for o in out] == ["pending"] * 3 and all(o["node_id"] is None for o in out)
    assert "3 cell(s) wait in batches" in r.stderr and "--resume" in r.stderr
    sweep_id = out[0]["sweep_id"]
    # still running at the provider: a resume that cannot wait long says so, and sends nothing again
    r = cli("sweep", "--resume", sweep_id, "--no-wait", *POLL, "--json")
    assert r.returncode == 0, r.stderr
    assert [o["status"] for o in lines(r.stdout)] == ["pending"] * 3
    server.batches.hold = False
    r = cli("sweep", "--resume", sweep_id, *POLL, "--json")
    assert r.returncode == 0, r.stderr
    assert [o["status"] for o in lines(r.stdout)] == ["done"] * 3
    assert server.batches.creates == {"/v1/messages/batches": 1}


def test_partial_expiry_fails_those_cells_with_the_reason_and_a_rerun_runs_them(cli, server, rows):
    server.batches.expire_models = {"claude-sonnet-5-5"}
    server.batches.create_429 = 1  # the first create is refused with Retry-After: honoured, then sent
    r = cli("sweep", "--batch", *POLL, "-m", GP, "-m", CL, "-m", "openai:fail-400", "-p", "{{q}}",
            "--vars", str(rows), "--json")
    assert r.returncode == 1, r.stderr
    out = lines(r.stdout)
    by_model: dict[str, list] = {}
    for o in out:
        by_model.setdefault(o["model"], []).append(o)
    assert all(o["status"] == "done" for o in by_model[GP])
    for o in by_model[CL]:
        assert o["status"] == "error" and o["error"]["kind"] == "timeout"
        assert "the batch expired" in o["error"]["message"] and "--resume" in o["error"]["message"]
    for o in by_model["openai:fail-400"]:
        assert o["status"] == "error" and o["error"]["status"] == 400 and "fake error 400" in o["error"]["message"]
    assert server.batches.rejected_creates == 1
    assert server.batches.creates == {"/v1/batches": 1, "/v1/messages/batches": 1}

    # re-running the failed cells: a new batch with exactly them; the finished cells are not sent again
    server.batches.expire_models = set()
    first = {b.id for b in server.batches.created}
    r = cli("sweep", "--resume", out[0]["sweep_id"], *POLL, "--json")
    again = lines(r.stdout)
    assert r.returncode == 1, r.stderr  # fail-400 fails again
    assert [o["status"] for o in again if o["model"] == CL] == ["done"] * 3
    new = [b for b in server.batches.created if b.id not in first]
    assert sorted((b.kind, len(b.requests)) for b in new) == [("anthropic", 3), ("openai", 3)]
    assert {body["model"] for b in new if b.kind == "openai" for _, body in b.requests} == {"fail-400"}
    assert {o["node_id"] for o in again if o["model"] == GP} == {o["node_id"] for o in by_model[GP]}


def test_batch_flags_are_checked(cli, server):
    r = cli("sweep", "-m", GP, "-p", "x", "--no-wait")
    assert r.returncode == 2 and "--batch" in r.stderr
    r = cli("sweep", "-m", GP, "-p", "x", "--batch", "--poll-interval", "0")
    assert r.returncode == 2 and "--poll-interval" in r.stderr
    assert server.requests == []
