"""API keys never leave the keyring / environment: not in the database (or its WAL), the support log, the
caches, any export, any command's output, any error message, even when a provider echoes the key back
in its error body. Keys go to the OS keyring, never to a plain file.

A full CLI session runs with sentinel keys; then every file in the data dir and every export is searched
for them (the whole key and its random core, so a half-masked key is caught too).
"""

from __future__ import annotations

import gc
import json
import logging
import os
import secrets
import subprocess
import sys
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from app import logs as app_logs
from app.config import ConfigError, load_settings, mask_key
from tests.fakes.server import Answer, FakeProviderServer
from tests.reliability import record

ROOT = Path(__file__).resolve().parents[2]
PROVIDERS = ("deepseek", "anthropic", "openai", "openrouter")
MODELS = {"deepseek": "deepseek:deepseek-flash", "anthropic": "anthropic:claude-sonnet-5-5",
          "openai": "openai:gpt-6.2-sol", "openrouter": "openrouter:openai/gpt-6.2-sol"}
PROMPT_SENTINEL = "PROMPT-SENTINEL-7f3a9c"


def sentinel(pid: str) -> tuple[str, str]:
    """(key, its random core). Keys of custom providers need not start with sk-."""
    core = secrets.token_hex(12)
    return (f"sk-SENTINEL-{pid}-{core}" if pid in PROVIDERS else f"SENTINEL{pid}{core}"), core


@pytest.fixture
def session_env(tmp_path):
    # Collect leftovers of earlier (GUI) tests here, on the main thread: if the collector ran in our
    # server thread instead, Qt would warn that it cannot stop their timers from another thread.
    gc.collect()
    srv = FakeProviderServer(tokens_per_second=0)
    _url, stop = srv.run_in_thread()
    keys = {pid: sentinel(pid) for pid in (*PROVIDERS, "mine")}
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_BASE_URL")) and not k.startswith("TRIPTYCH_")}
    env.update(srv.env())
    for pid in PROVIDERS:
        env[f"{pid.upper()}_API_KEY"] = keys[pid][0]
    env["MINE_TOKEN"] = keys["mine"][0]
    home = tmp_path / "home"
    home.mkdir()
    (home / "providers.toml").write_text(
        f'[mine]\nbase_url = "{srv.base_url}/v1"\nprotocol = "chat"\nkey_env = "MINE_TOKEN"\n')
    env.update({"TRIPTYCH_HOME": str(home), "TRIPTYCH_NO_KEYRING": "1", "PYTHONPATH": str(ROOT)})
    yield srv, env, keys, home
    stop()


def test_a_full_session_never_writes_or_prints_a_key(session_env, tmp_path):
    srv, env, keys, home = session_env
    outputs: list[str] = []

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        r = subprocess.run([sys.executable, "-m", "app", *args], env=env, cwd=ROOT, capture_output=True, text=True,
                           timeout=60)
        outputs.extend([r.stdout, r.stderr])
        return r

    srv.script("deepseek-flash", Answer(text=("DeepSeek says ", "hi")), Answer(text=("and again",)))
    models = [arg for m in (*MODELS.values(), "mine:local-model") for arg in ("-m", m)]
    r = cli("ask", "--json", *models, f"{PROMPT_SENTINEL} what is a key?")
    assert r.returncode == 0, r.stderr
    first = [json.loads(line) for line in r.stdout.splitlines()]
    sid = first[0]["session_id"]
    # every provider got its own key, as a header (so the sentinel really travelled)
    auth = {req.headers.get("authorization", "") + req.headers.get("x-api-key", "") for req in srv.requests}
    for pid in (*PROVIDERS, "mine"):
        assert any(keys[pid][0] in a for a in auth), pid

    r = cli("ask", "--json", "--parent", first[0]["node_id"], "--parent", first[1]["node_id"], "Follow up?")
    assert r.returncode == 0, r.stderr

    # the error path: a provider (or a proxy) echoes the Authorization header back in its 401 body
    for model in ("deepseek:echo-key-401", "anthropic:echo-key-401", "openrouter:vendor/echo-key-401"):
        r = cli("ask", "--json", "--session", sid, "-m", model, "Q")
        assert r.returncode == 1
        (o,) = [json.loads(line) for line in r.stdout.splitlines()]
        message = o["error"]["message"]
        assert o["error"]["kind"] == "auth" and "Invalid credentials presented: " in message and "***" in message
    echoed = o["error"]["message"]

    exports = tmp_path / "exports"
    exports.mkdir()
    for fmt in ("md", "html", "json", "canvas"):
        r = cli("export", sid, "--format", fmt, "-o", str(exports / f"session.{fmt}"))
        assert r.returncode == 0, r.stderr
    r = cli("export", sid, "--format", "json", "-o", "-")
    assert r.returncode == 0
    r = cli("doctor")  # connectivity checks send every key once more
    assert r.returncode == 0, r.stdout + r.stderr
    assert "key: yes (env)" in r.stdout
    r = cli("models", "--refresh", "--json")
    assert r.returncode == 0, r.stderr
    r = cli("sessions")
    r = cli("show", sid)
    assert PROMPT_SENTINEL in r.stdout  # the session really is in the store

    files = [p for p in home.rglob("*") if p.is_file()] + [p for p in exports.iterdir() if p.is_file()]
    names = {p.name for p in files}
    assert {"triptych.db", "triptych.log", "session.html", "session.md", "session.json", "session.canvas",
            "models-cache.json"} <= names, names
    for path in files:
        data = path.read_bytes()
        for pid, (key, core) in keys.items():
            assert key.encode() not in data, f"{pid}'s key in {path}"
            assert core.encode() not in data, f"{pid}'s key (its random part) in {path}"
    for text in outputs:
        for pid, (_key, core) in keys.items():
            assert core not in text, f"{pid}'s key printed"

    log = (home / "logs" / "triptych.log").read_text()
    # the support log is useful: request ids of each flavour, statuses, timings, the failure
    assert "request-id req_fake0001" in log and "gen-1763900000-FAKEfakeFAKE" in log
    assert "HTTP 200" in log and "HTTP 401" in log and "ttft_ms=" in log and "duration_ms=" in log
    # ... and holds no prompt text by default
    assert PROMPT_SENTINEL not in log and "what is a key" not in log
    record("Keys", "a provider echoes the API key back in its 401 body",
           f"`error` (auth): {echoed}",
           "the error with the key replaced by ***; no key in the DB, WAL, logs, caches, exports or output")


class MemoryKeyring(KeyringBackend):
    """An OS keyring stand-in (the tests must not touch the real one)."""

    priority = 1  # type: ignore[assignment]

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.store.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.store[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        self.store.pop((service, username), None)


@pytest.fixture
def memory_keyring(monkeypatch):
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    monkeypatch.delenv("TRIPTYCH_NO_KEYRING", raising=False)
    yield ring
    keyring.set_keyring(previous)


def test_keys_go_to_the_keyring_never_to_a_file(tmp_path, memory_keyring, monkeypatch):
    monkeypatch.delenv("DEEPSEEK_API_KEY", raising=False)
    key, core = sentinel("deepseek")
    settings = load_settings(tmp_path)
    settings.set_key("deepseek", key)
    settings.set_base_url("deepseek", "http://127.0.0.1:9")
    settings.ui["theme"] = "dark"
    settings.save()
    assert memory_keyring.store[("triptych", "deepseek")] == key
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert core.encode() not in path.read_bytes(), path
    again = load_settings(tmp_path)
    assert again.providers["deepseek"].api_key == key and again.key_sources["deepseek"] == "keyring"
    assert repr(again.providers["deepseek"]).count(core) == 0 and mask_key(key).endswith(key[-4:])
    assert core not in mask_key(key)


def test_without_a_keyring_keys_come_from_the_environment_and_are_never_saved(tmp_path, monkeypatch):
    from keyring.backends import fail

    previous = keyring.get_keyring()
    keyring.set_keyring(fail.Keyring())
    monkeypatch.delenv("TRIPTYCH_NO_KEYRING", raising=False)
    key, core = sentinel("anthropic")
    monkeypatch.setenv("ANTHROPIC_API_KEY", key)
    # a key typed into Settings, put together here so that no key-like literal sits in the source
    typed_prefix = "-".join(("sk", "typed", "into", "settings"))
    try:
        settings = load_settings(tmp_path)
        assert settings.providers["anthropic"].api_key == key and settings.key_sources["anthropic"] == "env"
        with pytest.raises(ConfigError, match="no OS keyring"):
            settings.set_key("anthropic", typed_prefix + "-0000")
        settings.save()
    finally:
        keyring.set_keyring(previous)
    for path in tmp_path.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert core.encode() not in data and typed_prefix.encode() not in data, path


def test_the_support_log_masks_keys_even_in_tracebacks(tmp_path, monkeypatch):
    key, core = sentinel("mine")  # no sk- prefix: only the registered value can catch it
    monkeypatch.setenv("MINE_TOKEN", key)
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    (tmp_path / "providers.toml").write_text('[mine]\nbase_url = "http://127.0.0.1:9/v1"\nkey_env = "MINE_TOKEN"\n')
    load_settings(tmp_path)
    path = app_logs.setup_logging(tmp_path)  # as the GUI does: no explicit key list
    assert path is not None
    log = logging.getLogger("app.test")
    try:
        try:
            raise RuntimeError(f"upstream said: bad token {key}")
        except RuntimeError:
            log.exception("request failed with %s", key)
        # an Anthropic-shaped key, put together here so that no key-like literal sits in the source
        anthropic_shaped = "-".join(("sk", "ant", "api03", "abcdefghijklmnop"))
        log.error("header was Authorization: Bearer %s", anthropic_shaped)
    finally:
        logging.getLogger().removeHandler(app_logs._installed)
        app_logs._installed.close()
        app_logs._installed = None
    text = path.read_text()
    assert "request failed with [redacted]" in text and "bad token [redacted]" in text
    assert core not in text and "abcdefghijklmnop" not in text
