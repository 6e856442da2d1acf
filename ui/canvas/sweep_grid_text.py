"""What the sweep grid (ui/canvas/sweep_grid.py) writes, laid out: a cell's text (status, the judge's
score, the answer's first lines, checks, latency, cost), a column header's (model, variant, pass
rate over the cells that ended, mean score, the answers' cost and the judge's apart, p50/p95), the
header corner's (the whole grid's totals), a row label's, and a cell's tooltip; each laid out once
per version of what it shows (`Text`: glyph runs) and cached in `GridTexts`. The grid's geometry
constants live here too (the painter and the text share them). Qt main thread only."""

from __future__ import annotations

import textwrap
from collections.abc import Callable

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QFont, QGlyphRun, QPainter, QPen, QTextLayout, QTextOption

from app.present.money import fmt_cost
from app.sweep import GRID_ROW_H, NOT_APPLICABLE
from app.sweep_view import (
    BATCHED,
    CANCELLED,
    DONE,
    FAILED,
    STOPPED,
    CellView,
    ColumnTotals,
    SweepGrid,
    ms_text,
    pass_line,
    status_text,
)
from ui.canvas.style import CardStyle
from ui.format import elide_parts

LABEL_W = 230.0
CELL_W = 250.0
CELL_H = GRID_ROW_H  # (app.sweep keeps the cells' cards at the grid's foot by it)
PAD = 8.0

NA_MARK = "–"  # a check that does not apply (max-ms on a batch answer)


def usd_text(cost: float | None) -> str:
    """A cost as every other view writes it (app.present.money.fmt_cost: focus mode, exports)."""
    return fmt_cost(cost)


def cost_line(t: ColumnTotals) -> str:
    """The answers' cost, and the judge's apart ("$0.0883 + judge $0.0089")."""
    line = usd_text(t.cost_usd)
    if t.judge_cost_usd is not None:
        line += f" + judge {usd_text(t.judge_cost_usd)}"
    return line


def score_text(cell: CellView) -> str:
    """The judge's verdict on a cell as the cell shows it: "8/10", "no score" (the judge answered
    without a SCORE line, or failed), "not judged yet" (a finished answer the judge has not scored: a
    quit or Cancel all cut the judging; Resume sweep judges it), "" (no judge, or nothing to judge)."""
    if cell.score is not None:
        return f"{cell.score}/10"
    return "no score" if cell.judged else "not judged yet" if cell.unjudged else ""


def short_pass(t: ColumnTotals) -> str:
    """The pass rate in few characters (the zoomed-out header: "pass 15/16 · 2 left")."""
    if not t.ended:
        return "not run"
    left = t.not_run + t.running
    return f"pass {t.passed}/{t.ended}" + (f" · {left} left" if left else "")


def grid_title(grid: SweepGrid, rows_shown: int, cols_shown: int) -> str:
    """The grid's title: its size, and what the filters show of it."""
    rows, cols = len(grid.rows), len(grid.columns)
    title = f"Sweep · {rows} row{'s' if rows != 1 else ''} × {cols} column{'s' if cols != 1 else ''}"
    shown = []
    if rows_shown != rows:
        shown.append(f"{rows_shown} of {rows} rows")
    if cols_shown != cols:
        shown.append(f"{cols_shown} of {cols} columns")
    if shown:
        title += " · " + ", ".join(shown) + " shown"
    return title


def cell_tooltip(grid: SweepGrid, cell: CellView, display_name: Callable[[str], str]) -> str:
    """A cell's tooltip: its error, what each check found (– one that does not apply: why), and the
    judge's score with its reason (or why it gave none)."""
    if cell.status == BATCHED:
        return "Waiting in a batch at its provider: " + "; ".join(grid.batch_lines)
    column = grid.columns[cell.col]
    # which column this is, in full (the header's line is cut to the column's width)
    lines = [" · ".join(p for p in (display_name(column.model), column.label) if p)]
    if cell.status == FAILED and cell.error:
        lines.append(cell.error)
    reason = NOT_APPLICABLE.removeprefix("n/a: ")
    if cell.status in (DONE, FAILED):  # a stopped or cancelled cell's checks did not judge a finished answer
        lines += [f"{name}: {'passed' if ok else 'failed' if ok is False else f'{NA_MARK} {reason}'}"
                  for name, ok in cell.checks]
    elif cell.status in (STOPPED, CANCELLED):
        lines.append(f"{cell.status.capitalize()}: not checked, not a failure (Resume sweep runs it)")
    if cell.unjudged:
        judge = display_name(grid.defn.judge) if grid.defn.judge else "the judge"
        lines.append(f"Judge {judge}: not judged yet (Resume sweep judges it without asking the model again)")
    if cell.judged:
        judge = display_name(grid.defn.judge) if grid.defn.judge else "the judge"
        why = " ".join(cell.score_reason.split())
        if cell.score is not None:
            lines.append(f"Judge {judge}: {cell.score}/10" + (f" — {why}" if why else ""))
        elif why.startswith("the judge failed"):
            lines.append(f"Judge {judge}: no score ({why})")
        else:
            lines.append(f"Judge {judge}: no score (its reply has no “SCORE: n” line)" + (f": {why}" if why else ""))
    # (a tooltip does not wrap: a long line would run off the screen)
    return "\n".join(part for line in lines for part in textwrap.wrap(line, 90, break_on_hyphens=False) or [""])


class GridTexts:
    """The grid's texts laid out, cached per version of what they show (cleared with the style)."""

    def __init__(self, grid: SweepGrid, style: CardStyle, display_name: Callable[[str], str]) -> None:
        self.grid = grid
        self.style = style
        self.display_name = display_name
        self._cells: dict[int, tuple[int, Text]] = {}  # cell -> (its version, its text laid out)
        self._heads: dict[int, tuple[tuple, Text]] = {}  # column -> (its totals, its text laid out)
        self._corner: tuple[tuple, Text] | None = None  # the whole grid's totals, laid out
        self._rows: dict[int, Text] = {}

    def __repr__(self) -> str:
        return f"<GridTexts {len(self._cells)} cells>"

    def set_style(self, style: CardStyle) -> None:
        self.style = style
        self._cells.clear()
        self._heads.clear()
        self._corner = None
        self._rows.clear()

    def status_color(self, cell: CellView) -> str:
        theme = self.style.theme
        if cell.status == DONE:
            key = "done" if cell.passed else "interrupted"
        elif cell.status == FAILED:
            key = "error"
        elif cell.status == BATCHED:
            key = "thinking"  # waiting at the provider
        else:
            key = cell.status
        return theme.status.get(key, theme.muted)

    def head(self, col: int, totals: list[ColumnTotals]) -> Text:
        """A column's header: model, variant, pass rate, (mean score,) cost, latency."""
        t = totals[col]
        key = (t, self.display_name(self.grid.columns[col].model))
        cached = self._heads.get(col)
        if cached is not None and cached[0] == key:
            return cached[1]
        column = self.grid.columns[col]
        theme, style = self.style.theme, self.style
        width = CELL_W - 22
        text = Text()
        y = text.add(key[1], style.small_bold_font, theme.text, width, 0.0, 1)
        label = style.small_metrics.elidedText(column.label or "default settings", Qt.TextElideMode.ElideRight, width)
        y = text.add(label, style.small_font, theme.muted, width, y, 1)  # (its tooltip has all of it)
        def one(line: str) -> str:  # one line, cut at a seam with "…" (never inside a number)
            return elide_parts(line, width - 2, style.small_metrics.horizontalAdvance, (" · ", " + ", " ("))

        y = text.add(one(pass_line(t)), style.small_font, theme.text, width, y, 1)
        if self.grid.defn.judge:
            score = "mean score –" if t.mean_score is None else f"mean score {t.mean_score:.1f}/10 ({t.scored} scored)"
            y = text.add(one(score), style.small_font, theme.text, width, y, 1)
        y = text.add(one(cost_line(t)), style.small_font, theme.text, width, y, 1)
        text.add(f"p50 {ms_text(t.p50_ms)} · p95 {ms_text(t.p95_ms)}", style.small_font, theme.muted, width, y, 1)
        self._heads[col] = (key, text)
        return text

    def corner(self) -> Text:
        """The header's corner (over the row labels): the whole grid's totals."""
        t = self.grid.overall()
        if self._corner is not None and self._corner[0] == (t,):
            return self._corner[1]
        theme, style = self.style.theme, self.style
        width = LABEL_W - 2 * PAD - 4
        text = Text()
        y = text.add("Input · all cells:", style.small_font, theme.muted, width, 0.0, 1)
        y = text.add(pass_line(t), style.small_font, theme.text, width, y, 2)
        if self.grid.defn.judge:
            score = "mean score –" if t.mean_score is None else f"mean score {t.mean_score:.1f}/10"
            y = text.add(score, style.small_font, theme.text, width, y, 1)
        text.add(elide_parts(cost_line(t), width - 2, style.small_metrics.horizontalAdvance, (" + ",)),
                 style.small_font, theme.text, width, y, 1)
        self._corner = ((t,), text)
        return text

    def row(self, index: int) -> Text:
        """A row's label: its number, and its input (up to five lines)."""
        text = self._rows.get(index)
        if text is None:
            theme, style = self.style.theme, self.style
            row = self.grid.rows[index]
            text = self._rows[index] = Text()
            number = f"{row.index + 1}."
            text.add(number, style.small_font, theme.muted, 40, 0.0, 1)
            indent = style.small_metrics.horizontalAdvance(number + " ")
            text.add(row.label, style.small_font, theme.text, LABEL_W - 2 * PAD - 4, 0.0, 5, first_indent=indent)
        return text

    def cell(self, cell: CellView) -> Text:
        """The cell's text, laid out once per version of the cell: status (and attempt), the judge's
        score at the right, up to three lines of the answer (or the error), and a foot line: ✓/✗ per
        check, latency, cost."""
        cached = self._cells.get(cell.index)
        if cached is not None and cached[0] == cell.version:
            return cached[1]
        theme, style = self.style.theme, self.style
        width = CELL_W - 24
        text = Text()
        score = score_text(cell)
        score_w = style.small_bold_metrics.horizontalAdvance(score) if score else 0.0
        if score:
            text.add(score, style.small_bold_font, theme.text if cell.score is not None else theme.muted,
                     score_w + 4, 0.0, 1, x=width - score_w)
        word = status_text(cell)
        head_w = width - score_w - 8
        y = text.add(word, style.small_bold_font, self.status_color(cell), head_w, 0.0, 1)
        if cell.attempts > 1:
            x = style.small_bold_metrics.horizontalAdvance(word + " ")
            text.add(f"· try {cell.attempts}", style.small_font, theme.muted, head_w - x, 0.0, 1, x=x)
        if cell.status == FAILED and cell.error:
            text.add(cell.error[:160], style.small_font, theme.error_text, width, y, 3)
        elif cell.status == BATCHED:
            text.add("waiting for the batch's results", style.small_font, theme.muted, width, y, 3)
        elif cell.preview:
            text.add(cell.preview, style.small_font, theme.text, width, y, 3)
        foot_y = CELL_H - 6 - 4 - 4 - style.small_metrics.height() - 2
        x = 0.0
        for _, ok in (cell.checks if cell.status in (DONE, FAILED) else ()):  # (a stopped answer: not checked)
            mark = NA_MARK if ok is None else "✓" if ok else "✗"
            color = theme.muted if ok is None else theme.status["done"] if ok else theme.status["error"]
            text.add(mark, style.small_bold_font, color, 20, foot_y, 1, x=x)
            x += style.small_bold_metrics.horizontalAdvance(mark) + 2
        parts = []
        if cell.latency_ms is not None:
            parts.append(ms_text(cell.latency_ms))
        if cell.cost_usd is not None:
            parts.append(usd_text(cell.cost_usd))
        if parts:
            lead = " · " if cell.checks else ""
            text.add(lead + " · ".join(parts), style.small_font, theme.muted, width - x, foot_y, 1, x=x)
        self._cells[cell.index] = (cell.version, text)
        return text


class Text:
    """Text laid out once (`QTextLayout`) and kept as glyph runs with their colours: drawing it again,
    at any zoom, only places glyphs (a `QStaticText` lays its text out again whenever the painter's
    scale changes: ~0.3 ms a cell on every zoom step)."""

    __slots__ = ("runs", "strings")

    def __init__(self) -> None:
        self.runs: list[tuple[QPointF, QGlyphRun, QPen]] = []
        self.strings: list[str] = []  # the texts added, each as far as it shows (max_lines)

    def add(self, text: str, font: QFont, color: str, width: float, y: float, max_lines: int, *,
            x: float = 0.0, first_indent: float = 0.0) -> float:
        """Lay out `text` at (x, y) in `width`, wrapped, at most `max_lines` (the rest is left out);
        returns the y below it."""
        layout = QTextLayout(text.replace("\n", " "), font)
        option = QTextOption()
        option.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        layout.setTextOption(option)
        layout.setCacheEnabled(True)
        layout.beginLayout()
        top = y
        end = 0
        for n in range(max_lines):
            line = layout.createLine()
            if not line.isValid():
                break
            indent = first_indent if n == 0 else 0.0
            line.setLineWidth(max(width - indent, 10.0))
            line.setPosition(QPointF(indent, y - top))
            y += line.height()
            end = line.textStart() + line.textLength()
        layout.endLayout()
        self.strings.append(text[:end].rstrip())  # what shows of it (the lines laid out)
        pen = QPen(QColor(color))
        origin = QPointF(x, top)
        for run in layout.glyphRuns():
            self.runs.append((origin, run, pen))
        return y

    def draw(self, painter: QPainter, at: QPointF) -> None:
        last = None
        for offset, run, pen in self.runs:
            if pen is not last:
                painter.setPen(pen)
                last = pen
            painter.drawGlyphRun(at + offset, run)
