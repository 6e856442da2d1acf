"""The sweep grid zoomed out (below `TEXT_LOD`, View → Fit all of a big grid): its cells as coloured
blocks, and its labels in fonts sized in screen pixels, as cards draw their overview: the title and
the whole grid's pass rate in the header's corner, each model's name over its columns, each
column's variant, pass rate (and, with room, mean score and cost), each row's number and input.
Functions of the `SweepGridItem` (ui/canvas/sweep_grid.py) they paint. Qt main thread only."""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor, QFont, QFontMetricsF, QPainter

from app.sweep_view import DONE, FAILED, STREAMING
from ui.canvas.sweep_grid_text import CELL_H, CELL_W, LABEL_W, cost_line, short_pass

if TYPE_CHECKING:
    from ui.canvas.sweep_grid import SweepGridItem

OVERVIEW_PAD_PX = 4.0
OVERVIEW_MIN_COL_PX = 36.0  # narrower on screen, a column header or row label shows no text
_LEFT_MIDDLE = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
_ELIDE = Qt.TextElideMode.ElideRight
_WRAP = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop | Qt.TextFlag.TextWordWrap


def paint_blocks(item: SweepGridItem, painter: QPainter, r0: int, r1: int, c0: int, c1: int) -> None:
    painter.setPen(Qt.PenStyle.NoPen)
    for r in range(r0, r1):
        y = item.top + r * CELL_H
        for c in range(c0, c1):
            cell = item.grid.cell_at(item.rows[r], item.cols[c])
            color = QColor(item.texts.status_color(cell))
            color.setAlpha(110 if cell.status in (DONE, FAILED, STREAMING) else 40)
            painter.setBrush(color)
            painter.drawRect(QRectF(LABEL_W + c * CELL_W + 4, y + 4, CELL_W - 8, CELL_H - 8))


def paint_overview(item: SweepGridItem, painter: QPainter, lod: float, exposed: QRectF, span: tuple[int, int, int, int],
                    head_y: float, label_x: float) -> None:
    """The labels of the zoomed-out grid, in fonts sized in screen pixels (drawn with the painter
    scaled by 1/lod): the title in the header's corner, each column's model, variant and pass
    rate over it, each row's number and input at its left."""
    r0, r1, c0, c1 = span
    theme, style = item.card_style.theme, item.card_style
    pad, line = OVERVIEW_PAD_PX, style.overview_line_px
    width = item.boundingRect().width()
    painter.save()
    painter.scale(1.0 / lod, 1.0 / lod)
    texts = item.painted_texts
    label_w = LABEL_W * lod
    # the row labels: number and input, wrapped on the lines the row has room for
    lines = int((CELL_H * lod - 4) // line)
    if label_w >= OVERVIEW_MIN_COL_PX and lines >= 1 and exposed.left() < label_x + LABEL_W:
        painter.setFont(style.overview_font)
        metrics = QFontMetricsF(style.overview_font)
        for r in range(r0, r1):
            y = (item.top + r * CELL_H) * lod
            if label_x > 0:  # over the cells: on the grid's colour
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(item.brush(theme.card))
                painter.drawRect(QRectF(label_x * lod, y, label_w, CELL_H * lod))
            row = item.grid.rows[item.rows[r]]
            box = QRectF(label_x * lod + pad, y + 2, label_w - 2 * pad, lines * line)
            text = _fit_row_label(metrics, box, row.index + 1, row.label, row.prompt_index)
            painter.setPen(item.pen(theme.text))
            painter.drawText(box, _WRAP, text)
            texts.append(text)
    # the header band: the title in its corner, the columns' names, variants and pass rates
    band = QRectF(0, head_y * lod, width * lod, item.top * lod)
    if exposed.top() < head_y + item.top and exposed.bottom() > head_y:
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(item.brush(theme.card))
        painter.drawRect(band)
        lines = int((band.height() - 2 * pad) // line)
        col_w = CELL_W * lod
        if lines >= 1 and col_w >= OVERVIEW_MIN_COL_PX:
            totals = item.grid.totals()
            first = 0  # a model's name spans its variants' columns (side by side): it has room there
            while first < len(item.cols):
                model = item.grid.columns[item.cols[first]].model
                last = first
                while last + 1 < len(item.cols) and item.grid.columns[item.cols[last + 1]].model == model:
                    last += 1
                if last >= c0 and first < c1:
                    x = (LABEL_W + first * CELL_W) * lod
                    rect = QRectF(x + 7, band.top() + pad, (last + 1 - first) * col_w - 7 - pad, line)
                    name, font = _fit_name(item.display_name(model), rect.width(), style.overview_title_font,
                                           style.overview_font)
                    _draw_lines(item, painter, [(name, font, theme.text)], rect)
                first = last + 1
            for c in range(c0, c1):
                col = item.grid.columns[item.cols[c]]
                x = (LABEL_W + c * CELL_W) * lod
                painter.setPen(Qt.PenStyle.NoPen)
                painter.setBrush(item.brush(style.provider_color(col.model.split(":", 1)[0])))
                painter.drawRect(QRectF(x + 2, band.top() + pad + line, 3, min(lines - 1, 2) * line))
                t = totals[col.index]
                variant = _fit_variant(col.label or "default settings", QFontMetricsF(style.overview_font),
                                       col_w - 7 - pad)
                parts = [(variant, style.overview_font, theme.muted),
                         (short_pass(t), style.overview_font, theme.text)]
                if item.grid.defn.judge and t.mean_score is not None:  # then, if there is room
                    parts.append((f"score {t.mean_score:.1f}", style.overview_font, theme.text))
                parts.append((cost_line(t), style.overview_font, theme.muted))
                _draw_lines(item, painter, parts[:lines - 1],
                                 QRectF(x + 7, band.top() + pad + line, col_w - 7 - pad, line))
        if lines >= 1 and label_w >= OVERVIEW_MIN_COL_PX:
            rows, cols = len(item.grid.rows), len(item.grid.columns)
            shown = "" if (len(item.rows), len(item.cols)) == (rows, cols) else \
                f" ({len(item.rows)} × {len(item.cols)} shown)"
            x = label_x * lod
            corner = QRectF(x + pad, band.top() + pad, label_w - 2 * pad, line)
            parts = [(*_fit_name("Sweep", corner.width(), style.overview_title_font, style.overview_font), theme.text),
                     (f"{rows} × {cols}{shown}", style.overview_font, theme.muted),
                     (short_pass(item.grid.overall()), style.overview_font, theme.text)]
            _draw_lines(item, painter, parts[:lines], corner)
    painter.restore()


def _draw_lines(item: SweepGridItem, painter: QPainter, parts: list[tuple[str, QFont, str]], first: QRectF) -> None:
    """One line each, elided, from `first` down (overview: device pixels); a line's " · " tail
    is left out rather than its head cut."""
    rect = QRectF(first)
    for text, font, color in parts:
        painter.setFont(font)
        painter.setPen(item.pen(color))
        metrics = painter.fontMetrics()
        while " · " in text and metrics.horizontalAdvance(text) > rect.width():
            text = text.rsplit(" · ", 1)[0]
        shown = metrics.elidedText(text, _ELIDE, int(rect.width()))
        painter.drawText(rect, _LEFT_MIDDLE, shown)
        item.painted_texts.append(shown)
        rect.translate(0, rect.height())


def _fit_name(name: str, width: float, title: QFont, small: QFont) -> tuple[str, QFont]:
    """A model's name over its columns, degrading so it stays readable: whole in the title font, whole
    in the small font, then its first words whole ("Claude", "GPT-6.2"), then cut with "…"."""
    words = name.split()
    for font in (title, small):
        metrics = QFontMetricsF(font)
        for n in range(len(words), 0, -1):
            text = " ".join(words[:n])
            if metrics.horizontalAdvance(text) <= width:
                if n == len(words) or font is small:
                    return text, font
                break
    return name, small


_SHORT = {"temperature": "temp", "max_tokens": "max", "reasoning_effort": "effort"}


def _fit_variant(label: str, metrics: QFontMetricsF, width: float) -> str:
    """A column's variant in its width: the whole label, or its head (what tells the columns apart), or
    that head's values alone ("256, off": the header at full zoom and the tooltip name them)."""
    head = label.split(" · ", 1)[0]
    short = ", ".join(_SHORT.get(k, k) + "=" + v for k, _, v in (p.partition("=") for p in head.split(", ")) if v)
    values = ", ".join(p.split("=", 1)[1] if "=" in p else p for p in head.split(", "))
    for text in (t for t in (label, head, short, values) if t):
        if metrics.horizontalAdvance(text) <= width:
            return text
    return values


def _fit_row_label(metrics: QFontMetricsF, box: QRectF, number: int, label: str, prompt_index: int) -> str:
    """A row's number and input on the lines it has: whole; else without its template mark ("P1 · ": the
    number tells rows apart) and cut to what fits, at a word when one ends near, else at a character (CJK
    has no spaces), with "…"."""
    def fits(text: str) -> bool:
        # (a CJK fallback font's line is taller than the overview font's: half a line more is still its lines)
        return metrics.boundingRect(box, _WRAP, text).height() <= box.height() + metrics.lineSpacing() / 2 \
            and metrics.horizontalAdvance(text) <= box.width() * max(1, int(box.height() // metrics.lineSpacing()))

    def cut(text: str, keep: int) -> tuple[str, int]:
        """The longest head of `text` that fits with "…" (bisect), and how many characters it keeps."""
        lo, hi = keep, len(text)
        while lo < hi:
            mid = (lo + hi + 1) // 2
            if fits(text[:mid].rstrip(" ·,") + "…"):
                lo = mid
            else:
                hi = mid - 1
        head = text[:lo]
        space = head.rfind(" ")
        if space > keep and lo - space <= 6 and lo < len(text) and text[lo] != " ":
            head = head[:space]  # (a word not cut when only a few of its letters would show)
        return head.rstrip(" ·,") + "…", len(head)

    text = f"{number}. {label}"
    if fits(text):
        return text
    mark = f"P{prompt_index + 1} · "
    shown, kept = cut(text, len(f"{number}."))
    if not label.startswith(mark) or kept >= len(f"{number}. {mark}") + 3:
        return shown
    return cut(f"{number}. {label.removeprefix(mark)}", len(f"{number}."))[0]
