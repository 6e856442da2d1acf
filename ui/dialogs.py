"""Questions the controller asks the user, in one service (tests replace its methods).

Also the small dialogs: model picker, synthesize options, export options, link confirmation, keyboard
shortcuts. Qt main thread only; every method here is modal and returns the user's answer.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QObject, QPoint, Qt
from PySide6.QtGui import QColor, QCursor, QIcon, QKeyEvent, QPainter, QPixmap
from PySide6.QtWidgets import (
    QApplication,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QInputDialog,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMenu,
    QMessageBox,
    QPlainTextEdit,
    QPushButton,
    QRadioButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
)

from app.domain import Node

if TYPE_CHECKING:
    from app.catalog import Catalog
    from app.config import Settings
    from ui.controller import CanvasController

SYNTHESIS_KINDS = [
    ("merge", "Merge into one best answer"),
    ("judge", "Judge: score each answer and pick the best"),
    ("compare", "Compare: agreements, differences, doubtful claims"),
    ("custom", "Custom instruction…"),
]


def resize_within_screen(widget: QWidget, width: int, height: int) -> None:
    """Resize a dialog to `width` × `height`, or less where its screen (its parent's) is smaller: a
    1200 × 780 dialog on a 1366 × 768 laptop would put its buttons below the screen."""
    parent = widget.parentWidget()
    screen = (parent or widget).screen()
    if screen is not None:
        area = screen.availableGeometry()
        width = min(width, area.width() - 16)
        height = min(height, area.height() - 48)  # room for a title bar
    widget.resize(max(width, 200), max(height, 150))


def color_icon(color: str, size: int = 10) -> QIcon:
    """A round colour dot (provider colours in chips, menus and lists)."""
    pix = QPixmap(size * 2, size * 2)
    pix.setDevicePixelRatio(2.0)
    pix.fill(Qt.GlobalColor.transparent)
    painter = QPainter(pix)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(QColor(color))
    painter.drawEllipse(0, 0, size, size)
    painter.end()
    return QIcon(pix)


def model_choices(catalog: Catalog, settings: Settings, *, usable_first: bool = True) -> list[tuple[str, str, bool]]:
    """(ref, label, usable) for every catalog model; usable = its provider has a key (or is local).

    `usable_first`: usable models first, each part by label (the pickers); else catalog order, the
    same on every launch whatever keys are set (the + Model menu)."""
    out = []
    for info in catalog.models():
        usable = settings.has_key(info.provider)
        provider = settings.display_names.get(info.provider, info.provider)
        label = f"{info.display}  ·  {provider}" + ("" if usable else "  (no key)")
        out.append((info.ref, label, usable))
    if usable_first:
        out.sort(key=lambda t: (not t[2], t[1].lower()))
    return out


def ok_cancel_buttons(dialog: QDialog, ok_text: str | None = None) -> QDialogButtonBox:
    """The OK / Cancel row of a dialog, wired to accept / reject; `ok_text` names the OK button."""
    buttons = QDialogButtonBox(
        QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, dialog
    )
    if ok_text:
        buttons.button(QDialogButtonBox.StandardButton.Ok).setText(ok_text)
    buttons.accepted.connect(dialog.accept)
    buttons.rejected.connect(dialog.reject)
    return buttons


class ModelPickerDialog(QDialog):
    """A filterable list of catalog models; any `provider:model` can also be typed."""

    def __init__(
        self,
        catalog: Catalog,
        settings: Settings,
        parent: QWidget | None = None,
        exclude: str | Collection[str] | None = None,
        title: str = "Choose a model",
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle(title)
        self.resize(440, 460)
        self._catalog = catalog
        layout = QVBoxLayout(self)
        self.filter_edit = QLineEdit(self)
        self.filter_edit.setPlaceholderText("Filter, or type provider:model")
        layout.addWidget(self.filter_edit)
        self.list = QListWidget(self)
        layout.addWidget(self.list)
        left_out = {exclude} if isinstance(exclude, str) else set(exclude or ())  # models already chosen
        for ref, label, usable in model_choices(catalog, settings):
            if ref in left_out:
                continue
            item = QListWidgetItem(color_icon(catalog.provider_color(ref.split(":", 1)[0])), label)
            item.setData(Qt.ItemDataRole.UserRole, ref)
            if not usable:
                item.setForeground(self.palette().placeholderText())
            self.list.addItem(item)
        if self.list.count():
            self.list.setCurrentRow(0)
        buttons = ok_cancel_buttons(self)
        layout.addWidget(buttons)
        self.filter_edit.textChanged.connect(self._on_filter_edit_text_changed)
        self.filter_edit.installEventFilter(self)  # ↑/↓ while typing the filter move in the list
        self.list.itemDoubleClicked.connect(lambda _item: self.accept())

    _LIST_KEYS = (Qt.Key.Key_Up, Qt.Key.Key_Down, Qt.Key.Key_PageUp, Qt.Key.Key_PageDown)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if (
            watched is self.filter_edit
            and event.type() == QEvent.Type.KeyPress
            and isinstance(event, QKeyEvent)
            and event.key() in self._LIST_KEYS
        ):
            QApplication.sendEvent(self.list, QKeyEvent(event.type(), event.key(), event.modifiers()))
            return True
        return super().eventFilter(watched, event)

    def _on_filter_edit_text_changed(self, text: str) -> None:
        needle = text.strip().lower()
        first = None
        for i in range(self.list.count()):
            item = self.list.item(i)
            hit = needle in item.text().lower() or needle in str(item.data(Qt.ItemDataRole.UserRole)).lower()
            item.setHidden(not hit)
            if hit and first is None:
                first = item
        if first is not None:
            self.list.setCurrentItem(first)

    def chosen(self) -> str | None:
        typed = self.filter_edit.text().strip()
        item = self.list.currentItem()
        if item is not None and not item.isHidden():
            return str(item.data(Qt.ItemDataRole.UserRole))
        if ":" in typed:
            return typed
        return None


class SynthesizeDialog(QDialog):
    """Merge / judge / compare / custom instruction, and which model writes it."""

    def __init__(self, catalog: Catalog, settings: Settings, count: int, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Synthesize answers")
        self.resize(480, 360)
        layout = QVBoxLayout(self)
        layout.addWidget(
            QLabel(f"Combine the {count} selected answer{'s' if count != 1 else ''} with one model.", self)
        )
        form = QFormLayout()
        self.kind_combo = QComboBox(self)
        for key, label in SYNTHESIS_KINDS:
            self.kind_combo.addItem(label, key)
        form.addRow("How", self.kind_combo)
        self.model_combo = QComboBox(self)
        self.model_combo.setEditable(True)
        for ref, label, _usable in model_choices(catalog, settings):
            self.model_combo.addItem(color_icon(catalog.provider_color(ref.split(":", 1)[0])), label, ref)
        defaults = catalog.default_models(settings)
        if defaults:
            idx = self.model_combo.findData(defaults[0])
            if idx >= 0:
                self.model_combo.setCurrentIndex(idx)
        form.addRow("Model", self.model_combo)
        layout.addLayout(form)
        self.instruction_edit = QPlainTextEdit(self)
        self.instruction_edit.setPlaceholderText(
            "Your instruction, e.g. “Combine the code from all answers into one module.”"
        )
        self.instruction_edit.setEnabled(False)
        layout.addWidget(self.instruction_edit)
        self.kind_combo.currentIndexChanged.connect(self._on_kind_combo_current_index_changed)
        buttons = ok_cancel_buttons(self, "Synthesize")
        layout.addWidget(buttons)

    def _on_kind_combo_current_index_changed(self, _index: int) -> None:
        self.instruction_edit.setEnabled(self.kind_combo.currentData() == "custom")

    def choice(self) -> tuple[str, str, str | None]:
        kind = str(self.kind_combo.currentData())
        model = self.model_combo.currentData()
        if model is None or self.model_combo.currentText() != self.model_combo.itemText(
            self.model_combo.currentIndex()
        ):
            model = self.model_combo.currentText().strip()
        instruction = self.instruction_edit.toPlainText().strip() or None
        return kind, str(model), instruction if kind == "custom" else None


EXPORT_FORMATS = [
    ("md", "Markdown report (.md)", "Markdown report (*.md)"),
    ("html", "HTML page, side by side (.html)", "HTML page (*.html)"),
    ("json", "JSON, lossless, re-importable (.json)", "JSON (*.json)"),
    ("canvas", "JSON Canvas for Obsidian (.canvas)", "JSON Canvas (*.canvas)"),
    ("png", "PNG image of the canvas (.png)", "PNG image (*.png)"),
    ("csv", "CSV, one row per sweep cell (.csv)", "CSV (*.csv)"),
    ("jsonl", "JSON Lines, one object per sweep cell (.jsonl)", "JSON Lines (*.jsonl)"),
]
SWEEP_EXPORT_FORMATS = ("csv", "jsonl")  # offered for a sweep session only; always the whole sweep
EXPORT_EXTENSIONS = {".md": "md", ".markdown": "md", ".html": "html", ".htm": "html", ".json": "json",
                     ".canvas": "canvas", ".png": "png", ".csv": "csv", ".jsonl": "jsonl"}
FORMAT_EXTENSION = {"md": ".md", "html": ".html", "json": ".json", "canvas": ".canvas", "png": ".png",
                    "csv": ".csv", "jsonl": ".jsonl"}  # as app.export.common.EXTENSIONS (not imported at start)
EXPORT_SCOPES = [
    ("all", "The whole session (every branch)"),
    ("selection", "Only the selected cards"),
    ("path", "The selected cards and the path that led to them"),
]
ASK_TEXT_MIN_W = 420  # px: the Rename dialog shows a long session title whole
IMPORT_FILTER = "Triptych export or JSON Canvas (*.json *.canvas);;All files (*)"


@dataclass(frozen=True, slots=True)
class ExportChoice:
    """What the user chose in the export dialog. scope: all | selection | path (app.export.Scope)."""

    path: str
    fmt: str
    scope: str
    include_reasoning: bool


class ExportDialog(QDialog):
    """Format, what to export (session, selection, path to the selection), reasoning on/off and the file.

    The file name follows the format (`default_name(fmt)`, from the session title) until the user edits it.
    The format and the file's extension always agree: choosing a format changes the file's extension, and
    typing (or browsing to) a file whose extension names a format chooses that format. A sweep session
    (`sweep`) also offers csv and jsonl, one row per cell of the whole sweep (no scope, no reasoning).
    """

    def __init__(
        self,
        default_name: Callable[[str], str],
        folder: str,
        selected: int,
        scope: str = "all",
        parent: QWidget | None = None,
        sweep: bool = False,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Export")
        self._default_name = default_name
        self._folder = folder
        self._auto_name = ""
        self._selected = selected
        layout = QVBoxLayout(self)
        form = QFormLayout()
        self.format_combo = QComboBox(self)
        for key, label, _filter in EXPORT_FORMATS:
            if sweep or key not in SWEEP_EXPORT_FORMATS:
                self.format_combo.addItem(label, key)
        form.addRow("Format", self.format_combo)
        scope_box = QVBoxLayout()
        self.scope_group = QButtonGroup(self)
        self.scope_buttons: dict[str, QRadioButton] = {}
        for key, label in EXPORT_SCOPES:
            if key != "all":
                label += f" ({selected})" if selected else " (nothing selected)"
            button = QRadioButton(label, self)
            button.setEnabled(key == "all" or selected > 0)
            self.scope_group.addButton(button)
            self.scope_buttons[key] = button
            scope_box.addWidget(button)
        self.scope_buttons[scope if selected or scope == "all" else "all"].setChecked(True)
        form.addRow("Export", scope_box)
        self.reasoning_check = QCheckBox("Include the models' reasoning", self)
        self.reasoning_check.setChecked(True)
        form.addRow("", self.reasoning_check)
        path_row = QHBoxLayout()
        self.path_edit = QLineEdit(self)
        self.path_edit.textEdited.connect(self._on_path_edit_text_edited)
        path_row.addWidget(self.path_edit, 1)
        self.browse_button = QPushButton("Browse…", self)
        self.browse_button.clicked.connect(self._on_browse_button_clicked)
        path_row.addWidget(self.browse_button)
        form.addRow("File", path_row)
        layout.addLayout(form)
        buttons = ok_cancel_buttons(self, "Export")
        layout.addWidget(buttons)
        self.format_combo.currentIndexChanged.connect(self._on_format_combo_current_index_changed)
        self._on_format_combo_current_index_changed(0)
        self.resize(560, self.sizeHint().height())

    def set_format(self, fmt: str) -> None:
        self.format_combo.setCurrentIndex(max(self.format_combo.findData(fmt), 0))

    def set_scope(self, scope: str) -> None:
        self.scope_buttons[scope].setChecked(True)

    def _offered(self, fmt: str | None) -> bool:
        return fmt is not None and self.format_combo.findData(fmt) >= 0

    def _on_format_combo_current_index_changed(self, _index: int) -> None:
        fmt = str(self.format_combo.currentData())
        current = self.path_edit.text().strip()
        if not current or current == self._auto_name:
            self._auto_name = str(Path(self._folder) / self._default_name(fmt))
            self.path_edit.setText(self._auto_name)
        else:  # the user's file name keeps its name and takes the format's extension
            path = Path(current)
            if EXPORT_EXTENSIONS.get(path.suffix.lower()) not in (None, fmt):
                self.path_edit.setText(str(path.with_suffix(FORMAT_EXTENSION[fmt])))
        per_cell = fmt in SWEEP_EXPORT_FORMATS  # the whole sweep, one row per cell: no scope, no reasoning
        for key, button in self.scope_buttons.items():
            button.setEnabled(key == "all" or (self._selected > 0 and not per_cell))
        if per_cell:
            self.scope_buttons["all"].setChecked(True)
        self.reasoning_check.setEnabled(not per_cell)

    def _on_path_edit_text_edited(self, text: str) -> None:
        self._follow_extension(text)

    def _follow_extension(self, text: str) -> None:
        """A file whose extension names an offered format chooses that format."""
        fmt = EXPORT_EXTENSIONS.get(Path(text.strip()).suffix.lower())
        if self._offered(fmt) and fmt != self.format_combo.currentData():
            self.format_combo.setCurrentIndex(self.format_combo.findData(fmt))

    def _on_browse_button_clicked(self) -> None:
        fmt = str(self.format_combo.currentData())
        filt = next(f for key, _label, f in EXPORT_FORMATS if key == fmt)
        path, _chosen = QFileDialog.getSaveFileName(self, "Export to", self.path_edit.text(), filt)
        if path:
            self.path_edit.setText(path)
            self._follow_extension(path)

    def choice(self) -> ExportChoice | None:
        """The choice, or None when no file is named. The format and the extension agree: an extension
        naming an offered format is that format; a name without an extension, or with one naming a format
        not offered, gets the format's."""
        fmt = str(self.format_combo.currentData())
        path = self.path_edit.text().strip()
        if not path:
            return None
        named = EXPORT_EXTENSIONS.get(Path(path).suffix.lower())
        if self._offered(named):
            fmt = str(named)
        elif not Path(path).suffix:
            path += FORMAT_EXTENSION[fmt]
        elif named is not None:
            path = str(Path(path).with_suffix(FORMAT_EXTENSION[fmt]))
        scope = next((k for k, b in self.scope_buttons.items() if b.isChecked()), "all")
        if fmt in SWEEP_EXPORT_FORMATS:
            scope = "all"
        return ExportChoice(path, fmt, scope, self.reasoning_check.isChecked())


SHORTCUTS = [
    ("Ctrl+Enter", "Send, where the Send button says"),
    ("Esc / Ctrl+.", "Stop the selected streams (or all) / stop all"),
    ("Ctrl+R", "Retry the selected answers"),
    ("Ctrl+Shift+A", "Attach files to the prompt (or drop them, or paste an image)"),
    ("Ctrl+F", "Search all sessions"),
    ("Ctrl+N", "New session"),
    ("Ctrl+0", "Fit all cards"),
    ("Ctrl+2", "Zoom to the selection"),
    ("Ctrl++ / Ctrl+-", "Zoom in / out (the wheel zooms to the cursor)"),
    ("F", "Focus mode: one card large (←/→ siblings)"),
    ("C", "Collapse / expand the selected cards"),
    ("Arrow keys", "Move the selection between cards"),
    ("Ctrl+A / Delete", "Select all cards / delete the selected cards"),
    ("Ctrl+Z / Ctrl+Shift+Z", "Undo / redo (moves, deletes, sends, renames)"),
    ("Ctrl+Shift+S", "Synthesize the selected answers"),
    ("Alt+S / Alt+L", "In the composer, following cards: Shared / Continue each lane"),
    ("Ctrl+D", "Compare two selected answers (diff)"),
    ("Ctrl+T", "Comparison table of a prompt's answers"),
    ("Ctrl+Shift+M", "Blind match on/off: the next send goes to two of the chosen models, as A and B"),
    ("1 / 2 / 3 / 4", "On the canvas: vote A better / B better / tie / both bad on the blind match "
                      "the vote bar shows (or the selected card's)"),
    ("Ctrl+Shift+B", "Leaderboard of the blind-match votes"),
    ("Ctrl+E / Ctrl+Shift+E", "Export the session / the selected cards"),
    ("Ctrl+O", "Import a .json export or a .canvas"),
    ("Ctrl+L / Ctrl+M / Ctrl+B", "Show or hide the context lens / minimap / sessions sidebar"),
    ("Ctrl+, / Ctrl+Q", "Settings / quit"),
    ("Space+drag, middle drag", "Pan the canvas (dragging empty space pans too)"),
    ("Shift+drag", "Select cards with a rubber band; Ctrl+click adds one"),
    ("Double-click text, Ctrl+C", "Select a word in a card and copy it (drag in a selected card's text)"),
    ("? / F1", "This sheet"),
]


class ShortcutsDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Keyboard shortcuts")
        layout = QVBoxLayout(self)
        # Two pairs of columns side by side: one tall list would not fit a laptop screen.
        half = (len(SHORTCUTS) + 1) // 2
        table = QTableWidget(half, 4, self)
        self.table = table
        table.setHorizontalHeaderLabels(["Keys", "Action", "Keys", "Action"])
        table.verticalHeader().hide()
        table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        table.setSelectionMode(QTableWidget.SelectionMode.NoSelection)
        for i, (keys, what) in enumerate(SHORTCUTS):
            row, col = i % half, 2 * (i // half)
            table.setItem(row, col, QTableWidgetItem(keys))
            table.setItem(row, col + 1, QTableWidgetItem(what))
        table.resizeColumnsToContents()
        table.setWordWrap(True)
        for col in range(4):  # long entries wrap instead of widening the sheet past a small screen
            table.setColumnWidth(col, min(table.columnWidth(col), 140 if col % 2 == 0 else 220))
        table.resizeRowsToContents()
        table.horizontalHeader().setStretchLastSection(True)
        # Size the sheet to its rows and columns: a fixed 560x520 clipped the Action column (a
        # horizontal scroll bar) and hid the last rows behind a vertical one.
        table.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        frame = 2 * table.frameWidth()
        width = sum(table.columnWidth(c) for c in range(table.columnCount())) + frame + 24
        height = table.horizontalHeader().sizeHint().height() + frame + 2
        height += sum(table.rowHeight(r) for r in range(table.rowCount()))
        screen = self.screen().availableGeometry() if self.screen() is not None else None
        if screen is not None:  # on a small screen the rows scroll, the columns still fit
            height = min(height, int(screen.height() * 0.8))
        table.setMinimumSize(width, height)
        layout.addWidget(table)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)


class DialogService:
    """Everything the controller may ask the user. Tests monkeypatch these methods."""

    def __init__(self, parent: QWidget | None = None) -> None:
        self.parent = parent

    def confirm_open_link(self, url: str) -> bool:
        box = QMessageBox(self.parent)
        box.setWindowTitle("Open link?")
        box.setIcon(QMessageBox.Icon.Question)
        box.setText("A model's answer links to:")
        box.setInformativeText(url)
        box.setStandardButtons(QMessageBox.StandardButton.Open | QMessageBox.StandardButton.Cancel)
        box.setDefaultButton(QMessageBox.StandardButton.Cancel)
        return box.exec() == QMessageBox.StandardButton.Open

    def pick_model(self, catalog: Catalog, settings: Settings, exclude: str | None = None,
                   title: str = "Re-run on another model") -> str | None:
        dlg = ModelPickerDialog(catalog, settings, self.parent, exclude=exclude, title=title)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return None
        return dlg.chosen()

    def pick_judge(self, catalog: Catalog, settings: Settings, rubric: str = "") -> tuple[str, str] | None:
        """Judge this pair…: (the judge model, its rubric or ""); None when cancelled (ui/arena.py)."""
        from ui.arena import JudgeDialog

        dlg = JudgeDialog(catalog, settings, self.parent, rubric)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return None
        model = dlg.chosen()
        return (model, dlg.rubric_edit.text().strip()) if model else None

    def synthesize_options(self, catalog: Catalog, settings: Settings, count: int) -> tuple[str, str, str | None] | None:
        dlg = SynthesizeDialog(catalog, settings, count, self.parent)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return None
        return dlg.choice()

    def export_options(
        self, default_name: Callable[[str], str], folder: str, selected: int, scope: str = "all",
        sweep: bool = False,
    ) -> ExportChoice | None:
        """Format, scope, reasoning and file for an export (`sweep`: csv and jsonl offered too); None when
        cancelled."""
        dlg = ExportDialog(default_name, folder, selected, scope, self.parent, sweep=sweep)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return None
        return dlg.choice()

    def import_path(self, folder: str = "") -> str | None:
        """A .json export or a .canvas file to import; None when cancelled."""
        path, _chosen = QFileDialog.getOpenFileName(self.parent, "Import", folder, IMPORT_FILTER)
        return path or None

    def attach_paths(self, folder: str = "") -> list[str]:
        """Files to attach to the next prompt (File → Attach…); [] when cancelled."""
        paths, _chosen = QFileDialog.getOpenFileNames(
            self.parent, "Attach files", folder,
            "Images, PDFs and text files (*.png *.jpg *.jpeg *.webp *.gif *.pdf *.txt *.md *.csv *.json *.log "
            "*.py *.js *.ts *.html *.css *.xml *.yaml *.yml *.toml *.ini *.sql *.sh *.c *.h *.cpp *.rs *.go "
            "*.java);;All files (*)",
        )
        return list(paths)

    def ask_text(self, title: str, label: str, default: str = "") -> str | None:
        """One line of text (a session's title): wide enough to show a long title whole."""
        dialog = QInputDialog(self.parent)
        dialog.setWindowTitle(title)
        dialog.setLabelText(label)
        dialog.setTextEchoMode(QLineEdit.EchoMode.Normal)
        dialog.setTextValue(default)
        # QInputDialog sizes itself to its layout (min-and-max constraint): widen the line edit.
        edit = dialog.findChild(QLineEdit)
        if edit is not None:
            width = edit.fontMetrics().horizontalAdvance(default) + 24
            edit.setMinimumWidth(max(ASK_TEXT_MIN_W, min(width, 720)))
        dialog.setMinimumWidth(ASK_TEXT_MIN_W)
        try:
            ok = dialog.exec() == QDialog.DialogCode.Accepted
            return dialog.textValue() if ok else None
        finally:
            dialog.deleteLater()

    def confirm(self, title: str, text: str) -> bool:
        answer = QMessageBox.question(self.parent, title, text)
        return answer == QMessageBox.StandardButton.Yes

    def confirm_quit(self, running: int, sweep: str = "") -> bool:
        """Closing with streams running (or a sweep: `sweep` says what becomes of its cells): they stop,
        and their text so far is saved."""
        box = QMessageBox(self.parent)
        box.setIcon(QMessageBox.Icon.Question)
        box.setWindowTitle("Quit Triptych?")
        if running:
            box.setText(f"{running} answer{'s are' if running != 1 else ' is'} still streaming"
                        f"{', and a sweep is running' if sweep else ''}.")
        else:
            box.setText("A sweep is running.")
        stopped = "Quitting stops them; the text received so far is kept" if running else "Quitting stops it"
        if sweep:
            box.setInformativeText(f"{stopped}.\n\n{sweep}")
        else:
            box.setInformativeText(f"{stopped} (Retry continues later).")
        quit_button = box.addButton("Stop and quit", QMessageBox.ButtonRole.AcceptRole)
        box.addButton(QMessageBox.StandardButton.Cancel)
        box.exec()
        return box.clickedButton() is quit_button

    def show_error(self, title: str, text: str) -> None:
        QMessageBox.warning(self.parent, title, text)

    def card_menu(self, node: Node, controller: CanvasController, screen_pos: object = None) -> str | None:
        """The context menu of a card; returns the chosen action name."""
        from ui.card_actions import CardContext, menu_entries

        menu = QMenu(self.parent)
        ctx = CardContext(running=controller.engine.is_running(node.id),
                          selected_answers=len(controller.selected_answers()))
        entries = menu_entries(node, ctx)
        actions = {}
        for entry in entries:
            if entry is None:
                menu.addSeparator()
                continue
            key, label = entry
            actions[menu.addAction(label)] = key
        pos = (
            screen_pos.toPoint()
            if hasattr(screen_pos, "toPoint")
            else (screen_pos if isinstance(screen_pos, QPoint) else QCursor.pos())
        )
        chosen = menu.exec(pos)
        return actions.get(chosen) if chosen is not None else None
