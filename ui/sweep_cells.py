"""What the sweep grid's controller (ui/sweep_controller.py) does with one cell or one click, apart:
the one-model menu, focus mode's Continue / Diff buttons, putting a cell's cards on the canvas, the
cost confirmation before a run (Start, Resume, Re-run failed) and the words said when a run ends or the
window quits mid-run. Qt main thread.
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
from app.sweep_view import DONE, SweepGrid, estimate
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


def _cells(n: int) -> str:
    return f"{n} cell{'s' if n != 1 else ''}"


def confirm_resume(c: CanvasController, grid: SweepGrid, limit: float) -> list[int] | None:
    """Resume sweep: the cells to send (those without an ended attempt, not waiting in a batch) once the
    user said yes to their number and estimated cost; None when they said no."""
    cells = grid.unfinished()
    send = [i for i in cells if i not in grid.batched]
    if not send:
        return send  # only cells waiting in a batch: polled, nothing sent, nothing to pay
    waiting = len(cells) - len(send)
    note = (f" The {_cells(waiting)} waiting in a batch {'are' if waiting != 1 else 'is'} collected, not sent "
            "again.") if waiting else ""
    by_index = grid.defn.cells()
    ok = confirm_cost(c, grid.defn, [by_index[i] for i in send], limit, always=True, title="Resume this sweep?",
                      what=f"Run the {_cells(len(send))} without an answer", note=note)
    return send if ok else None


def confirm_rerun(c: CanvasController, grid: SweepGrid, cells: Sequence[int], limit: float) -> bool:
    """Re-run failed: the user says yes to the number of cells and their estimated cost (told when they
    answered but failed a check: the same prompt may fail the same way)."""
    checks = sum(1 for i in cells if grid.cells[i].status == DONE)
    note = ""
    if checks:
        some = "All of them" if checks == len(cells) else f"{checks} of them"
        note = f" {some} answered but failed a check: the same prompt may well fail the same way again."
    by_index = grid.defn.cells()
    return confirm_cost(c, grid.defn, [by_index[i] for i in cells], limit, always=True, title="Re-run failed cells?",
                        what=f"Re-run {_cells(len(cells))} that failed", note=note)


def quit_note(grid: SweepGrid | None) -> str:
    """What quitting does to a running sweep's cells left (the quit dialog says it)."""
    left = grid.progress().left if grid is not None else 0
    if grid is None or not left:
        return ""
    batch = " Its open batches keep running at the provider; Resume sweep collects them." if grid.batched else ""
    return (f"The sweep in this window has {_cells(left)} without an answer yet. Open its session again and "
            f"click Resume sweep on its grid to run them.{batch}")


def ended_message(grid: SweepGrid, cancelled: bool) -> str:
    """The status bar's word when a run of the sweep ends (finished, or cancelled by Cancel all)."""
    p = grid.progress()
    if not cancelled:
        return f"Sweep finished: {p.line()}"
    failed = f" · {p.failed} failed" if p.failed else ""
    rest = f" · {p.left} not run — Resume sweep runs them" if p.left else ""
    return f"Sweep cancelled: {p.done} done{failed}{rest}"
