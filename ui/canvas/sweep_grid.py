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
cached: ui/canvas/sweep_grid_text.py). Zoomed out (below `TEXT_LOD`) the cells are coloured blocks,
and the title, the column headers (model, variant, pass rate) and the row labels are drawn in fonts
sized in screen pixels, as cards draw their overview (ui/canvas/sweep_grid_overview.py). Scrolled down through a tall grid, the column headers stay at the top
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
from PySide6.QtGui import QBrush, QColor, QPainter, QPen
from PySide6.QtWidgets import (
    QGraphicsItem,
    QGraphicsObject,
    QGraphicsScene,
    QGraphicsSceneHoverEvent,
    QGraphicsView,
    QStyleOptionGraphicsItem,
    QWidget,
)

from app.sweep_view import DONE, FAILED, STREAMING, CellView, SweepGrid
from ui.canvas.style import CardStyle
from ui.canvas.sweep_grid_overview import paint_blocks, paint_overview
from ui.canvas.sweep_grid_text import CELL_H, CELL_W, LABEL_W, PAD, GridTexts, cell_tooltip, grid_title
from ui.format import elide_parts

__all__ = ["BUTTONS", "CELL_H", "CELL_W", "LABEL_W", "TEXT_LOD", "SweepGridItem", "grid_items"]

TITLE_H = 40.0
BAR_H = 36.0
COLHEAD_H = 74.0  # the column headers' least height (it grows with the font: `SweepGridItem.head_h`)
TEXT_LOD = 0.42  # below this zoom (cards': constants.LOD_TEXT_MIN) the cells are coloured blocks, the labels
# in screen-pixel fonts (the cells' text would be under 5 px: ui/canvas/sweep_grid_overview.py)

BUTTONS = ("differ", "failures", "model", "resume", "cancel", "rerun")


_GRIDS = "_sweep_grids"  # the scene's attribute listing the grids on it (kept by attach / dispose)


def grid_items(scene: object) -> list[SweepGridItem]:
    """The sweep grids shown on `scene` (View → Fit all and the minimap take them in)."""
    return list(getattr(scene, _GRIDS, ()))


def _sticky_at(visible: QRectF | None, overview: bool, size: QSizeF, head_h: float) -> tuple[float, float]:
    """(y of the column headers, x of the row labels) in a grid of `size`: their own place, or, when
    the view shows the grid scrolled past them, the view's top / left edge (never past the last row
    or column)."""
    natural_y = 0.0 if overview else TITLE_H + BAR_H
    if visible is None:
        return natural_y, 0.0
    band_h = TITLE_H + BAR_H + head_h if overview else head_h
    y = natural_y
    if visible.top() > natural_y:
        y = max(natural_y, min(visible.top(), size.height() - band_h - CELL_H))
    x = 0.0
    if visible.left() > 0:
        x = max(0.0, min(visible.left(), size.width() - LABEL_W - CELL_W))
    return y, x


class SweepGridItem(QGraphicsObject):
    cell_clicked = Signal(int)  # the sweep's cell index
    button_clicked = Signal(str)  # one of BUTTONS

    def __init__(self, grid: SweepGrid, style: CardStyle, display_name: Callable[[str], str] | None = None) -> None:
        super().__init__()
        self.grid = grid
        self._style = style
        self.display_name = display_name or (lambda ref: ref.split(":", 1)[-1])
        self.texts = GridTexts(grid, style, self.display_name)  # the cells', headers' and labels' texts, laid out
        self.setFlag(QGraphicsItem.GraphicsItemFlag.ItemUsesExtendedStyleOption, True)
        self.setZValue(-1)  # under cards placed over it
        self.setAcceptHoverEvents(True)  # the tooltip of the cell under the pointer (tooltip_at)
        # filters (the header's chips) and the run's state (the owner sets them)
        self.only_differ = False
        self.only_failures = False
        self.model: str | None = None
        self.running = False
        self.progress_text = ""
        self._progress_cut = False  # the last paint cut progress_text (its tooltip says it whole)
        self.rows: list[int] = []
        self.cols: list[int] = []
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
    @property
    def card_style(self) -> CardStyle:
        return self._style

    def set_style(self, style: CardStyle) -> None:
        self._style = style
        self._brushes.clear()
        self._pens.clear()
        self.texts.set_style(style)
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
        return grid_title(self.grid, len(self.rows), len(self.cols))

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
            return not self.running and bool(self.grid.unfinished() or self.grid.unjudged())
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
            return f"Model: {self.display_name(self.model) if self.model else 'all'} ▾"
        if name == "cancel":
            return "Cancel all"
        if name == "resume":
            n, judge = len(self.grid.unfinished()), len(self.grid.unjudged())
            parts = [f"{n} cell{'s' if n != 1 else ''} left"] if n else []
            if judge:
                parts.append(f"{judge} {'to judge' if n else 'cell' + ('s' if judge != 1 else '') + ' to judge'}")
            return f"Resume sweep ({', '.join(parts)})"
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
        """The tooltip of the cell at `pos` (sweep_grid_text.cell_tooltip)."""
        if pos.y() < TITLE_H and self._progress_cut:  # the header's progress line, cut: all of it
            return self.progress_text.replace(" · batch ", "\nbatch ").replace("; batch ", "\nbatch ")
        index = self.cell_at(pos)
        return "" if index is None else cell_tooltip(self.grid, self.grid.cells[index], self.display_name)

    def hoverMoveEvent(self, event: QGraphicsSceneHoverEvent) -> None:  # noqa: N802 (Qt's name)
        tip = self.tooltip_at(event.pos())
        if tip != self.toolTip():
            self.setToolTip(tip)
        super().hoverMoveEvent(event)

    # ------------------------------------------------------------------ sticky header and labels
    def _visible_in(self, view: QGraphicsView) -> QRectF:
        """What `view` shows of the grid, in item coordinates."""
        return self.mapFromScene(view.mapToScene(view.viewport().rect())).boundingRect()

    def _sticky_rects(self, visible: QRectF | None) -> tuple[QRectF, QRectF]:
        """Where sticky headers are drawn for this view (both levels of detail), empty when at their place."""
        if visible is None:
            return QRectF(), QRectF()
        y, x = _sticky_at(visible, False, self._size, self.head_h)
        oy, _ = _sticky_at(visible, True, self._size, self.head_h)
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
        painter.setPen(self.pen(theme.card_border))
        painter.setBrush(self.brush(theme.card))
        painter.drawRoundedRect(full, 8, 8)
        view = widget.parent() if widget is not None else None
        visible = self._visible_in(view) if isinstance(view, QGraphicsView) else None
        if visible is not None:
            self._sticky = self._sticky_rects(visible)
        overview = lod < TEXT_LOD
        if visible is not None:
            self._overview = overview
        head_y, label_x = _sticky_at(visible, overview, self._size, self.head_h)
        r0 = max(0, int((exposed.top() - self.top) // CELL_H))
        r1 = min(len(self.rows), int((exposed.bottom() - self.top) // CELL_H) + 1)
        c0 = max(0, int((exposed.left() - LABEL_W) // CELL_W))
        c1 = min(len(self.cols), int((exposed.right() - LABEL_W) // CELL_W) + 1)
        if overview:
            paint_blocks(self, painter, r0, r1, c0, c1)
            paint_overview(self, painter, lod, exposed, (r0, r1, c0, c1), head_y, label_x)
            return
        painter.setFont(self._style.small_font)
        for r in range(r0, r1):
            y = self.top + r * CELL_H
            for c in range(c0, c1):
                cell = self.grid.cell_at(self.rows[r], self.cols[c])
                self._paint_cell(painter, cell, QRectF(LABEL_W + c * CELL_W, y, CELL_W, CELL_H))
        if not self.rows:
            painter.setPen(self.pen(theme.muted))
            painter.drawText(QRectF(LABEL_W, self.top, CELL_W * 2, CELL_H), Qt.AlignmentFlag.AlignCenter,
                             "No row matches the filters.")
        if exposed.left() < label_x + LABEL_W:
            for r in range(r0, r1):
                self._paint_row_label(painter, r, self.top + r * CELL_H, label_x)
        if exposed.top() < TITLE_H + BAR_H:
            self._paint_title(painter)
        if exposed.top() < head_y + self.head_h and exposed.bottom() > head_y:
            self._paint_column_heads(painter, c0, c1, head_y, label_x)

    def brush(self, color: str) -> QBrush:
        brush = self._brushes.get(color)
        if brush is None:
            brush = self._brushes[color] = QBrush(QColor(color))
        return brush

    def pen(self, color: str) -> QPen:
        pen = self._pens.get(color)
        if pen is None:
            pen = self._pens[color] = QPen(QColor(color), 1)
        return pen

    def _paint_title(self, painter: QPainter) -> None:
        theme, style = self._style.theme, self._style
        width = self._size.width()
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.brush(theme.card_header))
        painter.drawRoundedRect(QRectF(0, 0, width, TITLE_H + BAR_H), 8, 8)
        painter.setPen(self.pen(theme.text))
        painter.setFont(style.title_font)
        title = self.title_text()
        painter.drawText(QRectF(PAD + 4, 0, width - 2 * PAD, TITLE_H), Qt.AlignmentFlag.AlignVCenter, title)
        painter.setFont(style.small_font)
        painter.setPen(self.pen(theme.muted))
        x = PAD + 4 + style.title_metrics.horizontalAdvance(title) + 16
        room = max(width - x - PAD, 10.0)
        # cut at a seam with "…", never inside a number ("$0.0" for "$0.0779"); its tooltip has it whole
        shown = elide_parts(self.progress_text, room, style.small_metrics.horizontalAdvance)
        self._progress_cut = shown != self.progress_text
        painter.drawText(QRectF(x, 0, room, TITLE_H), Qt.AlignmentFlag.AlignVCenter, shown)
        self.painted_texts += [title, shown]
        for name, rect in self._buttons.items():
            checked = self.button_checked(name)
            painter.setPen(self.pen(theme.accent if checked else theme.border))
            painter.setBrush(self.brush(theme.accent if checked else theme.button_bg))
            painter.drawRoundedRect(rect, 6, 6)
            painter.setPen(self.pen(theme.accent_text if checked else theme.text))
            painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self.button_text(name))

    def _paint_column_heads(self, painter: QPainter, c0: int, c1: int, y: float, label_x: float) -> None:
        """Each column's model, variant and totals at `y` (below the buttons, or at the view's top
        edge when the rows are scrolled under it), and the whole grid's totals in the corner."""
        theme, style = self._style.theme, self._style
        width = self._size.width()
        if y > TITLE_H + BAR_H:  # sticky, over the rows: on the grid's colour
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.brush(theme.card))
            painter.drawRect(QRectF(0, y, width, self.head_h))
        totals = self.grid.totals()
        for c in range(c0, c1):
            col = self.grid.columns[self.cols[c]]
            rect = QRectF(LABEL_W + c * CELL_W, y, CELL_W, self.head_h)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.brush(style.provider_color(col.model.split(":", 1)[0])))
            painter.drawRect(QRectF(rect.left() + 4, rect.top() + 8, 4, self.head_h - 16))
            text = self.texts.head(col.index, totals)
            text.draw(painter, QPointF(rect.left() + 14, rect.top() + PAD))
            self.painted_texts += text.strings
        if label_x > 0:
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.brush(theme.card))
            painter.drawRect(QRectF(label_x, y, LABEL_W, self.head_h))
        corner = self.texts.corner()
        corner.draw(painter, QPointF(label_x + PAD + 4, y + PAD))
        self.painted_texts += corner.strings
        painter.setPen(self.pen(theme.card_border))
        painter.drawLine(QPointF(0, y + self.head_h), QPointF(width, y + self.head_h))

    def _paint_row_label(self, painter: QPainter, r: int, y: float, x: float = 0.0) -> None:
        theme = self._style.theme
        row = self.grid.rows[self.rows[r]]
        if x > 0:  # sticky, over the cells: on the grid's colour, with an edge
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(self.brush(theme.card))
            painter.drawRect(QRectF(x, y, LABEL_W, CELL_H))
            painter.setPen(self.pen(theme.card_border))
            painter.drawLine(QPointF(x + LABEL_W, y), QPointF(x + LABEL_W, y + CELL_H))
        text = self.texts.row(row.index)
        text.draw(painter, QPointF(x + PAD + 4, y + PAD))
        self.painted_texts += text.strings
        painter.setPen(self.pen(theme.card_border))
        painter.drawLine(QPointF(x, y + CELL_H), QPointF(x + LABEL_W, y + CELL_H))

    def _paint_cell(self, painter: QPainter, cell: CellView, rect: QRectF) -> None:
        theme = self._style.theme
        inner = rect.adjusted(3, 3, -3, -3)
        color = self.texts.status_color(cell)
        painter.setPen(self.pen(theme.card_border))
        painter.setBrush(self.brush(theme.base if cell.status in (DONE, FAILED, STREAMING) else theme.alt_base))
        painter.drawRect(inner)  # (square: a rounded rectangle costs ~30 µs, ~1 ms a frame)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(self.brush(color))
        painter.drawRect(QRectF(inner.left(), inner.top() + 4, 3, inner.height() - 8))
        text = self.texts.cell(cell)
        text.draw(painter, QPointF(inner.left() + 9, inner.top() + 4))
        self.painted_texts += text.strings

