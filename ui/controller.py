"""CanvasController: turns user actions into engine/repository calls, and engine events into repaints.

It owns the current session's graph (the engine's live `Node` objects while they stream), the undo
stack's commands and the shared ~30 fps repaint tick. Views (scene, view, composer, sidebar) emit ids
and facts; this class decides. It asks the user things only through a `DialogService`, so tests can
answer for them.

Threading: Qt main thread = asyncio loop thread (qasync). Nothing here blocks: repository calls are
short SQLite transactions; engine operations return at once and stream in owned tasks.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable, Iterable, Sequence

from PySide6.QtCore import QObject, QRectF, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QGuiApplication, QUndoStack

from app import layout
from app.domain import Edge, EdgeRole, Graph, Node, NodeKind, NodeStatus, SendMode, Session, Viewport
from app.engine import Engine, EngineError, Target
from app.urls import is_openable, url_scheme
from ui import gc_policy
from ui.bridge import EngineBridge
from ui.canvas import constants as C
from ui.canvas.scene import CanvasScene
from ui.canvas.view import CanvasView
from ui.commands import (
    AddNodesCommand,
    CollapseCommand,
    DeleteNodesCommand,
    DeleteSessionCommand,
    MoveNodesCommand,
    RenameSessionCommand,
)
from ui.format import has_live_countdown

log = logging.getLogger(__name__)

STORE_POLL_MS = 1000  # how often the open session is checked for other processes' cards and text

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
        self.session: Session | None = None
        self.graph: Graph | None = None
        self._dirty: set[str] = set()
        self._render_queue: list[str] = []  # cards to re-render, one per event-loop pass
        self._last_render: dict[str, float] = {}  # node id -> monotonic time of its last render
        self._countdowns: set[str] = set()
        self._last_countdown_tick = 0.0
        self._running = 0
        self._follow_pinned: list[str] = []  # cards added with "use as shared context"
        self._branch_of: str | None = None  # the prompt being branched: its new sibling goes beside it
        self.bridge = EngineBridge(engine, self)
        self.bridge.node_changed.connect(self._on_bridge_node_changed)
        # Fires when the earliest dirty card may render again (per card: 33 ms after its last render, or
        # at once if it has not rendered for that long), so each card's text reaches the screen as soon
        # as its frame budget allows, and the three cards of a fan-out render at their own phases
        # instead of all in the same loop pass.
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._frame_timer.timeout.connect(self._on_frame_timer_timeout)
        self._frame_due = 0.0  # monotonic time the frame timer fires at, while it is active
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setInterval(0)
        self._drain_timer.timeout.connect(self._on_drain_timer_timeout)
        self._viewport_timer = QTimer(self)
        self._viewport_timer.setSingleShot(True)
        self._viewport_timer.setInterval(C.VIEWPORT_SAVE_DEBOUNCE_MS)
        self._viewport_timer.timeout.connect(self._on_viewport_timer_timeout)
        self._pending_viewport: Viewport | None = None
        self._restoring_viewport = False
        # Other processes (the CLI, another window) may add cards to the open session and stream into
        # them: checked every STORE_POLL_MS (see _on_store_timer_timeout).
        self._store_timer = QTimer(self)
        self._store_timer.setInterval(STORE_POLL_MS)
        self._store_timer.timeout.connect(self._on_store_timer_timeout)
        self._seen_updated_at = 0.0  # the open session's updated_at as last seen
        self._foreign: set[str] = set()  # its cards streaming in another process
        scene.card_action_requested.connect(self._on_scene_card_action_requested)
        scene.nodes_moved.connect(self._on_scene_nodes_moved)
        scene.selectionChanged.connect(self._on_scene_selection_changed)
        scene.filled.connect(self._on_scene_filled)
        view.viewport_changed.connect(self._on_view_viewport_changed)

    def __repr__(self) -> str:
        return f"<CanvasController session={self.session!r}>"

    # ================================================================== sessions
    @property
    def session_id(self) -> str | None:
        return self.session.id if self.session else None

    def open_session(self, session_id: str) -> None:
        """Show a session: cards, edges and its saved viewport."""
        self.flush_viewport()
        session = self.repo.get_session(session_id)
        if session is None:
            self.message_posted.emit("That session no longer exists.", 4000)
            return
        graph = self.repo.load_graph(session_id)
        # While a lane streams, the engine's own Node object is the truth (the store lags ≤ 250 ms).
        for node_id, run in list(self.engine.runs.items()):
            if node_id in graph.nodes:
                graph.nodes[node_id] = run.node
        self.session = session
        self.graph = graph
        self._dirty.clear()
        self._render_queue.clear()
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
        self._restore_viewport(session)
        self.settings.ui["last_session"] = session.id
        self._seen_updated_at = session.updated_at
        self._watch_foreign()
        self._store_timer.start()
        self.session_changed.emit(session.id, session.title)
        self._emit_totals()
        self._emit_follow()

    def _on_scene_filled(self) -> None:
        gc_policy.resume("fill")

    def _restore_viewport(self, session: Session) -> None:
        vp = session.viewport
        self._restoring_viewport = True
        try:
            if vp.zoom == 1.0 and vp.x == 0.0 and vp.y == 0.0 and self.graph and self.graph.nodes:
                self.view.fit_all()  # never saved: show everything
            else:
                self.view.set_viewport(vp.x, vp.y, vp.zoom)
        finally:
            self._restoring_viewport = False

    def start_session(self) -> str:
        """The user's "New session" (Ctrl+N, the sidebar's New): a fresh untitled session, except when
        the open one is already that (no cards, no title): then it stays, and says so, instead of
        piling up empty "Untitled · 0 cards" sessions."""
        session, graph = self.session, self.graph
        if session is not None and graph is not None and not graph.nodes and session.title == "Untitled":
            self.message_posted.emit("This session is new and empty already: type a prompt below.", 4000)
            self.composer_focus_requested.emit()
            return session.id
        return self.new_session()

    def new_session(self, title: str = "Untitled") -> str:
        session = self.repo.create_session(Session(title=title))
        self.sessions_changed.emit()
        self.open_session(session.id)
        return session.id

    def open_initial_session(self) -> None:
        last = self.settings.ui.get("last_session")
        if isinstance(last, str) and self.repo.get_session(last) is not None:
            self.open_session(last)
            return
        sessions = self.repo.list_sessions()
        if sessions:
            self.open_session(sessions[0].id)
        else:
            self.new_session()

    def rename_session(self, session_id: str, title: str) -> None:
        title = title.strip()
        session = self.repo.get_session(session_id)
        if session is None or not title or title == session.title:
            return
        self.undo_stack.push(RenameSessionCommand(self, session_id, session.title, title))

    def duplicate_session(self, session_id: str) -> None:
        session = self.repo.get_session(session_id)
        if session is None:
            return
        copy_ = self.repo.duplicate_session(session_id, f"{session.title} (copy)")
        self.sessions_changed.emit()
        self.open_session(copy_.id)

    def delete_session(self, session_id: str) -> None:
        session = self.repo.get_session(session_id)
        if session is None:
            return
        self.undo_stack.push(DeleteSessionCommand(self, session_id, session.title))
        self.message_posted.emit(f"Deleted “{session.title}”. Ctrl+Z brings it back.", 6000)

    # -- applied by commands
    def apply_rename(self, session_id: str, title: str) -> None:
        session = self.repo.get_session(session_id)
        if session is None:
            return
        session.title = title
        self.repo.update_session(session)
        if self.session is not None and self.session.id == session_id:
            self.session.title = title
            self.session_changed.emit(session_id, title)
        self.sessions_changed.emit()

    def apply_delete_session(self, session_id: str) -> None:
        for node_id, run in list(self.engine.runs.items()):
            if run.node.session_id == session_id:
                self.engine.cancel(node_id)
        self.repo.delete_session(session_id)
        self.sessions_changed.emit()
        if self.session_id == session_id:
            remaining = [s for s in self.repo.list_sessions() if s.id != session_id]
            if remaining:
                self.open_session(remaining[0].id)
            else:
                self.new_session()

    def apply_restore_session(self, session_id: str) -> None:
        self.repo.restore_session(session_id)
        self.sessions_changed.emit()
        self.open_session(session_id)

    def _ensure_session(self, session_id: str) -> None:
        if self.session_id != session_id:
            self.open_session(session_id)

    # ================================================================== engine events
    def _on_bridge_node_changed(self, node: Node, change: str) -> None:
        if self.graph is None or node.session_id != self.session_id:
            if change == "status" and not node.status.is_live:
                self._update_running()
            return
        if change == "created":
            self.graph.nodes[node.id] = node
            self.scene.add_card(node)
        elif node.id not in self.graph.nodes:
            return  # a card deleted while its stream winds down
        else:
            self.graph.nodes[node.id] = node
        if change == "retry" or has_live_countdown(node, time.time()):
            self._countdowns.add(node.id)
        self._mark_dirty(node.id)
        if change in ("status", "created"):
            self._update_running()
            if not node.status.is_live:
                self._countdowns.discard(node.id)
                self._emit_totals()

    def _mark_dirty(self, node_id: str) -> None:
        if node_id in self._dirty:
            return
        self._dirty.add(node_id)
        if node_id in self._render_queue:
            return
        due = self._last_render.get(node_id, 0.0) + C.FRAME_INTERVAL_MS / 1000
        if not self._frame_timer.isActive() or due < self._frame_due - 0.001:
            self._arm_frame_timer(due)

    def _arm_frame_timer(self, due: float) -> None:
        self._frame_due = due
        self._frame_timer.start(max(0, round((due - time.monotonic()) * 1000)))

    def _on_frame_timer_timeout(self) -> None:
        """Queue every changed card whose frame budget allows a render now, and re-arm for the rest.

        A card on screen renders at most every FRAME_INTERVAL_MS (~30 fps); a card off screen, or too
        small to show text, every HIDDEN_CARD_INTERVAL_S. The queue drains one card per event-loop pass
        (a zero-delay timer), so network reads, input and painting run between two cards' renders.
        """
        now = time.time()
        mono = time.monotonic()
        if self._countdowns and now - self._last_countdown_tick >= 0.5:
            self._last_countdown_tick = now
            for node_id in list(self._countdowns):
                node = self.graph.nodes.get(node_id) if self.graph else None
                if node is None or not has_live_countdown(node, now):
                    self._countdowns.discard(node_id)
                self._dirty.add(node_id)
        visible = self.view.visible_scene_rect()
        readable = self.view.zoom() >= C.LOD_TEXT_MIN
        later: set[str] = set()
        next_due = mono + 0.5 if self._countdowns else float("inf")
        for node_id in self._dirty:
            if node_id in self._render_queue:
                continue
            card = self.scene.card(node_id)
            shown = card is not None and readable and card.sceneBoundingRect().intersects(visible)
            interval = C.FRAME_INTERVAL_MS / 1000 if shown else C.HIDDEN_CARD_INTERVAL_S
            due = self._last_render.get(node_id, 0.0) + interval
            if due > mono + 0.001:
                later.add(node_id)
                next_due = min(next_due, due)
                continue
            self._render_queue.append(node_id)
        self._dirty = later
        if self._render_queue and not self._drain_timer.isActive():
            self._drain_timer.start()
        if next_due != float("inf"):
            self._arm_frame_timer(next_due)

    def _on_drain_timer_timeout(self) -> None:
        if not self._render_queue:
            return
        node_id = self._render_queue.pop(0)
        self._dirty.discard(node_id)  # changes that came while it waited in the queue are in this render
        node = self.graph.nodes.get(node_id) if self.graph is not None else None
        if node is not None:
            self.scene.sync_card(node)
            self._last_render[node_id] = time.monotonic()
            self.card_rendered.emit(node_id)
        if self._render_queue:
            self._drain_timer.start()

    def flush_repaints(self) -> None:
        """Apply every pending card update now (tests, screenshots, export)."""
        for node_id in self._dirty:
            if node_id not in self._render_queue:
                self._render_queue.append(node_id)
        self._dirty = set()
        while self._render_queue:
            self._on_drain_timer_timeout()
        self._drain_timer.stop()

    # ================================================================== other processes' streams
    def foreign_live(self) -> list[str]:
        """Cards of this session that are streaming in another process (not this window's engine)."""
        if self.graph is None:
            return []
        engine = self.engine
        return [i for i, n in self.graph.nodes.items() if n.status.is_live and i not in engine.runs]

    def _watch_foreign(self) -> None:
        self._foreign = set(self.foreign_live())

    def _on_store_timer_timeout(self) -> None:
        """Cards another process added to the open session appear (the session's updated_at moved:
        its edges are read again, and the cards they name that the window does not know); cards it
        streams into show what it has saved (it writes every ≤ 250 ms) and end with it; those whose
        process is gone, or has not beaten for 10 s, are marked interrupted, as at start-up."""
        if self.session is None or self.graph is None:
            return
        try:
            stored = self.repo.get_session(self.session.id)
            if stored is not None and stored.updated_at != self._seen_updated_at:
                self._seen_updated_at = stored.updated_at
                known = len(self.graph.nodes)
                self._reload_edges()
                added = len(self.graph.nodes) - known
                gone = self.graph.nodes.keys() - self.repo.node_ids(self.session.id)
                if gone:
                    self._forget_nodes(gone)
                changes = [
                    f"{n} card{'s' if n != 1 else ''} {what}"
                    for n, what in ((added, "added to"), (len(gone), "deleted from"))
                    if n > 0
                ]
                if changes:
                    self.message_posted.emit(
                        f"{' and '.join(changes)} this session by another Triptych process.", 5000
                    )
                    self._emit_totals()
                    self._emit_follow()
                    self.sessions_changed.emit()  # the sidebar's card count
            if self._foreign:
                self._poll_foreign()
        except Exception as exc:  # a locked or vanished store: try again on the next tick
            log.warning("could not check the session for other processes' changes: %s", exc)

    def _poll_foreign(self) -> None:
        assert self.graph is not None
        self.repo.mark_orphans_interrupted()
        ended = False
        for node_id in list(self._foreign):
            node = self.repo.get_node(node_id)
            if node is None or node_id not in self.graph.nodes:
                continue
            self.graph.nodes[node_id] = node
            self._mark_dirty(node_id)
            ended = ended or not node.status.is_live
        if ended:
            self._emit_totals()
        self._watch_foreign()

    def _update_running(self) -> None:
        count = self.engine.running_count
        if count != self._running:
            self._running = count
            self.running_changed.emit(count)

    def _emit_totals(self) -> None:
        if self.session is None:
            return
        try:
            totals = self.repo.session_totals(self.session.id)
        except Exception as exc:  # a totals query must never break the canvas
            log.warning("session totals failed: %s", exc)
            return
        self.totals_changed.emit(dict(totals))

    def _reload_edges(self) -> None:
        """After the engine added cards: its edges, from the store (the new cards came as "created"
        events; a card an edge names that is still unknown is read on its own). Not load_graph: on a
        10,000-card session that re-read every card's text, ~70 ms per send."""
        if self.session is None or self.graph is None:
            return
        edges = self.repo.load_edges(self.session.id)
        nodes = self.graph.nodes
        for node_id in {i for e in edges for i in (e.parent_id, e.child_id)} - nodes.keys():
            node = self.repo.get_node(node_id)
            if node is not None:
                nodes[node_id] = node
                self.scene.add_card(node)
        self.graph.edges = edges
        self.scene.set_edges(edges)
        self._watch_foreign()

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

    def _emit_follow(self) -> None:
        self.follow_changed.emit(self.follow_ids())

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
    def plan(self, text: str, targets: list[Target], mode: SendMode, attachments: Sequence = ()):
        """The context lens for the composer's current state (engine.plan; nothing is sent)."""
        if self.session is None or not targets:
            return []
        return self.engine.plan(
            self.session.id, text or "…", targets, parents=self.follow_ids(), mode=mode, graph=self.graph,
            attachments=attachments,
        )

    def send(self, text: str, targets: list[Target], mode: SendMode = SendMode.LANES,
             attachments: Sequence = ()) -> list[str]:
        """Ask every target, with the prompt's files (app.attachments); returns the created node ids
        ([] when nothing was sent)."""
        if self.session is None:
            return []
        if not text.strip() and not attachments:
            self.message_posted.emit("Type a question first.", 3000)
            return []
        parents = self.follow_ids()
        if not targets and not (parents and mode == SendMode.LANES):
            self.message_posted.emit("Add at least one model (the + Model button).", 4000)
            return []
        try:
            result = self.engine.ask(
                self.session.id, text, targets, parents=parents, mode=mode, graph=self.graph,
                beside=self._branch_of, attachments=attachments,
            )
        except (EngineError, ValueError) as exc:
            self.message_posted.emit(str(exc), 6000)
            return []
        ids = [p.id for p in result.prompts] + [r.node.id for r in result.runs]
        self._after_create(ids, "Send" if not parents else "Follow-up")
        if self.session.title in ("Untitled", "") and not parents:
            self.apply_rename(self.session.id, _title_from(text or attachments[0].name))
        self._follow_pinned.clear()
        self._branch_of = None
        self.scene.select_only([])
        self._reset_mode()
        self._emit_follow()
        self.nodes_sent.emit(ids)
        return ids

    def _after_create(self, ids: list[str], label: str,
                      on_undo: Callable[[], object] | None = None) -> AddNodesCommand | None:
        self._reload_edges()
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
            foreign = [nodes[i] for i in node_ids if i in self._foreign and i in nodes]
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
            self._reload_edges()
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
        if self.graph is not None:
            for node_id, (x, y) in positions.items():
                node = self.graph.nodes.get(node_id)
                if node is not None:
                    node.x, node.y = x, y
                card = self.scene.card(node_id)
                if card is not None and move_items:
                    card.setPos(x, y)
        self.repo.move_nodes(positions)

    def apply_delete(self, node_ids: list[str]) -> tuple[list[Node], list[Edge]]:
        live = {}
        for node_id in node_ids:
            if self.engine.is_running(node_id):
                self.engine.cancel(node_id)
            if self.graph is not None and node_id in self.graph.nodes:
                live[node_id] = self.graph.nodes[node_id]
        nodes, edges = self.repo.delete_nodes(node_ids)
        snapshot: list[Node] = []
        for stored in nodes:
            mem = live.get(stored.id)
            node = copy.deepcopy(mem) if mem is not None else stored
            if node.status.is_live:
                node.status = NodeStatus.STOPPED
                node.meta["phase"] = "stopped"
                node.owner = None
            snapshot.append(node)
        self._forget_nodes(node_ids)
        self._emit_totals()
        self._emit_follow()
        self.sessions_changed.emit()
        return snapshot, list(edges)

    def _forget_nodes(self, node_ids: Iterable[str]) -> None:
        """Take deleted cards (and their edges) off the canvas and out of the open graph."""
        if self.graph is None:
            return
        gone = set(node_ids)
        for node_id in gone:
            self.graph.nodes.pop(node_id, None)
            self.scene.remove_card(node_id)
            self._foreign.discard(node_id)
        self.graph.edges = [e for e in self.graph.edges if e.parent_id not in gone and e.child_id not in gone]
        self.scene.set_edges(self.graph.edges)

    def apply_restore(self, session_id: str, nodes: list[Node], edges: list[Edge]) -> None:
        self._ensure_session(session_id)
        fresh = [copy.deepcopy(n) for n in nodes]
        self.repo.add_nodes(fresh, list(edges))
        if self.graph is not None and self.session_id == session_id:
            for node in fresh:
                self.graph.nodes[node.id] = node
                self.scene.add_card(node)
            self._reload_edges()
        self._emit_totals()
        self.sessions_changed.emit()

    def apply_collapse(self, node_ids: list[str], collapsed: bool) -> dict[str, bool]:
        before: dict[str, bool] = {}
        if self.graph is None:
            return before
        for node_id in node_ids:
            node = self.graph.nodes.get(node_id)
            if node is None:
                continue
            before[node_id] = node.collapsed
            node.collapsed = collapsed
            if not self.engine.is_running(node_id):
                self.repo.update_node(node)
            self.scene.sync_card(node)
        return before

    # ================================================================== card actions
    def _on_scene_card_action_requested(self, node_id: str, action: str, arg: object) -> None:
        self.handle_card_action(node_id, action, arg)

    def handle_card_action(self, node_id: str, action: str, arg: object = None) -> None:
        node = self.graph.nodes.get(node_id) if self.graph else None
        if node is None:
            return
        if action == "menu":
            chosen = self.dialogs.card_menu(node, self, arg)
            if chosen:
                self.handle_card_action(node_id, chosen)
            return
        if action == "copy":
            self._copy(node.text, "Copied the answer." if node.is_answer else "Copied.")
        elif action == "copy_text":
            if isinstance(arg, str) and arg:
                self._copy(arg, "Copied the selected text.")
        elif action == "copy_code":
            blocks = self.scene.style.renderer.code_blocks(node.text)
            index = int(arg) if isinstance(arg, int) else 0
            if 0 <= index < len(blocks):
                self._copy(blocks[index], f"Copied code block {index + 1}.")
        elif action == "stop":
            self.stop([node_id])
        elif action == "retry":
            self.rerun(node_id)
        elif action == "rerun_other":
            self.rerun_on_other(node_id)
        elif action == "rerun_path":
            self.rerun_on_other(node_id, whole_lane=True)
        elif action == "continue":
            self.continue_lane(node_id)
        elif action == "branch":
            self.branch(node_id)
        elif action == "shared":
            self.use_as_shared_context(node_id)
        elif action == "collapse":
            self.toggle_collapse([node_id])
        elif action == "focus":
            self.focus_requested.emit(node_id)
        elif action == "delete":
            ids = self.selected_ids() if node_id in self.selected_ids() else [node_id]
            self.delete(ids)
        elif action == "open_link":
            self.open_link(str(arg or ""))
        elif action == "open_settings":
            provider = node.model.split(":", 1)[0] if node.model else ""
            self.settings_requested.emit(provider)
        elif action == "synthesize":
            ids = self.selected_answers()
            self.synthesize(ids if node_id in ids else [node_id])
        elif action == "diff":
            self.compare_selected(node_id)
        elif action == "table":
            self.comparison_table(node_id)
        else:
            log.debug("unknown card action %s", action)

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
        if not is_openable(url):
            scheme = url_scheme(url) or "this kind of"
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

    # ================================================================== viewport persistence
    def _on_view_viewport_changed(self, x: float, y: float, zoom: float) -> None:
        if self.session is None or self._restoring_viewport:
            return
        self._pending_viewport = Viewport(x=x, y=y, zoom=zoom)
        self._viewport_timer.start()

    def _on_viewport_timer_timeout(self) -> None:
        self.flush_viewport()

    def flush_viewport(self) -> None:
        """Write a pending viewport change now (on session switch and on quit)."""
        self._viewport_timer.stop()
        vp, self._pending_viewport = self._pending_viewport, None
        if vp is None or self.session is None:
            return
        session = self.repo.get_session(self.session.id)
        if session is None:
            return
        session.viewport = vp
        self.session.viewport = vp
        try:
            self.repo.update_session(session)
        except Exception as exc:
            log.warning("could not save the viewport: %s", exc)

    # ================================================================== shutdown
    def close(self) -> None:
        """Save the viewport and stop observing: the scene and engine may outlive this controller."""
        self.flush_viewport()
        self._frame_timer.stop()
        self._drain_timer.stop()
        self._viewport_timer.stop()
        self._store_timer.stop()
        self.bridge.close()
        for signal, slot in (
            (self.scene.card_action_requested, self._on_scene_card_action_requested),
            (self.scene.nodes_moved, self._on_scene_nodes_moved),
            (self.scene.selectionChanged, self._on_scene_selection_changed),
            (self.view.viewport_changed, self._on_view_viewport_changed),
        ):
            try:
                signal.disconnect(slot)
            except (RuntimeError, TypeError):
                pass


def _title_from(text: str) -> str:
    line = " ".join(text.strip().split())
    return line[:60] + ("…" if len(line) > 60 else "")
