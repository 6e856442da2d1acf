"""`triptych sweep` end to end: a real subprocess against the loopback fake provider server — a 5 rows ×
3 models × 2 max_tokens grid with a failing lane, a temperature sweep over models that do not all take a
temperature (one cell per row for those, the warning on stderr first), the concurrency cap per provider, refusals before
anything is sent, a SIGKILL mid-sweep followed by `--resume` that repeats no finished cell, and the csv
export (DESIGN.md, "Evaluate")."""

from __future__ import annotations

import csv
import io
import json
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.fakes.server import (
    Answer,
    HTTPFault,
    RecordedRequest,
    _conversation,
    default_answer,
)

DS, CL, GP = "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"
ROOT = Path(__file__).resolve().parents[2]
ROWS = [
    {"id": "1", "q": 'He said "hi", then left'},
    {"id": "2", "q": "a, b, c"},
    {"id": "3", "q": "line one\nline two"},
    {"id": "4", "q": "日本語で答えて 🎌"},
    {"id": "5", "q": "{{id}} stays as typed"},
]


@pytest.fixture
def vars_csv(tmp_path):
    path = tmp_path / "rows.csv"
    with path.open("w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=["id", "q"])
        w.writeheader()
        w.writerows(ROWS)
    return path


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


class Timed:
    """A scripted reply that records when the server began each request (its end is the last chunk's
    `sent` stamp): enough to count the requests in flight at once."""

    def __init__(self, delay: float, fail_if: str | None = None) -> None:
        self.delay = delay
        self.fail_if = fail_if
        self.started: list[tuple[float, RecordedRequest]] = []

    def __call__(self, req: RecordedRequest):
        self.started.append((time.time(), req))
        if self.fail_if is not None and self.fail_if in _conversation(req)[0]:
            return HTTPFault(400, "this row is refused")
        return Answer(text=("Answer", " for", " you", "."), delay=self.delay, input_tokens=20, output_tokens=4)

    def peak(self) -> int:
        spans = [(t, max(s for s, _ in r.sent) if r.sent else t) for t, r in self.started]
        return max(sum(1 for s, e in spans if s <= t < e) for t, _ in spans) if spans else 0


def test_grid_of_5_rows_3_models_2_max_tokens_with_a_failing_lane_and_the_cap(cli, server, vars_csv):
    lanes = {m: Timed(0.05, fail_if="line two" if m == "gpt-6.2-sol" else None)
             for m in ("deepseek-flash", "claude-sonnet-5-5", "gpt-6.2-sol")}
    for model, item in lanes.items():
        server.script(model, item)
    r = cli("sweep", "-m", DS, "-m", CL, "-m", GP, "-p", "Q{{id}}: {{q}}", "--vars", str(vars_csv),
            "--set", "max_tokens=300,600", "--check", "contains:Answer", "--concurrency", "2", "--json")
    assert r.returncode == 1, r.stderr  # two cells failed
    assert "warning" not in r.stderr  # every model takes max_tokens
    out = lines(r.stdout)
    assert len(out) == 30
    keys = ["sweep_id", "row", "prompt_index", "vars", "model", "params", "node_id", "status", "text", "finish",
            "error", "usage", "cost_usd", "timing", "checks", "score"]
    assert all(list(o) == keys for o in out)
    # row, prompt, model, variant order; the variables verbatim (never expanded again)
    assert [(o["row"], o["model"], o["params"]) for o in out[:6]] == [
        (0, m, {"max_tokens": n}) for m in (DS, CL, GP) for n in (300, 600)]
    assert [o["vars"] for o in out[::6]] == ROWS
    assert {o["sweep_id"] for o in out} == {out[0]["sweep_id"]}
    failed = [o for o in out if o["status"] != "done"]
    assert [(o["row"], o["model"]) for o in failed] == [(2, GP), (2, GP)]
    assert all(o["error"]["kind"] == "bad_request" and o["checks"] == [{"check": "contains:Answer", "pass": False}]
               for o in failed)
    done = [o for o in out if o["status"] == "done"]
    assert all(o["text"] == "Answer for you." and o["checks"][0]["pass"] and o["usage"]["input_tokens"] == 20
               for o in done)
    # each provider's requests: every cell once, never more than 2 at a time, and 2 were used
    for model, item in lanes.items():
        assert len(item.started) == 10, model
        assert item.peak() == 2, model
    sent = {_conversation(req)[0] for item in lanes.values() for _, req in item.started}
    assert sent == {f"Q{row['id']}: {row['q']}" for row in ROWS}
    assert "30/30 done, 2 failed" in r.stderr and "ETA" in r.stderr

    # the sweep is a session: its cells are ordinary prompt -> response pairs
    sid = out[0]["sweep_id"]
    shown = json.loads(cli("show", sid, "--json").stdout)
    kinds = [n["kind"] for n in shown["nodes"]]
    assert kinds.count("sweep") == 1 and kinds.count("prompt") == 30 and kinds.count("response") == 30
    # csv export: one row per cell, the awkward values intact
    r = cli("export", sid, "--format", "csv", "-o", "-")
    assert r.returncode == 0, r.stderr
    rows = list(csv.DictReader(io.StringIO(r.stdout, newline="")))
    assert len(rows) == 30
    assert [row["vars.q"] for row in rows[::6]] == [row["q"] for row in ROWS]
    assert [(row["model"], row["params.max_tokens"], row["status"]) for row in rows[12:18]] == [
        (DS, "300", "done"), (DS, "600", "done"), (CL, "300", "done"), (CL, "600", "done"), (GP, "300", "error"),
        (GP, "600", "error")]
    # resuming a finished sweep re-runs only the failed cells
    server.script("gpt-6.2-sol", lambda req: default_answer(req))
    r = cli("sweep", "--resume", sid, "--json")
    assert r.returncode == 0, r.stderr  # now every cell finished and passed
    again = lines(r.stdout)
    assert len(again) == 30 and all(o["status"] == "done" and o["checks"][0]["pass"] for o in again)
    assert [(o["row"], o["model"], o["status"]) for o in again if o["node_id"] not in {x["node_id"] for x in out}] == [
        (2, GP, "done"), (2, GP, "done")]
    assert len(server.requests_for("gpt-6.2-sol")) == 12


def test_a_temperature_sweep_sends_each_cell_once_to_a_model_that_takes_no_temperature(cli, server, vars_csv):
    """qa2 D1: DeepSeek takes a temperature with thinking off, Claude never: Claude's two temperature
    variants are one cell per row, sent once and without a temperature; stderr says so before sending;
    --resume keeps the same cells."""
    r = cli("sweep", "-m", DS, "-m", CL, "-p", "Q{{id}}: {{q}}", "--vars", str(vars_csv), "--set", "thinking=off",
            "--set", "temperature=0,0.7", "--json")
    assert r.returncode == 0, r.stderr
    warning = (f"triptych: warning: {CL}: temperature not accepted, not sent; its 2 variants run as 1 column "
               "(5 cells fewer)")
    assert warning in r.stderr and r.stderr.index(warning) < r.stderr.index("triptych: sweep ")
    assert "15 cell(s) to run" in r.stderr and "5 cell(s) fewer" in r.stderr
    out = lines(r.stdout)
    assert len(out) == 15  # 5 rows × (2 DeepSeek temperatures + 1 Claude cell)
    assert [(o["model"], o["params"]) for o in out[:3]] == [
        (DS, {"thinking": False, "temperature": 0.0}), (DS, {"thinking": False, "temperature": 0.7}),
        (CL, {"thinking": False})]
    assert all(o["status"] == "done" for o in out)
    # what the providers got: one request per cell; none to Claude carries a temperature
    claude = server.requests_for("claude-sonnet-5-5")
    deepseek = server.requests_for("deepseek-flash")
    assert len(claude) == 5 and len(deepseek) == 10
    assert all("temperature" not in req.body for req in claude)
    assert sorted(req.body["temperature"] for req in deepseek) == [0.0] * 5 + [0.7] * 5
    assert sorted(_conversation(req)[0] for req in claude) == sorted(f"Q{row['id']}: {row['q']}" for row in ROWS)
    # the summary's columns; a resume finds every cell finished and sends nothing
    sid = out[0]["sweep_id"]
    server.reset()
    r = cli("sweep", "--resume", sid, "--json")
    assert r.returncode == 0, r.stderr
    assert [o["node_id"] for o in lines(r.stdout)] == [o["node_id"] for o in out] and server.requests == []
    assert warning in r.stderr
    r = cli("export", sid, "--format", "md", "-o", "-")
    # the report names the column as the grid does (its model, then what it does not take, then the settings)
    assert "Claude Sonnet 5.5 · temperature not accepted · thinking=off |" in r.stdout


def test_refusals_happen_before_anything_is_sent(cli, server, vars_csv, tmp_path):
    r = cli("sweep", "-m", DS, "-p", "{{id}} {{answer}}", "--vars", str(vars_csv))
    assert r.returncode == 2
    assert "{{answer}}" in r.stderr and "no column 'answer'" in r.stderr
    r = cli("sweep", "-m", DS, "-p", "x", "--check", "regex:(")
    assert r.returncode == 2 and "regular expression" in r.stderr
    # a temperature none of the models takes would compare identical requests: refused, saying why
    r = cli("sweep", "-m", DS, "-m", CL, "-p", "x", "--set", "temperature=0,0.7")
    assert r.returncode == 2
    assert ("Temperature is accepted by none of the chosen models (DeepSeek V4.1 Flash takes it only with "
            "thinking off; Claude Sonnet 5.5 does not take it)") in r.stderr
    r = cli("sweep", "-m", DS, "-p", "x", "--vars", str(tmp_path / "missing.csv"))
    assert r.returncode == 2 and "missing.csv" in r.stderr
    # an estimate above $1 with no terminal to ask on: refused, unless --yes
    many = tmp_path / "many.jsonl"
    many.write_text("".join(json.dumps({"n": i}) + "\n" for i in range(40)), encoding="utf-8")
    r = cli("sweep", "-m", "openai:gpt-6.2-astra", "-p", "{{n}}", "--vars", str(many))
    assert r.returncode == 2, r.stderr
    assert "above $1.00" in r.stderr and "--yes" in r.stderr
    assert server.requests == []
    assert json.loads(cli("sessions", "--json").stdout) == []
    r = cli("sweep", "-m", "openai:gpt-6.2-astra", "-p", "{{n}}", "--vars", str(many), "--yes", "--json")
    assert r.returncode == 0, r.stderr
    assert len(lines(r.stdout)) == 40 and len(server.requests) == 40


def _db_counts(db: Path) -> tuple[int, int]:
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)
        try:
            rows = dict(con.execute("select status, count(*) from nodes where kind='response' group by status"))
        finally:
            con.close()
    except sqlite3.Error:
        return 0, 0
    return rows.get("done", 0), rows.get("streaming", 0)


def test_sigkill_mid_sweep_then_resume_repeats_no_finished_cell(cli, server, vars_csv, tmp_path):
    slow = lambda req: Answer(text=("one", " two", " three", " four", " five", " six"), delay=0.08)  # noqa: E731
    server.script("deepseek-flash", slow)
    server.script("claude-sonnet-5-5", slow)
    err = (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "app", "sweep", "-m", DS, "-m", CL, "-p", "Q{{id}}: {{q}}",
                             "--vars", str(vars_csv), "--set", "max_tokens=300,600", "--concurrency", "1", "--json"],
                            stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, env=cli.env, cwd=ROOT)
    db = cli.home / "triptych.db"
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            done, streaming = _db_counts(db)
            if done >= 4 and streaming >= 1:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the sweep never got going")
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
        err.close()
    sweep_id = (tmp_path / "stderr.txt").read_text().split("triptych: sweep ", 1)[1].split(":", 1)[0]
    before = {n["node_id"]: n for n in json.loads(cli("show", sweep_id, "--json").stdout)["nodes"]
              if n["kind"] == "response" and n["status"] == "done"}
    assert 4 <= len(before) < 20
    sent_before = len(server.requests)
    fast = Answer(text=("quick",))
    server.script("deepseek-flash", fast)
    server.script("claude-sonnet-5-5", fast)

    r = cli("sweep", "--resume", sweep_id, "--json")
    assert r.returncode == 0, r.stderr
    out = lines(r.stdout)
    assert len(out) == 20 and all(o["status"] == "done" for o in out)
    assert {o["text"] for o in out if o["node_id"] not in before} == {"quick"}
    finished_first = [o for o in out if o["node_id"] in before]
    assert len(finished_first) == len(before)  # a cell that had finished kept its answer
    # exactly the unfinished cells were sent again: one request each, none for a finished cell
    assert len(server.requests) - sent_before == 20 - len(before)
    shown = json.loads(cli("show", sweep_id, "--json").stdout)["nodes"]
    statuses = sorted(n["status"] for n in shown if n["kind"] == "response")
    assert statuses.count("done") == 20 and "streaming" not in statuses
    assert statuses.count("interrupted") >= 1  # the answer cut by the kill is kept, marked, and re-run


def test_files_attached_to_a_sweep_go_with_every_cell_and_with_resume(cli, server, tmp_path):
    """`sweep -a`: each cell's request carries the image (Anthropic's base64 block) and the text file
    inlined; --resume sends the same bytes; a bad file is refused before anything is stored or sent."""
    import base64

    from tests.attach_samples import png

    chart, notes = tmp_path / "chart.png", tmp_path / "notes.md"
    chart.write_bytes(png(8, 6))
    notes.write_text("# Notes\nrevenue up 12 %\n", encoding="utf-8")
    server.script("claude-sonnet-5-5", HTTPFault(503, "overloaded"))
    r = cli("sweep", "-m", CL, "-p", "Q{{id}}: {{q}}", "--vars", str(_two_rows(tmp_path)),
            "-a", str(chart), "-a", str(notes), "--max-retries", "0", "--json")
    assert r.returncode == 1, r.stderr
    sweep_id = lines(r.stdout)[0]["sweep_id"]
    image = {"type": "image", "source": {"type": "base64", "media_type": "image/png",
                                         "data": base64.b64encode(chart.read_bytes()).decode()}}
    server.reset()
    r = cli("sweep", "--resume", sweep_id, "--json")
    assert r.returncode == 0, r.stderr
    bodies = [req.body for req in server.requests if req.method == "POST"]
    assert len(bodies) == 2
    for body in bodies:
        content = body["messages"][-1]["content"]
        assert image in content
        assert any(part.get("type") == "text" and "revenue up 12 %" in part["text"] and "notes.md" in part["text"]
                   for part in content)
    server.reset()
    r = cli("sweep", "-m", CL, "-p", "hello", "-a", str(tmp_path / "missing.png"))
    assert r.returncode == 2 and "missing.png" in r.stderr
    assert server.requests == []


def _two_rows(tmp_path: Path) -> Path:
    path = tmp_path / "two.csv"
    path.write_text("id,q\n1,first\n2,second\n", encoding="utf-8")
    return path


def _judge_counts(db: Path) -> tuple[int, int]:
    """(finished answers, verdicts streaming) in the store."""
    try:
        con = sqlite3.connect(f"file:{db}?mode=ro", uri=True, timeout=0.2)
        try:
            done = con.execute("select count(*) from nodes where kind='response' and status='done'").fetchone()[0]
            judging = con.execute("select count(*) from nodes where kind='synthesis' and status='streaming'").fetchone()[0]
        finally:
            con.close()
    except sqlite3.Error:
        return 0, 0
    return done, judging


def test_ctrl_c_while_the_judge_works_then_resume_judges_the_cells_left_without_asking_the_model_again(
        cli, server, vars_csv, tmp_path):
    """qa3 N5: a sweep stopped while its judge worked kept its answered cells unjudged for good: `--resume`
    found nothing to do."""
    judge = "openai:gpt-6-luna"
    server.script("deepseek-flash", Answer(text=("fine",)))
    server.script("gpt-6-luna", Answer(text=tuple(f"thinking {i} " for i in range(400)), delay=0.05))
    err = (tmp_path / "stderr.txt").open("w")
    proc = subprocess.Popen([sys.executable, "-m", "app", "sweep", "-m", DS, "-p", "Q{{id}}: {{q}}",
                             "--vars", str(vars_csv), "--judge", judge, "--concurrency", "1", "--json"],
                            stdout=subprocess.DEVNULL, stderr=err, stdin=subprocess.DEVNULL, env=cli.env, cwd=ROOT)
    db = cli.home / "triptych.db"
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            done, judging = _judge_counts(db)
            if done == 5 and judging >= 1:
                break
            time.sleep(0.02)
        else:
            pytest.fail("the judge never got going")
        proc.send_signal(signal.SIGINT)  # Ctrl+C: the sweep stops, the judge's verdict too
        proc.wait(20)
    finally:
        if proc.poll() is None:
            proc.kill()
        err.close()
    sweep_id = (tmp_path / "stderr.txt").read_text().split("triptych: sweep ", 1)[1].split(":", 1)[0]
    sent = [r.model for r in server.requests if r.method == "POST"]
    assert sent.count("deepseek-flash") == 5 and 1 <= sent.count("gpt-6-luna") < 5

    server.script("gpt-6-luna", Answer(text=("SCORE: 7 — fine",)))
    before = len(server.requests)
    r = cli("sweep", "--resume", sweep_id, "--json")
    assert r.returncode == 0, r.stderr
    assert "0 to run, 5 to judge" in r.stderr, r.stderr
    out = lines(r.stdout)
    assert len(out) == 5 and [o["score"] for o in out] == [7] * 5
    again = [req.model for req in server.requests[before:] if req.method == "POST"]
    assert again == ["gpt-6-luna"] * 5  # the judge only: no cell was sent again
    r = cli("sweep", "--resume", sweep_id, "--json")  # nothing left to do
    assert r.returncode == 0 and "0 to run" in r.stderr and "to judge" not in r.stderr, r.stderr
