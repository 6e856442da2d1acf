"""The main window's menu bar and actions (File, Edit, View, Cards, Evaluate, Help), built once: each action is a
QAction with its shortcut, in one or more menus, calling the window's or the controller's slot. The
card actions come from the one table in ui/card_actions.py. Qt main thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QMenu

from ui import card_actions

if TYPE_CHECKING:
    from ui.main_window import MainWindow


def build_menus(w: MainWindow) -> None:
    """Build the menu bar and every window action (set on `w`: card_actions, attach_action, import_action, new_sweep_action,
    export_action, export_selection_action, undo_action, redo_action, minimap_action, sidebar_action,
    lens_action)."""
    mb = w.menuBar()
    c = w.controller
    w.card_actions = cards = _card_actions(w)
    file_menu = mb.addMenu("&File")
    _action(w, file_menu, "New session", c.start_session, "Ctrl+N")
    file_menu.addSeparator()
    w.attach_action = _action(w,
        file_menu, "Attach files…", lambda: w.attach.choose_files(), "Ctrl+Shift+A",
        tip="Add images, PDFs or text files to the next prompt (or drop them on the prompt, or paste)",
    )
    w.import_action = _action(w,
        file_menu,
        "Import…",
        w.import_dialog,
        "Ctrl+O",
        tip="Open a Triptych .json export or a .canvas",
    )
    w.export_action = _action(w,
        file_menu, "Export session…", lambda: w.export_dialog(selection=False), "Ctrl+E"
    )
    w.export_selection_action = _action(w,
        file_menu, "Export selection…", lambda: w.export_dialog(selection=True), "Ctrl+Shift+E"
    )
    from ui.team_copy import TeamCopy

    w.team_copy = TeamCopy(w)
    w.copy_to_team_action = _action(w, file_menu, "Copy to team store…", w.team_copy.copy_session,
                                    tip="Copy this session to a shared PostgreSQL store (ids kept; only what is new)")
    file_menu.addSeparator()
    _action(w, file_menu, "Settings…", lambda: w.open_settings(""), "Ctrl+,")
    file_menu.addSeparator()
    _action(w, file_menu, "Quit", w.close, "Ctrl+Q")

    edit_menu = mb.addMenu("&Edit")
    w.undo_action = w.undo_stack.createUndoAction(w, "Undo")
    w.undo_action.setShortcut(QKeySequence("Ctrl+Z"))
    w.redo_action = w.undo_stack.createRedoAction(w, "Redo")
    w.redo_action.setShortcuts([QKeySequence("Ctrl+Shift+Z"), QKeySequence("Ctrl+Y")])
    edit_menu.addAction(w.undo_action)
    edit_menu.addAction(w.redo_action)
    w.addAction(w.undo_action)
    w.addAction(w.redo_action)
    edit_menu.addSeparator()
    edit_menu.addAction(cards["delete"])
    _action(w,
        edit_menu,
        "Select all cards",
        lambda: w.scene.select_only(w.scene.card_ids()),
        "Ctrl+A",
        canvas_only=True,
    )
    _action(w, edit_menu, "Tidy up layout", c.tidy_up)
    edit_menu.addSeparator()
    _action(w, edit_menu, "Search all sessions", w.sidebar.focus_search, "Ctrl+F")

    view_menu = mb.addMenu("&View")
    _action(w, view_menu, "Fit all", w.view.fit_all, "Ctrl+0")
    _action(w, view_menu, "Zoom to selection", w.view.zoom_to_selection, "Ctrl+2")
    _action(w, view_menu, "Zoom in", w.view.zoom_in, "Ctrl+=")
    _action(w, view_menu, "Zoom out", w.view.zoom_out, "Ctrl+-")
    view_menu.addSeparator()
    view_menu.addAction(cards["focus"])
    def minimap_toggled() -> None:
        on = w.minimap_action.isChecked()
        w.view.minimap.setVisible(on)
        w.settings.ui["minimap"] = on

    w.minimap_action = _action(w, view_menu, "Minimap", minimap_toggled, "Ctrl+M")
    w.minimap_action.setCheckable(True)
    w.minimap_action.setChecked(bool(w.settings.ui.get("minimap", True)))
    w.view.minimap.setVisible(w.minimap_action.isChecked())
    w.sidebar_action = _action(w,
        view_menu, "Sessions sidebar", lambda: w.sidebar.setVisible(w.sidebar_action.isChecked()), "Ctrl+B"
    )
    w.sidebar_action.setCheckable(True)
    w.sidebar_action.setChecked(True)
    w.lens_action = _action(w, view_menu, "Context lens", lambda: w.composer.lens_button.setChecked(w.lens_action.isChecked()), "Ctrl+L")
    w.lens_action.setCheckable(True)
    theme_menu = view_menu.addMenu("Theme")
    group = QActionGroup(w)
    for key, label in (("system", "Follow the system"), ("light", "Light"), ("dark", "Dark")):
        action = theme_menu.addAction(label)
        action.setCheckable(True)
        action.setChecked(w.settings.ui.get("theme", "system") == key)
        action.triggered.connect(lambda _=False, k=key: w.set_theme_mode(k))
        group.addAction(action)

    cards_menu = mb.addMenu("&Cards")
    _action(w, cards_menu, "Send", w._on_composer_send_requested, "Ctrl+Return")
    w.addAction(_hidden_action(w, "Ctrl+Enter", w._on_composer_send_requested))
    _action(w, cards_menu, "Stop all streams", lambda: c.stop(None), "Ctrl+.")
    last_group: int | None = None
    for entry in card_actions.CARD_ACTIONS:
        if entry.group != last_group:
            cards_menu.addSeparator()
            last_group = entry.group
        cards_menu.addAction(cards[entry.id])

    evaluate_menu = mb.addMenu("E&valuate")
    w.new_sweep_action = _action(w, evaluate_menu, "New sweep…", lambda: c.sweeps.new_sweep_dialog(w.composer.models()),
                                 tip="Run prompt templates × a variables file × models × settings as a grid")
    evaluate_menu.addSeparator()
    _evaluate_menu(w, evaluate_menu)

    help_menu = mb.addMenu("&Help")
    _action(w, help_menu, "Keyboard shortcuts", w.show_shortcuts, "F1")
    w.view.addAction(_hidden_action(w, "?", w.show_shortcuts, canvas_only=True))
    w.view.addAction(_hidden_action(w, "Shift+?", w.show_shortcuts, canvas_only=True))
    _action(w, help_menu, "About Triptych", w.opener.show_about)


def _evaluate_menu(w: MainWindow, menu: QMenu) -> None:
    """Blind match, the votes (keys 1–4: the selected card's match, else the open one the vote bar
    shows; disabled without a match), the leaderboard, the cost on other models (ui/arena.py,
    ui/leaderboard.py, ui/cost_panel.py)."""
    from app.arena_view import VOTE_LABELS
    from ui.arena import VOTE_KEYS, open_cost, open_leaderboard

    w.blind_action = w.composer.blind_action  # one toggle: the composer's "+ Model" menu and this one
    w.blind_action.setShortcut(QKeySequence("Ctrl+Shift+M"))
    w.blind_action.setStatusTip("The next send goes to two of the chosen models, as Model A and Model B")
    w.addAction(w.blind_action)
    menu.addAction(w.blind_action)
    w.arena.blind_toggle = w.blind_action  # turned off when another session opens
    menu.addSeparator()
    w.vote_actions = []
    for i, key in enumerate(VOTE_KEYS):
        vote: Callable[[], object] = partial(w.arena.vote_selected, i)
        w.vote_actions.append(_action(w, menu, f"Vote: {VOTE_LABELS[key]}", vote, str(i + 1), canvas_only=True,
                                      tip=f"The blind match's vote: {VOTE_LABELS[key]}"))
    w.judge_action = _action(w, menu, "Judge this pair…", lambda: w.arena_bar.judge_button.click(),
                             tip="A model votes on the blind match too: twice, with the sides swapped")
    menu.addSeparator()
    w.leaderboard_action = _action(w, menu, "Leaderboard…", lambda: open_leaderboard(w), "Ctrl+Shift+B")
    w.cost_action = _action(w, menu, "Cost on other models…", lambda: open_cost(w),
                            tip="What this session would have cost on every priced model")
    menu.setToolTipsVisible(True)  # a disabled vote says why
    w.arena.bind_actions([*w.vote_actions, w.judge_action])


def _card_actions(w: MainWindow) -> dict[str, QAction]:
    """One QAction per entry of the card actions' table (ui/card_actions.py); the Cards menu shows
    them all, Edit and View share a few (one action, one shortcut, several menus)."""
    c = w.controller
    actions: dict[str, QAction] = {}
    for entry in card_actions.CARD_ACTIONS:
        shortcut = QKeySequence.StandardKey.Delete if entry.shortcut == "Del" else entry.shortcut
        run: Callable[[], object] = partial(c.run_card_action, entry.id)
        actions[entry.id] = _action(w, None, entry.label, run, shortcut, canvas_only=entry.canvas_only)
    return actions


def _action(
    w: MainWindow,
    menu: QMenu | None,
    text: str,
    slot: Callable[[], object],
    shortcut: str | QKeySequence.StandardKey | None = None,
    canvas_only: bool = False,
    tip: str | None = None,
) -> QAction:
    action = QAction(text, w)
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
    # triggered(checked) must not reach a slot's optional parameter (new_session(title) got False)
    action.triggered.connect(lambda _checked=False, slot=slot: slot())
    if canvas_only:
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
        w.view.addAction(action)
    else:
        w.addAction(action)
    if menu is not None:
        menu.addAction(action)
    return action


def _hidden_action(w: MainWindow, shortcut: str, slot: Callable[[], object], canvas_only: bool = False) -> QAction:
    action = QAction(w)
    action.setShortcut(QKeySequence(shortcut))
    if canvas_only:
        action.setShortcutContext(Qt.ShortcutContext.WidgetWithChildrenShortcut)
    action.triggered.connect(lambda _checked=False, slot=slot: slot())
    return action
