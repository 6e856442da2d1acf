"""The engine: fan-out of one prompt to several models, one owned task per lane.

Async contract: every public method runs on the asyncio event loop thread (qasync's in the GUI).
`ask`, `synthesize` and `rerun` create nodes and edges in the store synchronously, start one task per
response node and return at once; the tasks stream provider events into the nodes.

The engine is the one writer of a session's graph in this process and its event source: every write
it makes is announced to its subscribers (`subscribe`) as a typed event of app/graph_events.py —
`NodesAdded(nodes, edges)` for created cards, `NodeChanged(node, fields)` for streamed text (once per
loop pass, for all the deltas that pass received), usage, status and the lane's `RunState`,
`NodesRemoved(ids)` and `SessionChanged`. Subscribers are called on the loop thread and must be cheap
(the GUI throttles its repaints). Streamed text reaches the store
at most `persist_interval` seconds after it arrives and at every status change; never per token.
One lane's failure never touches another: each task catches everything and ends its own node.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING

from app.attachments import Attachment, AttachmentError
from app.catalog import Catalog, load_catalog
from app.config import Settings
from app.context import BuiltContext, build_context, build_synthesis_context, primary_parent
from app.domain import (
    Edge,
    EdgeRole,
    ErrorInfo,
    Graph,
    ModelRef,
    Node,
    NodeKind,
    NodeStatus,
    Owner,
    Params,
    RetryState,
    RunState,
    SendMode,
    Session,
    Timing,
    Usage,
)
from app.events import Finish, ReasoningDelta, ResponseMeta, Retrying, StreamError, TextDelta
from app.events import Usage as UsageEvent
from app.graph_events import (
    END_FIELDS,
    GraphEvent,
    GraphListener,
    NodeChanged,
    NodesAdded,
    NodesRemoved,
    SessionChanged,
    legacy_changes,
)
from app.keys import plain_http_warning
from app.layout import place_sibling, place_synthesis, place_turn
from app.logs import redact
from app.planner import ASSUMED_OUTPUT_TOKENS as ASSUMED_OUTPUT_TOKENS  # noqa: PLC0414 (re-exported)
from app.planner import EngineError as EngineError  # noqa: PLC0414
from app.planner import PlannedCall as PlannedCall  # noqa: PLC0414
from app.planner import Planner, link_prompt
from app.planner import Target as Target  # noqa: PLC0414
from app.providers.base import Provider, ProviderConfig, ProviderRequest, make_provider
from app.providers.retry import stream_with_retries
from app.repository import Repository, StoreBusyError

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

NodeListener = Callable[[Node, str], None]
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


@dataclass(slots=True)
class AskResult:
    prompts: list[Node]
    runs: list[Run]


@dataclass(slots=True)
class PathRun:
    """A lane replayed on another model (`Engine.rerun_path`): `first` is the re-run of the path's first
    answer; `task` sends each later prompt of the path in turn, as a follow-up to the new model's own
    previous answer, and returns every answer it created (it stops at the first turn that does not end
    `done`: that card says why)."""

    turns: int  # how many prompt/answer turns the path has
    first: Run
    task: asyncio.Task[list[Node]]


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


def lane_path(graph: Graph, answer_id: str) -> list[tuple[Node, Node]]:
    """The turns (prompt, answer) of the lane that ends at answer `answer_id`, first turn first: up
    from the answer to its prompt, from the prompt to the answer it follows, and so on while that is a
    model's answer to a prompt (a synthesis, note or root ends the walk)."""
    turns: list[tuple[Node, Node]] = []
    seen: set[str] = set()
    node = graph.nodes.get(answer_id)
    while node is not None and node.kind == NodeKind.RESPONSE and node.id not in seen:
        seen.add(node.id)
        prompt = primary_parent(graph, node)
        if prompt is None or prompt.kind != NodeKind.PROMPT:
            break
        turns.append((prompt, node))
        node = primary_parent(graph, prompt)
    turns.reverse()
    return turns


class Engine:
    def __init__(
        self,
        repo: Repository,
        settings: Settings,
        *,
        catalog: Catalog | None = None,
        client: httpx.AsyncClient | None = None,
        max_retries: int = 2,
        # DESIGN promises text on disk ≤ 250 ms after it arrives; the write and a busy loop come on top
        # of the interval (0.25 s measured 250.7 ms at a SIGKILL, bench/bench_crash_loss.py).
        persist_interval: float = 0.2,
        provider_factory: ProviderFactory | None = None,
    ) -> None:
        self.repo = repo
        self.settings = settings
        self.catalog = catalog or load_catalog(settings.data_dir)
        self._client = client
        self._own_client = client is None
        self.max_retries = max_retries
        self.persist_interval = persist_interval
        self._factory = provider_factory or make_provider
        self._listeners: list[GraphListener] = []
        self._legacy: dict[NodeListener, GraphListener] = {}
        self.runs: dict[str, Run] = {}
        self._local_locks: dict[str, asyncio.Semaphore] = {}
        self._heartbeat_task: asyncio.Task[None] | None = None
        self.unsaved: dict[str, Node] = {}  # ended nodes whose final write failed (disk full, locked)
        self._store_busy_until = 0.0  # monotonic: no streaming write is tried before (see _persist)
        self._save_task: asyncio.Task[None] | None = None
        self._path_tasks: set[asyncio.Task[list[Node]]] = set()

    def __repr__(self) -> str:
        return f"<Engine running={len(self.runs)}>"

    # ------------------------------------------------------------------ events
    def subscribe(self, fn: GraphListener) -> None:
        """Call `fn(event)` for every graph event from now on (loop thread; keep it cheap)."""
        self._listeners.append(fn)

    def unsubscribe(self, fn: GraphListener) -> None:
        with contextlib.suppress(ValueError):
            self._listeners.remove(fn)

    def add_listener(self, fn: NodeListener) -> None:
        """The older per-node form: `fn(node, change)` (see graph_events.legacy_changes)."""

        def adapter(event: GraphEvent) -> None:
            for node, change in legacy_changes(event):
                fn(node, change)

        self._legacy[fn] = adapter
        self.subscribe(adapter)

    def remove_listener(self, fn: NodeListener) -> None:
        adapter = self._legacy.pop(fn, None)
        if adapter is not None:
            self.unsubscribe(adapter)

    def _emit(self, event: GraphEvent) -> None:
        for fn in list(self._listeners):
            try:
                fn(event)
            except Exception:
                log.exception("graph listener failed on %r", event)

    def _changed(self, node: Node, *fields: str) -> None:
        self._emit(NodeChanged(node, frozenset(fields)))

    # ------------------------------------------------------------------ graph edits (the one writer)
    def add_nodes(self, session_id: str, nodes: Sequence[Node], edges: Sequence[Edge]) -> None:
        """Store cards and edges (a restore, an import into the open session) and announce them."""
        self.repo.add_nodes(list(nodes), list(edges))
        self._emit(NodesAdded(session_id, tuple(nodes), tuple(edges)))

    def delete_nodes(self, node_ids: Sequence[str]) -> tuple[list[Node], list[Edge]]:
        """Stop the lanes of these cards, delete them and their edges; returns what was deleted (as
        stored) for an undo."""
        for node_id in node_ids:
            self.cancel(node_id)
        nodes, edges = self.repo.delete_nodes(list(node_ids))
        if nodes:
            self._emit(NodesRemoved(nodes[0].session_id, tuple(n.id for n in nodes)))
        return list(nodes), list(edges)

    def move_nodes(self, positions: dict[str, tuple[float, float]], nodes: Sequence[Node] = ()) -> None:
        """Store new card positions; `nodes`: the caller's nodes already at them (announced)."""
        self.repo.move_nodes(positions)
        for node in nodes:
            self._changed(node, "x", "y")

    def save_nodes(self, nodes: Sequence[Node], fields: frozenset[str]) -> None:
        """Store edited nodes (collapsed, colour, title, ...); a streaming one is written by its lane."""
        for node in nodes:
            if not self.is_running(node.id):
                self.repo.update_node(node)
            self._emit(NodeChanged(node, fields))

    def create_session(self, title: str = "Untitled") -> Session:
        session = self.repo.create_session(Session(title=title))
        self._emit(SessionChanged(session.id, title=session.title))
        return session

    def duplicate_session(self, session_id: str, title: str) -> Session:
        copy_ = self.repo.duplicate_session(session_id, title)
        self._emit(SessionChanged(copy_.id, title=copy_.title))
        return copy_

    def rename_session(self, session_id: str, title: str) -> Session | None:
        session = self.repo.get_session(session_id)
        if session is None:
            return None
        session.title = title
        self.repo.update_session(session)
        self._emit(SessionChanged(session_id, title=title))
        return session

    def delete_session(self, session_id: str) -> None:
        """Stop the session's lanes and move it to the trash."""
        for node_id, run in list(self.runs.items()):
            if run.node.session_id == session_id:
                self.cancel(node_id)
        self.repo.delete_session(session_id)
        self._emit(SessionChanged(session_id, deleted=True))

    def restore_session(self, session_id: str) -> None:
        self.repo.restore_session(session_id)
        self._emit(SessionChanged(session_id, deleted=False))

    # ------------------------------------------------------------------ client
    @property
    def client(self) -> httpx.AsyncClient:
        if self._client is None:
            self._client = make_client(self.settings)
        return self._client

    async def aclose(self) -> None:
        self.cancel_all()
        if self._path_tasks:
            await asyncio.gather(*self._path_tasks, return_exceptions=True)
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
        if self._own_client and self._client is not None:
            await self._client.aclose()
            self._client = None

    # ------------------------------------------------------------------ planning (app/planner.py)
    @property
    def planner(self) -> Planner:
        return Planner(self.repo, self.settings, self.catalog)

    def plan(self, session_id: str | None, text: str, targets: Sequence[Target], *, parents: Sequence[str] = (),
             mode: SendMode = SendMode.LANES, system: str | None = None,
             graph: Graph | None = None, attachments: Sequence[Attachment] = ()) -> list[PlannedCall]:
        """The context lens: see Planner.plan (nothing is sent or stored)."""
        return self.planner.plan(session_id, text, targets, parents=parents, mode=mode, system=system, graph=graph,
                                 attachments=attachments)

    def inputs_for(self, model: str) -> frozenset[str]:
        """What `model` reads (text, image, pdf): see Planner.inputs_for."""
        return self.planner.inputs_for(model)

    def plan_synthesis(self, session_id: str, source_ids: Sequence[str], model: str, kind: str = "merge",
                       instruction: str | None = None) -> PlannedCall:
        return self.planner.plan_synthesis(session_id, source_ids, model, kind, instruction)

    # ------------------------------------------------------------------ operations
    def ask(
        self,
        session_id: str,
        text: str,
        targets: Sequence[Target],
        *,
        parents: Sequence[str] = (),
        mode: SendMode = SendMode.LANES,
        system: str | None = None,
        graph: Graph | None = None,
        beside: str | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> AskResult:
        """Create the prompt card(s) and one response card per target, and start streaming.

        The prompt is stored and sent as `sendable(text)`: unpaired surrogates become U+FFFD and NUL
        characters are removed, so what the card shows is what the models received. `graph`: the
        session as the caller holds it, kept current (the window's; it is not changed: the new cards
        and edges go into a copy), else it is read from the store (~70 ms for 10,000 cards). `beside`:
        the prompt this one branches (a new prompt without parents goes next to it, not below all).
        `attachments`: files of the prompt (app.attachments.load_attachment), stored with it and sent
        in this lane's follow-ups too; a lane whose model cannot read one fails alone, before sending."""
        text = sendable(text or "")
        system = sendable(system) if system is not None else None
        if not text.strip() and not attachments:
            raise EngineError("the prompt is empty: type a question first")
        if os.environ.get("TRIPTYCH_LOG_PROMPTS", "").strip() in ("1", "true", "yes"):
            log.info("prompt (TRIPTYCH_LOG_PROMPTS is set): %r", text[:2000])
        if graph is None:
            graph = self.repo.load_graph(session_id)
        else:
            graph = Graph(graph.session, dict(graph.nodes), list(graph.edges))
        plan = self.planner.targets_for(graph, text, targets, parents, mode)
        for _, tgts in plan:
            self.planner.check_targets(tgts)
        new_nodes: list[Node] = []
        new_edges: list[Edge] = []
        pending: list[tuple[Node, Node, Target]] = []
        prompts: list[Node] = []
        for parent_ids, tgts in plan:
            prompt = Node(session_id, NodeKind.PROMPT, text, params=Params(system=system),
                          attachments=list(attachments))
            graph.add(prompt)
            new_edges += link_prompt(graph, prompt, parent_ids)
            responses = []
            for t in tgts:
                resp = self._new_answer(session_id, NodeKind.RESPONSE, t)
                graph.add(resp)
                new_edges.append(graph.link(prompt.id, resp.id, EdgeRole.REPLY))
                responses.append(resp)
                pending.append((prompt, resp, t))
            place_turn(graph, prompt, responses, parent=graph.nodes[parent_ids[0]] if parent_ids else None,
                       beside=graph.nodes.get(beside) if beside and not parent_ids else None,
                       also=[graph.nodes[p] for p in parent_ids[1:]])
            prompts.append(prompt)
            new_nodes += [prompt, *responses]
        runs = []
        display = self.catalog.display_names()
        for prompt, resp, t in pending:
            built = build_context(graph, prompt.id, t.model, system=t.params.system or system, display=display)
            runs.append(self._prepare_run(resp, prompt, built, t))
        self.repo.add_nodes(new_nodes, new_edges)
        self._emit(NodesAdded(session_id, tuple(new_nodes), tuple(new_edges)))
        for run in runs:
            self._start(run)
        return AskResult(prompts, runs)

    def _new_answer(self, session_id: str, kind: NodeKind, target: Target, meta: dict | None = None) -> Node:
        ref = ModelRef.parse(target.model)
        canonical = self.catalog.canonical(str(ref))
        filtered = self.catalog.filter_params(canonical, target.params)
        node = Node(session_id, kind, "", model=canonical, params=filtered.params, status=NodeStatus.PENDING,
                    owner=Owner.here(), meta=dict(meta or {}), run=RunState(phase="queued"))
        if filtered.dropped:
            node.meta["dropped_params"] = filtered.dropped
        return node

    def _prepare_run(self, node: Node, prompt: Node | None, built: BuiltContext, target: Target) -> Run:
        return Run(node=node, prompt=prompt, context=built, params=node.params,
                   dropped_params=list(node.meta.get("dropped_params", [])))

    def synthesize(
        self,
        session_id: str,
        source_ids: Sequence[str],
        model: str,
        kind: str = "merge",
        instruction: str | None = None,
        params: Params | None = None,
    ) -> Run:
        """A synthesis card over several answers (merge, judge, compare or a custom instruction)."""
        graph = self.repo.load_graph(session_id)
        sources = [graph.nodes[s] for s in source_ids if s in graph.nodes]
        if len(sources) < 1:
            raise EngineError("select at least one answer to synthesize")
        target = Target(model, params or Params())
        self.planner.check_targets([target])
        built = build_synthesis_context(graph, [s.id for s in sources], model, kind, instruction,
                                        display=self.catalog.display_names())
        node = self._new_answer(session_id, NodeKind.SYNTHESIS, target,
                                {"instruction_kind": kind, "instruction": instruction})
        graph.add(node)
        edges = [graph.link(s.id, node.id, EdgeRole.SOURCE) for s in sources]
        place_synthesis(graph, node, sources)
        run = self._prepare_run(node, None, built, target)
        self.repo.add_nodes([node], edges)
        self._emit(NodesAdded(session_id, (node,), tuple(edges)))
        self._start(run)
        return run

    def rerun(self, node_id: str, model: str | None = None, params: Params | None = None) -> Run:
        """Re-run an answer (same or another model) as a sibling; the original stays as it is."""
        old = self.repo.get_node(node_id)
        if old is None or not old.is_answer:
            raise EngineError("only a model's answer can be re-run")
        graph = self.repo.load_graph(old.session_id)
        target = Target(model or old.model or "", params or Params.from_dict(old.params.to_dict()))
        if old.kind == NodeKind.SYNTHESIS:
            srcs = [e.parent_id for e in graph.parents(old.id, (EdgeRole.SOURCE,))]
            return self.synthesize(old.session_id, srcs, target.model, str(old.meta.get("instruction_kind", "merge")),
                                   old.meta.get("instruction"), target.params)
        self.planner.check_targets([target])
        prompt = primary_parent(graph, old)
        if prompt is None:
            raise EngineError("this answer has no prompt to re-run")
        node = self._new_answer(old.session_id, NodeKind.RESPONSE, target, {"rerun_of": old.id})
        graph.add(node)
        edge = graph.link(prompt.id, node.id, EdgeRole.REPLY)
        place_sibling(graph, node, prompt, old)
        built = build_context(graph, prompt.id, target.model, system=target.params.system, display=self.catalog.display_names())
        run = self._prepare_run(node, prompt, built, target)
        self.repo.add_nodes([node], [edge])
        self._emit(NodesAdded(old.session_id, (node,), (edge,)))
        self._start(run)
        return run

    def rerun_path(self, node_id: str, model: str, params: Params | None = None,
                   on_created: Callable[[list[Node]], None] | None = None) -> PathRun:
        """Replay the lane that ends at answer `node_id` on `model`: the path's first answer is re-run as a
        sibling, then each later prompt of the path is sent again, in order, as a follow-up to the new
        model's own previous answer (so it sees its own history, never the old model's). `on_created`
        gets the cards of each later turn when they are created."""
        old = self.repo.get_node(node_id)
        if old is None or old.kind != NodeKind.RESPONSE:
            raise EngineError("only a model's answer to a prompt can have its path re-run")
        graph = self.repo.load_graph(old.session_id)
        turns = lane_path(graph, old.id)
        if not turns:
            raise EngineError("this answer has no prompt to re-run")
        first_answer = turns[0][1]
        target = Target(model, params or Params.from_dict(first_answer.params.to_dict()))
        first = self.rerun(first_answer.id, model, target.params)  # checks the target before creating anything
        rest = [prompt for prompt, _ in turns[1:]]
        task = asyncio.get_running_loop().create_task(
            self._replay(old.session_id, first, rest, target, on_created), name=f"path on {model}")
        self._path_tasks.add(task)
        task.add_done_callback(self._path_tasks.discard)
        return PathRun(len(turns), first, task)

    async def _replay(self, session_id: str, run: Run, prompts: list[Node], target: Target,
                      on_created: Callable[[list[Node]], None] | None) -> list[Node]:
        answers = [run.node]
        for prompt in prompts:
            await self.wait([run])
            if run.node.status != NodeStatus.DONE:
                log.info("path re-run on %s stopped: turn %d ended %s", target.model, len(answers),
                         run.node.status.value)
                return answers
            result = self.ask(session_id, prompt.text, [target], parents=[run.node.id], mode=SendMode.LANES,
                              system=prompt.params.system, attachments=prompt.attachments)
            run = result.runs[0]
            answers.append(run.node)
            if on_created is not None:
                on_created([*result.prompts, run.node])
        await self.wait([run])
        return answers

    # ------------------------------------------------------------------ control
    def cancel(self, node_id: str) -> bool:
        run = self.runs.get(node_id)
        if run is None or run.task is None or run.task.done():
            return False
        run.task.cancel()
        return True

    def cancel_all(self) -> None:
        for task in list(self._path_tasks):
            task.cancel()  # a replay sends no further turn
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
    def _start(self, run: Run) -> None:
        run.task = asyncio.get_running_loop().create_task(self._stream(run), name=f"lane {run.node.model}")
        self.runs[run.node.id] = run
        if self._heartbeat_task is None or self._heartbeat_task.done():
            self._heartbeat_task = asyncio.get_running_loop().create_task(self._heartbeat(), name="heartbeat")

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
        delay = max(0.0, run.last_persist + self.persist_interval - time.monotonic())
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
            self.repo.update_stream(node)
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
            self.repo.update_node(node)
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
            cfg = self.settings.providers.get(ref.provider)
            if cfg is None:
                raise _Fail("bad_request", f"unknown provider {ref.provider!r}")
            try:  # files the model cannot read, or over its provider's limits: this lane only, unsent
                messages = self.planner.prepare_messages(str(ref), run.context.messages)
            except AttachmentError as exc:
                raise _Fail("unsupported_input", str(exc)) from None
            if not cfg.local and not cfg.api_key:
                # nothing is sent: the card says the key is missing, not that the provider refused it
                node.meta["no_key"] = True
                name = self.settings.display_names.get(ref.provider, ref.provider)
                raise _Fail("auth", f"No API key for {name}: {self.settings.key_hint(ref.provider)}.")
            insecure = plain_http_warning(cfg, self.settings.display_names.get(ref.provider))
            if insecure:  # sent all the same (the user chose the URL); the card and the log say so
                node.meta["insecure"] = insecure
                log.warning("%s %s: %s", node.id, node.model, insecure)
            provider = self._factory(cfg, self.client)
            info = self.catalog.info(str(ref))
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

                async for ev in stream_with_retries(provider, request, self.max_retries,
                                                    on_attempt=attempt_started):
                    if isinstance(ev, TextDelta | ReasoningDelta):
                        if run.first_token_at is None:
                            run.first_token_at = time.monotonic()
                            node.timing.ttft_ms = round((run.first_token_at - run.request_started) * 1000)
                            node.status = NodeStatus.STREAMING
                            self._state(node).retry = None
                            self._changed(node, "status", "timing", "run")
                            self._persist(run)
                        if isinstance(ev, TextDelta):
                            run.pending_text.append(ev.text)
                            self._set_phase(run, "streaming")
                        else:
                            run.pending_reasoning.append(ev.text)
                            self._set_phase(run, "thinking")
                        if run.apply_handle is None:
                            run.apply_handle = asyncio.get_running_loop().call_soon(self._apply_deltas, run)
                        self._schedule_persist(run)
                        continue
                    self._apply_deltas(run)  # text first, then whatever this event says
                    if isinstance(ev, UsageEvent):
                        _merge_usage(node.usage, ev)
                        if ev.cost_usd is not None:
                            node.reported_cost_usd = ev.cost_usd
                        if node.model:  # costed now: an answer cut or interrupted later keeps it
                            node.cost_usd = self.catalog.cost(node.model, node.usage, started_wall)
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
                        error.message = advise(error, ref.provider, self.settings, has_text=bool(node.text),
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
                            node.meta["request_id"] = ev.request_id
                        log.info("%s %s: HTTP %s request-id %s after %d ms", node.id, node.model, ev.status,
                                 ev.request_id or "(none)", round((time.monotonic() - run.request_started) * 1000))
            if node.status in (NodeStatus.PENDING, NodeStatus.STREAMING):
                # The provider contract promises a terminal event; never call a silent end a success.
                node.status = NodeStatus.ERROR
                node.finish = "error"
                error = ErrorInfo("bad_stream", "connection closed mid-answer")
                error.message = advise(error, ref.provider, self.settings, has_text=bool(node.text))
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
        node.meta["started_at"] = started_wall.isoformat(timespec="seconds")
        if node.model:
            node.cost_usd = self.catalog.cost(node.model, node.usage, started_wall)
        node.owner = None
        err = node.error
        log.info("%s %s: %s finish=%s error=%s HTTP %s request-id %s ttft_ms=%s duration_ms=%s in=%s out=%s "
                 "retries=%d chars=%d", node.id, node.model, node.status.value, node.finish,
                 err.kind if err else None, err.status if err and err.status else run.http_status,
                 run.request_id or "(none)", node.timing.ttft_ms, node.timing.duration_ms, node.usage.input,
                 node.usage.output, run.retries, len(node.text))
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


def make_client(settings: Settings) -> httpx.AsyncClient:
    """The one shared HTTP client: connect timeout from settings; reads are bounded by the providers'
    idle timeout, so httpx's own read timeout is off. httpx is imported here, not at the top: the
    window paints before anything needs it (benchmark 6)."""
    import httpx

    timeout = httpx.Timeout(connect=settings.connect_timeout, read=None, write=30.0, pool=30.0)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
    return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False)
