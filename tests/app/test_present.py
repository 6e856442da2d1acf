"""app.present: one rule a module for what every view says (tokens/s, the metrics line, money, status
words, provider colours)."""

from __future__ import annotations

import pytest

from app.domain import ErrorInfo, Node, NodeKind, NodeStatus, RunState, Timing, Usage
from app.present.colours import CUSTOM_COLOR, PROVIDER_COLORS, model_color, provider_color
from app.present.metrics import fmt_rate, metrics_line, tokens_per_second
from app.present.money import fmt_cost, fmt_price
from app.present.status import status_chip, status_label


def _answer(**fields) -> Node:
    fields.setdefault("status", NodeStatus.DONE)
    return Node("s", NodeKind.RESPONSE, "Hi.", model="deepseek:deepseek-flash", **fields)


def test_tokens_per_second_is_output_over_end_minus_first_token():
    node = _answer(usage=Usage(output=2), timing=Timing(ttft_ms=100, duration_ms=121),
                   meta={"tokens_per_s": 100.0})  # an earlier version's second figure is not used
    assert tokens_per_second(node) == pytest.approx(2 / 0.021)
    assert fmt_rate(tokens_per_second(node)) == "95.2 tok/s"
    assert tokens_per_second(_answer(usage=Usage(output=0), timing=Timing(100, 200))) is None
    assert tokens_per_second(_answer(usage=Usage(output=5), timing=Timing(None, 200))) is None
    assert tokens_per_second(_answer(usage=Usage(output=5), timing=Timing(200, 200))) is None
    assert fmt_rate(1234.4) == "1234 tok/s" and fmt_rate(1234.4, unit=False) == "1234" and fmt_rate(None) == "–"


def test_the_metrics_line_and_money():
    node = _answer(usage=Usage(input=1200, cached_input=300, output=2, reasoning=1),
                   timing=Timing(ttft_ms=1250, duration_ms=1271), reported_cost_usd=0.000131, finish="length")
    assert metrics_line(node) == (
        "TTFT 1.25 s · 95.2 tok/s · in 1.2k (300 cached) · out 2 (1 reasoning) · $0.000131 · finish: length"
    )
    partial = _answer(usage=Usage(input=10), cost_usd=0.5, status=NodeStatus.STOPPED)
    assert "$0.500+" in metrics_line(partial)  # no output count: the input's cost alone, a lower bound
    assert fmt_cost(None) == "–" and fmt_cost(0) == "$0" and fmt_cost(1.234) == "$1.23"
    assert fmt_price(0.075) == "0.075" and fmt_price(None) == "–"


def test_status_words_in_the_window_and_in_files():
    streaming = _answer(status=NodeStatus.STREAMING)
    streaming.run = RunState(phase="thinking")
    assert status_chip(streaming, now=0.0) == ("thinking", "thinking")
    assert status_chip(streaming) == ("interrupted", "interrupted")  # a file: nothing streams there
    assert status_chip(_answer(finish="content_filter")) == ("filtered", "filtered")
    failed = _answer(status=NodeStatus.ERROR, error=ErrorInfo("rate_limit", "slow\n down", 429))
    assert status_label(failed) == "error · rate_limit: slow down"


def test_one_colour_per_provider():
    assert provider_color("lmstudio") == PROVIDER_COLORS["lmstudio"] != provider_color("ollama")
    assert provider_color("groq") == CUSTOM_COLOR
    assert provider_color("groq", {"groq": "#123456"}) == "#123456"
    assert provider_color("groq", {"groq": "red"}) == CUSTOM_COLOR  # not a colour: ignored
    assert model_color("anthropic:claude") == PROVIDER_COLORS["anthropic"] and model_color(None) is None
