"""LaneController: what the next send follows, and the sends themselves.

The cards a send continues from (the selection and the pinned "use as shared context" cards), the
send mode the composer shows, branching and continuing a lane; sending, re-running (on the same or
another model, or a whole lane), synthesizing and stopping, each created set of cards one undo step.
The engine announces the new cards with their edges (NodesAdded), so nothing is read back here.

Threading: Qt main thread (= the asyncio loop thread); engine operations return at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QRectF

from app import layout
from app.attachments import Attachment
from app.domain import EdgeRole, Node, NodeKind, SendMode
from app.engine import EngineError, Target
from ui.canvas import loader
from ui.commands import AddNodesCommand

if TYPE_CHECKING:
    from app.planner import PlannedCall
    from ui.controller import CanvasController


class LaneController(QObject):
    def __init__(self, canvas: CanvasController) -> None:
        super().__init__(canvas)
        self.c = canvas
        self._follow_pinned: list[str] = []  # cards added with "use as shared context"
        self._branch_of: str | None = None  # the prompt being branched: its new sibling goes beside it
        canvas.scene.selectionChanged.connect(self._on_scene_selection_changed)

    def __repr__(self) -> str:
        return f"<LaneController follow={self.follow_ids()}>"

    def reset(self) -> None:
        """Another session is shown: nothing pinned, no branch."""
        self._follow_pinned.clear()
        self._branch_of = None

    def follow_ids(self) -> list[str]:
        """The cards the next send continues from: selected answers and notes, plus pinned ones."""
        if self.c.graph is None:
            return []
        out: list[str] = []
        for node_id in self._follow_pinned + self.c.selected_ids():
            node = self.c.graph.nodes.get(node_id)
            if node is not None and node.kind != NodeKind.PROMPT and node_id not in out:
                out.append(node_id)
        return out

    @property
    def branch_of(self) -> str | None:
        """The prompt the next send makes a new version of (Edit & branch), else None."""
        return self._branch_of

    def emit_follow(self) -> None:
        self.c.follow_changed.emit(self.follow_ids())

    def clear_follow(self) -> None:
        self._follow_pinned.clear()
        self._branch_of = None
        self.c.scene.clearSelection()
        self._reset_mode()
        self.emit_follow()

    def _on_scene_selection_changed(self) -> None:
        self._reset_mode()
        self.emit_follow()

    def _reset_mode(self) -> None:
        """The send mode follows what the user does now, not the last send: with nothing pinned
        ("use as shared context", a branch) and at most one card followed, a follow-up continues that
        card's lane. A choice made for several selected cards stays while the selection grows."""
        if not self._follow_pinned and len(self.follow_ids()) <= 1:
            self.c.mode_change_requested.emit(SendMode.LANES.value)

    def plan(
        self, text: str, targets: list[Target], mode: SendMode, attachments: Sequence[Attachment] = ()
    ) -> list[PlannedCall]:
        """The context lens for the composer's current state (engine.plan; nothing is sent)."""
        if self.c.session is None or not targets:
            return []
        return self.c.engine.plan(
            self.c.session.id, text or "…", targets, parents=self.follow_ids(), mode=mode,
            graph=loader.engine_graph(self.c.graph, self.follow_ids()), attachments=attachments,
        )

    def send(self, text: str, targets: list[Target], mode: SendMode = SendMode.LANES,
             attachments: Sequence[Attachment] = ()) -> list[str]:
        """Ask every target, with the prompt's files (app.attachments); returns the created node ids
        ([] when nothing was sent)."""
        if self.c.session is None:
            return []
        if not text.strip() and not attachments:
            self.c.message_posted.emit("Type a question first.", 3000)
            return []
        parents = self.follow_ids()
        if not targets and not (parents and mode == SendMode.LANES):
            self.c.message_posted.emit("Add at least one model (the + Model button).", 4000)
            return []
        try:
            result = self.c.engine.ask(
                self.c.session.id, text, targets, parents=parents, mode=mode,
                graph=loader.engine_graph(self.c.graph, parents),
                beside=self._branch_of, attachments=attachments,
            )
        except (EngineError, ValueError) as exc:
            self.c.message_posted.emit(str(exc), 6000)
            return []
        ids = [p.id for p in result.prompts] + [r.node.id for r in result.runs]
        self._after_create(ids, "Send" if not parents else "Follow-up")
        if self.c.session.title in ("Untitled", "") and not parents:
            self.c.apply_rename(self.c.session.id, _title_from(text or attachments[0].name))
        self._follow_pinned.clear()
        self._branch_of = None
        self.c.scene.select_only([])
        self._reset_mode()
        self.emit_follow()
        self.c.nodes_sent.emit(ids)
        return ids

    def _after_create(self, ids: list[str], label: str,
                      on_undo: Callable[[], object] | None = None) -> AddNodesCommand | None:
        """The engine has announced the new cards (NodesAdded, with their edges): make them one undo step."""
        command = None
        if self.c.session is not None:
            command = AddNodesCommand(self.c.edits, self.c.session.id, ids, label, on_undo=on_undo)
            self.c.undo_stack.push(command)
        self.c._update_running()
        self.c.sessions_changed.emit()
        self.reveal(ids)
        return command

    def reveal(self, ids: list[str]) -> None:
        """Bring new cards into view at their full (laid-out) size, readable: scroll if they fit, else
        zoom out, but not below C.READABLE_ZOOM (then show their top), see CanvasView.reveal_rect."""
        if self.c.graph is None:
            return
        rect = QRectF()
        for node_id in ids:
            node = self.c.graph.nodes.get(node_id)
            if node is not None:
                rect = rect.united(QRectF(node.x, node.y, layout.width(node), layout.height(node)))
        if rect.isNull():
            return
        self.c.view.reveal_rect(rect)

    def stop(self, node_ids: Iterable[str] | None = None) -> int:
        """Stop the given lanes, or every running lane when None. Returns how many were stopped."""
        if node_ids is not None:
            node_ids = list(node_ids)
            nodes = self.c.graph.nodes if self.c.graph is not None else {}
            foreign = [nodes[i] for i in node_ids if i in self.c.watcher.streaming and i in nodes]
            if foreign:
                owner = foreign[0].owner
                who = f"process {owner.pid} on {owner.host}" if owner else "another process"
                self.c.message_posted.emit(
                    f"That answer is being streamed by another Triptych ({who}): stop it there. "
                    "If that process is gone, the card is marked interrupted within 10 s.",
                    8000,
                )
        if node_ids is None:
            count = self.c.engine.running_count
            self.c.engine.cancel_all()
        else:
            count = sum(1 for i in node_ids if self.c.engine.cancel(i))
        if count:
            self.c.message_posted.emit(f"Stopped {count} stream{'s' if count != 1 else ''}.", 3000)
        return count

    def stop_selected_or_all(self) -> int:
        running = [i for i in self.c.selected_ids() if self.c.engine.is_running(i)]
        return self.stop(running) if running else self.stop(None)

    def rerun(self, node_id: str, model: str | None = None) -> str | None:
        try:
            run = self.c.engine.rerun(node_id, model)
        except (EngineError, ValueError) as exc:
            self.c.message_posted.emit(str(exc), 6000)
            return None
        label = "Re-run" if model is None else f"Re-run on {self.c.catalog.display_name(model)}"
        self._after_create([run.node.id], label)
        return run.node.id

    def rerun_on_other(self, node_id: str, whole_lane: bool = False) -> str | None:
        """Ask for another model, then re-run this answer on it (or, `whole_lane`, replay its lane)."""
        node = self.c.graph.nodes.get(node_id) if self.c.graph else None
        if node is None or not node.is_answer or (whole_lane and node.kind != NodeKind.RESPONSE):
            return None
        title = "Re-run the whole lane on another model" if whole_lane else "Re-run on another model"
        model = self.c.dialogs.pick_model(self.c.catalog, self.c.settings, exclude=node.model, title=title)
        if not model:
            return None
        return self.rerun_path(node_id, model) if whole_lane else self.rerun(node_id, model)

    def rerun_path(self, node_id: str, model: str) -> str | None:
        """Replay the lane ending at this answer on `model` (Engine.rerun_path). One undo step removes
        every card of the replay, the later turns included, and stops it."""
        if self.c.session is None:
            return None
        command: AddNodesCommand | None = None  # set once the first card is on the undo stack

        def on_created(nodes: list[Node]) -> None:
            if command is not None:
                command.extend([n.id for n in nodes])
            self.c.sessions_changed.emit()  # the sidebar's card count follows each replayed turn

        try:
            path = self.c.engine.rerun_path(node_id, model, on_created=on_created)
        except (EngineError, ValueError) as exc:
            self.c.message_posted.emit(str(exc), 6000)
            return None
        first = path.first.node.id
        name = self.c.catalog.display_name(model)
        command = self._after_create([first], f"Re-run lane on {name}", on_undo=path.task.cancel)
        if path.turns > 1:
            self.c.message_posted.emit(
                f"Replaying {path.turns} turns on {name}: each prompt is sent when the previous answer is done.", 6000)
        return first

    def synthesize(self, source_ids: list[str] | None = None) -> str | None:
        if self.c.session is None:
            return None
        ids = source_ids if source_ids is not None else self.c.selected_answers()
        if not ids:
            self.c.message_posted.emit(
                "Select the answers to synthesize first (Ctrl+click or drag a box).", 5000
            )
            return None
        choice = self.c.dialogs.synthesize_options(self.c.catalog, self.c.settings, len(ids))
        if choice is None:
            return None
        kind, model, instruction = choice
        try:
            run = self.c.engine.synthesize(self.c.session.id, ids, model, kind=kind, instruction=instruction)
        except (EngineError, ValueError) as exc:
            self.c.message_posted.emit(str(exc), 6000)
            return None
        self._after_create([run.node.id], f"Synthesize ({kind})")
        return run.node.id

    def continue_lane(self, node_id: str) -> None:
        """Follow up on this one card: the next send continues its model's own history."""
        node = self.c.graph.nodes.get(node_id) if self.c.graph is not None else None
        if node is not None and node.is_answer and not node.text.strip():
            self.c.message_posted.emit("This answer has no text to continue from yet." if node.status.is_live
                                     else "This answer has no text to continue from: Retry it instead.", 5000)
            return
        self._follow_pinned.clear()
        self.c.scene.select_only([node_id])
        self.c.mode_change_requested.emit(SendMode.LANES.value)
        self.emit_follow()
        self.c.composer_focus_requested.emit()

    def use_as_shared_context(self, node_id: str) -> None:
        """Add this card to what the next send follows, and switch to shared mode."""
        if node_id not in self._follow_pinned:
            self._follow_pinned.append(node_id)
        self.c.mode_change_requested.emit(SendMode.SHARED.value)
        self.emit_follow()
        self.c.composer_focus_requested.emit()

    def branch(self, node_id: str) -> None:
        """Ask again from the same point with an edited prompt: a sibling branch of this card's prompt."""
        if self.c.graph is None:
            return
        node = self.c.graph.nodes.get(node_id)
        if node is None:
            return
        prompt = node if node.kind == NodeKind.PROMPT else self._prompt_of(node_id)
        parents = (
            [e.parent_id for e in self.c.graph.parents(prompt.id, (EdgeRole.FOLLOW, EdgeRole.REF))]
            if prompt
            else []
        )
        self._follow_pinned = list(parents)
        self.c.scene.select_only([])
        self._branch_of = prompt.id if prompt is not None else None
        mode = self._mode_of(prompt) if prompt is not None else SendMode.LANES
        self.c.mode_change_requested.emit(mode.value)
        self.emit_follow()
        if prompt is not None:
            self.c.composer_fill_requested.emit(prompt.text)
        self.c.composer_focus_requested.emit()

    def _mode_of(self, prompt: Node) -> SendMode:
        """How `prompt` was sent, so a branch of it goes where it went: shared when it followed several
        cards or went to a model other than that of the one answer it followed; else its lane."""
        assert self.c.graph is not None
        parents = [e.parent_id for e in self.c.graph.parents(prompt.id, (EdgeRole.FOLLOW, EdgeRole.REF))]
        if len(parents) > 1:
            return SendMode.SHARED
        parent = self.c.graph.nodes.get(parents[0]) if parents else None
        if parent is None or not parent.is_answer or not parent.model:
            return SendMode.LANES
        reply_edges = self.c.graph.children(prompt.id, (EdgeRole.REPLY,))
        replies = [self.c.graph.nodes.get(e.child_id) for e in reply_edges]
        models = {
            n.model
            for n in replies
            if n is not None and n.kind == NodeKind.RESPONSE and n.run_record.rerun_of is None  # not re-runs
        }
        return SendMode.SHARED if models - {parent.model} else SendMode.LANES

    def _prompt_of(self, node_id: str) -> Node | None:
        if self.c.graph is None:
            return None
        for e in self.c.graph.parents(node_id, (EdgeRole.REPLY,)):
            return self.c.graph.nodes.get(e.parent_id)
        return None

    def siblings(self, node_id: str) -> list[str]:
        """Cards in the same fan-out row (same prompt), left to right; for focus mode."""
        graph = self.c.graph
        if graph is None or node_id not in graph.nodes:
            return [node_id]
        prompt = self._prompt_of(node_id)
        if prompt is None:
            ids = [node_id]
        else:
            ids = [
                e.child_id
                for e in graph.children(prompt.id, (EdgeRole.REPLY,))
                if e.child_id in graph.nodes
            ]
        ids.sort(key=lambda i: (graph.nodes[i].x, graph.nodes[i].y))
        return ids or [node_id]

    def compare_selected(self, node_id: str | None = None) -> bool:
        ids = self.c.selected_answers()
        if node_id and node_id not in ids:
            ids = [node_id, *ids]
        if len(ids) != 2:
            self.c.message_posted.emit("Select exactly two answers to compare them.", 4000)
            return False
        self.c.diff_requested.emit(ids[0], ids[1])
        return True

    def comparison_table(self, node_id: str | None = None) -> bool:
        if self.c.graph is None:
            return False
        ids = [node_id] if node_id else self.c.selected_ids()
        for nid in ids:
            node = self.c.graph.nodes.get(nid)
            if node is None:
                continue
            prompt = node if node.kind == NodeKind.PROMPT else self._prompt_of(nid)
            if prompt is not None:
                self.c.table_requested.emit(prompt.id)
                return True
        self.c.message_posted.emit("Select a prompt or one of its answers to see the comparison table.", 4000)
        return False

    def close(self) -> None:
        try:
            self.c.scene.selectionChanged.disconnect(self._on_scene_selection_changed)
        except (RuntimeError, TypeError):
            pass


def _title_from(text: str) -> str:
    line = " ".join(text.strip().split())
    return line[:60] + ("…" if len(line) > 60 else "")
