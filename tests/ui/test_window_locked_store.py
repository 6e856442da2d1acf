"""Edits on a store another program holds locked (a `triptych` command writing to it): each change shows
at once, the status bar says "Saving… (the store is busy)", no dialog, the window keeps answering, and
the changes reach the store, in order, once the lock frees (app/write_queue.py). On quit with changes
still waiting, the app waits a little, then says what was not saved."""

from __future__ import annotations

import asyncio
import sqlite3
import time
from contextlib import contextmanager

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import QMessageBox

import ui.app
from app.domain import Node, NodeKind
from tests.ui import hands
from tests.ui.conftest import open_window, wait_until

BUSY = "Saving… (the store is busy)"


@contextmanager
def locked(db_path):
    """Another process's write transaction on the store (`BEGIN EXCLUSIVE`), until the block ends."""
    con = sqlite3.connect(db_path, isolation_level=None, timeout=5)
    con.execute("BEGIN EXCLUSIVE")
    try:
        yield con
    finally:
        con.rollback()
        con.close()


class Ticker:
    """Measures the longest stretch the GUI thread went without running a 10 ms Qt timer."""

    def __init__(self) -> None:
        self.worst = 0.0
        self.ticks = 0
        self._last = time.monotonic()
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)
        self._timer.start()

    def _tick(self) -> None:
        now = time.monotonic()
        self.worst = max(self.worst, now - self._last)
        self._last = now
        self.ticks += 1

    def stop(self) -> float:
        self._timer.stop()
        self._tick()
        return self.worst


def _row(window, session_id: str):
    return next(window.sidebar.list.item(i) for i in range(window.sidebar.list.count())
                if window.sidebar.list.item(i).data(Qt.ItemDataRole.UserRole) == session_id)


def _no_dialogs(monkeypatch) -> list[str]:
    shown: list[str] = []
    monkeypatch.delenv("TRIPTYCH_NO_ERROR_DIALOG")  # the busy dialog would show if anything raised
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append(box.windowTitle()) or 0)
    return shown


async def test_moves_renames_and_a_new_session_wait_for_the_lock_then_land(app_env, fake_server, monkeypatch):
    async with open_window() as (window, services):
        shown = _no_dialogs(monkeypatch)
        c = window.controller
        first = c.session_id
        note = Node(first, NodeKind.NOTE, "Move me while the store is locked", x=0, y=0)
        services.engine.add_nodes(first, [note], [])
        await wait_until(lambda: window.scene.card(note.id) is not None, 3, "the note's card")
        db = services.repo.path
        monkeypatch.setattr(window.dialogs, "ask_text", lambda *a, **k: "Renamed while locked")
        saving = window.status.saving_label
        assert not saving.isVisible()

        with locked(db):
            ticker = Ticker()
            try:
                hands.drag_card(window, note.id, 120, 80)
                moved = (c.graph.nodes[note.id].x, c.graph.nodes[note.id].y)
                assert moved != (0, 0) and window.scene.card(note.id).pos().x() == moved[0]  # shown at once
                assert saving.isVisible() and saving.text() == BUSY
                with hands.choosing("Rename"):
                    hands.context_menu(window.sidebar.list.viewport(),
                                       window.sidebar.list.visualItemRect(_row(window, first)).center())
                assert window.windowTitle() == "Triptych — Renamed while locked"
                assert "Renamed while locked" in _row(window, first).text()
                hands.trigger(window, "File/New session")  # a new session, opened at once
                second = c.session_id
                assert second != first and window.sidebar.list.count() == 2
                await asyncio.sleep(1.0)  # the queue retries meanwhile (each try waits ≤ 50 ms for the lock)
                assert saving.text() == BUSY
            finally:
                worst = ticker.stop()
            assert ticker.ticks > 20 and worst < 0.5  # the window kept answering
            con = sqlite3.connect(db)
            try:  # nothing reached the store yet
                assert con.execute("SELECT x, y FROM nodes WHERE id = ?", (note.id,)).fetchone() == (0, 0)
            finally:
                con.close()
        await wait_until(lambda: not saving.isVisible(), 5, "the queued writes to land")
        assert shown == []
        con = sqlite3.connect(db)
        try:
            assert con.execute("SELECT x, y FROM nodes WHERE id = ?", (note.id,)).fetchone() == moved
            titles = dict(con.execute("SELECT id, title FROM sessions WHERE deleted_at IS NULL"))
        finally:
            con.close()
        assert titles == {first: "Renamed while locked", second: "Untitled"}
        # and the store agrees with the window: both sessions listed, from the store alone
        assert {s.id for s in services.repo.list_sessions()} == {first, second}


async def test_quitting_with_changes_still_waiting_says_what_was_not_saved(app_env, fake_server, monkeypatch):
    told: list[list[str]] = []
    monkeypatch.setattr(ui.app, "QUIT_SAVE_WAIT_S", 0.3)
    monkeypatch.setattr(ui.app, "tell_unsaved", told.append)
    async with open_window() as (window, services):
        shown = _no_dialogs(monkeypatch)
        sid = window.controller.session_id
        note = Node(sid, NodeKind.NOTE, "Collapse me", x=0, y=0)
        services.engine.add_nodes(sid, [note], [])
        await wait_until(lambda: window.scene.card(note.id) is not None, 3, "the note's card")
        lock = locked(services.repo.path)
        lock.__enter__()
        hands.drag_card(window, note.id, 60, 40)
        assert window.status.saving_label.text() == BUSY
        hands.trigger(window, "File/Quit")
    lock.__exit__(None, None, None)
    assert shown == []
    ((first, *rest),) = told  # said once, oldest first: the move, then where the view was
    assert first == "1 moved card" and set(rest) <= {"where you were looking"}
