"""The sweep grid as a user reads it (issue #16, qa2 D3, D5, D6, D10): the judge's scores in the cells,
their mean in the column headers and the judge's cost in the totals; labels at overview zoom (View →
Fit all) and column headers / row labels that stay in view while the user pans through a big grid;
an honest pass-rate notation; what the filters hide (the title's row count, the minimap); the empty
CSV value. What is painted is read from a render of the view (`painted_texts`: the texts the grid's
last paint drew) and from the tooltips the pointer shows."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor
from PySide6.QtTest import QTest

from app.domain import NodeStatus
from app.sweep import SweepDef
from tests.fakes.server import Answer
from tests.ui.conftest import open_window, wait_until
from tests.ui.test_sweep_grid import (
    CL,
    DS,
    _click,
    _grid_on_screen,
    _on_screen,
    _start_from_dialog,
    _stored_sweep,
)

JUDGE = "openai:gpt-6-luna"
GPT = "openai:gpt-6.2-sol"


def _painted(window) -> list[str]:
    """The texts the grid draws on screen now: the view rendered afresh."""
    window.view.viewport().grab()
    return list(window.controller.sweeps.item.painted_texts)


async def _tooltip_of(window, item, index: int) -> str:
    QTest.mouseMove(window.view.viewport(), _on_screen(window, item, item.cell_rect(index)))
    await wait_until(lambda: item.toolTip(), 3, "the cell's tooltip")
    return item.toolTip()


def _fit_all(window) -> None:
    [fit] = [a for a in window.actions() if a.text() == "Fit all"]
    fit.trigger()


async def test_the_judges_scores_show_in_the_cells_the_headers_and_the_totals(app_env, fake_server, tmp_path):
    # the judge scores its first answer; then it answers without a SCORE line (as a corpus fake does)
    fake_server.script(JUDGE.split(":", 1)[1], Answer(text=("SCORE: 8 — clear and correct",), output_tokens=20_000),
                       Answer(text=("A fine answer overall.",), output_tokens=20_000))
    async with open_window() as (window, _services):
        sweeps = await _start_from_dialog(window, tmp_path, ["alpha", "beta"], max_tokens="256",
                                          judge=JUDGE, rubric="be brief")
        grid, item = sweeps.grid, sweeps.item
        assert grid.defn.judge == JUDGE and grid.defn.rubric == "be brief"
        await wait_until(lambda: not sweeps.running, 20, "the run to end")
        await wait_until(lambda: all(c.judged for c in grid.cells), 5, "every cell judged")
        scored = [c for c in grid.cells if c.score is not None]
        assert [c.score for c in scored] == [8] and len(grid.cells) == 4
        unscored = [c for c in grid.cells if c.score is None]
        window.view.set_viewport(item.sceneBoundingRect().left() + 600, item.sceneBoundingRect().top() + 300, 1.0)
        await asyncio.sleep(0.05)
        painted = _painted(window)
        # each cell: its score, or "no score"
        assert painted.count("8/10") == 1 and painted.count("no score") == 3
        # the cell's tooltip: the judge's verdict and reason (or why there is no score)
        tip = await _tooltip_of(window, item, scored[0].index)
        assert "8/10 — clear and correct" in tip and "Judge " in tip and "contains:Answer: passed" in tip
        tip = await _tooltip_of(window, item, unscored[0].index)
        assert "no score" in tip and "SCORE" in tip and "A fine answer overall." in tip
        # the column headers: the mean score, and the judge's cost apart from the answers'
        totals = grid.totals()
        col = scored[0].col
        assert totals[col].mean_score == 8.0 and totals[col].scored == 1
        assert "mean score 8.0/10 (1 scored)" in painted
        assert all(t.judge_cost_usd and t.judge_cost_usd >= 0.0001 for t in totals)
        cost_lines = [t for t in painted if " + judge $" in t]
        assert len(cost_lines) == 3  # two columns and the grid's corner
        overall = grid.overall()
        assert overall.judge_cost_usd == sum(t.judge_cost_usd for t in totals)
        from app.present.money import fmt_cost  # (one cost format: the grid's, focus mode's, the exports')

        assert f"{fmt_cost(overall.cost_usd)} + judge {fmt_cost(overall.judge_cost_usd)}" in cost_lines


async def test_fit_all_shows_names_variants_pass_rates_and_row_labels(app_env, fake_server):
    # 8 rows × 2 prompts × 3 models × 2 temperatures = 16 rows × 6 columns, the last row not run
    defn = SweepDef(templates=["Say {{w}} in {{lang}}", "Sum up {{w}}"], models=[DS, CL, GPT], columns=["w", "lang"],
                    rows=[{"w": f"word {i}" if i != 3 else "", "lang": "en"} for i in range(8)], vars_name="w.csv",
                    variants=[{"temperature": 0.0}, {"temperature": 0.7}], checks=["contains:ok"])
    _stored_sweep(app_env, defn, {i: (f"ok answer {i}", NodeStatus.DONE) for i in range(90)})
    async with open_window() as (window, _services):
        sweeps, item = await _grid_on_screen(window)
        _fit_all(window)
        from ui.canvas.sweep_grid import TEXT_LOD

        assert window.view.zoom() < TEXT_LOD  # the overview: cells are coloured blocks
        painted = _painted(window)
        for name in ("DeepSeek V4.1 Flash", "Claude Sonnet 5.5", "GPT-6.2 Sol"):
            assert name in painted
        assert painted.count("temp=0.0") == 3 and painted.count("temp=0.7") == 3  # (the header's words, shortened)
        assert painted.count("pass 15/15") == 6  # every column; its one cell not run left out for room
        labels = [t for t in painted if t.split(".")[0].isdigit()]  # "7. P1 · w: (empty)…": as far as it shows
        assert len(labels) == 16 and labels[0].startswith("1. P1 · word 0") and labels[-1].startswith("16. P2 ·")
        assert labels[6].startswith("7. P1 · w: (empty)")  # the empty CSV value, named
        assert "Sweep" in painted


async def test_the_column_headers_and_row_labels_stay_in_view_while_panning(app_env, fake_server):
    defn = SweepDef(templates=["Say {{w}}"], models=[DS, CL, GPT], columns=["w"],
                    rows=[{"w": f"word {i}"} for i in range(30)], vars_name="w.csv", variants=[{}, {"temperature": 1.0}])
    _stored_sweep(app_env, defn, {i: (f"ok {i}", NodeStatus.DONE) for i in range(180)})
    async with open_window() as (window, _services):
        sweeps, item = await _grid_on_screen(window)
        view, vp = window.view, window.view.viewport()
        rect = item.sceneBoundingRect()
        view.set_viewport(rect.left() + 700, rect.top() + 400, 1.0)
        await asyncio.sleep(0.05)
        # drag the grid up by 1,200 px and left by 600 (a drag on the grid pans the canvas)
        start = QPoint(vp.width() - 200, vp.height() - 100)
        QTest.mousePress(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, start)
        for k in range(1, 25):
            QTest.mouseMove(vp, start - QPoint(min(k, 12) * 50, k * 50))
            await asyncio.sleep(0.005)
        end = start - QPoint(600, 1200)
        QTest.mouseRelease(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, end)
        top_left = view.mapToScene(QPoint(0, 0))
        assert top_left.y() > rect.top() + item.top + 5 * 96  # the header's own place is far above the view
        assert top_left.x() > rect.left() + 300  # and the row labels' far to its left
        painted = _painted(window)
        assert "DeepSeek V4.1 Flash" in painted and "temperature=1.0" in painted and "pass 30/30 (100%)" in painted
        numbers = [int(t[:-1]) for t in painted if t[:-1].isdigit() and t.endswith(".")]  # the row labels' "12."
        assert len(numbers) >= 5 and min(numbers) > 10 and "word 12" in painted
        # the sticky header is a header: a click on it opens no cell under it
        x_col = vp.width() - 150  # right of the row labels, on a column
        assert view.mapToScene(QPoint(x_col, 0)).x() < rect.right()
        QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x_col, 30))
        await asyncio.sleep(0.1)
        assert window._focus_dialog is None
        # a click below it still opens the cell there
        QTest.mouseClick(vp, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(x_col, 300))
        await wait_until(lambda: window._focus_dialog is not None, 3, "focus mode")
        window._focus_dialog.close()


async def test_the_pass_rate_counts_the_cells_that_ended_and_names_those_not_run(app_env, fake_server):
    defn = SweepDef(templates=["Say {{w}}"], models=[DS, CL], columns=["w"],
                    rows=[{"w": w} for w in ("a", "b", "c", "d", "e", "f", "g", "h")], vars_name="w.csv",
                    checks=["contains:ok"])
    # DeepSeek (even cells): 6 answered and passed, 2 never ran; Claude (odd): 5 passed, 1 failed its check
    answers = {2 * r: ("ok", NodeStatus.DONE) for r in range(6)}
    answers |= {2 * r + 1: ("ok", NodeStatus.DONE) for r in range(5)} | {11: ("no", NodeStatus.DONE)}
    _stored_sweep(app_env, defn, answers)
    async with open_window() as (window, _services):
        sweeps, item = await _grid_on_screen(window)
        painted = _painted(window)
        assert "pass 6/6 (100%) · 2 not run" in painted  # never "pass 100% (6/8)"
        assert "pass 5/6 (83%) · 2 not run" in painted
        assert "pass 11/12 (92%) · 4 not run" in painted  # the corner: the whole grid
        assert not any("(6/8)" in t for t in painted)


async def test_a_filter_says_how_much_it_shows_and_narrows_the_grid_and_the_minimap(app_env, fake_server):
    defn = SweepDef(templates=["Say {{w}}"], models=[DS, CL, GPT], columns=["w"],
                    rows=[{"w": "x"}, {"w": "y"}, {"w": "z"}], vars_name="w.csv", checks=["contains:ok"],
                    variants=[{}, {"temperature": 1.0}])
    _stored_sweep(app_env, defn, {i: ("ok" if i != 7 else "no", NodeStatus.DONE) for i in range(18)})
    async with open_window() as (window, _services):
        sweeps, item = await _grid_on_screen(window)
        assert "Sweep · 3 rows × 6 columns" in _painted(window)
        _click(window, item, item.button_rect("failures"))
        assert "Sweep · 3 rows × 6 columns · 1 of 3 rows shown" in _painted(window)
        _click(window, item, item.button_rect("failures"))
        minimap = window.view.minimap
        await asyncio.sleep(0.3)
        before = _grid_block(minimap)
        width = item.sceneBoundingRect().width()
        _click(window, item, item.button_rect("model"))
        await wait_until(lambda: sweeps.model_menu is not None and sweeps.model_menu.isVisible(), 3, "the model menu")
        [claude] = [a for a in sweeps.model_menu.actions() if a.data() == CL]
        claude.trigger()
        sweeps.model_menu.close()
        assert "Sweep · 3 rows × 6 columns · 2 of 6 columns shown" in _painted(window)
        assert item.sceneBoundingRect().width() < width / 2  # 2 columns drawn, not 6
        await wait_until(lambda: _grid_block(minimap) != before, 3, "the minimap to redraw")
        after = _grid_block(minimap)
        # the grid's block on the minimap: as narrow as the grid now (relative to its height)
        assert after[0] / after[1] < 0.6 * before[0] / before[1]


def _grid_block(minimap) -> tuple[int, int]:
    """(width, height) in pixels of the sweep grid's grey block on the minimap."""
    image = minimap.grab().toImage()
    theme = minimap._view.canvas().style.theme
    grey, base = QColor(theme.muted), QColor(theme.base)
    a = 170 / 255  # the minimap's blocks are drawn at this alpha over its background
    want = tuple(round(getattr(grey, ch)() * a + getattr(base, ch)() * (1 - a)) for ch in ("red", "green", "blue"))
    xs, ys = [], []
    for y in range(image.height()):
        for x in range(image.width()):
            c = image.pixelColor(x, y)
            if all(abs(v - w) <= 3 for v, w in zip((c.red(), c.green(), c.blue()), want, strict=True)):
                xs.append(x)
                ys.append(y)
    assert xs, "no grid block on the minimap"
    return max(xs) - min(xs) + 1, max(ys) - min(ys) + 1


async def test_the_sidebar_counts_a_sweeps_cells_not_its_cards(app_env, fake_server):
    defn = SweepDef(templates=["Say {{w}}"], models=[DS, CL], columns=["w"], rows=[{"w": "x"}, {"w": "y"}, {"w": "z"}],
                    vars_name="w.csv", variants=[{}, {"temperature": 1.0}])
    _stored_sweep(app_env, defn, {0: ("ok", NodeStatus.DONE)})  # 12 cells; 3 cards in the store (sweep, prompt, answer)
    async with open_window() as (window, _services):
        await _grid_on_screen(window)
        items = [window.sidebar.list.item(i).text() for i in range(window.sidebar.list.count())]
        [sweep] = [t for t in items if t.startswith("Sweep: stored")]
        assert "sweep · 12 cells" in sweep and "card" not in sweep
