"""Opening a big session makes cards only for what the view shows, reading only those cards' text
from the store (ui/canvas/loader.py, Repository.nodes_in_rect); panning and zooming with the mouse
and the keyboard bring in the rest; the whole session stays visible to search, select-all and
exports through the session model."""

from __future__ import annotations

from PySide6.QtCore import QPoint, QRectF

from app.domain import Viewport
from bench.common import write_session
from tests.ui import hands
from tests.ui.conftest import open_window, wait_until

CARDS = 3_000


def _made_ids(window) -> set[str]:
    return {i for i in window.scene.card_ids() if window.scene.made_card(i) is not None}


def _prepare(home, x: float, y: float, zoom: float) -> None:
    from storage import open_store

    graph = write_session(home, CARDS)
    with open_store(home) as repo:
        session = repo.get_session(graph.session.id)
        session.viewport = Viewport(x, y, zoom)
        repo.update_session(session)


def vp_half(window) -> int:
    return window.view.viewport().width() // 2 - 10


def _empty_point_right(window) -> QPoint:
    """A viewport point with no card under it, in the right part of the view (room to drag left)."""
    vp = window.view.viewport()
    for x in range(vp.width() - 12, 300, -16):
        for y in range(12, vp.height() - 12, 16):
            p = QPoint(x, y)
            if window.view._card_at(p) is None and vp.childAt(p) is None:
                return p
    raise AssertionError("no empty spot on the right of the view")


async def test_a_big_session_opens_with_the_view_only_and_panning_brings_in_the_rest(app_env):
    _prepare(app_env, 100.0, 50.0, 1.0)
    async with open_window() as (window, services):
        reads: list[str] = []
        load_graph = services.repo.load_graph
        services.repo.load_graph = lambda sid: (reads.append(sid), load_graph(sid))[1]
        window.controller.open_initial_session()
        await wait_until(lambda: window.scene.card_ids(), 5, "the session registered")
        scene, view, nodes = window.scene, window.view, window.controller.graph.nodes
        assert len(scene.card_ids()) == CARDS == len(nodes)  # every card is part of the canvas
        assert not reads  # no whole-session read: the cards in view were read by their place
        made = _made_ids(window)
        read = {i for i, _ in nodes.loaded_items()}
        assert 0 < len(made) < CARDS / 10 and len(read) < CARDS / 10, (len(made), len(read))
        visible = view.visible_scene_rect()
        ring = visible.adjusted(-visible.width(), -visible.height(), visible.width(), visible.height())
        assert all(scene.made_card(i).sceneBoundingRect().intersects(ring) for i in made)
        # a card some views to the right: not made, not read
        centre = visible.center()
        target = min(
            (o for o in nodes.outline.values() if o.x > visible.right() + 2 * visible.width()),
            key=lambda o: abs(o.y - centre.y()) + o.x,
        )
        assert scene.made_card(target.id) is None and nodes.loaded(target.id) is None
        # drag the canvas leftwards from an empty spot until the card is in view
        for _ in range(12):
            if view.visible_scene_rect().intersects(QRectF(target.x, target.y, target.w, target.h)):
                break
            start = _empty_point_right(window)
            hands.drag(window, start, QPoint(20, start.y()))
        await wait_until(
            lambda: scene.made_card(target.id) is not None, 3, "the card reached by the pan made"
        )
        card = scene.made_card(target.id)
        assert nodes.loaded(target.id) is not None and card.node_id == target.id
        assert len(_made_ids(window)) < CARDS / 5  # only what the view reached
        # zooming out with the keyboard: cards still readable come in, too small ones are not made
        hands.focus(view)
        before = len(_made_ids(window))
        hands.press_keys(view, "Ctrl+-")
        await wait_until(lambda: len(_made_ids(window)) > before, 3, "cards of the wider view made")
        for _ in range(20):
            hands.press_keys(view, "Ctrl+-")
        count = len(_made_ids(window))
        image = view.viewport().grab().toImage()  # paints every card of the view (as blocks)
        assert image.width() > 0 and len(_made_ids(window)) == count < CARDS / 2
        # the whole session is still there for the model: select all reaches every card, without
        # making them; a card made later comes selected
        hands.press_keys(view, "Ctrl+A")
        await wait_until(lambda: len(window.scene.selected_ids()) == CARDS, 5, "every card selected")
        assert len(_made_ids(window)) == count
        far = next(i for i in scene.card_ids() if scene.made_card(i) is None)
        assert scene.card(far).isSelected()
        assert not reads


async def test_a_follow_up_in_a_big_session_sends_its_lane_without_reading_the_session(app_env, fake_server):
    _prepare(app_env, 100.0, 50.0, 1.0)
    async with open_window() as (window, services):
        scene, nodes = window.scene, window.controller.graph.nodes
        graph = window.controller.graph
        # an answer in view, deep in its lane: its ancestors (the lane above it) are mostly not read
        answers = [
            i for i in scene.card_ids()
            if scene.made_card(i) is not None and nodes.outline[i].model and graph.parents(i)
        ]  # fmt: skip
        target = answers[0]
        lane, cur = [], target
        while True:
            ups = graph.parents(cur)
            if not ups:
                break
            cur = ups[0].parent_id
            lane.append(cur)
        root = lane[-1]
        assert len(lane) > 4 and nodes.loaded(root) is None
        reads: list[str] = []
        load_graph = services.repo.load_graph
        services.repo.load_graph = lambda sid: (reads.append(sid), load_graph(sid))[1]
        hands.click_card(window, target)
        assert window.controller.follow_ids() == [target]
        before = len(fake_server.requests)
        hands.send(window, "And then?")
        await wait_until(
            lambda: [r for r in fake_server.requests[before:] if r.fmt != "models"], 5, "the follow-up sent"
        )
        assert not reads  # the lane was read by its ids, not the whole session
        sent = [r for r in fake_server.requests[before:] if r.fmt != "models"]
        body = str(sent[0].body)
        assert nodes[root].text.split(":")[0] in body and "And then?" in body  # the lane's first question
        assert not nodes.fully_loaded


async def test_a_session_with_files_and_far_cards_reopens_with_its_thumbnails(app_env):
    """A restart opened no window at all when a card lay outside the first view (the outline had no
    files for placement's height), and prompts read by the view lost their files."""
    from app.attachments import attachment_from_bytes
    from app.domain import Node, NodeKind, Session
    from storage import open_store
    from tests.attach_samples import png

    chart = attachment_from_bytes("chart.png", png(40, 30))
    with open_store(app_env) as repo:
        session = repo.create_session(Session(title="files"))
        prompt = Node(session.id, NodeKind.PROMPT, "What does this chart show?", x=0.0, y=0.0, attachments=[chart])
        near = Node(session.id, NodeKind.RESPONSE, "A rising line.", model="openai:gpt-6.2-sol", x=0.0, y=420.0)
        far = Node(session.id, NodeKind.RESPONSE, "Far away.", model="openai:gpt-6.2-sol", x=9000.0, y=7000.0)
        repo.add_nodes([prompt, near, far])
        session.viewport = Viewport(-40.0, -40.0, 1.0)
        repo.update_session(session)
    async with open_window() as (window, _services):
        window.controller.open_initial_session()
        await wait_until(lambda: window.scene.made_card(prompt.id) is not None, 5, "the prompt card made")
        card = window.scene.made_card(prompt.id)
        assert [a.sha256 for a in card._node.attachments] == [chart.sha256]
        assert window.scene.made_card(far.id) is None  # out of view: not made, yet placed with its size
        assert far.id in window.scene.card_ids()
