"""Files in the window (issue #15): the chips under the prompt, drops and pastes, File → Attach…, and
the viewer a click on a chip or a prompt card's thumbnail opens.

- `AttachmentBar` (inside the composer) holds the files of the next send as chips (name, size, ✕);
  every file goes through `app.attachments` (`load_attachment`, `attachment_from_bytes`), and a bad
  one is refused with one line naming it, shown under the chips; nothing else changes.
- `WindowAttachments` (made by the main window) wires the user's gestures to the bar: file drops on
  the composer or the canvas (a drop on a card also makes the next send follow it, see `drop`), an
  image or files pasted into the prompt, File → Attach… (DialogService.attach_paths), and a prompt
  card's file tiles (card action "open_file") to the viewer.
- `AttachmentViewer`: an image at full size, scrolling, in a dialog that fits the screen; a PDF or text
  file's name, pages and size (and a text file's text). Nothing is opened outside Triptych unless the
  user clicks its "Open" button.

Qt main thread only.
"""

from __future__ import annotations

import logging
import tempfile
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, QMimeData, QObject, QPoint, QSize, Qt, QUrl, Signal
from PySide6.QtGui import (
    QDesktopServices,
    QDropEvent,
    QGuiApplication,
    QImage,
    QKeySequence,
    QPixmap,
    QShortcut,
)
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFrame,
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from app.attachments import Attachment, AttachmentError, attachment_from_bytes, human_size, load_attachment
from app.domain import EdgeRole, NodeKind, SendMode
from ui.thumbs import full_image, png_bytes, thumbnail

if TYPE_CHECKING:
    from ui.main_window import MainWindow

log = logging.getLogger(__name__)

CHIP_THUMB = 22  # px, the picture on a composer chip
NOT_LOCAL = "{name}: only files on this computer can be attached (nothing is downloaded)"


def local_paths(mime: QMimeData) -> list[str]:
    """The local files a drop or paste carries (remote URLs are never fetched)."""
    return [u.toLocalFile() for u in mime.urls() if u.isLocalFile() and u.toLocalFile()]


def carries_files(mime: QMimeData) -> bool:
    """Whether a drop or paste is about files (local files, or a picture without text), not text to
    insert (a link dragged from a browser still inserts its address)."""
    return bool(local_paths(mime)) or (mime.hasImage() and not mime.hasText())


def short_kind(att: Attachment) -> str:
    """What a chip or tile says under the name: "PNG · 1200×800 · 84 KB", "PDF · 3 pages · 14 KB"."""
    if att.kind == "image":
        return f"{att.mime.split('/')[-1].upper()} · {att.width}×{att.height} · {human_size(att.size)}"
    if att.kind == "pdf":
        return f"PDF · {att.pages} page{'s' if att.pages != 1 else ''} · {human_size(att.size)}"
    return f"text · {human_size(att.size)}"


# ====================================================================================== composer chips
class FileChip(QFrame):
    """One file of the next send: its picture (images), name and size; click: the viewer; ✕: remove."""

    clicked = Signal(str)  # sha256
    remove_clicked = Signal(str)

    def __init__(self, att: Attachment, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ModelChipFrame")  # the same pill as a model chip
        self.attachment = att
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        self.button = QToolButton(self)
        self.button.setObjectName("ModelChip")
        self.button.setText(f"{_elide(att.name, 28)}  {human_size(att.size)}")
        pixmap = thumbnail(att, CHIP_THUMB * 2, CHIP_THUMB * 2)
        if pixmap is not None:
            self.button.setIcon(pixmap)
            self.button.setIconSize(QSize(CHIP_THUMB, CHIP_THUMB))
            self.button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.button.setToolTip(f"{att.describe()}\nClick to view")
        self.button.clicked.connect(lambda: self.clicked.emit(att.sha256))
        layout.addWidget(self.button)
        self.remove = QToolButton(self)
        self.remove.setObjectName("ChipRemove")
        self.remove.setText("✕")
        self.remove.setToolTip(f"Remove {att.name}")
        self.remove.setAccessibleName(f"Remove {att.name}")
        self.remove.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.remove.clicked.connect(lambda: self.remove_clicked.emit(att.sha256))
        layout.addWidget(self.remove)


def _elide(name: str, limit: int) -> str:
    return name if len(name) <= limit else name[: limit - 10] + "…" + name[-9:]


class AttachmentBar(QWidget):
    """The files of the next send, as chips in rows under the prompt, and the line saying why a file
    was refused. Hidden while it has neither."""

    changed = Signal()  # files added or removed
    view_requested = Signal(list, int)  # (attachments, index): the user clicked a chip

    def __init__(self, parent: QWidget | None = None) -> None:
        from ui.composer import FlowLayout  # (composer imports this module)

        super().__init__(parent)
        self.setObjectName("AttachmentBar")
        self._files: list[Attachment] = []
        self._pasted = 0
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(4)
        self.chips_area = QWidget(self)
        self.chips_box = FlowLayout(self.chips_area)
        outer.addWidget(self.chips_area)
        self.error_label = QLabel(self)
        self.error_label.setObjectName("AttachError")
        self.error_label.setWordWrap(True)
        self.error_label.setTextFormat(Qt.TextFormat.PlainText)
        self.error_label.setStyleSheet("color: #C2410C;")
        self.error_label.hide()
        outer.addWidget(self.error_label)
        # before sending: a chosen model that cannot read a file (its lane would fail, the others run)
        self.warning_label = QLabel(self)
        self.warning_label.setObjectName("AttachWarning")
        self.warning_label.setWordWrap(True)
        self.warning_label.setTextFormat(Qt.TextFormat.PlainText)
        self.warning_label.setStyleSheet("color: #B45309;")
        self.warning_label.hide()
        outer.addWidget(self.warning_label)
        self.focus_after: QWidget | None = None  # the widget the chips follow in the Tab order
        self._update()

    # ------------------------------------------------------------------ state
    def attachments(self) -> list[Attachment]:
        return list(self._files)

    def chips(self) -> list[FileChip]:
        out = []
        for i in range(self.chips_box.count()):
            item = self.chips_box.itemAt(i)
            w = item.widget() if item is not None else None
            if isinstance(w, FileChip):
                out.append(w)
        return out

    def error_text(self) -> str:
        return self.error_label.text() if not self.error_label.isHidden() else ""

    def add(self, files: Iterable[Attachment]) -> list[Attachment]:
        """Add `files` (already checked); a file attached already is not added twice."""
        added = []
        for att in files:
            if any(f.sha256 == att.sha256 for f in self._files):
                continue
            self._files.append(att)
            added.append(att)
        if added:
            self._rebuild()
            self.changed.emit()
        return added

    def add_paths(self, paths: Sequence[str]) -> list[Attachment]:
        """Check and add files from disk. Each bad one is refused with one line naming it (all shown
        under the chips); the good ones are added."""
        good, errors = [], []
        for p in paths:
            try:
                good.append(load_attachment(p))
            except AttachmentError as exc:
                errors.append(str(exc))
        added = self.add(good)
        self.show_errors(errors)
        return added

    def add_image(self, image: QImage, stem: str = "pasted-image") -> list[Attachment]:
        """A picture from the clipboard or a drop, as a PNG file named `<stem>-N.png`."""
        if image.isNull():
            self.show_errors(["The clipboard's picture could not be read"])
            return []
        self._pasted += 1
        name = f"{stem}-{self._pasted}.png"
        try:
            att = attachment_from_bytes(name, png_bytes(image))
        except AttachmentError as exc:
            self.show_errors([str(exc)])
            return []
        added = self.add([att])
        self.show_errors([])
        return added

    def remove(self, sha256: str) -> None:
        index = next((i for i, f in enumerate(self._files) if f.sha256 == sha256), -1)
        if index < 0:
            return
        # a keyboard user removing a chip keeps a focus here: the next chip's ✕, else the prompt
        had_focus = any(c.remove.hasFocus() or c.button.hasFocus() for c in self.chips())
        del self._files[index]
        self.error_label.hide()
        self._rebuild()
        if had_focus:
            chips = self.chips()
            if chips:
                chips[min(index, len(chips) - 1)].remove.setFocus(Qt.FocusReason.TabFocusReason)
            elif self.focus_after is not None:
                self.focus_after.setFocus(Qt.FocusReason.TabFocusReason)
        self.changed.emit()

    def clear(self) -> None:
        had = bool(self._files)
        self._files = []
        self.show_errors([])
        self._rebuild()
        if had:
            self.changed.emit()

    def warning_text(self) -> str:
        return self.warning_label.text() if not self.warning_label.isHidden() else ""

    def show_warnings(self, lines: Sequence[str]) -> None:
        """What would go wrong if sent now (a model that cannot read a file); empty: nothing."""
        text = "\n".join(lines)
        if text != self.warning_label.text() or self.warning_label.isHidden() == bool(lines):
            self.warning_label.setText(text)
            self.warning_label.setVisible(bool(lines))
            self._update()

    def show_errors(self, lines: Sequence[str]) -> None:
        self.error_label.setText("\n".join(lines))
        self.error_label.setVisible(bool(lines))
        self._update()

    # ------------------------------------------------------------------ chips
    def _rebuild(self) -> None:
        for chip in self.chips():
            self.chips_box.removeWidget(chip)
            chip.hide()
            chip.deleteLater()
        chain: list[QWidget] = [self.focus_after] if self.focus_after is not None else []
        for att in self._files:
            chip = FileChip(att, self.chips_area)
            chip.clicked.connect(self._on_chip_clicked)
            chip.remove_clicked.connect(self.remove)
            self.chips_box.addWidget(chip)
            chip.show()
            chain += [chip.button, chip.remove]
        for first, second in zip(chain, chain[1:], strict=False):
            QWidget.setTabOrder(first, second)
        self._update()

    def _update(self) -> None:
        self.chips_area.setVisible(bool(self._files))
        self.setVisible(bool(self._files) or not self.error_label.isHidden() or not self.warning_label.isHidden())
        self.updateGeometry()

    def _on_chip_clicked(self, sha256: str) -> None:
        index = next((i for i, f in enumerate(self._files) if f.sha256 == sha256), 0)
        self.view_requested.emit(list(self._files), index)


# ====================================================================================== the viewer
class AttachmentViewer(QDialog):
    """One file of a prompt (‹ › or the arrow keys step through the others): an image at full size,
    scrolling, in a window that fits the screen; a PDF's or text file's name, pages and size, and a
    text file's text. "Open" hands the file to the system's viewer: the only way anything leaves."""

    def __init__(self, files: Sequence[Attachment], index: int = 0, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("AttachmentViewer")
        self.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._files = list(files)
        self._index = max(0, min(index, len(self._files) - 1))
        self._opened_dir: tempfile.TemporaryDirectory | None = None
        layout = QVBoxLayout(self)
        self.title = QLabel(self)
        self.title.setTextFormat(Qt.TextFormat.PlainText)
        self.title.setWordWrap(True)
        layout.addWidget(self.title)
        self.image_area = QScrollArea(self)
        self.image_area.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_label = QLabel(self.image_area)
        self.image_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.image_area.setWidget(self.image_label)
        self.image_area.setWidgetResizable(False)
        layout.addWidget(self.image_area, 1)
        self.text_view = QPlainTextEdit(self)
        self.text_view.setReadOnly(True)
        self.text_view.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        layout.addWidget(self.text_view, 1)
        self.info = QLabel(self)
        self.info.setTextFormat(Qt.TextFormat.PlainText)
        self.info.setWordWrap(True)
        layout.addWidget(self.info)
        buttons = QDialogButtonBox(self)
        self.prev_button = QPushButton("‹ Previous", self)
        self.next_button = QPushButton("Next ›", self)
        self.open_button = QPushButton("Open", self)
        self.open_button.setToolTip("Open this file with the system's viewer (a copy in a private temporary folder)")
        self.close_button = buttons.addButton(QDialogButtonBox.StandardButton.Close)
        for b in (self.prev_button, self.next_button, self.open_button):
            buttons.addButton(b, QDialogButtonBox.ButtonRole.ActionRole)
        buttons.rejected.connect(self.reject)
        self.prev_button.clicked.connect(lambda: self.show_file(self._index - 1))
        self.next_button.clicked.connect(lambda: self.show_file(self._index + 1))
        self.open_button.clicked.connect(self.open_outside)
        for keys, step in (("Left", -1), ("Right", 1)):
            shortcut = QShortcut(QKeySequence(keys), self)
            shortcut.activated.connect(lambda s=step: self.show_file(self._index + s))
        layout.addWidget(buttons)
        self.show_file(self._index)

    @property
    def attachment(self) -> Attachment:
        return self._files[self._index]

    def show_file(self, index: int) -> None:
        if not 0 <= index < len(self._files):
            return
        self._index = index
        att = self._files[index]
        many = len(self._files) > 1
        self.prev_button.setVisible(many)
        self.next_button.setVisible(many)
        self.prev_button.setEnabled(index > 0)
        self.next_button.setEnabled(index < len(self._files) - 1)
        where = f"  ({index + 1} of {len(self._files)})" if many else ""
        self.setWindowTitle(att.name)
        self.title.setText(att.describe() + where)
        image = full_image(att)
        self.image_area.setVisible(not image.isNull())
        self.text_view.setVisible(att.kind == "text")
        self.image_label.clear()
        info = ""
        if not image.isNull():
            self.image_label.setPixmap(QPixmap.fromImage(image))
            self.image_label.resize(image.size())
        elif att.kind == "pdf":
            info = (f"{att.name}\nPDF, {att.pages} page{'s' if att.pages != 1 else ''}, {human_size(att.size)}\n"
                    "Models that read PDFs get the file; the others get its text.")
        elif att.kind == "text":
            text = att.text()
            self.text_view.setPlainText(text[:200_000] + ("\n…" if len(text) > 200_000 else ""))
            info = f"{human_size(att.size)}, {text.count(chr(10)) + 1:,} lines"
        else:  # an image Qt cannot decode here (a WebP without the plugin)
            info = f"{att.describe()}\nNo preview here: Open shows it in the system's viewer."
        self.info.setText(info)
        self.info.setVisible(bool(info))
        self._fit(image)

    def _fit(self, image: QImage) -> None:
        """As large as the content, never larger than most of the screen (then it scrolls)."""
        screen = self.screen() or QGuiApplication.primaryScreen()
        avail = screen.availableGeometry().size() * 0.9 if screen is not None else QSize(1200, 800)
        if not image.isNull():
            want = QSize(image.width() + 40, image.height() + 120)
        elif self._files[self._index].kind == "text":
            want = QSize(760, 600)
        else:
            want = QSize(440, 200)
        want = want.expandedTo(QSize(360, 180))
        self.resize(min(want.width(), avail.width()), min(want.height(), avail.height()))

    def open_outside(self) -> bool:
        """The user clicked Open: write a copy to a private temporary folder and open it there."""
        att = self.attachment
        if self._opened_dir is None:
            self._opened_dir = tempfile.TemporaryDirectory(prefix="triptych-file-")
        path = Path(self._opened_dir.name) / att.name
        path.write_bytes(att.data)
        path.chmod(0o600)
        return QDesktopServices.openUrl(QUrl.fromLocalFile(str(path)))

    def done(self, result: int) -> None:
        super().done(result)
        # (the temporary copy stays while the system viewer may still read it; the folder goes with the
        # dialog's Python object)


# ====================================================================================== the window's glue
class _DropFilter(QObject):
    """Catches file drops on a widget (text drags go on as before) and hands them to `WindowAttachments`."""

    def __init__(self, owner: WindowAttachments) -> None:
        super().__init__(owner)
        self._owner = owner

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:
        if not isinstance(event, QDropEvent):  # (drag enter and drag move events are drop events too)
            return False
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            if carries_files(event.mimeData()):
                event.acceptProposedAction()
                return True
            return False
        if kind == QEvent.Type.Drop and carries_files(event.mimeData()):
            event.acceptProposedAction()
            self._owner.drop(event.mimeData(), obj, event.position().toPoint())
            return True
        return False


class WindowAttachments(QObject):
    """Wires the window's gestures to the composer's files (see the module docstring)."""

    def __init__(self, window: MainWindow) -> None:
        super().__init__(window)
        self._window = window
        self.viewer: AttachmentViewer | None = None
        composer = window.composer
        self.bar: AttachmentBar = composer.files
        self._filter = _DropFilter(self)
        self.drop_targets = [composer, composer.edit.viewport(), window.view.viewport()]
        for w in self.drop_targets:
            w.setAcceptDrops(True)
            w.installEventFilter(self._filter)
        composer.edit.files_pasted.connect(self._on_edit_files_pasted)
        self.bar.view_requested.connect(self.open_viewer)
        window.scene.card_action_requested.connect(self._on_scene_card_action_requested)

    # ------------------------------------------------------------------ gestures
    def choose_files(self) -> list[Attachment]:
        """File → Attach…: the file dialog (DialogService.attach_paths), then the chips."""
        settings = self._window.settings
        folder = str(settings.ui.get("attach_dir") or Path.home())
        paths = self._window.dialogs.attach_paths(folder)
        if not paths:
            return []
        settings.ui["attach_dir"] = str(Path(paths[0]).parent)
        added = self.bar.add_paths(paths)
        self._window.composer.focus_prompt()
        return added

    def attach_mime(self, mime: QMimeData, stem: str) -> list[Attachment]:
        paths = local_paths(mime)
        if paths:
            return self.bar.add_paths(paths)
        if mime.hasImage():
            return self.bar.add_image(QImage(mime.imageData()), stem)
        remote = [u.fileName() or u.host() or u.toString() for u in mime.urls()]
        self.bar.show_errors([NOT_LOCAL.format(name=name) for name in remote])
        return []

    def drop(self, mime: QMimeData, target: QObject, pos: QPoint) -> list[Attachment]:
        """Files dropped on `target` at `pos`. On the canvas, a drop on a card also makes the next send
        a follow-up of it (as a user expects from dropping a file on a conversation): on an answer or
        a note, that card; on a prompt, each of its answers' lanes. Nothing is sent until Send."""
        added = self.attach_mime(mime, "dropped-image")
        window = self._window
        if target is window.view.viewport() and added:
            self._follow_card_at(pos, added)
        window.composer.focus_prompt()
        return added

    def _follow_card_at(self, pos: QPoint, added: list[Attachment]) -> None:
        from ui.canvas.cards import CardItem

        window = self._window
        card = next((i for i in window.view.items(pos) if isinstance(i, CardItem)), None)
        graph = window.controller.graph
        if card is None or graph is None:
            return
        node = graph.nodes.get(card.node_id)
        if node is None:
            return
        if node.kind == NodeKind.PROMPT:
            follow = [e.child_id for e in graph.children(node.id, (EdgeRole.REPLY,))
                      if (n := graph.nodes.get(e.child_id)) is not None and n.is_answer and n.text.strip()]
        else:
            follow = [node.id] if node.text.strip() else []
        if not follow:
            return
        window.scene.select_only(follow)
        window.composer.set_mode(SendMode.LANES.value)
        names = ", ".join(a.name for a in added)
        lanes = f"each of its {len(follow)} answers" if len(follow) > 1 else "this card"
        window.statusBar().showMessage(f"{names} attached: the next send follows up {lanes}", 8000)

    def _on_edit_files_pasted(self, mime: QMimeData) -> None:
        self.attach_mime(mime, "pasted-image")

    # ------------------------------------------------------------------ viewing
    def open_viewer(self, files: list, index: int) -> AttachmentViewer | None:
        if not files:
            return None
        if self.viewer is not None:
            self.viewer.close()
        viewer = AttachmentViewer(files, index, self._window)
        viewer.destroyed.connect(self._on_viewer_destroyed)
        self.viewer = viewer
        viewer.show()
        viewer.raise_()
        viewer.activateWindow()
        return viewer

    def _on_viewer_destroyed(self, _obj: QObject | None = None) -> None:
        self.viewer = None

    def _on_scene_card_action_requested(self, node_id: str, action: str, arg: object) -> None:
        graph = self._window.controller.graph
        node = graph.nodes.get(node_id) if graph is not None else None
        if node is None or node.kind != NodeKind.PROMPT:
            return
        if action == "open_file" and node.attachments:
            self.open_viewer(list(node.attachments), int(arg) if isinstance(arg, int) else 0)
        elif action == "branch":
            # Edit & branch (the controller has put the prompt's text in the composer): its files too
            self.bar.clear()
            self.bar.add(node.attachments)
