"""Defects a new user met in the real window, reproduced through the user's hands: Edit & branch kept
the draft only until the next keystroke, the low-zoom card summary rewrote what the model wrote, a
search hit opened its session somewhere unreadable, task lists drew a bullet beside the box, the
Rename dialog cut the title, the Providers hint did not say where the key came from, and Ctrl+N piled
up empty sessions."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from app.domain import NodeKind
from tests.ui.conftest import cards_of, open_window, wait_until
from tests.ui.hands import focus, press_keys, send, type_text

LEFT = Qt.MouseButton.LeftButton


def _click_button(window, card, action: str) -> None:
    """Click the card's button at its on-screen position (scrolling the canvas to it first)."""
    rect = card.button_rect(action)
    assert rect is not None, f"{action} not among {card.button_actions()}"
    window.view.centerOn(card.mapToScene(rect.center()))
    pos = window.view.mapFromScene(card.mapToScene(rect.center()))
    QTest.mouseClick(window.view.viewport(), LEFT, Qt.KeyboardModifier.NoModifier, pos)


async def _ask(window, text: str) -> None:
    graph = window.controller.graph
    send(window, text)
    await wait_until(lambda: any(n.text == text for n in graph.nodes.values()), 5, "the prompt card")
    await wait_until(lambda: all(not n.status.is_live for n in graph.nodes.values()), 15, "the answers")
    await asyncio.sleep(0.05)


async def test_edit_and_branch_replaces_the_draft_as_an_undoable_edit(app_env, fake_server):
    async with open_window() as (window, _services):
        await _ask(window, "What is a monad?")
        prompt = next(c for c in cards_of(window, "prompt"))
        edit = window.composer.edit
        focus(edit)
        type_text(edit, "my draft")
        assert window.composer.text() == "my draft"
        _click_button(window, prompt, "branch")
        assert window.composer.text() == "What is a monad?"
        assert "Ctrl+Z brings it back" in window.statusBar().currentMessage()
        focus(edit)
        press_keys(edit, "Ctrl+Z")
        assert window.composer.text() == "my draft"
        # branching with nothing typed says nothing about a draft
        window.statusBar().clearMessage()
        press_keys(edit, "Ctrl+A")
        press_keys(edit, "Backspace")
        _click_button(window, prompt, "branch")
        assert window.composer.text() == "What is a monad?"
        assert "draft" not in window.statusBar().currentMessage()
        assert window.controller.graph.nodes[prompt.node_id].kind == NodeKind.PROMPT
        # the composer says it is a branch (the first prompt has no parents: no "Following" bar either)
        bar = window.composer.parents_label
        assert window.composer.parents_bar.isVisible() and "Branch" in bar.toolTip() and "monad" in bar.toolTip()
        press_keys(edit, "Ctrl+Return")
        await wait_until(lambda: len(cards_of(window, "prompt")) == 2, 5, "the branch sent")
        assert not window.composer.parents_bar.isVisible()  # sent: the next prompt is a new thread again


MATH = "The Gaussian integral: $\\int_{-\\infty}^{\\infty} e^{-x^2}\\,dx$ where \\int_{-\\infty} and y_i stay."
CODE = "Doubling: `base * 2 ** i` is base * 2 ** i for each y_i, **not** *more*."
TASKS = "# Release checklist\n\n- [x] Tests pass\n- [ ] Docs written\n\n> a _quoted_ note"


def _summary_at_30(window, card) -> str:
    view = window.view
    view.set_viewport(card.sceneBoundingRect().center().x(), card.sceneBoundingRect().center().y(), 0.3)
    assert abs(view.zoom() - 0.3) < 1e-6
    window.controller.flush_repaints()  # the frame the user sees next (a loaded machine may not have drawn it yet)
    return card.summary_text


def _ink_in_body(window, card) -> int:
    """How many pixels under the card's title band (in its body) are drawn in the text colour."""
    from PySide6.QtGui import QColor

    view = window.view
    window.view.viewport().repaint()
    image = view.viewport().grab().toImage()
    rect = view.mapFromScene(card.sceneBoundingRect()).boundingRect()
    band = window.scene.style.overview_title_px + 2 * 5 + 4  # the title band, in device pixels
    text = QColor(window.scene.style.theme.text)
    ink = 0
    for y in range(rect.top() + band, min(rect.bottom() - 2, image.height())):
        for x in range(rect.left() + 6, min(rect.right() - 2, image.width())):
            c = image.pixelColor(x, y)
            if abs(c.red() - text.red()) + abs(c.green() - text.green()) + abs(c.blue() - text.blue()) < 120:
                ink += 1
    return ink


async def test_the_zoomed_out_summary_keeps_what_the_model_wrote(app_env, fake_server):
    from tests.fakes.server import Answer

    fake_server.script("deepseek-flash", Answer(text=(MATH,)))
    fake_server.script("claude-sonnet-5-5", Answer(text=(CODE,)))
    fake_server.script("gpt-6.2-sol", Answer(text=(TASKS,)))
    async with open_window() as (window, _services):
        await _ask(window, "Three things")
        graph = window.controller.graph
        by_model = {graph.nodes[c.node_id].model.split(":")[1]: c for c in cards_of(window, "response")}
        math = _summary_at_30(window, by_model["deepseek-flash"])
        # a formula reads as words (its source is what the typeset picture and the exports keep); text
        # outside a formula stays as written
        assert "∫_(−∞)^∞ e^(−x²) dx where" in math and "\\int_{-\\infty} and y_i stay" in math, math
        assert "$" not in math, math
        code = _summary_at_30(window, by_model["claude-sonnet-5-5"])
        assert code == "Doubling: base * 2 ** i is base * 2 ** i for each y_i, not more.", code
        tasks = _summary_at_30(window, by_model["gpt-6.2-sol"])
        assert tasks == "Release checklist ☑ Tests pass ☐ Docs written a quoted note", tasks


async def test_a_failed_card_zoomed_out_says_why(app_env, fake_server):
    async with open_window() as (window, _services):
        window.composer.set_models(["openai:fail-500", "openai:fail-401"])
        send(window, "Hello?")
        graph = window.controller.graph
        await wait_until(
            lambda: len(cards_of(window, "response")) == 2
            and all(not graph.nodes[c.node_id].status.is_live for c in cards_of(window, "response")),
            10,
            "two failed answers",
        )
        for card in cards_of(window, "response"):
            node = graph.nodes[card.node_id]
            assert not node.text and node.error is not None
            summary = _summary_at_30(window, card)
            assert summary and str(node.error.status) in summary, summary
        failed = next(c for c in cards_of(window, "response") if "500" in graph.nodes[c.node_id].model)
        _summary_at_30(window, failed)
        await asyncio.sleep(0.05)
        assert _ink_in_body(window, failed) > 30


async def test_a_search_hit_shows_its_card_readable_and_centred(app_env, fake_server):
    from tests.fakes.server import Answer
    from tests.ui.hands import click_list_item, trigger

    fake_server.script("deepseek-flash", Answer(text=("The Gaussian integral equals the square root of pi.",)))
    async with open_window() as (window, _services):
        await _ask(window, "An integral")
        graph = window.controller.graph
        target = next(c for c in cards_of(window, "response") if "Gaussian" in graph.nodes[c.node_id].text)
        first_session = window.controller.session_id
        # the user left that session zoomed far out, looking elsewhere
        r = target.sceneBoundingRect()
        window.view.set_viewport(r.right() + 3000, r.bottom() + 2000, 0.11)
        await asyncio.sleep(0.3)  # the viewport is saved
        trigger(window, "File/New session")
        assert window.controller.session_id != first_session
        press_keys(window, "Ctrl+F")
        assert window.sidebar.search_edit.hasFocus()
        type_text(window.sidebar.search_edit, "Gaussian")
        lst = window.sidebar.list
        await wait_until(lambda: window.sidebar.showing_hits() and lst.count() >= 1, 5, "the hits")
        hits = [lst.item(i) for i in range(lst.count())]
        hit = next(h for h in hits if h.data(Qt.ItemDataRole.UserRole + 1) == target.node_id)
        click_list_item(lst, hit)
        await asyncio.sleep(0.05)
        assert window.controller.session_id == first_session
        card = window.scene.card(target.node_id)
        assert card is not None and card.isSelected()
        assert window.composer.parents_bar.isVisible()  # the "Following" bar took its height from the canvas
        view = window.view
        vp = view.viewport().rect()
        on_screen = view.mapFromScene(card.sceneBoundingRect()).boundingRect()
        fits = view.zoom() >= 0.7 or (on_screen.width() >= vp.width() - 100 or on_screen.height() >= vp.height() - 100)
        assert fits, (view.zoom(), on_screen, vp)
        assert vp.contains(on_screen), (on_screen, vp)
        centre = on_screen.center()
        assert abs(centre.x() - vp.center().x()) < 8 and abs(centre.y() - vp.center().y()) < 8, (centre, vp)


def _lists(card) -> list[tuple[str, object]]:
    """(item text, list style) of every list item the card's documents hold."""
    out = []
    for doc in card.text_documents():
        block = doc.begin()
        while block.isValid():
            if block.textList() is not None:
                out.append((block.text(), block.textList().format().style()))
            block = block.next()
    return out


async def test_a_task_list_shows_its_boxes_without_bullets(app_env, fake_server):
    from PySide6.QtGui import QTextListFormat

    from tests.fakes.server import Answer

    answer = "Release checklist:\n\n- [x] Tests pass\n- [ ] Docs written\n\nAnd a plain list:\n\n- one\n- two\n"
    fake_server.script("deepseek-flash", Answer(text=(answer,)))
    async with open_window() as (window, _services):
        await _ask(window, "Checklist?")
        graph = window.controller.graph
        card = next(c for c in cards_of(window, "response") if graph.nodes[c.node_id].text == answer)
        await wait_until(lambda: "two" in card.body_text, 5, "the whole answer shown")
        items = dict(_lists(card))
        assert items["☑ Tests pass"] == QTextListFormat.Style.ListStyleUndefined, items
        assert items["☐ Docs written"] == QTextListFormat.Style.ListStyleUndefined, items
        assert items["one"] == QTextListFormat.Style.ListDisc  # a plain list keeps its bullets


async def test_the_rename_dialog_shows_a_long_title_whole(app_env, fake_server):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QInputDialog, QLineEdit

    from tests.ui.hands import choosing, context_menu

    title = "Compare bubble sort and quicksort. Show python code"
    async with open_window() as (window, _services):
        window.controller.rename_session(window.controller.session_id, title)
        await wait_until(lambda: window.sidebar.list.count() and title in window.sidebar.list.item(0).text(), 3)
        seen: list[tuple[int, int, int]] = []

        def read_dialog() -> None:
            dialog = QApplication.activeModalWidget()
            if not isinstance(dialog, QInputDialog):
                QTimer.singleShot(10, read_dialog)
                return
            edit = dialog.findChild(QLineEdit)
            seen.append((dialog.width(), edit.width(), edit.fontMetrics().horizontalAdvance(edit.text())))
            edit.selectAll()
            QTest.keyClicks(edit, "Sorting")
            QTest.keyClick(edit, Qt.Key.Key_Return)

        QTimer.singleShot(10, read_dialog)
        lst = window.sidebar.list
        with choosing("Rename"):
            context_menu(lst.viewport(), lst.visualItemRect(lst.item(0)).center())
        await wait_until(lambda: seen, 5, "the Rename dialog")
        dialog_w, edit_w, text_w = seen[0]
        assert dialog_w >= 420, seen
        assert edit_w > text_w, seen  # the whole title shows
        await wait_until(lambda: "Sorting" in window.sidebar.list.item(0).text(), 3, "renamed")


async def test_the_providers_tab_says_where_each_key_comes_from(app_env, fake_server, monkeypatch):
    from PySide6.QtWidgets import QApplication

    from tests.ui.hands import click_list_item, trigger
    from ui.settings_dialog import SettingsDialog

    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    async with open_window() as (window, _services):
        trigger(window, "File/Settings")
        dialog = next(w for w in QApplication.topLevelWidgets() if isinstance(w, SettingsDialog) and w.isVisible())
        try:
            assert dialog.tabs.tabText(dialog.tabs.currentIndex()) == "Providers"
            lst = dialog.provider_list
            hints = {}
            for pid in ("deepseek", "anthropic"):
                item = next(lst.item(i) for i in range(lst.count()) if lst.item(i).data(Qt.ItemDataRole.UserRole) == pid)
                click_list_item(lst, item)
                assert dialog.current_provider() == pid
                hints[pid] = dialog.key_hint.text()
            assert hints["deepseek"] == "Key from the environment variable DEEPSEEK_API_KEY", hints
            assert hints["anthropic"] == (
                "No key: paste one here and press Save key (kept in the OS keyring), or set ANTHROPIC_API_KEY "
        "(started from the app menu, Triptych reads it from the line ANTHROPIC_API_KEY=… in "
        "~/.config/environment.d/triptych.conf after you log in again)"
            ), hints
            assert not any("Settings → Providers" in h for h in hints.values())  # we are there
        finally:
            dialog.reject()


async def test_ctrl_n_in_an_empty_untitled_session_stays_there(app_env, fake_server):
    async with open_window() as (window, services):
        first = window.controller.session_id
        assert window.controller.session.title == "Untitled" and not window.controller.graph.nodes
        focus(window.composer.edit)
        press_keys(window, "Ctrl+N")
        press_keys(window, "Ctrl+N")
        assert window.controller.session_id == first
        assert len(services.repo.list_sessions()) == 1  # no pile of empty "Untitled · 0 cards"
        assert "empty already" in window.statusBar().currentMessage()
        # with a card in it, Ctrl+N opens a new session
        await _ask(window, "Hello")
        press_keys(window, "Ctrl+N")
        assert window.controller.session_id != first
        assert len(services.repo.list_sessions()) == 2
