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
