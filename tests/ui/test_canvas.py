"""Scene, view and card items built from models, without a main window (STYLE.md "Tests")."""

from __future__ import annotations

import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QGuiApplication, QImage
from PySide6.QtWidgets import QApplication

from app.domain import EdgeRole, ErrorInfo, Graph, Node, NodeKind, NodeStatus, Session, Timing, Usage
from tests.ui.conftest import send_mouse
from ui.canvas import constants as C
from ui.canvas.scene import CanvasScene
from ui.canvas.view import CanvasView
from ui.export_png import default_style, render_png

ANSWER = """## Heading

Some text with a [link](https://example.com/page) and 中文 and emoji 😀.

```python
def f(x):
    return x * 2
```

| a | b |
|---|---|
| 1 | 2 |

```bash
echo second block
```
"""

LONG = "\n\n".join(f"Paragraph {i}: " + "word " * 60 for i in range(40))


@pytest.fixture
def qapp_offscreen(qapp):
    qapp.setQuitOnLastWindowClosed(False)
    return qapp


def make_graph() -> Graph:
    session = Session(title="t")
    g = Graph(session=session)
    prompt = g.add(Node(session.id, NodeKind.PROMPT, "Question?", x=0, y=0))
    models = ["deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"]
    for i, model in enumerate(models):
        n = g.add(
            Node(
                session.id,
                NodeKind.RESPONSE,
                ANSWER,
                model=model,
                x=i * 508.0 - 508.0,
                y=202.0,
                reasoning="Thinking about it.",
                usage=Usage(input=20, output=120, reasoning=10),
                timing=Timing(ttft_ms=300, duration_ms=1500),
                cost_usd=0.0012,
            )
        )
        g.link(prompt.id, n.id, EdgeRole.REPLY)
    return g


def build(graph: Graph, theme: str = "light") -> tuple[CanvasScene, CanvasView]:
    scene = CanvasScene(default_style(theme))
    for node in graph.nodes.values():
        scene.add_card(node)
    scene.set_edges(graph.edges)
    view = CanvasView(scene)
    view.resize(1200, 800)
    view.show()
    return scene, view


def test_cards_edges_and_geometry(qapp_offscreen):
    g = make_graph()
    scene, view = build(g)
    assert len(scene.cards()) == 4 and len(scene.edge_keys()) == 3
    for card in scene.cards():
        node = g.nodes[card.node_id]
        assert (card.pos().x(), card.pos().y()) == (node.x, node.y)
        if node.is_answer:
            assert card.card_width == 460.0
            assert card.card_height <= 560.0  # never taller than the layout's row height
            assert card.code_block_count() == 2 and card.code_copy_count() >= 1
            assert card.metrics_text.startswith("TTFT 300 ms")
            assert "in 20" in card.metrics_text and "out 120 (10 reasoning)" in card.metrics_text
            assert "中文" in card.body_text and "😀" in card.body_text
    # edges follow a moved card
    card = scene.cards()[1]
    edge = next(i for i in scene.items() if type(i).__name__ == "EdgeItem" and i.child_id == card.node_id)
    before = edge.boundingRect()
    card.setPos(card.pos() + QPointF(300, 200))
    assert edge.boundingRect() != before
    view.close()


def test_long_answer_scrolls_inside_its_card(qapp_offscreen):
    g = make_graph()
    node = next(n for n in g.nodes.values() if n.is_answer)
    node.text = LONG
    scene, view = build(g)
    card = scene.card(node.id)
    assert card.card_height <= 560.0
    assert card.can_scroll()
    # a wheel over the card scrolls its body, not the canvas zoom
    zoom = view.zoom()
    view.centerOn(card.sceneBoundingRect().center())
    pos = view.mapFromScene(card.sceneBoundingRect().center())
    from PySide6.QtGui import QWheelEvent

    event = QWheelEvent(
        QPointF(pos),
        QPointF(view.viewport().mapToGlobal(pos)),
        QPoint(0, 0),
        QPoint(0, -120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)
    assert card.body_scroll() > 0 and view.zoom() == zoom
    # over empty space the wheel zooms to the cursor
    empty = view.mapFromScene(QPointF(-2000, -2000))
    view.centerOn(QPointF(-2000, -2000))
    empty = view.mapFromScene(QPointF(-2000, -2000))
    before_scene = view.mapToScene(empty)
    event = QWheelEvent(
        QPointF(empty),
        QPointF(view.viewport().mapToGlobal(empty)),
        QPoint(0, 0),
        QPoint(0, 120),
        Qt.MouseButton.NoButton,
        Qt.KeyboardModifier.NoModifier,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(view.viewport(), event)
    assert view.zoom() > zoom
    after_scene = view.mapToScene(empty)
    assert abs(after_scene.x() - before_scene.x()) < 3 and abs(after_scene.y() - before_scene.y()) < 3
    view.close()


@pytest.mark.parametrize(
    "zoom",
    [C.LOD_TEXT_MIN * 0.5, 0.1],  # rounded low-detail cards; square ones (corners under 1.5 px)
    ids=["low-detail", "tiny"],
)
def test_level_of_detail_when_zoomed_out(qapp_offscreen, zoom):
    g = make_graph()
    scene, view = build(g)
    view.fit_all()
    full = view.grab().toImage()
    view.set_viewport(250, 400, zoom)
    QApplication.processEvents()
    far = view.grab().toImage()
    assert isinstance(full, QImage) and isinstance(far, QImage)
    # zoomed far out the cards are drawn as coloured blocks: the provider colour dominates their area
    card = next(c for c in scene.cards() if g.nodes[c.node_id].model == "deepseek:deepseek-flash")
    centre = view.mapFromScene(card.sceneBoundingRect().center())
    pixel = QColor(far.pixel(centre.x(), centre.y()))
    stripe = card.stripe_color
    # (the overview's light tint of #4D6BFE has saturation 20; a grey or white card has none)
    assert abs(pixel.hue() - stripe.hue()) < 25 and pixel.saturation() >= 15
    # its header bar stands out from the canvas
    rect = view.mapFromScene(card.mapRectToScene(QRectF(0, 0, card.card_width, 100))).boundingRect()
    header = QColor(far.pixel(rect.center().x(), rect.top() + 2))
    canvas = QColor(far.pixel(rect.right() + 30, rect.top() - 30))
    assert header != canvas
    view.close()


def test_keyboard_moves_selection_between_cards(qapp_offscreen):
    g = make_graph()
    scene, view = build(g)
    answers = sorted((c for c in scene.cards() if g.nodes[c.node_id].is_answer), key=lambda c: c.pos().x())
    scene.select_only([answers[0].node_id])
    assert view.move_selection(1, 0) == answers[1].node_id
    assert view.move_selection(1, 0) == answers[2].node_id
    prompt = next(c for c in scene.cards() if g.nodes[c.node_id].kind == NodeKind.PROMPT)
    assert view.move_selection(0, -1) == prompt.node_id
    assert scene.selected_ids() == [prompt.node_id]
    view.close()


def test_fit_all_and_zoom_to_selection(qapp_offscreen):
    g = make_graph()
    scene, view = build(g)
    view.fit_all()
    visible = view.visible_scene_rect()
    assert visible.contains(scene.cards_bounds())
    one = scene.cards()[2]
    scene.select_only([one.node_id])
    view.zoom_to_selection()
    assert view.visible_scene_rect().contains(one.sceneBoundingRect().center())
    assert view.zoom() > 0.9
    view.close()


def test_code_copy_buttons_and_links(qapp_offscreen, qtbot):
    g = make_graph()
    scene, view = build(g)
    card = next(c for c in scene.cards() if g.nodes[c.node_id].is_answer)
    seen = []
    scene.card_action_requested.connect(lambda nid, action, arg: seen.append((nid, action, arg)))
    card.activate("copy_code:1")
    assert seen[-1] == (card.node_id, "copy_code", 1)
    # a link in the body is reported with its URL, for the controller to confirm
    body = card._state.body_rect
    hits = (
        QPointF(body.left() + x, body.top() + y)
        for y in range(0, int(body.height()), 3)
        for x in range(0, int(body.width()), 4)
    )
    pos = next(p for p in hits if card.hit_test(p).startswith("link:"))
    assert card.hit_test(pos) == "link:https://example.com/page"
    card.activate(card.hit_test(pos))
    assert seen[-1] == (card.node_id, "open_link", "https://example.com/page")
    view.close()


def test_error_and_interrupted_cards_explain_next_step(qapp_offscreen):
    session = Session()
    g = Graph(session=session)
    bad = g.add(
        Node(
            session.id,
            NodeKind.RESPONSE,
            "",
            model="anthropic:claude-sonnet-5-5",
            status=NodeStatus.ERROR,
            error=ErrorInfo("auth", "invalid x-api-key", 401),
        )
    )
    cut = g.add(
        Node(
            session.id,
            NodeKind.RESPONSE,
            "half an answer",
            model="openai:gpt-6.2-sol",
            status=NodeStatus.INTERRUPTED,
            x=600,
        )
    )
    scene, view = build(g)
    bad_card, cut_card = scene.card(bad.id), scene.card(cut.id)
    assert "open_settings" in bad_card.button_actions()
    assert "Anthropic rejected the API key" in bad_card.error_text
    assert (
        "Open Settings" in bad_card.error_text
        or "Settings" in bad_card.error_text
    )
    assert cut_card.status_text == "interrupted" and "retry" in cut_card.button_actions()
    assert "half an answer" in cut_card.body_text
    assert "HTTP 401: invalid x-api-key" in bad_card.error_text
    view.close()


def test_error_card_never_repeats_the_http_status(qapp_offscreen):
    session = Session()
    g = Graph(session=session)
    node = g.add(Node(session.id, NodeKind.RESPONSE, "", model="deepseek:deepseek-flash", status=NodeStatus.ERROR,
                      error=ErrorInfo("auth", "HTTP 401: Authentication Fails — check the key", 401)))
    scene, view = build(g)
    text = scene.card(node.id).error_text
    assert text.count("HTTP 401") == 1 and "Authentication Fails" in text
    view.close()


def test_dark_theme_cards_are_dark(qapp_offscreen):
    g = make_graph()
    scene, view = build(g, theme="dark")
    view.fit_all()
    image = view.grab().toImage()
    card = next(c for c in scene.cards() if g.nodes[c.node_id].is_answer)
    corner = view.mapFromScene(card.mapToScene(QPointF(card.card_width - 20, card.card_height - 40)))
    assert QColor(image.pixel(corner.x(), corner.y())).lightness() < 80
    bg = view.mapFromScene(QPointF(-3000, -3000))
    view.centerOn(QPointF(-3000, -3000))
    image = view.grab().toImage()
    bg = view.mapFromScene(QPointF(-3000, -3000))
    assert QColor(image.pixel(bg.x(), bg.y())).lightness() < 60
    view.close()


def test_render_png_of_a_graph_and_a_selection(qapp_offscreen, tmp_path):
    g = make_graph()
    out = render_png(g, tmp_path / "all.png")
    image = QImage(str(out))
    assert image.width() > 1500 and image.height() > 500
    one = next(n.id for n in g.nodes.values() if n.is_answer)
    part = QImage(str(render_png(g, tmp_path / "one.png", selection=[one])))
    assert 0 < part.width() < image.width()


def test_minimap_click_moves_the_view(qapp_offscreen):
    g = make_graph()
    scene, view = build(g)
    view.set_viewport(-5000, -5000, 1.0)
    minimap = view.minimap
    target = QPoint(minimap.width() // 2, minimap.height() // 2)
    send_mouse(minimap, QEvent.Type.MouseButtonPress, target)
    c = view.center()
    assert abs(c.x()) < 3000 and abs(c.y()) < 3000
    view.close()
    assert QGuiApplication.instance() is not None


def test_a_server_that_closed_before_any_text_is_not_called_unreachable(qapp_offscreen):
    """After the retries, a stream cut before its first token (reached, then closed) says so; it does not
    claim the provider could not be reached."""
    from app.events import NO_TEXT

    session = Session()
    g = Graph(session=session)
    node = g.add(Node(session.id, NodeKind.RESPONSE, "", model="openai:gpt-6.2-sol", status=NodeStatus.ERROR,
                      error=ErrorInfo("network", f"{NO_TEXT} — check the base URL, then Retry (already retried 2×)")))
    scene, view = build(g)
    text = scene.card(node.id).error_text
    assert "Could not reach" not in text
    assert "closed the connection before any text arrived" in text
    assert "already retried 2×" in text
    view.close()
