"""Every way a user starts a command reaches it with the right arguments: a QAction's `triggered(bool)`
or a button's `clicked(bool)` must not land in a slot's optional parameter (defect 1 of #12: Ctrl+N
passed `False` as the new session's title and crashed with "'bool' object has no attribute 'isascii'")."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.ui import hands
from tests.ui.conftest import open_window


def _sessions(services):
    return services.repo.list_sessions()


def _not_blank(window, title: str) -> None:
    """Give the open session a title: New session stays in an empty untitled one (no pile of them)."""
    window.controller.rename_session(window.controller.session_id, title)


async def test_file_new_session_menu_opens_an_untitled_session(app_env, fake_server):
    async with open_window() as (window, services):
        first = window.controller.session_id
        _not_blank(window, "Notes")
        hands.trigger(window, "File/New session")
        assert window.controller.session_id != first
        assert window.controller.session.title == "Untitled"
        assert window.windowTitle() == "Triptych — Untitled"
        assert len(_sessions(services)) == 2


async def test_ctrl_n_from_the_composer_and_the_canvas_opens_new_sessions(app_env, fake_server):
    async with open_window() as (window, services):
        ids = [window.controller.session_id]
        _not_blank(window, "First")
        hands.focus(window.composer.edit)
        hands.press_keys(window, "Ctrl+N")
        ids.append(window.controller.session_id)
        _not_blank(window, "Second")
        hands.focus(window.view)
        hands.press_keys(window.view, "Ctrl+N")
        ids.append(window.controller.session_id)
        assert len(set(ids)) == 3, ids
        # a new session is for typing: the caret is in the prompt box, so the first keys land there
        hands.press_keys(QApplication.focusWidget(), "H")
        assert window.composer.text().lower() == "h"
        assert [s.title for s in _sessions(services)].count("Untitled") == 1


async def test_sidebar_new_button_opens_a_new_session(app_env, fake_server):
    async with open_window() as (window, services):
        first = window.controller.session_id
        _not_blank(window, "Notes")
        QTest.mouseClick(window.sidebar.new_button, Qt.MouseButton.LeftButton)
        assert window.controller.session_id != first
        assert window.controller.session.title == "Untitled"


async def test_checkable_view_actions_toggle_through_the_menu(app_env, fake_server):
    async with open_window() as (window, _services):
        assert window.view.minimap.isVisible()
        hands.trigger(window, "View/Minimap")
        assert not window.view.minimap.isVisible()
        hands.press_keys(window, "Ctrl+M")
        assert window.view.minimap.isVisible()
        hands.trigger(window, "View/Sessions sidebar")
        assert not window.sidebar.isVisible()
        hands.trigger(window, "View/Sessions sidebar")
        assert window.sidebar.isVisible()
        hands.trigger(window, "View/Context lens")
        assert window.lens.isVisible() and window.composer.lens_button.isChecked()
        hands.trigger(window, "View/Theme/Dark")
        assert window.settings.ui["theme"] == "dark" and window.ui_theme.name == "dark"
        hands.trigger(window, "View/Theme/Light")
        assert window.ui_theme.name == "light"
