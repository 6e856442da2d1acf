"""The sweep node drawn as a grid on the canvas (DESIGN.md "Evaluate"): rows = inputs, columns =
model × variant; each cell shows its status, a short answer preview, its checks (✓/✗), the judge's
score, latency and cost; a header with the run's progress, the filters (answers differ, failures
only, one model) and the run's buttons (Resume, Cancel all, Re-run failed), and one header per
column with its totals (pass rate, mean score, total cost, p50/p95 latency).

One `QGraphicsObject` for the whole sweep (not one item per cell): `paint` draws only the rows and
columns the exposed rectangle meets, from text laid out once per cell version (`QStaticText`,
cached); zoomed far out it draws coloured blocks without text. A click (a press and release
without a drag: a drag pans the canvas, ui/canvas/view.py) on a cell emits `cell_clicked(index)`,
on a header button `button_clicked(name)`. What it shows comes from an `app.sweep_view.SweepGrid`;
the owner (ui/sweep_controller.py) calls `refresh()` after changing it (at most a few times a
second while a sweep runs).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, QSizeF, Qt, Signal
from PySide6.QtGui import QColor, QFont, QPainter, QPen, QStaticText, QTextOption
from PySide6.QtWidgets import QGraphicsItem, QGraphicsObject, QStyleOptionGraphicsItem, QWidget

from app.sweep_view import DONE, FAILED, QUEUED, STREAMING, CellView, SweepGrid
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

_STATUS_WORD = {QUEUED: "queued", STREAMING: "streaming", DONE: "done", FAILED: "failed"}


def _ms(ms: float | None) -> str:
    if ms is None:
        return "–"
    return f"{ms:.0f} ms" if ms < 1000 else f"{ms / 1000:.1f} s"


def _usd(cost: float | None) -> str:
    if cost is None:
        return "–"
    return f"${cost:.4f}" if cost < 1 else f"${cost:.2f}"


class SweepGridItem(QGraphicsObject):
    cell_clicked = Signal(int)  # the sweep's cell index
    button_clicked = Signal(str)  # one of BUTTONS

    def __init__(self, grid: SweepGrid, style: CardStyle, display_name=None) -> None:
        super().__init__()
        self.grid = grid
        self._style = style
        self._display_name = display_name or (lambda ref: ref.split(":", 1)[-1])
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setZValue(-1)  # under cards placed over it
        # filters (the header's chips) and the run's state (the owner sets them)
        self.only_differ = False
        self.only_failures = False
        self.model: str | None = None
        self.running = False
        self.progress_text = ""
        self.rows: list[int] = []
        self.cols: list[int] = []
        self._texts: dict[int, tuple[int, QStaticText, QStaticText]] = {}  # cell -> (version, preview, foot)
        self._heads: dict[int, tuple[tuple, QStaticText]] = {}  # column -> (totals key, laid-out text)
        self._row_texts: dict[int, QStaticText] = {}
        self._buttons: dict[str, QRectF] = {}
        self._size = QSizeF()
        self.refresh()

    def __repr__(self) -> str:
        return f"<SweepGridItem {len(self.rows)}/{len(self.grid.rows)} rows × {len(self.cols)} columns>"

    # ------------------------------------------------------------------ state
    def set_style(self, style: CardStyle) -> None:
        self._style = style
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
        fm = self._style.small_metrics
        y = TITLE_H + 5
        h = BAR_H - 10
        out: dict[str, QRectF] = {}
        x = PAD
        for name in ("differ", "failures", "model"):
            w = fm.horizontalAdvance(self.button_text(name)) + 22
            out[name] = QRectF(x, y, w, h)
            x += w + 6
        right = self._size.width() - PAD
        for name in ("rerun", "cancel", "resume"):
            if not self.button_shown(name):
                continue
            w = fm.horizontalAdvance(self.button_text(name)) + 22
            right -= w
            out[name] = QRectF(right, y, w, h)
            right -= 6
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

    # ------------------------------------------------------------------ painting
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        theme = self._style.theme
        exposed = option.exposedRect
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        full = self.boundingRect()
        painter.setPen(QPen(QColor(theme.card_border), 1))
        painter.setBrush(QColor(theme.card))
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
            painter.setPen(QColor(theme.muted))
            painter.drawText(QRectF(LABEL_W, self.top, CELL_W * 2, CELL_H), Qt.AlignmentFlag.AlignCenter,
                             "No row matches the filters.")

    def _status_color(self, cell: CellView) -> QColor:
        theme = self._style.theme
        if cell.status == DONE:
            return theme.status_color("done" if cell.passed else "interrupted")
        if cell.status == FAILED:
            return theme.status_color("error")
        return theme.status_color(cell.status)

    def _paint_blocks(self, painter: QPainter, r0: int, r1: int, c0: int, c1: int) -> None:
        painter.setPen(Qt.PenStyle.NoPen)
        for r in range(r0, r1):
            y = self.top + r * CELL_H
            for c in range(c0, c1):
                cell = self.grid.cell_at(self.rows[r], self.cols[c])
                color = self._status_color(cell)
                color.setAlpha(110 if cell.status != QUEUED else 40)
                painter.setBrush(color)
                painter.drawRect(QRectF(LABEL_W + c * CELL_W + 4, y + 4, CELL_W - 8, CELL_H - 8))

    def _paint_header(self, painter: QPainter, c0: int, c1: int) -> None:
        theme, style = self._style.theme, self._style
        width = self._size.width()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(theme.card_header))
        painter.drawRoundedRect(QRectF(0, 0, width, TITLE_H + BAR_H), 8, 8)
        painter.setPen(QColor(theme.text))
        painter.setFont(style.title_font)
        title = f"Sweep · {len(self.grid.rows)} rows × {len(self.grid.columns)} columns"
        painter.drawText(QRectF(PAD + 4, 0, width / 2, TITLE_H), Qt.AlignmentFlag.AlignVCenter, title)
        painter.setFont(style.small_font)
        painter.setPen(QColor(theme.muted))
        painter.drawText(QRectF(width / 2, 0, width / 2 - PAD - 4, TITLE_H),
                         Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignRight, self.progress_text)
        for name, rect in self._buttons.items():
            checked = self.button_checked(name)
            painter.setPen(QPen(QColor(theme.accent if checked else theme.border), 1))
            painter.setBrush(QColor(theme.accent if checked else theme.button_bg))
            painter.drawRoundedRect(rect, 6, 6)
            painter.setPen(QColor(theme.accent_text if checked else theme.text))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.button_text(name))
        # column headers: model, variant, totals
        y = TITLE_H + BAR_H
        painter.setPen(QColor(theme.muted))
        painter.drawText(QRectF(PAD + 4, y, LABEL_W - 2 * PAD, COLHEAD_H), Qt.AlignmentFlag.AlignVCenter,
                         "Input")
        totals = self.grid.totals()
        for c in range(c0, c1):
            col = self.grid.columns[self.cols[c]]
            rect = QRectF(LABEL_W + c * CELL_W, y, CELL_W, COLHEAD_H)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(QColor(style.provider_color(col.model.split(":", 1)[0])))
            painter.drawRect(QRectF(rect.left() + 4, rect.top() + 8, 4, COLHEAD_H - 16))
            painter.setPen(QColor(theme.text))  # (a static text is not drawn with no pen, whatever its colours)
            painter.drawStaticText(QPointF(rect.left() + 14, rect.top() + 6), self._head_text(col.index, totals))
        painter.setPen(QPen(QColor(theme.card_border), 1))
        painter.drawLine(QPointF(0, self.top), QPointF(width, self.top))

    def _head_text(self, col: int, totals) -> QStaticText:
        t = totals[col]
        key = (t, self._display_name(self.grid.columns[col].model))
        cached = self._heads.get(col)
        if cached is not None and cached[0] == key:
            return cached[1]
        column = self.grid.columns[col]
        theme = self._style.theme
        rate = "–" if t.pass_rate is None else f"{t.pass_rate:.0%}"
        score = "" if t.mean_score is None else f" · score {t.mean_score:.1f}"
        html = (f"<b style='color:{theme.text}'>{_esc(key[1])}</b>"
                f"<br><span style='color:{theme.muted}'>{_esc(column.label) or 'default settings'}</span>"
                f"<br><span style='color:{theme.text}'>pass {rate} ({t.passed}/{t.cells}){score} · "
                f"{_usd(t.cost_usd)}</span>"
                f"<br><span style='color:{theme.muted}'>p50 {_ms(t.p50_ms)} · p95 {_ms(t.p95_ms)}</span>")
        text = self._static(html, CELL_W - 22, rich=True)
        self._heads[col] = (key, text)
        return text

    def _paint_row_label(self, painter: QPainter, r: int, y: float) -> None:
        theme = self._style.theme
        row = self.grid.rows[self.rows[r]]
        text = self._row_texts.get(row.index)
        if text is None:
            label = row.label if len(row.label) <= 120 else row.label[:119] + "…"
            text = self._row_texts[row.index] = self._static(
                f"<span style='color:{theme.muted}'>{row.index + 1}.</span> "
                f"<span style='color:{theme.text}'>{_esc(label)}</span>", LABEL_W - 2 * PAD - 4, rich=True)
        painter.save()
        painter.setPen(QColor(theme.text))
        painter.setClipRect(QRectF(0, y, LABEL_W, CELL_H))
        painter.drawStaticText(QPointF(PAD + 4, y + PAD), text)
        painter.restore()
        painter.setPen(QPen(QColor(theme.card_border), 1))
        painter.drawLine(QPointF(0, y + CELL_H), QPointF(LABEL_W, y + CELL_H))

    def _paint_cell(self, painter: QPainter, cell: CellView, rect: QRectF) -> None:
        theme = self._style.theme
        inner = rect.adjusted(3, 3, -3, -3)
        color = self._status_color(cell)
        painter.setPen(QPen(QColor(theme.card_border), 1))
        painter.setBrush(QColor(theme.alt_base if cell.status == QUEUED else theme.base))
        painter.drawRoundedRect(inner, 5, 5)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawRect(QRectF(inner.left(), inner.top() + 4, 3, inner.height() - 8))
        preview, foot = self._cell_texts(cell)
        painter.setPen(QColor(theme.text))
        painter.save()
        painter.setClipRect(inner.adjusted(8, 0, -4, -20))
        painter.drawStaticText(QPointF(inner.left() + 9, inner.top() + 4), preview)
        painter.restore()
        painter.drawStaticText(QPointF(inner.left() + 9, inner.bottom() - 19), foot)

    def _cell_texts(self, cell: CellView) -> tuple[QStaticText, QStaticText]:
        cached = self._texts.get(cell.index)
        if cached is not None and cached[0] == cell.version:
            return cached[1], cached[2]
        theme = self._style.theme
        color = self._status_color(cell).name()
        word = _STATUS_WORD[cell.status]
        if cell.status == DONE and not cell.passed:
            word = "check failed"
        head = f"<b style='color:{color}'>{word}</b>"
        if cell.attempts > 1:
            head += f" <span style='color:{theme.muted}'>· try {cell.attempts}</span>"
        if cell.status == FAILED and cell.error:
            body = f"<span style='color:{theme.error_text}'>{_esc(cell.error[:140])}</span>"
        elif cell.preview:
            body = f"<span style='color:{theme.text}'>{_esc(cell.preview)}</span>"
        else:
            body = ""
        preview = self._static(f"{head}<br>{body}", CELL_W - 24, rich=True)
        marks = "".join(
            f"<span style='color:{theme.status['done'] if ok else theme.status['error']}'>{'✓' if ok else '✗'}</span>"
            for _, ok in cell.checks)
        parts = []
        if marks:
            parts.append(marks)
        if cell.score is not None:
            parts.append(f"<b>{cell.score}</b>/10")
        if cell.latency_ms is not None:
            parts.append(_ms(cell.latency_ms))
        if cell.cost_usd is not None:
            parts.append(_usd(cell.cost_usd))
        foot = self._static(f"<span style='color:{theme.muted}'>{' · '.join(parts)}</span>", CELL_W - 24, rich=True)
        self._texts[cell.index] = (cell.version, preview, foot)
        return preview, foot

    def _static(self, html: str, width: float, *, rich: bool) -> QStaticText:
        text = QStaticText(html)
        text.setTextFormat(Qt.TextFormat.RichText if rich else Qt.TextFormat.PlainText)
        text.setTextWidth(width)
        opt = QTextOption()
        opt.setWrapMode(QTextOption.WrapMode.WrapAtWordBoundaryOrAnywhere)
        text.setTextOption(opt)
        text.setPerformanceHint(QStaticText.PerformanceHint.AggressiveCaching)
        text.prepare(font=QFont(self._style.small_font))
        return text


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
