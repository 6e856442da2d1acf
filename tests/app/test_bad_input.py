"""Bad input never crashes anything and never loses text: empty and huge prompts, undecodable bytes,
NUL and unpaired surrogates, unknown providers and models, missing keys, an unwritable data dir, a
full disk while streaming, a damaged or newer database.

The CLI runs in-process here (`app.cli.main`) against the loopback fake server in a thread; the engine
tests use the real provider clients over real sockets.
"""

from __future__ import annotations

import asyncio
import io
import json
import logging
import os
import re
import sqlite3
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import event

from app import cli
from app import logs as app_logs
from app.config import load_settings
from app.domain import NodeStatus, Session
from app.engine import Engine, EngineError, Target
from storage import SCHEMA_VERSION, SqliteRepository, open_store
from tests.fakes.server import Answer, FakeProviderServer, HTTPFault, RecordedRequest, Scenario, sse
from tests.reliability import kept_text, record

DS, OLLAMA = "deepseek:deepseek-flash", "ollama:qwen3:8b"


@pytest.fixture(scope="module")
def server() -> Iterator[FakeProviderServer]:
    srv = FakeProviderServer(tokens_per_second=0)
    _url, stop = srv.run_in_thread()
    yield srv
    stop()


@pytest.fixture
def home(server, tmp_path, monkeypatch) -> Path:
    for var in list(os.environ):
        if var.endswith(("_API_KEY", "_BASE_URL")) or var.startswith("TRIPTYCH_"):
            monkeypatch.delenv(var)
    for var, value in server.env().items():
        monkeypatch.setenv(var, value)
    home = tmp_path / "home"
    monkeypatch.setenv("TRIPTYCH_HOME", str(home))
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    server.reset()
    yield home
    if app_logs._installed is not None:  # the in-process CLI installed the support log: take it down
        logging.getLogger().removeHandler(app_logs._installed)
        app_logs._installed.close()
        app_logs._installed = None


def run(capsys, *args: str, stdin: bytes | None = None) -> tuple[int, str, str]:
    """`triptych ARGS` in this process: (exit status, stdout, stderr)."""
    saved = sys.stdin
    if stdin is not None:
        sys.stdin = io.TextIOWrapper(io.BytesIO(stdin), encoding="utf-8")
    try:
        code = cli.main(list(args))
    finally:
        sys.stdin = saved
    out, err = capsys.readouterr()
    return code, out, err


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


def sent_text(req: RecordedRequest) -> str:
    return json.dumps(req.body["messages"], ensure_ascii=False)


# ---------------------------------------------------------------------------------------------- prompts


@pytest.mark.parametrize("prompt, stdin", [("   \t", None), ("-", b"\n \t\n"), ("-", b"\x00\x00 \x00")])
def test_empty_prompt_is_refused_and_nothing_is_stored_or_sent(home, server, capsys, prompt, stdin):
    code, _out, err = run(capsys, "ask", "-m", DS, prompt, stdin=stdin)
    assert code == 2 and "the prompt is empty" in err and "Traceback" not in err
    assert server.requests == []
    code, out, _ = run(capsys, "sessions", "--json")
    assert json.loads(out) == []
    if stdin == b"\x00\x00 \x00":
        record("Bad input", "empty prompt (whitespace, or only NUL characters)", err.strip().splitlines()[-1],
               "nothing stored, nothing sent; exit status 2")


async def test_engine_refuses_whitespace_and_nul_only_prompts(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    repo = open_store(tmp_path)
    engine = Engine(repo, load_settings(tmp_path))
    sid = repo.create_session(Session(title="t")).id
    for text in ("", "  \n", "\x00\x00"):
        with pytest.raises(EngineError, match="empty"):
            engine.ask(sid, text, [Target(DS)])
    assert repo.load_graph(sid).nodes == {}
    repo.close()


def test_one_megabyte_prompt_warns_with_a_token_estimate_then_sends_it_whole(home, server, capsys):
    server.script("deepseek-flash", Answer(text=("Read ", "it all.")))
    prompt = ("All work and no play makes Jack a dull boy. " * 24_000)[:1_000_000]
    code, out, err = run(capsys, "ask", "--json", "-m", DS, "-", stdin=prompt.encode())
    assert code == 0, err
    assert "warning: the request to deepseek:deepseek-flash is about 250,0" in err  # ~4 chars per token
    assert "of its 1,000,000-token context window" in err and "estimated input cost $" in err
    (o,) = lines(out)
    assert o["status"] == "done"
    (req,) = server.requests_for("deepseek-flash")
    assert req.body["messages"][-1]["content"] == prompt  # every byte sent
    graph = json.loads(run(capsys, "show", o["session_id"], "--json")[1])
    (stored,) = [n for n in graph["nodes"] if n["kind"] == "prompt"]
    assert stored["text"] == prompt
    record("Bad input", "1 MB prompt", err.strip().splitlines()[0], "the whole prompt and the answer")


def test_prompt_over_the_context_window_is_refused_unless_forced(home, server, capsys):
    prompt = "x " * 100_000  # ~50K tokens; a local model's window is 32,768
    code, _out, err = run(capsys, "ask", "-m", OLLAMA, "-", stdin=prompt.encode())
    assert code == 2
    assert re.search(rf"the request to {OLLAMA} is about 50,0\d\d tokens \(estimate\), more than its context "
                     r"window of 32,768 tokens", err), err
    assert "--force" in err and "Traceback" not in err
    assert server.requests == []
    assert json.loads(run(capsys, "sessions", "--json")[1]) == []  # nothing stored either
    refused = err.strip().splitlines()[-1]
    code, out, err = run(capsys, "ask", "--force", "--json", "-m", OLLAMA, "-", stdin=prompt.encode())
    assert code == 0, err
    assert "more than its context window of 32,768 (--force)" in err
    assert len(server.requests_for("qwen3:8b")) == 1
    record("Bad input", "prompt larger than the model's context window", refused.replace("triptych: ", ""),
           "nothing sent or stored (exit 2); `--force` sends it anyway")


def test_undecodable_bytes_nul_and_surrogates_on_stdin(home, server, capsys):
    # é in Latin-1, a NUL, ï in Latin-1, and the UTF-8 encoding of the lone surrogate U+D800.
    raw = b"caf\xe9 \x00na\xefve \xed\xa0\x80 end"
    code, out, err = run(capsys, "ask", "--json", "-m", DS, "-", stdin=raw)
    assert code == 0, err
    assert "5 character(s) that are not valid UTF-8 (sent and stored as \ufffd)" in err
    assert "1 NUL character(s) (removed)" in err
    expected = "caf\ufffd na\ufffdve \ufffd\ufffd\ufffd end"
    (req,) = server.requests_for("deepseek-flash")
    assert req.body["messages"][-1]["content"] == expected and b"\\u0000" not in req.raw
    (o,) = lines(out)
    assert o["status"] == "done" and "caf\ufffd" in o["text"]  # the fake model echoes the prompt
    graph = json.loads(run(capsys, "show", o["session_id"], "--json")[1])
    (prompt,) = [n for n in graph["nodes"] if n["kind"] == "prompt"]
    assert prompt["text"] == expected  # what is shown is what was sent
    record("Bad input", "undecodable bytes, NUL and an unpaired surrogate on stdin",
           err.strip().splitlines()[0].replace("triptych: ", ""),
           "the prompt as sent (� for the bad bytes, without the NUL) and the answer")


def test_json_import_with_unpaired_surrogates_and_nul_then_follow_up(home, server, capsys, tmp_path):
    server.script("deepseek-flash", Answer(text=("first",)), Answer(text=("second",)))
    (o,) = lines(run(capsys, "ask", "--json", "-m", DS, "Q")[1])
    export = tmp_path / "s.json"
    assert run(capsys, "export", o["session_id"], "--format", "json", "-o", str(export))[0] == 0
    data = json.loads(export.read_text())
    for node in data["nodes"]:
        if node.get("kind") == "response":
            node["text"] = "bad \ud800 pair \udc00 and a NUL \x00 here"
    export.write_text(json.dumps(data))  # ensure_ascii: the file holds \ud800 and \u0000 escapes
    assert "\\ud800" in export.read_text() and "\\u0000" in export.read_text()
    code, out, err = run(capsys, "import", str(export))
    assert code == 0, err
    new_sid = out.strip()
    graph = json.loads(run(capsys, "show", new_sid, "--json")[1])
    (answer,) = [n for n in graph["nodes"] if n["kind"] == "response"]
    assert answer["text"] == "bad \ufffd pair \ufffd and a NUL \x00 here"  # stored as it was, minus what cannot be
    code, out, err = run(capsys, "ask", "--json", "--parent", answer["node_id"], "Why?")
    assert code == 0, err
    history = server.requests_for("deepseek-flash")[-1].body["messages"]
    assert history[1] == {"role": "assistant", "content": "bad \ufffd pair \ufffd and a NUL  here"}  # no NUL sent
    record("Bad input", "JSON import with unpaired surrogates and NUL in a card",
           "imported; � in place of each unpaired surrogate; NUL not sent back to models",
           "every card of the file")


def test_model_output_with_an_unpaired_surrogate_and_nul_is_stored(home, server, capsys):
    chunk = '{"choices":[{"index":0,"delta":{"content":%s},"finish_reason":null}]}'
    events = [(None, chunk % '"ok \\ud83d"'), (None, chunk % '" \\u0000 \\ud83d\\ude00 end"'),
              (None, '{"choices":[{"index":0,"delta":{},"finish_reason":"stop"}],'
                     '"usage":{"prompt_tokens":3,"completion_tokens":4}}'),
              (None, "[DONE]")]
    server.script("deepseek-flash", Scenario.stream([sse(events)]))
    code, out, err = run(capsys, "ask", "--json", "-m", DS, "Q")
    assert code == 0, err
    (o,) = lines(out)
    assert o["text"] == "ok \ufffd \x00 😀 end" and o["status"] == "done"
    graph = json.loads(run(capsys, "show", o["session_id"], "--json")[1])
    (stored,) = [n for n in graph["nodes"] if n["kind"] == "response"]
    assert stored["text"] == o["text"]
    record("Bad input", "model output with an unpaired surrogate and a NUL", "`done`; � in place of the "
           "unpaired surrogate", kept_text(stored["text"], o["text"]))


# ---------------------------------------------------------------------------------------------- names, keys


def test_unknown_provider_is_bad_usage(home, capsys):
    code, _out, err = run(capsys, "ask", "-m", "nope:model", "Q")
    assert code == 2 and "unknown provider 'nope'" in err and "providers.toml" in err
    record("Bad input", "unknown provider", err.strip().replace("triptych: ", ""), "nothing sent or stored; exit 2")


def test_unknown_model_warns_then_says_what_to_do_with_the_404(home, server, capsys):
    server.script("deepseek-v9-ultra", HTTPFault(404))
    code, out, err = run(capsys, "ask", "--json", "-m", "deepseek:deepseek-v9-ultra", "Q")
    assert code == 1
    assert "deepseek:deepseek-v9-ultra is not in the model catalog" in err
    (o,) = lines(out)
    assert o["status"] == "error" and o["error"]["kind"] == "bad_request" and o["error"]["status"] == 404
    assert "does not exist" in o["error"]["message"]
    assert "`triptych models deepseek --refresh`" in o["error"]["message"]
    record("Bad input", "unknown model id", f"a warning, then `error`: {o['error']['message']}",
           "the prompt and the failed card")


def test_missing_key_names_the_variable_and_the_settings_page(home, capsys, monkeypatch):
    monkeypatch.delenv("OPENROUTER_API_KEY")
    code, _out, err = run(capsys, "ask", "-m", "openrouter:openai/gpt-6.2-sol", "Q")
    assert code == 2
    assert "no API key for openrouter: set OPENROUTER_API_KEY or add the key in Settings → Providers" in err
    record("Bad input", "missing API key", err.strip().replace("triptych: ", ""), "nothing sent or stored; exit 2")


# ---------------------------------------------------------------------------------------------- data dir


def test_unwritable_data_dir_is_a_clear_message_not_a_traceback(home, capsys, tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")
    code, _out, err = run(capsys, "--data-dir", str(blocker / "triptych"), "sessions")
    assert code == 1 and "Traceback" not in err
    assert f"cannot create the data dir {blocker / 'triptych'}" in err
    if os.geteuid() != 0:  # root ignores permissions
        locked = tmp_path / "locked"
        locked.mkdir(mode=0o500)
        code, _out, err = run(capsys, "--data-dir", str(locked), "sessions")
        assert code == 1 and "not writable" in err
    record("Store", "unwritable data dir", err.strip().replace(str(tmp_path), "…"), "nothing; exit status 1")


class FullDisk:
    """Makes a store's SQLite connections unable to grow the file (PRAGMA max_page_count on every
    checkout): SQLite then fails writes with SQLITE_FULL, "database or disk is full", exactly as on a
    full disk. `fill()` turns it on, `free()` off."""

    UNLIMITED = 4294967294

    def __init__(self, repo: SqliteRepository) -> None:
        self.full = False
        self.engine = repo._engine
        event.listen(self.engine, "checkout", self._apply)

    def _apply(self, dbapi_conn, _record, _proxy) -> None:
        dbapi_conn.execute(f"PRAGMA max_page_count = {1 if self.full else self.UNLIMITED}")

    def fill(self) -> None:
        self.full = True

    def free(self) -> None:
        self.full = False


async def test_disk_full_while_streaming_keeps_streaming_says_so_and_retries_the_final_write(home, server, caplog):
    words = tuple(f"w{i:03d}" + "." * 400 + " " for i in range(40))  # ~16 KB: the rows must grow
    server.script("deepseek-flash", Answer(text=words, delay=0.01))
    settings = load_settings()
    repo = open_store(settings.data_dir)
    disk = FullDisk(repo)
    engine = Engine(repo, settings)
    sid = repo.create_session(Session(title="disk")).id
    warnings: list[str] = []
    engine.add_listener(lambda node, change: warnings.append((node.run and node.run.persist_error) or ""))
    (run_,) = engine.ask(sid, "Q", [Target(DS)]).runs
    node = run_.node
    for _ in range(500):
        if node.text:
            break
        await asyncio.sleep(0.01)
    disk.fill()
    with caplog.at_level(logging.INFO):
        await engine.wait([run_])
        # The stream went on in memory; the card says it is not saved; the store has an older state.
        assert node.status == NodeStatus.DONE and node.text == "".join(words)
        assert node.run is not None and "disk is full" in (node.run.persist_error or "")
        assert "persist_error" not in node.meta
        assert any(w.startswith("not saved yet: cannot write") for w in warnings)
        assert node.id in engine.unsaved
        stale = repo.get_node(node.id)
        assert stale.status == NodeStatus.STREAMING and len(stale.text) < len(node.text)
        disk.free()  # space is back: the final write is retried without anyone asking
        for _ in range(200):
            if not engine.unsaved:
                break
            await asyncio.sleep(0.02)
    saved = repo.get_node(node.id)
    assert saved.status == NodeStatus.DONE and saved.text == node.text and "persist_error" not in saved.meta
    assert "persist_error" not in node.meta
    assert not any(words[1] in r.getMessage() for r in caplog.records)  # no answer text in the log
    await engine.aclose()
    repo.close()
    record("Store", "disk full while streaming", "the card keeps streaming and says \"not saved yet: cannot "
           "write …: the disk is full (database or disk is full); free some space\"; the final write is retried",
           "the whole answer once space is back (until then it is in memory)")


def test_cli_disk_full_prints_the_answer_and_says_it_is_not_saved(home, server, capsys, monkeypatch):
    import storage

    run(capsys, "sessions")  # create the store while there is room
    disks: list[FullDisk] = []
    real_open = storage.open_store

    def open_tight(path):
        repo = real_open(path)
        disks.append(FullDisk(repo))
        return repo

    def fill_then_answer(req: RecordedRequest) -> Answer:
        for disk in disks:
            disk.fill()  # the prompt and the empty cards were written; now the disk is full
        return Answer(text=tuple(f"v{i:03d}" + "." * 400 + " " for i in range(30)), delay=0.02)

    monkeypatch.setattr(storage, "open_store", open_tight)
    server.script("deepseek-flash", fill_then_answer)
    code, out, err = run(capsys, "ask", "--json", "-m", DS, "Q")
    assert code == 1
    (o,) = lines(out)
    assert o["status"] == "done" and o["text"].startswith("v000") and o["text"].rstrip().endswith("v029" + "." * 400)
    assert "warning: deepseek:deepseek-flash: not saved yet: cannot write" in err and "disk is full" in err
    assert "could not be saved: cannot write" in err and "Its text is printed above; it is not in the store." in err
    assert "Traceback" not in err
    db = home / "triptych.db"
    with sqlite3.connect(db) as con:
        assert con.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    record("Store", "disk full for the whole `triptych ask`",
           "stderr: \"warning: …: not saved yet: cannot write …: the disk is full\", then \"error: the answer … "
           "could not be saved … Its text is printed above; it is not in the store.\"; exit 1",
           "the prompt and the cards as first written; the answer text is printed (stdout)")


def _store_with_a_session(capsys) -> str:
    (o,) = lines(run(capsys, "ask", "--json", "-m", DS, "Q")[1])
    return o["session_id"]


def test_corrupt_database_is_refused_untouched_then_repaired_on_request(home, server, capsys):
    _store_with_a_session(capsys)
    db = home / "triptych.db"
    with sqlite3.connect(db) as con:
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(db.read_bytes())
    page = 4096
    data[page : page + 64] = b"\xff" * 64  # smash the header of page 2 (a b-tree page)
    db.write_bytes(bytes(data))
    before = db.read_bytes()
    code, _out, err = run(capsys, "sessions")
    assert code == 1 and "Traceback" not in err
    assert str(db) in err and "`triptych doctor --repair`" in err
    assert db.read_bytes() == before  # nothing overwritten
    shown = " ".join(err.strip().splitlines()).replace(str(home), "<data dir>")

    code, out, _ = run(capsys, "doctor", "--offline")
    assert code == 1 and "PROBLEM" in out and "triptych doctor --repair" in out
    assert db.read_bytes() == before

    code, out, _ = run(capsys, "doctor", "--offline", "--repair")
    assert code == 0, out
    backups = sorted(home.glob("triptych.db.corrupt-*"))
    assert [p.name for p in backups if not p.name.endswith(("-wal", "-shm"))]
    (backup,) = [p for p in backups if not p.name.endswith(("-wal", "-shm"))]
    assert backup.read_bytes() == before  # the damaged file is kept, byte for byte
    assert f"moved aside to {backup}" in out and "started a fresh store" in out
    code, out, _ = run(capsys, "sessions", "--json")
    assert code == 0 and json.loads(out) == []
    record("Store", "damaged triptych.db", shown, "the file untouched; `triptych doctor --repair` renames it "
           "to triptych.db.corrupt-TIME (kept byte for byte) and starts a fresh store")


def test_not_a_database_at_all_is_refused_and_repairable(home, capsys):
    home.mkdir(parents=True)
    db = home / "triptych.db"
    db.write_bytes(b"this is not SQLite " * 500)
    code, _out, err = run(capsys, "sessions")
    assert code == 1 and "not an SQLite database file" in err and "doctor --repair" in err
    assert run(capsys, "doctor", "--offline", "--repair")[0] == 0
    assert db.read_bytes()[:16] == b"SQLite format 3\x00"


def test_database_from_a_newer_version_is_refused_untouched(home, capsys):
    _store_with_a_session(capsys)
    db = home / "triptych.db"
    with sqlite3.connect(db) as con:
        con.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
        con.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    for suffix in ("-wal", "-shm"):
        Path(str(db) + suffix).unlink(missing_ok=True)
    before = db.read_bytes()
    listing = sorted(p.name for p in home.iterdir())
    code, _out, err = run(capsys, "sessions")
    assert code == 1 and "Traceback" not in err
    assert f"written by a newer Triptych (schema {SCHEMA_VERSION + 1}" in err and "upgrade Triptych" in err
    assert db.read_bytes() == before and sorted(p.name for p in home.iterdir()) == listing
    record("Store", "database from a newer Triptych", err.strip().replace(str(home), "<data dir>")
           .replace("triptych: ", ""), "the file untouched; exit status 1")
