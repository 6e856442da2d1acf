"""The main window: composes the sidebar, canvas, composer, context lens and status bar, and wires them
to the CanvasController. It does not think: every decision is the controller's (STYLE.md §8).

Qt main thread only.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QCloseEvent, QResizeEvent, QShowEvent, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QLabel,
    QMainWindow,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from app.arena_view import BlindRule
from app.write_queue import WriteBehindStore
from ui import sweep_cells
from ui.arena import ArenaBar, ArenaController
from ui.attach import WindowAttachments
from ui.canvas import constants as C
from ui.canvas.scene import CanvasScene
from ui.canvas.style import CardStyle
from ui.canvas.view import CanvasView
from ui.composer import ComposerWidget
from ui.controller import CanvasController
from ui.dialogs import DialogService
from ui.draft import refresh_draft
from ui.lens import ContextLensPanel
from ui.render_bridge import RenderBridge
from ui.sidebar import SessionsSidebar
from ui.theme import UiTheme, apply_theme, resolve_theme
from ui.window_dialogs import DialogOpener
from ui.window_menus import build_menus
from ui.window_state import restore_window_state, save_window_state
from ui.window_status import WindowStatus

if TYPE_CHECKING:
    import httpx

    from app.catalog import Catalog
    from app.config import Settings
    from app.engine import Engine
    from app.repository import Repository
    from ui.settings_dialog import SettingsDialog
    from ui.team_copy import TeamCopy
    from ui.views import ComparisonTableDialog, DiffDialog, FocusDialog

log = logging.getLogger(__name__)


class WelcomePanel(QFrame):
    """Shown over an empty canvas: what to do first (and, with no keys, how to add them)."""

    settings_clicked = Signal()

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setObjectName("WelcomePanel")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAutoFillBackground(True)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(24, 20, 24, 20)
        self.title = QLabel("<h2 style='margin:0'>Ask several models at once</h2>", self)
        layout.addWidget(self.title)
        self.body = QLabel(self)
        self.body.setWordWrap(True)
        self.body.setTextFormat(Qt.TextFormat.RichText)
        layout.addWidget(self.body)
        self.settings_button = QPushButton("Open Settings", self)
        self.settings_button.clicked.connect(self.settings_clicked)
        layout.addWidget(self.settings_button, 0, Qt.AlignmentFlag.AlignLeft)
        self.setFixedWidth(560)

    def set_keys_missing(self, missing: bool) -> None:
        if missing:
            self.body.setText(
                "<p><b>No API keys yet.</b> Triptych sends your prompt to DeepSeek, Claude and GPT side by "
                "side, and needs at least one key to do it. Either:</p>"
                "<ul><li>open <b>Settings → Providers</b>, paste a key and press <i>Save key</i> "
                "(stored in your OS keyring: it works however Triptych is started, from the app menu "
                "too), or</li>"
                "<li>set <code>DEEPSEEK_API_KEY</code>, <code>ANTHROPIC_API_KEY</code> or "
                "<code>OPENAI_API_KEY</code> (or <code>OPENROUTER_API_KEY</code>) and restart. Started from "
                "the app menu, Triptych does not see your shell's variables: put <code>NAME=key</code> "
                "lines in <code>~/.config/environment.d/triptych.conf</code> and log in again.</li></ul>"
                "<p>Local models via Ollama or LM Studio need no key: pick them with <b>+ Model</b>.</p>"
            )
            self.settings_button.show()
        else:
            self.body.setText(
                "<p>Type a question below and press <b>Ctrl+Enter</b>. Each chosen model answers in its own "
                "card, streaming live, with time-to-first-token, speed, tokens and cost.</p>"
                "<p>Select an answer and send again to continue that lane; select several to continue each "
                "lane or share them as context; <b>Synthesize</b> merges or judges answers. "
                "Press <b>?</b> on the canvas for every shortcut.</p>"
            )
            self.settings_button.hide()
        self.adjustSize()

    def reposition(self) -> None:
        parent = self.parentWidget()
        if parent is not None:
            self.adjustSize()
            self.move(
                max((parent.width() - self.width()) // 2, 8), max((parent.height() - self.height()) // 3, 8)
            )


class MainWindow(QMainWindow):
    closed = Signal()
    # made by ui.window_menus.build_menus
    card_actions: dict[str, QAction]
    attach_action: QAction
    import_action: QAction
    export_action: QAction
    export_selection_action: QAction
    undo_action: QAction
    redo_action: QAction
    minimap_action: QAction
    sidebar_action: QAction
    lens_action: QAction
    copy_to_team_action: QAction
    team_copy: TeamCopy
    new_sweep_action: QAction
    blind_action: QAction  # the composer's (ui/composer.py): one toggle in two menus
    vote_actions: list[QAction]
    judge_action: QAction
    leaderboard_action: QAction
    cost_action: QAction

    def __init__(
        self,
        settings: Settings,
        repo: Repository,
        catalog: Catalog,
        engine: Engine,
        client_getter: Callable[[], httpx.AsyncClient] | None = None,
        parent: QWidget | None = None,
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.repo = repo
        self.catalog = catalog
        self.engine = engine
        self.client_getter = client_getter or (lambda: engine.client)
        self.setWindowTitle("Triptych")
        self.resize(1440, 900)
        self.undo_stack = QUndoStack(self)
        self.dialogs = DialogService(self)
        self.ui_theme = resolve_theme(settings.ui.get("theme", "system"))
        self.blind = BlindRule()  # blind-match cards before the vote: the cards' style and ui.arena share it
        self.scene = CanvasScene(self._make_style(self.ui_theme), self)
        self.view = CanvasView(self.scene, self)
        self.sidebar = SessionsSidebar(self)
        self.composer = ComposerWidget(catalog, settings, self)
        self.lens = ContextLensPanel(catalog.display_name, self)
        self.lens.hide()
        self.welcome = WelcomePanel(self.view)
        self.controller = CanvasController(
            repo, engine, settings, catalog, self.scene, self.view, self.undo_stack, self.dialogs, self
        )
        self.arena = ArenaController(self.controller, self.blind, self)  # Blind match, votes (ui/arena.py)
        self.arena_bar = ArenaBar(self.arena, self)
        self._shown_once = False
        self._saved_session: str | None = settings.ui.get("last_session")
        self._build_layout()
        self.status = WindowStatus(self.statusBar(), self.controller)
        if isinstance(repo, WriteBehindStore):  # the app's store: writes wait while another program writes
            repo.subscribe(self.status.show_saving)
        self.running_label, self.totals_label, self.zoom_label = self.status.labels()
        self.status.blind = lambda: self.blind.session_is_blind(self.controller.session_id)
        self.attach = WindowAttachments(self)  # drops, pastes, File → Attach…, the file viewer
        self.opener = DialogOpener(self)  # focus mode, diff, table, settings, export, import
        build_menus(self)
        self._connect_signals()
        self._lens_timer = QTimer(self)
        self._lens_timer.setSingleShot(True)
        self._lens_timer.setInterval(C.LENS_DEBOUNCE_MS)
        self._lens_timer.timeout.connect(self._on_lens_timer_timeout)
        restore_window_state(self)
        self.composer.set_models(self._initial_models(), announce=False)
        self.controller.open_initial_session()
        self.refresh_sessions()
        self.update_welcome()
        self.composer.focus_prompt()

    def __repr__(self) -> str:
        return f"<MainWindow {self.windowTitle()!r}>"

    # ================================================================== composition
    def _make_style(self, theme: UiTheme) -> CardStyle:
        font_size = float(self.settings.ui.get("font_size", 10))
        names = self.settings.display_names
        return CardStyle(
            theme=theme,
            font_size=font_size,
            display_name=self.catalog.display_name,
            provider_color=self.catalog.provider_color,
            provider_display=lambda p: names.get(p, p),
            renderer=RenderBridge(theme.name),
            blind=self.blind,
        )

    def _build_layout(self) -> None:
        self.canvas_split = QSplitter(Qt.Orientation.Horizontal, self)
        self.canvas_split.addWidget(self.view)
        self.canvas_split.addWidget(self.lens)
        self.canvas_split.setStretchFactor(0, 1)
        self.canvas_split.setCollapsible(0, False)
        right = QWidget(self)
        box = QVBoxLayout(right)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.canvas_split, 1)
        box.addWidget(self.arena_bar, 0)
        box.addWidget(self.composer, 0)
        self.main_split = QSplitter(Qt.Orientation.Horizontal, self)
        self.main_split.addWidget(self.sidebar)
        self.main_split.addWidget(right)
        self.main_split.setStretchFactor(1, 1)
        self.main_split.setSizes([250, 1190])
        self.canvas_split.setSizes([900, 380])
        self.setCentralWidget(self.main_split)
        # Shift+Tab from the prompt reaches the canvas just above it (arrow keys then move between
        # cards, Ctrl+A selects them all), and Tab from the canvas comes back to the prompt.
        QWidget.setTabOrder(self.view, self.composer.edit)

    def _connect_signals(self) -> None:
        c = self.controller
        c.session_changed.connect(self._on_controller_session_changed)
        c.sessions_changed.connect(self._on_controller_sessions_changed)
        c.totals_changed.connect(self.status.show_totals)
        c.running_changed.connect(self._on_controller_running_changed)
        c.message_posted.connect(self._on_controller_message_posted)
        c.follow_changed.connect(self._on_controller_follow_changed)
        c.settings_requested.connect(self.open_settings)
        c.focus_requested.connect(self.open_focus)
        c.sweeps.focus_dialog_of = lambda: self.opener.focus_dialog  # a sweep cell's focus mode gets its buttons
        c.sweeps.progress_changed.connect(self.status.show_sweep_progress)
        c.card_rendered.connect(self.opener.on_card_rendered)
        c.composer_fill_requested.connect(self._on_controller_composer_fill_requested)
        c.composer_focus_requested.connect(self.composer.focus_prompt)
        c.mode_change_requested.connect(self.composer.set_mode)
        c.diff_requested.connect(self.open_diff)
        c.table_requested.connect(self.open_table)
        c.nodes_sent.connect(self._on_controller_nodes_sent)
        self.composer.send_requested.connect(self._on_composer_send_requested)
        self.stop_button = self.status.stop_button  # beside "● N streaming" while answers stream
        self.stop_button.clicked.connect(lambda: c.stop(None))
        self.composer.targets_changed.connect(self._on_composer_targets_changed)
        self.composer.draft_changed.connect(self._on_composer_draft_changed)
        self.composer.follow_cleared.connect(c.clear_follow)
        self.composer.lens_toggled.connect(self._on_composer_lens_toggled)
        self.composer.preset_saved.connect(self._on_composer_preset_saved)
        self.sidebar.session_activated.connect(c.open_session)
        self.sidebar.new_session_requested.connect(c.start_session)
        self.sidebar.rename_requested.connect(self._on_sidebar_rename_requested)
        self.sidebar.duplicate_requested.connect(c.duplicate_session)
        self.sidebar.delete_requested.connect(c.delete_session)
        self.sidebar.search_changed.connect(self._on_sidebar_search_changed)
        self.sidebar.hit_activated.connect(self._on_sidebar_hit_activated)
        self.view.viewport_changed.connect(self.status.show_zoom)
        self.welcome.settings_clicked.connect(lambda: self.open_settings(""))
        hints = QApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self._on_style_hints_color_scheme_changed)

    def _on_style_hints_color_scheme_changed(self, _scheme: object) -> None:
        if self.settings.ui.get("theme", "system") == "system":
            self.set_theme_mode("system")

    # ================================================================== slots
    def _on_controller_session_changed(self, session_id: str, title: str) -> None:
        self.setWindowTitle(f"Triptych — {title or 'Untitled'}")
        self.sidebar.set_current(session_id)
        self.update_welcome()
        if self._saved_session != session_id:
            # Said at once (not only at a clean close): after a crash the app reopens this session.
            self._saved_session = session_id
            self._save_settings_quietly()

    def _on_controller_sessions_changed(self) -> None:
        self.refresh_sessions()
        self.update_welcome()

    def refresh_sessions(self) -> None:
        self.sidebar.set_sessions(self.repo.list_sessions(), self.controller.session_id)

    def _on_controller_running_changed(self, count: int) -> None:
        self.status.show_running(count)
        self.composer.set_running(count)

    def _on_controller_message_posted(self, text: str, ms: int) -> None:
        self.statusBar().showMessage(text, ms)

    def _on_controller_composer_fill_requested(self, text: str) -> None:
        if self.composer.set_text(text):
            self.statusBar().showMessage("Your draft was replaced — Ctrl+Z brings it back", 8000)

    def _on_controller_follow_changed(self, ids: list) -> None:
        graph = self.controller.graph
        labels = []
        models: list[str | None] = []
        for node_id in ids:
            node = graph.nodes.get(node_id) if graph else None
            if node is None:
                continue
            if self.blind.is_blind(node_id):  # "Following Model A", never its name
                labels.append(self.blind.label(node_id) or "")
                models.append(None)
                continue
            labels.append(self.catalog.display_name(node.model) if node.model else (node.title or "note"))
            models.append(node.model if node.is_answer and node.model else None)
        self.composer.set_follow_models(models)
        from app.present.text import snippet

        branch = graph.nodes.get(self.controller.branch_of) if graph and self.controller.branch_of else None
        self.composer.set_follow(labels, snippet(branch.text, 40) if branch is not None else None)
        self._on_composer_draft_changed()

    def _on_controller_nodes_sent(self, ids: list) -> None:
        self.composer.clear()
        self.update_welcome()

    def _on_composer_send_requested(self) -> None:
        if self.arena.takes_send(self.composer):  # a blind match, or a follow-up to one before the vote
            return
        ids = self.controller.send(self.composer.text(), self.composer.targets(), self.composer.mode(),
                                   attachments=self.composer.attachments())
        if ids:
            self.composer.focus_prompt()

    def _on_composer_targets_changed(self, refs: list) -> None:
        self.settings.ui["default_models"] = list(refs)
        self._save_settings_quietly()

    def _on_composer_draft_changed(self) -> None:
        self._lens_timer.start()

    def _on_lens_timer_timeout(self) -> None:
        self.refresh_lens()

    def refresh_lens(self) -> None:
        """Re-plan the composer's draft for the estimate label and, if open, the lens (ui/draft.py)."""
        refresh_draft(self)

    def _on_composer_lens_toggled(self, on: bool) -> None:
        self.lens.setVisible(on)
        self.lens_action.setChecked(on)
        if on:
            self.refresh_lens()

    def _on_composer_preset_saved(self, name: str, refs: list) -> None:
        presets = self.settings.ui.setdefault("presets", {})
        presets[name] = list(refs)
        self._save_settings_quietly()
        self.statusBar().showMessage(f"Saved preset “{name}”.", 3000)

    def _on_sidebar_rename_requested(self, session_id: str) -> None:
        session = self.repo.get_session(session_id)
        if session is None:
            return
        title = self.dialogs.ask_text("Rename session", "Title:", session.title)
        if title:
            self.controller.rename_session(session_id, title)

    def _on_sidebar_search_changed(self, query: str) -> None:
        if not query:
            self.refresh_sessions()
            return
        try:
            hits = self.repo.search(query, limit=80)
        except Exception as exc:
            self.statusBar().showMessage(f"Search failed: {exc}", 5000)
            return
        self.sidebar.set_hits(query, [self.arena.present_hit(h) for h in hits])

    def _on_sidebar_hit_activated(self, session_id: str, node_id: str) -> None:
        """Show the match: its session, the card selected and centred at a zoom where it reads."""
        if self.controller.session_id != session_id:
            self.controller.open_session(session_id)
        card = self.scene.card(node_id)
        if card is None:
            return
        self.scene.select_only([node_id])
        # Selecting shows the composer's "Following" bar, which takes height from the canvas: lay the
        # window out first, so the card is centred in the canvas the user will see.
        QApplication.sendPostedEvents(None, QEvent.Type.LayoutRequest)
        view = self.view
        rect = card.sceneBoundingRect()
        vp = view.viewport().rect()
        margin = 40.0
        fit = min((vp.width() - 2 * margin) / rect.width(), (vp.height() - 2 * margin) / rect.height())
        zoom = min(max(view.zoom(), C.READABLE_ZOOM), fit)
        view.set_viewport(rect.center().x(), rect.center().y(), zoom)

    # ================================================================== commands from menus
    def open_focus(self, node_id: str) -> None:
        self.opener.open_focus(node_id)

    @property
    def _focus_dialog(self) -> FocusDialog | None:
        """The focus-mode dialog open now, if any."""
        return self.opener.focus_dialog

    def open_diff(self, left_id: str, right_id: str) -> DiffDialog | None:
        return self.opener.open_diff(left_id, right_id)

    def open_table(self, prompt_id: str) -> ComparisonTableDialog | None:
        return self.opener.open_table(prompt_id)

    def open_settings(self, provider: str = "") -> SettingsDialog:
        return self.opener.open_settings(provider)

    def set_theme_mode(self, mode: str, font_size: int | None = None) -> None:
        self.settings.ui["theme"] = mode
        if font_size is not None:
            self.settings.ui["font_size"] = font_size
        self._save_settings_quietly()
        self.ui_theme = resolve_theme(mode)
        app = QApplication.instance()
        if isinstance(app, QApplication):
            apply_theme(app, self.ui_theme, int(self.settings.ui.get("font_size", 10)))
        self.scene.set_style(self._make_style(self.ui_theme))
        self.view.viewport().update()
        self.view.minimap.update()

    def show_shortcuts(self) -> None:
        self.opener.show_shortcuts()

    def export_dialog(self, selection: bool = False) -> None:
        self.opener.export_dialog(selection)

    def export_to(self, path: str, fmt: str, node_ids: list[str] | None = None, scope: str | None = None,
                  include_reasoning: bool = True) -> None:
        self.opener.export_to(path, fmt, node_ids, scope, include_reasoning)

    def import_dialog(self) -> None:
        self.opener.import_dialog()

    def import_from(self, path: str) -> str | None:
        return self.opener.import_from(path)

    # ================================================================== window state
    def _initial_models(self) -> list[str]:
        saved = self.settings.ui.get("default_models")
        if isinstance(saved, list) and saved:
            return [str(r) for r in saved]
        return self.catalog.default_models(self.settings)

    def keys_changed(self, initial: list[str] | None = None) -> None:
        """The providers' keys changed (the keyring answered after start-up, the settings dialog):
        the welcome's "add a key" and the composer's "(no key)" marks say so. `initial`: the models
        the window started with before the keyring answered; still untouched and not saved, they
        are chosen again now that the keys are known (the defaults are the providers with a key)."""
        self.update_welcome()
        models = self.composer.models()
        if initial is not None and models == initial and not self.settings.ui.get("default_models"):
            models = self._initial_models()
        self.composer.set_models(models, announce=False)

    def update_welcome(self) -> None:
        graph = self.controller.graph
        empty = graph is None or not graph.nodes
        keys = any(self.settings.has_key(p) for p, cfg in self.settings.providers.items() if not cfg.local)
        self.welcome.set_keys_missing(not keys)
        self.welcome.setVisible(empty)
        self.welcome.reposition()
        self.welcome.raise_()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.welcome.reposition()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self.welcome, self.welcome.reposition)
        if not event.spontaneous() and not self._shown_once:
            # The window opens with the keyboard in the prompt: a focus asked for while hidden can be
            # lost when the window activates, and the tab chain starts at the canvas.
            self._shown_once = True
            self.composer.focus_prompt()

    def save_window_state(self) -> None:
        save_window_state(self)

    def _save_settings_quietly(self) -> None:
        from app.config import ConfigError

        try:
            self.settings.save()
        except (OSError, ConfigError) as exc:
            log.warning("could not save config.toml: %s", exc)

    def closeEvent(self, event: QCloseEvent) -> None:
        # streams or a running sweep: the user says (and what Resume sweep runs later); no cell starts meanwhile
        if not sweep_cells.confirm_quit(self.controller.sweeps, self.engine.running_count):
            event.ignore()
            return
        self.save_window_state()
        self.arena.close()
        if isinstance(self.repo, WriteBehindStore):
            self.repo.unsubscribe(self.status.show_saving)
        self.controller.close()
        self._save_settings_quietly()
        super().closeEvent(event)
        self.closed.emit()
