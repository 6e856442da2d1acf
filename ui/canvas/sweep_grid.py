"""The sweep node drawn as a grid on the canvas (DESIGN.md "Evaluate"): rows = inputs, columns =
model × variant; each cell shows its status, the judge's score (top right; its reason in the
tooltip), a short answer preview, its checks (✓/✗, – for one that does not apply, with a tooltip
saying why), latency and cost; a header with the run's progress, the filters (answers differ,
failures only, one model) and the run's buttons (Resume, Cancel all, Re-run failed), and one header
per column with its totals (pass rate over the cells that ended, the cells not run apart; mean
score; the answers' cost and the judge's apart; p50/p95 latency); the header's corner has the same
totals for the whole grid.

One `QGraphicsObject` for the whole sweep (not one item per cell): `paint` draws only the rows and
columns the exposed rectangle meets, from text laid out once per cell version (glyph runs, `Text`,
cached). Zoomed out (below `TEXT_LOD`) the cells are coloured blocks, and the title, the column
headers (model, variant, pass rate) and the row labels are drawn in fonts sized in screen pixels,
as cards draw their overview. Scrolled down through a tall grid, the column headers stay at the top
of the view, and scrolled right, the row labels stay at its left (sticky; repainted as the view
moves, `_on_view_viewport_changed`).

A click (a press and release without a drag: a drag pans the canvas, ui/canvas/view.py) on a cell
emits `cell_clicked(index)`, on a header button `button_clicked(name)`. What it shows comes from an
`app.sweep_view.SweepGrid`; the owner (ui/sweep_controller.py) calls `refresh()` after changing it
(at most a few times a second while a sweep runs).
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
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.sweep import NOT_APPLICABLE
from app.sweep_view import (
    BATCHED,
    DONE,
    FAILED,
    QUEUED,
    STREAMING,
    CellView,
    ColumnTotals,
    SweepGrid,
    pass_line,
)
from ui.canvas.style import CardStyle

LABEL_W = 230.0
CELL_W = 250.0
CELL_H = 96.0
TITLE_H = 40.0
BAR_H = 36.0
COLHEAD_H = 74.0  # the column headers' least height (it grows with the font: `SweepGridItem.head_h`)
PAD = 8.0
TEXT_LOD = 0.42  # below this zoom (cards': constants.LOD_TEXT_MIN) the cells are coloured blocks, the labels
# in screen-pixel fonts (the cells' text would be under 5 px)
OVERVIEW_PAD_PX = 4.0
OVERVIEW_MIN_COL_PX = 36.0  # narrower on screen, a column header shows no text

BUTTONS = ("differ", "failures", "model", "resume", "cancel", "rerun")

_STATUS_WORD = {QUEUED: "queued", BATCHED: "in batch", STREAMING: "streaming", DONE: "done", FAILED: "failed"}
NA_MARK = "–"  # a check that does not apply (max-ms on a batch answer)
_LEFT_MIDDLE = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_ELIDE = Qt.TextElideMode.ElideRight


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


def cost_line(t: ColumnTotals) -> str:
    """The answers' cost, and the judge's apart ("$0.0883 + judge $0.0089")."""
    line = _usd(t.cost_usd)
    if t.judge_cost_usd is not None:
        line += f" + judge {_usd(t.judge_cost_usd)}"
    return line


def score_text(cell: CellView) -> str:
    """The judge's verdict on a cell as the cell shows it: "8/10", "no score" (the judge answered
    without a SCORE line, or failed), "" (not judged)."""
    if cell.score is not None:
        return f"{cell.score}/10"
    return "no score" if cell.judged else ""


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
        self._corner: tuple[tuple, Text] | None = None  # the whole grid's totals, laid out
        self._row_texts: dict[int, Text] = {}
        self._brushes: dict[str, QBrush] = {}
        self._pens: dict[str, QPen] = {}
        self._buttons: dict[str, QRectF] = {}
        self._button_texts: dict[str, str] = {}
        self._size = QSizeF()
        self.head_h = COLHEAD_H
        # where the sticky column headers and row labels are drawn now (item coordinates; empty when
        # at their own place): a click there opens no cell, and the view's moves repaint them
        self._sticky: tuple[QRectF, QRectF] = (QRectF(), QRectF())
        self._views: list[QGraphicsView] = []
        self._overview = False  # the view draws it zoomed out (no buttons shown)
        self.painted_texts: list[str] = []  # what the last paint wrote (tests and screenshots read it)
        self.refresh()

    def __repr__(self) -> str:
        return f"<SweepGridItem {len(self.rows)}/{len(self.grid.rows)} rows × {len(self.cols)} columns>"

    def attach(self, scene: QGraphicsScene) -> None:
        """Show the grid on `scene` (listed there for `grid_items`: no registry outlives a scene)."""
        scene.addItem(self)
        setattr(scene, _GRIDS, [*grid_items(scene), self])
        for view in scene.views():
            signal = getattr(view, "viewport_changed", None)
            if signal is not None:
                signal.connect(self._on_view_viewport_changed)
                self._views.append(view)

    def dispose(self) -> None:
        """Take the grid off its scene for good."""
        for view in self._views:
            try:
                view.viewport_changed.disconnect(self._on_view_viewport_changed)  # type: ignore[attr-defined]
            except (RuntimeError, TypeError):  # the view is gone already
                pass
        self._views = []
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
        self._corner = None
        self._row_texts.clear()
        self.refresh()

    def refresh(self) -> None:
        """The grid's data, filters or run state changed: lay out the header and repaint."""
        self.rows = self.grid.visible_rows(differ=self.only_differ, failures=self.only_failures, model=self.model)
        self.cols = self.grid.visible_columns(self.model)
        lines = 6 if self.grid.defn.judge else 5  # name, variant, pass, cost, (score), latency
        self.head_h = max(COLHEAD_H, 2 * PAD + lines * self._style.small_metrics.lineSpacing())
        self._layout_buttons()
        buttons_w = max((r.right() for r in self._buttons.values()), default=0.0) + PAD
        # as wide as the columns shown (a model filter narrows it, and the minimap with it), and the header's buttons
        width = max(LABEL_W + max(len(self.cols), 1) * CELL_W, buttons_w)
        height = TITLE_H + BAR_H + self.head_h + max(len(self.rows), 1) * CELL_H
        if QSizeF(width, height) != self._size:
            self.prepareGeometryChange()
            self._size = QSizeF(width, height)
            scene = self.scene()
            blocks_changed = getattr(scene, "blocks_changed", None)
            if blocks_changed is not None:
                blocks_changed.emit()  # the minimap draws the grid's new extent
        self.update()

    def title_text(self) -> str:
        """The header's title: the grid's size, and what the filters show of it."""
        rows, cols = len(self.grid.rows), len(self.grid.columns)
        title = f"Sweep · {rows} row{'s' if rows != 1 else ''} × {cols} column{'s' if cols != 1 else ''}"
        shown = []
        if len(self.rows) != rows:
            shown.append(f"{len(self.rows)} of {rows} rows")
        if len(self.cols) != cols:
            shown.append(f"{len(self.cols)} of {cols} columns")
        if shown:
            title += " · " + ", ".join(shown) + " shown"
        return title

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
        return TITLE_H + BAR_H + self.head_h

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
        if any(rect.contains(pos) for rect in self._sticky):  # a column header or row label drawn over it
            return None
        return self.grid.cell_at(self.rows[r], self.cols[c]).index

    def clicked_at(self, pos: QPointF) -> bool:
        """A click at `pos` (item coordinates), from the view: a button or a cell (zoomed out, the
        buttons are not drawn: a click there takes none)."""
        for name, rect in () if self._overview else self._buttons.items():
            if rect.contains(pos):
                self.button_clicked.emit(name)
                return True
        index = self.cell_at(pos)
        if index is not None:
            self.cell_clicked.emit(index)
            return True
        return False

    def tooltip_at(self, pos: QPointF) -> str:
        """The tooltip of the cell at `pos`: its error, what each check found (– one that does not
        apply: why), and the judge's score with its reason."""
        index = self.cell_at(pos)
        if index is None:
            return ""
        cell = self.grid.cells[index]
        if cell.status == BATCHED:
            return "Waiting in a batch at its provider: " + "; ".join(self.grid.batch_lines)
        lines = []
        if cell.status == FAILED and cell.error:
            lines.append(cell.error)
        reason = NOT_APPLICABLE.removeprefix("n/a: ")
        lines += [f"{name}: {'passed' if ok else 'failed' if ok is False else f'{NA_MARK} {reason}'}"
                  for name, ok in cell.checks]
        if cell.judged:
            judge = self._display_name(self.grid.defn.judge) if self.grid.defn.judge else "the judge"
            why = " ".join(cell.score_reason.split())
            if cell.score is not None:
                lines.append(f"Judge {judge}: {cell.score}/10" + (f" — {why}" if why else ""))
            elif why.startswith("the judge failed"):
                lines.append(f"Judge {judge}: no score ({why})")
            else:
                lines.append(f"Judge {judge}: no score (its reply has no “SCORE: n” line)"
                             + (f": {why[:160]}" if why else ""))
        return "\n".join(lines)

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:  # noqa: N802 (Qt's name)
        tip = self.tooltip_at(event.pos())
        if tip != self.toolTip():
            self.setToolTip(tip)
        super().hoverMoveEvent(event)

    # ------------------------------------------------------------------ sticky header and labels
    def _visible_in(self, view: QGraphicsView) -> QRectF:
        """What `view` shows of the grid, in item coordinates."""
        return self.mapFromScene(view.mapToScene(view.viewport().rect())).boundingRect()

    def _sticky_at(self, visible: QRectF | None, overview: bool) -> tuple[float, float]:
        """(y of the column headers, x of the row labels): their own place, or, when the view shows
        the grid scrolled past them, the view's top / left edge (never past the last row or column)."""
        natural_y = 0.0 if overview else TITLE_H + BAR_H
        if visible is None:
            return natural_y, 0.0
        band_h = self.top if overview else self.head_h
        y = natural_y
        if visible.top() > natural_y:
            y = max(natural_y, min(visible.top(), self._size.height() - band_h - CELL_H))
        x = 0.0
        if visible.left() > 0:
            x = max(0.0, min(visible.left(), self._size.width() - LABEL_W - CELL_W))
        return y, x

    def _sticky_rects(self, visible: QRectF | None) -> tuple[QRectF, QRectF]:
        """Where sticky headers are drawn for this view (both levels of detail), empty when at their place."""
        if visible is None:
            return QRectF(), QRectF()
        y, x = self._sticky_at(visible, overview=False)
        oy, _ = self._sticky_at(visible, overview=True)
        width, height = self._size.width(), self._size.height()
        head = QRectF()
        if y > TITLE_H + BAR_H or oy > 0:
            top = min(y - TITLE_H - BAR_H, oy) if oy > 0 else y
            head = QRectF(0, top, width, max(y + self.head_h, oy + self.top) - top)
        labels = QRectF(x, 0, LABEL_W, height) if x > 0 else QRectF()
        return head, labels

    def _on_view_viewport_changed(self, _x: float, _y: float, _zoom: float) -> None:
        """The view moved: the view scrolled its pixels, sticky headers with them; draw them again
        where they were (the cells under them) and where they go."""
        old = self._sticky
        for view in self._views:
            new = self._sticky_rects(self._visible_in(view))
            for rect in (*old, *new):
                if not rect.isEmpty():
                    self.update(rect)
            self._sticky = new

    # ------------------------------------------------------------------ painting
    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None) -> None:
        scene = self.scene()
        style = getattr(scene, "style", self._style) if scene is not None else self._style
        if isinstance(style, CardStyle) and style is not self._style:
            self.set_style(style)  # the window's theme or font size changed
        theme = self._style.theme
        exposed = option.exposedRect
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        self.painted_texts = []
        full = self.boundingRect()
        painter.setPen(self._pen(theme.card_border))
        painter.setBrush(self._brush(theme.card))
        painter.drawRoundedRect(full, 8, 8)
        view = widget.parent() if widget is not None else None
        visible = self._visible_in(view) if isinstance(view, QGraphicsView) else None
        if visible is not None:
            self._sticky = self._sticky_rects(visible)
        overview = lod < TEXT_LOD
        if visible is not None:
            self._overview = overview
        head_y, label_x = self._sticky_at(visible, overview)
        r0 = max(0, int((exposed.top() - self.top) // CELL_H))
        r1 = min(len(self.rows), int((exposed.bottom() - self.top) // CELL_H) + 1)
        c0 = max(0, int((exposed.left() - LABEL_W) // CELL_W))
        c1 = min(len(self.cols), int((exposed.right() - LABEL_W) // CELL_W) + 1)
        if overview:
            self._paint_blocks(painter, r0, r1, c0, c1)
            self._paint_overview(painter, lod, exposed, (r0, r1, c0, c1), head_y, label_x)
            return
        painter.setFont(self._style.small_font)
        for r in range(r0, r1):
            y = self.top + r * CELL_H
            for c in range(c0, c1):
                cell = self.grid.cell_at(self.rows[r], self.cols[c])
                self._paint_cell(painter, cell, QRectF(LABEL_W + c * CELL_W, y, CELL_W, CELL_H))
        if not self.rows:
            painter.setPen(self._pen(theme.muted))
            painter.drawText(QRectF(LABEL_W, self.top, CELL_W * 2, CELL_H), Qt.AlignmentFlag.AlignCenter,
                             "No row matches the filters.")
        if exposed.left() < label_x + LABEL_W:
            for r in range(r0, r1):
                self._paint_row_label(painter, r, self.top + r * CELL_H, label_x)
        if exposed.top() < TITLE_H + BAR_H:
            self._paint_title(painter)
        if exposed.top() < head_y + self.head_h and exposed.bottom() > head_y:
            self._paint_column_heads(painter, c0, c1, head_y, label_x)

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
                color.setAlpha(110 if cell.status in (DONE, FAILED, STREAMING) else 40)
                painter.setBrush(color)
                painter.drawRect(QRectF(LABEL_W + c * CELL_W + 4, y + 4, CELL_W - 8, CELL_H - 8))

    def _paint_overview(self, painter: QPainter, lod: float, exposed: QRectF, span: tuple[int, int, int, int],
                        head_y: float, label_x: float) -> None:
        """The labels of the zoomed-out grid, in fonts sized in screen pixels (drawn with the painter
        scaled by 1/lod): the title in the header's corner, each column's model, variant and pass
        rate over it, each row's number and input at its left."""
        r0, r1, c0, c1 = span
        theme, style = self._style.theme, self._style
        pad, line = OVERVIEW_PAD_PX, style.overview_line_px
        width = self._size.width()
        painter.save()
        painter.scale(1.0 / lod, 1.0 / lod)
        texts = self.painted_texts
        label_w = LABEL_W * lod
        # the row labels: number and input, wrapped on the lines the row has room for
        lines = int((CELL_H * lod - 4) // line)
        if label_w >= OVERVIEW_MIN_COL_PX and lines >= 1 and exposed.left() < label_x + LABEL_W:
            painter.setFont(style.overview_font)
            for r in range(r0, r1):
                y = (self.top + r * CELL_H) * lod
                if label_x > 0:  # over the cells: on the grid's colour
                    painter.setPen(Qt.PenStyle.NoPen)
                    painter.setBrush(self._brush(theme.card))
                    painter.drawRect(QRectF(label_x * lod, y, label_w, CELL_H * lod))
                row = self.grid.rows[self.rows[r]]
                text = f"{row.index + 1}. {row.label}"
                painter.setPen(self._pen(theme.text))
                painter.drawText(QRectF(label_x * lod + pad, y + 2, label_w - 2 * pad, lines * line),
                                 Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap,
                                 text)
                texts.append(text)
        # the header band: the title in its corner, the columns' names, variants and pass rates
        band = QRectF(0, head_y * lod, width * lod, self.top * lod)
        if exposed.top() < head_y + self.top and exposed.bottom() > head_y:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._brush(theme.card))
            painter.drawRect(band)
            lines = int((band.height() - 2 * pad) // line)
            col_w = CELL_W * lod
            if lines >= 1 and col_w >= OVERVIEW_MIN_COL_PX:
                totals = self.grid.totals()
                first = 0  # a model's name spans its variants' columns (side by side): it has room there
                while first < len(self.cols):
                    model = self.grid.columns[self.cols[first]].model
                    last = first
                    while last + 1 < len(self.cols) and self.grid.columns[self.cols[last + 1]].model == model:
                        last += 1
                    if last >= c0 and first < c1:
                        x = (LABEL_W + first * CELL_W) * lod
                        self._draw_lines(painter, [(self._display_name(model), style.overview_title_font, theme.text)],
                                         QRectF(x + 7, band.top() + pad, (last + 1 - first) * col_w - 7 - pad, line))
                    first = last + 1
                for c in range(c0, c1):
                    col = self.grid.columns[self.cols[c]]
                    x = (LABEL_W + c * CELL_W) * lod
                    painter.setPen(Qt.PenStyle.NoPen)
                    painter.setBrush(self._brush(style.provider_color(col.model.split(":", 1)[0])))
                    painter.drawRect(QRectF(x + 2, band.top() + pad + line, 3, min(lines - 1, 2) * line))
                    t = totals[col.index]
                    parts = [(_short_variant(col.params) or "default settings", style.overview_font, theme.muted),
                             (_short_pass(t), style.overview_font, theme.text)]
                    if self.grid.defn.judge and t.mean_score is not None:  # then, if there is room
                        parts.append((f"score {t.mean_score:.1f}", style.overview_font, theme.text))
                    parts.append((cost_line(t), style.overview_font, theme.muted))
                    self._draw_lines(painter, parts[:lines - 1],
                                     QRectF(x + 7, band.top() + pad + line, col_w - 7 - pad, line))
            if lines >= 1 and label_w >= OVERVIEW_MIN_COL_PX:
                rows, cols = len(self.grid.rows), len(self.grid.columns)
                shown = "" if (len(self.rows), len(self.cols)) == (rows, cols) else \
                    f" ({len(self.rows)} × {len(self.cols)} shown)"
                parts = [("Sweep", style.overview_title_font, theme.text),
                         (f"{rows} × {cols}{shown}", style.overview_font, theme.muted),
                         (_short_pass(self.grid.overall()), style.overview_font, theme.text)]
                x = label_x * lod
                self._draw_lines(painter, parts[:lines], QRectF(x + pad, band.top() + pad, label_w - 2 * pad, line))
        painter.restore()

    def _draw_lines(self, painter: QPainter, parts: list[tuple[str, QFont, str]], first: QRectF) -> None:
        """One line each, elided, from `first` down (overview: device pixels); a line's " · " tail
        is left out rather than its head cut."""
        rect = QRectF(first)
        for text, font, color in parts:
            painter.setFont(font)
            painter.setPen(self._pen(color))
            metrics = painter.fontMetrics()
            while " · " in text and metrics.horizontalAdvance(text) > rect.width():
                text = text.rsplit(" · ", 1)[0]
            shown = metrics.elidedText(text, _ELIDE, int(rect.width()))
            painter.drawText(rect, _LEFT_MIDDLE, shown)
            self.painted_texts.append(shown)
            rect.translate(0, rect.height())

    def _paint_title(self, painter: QPainter) -> None:
        theme, style = self._style.theme, self._style
        width = self._size.width()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._brush(theme.card_header))
        painter.drawRoundedRect(QRectF(0, 0, width, TITLE_H + BAR_H), 8, 8)
        painter.setPen(self._pen(theme.text))
        painter.setFont(style.title_font)
        title = self.title_text()
        painter.drawText(QRectF(PAD + 4, 0, width - 2 * PAD, TITLE_H), Qt.AlignmentFlag.AlignVCenter, title)
        painter.setFont(style.small_font)
        painter.setPen(self._pen(theme.muted))
        x = PAD + 4 + style.title_metrics.horizontalAdvance(title) + 16
        painter.drawText(QRectF(x, 0, max(width - x - PAD, 10.0), TITLE_H), Qt.AlignmentFlag.AlignVCenter,
                         self.progress_text)
        self.painted_texts += [title, self.progress_text]
        for name, rect in self._buttons.items():
            checked = self.button_checked(name)
            painter.setPen(self._pen(theme.accent if checked else theme.border))
            painter.setBrush(self._brush(theme.accent if checked else theme.button_bg))
            painter.drawRoundedRect(rect, 6, 6)
            painter.setPen(self._pen(theme.accent_text if checked else theme.text))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.button_text(name))

    def _paint_column_heads(self, painter: QPainter, c0: int, c1: int, y: float, label_x: float) -> None:
        """Each column's model, variant and totals at `y` (below the buttons, or at the view's top
        edge when the rows are scrolled under it), and the whole grid's totals in the corner."""
        theme, style = self._style.theme, self._style
        width = self._size.width()
        if y > TITLE_H + BAR_H:  # sticky, over the rows: on the grid's colour
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._brush(theme.card))
            painter.drawRect(QRectF(0, y, width, self.head_h))
        totals = self.grid.totals()
        for c in range(c0, c1):
            col = self.grid.columns[self.cols[c]]
            rect = QRectF(LABEL_W + c * CELL_W, y, CELL_W, self.head_h)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._brush(style.provider_color(col.model.split(":", 1)[0])))
            painter.drawRect(QRectF(rect.left() + 4, rect.top() + 8, 4, self.head_h - 16))
            text = self._head_text(col.index, totals)
            text.draw(painter, QPointF(rect.left() + 14, rect.top() + PAD))
            self.painted_texts += text.strings
        if label_x > 0:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._brush(theme.card))
            painter.drawRect(QRectF(label_x, y, LABEL_W, self.head_h))
        corner = self._corner_text()
        corner.draw(painter, QPointF(label_x + PAD + 4, y + PAD))
        self.painted_texts += corner.strings
        painter.setPen(self._pen(theme.card_border))
        painter.drawLine(QPointF(0, y + self.head_h), QPointF(width, y + self.head_h))

    def _head_text(self, col: int, totals: list[ColumnTotals]) -> Text:
        t = totals[col]
        key = (t, self._display_name(self.grid.columns[col].model))
        cached = self._heads.get(col)
        if cached is not None and cached[0] == key:
            return cached[1]
        column = self.grid.columns[col]
        theme, style = self._style.theme, self._style
        width = CELL_W - 22
        text = Text()
        y = text.add(key[1], style.small_bold_font, theme.text, width, 0.0, 1)
        y = text.add(column.label or "default settings", style.small_font, theme.muted, width, y, 1)
        y = text.add(pass_line(t), style.small_font, theme.text, width, y, 1)
        if self.grid.defn.judge:
            score = "mean score –" if t.mean_score is None else f"mean score {t.mean_score:.1f}/10 ({t.scored} scored)"
            y = text.add(score, style.small_font, theme.text, width, y, 1)
        y = text.add(cost_line(t), style.small_font, theme.text, width, y, 1)
        text.add(f"p50 {_ms(t.p50_ms)} · p95 {_ms(t.p95_ms)}", style.small_font, theme.muted, width, y, 1)
        self._heads[col] = (key, text)
        return text

    def _corner_text(self) -> Text:
        """The header's corner (over the row labels): the whole grid's totals."""
        t = self.grid.overall()
        if self._corner is not None and self._corner[0] == (t,):
            return self._corner[1]
        theme, style = self._style.theme, self._style
        width = LABEL_W - 2 * PAD - 4
        text = Text()
        y = text.add("Input · all cells:", style.small_font, theme.muted, width, 0.0, 1)
        y = text.add(pass_line(t), style.small_font, theme.text, width, y, 2)
        if self.grid.defn.judge:
            score = "mean score –" if t.mean_score is None else f"mean score {t.mean_score:.1f}/10"
            y = text.add(score, style.small_font, theme.text, width, y, 1)
        text.add(cost_line(t), style.small_font, theme.text, width, y, 1)
        self._corner = ((t,), text)
        return text

    def _paint_row_label(self, painter: QPainter, r: int, y: float, x: float = 0.0) -> None:
        theme, style = self._style.theme, self._style
        row = self.grid.rows[self.rows[r]]
        if x > 0:  # sticky, over the cells: on the grid's colour, with an edge
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self._brush(theme.card))
            painter.drawRect(QRectF(x, y, LABEL_W, CELL_H))
            painter.setPen(self._pen(theme.card_border))
            painter.drawLine(QPointF(x + LABEL_W, y), QPointF(x + LABEL_W, y + CELL_H))
        text = self._row_texts.get(row.index)
        if text is None:
            text = self._row_texts[row.index] = Text()
            number = f"{row.index + 1}."
            text.add(number, style.small_font, theme.muted, 40, 0.0, 1)
            indent = style.small_metrics.horizontalAdvance(number + " ")
            text.add(row.label, style.small_font, theme.text, LABEL_W - 2 * PAD - 4, 0.0, 5, first_indent=indent)
        text.draw(painter, QPointF(x + PAD + 4, y + PAD))
        self.painted_texts += text.strings
        painter.setPen(self._pen(theme.card_border))
        painter.drawLine(QPointF(x, y + CELL_H), QPointF(x + LABEL_W, y + CELL_H))

    def _paint_cell(self, painter: QPainter, cell: CellView, rect: QRectF) -> None:
        theme = self._style.theme
        inner = rect.adjusted(3, 3, -3, -3)
        color = self._status_color(cell)
        painter.setPen(self._pen(theme.card_border))
        painter.setBrush(self._brush(theme.base if cell.status in (DONE, FAILED, STREAMING) else theme.alt_base))
        painter.drawRect(inner)  # (square: a rounded rectangle costs ~30 µs, ~1 ms a frame)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self._brush(color))
        painter.drawRect(QRectF(inner.left(), inner.top() + 4, 3, inner.height() - 8))
        text = self._cell_text(cell)
        text.draw(painter, QPointF(inner.left() + 9, inner.top() + 4))
        self.painted_texts += text.strings

    def _cell_text(self, cell: CellView) -> Text:
        """The cell's text, laid out once per version of the cell: status (and attempt), the judge's
        score at the right, up to three lines of the answer (or the error), and a foot line: ✓/✗ per
        check, latency, cost."""
        cached = self._texts.get(cell.index)
        if cached is not None and cached[0] == cell.version:
            return cached[1]
        theme, style = self._style.theme, self._style
        width = CELL_W - 24
        text = Text()
        score = score_text(cell)
        score_w = style.small_bold_metrics.horizontalAdvance(score) if score else 0.0
        if score:
            text.add(score, style.small_bold_font, theme.text if cell.score is not None else theme.muted,
                     score_w + 4, 0.0, 1, x=width - score_w)
        word = _STATUS_WORD.get(cell.status, cell.status)
        if cell.status == DONE and not cell.passed:
            word = "check failed"
        head_w = width - score_w - 8
        y = text.add(word, style.small_bold_font, self._status_color(cell), head_w, 0.0, 1)
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
        for _, ok in cell.checks:
            mark = NA_MARK if ok is None else "✓" if ok else "✗"
            color = theme.muted if ok is None else theme.status["done"] if ok else theme.status["error"]
            text.add(mark, style.small_bold_font, color, 20, foot_y, 1, x=x)
            x += style.small_bold_metrics.horizontalAdvance(mark) + 2
        parts = []
        if cell.latency_ms is not None:
            parts.append(_ms(cell.latency_ms))
        if cell.cost_usd is not None:
            parts.append(_usd(cell.cost_usd))
        if parts:
            lead = " · " if cell.checks else ""
            text.add(lead + " · ".join(parts), style.small_font, theme.muted, width - x, foot_y, 1, x=x)
        self._texts[cell.index] = (cell.version, text)
        return text


def _short_pass(t: ColumnTotals) -> str:
    """The pass rate in few characters (the zoomed-out header: "pass 15/16 · 2 left")."""
    if not t.ended:
        return "not run"
    left = t.not_run + t.running
    return f"pass {t.passed}/{t.ended}" + (f" · {left} left" if left else "")


_SHORT = {"temperature": "temp", "max_tokens": "max tokens", "reasoning_effort": "effort"}


def _short_variant(params: dict) -> str:
    """A column's settings in few characters (the zoomed-out header: "temp 0.7")."""
    parts = [f"{_SHORT.get(k, k)} {v}" for k, v in params.items() if k != "system"]
    if "system" in params:
        parts.append(f"system “{' '.join(str(params['system']).split())[:12]}…”")
    return ", ".join(parts)


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


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
