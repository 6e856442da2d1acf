"""A sweep through the batch APIs from the window (issue #16): Evaluate → New sweep… with "Use batch APIs"
ticked sends the Anthropic cells as one Message Batch to the loopback fake (tests/fakes/batch.py) while
the DeepSeek cells stream live; the grid shows the batch's cells as "in batch" with the batch's status in
its header and the status bar; quit with the batch open, reopen: Resume polls the same batch (never a
second create) and fills the cells at the batch price, `max-ms` there being n/a (a batch answer has no
latency); Cancel all cancels the batch at the provider."""

from __future__ import annotations

import contextlib
import http.server
import re
import threading

import pytest
from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest

from app.batch import batch_cost
from app.sweep import CHECKS_META
from tests.ui.conftest import cards_of, open_window, wait_until
from tests.ui.test_sweep_grid import CL, DS, _click, _on_screen, _tick_model, answer_dialog, say

CHECKS = "contains:Answer\nmax-ms:600000"


@pytest.fixture
def fast_polls(monkeypatch):
    monkeypatch.setenv("TRIPTYCH_BATCH_POLL_S", "0.1")


def _estimate(dialog) -> float:
    return float(re.search(r"estimated <b>\$([0-9.]+)", dialog.estimate_label.text()).group(1))


def _creates(server) -> int:
    return sum(server.batches.creates.values())


async def _start_batch_sweep(window, tmp_path, rows: list[str]):
    vars_file = tmp_path / "words.csv"
    vars_file.write_text("word\n" + "\n".join(rows) + "\n", encoding="utf-8")
    window.new_sweep_action.trigger()
    sweeps = window.controller.sweeps
    dialog = sweeps.dialog
    for i in range(dialog.models_list.count()):  # start from no model (the composer's are ticked)
        item = dialog.models_list.item(i)
        if item.checkState() == Qt.CheckState.Checked:
            dialog.models_list.setCurrentItem(item)
            QTest.keyClick(dialog.models_list, Qt.Key.Key_Space)
    QTest.keyClicks(dialog.templates_edit, "Say {{word}}")
    QTest.keyClicks(dialog.vars_edit, str(vars_file))
    # DeepSeek alone has no batch API: the switch is there, disabled, and says why
    _tick_model(dialog, DS)
    await wait_until(lambda: "cells" in dialog.estimate_label.text(), 3, "the cost estimate")
    assert not dialog.batch_check.isEnabled()
    assert "None of the chosen models' providers has a batch API" in dialog.batch_check.toolTip()
    _tick_model(dialog, CL)
    await wait_until(lambda: dialog.batch_check.isEnabled(), 3, "the batch switch enabled (Anthropic has one)")
    for line in CHECKS.splitlines():
        QTest.keyClicks(dialog.checks_edit, line)
        QTest.keyClick(dialog.checks_edit, Qt.Key.Key_Return)
    await wait_until(lambda: f"{len(rows) * 2} cells" in dialog.estimate_label.text(), 3, "the estimate")
    live = _estimate(dialog)
    assert "batch prices" not in dialog.estimate_label.text()
    QTest.mouseClick(dialog.batch_check, Qt.MouseButton.LeftButton)
    assert dialog.batch_check.isChecked()
    await wait_until(lambda: "at batch prices" in dialog.estimate_label.text(), 3, "the estimate at batch prices")
    assert 0 < _estimate(dialog) < live  # the Claude cells at about half price, DeepSeek's unchanged
    QTest.mouseClick(dialog.start_button, Qt.MouseButton.LeftButton)
    await wait_until(lambda: sweeps.item is not None, 5, "the sweep's grid")
    return sweeps


def _cells_of(grid, model: str):
    cols = {c.index for c in grid.columns if c.model == model}
    return [c for c in grid.cells if c.col in cols]


async def test_a_batch_sweep_waits_in_the_grid_survives_a_restart_and_resume_polls_the_same_batch(
        app_env, fake_server, tmp_path, fast_polls):
    fake_server.batches.hold = True  # the batch stays in progress until released
    async with open_window() as (window, _services):
        sweeps = await _start_batch_sweep(window, tmp_path, ["alpha", "beta"])
        grid, item = sweeps.grid, sweeps.item
        # the Claude cells wait in the batch while the DeepSeek cells stream live and finish
        await wait_until(lambda: all(c.status == "done" for c in _cells_of(grid, DS)), 20, "the live cells")
        await wait_until(lambda: all(c.status == "in batch" for c in _cells_of(grid, CL)), 5, "cells in batch")
        assert _creates(fake_server) == 1
        [batch] = fake_server.batches.created
        assert batch.kind == "anthropic" and len(batch.requests) == 2
        await wait_until(lambda: "in_progress" in item.progress_text, 5, "the batch's status in the header")
        assert batch.id in item.progress_text and "2 in batch" in item.progress_text
        said = window.status.sweep_label.toolTip() or window.status.sweep_label.text()  # (cut: its tooltip, whole)
        assert batch.id in said and "in_progress" in said
        assert sweeps.running and item.button_rect("cancel") is not None
        # the live cells' checks: max-ms applies (they have a latency)
        assert all(c.checks == [("contains:Answer", True), ("max-ms:600000", True)] for c in _cells_of(grid, DS))
        assert cards_of(window, "response") == [] and cards_of(window, "prompt") == []
    # quit with the batch open; reopen: the grid shows the cells still in the batch and offers Resume
    async with open_window() as (window, _services):
        sweeps = window.controller.sweeps
        await wait_until(lambda: sweeps.item is not None, 5, "the grid")
        grid, item = sweeps.grid, sweeps.item
        assert [c.status for c in _cells_of(grid, CL)] == ["in batch", "in batch"]
        assert batch.id in item.progress_text
        await wait_until(lambda: item.button_rect("resume") is not None, 5, "Resume")
        vp = window.view.viewport().rect()
        await wait_until(lambda: vp.contains(_on_screen(window, item, item.button_rect("resume"))), 3, "on screen")
        assert item.button_text("resume") == "Resume sweep (2 cells left)"
        fake_server.batches.hold = False  # the provider finishes the batch
        _click(window, item, item.button_rect("resume"))
        await wait_until(lambda: all(c.status == "done" for c in grid.cells), 10, "the batch's results in the grid")
        await wait_until(lambda: not sweeps.running, 5, "the run to end")
        assert _creates(fake_server) == 1  # polled the same batch: never sent again
        polls = [r for r in fake_server.requests if r.method == "GET" and "/messages/batches/" in r.path]
        assert polls and all(batch.id in r.path for r in polls)
        graph = window.controller.graph
        for cell in _cells_of(grid, CL):
            assert cell.preview.startswith("Answer") and cell.latency_ms is None
            node = graph.nodes[cell.answer_id]
            expected = batch_cost(window.controller.catalog, node)
            assert expected is not None and cell.cost_usd == pytest.approx(expected)
            # max-ms cannot apply to a batch answer: n/a ("–", with a tooltip), not a failure
            assert cell.checks == [("contains:Answer", True), ("max-ms:600000", None)]
            assert cell.passed
        assert [t.pass_rate for t in grid.totals()] == [1.0, 1.0]
        assert "in batch" not in item.progress_text and batch.id not in item.progress_text
        assert item.button_rect("resume") is None and item.button_rect("rerun") is None
        # the pointer on a batch cell: its tooltip says why max-ms is n/a
        cell = _cells_of(grid, CL)[0]
        QTest.mouseMove(window.view.viewport(), _on_screen(window, item, item.cell_rect(cell.index)))
        await wait_until(lambda: "no latency for batch answers" in item.toolTip(), 3, "the cell's tooltip")
        assert "max-ms:600000: – no latency" in item.toolTip() and "contains:Answer: passed" in item.toolTip()
        assert cards_of(window, "response") == [] and cards_of(window, "prompt") == []


async def test_cancel_all_cancels_the_open_batch_at_the_provider(app_env, fake_server, tmp_path, fast_polls,
                                                                 monkeypatch):
    fake_server.batches.hold = True
    async with open_window() as (window, _services):
        window.controller.sweeps.confirm_usd = 0.0  # (the confirmation before starting says batch prices)
        asked: list[str] = []
        monkeypatch.setattr(window.dialogs, "confirm", lambda title, text: asked.append(text) or True)
        sweeps = await _start_batch_sweep(window, tmp_path, ["one"])
        assert len(asked) == 1 and "at batch prices" in asked[0]
        # qa3 N14: not "at batch prices" for all of them: DeepSeek's cell runs live (the same words as Resume's)
        assert "(1 at batch prices, 1 live at full price)" in asked[0], asked
        grid, item = sweeps.grid, sweeps.item
        await wait_until(lambda: all(c.status == "in batch" for c in _cells_of(grid, CL)), 10, "the cell in batch")
        await wait_until(lambda: item.button_rect("cancel") is not None, 3, "Cancel all")
        vp = window.view.viewport().rect()
        await wait_until(lambda: vp.contains(_on_screen(window, item, item.button_rect("cancel"))), 3, "on screen")
        [batch] = fake_server.batches.created
        _click(window, item, item.button_rect("cancel"))
        await wait_until(lambda: not sweeps.running, 10, "the sweep to stop")
        cancels = [r for r in fake_server.requests if r.method == "POST" and r.path.rstrip("/").endswith("/cancel")]
        assert len(cancels) == 1 and batch.id in cancels[0].path
        [cl] = _cells_of(grid, CL)
        assert cl.status == "cancelled" and cl.error  # cancelled at the provider before it ran: not a failure
        left = len(grid.unfinished())  # the Claude cell; the DeepSeek one too if Cancel all stopped it
        assert "in batch" not in item.progress_text and f"0 failed · {left} left" in item.progress_text
        assert item.button_rect("rerun") is None
        assert item.button_text("resume") == f"Resume sweep ({left} cell{'s' if left != 1 else ''} left)"
        assert _creates(fake_server) == 1


async def test_cancel_all_of_a_batch_sweep_leaves_the_windows_other_answers_streaming(app_env, fake_server, tmp_path,
                                                                                    fast_polls):
    from app.domain import NodeKind, NodeStatus
    from tests.fakes.server import Answer

    fake_server.script("gpt-6.2-sol", Answer(text=tuple(f"word{i} " for i in range(60)), delay=0.03))
    fake_server.batches.hold = True
    async with open_window() as (window, _services):
        # an answer streams in the user's own session when they start a batch sweep
        window.composer.set_models(["openai:gpt-6.2-sol"])
        window.composer.edit.setFocus()
        QTest.keyClicks(window.composer.edit, "Tell a long story")
        QTest.keyClick(window.composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        await wait_until(lambda: any(n.kind == NodeKind.RESPONSE for n in window.controller.graph.nodes.values()),
                         5, "the story's card")
        story = next(n for n in window.controller.graph.nodes.values() if n.kind == NodeKind.RESPONSE)
        sweeps = await _start_batch_sweep(window, tmp_path, ["one"])
        item = sweeps.item
        await wait_until(lambda: item.button_rect("cancel") is not None, 3, "Cancel all")
        await wait_until(lambda: any(c.status == "in batch" for c in sweeps.grid.cells), 10, "the cell in batch")
        assert story.status.is_live
        _click(window, item, item.button_rect("cancel"))
        await wait_until(lambda: not sweeps.running, 10, "the sweep to stop")
        await wait_until(lambda: not story.status.is_live, 10, "the story to end")
        assert story.status == NodeStatus.DONE and story.text.startswith("word0") and "word59" in story.text


@contextlib.contextmanager
def _not_json_server():
    """A loopback server that answers every request 200 with an empty text/event-stream (what a proxy, or
    an endpoint without Message Batches, may answer)."""
    class Handler(http.server.BaseHTTPRequestHandler):
        def _answer(self) -> None:
            length = int(self.headers.get("content-length") or 0)
            self.rfile.read(length)
            self.send_response(200)
            self.send_header("content-type", "text/event-stream; charset=utf-8")
            self.send_header("content-length", "0")
            self.end_headers()

        do_GET = do_POST = _answer

        def log_message(self, *_args) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


async def test_a_batch_endpoint_that_answers_no_json_says_what_to_do_and_its_cells_are_re_run_failed_s(
        app_env, fake_server, tmp_path, fast_polls, monkeypatch):
    """qa2 D2: every batched cell said "http://…/v1/messages/batches: the answer is not JSON"; the header
    "48/48 done · 32 failed" beside "Resume sweep (32 cells left)"; Resume retried them forever; and the
    status bar's "answers without usage" grew with every failed try."""
    with _not_json_server() as url:
        monkeypatch.setenv("ANTHROPIC_BASE_URL", url)
        async with open_window() as (window, _services):
            sweeps = await _start_batch_sweep(window, tmp_path, ["alpha", "beta"])
            grid, item = sweeps.grid, sweeps.item
            await wait_until(lambda: not sweeps.running and all(c.status in ("done", "failed") for c in grid.cells),
                             20, "the sweep to end")
            for cell in _cells_of(grid, CL):
                assert cell.status == "failed"
                assert cell.error.startswith(f"Anthropic's batch API at {url}/v1/messages/batches answered with "
                                             "something that is not JSON (HTTP 200, text/event-stream, 0 bytes): "
                                             "the endpoint may not support Message Batches"), cell.error
                assert '"Use batch APIs" unticked' in cell.error
            assert all(c.status == "done" for c in _cells_of(grid, DS))
            # the failed cells are Re-run failed's, not Resume's: the header says so, without contradiction
            assert item.progress_text.startswith("2 done · 2 failed · 0 left"), item.progress_text
            assert item.button_rect("resume") is None and item.button_text("rerun") == "Re-run failed (2)"
            await wait_until(lambda: window.totals_label.text().startswith("Session: in "), 5, "the session's totals")
            assert "without usage" not in window.totals_label.text()  # a failed try that produced nothing
            # Re-run failed: they fail the same way again; nothing left to resume, nothing counted as unpriced
            vp = window.view.viewport().rect()
            await wait_until(lambda: vp.contains(_on_screen(window, item, item.button_rect("rerun"))), 3, "on screen")
            asked = answer_dialog(say(True), "Re-run failed")
            _click(window, item, item.button_rect("rerun"))
            assert "Re-run 2 cells that failed: estimated $" in asked[0][1] and "at batch prices" in asked[0][1]
            await wait_until(lambda: sweeps.running, 3, "the re-run")
            await wait_until(lambda: not sweeps.running, 20, "the re-run to end")
            assert [c.attempts for c in _cells_of(grid, CL)] == [2, 2]
            assert item.progress_text.startswith("2 done · 2 failed · 0 left"), item.progress_text
            assert item.button_rect("resume") is None and item.button_text("rerun") == "Re-run failed (2)"
            window.controller.emit_totals()
            assert "without usage" not in window.totals_label.text()


def _quit(window) -> None:
    """File → Quit (Ctrl+Q); the quit dialog says yes (open_window answers it)."""
    from PySide6.QtGui import QAction

    [action] = [a for a in window.findChildren(QAction) if a.text().replace("&", "") == "Quit"]
    action.trigger()


def _stored_answers(repo, session_id: str) -> dict[int, list]:
    from app.sweep import cell_answers

    return cell_answers(repo.load_graph(session_id))


async def test_the_grid_shows_a_batch_cell_only_in_its_final_form_while_the_results_are_written(
        app_env, fake_server, tmp_path, fast_polls):
    """qa3 N3: while a batch's results were written, its cells showed as full-price 0 ms answers with no
    checks ("done · 0 ms · $0.0016", headers "p50 0 ms" and inflated pass rates) until a reopen."""
    fake_server.batches.hold = True
    async with open_window() as (window, _services):
        sweeps = await _start_batch_sweep(window, tmp_path, ["alpha", "beta", "gamma"])
        grid = sweeps.grid
        await wait_until(lambda: all(c.status == "done" for c in _cells_of(grid, DS)), 20, "the live cells")
        await wait_until(lambda: all(c.status == "in batch" for c in _cells_of(grid, CL)), 5, "cells in batch")
        seen: list[str] = []
        catalog = window.controller.catalog

        def look(_event) -> None:  # what the grid shows after every change the window hears of
            sweeps.refresh()
            for cell in _cells_of(grid, CL):
                if cell.status in ("in batch", "queued"):
                    continue
                node = window.controller.graph.nodes[cell.answer_id]
                if cell.status != "done" or cell.latency_ms is not None or len(cell.checks) != 2 \
                        or cell.cost_usd != pytest.approx(batch_cost(catalog, node)):
                    seen.append(f"{cell.index}: {cell.status} {cell.latency_ms} ms ${cell.cost_usd} {cell.checks}")
            for total in grid.totals():
                if total.p50_ms is not None and total.p50_ms < 1:
                    seen.append(f"p50 {total.p50_ms} ms")

        window.controller.model.observe(look)
        fake_server.batches.hold = False
        await wait_until(lambda: not sweeps.running, 10, "the batch's results")
        window.controller.model.unobserve(look)
        assert seen == []
        assert all(c.status == "done" and c.latency_ms is None for c in _cells_of(grid, CL))
        assert [t.pass_rate for t in grid.totals()] == [1.0, 1.0]
        # the grid's cost is the session's, as the status bar gives it (and as a reopen shows it)
        spent = f"${sum(c.spent_usd for c in grid.cells):.4f}"
        await wait_until(lambda: spent in window.totals_label.text(), 3, f"the session's total {spent}")
        assert spent in sweeps.item.progress_text


async def test_a_quit_while_batch_results_are_written_then_resume_stores_each_cell_once(
        app_env, fake_server, tmp_path, fast_polls):
    """qa3 N1, N2: Ctrl+Q while an ended batch filled its cells, reopen, Resume sweep: every cell already
    filled got a second answer from the same batch ("try 2", cost counted twice), and the cell being
    written at the quit was left as an internal error or a full-price unchecked "done"."""
    fake_server.batches.hold = True
    async with open_window() as (window, services):
        sweeps = await _start_batch_sweep(window, tmp_path, ["alpha", "beta", "gamma", "delta"])
        grid = sweeps.grid
        running_at_close: list[bool] = []  # was the collection still running when the quit closed the store?
        close_store = services.store.close
        services.store.close = lambda: (running_at_close.append(sweeps.running), close_store())[1]
        await wait_until(lambda: all(c.status == "done" for c in _cells_of(grid, DS)), 20, "the live cells")
        await wait_until(lambda: all(c.status == "in batch" for c in _cells_of(grid, CL)), 5, "cells in batch")
        quitting: list[bool] = []

        def quit_on_first_result(event) -> None:  # the user presses Ctrl+Q as the first result lands
            node = getattr(event, "node", None)
            if not quitting and node is not None and "sweep_batch" in node.meta and not node.status.is_live:
                quitting.append(True)
                QTimer.singleShot(0, lambda: _quit(window))

        window.controller.model.observe(quit_on_first_result)
        fake_server.batches.hold = False
        await wait_until(lambda: not window.isVisible(), 10, "the quit")
    assert running_at_close == [False]  # the collection ended before the store was closed: nothing written after
    # reopen: each Claude cell either holds its batch answer, whole, or still waits in the batch
    async with open_window() as (window, _services):
        sweeps = window.controller.sweeps
        await wait_until(lambda: sweeps.item is not None, 5, "the grid")
        grid, item = sweeps.grid, sweeps.item
        repo, catalog = window.controller.repo, window.controller.catalog
        answers = _stored_answers(repo, window.controller.session.id)
        filled = [c for c in _cells_of(grid, CL) if answers.get(c.index)]
        assert 1 <= len(filled) < 4, [c.status for c in _cells_of(grid, CL)]
        for cell in _cells_of(grid, CL):
            if cell in filled:
                [node] = answers[cell.index]
                assert node.status.value == "done" and node.error is None
                assert node.cost_usd == pytest.approx(batch_cost(catalog, node)) and node.timing.duration_ms is None
                assert [c["check"] for c in node.meta[CHECKS_META]] == CHECKS.splitlines()
                assert cell.status == "done" and cell.latency_ms is None and len(cell.checks) == 2
            else:
                assert cell.status == "in batch"
        await wait_until(lambda: item.button_rect("resume") is not None, 5, "Resume")
        vp = window.view.viewport().rect()
        await wait_until(lambda: vp.contains(_on_screen(window, item, item.button_rect("resume"))), 3, "on screen")
        _click(window, item, item.button_rect("resume"))
        await wait_until(lambda: all(c.status == "done" for c in grid.cells), 10, "every cell filled")
        await wait_until(lambda: not sweeps.running, 5, "the run to end")
        assert _creates(fake_server) == 1
        answers = _stored_answers(repo, window.controller.session.id)
        assert {i: len(a) for i, a in answers.items()} == {c.index: 1 for c in grid.cells}  # one try per cell
        assert all(c.attempts == 1 and c.status == "done" for c in grid.cells)
        for cell in _cells_of(grid, CL):
            [node] = answers[cell.index]
            assert cell.spent_usd == pytest.approx(batch_cost(catalog, node)) and cell.latency_ms is None
        one_try = sum(a[0].cost_usd for a in answers.values())
        assert f"${one_try:.4f}" in item.progress_text
