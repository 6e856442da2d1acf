"""Domain model: sessions, nodes (cards) and edges. Pure data, no I/O, no Qt.

Threading: these are plain mutable dataclasses owned by whoever holds them; the engine mutates the
node it streams into on the event loop thread only.
"""

from __future__ import annotations

import os
import secrets
import time
from dataclasses import dataclass, field, fields
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from app.attachments import Attachment

if TYPE_CHECKING:
    from app.arena import Match


class NodeKind(StrEnum):
    PROMPT = "prompt"
    RESPONSE = "response"
    SYNTHESIS = "synthesis"
    NOTE = "note"
    SWEEP = "sweep"  # a sweep's definition; its cells are ordinary prompt -> response pairs (app.sweep)


class NodeStatus(StrEnum):
    PENDING = "pending"
    STREAMING = "streaming"
    DONE = "done"
    STOPPED = "stopped"
    ERROR = "error"
    INTERRUPTED = "interrupted"

    @property
    def is_live(self) -> bool:
        return self in (NodeStatus.PENDING, NodeStatus.STREAMING)


class EdgeRole(StrEnum):
    REPLY = "reply"  # prompt -> response
    FOLLOW = "follow"  # response/synthesis/note -> next prompt
    SOURCE = "source"  # response -> synthesis prompt (input of a synthesis)
    REF = "ref"  # extra context the user attached


class SendMode(StrEnum):
    LANES = "lanes"
    SHARED = "shared"


FINISH_REASONS = ("stop", "length", "tool_calls", "content_filter", "error")
ERROR_KINDS = (
    "auth",
    "rate_limit",
    "overloaded",
    "server",
    "bad_request",
    "network",
    "timeout",
    "bad_stream",
    "unsupported_input",  # a file the target model cannot take (an image to a text-only model); not sent
)


_last_ms = 0
_seq = 0


def new_id() -> str:
    """A sortable 26-char id (ULID-like: 48-bit ms timestamp + 80 random bits, Crockford base32).

    Monotonic within a process: ids made in the same millisecond still sort in creation order.
    """
    global _last_ms, _seq
    ms = int(time.time() * 1000)
    if ms <= _last_ms:
        ms = _last_ms
        _seq += 1
    else:
        _seq = 0
    _last_ms = ms
    rand = (_seq << 64) | secrets.randbits(64)
    value = (ms << 80) | (rand & ((1 << 80) - 1))
    alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
    out = []
    for _ in range(26):
        out.append(alphabet[value & 31])
        value >>= 5
    return "".join(reversed(out))


def current_user() -> str:
    """The member name every write records: TRIPTYCH_USER, else the OS user name."""
    name = os.environ.get("TRIPTYCH_USER", "").strip()
    if name:
        return name
    try:
        import getpass

        return getpass.getuser()
    except Exception:  # no user name in the environment nor the password database
        return "unknown"


def now_ts() -> float:
    return time.time()


@dataclass(frozen=True, slots=True)
class ModelRef:
    """`provider:model-id`. The model id may itself contain colons (e.g. `ollama:llama3:8b`)."""

    provider: str
    model: str

    @classmethod
    def parse(cls, text: str) -> ModelRef:
        provider, sep, model = text.strip().partition(":")
        if not sep or not provider or not model:
            raise ValueError(
                f"model {text!r} has no provider: write it as PROVIDER:MODEL, e.g. deepseek:deepseek-flash"
            )
        return cls(provider.strip().lower(), model.strip())

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


@dataclass(slots=True)
class Usage:
    """Token counts normalised across providers. `None` = the provider never reported it.

    `input` includes `cached_input` (as OpenAI and DeepSeek count); `output` includes `reasoning`.
    """

    input: int | None = None
    cached_input: int | None = None
    cache_write: int | None = None
    output: int | None = None
    reasoning: int | None = None

    def to_dict(self) -> dict[str, int | None]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Usage:
        data = data or {}
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))


@dataclass(slots=True)
class Timing:
    ttft_ms: int | None = None
    duration_ms: int | None = None

    def to_dict(self) -> dict[str, int | None]:
        return {"ttft_ms": self.ttft_ms, "duration_ms": self.duration_ms}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Timing:
        data = data or {}
        return cls(ttft_ms=data.get("ttft_ms"), duration_ms=data.get("duration_ms"))


@dataclass(slots=True)
class ErrorInfo:
    kind: str
    message: str
    status: int | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "message": self.message, "status": self.status}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> ErrorInfo | None:
        if not data:
            return None
        return cls(kind=str(data.get("kind", "server")), message=str(data.get("message", "")), status=data.get("status"))


@dataclass(slots=True)
class Params:
    """Per-call parameters. Only those the target model accepts are sent (see app.catalog)."""

    system: str | None = None
    temperature: float | None = None
    max_tokens: int | None = None
    thinking: bool | None = None  # None = the model's default
    effort: str | None = None  # low | medium | high | xhigh | max | none | minimal

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self) if getattr(self, f.name) is not None}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Params:
        data = data or {}
        return cls(**{f.name: data.get(f.name) for f in fields(cls)})


@dataclass(slots=True)
class Owner:
    """Which process streams into a node right now (for crash detection across processes)."""

    pid: int
    host: str
    heartbeat: float

    @classmethod
    def here(cls) -> Owner:
        return cls(pid=os.getpid(), host=_hostname(), heartbeat=now_ts())


def _hostname() -> str:
    import socket

    return socket.gethostname()


@dataclass(slots=True)
class RetryState:
    """A retry the engine is waiting to make: attempt `attempt` of `max`, starting at `at` (epoch s)."""

    attempt: int
    max: int
    delay: float
    at: float
    error: str = ""

    def remaining(self, now: float) -> float:
        """Seconds until the attempt starts (≤ 0 once it has)."""
        return self.at - now


@dataclass(slots=True)
class RunState:
    """What a lane streaming in *this* process is doing now; never stored (another process sees only
    the node's status). The engine sets it on the loop thread and announces each change as a
    `NodeChanged(fields={"run"})`; readers treat it as read-only.

    `phase`: queued | connecting | thinking | streaming while the lane runs, else None.
    `retry`: the countdown to the next attempt (before the first token only), else None.
    `persist_error`: why the latest write of the node failed ("not saved yet: disk is full"), else None.
    """

    phase: str | None = None
    retry: RetryState | None = None
    persist_error: str | None = None

    def __repr__(self) -> str:
        return f"<RunState {self.phase} retry={self.retry is not None} unsaved={self.persist_error is not None}>"


@dataclass(frozen=True, slots=True)
class RunRecord:
    """What the engine recorded about the request that produced an answer: stored with the node (its
    own columns of the `nodes` table, storage migration m006_run_record), exported under the node's
    `"run"` key. Frozen: the engine replaces it (`dataclasses.replace`), readers never change it. An
    answer made before any request (a note, a prompt) has the empty record `NO_RUN_RECORD`.

    `started_at`: when the request started (Unix seconds, wall clock), set when the lane ends.
    `request_id`: the provider's request id (x-request-id and friends), for a support ticket.
    `no_key`: nothing was sent because the provider had no API key (the card says "add a key").
    `dropped_params`: parameters the target model does not accept, so not sent ("not sent: …").
    `insecure`: the warning when the key went over plain http:// to another machine.
    `rerun_of`: the answer this one re-runs (same prompt, same or another model), else None.
    """

    started_at: float | None = None
    request_id: str | None = None
    no_key: bool = False
    dropped_params: tuple[str, ...] = ()
    insecure: str | None = None
    rerun_of: str | None = None

    def __repr__(self) -> str:
        return f"<RunRecord {self.to_dict()}>"

    def __bool__(self) -> bool:
        return self != NO_RUN_RECORD

    def to_dict(self) -> dict[str, Any]:
        """The fields that are set (JSON-ready: the dropped parameters as a list)."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None or value is False or value == ():
                continue
            out[f.name] = list(value) if isinstance(value, tuple) else value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> RunRecord:
        """From `to_dict`'s shape (unknown keys ignored; values taken as they are: callers validate)."""
        if not data:
            return NO_RUN_RECORD
        dropped = data.get("dropped_params") or ()
        return cls(
            started_at=data.get("started_at"),
            request_id=data.get("request_id"),
            no_key=bool(data.get("no_key", False)),
            dropped_params=tuple(str(d) for d in dropped),
            insecure=data.get("insecure"),
            rerun_of=data.get("rerun_of"),
        )


NO_RUN_RECORD = RunRecord()
# The keys an older Triptych kept in `Node.meta` (stores before m006_run_record, exports before the
# node's "run" key): moved into the RunRecord on migration and on import.
RUN_RECORD_KEYS = tuple(f.name for f in fields(RunRecord))


def parse_started_at(value: Any) -> float | None:
    """A request's start as Unix seconds, from a number or from the ISO 8601 text an older Triptych
    stored ("2026-05-01T12:00:00+00:00"; without an offset: UTC); None when it is neither."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        from datetime import UTC, datetime

        try:
            when = datetime.fromisoformat(value.strip())
        except ValueError:
            return None
        return (when if when.tzinfo is not None else when.replace(tzinfo=UTC)).timestamp()
    return None


@dataclass(slots=True)
class Node:
    session_id: str
    kind: NodeKind
    text: str = ""
    id: str = field(default_factory=new_id)
    reasoning: str = ""
    model: str | None = None  # "provider:model" for response/synthesis
    params: Params = field(default_factory=Params)
    status: NodeStatus = NodeStatus.DONE
    error: ErrorInfo | None = None
    finish: str | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None  # computed from the catalog
    reported_cost_usd: float | None = None  # as the provider reported it (OpenRouter)
    timing: Timing = field(default_factory=Timing)
    x: float = 0.0
    y: float = 0.0
    width: float | None = None
    height: float | None = None
    collapsed: bool = False
    color: str | None = None
    title: str | None = None
    # Free-form facts of features that own them: a synthesis's instruction, a sweep's definition and
    # cells, an arena judge's match, an imported canvas card's type. What the engine records about a
    # request is typed, in `run_record`.
    meta: dict[str, Any] = field(default_factory=dict)
    owner: Owner | None = None
    created_at: float = field(default_factory=now_ts)
    updated_at: float = field(default_factory=now_ts)
    # Files of a prompt (app.attachments), in the order the user attached them. The store keeps each
    # file's bytes once (content-addressed) and links it to the prompts that carry it.
    attachments: list[Attachment] = field(default_factory=list)
    # What the engine recorded about the request that made this answer (stored, exported).
    run_record: RunRecord = NO_RUN_RECORD
    # The live lane's transient state (engine-owned, never stored); None for a node no lane of this
    # process streams into. Not compared: two nodes with the same stored fields are equal.
    run: RunState | None = field(default=None, compare=False, repr=False)
    # Who wrote the card (a team store's member, DESIGN.md "Team store"; the store fills it in on
    # insert: TRIPTYCH_USER, else the OS user name).
    author: str | None = None

    def __repr__(self) -> str:
        head = self.text[:30].replace("\n", " ")
        return f"<Node {self.kind.value} {self.id[-6:]} {self.model or ''} {self.status.value} {head!r}>"

    @property
    def model_ref(self) -> ModelRef | None:
        return ModelRef.parse(self.model) if self.model else None

    @property
    def is_answer(self) -> bool:
        return self.kind in (NodeKind.RESPONSE, NodeKind.SYNTHESIS)

    @property
    def has_files(self) -> bool:
        """Whether the prompt carries files (its card shows a row of them: app.layout.height)."""
        return bool(self.attachments)


@dataclass(slots=True)
class Edge:
    parent_id: str
    child_id: str
    role: EdgeRole
    position: int = 0  # order among the child's parents
    session_id: str = ""

    def __repr__(self) -> str:
        return f"<Edge {self.parent_id[-6:]} -{self.role.value}-> {self.child_id[-6:]} #{self.position}>"


@dataclass(slots=True)
class Viewport:
    x: float = 0.0
    y: float = 0.0
    zoom: float = 1.0

    def to_dict(self) -> dict[str, float]:
        return {"x": self.x, "y": self.y, "zoom": self.zoom}

    @classmethod
    def from_dict(cls, data: dict[str, Any] | None) -> Viewport:
        data = data or {}
        return cls(x=float(data.get("x", 0.0)), y=float(data.get("y", 0.0)), zoom=float(data.get("zoom", 1.0)))


@dataclass(slots=True)
class Session:
    title: str = "Untitled"
    id: str = field(default_factory=new_id)
    created_at: float = field(default_factory=now_ts)
    updated_at: float = field(default_factory=now_ts)
    viewport: Viewport = field(default_factory=Viewport)
    settings: dict[str, Any] = field(default_factory=dict)
    deleted: bool = False
    # The member who created it (filled in by the store) and who sees it: "shared" (every member of a
    # team store) or "private" (its owner only).
    owner: str | None = None
    visibility: str = "shared"

    def __repr__(self) -> str:
        return f"<Session {self.id[-6:]} {self.title!r}>"


@dataclass(slots=True)
class SessionSummary:
    id: str
    title: str
    created_at: float
    updated_at: float
    node_count: int
    owner: str | None = None
    visibility: str = "shared"
    sweep_cells: int | None = None  # a sweep's session: its cells (its card count means nothing to a user)


@dataclass(slots=True)
class Graph:
    """A whole session: nodes in creation order and edges. Helper queries for context building."""

    session: Session
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)
    # Blind matches (app.arena.Match) whose answers are in this session, with their votes: the store
    # fills them in, the json export and import carry them.
    matches: list[Match] = field(default_factory=list)
    # child id -> its edges, parent id -> its edges; rebuilt when `edges` is another list, or has
    # grown or shrunk, or its last edge changed (callers append, filter into a new list, or
    # replace the list; see _index). Walking a 5,000-turn lane scanned every edge per step: 1.3 s
    # to plan one follow-up in a 10,000-card session.
    _index: tuple[tuple[int, int, int], dict[str, list[Edge]], dict[str, list[Edge]]] | None = field(
        default=None, init=False, repr=False, compare=False
    )

    def _by_node(self) -> tuple[dict[str, list[Edge]], dict[str, list[Edge]]]:
        edges = self.edges
        key = (id(edges), len(edges), id(edges[-1]) if edges else 0)
        index = self._index
        if index is None or index[0] != key:
            by_child: dict[str, list[Edge]] = {}
            by_parent: dict[str, list[Edge]] = {}
            for e in edges:
                by_child.setdefault(e.child_id, []).append(e)
                by_parent.setdefault(e.parent_id, []).append(e)
            index = self._index = (key, by_child, by_parent)
        return index[1], index[2]

    def parents(self, node_id: str, roles: tuple[EdgeRole, ...] | None = None) -> list[Edge]:
        found = [e for e in self._by_node()[0].get(node_id, ()) if roles is None or e.role in roles]
        return sorted(found, key=lambda e: e.position)

    def children(self, node_id: str, roles: tuple[EdgeRole, ...] | None = None) -> list[Edge]:
        return [e for e in self._by_node()[1].get(node_id, ()) if roles is None or e.role in roles]

    def add(self, node: Node) -> Node:
        self.nodes[node.id] = node
        return node

    def scratch(self) -> Graph:
        """A copy to add cards and edges to without changing this graph (the nodes themselves are
        shared; matches are not carried), with the edge index carried over instead of rebuilt: a
        sweep asks 1,000 cells into one growing session."""
        out = Graph(self.session, dict(self.nodes), list(self.edges))
        by_child, by_parent = self._by_node()
        last = id(out.edges[-1]) if out.edges else 0
        # shallow copies: `link` replaces a node's edge list instead of appending to it, so neither
        # graph sees the other's new edges
        out._index = ((id(out.edges), len(out.edges), last), dict(by_child), dict(by_parent))
        return out

    def link(self, parent_id: str, child_id: str, role: EdgeRole) -> Edge:
        by_child, by_parent = self._by_node()
        position = len(by_child.get(child_id, ()))
        edge = Edge(parent_id, child_id, role, position, self.session.id)
        self.edges.append(edge)
        # keep the index (valid: _by_node just checked it) instead of rebuilding it on the next query;
        # new lists, not appends: a `scratch` copy may share them
        by_child[child_id] = [*by_child.get(child_id, ()), edge]
        by_parent[parent_id] = [*by_parent.get(parent_id, ()), edge]
        self._index = ((id(self.edges), len(self.edges), id(edge)), by_child, by_parent)
        return edge
