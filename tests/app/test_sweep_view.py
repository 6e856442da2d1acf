"""The sweep grid's data (app/sweep_view.py): cells from answers, per-column totals (pass rate, mean
score, cost, p50/p95 latency), the filters (answers differ, failures, one model), progress."""

from __future__ import annotations

import pytest

from app.domain import Edge, EdgeRole, ErrorInfo, Graph, Node, NodeKind, NodeStatus, Session, Timing
from app.sweep import CELL_META, CHECKS_META, JUDGE_META, SCORE_META, SWEEP_META, SweepDef
from app.sweep_view import (
    BATCHED,
    CANCELLED,
    DONE,
    FAILED,
    ON_CANVAS_META,
    QUEUED,
    STOPPED,
    STREAMING,
    SweepGrid,
    answers_differ,
    load_grid,
    sweep_card_ids,
)


def _defn(rows: int = 3) -> SweepDef:
    return SweepDef(templates=["Say {{w}}"], models=["deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5"],
                    columns=["w"], rows=[{"w": f"w{i}"} for i in range(rows)], vars_name="v.csv",
                    variants=[{"temperature": 0.0}, {"temperature": 0.7}], checks=["contains:ok"])


def _answer(text: str, *, status: NodeStatus = NodeStatus.DONE, ms: int | None = 100, cost: float | None = 0.01,
            checks: list[bool] | None = None, score: int | None = None) -> Node:
    node = Node("s", NodeKind.RESPONSE, text, model="m", status=status)
    node.timing = Timing(ttft_ms=10, duration_ms=ms)
    node.cost_usd = cost
    if checks is not None:
        node.meta[CHECKS_META] = [{"check": f"c{i}", "pass": ok} for i, ok in enumerate(checks)]
    if score is not None:
        node.meta[SCORE_META] = {"score": score, "reason": "fine"}
    return node


def test_rows_are_inputs_and_columns_are_model_times_variant():
    grid = SweepGrid(_defn())
    assert len(grid.rows) == 3 and len(grid.columns) == 4
    assert [c.model for c in grid.columns] == ["deepseek:deepseek-flash"] * 2 + ["anthropic:claude-sonnet-5-5"] * 2
    assert grid.columns[1].label == "temperature=0.7"
    assert grid.rows[2].label == "w2"
    # the sweep's cell order (row, prompt, model, variant) maps onto (row, column)
    assert grid.cell_at(1, 3).index == 7 and grid.cells[7].row == 1 and grid.cells[7].col == 3
    assert grid.cell_left(7).index == 6 and grid.cell_left(4) is None


def test_cell_status_follows_its_answers():
    grid = SweepGrid(_defn())
    assert grid.cells[0].status == QUEUED
    live = _answer("partial", status=NodeStatus.STREAMING)
    assert grid.update(0, [live]) and grid.cells[0].status == STREAMING
    failed = _answer("", status=NodeStatus.ERROR, cost=None)
    failed.error = ErrorInfo("server", "overloaded", 503)
    grid.update(0, [failed])
    assert grid.cells[0].status == FAILED and grid.cells[0].error == "overloaded" and grid.cells[0].failed
    # a later finished attempt (a re-run) is what the cell shows
    attempts = [failed, _answer("ok  fine\n", checks=[True], score=8)]
    grid.update(0, attempts)
    cell = grid.cells[0]
    assert (cell.status, cell.preview, cell.score, cell.latency_ms, cell.attempts) == (DONE, "ok fine", 8, 100, 2)
    assert cell.passed and not cell.failed
    version = cell.version
    assert not grid.update(0, attempts) and cell.version == version  # unchanged: nothing to repaint
    grid.update(1, [_answer("nope", checks=[False])])
    assert grid.cells[1].status == DONE and grid.cells[1].failed  # a failed check fails the cell


def test_column_totals_pass_rate_mean_score_cost_and_percentiles():
    grid = SweepGrid(_defn(rows=20))
    col0 = [c for c in grid.cells if c.col == 0]
    for i, cell in enumerate(col0):  # latencies 100..2000 ms; every 4th fails its check
        grid.update(cell.index, [_answer("ok", ms=(i + 1) * 100, cost=0.001, checks=[i % 4 != 0], score=i % 10 + 1)])
    totals = grid.totals()[0]
    assert totals.cells == 20 and totals.done == 20 and totals.passed == 15
    assert totals.pass_rate == 0.75
    assert totals.p50_ms == 1000 and totals.p95_ms == 1900  # nearest rank
    assert abs(totals.cost_usd - 0.02) < 1e-9
    assert totals.mean_score == sum(i % 10 + 1 for i in range(20)) / 20
    empty = grid.totals()[1]
    assert empty.pass_rate is None and empty.p50_ms is None and empty.cost_usd is None and empty.mean_score is None
    # a failed cell counts against the pass rate but not in the latency percentiles
    grid.update(grid.cell_at(0, 1).index, [_answer("", status=NodeStatus.ERROR, ms=99_999)])
    grid.update(grid.cell_at(1, 1).index, [_answer("ok", ms=300, checks=[True])])
    t1 = grid.totals()[1]
    assert t1.pass_rate == 0.5 and t1.p50_ms == 300 and t1.p95_ms == 300


def test_filters_answers_differ_failures_and_one_model():
    grid = SweepGrid(_defn(rows=3))
    same = ["ok", "OK ", "ok", "ok"]  # row 0: the same answer in every column (case and spaces folded)
    differ = ["ok", "ok", "ok", "ok, but longer"]  # row 1: the last column differs
    for row, texts in ((0, same), (1, differ)):
        for col, text in enumerate(texts):
            grid.update(grid.cell_at(row, col).index, [_answer(text, checks=[True])])
    # row 2: deepseek answered the same twice; claude failed once
    grid.update(grid.cell_at(2, 0).index, [_answer("ok", checks=[True])])
    grid.update(grid.cell_at(2, 1).index, [_answer("ok", checks=[True])])
    grid.update(grid.cell_at(2, 2).index, [_answer("", status=NodeStatus.ERROR)])
    assert grid.visible_rows() == [0, 1, 2]
    assert grid.visible_rows(differ=True) == [1]
    assert grid.visible_rows(failures=True) == [2]
    assert grid.visible_columns("deepseek:deepseek-flash") == [0, 1]
    assert grid.visible_rows(failures=True, model="deepseek:deepseek-flash") == []
    assert grid.visible_rows(differ=True, model="anthropic:claude-sonnet-5-5") == [1]
    assert answers_differ(["a", "b"]) and not answers_differ(["a"]) and not answers_differ([])


def test_progress_counts_and_what_resume_and_rerun_would_run():
    grid = SweepGrid(_defn(rows=1))
    grid.update(0, [_answer("ok", checks=[True], cost=0.5)])
    grid.update(1, [_answer("bad", checks=[False], cost=0.25)])
    grid.update(2, [_answer("", status=NodeStatus.INTERRUPTED, cost=None)])
    grid.started, grid.started_done = 100.0, 0
    grid.update(3, [_answer("…", status=NodeStatus.STREAMING, cost=None)])
    p = grid.progress(now=103.0)
    # done = finished and passed; failed = ended failed; the interrupted and the streaming cell are left
    assert (p.total, p.done, p.failed, p.left, p.running, p.cost_usd) == (4, 1, 1, 2, 1, 0.75)
    assert p.eta_s == 3.0 and p.line().startswith("1 done · 1 failed · 2 left · $0.750")
    assert grid.cells[2].status == STOPPED and not grid.cells[2].failed  # cut by a crash: not a failure
    assert grid.unfinished() == [2]  # Resume: never the streaming one, never a finished or failed one
    assert grid.failed_cells() == [1]  # Re-run failed: the cells that ended failed


def test_a_cell_that_failed_is_re_run_failed_s_not_resume_s_and_every_try_is_paid_for():
    """qa2 D2: "48/48 done · 32 failed" beside "Resume sweep (32 cells left)", and Resume retried the
    failed cells forever; the header's cost left out what the earlier tries cost."""
    grid = SweepGrid(_defn(rows=1))
    first = _answer("", status=NodeStatus.ERROR, cost=None)
    first.error = ErrorInfo("bad_stream", "not JSON")
    grid.update(0, [first])
    second = _answer("bad", checks=[False], cost=0.25)
    second.meta[SCORE_META] = {"score": 3, "reason": "meh", "cost_usd": 0.125}  # its judge's verdict
    grid.update(1, [_answer("ok", checks=[False], cost=0.5), second])
    grid.update(2, [_answer("part", status=NodeStatus.STOPPED, cost=None)])
    grid.cancelled = {3}
    grid.update(3, [])
    assert [c.status for c in grid.cells] == [FAILED, DONE, STOPPED, CANCELLED]
    assert grid.failed_cells() == [0, 1] and grid.unfinished() == [2, 3]
    p = grid.progress()
    assert (p.done, p.failed, p.left) == (0, 2, 2)
    assert p.cost_usd == 0.875  # both tries of cell 1 and the judge's verdict, as the session's total counts them
    assert p.line() == "0 done · 2 failed · 2 left · $0.875"


def _sweep_session(defn: SweepDef, continued: int | None = None) -> tuple[Graph, dict[int, str]]:
    session = Session(title="Sweep")
    sweep = Node(session.id, NodeKind.SWEEP, defn.summary(), meta={SWEEP_META: defn.to_dict()})
    graph = Graph(session, {sweep.id: sweep}, [])
    answer_ids = {}
    for cell in defn.cells():
        mark = {CELL_META: {"sweep": sweep.id, "cell": cell.index}}
        prompt = graph.add(Node(session.id, NodeKind.PROMPT, cell.text, meta=dict(mark)))
        answer = graph.add(Node(session.id, NodeKind.RESPONSE, f"a{cell.index}", model=cell.model,
                                status=NodeStatus.DONE, meta=dict(mark)))
        graph.link(prompt.id, answer.id, EdgeRole.REPLY)
        verdict = graph.add(Node(session.id, NodeKind.SYNTHESIS, "SCORE: 7", meta={JUDGE_META: answer.id}))
        graph.link(answer.id, verdict.id, EdgeRole.SOURCE)
        answer_ids[cell.index] = answer.id
    if continued is not None:
        follow = graph.add(Node(session.id, NodeKind.PROMPT, "and then?"))
        graph.edges.append(Edge(answer_ids[continued], follow.id, EdgeRole.FOLLOW, 0, session.id))
    return graph, answer_ids


def test_load_grid_and_the_cards_the_grid_stands_for():
    defn = _defn(rows=2)
    graph, answer_ids = _sweep_session(defn, continued=5)
    loaded = load_grid(graph)
    assert loaded is not None
    _sweep, grid, answers = loaded
    assert all(c.status == DONE for c in grid.cells) and grid.cells[3].answer_id == answer_ids[3]
    hidden = sweep_card_ids(graph, answers)
    # every cell's prompt, answer and verdict (3 each) but the continued one's prompt and answer, which
    # stay on the canvas (its verdict stays with the grid, whose focus mode shows the score)
    assert len(hidden) == 3 * defn.size - 2
    assert answer_ids[5] not in hidden and answer_ids[4] in hidden
    # a cell put on the canvas (Continue on canvas, nothing sent yet) stays there too, with its prompt
    _sweep_node, grid, answers = load_grid(graph)
    answers[2][0].meta[ON_CANVAS_META] = True
    hidden = sweep_card_ids(graph, answers)
    assert len(hidden) == 3 * defn.size - 4 and answer_ids[2] not in hidden
    assert not any(e.parent_id in hidden for e in graph.parents(answer_ids[2]))
    assert load_grid(Graph(Session(), {}, [])) is None


def test_a_cell_previews_its_answer_as_one_plain_line():
    grid = SweepGrid(_defn(rows=1))
    grid.update(0, [_answer("## Verdict\n\nThe **refund** is due:\n\n```json\n{\"ok\": true}\n```\n- step one\n> quoted")])
    assert grid.cells[0].preview == 'Verdict The refund is due: {"ok": true} step one quoted'
    grid.update(1, [_answer("word " * 200)])
    assert len(grid.cells[1].preview) == 160 and grid.cells[1].preview.endswith("…")


def test_a_check_that_does_not_apply_neither_fails_the_cell_nor_counts_as_passed():
    grid = SweepGrid(_defn(rows=1))
    batch = _answer("ok", ms=None)
    batch.meta[CHECKS_META] = [{"check": "contains:ok", "pass": True},
                               {"check": "max-ms:500", "pass": None, "reason": "n/a: no latency for batch answers"}]
    grid.update(0, [batch])
    cell = grid.cells[0]
    assert cell.checks == [("contains:ok", True), ("max-ms:500", None)]
    assert cell.passed and not cell.failed and cell.latency_ms is None
    assert grid.totals()[0].pass_rate == 1.0 and grid.totals()[0].p50_ms is None
    assert grid.failed_cells() == [] and grid.visible_rows(failures=True) == []


def test_cells_waiting_in_a_batch_show_in_batch_and_a_resume_polls_them():
    defn = _defn(rows=2)
    session = Session(title="s")
    sweep = Node(session.id, NodeKind.SWEEP, "sweep", meta={SWEEP_META: defn.to_dict()})
    # cells 2 and 3 (row 0, the Claude columns) wait in an open batch; cell 6 was in a filled one
    sweep.meta["sweep_batches"] = [{"key": "tb1", "provider": "anthropic", "cells": {"tb1-2": 2, "tb1-3": 3},
                                    "state": "submitted", "remote_id": "msgbatch_1", "status": "in_progress"},
                                   {"key": "tb0", "provider": "anthropic", "cells": {"tb0-6": 6}, "state": "filled"}]
    _sweep, grid, _answers = load_grid(Graph(session, {sweep.id: sweep}, []))
    assert [c.index for c in grid.cells if c.status == BATCHED] == [2, 3]
    assert grid.cells[6].status == QUEUED
    assert 2 in grid.unfinished() and 3 in grid.unfinished() and grid.failed_cells() == []
    p = grid.progress()
    assert p.batched == 2 and "2 in batch" in p.line() and p.done == 0
    # an earlier failed attempt of a cell now in a batch: the cell waits; its batch answer fills it
    failed = _answer("", status=NodeStatus.ERROR)
    grid.update(2, [failed])
    assert grid.cells[2].status == BATCHED
    # qa3 N3: the batch's answer while it is being written (its final write not made yet: live, or
    # without its checks) is not shown: the cell stays "in batch" until its final form is stored
    writing = _answer("ok", ms=0, status=NodeStatus.STREAMING)
    writing.meta["sweep_batch"] = {"provider": "anthropic", "batch_id": "msgbatch_1", "custom_id": "tb1-2"}
    grid.update(2, [failed, writing])
    assert grid.cells[2].status == BATCHED and grid.cells[2].cost_usd is None
    unchecked = _answer("ok", ms=0)
    unchecked.meta["sweep_batch"] = dict(writing.meta["sweep_batch"])
    grid.update(2, [failed, unchecked])
    assert grid.cells[2].status == BATCHED and grid.cells[2].latency_ms is None
    result = _answer("ok", ms=None, checks=[True])
    result.meta["sweep_batch"] = dict(writing.meta["sweep_batch"])
    grid.update(2, [failed, result])
    assert grid.cells[2].status == DONE
    # the batch ended: its cells are no longer waiting
    assert grid.set_batches([], []) == [2, 3]
    grid.update(3, [])
    assert grid.cells[3].status == QUEUED and grid.batch_lines == []


def test_the_judges_verdict_and_cost_reach_the_cell_and_the_totals():
    from app.sweep_view import pass_line

    grid = SweepGrid(_defn())
    scored = _answer("ok", checks=[True])
    scored.meta[SCORE_META] = {"score": 8, "reason": "clear", "judge": "j", "node_id": "v1", "cost_usd": 0.002}
    unscored = _answer("ok", checks=[True])  # the judge's reply had no SCORE line
    unscored.meta[SCORE_META] = {"score": None, "reason": "Looks fine.", "judge": "j", "node_id": "v2",
                                 "cost_usd": 0.001}
    earlier = _answer("ok", checks=[False])  # a first attempt, judged too, then re-run
    earlier.meta[SCORE_META] = {"score": 3, "reason": "meh", "judge": "j", "node_id": "v0", "cost_usd": 0.004}
    grid.update(0, [earlier, scored])
    grid.update(4, [unscored])
    a, b = grid.cells[0], grid.cells[4]
    assert (a.score, a.judged, a.score_reason) == (8, True, "clear")
    assert a.judge_cost_usd == pytest.approx(0.006)  # both judgings were billed
    assert (b.score, b.judged, b.score_reason) == (None, True, "Looks fine.")
    assert not grid.cells[2].judged and grid.cells[2].judge_cost_usd is None
    t = grid.totals()[0]  # (cells 0 and 4 are in the first column)
    assert (t.mean_score, t.scored) == (8.0, 1)
    assert t.judge_cost_usd == pytest.approx(0.007) and t.cost_usd == pytest.approx(0.03)  # every attempt was paid for (the re-run too)
    overall = grid.overall()
    assert overall.judge_cost_usd == pytest.approx(0.007) and overall.scored == 1 and overall.cells == 12
    assert pass_line(t) == "pass 2/2 (100%) · 1 not run"


def test_the_pass_line_counts_only_the_cells_that_ended():
    from app.sweep_view import pass_line

    grid = SweepGrid(_defn(rows=8))
    for r in range(6):
        grid.update(grid.cell_at(r, 0).index, [_answer("ok", checks=[r != 5])])
    grid.update(grid.cell_at(6, 0).index, [_answer("ok", status=NodeStatus.STREAMING)])
    t = grid.totals()[0]
    assert (t.cells, t.ended, t.passed, t.running, t.not_run) == (8, 6, 5, 1, 1)
    assert pass_line(t) == "pass 5/6 (83%) · 1 running · 1 not run"
    assert pass_line(grid.totals()[1]) == "pass – · 8 not run"


def test_an_empty_value_is_named_in_its_row_label():
    defn = SweepDef(templates=["Explain {{topic}} in {{lang}}", "Sum up {{topic}}"], models=["m:a"],
                    columns=["topic", "lang"], rows=[{"topic": "", "lang": "empty"}, {"topic": "x", "lang": "en"}],
                    vars_name="v.csv")
    grid = SweepGrid(defn)
    assert [r.label for r in grid.rows] == ["P1 · topic: (empty) · empty", "P2 · topic: (empty) · empty",
                                            "P1 · x · en", "P2 · x · en"]
