"""Undo commands for every structure edit (STYLE.md: "Every user edit is an undo command").

Commands change the store through the repository and the canvas through the controller's small
`apply_*` methods, so redo/undo works whether or not the affected session is on screen. Streamed tokens
are data arriving, never commands. Qt main thread only.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtGui import QUndoCommand

from app.domain import Edge, Node

if TYPE_CHECKING:
    from ui.controller import CanvasController
    from ui.edit_controller import EditController

Positions = dict[str, tuple[float, float]]


class MoveNodesCommand(QUndoCommand):
    """One drag (or one tidy-up) of one or more cards. Positions commit to the store on redo/undo."""

    ID = 1001

    def __init__(
        self,
        controller: EditController,
        old: Positions,
        new: Positions,
        *,
        applied: bool,
        text: str | None = None,
    ) -> None:
        n = len(new)
        super().__init__(text or (f"Move {n} cards" if n != 1 else "Move card"))
        self._controller = controller
        self._old = dict(old)
        self._new = dict(new)
        self._skip_first = applied  # the items are already where the user dropped them

    def id(self) -> int:
        return self.ID

    def mergeWith(self, other: QUndoCommand) -> bool:
        # Arrow-key nudges of the same cards merge into one step; separate drags do not.
        if not isinstance(other, MoveNodesCommand) or not getattr(other, "nudge", False):
            return False
        if not getattr(self, "nudge", False) or set(other._new) != set(self._new):
            return False
        self._new = dict(other._new)
        return True

    def redo(self) -> None:
        if self._skip_first:
            self._skip_first = False
            self._controller.apply_positions(self._new, move_items=False)
            return
        self._controller.apply_positions(self._new)

    def undo(self) -> None:
        self._controller.apply_positions(self._old)


class DeleteNodesCommand(QUndoCommand):
    """Delete cards (and every edge touching them). Undo puts back exactly what was deleted."""

    def __init__(self, controller: EditController, session_id: str, node_ids: list[str]) -> None:
        n = len(node_ids)
        super().__init__(f"Delete {n} cards" if n != 1 else "Delete card")
        self._controller = controller
        self._session_id = session_id
        self._ids = list(node_ids)
        self._nodes: list[Node] = []
        self._edges: list[Edge] = []

    def redo(self) -> None:
        self._nodes, self._edges = self._controller.apply_delete(self._ids)

    def undo(self) -> None:
        self._controller.apply_restore(self._session_id, self._nodes, self._edges)


class AddNodesCommand(QUndoCommand):
    """Cards the engine created (a send, follow-up, synthesis or re-run). The first redo is a no-op
    because the engine already stored them; undo cancels their streams and removes them; a later
    redo puts back the cards as they were when undone (streams are not restarted)."""

    def __init__(self, controller: EditController, session_id: str, node_ids: list[str], text: str,
                 on_undo: Callable[[], object] | None = None) -> None:
        super().__init__(text)
        self._controller = controller
        self._session_id = session_id
        self._ids = list(node_ids)
        self._nodes: list[Node] = []
        self._edges: list[Edge] = []
        self._first = True
        self._on_undo = on_undo  # e.g. stop a lane replay, so it sends no further turn

    def extend(self, node_ids: list[str]) -> None:
        """Cards the same edit created later (the next turns of a lane replay)."""
        self._ids += [i for i in node_ids if i not in self._ids]

    def redo(self) -> None:
        if self._first:
            self._first = False
            return
        self._controller.apply_restore(self._session_id, self._nodes, self._edges)

    def undo(self) -> None:
        if self._on_undo is not None:
            self._on_undo()
        nodes, edges = self._controller.apply_delete(self._ids)
        self._nodes = [copy.deepcopy(n) for n in nodes]
        self._edges = list(edges)


class RenameSessionCommand(QUndoCommand):
    def __init__(self, controller: CanvasController, session_id: str, old: str, new: str) -> None:
        super().__init__(f"Rename to “{new}”")
        self._controller = controller
        self._session_id = session_id
        self._old = old
        self._new = new

    def redo(self) -> None:
        self._controller.apply_rename(self._session_id, self._new)

    def undo(self) -> None:
        self._controller.apply_rename(self._session_id, self._old)


class DeleteSessionCommand(QUndoCommand):
    """Soft-delete a session (the store keeps it restorable); undo restores and reopens it."""

    def __init__(self, controller: CanvasController, session_id: str, title: str) -> None:
        super().__init__(f"Delete session “{title}”")
        self._controller = controller
        self._session_id = session_id

    def redo(self) -> None:
        self._controller.apply_delete_session(self._session_id)

    def undo(self) -> None:
        self._controller.apply_restore_session(self._session_id)


class CollapseCommand(QUndoCommand):
    def __init__(self, controller: EditController, node_ids: list[str], collapsed: bool) -> None:
        super().__init__("Collapse" if collapsed else "Expand")
        self._controller = controller
        self._ids = list(node_ids)
        self._collapsed = collapsed
        self._before: dict[str, bool] = {}

    def redo(self) -> None:
        self._before = self._controller.apply_collapse(self._ids, self._collapsed)

    def undo(self) -> None:
        for node_id, value in self._before.items():
            self._controller.apply_collapse([node_id], value)
