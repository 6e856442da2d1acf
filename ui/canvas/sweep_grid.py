"""The sweep node drawn as a grid on the canvas (DESIGN.md "Evaluate"): rows = inputs, columns =
model × variant; each cell shows its status, a short answer preview, its checks (✓/✗, – for one
that does not apply, with a tooltip saying why), the judge's
score, latency and cost; a header with the run's progress, the filters (answers differ, failures
only, one model) and the run's buttons (Resume, Cancel all, Re-run failed), and one header per
column with its totals (pass rate, mean score, total cost, p50/p95 latency).

One `QGraphicsObject` for the whole sweep (not one item per cell): `paint` draws only the rows and
columns the exposed rectangle meets, from text laid out once per cell version (glyph runs, `Text`,
cached); zoomed far out it draws coloured blocks without text. A click (a press and release
without a drag: a drag pans the canvas, ui/canvas/view.py) on a cell emits `cell_clicked(index)`,
on a header button `button_clicked(name)`. What it shows comes from an `app.sweep_view.SweepGrid`;
the owner (ui/sweep_controller.py) calls `refresh()` after changing it (at most a few times a
second while a sweep runs).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import QBrush, QColor, QFont, QGlyphRun, QPainter, QPen, QTextLayout, QTextOption
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsScene,
    QGraphicsSceneHoverEvent,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.sweep import NOT_APPLICABLE
from app.sweep_view import (
    BATCHED,
    CANCELLED,
    DONE,
    FAILED,
    QUEUED,
    STOPPED,
    STREAMING,
    CellView,
    ColumnTotals,
    SweepGrid,
)
from ui.canvas.style import CardStyle

LABEL_W = 230.0
CELL_W = 250.0
CELL_H = 96.0
TITLE_H = 40.0
BAR_H = 36.0
COLHEAD_H = 74.0
PAD = 8.0
TEXT_LOD = 0.35  # below this zoom the cells are coloured blocks (no text)

BUTTONS = ("differ", "failures", "model", "resume", "cancel", "rerun")

_STATUS_WORD = {QUEUED: "queued", BATCHED: "in batch", STREAMING: "streaming", DONE: "done", FAILED: "failed",
                STOPPED: "stopped", CANCELLED: "cancelled"}
NA_MARK = "–"  # a check that does not apply (max-ms on a batch answer)


def _ms(ms: float | None) -> str:
    if ms is None:
        return "–"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _usd(cost: float | None) -> str:
    if cost is None:
        return "–"
    if 0 < cost < 0.0001:
        return "<$0.0001"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


_GRIDS = "_sweep_grids"  # the scene's attribute listing the grids on it (kept by attach / dispose)


def grid_items(scene: object) -> list[SweepGridItem]:
    """The sweep grids shown on `scene` (View → Fit all and the minimap take them in)."""
    return list(getattr(scene, _GRIDS, ()))


class SweepGridItem(QGraphicsObject):
    cell_clicked = Signal(int)  # the sweep's cell index
    button_clicked = Signal(str)  # one of BUTTONS

    def __init__(self, grid: SweepGrid, style: CardStyle, display_name: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self.grid = grid
        self._style = style
        self._display_name = display_name or (lambda ref: ref.split(":", 1)[-1])
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setZValue(-1)  # under cards placed over it
        self.setAcceptHoverEvents(True)  # the tooltip of the cell under the pointer (tooltip_at)
        # filters (the header's chips) and the run's state (the owner sets them)
        self.only_differ = False
        self.only_failures = False
        self.model: str | None = None
        self.running = False
        self.progress_text = ""
        self.rows: list[int] = []
        self.cols: list[int] = []
        self._texts: dict[int, tuple[int, Text]] = {}  # cell -> (its version, its text laid out)
        self._heads: dict[int, tuple[tuple, Text]] = {}  # column -> (its totals, its text laid out)
        self._row_texts: dict[int, Text] = {}
        self._brushes: dict[str, QBrush] = {}
        self._pens: dict[str, QPen] = {}
        self._buttons: dict[str, QRectF] = {}
        self._button_texts: dict[str, str] = {}
        self._size = QSizeF()
        self.refresh()

    def __repr__(self) -> str:
        return f"<SweepGridItem {len(self.rows)}/{len(self.grid.rows)} rows × {len(self.cols)} columns>"

    def attach(self, scene: QGraphicsScene) -> None:
        """Show the grid on `scene` (listed there for `grid_items`: no registry outlives a scene)."""
        scene.addItem(self)
        setattr(scene, _GRIDS, [*grid_items(scene), self])

    def dispose(self) -> None:
        """Take the grid off its scene for good."""
        scene = self.scene()
        if scene is not None:
            setattr(scene, _GRIDS, [g for g in grid_items(scene) if g is not self])
            scene.removeItem(self)
        self.deleteLater()

    # ------------------------------------------------------------------ state
    def set_style(self, style: CardStyle) -> None:
        self._style = style
        self._brushes.clear()
        self._pens.clear()
        self._texts.clear()
        self._heads.clear()
        self._row_texts.clear()
        self.refresh()

    def refresh(self) -> None:
        """The grid's data, filters or run state changed: lay out the header and repaint."""
        self.rows = self.grid.visible_rows(differ=self.only_differ, failures=self.only_failures, model=self.model)
        self.cols = self.grid.visible_columns(self.model)
        width = LABEL_W + max(len(self.cols), 2) * CELL_W
        height = TITLE_H + BAR_H + COLHEAD_H + max(len(self.rows), 1) * CELL_H
        if QSizeF(width, height) != self._size:
            self.prepareGeometryChange()
            self._size = QSizeF(width, height)
        self._layout_buttons()
        self.update()

    def _layout_buttons(self) -> None:
        self._button_texts = {name: self._button_text(name) for name in BUTTONS if self.button_shown(name)}
        fm = self._style.small_metrics
        y = TITLE_H + 5
        h = BAR_H - 10
        out: dict[str, QRectF] = {}
        x = PAD
        for name in ("differ", "failures", "model"):
            w = fm.horizontalAdvance(self.button_text(name)) + 22
            out[name] = QRectF(x, y, w, h)
            x += w + 6
        x += 18  # the run's buttons after the filters (not at the far right: a wide grid is wider than the view)
        for name in ("resume", "cancel", "rerun"):
            if not self.button_shown(name):
                continue
            w = fm.horizontalAdvance(self.button_text(name)) + 22
            out[name] = QRectF(x, y, w, h)
            x += w + 6
        self._buttons = out

    def button_shown(self, name: str) -> bool:
        if name == "cancel":
            return self.running
        if name == "resume":
            return not self.running and bool(self.grid.unfinished())
        if name == "rerun":
            return not self.running and bool(self.grid.failed_cells())
        return name in BUTTONS

    def button_text(self, name: str) -> str:
        """The button's label (as laid out by the last `refresh`)."""
        text = self._button_texts.get(name)
        return text if text is not None else self._button_text(name)

    def _button_text(self, name: str) -> str:
        if name == "differ":
            return "Answers differ"
        if name == "failures":
            return "Failures only"
        if name == "model":
            return f"Model: {self._display_name(self.model) if self.model else 'all'} ▾"
        if name == "cancel":
            return "Cancel all"
        if name == "resume":
            n = len(self.grid.unfinished())
            return f"Resume sweep ({n} cell{'s' if n != 1 else ''} left)"
        if name == "rerun":
            n = len(self.grid.failed_cells())
            return f"Re-run failed ({n})"
        raise KeyError(name)

    def button_checked(self, name: str) -> bool:
        return (name == "differ" and self.only_differ) or (name == "failures" and self.only_failures) or (
            name == "model" and self.model is not None)

    # ------------------------------------------------------------------ geometry (item coordinates)
    def boundingRect(self) -> QRectF:  # noqa: N802 (Qt's name)
        return QRectF(QPointF(0, 0), self._size)

    @property
    def top(self) -> float:
        """Where the first row starts."""
        return TITLE_H + BAR_H + COLHEAD_H

    def button_rect(self, name: str) -> QRectF | None:
        return self._buttons.get(name)

    def cell_rect(self, index: int) -> QRectF | None:
        """Where cell `index` is drawn, or None when the filters hide it."""
        cell = self.grid.cells[index]
        try:
            r = self.rows.index(cell.row)
            c = self.cols.index(cell.col)
        except ValueError:
            return None
        return QRectF(LABEL_W + c * CELL_W, self.top + r * CELL_H, CELL_W, CELL_H)

    def cell_at(self, pos: QPointF) -> int | None:
        c = int((pos.x() - LABEL_W) // CELL_W)
        r = int((pos.y() - self.top) // CELL_H)
        if pos.x() < LABEL_W or pos.y() < self.top or not (0 <= r < len(self.rows)) or not (0 <= c < len(self.cols)):
            return None
        return self.grid.cell_at(self.rows[r], self.cols[c]).index

    def clicked_at(self, pos: QPointF) -> bool:
        """A click at `pos` (item coordinates), from the view: a button or a cell."""
        for name, rect in self._buttons.items():
            if rect.contains(pos):
                self.button_clicked.emit(name)
                return True
        index = self.cell_at(pos)
        if index is not None:
            self.cell_clicked.emit(index)
            return True
        return False

    def tooltip_at(self, pos: QPointF) -> str:
        """The tooltip of what is at `pos`: a cell's checks when one of them does not apply."""
        index = self.cell_at(pos)
        if index is None:
            return ""
        cell = self.grid.cells[index]
        if cell.status == BATCHED:
            return "Waiting in a batch at its provider: " + "; ".join(self.grid.batch_lines)
        if not any(ok is None for _, ok in cell.checks):
            return ""
        reason = NOT_APPLICABLE.removeprefix("n/a: ")
        return "\n".join(f"{name}: {'passed' if ok else 'failed' if ok is False else f'{NA_MARK} {reason}'}"
                         for name, ok in cell.checks)

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:  # noqa: N802 (Qt's name)
        tip = self.tooltip_at(event.pos())
        if tip != self.toolTip():
            self.setToolTip(tip)
        super().hoverMoveEvent(event)

    # ------------------------------------------------------------------ painting
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        scene = self.scene()
        style = getattr(scene, "style", self._style) if scene is not None else self._style
        if isinstance(style, CardStyle) and style is not self._style:
            self.set_style(style)  # the window's theme or font size changed
        theme = self._style.theme
        exposed = option.exposedRect
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        full = self.boundingRect()
        painter.setPen(self._pen(theme.card_border))
        painter.setBrush(self._brush(theme.card))
        painter.drawRoundedRect(full, 8, 8)
        r0 = max(0, int((exposed.top() - self.top) // CELL_H))
        r1 = min(len(self.rows), int((exposed.bottom() - self.top) // CELL_H) + 1)
        c0 = max(0, int((exposed.left() - LABEL_W) // CELL_W))
        c1 = min(len(self.cols), int((exposed.right() - LABEL_W) // CELL_W) + 1)
        if lod < TEXT_LOD:
            self._paint_blocks(painter, r0, r1, c0, c1)
            return
        if exposed.top() < self.top:
            self._paint_header(painter, c0, c1)
        painter.setFont(self._style.small_font)
        for r in range(r0, r1):
            y = self.top + r * CELL_H
            if exposed.left() < LABEL_W:
                self._paint_row_label(painter, r, y)
            for c in range(c0, c1):
                cell = self.grid.cell_at(self.rows[r], self.cols[c])
                self._paint_cell(painter, cell, QRectF(LABEL_W + c * CELL_W, y, CELL_W, CELL_H))
        if not self.rows:
            painter.setPen(self._pen(theme.muted))
            painter.drawText(QRectF(LABEL_W, self.top, CELL_W * 2, CELL_H), Qt.AlignmentFlag.AlignCenter,
                             "No row matches the filters.")

    def _status_color(self, cell: CellView) -> str:
        theme = self._style.theme
        if cell.status == DONE:
            key = "done" if cell.passed else "interrupted"
        elif cell.status == FAILED:
            key = "error"
        elif cell.status == BATCHED:
            key = "thinking"  # waiting at the provider
        else:
            key = cell.status
        return theme.status.get(key, theme.muted)

    def _brush(self, color: str) -> QBrush:
        brush = self._brushes.get(color)
        if brush is None:
            brush = self._brushes[color] = QBrush(QColor(color))
        return brush

    def _pen(self, color: str) -> QPen:
        pen = self._pens.get(color)
        if pen is None:
            pen = self._pens[color] = QPen(QColor(color), 1)
        return pen

    def _paint_blocks(self, painter: QPainter, r0: int, r1: int, c0: int, c1: int) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        for r in range(r0, r1):
            y = self.top + r * CELL_H
            for c in range(c0, c1):
                cell = self.grid.cell_at(self.rows[r], self.cols[c])
                color = QColor(self._status_color(cell))
                color.setAlpha(110 if cell.status not in (QUEUED, BATCHED, CANCELLED) else 40)
                painter.setBrush(color)
                painter.drawRect(QRectF(LABEL_W + c * CELL_W + 4, y + 4, CELL_W - 8, CELL_H - 8))

    def _paint_header(self, painter: QPainter, c0: int, c1: int) -> None:
        theme, style = self._style.theme, self._style
        width = self._size.width()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._brush(theme.card_header))
        painter.drawRoundedRect(QRectF(0, 0, width, TITLE_H + BAR_H), 8, 8)
        painter.setPen(self._pen(theme.text))
        painter.setFont(style.title_font)
        title = f"Sweep · {len(self.grid.rows)} rows × {len(self.grid.columns)} columns"
        painter.drawText(QRectF(PAD + 4, 0, width - 2 * PAD, TITLE_H), Qt.AlignmentFlag.AlignVCenter, title)
        painter.setFont(style.small_font)
        painter.setPen(self._pen(theme.muted))
        x = PAD + 4 + style.title_metrics.horizontalAdvance(title) + 16
        painter.drawText(QRectF(x, 0, max(width - x - PAD, 10.0), TITLE_H), Qt.AlignmentFlag.AlignVCenter,
                         self.progress_text)
        for name, rect in self._buttons.items():
            checked = self.button_checked(name)
            painter.setPen(self._pen(theme.accent if checked else theme.border))
            painter.setBrush(self._brush(theme.accent if checked else theme.button_bg))
            painter.drawRoundedRect(rect, 6, 6)
            painter.setPen(self._pen(theme.accent_text if checked else theme.text))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.button_text(name))
        # column headers: model, variant, totals
        y = TITLE_H + BAR_H
        painter.setPen(self._pen(theme.muted))
        painter.drawText(QRectF(PAD + 4, y, LABEL_W - 2 * PAD, COLHEAD_H), Qt.AlignmentFlag.AlignVCenter,
                         "Input")
        totals = self.grid.totals()
        for c in range(c0, c1):
            col = self.grid.columns[self.cols[c]]
            rect = QRectF(LABEL_W + c * CELL_W, y, CELL_W, COLHEAD_H)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._brush(style.provider_color(col.model.split(":", 1)[0])))
            painter.drawRect(QRectF(rect.left() + 4, rect.top() + 8, 4, COLHEAD_H - 16))
            self._head_text(col.index, totals).draw(painter, QPointF(rect.left() + 14, rect.top() + 8))
        painter.setPen(self._pen(theme.card_border))
        painter.drawLine(QPointF(0, self.top), QPointF(width, self.top))

    def _head_text(self, col: int, totals: list[ColumnTotals]) -> Text:
        t = totals[col]
        key = (t, self._display_name(self.grid.columns[col].model))
        cached = self._heads.get(col)
        if cached is not None and cached[0] == key:
            return cached[1]
        column = self.grid.columns[col]
        theme, style = self._style.theme, self._style
        rate = "–" if t.pass_rate is None else f"{t.pass_rate:.0%}"
        score = "" if t.mean_score is None else f" · score {t.mean_score:.1f}"
        width = CELL_W - 22
        text = Text()
        y = text.add(key[1], style.small_bold_font, theme.text, width, 0.0, 1)
        y = text.add(column.label or "default settings", style.small_font, theme.muted, width, y, 1)
        y = text.add(f"pass {rate} ({t.passed}/{t.cells}){score} · {_usd(t.cost_usd)}", style.small_font,
                     theme.text, width, y, 1)
        text.add(f"p50 {_ms(t.p50_ms)} · p95 {_ms(t.p95_ms)}", style.small_font, theme.muted, width, y, 1)
        self._heads[col] = (key, text)
        return text

    def _paint_row_label(self, painter: QPainter, r: int, y: float) -> None:
        theme, style = self._style.theme, self._style
        row = self.grid.rows[self.rows[r]]
        text = self._row_texts.get(row.index)
        if text is None:
            text = self._row_texts[row.index] = Text()
            number = f"{row.index + 1}."
            text.add(number, style.small_font, theme.muted, 40, 0.0, 1)
            indent = style.small_metrics.horizontalAdvance(number + " ")
            text.add(row.label, style.small_font, theme.text, LABEL_W - 2 * PAD - 4, 0.0, 5, first_indent=indent)
        text.draw(painter, QPointF(PAD + 4, y + PAD))
        painter.setPen(self._pen(theme.card_border))
        painter.drawLine(QPointF(0, y + CELL_H), QPointF(LABEL_W, y + CELL_H))

    def _paint_cell(self, painter: QPainter, cell: CellView, rect: QRectF) -> None:
        theme = self._style.theme
        inner = rect.adjusted(3, 3, -3, -3)
        color = self._status_color(cell)
        painter.setPen(self._pen(theme.card_border))
        painter.setBrush(self._brush(theme.alt_base if cell.status in (QUEUED, BATCHED, CANCELLED) else theme.base))
        painter.drawRect(inner)  # (square: a rounded rectangle costs ~30 µs, ~1 ms a frame)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._brush(color))
        painter.drawRect(QRectF(inner.left(), inner.top() + 4, 3, inner.height() - 8))
        self._cell_text(cell).draw(painter, QPointF(inner.left() + 9, inner.top() + 4))

    def _cell_text(self, cell: CellView) -> Text:
        """The cell's text, laid out once per version of the cell: status (and attempt), up to three
        lines of the answer (or the error), and a foot line: ✓/✗ per check, score, latency, cost."""
        cached = self._texts.get(cell.index)
        if cached is not None and cached[0] == cell.version:
            return cached[1]
        theme, style = self._style.theme, self._style
        width = CELL_W - 24
        text = Text()
        word = _STATUS_WORD[cell.status]
        if cell.status == DONE and not cell.passed:
            word = "check failed"
        elif cell.status == STOPPED and cell.error == "interrupted":
            word = "interrupted"  # cut by a quit or a crash (Resume runs it again)
        y = text.add(word, style.small_bold_font, self._status_color(cell), width, 0.0, 1)
        if cell.attempts > 1:
            x = style.small_bold_metrics.horizontalAdvance(word + " ")
            text.add(f"· try {cell.attempts}", style.small_font, theme.muted, width - x, 0.0, 1, x=x)
        if cell.status == FAILED and cell.error:
            text.add(cell.error[:160], style.small_font, theme.error_text, width, y, 3)
        elif cell.status == BATCHED:
            text.add("waiting for the batch's results", style.small_font, theme.muted, width, y, 3)
        elif cell.preview:
            text.add(cell.preview, style.small_font, theme.text, width, y, 3)
        foot_y = CELL_H - 6 - 4 - 4 - style.small_metrics.height() - 2
        x = 0.0
        for _, ok in cell.checks:
            mark = NA_MARK if ok is None else "✓" if ok else "✗"
            color = theme.muted if ok is None else theme.status["done"] if ok else theme.status["error"]
            text.add(mark, style.small_bold_font, color, 20, foot_y, 1, x=x)
            x += style.small_bold_metrics.horizontalAdvance(mark) + 2
        parts = []
        if cell.score is not None:
            parts.append(f"score {cell.score}/10")
        if cell.latency_ms is not None:
            parts.append(_ms(cell.latency_ms))
        if cell.cost_usd is not None:
            parts.append(_usd(cell.cost_usd))
        if parts:
            lead = " · " if cell.checks else ""
            text.add(lead + " · ".join(parts), style.small_font, theme.muted, width - x, foot_y, 1, x=x)
        self._texts[cell.index] = (cell.version, text)
        return text


class Text:
    """Text laid out once (`QTextLayout`) and kept as glyph runs with their colours: drawing it again,
    at any zoom, only places glyphs (a `QStaticText` lays its text out again whenever the painter's
    scale changes: ~0.3 ms a cell on every zoom step)."""

    __slots__ = ("runs",)

    def __init__(self) -> None:
        self.runs: list[tuple[QPointF, QGlyphRun, QPen]] = []

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
        for n in range(max_lines):
            line = layout.createLine()
            if not line.isValid():
                break
            indent = first_indent if n == 0 else 0.0
            line.setLineWidth(max(width - indent, 10.0))
            line.setPosition(QPointF(indent, y - top))
            y += line.height()
        layout.endLayout()
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


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
