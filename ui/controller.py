"""CanvasController: turns user actions on the canvas into engine calls, and graph events into repaints.

Views (scene, view, composer, sidebar) emit ids and facts; this class decides. The open session lives in
a `SessionModel` (app/session_model.py): graph events from the engine (through `EngineBridge`) and from
the `ForeignChangeWatcher` (other processes' writes) are folded into it, and this class draws what they
say: cards added with their edges, cards changed (marked dirty for the `RepaintScheduler`, ≤ 30 fps per
card), cards removed. Its helpers: `SessionController` (open/new/rename/duplicate/delete/restore and
the saved viewport), the card-action table (ui/card_actions.py). It asks the user things only through
a `DialogService`, so tests can answer for them.

Threading: Qt main thread = asyncio loop thread (qasync). Nothing here blocks: repository calls are
short SQLite transactions; engine operations return at once and stream in owned tasks.
"""

from __future__ import annotations

import copy
import logging
from collections.abc import Callable, Iterable

from PySide6.QtCore import QObject, QRectF, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QUndoStack

from app import layout
from app.domain import Edge, EdgeRole, Graph, Node, NodeKind, NodeStatus, SendMode, Session
from app.engine import Engine, EngineError, Target
from app.foreign import StorePoller
from app.graph_events import GraphEvent, NodeChanged, NodesAdded, NodesRemoved, SessionChanged
from app.session_model import SessionModel
from ui import card_actions, gc_policy
from ui.bridge import EngineBridge
from ui.canvas import constants as C
from ui.canvas.scene import CanvasScene
from ui.canvas.view import CanvasView
from ui.commands import AddNodesCommand, CollapseCommand, DeleteNodesCommand, MoveNodesCommand
from ui.foreign_watcher import STORE_POLL_MS as STORE_POLL_MS  # noqa: PLC0414 (re-exported for callers)
from ui.foreign_watcher import PollingClock
from ui.repaint import RepaintScheduler
from ui.session_controller import SessionController

log = logging.getLogger(__name__)

SAFE_LINK_SCHEMES = ("http", "https", "mailto")


def link_is_openable(url: str) -> bool:
    """Only web and mail links open; javascript:, file:, data: and anything else never do."""
    scheme = QUrl(url.strip()).scheme().lower()
    return scheme in SAFE_LINK_SCHEMES


class CanvasController(QObject):
    session_changed = Signal(str, str)  # (session id, title)
    sessions_changed = Signal()
    totals_changed = Signal(dict)
    running_changed = Signal(int)
    message_posted = Signal(str, int)  # (text, milliseconds; 0 = until replaced)
    follow_changed = Signal(list)  # node ids the next send follows
    card_rendered = Signal(str)  # node id: its card shows the node's latest state (≤ 30 fps per card)
    settings_requested = Signal(str)  # provider id ("" = general)
    focus_requested = Signal(str)  # node id
    composer_fill_requested = Signal(str)  # text to put into the composer (Edit & branch)
    composer_focus_requested = Signal()
    mode_change_requested = Signal(str)  # "lanes" | "shared"
    diff_requested = Signal(str, str)
    table_requested = Signal(str)  # prompt id
    nodes_sent = Signal(list)  # ids created by a send (prompts and responses)

    def __init__(
        self,
        repo,
        engine: Engine,
        settings,
        catalog,
        scene: CanvasScene,
        view: CanvasView,
        undo_stack: QUndoStack,
        dialogs,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.repo = repo
        self.engine = engine
        self.settings = settings
        self.catalog = catalog
        self.scene = scene
        self.view = view
        self.undo_stack = undo_stack
        self.dialogs = dialogs
        self.model = SessionModel()
        self.model.observe(self._on_model_changed)
        self._running = 0
        self._follow_pinned: list[str] = []  # cards added with "use as shared context"
        self._branch_of: str | None = None  # the prompt being branched: its new sibling goes beside it
        self.repaint = RepaintScheduler(scene, view, self._node, self)
        self.repaint.card_rendered.connect(self.card_rendered)
        self.bridge = EngineBridge(engine, self)
        self.bridge.graph_changed.connect(self._on_bridge_graph_changed)
        # Other processes (the CLI, another window) may add cards to the open session and stream into
        # them: a polling watcher on SQLite, checked every STORE_POLL_MS.
        self.watcher = StorePoller(repo, self._on_watcher_changes, lambda: self.engine.runs.keys())
        self._clock = PollingClock(self.watcher, self)
        self.sessions = SessionController(self)
        scene.card_action_requested.connect(self._on_scene_card_action_requested)
        scene.nodes_moved.connect(self._on_scene_nodes_moved)
        scene.selectionChanged.connect(self._on_scene_selection_changed)
        scene.filled.connect(self._on_scene_filled)

    def __repr__(self) -> str:
        return f"<CanvasController session={self.session!r}>"

    # ================================================================== sessions
    @property
    def session(self) -> Session | None:
        return self.model.session

    @property
    def graph(self) -> Graph | None:
        return self.model.graph

    @property
    def session_id(self) -> str | None:
        return self.model.session_id

    def _node(self, node_id: str) -> Node | None:
        graph = self.model.graph
        return graph.nodes.get(node_id) if graph is not None else None

    def show_session(self, session: Session, graph: Graph) -> None:
        """Draw `session` (SessionController.open_session loads it)."""
        self.model.load(session, graph)
        self.repaint.clear()
        self._follow_pinned.clear()
        self._branch_of = None
        # Cards are made lazily: those in view first (the view tells the scene as the viewport is
        # restored), the rest in short slices on the loop (CanvasScene.populate). For a big session
        # that is a burst of long-lived objects: no cyclic garbage collection until the scene is
        # filled (ui/gc_policy.py).
        self.scene.populate(graph.nodes.values(), graph.edges)  # (a fill left unfinished ends)
        if len(graph.nodes) >= C.GC_PAUSE_CARDS:
            gc_policy.pause("fill")
            QTimer.singleShot(C.GC_PAUSE_MAX_MS, self, lambda: gc_policy.resume("fill"))  # at the latest

    def _on_scene_filled(self) -> None:
        gc_policy.resume("fill")

    # Session operations live in SessionController; these names stay for the window, commands, tests.
    def open_session(self, session_id: str) -> None:
        self.sessions.open_session(session_id)

    def start_session(self) -> str:
        return self.sessions.start_session()

    def new_session(self, title: str = "Untitled") -> str:
        return self.sessions.new_session(title)

    def open_initial_session(self) -> None:
        self.sessions.open_initial_session()

    def rename_session(self, session_id: str, title: str) -> None:
        self.sessions.rename_session(session_id, title)

    def duplicate_session(self, session_id: str) -> None:
        self.sessions.duplicate_session(session_id)

    def delete_session(self, session_id: str) -> None:
        self.sessions.delete_session(session_id)

    def apply_rename(self, session_id: str, title: str) -> None:
        self.sessions.apply_rename(session_id, title)

    def apply_delete_session(self, session_id: str) -> None:
        self.sessions.apply_delete_session(session_id)

    def apply_restore_session(self, session_id: str) -> None:
        self.sessions.apply_restore_session(session_id)

    def flush_viewport(self) -> None:
        self.sessions.flush_viewport()

    # ================================================================== graph events
    def _on_bridge_graph_changed(self, event: GraphEvent) -> None:
        """The engine wrote: fold it into the open session (which tells _on_model_changed)."""
        if not self.model.apply(event) and isinstance(event, NodeChanged) and "status" in event.fields:
            self._update_running()  # a lane of another session ended

    def _on_watcher_changes(self, events: list[GraphEvent]) -> None:
        """Another process wrote to the open session: cards appear, change, end or go."""
        added = gone = 0
        ended = False
        for event in events:
            if not self.model.apply(event):
                continue
            if isinstance(event, NodesAdded):
                added += len(event.nodes)
            elif isinstance(event, NodesRemoved):
                gone += len(event.ids)
            elif isinstance(event, NodeChanged):
                ended = ended or not event.node.status.is_live
        self.watcher.rescan()
        changes = [f"{n} card{'s' if n != 1 else ''} {what}"
                   for n, what in ((added, "added to"), (gone, "deleted from")) if n > 0]
        if changes:
            self.message_posted.emit(f"{' and '.join(changes)} this session by another Triptych process.", 5000)
            self.emit_follow()
            self.sessions_changed.emit()  # the sidebar's card count
        if changes or ended:
            self.emit_totals()

    def _on_model_changed(self, event: GraphEvent) -> None:
        """Draw what changed in the open session."""
        graph = self.model.graph
        assert graph is not None
        if isinstance(event, NodesAdded):
            for node in event.nodes:
                self.scene.add_card(node)
                self.repaint.mark_dirty(node.id)
            if event.edges:
                self.scene.set_edges(graph.edges)
            self.watcher.rescan()
            self._update_running()
            self.emit_totals()
        elif isinstance(event, NodeChanged):
            if event.fields <= {"x", "y"}:
                return  # a move: the cards are where the user put them
            node = event.node
            self.repaint.watch_countdown(node)
            self.repaint.mark_dirty(node.id)
            if "status" in event.fields:
                self._update_running()
                if not node.status.is_live:
                    self.emit_totals()
        elif isinstance(event, NodesRemoved):
            for node_id in event.ids:
                self.scene.remove_card(node_id)
                self.repaint.forget(node_id)
            self.scene.set_edges(graph.edges)
            self.watcher.rescan()
        elif isinstance(event, SessionChanged) and event.title is not None:
            self.session_changed.emit(event.session_id, event.title)

    def flush_repaints(self) -> None:
        """Apply every pending card update now (tests, screenshots, export)."""
        self.repaint.flush()

    # ================================================================== other processes' streams
    @property
    def _foreign(self) -> set[str]:
        """Cards of this session streaming in another process (as the watcher last saw them)."""
        return self.watcher.streaming

    def foreign_live(self) -> list[str]:
        """Cards of this session that are streaming in another process (not this window's engine)."""
        if self.graph is None:
            return []
        engine = self.engine
        return [i for i, n in self.graph.nodes.items() if n.status.is_live and i not in engine.runs]

    def watch_foreign_changes(self) -> None:
        """Watch the open session for other processes' writes (after it was shown)."""
        self.watcher.watch(self.graph)
        self._clock.start()

    def _update_running(self) -> None:
        count = self.engine.running_count
        if count != self._running:
            self._running = count
            self.running_changed.emit(count)

    def emit_totals(self) -> None:
        if self.session is None:
            return
        try:
            totals = self.repo.session_totals(self.session.id)
        except Exception as exc:  # a totals query must never break the canvas
            log.warning("session totals failed: %s", exc)
            return
        self.totals_changed.emit(dict(totals))

    _emit_totals = emit_totals

    # ================================================================== selection / following
    def selected_ids(self) -> list[str]:
        return self.scene.selected_ids()

    def selected_answers(self) -> list[str]:
        if self.graph is None:
            return []
        return [i for i in self.selected_ids() if i in self.graph.nodes and self.graph.nodes[i].is_answer]

    def follow_ids(self) -> list[str]:
        """The cards the next send continues from: selected answers and notes, plus pinned ones."""
        if self.graph is None:
            return []
        out: list[str] = []
        for node_id in self._follow_pinned + self.selected_ids():
            node = self.graph.nodes.get(node_id)
            if node is not None and node.kind != NodeKind.PROMPT and node_id not in out:
                out.append(node_id)
        return out

    def emit_follow(self) -> None:
        self.follow_changed.emit(self.follow_ids())

    _emit_follow = emit_follow

    def clear_follow(self) -> None:
        self._follow_pinned.clear()
        self._branch_of = None
        self.scene.clearSelection()
        self._reset_mode()
        self._emit_follow()

    def _on_scene_selection_changed(self) -> None:
        self._reset_mode()
        self._emit_follow()

    def _reset_mode(self) -> None:
        """The send mode follows what the user does now, not the last send: with nothing pinned
        ("use as shared context", a branch) and at most one card followed, a follow-up continues that
        card's lane. A choice made for several selected cards stays while the selection grows."""
        if not self._follow_pinned and len(self.follow_ids()) <= 1:
            self.mode_change_requested.emit(SendMode.LANES.value)

    # ================================================================== sending
    def plan(self, text: str, targets: list[Target], mode: SendMode):
        """The context lens for the composer's current state (engine.plan; nothing is sent)."""
        if self.session is None or not targets:
            return []
        return self.engine.plan(
            self.session.id, text or "…", targets, parents=self.follow_ids(), mode=mode, graph=self.graph
        )

    def send(self, text: str, targets: list[Target], mode: SendMode = SendMode.LANES) -> list[str]:
        """Ask every target; returns the created node ids ([] when nothing was sent)."""
        if self.session is None:
            return []
        if not text.strip():
            self.message_posted.emit("Type a question first.", 3000)
            return []
        parents = self.follow_ids()
        if not targets and not (parents and mode == SendMode.LANES):
            self.message_posted.emit("Add at least one model (the + Model button).", 4000)
            return []
        try:
            result = self.engine.ask(
                self.session.id, text, targets, parents=parents, mode=mode, graph=self.graph,
                beside=self._branch_of,
            )
        except (EngineError, ValueError) as exc:
            self.message_posted.emit(str(exc), 6000)
            return []
        ids = [p.id for p in result.prompts] + [r.node.id for r in result.runs]
        self._after_create(ids, "Send" if not parents else "Follow-up")
        if self.session.title in ("Untitled", "") and not parents:
            self.apply_rename(self.session.id, _title_from(text))
        self._follow_pinned.clear()
        self._branch_of = None
        self.scene.select_only([])
        self._reset_mode()
        self._emit_follow()
        self.nodes_sent.emit(ids)
        return ids

    def _after_create(self, ids: list[str], label: str,
                      on_undo: Callable[[], object] | None = None) -> AddNodesCommand | None:
        """The engine has announced the new cards (NodesAdded, with their edges): make them one undo step."""
        command = None
        if self.session is not None:
            command = AddNodesCommand(self, self.session.id, ids, label, on_undo=on_undo)
            self.undo_stack.push(command)
        self._update_running()
        self.sessions_changed.emit()
        self.reveal(ids)
        return command

    def reveal(self, ids: list[str]) -> None:
        """Bring new cards into view at their full (laid-out) size, readable: scroll if they fit, else
        zoom out, but not below C.READABLE_ZOOM (then show their top), see CanvasView.reveal_rect."""
        if self.graph is None:
            return
        rect = QRectF()
        for node_id in ids:
            node = self.graph.nodes.get(node_id)
            if node is not None:
                rect = rect.united(QRectF(node.x, node.y, layout.width(node), layout.height(node)))
        if rect.isNull():
            return
        self.view.reveal_rect(rect)

    def stop(self, node_ids: Iterable[str] | None = None) -> int:
        """Stop the given lanes, or every running lane when None. Returns how many were stopped."""
        if node_ids is not None:
            node_ids = list(node_ids)
            nodes = self.graph.nodes if self.graph is not None else {}
            foreign = [nodes[i] for i in node_ids if i in self.watcher.streaming and i in nodes]
            if foreign:
                owner = foreign[0].owner
                who = f"process {owner.pid} on {owner.host}" if owner else "another process"
                self.message_posted.emit(
                    f"That answer is being streamed by another Triptych ({who}): stop it there. "
                    "If that process is gone, the card is marked interrupted within 10 s.",
                    8000,
                )
        if node_ids is None:
            count = self.engine.running_count
            self.engine.cancel_all()
        else:
            count = sum(1 for i in node_ids if self.engine.cancel(i))
        if count:
            self.message_posted.emit(f"Stopped {count} stream{'s' if count != 1 else ''}.", 3000)
        return count

    def stop_selected_or_all(self) -> int:
        running = [i for i in self.selected_ids() if self.engine.is_running(i)]
        return self.stop(running) if running else self.stop(None)

    def rerun(self, node_id: str, model: str | None = None) -> str | None:
        try:
            run = self.engine.rerun(node_id, model)
        except (EngineError, ValueError) as exc:
            self.message_posted.emit(str(exc), 6000)
            return None
        label = "Re-run" if model is None else f"Re-run on {self.catalog.display_name(model)}"
        self._after_create([run.node.id], label)
        return run.node.id

    def rerun_on_other(self, node_id: str, whole_lane: bool = False) -> str | None:
        """Ask for another model, then re-run this answer on it (or, `whole_lane`, replay its lane)."""
        node = self.graph.nodes.get(node_id) if self.graph else None
        if node is None or not node.is_answer or (whole_lane and node.kind != NodeKind.RESPONSE):
            return None
        model = self.dialogs.pick_model(self.catalog, self.settings, exclude=node.model)
        if not model:
            return None
        return self.rerun_path(node_id, model) if whole_lane else self.rerun(node_id, model)

    def rerun_path(self, node_id: str, model: str) -> str | None:
        """Replay the lane ending at this answer on `model` (Engine.rerun_path). One undo step removes
        every card of the replay, the later turns included, and stops it."""
        if self.session is None:
            return None
        command: AddNodesCommand | None = None  # set once the first card is on the undo stack

        def on_created(nodes: list[Node]) -> None:
            if command is not None:
                command.extend([n.id for n in nodes])
            self.sessions_changed.emit()  # the sidebar's card count follows each replayed turn

        try:
            path = self.engine.rerun_path(node_id, model, on_created=on_created)
        except (EngineError, ValueError) as exc:
            self.message_posted.emit(str(exc), 6000)
            return None
        first = path.first.node.id
        name = self.catalog.display_name(model)
        command = self._after_create([first], f"Re-run lane on {name}", on_undo=path.task.cancel)
        if path.turns > 1:
            self.message_posted.emit(
                f"Replaying {path.turns} turns on {name}: each prompt is sent when the previous answer is done.", 6000)
        return first

    def synthesize(self, source_ids: list[str] | None = None) -> str | None:
        if self.session is None:
            return None
        ids = source_ids if source_ids is not None else self.selected_answers()
        if not ids:
            self.message_posted.emit(
                "Select the answers to synthesize first (Ctrl+click or drag a box).", 5000
            )
            return None
        choice = self.dialogs.synthesize_options(self.catalog, self.settings, len(ids))
        if choice is None:
            return None
        kind, model, instruction = choice
        try:
            run = self.engine.synthesize(self.session.id, ids, model, kind=kind, instruction=instruction)
        except (EngineError, ValueError) as exc:
            self.message_posted.emit(str(exc), 6000)
            return None
        self._after_create([run.node.id], f"Synthesize ({kind})")
        return run.node.id

    # ================================================================== structure edits
    def _on_scene_nodes_moved(self, moved: dict) -> None:
        old = {k: v[0] for k, v in moved.items()}
        new = {k: v[1] for k, v in moved.items()}
        self.undo_stack.push(MoveNodesCommand(self, old, new, applied=True))

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None:
        if self.graph is None:
            return
        old = {i: (self.graph.nodes[i].x, self.graph.nodes[i].y) for i in positions if i in self.graph.nodes}
        self.undo_stack.push(MoveNodesCommand(self, old, positions, applied=False))

    def tidy_up(self) -> None:
        """Re-layout the whole session (lanes in columns) as one undoable move."""
        if self.graph is None:
            return
        from app.layout import relayout

        self.move_nodes(relayout(self.graph))
        self.view.fit_all()

    def delete(self, node_ids: list[str] | None = None) -> None:
        ids = node_ids if node_ids is not None else self.selected_ids()
        if not ids or self.session is None:
            return
        self.undo_stack.push(DeleteNodesCommand(self, self.session.id, ids))

    def toggle_collapse(self, node_ids: list[str] | None = None) -> None:
        ids = node_ids if node_ids is not None else self.selected_ids()
        if not ids or self.graph is None:
            return
        collapse = not all(self.graph.nodes[i].collapsed for i in ids if i in self.graph.nodes)
        self.undo_stack.push(CollapseCommand(self, ids, collapse))

    # -- applied by commands
    def apply_positions(self, positions: dict[str, tuple[float, float]], move_items: bool = True) -> None:
        if not positions:
            return
        moved: list[Node] = []
        if self.graph is not None:
            for node_id, (x, y) in positions.items():
                node = self.graph.nodes.get(node_id)
                if node is not None:
                    node.x, node.y = x, y
                    moved.append(node)
                card = self.scene.card(node_id)
                if card is not None and move_items:
                    card.setPos(x, y)
        self.engine.move_nodes(positions, moved)

    def apply_delete(self, node_ids: list[str]) -> tuple[list[Node], list[Edge]]:
        live = {i: n for i in node_ids if (n := self._node(i)) is not None}
        nodes, edges = self.engine.delete_nodes(node_ids)  # its NodesRemoved takes the cards away
        snapshot: list[Node] = []
        for stored in nodes:
            mem = live.get(stored.id)
            node = copy.deepcopy(mem) if mem is not None else stored
            if node.status.is_live:
                node.status = NodeStatus.STOPPED
                node.run = None
                node.owner = None
            snapshot.append(node)
        self._emit_totals()
        self._emit_follow()
        self.sessions_changed.emit()
        return snapshot, list(edges)

    def apply_restore(self, session_id: str, nodes: list[Node], edges: list[Edge]) -> None:
        self.sessions.ensure_session(session_id)
        self.engine.add_nodes(session_id, [copy.deepcopy(n) for n in nodes], edges)  # NodesAdded draws them
        self.sessions_changed.emit()

    def apply_collapse(self, node_ids: list[str], collapsed: bool) -> dict[str, bool]:
        before: dict[str, bool] = {}
        changed: list[Node] = []
        for node_id in node_ids:
            node = self._node(node_id)
            if node is None:
                continue
            before[node_id] = node.collapsed
            node.collapsed = collapsed
            changed.append(node)
            self.scene.sync_card(node)
        self.engine.save_nodes(changed, frozenset({"collapsed"}))
        return before

    # ================================================================== card actions
    def _on_scene_card_action_requested(self, node_id: str, action: str, arg: object) -> None:
        self.handle_card_action(node_id, action, arg)

    def handle_card_action(self, node_id: str, action: str, arg: object = None) -> None:
        """A card's button, menu entry or gesture: the card actions' table (ui/card_actions.py) for
        "menu" choices and buttons; the gestures that carry an argument are handled here."""
        node = self._node(node_id)
        if node is None:
            return
        if action == "menu":
            chosen = self.dialogs.card_menu(node, self, arg)
            if chosen:
                self.handle_card_action(node_id, chosen)
            return
        if action == "copy_text":
            if isinstance(arg, str) and arg:
                self._copy(arg, "Copied the selected text.")
        elif action == "copy_code":
            blocks = self.scene.style.renderer.code_blocks(node.text)
            index = int(arg) if isinstance(arg, int) else 0
            if 0 <= index < len(blocks):
                self._copy(blocks[index], f"Copied code block {index + 1}.")
        elif action == "open_link":
            self.open_link(str(arg or ""))
        elif action == "open_settings":
            self.settings_requested.emit(node.model.split(":", 1)[0] if node.model else "")
        elif action in card_actions.BY_ID:
            card_actions.BY_ID[action].handler(self, node_id)
        else:
            log.debug("unknown card action %s", action)

    def run_card_action(self, action: str) -> None:
        """A card action from the window's Cards menu: it acts on the selected cards."""
        card_actions.BY_ID[action].handler(self, None)

    def copy_cards(self, node_ids: list[str]) -> None:
        nodes = [n for i in node_ids if (n := self._node(i)) is not None]
        if not nodes:
            self.message_posted.emit("Select the cards to copy first.", 3000)
        elif len(nodes) == 1:
            self._copy(nodes[0].text, "Copied the answer." if nodes[0].is_answer else "Copied.")
        else:
            self._copy("\n\n".join(n.text for n in nodes), f"Copied {len(nodes)} cards.")

    def _copy(self, text: str, message: str) -> None:
        QGuiApplication.clipboard().setText(text)
        self.message_posted.emit(message, 2500)

    def continue_lane(self, node_id: str) -> None:
        """Follow up on this one card: the next send continues its model's own history."""
        node = self.graph.nodes.get(node_id) if self.graph is not None else None
        if node is not None and node.is_answer and not node.text.strip():
            self.message_posted.emit("This answer has no text to continue from yet." if node.status.is_live
                                     else "This answer has no text to continue from: Retry it instead.", 5000)
            return
        self._follow_pinned.clear()
        self.scene.select_only([node_id])
        self.mode_change_requested.emit(SendMode.LANES.value)
        self._emit_follow()
        self.composer_focus_requested.emit()

    def use_as_shared_context(self, node_id: str) -> None:
        """Add this card to what the next send follows, and switch to shared mode."""
        if node_id not in self._follow_pinned:
            self._follow_pinned.append(node_id)
        self.mode_change_requested.emit(SendMode.SHARED.value)
        self._emit_follow()
        self.composer_focus_requested.emit()

    def branch(self, node_id: str) -> None:
        """Ask again from the same point with an edited prompt: a sibling branch of this card's prompt."""
        if self.graph is None:
            return
        node = self.graph.nodes.get(node_id)
        if node is None:
            return
        prompt = node if node.kind == NodeKind.PROMPT else self._prompt_of(node_id)
        parents = (
            [e.parent_id for e in self.graph.parents(prompt.id, (EdgeRole.FOLLOW, EdgeRole.REF))]
            if prompt
            else []
        )
        self._follow_pinned = list(parents)
        self.scene.select_only([])
        self._branch_of = prompt.id if prompt is not None else None
        mode = self._mode_of(prompt) if prompt is not None else SendMode.LANES
        self.mode_change_requested.emit(mode.value)
        self._emit_follow()
        if prompt is not None:
            self.composer_fill_requested.emit(prompt.text)
        self.composer_focus_requested.emit()

    def _mode_of(self, prompt: Node) -> SendMode:
        """How `prompt` was sent, so a branch of it goes where it went: shared when it followed several
        cards or went to a model other than that of the one answer it followed; else its lane."""
        assert self.graph is not None
        parents = [e.parent_id for e in self.graph.parents(prompt.id, (EdgeRole.FOLLOW, EdgeRole.REF))]
        if len(parents) > 1:
            return SendMode.SHARED
        parent = self.graph.nodes.get(parents[0]) if parents else None
        if parent is None or not parent.is_answer or not parent.model:
            return SendMode.LANES
        reply_edges = self.graph.children(prompt.id, (EdgeRole.REPLY,))
        replies = [self.graph.nodes.get(e.child_id) for e in reply_edges]
        models = {
            n.model
            for n in replies
            if n is not None and n.kind == NodeKind.RESPONSE and "rerun_of" not in n.meta  # not re-runs
        }
        return SendMode.SHARED if models - {parent.model} else SendMode.LANES

    def _prompt_of(self, node_id: str) -> Node | None:
        if self.graph is None:
            return None
        for e in self.graph.parents(node_id, (EdgeRole.REPLY,)):
            return self.graph.nodes.get(e.parent_id)
        return None

    def siblings(self, node_id: str) -> list[str]:
        """Cards in the same fan-out row (same prompt), left to right; for focus mode."""
        if self.graph is None or node_id not in self.graph.nodes:
            return [node_id]
        prompt = self._prompt_of(node_id)
        if prompt is None:
            ids = [node_id]
        else:
            ids = [
                e.child_id
                for e in self.graph.children(prompt.id, (EdgeRole.REPLY,))
                if e.child_id in self.graph.nodes
            ]
        ids.sort(key=lambda i: (self.graph.nodes[i].x, self.graph.nodes[i].y))
        return ids or [node_id]

    def open_link(self, url: str) -> bool:
        url = url.strip()
        if not url:
            return False
        if not link_is_openable(url):
            scheme = QUrl(url).scheme() or "this kind of"
            self.message_posted.emit(f"Triptych never opens {scheme}: links from model answers.", 6000)
            return False
        if not self.dialogs.confirm_open_link(url):
            return False
        QDesktopServices.openUrl(QUrl(url))
        return True

    def compare_selected(self, node_id: str | None = None) -> bool:
        ids = self.selected_answers()
        if node_id and node_id not in ids:
            ids = [node_id, *ids]
        if len(ids) != 2:
            self.message_posted.emit("Select exactly two answers to compare them.", 4000)
            return False
        self.diff_requested.emit(ids[0], ids[1])
        return True

    def comparison_table(self, node_id: str | None = None) -> bool:
        if self.graph is None:
            return False
        ids = [node_id] if node_id else self.selected_ids()
        for nid in ids:
            node = self.graph.nodes.get(nid)
            if node is None:
                continue
            prompt = node if node.kind == NodeKind.PROMPT else self._prompt_of(nid)
            if prompt is not None:
                self.table_requested.emit(prompt.id)
                return True
        self.message_posted.emit("Select a prompt or one of its answers to see the comparison table.", 4000)
        return False

    def export_graph(self) -> Graph | None:
        """The current session as stored, with the live text of streaming cards (the store lags ≤ 250 ms)."""
        if self.session is None:
            return None
        self.flush_repaints()
        graph = self.repo.load_graph(self.session.id)
        if self.graph is not None:
            for node_id, node in self.graph.nodes.items():
                if node_id in graph.nodes:
                    graph.nodes[node_id] = node
        return graph

    # ================================================================== shutdown
    def close(self) -> None:
        """Save the viewport and stop observing: the scene and engine may outlive this controller."""
        self.sessions.close()
        self.repaint.stop()
        self._clock.stop()
        self.watcher.close()
        self.bridge.close()
        for signal, slot in (
            (self.scene.card_action_requested, self._on_scene_card_action_requested),
            (self.scene.nodes_moved, self._on_scene_nodes_moved),
            (self.scene.selectionChanged, self._on_scene_selection_changed),
        ):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass


def _title_from(text: str) -> str:
    line = " ".join(text.strip().split())
    return line[:60] + ("…" if len(line) > 60 else "")
