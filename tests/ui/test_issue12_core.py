"""Issue #12 (smaller defects found in the real window): what a card says and offers, and the names
and marks the comparison table shows, through the user's hands."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMenu

from tests.fakes.server import Answer
from tests.ui.conftest import cards_of, open_window, wait_until

CL, DS, GP = "anthropic:claude-sonnet-5-5", "deepseek:deepseek-flash", "openai:gpt-6.2-sol"
LLAMA = "openrouter:meta/llama-slow"


def _node(window, card):
    return window.controller.graph.nodes[card.node_id]


def _answer(window, model: str):
    return next(c for c in cards_of(window) if _node(window, c).model == model)


def _ended(window) -> bool:
    answers = [c for c in cards_of(window) if _node(window, c).is_answer]
    return bool(answers) and all(
        not _node(window, c).status.is_live and "stop" not in c.button_actions() for c in answers
    )


def _send(window, text: str) -> None:
    QTest.keyClicks(window.composer.edit, text)
    QTest.keyClick(window.composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def _click(window, card, action: str | None = None) -> None:
    """Click a card's button (or, without `action`, its header) at its on-screen position."""
    if action is None:
        local = card.boundingRect().topLeft() + type(card.boundingRect().topLeft())(60, 20)
    else:
        rect = card.button_rect(action)
        assert rect is not None, f"{action} not among {card.button_actions()}"
        local = rect.center()
    window.view.centerOn(card.mapToScene(local))
    pos = window.view.mapFromScene(card.mapToScene(local))
    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)


def _menu_action(window, text: str):
    for menu in window.menuBar().findChildren(QMenu):
        for action in menu.actions():
            if action.text().replace("&", "") == text:
                return action
    raise AssertionError(f"no menu action {text!r}")


def _error_text(card) -> str:
    return "\n".join(doc.toPlainText() for doc in card.text_documents())


async def test_a_model_without_a_key_says_so_and_nothing_is_sent(app_env, fake_server, monkeypatch):
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    async with open_window() as (window, _services):
        window.composer.set_models([CL, DS])
        _send(window, "Hello?")
        await wait_until(lambda: len(cards_of(window, "response")) == 2 and _ended(window), 10, "two answers")
        claude = _answer(window, CL)
        text = _error_text(claude)
        assert "No API key for Anthropic — add one in Settings." in text, text
        assert "rejected" not in text
        assert fake_server.requests_for("claude-sonnet-5-5") == []
        assert fake_server.requests_for("deepseek-flash")  # the other model was asked


async def test_an_error_card_without_text_offers_retry_not_continue(app_env, fake_server):
    async with open_window() as (window, _services):
        window.composer.set_models(["openai:fail-500", DS])
        _send(window, "Hello?")
        await wait_until(lambda: len(cards_of(window, "response")) == 2 and _ended(window), 10, "two answers")
        failed = _answer(window, "openai:fail-500")
        assert not _node(window, failed).text
        assert "retry" in failed.button_actions()
        assert "continue" not in failed.button_actions()
        # its menu (the ⋯ button) offers Retry, and nothing that builds on its (missing) answer
        seen: list[list[str]] = []

        def read_menu() -> None:
            popup = QApplication.activePopupWidget()
            if popup is None:
                QTimer.singleShot(20, read_menu)
                return
            seen.append([a.text() for a in popup.actions() if a.text()])
            popup.close()

        QTimer.singleShot(20, read_menu)
        _click(window, failed, "menu")
        await wait_until(lambda: seen, 5, "the card menu")
        entries = seen[0]
        assert any(e.startswith("Retry") for e in entries), entries
        assert not any(e.startswith(("Continue", "Branch", "Use as shared")) for e in entries), entries
        # an answer with text still offers them
        assert "continue" in _answer(window, DS).button_actions()


async def test_one_name_per_model_and_a_cheapest_mark_any_font_shows(app_env, fake_server):
    async with open_window() as (window, _services):
        window.composer.set_models([LLAMA, DS])
        _send(window, "Name three rivers")
        await wait_until(lambda: len(cards_of(window, "response")) == 2 and _ended(window), 10, "two answers")
        llama, ds = _answer(window, LLAMA), _answer(window, DS)
        assert llama.title_text == "Llama Slow"  # not its id "meta/llama-slow"
        assert window.catalog.display_name(LLAMA) == "Llama Slow"
        _click(window, ds)  # select it
        assert window.scene.selected_ids() == [ds.node_id]
        tables = []
        window.controller.table_requested.connect(lambda pid: tables.append(pid))
        _menu_action(window, "Comparison table…").trigger()
        await wait_until(lambda: tables, 5, "the comparison table")
        await asyncio.sleep(0)
        from ui.views import ComparisonTableDialog

        dialog = next(d for d in window.findChildren(ComparisonTableDialog) if d.isVisible())
        table = dialog.table
        rows = {table.item(r, 0).text(): [table.item(r, c).text() for c in range(table.columnCount())]
                for r in range(table.rowCount())}
        assert set(rows) == {llama.title_text, ds.title_text}
        cheapest = [name for name, cells in rows.items() if "cheapest" in cells[8]]
        assert len(cheapest) == 1, rows  # marked in words
        shown = " ".join(" ".join(cells) for cells in rows.values()) + " ".join(
            label.text() for label in dialog.findChildren(type(dialog.totals_label)))
        assert "💲" not in shown  # an emoji a desktop without an emoji font draws as an empty box
        dialog.close()


async def test_stopped_answers_keep_the_usage_reported_and_estimate_the_rest(app_env, fake_server):
    for model in ("claude-sonnet-5-5", "gpt-6.2-sol"):
        fake_server.script(model, Answer(text=["First ", "words ", "and more"], stop_after_text=2, end="stall",
                                         input_tokens=480))
    async with open_window() as (window, _services):
        window.composer.set_models([CL, GP])
        _send(window, "Tell me a long story")
        await wait_until(
            lambda: len(cards_of(window, "response")) == 2
            and all("words" in c.body_text for c in cards_of(window, "response")), 10, "some text in each")
        _menu_action(window, "Stop all streams").trigger()
        await wait_until(lambda: _ended(window), 10, "both stopped")
        claude, gpt = _answer(window, CL), _answer(window, GP)
        # Claude said its input tokens when the answer started: kept, shown
        assert "in 480" in claude.metrics_text, claude.metrics_text
        assert _node(window, claude).usage.input == 480
        # the output count never came: an estimate, marked as one, never stored as reported
        for card in (claude, gpt):
            assert "(estimated)" in card.metrics_text and "out ~" in card.metrics_text, card.metrics_text
            assert _node(window, card).usage.output is None
        await wait_until(lambda: "2 answers without usage" in window.totals_label.text(), 5, "honest sums")
