"""Small things a user sees at once: scroll bars where nothing needs scrolling, clipped sheets."""

from __future__ import annotations

import asyncio

from PySide6.QtWidgets import QTableWidget

from tests.ui.conftest import open_window, wait_until


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
            assert table.rowCount() == len(SHORTCUTS)
            assert not table.horizontalScrollBar().isVisible(), "the Action column is not clipped"
            assert not table.verticalScrollBar().isVisible(), "every shortcut is visible at once"
        finally:
            sheet.close()
