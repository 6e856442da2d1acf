"""The canvas of the real window driven by hand (issue #12): clicks on cards at a zoomed-out view, the
"Following" bar appearing under the canvas, text selection inside a card, overview zoom, keyboard.

Every input here is a real mouse or key event sent to the view's viewport (QTest), at the on-screen
position of what a user would point at.
"""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QPoint, QPointF, QRect, QRectF, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.ui import hands
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
        await wait_until(lambda: all(c.body_text for c in _answers(window)), 5, "text arriving in every card")
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


# ---------------------------------------------------------------------------------------------- #11
def _double_click(view, pos: QPoint) -> None:
    hands.double_click(view.viewport(), pos)


def _drag(view, start: QPoint, end: QPoint, steps: int = 6) -> None:
    vp = view.viewport()
    QTest.mousePress(vp, LEFT, NO_MOD, start)
    for i in range(1, steps + 1):
        QTest.mouseMove(vp, start + (end - start) * (i / steps))
    QTest.mouseRelease(vp, LEFT, NO_MOD, end)


async def test_double_click_selects_a_word_and_ctrl_c_copies_it(app_env, fake_server):
    from PySide6.QtWidgets import QApplication

    async with open_window() as (window, _services):
        await _send(window, "Compare fibonacci implementations")
        await _finished(window)
        view = window.view
        card = _answers(window)[0]
        QApplication.clipboard().setText("")
        # the answer starts with the heading "Answer from <model>": double-click its first word
        _double_click(view, _body_point(view, card, dy=4))
        await asyncio.sleep(0.05)
        assert view.hasFocus()
        assert window.scene.selected_ids() == [card.node_id]
        assert card.selected_text() == "Answer"
        assert window._focus_dialog is None
        QTest.keyClick(view, Qt.Key.Key_C, CTRL)
        assert QApplication.clipboard().text() == "Answer"
        # Esc ends the selection (and stops nothing)
        QTest.keyClick(view, Qt.Key.Key_Escape)
        assert not card.has_text_selection


async def test_drag_in_a_selected_cards_body_selects_text_and_the_header_still_moves_it(app_env, fake_server):
    from PySide6.QtWidgets import QApplication

    async with open_window() as (window, services):
        await _send(window, "Compare fibonacci implementations")
        await _finished(window)
        view = window.view
        card = _answers(window)[1]
        _click(view, _body_point(view, card))  # select the card
        await asyncio.sleep(0.05)
        assert window.scene.selected_ids() == [card.node_id]
        pos = QPointF(card.pos())
        undo_count = window.undo_stack.count()
        # drag from the start of the heading over the next lines of text
        line = card.body_rect
        start = view.mapFromScene(card.mapToScene(QPointF(line.left() + 1, line.top() + 6)))
        end = view.mapFromScene(card.mapToScene(QPointF(line.left() + 120, line.top() + 52)))
        _drag(view, start, end)
        await asyncio.sleep(0.05)
        assert card.pos() == pos and window.undo_stack.count() == undo_count  # the card did not move
        text = card.selected_text()
        assert text.startswith("Answer from ") and "\n" in text and len(text) > 25, text
        QApplication.clipboard().setText("")
        QTest.keyClick(view, Qt.Key.Key_C, CTRL)
        assert QApplication.clipboard().text() == text
        # a click elsewhere ends it
        _click(view, _empty_point(view))
        await asyncio.sleep(0.05)
        assert not card.has_text_selection

        # a drag on the header still moves the card, and is one undoable move
        header = view.mapFromScene(card.mapToScene(QPointF(card.card_width / 2, 14)))
        _drag(view, header, header + QPoint(80, 50))
        await asyncio.sleep(0.05)
        assert card.pos() != pos and not card.has_text_selection
        assert window.undo_stack.undoText() == "Move card"
        stored = services.repo.get_node(card.node_id)
        assert (stored.x, stored.y) == (card.pos().x(), card.pos().y())


# ---------------------------------------------------------------------------------------------- #12
def _ink_rows(image, rect: QRect) -> list[bool]:
    """Per pixel row of `rect`: does it hold dark (text) pixels?"""
    from PySide6.QtGui import QColor

    rows = []
    for y in range(max(rect.top(), 0), min(rect.bottom(), image.height() - 1) + 1):
        dark = 0
        for x in range(max(rect.left(), 0), min(rect.right(), image.width() - 1) + 1):
            if QColor(image.pixel(x, y)).lightness() < 110:
                dark += 1
        rows.append(dark >= 2)
    return rows


def _runs(rows: list[bool]) -> list[int]:
    out, n = [], 0
    for ink in [*rows, False]:
        if ink:
            n += 1
        elif n:
            out.append(n)
            n = 0
    return out


async def test_overview_zoom_shows_each_cards_title_and_first_words(app_env, fake_server):
    from ui.canvas import constants as C

    async with open_window() as (window, _services):
        for text in ("What is a monad?", "Explain the CAP theorem", "Rust or Go for a CLI?"):
            await _send(window, text)
            await _finished(window)
        view = window.view
        view.setFocus()
        QTest.keyClick(view, Qt.Key.Key_0, CTRL)  # View → Fit all
        while view.zoom() > 0.3:  # the overview zooms users reported (19–39 %)
            QTest.keyClick(view, Qt.Key.Key_Minus, CTRL)
        assert view.zoom() < C.LOD_TEXT_MIN  # the cards are drawn zoomed out, not as full text
        await asyncio.sleep(0.05)
        image = view.grab().toImage()
        shown = [c for c in _answers(window) if view.visible_scene_rect().contains(c.sceneBoundingRect())]
        assert len(shown) >= 3
        for card in shown:
            rect = _screen_rect(view, card)
            # below the title line (~24 px), inside the stripe and the padding: the answer's first words
            top = 26
            body = rect.adjusted(10, top + 4, -6, -6)
            runs = _runs(_ink_rows(image, body))
            assert len(runs) >= 2, f"no lines of text on a zoomed-out card ({runs})"
            assert max(runs) >= 8, f"text too small to read on screen: {max(runs)} px"
            title = _runs(_ink_rows(image, QRect(rect.left() + 8, rect.top() + 2, rect.width() - 24, top)))
            assert title and max(title) >= 8, f"no legible title line ({title})"


async def test_a_fan_out_keeps_the_new_cards_readable(app_env, fake_server):
    async with open_window() as (window, _services):  # 1400 × 900
        view = window.view
        for text in ("What is a monad?", "Explain the CAP theorem"):
            before = {c.node_id for c in cards_of(window)}
            await _send(window, text)
            new = [c for c in cards_of(window) if c.node_id not in before]
            assert len(new) == 4  # the prompt and three answers
            assert view.zoom() >= 0.7, f"zoomed out to {view.zoom():.2f}"
            visible = view.visible_scene_rect()
            for card in new:  # every new card's header is on screen
                header = card.mapRectToScene(QRectF(0, 0, card.card_width, 40))
                assert visible.contains(header), f"{card} is off screen"
            await _finished(window)
        # five answers are wider than the view at 70 %: it scrolls to their start instead of zooming out
        before = {c.node_id for c in cards_of(window)}
        five = [
            "deepseek:deepseek-flash",
            "deepseek:other",
            "anthropic:claude-sonnet-5-5",
            "openai:gpt-6.2-sol",
            "openai:other",
        ]
        await _send(window, "And with five models?", five)
        new = [c for c in cards_of(window) if c.node_id not in before]
        assert len(new) == 6 and view.zoom() >= 0.7, f"zoomed out to {view.zoom():.2f}"
        first = min((c for c in new if _node(window, c.node_id).is_answer), key=lambda c: c.pos().x())
        header = first.mapRectToScene(QRectF(0, 0, first.card_width, 40))
        assert view.visible_scene_rect().contains(header)  # the first lane's answer, from its top
        await _finished(window)


# ---------------------------------------------------------------------------------------------- #9
async def test_keyboard_reaches_the_canvas_and_moves_between_cards(app_env, fake_server):
    from PySide6.QtWidgets import QApplication

    async with open_window() as (window, _services):
        await _send(window, "What is a monad?")
        await _finished(window)
        view = window.view
        assert QApplication.focusWidget() is window.composer.edit  # after sending, the prompt has focus
        window.scene.clearSelection()
        # Shift+Tab from the prompt: the canvas above it, no mouse
        QTest.keyClick(window.composer.edit, Qt.Key.Key_Backtab, Qt.KeyboardModifier.ShiftModifier)
        assert QApplication.focusWidget() is view
        QTest.keyClick(view, Qt.Key.Key_Right)  # nothing selected yet: the card nearest the centre
        first = window.scene.selected_ids()
        assert len(first) == 1
        answers = sorted(_answers(window), key=lambda c: c.pos().x())
        QTest.keyClick(view, Qt.Key.Key_Left)
        QTest.keyClick(view, Qt.Key.Key_Left)
        assert window.scene.selected_ids() == [answers[0].node_id]  # the leftmost answer
        QTest.keyClick(view, Qt.Key.Key_Right)
        assert window.scene.selected_ids() == [answers[1].node_id]
        QTest.keyClick(view, Qt.Key.Key_Up)  # the prompt above
        assert _node(window, window.scene.selected_ids()[0]).kind.value == "prompt"
        QTest.keyClick(view, Qt.Key.Key_A, CTRL)  # Edit → Select all cards
        assert sorted(window.scene.selected_ids()) == sorted(c.node_id for c in cards_of(window))
        # Tab goes back to the prompt
        QTest.keyClick(view, Qt.Key.Key_Tab)
        assert QApplication.focusWidget() is window.composer.edit


async def test_with_several_cards_selected_a_body_drag_still_moves_them_all(app_env, fake_server):
    async with open_window() as (window, _services):
        await _send(window, "What is a monad?")
        await _finished(window)
        view = window.view
        a, b = _answers(window)[:2]
        _click(view, _body_point(view, a))
        _click(view, _body_point(view, b), CTRL)  # Ctrl+click adds a card
        assert sorted(window.scene.selected_ids()) == sorted([a.node_id, b.node_id])
        pa, pb = QPointF(a.pos()), QPointF(b.pos())
        start = _body_point(view, b, dy=30)
        _drag(view, start, start + QPoint(60, 40))
        await asyncio.sleep(0.05)
        assert a.pos() != pa and b.pos() - pb == a.pos() - pa  # both moved together
        assert not b.has_text_selection
        assert window.undo_stack.undoText() == "Move 2 cards"


async def test_a_card_whose_menu_took_the_release_does_not_follow_the_next_wheel(app_env, fake_server):
    """On X11 a right press opens the card's menu at once and the menu gets the release: the card
    must not stay grabbed, or the move Qt replays after a zoom drags it across the canvas (issue #12)."""
    from PySide6.QtGui import QContextMenuEvent

    async with open_window() as (window, _services):
        await _send(window, "Compare fibonacci implementations")
        await _finished(window)
        card = _answers(window)[1]
        vp = window.view.viewport()
        pos = window.view.mapFromScene(card.sceneBoundingRect().center())
        before = {c.node_id: c.pos() for c in window.scene.cards()}
        with hands.auto_dismiss():  # the user presses Escape on the menu
            QTest.mousePress(vp, Qt.MouseButton.RightButton, NO_MOD, pos)
            QApplication.sendEvent(vp, QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, vp.mapToGlobal(pos)))
        # (no release: the menu had it)
        hands.wheel(window, pos + QPoint(-40, 30), -2)
        hands.wheel(window, pos + QPoint(25, -10), 1)
        try:
            assert window.scene.mouseGrabberItem() is None
            assert {c.node_id: c.pos() for c in window.scene.cards()} == before
        finally:  # QTest keeps the button held for the next test otherwise
            QTest.mouseRelease(vp, Qt.MouseButton.RightButton, NO_MOD, pos)


async def test_zoomed_out_a_click_anywhere_on_a_card_selects_it(app_env, fake_server):
    """At overview zoom (22 %) a card shows its title and first words, no buttons: a click where a
    button would be (Re-run, Continue, …) selects the card and runs nothing (it used to re-run)."""
    async with open_window() as (window, _services):
        await _send(window, "Compare fibonacci implementations")
        await _finished(window)
        card = _answers(window)[0]
        count = len(window.scene.cards())
        window.view.set_viewport(card.sceneBoundingRect().center().x(), card.sceneBoundingRect().center().y(), 0.22)
        await asyncio.sleep(0.02)
        vp = window.view.viewport()
        for action in card.button_actions():
            window.scene.clearSelection()
            rect = card.button_rect(action)
            pos = window.view.mapFromScene(card.mapToScene(rect.center()))
            QTest.mouseClick(vp, LEFT, NO_MOD, pos)
            await asyncio.sleep(0.02)
            assert window.scene.selected_ids() == [card.node_id], action
            assert len(window.scene.cards()) == count, f"a click on the hidden {action!r} button ran it"


async def test_a_fan_out_lands_clear_of_the_minimap(app_env, fake_server):
    """New cards are brought into the part of the canvas above the minimap (it covered the bottom of
    the right-hand answer)."""
    async with open_window() as (window, _services):
        await _send(window, "Compare fibonacci implementations")
        await _finished(window)
        window.controller.flush_repaints()
        await asyncio.sleep(0.05)
        minimap = window.view.minimap
        assert minimap.isVisible()
        for card in _answers(window):
            on_screen = window.view.mapFromScene(card.sceneBoundingRect()).boundingRect()
            assert not on_screen.intersects(minimap.geometry()), (card, on_screen, minimap.geometry())

