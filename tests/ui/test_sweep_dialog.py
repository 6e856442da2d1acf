"""The New sweep dialog (qa2 D1, D9), driven by hand: a temperature variant a model does not take is one
column for it (sent once, without a temperature) and the estimate says so; a temperature none of the
chosen models takes is refused before Start; the form is kept for the next sweep (and the next run);
its errors name no CLI flag and start with a capital; the Checks hint does not wrap mid-token; the
rubric takes a sentence; the models that go through a batch API and those that run live at full price
are named."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtTest import QTest

from tests.ui.conftest import open_window, wait_until
from tests.ui.test_sweep_grid import CL, DS, _tick_model

RUBRIC = "The answer names the word it was given, explains it in one plain sentence and invents nothing at all."


def _open_dialog(window, *, clear_models: bool = True):
    window.new_sweep_action.trigger()
    dialog = window.controller.sweeps.dialog
    assert dialog is not None and dialog.isVisible()
    if clear_models:  # start from no model (the composer's are ticked)
        for ref in list(dialog.models()):
            item = next(dialog.models_list.item(i) for i in range(dialog.models_list.count())
                        if dialog.models_list.item(i).data(Qt.ItemDataRole.UserRole) == ref)
            dialog.models_list.setCurrentItem(item)
            QTest.keyClick(dialog.models_list, Qt.Key.Key_Space)
    return dialog


def _vars(tmp_path, rows: list[str]):
    path = tmp_path / "words.csv"
    path.write_text("word\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


async def test_a_temperature_claude_does_not_take_is_one_claude_column_sent_once_without_it(
        app_env, fake_server, tmp_path):
    async with open_window() as (window, _services):
        dialog = _open_dialog(window)
        QTest.keyClicks(dialog.templates_edit, "Say {{word}}")
        QTest.keyClicks(dialog.vars_edit, str(_vars(tmp_path, ["alpha", "beta", "gamma"])))
        _tick_model(dialog, DS)
        _tick_model(dialog, CL)
        QTest.keyClicks(dialog.temperature_edit, "0, 0.7")
        # neither takes a temperature as they are (DeepSeek thinks by default): refused, saying why
        await wait_until(lambda: dialog.error_label.text(), 3, "the refusal")
        assert dialog.error_label.text().startswith(
            "Temperature is accepted by none of the chosen models (Claude Sonnet 5.5 does not take it; "
            "DeepSeek V4.1 Flash takes it only with thinking off)")
        assert not dialog.start_button.isEnabled() and dialog.estimate_label.text() == ""
        # thinking off: DeepSeek takes it (two columns), Claude still not (one column, paid once)
        QTest.keyClicks(dialog.thinking_edit, "off")
        await wait_until(lambda: "9 cells" in dialog.estimate_label.text(), 3, "the estimate")
        assert dialog.error_label.text() == "" and dialog.start_button.isEnabled()
        assert ("⚠ Claude Sonnet 5.5: temperature not accepted, not sent; its 2 variants run as 1 column "
                "(3 cells fewer)") in dialog.estimate_label.text()
        QTest.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        sweeps = window.controller.sweeps
        await wait_until(lambda: sweeps.item is not None, 5, "the sweep's grid")
        grid = sweeps.grid
        assert [(c.model, c.label) for c in grid.columns] == [
            (CL, "temperature not accepted · thinking=off"),
            (DS, "temperature=0.0 · thinking=off"), (DS, "temperature=0.7 · thinking=off")]
        assert len(grid.cells) == 9
        await wait_until(lambda: all(c.status == "done" for c in grid.cells), 20, "every cell answered")
        await wait_until(lambda: not sweeps.running, 5, "the run to end")
        claude = fake_server.requests_for("claude-sonnet-5-5")
        deepseek = fake_server.requests_for("deepseek-flash")
        assert len(claude) == 3 and all("temperature" not in r.body for r in claude)  # once per row
        assert sorted(r.body["temperature"] for r in deepseek) == [0.0] * 3 + [0.7] * 3


async def test_the_form_is_kept_for_the_next_sweep_and_the_next_run(app_env, fake_server, tmp_path):
    words = _vars(tmp_path, ["alpha"])
    async with open_window() as (window, _services):
        dialog = _open_dialog(window)
        QTest.keyClicks(dialog.templates_edit, "Say {{word}}")
        QTest.keyClick(dialog.templates_edit, Qt.Key.Key_Return)
        QTest.keyClicks(dialog.templates_edit, "---")
        QTest.keyClick(dialog.templates_edit, Qt.Key.Key_Return)
        QTest.keyClicks(dialog.templates_edit, "Spell {{word}}")
        QTest.keyClicks(dialog.vars_edit, str(words))
        _tick_model(dialog, DS)
        _tick_model(dialog, CL)
        QTest.keyClicks(dialog.max_tokens_edit, "256, 512")
        QTest.keyClicks(dialog.checks_edit, "contains:a")
        QTest.keyClicks(dialog.judge_combo, "Claude Haiku")
        assert dialog.judge_combo.currentData() == "anthropic:claude-haiku-5-5"
        QTest.keyClicks(dialog.rubric_edit, RUBRIC)
        QTest.mouseClick(dialog.batch_check, Qt.MouseButton.LeftButton)
        await wait_until(lambda: "8 cells" in dialog.estimate_label.text(), 3, "the estimate")
        form = dialog.form_state()
        QTest.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        sweeps = window.controller.sweeps
        await wait_until(lambda: sweeps.item is not None, 5, "the sweep's grid")
        again = _open_dialog(window, clear_models=False)
        assert again is not dialog
        assert again.form_state() == form
        assert again.templates_edit.toPlainText() == "Say {{word}}\n---\nSpell {{word}}"
        assert again.models() == [m for m in again.models() if m in (DS, CL)] and set(again.models()) == {DS, CL}
        assert again.rubric_edit.toPlainText() == RUBRIC and again.batch_check.isChecked()
        assert "1 row; columns: {{word}}" in again.vars_label.text()
        await wait_until(lambda: "8 cells" in again.estimate_label.text(), 3, "the estimate, as before")
        QTest.keyClick(again, Qt.Key.Key_Escape)  # closed without a sweep: kept as it is
        sweeps.cancel_all()
        await wait_until(lambda: not sweeps.running, 10, "the sweep stopped")
    async with open_window() as (window, _services):  # the next run of the app
        dialog = _open_dialog(window, clear_models=False)
        assert dialog.form_state() == form


async def test_errors_hints_rubric_and_which_models_run_live(app_env, fake_server, tmp_path):
    async with open_window() as (window, _services):
        dialog = _open_dialog(window)
        # the Checks hint: every line fits the field, so no check kind is broken at its hyphen (also in a
        # dialog made narrower, or with a wider font than the tests')
        narrow = dialog.minimumSizeHint().width()
        dialog.resize(narrow, dialog.height())
        await wait_until(lambda: dialog.width() == narrow, 3, "the narrowest dialog")
        hint = dialog.checks_edit.placeholderText().splitlines()
        room = dialog.checks_edit.viewport().width() - 2 * dialog.checks_edit.document().documentMargin()
        metrics = dialog.checks_edit.fontMetrics()
        assert any("max-ms:MS" in line for line in hint)
        assert all(metrics.horizontalAdvance(line) <= room for line in hint), (hint, room)
        assert metrics.lineSpacing() * len(hint) <= dialog.checks_edit.viewport().height()
        # errors in the window's words: no CLI flag, a capital first
        QTest.keyClicks(dialog.templates_edit, "Say {{word}}")
        QTest.keyClick(dialog.templates_edit, Qt.Key.Key_Return)
        QTest.keyClicks(dialog.templates_edit, "---")
        QTest.keyClick(dialog.templates_edit, Qt.Key.Key_Return)
        QTest.keyClicks(dialog.templates_edit, "Then {{missing}}")
        _tick_model(dialog, DS)
        QTest.keyClicks(dialog.vars_edit, str(_vars(tmp_path, ["alpha"])))
        await wait_until(lambda: "missing" in dialog.error_label.text(), 3, "the template error")
        assert dialog.error_label.text().startswith("Template 2 uses {{missing}} but words.csv has no column")
        QTest.keyClick(dialog.templates_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClicks(dialog.templates_edit, "Say {{word}}")
        QTest.keyClicks(dialog.checks_edit, "regex:[")
        await wait_until(lambda: "regular expression" in dialog.error_label.text(), 3, "the check error")
        assert dialog.error_label.text().startswith("Check “regex:[”: not a valid regular expression")
        QTest.keyClicks(dialog.temperature_edit, "0, warm")
        QTest.keyClick(dialog.checks_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClick(dialog.checks_edit, Qt.Key.Key_Backspace)
        await wait_until(lambda: "warm" in dialog.error_label.text(), 3, "the temperature error")
        assert dialog.error_label.text() == "Temperature “warm”: not a number"
        assert not dialog.start_button.isEnabled()
        QTest.keyClick(dialog.temperature_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClick(dialog.temperature_edit, Qt.Key.Key_Backspace)
        # a one-sentence rubric is shown whole, across the form's width
        QTest.keyClicks(dialog.rubric_edit, RUBRIC)
        assert dialog.rubric_edit.width() >= dialog.templates_edit.width() - 2
        assert dialog.rubric_edit.verticalScrollBar().maximum() == 0
        assert dialog.rubric_edit.horizontalScrollBar().maximum() == 0
        # which chosen models go through a batch API, which run live at full price
        await wait_until(lambda: "cells" in dialog.estimate_label.text(), 3, "the estimate")
        assert not dialog.batch_check.isEnabled()
        assert dialog.batch_label.text().startswith("No batch API for these models' providers")
        _tick_model(dialog, CL)
        await wait_until(lambda: dialog.batch_check.isEnabled(), 3, "the batch switch")
        assert dialog.batch_label.text() == ("A batch API is available for Claude Sonnet 5.5; DeepSeek V4.1 Flash "
                                             "always runs live.")
        QTest.mouseClick(dialog.batch_check, Qt.MouseButton.LeftButton)
        await wait_until(lambda: "at batch prices" in dialog.estimate_label.text(), 3, "the batch estimate")
        assert "(live models at full price)" in dialog.estimate_label.text()
        assert dialog.batch_label.text() == ("Through a batch API at about half price: Claude Sonnet 5.5. "
                                             "Live at full price (no batch API): DeepSeek V4.1 Flash.")
        QTest.keyClick(dialog, Qt.Key.Key_Escape)
