"""The sweep as a grid (Qt-free): rows = inputs (variable row × prompt template), columns = model ×
variant, one `CellView` per cell with what the canvas's grid draws (status, a short answer preview,
check results, judge score, latency, cost), per-column totals (pass rate, mean score, total cost,
p50/p95 latency), the header's filters (only rows whose answers differ, only failures, one model)
and the run's progress. `ui/canvas/sweep_grid.py` paints it; `ui/sweep_controller.py` feeds it.

Built from the sweep's definition (app.sweep.SweepDef) and its cells' answers (`cell_answers`);
`update(cell, answers)` recomputes one cell when its answer changed (the totals are recomputed on
the next read, not per change).
"""

from __future__ import annotations

import re
import statistics
import time
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from app.domain import Graph, Node, NodeKind, NodeStatus
from app.present.money import fmt_cost
from app.sweep import (
    BATCH_META,
    CHECKS_META,
    JUDGE_META,
    SCORE_META,
    SWEEP_META,
    UNJUDGED,
    SweepDef,
    best_answer,
    cell_answers,
    find_sweep,
    node_cost,
    not_sent_note,
    percentile,
    waiting_in_batches,
)

QUEUED = "queued"
BATCHED = "in batch"  # waiting in a batch at its provider (app.batch): no answer yet, none to send
STREAMING = "streaming"
DONE = "done"
FAILED = "failed"  # ended without an answer (an error), or an answer that failed a check: "Re-run failed"
STOPPED = "stopped"  # its answer was stopped (Cancel all, Stop) or cut by a quit or crash: Resume runs it again
CANCELLED = "cancelled"  # never started: Cancel all stopped the run first (or its batch was cancelled); Resume runs it

PREVIEW_CHARS = 160
ON_CANVAS_META = "sweep_on_canvas"  # on a cell's answer the user put on the canvas (Continue on canvas)
CANCELLED_META = "sweep_cancelled"  # on the sweep node: the cells a cancelled run never started (Resume clears it)

__all__ = [
    "BATCHED",
    "CANCELLED",
    "CANCELLED_META",
    "DONE",
    "FAILED",
    "ON_CANVAS_META",
    "QUEUED",
    "STOPPED",
    "STREAMING",
    "CellView",
    "ColumnTotals",
    "ColumnView",
    "Progress",
    "RowView",
    "SweepGrid",
    "answers_differ",
    "load_grid",
    "ms_text",
    "pass_line",
    "short_reason",
    "status_text",
    "sweep_card_ids",
]


@dataclass(slots=True)
class CellView:
    index: int  # the sweep's cell index (app.sweep.Cell.index)
    row: int  # grid row (RowView.index)
    col: int  # grid column (ColumnView.index)
    status: str = QUEUED
    preview: str = ""
    checks: list[tuple[str, bool | None]] = field(default_factory=list)  # None: the check does not apply
    score: int | None = None  # the judge's score (1–10) of the answer shown
    judged: bool = False  # the judge answered about it (with a score, or without one: score None)
    unjudged: bool = False  # a finished answer of a sweep with a judge that the judge has not scored (yet)
    score_reason: str = ""  # the judge's one-line reason (or why it gave no score)
    judge_cost_usd: float | None = None  # what the judge cost on this cell (every attempt it judged)
    latency_ms: int | None = None
    cost_usd: float | None = None
    answer_id: str | None = None
    error: str | None = None
    attempts: int = 0
    spent_usd: float = 0.0  # every attempt's cost and its judge's (re-runs included)
    text_key: str = ""  # the answer's text, whitespace and case folded ("answers differ")
    version: int = 0  # bumped on every change (the painter's text cache key)

    @property
    def passed(self) -> bool:
        """Finished, and no check failed (one that does not apply, None, fails nothing)."""
        return self.status == DONE and not any(ok is False for _, ok in self.checks)

    @property
    def failed(self) -> bool:
        """Ended without an answer, or an answer that failed a check."""
        return self.status == FAILED or (self.status == DONE and not self.passed)


@dataclass(frozen=True, slots=True)
class RowView:
    index: int
    row: int  # the variables row
    prompt_index: int
    label: str  # what tells the row apart: its variables, else its prompt


@dataclass(frozen=True, slots=True)
class ColumnView:
    index: int
    model: str
    variant_index: int
    params: dict[str, Any]
    label: str  # the variant's settings ("" for none)


@dataclass(frozen=True, slots=True)
class ColumnTotals:
    cells: int
    done: int
    passed: int
    pass_rate: float | None  # passed / ended cells (None before any ended)
    mean_score: float | None
    cost_usd: float | None
    p50_ms: float | None
    p95_ms: float | None
    ended: int = 0  # finished or failed: the pass rate's denominator
    running: int = 0  # streaming now
    scored: int = 0  # cells with a judge's score (mean_score's count)
    judge_cost_usd: float | None = None  # the judge's cost, apart from the answers' (cost_usd)

    @property
    def not_run(self) -> int:
        """Cells without an ended answer and not running (queued, waiting in a batch, cancelled…)."""
        return self.cells - self.ended - self.running


def pass_line(t: ColumnTotals) -> str:
    """The pass rate as a column header shows it, over the cells that ended, with the cells not run
    apart ("pass 5/6 (83%) · 2 not run"; never "pass 100% (6/8)", which reads as 6 of 8)."""
    line = "pass –" if not t.ended else f"pass {t.passed}/{t.ended} ({t.passed / t.ended:.0%})"
    if t.running:
        line += f" · {t.running} running"
    if t.not_run:
        line += f" · {t.not_run} not run"
    return line


def status_text(cell: CellView) -> str:
    """The cell's status in words, as the grid, focus mode and the reports say it: its status (the
    constants above are the words), "check failed" for an answer that failed a check, "interrupted" for
    one cut by a quit or a crash (Resume runs it again)."""
    if cell.status == DONE and not cell.passed:
        return "check failed"
    if cell.status == STOPPED and cell.error == "interrupted":
        return "interrupted"
    return cell.status


def ms_text(ms: float | None) -> str:
    """A latency as the grid and the reports write it: "900 ms", "1.4 s", "–"."""
    if ms is None:
        return "–"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


@dataclass(frozen=True, slots=True)
class Progress:
    total: int
    done: int  # finished, no check failed
    failed: int  # ended without an answer, or failed a check ("Re-run failed")
    running: int
    cost_usd: float  # spent on the sweep: every attempt and its judge, re-runs included
    eta_s: float | None
    batched: int = 0  # cells waiting in open batches

    @property
    def ended(self) -> int:
        return self.done + self.failed

    @property
    def left(self) -> int:
        """Cells without an ended attempt: queued, running, stopped, cancelled, waiting in a batch."""
        return self.total - self.ended

    def line(self) -> str:
        eta = ""
        if self.eta_s is not None:
            eta = f" · ETA {int(self.eta_s) // 60}:{int(self.eta_s) % 60:02d}"
        batched = f" · {self.batched} in batch" if self.batched else ""
        # (the cost as every view writes it: "$0.000130", never "$0.0000" for a cost that is not zero)
        return f"{self.done} done · {self.failed} failed · {self.left} left{batched} · {fmt_cost(self.cost_usd)}{eta}"


def _fold(text: str) -> str:
    return " ".join(text.split()).casefold()


_MARKS = re.compile(r"^\s{0,3}(?:#{1,6}\s+|>\s?|[-*+]\s+|```\S*\s*$)|\*\*|__|`", re.M)


def _preview(text: str) -> str:
    """The answer's first words as plain text: one line, markdown's marks (headings, emphasis, code
    ticks, quotes, bullets, fences) left out."""
    flat = " ".join(_MARKS.sub("", text[: PREVIEW_CHARS * 4]).split())
    return flat if len(flat) <= PREVIEW_CHARS else flat[: PREVIEW_CHARS - 1] + "…"


REASON_CHARS = 160


def short_reason(reason: Any) -> str:
    """The judge's reason as a cell shows it: one line, at most `REASON_CHARS` (a reply stored whole
    before replies were cut to their first line reads as its first words, and "…")."""
    text = " ".join(str(reason or "").split())
    return text if len(text) <= REASON_CHARS else text[:REASON_CHARS - 1].rstrip() + "…"


def answers_differ(keys: Iterable[str]) -> bool:
    """Do these finished answers (folded texts) differ from one another? (One or none: no.)"""
    return len(set(keys)) > 1


def _variant_label(params: dict[str, Any], not_sent: Sequence[str] = (), varying: Collection[str] = ()) -> str:
    """A column's settings, in the order that tells columns apart on the header's one line: what varies
    between the sweep's variants ("temperature=0.7"), then what of its variants its model does not take
    ("temperature not accepted": such variants are one column), then the settings every variant shares
    ("thinking=off")."""
    capped = {n.split(" ", 1)[0] for n in not_sent if " capped at " in n}

    def word(k: str, v: Any) -> str:
        if k == "system":
            system = " ".join(str(v).split())
            return f"system “{system[:24]}{'…' if len(system) > 24 else ''}”"
        return f"{k}={('on' if v else 'off') if isinstance(v, bool) else v}"

    shown = [(k, v) for k, v in params.items() if k not in capped]
    shown.sort(key=lambda kv: kv[0] == "system")  # (the system prompt last among its kind)
    differ = ", ".join(word(k, v) for k, v in shown if k in varying)
    shared = ", ".join(word(k, v) for k, v in shown if k not in varying)
    return " · ".join(p for p in (differ, not_sent_note(not_sent), shared) if p)


def _row_label(values: dict[str, str], template: str, prompts: int, prompt_index: int) -> str:
    if values:  # an empty value is named ("topic: (empty)"), not an empty slot between two dots
        label = " · ".join(" ".join(v.split()) or f"{k}: (empty)" for k, v in values.items())
    else:
        label = " ".join(template.split())
    if prompts > 1 and values:
        label = f"P{prompt_index + 1} · {label}"
    return label[:200]


class SweepGrid:
    """The grid of one sweep: rows × columns of cells, totals, filters and progress."""

    def __init__(self, defn: SweepDef, sweep_id: str = "") -> None:
        self.defn = defn
        self.sweep_id = sweep_id
        self.columns: list[ColumnView] = []
        col_of: dict[tuple[str, int], int] = {}  # (model, variant index) -> column
        keys = {k for variant in defn.variants for k in variant}
        varying = {k for k in keys if len({repr(variant.get(k)) for variant in defn.variants}) > 1}
        for model in defn.models:  # a model's variants that send it the same are one column
            for v, params, not_sent in defn.model_variants(model):
                col_of[(model, v)] = len(self.columns)
                label = _variant_label(params, not_sent, varying)
                self.columns.append(ColumnView(len(self.columns), model, v, params, label))
        self.rows: list[RowView] = []
        self.cells: list[CellView] = []
        self._by_pos: dict[tuple[int, int], int] = {}
        ncols = len(self.columns)
        for cell in defn.cells():
            row = cell.row * len(defn.templates) + cell.prompt_index
            if row == len(self.rows):
                self.rows.append(RowView(row, cell.row, cell.prompt_index,
                                         _row_label(cell.vars, defn.templates[cell.prompt_index],
                                                    len(defn.templates), cell.prompt_index)))
            col = col_of[(cell.model, cell.variant_index)]
            self.cells.append(CellView(cell.index, row, col))
            self._by_pos[(row, col)] = cell.index
        assert len(self.cells) == len(self.rows) * ncols
        self._totals: list[ColumnTotals] | None = None
        self.batched: set[int] = set()  # cells waiting in an open batch (app.batch.cell_batch_states)
        self.batch_lines: list[str] = []  # one line per open batch: its provider's status and counts
        self.batch_ids: set[str] = set()  # the custom_ids of the open batches' requests
        self.cancelled: set[int] = set()  # cells a cancelled run never started (Cancel all)
        self.started: float | None = None  # when this window began running cells (for the ETA)
        self.started_done = 0  # cells ended then (Progress.ended)

    def __repr__(self) -> str:
        return f"<SweepGrid {len(self.rows)} rows × {len(self.columns)} columns>"

    # ------------------------------------------------------------------ cells
    def cell_at(self, row: int, col: int) -> CellView:
        return self.cells[self._by_pos[(row, col)]]

    def cell_left(self, index: int) -> CellView | None:
        """The cell on the left of this one (same row, previous column), if any."""
        cell = self.cells[index]
        return self.cell_at(cell.row, cell.col - 1) if cell.col > 0 else None

    def update(self, index: int, answers: Sequence[Node]) -> bool:
        """Recompute cell `index` from its answers (creation order); True when what it shows changed."""
        cell = self.cells[index]
        node = best_answer(answers)
        if index in self.batched and node is not None and not self._batch_result(node):
            node = None  # an earlier attempt, or the batch's result being written: the cell waits in a batch
        before = (cell.status, cell.preview, cell.checks, cell.score, cell.latency_ms, cell.cost_usd,
                  cell.answer_id, cell.error, len(answers), cell.spent_usd, cell.judged, cell.score_reason,
                  cell.judge_cost_usd, cell.unjudged)
        cell.attempts = len(answers)
        cell.spent_usd = sum(_spent(a) for a in answers)
        if node is None:
            cell.status = BATCHED if index in self.batched else CANCELLED if index in self.cancelled else QUEUED
            cell.preview, cell.checks, cell.score = "", [], None
            cell.latency_ms = cell.cost_usd = cell.answer_id = cell.error = None
            cell.judged, cell.score_reason, cell.judge_cost_usd = False, "", None
            cell.unjudged = False
            cell.text_key = ""
        else:
            cell.answer_id = node.id
            if node.status == NodeStatus.DONE:
                cell.status = DONE
            elif node.status.is_live:
                cell.status = STREAMING
            elif node.status in (NodeStatus.STOPPED, NodeStatus.INTERRUPTED):
                cell.status = STOPPED  # not a failure: Resume runs it again
            elif _cancelled_in_batch(node):
                cell.status = CANCELLED
            else:
                cell.status = FAILED
            cell.preview = _preview(node.text)
            cell.text_key = _fold(node.text) if node.status == NodeStatus.DONE else ""
            checks = node.meta.get(CHECKS_META)
            cell.checks = [(str(c.get("check")), None if c.get("pass", False) is None else bool(c.get("pass")))
                           for c in checks if isinstance(c, dict)] if isinstance(checks, list) else []
            # the judge's verdict (app.sweep.SweepRunner._judge): a score, or none when its reply had no
            # "SCORE: n" line (or the judge failed); the reason says which
            score = node.meta.get(SCORE_META)
            value = score.get("score") if isinstance(score, dict) else None
            cell.score = value if isinstance(value, int) and not isinstance(value, bool) else None
            cell.judged = isinstance(score, dict) and not score.get(UNJUDGED)
            cell.unjudged = bool(self.defn.judge) and node.status == NodeStatus.DONE and not cell.judged
            cell.score_reason = short_reason(score.get("reason")) if isinstance(score, dict) else ""
            judge_costs = [c for c in (_judge_cost(a) for a in answers) if c is not None]
            cell.judge_cost_usd = sum(judge_costs) if judge_costs else None
            cell.latency_ms = node.timing.duration_ms if node.status == NodeStatus.DONE else None
            cell.cost_usd = node_cost(node)
            if node.error is not None:
                cell.error = node.error.message
            elif node.status == NodeStatus.STOPPED:
                cell.error = "stopped"
            elif node.status == NodeStatus.INTERRUPTED:
                cell.error = "interrupted"
            else:
                cell.error = None
        after = (cell.status, cell.preview, cell.checks, cell.score, cell.latency_ms, cell.cost_usd,
                 cell.answer_id, cell.error, len(answers), cell.spent_usd, cell.judged, cell.score_reason,
                 cell.judge_cost_usd, cell.unjudged)
        if after != before:
            cell.version += 1
            self._totals = None
            return True
        return False

    def _batch_result(self, node: Node) -> bool:
        """Whether `node` is a cell's answer from the open batch it waits in, in its final form (written,
        checked: app.batch writes both at once), so the cell shows it rather than "in batch"."""
        mark = node.meta.get(_CELL_BATCH_META)
        return (not node.status.is_live and CHECKS_META in node.meta and isinstance(mark, dict)
                and mark.get("custom_id") in self.batch_ids)

    def set_batches(self, batched: Iterable[int], lines: Sequence[str], ids: Iterable[str] = ()) -> list[int]:
        """The cells waiting in open batches, one status line per open batch and the open batches'
        request ids (custom_ids); returns the cells whose waiting changed (the caller recomputes them
        with `update`)."""
        new = set(batched)
        changed = sorted(new ^ self.batched)
        self.batched, self.batch_lines, self.batch_ids = new, list(lines), set(ids)
        return changed

    def set_cancelled(self, cells: Iterable[int], answers: dict[int, list[Node]]) -> None:
        """The cells a cancelled run never started (Cancel all; not one waiting in a batch): "cancelled"
        until a run starts again (none)."""
        old, self.cancelled = self.cancelled, set(cells) - self.batched
        for index in old | self.cancelled:
            self.update(index, answers.get(index, []))

    def update_all(self, answers: dict[int, list[Node]]) -> None:
        for cell in self.cells:
            self.update(cell.index, answers.get(cell.index, []))

    # ------------------------------------------------------------------ totals
    def totals(self) -> list[ColumnTotals]:
        """Per column: cells, finished, passed, pass rate (of the cells that ended), mean judge score,
        total cost of the answers and, apart, of the judge, p50/p95 latency of the finished answers
        (nearest rank)."""
        if self._totals is None:
            by_col: list[list[CellView]] = [[] for _ in self.columns]
            for cell in self.cells:
                by_col[cell.col].append(cell)
            self._totals = [_totals_of(cells) for cells in by_col]
        return self._totals

    def overall(self) -> ColumnTotals:
        """The same totals over every cell of the grid (its header's corner)."""
        return _totals_of(self.cells)

    # ------------------------------------------------------------------ filters
    def models(self) -> list[str]:
        return list(self.defn.models)

    def visible_columns(self, model: str | None = None) -> list[int]:
        return [c.index for c in self.columns if model is None or c.model == model]

    def visible_rows(self, *, differ: bool = False, failures: bool = False, model: str | None = None) -> list[int]:
        """The rows the filters keep: `differ` = rows whose finished answers (in the shown columns)
        are not all the same text; `failures` = rows with a failed cell (no answer, or a check
        failed) in the shown columns; `model` = only that model's columns count."""
        cols = self.visible_columns(model)
        out = []
        for row in self.rows:
            cells = [self.cell_at(row.index, c) for c in cols]
            if differ and not answers_differ(c.text_key for c in cells if c.status == DONE):
                continue
            if failures and not any(c.failed for c in cells):
                continue
            out.append(row.index)
        return out

    # ------------------------------------------------------------------ progress
    def unfinished(self) -> list[int]:
        """Cells without an ended attempt and not running: never started (queued, cancelled), stopped or
        interrupted, or waiting in a batch. What Resume runs (or, waiting in a batch, polls); a cell that
        ended failed is not one of them (Re-run failed runs those)."""
        return [c.index for c in self.cells if c.status in (QUEUED, CANCELLED, STOPPED, BATCHED)]

    def unjudged(self) -> list[int]:
        """Finished cells of a sweep with a judge that the judge has not scored (a quit or Cancel all cut
        the judging): what Resume judges, without asking their model again."""
        return [c.index for c in self.cells if c.unjudged and c.status == DONE]

    def failed_cells(self) -> list[int]:
        """Cells that ended failed (an error, or a check failed): what "Re-run failed" runs."""
        return [c.index for c in self.cells if c.failed]

    def progress(self, now: float | None = None) -> Progress:
        done = sum(1 for c in self.cells if c.status == DONE and c.passed)
        failed = sum(1 for c in self.cells if c.failed)
        running = sum(1 for c in self.cells if c.status == STREAMING)
        batched = sum(1 for c in self.cells if c.status == BATCHED)
        cost = sum(c.spent_usd for c in self.cells)
        eta = None
        ended = done + failed
        if self.started is not None and running:
            now = time.monotonic() if now is None else now
            new = ended - self.started_done
            left = len(self.cells) - ended
            if new > 0 and left > 0:
                eta = (now - self.started) / new * left
        return Progress(len(self.cells), done, failed, running, cost, eta, batched)


def _spent(node: Node) -> float:
    """What an attempt cost: its answer and its judge's verdict."""
    score = node.meta.get(SCORE_META)
    judge = score.get("cost_usd") if isinstance(score, dict) else None
    return (node_cost(node) or 0.0) + (judge if isinstance(judge, int | float) else 0.0)


_CELL_BATCH_META = "sweep_batch"  # app.batch.CELL_BATCH_META (app.batch is not imported by the window's start)


def _open_batch_ids(sweep: Node) -> set[str]:
    """The custom_ids of the requests in the sweep's batches not yet filled (app.batch's records)."""
    records = sweep.meta.get(BATCH_META)
    return {str(cid) for rec in (records if isinstance(records, list) else ())
            if isinstance(rec, dict) and rec.get("state") != "filled" for cid in (rec.get("cells") or {})}


def _cancelled_in_batch(node: Node) -> bool:
    """An attempt that never ran: its batch was cancelled first (app.batch marks it)."""
    mark = node.meta.get(_CELL_BATCH_META)
    return isinstance(mark, dict) and bool(mark.get("cancelled"))


def _judge_cost(node: Node) -> float | None:
    score = node.meta.get(SCORE_META)
    cost = score.get("cost_usd") if isinstance(score, dict) else None
    return float(cost) if isinstance(cost, int | float) and not isinstance(cost, bool) else None


def _totals_of(cells: Sequence[CellView]) -> ColumnTotals:
    ended = [c for c in cells if c.status in (DONE, FAILED)]
    passed = sum(1 for c in ended if c.passed)
    scores = [c.score for c in cells if c.score is not None]
    # every attempt's answers (re-runs included: the columns add up to the session's total), the judge apart
    costs = [c.spent_usd - (c.judge_cost_usd or 0.0) for c in cells if c.attempts]
    judge = [c.judge_cost_usd for c in cells if c.judge_cost_usd is not None]
    ms = [float(c.latency_ms) for c in cells if c.status == DONE and c.latency_ms is not None]
    return ColumnTotals(
        cells=len(cells), done=sum(1 for c in cells if c.status == DONE), passed=passed,
        pass_rate=passed / len(ended) if ended else None,
        mean_score=statistics.fmean(scores) if scores else None,
        cost_usd=sum(costs) if costs else None,
        p50_ms=percentile(ms, 50), p95_ms=percentile(ms, 95),
        ended=len(ended), running=sum(1 for c in cells if c.status == STREAMING), scored=len(scores),
        judge_cost_usd=sum(judge) if judge else None)


def load_grid(graph: Graph) -> tuple[Node, SweepGrid, dict[int, list[Node]]] | None:
    """(the sweep node, its grid filled from the session's answers, the answers by cell) of a session
    holding a sweep, or None. In the window (the session's nodes read as needed, app.outline) this
    reads the sweep and every answer in one query, never the prompts (the grid needs no prompt)."""
    nodes: Any = graph.nodes
    outline = getattr(nodes, "outline", None)
    if outline is not None:
        kinds = (NodeKind.SWEEP, NodeKind.RESPONSE, NodeKind.SYNTHESIS)
        if not any(o.kind == NodeKind.SWEEP for o in outline.values()):
            return None
        read = nodes.load([i for i, o in outline.items() if o.kind in kinds])
        view = Graph(graph.session, {n.id: n for n in read}, graph.edges)
    else:
        view = graph
    sweep = find_sweep(view)
    if sweep is None:
        return None
    grid = SweepGrid(SweepDef.from_dict(sweep.meta[SWEEP_META]), sweep.id)
    grid.batched = waiting_in_batches(sweep)
    grid.batch_ids = _open_batch_ids(sweep)
    grid.cancelled = stored_cancelled(sweep) - grid.batched
    answers = cell_answers(view)
    grid.update_all(answers)
    return sweep, grid, answers


def stored_cancelled(sweep: Node) -> set[int]:
    """The cells a cancelled run left never started, as stored on the sweep node (`CANCELLED_META`)."""
    raw = sweep.meta.get(CANCELLED_META)
    return {i for i in raw if isinstance(i, int) and not isinstance(i, bool)} if isinstance(raw, list) else set()


def sweep_card_ids(graph: Graph, answers: dict[int, list[Node]]) -> set[str]:
    """The cards the grid stands for: every cell's prompt and answers and the judge's verdicts on
    them; a cell the user put on the canvas (its answer marked `ON_CANVAS_META` by Continue on canvas)
    or continued (its answer has a child that is not a judge's verdict) stays on the canvas, with its
    prompt (its verdicts stay in the grid: focus mode shows the score). Reads no node: kinds come from the outline when the session has one,
    the verdicts' marks from the answers' children already read (`load_grid` read every answer)."""
    nodes = graph.nodes
    shapes: Any = getattr(nodes, "outline", nodes)  # id -> something with .kind (no store read)
    loaded = getattr(nodes, "loaded", None)

    def full(node_id: str) -> Node | None:
        if loaded is not None:
            return loaded(node_id)
        return nodes.get(node_id)

    out: set[str] = set()
    for cell_nodes in answers.values():
        for node in cell_nodes:
            verdicts = []
            continued = False
            for edge in graph.children(node.id):
                child = full(edge.child_id)
                if child is not None and JUDGE_META in child.meta:
                    verdicts.append(edge.child_id)
                else:
                    continued = True
            out.update(verdicts)
            if continued or node.meta.get(ON_CANVAS_META):
                continue
            out.add(node.id)
            for edge in graph.parents(node.id):
                shape = shapes.get(edge.parent_id)
                if shape is not None and shape.kind == NodeKind.PROMPT:
                    out.add(edge.parent_id)
    return out


def estimate(engine: Any, defn: SweepDef, cells: Sequence[Any]) -> tuple[float, float, list[str]]:
    """(estimated cost of the answers, of the judge, the models whose cost is unknown) of running
    `cells` (app.sweep.Cell) through `engine` (its plan: nothing is sent), as `triptych sweep`
    estimates it (about 1,000 output tokens per answer); with `defn.batch` the cells of providers with
    a batch API at their batch price (the judge runs live)."""
    from app.batch import batch_factor
    from app.catalog import estimate_tokens
    from app.engine import Target
    from app.sweep import judge_instruction, variant_params

    total = judge_total = 0.0
    unknown: list[str] = []
    seen: dict[tuple[str, str, str], float | None] = {}
    factors: dict[str, float] = {}  # model -> its batch price over its live price (with defn.batch)
    for cell in cells:
        key = (cell.text, cell.model, repr(sorted(cell.params.items())))
        if key not in seen:
            (call,) = engine.plan(None, cell.text, [Target(cell.model, variant_params(cell.params))],
                                  system=cell.system)
            seen[key] = call.cost_est_usd
            if defn.judge:
                judge_in = call.input_tokens_est + call.output_tokens_est + estimate_tokens(
                    judge_instruction(defn.rubric))
                jc = engine.catalog.estimate_cost(defn.judge, judge_in, 60)
                if jc is None and defn.judge not in unknown:
                    unknown.append(defn.judge)
                judge_total += jc or 0.0
        cost = seen[key]
        if cost is None:
            if cell.model not in unknown:
                unknown.append(cell.model)
        else:
            if defn.batch and cell.model not in factors:
                factors[cell.model] = batch_factor(engine.settings, engine.catalog, cell.model)
            total += cost * factors.get(cell.model, 1.0)
    return total, judge_total, unknown
