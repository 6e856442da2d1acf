"""Crash recovery: committed writes survive SIGKILL, orphaned streaming nodes become `interrupted`
with their text kept, damaged files are refused untouched and can be moved aside."""

from __future__ import annotations

import os
import signal
import socket
import sys
import time

import pytest

from app.domain import ErrorInfo, Node, NodeKind, NodeStatus, Owner, Session
from app.repository import StoreError
from storage import INTERRUPTED_MESSAGE, CorruptStoreError, backup_corrupt, open_store
from storage import repository as repository_mod
from tests.storage import spawn_python

HOST = socket.gethostname()


@pytest.fixture
def repo(store_target):
    store = open_store(store_target)
    yield store
    store.close()


@pytest.fixture
def session(repo):
    return repo.create_session(Session(title="recovery"))


def dead_pid() -> int:
    """The pid of a process that has exited and been reaped."""
    proc = spawn_python("pass")
    proc.communicate(timeout=30)
    return proc.pid


def live(session_id: str, owner: Owner | None, status: NodeStatus = NodeStatus.STREAMING) -> Node:
    return Node(
        session_id,
        NodeKind.RESPONSE,
        "partial answer ✓",
        reasoning="partial thought",
        status=status,
        owner=owner,
    )


def assert_interrupted(repo, node: Node) -> None:
    loaded = repo.get_node(node.id)
    assert loaded.status == NodeStatus.INTERRUPTED
    assert loaded.text == node.text and loaded.reasoning == node.reasoning
    assert loaded.error == ErrorInfo(kind="interrupted", message=INTERRUPTED_MESSAGE)
    assert loaded.owner is None


# ------------------------------------------------------------------------------------------ orphans

KILLED_WRITER = """
import sys, time
from app.domain import Node, NodeKind, NodeStatus, Owner, Session
from storage import open_store
store = open_store(sys.argv[1])
session = store.create_session(Session(title="killed"))
node = Node(session.id, NodeKind.RESPONSE, status=NodeStatus.PENDING, owner=Owner.here(), model="a:b")
store.add_nodes([node])
node.status, node.text, node.reasoning = NodeStatus.STREAMING, "streamed before the kill 🎉", "why"
store.update_stream(node)
print(session.id, node.id, flush=True)
time.sleep(60)
"""


def test_committed_stream_survives_sigkill_and_its_node_becomes_interrupted(tmp_path):
    if sys.platform == "win32":
        pytest.skip("SIGKILL")
    data = tmp_path / "data"
    proc = spawn_python(KILLED_WRITER, str(data))
    try:
        line = proc.stdout.readline()
        assert line, proc.stderr.read()
        session_id, node_id = line.split()
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    assert proc.returncode == -signal.SIGKILL

    with open_store(data) as repo:
        node = repo.get_node(node_id)
        assert node.text == "streamed before the kill 🎉" and node.status == NodeStatus.STREAMING
        assert node.owner is not None and node.owner.pid == proc.pid
        assert repo.mark_orphans_interrupted() == [node_id]  # dead pid on this host, fresh heartbeat
        assert_interrupted(repo, node)
        assert repo.load_graph(session_id).nodes[node_id].status == NodeStatus.INTERRUPTED


def test_dead_pid_on_this_host(repo, session):
    node = live(session.id, Owner(dead_pid(), HOST, time.time()))
    repo.add_nodes([node])
    assert repo.mark_orphans_interrupted() == [node.id]
    assert_interrupted(repo, node)
    assert repo.mark_orphans_interrupted() == []  # idempotent


def test_stale_heartbeat(repo, session):
    mine_but_stale = live(session.id, Owner(os.getpid(), HOST, time.time() - 60))
    elsewhere_stale = live(session.id, Owner(12345, "other-host", time.time() - 11), NodeStatus.PENDING)
    repo.add_nodes([mine_but_stale, elsewhere_stale])
    assert sorted(repo.mark_orphans_interrupted()) == sorted([mine_but_stale.id, elsewhere_stale.id])
    assert_interrupted(repo, mine_but_stale)
    assert_interrupted(repo, elsewhere_stale)


def test_no_owner_is_an_orphan(repo, session):
    node = live(session.id, None, NodeStatus.PENDING)
    repo.add_nodes([node])
    assert repo.mark_orphans_interrupted() == [node.id]


def test_live_owners_and_final_nodes_are_untouched(repo, session):
    mine = live(session.id, Owner.here())
    other_host_fresh = live(session.id, Owner(dead_pid(), "other-host", time.time()))  # pid not checkable
    done = Node(session.id, NodeKind.RESPONSE, "done", status=NodeStatus.DONE)
    error = Node(
        session.id, NodeKind.RESPONSE, "err", status=NodeStatus.ERROR, error=ErrorInfo("network", "x")
    )
    repo.add_nodes([mine, other_host_fresh, done, error])
    assert repo.mark_orphans_interrupted() == []
    assert repo.get_node(mine.id) == mine
    assert repo.get_node(other_host_fresh.id).status == NodeStatus.STREAMING
    assert repo.get_node(done.id) == done and repo.get_node(error.id) == error
    assert repo.mark_orphans_interrupted(stale_after_s=-1) != []  # everything is stale now


def test_checking_live_owners_does_not_wait_for_their_write_lock(repo, session, tmp_path):
    # The window checks every second while another process streams into its session: with no orphan
    # found it must not take (or wait for) the write lock that process needs for its saves.
    import sqlite3

    streaming = live(session.id, Owner.here())
    repo.add_nodes([streaming])
    other = sqlite3.connect(repo.path, timeout=0.1)
    other.execute("BEGIN IMMEDIATE")  # the streaming process holds the write lock
    try:
        t0 = time.monotonic()
        assert repo.mark_orphans_interrupted() == []
        assert time.monotonic() - t0 < 1.0  # the busy timeout is 5 s
    finally:
        other.rollback()
        other.close()


def test_permission_error_counts_as_alive(repo, session, monkeypatch):
    def no_permission(pid: int, sig: int) -> None:
        raise PermissionError(1, "Operation not permitted")

    node = live(session.id, Owner(dead_pid(), HOST, time.time()))
    repo.add_nodes([node])
    monkeypatch.setattr(repository_mod.os, "kill", no_permission)
    assert repo.mark_orphans_interrupted() == []
    monkeypatch.undo()
    assert repo.mark_orphans_interrupted() == [node.id]


def test_a_stream_that_resumes_after_being_marked_heals(repo, session):
    """A live owner whose heartbeat went stale (laptop asleep) keeps writing: its node streams on."""
    node = live(session.id, Owner(os.getpid(), HOST, time.time() - 60))
    repo.add_nodes([node])
    assert repo.mark_orphans_interrupted() == [node.id]
    node.text += " and more"
    repo.update_stream(node)
    loaded = repo.get_node(node.id)
    assert loaded.status == NodeStatus.STREAMING and loaded.error is None and loaded.text.endswith("more")


# --------------------------------------------------------------------------------------- bad files


def test_random_bytes_are_refused_untouched(tmp_path):
    db = tmp_path / "triptych.db"
    garbage = os.urandom(3000)
    db.write_bytes(garbage)
    with pytest.raises(StoreError) as info:
        open_store(tmp_path)
    assert isinstance(info.value, CorruptStoreError)
    assert str(db) in str(info.value) and info.value.path == db
    assert db.read_bytes() == garbage
    assert sorted(p.name for p in tmp_path.iterdir()) == ["triptych.db"]


def test_a_short_file_is_refused_untouched(tmp_path):
    db = tmp_path / "triptych.db"
    db.write_bytes(b"SQLite format 3\x00\x10")
    with pytest.raises(CorruptStoreError, match=r"triptych\.db"):
        open_store(tmp_path)
    assert db.read_bytes() == b"SQLite format 3\x00\x10"


def filled_store(data) -> bytes:
    with open_store(data) as repo:
        session = repo.create_session(Session(title="big"))
        repo.add_nodes([Node(session.id, NodeKind.NOTE, f"note {i} " * 40) for i in range(400)])
    return (data / "triptych.db").read_bytes()


def test_a_truncated_file_is_refused_untouched(tmp_path):
    full = filled_store(tmp_path)
    db = tmp_path / "triptych.db"
    db.write_bytes(full[: len(full) // 2])
    with pytest.raises(CorruptStoreError, match="truncated"):
        open_store(tmp_path)
    assert db.read_bytes() == full[: len(full) // 2]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["triptych.db"]


@pytest.mark.parametrize("where", ["schema", "data"])
def test_damaged_pages_surface_as_store_errors(tmp_path, where):
    """Damaged schema pages are caught at open; damaged data pages when read, as CorruptStoreError."""
    full = bytearray(filled_store(tmp_path))
    page = 4096
    first = page * 2 if where == "schema" else len(full) - 5 * page  # page 1 (the header) is kept
    for start in range(first, len(full), page):
        full[start : start + page] = b"\xff" * page
    db = tmp_path / "triptych.db"
    db.write_bytes(bytes(full))
    with pytest.raises(CorruptStoreError, match=r"triptych\.db"):
        repo = open_store(tmp_path)
        try:
            assert where == "data", "damaged schema pages must be refused at open"
            repo.load_graph(repo.resolve_session("last") or "x")
            repo.search("note")
        finally:
            repo.close()
    assert db.read_bytes() == bytes(full)


def test_backup_corrupt_moves_the_files_aside_for_a_fresh_store(tmp_path):
    db = tmp_path / "triptych.db"
    garbage = os.urandom(5000)
    db.write_bytes(garbage)
    (tmp_path / "triptych.db-wal").write_bytes(b"wal")
    (tmp_path / "triptych.db-shm").write_bytes(b"shm")
    with pytest.raises(CorruptStoreError) as info:
        open_store(tmp_path)

    moved = backup_corrupt(info.value.path)
    assert moved.parent == tmp_path and moved.name.startswith("triptych.db.corrupt-")
    assert moved.read_bytes() == garbage
    assert (tmp_path / f"{moved.name}-wal").read_bytes() == b"wal"
    assert (tmp_path / f"{moved.name}-shm").read_bytes() == b"shm"
    assert not db.exists()
    with open_store(tmp_path) as repo:
        assert repo.list_sessions() == []
    # a second corrupt file in the same second gets its own name
    assert backup_corrupt(tmp_path) != moved


# ------------------------------------------------------------------------------------ unwritable dir


def test_a_data_dir_that_cannot_be_created_names_the_dir(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a dir")
    with pytest.raises(StoreError, match="a-file"):
        open_store(blocker / "data")


@pytest.mark.skipif(sys.platform == "win32" or os.geteuid() == 0, reason="root can write anywhere")
def test_a_read_only_data_dir_names_the_dir(tmp_path):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o500)
    try:
        with pytest.raises(StoreError, match="not writable") as info:
            open_store(ro)
        assert str(ro) in str(info.value)
    finally:
        ro.chmod(0o700)


def test_an_unwritable_data_dir_names_the_dir(tmp_path, monkeypatch):
    """Runs as root too (where chmod cannot make a dir unwritable): the write probe fails."""

    def denied(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(repository_mod.tempfile, "TemporaryFile", denied)
    with pytest.raises(StoreError, match="not writable: Permission denied") as info:
        open_store(tmp_path / "data")
    assert str(tmp_path / "data") in str(info.value)
    assert not (tmp_path / "data" / "triptych.db").exists()
