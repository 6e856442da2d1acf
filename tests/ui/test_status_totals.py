"""The status bar's session totals as a user reads them after sending."""

from __future__ import annotations

from tests.ui import hands
from tests.ui.conftest import open_window, wait_until

# the second is not in the catalog and its provider reports no cost
PRICED, UNPRICED = "deepseek:deepseek-flash", "openai:some-new-model"


async def test_the_session_cost_says_plus_when_an_answer_has_no_known_price(app_env, fake_server):
    async with open_window() as (window, _services):
        window.composer.set_models([PRICED, UNPRICED])
        hands.send(window, "What is 2 + 2?")
        graph = window.controller.graph
        await wait_until(
            lambda: sum(1 for n in graph.nodes.values() if n.is_answer and not n.status.is_live) == 2,
            15,
            "both answers",
        )
        costs = {n.model: n.cost_usd for n in graph.nodes.values() if n.is_answer}
        assert costs[PRICED] is not None and costs[UNPRICED] is None
        # the label follows the last answer's end (its totals are read from the store)
        await wait_until(lambda: window.totals_label.text().endswith("+"), 5, "a '+' after the session cost")
        text = window.totals_label.text()
        assert text.startswith("Session: in ") and "$" in text and "out 0 " not in text, text
        assert "cost is unknown" in window.totals_label.toolTip()


async def test_the_session_cost_has_no_plus_when_every_price_is_known(app_env, fake_server):
    async with open_window() as (window, _services):
        window.composer.set_models([PRICED])
        hands.send(window, "What is 2 + 2?")
        graph = window.controller.graph
        await wait_until(
            lambda: any(n.is_answer and not n.status.is_live for n in graph.nodes.values()), 15, "the answer"
        )
        await wait_until(lambda: "out 0 " not in window.totals_label.text(), 5, "the answer in the totals")
        assert "$" in window.totals_label.text()
        assert not window.totals_label.text().endswith("+") and window.totals_label.toolTip() == ""
