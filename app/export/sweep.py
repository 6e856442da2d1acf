"""Exports of a sweep session (DESIGN.md, "Evaluate"): csv and jsonl with one row per cell, and the grid
table with per-column totals that the md and html reports of a sweep session start with.

Model text is untrusted, and so are the variables (a user's csv of inputs, often from elsewhere): in the
csv every text field that a spreadsheet would run as a formula (=, +, -, @, tab or carriage return first)
gets a leading apostrophe (OWASP "CSV injection"), numbers stay numbers; the jsonl keeps every value
exactly as stored; in the md grid it is defanged and its pipes escaped; in the html grid escaped.
"""

from __future__ import annotations

import csv
import html
import io
import json
from collections.abc import Mapping
from typing import Any

from app.domain import Graph
from app.export.common import display_name, snippet
from app.sweep import cell_passed, check_word, sweep_rows
from app.sweep_view import (
    FAILED,
    CellView,
    ColumnTotals,
    SweepGrid,
    load_grid,
    ms_text,
    pass_line,
    status_text,
)

__all__ = ["NOT_A_SWEEP", "grid_html", "grid_markdown", "sweep_csv", "sweep_jsonl"]

NOT_A_SWEEP = "holds no sweep: csv and jsonl exports are one row per sweep cell (run one with `triptych sweep`)"
PREVIEW = 60

_USAGE_KEYS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens")


def _records(graph: Graph) -> list[dict[str, Any]]:
    records = sweep_rows(graph)
    if records is None:
        raise ValueError(f"session {graph.session.id} {NOT_A_SWEEP}")
    return records


def sweep_jsonl(graph: Graph) -> str:
    """One JSON object per cell: the `sweep --json` keys plus score_reason, judge_cost_usd, attempts, not_sent
    (what of its variant(s) the model does not take)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _records(graph))


FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")  # what a spreadsheet may run as a formula (OWASP)


def _inert(value: Any) -> Any:
    """A csv field a spreadsheet shows as text: a string starting like a formula gets a leading
    apostrophe; anything else (numbers, booleans) as it is."""
    if isinstance(value, str) and value[:1] in FORMULA_STARTS:
        return "'" + value
    return value


def sweep_csv(graph: Graph) -> str:
    """One row per cell: vars.<column>…, model, params.<name>…, status, text, checks, score, tokens, cost,
    timing."""
    records = _records(graph)
    var_cols = list(dict.fromkeys(k for r in records for k in r["vars"]))
    param_cols = list(dict.fromkeys(k for r in records for k in r["params"]))
    head = ["sweep_id", "row", "prompt_index", *(f"vars.{c}" for c in var_cols), "model",
            *(f"params.{p}" for p in param_cols), "node_id", "status", "finish", "error", "text", "checks",
            "passed", "score", "score_reason", *_USAGE_KEYS, "cost_usd", "judge_cost_usd", "ttft_ms",
            "duration_ms", "attempts"]
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow([_inert(h) for h in head])  # (a variable's or a setting's name is the user's text too)
    for r in records:
        usage = r["usage"] or {}
        timing = r["timing"] or {}
        err = r["error"]
        w.writerow([_inert(v) for v in [
            r["sweep_id"], r["row"], r["prompt_index"], *(r["vars"].get(c, "") for c in var_cols), r["model"],
            *(_blank(r["params"].get(p)) for p in param_cols), _blank(r["node_id"]), r["status"],
            _blank(r["finish"]), f"{err['kind']}: {err['message']}" if err else "", r["text"],
            "; ".join(f"{c['check']}={check_word(c)}" for c in r["checks"]),
            "true" if cell_passed(r) else "false", _blank(r["score"]), r["score_reason"] or "",
            *(_blank(usage.get(k)) for k in _USAGE_KEYS), _blank(r["cost_usd"]), _blank(r["judge_cost_usd"]),
            _blank(timing.get("ttft_ms")), _blank(timing.get("duration_ms")), r["attempts"],
        ]])
    return out.getvalue()


def _blank(value: Any) -> Any:
    return "" if value is None else value


# ------------------------------------------------------------------------------------------------ grid
# The md and html reports show the grid as the window draws it (app.sweep_view.SweepGrid, filled by
# load_grid): the same columns and row numbers, and the same totals — every try's cost, the judge's apart,
# the pass rate over the cells that ended with the cells not run named ("pass 5/6 (83%) · 1 not run").

def usd(cost: float | None) -> str:
    """A cost as the grid's headers write it ("$0.0223", "<$0.0001", "–")."""
    if cost is None:
        return "–"
    if 0 < cost < 0.0001:
        return "<$0.0001"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


def cost_words(t: ColumnTotals) -> str:
    """The answers' cost (every try), and the judge's apart: "$0.0223 + judge $0.0026"."""
    return usd(t.cost_usd) + (f" + judge {usd(t.judge_cost_usd)}" if t.judge_cost_usd is not None else "")


def totals_words(t: ColumnTotals, judged: bool) -> str:
    """A column's (or the whole grid's) totals as one line, in the grid header's words."""
    parts = [pass_line(t)]
    if judged:
        parts.append("mean score –" if t.mean_score is None
                     else f"mean score {t.mean_score:.1f}/10 ({t.scored} scored)")
    parts += [cost_words(t), f"p50 {ms_text(t.p50_ms)} · p95 {ms_text(t.p95_ms)}"]
    return " · ".join(parts)


def _cell_words(cell: CellView) -> tuple[str, str]:
    """(status line, answer preview or error) of one grid cell, as the grid's cell says them."""
    word = status_text(cell)
    mark = "✓ " if cell.passed else "✗ " if cell.failed else ""  # not run, stopped: no verdict
    parts = [mark + word]
    if cell.attempts > 1:
        parts.append(f"try {cell.attempts}")
    if cell.checks:
        na = sum(1 for _name, ok in cell.checks if ok is None)
        passed = sum(1 for _name, ok in cell.checks if ok)
        parts.append(f"{passed}/{len(cell.checks) - na} checks" + (f" ({na} n/a)" if na else ""))
    if cell.score is not None:
        parts.append(f"score {cell.score}/10")
    elif cell.judged:
        parts.append("no score")
    if cell.latency_ms is not None:
        parts.append(ms_text(cell.latency_ms))
    if cell.cost_usd is not None:
        parts.append(usd(cell.cost_usd))
    shown = cell.error if cell.status == FAILED and cell.error else cell.preview
    return " · ".join(parts), snippet(shown or "", PREVIEW)


def _labels(grid: SweepGrid, names: Mapping[str, str] | None) -> tuple[list[str], list[str]]:
    """(column labels: model and settings; row labels: number and input), as the grid's headers."""
    cols = [f"{display_name(c.model, names)} · {c.label or 'default settings'}" for c in grid.columns]
    rows = [f"{r.index + 1}. {snippet(r.label, 60)}" for r in grid.rows]
    return cols, rows


def _judge_line(grid: SweepGrid, names: Mapping[str, str] | None) -> str | None:
    """"Judge: Claude Haiku 5.5 · rubric: …" (None without a judge)."""
    defn = grid.defn
    if not defn.judge:
        return None
    rubric = " ".join((defn.rubric or "").split())
    return f"Judge: {display_name(defn.judge, names)}" + (f" · rubric: {rubric}" if rubric else " · no rubric")


def _md(text: str) -> str:
    from app.export.markdown import defang_markdown

    flat = " ".join(defang_markdown(text).split())
    return flat.replace("\\", "\\\\").replace("|", "\\|")


def grid_markdown(graph: Graph, names: Mapping[str, str] | None = None) -> str | None:
    """The sweep grid as a markdown section (None when the session holds no sweep): the whole grid's
    totals, the judge and its rubric, then the table with a totals row."""
    loaded = load_grid(graph)
    if loaded is None:
        return None
    _sweep, grid, _answers = loaded
    judged = bool(grid.defn.judge)
    columns, row_labels = _labels(grid, names)
    totals = grid.totals()
    out = ["## Sweep grid", "", f"**All {len(grid.cells)} cells:** {_md(totals_words(grid.overall(), judged))}", ""]
    judge = _judge_line(grid, names)
    if judge:
        out += [_md(judge), ""]
    out += ["| | " + " | ".join(_md(c) for c in columns) + " |",
            "|---" * (len(columns) + 1) + "|",
            "| **totals** | " + " | ".join(_md(totals_words(t, judged)) for t in totals) + " |"]
    for row in grid.rows:
        shown = []
        for col in grid.columns:
            status, preview = _cell_words(grid.cell_at(row.index, col.index))
            shown.append(_md(status) + (f" — {_md(preview)}" if preview else ""))
        out.append(f"| {_md(row_labels[row.index])} | " + " | ".join(shown) + " |")
    return "\n".join([*out, ""])


def grid_html(graph: Graph, names: Mapping[str, str] | None = None) -> str | None:
    """The sweep grid as an html section (escaped text only; None when the session holds no sweep)."""
    loaded = load_grid(graph)
    if loaded is None:
        return None
    _sweep, grid, _answers = loaded
    e = html.escape
    judged = bool(grid.defn.judge)
    columns, row_labels = _labels(grid, names)
    head = "".join(f'<th scope="col">{e(c)}</th>' for c in columns)
    tot = "".join(f"<td>{e(totals_words(t, judged))}</td>" for t in grid.totals())
    body = []
    for row in grid.rows:
        tds = []
        for col in grid.columns:
            status, preview = _cell_words(grid.cell_at(row.index, col.index))
            tds.append(f"<td>{e(status)}<br><small>{e(preview)}</small></td>")
        body.append(f'<tr><th scope="row">{e(row_labels[row.index])}</th>{"".join(tds)}</tr>')
    judge = _judge_line(grid, names)
    return "\n".join([
        '<section class="sec" id="sweep-grid">',
        "<h2>Sweep grid</h2>",
        f'<p class="meta"><b>All {len(grid.cells)} cells:</b> {e(totals_words(grid.overall(), judged))}</p>',
        *([f'<p class="meta">{e(judge)}</p>'] if judge else []),
        f'<table class="totals"><thead><tr><th></th>{head}</tr>',
        f'<tr><th scope="row">totals</th>{tot}</tr></thead>',
        "<tbody>" + "".join(body) + "</tbody></table>",
        "</section>",
    ])
