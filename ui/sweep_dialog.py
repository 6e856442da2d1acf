"""The New sweep dialog (Evaluate → New sweep…): what `triptych sweep` takes, as a form.

Prompt templates (several: separated by a line `---`), a CSV/JSONL variables file, models (the
catalog's, usable ones first), parameter variants (temperature, effort, max_tokens, thinking:
comma-separated values; system prompts separated by `---`), checks (one per line, as `--check`), an
optional judge model and its rubric, the concurrency cap, and the cost estimate of what it would send,
updated as the form changes. The sweep is planned against the catalog (app.sweep.SweepDef.plan): the
variants a model receives alike are one cell for it, and the estimate says which models do not take
which parameters and how many cells that saves; a parameter no chosen model takes is refused.
"Use batch APIs" (app.batch: OpenAI Batch, Anthropic Message Batches) is enabled when a chosen model's
provider has a batch API; a line under it names the models that go through one and those that run live
at full price, and the estimate prices each so. The form is kept in `settings.ui["new_sweep"]` when the
dialog closes (saved with the settings) and filled back the next time.
The dialog only builds an `app.sweep.SweepDef`; the window's `SweepGridController` runs it.
"""

from __future__ import annotations

import html
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from app.batch_api import batch_api_for
from app.domain import ModelRef
from app.sweep import SweepDef, SweepError, parse_check, parse_sets, parse_vars, read_sweep_file
from app.sweep_view import estimate
from ui.dialogs import color_icon, model_choices, resize_within_screen

if TYPE_CHECKING:
    from app.catalog import Catalog
    from app.config import Settings
    from app.engine import Engine
    from ui.sweep_controller import SweepGridController

SEPARATOR = "---"


def batch_available(settings: Settings, models: Sequence[str]) -> bool:
    """Does any of `models`' providers have a batch API (OpenAI Batch, Anthropic Message Batches)?"""
    return bool(batch_split(settings, models)[0])


def batch_split(settings: Settings, models: Sequence[str]) -> tuple[list[str], list[str]]:
    """(the models whose provider has a batch API, those that always run live)."""
    batched: list[str] = []
    live: list[str] = []
    for model in models:
        cfg = settings.providers.get(ModelRef.parse(model).provider)
        (batched if cfg is not None and batch_api_for(cfg) is not None else live).append(model)
    return batched, live


NO_BATCH_TIP = ("None of the chosen models' providers has a batch API (OpenAI and Anthropic have one): "
                "the sweep runs live")
BATCH_TIP = ("Send the cells of OpenAI and Anthropic models as batches (about half price; results within "
             "24 hours, filled in as they arrive, also after a restart); other providers run live")


def _lines_height(edit: QPlainTextEdit, lines: int) -> int:
    """The height that shows `lines` lines of `edit`'s font with no scroll bar."""
    margin = edit.document().documentMargin()
    return int(edit.fontMetrics().lineSpacing() * lines + 2 * margin + 2 * edit.frameWidth() + 2)


def _split(text: str) -> list[str]:
    """Texts separated by a line holding only `---` (empty parts dropped)."""
    parts: list[list[str]] = [[]]
    for line in text.splitlines():
        if line.strip() == SEPARATOR:
            parts.append([])
        else:
            parts[-1].append(line)
    return [t for t in ("\n".join(p).strip() for p in parts) if t]


CHECKS_PLACEHOLDER = "contains:TEXT    not-contains:TEXT    regex:PATTERN\njson    max-cost:USD    max-ms:MS\n(one per line)"
FORM_KEY = "new_sweep"  # settings.ui[FORM_KEY]: the form as it was last closed


class NewSweepDialog(QDialog):
    def __init__(self, catalog: Catalog, settings: Settings, engine: Engine, chosen: list[str] | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("New sweep")
        self.setObjectName("NewSweepDialog")
        resize_within_screen(self, 760, 860)
        self._engine = engine
        self._catalog = catalog
        self._settings = settings
        saved = settings.ui.get(FORM_KEY)
        saved = saved if isinstance(saved, dict) else {}
        if isinstance(saved.get("models"), list) and saved["models"]:  # the last sweep's, else the composer's
            chosen = [str(m) for m in saved["models"]]
        self._vars: tuple[str, str] | None = None  # (file name, its text)
        self.definition: SweepDef | None = None
        outer = QVBoxLayout(self)
        form = QFormLayout()
        form.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        outer.addLayout(form)

        self.templates_edit = QPlainTextEdit(self)
        self.templates_edit.setPlaceholderText("Translate to French: {{text}}\n---\nA second template (optional)")
        self.templates_edit.setToolTip("{{column}} is replaced by the row's value; a line --- starts another template")
        self.templates_edit.setMinimumHeight(80)
        form.addRow("Prompt template(s)", self.templates_edit)

        vars_row = QHBoxLayout()
        self.vars_edit = QLineEdit(self)
        self.vars_edit.setPlaceholderText("CSV or JSONL file (optional)")
        self.vars_button = QPushButton("Browse…", self)
        self.vars_button.clicked.connect(self._on_vars_button_clicked)
        vars_row.addWidget(self.vars_edit, 1)
        vars_row.addWidget(self.vars_button)
        form.addRow("Variables", vars_row)
        self.vars_label = QLabel("", self)
        self.vars_label.setObjectName("Muted")
        self.vars_label.setWordWrap(True)
        form.addRow("", self.vars_label)

        self.models_list = QListWidget(self)
        self.models_list.setMinimumHeight(140)
        wanted = set(chosen or ())
        for ref, label, usable in model_choices(catalog, settings):
            item = QListWidgetItem(color_icon(catalog.provider_color(ref.split(":", 1)[0])), label)
            item.setData(Qt.ItemDataRole.UserRole, ref)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            item.setCheckState(Qt.CheckState.Checked if ref in wanted and usable else Qt.CheckState.Unchecked)
            if not usable:
                item.setForeground(self.palette().placeholderText())
            self.models_list.addItem(item)
        form.addRow("Models", self.models_list)

        self.temperature_edit = QLineEdit(self)
        self.temperature_edit.setPlaceholderText("e.g. 0, 0.7")
        form.addRow("Temperature", self.temperature_edit)
        self.effort_edit = QLineEdit(self)
        self.effort_edit.setPlaceholderText("e.g. low, high")
        form.addRow("Effort", self.effort_edit)
        self.max_tokens_edit = QLineEdit(self)
        self.max_tokens_edit.setPlaceholderText("e.g. 256, 1024")
        form.addRow("Max tokens", self.max_tokens_edit)
        self.thinking_edit = QLineEdit(self)
        self.thinking_edit.setPlaceholderText("e.g. off, on")
        self.thinking_edit.setToolTip("Thinking on or off (DeepSeek takes a temperature only with thinking off)")
        form.addRow("Thinking", self.thinking_edit)
        self.system_edit = QPlainTextEdit(self)
        self.system_edit.setPlaceholderText("System prompt variants (optional), separated by a line ---")
        self.system_edit.setMaximumHeight(60)
        form.addRow("System prompts", self.system_edit)
        self.checks_edit = QPlainTextEdit(self)
        # one check kind a line of the hint: a check like max-ms:MS is never broken at its hyphen
        self.checks_edit.setPlaceholderText(CHECKS_PLACEHOLDER)
        self.checks_edit.setFixedHeight(_lines_height(self.checks_edit, 3))
        form.addRow("Checks", self.checks_edit)

        self.judge_combo = QComboBox(self)
        self.judge_combo.addItem("No judge", None)
        for ref, label, _usable in model_choices(catalog, settings):
            self.judge_combo.addItem(label, ref)
        form.addRow("Judge", self.judge_combo)
        self.rubric_edit = QPlainTextEdit(self)  # the form's full width, a few lines: a sentence or two
        self.rubric_edit.setObjectName("SweepRubric")
        self.rubric_edit.setPlaceholderText("What the judge scores against (optional), e.g. "
                                            "The answer is correct, cites its source and stays under 100 words.")
        self.rubric_edit.setFixedHeight(_lines_height(self.rubric_edit, 3))
        form.addRow("Rubric", self.rubric_edit)

        run_row = QHBoxLayout()
        self.concurrency_spin = QSpinBox(self)
        self.concurrency_spin.setRange(1, 64)
        self.concurrency_spin.setValue(4)
        self.concurrency_spin.setToolTip("Simultaneous requests per provider")
        run_row.addWidget(self.concurrency_spin)
        run_row.addWidget(QLabel("requests at a time per provider", self), 1)
        self.batch_check = QCheckBox("Use batch APIs (about half price, results later)", self)
        self.batch_check.setObjectName("SweepBatch")
        run_row.addWidget(self.batch_check)
        form.addRow("Concurrency", run_row)
        self.batch_label = QLabel("", self)  # which chosen models go through a batch API, which run live
        self.batch_label.setObjectName("SweepBatchModels")
        self.batch_label.setWordWrap(True)
        self.batch_label.setMinimumHeight(self.fontMetrics().lineSpacing() * 2 + 2)  # (its one or two lines)
        self.batch_label.setAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop)
        form.addRow("", self.batch_label)

        # the estimate, its warnings and the errors come and go as the user types: in a room of fixed height
        # (it scrolls when they need more), so the fields above never move under the mouse
        self.messages = QScrollArea(self)
        self.messages.setObjectName("SweepMessages")
        self.messages.setWidgetResizable(True)
        self.messages.setFrameShape(QFrame.Shape.NoFrame)
        self.messages.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        box = QWidget(self.messages)
        box_layout = QVBoxLayout(box)
        box_layout.setContentsMargins(0, 0, 0, 0)
        self.estimate_label = QLabel("", box)
        self.estimate_label.setWordWrap(True)
        self.estimate_label.setObjectName("SweepEstimate")
        box_layout.addWidget(self.estimate_label)
        self.error_label = QLabel("", box)
        self.error_label.setWordWrap(True)
        self.error_label.setObjectName("Error")
        self.error_label.setStyleSheet("color: #DC2626")
        box_layout.addWidget(self.error_label)
        box_layout.addStretch(1)
        self.messages.setWidget(box)
        self.messages.setFixedHeight(int(self.fontMetrics().lineSpacing() * 6.5))
        outer.addWidget(self.messages)
        self.buttons = QDialogButtonBox(
            QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.start_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.start_button.setText("Start sweep")
        self.buttons.accepted.connect(self._on_buttons_accepted)
        self.buttons.rejected.connect(self.reject)
        outer.addWidget(self.buttons)

        self._estimate_timer = QTimer(self)
        self._estimate_timer.setSingleShot(True)
        self._estimate_timer.setInterval(250)
        self._estimate_timer.timeout.connect(self._on_estimate_timer_timeout)
        self._restore(saved)
        for edit in (self.templates_edit, self.system_edit, self.checks_edit, self.rubric_edit):
            edit.textChanged.connect(self._estimate_timer.start)
        for line in (self.vars_edit, self.temperature_edit, self.effort_edit, self.max_tokens_edit,
                     self.thinking_edit):
            line.textChanged.connect(self._estimate_timer.start)
        self.vars_edit.textChanged.connect(self._on_vars_edit_text_changed)
        self.models_list.itemChanged.connect(self._estimate_timer.start)
        self.judge_combo.currentIndexChanged.connect(self._estimate_timer.start)
        self.batch_check.toggled.connect(self._estimate_timer.start)
        self.finished.connect(self._on_finished)
        if self.vars_edit.text():
            self._on_vars_edit_text_changed(self.vars_edit.text())
        self._on_estimate_timer_timeout()

    def __repr__(self) -> str:
        return f"<NewSweepDialog {self.models()}>"

    # ------------------------------------------------------------------ keeping the form
    def _text_fields(self) -> dict[str, QLineEdit | QPlainTextEdit]:
        return {"templates": self.templates_edit, "vars": self.vars_edit, "temperature": self.temperature_edit,
                "effort": self.effort_edit, "max_tokens": self.max_tokens_edit, "thinking": self.thinking_edit,
                "system": self.system_edit, "checks": self.checks_edit, "rubric": self.rubric_edit}

    def form_state(self) -> dict[str, Any]:
        """The form as plain values (TOML-safe: no None), as `settings.ui["new_sweep"]` keeps it."""
        state: dict[str, Any] = {name: edit.toPlainText() if isinstance(edit, QPlainTextEdit) else edit.text()
                                 for name, edit in self._text_fields().items()}
        state.update(models=self.models(), judge=str(self.judge_combo.currentData() or ""),
                     concurrency=self.concurrency_spin.value(), batch=self.batch_check.isChecked())
        return state

    def _restore(self, saved: dict[str, Any]) -> None:
        """Fill the form back as it was last closed (the models are ticked when the list is built)."""
        for name, edit in self._text_fields().items():
            value = saved.get(name)
            if not isinstance(value, str):
                continue
            if isinstance(edit, QPlainTextEdit):
                edit.setPlainText(value)
            else:
                edit.setText(value)
        judge = saved.get("judge")
        if isinstance(judge, str) and judge and (at := self.judge_combo.findData(judge)) >= 0:
            self.judge_combo.setCurrentIndex(at)
        if isinstance(saved.get("concurrency"), int):
            self.concurrency_spin.setValue(saved["concurrency"])
        if isinstance(saved.get("batch"), bool):
            self.batch_check.setChecked(saved["batch"])

    def _on_finished(self, _result: int) -> None:
        """Closed (Start sweep, Cancel or the close button): the next New sweep starts from this form."""
        self._settings.ui[FORM_KEY] = self.form_state()

    # ------------------------------------------------------------------ reading the form
    def models(self) -> list[str]:
        out = []
        for i in range(self.models_list.count()):
            item = self.models_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return out

    def set_models(self, refs: list[str]) -> None:
        for i in range(self.models_list.count()):
            item = self.models_list.item(i)
            on = item.data(Qt.ItemDataRole.UserRole) in refs
            item.setCheckState(Qt.CheckState.Checked if on else Qt.CheckState.Unchecked)

    @property
    def use_batch(self) -> bool:
        return self.batch_check.isEnabled() and self.batch_check.isChecked()

    def _read_vars(self) -> tuple[str, str] | None:
        path = self.vars_edit.text().strip()
        if not path:
            return None
        return Path(path).expanduser().name, read_sweep_file(path, expand_user=True)

    def build(self) -> SweepDef:
        """The sweep the form describes; SweepError (nothing sent) says what is wrong."""
        templates = _split(self.templates_edit.toPlainText())
        if not templates:
            raise SweepError("Write a prompt template first ({{column}} inserts a variable)")
        models = self.models()
        if not models:
            raise SweepError("Tick at least one model")
        columns: list[str] = []
        rows: list[dict[str, str]] = [{}]
        vars_name = vars_text = None
        read = self._read_vars()
        if read is not None:
            vars_name, vars_text = read
            columns, rows = parse_vars(vars_name, vars_text)
        sets = []
        for name, edit in (("temperature", self.temperature_edit), ("effort", self.effort_edit),
                           ("max_tokens", self.max_tokens_edit), ("thinking", self.thinking_edit)):
            text = edit.text().strip()
            if text:
                sets.append(f"{name}={','.join(v.strip() for v in text.split(','))}")
        variants = parse_sets(sets, _split(self.system_edit.toPlainText()))
        checks = [str(parse_check(line.strip())) for line in self.checks_edit.toPlainText().splitlines()
                  if line.strip()]
        judge = self.judge_combo.currentData()
        defn = SweepDef(templates=templates, models=models, columns=columns, rows=rows, vars_name=vars_name,
                        vars_text=vars_text, variants=variants, checks=checks, judge=judge or None,
                        rubric=" ".join(self.rubric_edit.toPlainText().split()) or None,
                        concurrency=self.concurrency_spin.value(), batch=self.use_batch)
        defn.validate()
        defn.plan(self._catalog)  # the variants a model receives alike: one cell; a parameter none takes: refused
        return defn

    # ------------------------------------------------------------------ slots
    def _on_vars_button_clicked(self) -> None:
        path, _ = QFileDialog.getOpenFileName(self, "Variables file", "",
                                              "Variables (*.csv *.jsonl *.ndjson);;All files (*)")
        if path:
            self.vars_edit.setText(path)

    def _on_vars_edit_text_changed(self, _text: str) -> None:
        try:
            read = self._read_vars()
            if read is None:
                self.vars_label.setText("Without a file the template runs once per model and variant.")
                return
            columns, rows = parse_vars(*read)
        except SweepError as exc:
            self.vars_label.setText(str(exc))
            return
        self.vars_label.setText(f"{len(rows)} row{'s' if len(rows) != 1 else ''}; columns: "
                                + ", ".join(f"{{{{{c}}}}}" for c in columns))

    def _update_batch_check(self) -> None:
        """The batch switch is enabled when a chosen model's provider has a batch API; the line under it
        names the models that go through one and those that run live at full price."""
        batched, live = batch_split(self._settings, self.models())
        self.batch_check.setEnabled(bool(batched))
        self.batch_check.setToolTip(BATCH_TIP if batched else NO_BATCH_TIP)
        name = self._catalog.display_name
        if not batched:
            text = ("No batch API for these models' providers (OpenAI and Anthropic have one): they run live"
                    if live else "")
        elif self.batch_check.isChecked():
            text = f"Through a batch API at about half price: {', '.join(map(name, batched))}."
            if live:
                text += f" Live at full price (no batch API): {', '.join(map(name, live))}."
        else:
            text = f"A batch API is available for {', '.join(map(name, batched))}"
            text += f"; {', '.join(map(name, live))} always run{'s' if len(live) == 1 else ''} live." if live else "."
        self.batch_label.setText(text)

    def _on_estimate_timer_timeout(self) -> None:
        self._update_batch_check()
        try:
            defn = self.build()
        except SweepError as exc:
            self.estimate_label.setText("")
            self.error_label.setText(str(exc) if self.templates_edit.toPlainText().strip() else "")
            self.start_button.setEnabled(False)
            return
        self.error_label.setText("")
        self.start_button.setEnabled(True)
        try:
            cost, judge, unknown = estimate(self._engine, defn, defn.cells())
        except Exception as exc:  # an estimate must never break the form
            self.estimate_label.setText(f"{defn.size} cells (no estimate: {exc})")
            return
        text = f"<b>{defn.size} cells</b> · estimated <b>${cost + judge:.4f}</b>"
        if defn.batch:
            _batched, live = batch_split(self._settings, defn.models)
            text += " at batch prices" + (" (live models at full price)" if live else "")
        if defn.judge:
            text += f" (judge ${judge:.4f})"
        if unknown:
            text += f" · cost unknown for {', '.join(unknown)}"
        text += " · about 1,000 output tokens per answer assumed"
        notes = defn.not_sent_lines(self._catalog.display_name)
        if notes:  # what is not sent to which model, and the cells that saves
            text += "<br>⚠ " + "<br>⚠ ".join(html.escape(line) for line in notes)
        self.estimate_label.setText(text)

    def _on_buttons_accepted(self) -> None:
        try:
            self.definition = self.build()
        except SweepError as exc:
            self.error_label.setText(str(exc))
            return
        self.accept()


def open_new_sweep(ctrl: SweepGridController, chosen: Sequence[str] = ()) -> NewSweepDialog:
    """Evaluate → New sweep…: the form, non-modal; Start sweep runs the sweep in `ctrl`'s window."""
    c = ctrl.c
    dlg = NewSweepDialog(c.catalog, c.settings, c.engine, list(chosen), c.view.window())
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)

    def accepted() -> None:
        if dlg.definition is not None:  # (its `batch` is stored with the sweep: a resume polls its batches)
            ctrl.start(dlg.definition)

    dlg.accepted.connect(accepted)
    dlg.show()
    dlg.raise_()
    return dlg
