"""The sweep on the canvas (issue #16): a sweep started from Evaluate → New sweep… runs against the
loopback fake providers and fills a grid (rows = inputs, columns = model × variant) instead of
flooding the canvas with cards; a click on a cell opens its answer in focus mode (Continue on canvas,
Diff with the cell on its left); the header's filters, Cancel all, Re-run failed, and Resume after
a sweep was cut off."""

from __future__ import annotations

import asyncio
import json
from collections import Counter

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.domain import Edge, EdgeRole, Node, NodeKind, NodeStatus, Owner, Session, Timing
from app.sweep import CELL_META, CHECKS_META, SWEEP_META, SweepDef
from storage import open_store
from tests.fakes.server import Answer, HTTPFault, Stall, _conversation
from tests.ui.conftest import cards_of, open_window, wait_until

DS = "deepseek:deepseek-flash"
CL = "anthropic:claude-sonnet-5-5"


def _on_screen(window, item, rect):
    """The view's pixel at the centre of `rect` (item coordinates)."""
    return window.view.mapFromScene(item.mapToScene(rect.center()))


def _click(window, item, rect) -> None:
    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                     _on_screen(window, item, rect))


def _tick_model(dialog, ref: str) -> None:
    """Click the model's row in the dialog's list, then Space ticks it."""
    lst = dialog.models_list
    for i in range(lst.count()):
        item = lst.item(i)
        if item.data(Qt.ItemDataRole.UserRole) == ref:
            lst.scrollToItem(item)
            QTest.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                             lst.visualItemRect(item).center())
            if item.checkState() != Qt.CheckState.Checked:
                QTest.keyClick(lst, Qt.Key.Key_Space)
            assert item.checkState() == Qt.CheckState.Checked
            return
    raise AssertionError(ref)


async def _start_from_dialog(window, tmp_path, rows: list[str], *, temperatures: str = "0, 0.7",
                             check: str = "contains:Answer"):
    vars_file = tmp_path / "words.csv"
    vars_file.write_text("word\n" + "\n".join(rows) + "\n", encoding="utf-8")
    window.new_sweep_action.trigger()
    sweeps = window.controller.sweeps
    dialog = sweeps.dialog
    assert dialog is not None and dialog.isVisible()
    for ref in list(dialog.models()):  # start from no model (the composer's are ticked)
        _untick = [dialog.models_list.item(i) for i in range(dialog.models_list.count())
                   if dialog.models_list.item(i).data(Qt.ItemDataRole.UserRole) == ref][0]
        dialog.models_list.setCurrentItem(_untick)
        QTest.keyClick(dialog.models_list, Qt.Key.Key_Space)
    QTest.keyClicks(dialog.templates_edit, "Say {{word}}")
    QTest.keyClicks(dialog.vars_edit, str(vars_file))
    _tick_model(dialog, DS)
    _tick_model(dialog, CL)
    QTest.keyClicks(dialog.temperature_edit, temperatures)
    QTest.keyClicks(dialog.checks_edit, check)
    await wait_until(lambda: "cells" in dialog.estimate_label.text(), 3, "the cost estimate")
    size = len(rows) * 2 * len(temperatures.split(","))
    assert f"{size} cells" in dialog.estimate_label.text() and "$" in dialog.estimate_label.text()
    assert not dialog.batch_check.isEnabled() or dialog.batch_check.toolTip() == ""
    QTest.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    await wait_until(lambda: sweeps.item is not None, 5, "the sweep's grid")
    return sweeps


def _prompts_sent(server) -> list[tuple[str, str]]:
    return sorted((req.model or "", _conversation(req)[0]) for req in server.requests if req.method == "POST")


async def test_a_sweep_from_the_dialog_fills_a_grid_and_a_cell_opens_in_focus_mode(app_env, fake_server, tmp_path):
    async with open_window() as (window, _services):
        sweeps = await _start_from_dialog(window, tmp_path, ["alpha", "beta", "gamma"])
        grid, item = sweeps.grid, sweeps.item
        assert len(grid.rows) == 3 and len(grid.columns) == 4 and window.windowTitle().startswith("Triptych — Sweep")
        await wait_until(lambda: all(c.status == "done" for c in grid.cells), 20, "every cell answered")
        await wait_until(lambda: not sweeps.running, 5, "the run to end")
        # every cell sent once; the grid stands for the cells: no prompt or answer card floods the canvas
        sent = _prompts_sent(fake_server)
        assert len(sent) == 12 and set(Counter(sent).values()) == {2}  # each model and row: one per temperature
        assert sorted({p for _, p in sent}) == ["Say alpha", "Say beta", "Say gamma"]
        assert cards_of(window, "response") == [] and cards_of(window, "prompt") == []
        assert len(cards_of(window, "sweep")) == 1
        # what a cell shows: its answer, its check, latency and cost; the header's totals
        cell = grid.cell_at(1, 3)
        assert cell.passed and cell.preview.startswith("## Answer from") and cell.checks == [("contains:Answer", True)]
        assert cell.latency_ms is not None
        totals = grid.totals()
        assert [t.pass_rate for t in totals] == [1.0] * 4 and all(t.p50_ms is not None for t in totals)
        assert "12/12 done" in item.progress_text and "0 failed" in item.progress_text
        assert item.button_rect("resume") is None and item.button_rect("rerun") is None  # nothing left to run
        # the grid is on screen, and a click on a cell opens its answer in focus mode
        rect = item.cell_rect(cell.index)
        assert window.view.viewport().rect().contains(_on_screen(window, item, rect))
        _click(window, item, rect)
        await wait_until(lambda: window._focus_dialog is not None, 3, "focus mode")
        dlg = window._focus_dialog
        assert dlg.node_id == cell.answer_id and "Answer from" in dlg.browser.toPlainText()
        # Diff against the cell on its left
        from PySide6.QtWidgets import QPushButton

        from ui.views import DiffDialog

        diff = dlg.findChild(QPushButton, "SweepDiff")
        assert diff.isEnabled()
        QTest.mouseClick(diff, Qt.MouseButton.LeftButton)
        await wait_until(lambda: any(isinstance(w, DiffDialog) and w.isVisible() for w in QApplication.topLevelWidgets()),
                         3, "the diff")
        for w in QApplication.topLevelWidgets():
            if isinstance(w, DiffDialog):
                w.close()
        # Continue on canvas: the cell's prompt and answer become cards below the grid, followed by the composer
        QTest.mouseClick(dlg.findChild(QPushButton, "SweepContinue"), Qt.MouseButton.LeftButton)
        await wait_until(lambda: len(cards_of(window, "response")) == 1, 3, "the cell's card on the canvas")
        card = cards_of(window, "response")[0]
        assert card.node_id == cell.answer_id and len(cards_of(window, "prompt")) == 1
        assert card.sceneBoundingRect().top() > item.sceneBoundingRect().bottom()  # below the grid, not on it
        assert window.controller.follow_ids() == [cell.answer_id]
        QTest.keyClicks(window.composer.edit, "And in one word?")
        QTest.keyClick(window.composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        await wait_until(lambda: len(cards_of(window, "response")) == 2, 5, "the follow-up's answer")
    # reopened: the continued cell stays on the canvas (it has a follow-up), the others stay in the grid
    async with open_window() as (window, _services):
        await wait_until(lambda: window.controller.sweeps.item is not None, 5, "the grid")
        await wait_until(lambda: len(cards_of(window, "response")) == 2, 5, "the continued cell")
        assert len(cards_of(window, "prompt")) == 2
