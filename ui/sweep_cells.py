"""What the sweep grid's controller (ui/sweep_controller.py) does with one cell or one click, apart:
the one-model menu, focus mode as a cell's view (what the cell is, ← / → to its neighbours, the Continue
/ Diff buttons), a diff side's title for a cell, putting a cell's cards on the canvas (undoable, kept
after a restart), the cost confirmation before a run (Start, Resume, Re-run failed) and the words said
when a run ends or the window quits mid-run. Qt main thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QPointF, QRectF, QTimer
from PySide6.QtGui import QUndoCommand
from PySide6.QtWidgets import QBoxLayout, QDialog, QHBoxLayout, QMenu, QPushButton

from app import layout
from app.domain import Node, NodeKind
from app.sweep import CELL_META, SweepDef
from app.sweep_cell_info import cell_details, cell_title
from app.sweep_view import DONE, ON_CANVAS_META, CellView, SweepGrid, estimate, status_text
from ui.canvas.sweep_grid import CELL_H, SweepGridItem

if TYPE_CHECKING:
    from ui.controller import CanvasController
    from ui.sweep_controller import SweepGridController
    from ui.views import FocusDialog

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


def add_cell_buttons(ctrl: SweepGridController, dlg: QDialog, grid: SweepGrid, index: int) -> CellFocus | None:
    """Focus mode on a cell's answer: what the cell is (row, template, variant, checks, the judge's
    score) above the answer, ← / → to the neighbouring cells of its row, and the buttons *Continue on
    canvas* and *Diff with the cell on the left*."""
    from ui.views import FocusDialog

    return CellFocus(ctrl, dlg, grid, index) if isinstance(dlg, FocusDialog) else None


class CellFocus(QObject):
    """Focus mode as a sweep cell's view (lives as long as its dialog): follows the cell shown now."""

    HINT = "← / → cell on the left / right in this row · Esc closes"

    def __init__(self, ctrl: SweepGridController, dlg: FocusDialog, grid: SweepGrid, index: int) -> None:
        super().__init__(dlg)
        self.ctrl, self.dlg, self.grid, self.index = ctrl, dlg, grid, index
        self._going: int | None = None  # the cell ← / → is showing
        row = QHBoxLayout()
        self.continue_button = QPushButton("Continue on canvas", dlg)
        self.continue_button.setObjectName("SweepContinue")
        self.continue_button.setToolTip(
            "Put this cell's prompt and answer on the canvas below the grid and follow up on it")
        self.continue_button.clicked.connect(self._on_continue_clicked)
        row.addWidget(self.continue_button)
        self.diff_button = QPushButton("Diff with the cell on the left", dlg)
        self.diff_button.setObjectName("SweepDiff")
        self.diff_button.clicked.connect(self._on_diff_clicked)
        row.addWidget(self.diff_button)
        row.addStretch(1)
        box = dlg.layout()
        if isinstance(box, QBoxLayout):
            box.insertLayout(2, row)  # under the title and the cell's description, above the answer
        self._timer = QTimer(self)  # while the sweep runs: the checks and the judge's score arrive late
        self._timer.setInterval(500)
        self._timer.timeout.connect(self._on_timer_timeout)
        self._timer.start()
        dlg.node_shown.connect(self._on_dlg_node_shown)
        dlg.set_status_word(self.status_word)
        dlg.set_navigation(self.neighbour, self.position, self.describe, self.HINT)
        self._update_buttons()

    def __repr__(self) -> str:
        return f"<CellFocus cell {self.index}>"

    def _name(self, model: str) -> str:
        return self.ctrl.c.scene.style.display_name(model)

    def _columns(self) -> list[int]:
        """The columns shown now (the grid's Model filter), left to right."""
        item = self.ctrl.item
        cols = list(item.cols) if item is not None and item.cols else [c.index for c in self.grid.columns]
        col = self.grid.cells[self.index].col
        return cols if col in cols else sorted({*cols, col})

    def neighbour(self, node_id: str, delta: int) -> str | None:
        """The answer of the nearest cell with one `delta` columns' way in the same row (None: none)."""
        cell = self.grid.cells[self.index]
        cols = self._columns()
        at = cols.index(cell.col) + delta
        while 0 <= at < len(cols):
            other = self.grid.cell_at(cell.row, cols[at])
            if other.answer_id is not None:
                self._going = other.index
                return other.answer_id
            at += delta
        side = "left" if delta < 0 else "right"
        self.ctrl.c.message_posted.emit(f"No answer on the {side} of this cell in its row.", 3000)
        return None

    def position(self, node_id: str) -> str:
        cell = self.grid.cells[self.index]
        cols = self._columns()
        return f"column {cols.index(cell.col) + 1} of {len(cols)}"  # (its row: the description's first line)

    def status_word(self, node: Node) -> str | None:
        """The grid's word for the cell shown ("check failed"), when its answer is the one the cell shows."""
        if node.status.is_live:
            return None  # (focus mode's own word: "streaming · 12 s")
        cell: CellView | None = self.grid.cells[self.index]
        if cell is not None and cell.answer_id != node.id:  # (← / → is on its way to another cell: that one's word)
            cell = next((c for c in self.grid.cells if c.answer_id == node.id), None)
        return status_text(cell) if cell is not None else None  # (an earlier try of the cell: its own word)

    def describe(self, node: Node) -> str:
        return "\n".join(cell_details(self.grid, self.index, node, self._name))

    def _on_dlg_node_shown(self, node_id: str) -> None:
        going, self._going = self._going, None
        if going is not None and self.grid.cells[going].answer_id == node_id:
            self.index = going
        else:
            found = next((c.index for c in self.grid.cells if c.answer_id == node_id), None)
            if found is None:
                return
            self.index = found
        self._update_buttons()

    def _update_buttons(self) -> None:
        left = self.grid.cell_left(self.index)
        ok = left is not None and left.answer_id is not None and self.grid.cells[self.index].answer_id is not None
        self.diff_button.setEnabled(ok)
        self.diff_button.setToolTip("Compare this cell's answer with the one on its left, word by word" if ok
                                    else "No answer on the left of this cell")

    def _on_timer_timeout(self) -> None:
        if self.ctrl.running:
            self.dlg.refresh_detail()

    def _on_continue_clicked(self) -> None:
        index = self.index
        self.dlg.close()
        self.ctrl.continue_cell(index)

    def _on_diff_clicked(self) -> None:
        left = self.grid.cell_left(self.index)
        right = self.grid.cells[self.index].answer_id
        if left is not None and left.answer_id is not None and right is not None:
            self.ctrl.c.diff_requested.emit(left.answer_id, right)


def cell_title_of(ctrl: SweepGridController, node_id: str) -> str | None:
    """A diff side's title for a cell answer of the grid shown now: its column (model · variant) and
    its row; None for any other card."""
    grid, graph = ctrl.grid, ctrl.c.graph
    node = graph.nodes.get(node_id) if graph is not None else None
    mark = node.meta.get(CELL_META) if node is not None else None
    if grid is None or not isinstance(mark, dict) or mark.get("sweep") != ctrl.sweep_id:
        return None
    try:
        index = int(mark["cell"])
    except (KeyError, TypeError, ValueError):
        return None
    if not 0 <= index < len(grid.cells):
        return None
    return cell_title(grid, index, ctrl.c.scene.style.display_name)


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
    prices = ""
    if defn.batch:  # which cells go through a batch API (about half price) and which run live at full price
        from ui.sweep_dialog import batch_split

        batched, _live = batch_split(c.settings, sorted({cell.model for cell in cells}))
        n = sum(1 for cell in cells if cell.model in batched)
        if n == len(cells):
            prices = " at batch prices"
        elif n:
            prices = f" ({n} at batch prices, {len(cells) - n} live at full price)"
    text = (f"{head}: estimated {_usd(total)}{prices}{judged} "
            f"(about 1,000 output tokens per answer{more}).{note}")
    if not always:
        text += f" That is above {_usd(limit)}. Run it?"
    else:
        text += " Run them?"
    return c.dialogs.confirm(title, text)


def _cells(n: int) -> str:
    return f"{n} cell{'s' if n != 1 else ''}"


def confirm_resume(c: CanvasController, grid: SweepGrid, limit: float) -> tuple[list[int], list[int]] | None:
    """Resume sweep: (the cells to send: those without an ended attempt, not waiting in a batch; the finished
    cells to judge: those the judge has not scored, their model not asked again) once the user said yes to
    their number and estimated cost; None when they said no."""
    cells = grid.unfinished()
    send = [i for i in cells if i not in grid.batched]
    judge = grid.unjudged()
    if not send and not judge:
        return send, judge  # only cells waiting in a batch: polled, nothing sent, nothing to pay
    waiting = len(cells) - len(send)
    note = (f" The {_cells(waiting)} waiting in a batch {'are' if waiting != 1 else 'is'} collected, not sent "
            "again.") if waiting else ""
    by_index = grid.defn.cells()
    if not judge:
        ok = confirm_cost(c, grid.defn, [by_index[i] for i in send], limit, always=True, title="Resume this sweep?",
                          what=f"Run the {_cells(len(send))} without an answer", note=note)
        return (send, judge) if ok else None
    parts = []
    try:
        cost, _, unknown = estimate(c.engine, grid.defn, [by_index[i] for i in send]) if send else (0.0, 0.0, [])
        _, judge_cost, judge_unknown = estimate(c.engine, grid.defn, [by_index[i] for i in judge])
    except Exception as exc:  # an estimate must never keep a sweep from resuming
        log.warning("sweep estimate failed: %s", exc)
        cost, judge_cost, unknown, judge_unknown = 0.0, 0.0, ["these cells (the estimate failed)"], []
    batch = " at batch prices" if grid.defn.batch else ""
    if send:
        parts.append(f"Run the {_cells(len(send))} without an answer: estimated {_usd(cost)}{batch}")
    judge_name = c.scene.style.display_name(grid.defn.judge) if grid.defn.judge else "the judge"
    parts.append(f"{_cells(len(judge))} to judge (answered, not judged yet; their models are not asked again): "
                 f"{judge_name} estimated {_usd(judge_cost)}")
    unknown = [*unknown, *(u for u in judge_unknown if u not in unknown)]
    more = f" Cost unknown for {', '.join(unknown)}." if unknown else ""
    tokens = " (about 1,000 output tokens per answer)" if send else ""
    text = f"{'. '.join(parts)}{tokens}.{more}{note} {'Run them?' if send else 'Judge them?'}"
    return (send, judge) if c.dialogs.confirm("Resume this sweep?", text) else None


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


def work_left_message(left: int, judge: int) -> str:
    """The status bar's word on opening a sweep with work left: cells without an answer, cells not judged."""
    parts = [f"{_cells(left)} without a finished answer"] if left else []
    if judge:
        parts.append(f"{_cells(judge) if not left else judge} not judged yet")
    does = "runs them" if not judge else "judges them" if not left else "runs and judges them"
    return f"This sweep has {' and '.join(parts)}: Resume sweep on its grid {does}."


def confirm_quit(ctrl: SweepGridController, running: int) -> bool:
    """Closing the window with answers streaming (`running`) or a sweep running: the user says. While the
    question is open no sweep cell nor verdict starts (what streams goes on), so the numbers it gives stay
    true; they start again when the user stays."""
    _hold(ctrl, True)
    note = quit_note(ctrl.grid) if ctrl.running else ""
    if (running or note) and not ctrl.c.dialogs.confirm_quit(running, note):
        _hold(ctrl, False)
        return False
    return True


def _hold(ctrl: SweepGridController, on: bool) -> None:
    if ctrl.runner is not None:
        ctrl.runner.hold(on)
    ctrl.batches.hold(on)


def quit_note(grid: SweepGrid | None) -> str:
    """What quitting does to a running sweep's cells left (the quit dialog says it)."""
    left = grid.progress().left if grid is not None else 0
    judge = len(grid.unjudged()) if grid is not None else 0
    if grid is None or not (left or judge):
        return ""
    batch = " Its open batches keep running at the provider; Resume sweep collects them." if grid.batched else ""
    parts = [f"{_cells(left)} without an answer yet"] if left else []
    if judge:
        parts.append(f"{_cells(judge) if not left else judge} not judged yet")
    return (f"The sweep in this window has {' and '.join(parts)}; no further cell starts while this question is "
            f"open. Open its session again and click Resume sweep on its grid to finish them.{batch}")


def ended_message(grid: SweepGrid, cancelled: bool) -> str:
    """The status bar's word when a run of the sweep ends (finished, or cancelled by Cancel all)."""
    p = grid.progress()
    judge = len(grid.unjudged())
    if not cancelled:
        unjudged = f" · {judge} not judged — Resume sweep judges them" if judge else ""
        return f"Sweep finished: {p.line()}{unjudged}"
    failed = f" · {p.failed} failed" if p.failed else ""
    rest = f" · {p.left} not run" if p.left else ""
    unjudged = f" · {judge} not judged" if judge else ""
    does = "runs and judges them" if p.left and judge else "runs them" if p.left else "judges them"
    tail = f" — Resume sweep {does}" if p.left or judge else ""
    return f"Sweep cancelled: {p.done} done{failed}{rest}{unjudged}{tail}"
