"""Reading views: focus mode (one card large, ←/→ between siblings), the side-by-side diff of two
answers, and the comparison table of one prompt's answers. Views only: they show what they are given
(app.render / app.diff / app.export results) and ask the controller for ids."""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QHBoxLayout,
    QLabel,
    QSplitter,
    QTableWidget,
    QTableWidgetItem,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from app.domain import Node
from ui.format import fmt_cost, fmt_tokens, metrics_line


class FocusDialog(QDialog):
    """One card, large and selectable. ←/→ (or Alt+←/→) go to the previous/next sibling."""

    def __init__(
        self,
        node_id: str,
        get_node: Callable[[str], Node | None],
        siblings: Callable[[str], list[str]],
        render: Callable[[str], str],
        display_name: Callable[[str], str],
        link_clicked: Callable[[str], None],
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Focus")
        self.resize(980, 760)
        self._get_node = get_node
        self._siblings = siblings
        self._render = render
        self._display_name = display_name
        layout = QVBoxLayout(self)
        top = QHBoxLayout()
        self.title_label = QLabel(self)
        top.addWidget(self.title_label, 1)
        self.position_label = QLabel(self)
        self.position_label.setObjectName("Muted")
        top.addWidget(self.position_label)
        layout.addLayout(top)
        self.browser = QTextBrowser(self)
        self.browser.setOpenLinks(False)
        self.browser.anchorClicked.connect(lambda url: link_clicked(url.toString()))
        layout.addWidget(self.browser, 1)
        self.metrics_label = QLabel(self)
        self.metrics_label.setObjectName("Muted")
        layout.addWidget(self.metrics_label)
        hint = QLabel("← / → previous / next sibling · Esc closes", self)
        hint.setObjectName("Muted")
        layout.addWidget(hint)
        for key, step in (("Left", -1), ("Right", 1), ("Alt+Left", -1), ("Alt+Right", 1)):
            sc = QShortcut(QKeySequence(key), self)
            sc.activated.connect(lambda s=step: self.step(s))
        self.node_id = ""
        self.show_node(node_id)

    def show_node(self, node_id: str) -> None:
        node = self._get_node(node_id)
        if node is None:
            return
        self.node_id = node_id
        title = self._display_name(node.model) if node.model else ("You" if node.kind == "prompt" else "Note")
        self.title_label.setText(f"<b style='font-size:large'>{title}</b>  <span>{node.status.value}</span>")
        html = ""
        if node.reasoning:
            html += (
                "<details><p style='color:gray'><b>Reasoning</b></p>"
                + self._render_plain(node.reasoning)
                + "<hr></details>"
            )
        html += self._render(node.text)
        self.browser.setHtml(html)
        self.metrics_label.setText(metrics_line(node) if node.is_answer else "")
        ids = self._siblings(node_id)
        if len(ids) > 1 and node_id in ids:
            self.position_label.setText(f"{ids.index(node_id) + 1} of {len(ids)}")
        else:
            self.position_label.setText("")

    def _render_plain(self, text: str) -> str:
        import html as _html

        return "<p style='color:gray'>" + _html.escape(text).replace("\n", "<br>") + "</p>"

    def step(self, delta: int) -> None:
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
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(f"Compare: {left_title} ↔ {right_title}")
        self.resize(1200, 780)
        layout = QVBoxLayout(self)
        split = QSplitter(Qt.Orientation.Horizontal, self)
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
        box.addWidget(QLabel(f"<b>{title}</b>", host))
        browser = QTextBrowser(host)
        browser.setOpenLinks(False)
        browser.setHtml(html)
        box.addWidget(browser)
        split.addWidget(host)
        return browser


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


class ComparisonTableDialog(QDialog):
    """One row per answer to a prompt (app.export.comparison_rows), fastest and cheapest marked."""

    def __init__(self, rows, parent: QWidget | None = None, title: str = "Comparison") -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(980, 360)
        layout = QVBoxLayout(self)
        self.table = QTableWidget(len(rows), len(TABLE_COLUMNS), self)
        self.table.setHorizontalHeaderLabels(TABLE_COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        for r, row in enumerate(rows):
            ttft = f"{row.ttft_ms} ms" if row.ttft_ms is not None else "–"
            tps = f"{row.tok_per_s:.0f}" if row.tok_per_s else "–"
            cost = fmt_cost(row.cost_usd) + (" (reported)" if row.cost_reported else "")
            values = [
                row.display_name,
                row.status,
                ttft + (" ⚡" if row.fastest else ""),
                tps,
                fmt_tokens(row.input_tokens),
                fmt_tokens(row.cached_tokens),
                fmt_tokens(row.output_tokens),
                fmt_tokens(row.reasoning_tokens),
                cost + (" 💲" if row.cheapest else ""),
                row.finish or (row.error or "–"),
            ]
            for c, value in enumerate(values):
                item = QTableWidgetItem(str(value))
                if c >= 2:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                if row.status == "error":
                    item.setForeground(QColor("#DC2626"))
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setStretchLastSection(True)
        layout.addWidget(self.table)
        note = QLabel("⚡ fastest first token · 💲 cheapest (among finished answers)", self)
        note.setObjectName("Muted")
        layout.addWidget(note)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
