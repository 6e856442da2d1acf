"""The composer: a multi-line prompt, model chips with per-model parameters, the send mode, presets.

It is a view: it holds what the user typed and chose and emits facts (`send_requested`,
`targets_changed`, `draft_changed`, `mode_changed`, `follow_cleared`, `lens_toggled`,
`preset_saved`). The controller reads `text()`, `targets()` and `mode()` when it sends.
Qt main thread only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QMargins, QMimeData, QPoint, QRect, QSize, Qt, Signal
from PySide6.QtGui import QAction, QKeyEvent, QKeySequence, QResizeEvent, QShortcut
from PySide6.QtWidgets import (
    QAbstractButton,
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFormLayout,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLayout,
    QLayoutItem,
    QMenu,
    QPlainTextEdit,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QStyleOptionButton,
    QToolButton,
    QVBoxLayout,
    QWidget,
    QWidgetItem,
)

from app.domain import Params, SendMode
from app.engine import Target
from ui.attach import AttachmentBar, carries_files
from ui.dialogs import color_icon
from ui.model_menus import fill_add_menu, fill_presets_menu

if TYPE_CHECKING:
    from app.catalog import Catalog, ModelInfo
    from app.config import Settings


class PromptEdit(QPlainTextEdit):
    """A plain-text prompt box that grows from 3 to 10 lines; Ctrl+Enter sends."""

    submitted = Signal()
    files_pasted = Signal(object)  # QMimeData carrying a picture or files (ui.attach attaches them)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("PromptEdit")
        self.setPlaceholderText("Ask several models at once…   Ctrl+Enter sends")
        self.setTabChangesFocus(True)
        self._corner: QLabel | None = None
        self.document().contentsChanged.connect(self._on_document_contents_changed)
        self._on_document_contents_changed()

    def set_corner(self, label: QLabel) -> None:
        """Show `label` (the token/cost estimate) in the box's bottom-right corner, over the empty line the
        box always keeps below the text (`_on_document_contents_changed`): in the row of model chips it
        took their room as one typed, and "Presets ▾" dropped to a second line."""
        self._corner = label
        label.setParent(self)
        label.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)  # clicks reach the text
        label.raise_()
        self.place_corner()

    def place_corner(self) -> None:
        label = self._corner
        if label is None:
            return
        hint = label.sizeHint()
        frame = self.frameWidth()
        width = max(0, min(hint.width(), self.width() * 2 // 3))
        label.setGeometry(self.width() - frame - width - 6, self.height() - frame - hint.height() - 2, width,
                          hint.height())
        label.setVisible(bool(label.text()))  # (on the box's free last line: up to 10 lines the text stays above it)

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.place_corner()

    def keyPressEvent(self, event: QKeyEvent) -> None:
        if (
            event.key() in (Qt.Key.Key_Return, Qt.Key.Key_Enter)
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            self.submitted.emit()
            event.accept()
            return
        super().keyPressEvent(event)

    def canInsertFromMimeData(self, source: QMimeData) -> bool:
        return carries_files(source) or super().canInsertFromMimeData(source)

    def insertFromMimeData(self, source: QMimeData) -> None:
        """Ctrl+V of a picture (a screenshot) or of copied files attaches them; text pastes as text."""
        if carries_files(source):
            self.files_pasted.emit(source)
            return
        super().insertFromMimeData(source)

    def _on_document_contents_changed(self) -> None:
        lines = max(3, min(10, int(self.document().size().height()) + 1))
        fm = self.fontMetrics()
        self.setFixedHeight(int(lines * fm.lineSpacing() + 18))


class FlowLayout(QLayout):
    """Lays its items out left to right and wraps them onto more lines when the width runs out, so
    adding widgets makes it taller, never wider (Qt's flow layout example). Its minimum width is its
    widest item's; its height follows the width (heightForWidth)."""

    def __init__(self, parent: QWidget | None = None, spacing: int = 6) -> None:
        super().__init__(parent)
        self._items: list[QLayoutItem] = []
        self.setContentsMargins(0, 0, 0, 0)
        self.setSpacing(spacing)

    def addItem(self, item: QLayoutItem) -> None:
        self._items.append(item)

    def count(self) -> int:
        return len(self._items)

    def itemAt(self, index: int) -> QLayoutItem | None:
        return self._items[index] if 0 <= index < len(self._items) else None

    def takeAt(self, index: int) -> QLayoutItem | None:
        return self._items.pop(index) if 0 <= index < len(self._items) else None

    def insertWidget(self, index: int, widget: QWidget) -> None:
        """Put `widget` at `index` (the chips go before the + Model and Presets buttons)."""
        self.addChildWidget(widget)
        self._items.insert(index, QWidgetItem(widget))
        self.invalidate()

    def expandingDirections(self) -> Qt.Orientation:
        return Qt.Orientation(0)

    def hasHeightForWidth(self) -> bool:
        return True

    def heightForWidth(self, width: int) -> int:
        return self._arrange(QRect(0, 0, width, 0), move=False)

    def setGeometry(self, rect: QRect) -> None:
        super().setGeometry(rect)
        self._arrange(rect, move=True)

    def sizeHint(self) -> QSize:
        return self.minimumSize()

    def minimumSize(self) -> QSize:
        size = QSize()
        for item in self._items:
            if not item.isEmpty():
                size = size.expandedTo(item.minimumSize())
        m = self.contentsMargins()
        return size + QSize(m.left() + m.right(), m.top() + m.bottom())

    def _arrange(self, rect: QRect, *, move: bool) -> int:
        """Place the items (when `move`) in lines, each item centred vertically in its line; returns
        the height used."""
        m = self.contentsMargins()
        area = rect.marginsRemoved(QMargins(m.left(), m.top(), m.right(), m.bottom()))
        gap = self.spacing()
        lines: list[list[tuple[QLayoutItem, QSize]]] = [[]]
        x = area.x()
        for item in self._items:
            if item.isEmpty():
                continue
            hint = item.sizeHint()
            if lines[-1] and x + hint.width() > area.right() + 1:
                lines.append([])
                x = area.x()
            lines[-1].append((item, hint))
            x += hint.width() + gap
        y = area.y()
        for line in lines:
            if not line:
                continue
            height = max(hint.height() for _, hint in line)
            x = area.x()
            for item, hint in line:
                if move:
                    item.setGeometry(QRect(QPoint(x, y + (height - hint.height()) // 2), hint))
                x += hint.width() + gap
            y += height + gap
        used = y - gap - area.y() if any(lines) else 0
        return used + m.top() + m.bottom()


class ElidedLabel(QLabel):
    """A one-line label that elides its text to the width it is given instead of widening its parent;
    `text()` is the whole text."""

    def __init__(
        self, parent: QWidget | None = None, elide: Qt.TextElideMode = Qt.TextElideMode.ElideLeft
    ) -> None:
        super().__init__(parent)
        self._full = ""
        self._mode = elide
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Preferred)
        align = Qt.AlignmentFlag.AlignRight if elide == Qt.TextElideMode.ElideLeft else Qt.AlignmentFlag.AlignLeft
        self.setAlignment(align | Qt.AlignmentFlag.AlignVCenter)

    def setText(self, text: str) -> None:
        self._full = text
        self.updateGeometry()
        self._elide()

    def text(self) -> str:
        """The whole text, however much of it is shown."""
        return self._full

    def sizeHint(self) -> QSize:
        return QSize(self.fontMetrics().horizontalAdvance(self._full) + 4, super().sizeHint().height())

    def minimumSizeHint(self) -> QSize:
        return QSize(0, super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        shown = self.fontMetrics().elidedText(self._full, self._mode, max(self.width(), 0))
        super().setText(shown)


class ParamsPopover(QFrame):
    """Per-model parameters, showing only what the model accepts (catalog `accepts`)."""

    params_changed = Signal(str, object)  # (model ref, Params)

    def __init__(self, ref: str, info: ModelInfo, params: Params, parent: QWidget | None = None) -> None:
        super().__init__(parent, Qt.WindowType.Popup)
        self.setObjectName("ParamsPopover")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self._ref = ref
        self._info = info
        layout = QVBoxLayout(self)
        title = QLabel(f"<b>{info.display}</b><br><span style='font-size:small'>{ref}</span>", self)
        layout.addWidget(title)
        form = QFormLayout()
        layout.addLayout(form)
        accepts = info.accepts
        self.max_tokens = QSpinBox(self)
        self.max_tokens.setRange(0, int(info.max_output or 1_000_000))
        self.max_tokens.setSpecialValueText("model default")
        self.max_tokens.setSingleStep(256)
        self.max_tokens.setValue(params.max_tokens or 0)
        if "max_tokens" in accepts:
            form.addRow("Max output tokens", self.max_tokens)
        else:
            self.max_tokens.hide()
        self.system = QPlainTextEdit(self)
        self.system.setPlaceholderText("System prompt for this model (optional)")
        self.system.setTabChangesFocus(True)  # Tab moves on (a tab character would trap the keyboard)
        self.system.setPlainText(params.system or "")
        self.system.setFixedHeight(70)
        if "system" in accepts:
            form.addRow("System", self.system)
        else:
            self.system.hide()
        self.thinking = QComboBox(self)
        self.thinking.addItem("model default", None)
        self.thinking.addItem("on", True)
        self.thinking.addItem("off", False)
        self.thinking.setCurrentIndex({None: 0, True: 1, False: 2}[params.thinking])
        if "thinking" in accepts:
            form.addRow("Thinking", self.thinking)
        else:
            self.thinking.hide()
        self.effort = QComboBox(self)
        self.effort.addItem("model default", None)
        for value in info.efforts:
            self.effort.addItem(value, value)
        idx = self.effort.findData(params.effort)
        self.effort.setCurrentIndex(max(idx, 0))
        if "effort" in accepts:
            form.addRow("Effort", self.effort)
        else:
            self.effort.hide()
        self.temp_on = QCheckBox("set", self)
        self.temperature = QDoubleSpinBox(self)
        self.temperature.setRange(0.0, 2.0)
        self.temperature.setSingleStep(0.1)
        self.temperature.setValue(params.temperature if params.temperature is not None else 1.0)
        self.temp_on.setChecked(params.temperature is not None)
        self.temperature.setEnabled(params.temperature is not None)
        self.temp_on.toggled.connect(self.temperature.setEnabled)
        if "temperature" in accepts and info.temperature_when != "never":
            row = QHBoxLayout()
            row.addWidget(self.temp_on)
            row.addWidget(self.temperature)
            form.addRow("Temperature", row)
            note = {
                "thinking_off": "only used with thinking off",
                "effort_none": "only accepted with effort “none”",
            }.get(info.temperature_when)
            if note:
                hint = QLabel(note, self)
                hint.setObjectName("Muted")
                form.addRow("", hint)
        else:
            self.temp_on.hide()
            self.temperature.hide()
        if not accepts - {"system", "max_tokens"}:
            hint = QLabel("This model takes no sampling or reasoning parameters.", self)
            hint.setObjectName("Muted")
            layout.addWidget(hint)
        for w in (self.max_tokens,):
            w.valueChanged.connect(self._on_any_changed)
        self.system.textChanged.connect(self._on_any_changed)
        self.thinking.currentIndexChanged.connect(self._on_any_changed)
        self.effort.currentIndexChanged.connect(self._on_any_changed)
        self.temp_on.toggled.connect(self._on_any_changed)
        self.temperature.valueChanged.connect(self._on_any_changed)

    def focus_first_field(self) -> None:
        for w in (self.max_tokens, self.system, self.thinking, self.effort, self.temp_on):
            if w.isVisibleTo(self):
                w.setFocus(Qt.FocusReason.PopupFocusReason)
                return

    def params(self) -> Params:
        accepts = self._info.accepts
        return Params(
            system=(self.system.toPlainText().strip() or None) if "system" in accepts else None,
            max_tokens=(self.max_tokens.value() or None) if "max_tokens" in accepts else None,
            thinking=self.thinking.currentData() if "thinking" in accepts else None,
            effort=self.effort.currentData() if "effort" in accepts else None,
            temperature=(round(self.temperature.value(), 2) if self.temp_on.isChecked() else None)
            if "temperature" in accepts
            else None,
        )

    def _on_any_changed(self, *_args: object) -> None:
        self.params_changed.emit(self._ref, self.params())


class ElidedButton(QPushButton):
    """A push button whose text ends in "…" where the layout gives it less room than the whole text
    (a long model name on a narrow window), so it never makes the window wider; `text()` and the
    tooltip keep the whole text."""

    def __init__(self, text: str, parent: QWidget | None = None) -> None:
        super().__init__(text, parent)
        self._full = text
        # (a push button's policy is Minimum: its size hint, the whole text, would be its least width)
        self.setSizePolicy(QSizePolicy.Policy.Preferred, self.sizePolicy().verticalPolicy())

    def setText(self, text: str) -> None:
        self._full = text
        super().setText(text)
        self.updateGeometry()
        self._elide()

    def text(self) -> str:
        return self._full

    def _padding(self) -> int:
        """The button's width beyond its text (the style's and the style sheet's margins), measured
        for a wide text: a style's least button width would count a short text's room as padding."""
        opt = QStyleOptionButton()
        self.initStyleOption(opt)
        wide = 400
        size = QSize(wide, self.fontMetrics().height())
        return self.style().sizeFromContents(QStyle.ContentsType.CT_PushButton, opt, size, self).width() - wide

    def sizeHint(self) -> QSize:
        hint = super().sizeHint()
        # (+4: elidedText wants a little more than the text's advance before it keeps it whole)
        return QSize(self._padding() + self.fontMetrics().horizontalAdvance(self._full) + 4, hint.height())

    def minimumSizeHint(self) -> QSize:
        width = self._padding() + self.fontMetrics().horizontalAdvance(self._full[:8] + "…")
        return QSize(min(width, self.sizeHint().width()), super().minimumSizeHint().height())

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._elide()

    def _elide(self) -> None:
        room = self.width() - self._padding()
        shown = self.fontMetrics().elidedText(self._full, Qt.TextElideMode.ElideRight, max(room, 0))
        if shown != super().text():
            super().setText(shown)


def _short(name: str, limit: int = 32) -> str:
    """A model name short enough for a button."""
    return name if len(name) <= limit else name[: limit - 1] + "…"


class ModelChip(QFrame):
    """A model in the send set: colour dot + name (click: parameters) + remove button."""

    clicked = Signal(str)
    remove_clicked = Signal(str)

    def __init__(
        self, ref: str, label: str, color: str, tuned: bool, usable: bool, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.setObjectName("ModelChipFrame")
        self.ref = ref
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.button = QToolButton(self)
        self.button.setObjectName("ModelChip")
        self.button.setIcon(color_icon(color, 10))
        self.button.setIconSize(QSize(10, 10))
        self.button.setText(_short(label, 40) + (" ⚙" if tuned else "") + ("" if usable else "  (no key)"))
        self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setToolTip(f"{ref}\nClick for this model's parameters")
        self.button.clicked.connect(lambda: self.clicked.emit(self.ref))
        layout.addWidget(self.button)
        self.remove = QToolButton(self)
        self.remove.setObjectName("ChipRemove")
        self.remove.setText("✕")
        self.remove.setToolTip(f"Remove {label}")
        self.remove.clicked.connect(lambda: self.remove_clicked.emit(self.ref))
        layout.addWidget(self.remove)


def _blind_action(composer: ComposerWidget) -> QAction:
    """The "Blind match" toggle (ui/arena.py: two of the chosen models, drawn at random, answer as A
    and B): the first entry of "+ Model" (and Evaluate → Blind match, Ctrl+Shift+M); the Send button
    says when it is on. A menu entry, not a button: the composer's rows stay as they are."""
    action = QAction("Blind match", composer)
    action.setToolTip("Send to two of the chosen models, drawn at random, shown as Model A and Model B "
                      "(no name, colour, cost or timing) until you vote")
    action.setCheckable(True)
    action.toggled.connect(lambda _on: _on_blind_toggled(composer))
    return action


def _on_blind_toggled(composer: ComposerWidget) -> None:
    composer._update_send_button()
    if composer._follow_labels:
        composer._update_follow_text()


def _blind_label(composer: ComposerWidget) -> str:
    """The Send button in blind mode: a new match (after the followed cards, when there are some)."""
    label = "New blind match" if composer._follow_models else "Blind match"
    n = len(composer.models())
    return f"{label}: 2 of {n} models" if n >= 2 else label


def _follow_how(composer: ComposerWidget, n: int) -> str:
    """What the next send does with the `n` followed cards: in blind mode they are the context of a
    new match (ui/arena.py); in lanes mode each followed answer's own model continues (the chips
    only lend their parameters); in shared mode every chosen model gets them."""
    if composer.blind_action.isChecked():
        return f"the context of a new blind match (2 of {len(composer.models())} models)"
    if composer.mode() == SendMode.LANES:
        return "each continues with its own model" if n > 1 else "continues with its own model"
    return "shared with every chosen model"


class ComposerWidget(QFrame):
    send_requested = Signal()
    targets_changed = Signal(list)  # model refs
    draft_changed = Signal()
    mode_changed = Signal(str)
    follow_cleared = Signal()
    lens_toggled = Signal(bool)
    preset_saved = Signal(str, list)

    def __init__(self, catalog: Catalog, settings: Settings, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ComposerWidget")
        self._catalog = catalog
        self._settings = settings
        self._targets: list[str] = []
        self._params: dict[str, Params] = {}
        self._popover: ParamsPopover | None = None
        self._running = 0
        outer = QVBoxLayout(self)
        outer.setContentsMargins(12, 8, 12, 10)
        outer.setSpacing(6)

        # -- "following" bar with the mode toggle
        self.parents_bar = QFrame(self)
        self.parents_bar.setObjectName("ParentsBar")
        bar = QHBoxLayout(self.parents_bar)
        bar.setContentsMargins(8, 4, 6, 4)
        # Elided (the whole text is its tooltip): following many cards never widens the window.
        self.parents_label = ElidedLabel(self.parents_bar, Qt.TextElideMode.ElideRight)
        self._follow_labels: list[str] = []
        self._branch: str | None = None  # the prompt an "Edit & branch" makes a new version of
        self.parents_label.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(self.parents_label)
        self.lanes_button = QPushButton("Continue each lane", self.parents_bar)
        self.shared_button = QPushButton("Shared", self.parents_bar)
        self.lanes_button.setToolTip("One follow-up per selected card: each model gets its own history (Alt+L)")
        self.shared_button.setToolTip(
            "One prompt: every chosen model gets the selected answer(s) as context (Alt+S)"
        )
        # The mode from the keyboard, with the focus left in the prompt (a mnemonic would move it).
        for keys, button in (("Alt+L", self.lanes_button), ("Alt+S", self.shared_button)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.setContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            shortcut.activated.connect(lambda b=button: b.isVisibleTo(self) and b.setChecked(True))
        self.mode_group = QButtonGroup(self)
        for b in (self.lanes_button, self.shared_button):
            b.setCheckable(True)
            # A click on the mode leaves the keyboard in the prompt (the user types next); Tab still
            # reaches the buttons.
            b.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            self.mode_group.addButton(b)
            bar.addWidget(b)
        self.lanes_button.setChecked(True)
        self.mode_group.buttonToggled.connect(self._on_mode_group_button_toggled)
        self.clear_follow_button = QToolButton(self.parents_bar)
        self.clear_follow_button.setText("✕")
        self.clear_follow_button.setToolTip("Start a new thread instead (clear the selection)")
        self.clear_follow_button.clicked.connect(self.follow_cleared)
        bar.addWidget(self.clear_follow_button)
        outer.addWidget(self.parents_bar)
        self.parents_bar.hide()

        # -- the prompt
        self.edit = PromptEdit(self)
        self.edit.submitted.connect(self.send_requested)
        self.edit.textChanged.connect(self.draft_changed)
        outer.addWidget(self.edit)
        # -- the files of the next send (ui.attach): chips under the prompt, and why a file was refused
        self.files = AttachmentBar(self)
        self.files.focus_after = self.edit
        self.files.changed.connect(self.draft_changed)
        outer.addWidget(self.files)

        # -- chips + buttons. The chips, + Model and Presets wrap onto more lines when they run out of
        # width (a flow layout): adding models makes the composer taller, never the window wider.
        row = QHBoxLayout()
        row.setSpacing(6)
        self.chips_area = QWidget(self)
        self.chips_area.setObjectName("ChipsArea")
        self.chips_area.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        self.chips_box = FlowLayout(self.chips_area)
        row.addWidget(self.chips_area, 1, Qt.AlignmentFlag.AlignTop)
        self.add_button = QToolButton(self.chips_area)
        self.add_button.setObjectName("ComposerButton")
        self.add_button.setText("+ Model")
        self.add_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.add_menu = QMenu(self.add_button)
        self.add_menu.aboutToShow.connect(self._on_add_menu_about_to_show)
        self.blind_action = _blind_action(self)
        self.add_button.setMenu(self.add_menu)
        self.chips_box.addWidget(self.add_button)
        self.presets_button = QToolButton(self.chips_area)
        self.presets_button.setObjectName("ComposerButton")
        self.presets_button.setText("Presets ▾")
        self.presets_button.setPopupMode(QToolButton.ToolButtonPopupMode.InstantPopup)
        self.presets_menu = QMenu(self.presets_button)
        self.presets_menu.aboutToShow.connect(self._on_presets_menu_about_to_show)
        self.presets_button.setMenu(self.presets_menu)
        self.chips_box.addWidget(self.presets_button)
        self.estimate_label = ElidedLabel(self)
        self.estimate_label.setObjectName("Muted")
        self.edit.set_corner(self.estimate_label)
        self.lens_button = QToolButton(self)
        self.lens_button.setObjectName("ComposerButton")
        self.lens_button.setText("Context lens")
        self.lens_button.setCheckable(True)
        self.lens_button.setToolTip(
            "Show exactly what each model will receive, with token and cost estimates"
        )
        self.lens_button.toggled.connect(self.lens_toggled)
        row.addWidget(self.lens_button, 0, Qt.AlignmentFlag.AlignBottom)
        self.send_button = ElidedButton("Send", self)
        self.send_button.setObjectName("SendButton")
        self.send_button.clicked.connect(self.send_requested)
        row.addWidget(self.send_button, 0, Qt.AlignmentFlag.AlignBottom)
        outer.addLayout(row)
        self._follow_models: list[str | None] = []
        self._update_send_button()

    # ------------------------------------------------------------------ state
    def text(self) -> str:
        return self.edit.toPlainText()

    def set_text(self, text: str) -> bool:
        """Put `text` in the prompt box as one undoable edit (Ctrl+Z brings back what was there).
        Returns whether a draft the user had typed, other than `text`, was replaced."""
        old = self.edit.toPlainText()
        cursor = self.edit.textCursor()
        cursor.beginEditBlock()
        cursor.select(cursor.SelectionType.Document)
        cursor.insertText(text)
        cursor.endEditBlock()
        cursor.movePosition(cursor.MoveOperation.End)
        self.edit.setTextCursor(cursor)
        return bool(old.strip()) and old != text

    def append_text(self, text: str) -> None:
        """Add `text` at the end of the prompt (keys typed before the window existed)."""
        self.set_text(self.text() + text)

    def clear(self) -> None:
        """Empty the prompt and its files (after a send)."""
        self.edit.clear()
        self.files.clear()

    def attachments(self) -> list:
        """The files of the next send, in the order attached (app.attachments.Attachment)."""
        return self.files.attachments()

    def focus_prompt(self) -> None:
        self.edit.setFocus(Qt.FocusReason.OtherFocusReason)

    def mode(self) -> SendMode:
        return SendMode.SHARED if self.shared_button.isChecked() else SendMode.LANES

    def set_mode(self, mode: str) -> None:
        (self.shared_button if mode == SendMode.SHARED.value else self.lanes_button).setChecked(True)

    def models(self) -> list[str]:
        return list(self._targets)

    def targets(self) -> list[Target]:
        return [
            Target(ref, Params.from_dict(self._params.get(ref, Params()).to_dict())) for ref in self._targets
        ]

    def params_for(self, ref: str) -> Params:
        return self._params.get(ref, Params())

    def set_params(self, ref: str, params: Params) -> None:
        self._params[ref] = params
        self._rebuild_chips()
        self.draft_changed.emit()

    def set_models(self, refs: list[str], *, announce: bool = True) -> None:
        seen: list[str] = []
        for ref in refs:
            if ref not in seen:
                seen.append(ref)
        self._targets = seen
        self._rebuild_chips()
        if announce:
            self.targets_changed.emit(list(self._targets))
        self.draft_changed.emit()

    def add_model(self, ref: str) -> None:
        if ref not in self._targets:
            self.set_models([*self._targets, ref])

    def remove_model(self, ref: str) -> None:
        if ref in self._targets:
            self.set_models([r for r in self._targets if r != ref])

    def set_follow(self, labels: list[str], branch: str | None = None) -> None:
        """Show which cards the next send follows (empty: a new thread), and `branch`: the words of the
        prompt it makes a new version of (Edit & branch; None: not a branch)."""
        self._follow_labels = list(labels)
        self._branch = branch
        if not labels and branch is None:
            self.parents_bar.hide()
            return
        self._update_follow_text()
        self.parents_bar.show()

    def _update_follow_text(self) -> None:
        labels = self._follow_labels
        branch = self._branch
        if not labels:
            if branch is not None:
                text = f"Branch: a new version of “{branch}”, beside it"
                self.parents_label.setToolTip(text)
                self.parents_label.setText(text)
            return
        shown = ", ".join(labels[:4]) + (f" +{len(labels) - 4}" if len(labels) > 4 else "")
        n = len(labels)
        how = _follow_how(self, n)
        text = f"Following {n} card{'s' if n != 1 else ''}: {shown} — {how}"
        if branch is not None:
            text = f"Branch of “{branch}” · " + text
        self.parents_label.setToolTip(text)
        self.parents_label.setText(text)
        for button in (self.lanes_button, self.shared_button):  # a blind match has one way to send
            button.setEnabled(not self.blind_action.isChecked())

    def set_follow_models(self, models: list[str | None]) -> None:
        """The model of each card the next send follows (None: a note or other card without one), so
        the Send button can say where the prompt goes."""
        self._follow_models = list(models)
        self._update_send_button()

    def send_label(self) -> str:
        """Where the prompt goes, as the Send button says it: "Send to Claude Sonnet 5.5", "Send to 4
        models", or, continuing the lanes of the followed cards, "Continue GPT-6.2" / "Continue 3 lanes"."""
        if self.blind_action.isChecked():  # a blind match (ui/arena.py)
            return _blind_label(self)
        follow = self._follow_models
        if follow and self.mode() == SendMode.LANES:
            answers = [m for m in follow if m]
            if len(follow) > 1:
                return f"Continue {len(follow)} lanes"
            if answers:
                return f"Continue {_short(self._catalog.display_name(answers[0]))}"
        refs = list(self._targets)
        if not refs and follow and self.mode() == SendMode.SHARED:
            refs = list(dict.fromkeys(m for m in follow if m))  # no chips: the followed cards' models
        if len(refs) == 1:
            return f"Send to {_short(self._catalog.display_name(refs[0]))}"
        if refs:
            return f"Send to {len(refs)} models"
        return "Send"

    def _update_send_button(self) -> None:
        label = self.send_label()
        self.send_button.setText(label)
        shortcut = QKeySequence("Ctrl+Return").toString(QKeySequence.SequenceFormat.NativeText)
        self.send_button.setToolTip(f"{label} ({shortcut})")

    def set_running(self, count: int) -> None:
        self._running = count

    def set_estimate(self, text: str) -> None:
        self.estimate_label.setText(text)
        self.edit.place_corner()

    # ------------------------------------------------------------------ chips
    def _rebuild_chips(self) -> None:
        for i in reversed(range(self.chips_box.count())):
            item = self.chips_box.itemAt(i)
            w = item.widget() if item is not None else None
            if w is not None and w not in (self.add_button, self.presets_button):
                self.chips_box.takeAt(i)
                w.hide()
                w.deleteLater()
        chips: list[QWidget] = []
        for ref in self._targets:
            info = self._catalog.info(ref)
            provider = ref.split(":", 1)[0]
            tuned = bool(self._params.get(ref) and self._params[ref].to_dict())
            chip = ModelChip(
                ref,
                info.display,
                self._catalog.provider_color(provider),
                tuned,
                self._settings.has_key(provider),
                self.chips_area,
            )
            chip.clicked.connect(self._on_chip_clicked)
            chip.remove_clicked.connect(self._on_chip_remove_clicked)
            chips.append(chip)
        if not self._targets:
            hint = QLabel("No models chosen: add one with + Model", self.chips_area)
            hint.setObjectName("Muted")
            chips.append(hint)
        for i, w in enumerate(chips):
            self.chips_box.insertWidget(i, w)
            w.show()
        # Tab goes prompt → each chip (its parameters, then its ✕) → + Model → Presets → … → Send: the
        # chips are made after the buttons, so creation order would put them last.
        chain: list[QWidget] = [self.edit]
        for w in chips:
            if isinstance(w, ModelChip):
                chain += [w.button, w.remove]
        chain += [self.add_button, self.presets_button, self.lens_button, self.send_button]
        for first, second in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(first, second)
        self._update_send_button()

    def _on_chip_remove_clicked(self, ref: str) -> None:
        # Keyboard users removing a chip keep a focus in the chips: the next chip's ✕, else + Model.
        had_focus = any(
            isinstance(c, ModelChip) and c.ref == ref and c.remove.hasFocus() for c in self._chip_widgets()
        )
        index = self._targets.index(ref) if ref in self._targets else -1
        self.remove_model(ref)
        if had_focus:
            chips = self._chip_widgets()
            target = chips[min(index, len(chips) - 1)].remove if chips else self.add_button
            target.setFocus(Qt.FocusReason.TabFocusReason)

    def _chip_widgets(self) -> list[ModelChip]:
        items = (self.chips_box.itemAt(i) for i in range(self.chips_box.count()))
        return [w for item in items if item is not None and isinstance(w := item.widget(), ModelChip)]

    def chip(self, ref: str) -> ModelChip | None:
        for w in self._chip_widgets():
            if w.ref == ref:
                return w
        return None

    def open_params(self, ref: str) -> ParamsPopover:
        info = self._catalog.info(ref)
        pop = ParamsPopover(ref, info, self._params.get(ref, Params()), self)
        pop.params_changed.connect(self._on_popover_params_changed)
        chip = self.chip(ref)
        anchor = chip.mapToGlobal(chip.rect().topLeft()) if chip else self.mapToGlobal(self.rect().topLeft())
        pop.adjustSize()
        pop.move(anchor.x(), anchor.y() - pop.sizeHint().height() - 4)
        pop.show()
        pop.focus_first_field()  # a keyboard user opening it lands in it
        self._popover = pop
        return pop

    def _on_chip_clicked(self, ref: str) -> None:
        self.open_params(ref)

    def _on_popover_params_changed(self, ref: str, params: Params) -> None:
        self._params[ref] = params
        self.draft_changed.emit()

    def _on_add_menu_about_to_show(self) -> None:
        fill_add_menu(self.add_menu, self._catalog, self._settings, self._targets, add=self.add_model,
                      remove=self.remove_model, add_typed=self.add_typed_model, first=[self.blind_action])

    def add_typed_model(self, prefix: str) -> str | None:
        """Ask for a model id (the picker lists the catalog; any `provider:model` may be typed) and add it."""
        ref = self.ask_model_id(prefix)
        if not ref:
            return None
        ref = ref.strip()
        if ":" not in ref or not ref.split(":", 1)[1].strip():
            return None
        self.add_model(ref)
        return ref

    def ask_model_id(self, prefix: str) -> str | None:
        """The model picker, its filter pre-filled with `prefix` (tests replace this)."""
        from ui.dialogs import ModelPickerDialog

        dlg = ModelPickerDialog(self._catalog, self._settings, self, exclude=set(self._targets), title="Add a model")
        dlg.filter_edit.setText(prefix)
        if dlg.exec() != ModelPickerDialog.DialogCode.Accepted:
            return None
        return dlg.chosen()

    def _on_presets_menu_about_to_show(self) -> None:
        fill_presets_menu(self.presets_menu, self._catalog, self._settings, self._targets,
                          choose=self.set_models, save=self._on_save_preset_triggered)

    def _on_save_preset_triggered(self) -> None:
        from PySide6.QtWidgets import QInputDialog

        name, ok = QInputDialog.getText(self, "Save preset", "Name for this set of models:")
        if ok and name.strip():
            self.preset_saved.emit(name.strip(), list(self._targets))

    def _on_mode_group_button_toggled(self, button: QAbstractButton, checked: bool) -> None:
        if checked:
            self._update_follow_text()
            self._update_send_button()
            self.mode_changed.emit(self.mode().value)
            self.draft_changed.emit()
