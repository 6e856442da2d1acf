"""The sweep on the canvas (issue #16): a sweep started from Evaluate → New sweep… runs against the
loopback fake providers and fills a grid (rows = inputs, columns = model × variant) instead of
flooding the canvas with cards; a click on a cell opens its answer in focus mode (Continue on canvas,
Diff with the cell on its left); the header's filters, Cancel all, Re-run failed, and Resume after
a sweep was cut off."""

from __future__ import annotations

import asyncio
from collections import Counter

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from app.domain import Edge, EdgeRole, Node, NodeKind, NodeStatus, Owner, Session, Timing
from app.present.money import fmt_cost
from app.sweep import CELL_META, CHECKS_META, SWEEP_META, SweepDef
from storage import open_store
from tests.fakes.server import Answer, _conversation
from tests.ui import hands
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


def answer_dialog(choose, what: str = "a question") -> list[tuple[str, str]]:
    """Answer the next modal message box as a user would: `choose(box)` returns the button to click.
    Returns [(its title, its text and informative text)] once it was answered."""
    seen: list[tuple[str, str]] = []
    tries = [0]

    def poll() -> None:
        box = QApplication.activeModalWidget()
        if not isinstance(box, QMessageBox) or not box.isVisible():
            tries[0] += 1
            assert tries[0] < 500, f"no dialog for {what}"
            QTimer.singleShot(10, poll)
            return
        seen.append((box.windowTitle(), f"{box.text()}\n{box.informativeText()}"))
        QTest.mouseClick(choose(box), Qt.MouseButton.LeftButton)

    QTimer.singleShot(0, poll)
    return seen


def say(yes: bool):
    return lambda box: box.button(QMessageBox.StandardButton.Yes if yes else QMessageBox.StandardButton.No)


async def _start_from_dialog(window, tmp_path, rows: list[str], *, max_tokens: str = "256, 1024",
                             check: str = "contains:Answer", concurrency: int | None = None,
                             judge: str | None = None, rubric: str = ""):
    """Evaluate → New sweep… with DeepSeek and Claude over `rows`, one variant per max_tokens value (a
    parameter both take: a temperature would be refused, Claude takes none), Start sweep."""
    vars_file = tmp_path / "words.csv"
    vars_file.write_text("word\n" + "\n".join(rows) + "\n", encoding="utf-8")
    window.new_sweep_action.trigger()
    sweeps = window.controller.sweeps
    dialog = sweeps.dialog
    assert dialog is not None and dialog.isVisible()
    for ref in list(dialog.models()):  # start from no model (the composer's are ticked)
        _untick = next(dialog.models_list.item(i) for i in range(dialog.models_list.count())
                       if dialog.models_list.item(i).data(Qt.ItemDataRole.UserRole) == ref)
        dialog.models_list.setCurrentItem(_untick)
        QTest.keyClick(dialog.models_list, Qt.Key.Key_Space)
    QTest.keyClicks(dialog.templates_edit, "Say {{word}}")
    QTest.keyClicks(dialog.vars_edit, str(vars_file))
    _tick_model(dialog, DS)
    _tick_model(dialog, CL)
    QTest.keyClicks(dialog.max_tokens_edit, max_tokens)
    QTest.keyClicks(dialog.checks_edit, check)
    if concurrency is not None:
        dialog.concurrency_spin.setFocus()
        dialog.concurrency_spin.lineEdit().selectAll()
        QTest.keyClicks(dialog.concurrency_spin, str(concurrency))
        assert dialog.concurrency_spin.value() == concurrency
    if judge is not None:  # the judge's combo box, picked with the keyboard; its rubric typed
        combo = dialog.judge_combo
        combo.setFocus()
        while combo.currentData() != judge:
            before = combo.currentIndex()
            QTest.keyClick(combo, Qt.Key.Key_Down)
            assert combo.currentIndex() != before, judge
        QTest.keyClicks(dialog.rubric_edit, rubric)
    await wait_until(lambda: "cells" in dialog.estimate_label.text(), 3, "the cost estimate")
    size = len(rows) * 2 * len(max_tokens.split(","))
    assert f"{size} cells" in dialog.estimate_label.text() and "$" in dialog.estimate_label.text()
    # "Use batch APIs": offered (Claude's provider has one), off unless ticked (tests/ui/test_sweep_batch_window.py)
    assert dialog.batch_check.isEnabled() and not dialog.batch_check.isChecked()
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
        assert "without a finished answer" not in window.statusBar().currentMessage()  # new, not to resume
        await wait_until(lambda: all(c.status == "done" for c in grid.cells), 20, "every cell answered")
        await wait_until(lambda: not sweeps.running, 5, "the run to end")
        # every cell sent once; the grid stands for the cells: no prompt or answer card floods the canvas
        sent = _prompts_sent(fake_server)
        assert len(sent) == 12 and set(Counter(sent).values()) == {2}  # each model and row: one per max_tokens
        assert sorted({p for _, p in sent}) == ["Say alpha", "Say beta", "Say gamma"]
        assert cards_of(window, "response") == [] and cards_of(window, "prompt") == []
        assert len(cards_of(window, "sweep")) == 1
        # what a cell shows: its answer, its check, latency and cost; the header's totals
        cell = grid.cell_at(1, 3)
        assert cell.passed and cell.preview.startswith("Answer from") and cell.checks == [("contains:Answer", True)]
        assert cell.latency_ms is not None
        totals = grid.totals()
        assert [t.pass_rate for t in totals] == [1.0] * 4 and all(t.p50_ms is not None for t in totals)
        assert item.progress_text.startswith("12 done · 0 failed · 0 left · $")
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


def _stored_sweep(home, defn: SweepDef, answers: dict[int, tuple[str, NodeStatus]], *, dead_pid: int | None = None):
    """A sweep session in the store with the given cells answered (cell index -> (text, status)); a
    STREAMING answer belongs to `dead_pid` (a process gone: the store marks it interrupted on open)."""
    import socket

    repo = open_store(home)
    session = repo.create_session(Session(title="Sweep: stored"))
    sweep = Node(session.id, NodeKind.SWEEP, defn.summary(), meta={SWEEP_META: defn.to_dict()}, x=0, y=0,
                 status=NodeStatus.DONE, title="Sweep")
    nodes, edges = [sweep], []
    by_index = {c.index: c for c in defn.cells()}
    for index, (text, status) in answers.items():
        cell = by_index[index]
        mark = {CELL_META: {"sweep": sweep.id, "cell": index}}
        prompt = Node(session.id, NodeKind.PROMPT, cell.text, meta=dict(mark), x=2000, y=index * 600)
        answer = Node(session.id, NodeKind.RESPONSE, text, model=cell.model, status=status,
                      meta=dict(mark), x=2000, y=index * 600 + 150)
        answer.timing = Timing(ttft_ms=50, duration_ms=400 + index * 10)
        if status == NodeStatus.DONE:
            answer.meta[CHECKS_META] = [{"check": c, "pass": "ok" in text} for c in defn.checks]
        if status == NodeStatus.STREAMING:
            answer.owner = Owner(pid=dead_pid or 1, host=socket.gethostname(), heartbeat=0.0)
        nodes += [prompt, answer]
        edges.append(Edge(prompt.id, answer.id, EdgeRole.REPLY, 0, session.id))
    repo.add_nodes(nodes, edges)
    repo.close()
    return session.id


async def _grid_on_screen(window):
    sweeps = window.controller.sweeps
    await wait_until(lambda: sweeps.item is not None, 5, "the grid")
    item = sweeps.item
    vp = window.view.viewport().rect()
    await wait_until(lambda: vp.contains(_on_screen(window, item, item.button_rect("differ"))), 3, "the grid on screen")
    return sweeps, item


async def test_the_filters_answers_differ_failures_only_and_one_model(app_env, fake_server):
    defn = SweepDef(templates=["Say {{w}}"], models=[DS, CL], columns=["w"],
                    rows=[{"w": "same"}, {"w": "differ"}, {"w": "failed"}], vars_name="w.csv", checks=["contains:ok"])
    # cells: row r, model m -> index 2r + m
    _stored_sweep(app_env, defn, {0: ("ok same", NodeStatus.DONE), 1: ("ok  SAME", NodeStatus.DONE),
                                  2: ("ok one", NodeStatus.DONE), 3: ("ok two", NodeStatus.DONE),
                                  4: ("ok", NodeStatus.DONE), 5: ("", NodeStatus.ERROR)})
    async with open_window() as (window, _services):
        sweeps, item = await _grid_on_screen(window)
        assert item.rows == [0, 1, 2] and item.cols == [0, 1]
        assert item.button_rect("rerun") is not None  # the failed cell is Re-run failed's
        assert item.button_rect("resume") is None  # every other cell has an answer: nothing to resume
        _click(window, item, item.button_rect("differ"))
        assert item.rows == [1]
        _click(window, item, item.button_rect("differ"))
        _click(window, item, item.button_rect("failures"))
        assert item.rows == [2]
        _click(window, item, item.button_rect("failures"))
        assert item.rows == [0, 1, 2]
        # one model: its columns only; Claude failed row 2, DeepSeek failed nothing
        _click(window, item, item.button_rect("model"))
        await wait_until(lambda: sweeps.model_menu is not None and sweeps.model_menu.isVisible(), 3, "the model menu")
        menu = sweeps.model_menu
        [deepseek] = [a for a in menu.actions() if a.data() == DS]
        deepseek.trigger()
        menu.close()
        assert item.cols == [0] and "DeepSeek" in item.button_text("model")
        _click(window, item, item.button_rect("failures"))
        assert item.rows == []
        # a click where a hidden cell was drawn opens nothing
        assert item.cell_rect(5) is None
        # View → Fit all takes the grid in, not only the sweep card
        window.view.set_viewport(-5000, -5000, 2.0)
        [fit] = [a for a in window.actions() if a.text() == "Fit all"]
        fit.trigger()
        shown = window.view.mapToScene(window.view.viewport().rect()).boundingRect()
        assert shown.contains(item.sceneBoundingRect())


async def test_cells_another_process_adds_go_to_the_grid_not_the_canvas(app_env, fake_server):
    defn = SweepDef(templates=["Say {{w}}"], models=[DS], columns=["w"], rows=[{"w": "a"}, {"w": "b"}],
                    vars_name="w.csv")
    session_id = _stored_sweep(app_env, defn, {0: ("ok a", NodeStatus.DONE)})
    async with open_window() as (window, _services):
        sweeps, item = await _grid_on_screen(window)
        assert sweeps.grid.cells[1].status == "queued"
        # `triptych sweep --resume` in a terminal fills cell 1 while the window shows the session
        repo = open_store(app_env)
        try:
            sweep = next(n for n in repo.load_graph(session_id).nodes.values() if n.kind == NodeKind.SWEEP)
            mark = {CELL_META: {"sweep": sweep.id, "cell": 1}}
            prompt = Node(session_id, NodeKind.PROMPT, "Say b", meta=dict(mark), x=900, y=900)
            answer = Node(session_id, NodeKind.RESPONSE, "ok b", model=DS, status=NodeStatus.DONE, meta=dict(mark),
                          x=900, y=1100)
            repo.add_nodes([prompt, answer], [Edge(prompt.id, answer.id, EdgeRole.REPLY, 0, session_id)])
        finally:
            repo.close()
        await wait_until(lambda: sweeps.grid.cells[1].status == "done", 5, "the other process's cell in the grid")
        sweeps.refresh()
        assert sweeps.grid.cells[1].preview == "ok b"
        assert cards_of(window, "response") == [] and cards_of(window, "prompt") == []


def _slow(req):
    return Answer(text=tuple(f"Answer {i} " for i in range(200)), delay=0.05)


async def test_cancel_all_leaves_cancelled_and_stopped_cells_not_failures_and_resume_runs_them(
        app_env, fake_server, tmp_path):
    """qa2 D6: after Cancel all the never-started cells still said "queued", the status bar "Sweep finished:
    86/96 done · 1 failed", and the cell that was streaming became "failed · stopped" (a lower pass rate)."""
    fake_server.script("deepseek-flash", _slow)
    fake_server.script("claude-sonnet-5-5", _slow)
    async with open_window() as (window, _services):
        # one request per provider at a time: 2 cells stream, 4 wait
        sweeps = await _start_from_dialog(window, tmp_path, ["one", "two", "three"], max_tokens="256", concurrency=1)
        item = sweeps.item
        await wait_until(lambda: sum(c.status == "streaming" and bool(c.preview) for c in sweeps.grid.cells) == 2,
                         5, "two cells streaming")
        await wait_until(lambda: item.button_rect("cancel") is not None, 3, "Cancel all")
        assert "Running" in item.progress_text
        # a streaming cell opens in focus mode, which follows its text as it streams (the cell has no card)
        live = next(c for c in sweeps.grid.cells if c.status == "streaming" and c.preview)
        _click(window, item, item.cell_rect(live.index))
        await wait_until(lambda: window._focus_dialog is not None, 3, "focus mode")
        dlg = window._focus_dialog
        shown = len(dlg.browser.toPlainText())
        await wait_until(lambda: len(dlg.browser.toPlainText()) > shown, 5, "focus mode following the stream")
        dlg.close()
        assert window.status.sweep_label.text().startswith("Sweep: ")
        _click(window, item, item.button_rect("cancel"))
        await wait_until(lambda: not sweeps.running, 5, "the sweep to stop")
        sent = len(fake_server.requests)
        assert sent == 2
        cells = sweeps.grid.cells
        assert sorted(c.status for c in cells) == ["cancelled"] * 4 + ["stopped"] * 2
        assert all(c.error == "stopped" and c.preview for c in cells if c.status == "stopped")  # its text is kept
        assert window.statusBar().currentMessage() == "Sweep cancelled: 0 done · 6 not run — Resume sweep runs them"
        assert item.progress_text.startswith("0 done · 0 failed · 6 left")
        assert [t.pass_rate for t in sweeps.grid.totals()] == [None, None]  # no failure: nothing ended
        assert sweeps.grid.failed_cells() == [] and item.button_rect("rerun") is None
        assert window.status.sweep_label.text() == ""
        await asyncio.sleep(0.3)
        assert len(fake_server.requests) == sent  # nothing starts after Cancel all
        # Resume sweep: it asks first (how many cells, what they cost), then runs the stopped and the cancelled
        fake_server.script("deepseek-flash", Answer(text=("Answer: ok",)))
        fake_server.script("claude-sonnet-5-5", Answer(text=("Answer: ok",)))
        assert item.button_text("resume") == "Resume sweep (6 cells left)"
        asked = answer_dialog(say(True), "Resume")
        _click(window, item, item.button_rect("resume"))
        assert asked and asked[0][0] == "Resume this sweep?", asked
        assert "Run the 6 cells without an answer: estimated $" in asked[0][1], asked
        await wait_until(lambda: all(c.status == "done" for c in cells), 10, "every cell answered")
        await wait_until(lambda: not sweeps.running, 5, "the resumed run to end")
        assert len(fake_server.requests) - sent == 6
        assert sorted(c.attempts for c in cells) == [1] * 4 + [2] * 2  # each stopped cell once more
        assert window.statusBar().currentMessage().startswith("Sweep finished: 6 done · 0 failed · 0 left")
        assert cards_of(window, "response") == []


def _dead_pid() -> int:
    """The pid of a process that has ended (a crashed Triptych's)."""
    import subprocess
    import sys

    gone = subprocess.run([sys.executable, "-c", "import os; print(os.getpid())"], capture_output=True, text=True,
                          check=True)
    return int(gone.stdout)


async def test_resume_after_a_crash_runs_each_remaining_cell_exactly_once(app_env, fake_server):
    dead_pid = _dead_pid()
    defn = SweepDef(templates=["Q {{n}}"], models=[DS, CL], columns=["n"], rows=[{"n": str(i)} for i in range(4)],
                    vars_name="n.csv", checks=[])
    # 8 cells: four finished, one cut mid-stream by the crash, three never started
    done = {i: (f"ok {i}", NodeStatus.DONE) for i in (0, 1, 2, 5)}
    _stored_sweep(app_env, defn, {**done, 3: ("half an ans", NodeStatus.STREAMING)}, dead_pid=dead_pid)
    remaining = [c for c in defn.cells() if c.index not in done]
    async with open_window() as (window, _services):
        sweeps, item = await _grid_on_screen(window)
        await wait_until(lambda: item.button_rect("resume") is not None, 5, "the Resume button")
        assert item.button_text("resume") == "Resume sweep (4 cells left)"
        assert "4 cells without a finished answer" in window.statusBar().currentMessage()
        assert sweeps.grid.cells[3].status == "stopped"  # the interrupted answer: shown, to be run again
        assert fake_server.requests == []
        asked = answer_dialog(say(True), "Resume")
        _click(window, item, item.button_rect("resume"))
        assert "Run the 4 cells without an answer: estimated $" in asked[0][1], asked
        await wait_until(lambda: sweeps.running, 3, "the resumed run")
        await wait_until(lambda: not sweeps.running, 15, "the resumed run to end")
        assert all(c.status == "done" for c in sweeps.grid.cells)
        sent = Counter(_prompts_sent(fake_server))
        from app.domain import ModelRef

        assert sent == Counter((ModelRef.parse(c.model).model, c.text) for c in remaining)
        assert item.button_rect("resume") is None and cards_of(window, "response") == []
        # the finished cells kept their answers
        assert [sweeps.grid.cells[i].preview for i in (0, 1, 2, 5)] == ["ok 0", "ok 1", "ok 2", "ok 5"]


async def test_deleting_the_sweep_card_takes_its_grid_and_undo_brings_both_back(app_env, fake_server):
    defn = SweepDef(templates=["Say {{w}}"], models=[DS], columns=["w"], rows=[{"w": "a"}], vars_name="w.csv")
    _stored_sweep(app_env, defn, {0: ("ok a", NodeStatus.DONE)})
    async with open_window() as (window, _services):
        sweeps, item = await _grid_on_screen(window)
        [card] = cards_of(window, "sweep")
        QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         window.view.mapFromScene(card.sceneBoundingRect().center()))
        assert window.controller.selected_ids() == [card.node_id]
        QTest.keyClick(window.view.viewport(), Qt.Key.Key_Delete)
        await wait_until(lambda: sweeps.item is None, 3, "the grid to go with its card")
        assert item.scene() is None and cards_of(window, "response") == []
        window.undo_action.trigger()
        await wait_until(lambda: sweeps.item is not None, 3, "the grid back")
        assert sweeps.grid.cells[0].preview == "ok a" and cards_of(window, "response") == []


async def test_a_sweep_estimated_above_the_threshold_asks_first_and_a_no_sends_nothing(app_env, fake_server, tmp_path,
                                                                                      monkeypatch):
    async with open_window() as (window, services):
        sweeps = window.controller.sweeps
        assert sweeps.confirm_usd == 1.0  # the default threshold
        sweeps.confirm_usd = 0.0  # (every sweep is above it: the fake catalog's prices are tiny)
        asked: list[str] = []
        monkeypatch.setattr(window.dialogs, "confirm", lambda title, text: asked.append(text) or False)
        sessions_before = len(services.repo.list_sessions())
        vars_file = tmp_path / "w.csv"
        vars_file.write_text("word\nx\ny\n", encoding="utf-8")
        window.new_sweep_action.trigger()
        dialog = sweeps.dialog
        QTest.keyClicks(dialog.templates_edit, "Say {{word}}")
        QTest.keyClicks(dialog.vars_edit, str(vars_file))
        await wait_until(lambda: dialog.start_button.isEnabled(), 3, "a valid form")
        QTest.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
        assert len(asked) == 1 and "estimated $" in asked[0] and "above $0.00" in asked[0]
        await asyncio.sleep(0.2)
        assert fake_server.requests == [] and sweeps.item is None  # "no": nothing stored, nothing sent
        assert len(services.repo.list_sessions()) == sessions_before


async def test_re_run_failed_asks_first_with_the_count_and_cost_and_the_header_counts_every_try(app_env, fake_server):
    """qa2 D7: "Re-run failed (18)" started at once, spending money unasked; the grid's header kept its
    cost while the session's total grew; while it ran the composer's row reflowed ("Presets ▾" wrapped)."""
    defn = SweepDef(templates=["Say {{w}}"], models=[DS, CL], columns=["w"], rows=[{"w": "a"}, {"w": "b"}],
                    vars_name="w.csv", checks=["contains:ok"])
    # cells: 0 passed, 1 answered but failed its check, 2 failed with an error, 3 passed
    session_id = _stored_sweep(app_env, defn, {0: ("ok a", NodeStatus.DONE), 1: ("nope", NodeStatus.DONE),
                                               2: ("", NodeStatus.ERROR), 3: ("ok b", NodeStatus.DONE)})
    fake_server.script("deepseek-flash", Answer(text=tuple(f"nope {i} " for i in range(40)), delay=0.03))
    fake_server.script("claude-sonnet-5-5", Answer(text=tuple(f"nope {i} " for i in range(40)), delay=0.03))
    async with open_window() as (window, services):
        window.resize(1350, 900)  # (a width where the Stop button's appearing wrapped "Presets ▾")
        sweeps, item = await _grid_on_screen(window)
        composer = window.composer
        presets_top = composer.presets_button.geometry().top()
        assert item.button_text("rerun") == "Re-run failed (2)" and item.button_rect("resume") is None
        # No: nothing is sent
        asked = answer_dialog(say(False), "Re-run failed")
        _click(window, item, item.button_rect("rerun"))
        assert asked and asked[0][0] == "Re-run failed cells?", asked
        text = asked[0][1]
        assert "Re-run 2 cells that failed: estimated $" in text and "1 of them answered but failed a check" in text
        await asyncio.sleep(0.2)
        assert fake_server.requests == [] and not sweeps.running
        # Yes: the two cells run (and fail their check again)
        asked = answer_dialog(say(True), "Re-run failed")
        _click(window, item, item.button_rect("rerun"))
        assert asked
        await wait_until(lambda: sweeps.running and window.stop_button.isVisible(), 3, "the re-run")
        await wait_until(lambda: any(c.status == "streaming" for c in sweeps.grid.cells), 3, "cells streaming")
        assert composer.presets_button.geometry().top() == presets_top  # the row did not reflow
        await wait_until(lambda: not sweeps.running, 10, "the re-run to end")
        assert composer.presets_button.geometry().top() == presets_top
        assert len(fake_server.requests) == 2 and item.button_text("rerun") == "Re-run failed (2)"
        # once more, now answered well
        fake_server.script("deepseek-flash", Answer(text=("ok now",)))
        fake_server.script("claude-sonnet-5-5", Answer(text=("ok now",)))
        asked = answer_dialog(say(True), "Re-run failed")
        _click(window, item, item.button_rect("rerun"))
        assert "All of them answered but failed a check" in asked[0][1], asked
        await wait_until(lambda: not sweeps.running and all(c.passed for c in sweeps.grid.cells), 10, "every cell passed")
        # the header's cost is what the sweep spent, every try included: the session's total
        spent = services.repo.session_totals(session_id)["cost_usd"]
        p = sweeps.grid.progress()
        assert spent > sum(c.cost_usd or 0 for c in sweeps.grid.cells) > 0  # (the earlier tries cost something)
        assert p.cost_usd == pytest.approx(spent)
        assert item.progress_text == f"4 done · 0 failed · 0 left · {fmt_cost(spent)}"


async def test_quitting_while_a_sweep_runs_says_resume_sweep_runs_its_cells_left(app_env, fake_server, tmp_path):
    """qa2 D10: the quit dialog said "3 answers are still streaming… Retry continues later", not a word
    about the sweep's queued cells or Resume sweep."""
    fake_server.script("deepseek-flash", _slow)
    fake_server.script("claude-sonnet-5-5", _slow)
    async with open_window() as (window, _services):
        sweeps = await _start_from_dialog(window, tmp_path, ["one", "two", "three"], max_tokens="256", concurrency=1)
        await wait_until(lambda: sum(c.status == "streaming" for c in sweeps.grid.cells) == 2, 5, "two cells streaming")
        del window.dialogs.confirm_quit  # the real question (the fixture's answers yes without asking)
        try:
            asked = answer_dialog(lambda box: next(b for b in box.buttons()
                                                   if box.buttonRole(b) == QMessageBox.ButtonRole.RejectRole), "Quit")
            hands.trigger(window, "File/Quit")
            assert asked and asked[0][0] == "Quit Triptych?", asked
            text = asked[0][1]
            assert text.startswith("2 answers are still streaming, and a sweep is running."), text
            assert "6 cells without an answer yet" in text and "Resume sweep" in text, text
            assert "Retry continues later" not in text
            assert window.isVisible() and sweeps.running  # Cancel: nothing stopped
        finally:
            window.dialogs.confirm_quit = lambda *_args: True


async def test_a_question_asked_in_a_reopened_sweep_session_is_sent_and_lands_under_the_grid(app_env, fake_server,
                                                                                                 tmp_path):
    """qa4 Q1/Q2: in a sweep session opened again, a new question with nothing selected hit a bug (the
    placement read `attachments` of cards not loaded yet) and nothing was sent; when it was, its cards
    landed ~92,000 px down, below the cell cards stacked one under another behind the grid."""
    async with open_window() as (window, _services):
        sweeps = await _start_from_dialog(window, tmp_path, [f"w{i}" for i in range(8)], check="contains:Answer")
        await wait_until(lambda: not sweeps.running, 20, "the sweep to end")
    async with open_window() as (window, services):
        sweeps, item = await _grid_on_screen(window)
        grid_bottom = item.sceneBoundingRect().bottom()
        window.scene.clearSelection()
        composer = window.composer
        composer.edit.setFocus()
        before = len(cards_of(window, "prompt"))
        QTest.keyClicks(composer.edit, "And what about the rest?")
        QTest.keyClick(composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        await wait_until(lambda: len(cards_of(window, "prompt")) == before + 1, 5, "the question's card")
        card = next(c for c in cards_of(window, "prompt") if "rest" in c.body_text)
        top = card.sceneBoundingRect().top()
        assert grid_bottom <= top < grid_bottom + 1500, (grid_bottom, top)  # just under the grid
        await wait_until(lambda: window.running_label.text() == "", 10, "the answers to end")
