"""A sweep cell opened from its grid (issue #16, qa2 D3/D4/D8): focus mode names the cell (row input,
template, variant, checks, judge score) and ←/→ go to the neighbouring cells; the diff with the cell on
the left names each side's column and row and says when the texts are identical; and the cards taken
out with Continue on canvas stay on the canvas, where they were put, after the app restarts."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QPushButton

from app.domain import NodeStatus
from app.sweep import SweepDef
from tests.ui.conftest import cards_of, open_window, wait_until
from tests.ui.test_sweep_grid import CL, DS, _click, _grid_on_screen, _stored_sweep


async def _focus_on_cell(window, item, index: int):
    _click(window, item, item.cell_rect(index))
    await wait_until(lambda: window._focus_dialog is not None and window._focus_dialog.isVisible(), 3, "focus mode")
    return window._focus_dialog


async def test_cards_continued_from_a_cell_stay_on_the_canvas_after_a_restart(app_env, fake_server):
    defn = SweepDef(templates=["Say {{w}}"], models=[DS, CL], columns=["w"], rows=[{"w": "a"}, {"w": "b"}],
                    vars_name="w.csv")
    _stored_sweep(app_env, defn, {i: (f"ok {i}", NodeStatus.DONE) for i in range(4)})
    async with open_window() as (window, _services):
        sweeps, item = await _grid_on_screen(window)
        answer_id = sweeps.grid.cells[1].answer_id
        dlg = await _focus_on_cell(window, item, 1)
        QTest.mouseClick(dlg.findChild(QPushButton, "SweepContinue"), Qt.MouseButton.LeftButton)
        await wait_until(lambda: len(cards_of(window, "response")) == 1, 3, "the cell's card on the canvas")
        [card] = cards_of(window, "response")
        [prompt] = cards_of(window, "prompt")
        assert card.node_id == answer_id
        where = {c.node_id: c.pos() for c in (card, prompt)}
        # one undoable step: Undo gives the cell back to the grid, Redo takes it out again
        assert window.undo_action.text() == "Undo Continue on canvas"
        window.undo_action.trigger()
        assert cards_of(window, "response") == [] and cards_of(window, "prompt") == []
        window.redo_action.trigger()
        await wait_until(lambda: len(cards_of(window, "response")) == 1, 3, "the cell's card back on the canvas")
        [card] = cards_of(window, "response")
        [prompt] = cards_of(window, "prompt")
        assert {c.node_id: c.pos() for c in (card, prompt)} == where
        # no follow-up is sent: the user only took the cell out, then quits
    async with open_window() as (window, _services):
        sweeps, item = await _grid_on_screen(window)
        await wait_until(lambda: len(cards_of(window, "response")) == 1, 3, "the continued cell after the restart")
        [card] = cards_of(window, "response")
        [prompt] = cards_of(window, "prompt")
        assert card.node_id == answer_id
        assert {c.node_id: c.pos() for c in (card, prompt)} == where  # where they were put
        assert card.sceneBoundingRect().top() > item.sceneBoundingRect().bottom()
        # Fit all takes them in
        window.view.set_viewport(-5000, -5000, 2.0)
        [fit] = [a for a in window.actions() if a.text() == "Fit all"]
        fit.trigger()
        shown = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
        assert shown.contains(card.sceneBoundingRect())
        # the other cells stay in the grid
        assert sweeps.grid.cells[0].answer_id not in {c.node_id for c in cards_of(window)}
        # another cell taken out after the restart goes beside the first, not on top of it
        window.view.set_viewport(0, 0, 1.0)
        sweeps.show_grid()
        dlg = await _focus_on_cell(window, item, 2)
        QTest.mouseClick(dlg.findChild(QPushButton, "SweepContinue"), Qt.MouseButton.LeftButton)
        await wait_until(lambda: len(cards_of(window, "response")) == 2, 3, "the second cell's card")
        second = next(c for c in cards_of(window, "response") if c.node_id != answer_id)
        assert not second.sceneBoundingRect().intersects(card.sceneBoundingRect())
