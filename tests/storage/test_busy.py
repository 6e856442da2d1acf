"""Waiting for another process's write lock: the CLI's store waits up to 5 s (a GUI streaming into the
same store takes the lock for a few ms at a time); the GUI's (`set_busy_timeout(GUI_BUSY_TIMEOUT_MS)`)
gives up after ~50 ms with StoreBusyError, so its thread never freezes."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from app.domain import Node, NodeKind, Session
from app.repository import StoreBusyError
from storage import open_store
from storage.sqlite import BUSY_TIMEOUT_MS, GUI_BUSY_TIMEOUT_MS

HOLD_LOCK = """
import pathlib, sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
con.execute("BEGIN IMMEDIATE")
pathlib.Path(sys.argv[2]).write_text("locked")
time.sleep(float(sys.argv[3]))
con.execute("COMMIT")
"""


def _hold_lock(db: Path, seconds: float, tmp_path: Path) -> subprocess.Popen[bytes]:
    marker = tmp_path / "locked"
    child = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db), str(marker), str(seconds)])
    deadline = time.monotonic() + 10
    while not marker.exists():
        assert time.monotonic() < deadline and child.poll() is None, "the lock holder did not start"
        time.sleep(0.01)
    return child


@pytest.fixture
def store_and_node(tmp_path):
    repo = open_store(tmp_path / "home")
    session = repo.create_session(Session(title="busy"))
    node = Node(session.id, NodeKind.RESPONSE, "first")
    repo.add_nodes([node])
    yield repo, node
    repo.close()


def test_the_gui_store_gives_up_after_about_50_ms_and_a_later_write_works(store_and_node, tmp_path):
    repo, node = store_and_node
    repo.set_busy_timeout(GUI_BUSY_TIMEOUT_MS)
    child = _hold_lock(repo.path, 1.0, tmp_path)
    try:
        node.text = "second"
        began = time.monotonic()
        with pytest.raises(StoreBusyError, match="more than 50 ms"):
            repo.update_stream(node)
        assert time.monotonic() - began < 0.4
    finally:
        child.wait(10)
    repo.update_stream(node)  # the lock is free again: the same write goes through
    assert repo.get_node(node.id).text == "second"


def test_the_cli_store_keeps_waiting_for_the_lock(store_and_node, tmp_path):
    repo, node = store_and_node
    assert repo.busy_timeout_ms == BUSY_TIMEOUT_MS == 5000
    child = _hold_lock(repo.path, 0.5, tmp_path)
    try:
        node.text = "after the wait"
        began = time.monotonic()
        repo.update_stream(node)  # waits for the other writer instead of failing
        waited = time.monotonic() - began
    finally:
        child.wait(10)
    assert 0.2 < waited < 4
    assert repo.get_node(node.id).text == "after the wait"


def test_the_cli_opens_its_store_with_the_long_timeout(tmp_path, monkeypatch):
    from app.cli import Ctx

    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    ctx = Ctx(str(tmp_path / "home"))
    try:
        assert ctx.repo.busy_timeout_ms == BUSY_TIMEOUT_MS
    finally:
        ctx.close()
        import logging

        from app import logs

        if logs._installed is not None:
            logging.getLogger().removeHandler(logs._installed)
            logs._installed.close()
            logs._installed = None
