"""A sweep cell opened from its grid (issue #16, qa2 D3/D4/D8): focus mode names the cell (row input,
template, variant, checks, judge score) and ←/→ go to the neighbouring cells; the diff with the cell on
the left names each side's column and row and says when the texts are identical; and the cards taken
out with Continue on canvas stay on the canvas, where they were put, after the app restarts."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton

from app.domain import NodeStatus
from app.sweep import CHECKS_META, SCORE_META, SweepDef
from storage import open_store
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


# Two rows × two templates × two models × two temperatures: cell = 8·row + 4·template + 2·model + variant.
# Row 2 ("beta"), template P1 holds cells 8–11: DeepSeek at 0.0 and 0.7, Claude at 0.0 and 0.7.
TWO_BY_TWO = SweepDef(templates=["Say {{w}}", "Shout {{w}}"], models=[DS, CL], columns=["w"],
                      rows=[{"w": "alpha"}, {"w": "beta"}], vars_name="w.csv",
                      variants=[{"temperature": 0.0}, {"temperature": 0.7}],
                      checks=["contains:ok", "max-ms:300"], judge=CL)


def _store_row_two(home, texts: dict[int, str]) -> None:
    """Cells 8–11 answered; Claude at 0.0 (cell 10) took 3,120 ms (its max-ms check failed) and was
    scored 7/10 by the judge."""
    session_id = _stored_sweep(home, TWO_BY_TWO, {i: (t, NodeStatus.DONE) for i, t in texts.items()})
    repo = open_store(home)
    try:
        graph = repo.load_graph(session_id)
        for node in graph.nodes.values():
            cell = node.meta.get("sweep_cell", {}).get("cell")
            if node.kind.value == "response" and cell == 10:
                node.timing.duration_ms = 3120
                node.meta[CHECKS_META] = [{"check": "contains:ok", "pass": True},
                                          {"check": "max-ms:300", "pass": False}]
                node.meta[SCORE_META] = {"score": 7, "reason": "clear and correct, <b>if</b> terse", "judge": CL}
                repo.update_node(node)
    finally:
        repo.close()


async def test_focus_mode_on_a_cell_says_what_the_cell_is_and_arrows_go_to_the_cells_beside_it(app_env, fake_server):
    _store_row_two(app_env, {8: "ok a", 9: "ok b", 10: "ok c", 11: "ok d"})
    async with open_window() as (window, _services):
        sweeps, item = await _grid_on_screen(window)
        grid = sweeps.grid
        dlg = await _focus_on_cell(window, item, 9)
        assert dlg.node_id == grid.cells[9].answer_id
        detail = dlg.detail_label
        assert detail.isVisible()
        lines = detail.text().splitlines()
        assert lines[0] == "Row 2 of 2 · template P1 of 2 · variant temperature=0.7"
        assert "Input: w = beta" in lines and "Template P1: Say {{w}}" in lines
        assert "✓ contains:ok" in detail.text() and "✓ max-ms:300" in detail.text()
        assert "Judge Claude" in detail.text() and "no score yet" in detail.text()
        assert dlg.position_label.text() == "column 2 of 4"
        # the footer tells what the arrows do, and they do it: → is the next column of the same row
        assert "cell on the left / right in this row" in dlg.hint_label.text()
        await wait_until(lambda: dlg.isActiveWindow(), 3, "focus mode active")
        keys = QApplication.focusWidget()
        QTest.keyClick(keys, Qt.Key.Key_Right)
        assert dlg.node_id == grid.cells[10].answer_id
        text = detail.text()
        assert "variant temperature=0.0" in text.splitlines()[0]
        assert "✓ contains:ok  ✗ max-ms:300 (3,120 ms)" in text
        name = window.catalog.display_name(CL)
        assert f"Judge {name}: 7/10 — clear and correct, <b>if</b> terse" in text  # as written, not markup
        assert detail.textFormat() == Qt.TextFormat.PlainText
        assert dlg.title_label.text().count(name) == 1
        QTest.keyClick(keys, Qt.Key.Key_Right)
        assert dlg.node_id == grid.cells[11].answer_id and dlg.position_label.text().startswith("column 4 of 4")
        QTest.keyClick(keys, Qt.Key.Key_Right)  # the last column: it stays, and says why
        assert dlg.node_id == grid.cells[11].answer_id
        assert "No answer on the right" in window.statusBar().currentMessage()
        for _ in range(3):
            QTest.keyClick(keys, Qt.Key.Key_Left)
        assert dlg.node_id == grid.cells[8].answer_id
        # the buttons follow the cell shown: nothing on the left of the first column
        assert not dlg.findChild(QPushButton, "SweepDiff").isEnabled()
        QTest.keyClick(keys, Qt.Key.Key_Right)
        assert dlg.findChild(QPushButton, "SweepDiff").isEnabled()
        # Continue on canvas takes out the cell shown now
        QTest.mouseClick(dlg.findChild(QPushButton, "SweepContinue"), Qt.MouseButton.LeftButton)
        await wait_until(lambda: len(cards_of(window, "response")) == 1, 3, "the cell's card on the canvas")
        assert cards_of(window, "response")[0].node_id == grid.cells[9].answer_id


def _diffs():
    from ui.views import DiffDialog

    return [w for w in QApplication.topLevelWidgets() if isinstance(w, DiffDialog) and w.isVisible()]


async def test_the_diff_with_the_cell_on_the_left_names_each_sides_column_and_row_and_says_identical(
        app_env, fake_server):
    _store_row_two(app_env, {8: "ok same", 9: "ok same", 10: "ok one", 11: "ok two"})
    async with open_window() as (window, _services):
        sweeps, item = await _grid_on_screen(window)
        ds = window.catalog.display_name(DS)
        dlg = await _focus_on_cell(window, item, 9)
        QTest.mouseClick(dlg.findChild(QPushButton, "SweepDiff"), Qt.MouseButton.LeftButton)
        await wait_until(lambda: len(_diffs()) == 1, 3, "the diff")
        [diff] = _diffs()
        titles = [label.text() for label in diff.title_labels]
        assert titles == [f"{ds} · temperature=0.0 — row 2 · P1: beta", f"{ds} · temperature=0.7 — row 2 · P1: beta"]
        assert diff.note_label.isVisible() and diff.note_label.text() == "The two texts are identical."
        diff.close()
        # two different answers: their titles, no note
        dlg.activateWindow()
        await wait_until(lambda: dlg.isActiveWindow(), 3, "focus mode active again")
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Right)
        QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Right)
        QTest.mouseClick(dlg.findChild(QPushButton, "SweepDiff"), Qt.MouseButton.LeftButton)
        await wait_until(lambda: len(_diffs()) == 1, 3, "the second diff")
        [diff] = _diffs()
        cl = window.catalog.display_name(CL)
        assert [label.text() for label in diff.title_labels] == [
            f"{cl} · temperature=0.0 — row 2 · P1: beta", f"{cl} · temperature=0.7 — row 2 · P1: beta"]
        assert not diff.note_label.isVisible()
        diff.close()
