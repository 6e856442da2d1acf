"""What a failed or filtered answer's card says, for the fake server's misbehaving models."""

from __future__ import annotations

from app.domain import NodeStatus
from tests.ui import hands
from tests.ui.conftest import cards_of, open_window, wait_until

GARBAGE, TRUNCATED, FILTERED = "openai:garbage", "openai:truncated", "openai:filtered"


async def _send(window, models: list[str]) -> dict:
    window.composer.set_models(models)
    hands.send(window, "Tell me something")
    graph = window.controller.graph
    await wait_until(
        lambda: sum(1 for n in graph.nodes.values() if n.is_answer and not n.status.is_live) == len(models),
        15,
        "every answer ended",
    )
    window.controller.flush_repaints()
    return {graph.nodes[c.node_id].model: c for c in cards_of(window) if graph.nodes[c.node_id].is_answer}


async def test_unreadable_data_and_a_cut_stream_are_told_apart_and_said_once(app_env, fake_server):
    async with open_window() as (window, _services):
        cards = await _send(window, [GARBAGE, TRUNCATED])
        garbage, truncated = cards[GARBAGE], cards[TRUNCATED]
        assert garbage.status_text == truncated.status_text == "error"
        # invalid JSON: the headline says the data could not be read, as the detail does
        text = garbage.error_text
        assert text.startswith("The provider sent data Triptych could not read."), text
        assert "connection closed" not in text.lower()
        assert "invalid JSON" in text
        assert "open_settings" in garbage.button_actions()
        # a stream that ended without its last event: said once, the text so far kept
        text = truncated.error_text
        assert text.lower().count("connection closed mid-answer") == 1, text
        assert text.count("the text so far is kept") == 1, text
        assert truncated.body_text.strip()


async def test_a_content_filtered_answer_has_an_amber_filtered_badge_and_keeps_its_text(app_env, fake_server):
    async with open_window() as (window, _services):
        cards = await _send(window, [FILTERED])
        card = cards[FILTERED]
        node = window.controller.graph.nodes[card.node_id]
        assert node.status == NodeStatus.DONE and node.finish == "content_filter"
        assert card.status_text == "filtered"
        # amber (light or dark theme), not the green of a plain "done"
        assert card.status_color.name().lower() in ("#b45309", "#fbbf24"), card.status_color.name()
        assert "can't help" in card.body_text
