"""A window sweep's batches (app.batch): the records of its open batches, the handle of the run that
polls them, and the grid's "in batch" marks. app.batch (and the providers' HTTP code under it) is
imported when a batch sweep is opened or run, not when the window starts (benchmark 6).

Qt main thread (= the asyncio loop, qasync).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.batch import BatchRecord, SweepBatches
    from app.domain import Node
    from app.sweep import SweepRunner
    from app.sweep_view import SweepGrid


def poll_interval() -> float:
    """Seconds between two looks at a sweep's open batches: app.batch's default (30 s), or the
    environment's TRIPTYCH_BATCH_POLL_S (tests, impatient users)."""
    from app.batch import DEFAULT_POLL_S

    raw = os.environ.get("TRIPTYCH_BATCH_POLL_S", "")
    try:
        value = float(raw) if raw else DEFAULT_POLL_S
    except ValueError:
        value = DEFAULT_POLL_S
    return value if value > 0 else DEFAULT_POLL_S


class SweepBatchLink:
    def __init__(self) -> None:
        self.handle: SweepBatches | None = None  # app.batch's handle of a batch run, while one runs
        self.records: dict[str, BatchRecord] = {}  # the sweep's batches (key -> last known state)
        self._cancelling: asyncio.Future[None] | None = None

    def __repr__(self) -> str:
        return f"<SweepBatchLink batches={len(self.records)} running={self.handle is not None}>"

    def load(self, sweep: Node) -> None:
        """The batches stored with `sweep` (none for a live sweep: app.batch is not imported then)."""
        from app.sweep import BATCH_META

        self.records = {}
        if sweep.meta.get(BATCH_META):
            from app.batch import load_records

            self.records = {r.key: r for r in load_records(sweep)}

    def mark(self, grid: SweepGrid, answers: dict[int, list[Node]]) -> None:
        """Tell the grid which cells wait in open batches, and each open batch's status line."""
        open_ = [r for r in self.records.values() if r.open]
        changed = grid.set_batches((i for r in open_ for i in r.cells.values()), [r.line() for r in open_],
                                   (cid for r in open_ for cid in r.cells))
        for index in changed:
            if 0 <= index < len(grid.cells):
                grid.update(index, answers.get(index, []))

    async def run(self, runner: SweepRunner, on_batch: Callable[[BatchRecord], None]) -> None:
        """Run `runner`'s sweep through the batch APIs (the cells of other providers live): its `only` cells,
        else every cell without a finished answer; the cells waiting in open batches are polled."""
        from app.batch import run_sweep_batches

        def started(handle: Any) -> None:
            self.handle = handle

        try:
            await run_sweep_batches(runner.engine, runner.graph, runner.sweep, runner.defn,
                                    poll_interval=poll_interval(), on_batch=on_batch, started=started,
                                    only=runner.only)
        finally:
            self.handle = None

    def cancel(self) -> None:
        """Cancel Everything: the open batches are cancelled at the provider too."""
        if self.handle is not None:
            self._cancelling = asyncio.ensure_future(self.handle.cancel())

    def hold(self, on: bool) -> None:
        """The quit question is open (or closed): no further live cell or judge request starts meanwhile."""
        if self.handle is not None:
            self.handle.runner.hold(on)

    def judging(self) -> list[str]:
        """The judge's verdicts being written now for the batch run's cells (Cancel all stops them)."""
        return self.handle.runner.judging() if self.handle is not None else []

    def stop(self) -> None:
        """The window closes: polling ends; the batches run on at the provider (Resume collects them)."""
        if self.handle is not None:
            self.handle.stop()
