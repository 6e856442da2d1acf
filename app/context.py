"""Context building: the exact message list each target model receives (DESIGN.md, "Lane").

Context for a call = the ancestor chain of its prompt, walked through `follow`/`reply` edges, with
`ref` parents (and further `follow` parents) quoted, labelled by model, inside the user turn they
attach to. A synthesis node stands in its chain as the answer to its first source's prompt.

A shared follow-up of several chosen answers treats them alike: every chosen answer is quoted,
labelled by model, in its user turn, and the history they have in common (the path down to their
common ancestor) stays as turns. With one chosen answer, that answer is the assistant turn.

Rules:
- A prompt that follows one response continues that model's lane with that model's own history.
- Another model's reasoning is never sent. A model's own reasoning is sent back only where the
  provider requires it (DeepSeek, after an assistant turn with tool calls).
- An assistant turn from a different model than the target is sent as assistant text, or quoted in
  the user turn when `quote_foreign` is set.
- Consecutive turns of one role are merged (Anthropic requires strict alternation; harmless elsewhere),
  and the list always starts with a user turn.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from app.domain import EdgeRole, Graph, ModelRef, Node, NodeKind
from app.providers.base import Message

SYNTHESIS_INSTRUCTIONS: dict[str, str] = {
    "merge": (
        "Merge these answers into one best answer to the question. Keep what is correct and useful from "
        "each, resolve contradictions (say briefly which answer was right and why), and drop repetition. "
        "Answer the question directly; do not describe the answers one by one."
    ),
    "judge": (
        "Judge these answers. First give a markdown table with one row per answer and columns Correctness, "
        "Completeness, Clarity, Usefulness (each scored 1-10) and Total. Then name the best answer and "
        "explain the decisive differences in a few sentences. Point out any factual errors."
    ),
    "compare": (
        "Compare these answers: where they agree, where they differ, and which claims in each are doubtful "
        "or wrong. Use short sections and end with a summary table."
    ),
}


@dataclass(slots=True)
class BuiltContext:
    system: str | None
    messages: list[Message] = field(default_factory=list)

    def __repr__(self) -> str:
        roles = "".join(m.role[0] for m in self.messages)
        return f"<BuiltContext system={bool(self.system)} {roles}>"


def label(node: Node, display: dict[str, str] | None = None) -> str:
    if not node.model:
        return "a note" if node.kind == NodeKind.NOTE else "the user"
    name = (display or {}).get(node.model)
    return f"{name} ({node.model})" if name else node.model


def primary_parent(graph: Graph, node: Node) -> Node | None:
    """The node whose turn precedes this one in its lane."""
    if node.kind == NodeKind.RESPONSE:
        edges = graph.parents(node.id, (EdgeRole.REPLY,))
    elif node.kind == NodeKind.SYNTHESIS:
        sources = graph.parents(node.id, (EdgeRole.SOURCE,))
        if not sources:
            return None
        first = graph.nodes.get(sources[0].parent_id)
        return primary_parent(graph, first) if first is not None else None
    else:
        edges = graph.parents(node.id, (EdgeRole.FOLLOW,))
    for e in edges:
        parent = graph.nodes.get(e.parent_id)
        if parent is not None:
            return parent
    return None


def _prompt_parents(graph: Graph, node: Node) -> list[Node]:
    """Every parent a prompt or note attaches to, in the order chosen: `follow` first, then `ref`."""
    edges = graph.parents(node.id, (EdgeRole.FOLLOW,)) + graph.parents(node.id, (EdgeRole.REF,))
    return [graph.nodes[e.parent_id] for e in edges if e.parent_id in graph.nodes]


def shared_answers(graph: Graph, node: Node) -> list[Node]:
    """The chosen parents of a shared follow-up that quotes them all (several chosen answers), else []."""
    if node.kind not in (NodeKind.PROMPT, NodeKind.NOTE):
        return []
    parents = _prompt_parents(graph, node)
    return parents if sum(1 for p in parents if p.is_answer) >= 2 else []


def _context_parent(graph: Graph, node: Node, memo: dict[str, list[Node]]) -> Node | None:
    """The node whose turn precedes `node` in the context sent: its primary parent, except for a
    shared follow-up of several answers, whose history is the path its answers have in common."""
    parents = shared_answers(graph, node)
    if not parents:
        return primary_parent(graph, node)
    common: list[Node] | None = None
    for p in parents:
        path = _chain(graph, p.id, memo)
        if common is None:
            common = path
            continue
        n = 0
        while n < min(len(common), len(path)) and common[n].id == path[n].id:
            n += 1
        common = common[:n]
    common = [n for n in (common or []) if n.id not in {p.id for p in parents}]
    return common[-1] if common else None


def _chain(graph: Graph, node_id: str, memo: dict[str, list[Node]]) -> list[Node]:
    if node_id in memo:
        return memo[node_id]
    out: list[Node] = []
    seen: set[str] = set()
    cur = graph.nodes.get(node_id)
    while cur is not None and cur.id not in seen:
        out.append(cur)
        seen.add(cur.id)
        cur = _context_parent(graph, cur, memo)
    out.reverse()
    memo[node_id] = out
    return out


def chain(graph: Graph, node_id: str) -> list[Node]:
    """The turns sent before and with `node_id` (inclusive), root first: its lane, walked up through
    primary parents (through a shared follow-up of several answers, to their common ancestor)."""
    return _chain(graph, node_id, {})


def quoted(node: Node, display: dict[str, str] | None = None, in_reply_to: Node | None = None) -> str:
    who = label(node, display)
    if node.is_answer:
        head = f"Answer from {who}:"
        if in_reply_to is not None and in_reply_to.text.strip():
            head += f"\n(in reply to: {in_reply_to.text.strip()[:300]})"
    else:
        head = f"Context ({who}):"
    return f"{head}\n\n<<<\n{node.text.strip() or '(no text)'}\n>>>"


def _extra_parents(graph: Graph, node: Node) -> list[Node]:
    """`ref` parents and any `follow` parent after the first: quoted in this node's user turn."""
    out = []
    follows = graph.parents(node.id, (EdgeRole.FOLLOW,))
    for e in follows[1:]:
        if e.parent_id in graph.nodes:
            out.append(graph.nodes[e.parent_id])
    for e in graph.parents(node.id, (EdgeRole.REF,)):
        if e.parent_id in graph.nodes:
            out.append(graph.nodes[e.parent_id])
    return out


def _needs_reasoning(target: ModelRef, node: Node) -> bool:
    # DeepSeek rejects a follow-up whose earlier assistant turn made tool calls unless its
    # reasoning_content comes back with it. Only for the same model's own turns.
    return target.provider == "deepseek" and bool(node.meta.get("tool_calls")) and node.model == str(target)


def messages_for_chain(
    graph: Graph,
    nodes: list[Node],
    target: str,
    *,
    quote_foreign: bool = False,
    display: dict[str, str] | None = None,
) -> list[Message]:
    target_ref = ModelRef.parse(target)
    msgs: list[Message] = []
    for i, node in enumerate(nodes):
        if node.kind in (NodeKind.PROMPT, NodeKind.NOTE):
            if shared := shared_answers(graph, node):
                # every chosen answer quoted alike; an answer to a prompt outside the shared history
                # says what it answered
                before = {n.id for n in nodes[:i]}
                parts = []
                for p in shared:
                    asked = primary_parent(graph, p) if p.is_answer else None
                    parts.append(quoted(p, display, asked if asked is not None and asked.id not in before else None))
            else:
                parts = [quoted(p, display) for p in _extra_parents(graph, node)]
            if node.text.strip():
                parts.append(node.text)
            if parts or node.attachments:
                msgs.append(Message("user", "\n\n".join(parts), attachments=tuple(node.attachments)))
        elif node.is_answer:
            if not node.text.strip():
                continue  # an answer that never produced text contributes no turn
            if quote_foreign and node.model and node.model != target:
                msgs.append(Message("user", quoted(node, display)))
                continue
            reasoning = node.reasoning if _needs_reasoning(target_ref, node) else None
            msgs.append(Message("assistant", node.text, reasoning=reasoning, model=node.model))
    return normalise(msgs)


def normalise(msgs: list[Message]) -> list[Message]:
    """Merge consecutive same-role turns; start with a user turn."""
    out: list[Message] = []
    for m in msgs:
        if out and out[-1].role == m.role:
            prev = out[-1]
            out[-1] = Message(
                prev.role,
                f"{prev.content}\n\n{m.content}" if prev.content and m.content else prev.content or m.content,
                reasoning=prev.reasoning or m.reasoning,
                model=prev.model if prev.model == m.model else None,
                attachments=prev.attachments + m.attachments,
            )
        else:
            out.append(Message(m.role, m.content, reasoning=m.reasoning, model=m.model, attachments=m.attachments))
    while out and out[0].role != "user":
        first = out.pop(0)
        out.insert(0, Message("user", f"(Earlier answer from {first.model or 'a model'}:)\n\n{first.content}"))
        out = normalise(out)
    return out


def system_for(nodes: list[Node], override: str | None = None) -> str | None:
    if override:
        return override
    for node in reversed(nodes):
        if node.kind == NodeKind.PROMPT and node.params.system:
            return node.params.system
    return None


def build_context(
    graph: Graph,
    prompt_id: str,
    target: str,
    *,
    system: str | None = None,
    quote_foreign: bool = False,
    display: dict[str, str] | None = None,
) -> BuiltContext:
    """Messages for sending prompt `prompt_id` (already in `graph`) to model `target`."""
    nodes = chain(graph, prompt_id)
    return BuiltContext(
        system_for(nodes, system),
        messages_for_chain(graph, nodes, target, quote_foreign=quote_foreign, display=display),
    )


def build_synthesis_context(
    graph: Graph,
    source_ids: list[str],
    target: str,
    kind: str = "merge",
    instruction: str | None = None,
    *,
    system: str | None = None,
    display: dict[str, str] | None = None,
) -> BuiltContext:
    """Messages for a synthesis over several answers: the first source's history and question, then
    every answer labelled by model, then the instruction, all in the final user turn."""
    sources = [graph.nodes[s] for s in source_ids if s in graph.nodes]
    if not sources:
        raise ValueError("a synthesis needs at least one answer as its source")
    first_prompt = primary_parent(graph, sources[0])
    history = chain(graph, first_prompt.id) if first_prompt is not None else []
    msgs = messages_for_chain(graph, history, target, display=display)
    prompts = {p.id if (p := primary_parent(graph, s)) else "" for s in sources}
    blocks = [f"Here are {len(sources)} answers{' to this question' if len(prompts) == 1 else ''} "
              "from different models:"]
    for i, src in enumerate(sources, 1):
        head = f"## Answer {i} — {label(src, display)}"
        src_prompt = primary_parent(graph, src)
        if len(prompts) > 1 and src_prompt is not None:
            head += f"\n(in reply to: {src_prompt.text.strip()[:300]})"
        body = src.text.strip() or "(no text: this answer failed)"
        blocks.append(f"{head}\n\n{body}")
    if kind == "custom":
        text = (instruction or "").strip()
        if not text:
            raise ValueError("a custom synthesis needs an instruction")
    else:
        preset = SYNTHESIS_INSTRUCTIONS.get(kind)
        if preset is None:
            raise ValueError(f"unknown synthesis kind {kind!r}: use merge, judge, compare or custom")
        text = f"{preset}\n\n{instruction.strip()}" if instruction else preset
    blocks.append(text)
    msgs.append(Message("user", "\n\n".join(blocks)))
    return BuiltContext(system_for(history, system), normalise(msgs))
