"""What the sweep grid's controller (ui/sweep_controller.py) does with one cell or one click, apart:
the one-model menu, focus mode's Continue / Diff buttons, putting a cell's cards on the canvas, and
the cost confirmation before a run. Qt main thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QPointF, QRectF
from PySide6.QtWidgets import QDialog, QHBoxLayout, QMenu, QPushButton

from app import layout
from app.domain import NodeKind
from app.sweep import SweepDef
from app.sweep_view import SweepGrid, estimate
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
    """Make the cell's prompt and answer ordinary cards below the grid (one undoable move); returns the
    answer's id (None when the cell has no answer)."""
    c, grid, item = ctrl.c, ctrl.grid, ctrl.item
    graph = c.graph
    if grid is None or graph is None or item is None:
        return None
    answer_id = grid.cells[index].answer_id
    if answer_id is None or answer_id not in graph.nodes:
        return None
    prompt_ids = [e.parent_id for e in graph.parents(answer_id) if e.parent_id in graph.nodes
                  and graph.nodes[e.parent_id].kind == NodeKind.PROMPT]
    ids = [*prompt_ids, answer_id]
    if any(i in ctrl.hidden for i in ids):
        ctrl.hidden.difference_update(ids)
        rect = item.sceneBoundingRect()
        x = rect.left() + ctrl.placed * (layout.CARD_W + 80)
        y = rect.bottom() + CELL_H
        ctrl.placed += 1
        positions: dict[str, tuple[float, float]] = {}
        for i in ids:
            node = graph.nodes[i]
            c.scene.add_card(node)
            positions[i] = (x, y)
            y += layout.height(node) + 60
        c.scene.set_edges(graph.edges)
        c.move_nodes(positions)
    return answer_id


def _usd(value: float) -> str:
    return f"${value:.2f}" if value >= 1 else f"${value:.4f}"


def confirm_cost(c: CanvasController, defn: SweepDef, cells: Sequence[Any], limit: float, *, always: bool = False,
                 title: str = "Run this sweep?", what: str = "", note: str = "") -> bool:
    """Run these cells? Yes at once when the estimate is at most `limit` dollars (a sweep started from the
    New sweep dialog, which shows its estimate), else the user says; with `always` (Resume, Re-run failed:
    one click on the grid, no estimate shown before) the user always says, told the number of cells and
    their estimated cost. `what` says what runs ("Re-run 18 cells that failed"), `note` adds a sentence."""
    try:
        cost, judge, unknown = estimate(c.engine, defn, cells)
    except Exception as exc:  # an estimate must never keep a sweep from starting
        log.warning("sweep estimate failed: %s", exc)
        if not always:
            return True
        cost, judge, unknown = 0.0, 0.0, ["these cells (the estimate failed)"]
    total = cost + judge
    if total <= limit and not always:
        return True
    more = f"; cost unknown for {', '.join(unknown)}" if unknown else ""
    judged = f", the judge {_usd(judge)} of it" if judge else ""
    head = what or f"{len(cells)} cell{'s' if len(cells) != 1 else ''}"
    text = (f"{head}: estimated {_usd(total)}{' at batch prices' if defn.batch else ''}{judged} "
            f"(about 1,000 output tokens per answer{more}).{note}")
    if not always:
        text += f" That is above {_usd(limit)}. Run it?"
    else:
        text += " Run them?"
    return c.dialogs.confirm(title, text)
