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
import copy
import logging
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from app.attachments import Attachment
from app.catalog import Catalog, load_catalog
from app.config import Settings
from app.context import BuiltContext, build_context, build_synthesis_context, primary_parent
from app.domain import (
    NO_RUN_RECORD,
    Edge,
    EdgeRole,
    Graph,
    ModelRef,
    Node,
    NodeKind,
    NodeStatus,
    Owner,
    Params,
    RunRecord,
    RunState,
    SendMode,
    Session,
)
from app.graph_events import (
    GraphEvent,
    GraphListener,
    NodeChanged,
    NodesAdded,
    NodesRemoved,
    SessionChanged,
    legacy_changes,
)
from app.lanes import BUSY_RETRY_S as BUSY_RETRY_S  # noqa: PLC0414 (re-exported)
from app.lanes import HEARTBEAT_S as HEARTBEAT_S  # noqa: PLC0414
from app.lanes import LaneRunner, ProviderFactory, Run, sendable
from app.lanes import advise as advise  # noqa: PLC0414
from app.lanes import clean_text as clean_text  # noqa: PLC0414
from app.lanes import store_error_text as store_error_text  # noqa: PLC0414
from app.layout import place_sibling, place_synthesis, place_turn
from app.planner import ASSUMED_OUTPUT_TOKENS as ASSUMED_OUTPUT_TOKENS  # noqa: PLC0414 (re-exported)
from app.planner import EngineError as EngineError  # noqa: PLC0414
from app.planner import PlannedCall as PlannedCall  # noqa: PLC0414
from app.planner import Planner, link_prompt
from app.planner import Target as Target  # noqa: PLC0414
from app.providers.base import make_provider
from app.repository import Repository

if TYPE_CHECKING:
    import httpx

log = logging.getLogger(__name__)

HOLD_CLOSE_S = 10.0  # how long aclose() waits for the tasks given to hold_close()

NodeListener = Callable[[Node, str], None]


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
        self.provider_factory: ProviderFactory = provider_factory or make_provider
        self._listeners: list[GraphListener] = []
        self._legacy: dict[NodeListener, GraphListener] = {}
        # called with an ended answer right before its final write (its status, text, timing and cost
        # final): a sweep's checks go into that write instead of one more (app.sweep)
        self.before_final_save: list[Callable[[Node], None]] = []
        self.lanes = LaneRunner(self, self._emit)  # the streaming tasks, their writes and retries
        self._path_tasks: set[asyncio.Task[list[Node]]] = set()
        self._held: set[asyncio.Future[Any]] = set()  # tasks aclose() lets end (hold_close)

    def __repr__(self) -> str:
        return f"<Engine running={len(self.runs)}>"

    # ------------------------------------------------------------------ events
    def subscribe(self, fn: GraphListener) -> None:
        """Call `fn(event)` for every graph event from now on (loop thread; keep it cheap)."""
        self._listeners.append(fn)

    def announce(self, event: GraphEvent) -> None:
        """Tell this engine's subscribers of a graph event another engine made in the same store (app.batch
        fills sweep cells through an engine of its own; the window listens to this one)."""
        self._emit(event)

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

    def hold_close(self, task: asyncio.Future[Any]) -> None:
        """Let `task` end before aclose() closes the client (a stopped batch sweep finishing the cell whose
        result it writes: the store is closed after aclose, so nothing is written after it)."""
        if not task.done():
            self._held.add(task)
            task.add_done_callback(self._held.discard)

    async def aclose(self) -> None:
        self.cancel_all()
        if self._path_tasks:
            await asyncio.gather(*self._path_tasks, return_exceptions=True)
        if self._held:
            _done, late = await asyncio.wait(set(self._held), timeout=HOLD_CLOSE_S)
            for task in late:  # (a provider that does not answer a poll): cut, rather than hang the quit
                task.cancel()
            if late:
                await asyncio.wait(late, timeout=1.0)
        await self.lanes.aclose()
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
        meta: dict[str, Any] | None = None,
        at: tuple[float, float] | None = None,
    ) -> AskResult:
        """Create the prompt card(s) and one response card per target, and start streaming.

        The prompt is stored and sent as `sendable(text)`: unpaired surrogates become U+FFFD and NUL
        characters are removed, so what the card shows is what the models received. `graph`: the
        session as the caller holds it, kept current (the window's; it is not changed: the new cards
        and edges go into a copy), else it is read from the store (~70 ms for 10,000 cards). `beside`:
        the prompt this one branches (a new prompt without parents goes next to it, not below all).
        `attachments`: files of the prompt (app.attachments.load_attachment), stored with it and sent
        in this lane's follow-ups too; a lane whose model cannot read one fails alone, before sending.
        `meta`: stored on the prompt and on every answer (a copy each) from their first write."""
        text = sendable(text or "")
        system = sendable(system) if system is not None else None
        if not text.strip() and not attachments:
            raise EngineError("the prompt is empty: type a question first")
        if os.environ.get("TRIPTYCH_LOG_PROMPTS", "").strip() in ("1", "true", "yes"):
            log.info("prompt (TRIPTYCH_LOG_PROMPTS is set): %r", text[:2000])
        if graph is None:
            graph = self.repo.load_graph(session_id)
        else:
            graph = graph.scratch()
        plan = self.planner.targets_for(graph, text, targets, parents, mode)
        for _, tgts in plan:
            self.planner.check_targets(tgts)
        new_nodes: list[Node] = []
        new_edges: list[Edge] = []
        pending: list[tuple[Node, Node, Target]] = []
        prompts: list[Node] = []
        for parent_ids, tgts in plan:
            prompt = Node(session_id, NodeKind.PROMPT, text, params=Params(system=system),
                          attachments=list(attachments), meta=copy.deepcopy(meta) if meta else {})
            graph.add(prompt)
            new_edges += link_prompt(graph, prompt, parent_ids)
            responses = []
            for t in tgts:
                resp = self._new_answer(session_id, NodeKind.RESPONSE, t, copy.deepcopy(meta) if meta else None)
                graph.add(resp)
                new_edges.append(graph.link(prompt.id, resp.id, EdgeRole.REPLY))
                responses.append(resp)
                pending.append((prompt, resp, t))
            _place(graph, prompt, responses, parent_ids, beside, at)
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

    def _new_answer(self, session_id: str, kind: NodeKind, target: Target, meta: dict | None = None,
                    rerun_of: str | None = None) -> Node:
        ref = ModelRef.parse(target.model)
        canonical = self.catalog.canonical(str(ref))
        filtered = self.catalog.filter_params(canonical, target.params)
        record = RunRecord(dropped_params=tuple(filtered.dropped), rerun_of=rerun_of)
        return Node(session_id, kind, "", model=canonical, params=filtered.params, status=NodeStatus.PENDING,
                    owner=Owner.here(), meta=dict(meta or {}), run_record=record or NO_RUN_RECORD,
                    run=RunState(phase="queued"))

    def _prepare_run(self, node: Node, prompt: Node | None, built: BuiltContext, target: Target) -> Run:
        return Run(node=node, prompt=prompt, context=built, params=node.params,
                   dropped_params=list(node.run_record.dropped_params))

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
        node = self._new_answer(old.session_id, NodeKind.RESPONSE, target, rerun_of=old.id)
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

    # ------------------------------------------------------------------ control (the lane runner's)
    @property
    def runs(self) -> dict[str, Run]:
        """The lanes streaming now (and those that ended but were not yet collected), by answer id."""
        return self.lanes.runs

    @property
    def unsaved(self) -> dict[str, Node]:
        """Ended answers whose final write failed (retried with backoff; the text is in memory)."""
        return self.lanes.unsaved

    def cancel(self, node_id: str) -> bool:
        return self.lanes.cancel(node_id)

    def cancel_all(self) -> None:
        for task in list(self._path_tasks):
            task.cancel()  # a replay sends no further turn
        self.lanes.cancel_all()

    def is_running(self, node_id: str) -> bool:
        return self.lanes.is_running(node_id)

    @property
    def running_count(self) -> int:
        return self.lanes.running_count

    async def wait(self, runs: Sequence[Run] | None = None) -> None:
        await self.lanes.wait(runs)

    async def flush_saves(self, within: float) -> list[Node]:
        """Retry failed final writes for up to `within` seconds (backing off); returns the nodes that
        are still not saved (their text is only in memory)."""
        return await self.lanes.flush_saves(within)

    def _start(self, run: Run) -> None:
        self.lanes.start(run)


def make_client(settings: Settings) -> httpx.AsyncClient:
    """The one shared HTTP client: connect timeout from settings; reads are bounded by the providers'
    idle timeout, so httpx's own read timeout is off. httpx is imported here, not at the top: the
    window paints before anything needs it (benchmark 6)."""
    import httpx

    timeout = httpx.Timeout(connect=settings.connect_timeout, read=None, write=30.0, pool=30.0)
    limits = httpx.Limits(max_connections=64, max_keepalive_connections=16)
    return httpx.AsyncClient(timeout=timeout, limits=limits, follow_redirects=False)


def _place(graph: Graph, prompt: Node, responses: list[Node], parent_ids: Sequence[str], beside: str | None,
           at: tuple[float, float] | None) -> None:
    """A new turn's spot (app.layout.place_turn), or `at` for cards kept out of sight at one spot (a
    sweep's cells: its grid stands for them)."""
    if at is not None:
        for card in (prompt, *responses):
            card.x, card.y = at
        return
    place_turn(graph, prompt, responses, parent=graph.nodes[parent_ids[0]] if parent_ids else None,
               beside=graph.nodes.get(beside) if beside and not parent_ids else None,
               also=[graph.nodes[p] for p in parent_ids[1:]])
