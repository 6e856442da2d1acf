"""Large sessions open lazily (CanvasScene.populate): what a user sees must not change.

Cards far from the view have no item, or an item without text documents; a card brought into view
shows its full text at its exact height, its edges follow that height, the minimap shows every card
and clicking it moves there. No timings here (bench/bench_canvas.py measures those).
"""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPoint, QRectF
from PySide6.QtGui import QColor
from PySide6.QtWidgets import QApplication

from app.domain import Edge, EdgeRole, Graph, Node, NodeKind, NodeStatus, Session, Usage
from tests.ui.conftest import send_mouse
from ui.canvas import constants as C
from ui.canvas.scene import CanvasScene
from ui.canvas.view import CanvasView
from ui.export_png import default_style

ANSWER = """## Result {i}

Some text with a [link](https://example.com/{i}) and a list:

- one
- two

```python
def f(x):
    return x * {i}
```
"""

SHORT = "Just one line."  # much shorter than the card: its estimated height is fixed up exactly


@pytest.fixture
def qapp_offscreen(qapp):
    qapp.setQuitOnLastWindowClosed(False)
    return qapp


def big_graph(rounds: int = 60) -> Graph:
    """Rounds of a prompt and two answers, in a grid 1,600 × 900 units per round."""
    session = Session(title="big")
    g = Graph(session=session)
    previous = None
    for r in range(rounds):
        x0, y0 = (r % 10) * 1600.0, (r // 10) * 900.0
        prompt = g.add(Node(session.id, NodeKind.PROMPT, f"Question {r}?", x=x0 + 254, y=y0))
        if previous is not None:
            g.edges.append(Edge(previous.id, prompt.id, EdgeRole.FOLLOW, 0, session.id))
        first = None
        for lane in range(2):
            text = SHORT if lane == 1 else ANSWER.format(i=r)
            answer = g.add(
                Node(
                    session.id,
                    NodeKind.RESPONSE,
                    text,
                    model="anthropic:claude-sonnet-5-5",
                    status=NodeStatus.DONE,
                    usage=Usage(input=10, output=20),
                    x=x0 + lane * 508.0,
                    y=y0 + 200.0,
                )
            )
            g.edges.append(Edge(prompt.id, answer.id, EdgeRole.REPLY, 0, session.id))
            first = first or answer
        previous = first
    return g


def open_lazily(g: Graph, x: float = 700.0, y: float = 400.0, zoom: float = 1.0):
    scene = CanvasScene(default_style())
    view = CanvasView(scene)
    view.resize(1200, 800)
    view.show()
    scene.populate(g.nodes.values(), g.edges)
    view.set_viewport(x, y, zoom)
    return scene, view


def eager_twin(g: Graph) -> CanvasScene:
    """The same cards built the old way (every document at once), to compare against."""
    scene = CanvasScene(default_style())
    for node in g.nodes.values():
        scene.add_card(node)
    scene.set_edges(g.edges)
    return scene


def in_view(scene: CanvasScene, view: CanvasView) -> list:
    visible = view.visible_scene_rect()
    return [c for c in scene._cards.values() if c.sceneBoundingRect().intersects(visible)]


def test_cards_far_away_are_not_made_and_cards_off_screen_have_no_documents(qapp_offscreen):
    g = big_graph()
    scene, view = open_lazily(g)
    shown = in_view(scene, view)
    assert shown and all(c.has_documents for c in shown)
    assert 0 < scene.pending_count() < len(g.nodes)
    far = max(g.nodes.values(), key=lambda n: n.x + n.y)
    assert scene.made_card(far.id) is None
    # made as a neighbour (so its edge shows) but off screen: no documents yet
    visible = view.visible_scene_rect()
    off = [c for c in scene._cards.values() if not c.sceneBoundingRect().intersects(visible)]
    assert off and not any(c.has_documents for c in off)
    # every card and edge is still part of the canvas
    assert len(scene.card_ids()) == len(g.nodes)
    assert len(scene.edge_keys()) == len(g.edges)
    view.close()


def test_a_card_scrolled_into_view_shows_its_text_at_its_exact_height(qapp_offscreen):
    g = big_graph()
    scene, view = open_lazily(g)
    twin = eager_twin(g)
    target = next(n for n in g.nodes.values() if n.text == ANSWER.format(i=57))
    assert scene.made_card(target.id) is None
    view.set_viewport(target.x + 230, target.y + 200, 1.0)
    card = scene.made_card(target.id)
    assert card is not None and card.has_documents  # built before the view paints
    assert "return x * 57" in card.body.doc.plain_text()
    assert card.layout_height == twin.card(target.id).card_height
    assert card.code_block_count() == 1
    view.close()


def test_estimated_heights_are_fixed_up_and_edges_follow(qapp_offscreen):
    g = big_graph()
    scene, view = open_lazily(g)
    twin = eager_twin(g)
    short = [n for n in g.nodes.values() if n.text == SHORT]
    far_short = max(short, key=lambda n: n.x + n.y)
    card = scene.card(far_short.id)  # asking for a card makes it (without documents)
    assert card is not None and not card.has_documents
    assert scene.made_card(far_short.id) is card
    view.set_viewport(far_short.x + 230, far_short.y + 100, 1.0)
    assert card.has_documents
    assert card.layout_height == twin.card(far_short.id).card_height
    assert SHORT in card.body_text
    # the edge into it ends where the eagerly built one does: on the card's top edge, as laid out now
    prompt_id = next(e.parent_id for e in g.edges if e.child_id == far_short.id)
    key = (prompt_id, far_short.id, "reply")
    scene.card(prompt_id)
    edge = scene.edges.items[key]
    assert edge.boundingRect() == twin.edges.items[key].boundingRect()
    view.close()


def test_zoomed_out_cards_draw_without_documents(qapp_offscreen):
    g = big_graph()
    scene, view = open_lazily(g, 7000, 2500, C.LOD_TEXT_MIN / 2)
    shown = in_view(scene, view)
    assert len(shown) > 20
    assert not any(c.has_documents for c in shown)
    image = view.grab().toImage()  # paints (low detail) without building any
    assert image.width() > 0
    assert not any(c.has_documents for c in in_view(scene, view))
    view.close()


def test_documents_far_away_are_dropped_and_heights_stay(qapp_offscreen, qtbot, monkeypatch):
    monkeypatch.setattr(C, "MAX_DETAILED", 4)
    g = big_graph()
    scene, view = open_lazily(g)
    first = [c for c in in_view(scene, view) if c.has_documents]
    heights = {c.node_id: c.layout_height for c in first}
    view.set_viewport(14_000, 4_500, 1.0)
    qtbot.waitUntil(lambda: not any(c.has_documents for c in first), timeout=5000)
    assert {c.node_id: c.layout_height for c in first} == heights
    view.set_viewport(700, 400, 1.0)  # back: built again, same text
    assert all(c.has_documents for c in first)
    assert any("Question 0?" in c.body_text for c in first)
    view.close()


def test_the_rest_is_made_only_when_reached_or_asked_for(qapp_offscreen, qtbot):
    g = big_graph()
    scene, view = open_lazily(g)
    made = len(scene._cards)
    qtbot.wait(300)  # idle: only a ring around the view is made ahead of a pan, never the session
    assert made <= len(scene._cards) < len(g.nodes) and scene.pending_count() > 0
    view.close()
    scene2, view2 = open_lazily(g)
    scene2.select_only(scene2.card_ids())  # select all reaches cards not made yet
    assert len(scene2.selected_ids()) == len(g.nodes)
    assert len(scene2.cards()) == len(g.nodes) and scene2.pending_count() == 0
    view2.close()


def test_minimap_shows_every_card_and_click_pans_there(qapp_offscreen):
    g = big_graph()
    scene, view = open_lazily(g)
    minimap = view.minimap
    first = minimap.grab().toImage()  # the first frame: frame and view rectangle, the picture follows
    QApplication.processEvents()
    image = minimap.grab().toImage()
    assert image != first
    stripe = QColor(scene.style.provider_color("anthropic"))
    bounds = scene.cards_bounds()
    world, scale, offset = minimap._mapping()

    def coloured_near(x: float, y: float) -> bool:
        px, py = round(x * scale + offset.x()), round(y * scale + offset.y())
        for dx in range(-2, 3):
            for dy in range(-2, 3):
                c = image.pixelColor(px + dx, py + dy)
                if abs(c.hue() - stripe.hue()) < 12 and c.saturation() > 40:
                    return True
        return False

    far = max(g.nodes.values(), key=lambda n: n.x + n.y)
    assert scene.made_card(far.id) is None
    assert coloured_near(far.x + 100, far.y + 100)  # a card not made yet is on the map
    assert bounds.contains(QRectF(far.x, far.y, 10, 10))
    # click where that card is on the map: the view moves there and shows it with its text
    target = QPoint(round((far.x + 230) * scale + offset.x()), round((far.y + 100) * scale + offset.y()))
    send_mouse(minimap, QEvent.Type.MouseButtonPress, target)
    card = scene.made_card(far.id)
    assert card is not None and card.has_documents
    assert view.visible_scene_rect().intersects(card.sceneBoundingRect())
    view.close()


def test_arrow_keys_reach_cards_not_made_yet(qapp_offscreen):
    g = big_graph()
    scene, view = open_lazily(g)
    start = next(n for n in g.nodes.values() if n.kind == NodeKind.PROMPT)
    scene.select_only([start.id])
    reached = set()
    for _ in range(12):
        node_id = view.move_selection(1, 0)
        assert node_id is not None
        reached.add(node_id)
    rightmost = max(reached, key=lambda i: g.nodes[i].x)
    assert g.nodes[rightmost].x > 8000  # well past what was made when the session opened
    assert scene.selected_ids() == [node_id]
    view.close()
