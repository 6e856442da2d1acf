"""The fake provider server as one tries the app by hand (`python -m tests.fakes.server`, README): its
batch APIs answer like the in-process server the tests use."""

from __future__ import annotations

import json
import re
import subprocess
import sys
import urllib.request

from tests.storage import REPO_ROOT


def test_the_standalone_fake_server_answers_batch_requests():
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.server", "--port", "0"], cwd=REPO_ROOT,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        line = proc.stdout.readline()
        base = re.search(r"(http://127\.0\.0\.1:\d+)", line)
        assert base, line
        body = {"requests": [{"custom_id": "c1", "params": {"model": "claude-sonnet-5-5", "max_tokens": 10,
                                                            "messages": [{"role": "user", "content": "hi"}]}}]}
        req = urllib.request.Request(base.group(1) + "/v1/messages/batches", data=json.dumps(body).encode(),
                                     headers={"x-api-key": "sk-fake-test-key", "anthropic-version": "2026-10-21",
                                              "content-type": "application/json"}, method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            batch = json.loads(r.read())
        assert batch["type"] == "message_batch" and batch["id"].startswith("msgbatch_")
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_the_standalone_fake_server_with_a_corpus_scores_like_a_judge(tmp_path):
    """By hand (`--corpus`), a sweep's judge gets a `SCORE:` line, so the grid's scores can be tried (qa3
    N16: every judged cell said "no score"); the answers themselves stay the corpus's."""
    proc = subprocess.Popen([sys.executable, "-m", "tests.fakes.server", "--port", "0", "--corpus", "tests/app/corpus"],
                            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None
        proc.stdout.readline()  # "answers from N files in …"
        base = re.search(r"(http://127\.0\.0\.1:\d+)", proc.stdout.readline())
        assert base
        env = {k: v for k, v in __import__("os").environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
        env.update(TRIPTYCH_HOME=str(tmp_path / "home"), TRIPTYCH_NO_KEYRING="1", DEEPSEEK_BASE_URL=base.group(1),
                   ANTHROPIC_BASE_URL=base.group(1), DEEPSEEK_API_KEY="sk-fake", ANTHROPIC_API_KEY="sk-fake")
        (tmp_path / "rows.csv").write_text("x\nrecursion\nclosures\n", encoding="utf-8")
        r = subprocess.run([sys.executable, "-m", "app", "sweep", "-p", "Explain {{x}}", "--vars", str(tmp_path / "rows.csv"),
                            "-m", "deepseek:deepseek-flash", "--judge", "anthropic:claude-haiku-5-5", "--yes", "--json"],
                           cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)
        cells = [json.loads(line) for line in r.stdout.splitlines() if line.startswith("{")]
        assert len(cells) == 2, r.stdout + r.stderr
        assert all(isinstance(c["score"], int) and 1 <= c["score"] <= 10 for c in cells), cells
        assert all("SCORE" not in c["text"] for c in cells)  # the model's own answer is a corpus file
    finally:
        proc.terminate()
        proc.wait(timeout=10)
