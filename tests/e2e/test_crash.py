"""Crash safety of `triptych ask`: SIGKILL it mid-stream and check what is on disk.

The promise: whatever a model sent is on disk within 250 ms (the engine's batched writes), the store
opens without repair after any kill, a cut answer becomes `interrupted` (text intact) when the store is
next opened, and Retry re-runs it as a sibling.

Timing is measured against the fake server's own record of when it handed each chunk to the kernel
(`RecordedRequest.sent`, wall clock), so the bound checked is "stored text ≥ everything the server had
sent until 250 ms + MARGIN before the kill".
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import random
import re
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.config import load_settings
from app.domain import EdgeRole, NodeKind, NodeStatus
from app.engine import Engine
from storage import open_store
from tests.fakes.server import Answer, FakeProviderServer, RecordedRequest
from tests.reliability import record

ROOT = Path(__file__).resolve().parents[2]
PERSIST = 0.25  # the engine's promise: text on disk at most 250 ms after it arrives
# Scheduling margin on top of the 250 ms: the CLI's event loop wakes the flush timer late when the CPU
# is busy (two cores shared by the CLI, this test and the fake server thread), and the SQLite commit
# (WAL, synchronous=NORMAL: no fsync per commit) takes a few ms. Loopback delivery is well under 1 ms.
MARGIN = 0.15
LANES = {  # model ref -> (scripted model name, the letter that marks its words)
    "deepseek:deepseek-flash": ("deepseek-flash", "d"),
    "anthropic:claude-sonnet-5-5": ("claude-sonnet-5-5", "a"),
    "openai:gpt-6.2-sol": ("gpt-6.2-sol", "o"),
}


def words(letter: str, n: int, size: int = 0) -> tuple[str, ...]:
    pad = "." * size
    return tuple(f"{letter}{i:03d}{pad} " for i in range(n))


@pytest.fixture(scope="module")
def server():
    srv = FakeProviderServer(tokens_per_second=0)
    _url, stop = srv.run_in_thread()
    yield srv
    stop()


@pytest.fixture
def env(server, tmp_path) -> dict[str, str]:
    # Collect leftovers of earlier (GUI) tests here, on the main thread: if the collector ran in our
    # server thread instead, Qt would warn that it cannot stop their timers from another thread.
    gc.collect()
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_BASE_URL")) and not k.startswith("TRIPTYCH_")}
    env.update(server.env())
    env.update({"TRIPTYCH_HOME": str(tmp_path / "home"), "TRIPTYCH_NO_KEYRING": "1", "PYTHONPATH": str(ROOT)})
    server.reset()
    return env


def spawn_ask(env: dict[str, str], prompt: str) -> subprocess.Popen[str]:
    args = [sys.executable, "-m", "app", "ask", "--json"]
    for ref in LANES:
        args += ["-m", ref]
    return subprocess.Popen([*args, prompt], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True)


def cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                          timeout=60)


def wait_for(pred, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not pred():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.005)


def integrity(db: Path) -> str:
    """PRAGMA integrity_check on a plain read-only open: no repair, no recovery tool."""
    con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    try:
        return str(con.execute("PRAGMA integrity_check").fetchone()[0])
    finally:
        con.close()


def stored_nodes(db: Path) -> dict[str, dict]:
    con = sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)
    con.row_factory = sqlite3.Row
    try:
        return {r["model"]: dict(r) for r in con.execute("SELECT * FROM nodes WHERE kind = 'response'")}
    finally:
        con.close()


def sent_before(req: RecordedRequest, letter: str, t: float) -> int:
    """How many of the lane's words the server had handed to the kernel by wall-clock time `t`."""
    pattern = re.compile(rb"\b" + letter.encode() + rb"(\d{3})")
    count = 0
    for when, data in list(req.sent):
        if when <= t:
            found = [int(m) for m in pattern.findall(data)]
            if found:
                count = max(count, max(found) + 1)
    return count


GUI_DRIVER = """
import asyncio, os, sys
os.environ["QT_QPA_PLATFORM"] = "offscreen"
os.environ.setdefault("QT_API", "pyside6")
os.environ["TRIPTYCH_NO_ERROR_DIALOG"] = "1"
from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication
from ui.app import build_services, create_window
from ui.qtloop import TriptychEventLoop

app = QApplication(["triptych"])
app.setQuitOnLastWindowClosed(False)

async def main():
    services = build_services(interactive=False)
    window = create_window(services)
    window.show()
    await asyncio.sleep(0.05)
    assert window.composer.models() == EXPECTED_MODELS, window.composer.models()
    QTest.keyClicks(window.composer.edit, "Explain crash safety")
    QTest.keyClick(window.composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    await asyncio.Event().wait()  # stream until killed

with asyncio.Runner(loop_factory=lambda: TriptychEventLoop(app)) as runner:
    runner.run(main())
""".replace("EXPECTED_MODELS", repr(list(LANES)))


def spawn_gui(env: dict[str, str], prompt: str) -> subprocess.Popen[str]:
    return subprocess.Popen([sys.executable, "-c", GUI_DRIVER], env=env, cwd=ROOT, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)


def kill_mid_stream_and_check(env, server, tmp_path, spawn) -> str:
    """Start three slow lanes with `spawn`, SIGKILL mid-stream, check the store; returns the stored text
    of one cut lane (for the table)."""
    n = 150
    full = {}
    for ref, (name, letter) in LANES.items():
        text = words(letter, n)
        full[ref] = "".join(text)
        # 20 ms between chunks (3 s per answer); the rerun later gets a short answer.
        server.script(name, Answer(text=text, delay=0.02), Answer(text=(f"retried {letter}",)))
    proc = spawn(env, "Explain crash safety")
    try:
        wait_for(lambda: len([r for r in server.requests if r.model and r.sent]) >= 3 or proc.poll() is not None,
                 30, "all three streams to start")
        assert proc.poll() is None, proc.communicate()
        time.sleep(1.0 + random.random() * 0.3)  # somewhere in the middle, any phase of the flush cycle
        killed_at = time.time()
        proc.send_signal(signal.SIGKILL)
        proc.wait(10)
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.communicate()
    assert proc.returncode == -signal.SIGKILL
    db = tmp_path / "home" / "triptych.db"

    # 1. The store opens without repair.
    assert integrity(db) == "ok"

    # 2. Each lane's stored text is a prefix of what was streamed, at most 250 ms (+ margin) behind.
    after_kill = stored_nodes(db)
    requests = {r.model: r for r in server.requests if r.model}
    for ref, (name, letter) in LANES.items():
        row = after_kill[ref]
        assert row["status"] == "streaming" and row["owner_pid"] == proc.pid  # cut, still owned by the dead pid
        text = row["text"]
        assert full[ref].startswith(text), ref
        must_have = sent_before(requests[name], letter, killed_at - PERSIST - MARGIN)
        sent_total = sent_before(requests[name], letter, killed_at)
        assert must_have > 10, "the kill came too early to measure anything"
        assert len(text) >= len("".join(words(letter, must_have))), (
            f"{ref}: stored {len(text.split())} words, but {must_have} had been sent "
            f"{PERSIST + MARGIN:.2f} s before the kill ({sent_total} by the kill)")

    # 3. The next start (any command) marks the orphans interrupted, text intact.
    sid = after_kill["deepseek:deepseek-flash"]["session_id"]
    shown = cli(env, "show", sid, "--json")
    assert shown.returncode == 0, shown.stderr
    nodes = {n["model"]: n for n in json.loads(shown.stdout)["nodes"] if n["kind"] == "response"}
    for ref in LANES:
        assert nodes[ref]["status"] == "interrupted", nodes[ref]
        assert nodes[ref]["text"] == after_kill[ref]["text"]
        assert nodes[ref]["error"]["kind"] == "interrupted"
    assert integrity(db) == "ok"

    # 4. Retry re-runs it as a sibling under the same prompt; the interrupted card stays as it was.
    cut = nodes["anthropic:claude-sonnet-5-5"]
    old_env = dict(os.environ)
    os.environ.update(env)
    try:
        settings = load_settings()
    finally:
        os.environ.clear()
        os.environ.update(old_env)
    repo = open_store(settings.data_dir)
    try:
        async def retry():
            engine = Engine(repo, settings)
            run = engine.rerun(cut["node_id"])
            await engine.wait([run])
            await engine.aclose()
            return run.node.id

        new_id = asyncio.run(retry())
        graph = repo.load_graph(sid)
        again, original = graph.nodes[new_id], graph.nodes[cut["node_id"]]
        assert again.status == NodeStatus.DONE and again.text == "retried a"
        assert again.run_record.rerun_of == cut["node_id"]
        (prompt,) = [nd for nd in graph.nodes.values() if nd.kind == NodeKind.PROMPT]
        assert [(e.parent_id, e.role) for e in graph.parents(new_id)] == [(prompt.id, EdgeRole.REPLY)]
        assert original.status == NodeStatus.INTERRUPTED and original.text == cut["text"]
    finally:
        repo.close()
    return cut["text"]


def test_sigkill_mid_stream_loses_at_most_250ms_and_the_store_recovers(env, server, tmp_path):
    kill_mid_stream_and_check(env, server, tmp_path, spawn_ask)
    record("Crash", "SIGKILL of `triptych ask` mid-stream (3 lanes)",
           "after the next start: `interrupted` (\"The app stopped while this answer was streaming; the text "
           "received so far is kept.\"); Retry re-runs it as a sibling",
           f"everything received until at most {PERSIST * 1000:.0f} ms before the kill; the store opens "
           "without repair")


def test_sigkill_of_the_gui_mid_stream(env, server, tmp_path):
    pytest.importorskip("PySide6.QtWidgets", exc_type=ImportError)
    env = {**env, "QT_QPA_PLATFORM": "offscreen"}
    kill_mid_stream_and_check(env, server, tmp_path, spawn_gui)
    record("Crash", "SIGKILL of the window mid-stream (3 cards)",
           "after the next start: `interrupted`, text intact; Retry re-runs it as a sibling",
           f"everything received until at most {PERSIST * 1000:.0f} ms before the kill")


@pytest.mark.slow
def test_repeated_kills_during_write_bursts_never_damage_the_store(env, server, tmp_path):
    """The power-cut equivalent: 20 kills at random points (start-up, session creation, mid-stream with
    large texts rewritten several times a second, the final writes), one shared store. After each kill
    the store passes integrity_check, and once orphans are marked every answer is `done` with its whole
    text or `interrupted` with a prefix of it; never still `streaming`, never damaged."""
    rng = random.Random(6)
    lanes = 6
    models = [f"deepseek:burst-{i}" for i in range(lanes)]
    texts = {}
    for i, ref in enumerate(models):
        chunk_words = words(chr(ord("a") + i), 120, size=600)  # ~72 KB per answer, rewritten at each flush
        texts[ref] = "".join(chunk_words)
        server.script(ref.split(":")[1], Answer(text=chunk_words, delay=0.004))
    db = tmp_path / "home" / "triptych.db"
    outcomes = {"mid-stream": 0, "early": 0, "finished": 0}
    for round_ in range(20):
        with server._lock:
            server.requests.clear()
        args = [sys.executable, "-m", "app", "ask", "--json"]
        for ref in models:
            args += ["-m", ref]
        proc = subprocess.Popen([*args, f"burst {round_}"], env=env, cwd=ROOT, stdout=subprocess.DEVNULL,
                                stderr=subprocess.PIPE, text=True)
        try:
            if rng.random() < 0.7:
                wait_for(lambda p=proc: any(r.sent for r in server.requests) or p.poll() is not None, 20, "a stream")
                time.sleep(rng.uniform(0.0, 0.5))
            else:
                time.sleep(rng.uniform(0.05, 0.6))  # start-up, opening the store, creating the session
            finished = proc.poll() is not None
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
            _, err = proc.communicate()
        assert "Traceback" not in err
        if not db.exists():
            outcomes["early"] += 1
            continue
        assert integrity(db) == "ok", f"round {round_}"
        repo = open_store(db)
        try:
            repo.mark_orphans_interrupted()
            streamed = False
            for summary in repo.list_sessions():
                for node in repo.load_graph(summary.id).nodes.values():
                    if node.kind != NodeKind.RESPONSE:
                        continue
                    full = texts[node.model or ""]
                    assert node.status in (NodeStatus.DONE, NodeStatus.INTERRUPTED), (round_, node)
                    assert full.startswith(node.text), (round_, node.model)
                    if node.status == NodeStatus.DONE:
                        assert node.text == full
                    if summary.title == f"burst {round_}" and node.status == NodeStatus.INTERRUPTED and node.text:
                        streamed = True
        finally:
            repo.close()
        outcomes["finished" if finished else "mid-stream" if streamed else "early"] += 1
    assert outcomes["mid-stream"] >= 5, outcomes  # the kills really landed during the write bursts
    record("Crash", "20 SIGKILLs at random points during write bursts (6 lanes × 72 KB, start-up, final writes)",
           "integrity_check ok after every kill; cut answers `interrupted` at the next start",
           "every answer `done` in full or a prefix of it (at least 5 of the kills land mid-stream)")
