"""A window on the team store (PostgreSQL, tests/pgcluster.py): another member's cards appear, stream,
move and go without polling (LISTEN/NOTIFY) within a second, say who wrote them, and a `triptych ask`
run from another process shows up in the open session."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from app.domain import Edge, EdgeRole, Node, NodeKind, Session
from app.foreign import PushWatcher
from storage import open_store
from tests.fakes.server import Answer
from tests.ui.conftest import open_window, streaming_answer, wait_until

ROOT = Path(__file__).resolve().parents[2]


async def test_another_members_cards_appear_stream_and_move_live(app_env, fake_server, pg_url, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_DATABASE_URL", pg_url)
    monkeypatch.setenv("TRIPTYCH_USER", "bob")
    bob = open_store(pg_url)
    monkeypatch.setenv("TRIPTYCH_USER", "alice")
    writer = subprocess.Popen(["sleep", "60"])  # noqa: ASYNC220 (bob's streaming process, alive)
    try:
        session = bob.create_session(Session(title="Bob's comparison"))
        prompt = Node(session.id, NodeKind.PROMPT, "Which sort is fastest?")
        bob.add_nodes([prompt])
        async with open_window() as (window, _services):
            controller = window.controller
            assert isinstance(controller.watcher, PushWatcher)  # no polling clock on a team store
            await wait_until(lambda: window.sidebar.list.count() >= 1, 3, "sidebar")
            item = next(window.sidebar.list.item(i) for i in range(window.sidebar.list.count())
                        if "Bob's comparison" in window.sidebar.list.item(i).text())
            assert "bob" in item.text()  # the owner, in alice's sidebar
            controller.open_session(session.id)
            assert window.scene.card(prompt.id).title_text == "bob"
            answer = streaming_answer(session.id, "Quick", writer.pid, y=300.0)
            t0 = time.monotonic()
            bob.add_nodes([answer], [Edge(prompt.id, answer.id, EdgeRole.REPLY, 0, session.id)])
            await wait_until(lambda: window.scene.card(answer.id) is not None, 3, "bob's new card")
            latency = time.monotonic() - t0
            assert latency < 1.0, f"the card took {latency:.2f} s"
            controller.flush_repaints()
            assert "bob is streaming" in window.scene.card(answer.id)._state.subtitle  # the header's second line
            answer.text = "Quicksort, on average"
            bob.update_stream(answer)
            await wait_until(lambda: "on average" in controller.graph.nodes[answer.id].text, 2, "streamed text")
            bob.move_nodes({prompt.id: (640.0, 80.0)})
            await wait_until(lambda: window.scene.card(prompt.id).pos().x() == 640.0, 2, "moved by bob")
            bob.delete_nodes([answer.id])
            await wait_until(lambda: window.scene.card(answer.id) is None, 2, "deleted by bob")
            # a session bob starts shows up in alice's sidebar
            bob.create_session(Session(title="Bob's second question"))
            lst = window.sidebar.list
            await wait_until(lambda: any("Bob's second question" in lst.item(i).text() for i in range(lst.count())),
                             2, "bob's new session in the sidebar")
    finally:
        bob.close()
        writer.kill()
        writer.wait()


async def test_a_cli_ask_into_the_open_session_shows_up(app_env, fake_server, pg_url, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_DATABASE_URL", pg_url)
    fake_server.script("deepseek-flash", Answer(text=("From ", "the CLI")))
    with open_store(pg_url) as repo:
        session = repo.create_session(Session(title="Shared"))
        repo.add_nodes([Node(session.id, NodeKind.NOTE, "start")])
    async with open_window() as (window, _services):
        window.controller.open_session(session.id)
        env = {**os.environ, "PYTHONPATH": str(ROOT), "TRIPTYCH_USER": "carol"}
        proc = subprocess.Popen(  # noqa: ASYNC220
            [sys.executable, "-m", "app", "ask", "--session", session.id, "-m", "deepseek:deepseek-flash",
             "Hello from the terminal"], env=env, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        try:
            await wait_until(lambda: any(n.text == "From the CLI" for n in window.controller.graph.nodes.values()),
                             20, "the CLI's answer in the window")
        finally:
            proc.wait(timeout=30)
        nodes = list(window.controller.graph.nodes.values())
        assert {n.author for n in nodes if n.kind != NodeKind.NOTE} == {"carol"}


async def test_file_copy_to_team_store_publishes_the_open_session(app_env, fake_server, pg_url):
    with open_store(app_env) as local:
        session = local.create_session(Session(title="Offline notes"))
        local.add_nodes([Node(session.id, NodeKind.NOTE, "written on the train")])
    async with open_window() as (window, _services):
        window.controller.open_session(session.id)
        window.team_copy.ask_url = lambda default: pg_url  # the user types the URL
        window.copy_to_team_action.trigger()
        await wait_until(lambda: window.team_copy.task is not None and window.team_copy.task.done(), 10, "copied")
        assert "Copied “Offline notes”" in window.statusBar().currentMessage()
        with open_store(pg_url) as team:
            assert [n.text for n in team.load_graph(session.id).nodes.values()] == ["written on the train"]
        window.copy_to_team_action.trigger()
        await wait_until(lambda: window.team_copy.task.done(), 10, "copied again")
        assert "up to date" in window.statusBar().currentMessage()


async def test_settings_store_saves_the_team_store_url_without_its_password(app_env, fake_server, monkeypatch):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QDialogButtonBox

    from app.config import load_settings
    from tests.ui.hands import trigger, type_text
    from ui.settings_dialog import SettingsDialog

    monkeypatch.delenv("TRIPTYCH_DATABASE_URL", raising=False)
    async with open_window() as (window, _services):
        trigger(window, "File/Settings")
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, SettingsDialog) and w.isVisible())
        dialog.tabs.setCurrentIndex(next(i for i in range(dialog.tabs.count()) if dialog.tabs.tabText(i) == "Store"))
        type_text(dialog.store_url, "postgresql+psycopg://alice:hunter2secret@db.example:5432/team")
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        QTest.mouseClick(ok, Qt.MouseButton.LeftButton)
    saved = (app_env / "config.toml").read_text()
    assert "hunter2secret" not in saved
    assert load_settings().database_url == "postgresql+psycopg://alice@db.example:5432/team"
