"""Cost what-if (app.whatif): the catalog's prices applied by hand to recorded token counts."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from app.catalog import load_catalog
from app.domain import EdgeRole, Graph, Node, NodeKind, Session, Usage
from app.whatif import NOTE, cost_whatif, whatif_json

OFF_PEAK = datetime(2026, 12, 7, 12, 0, tzinfo=UTC).timestamp()  # 12:00 UTC: DeepSeek off-peak
PEAK = datetime(2026, 12, 7, 2, 0, tzinfo=UTC).timestamp()  # 02:00 UTC: DeepSeek peak


def _graph(at: float = OFF_PEAK) -> tuple[Graph, Node, Node, Node]:
    g = Graph(Session(title="t"))
    sid = g.session.id
    p = g.add(Node(sid, NodeKind.PROMPT, "q", created_at=at))
    a = g.add(Node(sid, NodeKind.RESPONSE, "a", model="openai:gpt-6.2-sol", created_at=at, cost_usd=0.01,
                   usage=Usage(input=1000, cached_input=200, output=500, reasoning=100)))
    b = g.add(Node(sid, NodeKind.RESPONSE, "b", model="anthropic:claude-sonnet-5-5", created_at=at,
                   cost_usd=0.02, usage=Usage(input=3000, cache_write=1000, output=2000)))
    g.link(p.id, a.id, EdgeRole.REPLY)
    g.link(p.id, b.id, EdgeRole.REPLY)
    return g, p, a, b


def _row(result, model):
    return next(r for r in result.rows if r.model == model)


def test_every_priced_model_is_priced_by_hand_cheapest_first():
    cat = load_catalog()
    g, _p, _a, _b = _graph()
    result = cost_whatif(g, cat)
    priced = {m.ref for m in cat.models() if m.price is not None}
    assert {r.model for r in result.rows} == priced
    assert [r.cost_usd for r in result.rows] == sorted(r.cost_usd for r in result.rows)
    assert result.actual_usd == pytest.approx(0.03)
    # Tokens: uncached input 800 + 2000 = 2800, cached 200, cache writes 1000, output 2500 (reasoning inside).
    # Claude Haiku 5.5: input 0.10, cached 0.01, cache write 0.125, output 0.50 per million.
    haiku = (800 * 0.10 + 200 * 0.01 + 2000 * 0.10 + 1000 * 0.125 + 500 * 0.50 + 2000 * 0.50) / 1e6
    assert _row(result, "anthropic:claude-haiku-5-5").cost_usd == pytest.approx(haiku, abs=1e-12)
    # Message Batches: half of every figure.
    assert _row(result, "anthropic:claude-haiku-5-5").batch_cost_usd == pytest.approx(haiku / 2, abs=1e-12)
    # GPT-6.2 Astra: 8 / cached 0.40 / 40, no cache-write price (writes bill as input).
    astra = (2800 * 8.0 + 200 * 0.40 + 1000 * 8.0 + 2500 * 40.0) / 1e6
    assert _row(result, "openai:gpt-6.2-astra").cost_usd == pytest.approx(astra, abs=1e-12)
    assert _row(result, "openai:gpt-6.2-astra").batch_cost_usd == pytest.approx(astra / 2, abs=1e-12)
    # DeepSeek V4.1 Flash at 12:00 UTC: the off-peak price 0.15 / cached 0.003 / 0.60; no batch API.
    flash = (2800 * 0.15 + 200 * 0.003 + 1000 * 0.15 + 2500 * 0.60) / 1e6
    row = _row(result, "deepseek:deepseek-flash")
    assert (row.cost_usd, row.off_peak_cost_usd, row.batch_cost_usd) == (
        pytest.approx(flash, abs=1e-12), pytest.approx(flash, abs=1e-12), None)
    # OpenRouter has neither a batch API nor off-peak prices.
    row = _row(result, "openrouter:openai/gpt-6.2-sol")
    assert (row.batch_cost_usd, row.off_peak_cost_usd) == (None, None)
    assert _row(result, "openai:gpt-6.2-sol").used and not _row(result, "openai:gpt-6-luna").used


def test_deepseek_at_peak_hours_costs_the_peak_price_with_the_off_peak_figure_beside():
    g, *_ = _graph(at=PEAK)
    row = _row(cost_whatif(g, load_catalog()), "deepseek:deepseek-v4-pro")
    peak = (2800 * 1.32 + 200 * 0.044 + 1000 * 1.32 + 2500 * 3.96) / 1e6
    off = (2800 * 0.66 + 200 * 0.022 + 1000 * 0.66 + 2500 * 1.98) / 1e6
    assert row.cost_usd == pytest.approx(peak, abs=1e-12)
    assert row.off_peak_cost_usd == pytest.approx(off, abs=1e-12)


def test_path_counts_only_the_answers_on_the_path():
    g, _p, a, _b = _graph()
    result = cost_whatif(g, load_catalog(), path_to=a.id)
    luna = (800 * 0.10 + 200 * 0.01 + 500 * 0.50) / 1e6
    assert _row(result, "openai:gpt-6-luna").cost_usd == pytest.approx(luna, abs=1e-12)
    assert result.actual_usd == pytest.approx(0.01)
    assert result.answers == 1


def test_json_shape_is_designs():
    g, *_ = _graph()
    doc = whatif_json(cost_whatif(g, load_catalog()))
    assert set(doc) == {"actual_usd", "rows"}
    assert all(set(r) == {"model", "cost_usd", "batch_cost_usd", "off_peak_cost_usd"} for r in doc["rows"])
    assert "tokenizers" in NOTE


def test_answers_without_token_counts_are_left_out_not_priced_as_zero_tokens():
    g, p, *_ = _graph()
    g.add(Node(g.session.id, NodeKind.RESPONSE, "c", model="local:x"))
    result = cost_whatif(g, load_catalog())
    assert (result.answers, result.unreported) == (2, 1)


def test_a_used_model_carries_what_was_spent_on_it_and_judge_answers_are_counted_apart():
    from app.whatif import answers_phrase

    g, p, a, _b = _graph()
    judge = g.add(Node(g.session.id, NodeKind.RESPONSE, "VERDICT: A", model="openai:gpt-6.2-sol", cost_usd=0.005,
                       usage=Usage(input=100, output=10), meta={"arena_judge": {"match": "m", "swapped": False}}))
    g.link(p.id, judge.id, EdgeRole.REPLY)
    result = cost_whatif(g, load_catalog())
    assert _row(result, "openai:gpt-6.2-sol").spent_usd == pytest.approx(0.015)  # its answer and the judge's
    assert _row(result, "anthropic:claude-sonnet-5-5").spent_usd == pytest.approx(0.02)
    assert _row(result, "openai:gpt-6-luna").spent_usd is None
    assert (result.answers, result.judge_answers, answers_phrase(result)) == (3, 1, "2 answers (+1 judge)")
