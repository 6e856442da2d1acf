"""The main window: composes the sidebar, canvas, composer, context lens and status bar, and wires them
to the CanvasController. It does not think: every decision is the controller's (STYLE.md §8).

Qt main thread only.
"""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QByteArray, QEvent, QMargins, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QActionGroup, QKeySequence, QUndoStack
from PySide6.QtWidgets import (
    QApplication,
    QFrame,
    QLabel,
    QMainWindow,
    QMessageBox,
    QPushButton,
    QSplitter,
    QVBoxLayout,
    QWidget,
)

from ui import card_actions
from ui.attach import WindowAttachments
from ui.canvas import constants as C
from ui.canvas.scene import CanvasScene
from ui.canvas.style import CardStyle
from ui.canvas.view import CanvasView
from ui.composer import ComposerWidget
from ui.controller import CanvasController
from ui.dialogs import DialogService, ShortcutsDialog
from ui.format import fmt_cost, fmt_tokens
from ui.lens import ContextLensPanel
from ui.render_bridge import RenderBridge
from ui.sidebar import SessionsSidebar
from ui.theme import UiTheme, apply_theme, resolve_theme

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
                "<ul><li>set <code>DEEPSEEK_API_KEY</code>, <code>ANTHROPIC_API_KEY</code> or "
                "<code>OPENAI_API_KEY</code> (or <code>OPENROUTER_API_KEY</code>) in your environment and "
                "restart, or</li>"
                "<li>open <b>Settings → Providers</b>, paste a key and press <i>Save key</i> "
                "(stored in your OS keyring).</li></ul>"
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

    def __init__(
        self, settings, repo, catalog, engine, client_getter=None, parent: QWidget | None = None
    ) -> None:
        super().__init__(parent)
        self.settings = settings
        self.repo = repo
        self.catalog = catalog
        self.engine = engine
        self._client_getter = client_getter or (lambda: engine.client)
        self.setWindowTitle("Triptych")
        self.resize(1440, 900)
        self.undo_stack = QUndoStack(self)
        self.dialogs = DialogService(self)
        self.ui_theme = resolve_theme(settings.ui.get("theme", "system"))
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
        self._focus_dialog = None
        self._shown_once = False
        self._saved_session: str | None = settings.ui.get("last_session")
        self._build_layout()
        self._build_status_bar()
        self.attach = WindowAttachments(self)  # drops, pastes, File → Attach…, the file viewer
        self._build_actions()
        self._connect_signals()
        self._lens_timer = QTimer(self)
        self._lens_timer.setSingleShot(True)
        self._lens_timer.setInterval(C.LENS_DEBOUNCE_MS)
        self._lens_timer.timeout.connect(self._on_lens_timer_timeout)
        self._restore_window_state()
        self.composer.set_models(self._initial_models(), announce=False)
        self.controller.open_initial_session()
        self._refresh_sessions()
        self._update_welcome()
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

    def _build_status_bar(self) -> None:
        bar = self.statusBar()
        self.running_label = QLabel("", self)
        self.totals_label = QLabel("", self)
        self.zoom_label = QLabel("", self)
        bar.addPermanentWidget(self.running_label)
        bar.addPermanentWidget(self.totals_label)
        bar.addPermanentWidget(self.zoom_label)

    def _action(
        self,
        menu,
        text: str,
        slot,
        shortcut: str | QKeySequence.StandardKey | None = None,
        canvas_only: bool = False,
        tip: str | None = None,
    ) -> QAction:
        action = QAction(text, self)
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
        # triggered(checked) must not reach a slot's optional parameter (new_session(title) got False)
        action.triggered.connect(lambda _checked=False, slot=slot: slot())
        if canvas_only:
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
            self.view.addAction(action)
        else:
            self.addAction(action)
        if menu is not None:
            menu.addAction(action)
        return action

    def _build_card_actions(self) -> dict[str, QAction]:
        """One QAction per entry of the card actions' table (ui/card_actions.py); the Cards menu shows
        them all, Edit and View share a few (one action, one shortcut, several menus)."""
        c = self.controller
        actions = {}
        for entry in card_actions.CARD_ACTIONS:
            shortcut = QKeySequence.StandardKey.Delete if entry.shortcut == "Del" else entry.shortcut
            actions[entry.id] = self._action(None, entry.label, lambda i=entry.id: c.run_card_action(i), shortcut,
                                             canvas_only=entry.canvas_only)
        return actions

    def _build_actions(self) -> None:
        mb = self.menuBar()
        c = self.controller
        self.card_actions = cards = self._build_card_actions()
        file_menu = mb.addMenu("&File")
        self._action(file_menu, "New session", c.start_session, "Ctrl+N")
        file_menu.addSeparator()
        self.attach_action = self._action(
            file_menu, "Attach files…", lambda: self.attach.choose_files(), "Ctrl+Shift+A",
            tip="Add images, PDFs or text files to the next prompt (or drop them on the prompt, or paste)",
        )
        self.import_action = self._action(
            file_menu,
            "Import…",
            self.import_dialog,
            "Ctrl+O",
            tip="Open a Triptych .json export or a .canvas",
        )
        self.export_action = self._action(
            file_menu, "Export session…", lambda: self.export_dialog(selection=False), "Ctrl+E"
        )
        self.export_selection_action = self._action(
            file_menu, "Export selection…", lambda: self.export_dialog(selection=True), "Ctrl+Shift+E"
        )
        file_menu.addSeparator()
        self._action(file_menu, "Settings…", lambda: self.open_settings(""), "Ctrl+,")
        file_menu.addSeparator()
        self._action(file_menu, "Quit", self.close, "Ctrl+Q")

        edit_menu = mb.addMenu("&Edit")
        self.undo_action = self.undo_stack.createUndoAction(self, "Undo")
        self.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
        self.redo_action = self.undo_stack.createRedoAction(self, "Redo")
        self.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
        edit_menu.addAction(self.undo_action)
        edit_menu.addAction(self.redo_action)
        self.addAction(self.undo_action)
        self.addAction(self.redo_action)
        edit_menu.addSeparator()
        edit_menu.addAction(cards["delete"])
        self._action(
            edit_menu,
            "Select all cards",
            lambda: self.scene.select_only(self.scene.card_ids()),
            "Ctrl+A",
            canvas_only=True,
        )
        self._action(edit_menu, "Tidy up layout", c.tidy_up)
        edit_menu.addSeparator()
        self._action(edit_menu, "Search all sessions", self.sidebar.focus_search, "Ctrl+F")

        view_menu = mb.addMenu("&View")
        self._action(view_menu, "Fit all", self.view.fit_all, "Ctrl+0")
        self._action(view_menu, "Zoom to selection", self.view.zoom_to_selection, "Ctrl+2")
        self._action(view_menu, "Zoom in", self.view.zoom_in, "Ctrl+=")
        self._action(view_menu, "Zoom out", self.view.zoom_out, "Ctrl+-")
        view_menu.addSeparator()
        view_menu.addAction(cards["focus"])
        self.minimap_action = self._action(view_menu, "Minimap", self._on_minimap_action_toggled, "Ctrl+M")
        self.minimap_action.setCheckable(True)
        self.minimap_action.setChecked(bool(self.settings.ui.get("minimap", True)))
        self.view.minimap.setVisible(self.minimap_action.isChecked())
        self.sidebar_action = self._action(
            view_menu, "Sessions sidebar", self._on_sidebar_action_toggled, "Ctrl+B"
        )
        self.sidebar_action.setCheckable(True)
        self.sidebar_action.setChecked(True)
        self.lens_action = self._action(view_menu, "Context lens", self._on_lens_action_triggered, "Ctrl+L")
        self.lens_action.setCheckable(True)
        theme_menu = view_menu.addMenu("Theme")
        group = QActionGroup(self)
        for key, label in (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark")):
            action = theme_menu.addAction(label)
            action.setCheckable(True)
            action.setChecked(self.settings.ui.get("theme", "system") == key)
            action.triggered.connect(lambda _=False, k=key: self.set_theme_mode(k))
            group.addAction(action)

        cards_menu = mb.addMenu("&Cards")
        self._action(cards_menu, "Send", self._on_composer_send_requested, "Ctrl+Return")
        self.addAction(self._hidden_action("Ctrl+Enter", self._on_composer_send_requested))
        self._action(cards_menu, "Stop all streams", lambda: c.stop(None), "Ctrl+.")
        group = None
        for entry in card_actions.CARD_ACTIONS:
            if entry.group != group:
                cards_menu.addSeparator()
                group = entry.group
            cards_menu.addAction(cards[entry.id])

        help_menu = mb.addMenu("&Help")
        self._action(help_menu, "Keyboard shortcuts", self.show_shortcuts, "F1")
        self.view.addAction(self._hidden_action("?", self.show_shortcuts, canvas_only=True))
        self.view.addAction(self._hidden_action("Shift+?", self.show_shortcuts, canvas_only=True))
        self._action(help_menu, "About Triptych", self._show_about)

    def _hidden_action(self, shortcut: str, slot, canvas_only: bool = False) -> QAction:
        action = QAction(self)
        action.setShortcut(QKeySequence(shortcut))
        if canvas_only:
            action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        action.triggered.connect(lambda _checked=False, slot=slot: slot())
        return action

    def _connect_signals(self) -> None:
        c = self.controller
        c.session_changed.connect(self._on_controller_session_changed)
        c.sessions_changed.connect(self._on_controller_sessions_changed)
        c.totals_changed.connect(self._on_controller_totals_changed)
        c.running_changed.connect(self._on_controller_running_changed)
        c.message_posted.connect(self._on_controller_message_posted)
        c.follow_changed.connect(self._on_controller_follow_changed)
        c.settings_requested.connect(self.open_settings)
        c.focus_requested.connect(self.open_focus)
        c.card_rendered.connect(self._on_controller_card_rendered)
        c.composer_fill_requested.connect(self._on_controller_composer_fill_requested)
        c.composer_focus_requested.connect(self.composer.focus_prompt)
        c.mode_change_requested.connect(self.composer.set_mode)
        c.diff_requested.connect(self.open_diff)
        c.table_requested.connect(self.open_table)
        c.nodes_sent.connect(self._on_controller_nodes_sent)
        self.composer.send_requested.connect(self._on_composer_send_requested)
        self.composer.stop_requested.connect(lambda: c.stop(None))
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
        self.view.viewport_changed.connect(self._on_view_viewport_changed)
        self.welcome.settings_clicked.connect(lambda: self.open_settings(""))
        hints = QApplication.styleHints()
        if hasattr(hints, "colorSchemeChanged"):
            hints.colorSchemeChanged.connect(self._on_style_hints_color_scheme_changed)

    def _on_style_hints_color_scheme_changed(self, _scheme) -> None:
        if self.settings.ui.get("theme", "system") == "system":
            self.set_theme_mode("system")

    # ================================================================== slots
    def _on_controller_session_changed(self, session_id: str, title: str) -> None:
        self.setWindowTitle(f"Triptych — {title or 'Untitled'}")
        self.sidebar.set_current(session_id)
        self._update_welcome()
        if self._saved_session != session_id:
            # Said at once (not only at a clean close): after a crash the app reopens this session.
            self._saved_session = session_id
            self._save_settings_quietly()

    def _on_controller_sessions_changed(self) -> None:
        self._refresh_sessions()
        self._update_welcome()

    def _refresh_sessions(self) -> None:
        self.sidebar.set_sessions(self.repo.list_sessions(), self.controller.session_id)

    def _on_controller_totals_changed(self, totals: dict) -> None:
        cost = totals.get("cost_usd")
        unreported = int(totals.get("unreported") or 0)
        # from the store (every answer, read or not); else from the cards the window holds
        cost_unknown = bool(totals["cost_unknown"]) if "cost_unknown" in totals else self._session_cost_incomplete()
        text = (
            f"Session: in {fmt_tokens(int(totals.get('input') or 0))} · out {fmt_tokens(int(totals.get('output') or 0))}"
            f" · {fmt_cost(float(cost)) if cost is not None else '–'}{'+' if cost_unknown else ''}"
        )
        if unreported:
            # A stopped or cut stream never gets its usage report: say that the sums leave those answers out.
            text += f" · {unreported} answer{'s' if unreported != 1 else ''} without usage"
        self.totals_label.setText(text)
        tips = []
        if unreported:
            tips.append(
                "Tokens and cost the providers reported. An answer stopped, cut off or failed before its usage "
                "report (or from a server that reports none) has no output count: only what its provider did "
                "report (such as Claude's input tokens, sent first) is in these sums."
            )
        if cost_unknown:
            tips.append(
                "+: some answers' cost is unknown (a model without a price in the catalog, and no cost "
                "reported by its provider); the sum leaves them out."
            )
        self.totals_label.setToolTip("\n\n".join(tips))

    def _session_cost_incomplete(self) -> bool:
        from app.estimate import session_cost_incomplete

        return session_cost_incomplete(self.controller.graph)

    def _on_controller_running_changed(self, count: int) -> None:
        self.running_label.setText(f"● {count} streaming" if count else "")
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
            labels.append(self.catalog.display_name(node.model) if node.model else (node.title or "note"))
            models.append(node.model if node.is_answer and node.model else None)
        self.composer.set_follow_models(models)
        from app.export.common import snippet

        branch = graph.nodes.get(self.controller.branch_of) if graph and self.controller.branch_of else None
        self.composer.set_follow(labels, snippet(branch.text, 40) if branch is not None else None)
        self._on_composer_draft_changed()

    def _on_controller_nodes_sent(self, ids: list) -> None:
        self.composer.clear()
        self._update_welcome()

    def _on_composer_send_requested(self) -> None:
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
        """Re-plan the composer's draft (engine.plan) for the estimate label and, if open, the lens."""
        from app.estimate import draft_estimate

        targets = self.composer.targets()
        try:
            plans = self.controller.plan(self.composer.text(), targets, self.composer.mode(),
                                         attachments=self.composer.attachments())
        except Exception as exc:  # planning is advisory: say why, never break typing
            self.composer.set_estimate("")
            self.composer.files.show_warnings([])
            if self.lens.isVisible():
                self.lens.show_error(str(exc))
            return
        self.composer.files.show_warnings([
            "⚠ " + p.unsupported.replace(" was not sent", " will not be sent: its lane will fail")
            for p in plans if p.unsupported and self.composer.attachments()
        ])
        estimate = draft_estimate(plans)
        if estimate is not None:
            tokens, cost = estimate.input_tokens, estimate.cost_usd
            est = f"≈ {tokens:,} tokens in · est. {fmt_cost(cost)}" if cost is not None else f"≈ {tokens:,} tokens in"
            drafted = self.composer.text().strip() or self.composer.attachments()
            self.composer.set_estimate(est if drafted else "")
            self.composer.estimate_label.setToolTip(
                "Estimated before sending, offline: input tokens of the largest context, and the cost over all "
                "models assuming about 1,000 output tokens each. Open the context lens for details."
            )
        else:
            self.composer.set_estimate("")
        if self.lens.isVisible():
            self.lens.set_plans(plans, self.composer.text(), files=self.composer.attachments())

    def _on_composer_lens_toggled(self, on: bool) -> None:
        self.lens.setVisible(on)
        self.lens_action.setChecked(on)
        if on:
            self.refresh_lens()

    def _on_lens_action_triggered(self) -> None:
        self.composer.lens_button.setChecked(self.lens_action.isChecked())

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
            self._refresh_sessions()
            return
        try:
            hits = self.repo.search(query, limit=80)
        except Exception as exc:
            self.statusBar().showMessage(f"Search failed: {exc}", 5000)
            return
        self.sidebar.set_hits(query, hits)

    def _on_sidebar_hit_activated(self, session_id: str, node_id: str) -> None:
        """Show the match: its session, the card selected and centred at a zoom where it reads
        (whatever zoom the session was left at), fitted if the card is bigger than the view."""
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

    def _on_view_viewport_changed(self, _x: float, _y: float, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f}%")

    def _on_minimap_action_toggled(self) -> None:
        on = self.minimap_action.isChecked()
        self.view.minimap.setVisible(on)
        self.settings.ui["minimap"] = on

    def _on_sidebar_action_toggled(self) -> None:
        self.sidebar.setVisible(self.sidebar_action.isChecked())

    # ================================================================== commands from menus
    def open_focus(self, node_id: str) -> None:
        from ui.views import FocusDialog

        graph = self.controller.graph
        if graph is None or node_id not in graph.nodes:
            return
        dlg = FocusDialog(
            node_id,
            lambda i: graph.nodes.get(i),
            self.controller.siblings,
            self.scene.style.render_markdown,
            self.catalog.display_name,
            self.controller.open_link,
            self,
            incremental=self.scene.style.incremental_renderer,
        )
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self._focus_dialog = dlg
        dlg.finished.connect(lambda _r: self._on_focus_dialog_finished(dlg))
        dlg.show()
        dlg.raise_()
        dlg.activateWindow()  # its keys (←/→, Esc) are the reader's next move, not the canvas's

    def _on_controller_card_rendered(self, node_id: str) -> None:
        # Focus mode follows its card: refreshed on the card's own throttled repaint.
        dlg = self._focus_dialog
        if dlg is not None and dlg.node_id == node_id:
            dlg.refresh()

    def _on_focus_dialog_finished(self, dlg) -> None:
        if dlg.node_id and self.scene.card(dlg.node_id) is not None:
            self.scene.select_only([dlg.node_id])
            self.view.ensure_card_visible(dlg.node_id)
        self._focus_dialog = None

    def open_diff(self, left_id: str, right_id: str):
        from app.diff import diff_html
        from app.export.common import snippet
        from ui.views import DiffDialog

        graph = self.controller.graph
        a, b = graph.nodes[left_id], graph.nodes[right_id]
        left, right = diff_html(a.text, b.text, self.ui_theme.name)

        def prompt_of(node_id: str) -> str:
            parents = [graph.nodes.get(e.parent_id) for e in graph.parents(node_id)]
            prompt = next((p for p in parents if p is not None and p.kind.value == "prompt"), None)
            return prompt.id if prompt is not None else ""

        names = [self.catalog.display_name(n.model or "") or (n.title or "note") for n in (a, b)]
        prompts = [prompt_of(left_id), prompt_of(right_id)]
        if names[0] == names[1] or prompts[0] != prompts[1]:  # say which answer is which: its question
            names = [f"{name} on “{snippet(graph.nodes[p].text, 32)}”" if p else name
                     for name, p in zip(names, prompts, strict=True)]
        if names[0] == names[1]:  # the same model on the same question (a re-run): when each was asked
            from datetime import datetime

            names = [f"{name}, {datetime.fromtimestamp(n.created_at):%H:%M:%S}" for name, n in zip(names, (a, b), strict=True)]
        dlg = DiffDialog(names[0], names[1], left, right, self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        return dlg

    def open_table(self, prompt_id: str):
        from app.export import comparison_rows, session_totals, subtree_totals
        from ui.views import ComparisonTableDialog

        graph = self.controller.graph
        names = self.catalog.display_names()
        rows = comparison_rows(graph, prompt_id, names)
        prompt = graph.nodes[prompt_id]
        title = "Comparison: " + " ".join(prompt.text.split())[:60]
        totals = [
            ("This prompt and everything after it", subtree_totals(graph, prompt_id)),
            ("Whole session", session_totals(graph)),
        ]
        dlg = ComparisonTableDialog(rows, self, title, totals)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        return dlg

    def open_settings(self, provider: str = ""):
        from ui.settings_dialog import SettingsDialog

        dlg = SettingsDialog(
            self.settings, self.catalog, self._client_getter, self, provider=provider or None
        )
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.appearance_applied.connect(self._on_settings_appearance_applied)
        dlg.finished.connect(lambda _r: self._after_settings())
        dlg.open()
        return dlg

    def _after_settings(self) -> None:
        self._update_welcome()
        self.composer.set_models(self.composer.models(), announce=False)  # refresh "(no key)" marks

    def _on_settings_appearance_applied(self, theme: str, font_size: int) -> None:
        self.set_theme_mode(theme, font_size)

    def set_theme_mode(self, mode: str, font_size: int | None = None) -> None:
        self.settings.ui["theme"] = mode
        if font_size is not None:
            self.settings.ui["font_size"] = font_size
        self._save_settings_quietly()
        self.ui_theme = resolve_theme(mode)
        app = QApplication.instance()
        if app is not None:
            apply_theme(app, self.ui_theme, int(self.settings.ui.get("font_size", 10)))
        self.scene.set_style(self._make_style(self.ui_theme))
        self.view.viewport().update()
        self.view.minimap.update()

    def show_shortcuts(self) -> None:
        dlg = ShortcutsDialog(self)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        dlg.raise_()
        dlg.activateWindow()  # Esc closes it at once

    def _show_about(self) -> None:
        from app import __version__

        QMessageBox.about(
            self,
            "About Triptych",
            f"<b>Triptych {__version__}</b><br>One prompt, several models, side by side on an "
            "infinite canvas.",
        )

    def export_dialog(self, selection: bool = False) -> None:
        """File → Export: ask format, scope, reasoning and file (DialogService.export_options), then write."""
        from app.export import default_filename

        session = self.controller.session
        if session is None:
            return
        ids = self.scene.selected_ids()
        if selection and not ids:
            self.statusBar().showMessage("Select the cards to export first.", 4000)
            return
        folder = str(self.settings.ui.get("export_dir") or Path.home())
        choice = self.dialogs.export_options(
            lambda fmt: default_filename(session, fmt), folder, len(ids), "selection" if selection else "all"
        )
        if choice is None:
            return
        try:
            self.export_to(
                choice.path,
                choice.fmt,
                ids if choice.scope != "all" else None,
                scope=choice.scope,
                include_reasoning=choice.include_reasoning,
            )
        except (OSError, ValueError) as exc:
            self.dialogs.show_error("Export failed", str(exc))
            return
        self.settings.ui["export_dir"] = str(Path(choice.path).parent)
        self.statusBar().showMessage(f"Exported to {choice.path}", 5000)

    def export_to(
        self,
        path: str,
        fmt: str,
        node_ids: list[str] | None = None,
        scope: str | None = None,
        include_reasoning: bool = True,
    ) -> None:
        """Write the session to `path` in `fmt` (md, html, json, canvas, png). With `node_ids`, `scope`
        "selection" (the default then) writes only those cards, "path" them and what led to them."""
        from app.fsutil import private_if_inside
        from app.session_io import export_options, write_export

        graph = self.controller.export_graph()
        if graph is None:
            return
        options = export_options(node_ids, scope, include_reasoning, self.catalog.display_names(),
                                 self.settings.colors)
        if fmt == "png":
            from app.export import export_graph
            from ui.export_png import render_png

            render_png(export_graph(graph, options), path, style=self.scene.style)
            private_if_inside(path, self.settings.data_dir)
            return
        write_export(graph, path, fmt, options, self.settings.data_dir)

    def import_dialog(self) -> None:
        """File → Import: a .json export or a .canvas file (ours or Obsidian's) becomes a new session."""
        path = self.dialogs.import_path(str(self.settings.ui.get("export_dir") or Path.home()))
        if path:
            self.import_from(path)

    def import_from(self, path: str) -> str | None:
        """Import `path` as a new session and show it; a bad file is refused with one clear message and
        nothing is stored. Returns the new session id."""
        from app.session_io import ImportRefused, import_session

        try:
            imported = import_session(self.repo, path)
        except ImportRefused as exc:
            self.dialogs.show_error("Import failed", str(exc))
            return None
        self._refresh_sessions()
        self.controller.open_session(imported.session.id)
        self.statusBar().showMessage(f"Imported {imported.summary} from {Path(path).name}.", 5000)
        return imported.session.id

    # ================================================================== window state
    def _initial_models(self) -> list[str]:
        saved = self.settings.ui.get("default_models")
        if isinstance(saved, list) and saved:
            return [str(r) for r in saved]
        return self.catalog.default_models(self.settings)

    def _update_welcome(self) -> None:
        graph = self.controller.graph
        empty = graph is None or not graph.nodes
        keys = any(self.settings.has_key(p) for p, cfg in self.settings.providers.items() if not cfg.local)
        self.welcome.set_keys_missing(not keys)
        self.welcome.setVisible(empty)
        self.welcome.reposition()
        self.welcome.raise_()

    def resizeEvent(self, event) -> None:
        super().resizeEvent(event)
        self.welcome.reposition()

    def showEvent(self, event) -> None:
        super().showEvent(event)
        QTimer.singleShot(0, self.welcome, self.welcome.reposition)
        if not event.spontaneous() and not self._shown_once:
            # The window opens with the keyboard in the prompt: a focus asked for while hidden can be
            # lost when the window activates, and the tab chain starts at the canvas.
            self._shown_once = True
            self.composer.focus_prompt()

    def _restore_window_state(self) -> None:
        ui = self.settings.ui
        geometry = ui.get("window_geometry")
        restored = False
        if isinstance(geometry, str) and geometry:
            restored = self.restoreGeometry(QByteArray.fromBase64(geometry.encode("ascii")))
        self._fit_to_screen(restored)
        for key, split in (("main_splitter", self.main_split), ("canvas_splitter", self.canvas_split)):
            sizes = ui.get(key)
            if (
                isinstance(sizes, list)
                and len(sizes) == split.count()
                and all(isinstance(s, int) for s in sizes)
            ):
                split.setSizes(sizes)

    def _fit_to_screen(self, restored: bool) -> None:
        """Fit the window inside the screen's available area: the default 1440×900 on a 1366×768
        laptop, or a geometry saved on a bigger monitor. The frame the window manager adds is not known
        before the first show: leave room for a usual one (a title bar and thin borders)."""
        screen = self.screen()
        if screen is None:
            return
        available = screen.availableGeometry()
        frame = QMargins(4, 32, 4, 4)
        width = min(self.width(), available.width() - frame.left() - frame.right())
        height = min(self.height(), available.height() - frame.top() - frame.bottom())
        if (width, height) != (self.width(), self.height()):
            self.resize(width, height)
        if restored:  # a new window is placed by the window manager; a restored one where it was, if it fits
            right = available.right() + 1 - width - frame.left() - frame.right()
            bottom = available.bottom() + 1 - height - frame.top() - frame.bottom()
            x = max(available.left(), min(self.x(), right))
            y = max(available.top(), min(self.y(), bottom))
            if (x, y) != (self.x(), self.y()):
                self.move(x, y)

    def save_window_state(self) -> None:
        ui = self.settings.ui
        ui["window_geometry"] = bytes(self.saveGeometry().toBase64()).decode("ascii")
        ui["main_splitter"] = [int(s) for s in self.main_split.sizes()]
        if self.lens.isVisible():
            ui["canvas_splitter"] = [int(s) for s in self.canvas_split.sizes()]

    def _save_settings_quietly(self) -> None:
        from app.config import ConfigError

        try:
            self.settings.save()
        except (OSError, ConfigError) as exc:
            log.warning("could not save config.toml: %s", exc)

    def closeEvent(self, event) -> None:
        running = self.engine.running_count
        if running and not self.dialogs.confirm_quit(running):
            event.ignore()
            return
        self.save_window_state()
        self.controller.close()
        self._save_settings_quietly()
        super().closeEvent(event)
        self.closed.emit()
