"""What one sweep cell is, in words (Qt-free): its column (model and variant), its row (the input's
variables or the prompt, which template), its checks by name with what each measured, and the judge's
score with its one-line reason. Focus mode opened from a grid cell shows `cell_details` above the
answer; the diff of two cells titles each side with `cell_title` (ui/sweep_cells.py).

Every text here may hold model output (the judge's reason) or the user's data (CSV values): the
window shows it as plain text, never as markup.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from app.domain import Node, NodeStatus
from app.present.money import fmt_cost
from app.present.text import snippet
from app.sweep import CHECKS_META, NOT_APPLICABLE, SCORE_META, UNJUDGED, node_cost
from app.sweep_view import SweepGrid, short_reason

NA_MARK = "–"  # a check that does not apply (as the grid draws it)

__all__ = ["cell_details", "cell_title", "checks_line", "column_title", "judge_line", "row_title"]


def column_title(grid: SweepGrid, col: int, display_name: Callable[[str], str]) -> str:
    """"DeepSeek V4.1 Flash · temperature=0.7" (the model alone when the sweep has no variants)."""
    column = grid.columns[col]
    name = display_name(column.model)
    return f"{name} · {column.label}" if column.label else name


def row_title(grid: SweepGrid, row: int, limit: int = 40) -> str:
    """"row 3: commas, everywhere" ("row 3 · P2: …" with several templates): the row's number as the
    grid counts its inputs, and what tells it apart (its values, else its prompt)."""
    view = grid.rows[row]
    templates = len(grid.defn.templates)
    label = view.label
    if templates > 1 and label.startswith(f"P{view.prompt_index + 1} · "):
        label = label[len(f"P{view.prompt_index + 1} · "):]
    where = f"row {view.row + 1}" + (f" · P{view.prompt_index + 1}" if templates > 1 else "")
    return f"{where}: {snippet(label, limit)}" if label else where


def cell_title(grid: SweepGrid, index: int, display_name: Callable[[str], str]) -> str:
    """The cell as a diff's side names it: its column, then its row."""
    cell = grid.cells[index]
    return f"{column_title(grid, cell.col, display_name)} — {row_title(grid, cell.row)}"


def _measured(check: str, node: Node | None) -> str:
    """What a limit check measured on the answer: " (3,120 ms)", " ($0.0120)"; "" for the others."""
    if node is None:
        return ""
    if check.startswith("max-ms:") and node.timing.duration_ms is not None:
        return f" ({node.timing.duration_ms:,} ms)"
    if check.startswith("max-cost:"):
        cost = node_cost(node)
        return f" ({fmt_cost(cost)})" if cost is not None else ""
    return ""


def checks_line(node: Node | None) -> str:
    """"✓ contains:Paris  ✗ max-ms:2000 (3,120 ms)  – max-ms:500 (n/a: no latency for batch answers)";
    "" when the answer has no check results."""
    records = node.meta.get(CHECKS_META) if node is not None else None
    if not isinstance(records, list):
        return ""
    parts = []
    for rec in records:
        if not isinstance(rec, dict):
            continue
        name = str(rec.get("check"))
        verdict = rec.get("pass", False)
        if verdict is None:
            parts.append(f"{NA_MARK} {name} ({rec.get('reason') or NOT_APPLICABLE})")
        else:
            parts.append(f"{'✓' if verdict else '✗'} {name}{_measured(name, node)}")
    return "  ".join(parts)


def judge_line(grid: SweepGrid, node: Node | None, display_name: Callable[[str], str]) -> str:
    """"Judge Claude Haiku 5.5: 7/10 — clear and correct"; "" when the sweep has no judge."""
    judge = grid.defn.judge
    if not judge:
        return ""
    score: Any = node.meta.get(SCORE_META) if node is not None else None
    who = f"Judge {display_name(judge)}"
    if not isinstance(score, dict) or score.get(UNJUDGED):
        if node is not None and node.status.is_live:
            return f"{who}: scores the answer once it is finished"
        if node is not None and node.status != NodeStatus.DONE:
            return f"{who}: no score (only a finished answer is scored)"
        return f"{who}: no score yet"
    reason = short_reason(score.get("reason"))
    value = score.get("score")
    head = f"{who}: {value}/10" if isinstance(value, int) else f"{who}: no score"
    return f"{head} — {reason}" if reason else head


def cell_details(grid: SweepGrid, index: int, node: Node | None, display_name: Callable[[str], str]) -> list[str]:
    """Focus mode's lines about a cell: where it is (row, template, variant), its input, then its checks
    and the judge's score when it has them."""
    cell = grid.cells[index]
    row = grid.rows[cell.row]
    column = grid.columns[cell.col]
    defn = grid.defn
    where = [f"Row {row.row + 1} of {len(defn.rows) or 1}"]
    if len(defn.templates) > 1:
        where.append(f"template P{row.prompt_index + 1} of {len(defn.templates)}")
    if column.label:
        where.append(f"variant {column.label}")
    lines = [" · ".join(where)]
    values = defn.rows[row.row] if row.row < len(defn.rows) else {}
    if values:
        lines.append("Input: " + "; ".join(f"{k} = {snippet(str(v), 60) or '(empty)'}" for k, v in values.items()))
        lines.append(f"Template P{row.prompt_index + 1}: {snippet(defn.templates[row.prompt_index], 160)}")
    else:
        lines.append(f"Prompt: {snippet(defn.templates[row.prompt_index], 160)}")
    checks = checks_line(node)
    if checks and node is not None and node.status in (NodeStatus.STOPPED, NodeStatus.INTERRUPTED):
        checks = "not checked: the answer did not finish (not a failure; Resume sweep runs it again)"
    if checks:
        lines.append(f"Checks: {checks}")
    judge = judge_line(grid, node, display_name)
    if judge:
        lines.append(judge)
    return lines
