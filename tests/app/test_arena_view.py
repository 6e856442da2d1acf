"""What a blind match shows before the vote (app.arena_view): one rule for the window, the exports and
`triptych show`; and the leaderboard tables the dialog and the CLI write."""

from __future__ import annotations

import json

import pytest

from app.arena import Comparison, Match, Vote, leaderboard, win_rate_matrix
from app.arena_view import NEUTRAL_COLOR, blind_rule, leaderboard_csv, leaderboard_markdown
from app.catalog import load_catalog
from app.domain import Edge, EdgeRole, ErrorInfo, Graph, Node, NodeKind, NodeStatus, Session, Timing, Usage
from app.export import export_session
from app.present.metrics import metrics_line

A_MODEL, B_MODEL = "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"


def _graph(status=NodeStatus.DONE, a_text="Answer from claude-sonnet-5-5: as Claude, I think so."):
    s = Session(title="Which fruit?")
    p = Node(s.id, NodeKind.PROMPT, "Which fruit?", meta={"targets": [A_MODEL, B_MODEL]})
    a = Node(s.id, NodeKind.RESPONSE, a_text, model=A_MODEL, status=status, usage=Usage(input=25, output=120),
             cost_usd=0.00125, timing=Timing(ttft_ms=94, duration_ms=800), reasoning="GPT would say no",
             created_at=100.0, updated_at=101.5, meta={"dropped_params": ["seed"]})
    b = Node(s.id, NodeKind.RESPONSE, "Pears.", model=B_MODEL, status=NodeStatus.ERROR, x=400,
             error=ErrorInfo("server", "OpenAI overloaded (gpt-6.2-sol)"))
    match = Match(s.id, p.id, a.id, b.id, A_MODEL, B_MODEL)
    graph = Graph(s, {n.id: n for n in (p, a, b)},
                  [Edge(p.id, a.id, EdgeRole.REPLY), Edge(p.id, b.id, EdgeRole.REPLY)], matches=[match])
    return graph, match, p, a, b


@pytest.fixture(scope="module")
def catalog():
    return load_catalog()


def test_a_blind_answer_is_model_a_masked_without_model_cost_tokens_or_timing(catalog):
    graph, match, p, a, b = _graph()
    rule = blind_rule(graph.matches, catalog, ["Anthropic", "OpenAI"])
    shown = rule.present(a)
    assert shown.title == "Model A" and shown.model is None and shown.color == NEUTRAL_COLOR
    assert shown.text == "Answer from [model]: as [model], I think so."
    assert shown.reasoning == ""  # whether a model reasons would tell it apart
    assert shown.usage == Usage() and shown.cost_usd is None and shown.timing == Timing()
    assert shown.updated_at == shown.created_at and shown.meta == {"blind": "A"}
    assert metrics_line(shown) == ""  # not even an estimated token count
    assert rule.present(b).error.message == "[model] overloaded ([model])"
    assert rule.present(b).title == "Model B"
    assert "targets" not in rule.present(p).meta  # the prompt does not list the pair
    assert a.model == A_MODEL and "claude" in a.text  # the stored node is untouched
    assert rule.session_is_blind(graph.session.id) and rule.label(b.id) == "Model B"


def test_a_streaming_name_is_never_shown_in_part(catalog):
    for partial in ("Answer from claude-son", "Hello, I am Claude Sonn", "I am Claude Sonnet"):
        graph, match, _p, a, _b = _graph(NodeStatus.STREAMING, partial)
        shown = blind_rule(graph.matches, catalog).present(a).text
        assert "son" not in shown.lower() and "claude" not in shown.lower()
    graph, _m, _p, a, _b = _graph(NodeStatus.STREAMING, "One two three four five six seven")
    assert blind_rule(graph.matches, catalog).present(a).text == "One two three four "


def test_after_the_vote_everything_shows_again(catalog):
    graph, match, p, a, b = _graph()
    match.votes.append(Vote(match.id, "user", "a"))
    rule = blind_rule(graph.matches, catalog)
    assert rule.present(a) is a and rule.present_graph(graph) is graph
    # a judge's vote reveals nothing: only the user's does
    graph, match, p, a, b = _graph()
    match.votes.append(Vote(match.id, "judge:openai:gpt-6-luna", "a"))
    assert blind_rule(graph.matches, catalog).present(a).title == "Model A"


@pytest.mark.parametrize("fmt", ["md", "html", "json", "canvas"])
def test_exports_before_the_vote_name_no_model(catalog, fmt):
    graph, match, p, a, b = _graph()
    rule = blind_rule(graph.matches, catalog)
    text = export_session(rule.present_graph(graph), fmt)
    low = text.lower()
    colours = [catalog.provider_color(p).lower() for p in ("anthropic", "openai")]
    for name in ("claude", "sonnet", "gpt-6", "anthropic", "openai", "0.00125", "94 ms", *colours):
        assert name not in low, name
    assert "Model A" in text and "Model B" in text
    if fmt == "json":
        assert "matches" not in json.loads(text)  # the match would carry the model names


def test_leaderboard_tables():
    games = [Comparison("x:a", "x:b", 1.0), Comparison("x:a", "x:b", 1.0), Comparison("x:b", "x:c", 0.5)]
    standings = leaderboard(games, resamples=200, seed=1)
    rows = leaderboard_csv(standings).splitlines()
    assert rows[0] == "rank,model,rating,ci_low,ci_high,votes,wins,losses,ties"
    assert rows[1].startswith("1,x:a,") and len(rows) == 4
    md = leaderboard_markdown(standings, win_rate_matrix(games, [s.model for s in standings]))
    assert md.startswith("| rank | model |") and "| x:a | – | – | 100% |" in md  # (a, c, b)


def test_equal_ratings_share_a_rank_and_the_files_carry_games_and_filters():
    from app.arena import pair_game_counts, ranks

    games = [Comparison("x:a", "x:c", 1.0), Comparison("x:c", "x:b", 0.0), Comparison("x:a", "x:b", 0.5)]
    standings = leaderboard(games, resamples=200, seed=1)
    assert ranks(standings) == [1, 1, 3] and standings[2].model == "x:c"
    models = [s.model for s in standings]
    matrix, counts = win_rate_matrix(games, models), pair_game_counts(games, models)
    filters = [("tag", "coding"), ("voter", "user")]
    rows = leaderboard_csv(standings, matrix, counts, filters).split("\n\n")
    assert [line.split(",")[0] for line in rows[0].splitlines()[1:]] == ["1", "1", "3"]
    assert rows[1].startswith("win_rate (row vs column),") and rows[2].startswith("games (row vs column),")
    assert rows[3] == "filter,value\ntag,coding\nvoter,user\n"
    md = leaderboard_markdown(standings, matrix, counts, filters)
    assert md.startswith("Filters: tag: coding · voter: user\n") and "50% (1)" in md


@pytest.mark.parametrize("fmt", ["md", "html"])
def test_reports_name_a_masked_answer_once_and_make_up_no_cost(catalog, fmt):
    graph, *_ = _graph()
    text = export_session(blind_rule(graph.matches, catalog).present_graph(graph), fmt)
    assert "(Model A)" not in text and "(`Model A`)" not in text
    assert "some unknown" not in text and "$0 " not in text
    assert "blind until the vote" in text


def test_a_blind_answer_still_thinking_does_not_say_so(catalog):
    from app.domain import RunState
    from app.present.status import status_chip

    graph, _m, _p, a, _b = _graph(NodeStatus.STREAMING, "")
    a.run = RunState(phase="thinking")
    shown = blind_rule(graph.matches, catalog).present(a)
    assert shown.reasoning == "" and shown.run.phase != "thinking"
    assert "think" not in status_chip(shown, 0.0)[1]
    assert a.run.phase == "thinking"  # the engine's own state is untouched
