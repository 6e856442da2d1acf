"""Small things a user sees at once: scroll bars where nothing needs scrolling, clipped sheets."""

from __future__ import annotations

import asyncio
import time

from PySide6.QtWidgets import QApplication, QTableWidget

from tests.ui.conftest import open_window, streaming_answer, wait_until


async def test_sidebar_long_title_wraps_without_horizontal_scroll_bar(app_env, fake_server):
    async with open_window() as (window, _services):
        sid = window.controller.session_id
        window.controller.apply_rename(sid, "Compare bubble sort and quicksort. Show python code and a table")
        await wait_until(lambda: "bubble" in window.sidebar.list.item(0).text(), 3, "renamed")
        await asyncio.sleep(0.1)  # let the list lay out its wrapped item
        bar = window.sidebar.list.horizontalScrollBar()
        assert not bar.isVisible(), "a wrapped title needs no horizontal scrolling"


async def test_shortcuts_sheet_shows_every_row_and_column_without_scrolling(app_env, fake_server):
    from ui.dialogs import SHORTCUTS, ShortcutsDialog

    async with open_window() as (window, _services):
        sheet = ShortcutsDialog(window)
        sheet.show()
        await asyncio.sleep(0.05)
        try:
            table = sheet.findChild(QTableWidget)
            shown = [table.item(r, c).text() for r in range(table.rowCount()) for c in (0, 2) if table.item(r, c)]
            assert sorted(shown) == sorted(keys for keys, _ in SHORTCUTS)
            assert not table.horizontalScrollBar().isVisible(), "the Action column is not clipped"
            assert not table.verticalScrollBar().isVisible(), "every shortcut is visible at once"
            assert sheet.frameGeometry().width() <= window.screen().availableGeometry().width()
        finally:
            sheet.close()


async def test_the_shortcuts_sheet_names_every_menu_shortcut(app_env, fake_server):
    """The sheet lacked C, Ctrl+R, Ctrl+Shift+A, Ctrl+L, Ctrl+M, Ctrl+B, Ctrl+. and Ctrl+A: every key a
    menu action answers to is on it (the sheet the user opens with ? or F1)."""

    from tests.ui.hands import menu_actions, press_keys, shortcut_text

    def keys_of(text: str) -> set[str]:
        aliases = {"Ctrl+Return": "Ctrl+Enter", "Del": "Delete", "Ctrl+=": "Ctrl++"}
        out = set()
        for part in text.split(" / "):
            out.add(aliases.get(part.strip(), part.strip()))
        return out

    async with open_window() as (window, _services):
        press_keys(window.view, "F1")
        await asyncio.sleep(0.05)
        sheet = next(w for w in QApplication.topLevelWidgets() if w.isVisible() and w.windowTitle() == "Keyboard shortcuts")
        try:
            table = sheet.findChild(QTableWidget)
            listed: set[str] = set()
            for r in range(table.rowCount()):
                for c in (0, 2):
                    if table.item(r, c):
                        listed |= keys_of(table.item(r, c).text())
            wanted = {sc for _path, a in menu_actions(window) if (sc := shortcut_text(a))}
            missing = {sc for sc in wanted if keys_of(sc) - listed}
            assert not missing, missing
        finally:
            sheet.close()


async def test_answers_of_a_killed_unreaped_process_show_interrupted(app_env, fake_server):
    # kill -9 mid-stream, restart at once: the dead window's process is a zombie until its parent
    # reaps it (it still answers kill(pid, 0)); its answers must show as interrupted, not live.
    import signal
    import subprocess
    import sys

    from app.domain import Edge, EdgeRole, Node, NodeKind, NodeStatus, Session
    from storage import open_store

    if not sys.platform.startswith("linux"):
        return
    child = subprocess.Popen(["sleep", "60"])  # noqa: ASYNC220 (started and killed at once)
    try:
        child.send_signal(signal.SIGKILL)
        await asyncio.sleep(0.2)  # dead, and not reaped: we do not wait() for it yet
        repo = open_store(app_env)
        session = repo.create_session(Session(title="Killed"))
        prompt = Node(session.id, NodeKind.PROMPT, "A long question")
        resp = streaming_answer(session.id, "Partial text before the kill", child.pid)
        repo.add_nodes([prompt, resp], [Edge(prompt.id, resp.id, EdgeRole.REPLY, 0, session.id)])
        repo.close()
        async with open_window() as (window, _services):
            card = window.scene.card(resp.id)
            assert window.controller.graph.nodes[resp.id].status == NodeStatus.INTERRUPTED
            assert card.status_text == "interrupted"
            assert "retry" in card.button_actions()
    finally:
        child.wait()


async def test_sidebar_entries_are_tall_enough_for_their_wrapped_text(app_env, fake_server):
    # a search hit whose title wraps once more when painted (the item padding) lost its snippet line
    from types import SimpleNamespace

    from PySide6.QtCore import QRect, Qt

    pad_x, pad_y = 8, 6  # `#SessionsSidebar QListWidget::item { padding: 6px 8px }` in ui/theme.py

    async with open_window() as (window, _services):
        hits = [
            SimpleNamespace(
                session_title="Explain CRDTs with code",
                model=None,
                kind=kind,
                snippet="Explain [CRDTs] with code",
                session_id="s1",
                node_id=f"n{i}",
            )
            for i, kind in enumerate(["prompt", "session"])
        ]
        window.sidebar.search_edit.blockSignals(True)
        window.sidebar.search_edit.setText("CRDT")
        window.sidebar.search_edit.blockSignals(False)
        window.sidebar.set_hits("CRDT", hits)
        await asyncio.sleep(0.1)
        lst = window.sidebar.list
        fm = lst.fontMetrics()
        for i in range(lst.count()):
            item = lst.item(i)
            rect = lst.visualItemRect(item)
            text_width = min(rect.width(), lst.viewport().width()) - 2 * pad_x  # as painted
            needed = fm.boundingRect(
                QRect(0, 0, text_width, 10**6), int(Qt.TextFlag.TextWordWrap), item.text()
            )
            assert rect.height() >= needed.height() + 2 * pad_y, f"{item.text()!r} is cut off"


def test_check_boxes_are_visible_in_the_dark_theme(qapp):
    """Fusion draws a check box frame a shade darker than the window: on the dark theme's base it was
    nearly invisible (Settings → Default models). The style sheet draws the boxes in the muted colour."""
    from PySide6.QtGui import QColor
    from PySide6.QtWidgets import QCheckBox

    from ui.theme import DARK, LIGHT, apply_theme

    try:
        for theme in (DARK, LIGHT):
            apply_theme(qapp, theme)
            box = QCheckBox("Default")
            box.resize(120, 24)
            image = box.grab().toImage()
            base = QColor(theme.window)
            # the strongest contrast inside the indicator (the left 20 px) against the window colour
            contrast = max(
                abs(QColor(image.pixel(x, y)).lightness() - base.lightness())
                for x in range(0, min(20, image.width()))
                for y in range(image.height())
            )
            assert contrast >= 60, (theme.name, contrast)
            box.setChecked(True)
            ticked = box.grab().toImage()
            assert ticked != image  # the tick shows
    finally:
        apply_theme(qapp, LIGHT)


async def test_search_hits_show_the_matched_words_in_bold_not_in_brackets(app_env, fake_server):
    from types import SimpleNamespace

    from ui.sidebar import ROLE_HTML, hit_html

    assert hit_html("T", "claude", "a [CRDT] and <b>x</b> [merge]") == (
        "T · claude<br>a <b>CRDT</b> and &lt;b&gt;x&lt;/b&gt; <b>merge</b>"
    )
    async with open_window() as (window, _services):
        hit = SimpleNamespace(session_title="Sync", model="anthropic:claude-sonnet-5-5", kind="response",
                              snippet="…uses a [CRDT] to merge…", session_id="s1", node_id="n1")
        window.sidebar.set_hits("CRDT", [hit])
        await asyncio.sleep(0.05)
        item = window.sidebar.list.item(0)
        assert "<b>CRDT</b>" in item.data(ROLE_HTML) and "[" not in item.data(ROLE_HTML)
        window.sidebar.list.viewport().grab().save(str(app_env / "hits.png"))  # paints without error


async def test_cards_another_process_adds_and_streams_into_show_up_and_follow_it(app_env, fake_server):
    # The CLI (or another window) adds cards to this session and streams into them: they appear, show
    # what that process saves, Stop says where to stop it, and each ends as that process ends it, or
    # as interrupted if it dies.
    import socket
    import subprocess

    from app.domain import Edge, EdgeRole, Node, NodeKind, NodeStatus, Owner, Session
    from storage import open_store

    writer, doomed = (subprocess.Popen(["sleep", "60"]) for _ in range(2))  # noqa: ASYNC220
    repo = open_store(app_env)
    try:
        session = repo.create_session(Session(title="Streamed elsewhere"))
        prompt = Node(session.id, NodeKind.PROMPT, "A long question")
        answers = [
            streaming_answer(session.id, "First words", proc.pid, model=model, x=500.0 * i)
            for i, (model, proc) in enumerate(
                [("deepseek:deepseek-flash", writer), ("anthropic:claude-sonnet-5-5", doomed)]
            )
        ]
        edges = [Edge(prompt.id, a.id, EdgeRole.REPLY, 0, session.id) for a in answers]
        repo.add_nodes([prompt, *answers], edges)
        resp, cut = answers
        async with open_window() as (window, _services):
            controller = window.controller
            controller.open_session(session.id)
            assert sorted(controller.foreign_live()) == sorted([resp.id, cut.id])
            messages: list[str] = []
            controller.message_posted.connect(lambda text, _ms: messages.append(text))
            controller.handle_card_action(resp.id, "stop")
            assert "another Triptych" in messages[-1] and str(writer.pid) in messages[-1]
            # the other process saves more text: the card shows it
            resp.text += " and then some more words"
            resp.owner = Owner(pid=writer.pid, host=socket.gethostname(), heartbeat=time.time())
            repo.update_stream(resp)
            await wait_until(
                lambda: "some more words" in controller.graph.nodes[resp.id].text, 4, "the saved text shown"
            )
            controller.flush_repaints()
            assert "some more words" in window.scene.card(resp.id).node.text
            # the other process dies (and is reaped): its answer is interrupted, text kept, Retry offered
            doomed.kill()
            doomed.wait()
            await wait_until(
                lambda: controller.graph.nodes[cut.id].status == NodeStatus.INTERRUPTED, 4, "interrupted"
            )
            controller.flush_repaints()
            card = window.scene.card(cut.id)
            assert card.status_text == "interrupted" and "retry" in card.button_actions()
            assert controller.graph.nodes[cut.id].text == "First words"
            # the writer finishes its answer: the card ends done and the window stops polling
            resp.status = NodeStatus.DONE
            resp.owner = None
            repo.update_node(resp)
            await wait_until(lambda: controller.graph.nodes[resp.id].status == NodeStatus.DONE, 4, "done")
            await wait_until(lambda: not controller._foreign, 4, "nothing left to follow")
            controller.flush_repaints()
            assert window.scene.card(resp.id).status_text != "streaming"
            # the other process adds a follow-up with a new answer: both cards appear, and stream
            follow = Node(session.id, NodeKind.PROMPT, "And a follow-up from the CLI", y=700.0)
            more = streaming_answer(session.id, "Streaming in the CLI", writer.pid, y=900.0)
            repo.add_nodes(
                [follow, more],
                [
                    Edge(resp.id, follow.id, EdgeRole.FOLLOW, 0, session.id),
                    Edge(follow.id, more.id, EdgeRole.REPLY, 0, session.id),
                ],
            )
            await wait_until(lambda: window.scene.card(more.id) is not None, 4, "new cards shown")
            assert window.scene.card(follow.id) is not None
            assert any("2 cards added to this session by another Triptych" in m for m in messages)
            assert controller.foreign_live() == [more.id]
            await wait_until(lambda: "5 cards" in window.sidebar.list.item(0).text(), 3, "sidebar count")
            # the other process (say, another window) deletes a card and the follow-up it streams into:
            # they leave this canvas too, with their edges, and are no longer followed
            repo.delete_nodes([cut.id, more.id])
            await wait_until(lambda: window.scene.card(cut.id) is None, 4, "deleted cards gone")
            assert window.scene.card(more.id) is None and more.id not in controller.graph.nodes
            assert not any(cut.id in (e.parent_id, e.child_id) for e in controller.graph.edges)
            assert any("2 cards deleted from this session by another Triptych" in m for m in messages)
            assert controller.foreign_live() == [] and not controller._foreign
            await wait_until(lambda: "3 cards" in window.sidebar.list.item(0).text(), 3, "sidebar count")
    finally:
        repo.close()
        for proc in (writer, doomed):
            proc.kill()
            proc.wait()
