"""Reading views: focus mode (one card large, ←/→ between siblings), the side-by-side diff of two
answers, and the comparison table of one prompt's answers. Views only: they show what they are given
(app.render / app.diff / app.export results) and ask the controller for ids."""

from __future__ import annotations

import math
import re
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QMimeData, QPointF, QRect, QRectF, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import (
    QColor,
    QFontDatabase,
    QKeySequence,
    QMouseEvent,
    QPainter,
    QPaintEvent,
    QResizeEvent,
    QShortcut,
    QShowEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.domain import Node
from app.present.metrics import fmt_rate
from app.present.money import fmt_cost_reported
from app.present.status import status_word
from app.render.markdown import DETAILS_CLOSE, DETAILS_OPEN, SUMMARY_OPEN
from ui.canvas.tables import fit_tables, markdown_tables
from ui.dialogs import resize_within_screen
from ui.format import fmt_cost, fmt_tokens, metrics_line
from ui.math_images import add_math_resources, screen_scale, selection_text

if TYPE_CHECKING:
    from app.export.table import Row, Totals
    from app.render.incremental import IncrementalRenderer  # made by ui.render_bridge


DETAILS_LINK = "triptych-details:"
_DETAILS_MARK = re.compile(re.escape(DETAILS_OPEN) + "|" + re.escape(DETAILS_CLOSE))


def fold_details(html: str, open_ones: set[int]) -> str:
    """Focus mode's `<details>`: each block (between the card HTML's markers, see app.render.markdown)
    shows its summary as a link that folds or unfolds it; folded, as a browser shows it at first, the
    rest is left out. `open_ones`: the indexes (in document order) the reader unfolded."""
    if DETAILS_OPEN not in html:
        return html
    out: list[str] = []
    pos = 0
    index = 0
    hidden_depth = 0  # > 0: inside a folded block (its nested blocks are hidden with it)
    for m in _DETAILS_MARK.finditer(html):
        if not hidden_depth:
            out.append(html[pos : m.start()])
        pos = m.end()
        if m.group(0) == DETAILS_OPEN:
            if hidden_depth:
                hidden_depth += 1
                index += 1
                continue
            is_open = index in open_ones
            link = f'<a href="{DETAILS_LINK}{index}" style="text-decoration:none">'
            rest = html[pos:]
            if rest.lstrip().startswith(SUMMARY_OPEN):  # the summary: the fold's handle
                start = pos + rest.index(SUMMARY_OPEN)
                end = html.find("</b></p>", start)
                if end != -1:
                    title = html[start + len(SUMMARY_OPEN) : end]
                    glyph = "▾" if is_open else "▸"
                    out.append(f'<p style="margin:4px 0">{link}<b>{glyph} {title}</b></a></p>')
                    pos = end + len("</b></p>")
            else:
                out.append(f'<p style="margin:4px 0">{link}<b>{"▾" if is_open else "▸"} Details</b></a></p>')
            index += 1
            if not is_open:
                hidden_depth = 1
        elif hidden_depth:
            hidden_depth -= 1
    if not hidden_depth:
        out.append(html[pos:])
    return "".join(out)


# QTextDocumentFragment.toPlainText()'s mapping of what QTextCursor.selectedText() leaves in.
_PLAIN = str.maketrans({"\u2029": "\n", "\u2028": "\n", "\u00a0": " ", "\ufdd0": "", "\ufdd1": ""})


class TableScrollBrowser(QTextBrowser):
    """A QTextBrowser whose wide tables scroll sideways each on its own, as in a card: the page itself
    never does (its text wraps at the window's width). Shift+wheel or a sideways wheel over a table,
    or dragging the thin bar drawn under it, moves that table.

    QTextEdit paints and hit-tests its document shifted by its horizontal scroll bar's value; that
    (hidden) bar stays at 0, and is set to a table's offset only while painting the band of the
    viewport the table occupies and while a mouse event over the table is handled."""

    BAR = 4.0  # the drawn scroll bar's thickness
    BAND = 10.0  # room added under a wide table for it
    STEP = 48  # pixels per wheel notch

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self._offsets: list[int] = []  # each wide table's sideways offset, in document order
        self._shifting = False
        self._mouse_table = -1  # the table a press started in (its moves and release keep its offset)
        self._bar_drag: tuple[int, float, int] | None = None  # (table, press x, offset at the press)
        self.horizontalScrollBar().valueChanged.connect(self._on_hbar_value_changed)

    def createMimeDataFromSelection(self) -> QMimeData:
        """Copied text keeps the formulas (as `$…$`); Qt's own gives U+FFFC for each picture."""
        mime = super().createMimeDataFromSelection()
        cursor = self.textCursor()
        if "\ufffc" in cursor.selectedText():
            # Qt's fills its formats when first read, over any text set before: read it first. (Not a
            # QMimeData made here: the clipboard deletes it, and so would Python, at exit: a crash.)
            mime.html()
            mime.setText(selection_text(cursor).translate(_PLAIN))
        return mime

    # ------------------------------------------------------------------ geometry
    def reset_table_offsets(self) -> None:
        self._offsets = []
        self.viewport().update()

    def wide_tables(self) -> list[tuple[QRectF, int]]:
        """Each table wider than the page: where it is (document coordinates, from the end of the
        text above it to its bottom border) and how far it scrolls."""
        doc = self.document()
        layout = doc.documentLayout()
        width = self.viewport().width()
        out = []
        for table in markdown_tables(doc):
            r = layout.frameBoundingRect(table)
            span = math.ceil(r.right() + doc.documentMargin() - width)
            if span <= 1:
                continue
            above = table.firstCursorPosition().block().previous()
            top = layout.blockBoundingRect(above).bottom() if above.isValid() else 0.0
            bottom = r.bottom() - table.format().bottomMargin() + 1
            out.append((QRectF(0.0, top, float(width), bottom - top), span))
        del self._offsets[len(out) :]
        self._offsets += [0] * (len(out) - len(self._offsets))
        for i, (_r, span) in enumerate(out):
            self._offsets[i] = min(self._offsets[i], span)
        return out

    def table_offsets(self) -> list[int]:
        """How far each wide table is scrolled sideways."""
        self.wide_tables()
        return list(self._offsets)

    def _bar_rect(self, rect: QRectF) -> QRectF:
        """Where a table's scroll bar is drawn (viewport coordinates)."""
        y = rect.bottom() - self.verticalScrollBar().value() + (self.BAND - self.BAR) / 2
        return QRectF(0.0, y, rect.width(), self.BAR)

    def _table_at(self, pos: QPointF, tables: list[tuple[QRectF, int]], with_bar: bool = False) -> int:
        y = pos.y() + self.verticalScrollBar().value()
        for i, (r, _span) in enumerate(tables):
            if r.top() <= y <= r.bottom() + (self.BAND if with_bar else 0.0):
                return i
        return -1

    def add_bar_room(self) -> None:
        """Room under each markdown table for its scroll bar (call after the document changed)."""
        for table in markdown_tables(self.document()):
            fmt = table.format()
            if fmt.property(_BAR_ROOM) is None:
                fmt.setBottomMargin(fmt.bottomMargin() + self.BAND)
                fmt.setProperty(_BAR_ROOM, True)
                table.setFormat(fmt)

    # ------------------------------------------------------------------ the shifted document
    def _shifted(self, offset: int, handle: Callable[..., object], *args: object) -> None:
        """Run QTextEdit's `handle` with the document shifted `offset` pixels to the left."""
        bar = self.horizontalScrollBar()
        self._shifting = True
        bar.blockSignals(True)
        try:
            bar.setValue(offset)
            handle(*args)
        finally:
            bar.setValue(0)
            bar.blockSignals(False)
            self._shifting = False

    def _on_hbar_value_changed(self, value: int) -> None:
        if value and not self._shifting:  # (the page itself never scrolls sideways)
            self.horizontalScrollBar().setValue(0)

    def paintEvent(self, event: QPaintEvent) -> None:
        tables = self.wide_tables()
        if not tables:
            super().paintEvent(event)
            return
        area = event.rect()
        y0 = self.verticalScrollBar().value()
        rest_top = area.top()
        for i, (r, _span) in enumerate(tables):
            band = QRect(area.left(), math.floor(r.top() - y0), area.width(), math.ceil(r.height()) + 1) & area
            if band.isEmpty():
                continue
            if band.top() > rest_top:
                super().paintEvent(QPaintEvent(QRect(area.left(), rest_top, area.width(), band.top() - rest_top)))
            self._shifted(self._offsets[i], super().paintEvent, QPaintEvent(band))
            rest_top = max(rest_top, band.bottom() + 1)
        if rest_top <= area.bottom():
            super().paintEvent(QPaintEvent(QRect(area.left(), rest_top, area.width(), area.bottom() - rest_top + 1)))
        painter = QPainter(self.viewport())
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.setPen(Qt.PenStyle.NoPen)
        ink = self.palette().color(self.foregroundRole())
        for i, (r, span) in enumerate(tables):
            bar = self._bar_rect(r)
            if not bar.intersects(QRectF(area)):
                continue
            track, thumb = QColor(ink), QColor(ink)
            track.setAlphaF(0.08)
            thumb.setAlphaF(0.35)
            painter.setBrush(track)
            painter.drawRoundedRect(bar, self.BAR / 2, self.BAR / 2)
            share = r.width() / (r.width() + span)
            thumb_w = max(bar.width() * share, 24.0)
            x = (bar.width() - thumb_w) * self._offsets[i] / span
            painter.setBrush(thumb)
            painter.drawRoundedRect(QRectF(x, bar.top(), thumb_w, self.BAR), self.BAR / 2, self.BAR / 2)
        painter.end()

    def scroll_table(self, i: int, offset: int) -> bool:
        """Scroll wide table `i` to `offset` (clamped); True if it moved."""
        tables = self.wide_tables()
        if not 0 <= i < len(tables):
            return False
        offset = min(max(offset, 0), tables[i][1])
        if offset == self._offsets[i]:
            return False
        self._offsets[i] = offset
        self.viewport().update()
        return True

    # ------------------------------------------------------------------ input
    def wheelEvent(self, event: QWheelEvent) -> None:
        delta = event.angleDelta()
        sideways = delta.x() if delta.x() else (delta.y() if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 0)
        if sideways:
            tables = self.wide_tables()
            i = self._table_at(event.position(), tables, with_bar=True)
            if i >= 0:
                self.scroll_table(i, self._offsets[i] - round(sideways / 120 * self.STEP))
            event.accept()  # the page itself never scrolls sideways
            return
        super().wheelEvent(event)

    def _mouse(self, event: QMouseEvent, handle: Callable[[QMouseEvent], object]) -> None:
        tables = self.wide_tables()
        if event.type() == QMouseEvent.Type.MouseButtonPress or not event.buttons():
            self._mouse_table = self._table_at(event.position(), tables)
        i = self._mouse_table
        if 0 <= i < len(tables):
            self._shifted(self._offsets[i], handle, event)
        else:
            handle(event)

    def mousePressEvent(self, event: QMouseEvent) -> None:
        tables = self.wide_tables()
        i = self._table_at(event.position(), tables, with_bar=True)
        if (
            event.button() == Qt.MouseButton.LeftButton
            and i >= 0
            and self._bar_rect(tables[i][0]).adjusted(0, -3, 0, 3).contains(event.position())
        ):
            self._bar_drag = (i, event.position().x(), self._offsets[i])
            event.accept()
            return
        self._mouse(event, super().mousePressEvent)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if self._bar_drag is not None:
            i, x0, start = self._bar_drag
            tables = self.wide_tables()
            if i < len(tables):
                r, span = tables[i]
                share = r.width() / (r.width() + span)
                travel = max(r.width() - max(r.width() * share, 24.0), 1.0)
                self.scroll_table(i, start + round((event.position().x() - x0) * span / travel))
            event.accept()
            return
        self._mouse(event, super().mouseMoveEvent)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._bar_drag is not None:
            self._bar_drag = None
            event.accept()
            return
        self._mouse(event, super().mouseReleaseEvent)

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        self._mouse(event, super().mouseDoubleClickEvent)


_BAR_ROOM = 0x100100  # a table format property: room for the scroll bar was added (TableScrollBrowser)


class FocusDialog(QDialog):
    """One card, large and selectable. ←/→ (or Alt+←/→) go to the previous/next sibling.

    A card still streaming is followed: the owner calls :meth:`refresh` when the node changed (on
    the card's throttled repaint); its text is rendered by an ``incremental()`` renderer (only the
    open block again), and the view stays at the end while it was there. Laying out a long answer
    again takes the browser ~20 ms, so while it streams a refresh waits at least
    ``REFRESH_COST_FACTOR`` times as long as the last one took (the rest of the window keeps most
    of each second).
    """

    REFRESH_COST_FACTOR = 3.0
    HINT = "← / → previous / next sibling · Esc closes"

    node_shown = Signal(str)  # another card is about to be shown (← / →)

    def __init__(
        self,
        node_id: str,
        get_node: Callable[[str], Node | None],
        siblings: Callable[[str], list[str]],
        render: Callable[[str], str],
        display_name: Callable[[str], str],
        link_clicked: Callable[[str], object],
        parent: QWidget | None = None,
        incremental: Callable[[], IncrementalRenderer] | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Focus")
        resize_within_screen(self, 980, 760)
        self._get_node = get_node
        self._siblings = siblings
        self._render = render
        self._display_name = display_name
        self._incremental = incremental
        self._stream: IncrementalRenderer | None = None  # while the node shown streams
        self._shown: tuple[str, str, str] | None = None  # (text, reasoning, status) shown
        self._next_refresh = 0.0  # monotonic time before which a streaming refresh waits
        self._refresh_timer = QTimer(self)
        self._refresh_timer.setSingleShot(True)
        self._refresh_timer.timeout.connect(self._on_refresh_timer_timeout)
        self._fit_timer = QTimer(self)  # tables fitted again to a new width
        self._fit_timer.setSingleShot(True)
        self._fit_timer.setInterval(120)
        self._fit_timer.timeout.connect(self._on_fit_timer_timeout)
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.title_label = QLabel(self)
        top.addWidget(self.title_label, 1)
        self.position_label = QLabel(self)
        self.position_label.setObjectName("Muted")
        top.addWidget(self.position_label)
        layout.addLayout(top)
        self.detail_label = QLabel(self)  # what the card is (a sweep cell: row, variant, checks, score)
        self.detail_label.setObjectName("FocusDetail")
        self.detail_label.setTextFormat(Qt.TextFormat.PlainText)  # may hold model output: never markup
        self.detail_label.setWordWrap(True)
        self.detail_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.detail_label.hide()
        layout.addWidget(self.detail_label)
        self.browser = TableScrollBrowser(self)
        self.browser.setOpenLinks(False)
        self._link_clicked = link_clicked
        self._open_details: set[int] = set()  # the <details> the reader unfolded (by order)
        self.browser.anchorClicked.connect(self._on_browser_anchor_clicked)
        layout.addWidget(self.browser, 1)
        self.metrics_label = QLabel(self)
        self.metrics_label.setObjectName("Muted")
        layout.addWidget(self.metrics_label)
        self.hint_label = QLabel(self.HINT, self)
        self.hint_label.setObjectName("Muted")
        layout.addWidget(self.hint_label)
        self._neighbour: Callable[[str, int], str | None] | None = None  # set_navigation's
        self._position: Callable[[str], str] | None = None
        self._describe: Callable[[Node], str] | None = None
        self._word: Callable[[Node], str | None] | None = None  # set_status_word's
        for key, step in (("Left", -1), ("Right", 1), ("Alt+Left", -1), ("Alt+Right", 1)):
            sc = QShortcut(QKeySequence(key), self)
            sc.activated.connect(lambda s=step: self.step(s))
        self.node_id = ""
        self.show_node(node_id)

    def show_node(self, node_id: str) -> None:
        node = self._get_node(node_id)
        if node is None:
            return
        if node_id != self.node_id:
            self._stream = None
            self._shown = None
            self.browser.reset_table_offsets()  # another answer's tables start at their first column
        moved = node_id != self.node_id
        self.node_id = node_id
        if moved:
            self.node_shown.emit(node_id)  # (who describes the card learns which it is first)
        self._show(node)
        self._show_detail(node)
        if self._position is not None:
            self.position_label.setText(self._position(node_id))
        else:
            ids = self._siblings(node_id)
            if len(ids) > 1 and node_id in ids:
                self.position_label.setText(f"{ids.index(node_id) + 1} of {len(ids)}")
            else:
                self.position_label.setText("")

    def set_navigation(
        self,
        neighbour: Callable[[str, int], str | None],
        position: Callable[[str], str],
        describe: Callable[[Node], str],
        hint: str,
    ) -> None:
        """Where ← / → go instead of the siblings (`neighbour(node_id, -1 | 1)`: the card to show, None
        to stay), the position shown top right, a plain-text description shown above the text (it
        follows the card's changes) and the footer's key hint (a sweep cell: its neighbouring cells)."""
        self._neighbour, self._position, self._describe = neighbour, position, describe
        self.hint_label.setText(hint)
        self.show_node(self.node_id)

    def refresh_detail(self) -> None:
        """Describe the card again (its checks or score changed without a new text)."""
        node = self._get_node(self.node_id)
        if node is not None:
            self._show_detail(node)

    def _show_detail(self, node: Node) -> None:
        text = self._describe(node) if self._describe is not None else ""
        if text != self.detail_label.text():
            self.detail_label.setText(text)
        self.detail_label.setVisible(bool(text))

    def refresh(self) -> None:
        """Show the node's current text and status (call when it changed)."""
        node = self._get_node(self.node_id)
        if node is None:
            return
        self._show_detail(node)  # (its checks and score come after its text)
        wait = self._next_refresh - time.monotonic()
        if node.status.is_live and wait > 0:
            if not self._refresh_timer.isActive():
                self._refresh_timer.start(math.ceil(wait * 1000))
            return
        self._refresh_timer.stop()
        bar = self.browser.verticalScrollBar()
        at_end, value = bar.value() >= bar.maximum() - 4, bar.value()
        start = time.monotonic()
        if self._show(node):
            bar.setValue(bar.maximum() if at_end else value)
            now = time.monotonic()
            self._next_refresh = now + self.REFRESH_COST_FACTOR * (now - start)

    def _on_browser_anchor_clicked(self, url: QUrl) -> None:
        link = url.toString()
        if link.startswith(DETAILS_LINK):
            index = int(link[len(DETAILS_LINK):])
            self._open_details.symmetric_difference_update({index})
            bar = self.browser.verticalScrollBar()
            value = bar.value()
            node = self._get_node(self.node_id)
            if node is not None:
                self._shown = None
                self._show(node)
                bar.setValue(value)
            return
        self._link_clicked(link)

    def _on_refresh_timer_timeout(self) -> None:
        self.refresh()

    def _on_fit_timer_timeout(self) -> None:
        self._fit_tables()

    def set_status_word(self, word: Callable[[Node], str | None]) -> None:
        """What the title says of the card's status instead of its plain status, when `word` says something
        (a sweep cell: the grid's word, "check failed")."""
        self._word = word
        self._shown = None
        node = self._get_node(self.node_id)
        if node is not None:
            self._show(node)

    def _show(self, node: Node) -> bool:
        word = (self._word(node) if self._word is not None else None) or status_word(node, time.time())
        shown = (node.text, node.reasoning, word)
        if shown == self._shown:
            return False
        self._shown = shown
        title = self._display_name(node.model) if node.model else (
            node.title or ("You" if node.kind == "prompt" else "Note"))
        self.title_label.setText(f"<b style='font-size:large'>{title}</b>  <span>{word}</span>")
        html = ""
        if node.reasoning:
            html += (
                "<details><p style='color:gray'><b>Reasoning</b></p>"
                + self._render_plain(node.reasoning)
                + "<hr></details>"
            )
        html += fold_details(self._render_text(node), self._open_details)
        color = self.browser.palette().color(self.browser.foregroundRole()).name()
        # (drawn for the screen's pixels, twice over: not for the canvas's zoom)
        add_math_resources(
            self.browser.document(), html, color, self.browser.font(), immediate=True, scale=screen_scale()
        )
        self.browser.setHtml(html)
        # A table wider than the page keeps its columns' natural widths (words never split) and
        # scrolls sideways on its own (TableScrollBrowser).
        self.browser.add_bar_room()
        self._fit_tables()
        self.metrics_label.setText(metrics_line(node) if node.is_answer else "")
        return True

    def _fit_tables(self) -> None:
        if not self.isVisible():  # showEvent does it, once the browser has its width
            return
        width = self.browser.viewport().width()
        bar = self.browser.verticalScrollBar()
        if not bar.isVisible():  # (a taller table may bring the scroll bar, which narrows the page)
            width -= bar.sizeHint().width()
        fit_tables(self.browser.document(), width, layout=False)

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self._fit_tables()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        if self.isVisible():
            self._fit_timer.start()  # once the resizing pauses

    def _render_text(self, node: Node) -> str:
        if node.status.is_live and self._incremental is not None:
            if self._stream is None:
                self._stream = self._incremental()
            return self._stream.update(node.text)
        if self._stream is not None:  # the stream ended: the exact one-shot render, once
            stream, self._stream = self._stream, None
            return stream.update(node.text, final=True)
        return self._render(node.text)

    def _render_plain(self, text: str) -> str:
        import html as _html

        return "<p style='color:gray'>" + _html.escape(text).replace("\n", "<br>") + "</p>"

    def step(self, delta: int) -> None:
        if self._neighbour is not None:
            target = self._neighbour(self.node_id, delta)
            if target is not None and target != self.node_id:
                self.show_node(target)
            return
        ids = self._siblings(self.node_id)
        if self.node_id not in ids or len(ids) < 2:
            return
        i = (ids.index(self.node_id) + delta) % len(ids)
        self.show_node(ids[i])


class DiffDialog(QDialog):
    """Two answers side by side with word-level changes marked (app.diff.diff_html)."""

    def __init__(
        self,
        left_title: str,
        right_title: str,
        left_html: str,
        right_html: str,
        parent: QWidget | None = None,
        note: str = "",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare: {left_title} ↔ {right_title}")
        resize_within_screen(self, 1200, 780)
        layout = QVBoxLayout(self)
        self.note_label = QLabel(note, self)  # "identical" (no change is marked: say why)
        self.note_label.setObjectName("DiffNote")
        self.note_label.setTextFormat(Qt.TextFormat.PlainText)
        _bold(self.note_label)
        self.note_label.setVisible(bool(note))
        layout.addWidget(self.note_label)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        self.title_labels: list[QLabel] = []  # left, right
        self.left = self._pane(split, left_title, left_html)
        self.right = self._pane(split, right_title, right_html)
        layout.addWidget(split, 1)
        # keep both panes scrolled together
        lbar, rbar = self.left.verticalScrollBar(), self.right.verticalScrollBar()
        lbar.valueChanged.connect(lambda v: rbar.setValue(int(v * rbar.maximum() / max(lbar.maximum(), 1))))
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)

    def _pane(self, split: QSplitter, title: str, html: str) -> QTextBrowser:
        host = QWidget(split)
        box = QVBoxLayout(host)
        box.setContentsMargins(0, 0, 0, 0)
        label = QLabel(title, host)  # (a title may quote the user's data: plain text, never markup)
        label.setObjectName("DiffTitle")
        label.setTextFormat(Qt.TextFormat.PlainText)
        _bold(label)
        label.setWordWrap(True)
        self.title_labels.append(label)
        box.addWidget(label)
        browser = QTextBrowser(host)
        browser.setOpenLinks(False)
        # The panes show the answers' markdown source: a fixed-width font keeps code indentation and
        # tables lined up, so line-level changes in code read at a glance.
        browser.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        browser.setHtml(html)
        box.addWidget(browser)
        split.addWidget(host)
        return browser


def _bold(label: QLabel) -> None:
    font = label.font()
    font.setBold(True)
    label.setFont(font)


TABLE_COLUMNS = [
    "Model",
    "Status",
    "TTFT",
    "tok/s",
    "Input",
    "Cached",
    "Output",
    "Reasoning",
    "Cost",
    "Finish",
]


class _SortItem(QTableWidgetItem):
    """A cell that sorts by its number (UserRole), not its text; unknown values sort last."""

    def __lt__(self, other: QTableWidgetItem) -> bool:
        a = self.data(Qt.ItemDataRole.UserRole)
        b = other.data(Qt.ItemDataRole.UserRole)
        if isinstance(a, int | float) and isinstance(b, int | float):
            return a < b
        if isinstance(a, int | float) != isinstance(b, int | float):
            return isinstance(a, int | float)  # numbers before "–"
        return self.text().lower() < other.text().lower()


class ComparisonTableDialog(QDialog):
    """One row per answer to a prompt (app.export.comparison_rows), fastest and cheapest marked; click a
    header to sort. `totals`: (label, Totals) lines shown under the table (this branch, the session)."""

    def __init__(
        self,
        rows: Sequence[Row],
        parent: QWidget | None = None,
        title: str = "Comparison",
        totals: Sequence[tuple[str, Totals]] = (),
    ) -> None:
        super().__init__(parent)
        self.cost_panel: QWidget | None = None  # "Cost on other models" beside the table (ui/cost_panel.py)
        self.setWindowTitle(title)
        layout = QVBoxLayout(self)
        self.table = QTableWidget(len(rows), len(TABLE_COLUMNS), self)
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        for r, row in enumerate(rows):
            ttft = f"{row.ttft_ms} ms" if row.ttft_ms is not None else "–"
            tps = fmt_rate(row.tok_per_s, unit=False)
            cost = fmt_cost_reported(row.cost_usd, row.cost_reported)
            values = [
                (row.display_name, None),
                (row.status, None),
                (ttft + (" ⚡" if row.fastest else ""), row.ttft_ms),
                (tps, row.tok_per_s),
                (fmt_tokens(row.input_tokens), row.input_tokens),
                (fmt_tokens(row.cached_tokens), row.cached_tokens),
                (fmt_tokens(row.output_tokens), row.output_tokens),
                (fmt_tokens(row.reasoning_tokens), row.reasoning_tokens),
                (cost + (" · cheapest" if row.cheapest else ""), row.cost_usd),
                (row.finish or (row.error or "–"), None),
            ]
            for c, (text, key) in enumerate(values):
                item = _SortItem(str(text))
                if key is not None:
                    item.setData(Qt.ItemDataRole.UserRole, key)
                if 2 <= c <= 8:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row.status == "error":
                    item.setForeground(QColor("#DC2626"))
                if c == 0 and row.model:
                    item.setToolTip(row.model)
                self.table.setItem(r, c, item)
        header = self.table.horizontalHeader()
        header.setSortIndicator(-1, Qt.SortOrder.AscendingOrder)  # keep the send order until a click
        self.table.setSortingEnabled(True)
        self.table.resizeColumnsToContents()
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)
        header.setStretchLastSection(False)
        header.setSortIndicatorShown(True)
        layout.addWidget(self.table)
        note = QLabel(
            "⚡ fastest first token · “cheapest”: lowest cost (among finished answers) · click a header to sort",
            self,
        )
        note.setObjectName("Muted")
        layout.addWidget(note)
        self.totals_label = QLabel(self)
        self.totals_label.setTextFormat(Qt.TextFormat.RichText)
        self.totals_label.setText("<br>".join(_totals_line(label, t) for label, t in totals))
        self.totals_label.setVisible(bool(totals))
        layout.addWidget(self.totals_label)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        rows_h = self.table.verticalHeader().length() + header.height() + 2 * self.table.frameWidth()
        self.table.setMinimumHeight(min(rows_h + 4, 420))
        if rows_h + 4 <= 420:
            self.table.setMaximumHeight(rows_h + 4)
        width = max(self.table.horizontalHeader().length() + 60, 900)
        resize_within_screen(self, width, self.sizeHint().height())  # wider: the table scrolls


    def add_side_panel(self, panel: QWidget) -> None:
        """A panel beside the table (the cost on other models: ui/cost_panel.py)."""
        layout = self.layout()
        assert isinstance(layout, QVBoxLayout)
        index = layout.indexOf(self.table)
        layout.removeWidget(self.table)
        split = QSplitter(Qt.Orientation.Horizontal, self)
        split.addWidget(self.table)
        split.addWidget(panel)
        split.setStretchFactor(0, 3)
        split.setStretchFactor(1, 2)
        layout.insertWidget(index, split, 1)
        self.table.setMaximumHeight(16777215)
        resize_within_screen(self, self.width() + 460, max(self.sizeHint().height(), 560))


def _totals_line(label: str, t: Totals) -> str:
    """One line of totals: answers, tokens and cost (a lower bound when some cost is unknown)."""
    import html as _html

    cost = fmt_cost(t.cost_usd) + ("" if t.cost_complete else "+ (some costs unknown)")
    if t.blind:  # a blind match's answers: not summed (their figures would tell the models apart)
        cost = ("–" if t.blind == t.answers else cost) + f" ({t.blind} blind until the vote)"
    return (
        f"<b>{_html.escape(label)}</b>: {t.answers} answer{'s' if t.answers != 1 else ''} · "
        f"in {fmt_tokens(t.input_tokens)} (cached {fmt_tokens(t.cached_tokens)}) · "
        f"out {fmt_tokens(t.output_tokens)} (reasoning {fmt_tokens(t.reasoning_tokens)}) · {cost}"
    )
