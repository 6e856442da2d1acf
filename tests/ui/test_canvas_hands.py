"""The canvas of the real window driven by hand (issue #12): clicks on cards at a zoomed-out view, the
"Following" bar appearing under the canvas, text selection inside a card, overview zoom, keyboard.

Every input here is a real mouse or key event sent to the view's viewport (QTest), at the on-screen
position of what a user would point at.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QPoint, QPointF, QRect, Qt
from PySide6.QtTest import QTest

from tests.ui.conftest import cards_of, open_window, wait_until

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier
CTRL = Qt.KeyboardModifier.ControlModifier


def _node(window, node_id):
    return window.controller.graph.nodes[node_id]


def _answers(window):
    return [c for c in cards_of(window) if _node(window, c.node_id).is_answer]


async def _send(window, text: str, models: list[str] | None = None) -> None:
    """Type `text` into the composer and press Ctrl+Return, as a user does."""
    if models is not None:
        window.composer.set_models(models)
    window.composer.edit.setFocus()
    QTest.keyClicks(window.composer.edit, text)
    QTest.keyClick(window.composer.edit, Qt.Key.Key_Return, CTRL)
    await wait_until(lambda: len(_answers(window)) >= len(window.composer.models()), 5, "the answer cards")


async def _finished(window) -> None:
    await wait_until(
        lambda: all(not _node(window, c.node_id).status.is_live for c in _answers(window)), 15, "answers done"
    )
    window.controller.flush_repaints()


def _screen_rect(view, card) -> QRect:
    return view.mapFromScene(card.sceneBoundingRect()).boundingRect()


def _screen_origins(window) -> dict[str, QPoint]:
    view = window.view
    return {c.node_id: view.mapFromScene(c.pos()) for c in cards_of(window)}


def _body_point(view, card, dy: float = 0.0) -> QPoint:
    """A viewport point on the first line of the card's answer text (not a button, not a link)."""
    body = card.body_rect
    return view.mapFromScene(card.mapToScene(QPointF(body.left() + 30, body.top() + 8 + dy)))


def _empty_point(view) -> QPoint:
    """A viewport point over empty canvas (no card, not the minimap)."""
    vp = view.viewport()
    minimap = view.minimap.geometry() if view.minimap.isVisible() else QRect()
    for y in range(vp.height() - 30, 10, -20):
        for x in range(20, vp.width() - 20, 25):
            p = QPoint(x, y)
            if view._card_at(p) is None and not minimap.adjusted(-8, -8, 8, 8).contains(p):
                return p
    raise AssertionError("no empty spot in the view")


def _click(view, pos: QPoint, mods=NO_MOD) -> None:
    QTest.mouseClick(view.viewport(), LEFT, mods, pos)


# ---------------------------------------------------------------------------------------------- #2, #3
async def _click_each_answer_at_65_percent(window) -> None:
    view = window.view
    view.set_viewport(0, 420, 0.65)
    await asyncio.sleep(0.05)
    undo_count = window.undo_stack.count()
    jumps, shifts = [], []
    for card in _answers(window):
        _click(view, _empty_point(view))  # nothing selected
        await asyncio.sleep(0.05)
        assert window.scene.selected_ids() == []
        pos, screen = QPointF(card.pos()), view.mapFromScene(card.pos())
        origins = _screen_origins(window)
        _click(view, _body_point(view, card))
        await asyncio.sleep(0.05)
        assert window.scene.selected_ids() == [card.node_id]
        assert window.composer.parents_bar.isVisible()  # the "Following 1 card" bar came up...
        if card.pos() != pos:
            jumps.append((pos, card.pos()))
        if view.mapFromScene(card.pos()) != screen or _screen_origins(window) != origins:
            shifts.append(view.mapFromScene(card.pos()) - screen)  # ...and it moved nothing on screen
    assert jumps == [], "clicked cards moved (from, to)"
    assert shifts == [], "the canvas moved under the cursor"
    assert window.undo_stack.count() == undo_count  # no move was recorded either


async def test_clicking_finished_cards_at_65_percent_moves_nothing(app_env, fake_server):
    async with open_window() as (window, _services):
        await _send(window, "Compare fibonacci implementations")
        await _finished(window)
        await _click_each_answer_at_65_percent(window)


async def test_clicking_streaming_cards_at_65_percent_moves_nothing(app_env, fake_server):
    async with open_window() as (window, _services):
        await _send(window, "Tell me a long story", ["deepseek:slow", "anthropic:slow", "openai:slow"])
        await wait_until(
            lambda: all(c.body_text for c in _answers(window)), 5, "text arriving in every card"
        )
        await _click_each_answer_at_65_percent(window)
        assert any(_node(window, c.node_id).status.is_live for c in _answers(window))  # still streaming


async def test_the_following_bar_does_not_shift_the_canvas(app_env, fake_server):
    async with open_window() as (window, _services):
        await _send(window, "What is a monad?")
        await _finished(window)
        view = window.view
        first, second = _answers(window)[:2]
        # a point on the second card, on screen, while nothing is selected
        _click(view, _empty_point(view))
        await asyncio.sleep(0.05)
        spot = view.mapFromScene(second.mapToScene(QPointF(40, 20)))
        _click(view, _body_point(view, first))  # select another card: the bar appears
        await asyncio.sleep(0.05)
        assert window.composer.parents_bar.isVisible()
        assert view.mapFromScene(second.mapToScene(QPointF(40, 20))) == spot
        _click(view, _empty_point(view))  # deselect: the bar goes away
        await asyncio.sleep(0.05)
        assert not window.composer.parents_bar.isVisible()
        assert view.mapFromScene(second.mapToScene(QPointF(40, 20))) == spot
