"""Where new cards land (issue #12, 8): next to the card they come from, on free canvas, with no edge
through an unrelated card, without the user having to tidy up."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QSizeF, Qt
from PySide6.QtTest import QTest

from app.domain import NodeStatus
from tests.ui.conftest import cards_of, open_window, wait_until


def _rect(card) -> QRectF:
    return QRectF(card.pos(), QSizeF(card.boundingRect().width() - 2 * 4.0, card.card_height))


def _all_done(window) -> bool:
    nodes = window.controller.graph.nodes
    return all(not nodes[c.node_id].status.is_live and "stop" not in c.button_actions()
               for c in cards_of(window) if nodes[c.node_id].is_answer)


def click_button(window, card, action: str) -> None:
    """Click the card's button at its on-screen position (scrolling the canvas to it first)."""
    rect = card.button_rect(action)
    assert rect is not None, f"{action} not among {card.button_actions()}"
    window.view.centerOn(card.mapToScene(rect.center()))
    pos = window.view.mapFromScene(card.mapToScene(rect.center()))
    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)


def send(window, text: str | None = None) -> None:
    if text is not None:
        window.composer.edit.selectAll()
        QTest.keyClicks(window.composer.edit, text)
    QTest.keyClick(window.composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)


def _related(graph, a: str, b: str) -> bool:
    return any({e.parent_id, e.child_id} == {a, b} for e in graph.edges)


def assert_tidy(window, new_ids: list[str]) -> None:
    graph = window.controller.graph
    cards = {c.node_id: c for c in cards_of(window)}
    rects = {i: _rect(c) for i, c in cards.items()}
    ids = list(rects)
    for n, a in enumerate(ids):
        for b in ids[n + 1:]:
            assert not rects[a].intersects(rects[b]), f"cards overlap: {graph.nodes[a]} and {graph.nodes[b]}"
    for edge in window.scene.items():
        if not hasattr(edge, "child_id") or not hasattr(edge, "shape"):
            continue
        path = edge.shape()
        for i, r in rects.items():
            if i in (edge.parent_id, edge.child_id):
                continue
            assert not path.intersects(r.adjusted(2, 2, -2, -2)), \
                f"the {edge.role} edge into {graph.nodes[edge.child_id]} passes through {graph.nodes[i]}"
    for i in new_ids:
        parents = [graph.nodes[e.parent_id] for e in graph.parents(i) if e.parent_id in rects]
        if not parents:
            continue
        child, parent = rects[i], rects[parents[0].id]
        gap_below = child.top() - parent.bottom()
        assert 0 < gap_below <= 200, f"{graph.nodes[i]} is {gap_below:.0f} below its parent"
        siblings = len(graph.children(parents[0].id))
        assert abs(child.center().x() - parent.center().x()) <= siblings * (child.width() + 48) + 1, \
            f"{graph.nodes[i]} is far from its parent horizontally"


async def test_new_cards_land_next_to_their_parent_on_free_canvas(app_env, fake_server):
    async with open_window() as (window, _services):
        send(window, "Compare three sorting algorithms")
        await wait_until(lambda: len(cards_of(window, "response")) == 3 and _all_done(window), 15, "fan-out")
        first_prompt = cards_of(window, "prompt")[0]
        a, b, c = sorted(cards_of(window, "response"), key=lambda x: x.pos().x())
        before = set(window.controller.graph.nodes)

        # continue the middle lane, asking every model (a row of three under it)
        click_button(window, b, "continue")
        window.composer.shared_button.click()
        send(window, "Go deeper")
        await wait_until(lambda: len(cards_of(window, "response")) == 6 and _all_done(window), 15, "follow-up")
        # then the left lane: its turn cannot go straight under it (that row is taken)
        click_button(window, a, "continue")
        send(window, "And this one?")
        await wait_until(lambda: len(cards_of(window, "response")) == 7 and _all_done(window), 15, "lane follow-up")

        # branch the first prompt
        click_button(window, first_prompt, "branch")
        assert window.composer.text() == "Compare three sorting algorithms"
        send(window, "Compare three searching algorithms")
        await wait_until(lambda: len(cards_of(window, "response")) == 10 and _all_done(window), 15, "branch")

        # re-run a card of the first fan-out
        click_button(window, c, "retry")
        await wait_until(lambda: len(cards_of(window, "response")) == 11 and _all_done(window), 15, "re-run")

        graph = window.controller.graph
        new = [i for i in graph.nodes if i not in before]
        assert len(new) == 4 + 2 + 4 + 1
        assert_tidy(window, new)
        # the branch sits beside the prompt it branches, not under every other card
        branch = next(cards[0] for cards in [[x for x in cards_of(window, "prompt")
                                              if "searching" in graph.nodes[x.node_id].text]])
        assert abs(branch.pos().y() - first_prompt.pos().y()) < 1
        assert graph.nodes[b.node_id].status == NodeStatus.DONE
