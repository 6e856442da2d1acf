"""First run, the context lens, focus mode, diff/table dialogs, theme switching and exports."""

from __future__ import annotations

import asyncio
import json

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest

from app.domain import NodeStatus
from tests.fakes.server import Answer
from tests.ui import hands
from tests.ui.conftest import DEFAULT_MODELS, cards_of, open_window, wait_until, whole_session_reads


def _node(window, node_id):
    return window.controller.graph.nodes[node_id]


def _answers(window):
    return [c for c in cards_of(window) if _node(window, c.node_id).is_answer]


async def _fanout(window, text="Sort a list in Python"):
    window.composer.set_text(text)
    ids = window.controller.send(window.composer.text(), window.composer.targets(), window.composer.mode())
    await wait_until(lambda: all(not _node(window, i).status.is_live for i in ids), 15, "fan-out done")
    window.controller.flush_repaints()
    return ids


async def test_first_run_without_keys_explains_how_to_add_them(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path))
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    for var in ("OPENAI_API_KEY", "ANTHROPIC_API_KEY", "DEEPSEEK_API_KEY", "OPENROUTER_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    async with open_window() as (window, _services):
        assert window.welcome.isVisible()
        text = window.welcome.body.text()
        assert "No API keys yet" in text and "DEEPSEEK_API_KEY" in text and "Settings" in text
        # started from a launcher, the shell's variables never reach the app: the card says where they go
        assert "app menu" in text and "environment.d" in text
        assert window.welcome.settings_button.isVisible()
        assert window.composer.models() == []  # no keys: no default models, not a crash
        window.composer.set_text("hello")
        assert window.controller.send(window.composer.text(), window.composer.targets()) == []
        window.welcome.settings_button.click()
        await asyncio.sleep(0.05)
        from ui.settings_dialog import SettingsDialog

        dialog = next(w for w in window.findChildren(SettingsDialog) if w.isVisible())
        assert dialog.key_label.text() == "no key"
        dialog.reject()


async def test_context_lens_shows_messages_tokens_and_cost(app_env, fake_server):
    async with open_window() as (window, services):
        await _fanout(window, "What is the capital of France?")
        deepseek = next(c for c in _answers(window) if _node(window, c.node_id).model.startswith("deepseek"))
        window.controller.continue_lane(deepseek.node_id)
        window.composer.set_text("And of Italy?")
        window.composer.lens_button.setChecked(True)
        window.refresh_lens()
        plans = window.lens.plans()
        assert [p.model for p in plans] == ["deepseek:deepseek-flash"]  # continue the lane: its model only
        text = window.lens.text()
        assert "What is the capital of France?" in text and "And of Italy?" in text
        assert "Answer from deepseek-flash" in text
        assert "input tokens" in text and "est. $" in text
        assert window.composer.estimate_label.text().startswith("≈ ")
        # nothing was sent by planning
        assert len(_answers(window)) == 3
        # re-planning as the user types uses the window's own cards (no re-read of the whole session:
        # ~70 ms per pause in typing on a 10,000-card session) and plans exactly what the store would
        stored = window.engine.plan(
            window.controller.session_id,
            "And of Italy?",
            window.composer.targets(),
            parents=window.controller.follow_ids(),
            mode=window.composer.mode(),
        )
        assert whole_session_reads(services.repo, window.refresh_lens) == []
        assert [(p.model, p.messages) for p in window.lens.plans()] == [(p.model, p.messages) for p in stored]


async def test_focus_mode_and_siblings_with_keyboard(app_env, fake_server):
    async with open_window() as (window, _services):
        await _fanout(window)
        answers = sorted(_answers(window), key=lambda c: c.pos().x())
        window.scene.select_only([answers[0].node_id])
        window.view.setFocus()
        QTest.keyClick(window.view, Qt.Key.Key_F)
        await asyncio.sleep(0.02)
        dialog = window._focus_dialog
        assert dialog is not None and dialog.node_id == answers[0].node_id
        assert "def fibonacci" in dialog.browser.toPlainText()
        assert dialog.position_label.text() == "1 of 3"
        dialog.step(1)
        assert dialog.node_id == answers[1].node_id and dialog.position_label.text() == "2 of 3"
        dialog.close()
        await asyncio.sleep(0.02)
        assert window.scene.selected_ids() == [answers[1].node_id]
        # arrow keys on the canvas move the selection between cards
        window.view.setFocus()
        QTest.keyClick(window.view, Qt.Key.Key_Right)
        assert window.scene.selected_ids() == [answers[2].node_id]


async def test_focus_mode_opened_while_a_card_streams_follows_the_stream(app_env, fake_server):
    pieces = tuple(f"Paragraph {i} of a long answer, streamed slowly.\n\n" for i in range(30))
    fake_server.script("deepseek-flash", Answer(text=pieces, delay=0.05))
    async with open_window() as (window, _services):
        window.composer.set_models(["deepseek:deepseek-flash"])
        window.composer.set_text("Write a long answer, slowly")
        window.composer.send_button.click()
        await wait_until(
            lambda: _answers(window) and "Paragraph 2" in _node(window, _answers(window)[0].node_id).text
        )
        card = _answers(window)[0]
        window.scene.select_only([card.node_id])
        window.view.setFocus()
        QTest.keyClick(window.view, Qt.Key.Key_F)
        await asyncio.sleep(0.02)
        dialog = window._focus_dialog
        assert dialog is not None and dialog.node_id == card.node_id
        assert "streaming" in dialog.title_label.text()
        first = dialog.browser.toPlainText()
        await wait_until(
            lambda: len(dialog.browser.toPlainText()) > len(first) + 100, 5, "the focus view grows"
        )
        await wait_until(lambda: "done" in dialog.title_label.text(), 5, "the focus view says done")
        assert "Paragraph 29 of a long answer" in dialog.browser.toPlainText()
        assert dialog.metrics_label.text()  # the finished answer's metrics
        dialog.close()


async def test_diff_and_comparison_table(app_env, fake_server):
    async with open_window() as (window, _services):
        await _fanout(window)
        a, b, _c = sorted(_answers(window), key=lambda c: c.pos().x())
        window.scene.select_only([a.node_id, b.node_id])
        shown = []
        window.controller.diff_requested.connect(lambda x, y: shown.append(window.open_diff(x, y)))
        assert window.controller.compare_selected()
        dialog = shown[0]
        assert (
            "deepseek-flash" in dialog.left.toPlainText()
            and "claude-sonnet-5-5" in dialog.right.toPlainText()
        )
        dialog.close()
        # the same model on two questions: the title says which question each side answered
        await _fanout(window, "Reverse a string in Go")
        same = [c for c in _answers(window) if _node(window, c.node_id).model == _node(window, a.node_id).model]
        window.scene.select_only([c.node_id for c in same])
        assert window.controller.compare_selected()
        title = shown[-1].windowTitle()
        assert "Sort a list in Python" in title and "Reverse a string in Go" in title, title
        shown[-1].close()
        window.scene.select_only([a.node_id])
        tables = []
        window.controller.table_requested.connect(lambda pid: tables.append(window.open_table(pid)))
        assert window.controller.comparison_table(a.node_id)
        table = tables[0].table
        assert table.rowCount() == 3
        names = sorted(table.item(r, 0).text() for r in range(3))
        assert names == sorted(window.catalog.display_name(m) for m in DEFAULT_MODELS)
        assert all(table.item(r, 1).text() == "done" for r in range(3))
        tables[0].close()


async def test_theme_switch_to_dark_repaints_cards_and_chrome(app_env, fake_server):
    async with open_window() as (window, services):
        await _fanout(window)
        window.set_theme_mode("dark")
        assert services.settings.ui["theme"] == "dark"
        assert window.scene.style.theme.name == "dark"
        assert window.palette().color(window.backgroundRole()).lightness() < 80
        window.view.fit_all()
        image = window.view.grab().toImage()
        card = _answers(window)[0]
        p = window.view.mapFromScene(card.mapToScene(card.boundingRect().center()))
        assert QColor(image.pixel(p.x(), p.y())).lightness() < 100
        window.set_theme_mode("light")


async def test_export_session_and_png(app_env, fake_server, tmp_path):
    async with open_window() as (window, _services):
        await _fanout(window)
        md = tmp_path / "s.md"
        window.export_to(str(md), "md")
        text = md.read_text(encoding="utf-8")
        assert "Sort a list in Python" in text and "DeepSeek" in text
        js = tmp_path / "s.json"
        window.export_to(str(js), "json")
        assert len(json.loads(js.read_text(encoding="utf-8"))["nodes"]) == 4
        png = tmp_path / "s.png"
        window.export_to(str(png), "png")
        assert QImage(str(png)).width() > 1000
        one = _answers(window)[0].node_id
        part = tmp_path / "one.png"
        window.export_to(str(part), "png", [one])
        assert 0 < QImage(str(part)).width() < QImage(str(png)).width()


async def test_escape_stops_all_streams(app_env, fake_server):
    async with open_window() as (window, _services):
        window.composer.set_models(["deepseek:slow", "openai:slow"])
        window.composer.set_text("Go slowly")
        hands.send(window)
        await wait_until(lambda: window.controller.engine.running_count == 2, 5)
        await wait_until(lambda: all(_node(window, c.node_id).text for c in _answers(window)), 10)
        window.composer.focus_prompt()
        QTest.keyClick(window.composer.edit, Qt.Key.Key_Escape)
        await wait_until(lambda: window.controller.engine.running_count == 0, 5)
        assert all(_node(window, c.node_id).status == NodeStatus.STOPPED for c in _answers(window))
        assert all(_node(window, c.node_id).text for c in _answers(window))


async def test_links_ask_first_and_never_open_scripts(app_env, fake_server, monkeypatch):
    from ui import controller as controller_module

    opened, asked = [], []
    monkeypatch.setattr(
        controller_module.QDesktopServices, "openUrl", lambda url: opened.append(url.toString())
    )
    async with open_window() as (window, _services):
        monkeypatch.setattr(
            window.dialogs, "confirm_open_link", lambda url: asked.append(url) or url.endswith("/yes")
        )
        c = window.controller
        assert not c.open_link("javascript:alert(document.cookie)")
        assert not c.open_link("file:///etc/passwd")
        assert asked == [] and opened == []  # never even asked
        assert not c.open_link("https://example.com/no")
        assert c.open_link("https://example.com/yes")
        assert asked == ["https://example.com/no", "https://example.com/yes"]
        assert opened == ["https://example.com/yes"]


async def test_keyboard_shortcuts_sheet_and_search_focus(app_env, fake_server):
    from ui.dialogs import ShortcutsDialog

    async with open_window() as (window, _services):
        window.view.setFocus()
        QTest.keyClick(window.view, Qt.Key.Key_Question, Qt.KeyboardModifier.ShiftModifier)
        await asyncio.sleep(0.02)
        sheets = [w for w in window.findChildren(ShortcutsDialog) if w.isVisible()]
        assert sheets, "? on the canvas shows the shortcuts sheet"
        sheets[0].close()
        window.activateWindow()
        await asyncio.sleep(0.02)
        # typing ? in the composer types it, no sheet
        window.composer.focus_prompt()
        QTest.keyClicks(window.composer.edit, "why?")
        assert window.composer.text() == "why?"
        QTest.keyClick(window.composer.edit, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
        assert window.sidebar.search_edit.hasFocus() or window.focusWidget() is window.sidebar.search_edit


async def test_focus_mode_folds_details_and_the_reader_unfolds_them(app_env, fake_server):
    """`<details>` shows open in the card but folded in focus mode, its summary a handle the reader
    opens and closes from the keyboard (Tab to it, Enter), as in a browser."""
    text = (
        "Here is the result.\n\n<details>\n<summary>Show the proof</summary>\n\n"
        "The proof goes by induction on n.\n\n</details>\n\nAfter the fold.\n"
    )
    fake_server.script("deepseek-flash", Answer(text=(text,)))
    async with open_window() as (window, _services):
        window.composer.set_models(["deepseek:deepseek-flash"])
        window.composer.set_text("Prove it")
        window.composer.send_button.click()
        await wait_until(lambda: _answers(window) and not _node(window, _answers(window)[0].node_id).status.is_live)
        card = _answers(window)[0]
        window.controller.flush_repaints()
        assert "by induction" in card.body_text  # open in the card
        window.scene.select_only([card.node_id])
        window.view.setFocus()
        QTest.keyClick(window.view, Qt.Key.Key_F)
        await asyncio.sleep(0.02)
        dialog = window._focus_dialog
        shown = dialog.browser.toPlainText()
        assert "Show the proof" in shown and "After the fold" in shown
        assert "by induction" not in shown  # folded
        dialog.browser.setFocus()
        QTest.keyClick(dialog.browser, Qt.Key.Key_Tab)  # to the summary's link
        QTest.keyClick(dialog.browser, Qt.Key.Key_Return)
        await asyncio.sleep(0.02)
        assert "by induction" in dialog.browser.toPlainText()
        dialog.close()
