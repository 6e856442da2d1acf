"""Small things a user sees at once: scroll bars where nothing needs scrolling, clipped sheets."""

from __future__ import annotations

import asyncio

from tests.ui.conftest import open_window, wait_until


async def test_sidebar_long_title_wraps_without_horizontal_scroll_bar(app_env, fake_server):
    async with open_window() as (window, _services):
        sid = window.controller.session_id
        window.controller.apply_rename(sid, "Compare bubble sort and quicksort. Show python code and a table")
        await wait_until(lambda: "bubble" in window.sidebar.list.item(0).text(), 3, "renamed")
        await asyncio.sleep(0.1)  # let the list lay out its wrapped item
        bar = window.sidebar.list.horizontalScrollBar()
        assert not bar.isVisible(), "a wrapped title needs no horizontal scrolling"
