"""SweepGridController: the open session's sweep drawn as a grid, and sweeps run from the window.

A session holding a sweep (app.sweep) shows its sweep card and, beside it, a `SweepGridItem`
(ui/canvas/sweep_grid.py) instead of the cells' own cards: the cells' prompts, answers and judge
verdicts are not put on the canvas (`hidden`, decided before the scene is populated and for every
card the engine adds while this window's runner adds a cell). A cell the user continues (focus
mode's "Continue on canvas") is put on the canvas below the grid and stays there, also after a
restart (its answer is marked, app.sweep_view.sweep_card_ids; ui/sweep_cells.PutOnCanvasCommand).

Runs go through the same engine as every send (one shared httpx client) and the same
`app.sweep.SweepRunner` as `triptych sweep`: start (the New sweep dialog), resume (the cells
without a finished answer, offered on the grid when a session is opened with some), re-run the
failed cells, cancel all. A sweep made with "Use batch APIs" runs through app.batch
(`run_sweep_batches`): the cells waiting in an open batch show "in batch", the batch's status line
goes in the grid's header and the status bar, Resume polls the stored batches (never sends them again),
Cancel all cancels them at the provider. Cells are repainted at most `REFRESH_MS` apart, never per token.

Qt main thread (= the asyncio loop, qasync).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QRectF, QTimer, Signal
from PySide6.QtWidgets import QDialog, QMenu

from app import layout
from app.domain import Node, NodeKind, NodeStatus, Session
from app.graph_events import GraphEvent, NodeChanged, NodesAdded, NodesRemoved
from app.sweep import (
    CELL_META,
    CHECKS_META,
    JUDGE_META,
    SWEEP_META,
    SweepDef,
    SweepRunner,
    is_judged,
)
from app.sweep_view import CANCELLED_META, SweepGrid, load_grid, sweep_card_ids
from ui import sweep_cells
from ui.canvas.sweep_grid import SweepGridItem
from ui.sweep_batches import SweepBatchLink

if TYPE_CHECKING:
    from app.batch import BatchRecord
    from app.engine import Engine
    from ui.controller import CanvasController

log = logging.getLogger(__name__)

REFRESH_MS = 200  # the grid's repaint tick while a sweep runs
CONFIRM_USD = 1.0  # ask before a sweep estimated above this
GAP = 60.0  # between the sweep card and its grid


class _MarkingEngine:
    """The window's engine as a sweep's runner sees it: the same engine (every call goes through), but
    while it creates a cell's or a judge's cards (`ask`, `synthesize`: the cards are announced inside
    the call, before the runner marks them as the sweep's) `adding` is True, so the canvas leaves them
    to the grid from their first appearance."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine
        self.adding = False

    def __repr__(self) -> str:
        return f"<_MarkingEngine adding={self.adding}>"

    def __getattr__(self, name: str) -> Any:
        return getattr(self._engine, name)

    def ask(self, *args: Any, **kwargs: Any) -> Any:
        self.adding = True
        try:
            return self._engine.ask(*args, **kwargs)
        finally:
            self.adding = False

    def cancel_all(self) -> None:
        """Not the window's every answer (app.batch's stop and cancel call this): the controller's
        Cancel all stops the sweep's own streaming cells."""

    def synthesize(self, *args: Any, **kwargs: Any) -> Any:
        self.adding = True
        try:
            return self._engine.synthesize(*args, **kwargs)
        finally:
            self.adding = False


class SweepGridController(QObject):
    progress_changed = Signal(str)  # the running sweep's progress line ("" when none runs)
    run_finished = Signal()

    def __init__(self, canvas: CanvasController) -> None:
        super().__init__(canvas)
        self.c = canvas
        self.grid: SweepGrid | None = None
        self.item: SweepGridItem | None = None
        self.sweep_id: str | None = None
        self.hidden: set[str] = set()
        self.answers: dict[int, list[Node]] = {}
        self.runner: SweepRunner | None = None
        self._marking: _MarkingEngine | None = None
        self.batches = SweepBatchLink()  # a batch sweep's batches (app.batch), imported when one is used
        self.task: asyncio.Task[None] | None = None
        self.focus_dialog_of: Callable[[], QDialog | None] | None = None  # the window's focus mode
        self.confirm_usd = CONFIRM_USD
        self.dialog: QDialog | None = None  # the New sweep dialog open now
        self.model_menu: QMenu | None = None
        self._active: set[int] = set()  # cells whose answer may still change (re-read on the tick)
        self._starting = False  # a sweep just made is being opened (it has every cell left, not to resume)
        self._cancelled = False  # the running sweep was cancelled (Cancel all)
        self._closed = False  # the window closed
        self._fit_tries = 0
        self._tick = QTimer(self)
        self._tick.setInterval(REFRESH_MS)
        self._tick.timeout.connect(self._on_tick_timeout)
        canvas.model.observe(self._on_model_changed)

    def __repr__(self) -> str:
        return f"<SweepGridController {self.grid!r} running={self.running}>"

    @property
    def running(self) -> bool:
        return self.task is not None and not self.task.done()

    # ------------------------------------------------------------------ showing
    def show(self, graph: Any) -> set[str]:
        """A session is about to be drawn: build its grid (if any) and say which cards it stands for."""
        self._drop_item()
        self.grid, self.sweep_id, self.answers, self._active = None, None, {}, set()
        self.hidden = set()
        try:
            loaded = load_grid(graph)
        except Exception:  # a broken sweep record must never keep the session from opening
            log.exception("could not read the sweep of %s", graph.session.id)
            loaded = None
        if loaded is None:
            return set()
        sweep, grid, answers = loaded
        self.grid, self.sweep_id, self.answers = grid, sweep.id, answers
        self.batches.load(sweep)
        self.batches.mark(grid, answers)
        self.hidden = sweep_card_ids(graph, answers)
        self._active = {c.index for c in grid.cells if c.status == "streaming"}
        item = SweepGridItem(grid, self.c.scene.style, self.c.scene.style.display_name)
        item.setPos(sweep.x + layout.width(sweep) + GAP, sweep.y)
        item.cell_clicked.connect(self._on_item_cell_clicked)
        item.button_clicked.connect(self._on_item_button_clicked)
        item.attach(self.c.scene)
        self.item = item
        self._update_item()
        if self._active:
            self._tick.start()
        left, judge = len(grid.unfinished()), len(grid.unjudged())
        if (left or judge) and not self.running and not self._starting:
            self.c.message_posted.emit(sweep_cells.work_left_message(left, judge), 8000)
        return self.hidden

    def show_grid(self) -> None:
        """Bring the sweep card, the grid's header and its first rows into view (a sweep just started,
        or a session never viewed before)."""
        if self.item is None:
            return
        if not self.c.view.isVisible():  # the window opens on this session: fit once it has its size
            self._fit_tries += 1
            if self._fit_tries <= 40:
                QTimer.singleShot(50, self.show_grid)
            return
        self._fit_tries = 0
        rect = self.item.sceneBoundingRect()
        graph = self.c.graph
        sweep = graph.nodes.get(self.sweep_id) if graph is not None and self.sweep_id else None
        left = min(sweep.x, rect.left()) if sweep is not None else rect.left()
        self.c.view.fit_rect(QRectF(left, rect.top(), min(rect.right() - left, 1700.0), min(rect.height(), 640.0)))

    def after_viewport(self, session: Session) -> None:
        """The session's viewport was restored: one never saved shows the grid."""
        vp = session.viewport
        if self.item is not None and vp.zoom == 1.0 and vp.x == 0.0 and vp.y == 0.0:
            self.show_grid()

    def claims(self, node: Node) -> bool:
        """Does the grid stand for this card (the scene leaves it out)?"""
        if node.id in self.hidden:
            return True
        runner, marking = self.runner, self._marking
        if runner is not None and marking is not None and marking.adding \
                and node.session_id == runner.graph.session.id:
            self.hidden.add(node.id)
            return True
        return False

    def _drop_item(self) -> None:
        self._tick.stop()
        if self.item is not None:
            self.item.dispose()
            self.item = None

    # ------------------------------------------------------------------ live updates
    def _on_model_changed(self, event: GraphEvent) -> None:
        if self.grid is None:
            if isinstance(event, NodesAdded) and self.c.graph is not None and any(
                    n.kind == NodeKind.SWEEP and SWEEP_META in n.meta for n in event.nodes):
                self.show(self.c.graph)  # the sweep card is back (an undone delete): so is its grid
            return
        if isinstance(event, NodesAdded):
            for node in event.nodes:
                self._see(node)
        elif isinstance(event, NodeChanged):
            self._see(event.node)
        elif isinstance(event, NodesRemoved):
            gone = set(event.ids)
            if self.sweep_id in gone:  # the sweep card was deleted: its grid goes with it
                self._drop_item()
                self.grid, self.sweep_id = None, None
                return
            for index, nodes in self.answers.items():
                if any(n.id in gone for n in nodes):
                    self.answers[index] = [n for n in nodes if n.id not in gone]
                    self._active.add(index)
            self.hidden -= gone

    def _see(self, node: Node) -> None:
        if node.kind == NodeKind.SYNTHESIS and JUDGE_META in node.meta:
            self._hide_late(node)  # a verdict another process (or app.batch) added
            return
        mark = node.meta.get(CELL_META)
        if node.kind != NodeKind.RESPONSE or not isinstance(mark, dict) or "cell" not in mark:
            return
        index = int(mark["cell"])
        if self.grid is None or not 0 <= index < len(self.grid.cells):
            return
        nodes = self.answers.setdefault(index, [])
        for i, known in enumerate(nodes):
            if known.id == node.id:  # (the store's copy of an answer this window streamed: one answer)
                nodes[i] = node
                break
        else:
            nodes.append(node)
            self._hide_late(node)
        self._active.add(index)
        if not self._tick.isActive():
            self._tick.start()

    def _hide_late(self, node: Node) -> None:
        """A new cell answer (or verdict) this window's runner did not add (another process's sweep into
        the open session, a batch's results): the grid stands for it and its prompt too."""
        graph = self.c.graph
        if node.id in self.hidden or graph is None:
            return
        ids = [node.id]
        if node.kind == NodeKind.RESPONSE:
            ids += [e.parent_id for e in graph.parents(node.id)]
        for node_id in ids:
            self.hidden.add(node_id)
            self.c.scene.remove_card(node_id)

    def _on_tick_timeout(self) -> None:
        self.refresh()
        if not self._active and not self.running:
            self._tick.stop()

    def refresh(self) -> None:
        """Re-read the cells that may have changed and repaint the grid (the tick; tests, screenshots)."""
        grid = self.grid
        if grid is None:
            return
        changed = False
        for index in list(self._active):
            changed = grid.update(index, self.answers.get(index, [])) or changed
            if _settled(self, index):
                self._active.discard(index)
        if changed or self.running:
            self._update_item()


    def _on_batches_changed(self, record: BatchRecord) -> None:
        """app.batch created, polled or filled a batch of the running sweep (`on_batch`)."""
        if self.grid is None or self.runner is None or self.runner.sweep.id != self.sweep_id:
            return
        self.batches.records[record.key] = record
        self.batches.mark(self.grid, self.answers)
        self._update_item()

    def _update_item(self) -> None:
        if self.item is None or self.grid is None:
            return
        p = self.grid.progress()
        line = p.line()
        if self.grid.batch_lines:
            line += " · " + "; ".join(self.grid.batch_lines)
        self.item.running = self.running and not self._cancelled
        head = "Cancelling · " if self.running and self._cancelled else "Running · " if self.running else ""
        self.item.progress_text = f"{head}{line}"
        self.item.refresh()
        if self.running:
            self.progress_changed.emit(f"Sweep: {line}")

    # ------------------------------------------------------------------ the grid's clicks
    def _on_item_button_clicked(self, name: str) -> None:
        item, grid = self.item, self.grid
        if item is None or grid is None:
            return
        if name == "differ":
            item.only_differ = not item.only_differ
        elif name == "failures":
            item.only_failures = not item.only_failures
        elif name == "model":
            self._choose_model()
            return
        elif name == "cancel":
            self.cancel_all()
            return
        elif name == "resume":
            self.resume()
            return
        elif name == "rerun":
            self.rerun_failed()
            return
        item.refresh()

    def _choose_model(self) -> None:
        if self.item is not None and self.grid is not None:
            self.model_menu = sweep_cells.model_menu(self, self.item, self.grid)

    def set_model_filter(self, model: str | None) -> None:
        if self.item is not None:
            self.item.model = model
            self.item.refresh()

    def _on_item_cell_clicked(self, index: int) -> None:
        self.open_cell(index)

    def open_cell(self, index: int) -> None:
        """Focus mode on the cell's answer, with Continue on canvas and Diff with the cell on its left."""
        grid = self.grid
        if grid is None:
            return
        answer_id = grid.cells[index].answer_id
        if answer_id is None:
            self.c.message_posted.emit("This cell has no answer yet.", 3000)
            return
        self.c.focus_requested.emit(answer_id)
        dlg = self.focus_dialog_of() if self.focus_dialog_of is not None else None
        if dlg is not None:
            sweep_cells.add_cell_buttons(self, dlg, grid, index)

    def continue_cell(self, index: int) -> None:
        """Put the cell's prompt and answer on the canvas below the grid and follow up on its answer."""
        answer_id = sweep_cells.put_on_canvas(self, index)
        if answer_id is not None:
            self.c.view.ensure_card_visible(answer_id)
            self.c.continue_lane(answer_id)

    # ------------------------------------------------------------------ running
    def new_sweep_dialog(self, chosen: Sequence[str] = ()) -> QDialog:
        """Evaluate → New sweep…: the form (non-modal); Start sweep runs it here."""
        from ui.sweep_dialog import open_new_sweep

        self.dialog = open_new_sweep(self, chosen)
        return self.dialog

    def start(self, defn: SweepDef, attachments: Sequence[Any] = ()) -> str | None:
        """Make a sweep session for `defn`, show it and run every cell (after the cost confirmation
        when the estimate is above the threshold). Returns the session id, None when not started."""
        if not sweep_cells.confirm_cost(self.c, defn, defn.cells(), self.confirm_usd):
            return None
        repo = self.c.repo
        session = repo.create_session(Session(title=defn.session_title()))
        sweep = Node(session.id, NodeKind.SWEEP, defn.summary(), meta={SWEEP_META: defn.to_dict()},
                     status=NodeStatus.DONE, title="Sweep")
        sweep.attachments = list(attachments)
        repo.add_nodes([sweep])
        self.c.sessions_changed.emit()
        self._starting = True
        try:
            self.c.open_session(session.id)
        finally:
            self._starting = False
        self.show_grid()
        self._run(None)
        return session.id

    def resume(self) -> None:
        """Run the cells without an ended attempt (not those that failed) and judge the answered ones not judged
        (never sent again) once the user says yes to their number and cost; batch cells are polled."""
        if self.grid is not None and not self.running and (self.grid.unfinished() or self.grid.unjudged()):
            chosen = sweep_cells.confirm_resume(self.c, self.grid, self.confirm_usd)
            if chosen is not None:
                self._run(*chosen)

    def rerun_failed(self) -> None:
        """Run the cells that ended failed (an error, a failed check) again, once the user says yes."""
        if self.grid is not None and not self.running and self.grid.failed_cells():
            cells = self.grid.failed_cells()
            if sweep_cells.confirm_rerun(self.c, self.grid, cells, self.confirm_usd):
                self._run(cells)

    def cancel_all(self) -> None:
        """Stop the sweep: streaming answers stop (text kept), no cell starts; the others show "cancelled"."""
        runner = self.runner
        if runner is None:
            return
        runner.stop()  # no cell nor judge request starts now (its engine's cancel_all is the sweep's own: none)
        self._cancelled = True
        self.batches.cancel()  # the open batches are cancelled at the provider too
        live = [n.id for nodes in self.answers.values() for n in nodes if n.status.is_live]
        live += runner.judging() + self.batches.judging()  # the judge's verdicts being written stop too (what they cost is kept)
        if live:
            self.c.stop(live)
        self._update_item()  # the header stops saying "Running" at once
        self.c.message_posted.emit("Cancelling the sweep…", 5000)

    def _run(self, only: Sequence[int] | None, judge: Sequence[int] = ()) -> None:
        grid, session = self.grid, self.c.session
        if grid is None or session is None or self.sweep_id is None:
            return
        graph = self.c.repo.load_graph(session.id)  # the runner's own graph: every node, plain
        for node_id, nodes in ((n.id, n) for ns in self.answers.values() for n in ns):
            graph.nodes[node_id] = nodes  # one object per answer: the window's (live ones carry their text)
        sweep = graph.nodes[self.sweep_id]
        marking = _MarkingEngine(self.c.engine)
        runner = SweepRunner(marking, graph, sweep, SweepDef.from_dict(sweep.meta[SWEEP_META]))  # type: ignore[arg-type]
        runner.only = set(only) if only is not None else None
        runner.judge_only = set(judge)  # the finished cells not judged yet that this run judges
        self._active.update(judge)
        self.runner, self._marking = runner, marking
        grid.set_cancelled((), self.answers)  # the cells a cancelled run left: queued again
        _store_cancelled(self.c, sweep, [])
        grid.started, grid.started_done = time.monotonic(), grid.progress().ended
        self.task = asyncio.ensure_future(self._run_task(runner))
        self._tick.start()
        self._update_item()

    async def _run_task(self, runner: SweepRunner) -> None:
        try:
            if runner.defn.batch:  # the cells of providers with a batch API: app.batch
                await self.batches.run(runner, self._on_batches_changed)
                await runner.judge_left()  # (the finished cells Resume judges: `judge_only`)
            else:
                await runner.run()
        except Exception as exc:
            log.exception("sweep run failed")
            self.c.message_posted.emit(f"The sweep stopped: {exc}", 8000)
        finally:
            if self.runner is runner:
                self.runner, self._marking = None, None
            self.task = None
            if self._closed:  # the window closed (a quit): nothing of it to update
                return  # noqa: B012 (the run's end is not an error to raise)
            cancelled, self._cancelled = self._cancelled, False
            grid = self.grid if self.grid is not None and runner.sweep.id == self.sweep_id else None
            if grid is not None:
                if cancelled:  # the cells the run never started: cancelled, not queued (Resume runs them)
                    grid.set_cancelled([c.index for c in grid.cells if not self.answers.get(c.index)], self.answers)
                    _store_cancelled(self.c, runner.sweep, sorted(grid.cancelled))  # (a reopen says "cancelled" too)
                for index in range(len(grid.cells)):
                    grid.update(index, self.answers.get(index, []))
                self._active.clear()
            self._update_item()
            if self.grid is not None:
                self.progress_changed.emit("")
                self.c.message_posted.emit(sweep_cells.ended_message(self.grid, cancelled), 8000)
            self.c.emit_totals()
            self.run_finished.emit()

    def close(self) -> None:
        self._closed = True
        self._tick.stop()
        if self.runner is not None:
            self.runner.stop()  # (also lets go of a hold: nothing waits for good)
        self.batches.stop()
        if self.task is not None and self.batches.handle is not None:
            # a batch sweep ends soon (stopped): the quit waits for it, so that the cell whose batch result
            # is being written is written whole, before the store closes
            self.c.engine.hold_close(self.task)
        self.c.model.unobserve(self._on_model_changed)


def _store_cancelled(c: CanvasController, sweep: Node, cells: list[int]) -> None:
    """Keep on the sweep node which cells a cancelled run never started (none: a run starts again), in the
    runner's copy of the node (its batches' records are written with it) and the window's (`c`: its
    canvas controller)."""
    graph = c.graph
    shown = graph.nodes.get(sweep.id) if graph is not None and graph.session.id == sweep.session_id else None
    if not cells and CANCELLED_META not in sweep.meta:
        return
    for node in {id(n): n for n in (sweep, shown) if n is not None}.values():
        if cells:
            node.meta[CANCELLED_META] = cells
        else:
            node.meta.pop(CANCELLED_META, None)
    try:
        c.repo.update_node(sweep)
    except Exception:  # the store is locked or gone: the grid still says it until the window closes
        log.exception("could not store the sweep's cancelled cells")


def _settled(ctrl: SweepGridController, index: int) -> bool:
    """Has the cell's latest answer reached its final form (checked and, with a judge, judged)?"""
    nodes = ctrl.answers.get(index) or []
    if not nodes:
        return True
    last = nodes[-1]
    if last.status.is_live:
        return False
    if ctrl.runner is None:
        return True
    if CHECKS_META not in last.meta:
        return False  # the runner is about to check it
    return not (ctrl.grid and ctrl.grid.defn.judge and last.status == NodeStatus.DONE and not is_judged(last))
