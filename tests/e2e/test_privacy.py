"""The data dir is private: owner-only modes whatever the umask, credentials typed into `headers` tables
masked like API keys (logs, cards, the CLI), tracebacks masked, and a warning when a key would travel
over plain http:// to another machine.

Permissions are checked under umask 022 (the usual default, which makes files 0644 and dirs 0755):
every file and directory the app or the CLI created is stat-ed.
"""

from __future__ import annotations

import contextlib
import gc
import json
import logging
import os
import secrets
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from app import logs as app_logs
from tests.fakes.server import FakeProviderServer

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.skipif(os.name != "posix", reason="POSIX file modes")


@contextlib.contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def modes(root: Path) -> dict[str, str]:
    """Every path under `root` (and `root`) -> its mode in octal, e.g. {'logs': '0o700', ...}."""
    out = {".": oct(stat.S_IMODE(root.stat().st_mode))}
    for path in sorted(root.rglob("*")):
        out[str(path.relative_to(root))] = oct(stat.S_IMODE(path.lstat().st_mode))
    return out


def loose(root: Path) -> dict[str, str]:
    """The paths under `root` that are not owner-only (dirs 0700, files 0600)."""
    found = modes(root)
    bad = {}
    for name, mode in found.items():
        want = "0o700" if (root / name).is_dir() else "0o600"
        if mode != want:
            bad[name] = mode
    return bad


@pytest.fixture
def fake_env(tmp_path):
    gc.collect()  # leftovers of GUI tests are collected here, not on the server's thread
    srv = FakeProviderServer(tokens_per_second=0)
    _url, stop = srv.run_in_thread()
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_BASE_URL")) and not k.startswith("TRIPTYCH_")}
    env.update(srv.env())
    env.update({"TRIPTYCH_HOME": str(tmp_path / "home"), "TRIPTYCH_NO_KEYRING": "1", "PYTHONPATH": str(ROOT)})
    yield srv, env, tmp_path / "home"
    stop()


def run_cli(env: dict[str, str], *args: str, mask: int = 0o022) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "app", *args], env=env, cwd=ROOT, capture_output=True,
                          text=True, timeout=60, preexec_fn=lambda: os.umask(mask))


# -------------------------------------------------------------------------------------- permissions


def test_the_cli_leaves_an_owner_only_data_dir_under_umask_022(fake_env, tmp_path):
    srv, env, home = fake_env
    r = run_cli(env, "ask", "--json", "-m", "deepseek:deepseek-flash", "Is this private?")
    assert r.returncode == 0, r.stderr
    sid = json.loads(r.stdout.splitlines()[0])["session_id"]
    # an export saved into the data dir is private too; one saved elsewhere keeps the user's umask
    inside, outside = home / "exports" / "mine.md", tmp_path / "shared.md"
    inside.parent.mkdir(mode=0o700)
    for out in (inside, outside):
        r = run_cli(env, "export", sid, "--format", "md", "-o", str(out))
        assert r.returncode == 0, r.stderr
    r = run_cli(env, "models", "--refresh")  # writes models-cache.json in the data dir
    assert r.returncode == 0, r.stderr

    found = modes(home)
    assert {".", "logs", "logs/triptych.log", "triptych.db", "exports/mine.md", "models-cache.json"} <= set(found)
    assert loose(home) == {}, found
    assert oct(stat.S_IMODE(outside.stat().st_mode)) == "0o644"


def test_the_open_store_its_wal_and_shm_logs_and_config_are_owner_only(tmp_path, monkeypatch):
    """In-process, as the app's services do it: the store open (so its -wal and -shm exist), a
    session written, the support log set up (and rotated), the config and the model cache saved."""
    from app.catalog import load_catalog
    from app.config import load_settings
    from app.domain import Node, NodeKind, Session
    from storage import open_store

    home = tmp_path / "home"
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    with umask(0o022):
        settings = load_settings(home)
        repo = open_store(home)
        try:
            session = repo.create_session(Session(title="private"))
            repo.add_nodes([Node(session.id, NodeKind.PROMPT, "a question")])
            log_path = app_logs.setup_logging(home)
            assert log_path is not None
            logging.getLogger("triptych.test").warning("a line")
            assert app_logs._installed is not None
            app_logs._installed.doRollover()  # type: ignore[attr-defined]  # the fresh file after a rollover
            logging.getLogger("triptych.test").warning("another line")
            settings.ui["theme"] = "dark"
            settings.save()
            load_catalog(settings).merge_listing("deepseek", [{"id": "deepseek-new"}])
            found = modes(home)
            assert {"triptych.db", "triptych.db-wal", "triptych.db-shm", "logs/triptych.log",
                    "logs/triptych.log.1", "config.toml", "models-cache.json"} <= set(found), found
            assert loose(home) == {}, found
        finally:
            repo.close()
            _remove_log_handler()


def test_a_data_dir_made_world_readable_by_an_older_version_is_tightened(tmp_path, monkeypatch):
    from app.config import load_settings
    from storage import open_store

    home = tmp_path / "home"
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    with umask(0o022):
        home.mkdir()
        open_store(home).close()
        (home / "logs").mkdir()
        (home / "logs" / "triptych.log.1").write_text("old\n")
        for path in (home, home / "logs"):
            path.chmod(0o755)
        for path in (home / "triptych.db", home / "logs" / "triptych.log.1"):
            path.chmod(0o644)
        load_settings(home)
        repo = open_store(home)
        try:
            assert app_logs.setup_logging(home) is not None
            assert loose(home) == {}, modes(home)
        finally:
            repo.close()
            _remove_log_handler()


def _remove_log_handler() -> None:
    handler = app_logs._installed
    if handler is not None:
        logging.getLogger().removeHandler(handler)
        handler.close()
        app_logs._installed = None


# ------------------------------------------------------------------------- credentials in headers


def _providers_with_header_keys(home: Path, base_url: str) -> tuple[str, str]:
    token, api_key = f"hdrtok{secrets.token_hex(10)}", f"hdrkey{secrets.token_hex(10)}"
    home.mkdir(exist_ok=True)
    (home / "providers.toml").write_text(
        f'[mine]\nbase_url = "{base_url}/v1"\nprotocol = "chat"\n'
        f'[mine.headers]\nAuthorization = "Token {token}"\n'
        f'[yours]\nbase_url = "{base_url}/v1"\nprotocol = "chat"\n'
        f'[yours.headers]\nx-api-key = "{api_key}"\n"X-Title" = "Triptych"\n'
    )
    return token, api_key


def test_keys_typed_into_headers_never_reach_the_card_the_cli_or_the_log(fake_env):
    """A proxy that echoes the credential header back in its 401 body: the CLI's output, the stored
    card and the support log (read back from disk) carry neither the Authorization token nor the
    x-api-key value."""
    srv, env, home = fake_env
    token, api_key = _providers_with_header_keys(home, srv.base_url)
    outputs = []
    for model in ("mine:echo-key-401", "yours:echo-key-401"):
        r = run_cli(env, "ask", "--json", "-m", model, "Q")
        assert r.returncode == 1, r.stderr
        (o,) = [json.loads(line) for line in r.stdout.splitlines()]
        assert o["error"]["kind"] == "auth" and "Invalid credentials presented: " in o["error"]["message"]
        outputs += [r.stdout, r.stderr]
    sent = [req.headers.get("authorization") or req.headers.get("x-api-key") for req in srv.requests]
    assert f"Token {token}" in sent and api_key in sent  # the headers did go to the provider
    # every file the app wrote (providers.toml is the user's, where the keys were typed)
    stored = b"".join(p.read_bytes() for p in home.rglob("*") if p.is_file() and p.name != "providers.toml")
    assert b"request-id req_fake" in stored  # the log on disk was read
    for secret in (token, api_key):
        assert all(secret not in out for out in outputs)
        assert secret.encode() not in stored  # the store (the card's error) and the log on disk


def test_header_credentials_are_masked_in_the_support_log(tmp_path, monkeypatch):
    from app.config import load_settings

    home = tmp_path / "home"
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    token, api_key = _providers_with_header_keys(home, "https://proxy.example")
    load_settings(home)
    try:
        log_path = app_logs.setup_logging(home)
        assert log_path is not None
        log = logging.getLogger("triptych.test")
        log.error("request failed with headers %s", {"Authorization": f"Token {token}", "x-api-key": api_key})
        try:
            raise RuntimeError(f"bad token {token}")
        except RuntimeError:
            log.exception("boom")
        text = log_path.read_text(encoding="utf-8")
    finally:
        _remove_log_handler()
    assert "request failed with headers" in text and "RuntimeError: bad token [redacted]" in text
    assert token not in text and api_key not in text


# ---------------------------------------------------------------------------------- tracebacks


def test_a_cli_crash_prints_its_traceback_with_keys_masked(tmp_path, monkeypatch, capsys):
    from app import cli

    home = tmp_path / "home"
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    secret = f"sk-crash{secrets.token_hex(12)}"
    monkeypatch.setenv("DEEPSEEK_API_KEY", secret)

    def crash(ctx, args):
        raise RuntimeError(f"internal bug while using key {ctx.settings.providers['deepseek'].api_key}")

    monkeypatch.setitem(cli.COMMANDS, "sessions", crash)
    try:
        assert cli.main(["--data-dir", str(home), "sessions"]) == 1
        err = capsys.readouterr().err
        logged = (home / "logs" / "triptych.log").read_text(encoding="utf-8")
    finally:
        _remove_log_handler()
    assert "Traceback" in err and "RuntimeError: internal bug while using key [redacted]" in err
    assert "triptych: internal error: RuntimeError" in err
    assert "internal bug while using key [redacted]" in logged
    assert secret not in err and secret not in logged


# ------------------------------------------------------------------------- plain http warning


def test_the_cli_warns_when_a_key_would_go_over_plain_http_to_another_host(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    (home / "providers.toml").write_text(
        '[remote]\nbase_url = "http://192.0.2.10:8080/v1"\nprotocol = "chat"\nkey_env = "REMOTE_KEY"\n'
        '[hdr]\nbase_url = "http://gpu-box.lan/v1"\nprotocol = "chat"\n[hdr.headers]\napi-key = "abcdef123456"\n'
        '[secure]\nbase_url = "https://192.0.2.10/v1"\nprotocol = "chat"\nkey_env = "REMOTE_KEY"\n'
        '[here]\nbase_url = "http://localhost:1234/v1"\nprotocol = "chat"\nkey_env = "REMOTE_KEY"\n'
        '[here4]\nbase_url = "http://127.0.0.1:1234/v1"\nprotocol = "chat"\nkey_env = "REMOTE_KEY"\n'
        '[here6]\nbase_url = "http://[::1]:1234/v1"\nprotocol = "chat"\nkey_env = "REMOTE_KEY"\n'
        '[nokey]\nbase_url = "http://192.0.2.11/v1"\nprotocol = "chat"\n'
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("TRIPTYCH_")}
    env.update({"TRIPTYCH_HOME": str(home), "TRIPTYCH_NO_KEYRING": "1", "PYTHONPATH": str(ROOT),
                "REMOTE_KEY": "remote-key-123456"})

    def warnings_for(model: str) -> list[str]:
        r = run_cli(env, "ask", "--dry-run", "-m", model, "Q")
        assert r.returncode == 0, r.stderr
        return [line for line in r.stderr.splitlines() if "plain http://" in line]

    (remote,) = warnings_for("remote:m")
    assert remote.startswith("triptych: warning: ") and "192.0.2.10" in remote and "https://" in remote
    (hdr,) = warnings_for("hdr:m")
    assert "gpu-box.lan" in hdr
    for quiet in ("secure:m", "here:m", "here4:m", "here6:m", "nokey:m"):
        assert warnings_for(quiet) == [], quiet


def test_a_data_dir_pointed_at_the_home_folder_is_used_but_never_chmod_ed(tmp_path, monkeypatch):
    """`--data-dir ~` (or TRIPTYCH_HOME=~) keeps the home folder's own mode: other programs rely on it."""
    from app.fsutil import private_dir

    home = tmp_path / "user"
    home.mkdir()
    home.chmod(0o755)
    monkeypatch.setenv("HOME", str(home))
    private_dir(home)
    assert stat.S_IMODE(home.stat().st_mode) == 0o755
    private_dir(tmp_path / "user" / ".triptych")
    assert stat.S_IMODE((home / ".triptych").stat().st_mode) == 0o700
