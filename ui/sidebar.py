"""The sessions sidebar: recent sessions first, full-text search over all sessions, session actions.

A view: it shows what it is given (`set_sessions`, `set_hits`) and emits facts with ids.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QPoint, QRect, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAbstractTextDocumentLayout, QPainter, QPalette, QTextDocument
from PySide6.QtWidgets import (
    QApplication,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListView,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.domain import current_user

if TYPE_CHECKING:
    from app.domain import SessionSummary
    from app.repository import SearchHit

ROLE_SESSION = Qt.ItemDataRole.UserRole
ROLE_NODE = Qt.ItemDataRole.UserRole + 1
ROLE_HTML = Qt.ItemDataRole.UserRole + 2  # a search hit drawn as rich text (the matched words in bold)


def hit_html(title: str, who: str, snippet: str) -> str:
    """A search hit as HTML: the session and model on the first line, the snippet below with the
    store's [match] markers shown as bold words (everything else escaped)."""
    parts = re.split(r"\[([^\[\]]*)\]", snippet)
    body = "".join(html.escape(p) if i % 2 == 0 else f"<b>{html.escape(p)}</b>" for i, p in enumerate(parts))
    return f"{html.escape(title)} · {html.escape(who)}<br>{body}"


def _age(ts: float) -> str:
    delta = max(time.time() - ts, 0)
    if delta < 60:
        return "just now"
    if delta < 3600:
        return f"{int(delta // 60)} min ago"
    if delta < 86400:
        return f"{int(delta // 3600)} h ago"
    if delta < 86400 * 30:
        return f"{int(delta // 86400)} d ago"
    return time.strftime("%Y-%m-%d", time.localtime(ts))


TITLE_CHARS = 70  # an entry's title, cut: its second line (age, size) must always show (a sweep's title is long)


def _short_title(title: str, limit: int = TITLE_CHARS) -> str:
    """`title` on at most ~two lines of the list: cut after the last whole word that fits, with one "…"."""
    title = " ".join(title.split())
    if len(title) <= limit:
        return title
    cut = title[:limit].rstrip(" ·,…")
    if " " in cut[limit // 2:]:
        cut = cut[:cut.rindex(" ")].rstrip(" ·,…")
    return cut + "…"


# The style sheet's `#SessionsSidebar QListWidget::item` padding (theme.py); Qt's own size hint for
# wrapped text ignores it, so an entry that wrapped once more when painted lost its last line.
ITEM_PAD_X, ITEM_PAD_Y = 8, 6


class _WrappedItemDelegate(QStyledItemDelegate):
    """Item heights for wrapped text measured at the width it is painted with; search hits (ROLE_HTML)
    drawn as rich text."""

    def _document(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex, width: float
    ) -> QTextDocument:
        doc = QTextDocument()
        doc.setDefaultFont(option.font)
        doc.setDocumentMargin(0)
        doc.setTextWidth(max(width, 10))
        doc.setHtml(str(index.data(ROLE_HTML)))
        return doc

    def paint(
        self,
        painter: QPainter,
        option: QStyleOptionViewItem,
        index: QModelIndex | QPersistentModelIndex,
    ) -> None:
        if not index.data(ROLE_HTML):
            super().paint(painter, option, index)
            return
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""  # the background, selection and focus as usual; the text drawn below
        style = opt.widget.style() if opt.widget is not None else QApplication.style()
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        rect = opt.rect.adjusted(ITEM_PAD_X, ITEM_PAD_Y, -ITEM_PAD_X, -ITEM_PAD_Y)
        doc = self._document(opt, index, rect.width())
        painter.save()
        painter.translate(rect.topLeft())
        ctx = QAbstractTextDocumentLayout.PaintContext()
        selected = bool(opt.state & QStyle.StateFlag.State_Selected)
        ctx.palette.setColor(QPalette.ColorRole.Text, opt.palette.color(QPalette.ColorRole.Text))
        if selected:
            ctx.palette.setColor(QPalette.ColorRole.Text, opt.palette.color(QPalette.ColorRole.WindowText))
        doc.documentLayout().draw(painter, ctx)
        painter.restore()

    def sizeHint(
        self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex
    ) -> QSize:
        hint = super().sizeHint(option, index)
        view = self.parent()
        if not isinstance(view, QListView):
            return hint
        width = view.viewport().width() - 2 * ITEM_PAD_X - 4
        if width <= 0:
            return hint
        if index.data(ROLE_HTML):
            height = self._document(option, index, width).size().height()
            return QSize(min(hint.width(), view.viewport().width()), round(height) + 2 * ITEM_PAD_Y + 4)
        text = str(index.data(Qt.ItemDataRole.DisplayRole) or "")
        flags = int(Qt.TextFlag.TextWordWrap) | int(Qt.AlignmentFlag.AlignLeft)
        needed = option.fontMetrics.boundingRect(QRect(0, 0, width, 1_000_000), flags, text).height()
        return QSize(
            min(hint.width(), view.viewport().width()), max(hint.height(), needed + 2 * ITEM_PAD_Y + 4)
        )


class SessionsSidebar(QWidget):
    session_activated = Signal(str)
    new_session_requested = Signal()
    rename_requested = Signal(str)
    duplicate_requested = Signal(str)
    delete_requested = Signal(str)
    search_changed = Signal(str)
    hit_activated = Signal(str, str)  # (session id, node id)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("SessionsSidebar")
        self.setAttribute(Qt.WidgetAttribute.WA_StyledBackground, True)
        self.setMinimumWidth(180)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 8, 8, 8)
        layout.setSpacing(6)
        top = QHBoxLayout()
        title = QLabel("<b>Sessions</b>", self)
        top.addWidget(title)
        top.addStretch(1)
        self.new_button = QToolButton(self)
        self.new_button.setText("+ New")
        self.new_button.setToolTip("New session (Ctrl+N)")
        self.new_button.clicked.connect(self.new_session_requested)
        top.addWidget(self.new_button)
        layout.addLayout(top)
        self.search_edit = QLineEdit(self)
        self.search_edit.setPlaceholderText("Search all sessions (Ctrl+F)")
        self.search_edit.setClearButtonEnabled(True)
        layout.addWidget(self.search_edit)
        self.list = QListWidget(self)
        self.list.setWordWrap(True)
        # Titles wrap to the sidebar's width; Qt still sizes the scroll range by the unwrapped text,
        # which showed a useless horizontal scroll bar under a long title.
        self.list.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.list.setItemDelegate(_WrappedItemDelegate(self.list))
        self.list.setResizeMode(QListView.ResizeMode.Adjust)  # re-measure when the sidebar is resized
        self.list.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.list.customContextMenuRequested.connect(self._on_list_custom_context_menu_requested)
        self.list.itemActivated.connect(self._on_list_item_activated)
        self.list.itemClicked.connect(self._on_list_item_activated)
        layout.addWidget(self.list)
        self.status_label = QLabel(self)
        self.status_label.setObjectName("Muted")
        self.status_label.setWordWrap(True)
        layout.addWidget(self.status_label)
        self._search_timer = QTimer(self)
        self._search_timer.setSingleShot(True)
        self._search_timer.setInterval(200)
        self._search_timer.timeout.connect(self._on_search_timer_timeout)
        self.search_edit.textChanged.connect(lambda _t: self._search_timer.start())
        self._current: str | None = None
        self._showing_hits = False

    # ------------------------------------------------------------------ content
    def searching(self) -> bool:
        return bool(self.search_edit.text().strip())

    def showing_hits(self) -> bool:
        return self._showing_hits

    def set_sessions(self, sessions: Sequence[SessionSummary], current: str | None) -> None:
        """`sessions`: SessionSummary list, newest first."""
        self._current = current
        if self.searching():
            return
        self._showing_hits = False
        self.list.blockSignals(True)
        self.list.clear()
        me = current_user()
        for s in sessions:
            who = f" · {s.owner}" if s.owner and s.owner != me else ""  # another member's (team store)
            who += " · private" if s.visibility == "private" else ""
            if s.sweep_cells is not None:  # its cards are the sweep's cells' prompts, answers, verdicts: not counted
                size = f"sweep · {s.sweep_cells} cell{'' if s.sweep_cells == 1 else 's'}"
            else:
                size = f"{s.node_count} card{'' if s.node_count == 1 else 's'}"
            second = f"{_age(s.updated_at)} · {size}{who}"
            item = QListWidgetItem(f"{_short_title(s.title or 'Untitled')}\n{second}")
            item.setData(ROLE_SESSION, s.id)
            item.setToolTip(f"{s.title}\n{second}")
            self.list.addItem(item)
            if s.id == current:
                item.setSelected(True)
                self.list.setCurrentItem(item)
        self.list.blockSignals(False)
        self.status_label.setText("" if sessions else "No sessions yet.")

    def set_current(self, session_id: str) -> None:
        self._current = session_id
        if self._showing_hits:
            return
        for i in range(self.list.count()):
            item = self.list.item(i)
            if item.data(ROLE_SESSION) == session_id:
                self.list.blockSignals(True)
                self.list.setCurrentItem(item)
                self.list.blockSignals(False)
                return

    def set_hits(self, query: str, hits: Sequence[SearchHit]) -> None:
        self._showing_hits = True
        self.list.clear()
        for hit in hits:
            snippet = re.sub(r"\s+", " ", hit.snippet).strip()
            who = hit.model.split(":", 1)[-1] if hit.model else hit.kind
            title = hit.session_title or "Untitled"
            item = QListWidgetItem(f"{title} · {who}\n{snippet}")
            item.setData(ROLE_HTML, hit_html(title, who, snippet))
            item.setData(ROLE_SESSION, hit.session_id)
            item.setData(ROLE_NODE, hit.node_id)
            item.setToolTip(html.escape(snippet))
            self.list.addItem(item)
        self.status_label.setText(
            f"{len(hits)} match{'es' if len(hits) != 1 else ''} for “{query}”"
            if hits
            else f"Nothing matches “{query}”."
        )

    def focus_search(self) -> None:
        self.search_edit.setFocus(Qt.FocusReason.ShortcutFocusReason)
        self.search_edit.selectAll()

    # ------------------------------------------------------------------ events
    def _on_search_timer_timeout(self) -> None:
        query = self.search_edit.text().strip()
        if not query:
            self._showing_hits = False
            self.status_label.setText("")
        self.search_changed.emit(query)

    def _on_list_item_activated(self, item: QListWidgetItem) -> None:
        session_id = item.data(ROLE_SESSION)
        node_id = item.data(ROLE_NODE)
        if not session_id:
            return
        if node_id:
            self.hit_activated.emit(str(session_id), str(node_id))
        elif session_id != self._current:
            self.session_activated.emit(str(session_id))

    def _on_list_custom_context_menu_requested(self, pos: QPoint) -> None:
        item = self.list.itemAt(pos)
        if item is None or item.data(ROLE_NODE):
            return
        session_id = str(item.data(ROLE_SESSION))
        menu = QMenu(self)
        menu.addAction("Open", lambda: self.session_activated.emit(session_id))
        menu.addAction("Rename…", lambda: self.rename_requested.emit(session_id))
        menu.addAction("Duplicate", lambda: self.duplicate_requested.emit(session_id))
        menu.addSeparator()
        menu.addAction("Delete", lambda: self.delete_requested.emit(session_id))
        menu.exec(self.list.viewport().mapToGlobal(pos))
