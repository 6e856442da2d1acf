"""Viewport-driven loading of a session: what the view shows is read and made first, the rest never
until the view reaches it.

Opening a session reads its outline (`Repository.load_outline`: no text) and its edges; the session's
nodes are an `app.outline.SessionNodes`, which reads full nodes from the store when asked. The scene
registers every card from the outline (cheap records in a grid index) and asks this loader for full
nodes only for the cards it makes: those the view shows at a zoom where a card is big enough to read
(`CanvasScene.show_area`, with one spatial query on card positions, `Repository.nodes_in_rect`), and
the ones a user action needs (selecting, revealing, focusing). Zoomed out further, the scene draws
the outline's blocks and makes no item. Search, the minimap, select-all and exports see every node
through the session model (the outline and the store), not the scene's items.

GUI thread only (the store calls are short reads).
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from typing import TYPE_CHECKING

from app.domain import Graph, Node
from app.outline import SessionNodes

if TYPE_CHECKING:
    from app.repository import Repository
    from ui.canvas.scene import CanvasScene


class ViewportLoader:
    """The scene's source of full nodes for one open session."""

    def __init__(self, nodes: SessionNodes) -> None:
        self.nodes = nodes

    def __repr__(self) -> str:
        return f"<ViewportLoader {self.nodes!r}>"

    def load(self, ids: Sequence[str]) -> list[Node]:
        return self.nodes.load(ids)

    def load_rect(self, left: float, top: float, right: float, bottom: float) -> None:
        self.nodes.load_rect(left, top, right, bottom)


def open_graph(repo: Repository, session_id: str) -> Graph:
    """The session as the window holds it: its outline and edges, full nodes read as needed.
    Raises KeyError for an unknown session."""
    session = repo.get_session(session_id)
    if session is None:
        raise KeyError(f"no session {session_id}")
    nodes = SessionNodes(
        repo.load_outline(session_id),
        repo.load_nodes,
        lambda left, top, right, bottom: repo.nodes_in_rect(session_id, left, top, right, bottom),
    )
    return Graph(session, nodes, repo.load_edges(session_id))  # type: ignore[arg-type]


def populate(scene: CanvasScene, graph: Graph, hidden: Collection[str] = ()) -> None:
    """Show `graph` on `scene`: every card registered from the outline, items made as the view
    reaches them (see the module docstring). `hidden`: cards not drawn (a sweep's cells: its grid
    stands for them, ui/sweep_controller.py)."""
    nodes: Mapping[str, Node] = graph.nodes  # a SessionNodes in the window (see open_graph)
    if isinstance(nodes, SessionNodes):
        scene.set_loader(ViewportLoader(nodes))
        loaded = nodes.loaded_items()
        if loaded:  # (the engine's streaming nodes: the scene makes their cards at once)
            records = [nodes.loaded(i) or o for i, o in nodes.outline.items() if i not in hidden]
            scene.populate(records, graph.edges)
        elif hidden:
            scene.populate([o for i, o in nodes.outline.items() if i not in hidden], graph.edges)
        else:
            scene.populate(nodes.outline.values(), graph.edges)
    else:
        scene.set_loader(None)
        scene.populate([n for n in nodes.values() if n.id not in hidden], graph.edges)


def engine_graph(graph: Graph | None, follow: Sequence[str] = ()) -> Graph | None:
    """The graph to hand to the engine for a send (or its plan): the window's, where every node the
    engine reads is a full node. The context it builds walks the ancestors of the cards the send
    follows (every incoming edge, up to the roots): those are read first, in one query; every other
    card is its outline, which is all placement reads of it (id, kind, position, size). The window's
    own node objects are handed over (streaming ones carry their live text)."""
    if graph is None:
        return None
    nodes: Mapping[str, Node] = graph.nodes  # a SessionNodes in the window (see open_graph)
    if not isinstance(nodes, SessionNodes) or nodes.fully_loaded:
        return graph
    need: set[str] = set()
    stack = [i for i in follow if i in nodes]
    while stack:
        node_id = stack.pop()
        if node_id in need:
            continue
        need.add(node_id)
        stack.extend(e.parent_id for e in graph.parents(node_id) if e.parent_id not in need)
    nodes.load(need)
    view = {i: nodes.loaded(i) or o for i, o in nodes.outline.items()}
    return Graph(graph.session, view, graph.edges)  # type: ignore[arg-type]


def loaded_nodes(graph: Graph) -> list[tuple[str, Node]]:
    """The nodes the window has read (what may differ from the store: live ones), without reading."""
    nodes: Mapping[str, Node] = graph.nodes  # a SessionNodes in the window (see open_graph)
    if isinstance(nodes, SessionNodes):
        return nodes.loaded_items()
    return list(nodes.items())
