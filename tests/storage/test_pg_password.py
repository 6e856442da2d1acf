"""The team store's password from the OS keyring (issue #18): `triptych store-password` keeps it there
(service "triptych", account "store:USER@HOST:PORT/DB"), and every connection of a URL without a
password uses it (the repository's pool and the LISTEN thread), on a cluster whose logins need one.
It never reaches config.toml, the log, or a message; without a keyring the command says where the
password can go instead, and PGPASSWORD still works."""

from __future__ import annotations

import io
from pathlib import Path

import keyring
import pytest
from keyring.backend import KeyringBackend

from app.cli import main
from storage import open_store
from tests.pgserver import start_cluster

SECRET = "-".join(("pw", "kept", "in", "keyring", "4242"))  # no password-like literal in the source


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        self.store.pop((service, username), None)


@pytest.fixture(scope="module")
def locked_cluster(pg_cluster):  # (pg_cluster: skips, or fails under TRIPTYCH_REQUIRE_PG, without PostgreSQL)
    cluster = start_cluster(password=SECRET)
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("HOME", str(tmp_path))  # no ~/.pgpass
    monkeypatch.delenv("PGPASSWORD", raising=False)
    monkeypatch.delenv("TRIPTYCH_DATABASE_URL", raising=False)
    monkeypatch.setenv("TRIPTYCH_USER", "alice")
    return tmp_path


@pytest.fixture
def memory_keyring(monkeypatch):
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    monkeypatch.delenv("TRIPTYCH_NO_KEYRING", raising=False)
    yield ring
    keyring.set_keyring(previous)


def _no_secret_on_disk(root: Path) -> None:
    for path in root.rglob("*"):
        if path.is_file():
            assert SECRET.encode() not in path.read_bytes(), path


def test_the_password_typed_once_is_kept_in_the_keyring_and_opens_the_store(
        locked_cluster, home, memory_keyring, monkeypatch, capsys):
    url = locked_cluster.url()  # no password in it
    # without the password, the server refuses: the message names the server, not a password
    assert main(["sessions", "--database-url", url]) == 1
    refused = capsys.readouterr().err
    assert f"127.0.0.1:{locked_cluster.port}/postgres" in refused and "password" in refused.lower()

    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    assert main(["store-password", "--database-url", url]) == 0
    out = capsys.readouterr()
    account = f"store:triptych@127.0.0.1:{locked_cluster.port}/postgres"
    assert out.out.strip() == f"{account}: password kept in the OS keyring" and SECRET not in out.out + out.err
    assert memory_keyring.store == {("triptych", account): SECRET}

    assert main(["sessions", "--database-url", url, "--json"]) == 0
    assert capsys.readouterr().out.strip() == "[]"  # an empty team store, opened
    with open_store(url) as repo:
        assert SECRET not in repr(repo) and SECRET not in repo.url
        listener = repo.listen(lambda note: None)  # the LISTEN thread logs in with it too
        try:
            assert listener.connected.wait(10)
        finally:
            listener.close()
    _no_secret_on_disk(home)

    assert main(["store-password", "--database-url", url, "--delete"]) == 0
    assert memory_keyring.store == {}
    capsys.readouterr()
    assert main(["sessions", "--database-url", url]) == 1


def test_without_a_keyring_the_command_says_where_the_password_goes_and_pgpassword_works(
        locked_cluster, home, monkeypatch, capsys):
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    url = locked_cluster.url()
    monkeypatch.setattr("sys.stdin", io.StringIO(SECRET + "\n"))
    assert main(["store-password", "--database-url", url]) == 1
    err = capsys.readouterr().err
    assert "PGPASSWORD" in err and SECRET not in err
    monkeypatch.setenv("PGPASSWORD", SECRET)
    assert main(["sessions", "--database-url", url, "--json"]) == 0
    _no_secret_on_disk(home)


def test_a_password_on_the_command_line_is_refused(locked_cluster, home, memory_keyring, capsys):
    assert main(["store-password", "--database-url", locked_cluster.url(), SECRET]) == 2  # (not an argument)
    assert memory_keyring.store == {}
    capsys.readouterr()
    assert main(["store-password", "--database-url", locked_cluster.url(password=SECRET)]) == 2
    assert "carries a password" in capsys.readouterr().err and memory_keyring.store == {}
