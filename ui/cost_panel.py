"""The "Cost on other models" panel beside the comparison table: what the session (or the path to the
selected card) would have cost on every catalog model with a price (app.whatif.cost_whatif, the same
figures as `triptych cost`), cheapest first, what was spent on each model used beside it, the actual
cost above (the contestants' answers, then a judge's), batch and DeepSeek off-peak prices
where they apply, and the note that other tokenizers count differently. A session with a blind match
not voted on yet shows none of it: its figures would tell the models apart. Qt main thread only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QFrame,
    QHeaderView,
    QLabel,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.present.money import fmt_cost
from app.whatif import NOTE, answers_phrase, cost_whatif

if TYPE_CHECKING:
    from app.catalog import Catalog
    from app.domain import Graph

COLUMNS = ("Model", "Spent", "All on it", "Batch", "Off-peak")
COLUMN_TIPS = ("A priced catalog model; “(used)”: this session has answers from it",
               "What this model's answers actually cost (only models that were used)",
               "What all these answers would have cost on this model",
               "The same on the provider's batch API, where it has one",
               "The same at the off-peak price, where the model has one")


class CostPanel(QFrame):
    def __init__(self, catalog: Catalog, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("CostPanel")
        self._catalog = catalog
        self._graph: Graph | None = None
        self._path_to: str | None = None
        self._blind = False
        box = QVBoxLayout(self)
        box.setContentsMargins(8, 0, 0, 0)
        self.heading = QLabel("<b>Cost on other models</b>", self)
        box.addWidget(self.heading)
        self.scope = QComboBox(self)
        self.scope.currentIndexChanged.connect(self._on_scope_current_index_changed)
        box.addWidget(self.scope)
        self.actual_label = QLabel(self)
        self.actual_label.setWordWrap(True)
        box.addWidget(self.actual_label)
        self.table = QTableWidget(0, len(COLUMNS), self)
        self.table.setHorizontalHeaderLabels(COLUMNS)
        for c, tip in enumerate(COLUMN_TIPS):
            head = self.table.horizontalHeaderItem(c)
            if head is not None:
                head.setToolTip(tip)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        box.addWidget(self.table, 1)
        self.note = QLabel(NOTE, self)
        self.note.setObjectName("Muted")
        self.note.setWordWrap(True)
        box.addWidget(self.note)
        box.addStretch(0)  # with the table hidden (blind), the room goes below the message, not between rows

    def __repr__(self) -> str:
        return f"<CostPanel {self.table.rowCount()} models>"

    def show_whatif(self, graph: Graph | None, path_to: str | None = None, *, blind: bool = False) -> None:
        """Fill the panel for `graph` (and offer the path to `path_to`); `blind`: say why it is empty."""
        self._graph, self._path_to, self._blind = graph, path_to, blind
        self.scope.blockSignals(True)
        self.scope.clear()
        self.scope.addItem("Whole session", None)
        if path_to is not None:
            self.scope.addItem("The path to the selected card", path_to)
        self.scope.blockSignals(False)
        self._fill(None)

    def _on_scope_current_index_changed(self, _index: int) -> None:
        self._fill(self.scope.currentData())

    def _fill(self, path_to: str | None) -> None:
        self.table.setRowCount(0)
        if self._blind:
            self.actual_label.setText("Hidden until you vote on the blind match: the costs would tell its "
                                      "models apart.")
            self.scope.setEnabled(False)
            self.table.hide()
            self.note.hide()
            return
        self.scope.setEnabled(True)
        self.table.show()
        self.note.show()
        if self._graph is None:
            self.actual_label.setText("No session.")
            return
        result = cost_whatif(self._graph, self._catalog, path_to)
        u = result.usage
        fresh = max((u.input or 0) - (u.cached_input or 0) - (u.cache_write or 0), 0)
        text = (f"Actual: {fmt_cost(result.actual_usd)} for {answers_phrase(result)} ({fresh:,} uncached in, {u.cached_input or 0:,} cached in, "
                f"{u.output or 0:,} out)")
        if result.unreported:
            text += f"; {result.unreported} without token counts left out"
        self.actual_label.setText(text)
        self.table.setRowCount(len(result.rows))
        for r, row in enumerate(result.rows):
            name = row.display + ("  (used)" if row.used else "")
            spent = fmt_cost(row.spent_usd) if row.used and row.spent_usd is not None else "–"
            cells = [name, spent, fmt_cost(row.cost_usd),
                     fmt_cost(row.batch_cost_usd) if row.batch_cost_usd is not None else "–",
                     fmt_cost(row.off_peak_cost_usd) if row.off_peak_cost_usd is not None else "–"]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                else:
                    item.setToolTip(row.model)
                if row.used:
                    font = item.font()
                    font.setBold(True)
                    item.setFont(font)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        header = self.table.horizontalHeader()  # the model names take the room left: no empty column
        header.setStretchLastSection(False)
        header.setSectionResizeMode(0, QHeaderView.ResizeMode.Stretch)

    def rows_text(self) -> list[list[str]]:
        """The table's cells as shown (tests, accessibility)."""
        return [[item.text() if (item := self.table.item(r, c)) is not None else ""
                 for c in range(self.table.columnCount())] for r in range(self.table.rowCount())]
