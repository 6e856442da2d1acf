"""Sweeps through the providers' batch APIs (DESIGN.md "Evaluate", PROTOCOLS.md "Batch APIs"). Qt-free.

`run_sweep_batches(engine, graph, sweep, defn, ...)` is the one entry point (the CLI's `sweep --batch` and
the window's batch switch call it): the unfinished cells whose provider has a batch API (OpenAI Batch,
Anthropic Message Batches: `app.batch_api`) are sent as batches, the others run live through the ordinary
`SweepRunner`; then it polls until every batch has ended and fills the cells.

What is stored, and when (so that a restart re-polls instead of resending; never a cell twice): the
sweep node's `meta["sweep_batches"]` holds one record per batch (`BatchRecord`: a local key, provider,
the custom_id → cell map, the state, the provider's batch id, its last status and counts). A record is
written *before* the batch is created (state `submitting`), again with the provider's id as soon as the
create returns (`submitted`), and once its results fill the cells (`filled`). A record still
`submitting` after a crash is looked up at the provider (OpenAI: by the `triptych_batch` metadata;
Anthropic: a batch created after it with as many requests) and adopted, or sent again if none exists.

A result fills its cell exactly as a live answer would: `SweepRunner.send_cell` asks through a second
`Engine` whose provider replays the result (the live parsers of app.providers read the JSON body), so
the cell gets its prompt → response pair, usage, checks and judge; then the cost is set at the batch
price (catalog `batch_price_factor`) and the timing is left unset (a batch has no latency to measure).

Async contract: everything here runs on the engine's event loop.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
import uuid
from collections.abc import AsyncIterator, Callable, Collection, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any

from app.batch_api import (
    CANCELED,
    ENDED,
    BatchAPI,
    BatchError,
    BatchStatus,
    Outcome,
    batch_api_for,
    expired_outcome,
    missing_outcome,
)
from app.domain import ErrorInfo, ModelRef, Node, NodeStatus, Params, Timing
from app.events import StreamError, StreamEvent
from app.lanes import sendable
from app.providers.base import ProviderConfig, ProviderRequest
from app.sweep import (
    BATCH_META,
    CHECKS_META,
    Cell,
    Progress,
    SweepDef,
    SweepRunner,
    check_failed,
    node_cost,
    run_checks,
    variant_params,
)

if TYPE_CHECKING:
    import httpx

    from app.catalog import Catalog
    from app.domain import Graph
    from app.engine import Engine

__all__ = [
    "BATCH_META",
    "CELL_BATCH_META",
    "DEFAULT_POLL_S",
    "BatchError",
    "BatchRecord",
    "SweepBatches",
    "batch_cost",
    "batch_factor",
    "batchable",
    "build_cell_request",
    "cell_batch_states",
    "load_records",
    "run_sweep_batches",
]

log = logging.getLogger(__name__)

CELL_BATCH_META = "sweep_batch"  # on a cell's answer that came from a batch: {"provider", "batch_id", "custom_id"}
DEFAULT_POLL_S = 30.0
POLL_FAILURES = 8  # looks at the batches that failed in a row before giving up (resume continues)

SUBMITTING, SUBMITTED, FILLED = "submitting", "submitted", "filled"


@dataclass(slots=True)
class BatchRecord:
    """One batch of one sweep, as stored on the sweep node (see the module docstring)."""

    key: str  # local id; custom_ids are f"{key}-{cell}", the OpenAI batch's metadata carries it
    provider: str
    cells: dict[str, int]  # custom_id -> cell index
    state: str = SUBMITTING
    remote_id: str | None = None
    status: str | None = None  # the provider's own word: validating, in_progress, ended, expired, ...
    counts: dict[str, int] = field(default_factory=dict)
    created_at: float = field(default_factory=time.time)
    error: str | None = None

    def __repr__(self) -> str:
        return f"<BatchRecord {self.key} {self.provider} {self.remote_id} {self.state}/{self.status} n={len(self.cells)}>"

    def to_dict(self) -> dict[str, Any]:
        return {"key": self.key, "provider": self.provider, "cells": self.cells, "state": self.state,
                "remote_id": self.remote_id, "status": self.status, "counts": self.counts,
                "created_at": self.created_at, "error": self.error}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> BatchRecord:
        return cls(key=str(d["key"]), provider=str(d["provider"]),
                   cells={str(k): int(v) for k, v in (d.get("cells") or {}).items()},
                   state=str(d.get("state") or SUBMITTING), remote_id=d.get("remote_id"), status=d.get("status"),
                   counts={str(k): int(v) for k, v in (d.get("counts") or {}).items()},
                   created_at=float(d.get("created_at") or 0.0), error=d.get("error"))

    @property
    def open(self) -> bool:
        """Not yet filled: its cells must be neither sent again nor run live."""
        return self.state != FILLED

    def line(self) -> str:
        """One progress line: `batch msgbatch_… (anthropic, 12 requests): in_progress, 3 succeeded, …`."""
        counts = ", ".join(f"{v} {k}" for k, v in self.counts.items() if v)
        name = self.remote_id or f"{self.key} (being created)"
        return (f"batch {name} ({self.provider}, {len(self.cells)} request{'s' if len(self.cells) != 1 else ''}): "
                f"{self.status or self.state}" + (f", {counts}" if counts else "")
                + ("; its cells are filled" if self.state == FILLED
                   else "; writing its results into the cells" if self.status in ENDED else "")
                + (f" — {self.error}" if self.error else ""))


def load_records(sweep: Node) -> list[BatchRecord]:
    raw = sweep.meta.get(BATCH_META)
    return [BatchRecord.from_dict(r) for r in raw if isinstance(r, dict)] if isinstance(raw, list) else []


def cell_batch_states(sweep: Node) -> dict[int, BatchRecord]:
    """Cell index -> the open batch it waits in (for the grid: "in batch msgbatch_…, in_progress")."""
    return {cell: rec for rec in load_records(sweep) if rec.open for cell in rec.cells.values()}


# ------------------------------------------------------------------------------------------------ requests
def batchable(engine: Engine, model: str) -> bool:
    """Whether `model`'s provider has a batch API (built-in `openai` and `anthropic`) and a key."""
    ref = ModelRef.parse(model)
    cfg = engine.settings.providers.get(ref.provider)
    return cfg is not None and bool(cfg.api_key) and batch_api_for(cfg) is not None


def build_cell_request(engine: Engine, cell: Cell, sweep: Node) -> tuple[ProviderConfig, ProviderRequest] | None:
    """The provider request a live run of `cell` would send (same context, files, filtered parameters as
    app.lanes builds it), or None when the cell cannot go in a batch (a file the model cannot read: the
    live run fails it with the reason)."""
    from app.engine import Target

    model = engine.catalog.canonical(str(ModelRef.parse(cell.model)))
    ref = ModelRef.parse(model)
    cfg = engine.settings.providers.get(ref.provider)
    if cfg is None:
        return None
    system = sendable(cell.system) if cell.system is not None else None
    (call,) = engine.plan(None, sendable(cell.text), [Target(model, variant_params(cell.params))], system=system,
                          attachments=list(sweep.attachments))
    if call.unsupported or call.over_limit:
        return None
    built_system = sendable(call.system) if call.system is not None else None
    request = ProviderRequest(
        model=ref.model,
        messages=[replace(m, content=sendable(m.content)) for m in call.messages],
        params=Params(**{**call.params.to_dict(), "system": built_system}),
        accepts=engine.catalog.info(model).accepts,
    )
    return cfg, request


def batch_cost(catalog: Catalog, node: Node) -> float | None:
    """The answer's cost at its provider's batch price (None without one)."""
    if not node.model:
        return None
    price = catalog.info(node.model).batch_price
    return price.cost(node.usage) if price is not None else None


# ------------------------------------------------------------------------------------------------ replay
@dataclass(frozen=True, slots=True)
class _Filling:
    """The batch result being written into a cell (its record, custom_id and outcome)."""

    rec: BatchRecord
    cid: str
    outcome: Outcome


_FILLING: contextvars.ContextVar[_Filling | None] = contextvars.ContextVar("batch_filling", default=None)


class _ReplayProvider:
    """A provider whose stream is the batch result of the cell being filled (read from a context
    variable set around `Engine.ask`: the lane's task copies the context when it is created, and the
    final-save hook of the filler engine reads it too)."""

    def __init__(self, config: ProviderConfig, client: httpx.AsyncClient) -> None:
        self.config = config

    def build_body(self, request: ProviderRequest) -> dict[str, Any]:
        return {}

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        filling = _FILLING.get()
        outcome = filling.outcome if filling is not None else None
        for event in outcome.events if outcome is not None else (StreamError("bad_stream", "no batch result"),):
            yield event

    async def list_models(self) -> list[dict[str, Any]]:
        return []


# ------------------------------------------------------------------------------------------------ running
OnBatch = Callable[[BatchRecord], None]


class SweepBatches:
    """Submits, polls and fills the batches of one sweep (see `run_sweep_batches`)."""

    def __init__(self, engine: Engine, graph: Graph, sweep: Node, defn: SweepDef, *,
                 on_progress: Callable[[Progress], None] | None = None, on_batch: OnBatch | None = None,
                 poll_interval: float = DEFAULT_POLL_S, only: Collection[int] | None = None) -> None:
        from app.engine import Engine as EngineCls

        self.engine = engine
        self.sweep = sweep
        self.runner = SweepRunner(engine, graph, sweep, defn, on_progress=on_progress)
        self.runner.only = set(only) if only is not None else None
        self.on_batch = on_batch
        self.poll_interval = poll_interval
        self.records = load_records(sweep)
        self.stopped = False
        self.leftover: list[Cell] = []  # cells that cannot go in a batch (run live)
        self._wake = asyncio.Event()
        self._apis: dict[str, BatchAPI] = {}
        self._filler = EngineCls(engine.repo, engine.settings, catalog=engine.catalog, client=engine.client,
                                 max_retries=0, provider_factory=_ReplayProvider)
        # the filled cells are announced as the engine's own (the window's canvas listens to it)
        self._filler.subscribe(engine.announce)
        # a cell's answer is stored in its final form in one write (batch price, no latency, the batch's
        # ids, its checks): never a full-price, unchecked "done" that a quit could leave behind
        self._filler.before_final_save.append(self._finish_answer)

    def __repr__(self) -> str:
        return f"<SweepBatches {self.sweep.id[-6:]} {len(self.records)} batches>"

    # -- store
    def _save(self) -> None:
        self.sweep.meta[BATCH_META] = [r.to_dict() for r in self.records]
        self.engine.repo.update_node(self.sweep)

    def _announce(self, rec: BatchRecord) -> None:
        if self.on_batch is not None:
            self.on_batch(rec)

    def _api(self, provider: str) -> BatchAPI:
        api = self._apis.get(provider)
        if api is None:
            cfg = self.engine.settings.providers[provider]
            made = batch_api_for(cfg, self.engine.client)
            assert made is not None, provider
            api = self._apis[provider] = made
        return api

    def stop(self) -> None:
        """Stop: live cells stop, polling ends; the batches keep running at the provider (resume polls)."""
        self.stopped = True
        self.runner.stop()
        self._wake.set()

    async def cancel(self) -> None:
        """Cancel all: the live cells stop and the open batches are cancelled at the provider. Polling
        goes on until they have ended: what they finished fills its cells, the rest fail as cancelled."""
        self.runner.stop()
        for rec in [r for r in self.records if r.open and r.remote_id]:
            assert rec.remote_id is not None
            self._apply(rec, await self._api(rec.provider).cancel(rec.remote_id))
            self._announce(rec)
        self._wake.set()

    # -- plan
    def plan(self) -> tuple[list[Cell], list[Cell], int]:
        """(cells to send in new batches, cells to run live, cells waiting in open batches)."""
        waiting = {cell for rec in self.records if rec.open for cell in rec.cells.values()}
        to_batch: list[Cell] = []
        live: list[Cell] = []
        for cell in self.runner.pending_cells():
            if cell.index in waiting:
                continue
            (to_batch if batchable(self.engine, cell.model) else live).append(cell)
        return to_batch, live, len(waiting)

    # -- submit
    async def submit(self, cells: Sequence[Cell]) -> list[BatchRecord]:
        """Send `cells` as new batches (one or more per provider, split by its limits)."""
        by_provider: dict[str, list[tuple[Cell, ProviderRequest, ProviderConfig]]] = {}
        live: list[Cell] = []
        for cell in cells:
            built = build_cell_request(self.engine, cell, self.sweep)
            if built is None:
                live.append(cell)
                continue
            cfg, request = built
            by_provider.setdefault(cfg.id, []).append((cell, request, cfg))
        self.leftover = live
        made: list[BatchRecord] = []
        for provider, items in by_provider.items():
            api = self._api(provider)
            lines = []
            for cell, request, _cfg in items:
                lines.append((cell.index, api.body(request)))
            for chunk in api.split(lines):
                key = "tb" + uuid.uuid4().hex[:12]
                rec = BatchRecord(key=key, provider=provider, cells={f"{key}-{i}": i for i, _ in chunk})
                self.records.append(rec)
                self._save()  # known before it exists at the provider: a crash now is resolved on resume
                await self._create(rec, api, [(f"{key}-{i}", body) for i, body in chunk])
                made.append(rec)
        return made

    async def _create(self, rec: BatchRecord, api: BatchAPI, requests: list[tuple[str, dict[str, Any]]]) -> None:
        try:
            status = await api.create(rec.key, requests)
        except BatchError as exc:
            if exc.sent_maybe:
                rec.error = f"{exc} (looked up again on resume)"
                self._save()
                self._announce(rec)
                raise
            # refused before it existed: its cells fail now (a re-run sends them again)
            rec.error = str(exc)
            await self._fill(rec, {cid: _error_outcome(exc.error) for cid in rec.cells})
            return
        self._apply(rec, status)
        self._announce(rec)

    async def _resolve_submitting(self, rec: BatchRecord) -> None:
        """A record left `submitting` by a crash: adopt the batch it made, or send its cells again."""
        api = self._api(rec.provider)
        found = await api.find(rec.key, rec.created_at, len(rec.cells))
        if found is not None:
            self._apply(rec, found)
            self._announce(rec)
            return
        cells = {c.index: c for c in self.runner.defn.cells()}
        requests = []
        for cid, index in rec.cells.items():
            built = build_cell_request(self.engine, cells[index], self.sweep)
            if built is not None:
                requests.append((cid, api.body(built[1])))
        await self._create(rec, api, requests)

    def _apply(self, rec: BatchRecord, status: BatchStatus) -> None:
        rec.remote_id = status.id
        rec.status = status.status
        rec.counts = dict(status.counts)
        if rec.state == SUBMITTING:
            rec.state = SUBMITTED
        self._save()

    # -- poll and fill
    async def poll_once(self) -> None:
        for rec in [r for r in self.records if r.open]:
            if self.stopped:
                return
            if rec.remote_id is None:
                await self._resolve_submitting(rec)
                continue
            api = self._api(rec.provider)
            status = await api.retrieve(rec.remote_id)
            if self.stopped:  # stopped (a quit) while asking: nothing more is written
                return
            changed = (status.status, status.counts) != (rec.status, rec.counts)
            self._apply(rec, status)
            if changed:  # an ended one: "writing its results", then once more when its cells are filled
                self._announce(rec)
            if status.status in ENDED:
                outcomes = await api.results(status, set(rec.cells))
                if self.stopped:
                    return
                await self._fill(rec, outcomes, status)

    async def _fill(self, rec: BatchRecord, outcomes: dict[str, Outcome], status: BatchStatus | None = None) -> None:
        """Write the batch's results into its cells, one cell at a time; a cell already holding its result
        from this batch (a run stopped mid-way, then resumed) is left as it is. After `stop()` no further
        cell is written (the record stays open: a resume writes the rest)."""
        cells = {c.index: c for c in self.runner.defn.cells()}
        for cid, index in rec.cells.items():
            if self.stopped:
                return
            stored = self._stored_result(index, cid)
            if stored is not None:
                self._count(stored)
                continue
            outcome = outcomes.get(cid)
            if outcome is None:
                outcome = expired_outcome() if status is not None and status.status == "expired" else missing_outcome(
                    status.status if status is not None else rec.error or "not sent")
            await self._fill_cell(rec, cells[index], cid, outcome)
        rec.state = FILLED
        self._save()
        self._announce(rec)

    def _stored_result(self, index: int, cid: str) -> Node | None:
        """The cell's answer already written from the batch request `cid` (custom_ids are unique), if any."""
        for node in self.runner.answers.get(index, []):
            mark = node.meta.get(CELL_BATCH_META)
            if isinstance(mark, dict) and mark.get("custom_id") == cid and not node.status.is_live \
                    and node.status != NodeStatus.INTERRUPTED:
                return node
        return None

    def _count(self, node: Node) -> None:
        """A cell already written counts in this run's progress as it is (nothing sent, nothing paid)."""
        progress = self.runner.progress
        progress.done += 1
        checks = node.meta.get(CHECKS_META)
        if node.status != NodeStatus.DONE or any(check_failed(c) for c in (checks if isinstance(checks, list) else [])):
            progress.failed += 1
        progress.cost_usd += node_cost(node) or 0.0

    def _finish_answer(self, node: Node) -> None:
        """The filler engine's final-save hook: the replayed answer's final write is its final form."""
        filling = _FILLING.get()
        if filling is None:
            return
        outcome, rec = filling.outcome, filling.rec
        node.timing = Timing()  # no latency to speak of: the batch ran when the provider chose
        node.cost_usd = batch_cost(self.engine.catalog, node) if node.model else None
        node.meta[CELL_BATCH_META] = {"provider": rec.provider, "batch_id": rec.remote_id, "custom_id": filling.cid}
        if outcome.error is not None and outcome.error.message == CANCELED:
            node.meta[CELL_BATCH_META]["cancelled"] = True  # never ran: the grid shows it cancelled, Resume runs it
        if outcome.error is not None and node.status == NodeStatus.ERROR:
            node.error = ErrorInfo(outcome.error.kind, outcome.error.message, outcome.error.status)
        node.meta[CHECKS_META] = run_checks(self.runner.checks, node)

    async def _fill_cell(self, rec: BatchRecord, cell: Cell, cid: str, outcome: Outcome) -> None:
        token = _FILLING.set(_Filling(rec, cid, outcome))
        try:
            node = await self.runner.send_cell(cell, self._filler)
        finally:
            _FILLING.reset(token)
        await self.runner.settle_cell(node)

    async def wait(self) -> None:
        """Poll every open batch until all have been filled (or `stop()`). A failed look (network,
        HTTP 5xx) is tried again at the next interval; `POLL_FAILURES` failures in a row raise."""
        failures = 0
        while not self.stopped and any(r.open for r in self.records):
            try:
                await self.poll_once()
                failures = 0
            except BatchError as exc:
                failures += 1
                if failures >= POLL_FAILURES or exc.error.kind in ("auth", "bad_request"):
                    raise
                log.warning("batch poll failed (%d in a row): %s", failures, exc)
                if self.on_batch is not None:
                    for rec in self.records:
                        if rec.open:
                            self.on_batch(replace(rec, error=f"could not ask the provider ({exc}); trying again"))
            if self.stopped or not any(r.open for r in self.records):
                break
            self._wake.clear()
            try:
                await asyncio.wait_for(self._wake.wait(), self.poll_interval * (2 ** min(failures, 5)))
            except TimeoutError:
                pass

    async def run(self, *, wait: bool = True) -> list[tuple[Cell, Node | None]]:
        to_batch, live, waiting = self.plan()
        self.runner.progress = Progress(len(to_batch) + len(live) + waiting)
        self.leftover = []
        if to_batch:
            await self.submit(to_batch)
        live_task = asyncio.ensure_future(self.runner.run_cells([*live, *self.leftover]))
        try:
            if wait:
                await self.wait()
            else:
                await self.poll_once_quietly()
        finally:
            await live_task
        await self._filler.flush_saves(2.0)
        return self.runner.results()

    async def poll_once_quietly(self) -> None:
        """With --no-wait: one look at the open batches (a fast one may have ended already)."""
        try:
            await self.poll_once()
        except BatchError as exc:
            log.info("batch poll failed: %s", exc)

    async def aclose(self) -> None:
        await self._filler.aclose()


def _error_outcome(error: StreamError) -> Outcome:
    return Outcome((error,), error)


async def run_sweep_batches(engine: Engine, graph: Graph, sweep: Node, defn: SweepDef, *, wait: bool = True,
                            poll_interval: float = DEFAULT_POLL_S,
                            on_progress: Callable[[Progress], None] | None = None,
                            on_batch: OnBatch | None = None,
                            started: Callable[[SweepBatches], None] | None = None,
                            only: Collection[int] | None = None,
                            ) -> list[tuple[Cell, Node | None]]:
    """Run (or resume) a sweep with the batch APIs: the unfinished cells of OpenAI and Anthropic models go
    in batches (new ones; cells already waiting in a stored batch are polled, never sent again), the
    others run live; with `wait`, poll every `poll_interval` seconds until every batch has ended and its
    cells are filled, else return after submitting. `on_batch(record)` hears of every batch created or
    changed (status, counts), `on_progress` of every cell filled, `started(handle)` gets the handle
    (`SweepBatches`): `stop()` stops the live cells and the polling (the batches run on at the provider,
    a resume collects them); `await cancel()` cancels the batches too (Cancel all), and the run returns
    once they have ended. `only`: send exactly these cells (the window's Resume and Re-run failed).
    Returns every cell with its best answer (None while it waits in a batch). Raises BatchError when a
    provider cannot be reached to create or poll a batch (what was stored stays; resume continues)."""
    batches = SweepBatches(engine, graph, sweep, defn, on_progress=on_progress, on_batch=on_batch,
                           poll_interval=poll_interval, only=only)
    if started is not None:
        started(batches)
    try:
        return await batches.run(wait=wait)
    finally:
        await batches.aclose()


def batch_factor(settings: Any, catalog: Catalog, model: str) -> float:
    """What a cell of `model` costs in a batch relative to live (the catalog's batch price over its live
    price) when its provider has a batch API; 1.0 otherwise."""
    ref = ModelRef.parse(model)
    cfg = settings.providers.get(ref.provider)
    info = catalog.info(model)
    if cfg is None or batch_api_for(cfg) is None or info.batch_price is None or info.price is None:
        return 1.0
    from app.domain import Usage

    probe = Usage(input=1_000_000, output=1_000_000)
    live, batch = info.price.cost(probe), info.batch_price.cost(probe)
    return batch / live if live and batch is not None else 1.0
