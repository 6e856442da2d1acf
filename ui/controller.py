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

import logging
from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QUndoStack

from app.attachments import Attachment
from app.domain import Graph, Node, SendMode, Session
from app.engine import Engine, PlannedCall, Target
from app.foreign import PushWatcher
from app.graph_events import GraphEvent, NodeChanged, NodesAdded, NodesRemoved, SessionChanged
from app.session_model import SessionModel
from app.urls import is_openable, url_scheme
from ui import card_actions
from ui.bridge import EngineBridge
from ui.canvas import loader
from ui.canvas.scene import CanvasScene
from ui.canvas.view import CanvasView
from ui.edit_controller import EditController
from ui.foreign_watcher import PollingClock, make_watcher
from ui.lane_controller import LaneController
from ui.repaint import RepaintScheduler
from ui.session_controller import SessionController
from ui.sweep_controller import SweepGridController

if TYPE_CHECKING:
    from app.catalog import Catalog
    from app.config import Settings
    from app.repository import Repository
    from ui.dialogs import DialogService

log = logging.getLogger(__name__)



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
        repo: Repository,
        engine: Engine,
        settings: Settings,
        catalog: Catalog,
        scene: CanvasScene,
        view: CanvasView,
        undo_stack: QUndoStack,
        dialogs: DialogService,
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
        self.card_guard: Callable[[list[str], str], bool] | None = None  # (ids, action) -> refused (ui/arena.py)
        self.model = SessionModel()
        self.model.observe(self._on_model_changed)
        self._running = 0
        self.repaint = RepaintScheduler(scene, view, self._node, self)
        self.repaint.card_rendered.connect(self.card_rendered)
        self.bridge = EngineBridge(engine, self)
        self.bridge.graph_changed.connect(self._on_bridge_graph_changed)
        # Other processes (the CLI, another window) may add cards to the open session and stream into them.
        self.watcher = make_watcher(repo, self._on_watcher_changes, lambda: self.engine.runs.keys(),
                                    self.sessions_changed.emit)
        self._clock = PollingClock(self.watcher, self)
        self.sessions = SessionController(self)
        self.edits = EditController(self)
        self.lanes = LaneController(self)
        self.sweeps = SweepGridController(self)  # a sweep session's grid, sweeps run from the window
        scene.card_action_requested.connect(self._on_scene_card_action_requested)

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
        self.lanes.reset()
        # Cards are made as the view reaches them (the view tells the scene as the viewport is
        # restored), their nodes read from the store then (ui/canvas/loader.py).
        loader.populate(self.scene, graph, self.sweeps.show(graph))

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
            if isinstance(event, NodeChanged) and "x" in event.fields:  # another member's move: the
                card = self.scene.card(event.node.id)  # last write wins, except on the card one drags
                if card is not None and not card.isSelected():
                    card.setPos(event.node.x, event.node.y)
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
            shown = [node for node in event.nodes if not self.sweeps.claims(node)]  # (a sweep's cells: its grid)
            for node in shown:
                self.scene.add_card(node)
                self.repaint.mark_dirty(node.id)
            if event.edges and (shown or not event.nodes):
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
        nodes = self.graph.nodes
        live = nodes.live_ids() if hasattr(nodes, "live_ids") else [i for i, n in nodes.items() if n.status.is_live]
        return [i for i in live if i not in engine.runs]

    def watch_foreign_changes(self) -> None:
        """Watch the open session for other processes' writes (after it was shown)."""
        self.watcher.watch(self.graph)
        if not isinstance(self.watcher, PushWatcher):
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

    # What the next send follows, sending and re-running live in LaneController, the structure edits
    # in EditController; these names stay for the window, the card actions and tests.
    @property
    def branch_of(self) -> str | None:
        return self.lanes.branch_of

    def emit_follow(self) -> None:
        self.lanes.emit_follow()

    _emit_follow = emit_follow

    def follow_ids(self) -> list[str]:
        return self.lanes.follow_ids()

    def clear_follow(self) -> None:
        self.lanes.clear_follow()

    def plan(self, text: str, targets: list[Target], mode: SendMode,
             attachments: Sequence[Attachment] = ()) -> list[PlannedCall]:
        return self.lanes.plan(text, targets, mode, attachments)

    def send(self, text: str, targets: list[Target], mode: SendMode = SendMode.LANES,
             attachments: Sequence[Attachment] = ()) -> list[str]:
        return self.lanes.send(text, targets, mode, attachments)

    def stop(self, node_ids: Iterable[str] | None = None) -> int:
        return self.lanes.stop(node_ids)

    def stop_selected_or_all(self) -> int:
        return self.lanes.stop_selected_or_all()

    def rerun(self, node_id: str, model: str | None = None) -> str | None:
        return self.lanes.rerun(node_id, model)

    def rerun_on_other(self, node_id: str, whole_lane: bool = False) -> str | None:
        return self.lanes.rerun_on_other(node_id, whole_lane)

    def synthesize(self, source_ids: list[str] | None = None) -> str | None:
        return self.lanes.synthesize(source_ids)

    def continue_lane(self, node_id: str) -> None:
        self.lanes.continue_lane(node_id)

    def use_as_shared_context(self, node_id: str) -> None:
        self.lanes.use_as_shared_context(node_id)

    def branch(self, node_id: str) -> None:
        self.lanes.branch(node_id)

    def siblings(self, node_id: str) -> list[str]:
        return self.lanes.siblings(node_id)

    def compare_selected(self, node_id: str | None = None) -> bool:
        return self.lanes.compare_selected(node_id)

    def comparison_table(self, node_id: str | None = None) -> bool:
        return self.lanes.comparison_table(node_id)

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None:
        self.edits.move_nodes(positions)

    def tidy_up(self) -> None:
        self.edits.tidy_up()

    def delete(self, node_ids: list[str] | None = None) -> None:
        self.edits.delete(node_ids)

    def toggle_collapse(self, node_ids: list[str] | None = None) -> None:
        self.edits.toggle_collapse(node_ids)


    # ================================================================== sending
    # ================================================================== structure edits
    # -- applied by commands
    # ================================================================== card actions
    def _on_scene_card_action_requested(self, node_id: str, action: str, arg: object) -> None:
        self.handle_card_action(node_id, action, arg)

    def handle_card_action(self, node_id: str, action: str, arg: object = None) -> None:
        """A card's button, menu entry or gesture (the table of ui/card_actions.py, or handled here)."""
        node = self._node(node_id)
        if node is None or (self.card_guard is not None and self.card_guard([node_id], action)):
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
        if self.card_guard is None or not self.card_guard(self.selected_ids(), action):
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

    def open_link(self, url: str) -> bool:
        url = url.strip()
        if not url:
            return False
        if not is_openable(url):
            scheme = url_scheme(url) or "this kind of"
            self.message_posted.emit(f"Triptych never opens {scheme}: links from model answers.", 6000)
            return False
        if not self.dialogs.confirm_open_link(url):
            return False
        QDesktopServices.openUrl(QUrl(url))
        return True

    def export_graph(self) -> Graph | None:
        """The current session as stored, with the live text of streaming cards (the store lags ≤ 250 ms)."""
        if self.session is None:
            return None
        self.flush_repaints()
        graph = self.repo.load_graph(self.session.id)
        if self.graph is not None:
            for node_id, node in loader.loaded_nodes(self.graph):
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
        self.edits.close()
        self.lanes.close()
        self.sweeps.close()
        try:
            self.scene.card_action_requested.disconnect(self._on_scene_card_action_requested)
        except (RuntimeError, TypeError):
            pass
