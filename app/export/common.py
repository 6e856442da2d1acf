"""Shared pieces of the exporters: options, scoping, tree order, names, number formats, file names.

Pure functions over a `Graph`; no I/O except the lazy, cached read of display names from
`resources/models.toml`.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from functools import lru_cache
from typing import Any, Literal

from app.catalog import derived_display_name
from app.domain import Edge, EdgeRole, Graph, Node, NodeKind, Session
from app.present.metrics import effective_cost as effective_cost  # one rule a module: app.present
from app.present.metrics import fmt_int as fmt_int
from app.present.metrics import fmt_ms as fmt_ms
from app.present.metrics import fmt_rate as fmt_rate
from app.present.metrics import tokens_per_second as tokens_per_second
from app.present.money import fmt_cost as fmt_cost
from app.present.status import file_status as file_status
from app.present.status import status_label as status_label
from app.present.text import snippet as snippet

Scope = Literal["all", "path", "selection"]
FORMAT_NAME = "triptych"
FORMAT_VERSION = 1


class ImportFailed(Exception):
    """A file could not be imported. The message is one line a user can act on (what and where)."""


@dataclass(frozen=True, slots=True)
class ExportOptions:
    """What an export contains.

    scope: "all" = the whole session; "path" = the selected nodes and every ancestor they draw context
    from (the path to them); "selection" = only the selected nodes (edges between them kept).
    display_names: `provider:model` -> human name (from the catalog); missing ones are looked up in
    resources/models.toml, then derived from the id.
    provider_colors: provider id -> the colour chosen for it (Settings.colors), as on the canvas.
    """

    include_reasoning: bool = True
    scope: Scope = "all"
    node_ids: Sequence[str] = ()
    display_names: Mapping[str, str] = field(default_factory=dict)
    provider_colors: Mapping[str, str] = field(default_factory=dict)  # colours chosen in providers.toml


# --------------------------------------------------------------------------- scoping


def ancestor_ids(graph: Graph, node_ids: Iterable[str]) -> set[str]:
    """The given nodes plus every node reachable through parent edges (any role)."""
    parents: dict[str, list[str]] = {}
    for edge in graph.edges:
        parents.setdefault(edge.child_id, []).append(edge.parent_id)
    seen: set[str] = set()
    stack = [nid for nid in node_ids if nid in graph.nodes]
    while stack:
        nid = stack.pop()
        if nid in seen:
            continue
        seen.add(nid)
        stack.extend(p for p in parents.get(nid, ()) if p in graph.nodes and p not in seen)
    return seen


def subgraph(graph: Graph, keep: set[str]) -> Graph:
    """The nodes in `keep` (original order) and the edges between them."""
    nodes = {nid: node for nid, node in graph.nodes.items() if nid in keep}
    edges = [e for e in graph.edges if e.parent_id in nodes and e.child_id in nodes]
    matches = [m for m in graph.matches
               if m.prompt_id in nodes and m.a_node_id in nodes and m.b_node_id in nodes]
    return Graph(session=graph.session, nodes=nodes, edges=edges, matches=matches)


def scoped_graph(graph: Graph, options: ExportOptions) -> Graph:
    if options.scope == "all":
        return graph
    unknown = [nid for nid in options.node_ids if nid not in graph.nodes]
    if unknown:
        raise ValueError(f"node {unknown[0]} is not in session {graph.session.id}")
    if not options.node_ids:
        raise ValueError(f"scope {options.scope!r} needs at least one selected node")
    if options.scope == "path":
        return subgraph(graph, ancestor_ids(graph, options.node_ids))
    if options.scope == "selection":
        return subgraph(graph, set(options.node_ids))
    raise ValueError(f"unknown scope {options.scope!r}: use all, path or selection")


def export_graph(graph: Graph, options: ExportOptions) -> Graph:
    """What an export shows: the scoped graph, with every card's reasoning emptied when the options
    leave it out (the json and png exports use this; the reports leave reasoning out as they write)."""
    scoped = scoped_graph(graph, options)
    if options.include_reasoning:
        return scoped
    nodes = {nid: replace(n, reasoning="") for nid, n in scoped.nodes.items()}
    return Graph(session=scoped.session, nodes=nodes, edges=list(scoped.edges), matches=list(scoped.matches))


# --------------------------------------------------------------------------- tree order


@dataclass(slots=True)
class Section:
    """One block of a report: a head card (prompt, stand-alone synthesis/answer, or note) and the
    answers that reply to it. `number` is the nested number ("1", "1.2", "1.2.1"); `depth` = 0 for
    roots. `parents` are the head's parent edges (follow/source/ref), in position order."""

    number: str
    depth: int
    head: Node
    answers: list[Node]
    parents: list[Edge]

    @property
    def is_root(self) -> bool:
        return self.depth == 0


def sections(graph: Graph) -> list[Section]:
    """The graph as report sections in tree order (depth first, children by creation order).

    A card with several parents (a synthesis of three lanes, a shared follow-up) comes after all of
    them, under the parent section visited last. Cycles (only possible in hand-made files) are broken
    by starting a new root at the earliest card not yet placed.
    """
    order = {nid: i for i, nid in enumerate(graph.nodes)}
    parents_of: dict[str, list[Edge]] = {}
    for edge in graph.edges:
        if edge.parent_id in graph.nodes and edge.child_id in graph.nodes:
            parents_of.setdefault(edge.child_id, []).append(edge)
    for edges in parents_of.values():
        edges.sort(key=lambda e: e.position)

    owner: dict[str, str] = {}
    heads: list[str] = []
    answers: dict[str, list[Node]] = {}
    for nid, node in graph.nodes.items():
        reply = [
            e
            for e in parents_of.get(nid, ())
            if e.role == EdgeRole.REPLY and graph.nodes[e.parent_id].kind == NodeKind.PROMPT
        ]
        if node.kind != NodeKind.PROMPT and reply:
            owner[nid] = reply[0].parent_id
        else:
            owner[nid] = nid
            heads.append(nid)
    for nid, node in graph.nodes.items():
        if owner[nid] != nid:
            answers.setdefault(owner[nid], []).append(node)

    # section-level parents (owners of the head's parents) and children
    sec_parents: dict[str, list[str]] = {}
    sec_children: dict[str, list[str]] = {}
    for head in heads:
        ps: list[str] = []
        for edge in parents_of.get(head, ()):
            p = owner[edge.parent_id]
            if p != head and p not in ps:
                ps.append(p)
        sec_parents[head] = ps
        for p in ps:
            sec_children.setdefault(p, []).append(head)
    for kids in sec_children.values():
        kids.sort(key=lambda h: order[h])

    pending = {h: len(sec_parents[h]) for h in heads}
    placed: set[str] = set()
    out: list[Section] = []
    root_count = 0
    child_count: dict[str, int] = {}
    number_of: dict[str, str] = {}

    def place(start: str, number: str, depth: int) -> None:
        stack: list[tuple[str, str, int]] = [(start, number, depth)]
        while stack:
            head, num, dep = stack.pop()
            placed.add(head)
            number_of[head] = num
            node = graph.nodes[head]
            head_parents = [e for e in parents_of.get(head, ()) if owner[e.parent_id] != head]
            out.append(Section(num, dep, node, answers.get(head, []), head_parents))
            ready: list[str] = []
            for child in sec_children.get(head, ()):
                if child in placed:
                    continue
                pending[child] -= 1
                if pending[child] == 0:
                    ready.append(child)
            numbered = []
            for child in ready:
                child_count[head] = child_count.get(head, 0) + 1
                numbered.append((child, f"{num}.{child_count[head]}", dep + 1))
            stack.extend(reversed(numbered))

    for head in heads:
        if head not in placed and pending[head] == 0:
            root_count += 1
            place(head, str(root_count), 0)
    for head in heads:  # cycles: whatever is left starts new roots
        if head not in placed:
            root_count += 1
            pending[head] = 0
            place(head, str(root_count), 0)
    return out


def tree_order(graph: Graph) -> list[Node]:
    """Every node once, in report order: each section's head, then its answers."""
    nodes: list[Node] = []
    for sec in sections(graph):
        nodes.append(sec.head)
        nodes.extend(sec.answers)
    return nodes


# --------------------------------------------------------------------------- names


def provider_of(model: str | None) -> str | None:
    if not model or ":" not in model:
        return None
    return model.partition(":")[0].strip().lower() or None


@lru_cache(maxsize=1)
def _catalog() -> Any:
    """The bundled model catalog (display names), or None when it cannot be read."""
    try:
        from app.catalog import load_catalog

        return load_catalog()
    except Exception:  # a broken catalog must not break an export
        return None


def catalog_display_name(model: str) -> str | None:
    catalog = _catalog()
    if catalog is None:
        return None
    try:
        info = catalog.get(model)
    except Exception:
        return None
    return str(info.display) if info is not None and getattr(info, "display", None) else None


def display_name(model: str | None, names: Mapping[str, str] | None = None) -> str:
    """A human name for `provider:model`: given names, then the catalog, then the name every view
    derives from the id (app.catalog.derived_display_name, as the window's cards and table do)."""
    if not model:
        return "Unknown model"
    if names and model in names:
        return names[model]
    known = catalog_display_name(model)
    if known:
        return known
    return derived_display_name(model)


# --------------------------------------------------------------------------- statuses and numbers


def fmt_date(ts: float) -> str:
    return datetime.fromtimestamp(ts).strftime("%Y-%m-%d %H:%M")


# --------------------------------------------------------------------------- file names

EXTENSIONS = {"md": ".md", "html": ".html", "json": ".json", "canvas": ".canvas", "png": ".png", "csv": ".csv",
              "jsonl": ".jsonl"}


def slugify(title: str, max_len: int = 60) -> str:
    """Lower-case words joined by '-'; letters of any script kept, everything else dropped."""
    text = unicodedata.normalize("NFKC", title).lower()
    slug = "".join(ch if ch.isalnum() else "-" for ch in text)
    slug = re.sub(r"-{2,}", "-", slug).strip("-")
    if len(slug) > max_len:
        slug = slug[:max_len].rstrip("-")
    return slug or "session"


def default_filename(session: Session, fmt: str) -> str:
    """`<slug of title>-<YYYY-MM-DD of the session's creation>.<ext>`."""
    if fmt not in EXTENSIONS:
        raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(EXTENSIONS)}")
    day = datetime.fromtimestamp(session.created_at).strftime("%Y-%m-%d")
    return f"{slugify(session.title)}-{day}{EXTENSIONS[fmt]}"
