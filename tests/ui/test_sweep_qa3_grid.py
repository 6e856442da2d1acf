"""qa3's grid defects (issue #16, N9, N10, N12, N13, N14, N15), through the user's hands: cancelled cells
stay "cancelled" after a reopen and stopped/cancelled cells carry no ✗; the overview's labels at Fit all
with other cards on the canvas; the sessions list's count and titles; the judge's short reason, focus
mode's status word and cost; the New sweep dialog that does not move under the mouse; cut header text."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.fakes.server import Answer
from tests.ui.conftest import open_window, wait_until
from tests.ui.test_sweep_grid import _click, _grid_on_screen, _start_from_dialog, _stored_sweep
from tests.ui.test_sweep_grid_view import _painted


def _slow(req):
    return Answer(text=tuple(f"Answer {i} " for i in range(200)), delay=0.05)


async def test_cancelled_cells_stay_cancelled_after_a_reopen_and_no_cell_not_checked_shows_a_cross(
        app_env, fake_server, tmp_path):
    """N9: after a reopen the never-started cells said "queued"; stopped and cancelled cells showed red ✗✗."""
    fake_server.script("deepseek-flash", _slow)
    fake_server.script("claude-sonnet-5-5", _slow)
    async with open_window() as (window, _services):
        sweeps = await _start_from_dialog(window, tmp_path, ["one", "two", "three"], max_tokens="256",
                                          concurrency=1, check="contains:zzz")
        item = sweeps.item
        await wait_until(lambda: sum(c.status == "streaming" and bool(c.preview) for c in sweeps.grid.cells) == 2,
                         5, "two cells streaming")
        await wait_until(lambda: item.button_rect("cancel") is not None, 3, "Cancel all")
        _click(window, item, item.button_rect("cancel"))
        await wait_until(lambda: not sweeps.running, 5, "the sweep to stop")
        assert sorted(c.status for c in sweeps.grid.cells) == ["cancelled"] * 4 + ["stopped"] * 2
        session_id = window.controller.session.id
    async with open_window() as (window, _services):
        if window.controller.session is None or window.controller.session.id != session_id:
            window.controller.open_session(session_id)
        sweeps, item = await _grid_on_screen(window)
        cells = sweeps.grid.cells
        assert sorted(c.status for c in cells) == ["cancelled"] * 4 + ["stopped"] * 2
        window.view.set_viewport(item.sceneBoundingRect().left() + 600, item.sceneBoundingRect().top() + 300, 1.0)
        await asyncio.sleep(0.05)
        painted = _painted(window)
        assert painted.count("cancelled") == 4 and painted.count("stopped") == 2 and "queued" not in painted
        assert "✗" not in painted  # their checks judged no finished answer: no failure marks
        assert item.button_text("resume") == "Resume sweep (6 cells left)"
