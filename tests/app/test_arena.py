"""The arena's pure parts (app.arena): pairing draw, identity masking, judge verdicts, Bradley–Terry."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from app.arena import (
    Comparison,
    Match,
    Vote,
    blind_sides,
    combine_judge_verdicts,
    comparisons,
    draw_pair,
    fit_bradley_terry,
    identity_names,
    identity_pattern,
    leaderboard,
    mask_identities,
    pair_key,
    pair_weights,
    parse_verdict,
    win_rate_matrix,
)
from app.catalog import load_catalog

A, B, C = "openai:gpt-6.2-sol", "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5"


# ------------------------------------------------------------------------------------------------ draw
def test_pairs_with_fewer_votes_are_drawn_more_often_by_the_documented_weights():
    counts = {pair_key(A, B): 1}  # A-B voted once: weight 1/2; A-C and B-C never: weight 1 each
    assert pair_weights([A, B, C], counts) == {pair_key(A, B): 0.5, pair_key(A, C): 1.0, pair_key(B, C): 1.0}
    rng = random.Random(7)
    n = 20_000
    drawn = [draw_pair([A, B, C], counts, rng) for _ in range(n)]
    freq = Counter(pair_key(*d) for d in drawn)
    assert freq[pair_key(A, B)] / n == pytest.approx(0.2, abs=0.015)
    assert freq[pair_key(A, C)] / n == pytest.approx(0.4, abs=0.015)
    assert freq[pair_key(B, C)] / n == pytest.approx(0.4, abs=0.015)
    # sides are a fair coin: A is on the left in about half of its matches with C
    ac = [d for d in drawn if pair_key(*d) == pair_key(A, C)]
    assert sum(1 for d in ac if d[0] == A) / len(ac) == pytest.approx(0.5, abs=0.03)
    assert all(x != y for x, y in drawn)


def test_uniform_when_every_pair_has_as_many_votes():
    counts = {pair_key(A, B): 3, pair_key(A, C): 3, pair_key(B, C): 3}
    rng = random.Random(1)
    freq = Counter(pair_key(*draw_pair([A, B, C], counts, rng)) for _ in range(9000))
    assert all(v / 9000 == pytest.approx(1 / 3, abs=0.02) for v in freq.values())


def test_a_pool_of_one_model_is_refused():
    with pytest.raises(ValueError, match="two different models"):
        draw_pair([A, A], {}, random.Random(0))


# ------------------------------------------------------------------------------------------------ masking
@pytest.fixture(scope="module")
def pattern():
    return identity_pattern(identity_names(load_catalog(), [A, B, C, "ollama:llama3.1:8b"]))


@pytest.mark.parametrize(("text", "masked"), [
    ("I am Claude, made by Anthropic.", "I am [model], made by [model]."),
    ("As an OPENAI model (gpt-6.2-sol) I think", "As an [model] model ([model]) I think"),
    ("## Answer from openai:gpt-6.2-sol", "## Answer from [model]"),
    ("routed via openrouter/anthropic/claude-sonnet-5.5.", "routed via [model]."),
    ("GPT-4o-mini and Claude-3.5-Sonnet and Qwen2.5-72B-Instruct.", "[model] and [model] and [model]."),
    ("deepseek's V4.1 Flash; DeepSeek V4.1 Flash", "[model]'s [model]; [model]"),  # a line's versioned name too
    ("Claude Sonnet 5.5 or just Sonnet 5.5", "[model] or just [model]"),
    ("Llama 3.1 by Meta AI, ChatGPT, Gemini 2.0 Pro", "[model] by [model], [model], [model] Pro"),
    ("llama3.1:8b runs locally", "[model] runs locally"),
])
def test_names_of_models_families_and_makers_are_masked(pattern, text, masked):
    assert mask_identities(text, pattern) == masked


@pytest.mark.parametrize("text", [
    "Llamas are camelids; chatgpts and gptx are not words.",
    "Write a sonnet, then a haiku, about the sun (sol) and the moon (luna).",
    "Use the Google Maps API with Meta tags.",
    "Plain text with a 4.5 GPA.",
])
def test_ordinary_words_are_left_alone(pattern, text):
    assert mask_identities(text, pattern) == text


# ------------------------------------------------------------------------------------------------ judge
@pytest.mark.parametrize(("reply", "vote"), [
    ("A is clearer.\nVERDICT: A", "a"),
    ("verdict: b", "b"),
    ("Verdict = TIE", "tie"),
    ("VERDICT: **Both bad**", "bad"),
    ("VERDICT: A\n...on reflection\nVERDICT: B", "b"),
    ("I prefer A.", None),
])
def test_verdicts_are_read_from_the_last_verdict_line(reply, vote):
    assert parse_verdict(reply) == vote


@pytest.mark.parametrize(("first", "swapped", "vote"), [
    ("a", "b", "a"),  # A first, and the same answer (now shown as B) again: A
    ("b", "a", "b"),
    ("a", "a", "tie"),  # it prefers whichever is shown first: position bias, a disagreement
    ("b", "b", "tie"),
    ("tie", "tie", "tie"),
    ("bad", "bad", "bad"),
    ("bad", "a", "tie"),
    ("a", "tie", "tie"),
])
def test_judge_votes_twice_with_sides_swapped_and_disagreement_is_a_tie(first, swapped, vote):
    assert combine_judge_verdicts(first, swapped) == vote


# ------------------------------------------------------------------------------------------------ Bradley–Terry
def _games(pairs):
    out = []
    for first, second, wins, losses in pairs:
        out += [Comparison(first, second, 1.0)] * wins + [Comparison(first, second, 0.0)] * losses
    return out


def test_bradley_terry_matches_a_hand_computed_three_model_case():
    # Strengths 2 : 1 : 0.5 predict P(X beats Y) = 2/3, P(Y beats Z) = 2/3, P(X beats Z) = 4/5. With those
    # exact win shares observed (2-1, 2-1, 4-1) the likelihood equations hold at 2 : 1 : 0.5, so that is the
    # maximum-likelihood fit; recentred to geometric mean 1 it is (2, 1, 0.5): Elo 1000 ± 400·log10(2).
    games = _games([("X", "Y", 2, 1), ("Y", "Z", 2, 1), ("X", "Z", 4, 1)])
    p = fit_bradley_terry(games, prior=0)
    assert p == pytest.approx({"X": 2.0, "Y": 1.0, "Z": 0.5}, rel=1e-8)
    board = leaderboard(games, prior=0, resamples=0)
    assert [s.model for s in board] == ["X", "Y", "Z"]
    assert [s.rating for s in board] == pytest.approx([1000 + 400 * math.log10(2), 1000, 1000 - 400 * math.log10(2)])
    assert [round(s.rating, 2) for s in board] == [1120.41, 1000.0, 879.59]
    # the default tiny prior pulls the ratings a little towards 1000 and keeps the order
    prior = leaderboard(games, resamples=0)
    assert [s.model for s in prior] == ["X", "Y", "Z"]
    assert all(abs(a.rating - b.rating) < 30 for a, b in zip(board, prior, strict=True))


def test_ties_count_half_a_win_each():
    games = [Comparison("X", "Y", 0.5)] * 4
    p = fit_bradley_terry(games, prior=0)
    assert p["X"] == pytest.approx(p["Y"])


def test_an_undefeated_model_stays_finite_with_the_prior():
    games = _games([("X", "Y", 5, 0)])
    with pytest.raises(ValueError, match="never lost"):
        fit_bradley_terry(games, prior=0)
    board = leaderboard(games, seed=3)
    assert board[0].model == "X" and math.isfinite(board[0].rating) and board[0].rating < 2000


def test_intervals_contain_the_estimate_and_are_seeded():
    games = _games([("X", "Y", 14, 6), ("Y", "Z", 12, 8), ("X", "Z", 15, 5)]) + [Comparison("X", "Z", 0.5)] * 3
    first = leaderboard(games, seed=42, resamples=200)
    assert first == leaderboard(games, seed=42, resamples=200)
    for s in first:
        assert s.ci_low < s.rating < s.ci_high
        assert s.ci_high - s.ci_low < 400
    x = next(s for s in first if s.model == "X")
    assert (x.votes, x.wins, x.losses, x.ties) == (43, 29, 11, 3)


def test_comparisons_filter_by_voter_and_tag_and_count_both_bad_as_a_tie():
    m1 = Match("s", "p", "a", "b", "X", "Y", tags=["coding"])
    m1.votes = [Vote(m1.id, "user", "bad"), Vote(m1.id, "judge:openai:gpt-6-luna", "a")]
    m2 = Match("s", "p", "a", "b", "Y", "Z", tags=["legal"])
    m2.votes = [Vote(m2.id, "user", "b")]
    assert comparisons([m1, m2]) == [Comparison("X", "Y", 0.5), Comparison("Y", "Z", 0.0)]
    assert comparisons([m1, m2], voter="judge") == [Comparison("X", "Y", 1.0)]
    assert len(comparisons([m1, m2], voter="all")) == 3
    assert comparisons([m1, m2], tags=["Coding"]) == [Comparison("X", "Y", 0.5)]
    board = leaderboard(comparisons([m1, m2]), seed=1)
    y = next(s for s in board if s.model == "Y")
    assert (y.votes, y.wins, y.losses, y.ties) == (2, 0, 1, 1)
    with pytest.raises(ValueError):
        Vote("m", "someone", "a")
    with pytest.raises(ValueError):
        Vote("m", "user", "maybe")


def test_win_rate_matrix():
    games = [*_games([("X", "Y", 3, 1)]), Comparison("Y", "X", 0.5)]
    m = win_rate_matrix(games, ["X", "Y", "Z"])
    assert m["X"]["Y"] == pytest.approx(3.5 / 5) and m["Y"]["X"] == pytest.approx(1.5 / 5)
    assert m["X"]["Z"] is None and m["X"]["X"] is None


def test_blind_sides_name_the_cards_to_hide_until_the_user_votes():
    m1 = Match("s", "p", "n1", "n2", "X", "Y")
    m2 = Match("s", "p", "n3", "n4", "X", "Z")
    m2.votes = [Vote(m2.id, "judge:openai:gpt-6-luna", "a")]  # a judge's vote reveals nothing to the user
    assert blind_sides([m1, m2]) == {"n1": "A", "n2": "B", "n3": "A", "n4": "B"}
    m1.votes = [Vote(m1.id, "user", "tie")]
    assert blind_sides([m1, m2]) == {"n3": "A", "n4": "B"}
    assert m1.revealed and not m2.revealed
