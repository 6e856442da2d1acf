"""The repository protocol the engine, CLI, exports and GUI use. `storage/` implements it.

All methods are synchronous and short (one small SQLite transaction each); callers on the event loop
batch their writes (the engine persists streamed text at most every 250 ms, never per token).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from app.domain import Edge, Graph, Node, NodeStatus, Session, SessionSummary, Viewport

if TYPE_CHECKING:
    from app.outline import CardOutline


class StoreError(Exception):
    """A store problem a user must read: newer schema, corrupt file, unwritable directory."""


class StoreBusyError(StoreError):
    """Another process held the store's write lock for longer than the busy timeout; nothing was
    written. Trying again later usually works (the GUI's store waits ~50 ms, the CLI's 5 s)."""


@dataclass(slots=True)
class SearchHit:
    session_id: str
    session_title: str
    node_id: str
    kind: str
    model: str | None
    snippet: str  # plain text with the matched terms wrapped in [ ] brackets


class Repository(Protocol):
    # sessions
    def create_session(self, session: Session) -> Session: ...
    def get_session(self, session_id: str) -> Session | None: ...
    def update_session(self, session: Session) -> None: ...
    def save_viewport(self, session_id: str, viewport: Viewport) -> None:
        """Where the user last looked; leaves `updated_at` (the sidebar's order) alone."""
    def list_sessions(self, include_deleted: bool = False) -> list[SessionSummary]: ...
    def delete_session(self, session_id: str) -> None:
        """Soft delete (restorable with `restore_session`, for undo)."""
        ...
    def restore_session(self, session_id: str) -> None: ...
    def purge_session(self, session_id: str) -> None:
        """Hard delete with all nodes and edges."""
        ...
    def duplicate_session(self, session_id: str, title: str | None = None) -> Session: ...
    def resolve_session(self, ref: str) -> str | None:
        """A full id, a unique id prefix or suffix (>= 4 chars), or 'last' -> the session id."""
        ...

    # nodes and edges
    def load_graph(self, session_id: str) -> Graph: ...
    def load_edges(self, session_id: str) -> list[Edge]:
        """The session's edges alone, in `load_graph`'s order (no node text: cheap on big sessions)."""
        ...
    def load_outline(self, session_id: str) -> list[CardOutline]:
        """Every node of the session without its text (position, size, kind, status, colour)."""
        ...
    def nodes_in_rect(self, session_id: str, left: float, top: float, right: float, bottom: float) -> list[Node]:
        """The full nodes of the session's cards overlapping the rectangle (a spatial index query)."""
        ...
    def load_nodes(self, node_ids: Sequence[str]) -> list[Node]: ...
    def node_ids(self, session_id: str) -> set[str]:
        """The ids of the session's nodes (no text: what the window compares with another process's
        deletions)."""
        ...
    def get_node(self, node_id: str) -> Node | None: ...
    def resolve_node(self, ref: str) -> str | None:
        """A full node id or a unique prefix/suffix (>= 4 chars) -> the node id."""
        ...
    def add_nodes(self, nodes: Sequence[Node], edges: Sequence[Edge] = ()) -> None:
        """Insert nodes and edges in one transaction (touches the session's updated_at)."""
        ...
    def update_node(self, node: Node) -> None:
        """Write every field of an existing node (one transaction)."""
        ...
    def update_stream(self, node: Node) -> None:
        """Fast path while streaming: text, reasoning, status, usage, timing, owner heartbeat."""
        ...
    def move_nodes(self, positions: dict[str, tuple[float, float]]) -> None: ...
    def delete_nodes(self, node_ids: Iterable[str]) -> tuple[list[Node], list[Edge]]:
        """Delete nodes and every edge touching them; return what was deleted (for undo)."""
        ...
    def add_edges(self, edges: Sequence[Edge]) -> None: ...
    def remove_edges(self, edges: Sequence[Edge]) -> None: ...

    # crash recovery and search
    def mark_orphans_interrupted(self, stale_after_s: float = 10.0) -> list[str]:
        """Mark `pending`/`streaming` nodes whose owner is gone as `interrupted` (text kept)."""
        ...
    def search(self, query: str, limit: int = 50) -> list[SearchHit]: ...
    def session_totals(self, session_id: str) -> dict[str, float | int]:
        """{"input", "cached_input", "cache_write", "output", "reasoning", "cost_usd", "nodes",
        "unreported"} over the session (see storage.repository)."""
        ...
    def close(self) -> None: ...


LIVE_STATUSES = (NodeStatus.PENDING, NodeStatus.STREAMING)
