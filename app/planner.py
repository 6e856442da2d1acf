"""Planning a send without sending it: the context lens (per target: the exact messages, token and
cost estimates, warnings), and the checks an `Engine` send makes first. Reads the store only when the
caller gives no graph; writes nothing. No Qt.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from app.attachments import (
    Attachment,
    AttachmentError,
    Limits,
    UnsupportedInput,
    adapt_messages,
    check_limits,
    estimate_attachment_tokens,
    limits_for,
)
from app.catalog import Catalog, estimate_tokens
from app.config import Settings
from app.context import BuiltContext, build_context, build_synthesis_context
from app.domain import Edge, EdgeRole, Graph, ModelRef, Node, NodeKind, Params, SendMode, Session
from app.providers.base import Message
from app.repository import Repository

ASSUMED_OUTPUT_TOKENS = 1000  # for "estimated cost" before sending; labelled as such in the UI/CLI


@dataclass(slots=True)
class Target:
    """One model to send to, with its parameters (filtered against the catalog before sending)."""

    model: str  # "provider:model"
    params: Params = field(default_factory=Params)


@dataclass(slots=True)
class PlannedCall:
    """The context lens: what one target would receive, without sending or storing anything."""

    model: str
    system: str | None
    messages: list[Message]
    params: Params
    dropped_params: list[str]
    input_tokens_est: int
    output_tokens_est: int
    cost_in_est_usd: float | None
    cost_est_usd: float | None  # input + ASSUMED_OUTPUT_TOKENS of output
    context_window: int | None
    warnings: list[str]
    parent_id: str | None = None
    # Files in this request (every turn's), as this model gets them: kept as files, or inlined as text.
    files: list[Attachment] = field(default_factory=list)
    inlined: list[Attachment] = field(default_factory=list)
    file_tokens_est: int = 0  # included in input_tokens_est
    # Why this lane would fail before sending: the model cannot read a file (`unsupported`), or a file
    # breaks the provider's documented limits (`over_limit`). The message names the file.
    unsupported: str | None = None
    over_limit: str | None = None


class EngineError(ValueError):
    """Bad input to an engine operation (empty prompt, unknown node); the message is for the user."""


def link_prompt(graph: Graph, prompt: Node, parent_ids: Sequence[str]) -> list[Edge]:
    edges = []
    for i, pid in enumerate(parent_ids):
        role = EdgeRole.FOLLOW if i == 0 else EdgeRole.REF
        edges.append(graph.link(pid, prompt.id, role))
    return edges


def _scratch_session() -> Session:
    return Session(title="(dry run)")


class Planner:
    def __init__(self, repo: Repository, settings: Settings, catalog: Catalog) -> None:
        self.repo = repo
        self.settings = settings
        self.catalog = catalog

    def __repr__(self) -> str:
        return f"<Planner providers={len(self.settings.providers)}>"

    def _display(self) -> dict[str, str]:
        return self.catalog.display_names()

    def targets_for(
        self, graph: Graph, text: str, targets: Sequence[Target], parents: Sequence[str], mode: SendMode
    ) -> list[tuple[list[str], list[Target]]]:
        """[(prompt parent ids, targets)] — one entry per prompt to create."""
        for pid in parents:
            if pid not in graph.nodes:
                raise EngineError(f"no card {pid} in this session")
        if not parents:
            return [([], list(targets))]
        if mode == SendMode.SHARED:
            chosen = list(targets)
            if not chosen:
                seen: list[str] = []
                for pid in parents:
                    m = graph.nodes[pid].model
                    if m and m not in seen:
                        seen.append(m)
                chosen = [Target(m) for m in seen]
            return [(list(parents), chosen)]
        out: list[tuple[list[str], list[Target]]] = []
        by_model = {t.model: t for t in targets}
        for pid in parents:
            parent = graph.nodes[pid]
            if parent.is_answer and parent.model:
                tgt = by_model.get(parent.model) or Target(parent.model, Params.from_dict(parent.params.to_dict()))
                out.append(([pid], [tgt]))
            else:
                out.append(([pid], list(targets)))
        return out

    def check_targets(self, targets: Sequence[Target]) -> None:
        if not targets:
            raise EngineError("choose at least one model")
        for t in targets:
            ref = ModelRef.parse(t.model)
            if ref.provider not in self.settings.providers:
                known = ", ".join(sorted(self.settings.providers))
                raise EngineError(f"unknown provider {ref.provider!r} in {t.model!r}: use one of {known}")

    def plan(
        self,
        session_id: str | None,
        text: str,
        targets: Sequence[Target],
        *,
        parents: Sequence[str] = (),
        mode: SendMode = SendMode.LANES,
        system: str | None = None,
        graph: Graph | None = None,
        attachments: Sequence[Attachment] = (),
    ) -> list[PlannedCall]:
        """The exact messages, token and cost estimates per call, without sending or storing.

        `graph`: the session as the caller holds it, kept current (the window's, with the live text of
        streaming cards); by default it is read from the store. The window re-plans its draft as the
        user types: reading a 10,000-card session each time took ~70 ms of the GUI thread."""
        if graph is None:
            graph = self.repo.load_graph(session_id) if session_id else Graph(session=_scratch_session())
        calls: list[PlannedCall] = []
        for parent_ids, tgts in self.targets_for(graph, text, targets, parents, mode):
            self.check_targets(tgts)
            prompt = Node(graph.session.id, NodeKind.PROMPT, text, params=Params(system=system),
                          attachments=list(attachments))
            scratch = Graph(graph.session, dict(graph.nodes), list(graph.edges))
            scratch.add(prompt)
            link_prompt(scratch, prompt, parent_ids)
            for t in tgts:
                built = build_context(scratch, prompt.id, t.model, system=t.params.system or system,
                                      display=self._display())
                calls.append(self.planned(t, built, parent_ids[0] if parent_ids else None))
        return calls

    def plan_synthesis(self, session_id: str, source_ids: Sequence[str], model: str, kind: str = "merge",
                       instruction: str | None = None) -> PlannedCall:
        graph = self.repo.load_graph(session_id)
        built = build_synthesis_context(graph, list(source_ids), model, kind, instruction, display=self._display())
        return self.planned(Target(model), built, None)

    # ------------------------------------------------------------------ attachments
    def inputs_for(self, model: str) -> frozenset[str]:
        """What `model` reads (text, image, pdf): providers.toml `inputs` first, then the catalog."""
        canonical = self.catalog.canonical(model)
        return self.settings.model_inputs.get(canonical) or self.catalog.info(canonical).inputs

    def limits(self, model: str) -> Limits:
        ref = ModelRef.parse(model)
        cfg = self.settings.providers.get(ref.provider)
        return limits_for(ref.provider, cfg.protocol if cfg else None)

    def prepare_messages(self, model: str, messages: Sequence[Message]) -> list[Message]:
        """The messages as `model` gets them (files adapted to what it reads), checked against its
        provider's documented limits. Raises UnsupportedInput / AttachmentError naming the file."""
        if not any(m.attachments for m in messages):
            return list(messages)
        adapted = adapt_messages(messages, self.inputs_for(model), model)
        check_limits(adapted, self.limits(model), model)
        return adapted

    def planned(self, target: Target, built: BuiltContext, parent_id: str | None) -> PlannedCall:
        info = self.catalog.info(target.model)
        filtered = self.catalog.filter_params(target.model, target.params)
        every = [a for m in built.messages for a in m.attachments]
        messages, unsupported, over_limit = built.messages, None, None
        try:
            messages = self.prepare_messages(target.model, built.messages)
        except UnsupportedInput as exc:
            unsupported = str(exc)
        except AttachmentError as exc:
            over_limit = str(exc)
            messages = adapt_messages(built.messages, self.inputs_for(target.model), target.model)
        kept = [a for m in messages for a in m.attachments]
        limits = self.limits(target.model)
        file_tokens = sum(estimate_attachment_tokens(a, limits) for a in kept)
        tokens = estimate_tokens(built.system or "") + sum(estimate_tokens(m.content) + 4 for m in messages)
        tokens += file_tokens
        out_est = min(ASSUMED_OUTPUT_TOKENS, filtered.params.max_tokens or ASSUMED_OUTPUT_TOKENS)
        warnings: list[str] = []
        if unsupported:
            warnings.append(f"this lane will fail before sending: {unsupported}")
        if over_limit:
            warnings.append(f"over a provider limit: {over_limit}")
        if not info.known:
            warnings.append(f"{target.model} is not in the catalog: cost unknown")
        if filtered.dropped:
            warnings.append(f"not sent to {target.model} (not accepted): {', '.join(filtered.dropped)}")
        if info.context_window and tokens > info.context_window:
            warnings.append(
                f"about {tokens:,} tokens is more than {target.model}'s context window of {info.context_window:,}"
            )
        return PlannedCall(
            model=target.model,
            system=built.system,
            messages=messages,
            params=filtered.params,
            dropped_params=filtered.dropped,
            input_tokens_est=tokens,
            output_tokens_est=out_est,
            cost_in_est_usd=self.catalog.estimate_cost(target.model, tokens, 0),
            cost_est_usd=self.catalog.estimate_cost(target.model, tokens, out_est),
            context_window=info.context_window,
            warnings=warnings,
            parent_id=parent_id,
            files=kept,
            inlined=[a for a in every if all(a is not k for k in kept)],
            file_tokens_est=file_tokens,
            unsupported=unsupported,
            over_limit=over_limit,
        )
