"""One table of card actions (ui/card_actions.py) feeds a card's buttons, its context menu and the
window's Cards menu: every action of the table is offered on a card (right click) and in the Cards
menu with the table's shortcut, and the Cards menu's QAction acts on the selected cards."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QTimer
from PySide6.QtGui import QGuiApplication, QKeySequence

from app.domain import NodeStatus
from tests.ui import hands
from tests.ui.conftest import open_window, wait_until
from ui.card_actions import CARD_ACTIONS

FAST = ["deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"]


def _answers(window) -> list[str]:
    graph = window.controller.graph
    return [i for i in window.scene.card_ids() if i in graph.nodes and graph.nodes[i].is_answer]


async def _right_click_choosing(window, node_id: str, choice: str) -> list[str]:
    """Right-click the card and choose `choice` in its menu (or close it when there is none such);
    returns the menu's items. The click comes from a Qt timer, as a real one does: the menu's nested
    loop must not run inside this test's asyncio task (its wake-up would be lost)."""
    pos = hands.card_screen_pos(window, node_id)
    items: list[str] = []

    def gesture() -> None:
        with hands.choosing(choice) as seen:
            hands.context_menu(window.view.viewport(), pos)
        items.extend(i.split("\t")[0] for i in seen)

    QTimer.singleShot(0, gesture)
    await wait_until(lambda: items, 10, "the card menu")
    await asyncio.sleep(0.01)
    return items


async def test_every_card_action_is_on_the_card_menu_and_in_the_cards_menu(app_env, fake_server):
    async with open_window() as (window, _services):
        window.composer.set_models(FAST)
        hands.send(window, "Compare these")
        await wait_until(lambda: len(_answers(window)) == 3, 5, "three answers")
        graph = window.controller.graph
        answers = _answers(window)
        await wait_until(lambda: all(graph.nodes[i].status == NodeStatus.DONE for i in answers), 15, "done")
        window.scene.select_only(answers[:2])  # two selected: synthesize and diff are offered
        offered = set(await _right_click_choosing(window, answers[0], "\0nothing"))
        window.composer.set_models(["deepseek:slow"])
        window.scene.select_only([])
        hands.send(window, "Take your time")
        await wait_until(lambda: window.controller.engine.running_count == 1, 5, "a running answer")
        (running,) = [i for i in _answers(window) if window.controller.engine.is_running(i)]
        offered |= set(await _right_click_choosing(window, running, "\0nothing"))

        for action in CARD_ACTIONS:
            # on the card, under the label the table gives it for these cards
            labels = {(action.card_label(graph.nodes[answers[0]], _ctx(2)) or "\0").split("\t")[0],
                      (action.card_label(graph.nodes[running], _ctx(0, True)) or "\0").split("\t")[0]}
            assert labels & offered, (action.id, sorted(offered))
            # in the Cards menu, with its shortcut
            qaction = hands.find_action(window, f"Cards/{action.label}")
            if action.shortcut:
                assert not qaction.shortcut().isEmpty(), action.id
                assert qaction.shortcut().matches(QKeySequence(action.shortcut)) or action.shortcut == "Del"

        # the Cards menu's actions act on the selection
        window.scene.select_only([running])
        hands.trigger(window, "Cards/Stop (selected or all)")
        await wait_until(lambda: graph.nodes[running].status == NodeStatus.STOPPED, 5, "stopped")
        window.scene.select_only([answers[1]])
        hands.trigger(window, "Cards/Copy")
        assert QGuiApplication.clipboard().text() == graph.nodes[answers[1]].text
        hands.trigger(window, "Cards/Collapse / expand")
        assert graph.nodes[answers[1]].collapsed
        before = len(_answers(window))
        hands.trigger(window, "Cards/Retry selected")
        assert len(_answers(window)) == before + 1  # a sibling re-run
        await window.controller.engine.wait()
        window.scene.select_only([answers[2]])
        hands.trigger(window, "Cards/Delete selected cards")
        assert answers[2] not in graph.nodes and window.scene.card(answers[2]) is None
        window.undo_stack.undo()
        assert answers[2] in window.controller.graph.nodes and window.scene.card(answers[2]) is not None
        await asyncio.sleep(0)


def _ctx(selected: int, running: bool = False):
    from ui.card_actions import CardContext

    return CardContext(running=running, selected_answers=selected)


async def test_card_menu_entry_and_card_button_reach_the_same_action(app_env, fake_server):
    async with open_window() as (window, _services):
        window.composer.set_models(FAST[:1])
        hands.send(window, "One answer")
        await wait_until(lambda: len(_answers(window)) == 1, 5, "an answer")
        (answer,) = _answers(window)
        graph = window.controller.graph
        await wait_until(lambda: graph.nodes[answer].status == NodeStatus.DONE, 15, "done")
        window.controller.flush_repaints()
        await _right_click_choosing(window, answer, "Collapse")
        assert graph.nodes[answer].collapsed
        window.undo_stack.undo()
        assert not graph.nodes[answer].collapsed
        window.controller.flush_repaints()
        assert window.scene.card(answer).button_actions()[:2] == ["copy", "retry"]
