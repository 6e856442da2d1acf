"""The sweep grid as a user reads it (issue #16, qa2 D3, D5, D6, D10): the judge's scores in the cells,
their mean in the column headers and the judge's cost in the totals; labels at overview zoom and a
header that stays at the top while the user scrolls down; an honest pass-rate notation; what the
filters hide (the title's row count, the minimap); the empty CSV value; the sidebar's sweep count."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.fakes.server import Answer
from tests.ui.conftest import open_window, wait_until
from tests.ui.test_sweep_grid import CL, DS, _start_from_dialog

JUDGE = "openai:gpt-6-luna"


async def test_the_judges_scores_show_in_the_cells_the_header_and_the_totals(app_env, fake_server, tmp_path):
    fake_server.script(JUDGE.split(":", 1)[1], Answer(text=("SCORE: 8 — clear and correct",)))
    async with open_window() as (window, _services):
        sweeps = await _start_from_dialog(window, tmp_path, ["alpha", "beta"], temperatures="0",
                                          judge=JUDGE, rubric="be brief")
        grid, item = sweeps.grid, sweeps.item
        await wait_until(lambda: not sweeps.running, 20, "the run to end")
        print([ (c.status, c.score) for c in grid.cells])
        assert all(c.score == 8 for c in grid.cells)
