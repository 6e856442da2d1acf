"""The window's blind arena (DESIGN.md, "Evaluate"): a blind match sent from the composer, the vote bar
under the canvas, the votes as undo commands, and the blind rule every view of the window applies.

`ArenaController` owns the window's `app.arena_view.BlindRule` (the cards' style holds the same object):
after a blind send, a vote, an undo or a session change it refreshes the rule from the store and has
the pair's cards drawn again, named or not. `ArenaBar` shows the match of the selected card (else the
session's newest one): "Model A" / "Model B", the four vote buttons, the tags; after the vote, who was
who. Votes are recorded through the store's arena side (storage/arena.py), as `triptych vote` does,
with the voter `user`. Qt main thread only; nothing here blocks (short store transactions).
"""

from __future__ import annotations

import asyncio
import dataclasses
import random
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QRectF, Qt, QTimer, Signal
from PySide6.QtGui import QAction, QUndoCommand
from PySide6.QtWidgets import (
    QDialog,
    QFrame,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from app.arena import (
    USER,
    Match,
    Vote,
    draw_pair,
    identity_names,
    identity_pattern,
    normalise_tags,
    voted_pair_counts,
)
from app.arena_view import VOTE_LABELS, BlindRule
from app.domain import SendMode
from storage import arena as arena_store
from ui.dialogs import ModelPickerDialog

if TYPE_CHECKING:
    from collections.abc import Sequence

    from app.attachments import Attachment
    from app.catalog import Catalog
    from app.config import Settings
    from app.engine import Target
    from app.repository import SearchHit
    from ui.composer import ComposerWidget
    from ui.controller import CanvasController
    from ui.lens import ContextLensPanel
    from ui.main_window import MainWindow

VOTE_KEYS = ("a", "b", "tie", "bad")  # keys 1–4
JUDGE_ZOOM = 0.5  # the judge's four cards (two asks, sides swapped) are shown together down to this zoom
NO_MATCH = "No blind match in this session: turn on Blind match (Ctrl+Shift+M) in the composer and send."
BUTTON_LABELS = {"a": "A better", "b": "B better", "tie": "Tie", "bad": "Both bad"}


class VoteCommand(QUndoCommand):
    """The user's vote on a match (a first vote, or a changed one); undo brings back the one before
    (or no vote: the pair is blind again)."""

    def __init__(self, arena: ArenaController, match_id: str, old: str | None, new: str) -> None:
        super().__init__(f"Vote: {VOTE_LABELS[new]}")
        self._arena = arena
        self._match_id = match_id
        self._old = old
        self._new = new

    def redo(self) -> None:
        self._arena.apply_vote(self._match_id, self._new)

    def undo(self) -> None:
        self._arena.apply_vote(self._match_id, self._old)


class ArenaController(QObject):
    """Blind sends, votes and the blind rule of one window. `changed` after every change of the
    matches or votes the window shows."""

    changed = Signal()
    voted = Signal(str, str)  # (match id, vote)

    def __init__(self, canvas: CanvasController, rule: BlindRule | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.c = canvas
        self.rule = rule if rule is not None else BlindRule()
        self._matches: list[Match] = []
        self._rng = random.SystemRandom()
        self.leaderboard_dialog: QDialog | None = None  # the open one (Evaluate → Leaderboard…)
        self._judge_task: asyncio.Future[str] | None = None
        self._judge_ids: list[str] = []
        self._actions: list[tuple[QAction, str]] = []
        self.blind_toggle: QAction | None = None  # the composer's Blind match (ui/window_menus.py sets it)
        self._session_id: str | None = canvas.session_id
        self.rubric = ""  # the last judge rubric (Judge this pair… offers it again)
        settings, catalog = canvas.settings, canvas.catalog
        self._names = identity_names(catalog, (), settings.display_names.values())
        self.rule.pattern = identity_pattern(self._names)
        canvas.session_changed.connect(self._on_canvas_session_changed)
        canvas.card_guard = self.guard
        canvas.scene.selectionChanged.connect(self._on_scene_selection_changed)
        self.refresh(redraw=False)

    # Card actions that would show who answered a blind card: a re-run or follow-up names its model, the
    # model picker leaves it out, a synthesis quotes the answers by model, Settings opens at its provider,
    # a copy carries the unmasked text.
    REVEALING = frozenset({"retry", "rerun_other", "rerun_path", "continue", "synthesize", "open_settings",
                           "copy", "copy_code"})

    def guard(self, node_ids: list[str], action: str) -> bool:
        """The canvas's card guard: True (and a line saying why) when `action` may not run on these
        cards before the vote."""
        if action in self.REVEALING and any(self.rule.is_blind(i) for i in node_ids):
            self.c.message_posted.emit("Vote on the blind match first: this would show which model answered.", 6000)
            return True
        return False

    def _on_scene_selection_changed(self) -> None:
        self.changed.emit()

    def close(self) -> None:
        """The window closes: stop the judge, stop following the scene (it may be destroyed first)."""
        if self._judge_task is not None and not self._judge_task.done():
            self._judge_task.remove_done_callback(self._on_judge_task_done)
            self._judge_task.cancel()
        try:
            self.c.scene.selectionChanged.disconnect(self._on_scene_selection_changed)
        except (RuntimeError, TypeError):
            pass

    def __repr__(self) -> str:
        return f"<ArenaController {len(self._matches)} matches, {len(self.rule.sides)} blind cards>"

    # ------------------------------------------------------------------ the store's matches
    def refresh(self, redraw: bool = True) -> None:
        """Read the matches again and apply the rule (the pair's cards are drawn again)."""
        before = dict(self.rule.sides)
        try:
            self._matches = self.c.repo.list_matches()  # type: ignore[attr-defined]
        except Exception:  # a store without the arena tables (never in this app): nothing is blind
            self._matches = []
        models = {m for match in self._matches for m in (match.a_model, match.b_model)}
        pattern = None
        if models - set(self._names):
            self._names = sorted(set(self._names) | set(identity_names(None, models)), key=lambda n: (-len(n), n))
            pattern = identity_pattern(self._names)
        self.rule.update(self._matches, pattern)
        if redraw:
            changed = set(before) ^ set(self.rule.sides)
            self._redraw(changed | {m.prompt_id for m in self._matches if m.a_node_id in changed})
        self.changed.emit()

    def _redraw(self, node_ids: set[str]) -> None:
        graph = self.c.graph
        if graph is None or not node_ids:
            return
        for node_id in node_ids:
            node = graph.nodes.get(node_id)
            if node is not None:
                self.c.scene.sync_card(node)
        self.c.scene.update()
        self.c.scene.blocks_changed.emit()  # the minimap: the pair in grey, or in their colours again
        self.c.emit_totals()
        self.c.emit_follow()  # "Following Model A" becomes its name, or back

    def _on_canvas_session_changed(self, session_id: str, _title: str) -> None:
        # Another session (a new one, a sweep's): Blind match turns off, said in the status bar; it was
        # meant for the session it was turned on in, and only the Send button's text would show it.
        previous, self._session_id = self._session_id, session_id
        toggle = self.blind_toggle
        if previous is not None and previous != session_id and toggle is not None and toggle.isChecked():
            toggle.setChecked(False)
            self.c.message_posted.emit("Blind match is off in this session (Ctrl+Shift+M turns it on again).", 6000)
        # Another process (`triptych arena`) may have made a match since: read them again, and draw
        # the cards the view has made already.
        self.refresh(redraw=False)
        graph = self.c.graph
        if graph is not None:
            self._redraw({i for i in (*self.rule.sides, *self.rule.prompts) if i in graph.nodes})

    def matches(self, session_id: str | None = None) -> list[Match]:
        return [m for m in self._matches if session_id is None or m.session_id == session_id]

    def match_of(self, node_id: str) -> Match | None:
        return next((m for m in self._matches if node_id in (m.a_node_id, m.b_node_id)), None)

    def current_match(self) -> Match | None:
        """The match the vote bar and keys 1–4 act on: the selected card's, else (nothing of a match
        selected) the open session's newest match without a vote, else its newest match."""
        for node_id in self.c.selected_ids():
            match = self.match_of(node_id)
            if match is not None:
                return match
        mine = self.matches(self.c.session_id)
        if not mine:
            return None
        open_ = [m for m in mine if m.vote_of(USER) is None]
        return (open_ or mine)[-1]

    def selected_match(self) -> Match | None:
        """The match of a selected card (None when no card of a match is selected)."""
        for node_id in self.c.selected_ids():
            match = self.match_of(node_id)
            if match is not None:
                return match
        return None

    def present_hit(self, hit: SearchHit) -> SearchHit:
        """A search hit as the sidebar may list it: a blind card's without its model, its words masked."""
        if not self.rule.is_blind(hit.node_id):
            return hit
        return dataclasses.replace(hit, model=None, snippet=self.rule.mask(hit.snippet))

    # ------------------------------------------------------------------ sending
    def send(self, text: str, targets: list[Target], attachments: Sequence[Attachment] = ()) -> list[str]:
        """A blind match: two of `targets` drawn (pairs with fewer votes first), A left and B right at
        random; the cards show "Model A" / "Model B" until the vote. Returns the created node ids."""
        c = self.c
        if c.session is None:
            return []
        pool = list(dict.fromkeys(t.model for t in targets))
        if len(pool) < 2:
            c.message_posted.emit("A blind match needs at least two models: add them with + Model.", 5000)
            return []
        if not text.strip() and not attachments:
            c.message_posted.emit("Type a question first.", 3000)
            return []
        missing = [m for m in pool if not self._usable(m)]
        if missing:  # checked over the whole pool: which one was drawn must not show in an error
            names = ", ".join(c.catalog.display_name(m) for m in missing)
            c.message_posted.emit(f"A blind match needs a key for every chosen model (none for {names}).", 6000)
            return []
        a, b = draw_pair(pool, voted_pair_counts(self._matches), self._rng)
        by_model = {t.model: t for t in targets}
        mode = SendMode.SHARED if c.follow_ids() else SendMode.LANES
        ids = c.send(text, [by_model[a], by_model[b]], mode, attachments)
        if len(ids) < 3:
            return ids
        graph = c.graph
        prompt_id, a_id, b_id = ids[-3], ids[-2], ids[-1]
        if graph is not None and (graph.nodes.get(a_id) is None or graph.nodes[a_id].model != a):
            return ids  # not the pair's cards (never expected): no match rather than a wrong one
        c.repo.add_match(Match(c.session.id, prompt_id, a_id, b_id, a, b))  # type: ignore[attr-defined]
        self.refresh()  # the cards, made a moment ago and not painted yet, are drawn blind at once
        return ids

    def takes_send(self, composer: ComposerWidget) -> bool:
        """The composer's Send, when it is this controller's: a blind match (the toggle on), or a
        follow-up to a blind card before the vote (refused: its answer would show the model)."""
        if composer.blind_action.isChecked():
            if self.send(composer.text(), composer.targets(), composer.attachments()):
                composer.focus_prompt()
            return True
        if any(self.rule.is_blind(i) for i in self.c.follow_ids()):
            self.c.message_posted.emit(
                "Vote on the blind match first: a follow-up would show which model answered "
                "(or turn on Blind match to send a new match with it as context).", 8000)
            return True
        return False

    def hides_lens(self, composer: ComposerWidget, lens: ContextLensPanel) -> bool:
        """With a blind card followed, the context lens and the estimate show nothing (they would quote
        its lane model by model) until the vote."""
        if not any(self.rule.is_blind(i) for i in self.c.follow_ids()):
            return False
        composer.set_estimate("")
        if lens.isVisible():
            lens.show_error("A blind match's answer is selected: the context lens shows it after your vote.")
        return True

    def _usable(self, ref: str) -> bool:
        provider = ref.split(":", 1)[0]
        cfg = self.c.settings.providers.get(provider)
        return cfg is not None and (cfg.local or self.c.settings.has_key(provider))

    # ------------------------------------------------------------------ voting
    def vote(self, vote: str, match: Match | None = None) -> bool:
        """The user votes on `match` (default: the current one); one undo step. False if no match."""
        match = match or self.current_match()
        if match is None:
            self.c.message_posted.emit(NO_MATCH, 4000)
            return False
        old = match.vote_of(USER)
        if old is not None and old.vote == vote:
            return True
        self.c.undo_stack.push(VoteCommand(self, match.id, old.vote if old else None, vote))
        return True

    def key_match(self) -> Match | None:
        """The match keys 1–4 (and Evaluate → Vote) act on: the selected card's, else the open match the
        vote bar names (the session's newest one not voted on yet). None when that bar shows a match
        already voted on and nothing of it is selected: a stray key must not change a vote."""
        match = self.selected_match()
        if match is not None:
            return match
        shown = self.current_match()
        return shown if shown is not None and shown.vote_of(USER) is None else None

    def vote_selected(self, index: int) -> bool:
        """Key 1–4 on the canvas: vote on `key_match()`."""
        match = self.key_match()
        if match is None:
            if self.current_match() is not None:
                self.c.message_posted.emit("Select a card of the pair to change your vote with 1–4.", 4000)
            else:
                self.c.message_posted.emit(NO_MATCH, 4000)
            return False
        return self.vote(VOTE_KEYS[index], match)

    def sync_actions(self) -> None:
        """Evaluate → Vote … and Judge this pair… are enabled only while the session has a blind match
        (their tooltip and status tip say why not)."""
        has = self.current_match() is not None
        for action, tip in self._actions:
            action.setEnabled(has)
            action.setStatusTip(tip if has else NO_MATCH)
            action.setToolTip(tip if has else NO_MATCH)

    def bind_actions(self, actions: Sequence[QAction]) -> None:
        """The window's vote and judge actions, kept enabled only while there is a match to act on."""
        self._actions = [(a, a.statusTip() or a.text()) for a in actions]
        self.changed.connect(self.sync_actions)
        self.sync_actions()

    def apply_vote(self, match_id: str, vote: str | None) -> None:
        """Store `vote` (None: remove the user's vote), then show or hide the pair's identities."""
        repo = self.c.repo
        if vote is None:
            arena_store.remove_vote(repo, match_id, USER)
        else:
            repo.record_vote(Vote(match_id, USER, vote))  # type: ignore[attr-defined]
        self.refresh()
        match = next((m for m in self._matches if m.id == match_id), None)
        if vote is not None and match is not None:
            cat = self.c.catalog
            self.c.message_posted.emit(
                f"Your vote: {VOTE_LABELS[vote]}. A was {cat.display_name(match.a_model)}, "
                f"B was {cat.display_name(match.b_model)}.", 8000)
            self.voted.emit(match_id, vote)

    # ------------------------------------------------------------------ the judge
    @property
    def judging(self) -> bool:
        return self._judge_task is not None and not self._judge_task.done()

    def judge(self, match: Match, judge: str, rubric: str | None = None) -> bool:
        """Let `judge` vote on `match` (twice, sides swapped: app.arena_judge), against `rubric` if any,
        on the asyncio loop; its cards appear in the session (the view shows them). False when a judge
        is already at work."""
        if self.judging:
            return False
        graph = self.c.graph
        prompt, a, b = (graph.nodes.get(i) if graph is not None else None
                        for i in (match.prompt_id, match.a_node_id, match.b_node_id))
        if prompt is None or a is None or b is None or a.status.is_live or b.status.is_live:
            self.c.message_posted.emit("The judge reads finished answers: wait for both, then ask it.", 5000)
            return False
        from app.arena_judge import judge_match
        from ui.canvas import loader

        pattern = self.rule.pattern or identity_pattern(self._names)
        work = judge_match(self.c.engine, match, prompt.text, a.text, b.text, judge, pattern,
                           graph_of=lambda: loader.engine_graph(self.c.graph),
                           on_started=self._on_judge_started, rubric=rubric)
        self._judge_ids = []
        self._judge_task = asyncio.ensure_future(work)
        self._judge_task.add_done_callback(self._on_judge_task_done)
        self.c.message_posted.emit("The judge is reading the pair (twice, sides swapped)…", 0)
        self.changed.emit()
        return True

    def cancel_judge(self) -> None:
        """Stop the judge: its cards stop where they are, no judge vote is recorded."""
        if self._judge_task is not None and not self._judge_task.done():
            self._judge_task.cancel()
            self.c.stop([i for i in self._judge_ids if self.c.engine.is_running(i)])

    def _on_judge_started(self, ids: list[str]) -> None:
        self._judge_ids = list(ids)
        # Its cards land below the session, out of view: bring them in (once the window has them).
        QTimer.singleShot(0, self._reveal_judge_cards)

    def _reveal_judge_cards(self) -> None:
        """Scroll (or zoom out, to JUDGE_ZOOM at least) until the judge's two asks show whole."""
        from app import layout

        graph = self.c.graph
        rect = QRectF()
        for node_id in self._judge_ids:
            node = graph.nodes.get(node_id) if graph is not None else None
            if node is not None:
                rect = rect.united(QRectF(node.x, node.y, layout.width(node), layout.height(node)))
        if not rect.isNull():
            self.c.view.reveal_rect(rect, readable=JUDGE_ZOOM)

    def _on_judge_task_done(self, task: asyncio.Future[str]) -> None:
        if task.cancelled():
            note = "Judge stopped; no judge vote was recorded."
        elif task.exception() is not None:
            note = f"The judge failed: {self.rule.mask(str(task.exception()))}"
        else:
            note = "Judge: " + task.result().replace("the judge ", "", 1)
        self._judge_task = None
        self.c.message_posted.emit(note[:1].upper() + note[1:], 8000)
        self.refresh(redraw=False)

    def set_tags(self, match: Match, text: str) -> None:
        tags = normalise_tags(text.replace(";", ",").split(","))
        if tags == match.tags:
            return
        arena_store.set_match_tags(self.c.repo, match.id, tags)
        self.refresh(redraw=False)


class ArenaBar(QFrame):
    """The vote bar under the canvas, shown while the open session has a blind match."""

    def __init__(self, arena: ArenaController, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ArenaBar")
        self.arena = arena
        self._match: Match | None = None
        row = QHBoxLayout(self)
        row.setContentsMargins(12, 4, 12, 4)
        row.setSpacing(6)
        self.label = QLabel(self)
        self.label.setTextFormat(Qt.TextFormat.PlainText)
        self.label.setWordWrap(True)  # a narrow window wraps it, never widens
        row.addWidget(self.label, 1)
        self.buttons: dict[str, QPushButton] = {}
        for i, key in enumerate(VOTE_KEYS, start=1):
            button = QPushButton(BUTTON_LABELS[key], self)
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
            button.setToolTip(f"Vote: {VOTE_LABELS[key]} (key {i} on the canvas)")
            button.clicked.connect(lambda _=False, k=key: self._on_button_clicked(k))
            self.buttons[key] = button
            row.addWidget(button)
        self.judge_button = QPushButton("Judge…", self)
        self.judge_button.setFocusPolicy(Qt.FocusPolicy.TabFocus)
        self.judge_button.setToolTip("A model votes on the pair too: twice, with the sides swapped (a "
                                     "disagreement is a tie); stored as a judge's vote, apart from yours")
        self.judge_button.clicked.connect(self._on_judge_button_clicked)
        row.addWidget(self.judge_button)
        self.tags = QLineEdit(self)
        self.tags.setPlaceholderText("tags: coding, legal…")
        self.tags.setToolTip("Tags of this match (comma-separated); the leaderboard filters by them")
        self.tags.setMaximumWidth(170)
        self.tags.editingFinished.connect(self._on_tags_editing_finished)
        row.addWidget(self.tags)
        arena.changed.connect(self.refresh)
        self.refresh()

    def __repr__(self) -> str:
        return f"<ArenaBar {self.label.text()!r}>"

    @property
    def match(self) -> Match | None:
        return self._match

    def refresh(self) -> None:
        match = self.arena.current_match()
        self._match = match
        self.setVisible(match is not None)
        if match is None:
            return
        vote = match.vote_of(USER)
        for key, button in self.buttons.items():
            button.setChecked(vote is not None and vote.vote == key)
        if vote is None:
            self.label.setText("Blind match: Model A (left) vs Model B (right). Which answer is better?")
        else:
            cat = self.arena.c.catalog
            self.label.setText(f"You voted {VOTE_LABELS[vote.vote]}: A was {cat.display_name(match.a_model)}, "
                               f"B was {cat.display_name(match.b_model)}. Vote again to change it.")
        if not self.tags.hasFocus():
            self.tags.setText(", ".join(match.tags))
        self.judge_button.setText("Stop judge" if self.arena.judging else "Judge…")

    def _on_button_clicked(self, key: str) -> None:
        if self._match is not None:
            self.arena.vote(key, self._match)
        self.refresh()

    def _on_judge_button_clicked(self) -> None:
        if self.arena.judging:
            self.arena.cancel_judge()
            return
        if self._match is None:
            self.arena.c.message_posted.emit("No blind match here: turn on Blind match and send first.", 4000)
            return
        c = self.arena.c
        choice = c.dialogs.pick_judge(c.catalog, c.settings, self.arena.rubric)
        if choice:
            judge, self.arena.rubric = choice
            self.arena.judge(self._match, judge, self.arena.rubric or None)

    def _on_tags_editing_finished(self) -> None:
        if self._match is not None:
            self.arena.set_tags(self._match, self.tags.text())


# ---------------------------------------------------------------------------------------------- dialogs
class JudgeDialog(ModelPickerDialog):
    """Judge this pair…: the judge model (a filterable list, as every model picker) and an optional
    rubric, as the sweep judge has (app.arena.judge_prompt)."""

    def __init__(self, catalog: Catalog, settings: Settings, parent: QWidget | None = None, rubric: str = "") -> None:
        super().__init__(catalog, settings, parent, title="Judge this pair with")
        self.rubric_edit = QLineEdit(rubric, self)
        self.rubric_edit.setPlaceholderText("Rubric (optional): e.g. correct and runnable code, cites sources")
        self.rubric_edit.setToolTip("What the judge weighs when it compares the two answers; empty: "
                                    "correctness, helpfulness and clarity")
        box = self.layout()
        assert isinstance(box, QVBoxLayout)
        box.insertWidget(box.count() - 1, self.rubric_edit)  # above OK / Cancel


def open_leaderboard(window: MainWindow) -> QDialog:
    """Evaluate → Leaderboard…: every match of the store, with its votes."""
    from ui.leaderboard import LeaderboardDialog

    window.arena.refresh(redraw=False)
    dlg = LeaderboardDialog(window.arena.matches(), window.catalog.display_name, window, window.settings)
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    dlg.show()
    window.arena.leaderboard_dialog = dlg
    return dlg


def open_cost(window: MainWindow) -> QDialog:
    """Evaluate → Cost on other models…: the panel for the open session (and the selected card's path)."""
    from PySide6.QtWidgets import QDialogButtonBox

    from ui.cost_panel import CostPanel

    dlg = QDialog(window)
    dlg.setWindowTitle("Cost on other models")
    dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    box = QVBoxLayout(dlg)
    panel = CostPanel(window.catalog, dlg)
    c = window.controller
    selected = c.selected_answers()
    panel.show_whatif(c.export_graph(), selected[0] if selected else None,
                      blind=window.blind.session_is_blind(c.session_id))
    box.addWidget(panel, 1)
    buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, dlg)
    buttons.rejected.connect(dlg.reject)
    box.addWidget(buttons)
    dlg.cost_panel = panel  # type: ignore[attr-defined]
    dlg.resize(560, 520)
    dlg.show()
    return dlg
