"""The Leaderboard dialog (Evaluate → Leaderboard…): the blind-match votes as Bradley–Terry ratings on
the Elo scale with 95% bootstrap intervals, votes / wins / losses / ties, filtered by tag and voter;
the win-rate matrix in a second tab; Export CSV / Markdown write what `triptych leaderboard --format
csv|md` prints (app.arena, app.arena_view). Qt main thread only; the fit takes milliseconds for the
votes one person casts (200 resamples of a few hundred games).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QFileDialog,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.arena import Standing, comparisons, leaderboard, pair_game_counts, ranks, win_rate_matrix
from app.arena_view import leaderboard_csv, leaderboard_markdown

if TYPE_CHECKING:
    from collections.abc import Callable

    from app.arena import Match
    from app.config import Settings

RANK_COLUMNS = ("Rank", "Model", "Rating", "95% interval", "Votes", "Wins", "Losses", "Ties")
VOTERS = (("Your votes", "user"), ("Judge votes", "judge"), ("All votes", "all"))
RESAMPLES = 200


class LeaderboardDialog(QDialog):
    def __init__(self, matches: list[Match], display_name: Callable[[str], str], parent: QWidget | None = None,
                 settings: Settings | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Leaderboard")
        self._matches = matches
        self._display_name = display_name
        self._settings = settings  # its ui["export_dir"]: where File → Export session… saved last
        self.standings: list[Standing] = []
        self._matrix: dict[str, dict[str, float | None]] = {}
        self._counts: dict[str, dict[str, int]] = {}
        box = QVBoxLayout(self)
        filters = QHBoxLayout()
        filters.addWidget(QLabel("Tag:", self))
        self.tag_combo = QComboBox(self)
        self.tag_combo.addItem("All matches", "")
        for tag in sorted({t for m in matches for t in m.tags}):
            self.tag_combo.addItem(tag, tag)
        filters.addWidget(self.tag_combo)
        filters.addWidget(QLabel("Voter:", self))
        self.voter_combo = QComboBox(self)
        for label, key in VOTERS:
            self.voter_combo.addItem(label, key)
        filters.addWidget(self.voter_combo)
        filters.addStretch(1)
        box.addLayout(filters)
        self.tabs = QTabWidget(self)
        self.table = QTableWidget(0, len(RANK_COLUMNS), self)
        self.table.setHorizontalHeaderLabels(RANK_COLUMNS)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QTableWidget.SelectionBehavior.SelectRows)
        self.tabs.addTab(self.table, "Ranking")
        self.matrix = QTableWidget(0, 0, self)
        self.matrix.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        self.tabs.addTab(self.matrix, "Win rates")
        box.addWidget(self.tabs, 1)
        self.note = QLabel(self)
        self.note.setObjectName("Muted")
        self.note.setWordWrap(True)
        box.addWidget(self.note)
        buttons = QHBoxLayout()
        self.csv_button = QPushButton("Export CSV…", self)
        self.md_button = QPushButton("Export Markdown…", self)
        close = QPushButton("Close", self)
        self.csv_button.clicked.connect(lambda: self._on_export_clicked("csv"))
        self.md_button.clicked.connect(lambda: self._on_export_clicked("md"))
        close.clicked.connect(self.reject)
        buttons.addWidget(self.csv_button)
        buttons.addWidget(self.md_button)
        buttons.addStretch(1)
        buttons.addWidget(close)
        box.addLayout(buttons)
        self.tag_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.voter_combo.currentIndexChanged.connect(self._on_filter_changed)
        self.resize(820, 460)
        self.refresh()

    def __repr__(self) -> str:
        return f"<LeaderboardDialog {len(self.standings)} models>"

    def _on_filter_changed(self, _index: int) -> None:
        self.refresh()

    def refresh(self) -> None:
        tag = self.tag_combo.currentData() or ""
        voter = self.voter_combo.currentData() or "user"
        games = comparisons(self._matches, voter=voter, tags=[tag] if tag else [])
        self.standings = leaderboard(games, resamples=RESAMPLES, seed=0)
        models = [s.model for s in self.standings]
        self._matrix = win_rate_matrix(games, models)
        self._counts = pair_game_counts(games, models)
        self.table.setSortingEnabled(False)
        self.table.setRowCount(len(self.standings))
        for r, (rank, s) in enumerate(zip(ranks(self.standings), self.standings, strict=True)):
            cells = [str(rank), f"{self._display_name(s.model)}  ({s.model})", f"{s.rating:.0f}",
                     f"{s.ci_low:.0f} – {s.ci_high:.0f}", str(s.votes), str(s.wins), str(s.losses), str(s.ties)]
            for c, text in enumerate(cells):
                item = QTableWidgetItem(text)
                if c != 1:
                    item.setTextAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        self.table.horizontalHeader().setSectionResizeMode(1, QHeaderView.ResizeMode.Stretch)
        names = [self._display_name(m) for m in models]
        self.matrix.clear()
        self.matrix.setRowCount(len(models))
        self.matrix.setColumnCount(len(models))
        self.matrix.setHorizontalHeaderLabels(names)
        self.matrix.setVerticalHeaderLabels(names)
        for r, row_model in enumerate(models):
            for c, col_model in enumerate(models):
                rate, n = self._matrix[row_model][col_model], self._counts[row_model][col_model]
                item = QTableWidgetItem("–" if rate is None else f"{rate * 100:.0f}% ({n})")
                if rate is not None:
                    item.setToolTip(f"{rate * 100:.0f}% of {n} game{'s' if n != 1 else ''}")
                item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
                self.matrix.setItem(r, c, item)
        self.matrix.resizeColumnsToContents()
        if not self.standings and any(m.votes for m in self._matches):
            self.note.setText("No votes match these filters: choose another tag or voter.")
        elif not self.standings:
            self.note.setText("No votes yet: turn on Blind match in the composer, send, then vote A, B, Tie or "
                              "Both bad (keys 1–4).")
        else:
            self.note.setText(f"Bradley–Terry ratings on the Elo scale (1000 = average), 95% bootstrap intervals "
                              f"({RESAMPLES} resamples); ties and “both bad” count as half a win; equal ratings "
                              f"share a rank. Win rates: the row model against the column model, the number of "
                              f"games in brackets.")
        self.csv_button.setEnabled(bool(self.standings))
        self.md_button.setEnabled(bool(self.standings))

    def filters(self) -> list[tuple[str, str]]:
        """The active filters, as the exports record them."""
        return [("tag", self.tag_combo.currentData() or "all matches"), ("voter", self.voter_combo.currentText())]

    def export_text(self, fmt: str) -> str:
        """The table as `triptych leaderboard --format csv|md` writes it, with the active filters."""
        if fmt == "csv":
            return leaderboard_csv(self.standings, self._matrix, self._counts, self.filters())
        return leaderboard_markdown(self.standings, self._matrix, self._counts, self.filters())

    def export_to(self, path: str, fmt: str) -> None:
        Path(path).write_text(self.export_text(fmt), encoding="utf-8")

    def _on_export_clicked(self, fmt: str) -> None:
        suffix = ".csv" if fmt == "csv" else ".md"
        ui = self._settings.ui if self._settings is not None else {}
        folder = Path(str(ui.get("export_dir") or Path.home()))  # where File → Export session… opens
        path, _ = QFileDialog.getSaveFileName(self, "Export leaderboard", str(folder / f"leaderboard{suffix}"),
                                              "CSV (*.csv)" if fmt == "csv" else "Markdown (*.md)")
        if not path:
            return
        try:
            self.export_to(path, fmt)
        except OSError as exc:
            self.note.setText(f"Export failed: {exc}")
            return
        if self._settings is not None:
            self._settings.ui["export_dir"] = str(Path(path).parent)
