"""The lane runner: one owned asyncio task per answer being streamed (the engine's collaborator).

The engine (app/engine.py) creates the cards and edges and hands each new answer to `LaneRunner.start`;
the runner streams provider events into the node, applies the deltas once per loop pass, writes the
text to the store at most `persist_interval` seconds after it arrives (and at every status change),
retries failed final writes, and announces every change through the engine's event stream.
One lane's failure never touches another: each task catches everything and ends its own node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Protocol

from app.attachments import AttachmentError
from app.context import BuiltContext
from app.domain import ErrorInfo, ModelRef, Node, NodeStatus, Params, RetryState, RunState, Timing, Usage
from app.events import Finish, ReasoningDelta, ResponseMeta, Retrying, StreamError, TextDelta
from app.events import Usage as UsageEvent
from app.graph_events import END_FIELDS, GraphEvent, NodeChanged
from app.keys import plain_http_warning
from app.logs import redact
from app.providers.base import Provider, ProviderConfig, ProviderRequest
from app.providers.retry import stream_with_retries
from app.repository import StoreBusyError

if TYPE_CHECKING:
    import httpx

    from app.catalog import Catalog
    from app.config import Settings
    from app.planner import Planner
    from app.repository import Repository

# The lanes log under the engine's name: the log file and its readers know them by it.
log = logging.getLogger("app.engine")
_DELTAS = (TextDelta, ReasoningDelta)  # isinstance() with a tuple: cheaper per token than with a union

ProviderFactory = Callable[[ProviderConfig, "httpx.AsyncClient"], Provider]


HEARTBEAT_S = 2.0
BUSY_RETRY_S = 0.25
"""After a streaming write found the store locked by another process, no streaming write is tried for
this long (each try may wait the store's busy timeout: ~50 ms in the GUI); the text stays in memory."""


@dataclass(slots=True)
class Run:
    node: Node  # the response (or synthesis) node being streamed
    prompt: Node | None
    context: BuiltContext
    params: Params
    dropped_params: list[str] = field(default_factory=list)
    task: asyncio.Task[None] | None = None
    last_persist: float = 0.0
    flush_handle: asyncio.TimerHandle | None = None
    first_token_at: float | None = None
    # time.monotonic() when the request now running was sent: the first one, or the last retry after its
    # backoff sleep ended (never a planned time in the future, so a Stop during the wait or a timer that
    # wakes early cannot make a duration negative). TTFT and duration are measured from it.
    request_started: float = 0.0
    # Deltas received in this pass of the loop, applied to the node (and announced) once per pass.
    pending_text: list[str] = field(default_factory=list)
    pending_reasoning: list[str] = field(default_factory=list)
    apply_handle: asyncio.Handle | None = None
    retries: int = 0  # retries made before the first token
    request_id: str | None = None
    http_status: int | None = None

    def __repr__(self) -> str:
        return f"<Run {self.node.model} {self.node.status.value}>"

    @property
    def done(self) -> bool:
        return self.task is None or self.task.done()



def _now_dt() -> datetime:
    return datetime.now(UTC)


_SURROGATES = re.compile("[\ud800-\udfff]")


def clean_text(text: str) -> str:
    """`text` with every unpaired UTF-16 surrogate (from undecodable input read with
    `surrogateescape`, or a JSON `\\ud800` escape) replaced by U+FFFD, and adjacent surrogate pairs
    joined into the character they encode. Such strings cannot be encoded as UTF-8: SQLite and httpx
    would raise on them."""
    if text.isascii() or _SURROGATES.search(text) is None:
        return text
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


def sendable(text: str) -> str:
    """What may go to a provider: `clean_text` without NUL characters (providers reject them)."""
    return clean_text(text).replace("\x00", "")


_CONTEXT_WORDS = ("context length", "context_length", "context window", "prompt is too long",
                  "maximum context", "too many tokens", "too long")
_CREDIT_WORDS = ("credit", "balance", "quota", "billing", "payment")


def advise(error: ErrorInfo, provider_id: str, settings: Settings, *, has_text: bool = False,
           retries: int = 0) -> str:
    """The error's message followed by what the user can do about it, in one line: what happened,
    then " — " and the next step (the key variable, the base URL setting, Retry, ...)."""
    name = settings.display_names.get(provider_id, provider_id)
    base = settings.base_url_hint(provider_id)
    low = error.message.lower()
    kind, status = error.kind, error.status
    tip = ""
    if kind == "auth":
        tip = f"check the key: {settings.key_hint(provider_id)}"
        if status == 403:
            tip = f"the key may not have access to this model (or from this region); {tip}"
    elif kind == "rate_limit":
        tip = f"{name} is rate-limiting this key: wait a minute, then Retry"
    elif kind == "overloaded":
        tip = f"{name} is overloaded: Retry in a moment, or re-run on another model"
    elif kind == "server":
        if status in (502, 503, 504):
            tip = f"{name} (or a proxy in between) is unavailable right now: Retry later"
        else:
            tip = f"{name} had an internal error: Retry later"
    elif kind == "bad_request":
        if status == 402 or any(w in low for w in _CREDIT_WORDS):
            tip = f"the {name} account is out of credit: add credit on {name}'s billing page, then Retry"
        elif status == 404 or "not found" in low or "does not exist" in low:
            tip = (f"check the model id (`triptych models {provider_id} --refresh` lists what the key can use) "
                   f"and the base URL ({base})")
        elif status == 413 or "too large" in low:
            tip = "the request is too large: shorten the prompt or continue from fewer cards"
        elif any(w in low for w in _CONTEXT_WORDS):
            tip = "the conversation is longer than the model's context window: shorten the prompt or continue " \
                  "from fewer cards"
        elif "base url" in low:
            tip = f"fix the base URL ({base})"
        else:
            tip = "the provider rejected the request: check the parameters (`triptych ask --dry-run` shows " \
                  "what would be sent)"
    elif kind == "network":
        if "connection refused" in low:
            tip = f"is the server running? Check the base URL ({base})"
        elif "resolve host" in low:
            tip = f"check the host name in the base URL ({base}) and your internet connection"
        elif "tls" in low or "ssl" in low:
            tip = f"the server may not speak HTTPS at this address: check the base URL's scheme ({base})"
        else:
            tip = f"check your internet connection and the base URL ({base}), then Retry"
    elif kind == "timeout":
        if low.startswith("no connection"):
            tip = f"check your network, proxy or firewall, and the base URL ({base})"
        elif low.startswith(("no data", "no response")):
            tip = (f"{name} stopped sending: Retry (the limit is TRIPTYCH_IDLE_TIMEOUT or network.idle_timeout "
                   "in config.toml)")
        else:
            tip = "Retry"
    elif kind == "bad_stream":
        if "html page" in low or "invalid json" in low or "json document" in low:
            tip = f"a proxy or a wrong base URL may be in between: check {base}"
        elif has_text:
            tip = "the text so far is kept: Retry for a full answer"
        else:
            tip = "Retry"
    if tip and retries:
        tip += f" (already retried {retries}×)"
    return f"{error.message} — {tip}" if tip else error.message


def store_error_text(exc: BaseException) -> str:
    """A short, user-readable description of a failed store write (never the SQL or its parameters,
    which would carry the answer text into logs and cards)."""
    orig = getattr(exc, "orig", None)
    text = str(orig if isinstance(orig, BaseException) else exc) or type(exc).__name__
    return " ".join(text.split())[:200]



class LaneHost(Protocol):
    """What a lane reads from its engine, read at each use (tests and the CLI change `max_retries`)."""

    repo: Repository
    settings: Settings
    catalog: Catalog
    max_retries: int
    persist_interval: float
    provider_factory: ProviderFactory
    before_final_save: list[Callable[[Node], None]]

    @property
    def client(self) -> httpx.AsyncClient: ...

    @property
    def planner(self) -> Planner: ...


class LaneRunner:
    """The running lanes of one engine: their tasks, the owner heartbeat, the streaming writes and the
    retry of failed final writes. `emit` announces a graph event (the engine's subscribers)."""

    def __init__(self, host: LaneHost, emit: Callable[[GraphEvent], None]) -> None:
        self.host = host
        self._emit = emit
        self.runs: dict[str, Run] = {}
        self._local_locks: dict[str, asyncio.Semaphore] = {}
        self._heartbeat_task: asyncio.Task[None] | None = None
        self.unsaved: dict[str, Node] = {}  # ended nodes whose final write failed (disk full, locked)
        self._store_busy_until = 0.0  # monotonic: no streaming write is tried before (see _persist)
        self._save_task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<LaneRunner running={len(self.runs)}>"

    def _changed(self, node: Node, *fields: str) -> None:
        self._emit(NodeChanged(node, frozenset(fields)))

    async def aclose(self) -> None:
        """Wait for the lanes, stop the heartbeat and the save retries, and try the unsaved writes once more."""
        await self.wait()
        if self._heartbeat_task is not None:
            self._heartbeat_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._heartbeat_task
            self._heartbeat_task = None
        if self._save_task is not None:
            self._save_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._save_task
            self._save_task = None
        self._retry_unsaved()  # one last attempt

    def cancel(self, node_id: str) -> bool:
        run = self.runs.get(node_id)
        if run is None or run.task is None or run.task.done():
            return False
        run.task.cancel()
        return True

    def cancel_all(self) -> None:
        for node_id in list(self.runs):
            self.cancel(node_id)

    def is_running(self, node_id: str) -> bool:
        run = self.runs.get(node_id)
        return run is not None and not run.done

    @property
    def running_count(self) -> int:
        return sum(1 for r in self.runs.values() if not r.done)

    async def wait(self, runs: Sequence[Run] | None = None) -> None:
        tasks = [r.task for r in (runs if runs is not None else list(self.runs.values())) if r.task is not None]
        if tasks:
            await asyncio.gather(*tasks, return_exceptions=True)

    # ------------------------------------------------------------------ streaming
    def start(self, run: Run) -> None:
        run.task = asyncio.get_running_loop().create_task(self._stream(run), name=f"lane {run.node.model}")
        run.task.add_done_callback(lambda task: self._after_lane(run, task))
        self.runs[run.node.id] = run
        if self._heartbeat_task is None or self._heartbeat_task.done():
            self._heartbeat_task = asyncio.get_running_loop().create_task(self._heartbeat(), name="heartbeat")

    def _after_lane(self, run: Run, task: asyncio.Task[None]) -> None:
        """A lane stopped before its first step (Stop clicked as it was sent) never entered `_stream`, so
        nothing ended it: it would stay "queued" for good. End it here as stopped, like any other stop."""
        if task.cancelled() and self.runs.get(run.node.id) is run:
            run.node.status = NodeStatus.STOPPED
            self._finalise(run, _now_dt())

    async def _heartbeat(self) -> None:
        """Refresh the owner heartbeat of live nodes so other processes do not think they were cut."""
        while self.running_count:
            await asyncio.sleep(HEARTBEAT_S)
            for run in list(self.runs.values()):
                if not run.done and run.node.owner is not None:
                    run.node.owner.heartbeat = time.time()
                    self._persist(run)

    @staticmethod
    def _state(node: Node) -> RunState:
        if node.run is None:
            node.run = RunState()
        return node.run

    def _set_phase(self, run: Run, phase: str) -> None:
        state = self._state(run.node)
        if state.phase != phase:
            state.phase = phase
            self._changed(run.node, "run")

    def _apply_deltas(self, run: Run) -> None:
        """Append the deltas received so far to the node and notify once ("reasoning", "text").

        A read from the socket brings many deltas at high token rates (20 a read at 2000 tok/s):
        appending each to a long answer copies the whole text every time, and each notification
        costs the GUI a signal. Deltas are applied at the end of the loop pass that received them
        (call_soon), and before any other event, persist or end of the lane, so no reader ever sees
        them out of order or misses them."""
        if run.apply_handle is not None:
            run.apply_handle.cancel()
            run.apply_handle = None
        node = run.node
        changed: list[str] = []
        if run.pending_reasoning:
            node.reasoning += clean_text("".join(run.pending_reasoning))
            run.pending_reasoning.clear()
            changed.append("reasoning")
        if run.pending_text:
            node.text += clean_text("".join(run.pending_text))
            run.pending_text.clear()
            changed.append("text")
        if changed:
            self._changed(node, *changed)

    def _schedule_persist(self, run: Run) -> None:
        if run.flush_handle is not None:
            return
        delay = max(0.0, run.last_persist + self.host.persist_interval - time.monotonic())
        run.flush_handle = asyncio.get_running_loop().call_later(delay, self._flush, run)

    def _flush(self, run: Run) -> None:
        run.flush_handle = None
        self._persist(run)

    def _store_busy(self, run: Run, retry_in: float) -> None:
        """The store is locked by another process: say so on the card and write again in `retry_in` s
        (also when no new text arrives by then); the text stays in memory meanwhile."""
        node = run.node
        state = self._state(node)
        if state.persist_error is None:
            log.info("%s not saved yet: another program holds the store's write lock; retrying", node.id)
            state.persist_error = "not saved yet: another program is writing to the store; retrying"
            self._changed(node, "run")
        if run.flush_handle is None and not run.done:
            run.flush_handle = asyncio.get_running_loop().call_later(retry_in, self._flush, run)

    def _persist(self, run: Run) -> None:
        self._apply_deltas(run)
        node = run.node
        busy_for = self._store_busy_until - time.monotonic()
        if busy_for > 0:  # another process holds the write lock: try again then (the text is in memory)
            self._store_busy(run, busy_for)
            return
        run.last_persist = time.monotonic()
        if node.owner is not None:
            node.owner.heartbeat = time.time()
        state = self._state(node)
        try:
            self.host.repo.update_stream(node)
        except StoreBusyError:  # the store's busy timeout passed (the GUI's is ~50 ms): retry later
            self._store_busy_until = time.monotonic() + BUSY_RETRY_S
            self._store_busy(run, BUSY_RETRY_S)
            return
        except Exception as exc:  # disk full, locked DB: keep streaming in memory, say so on the card
            if state.persist_error is None:  # log the first failure, not every 250 ms
                log.error("could not save %s (still streaming, kept in memory): %s", node.id, store_error_text(exc))
            state.persist_error = f"not saved yet: {store_error_text(exc)}"
            self._changed(node, "run")
            return
        if state.persist_error is not None:
            state.persist_error = None
            log.info("saving %s works again", node.id)
            self._changed(node, "run")

    def _save_final(self, node: Node) -> bool:
        """Write an ended node; on failure keep it in `unsaved` (retried with backoff) and say so on the
        card (`node.run.persist_error`, never stored)."""
        state = self._state(node)
        problem, state.persist_error = state.persist_error, None
        try:
            self.host.repo.update_node(node)
        except Exception as exc:
            if problem is None:
                log.error("could not save the final state of %s: %s", node.id, store_error_text(exc))
            state.persist_error = f"not saved: {store_error_text(exc)} (retrying)"
            self.unsaved[node.id] = node
            return False
        if self.unsaved.pop(node.id, None) is not None:
            log.info("saved %s after %s", node.id, problem)
        return True

    def _retry_unsaved(self) -> None:
        for node in list(self.unsaved.values()):
            if self._save_final(node):
                self._changed(node, "run")

    async def _retry_saves(self) -> None:
        delay = 0.25
        while self.unsaved:
            await asyncio.sleep(delay)
            self._retry_unsaved()
            delay = min(delay * 2, 5.0)

    async def flush_saves(self, within: float) -> list[Node]:
        """Retry failed final writes for up to `within` seconds (backing off); returns the nodes that
        are still not saved (their text is only in memory)."""
        deadline = time.monotonic() + within
        delay = 0.1
        self._retry_unsaved()
        for _ in range(50):
            left = deadline - time.monotonic()
            if not self.unsaved or left <= 0:
                break
            await asyncio.sleep(min(delay, left))
            self._retry_unsaved()
            delay = min(delay * 2, 2.0)
        return list(self.unsaved.values())

    async def _stream(self, run: Run) -> None:
        node = run.node
        ref = ModelRef.parse(node.model or "")
        started_wall = _now_dt()
        run.request_started = time.monotonic()
        try:
            if self.host.settings.keyring_pending:  # sent before the window's keyring read answered
                from app.config import ensure_keyring_keys

                ensure_keyring_keys(self.host.settings)
            cfg = self.host.settings.providers.get(ref.provider)
            if cfg is None:
                raise _Fail("bad_request", f"unknown provider {ref.provider!r}")
            try:  # files the model cannot read, or over its provider's limits: this lane only, unsent
                messages = self.host.planner.prepare_messages(str(ref), run.context.messages)
            except AttachmentError as exc:
                raise _Fail("unsupported_input", str(exc)) from None
            if not cfg.local and not cfg.api_key:
                # nothing is sent: the card says the key is missing, not that the provider refused it
                node.run_record = replace(node.run_record, no_key=True)
                name = self.host.settings.display_names.get(ref.provider, ref.provider)
                raise _Fail("auth", f"No API key for {name}: {self.host.settings.key_hint(ref.provider)}.")
            insecure = plain_http_warning(cfg, self.host.settings.display_names.get(ref.provider))
            if insecure:  # sent all the same (the user chose the URL); the card and the log say so
                node.run_record = replace(node.run_record, insecure=insecure)
                log.warning("%s %s: %s", node.id, node.model, insecure)
            provider = self.host.provider_factory(cfg, self.host.client)
            info = self.host.catalog.info(str(ref))
            system = sendable(run.context.system) if run.context.system is not None else None
            request = ProviderRequest(
                model=ref.model,
                messages=[replace(m, content=sendable(m.content)) for m in messages],
                params=Params(**{**run.params.to_dict(), "system": system}),
                accepts=info.accepts,
            )
            lock = self._local_locks.setdefault(cfg.id, asyncio.Semaphore(1)) if cfg.local else None
            if lock is not None and lock.locked():
                self._set_phase(run, "queued")
            async with lock if lock is not None else contextlib.nullcontext():
                self._set_phase(run, "connecting")

                def attempt_started() -> None:
                    run.request_started = time.monotonic()

                async for ev in stream_with_retries(provider, request, self.host.max_retries,
                                                    on_attempt=attempt_started):
                    if isinstance(ev, _DELTAS):
                        if run.first_token_at is None:
                            run.first_token_at = time.monotonic()
                            node.timing.ttft_ms = round((run.first_token_at - run.request_started) * 1000)
                            node.status = NodeStatus.STREAMING
                            self._state(node).retry = None
                            self._changed(node, "status", "timing", "run")
                            self._persist(run)
                        # per token: the checks inlined, the calls only when something is to do
                        phase = "streaming" if isinstance(ev, TextDelta) else "thinking"
                        (run.pending_text if phase == "streaming" else run.pending_reasoning).append(ev.text)
                        if node.run is None or node.run.phase != phase:
                            self._set_phase(run, phase)
                        if run.apply_handle is None:
                            run.apply_handle = asyncio.get_running_loop().call_soon(self._apply_deltas, run)
                        if run.flush_handle is None:
                            self._schedule_persist(run)
                        continue
                    self._apply_deltas(run)  # text first, then whatever this event says
                    if isinstance(ev, UsageEvent):
                        _merge_usage(node.usage, ev)
                        if ev.cost_usd is not None:
                            node.reported_cost_usd = ev.cost_usd
                        if node.model:  # costed now: an answer cut or interrupted later keeps it
                            node.cost_usd = self.host.catalog.cost(node.model, node.usage, started_wall)
                        self._changed(node, "usage", "reported_cost_usd", "cost_usd")
                    elif isinstance(ev, Finish):
                        node.finish = ev.reason
                        if ev.reason == "error":
                            node.status = NodeStatus.ERROR
                            node.error = node.error or ErrorInfo("server", "the provider ended the answer with an error")
                        else:
                            node.status = NodeStatus.DONE
                    elif isinstance(ev, StreamError):
                        node.status = NodeStatus.ERROR
                        node.finish = "error"
                        error = ErrorInfo(ev.kind, redact(clean_text(ev.message)), ev.status)
                        error.message = advise(error, ref.provider, self.host.settings, has_text=bool(node.text),
                                               retries=run.retries)
                        node.error = error
                    elif isinstance(ev, Retrying):
                        run.retries = ev.attempt
                        log.info("%s %s: %s (HTTP %s); retry %d of %d in %.1f s", node.id, node.model, ev.error.kind,
                                 ev.error.status, ev.attempt, ev.max_retries, ev.delay)
                        self._state(node).retry = RetryState(
                            attempt=ev.attempt, max=ev.max_retries, delay=ev.delay, at=time.time() + ev.delay,
                            error=redact(ev.error.message))
                        self._changed(node, "run")
                    elif isinstance(ev, ResponseMeta):
                        run.request_id, run.http_status = ev.request_id, ev.status
                        if ev.request_id:
                            node.run_record = replace(node.run_record, request_id=ev.request_id)
                        log.info("%s %s: HTTP %s request-id %s after %d ms", node.id, node.model, ev.status,
                                 ev.request_id or "(none)", round((time.monotonic() - run.request_started) * 1000))
            if node.status in (NodeStatus.PENDING, NodeStatus.STREAMING):
                # The provider contract promises a terminal event; never call a silent end a success.
                node.status = NodeStatus.ERROR
                node.finish = "error"
                error = ErrorInfo("bad_stream", "connection closed mid-answer")
                error.message = advise(error, ref.provider, self.host.settings, has_text=bool(node.text))
                node.error = error
        except _Fail as fail:
            node.status = NodeStatus.ERROR
            node.finish = "error"
            node.error = ErrorInfo(fail.kind, fail.message, None)
        except asyncio.CancelledError:
            node.status = NodeStatus.STOPPED
            node.finish = node.finish if node.finish and node.finish != "error" else None
            self._finalise(run, started_wall)
            raise
        except Exception as exc:  # a bug must end this lane only, with its text kept
            log.exception("lane %s failed", node.model)
            node.status = NodeStatus.ERROR
            node.finish = "error"
            node.error = ErrorInfo("bad_stream", redact(f"internal error: {type(exc).__name__}: {exc}"))
        self._finalise(run, started_wall)

    def _finalise(self, run: Run, started_wall: datetime) -> None:
        self._apply_deltas(run)
        node = run.node
        if run.flush_handle is not None:
            run.flush_handle.cancel()
            run.flush_handle = None
        end = time.monotonic()
        # max(): a guard only; request_started is never in the future (see Run.request_started)
        duration_ms = max(0, round((end - run.request_started) * 1000))
        if run.first_token_at is not None and node.timing.ttft_ms is not None:
            # duration − TTFT is the generation span (end − first token) to the millisecond, not two
            # roundings apart: tokens/s is computed from these two (app.present.metrics)
            duration_ms = node.timing.ttft_ms + max(0, round((end - run.first_token_at) * 1000))
        node.timing = Timing(ttft_ms=node.timing.ttft_ms, duration_ms=duration_ms)
        state = self._state(node)
        state.phase = state.retry = None
        node.run_record = replace(node.run_record, started_at=started_wall.timestamp())
        if node.model:
            node.cost_usd = self.host.catalog.cost(node.model, node.usage, started_wall)
        node.owner = None
        err = node.error
        log.info("%s %s: %s finish=%s error=%s HTTP %s request-id %s ttft_ms=%s duration_ms=%s in=%s out=%s "
                 "retries=%d chars=%d", node.id, node.model, node.status.value, node.finish,
                 err.kind if err else None, err.status if err and err.status else run.http_status,
                 run.request_id or "(none)", node.timing.ttft_ms, node.timing.duration_ms, node.usage.input,
                 node.usage.output, run.retries, len(node.text))
        for hook in list(self.host.before_final_save):
            try:
                hook(node)
            except Exception:  # a hook's bug must not cost the answer its final write
                log.exception("before_final_save hook failed for %s", node.id)
        if not self._save_final(node) and (self._save_task is None or self._save_task.done()):
            with contextlib.suppress(RuntimeError):  # no running loop: aclose() makes the last attempt
                self._save_task = asyncio.get_running_loop().create_task(self._retry_saves(), name="retry saves")
        self.runs.pop(node.id, None)
        self._emit(NodeChanged(node, END_FIELDS))



class _Fail(Exception):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind
        self.message = message


def _merge_usage(usage: Usage, ev: UsageEvent) -> None:
    for name in ("input", "cached_input", "cache_write", "output", "reasoning"):
        value = getattr(ev, name)
        if value is not None:
            setattr(usage, name, value)

