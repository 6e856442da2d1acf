"""EditController: the user's structure edits of the canvas, each an undo command (STYLE.md 5).

Moves (a drag, Tidy up), deletes, collapse/expand, and the `apply_*` methods the commands call on
redo/undo. Every write goes through the engine, the graph's one writer, whose events redraw the canvas
(a delete's NodesRemoved takes the cards away, a restore's NodesAdded brings them and their edges back).

Threading: Qt main thread (= the asyncio loop thread).
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject

from app.domain import Edge, Node, NodeStatus
from ui.commands import CollapseCommand, DeleteNodesCommand, MoveNodesCommand

if TYPE_CHECKING:
    from ui.controller import CanvasController


class EditController(QObject):
    def __init__(self, canvas: CanvasController) -> None:
        super().__init__(canvas)
        self.c = canvas
        canvas.scene.nodes_moved.connect(self._on_scene_nodes_moved)

    def __repr__(self) -> str:
        return f"<EditController {self.c.session!r}>"

    def _on_scene_nodes_moved(self, moved: dict) -> None:
        old = {k: v[0] for k, v in moved.items()}
        new = {k: v[1] for k, v in moved.items()}
        self.c.undo_stack.push(MoveNodesCommand(self, old, new, applied=True))

    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None:
        if self.c.graph is None:
            return
        old = {i: (self.c.graph.nodes[i].x, self.c.graph.nodes[i].y) for i in positions if i in self.c.graph.nodes}
        self.c.undo_stack.push(MoveNodesCommand(self, old, positions, applied=False))

    def tidy_up(self) -> None:
        """Re-layout the whole session (lanes in columns) as one undoable move."""
        if self.c.graph is None:
            return
        from app.layout import relayout

        self.move_nodes(relayout(self.c.graph))
        self.c.view.fit_all()

    def delete(self, node_ids: list[str] | None = None) -> None:
        ids = node_ids if node_ids is not None else self.c.selected_ids()
        if not ids or self.c.session is None:
            return
        self.c.undo_stack.push(DeleteNodesCommand(self, self.c.session.id, ids))

    def toggle_collapse(self, node_ids: list[str] | None = None) -> None:
        ids = node_ids if node_ids is not None else self.c.selected_ids()
        if not ids or self.c.graph is None:
            return
        collapse = not all(self.c.graph.nodes[i].collapsed for i in ids if i in self.c.graph.nodes)
        self.c.undo_stack.push(CollapseCommand(self, ids, collapse))

    def apply_positions(self, positions: dict[str, tuple[float, float]], move_items: bool = True) -> None:
        if not positions:
            return
        moved: list[Node] = []
        if self.c.graph is not None:
            for node_id, (x, y) in positions.items():
                node = self.c.graph.nodes.get(node_id)
                if node is not None:
                    node.x, node.y = x, y
                    moved.append(node)
                card = self.c.scene.card(node_id)
                if card is not None and move_items:
                    card.setPos(x, y)
        self.c.engine.move_nodes(positions, moved)

    def apply_delete(self, node_ids: list[str]) -> tuple[list[Node], list[Edge]]:
        live = {i: n for i in node_ids if (n := self.c._node(i)) is not None}
        nodes, edges = self.c.engine.delete_nodes(node_ids)  # its NodesRemoved takes the cards away
        snapshot: list[Node] = []
        for stored in nodes:
            mem = live.get(stored.id)
            node = copy.deepcopy(mem) if mem is not None else stored
            if node.status.is_live:
                node.status = NodeStatus.STOPPED
                node.run = None
                node.owner = None
            snapshot.append(node)
        self.c.emit_totals()
        self.c.emit_follow()
        self.c.sessions_changed.emit()
        return snapshot, list(edges)

    def apply_restore(self, session_id: str, nodes: list[Node], edges: list[Edge]) -> None:
        self.c.sessions.ensure_session(session_id)
        self.c.engine.add_nodes(session_id, [copy.deepcopy(n) for n in nodes], edges)  # NodesAdded draws them
        self.c.sessions_changed.emit()

    def apply_collapse(self, node_ids: list[str], collapsed: bool) -> dict[str, bool]:
        before: dict[str, bool] = {}
        changed: list[Node] = []
        for node_id in node_ids:
            node = self.c._node(node_id)
            if node is None:
                continue
            before[node_id] = node.collapsed
            node.collapsed = collapsed
            changed.append(node)
            self.c.scene.sync_card(node)
        self.c.engine.save_nodes(changed, frozenset({"collapsed"}))
        return before

    def close(self) -> None:
        try:
            self.c.scene.nodes_moved.disconnect(self._on_scene_nodes_moved)
        except (RuntimeError, TypeError):
            pass
