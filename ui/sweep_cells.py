"""What the sweep grid's controller (ui/sweep_controller.py) does with one cell or one click, apart:
the one-model menu, focus mode's Continue / Diff buttons, putting a cell's cards on the canvas, and
the cost confirmation before a run. Qt main thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QDialog, QHBoxLayout, QMenu, QPushButton

from app import layout
from app.domain import NodeKind
from app.sweep import SweepDef
from app.sweep_view import ON_CANVAS_META, SweepGrid, estimate
from ui.canvas.sweep_grid import CELL_H, SweepGridItem

if TYPE_CHECKING:
    from ui.controller import CanvasController
    from ui.sweep_controller import SweepGridController

log = logging.getLogger(__name__)


def model_menu(ctrl: SweepGridController, item: SweepGridItem, grid: SweepGrid) -> QMenu:
    """The header's *Model: …* menu (All models, or one), popped up under its button."""
    view = ctrl.c.view
    menu = QMenu(view)
    menu.setObjectName("SweepModelMenu")
    choices: list[tuple[str, str | None]] = [("All models", None)]
    choices += [(ctrl.c.scene.style.display_name(m), m) for m in grid.models()]
    for label, model in choices:
        action = menu.addAction(label)
        action.setCheckable(True)
        action.setChecked(item.model == model)
        action.setData(model)
        action.triggered.connect(lambda _checked=False, m=model: ctrl.set_model_filter(m))
    rect = item.button_rect("model") or QRectF()
    menu.popup(view.viewport().mapToGlobal(view.mapFromScene(item.mapToScene(QPointF(rect.left(), rect.bottom())))))
    return menu


def add_cell_buttons(ctrl: SweepGridController, dlg: QDialog, grid: SweepGrid, index: int) -> None:
    """Focus mode on a cell's answer gets *Continue on canvas* and *Diff with the cell on the left*."""
    cell = grid.cells[index]
    row = QHBoxLayout()
    cont = QPushButton("Continue on canvas", dlg)
    cont.setObjectName("SweepContinue")
    cont.setToolTip("Put this cell's prompt and answer on the canvas below the grid and follow up on it")

    def on_continue() -> None:
        dlg.close()
        ctrl.continue_cell(index)

    cont.clicked.connect(on_continue)
    row.addWidget(cont)
    left = grid.cell_left(index)
    diff = QPushButton("Diff with the cell on the left", dlg)
    diff.setObjectName("SweepDiff")
    if left is None or left.answer_id is None:
        diff.setEnabled(False)
        diff.setToolTip("No answer on the left of this cell")
    else:
        left_id = left.answer_id
        diff.clicked.connect(lambda: ctrl.c.diff_requested.emit(left_id, cell.answer_id or ""))
    row.addWidget(diff)
    row.addStretch(1)
    box = dlg.layout()
    if box is not None:
        box.insertLayout(1, row)  # type: ignore[attr-defined]


def put_on_canvas(ctrl: SweepGridController, index: int) -> str | None:
    """Make the cell's prompt and answer ordinary cards below the grid, for good (the answer is marked
    `ON_CANVAS_META`, so they stay on the canvas after a restart; one undoable step); returns the
    answer's id (None when the cell has no answer)."""
    c, grid, item = ctrl.c, ctrl.grid, ctrl.item
    graph = c.graph
    if grid is None or graph is None or item is None or c.session is None:
        return None
    answer_id = grid.cells[index].answer_id
    if answer_id is None or answer_id not in graph.nodes:
        return None
    prompt_ids = [e.parent_id for e in graph.parents(answer_id) if e.parent_id in graph.nodes
                  and graph.nodes[e.parent_id].kind == NodeKind.PROMPT]
    ids = [*prompt_ids, answer_id]
    if any(i in ctrl.hidden for i in ids):
        rect = item.sceneBoundingRect()
        placed = sum(1 for nodes in ctrl.answers.values() if any(n.id not in ctrl.hidden for n in nodes))
        x = rect.left() + placed * (layout.CARD_W + 80)  # beside the cells put out before (also before a restart)
        y = rect.bottom() + CELL_H
        old: dict[str, tuple[float, float]] = {}
        new: dict[str, tuple[float, float]] = {}
        for i in ids:
            node = graph.nodes[i]
            old[i], new[i] = (node.x, node.y), (x, y)
            y += layout.height(node) + 60
        c.undo_stack.push(PutOnCanvasCommand(ctrl, c.session.id, answer_id, ids, old, new))
    return answer_id


class PutOnCanvasCommand(QUndoCommand):
    """Continue on canvas: a sweep cell's prompt and answer become cards at `new` (below the grid) and
    stay there (the answer's `ON_CANVAS_META`); undo gives them back to the grid (at `old`, hidden)."""

    def __init__(self, ctrl: SweepGridController, session_id: str, answer_id: str, ids: list[str],
                 old: dict[str, tuple[float, float]], new: dict[str, tuple[float, float]]) -> None:
        super().__init__("Continue on canvas")
        self._ctrl, self._session_id, self._answer_id, self._ids = ctrl, session_id, answer_id, list(ids)
        self._old, self._new = dict(old), dict(new)

    def redo(self) -> None:
        self._apply(True, self._new)

    def undo(self) -> None:
        self._apply(False, self._old)

    def _apply(self, on: bool, positions: dict[str, tuple[float, float]]) -> None:
        ctrl = self._ctrl
        c = ctrl.c
        graph = c.graph
        shown = graph is not None and c.session_id == self._session_id and self._answer_id in graph.nodes
        node = graph.nodes[self._answer_id] if shown and graph is not None else c.repo.get_node(self._answer_id)
        if node is None:
            return
        if on:
            node.meta[ON_CANVAS_META] = True
        else:
            node.meta.pop(ON_CANVAS_META, None)
        if not shown or graph is None:  # another session is on screen: the store only
            c.repo.update_node(node)
            c.repo.move_nodes(positions)
            return
        if on:
            ctrl.hidden.difference_update(self._ids)
            for i in self._ids:
                if i in graph.nodes and c.scene.card(i) is None:
                    c.scene.add_card(graph.nodes[i])
            c.scene.set_edges(graph.edges)
        else:
            ctrl.hidden.update(self._ids)
            for i in self._ids:
                c.scene.remove_card(i)
        c.engine.save_nodes([node], frozenset({"meta"}))
        c.edits.apply_positions(positions)


def confirm_cost(c: CanvasController, defn: SweepDef, cells: Sequence[Any], limit: float) -> bool:
    """Run these cells? Yes at once when the estimate is at most `limit` dollars, else the user says."""
    try:
        cost, judge, unknown = estimate(c.engine, defn, cells)
    except Exception as exc:  # an estimate must never keep a sweep from starting
        log.warning("sweep estimate failed: %s", exc)
        return True
    total = cost + judge
    if total <= limit:
        return True
    more = f"; cost unknown for {', '.join(unknown)}" if unknown else ""
    return c.dialogs.confirm(
        "Run this sweep?",
        f"{len(cells)} cells, estimated ${total:.2f}{' at batch prices' if defn.batch else ''} "
        f"(about 1,000 output tokens per answer{more}). "
        f"That is above ${limit:.2f}. Run it?")
