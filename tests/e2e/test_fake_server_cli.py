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
