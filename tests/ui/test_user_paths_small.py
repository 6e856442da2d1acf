"""Small things a new user trips on in the first minutes (issue #12), each through the user's hands:
following many cards never widens the window, a click on the send mode leaves the keyboard in the
prompt, dialogs fit a small screen, and the sidebar counts "1 card"."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QRect, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import cards_of, open_window, wait_until
from tests.ui.test_composer_window import _click_card, _type_and_send

LEFT = Qt.MouseButton.LeftButton


async def test_following_every_card_never_widens_the_window(app_env, fake_server):
    async with open_window() as (window, _services):
        await _type_and_send(window, "First question")
        await _type_and_send(window, "Second question")
        width = window.width()
        window.view.setFocus(Qt.FocusReason.TabFocusReason)
        QTest.keyClick(window.view, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)  # select all cards
        await asyncio.sleep(0.05)
        label = window.composer.parents_label
        assert len(window.scene.selected_ids()) == len(cards_of(window)) >= 8
        assert "Following 6 cards" in label.text() and label.isVisible()  # the six answers
        assert window.width() == width
        assert window.composer.send_button.isVisible()
        send = window.composer.send_button
        assert window.rect().contains(QRect(send.mapTo(window, send.rect().topLeft()), send.size()))


async def _follow_two_answers(window) -> None:
    """A fan-out, its first two answers clicked (the second with Ctrl), the keyboard in the prompt."""
    await _type_and_send(window, "First question")
    answers = cards_of(window, "response")
    _click_card(window, answers[0])
    _click_card(window, answers[1], Qt.KeyboardModifier.ControlModifier)
    window.composer.focus_prompt()


async def test_clicking_the_send_mode_leaves_the_keyboard_in_the_prompt(app_env, fake_server):
    async with open_window() as (window, _services):
        await _follow_two_answers(window)
        QTest.mouseClick(window.composer.shared_button, LEFT)
        QTest.keyClicks(QApplication.focusWidget(), "Which is right?")
        assert window.composer.text() == "Which is right?"


async def test_dialogs_fit_a_small_screen(app_env, fake_server):
    """The offscreen screen is 800 × 800: the comparison table (1200 × 780) and the settings dialog
    (760 × 540) must fit in it, with their buttons on screen."""
    async with open_window() as (window, _services):
        await _type_and_send(window, "First question")
        _click_card(window, cards_of(window, "response")[0])
        area = window.screen().availableGeometry()
        window.view.setFocus()
        QTest.keyClick(window.view, Qt.Key.Key_T, Qt.KeyboardModifier.ControlModifier)  # Comparison table
        await wait_until(lambda: QApplication.activeWindow() not in (None, window), 3, "the table")
        dialogs = [QApplication.activeWindow()]
        dialogs[0].close()
        settings = next(a for a in window.menuBar().actions()[0].menu().actions() if a.text() == "Settings…")
        settings.trigger()  # File → Settings…
        await wait_until(lambda: QApplication.activeModalWidget() is not None, 3, "the settings")
        dialogs.append(QApplication.activeModalWidget())
        for dlg in dialogs:
            assert dlg.width() <= area.width() and dlg.height() <= area.height(), (dlg, dlg.size(), area)
        dialogs[1].reject()


async def test_the_sidebar_counts_one_card_in_the_singular(app_env, fake_server):
    async with open_window() as (window, _services):
        window.composer.set_models(["deepseek:deepseek-flash"])
        await _type_and_send(window, "Hello")
        items = [window.sidebar.list.item(i).text() for i in range(window.sidebar.list.count())]
        assert any("· 2 cards" in t for t in items), items
        _click_card(window, cards_of(window, "response")[0])
        window.view.setFocus()
        QTest.keyClick(window.view, Qt.Key.Key_Delete)  # Edit → Delete selected cards
        await wait_until(lambda: len(cards_of(window)) == 1, 3, "the answer deleted")
        items = [window.sidebar.list.item(i).text() for i in range(window.sidebar.list.count())]
        assert any("· 1 card" in t and "cards" not in t for t in items), items


async def test_alt_s_and_alt_l_choose_the_mode_and_typing_goes_on(app_env, fake_server):
    async with open_window() as (window, _services):
        await _follow_two_answers(window)
        composer = window.composer
        QTest.keyClick(composer.edit, Qt.Key.Key_S, Qt.KeyboardModifier.AltModifier)
        assert composer.send_button.text() == "Send to 3 models"  # shared: every chip
        QTest.keyClicks(QApplication.focusWidget(), "Which?")
        QTest.keyClick(composer.edit, Qt.Key.Key_L, Qt.KeyboardModifier.AltModifier)
        assert composer.send_button.text() == "Continue 2 lanes"
        assert composer.text() == "Which?"


async def test_send_shows_its_whole_label_when_there_is_room(app_env, fake_server):
    from PySide6.QtWidgets import QPushButton

    async with open_window() as (window, _services):
        send = window.composer.send_button
        for width in (700, 1250, 760, 1250):
            window.resize(width, 760)
            await asyncio.sleep(0.05)
            shown = QPushButton.text(send)  # what the button paints
            if width >= 1250:
                assert shown == send.text() == "Send to 3 models", shown
            else:
                assert window.width() <= width + 1
        window.composer.set_models(["anthropic:claude-sonnet-5-5"])
        await asyncio.sleep(0.05)
        assert QPushButton.text(send) == "Send to Claude Sonnet 5.5"


async def test_the_minimap_stays_small_on_a_small_window(app_env, fake_server):
    async with open_window() as (window, _services):
        await _type_and_send(window, "First question")
        minimap, viewport = window.view.minimap, window.view.viewport()
        window.resize(760, 600)
        await asyncio.sleep(0.05)
        assert minimap.isVisible()
        assert minimap.width() <= max(120, viewport.width() * 0.2) + 1, (minimap.width(), viewport.width())
        assert viewport.rect().contains(minimap.geometry())
        window.resize(1400, 900)
        await asyncio.sleep(0.05)
        assert minimap.width() == 200 and viewport.rect().contains(minimap.geometry())
