"""`triptych arena`, `vote`, `leaderboard` and `cost` end to end against the loopback fake provider server
(DESIGN.md, "Evaluate"): no model identity before the vote, votes feed the leaderboard, a changed vote
counts once, judge votes are stored as such."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app import cli
from app.catalog import load_catalog
from tests.fakes.server import Answer, HTTPFault, RecordedRequest, _conversation

ROOT = Path(__file__).resolve().parents[2]
FAV, MID, LOW = "openai:gpt-6.2-sol", "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5"
JUDGE = "openai:gpt-6-luna"
MARK = {FAV: "apples", MID: "bananas", LOW: "cherries"}  # what each model answers: no name in it


@pytest.fixture
def home(server, tmp_path):
    server.reset()
    for ref, word in MARK.items():
        server.script(ref.split(":", 1)[1], Answer(text=(f"I like {word}. ", "(I am Claude, by Anthropic; or GPT.)")))
    return tmp_path / "home"


@pytest.fixture
def run(server, home):
    """The CLI in a real subprocess."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(server.env())
    env.update({"TRIPTYCH_HOME": str(home), "TRIPTYCH_NO_KEYRING": "1", "PYTHONPATH": str(ROOT)})

    def go(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, env=env,
                              timeout=60, cwd=ROOT)

    return go


@pytest.fixture
def main(server, home, monkeypatch, capsys):
    """The CLI in this process (30 matches in a second), same arguments, (status, stdout, stderr)."""
    for key in list(os.environ):
        if key.endswith(("_API_KEY", "_BASE_URL")):
            monkeypatch.delenv(key)
    for key, value in {**server.env(), "TRIPTYCH_HOME": str(home), "TRIPTYCH_NO_KEYRING": "1"}.items():
        monkeypatch.setenv(key, value)

    def go(*args: str) -> tuple[int, str, str]:
        code = cli.main(list(args))
        out, err = capsys.readouterr()
        return code, out, err

    return go


def identities(models: list[str]) -> list[str]:
    """Every string that would give a model away: refs, ids, display names, providers."""
    cat = load_catalog()
    out = []
    for m in models:
        provider, model = m.split(":", 1)
        out += [m, model, cat.display_name(m), provider]
    return out


def assert_blind(text: str, models: list[str]) -> None:
    low = re.sub(r"\b[0-9A-Z]{26}\b", "<id>", text).lower()  # random ids may spell "gpt"
    for name in identities(models):
        assert name.lower() not in low, f"{name!r} shows before the vote"
    for word in ("claude", "anthropic", "gpt", "deepseek", "openai", "cost", "usd", "$", "ttft", "duration",
                 "tok/s", "color", "colour"):
        assert word not in low, f"{word!r} shows before the vote"
    assert not re.search(r"#[0-9a-f]{6}\b", low)


def test_arena_shows_no_identity_until_the_vote_then_vote_reveals_it(run, home):
    r = run("arena", "-m", FAV, "-m", LOW, "-m", MID, "--tag", "coding", "--json", "Which fruit?")
    assert r.returncode == 0, r.stderr
    assert_blind(r.stdout + r.stderr, [FAV, MID, LOW])
    doc = json.loads(r.stdout)
    assert set(doc) == {"match_id", "session_id", "a", "b"}
    assert set(doc["a"]) == set(doc["b"]) == {"node_id", "text", "status"}
    assert doc["a"]["status"] == doc["b"]["status"] == "done"
    assert "I am [model], by [model]; or [model]." in doc["a"]["text"]
    sides = {k: next(m for m, w in MARK.items() if w in doc[k]["text"]) for k in ("a", "b")}
    assert sides["a"] != sides["b"]
    # the plain-text output is blind too
    t = run("arena", "-m", FAV, "-m", LOW, "Which fruit?")
    assert t.returncode == 0, t.stderr
    assert_blind(t.stdout + t.stderr, [FAV, MID, LOW])
    assert "Model A" in t.stdout and "triptych vote" in t.stdout

    v = run("vote", doc["match_id"][-8:], "b", "--json")
    assert v.returncode == 0, v.stderr
    assert json.loads(v.stdout) == {"match_id": doc["match_id"], "vote": "b", "a_model": sides["a"],
                                    "b_model": sides["b"]}
    shown = run("show", doc["session_id"], "--json")
    models = {n["node_id"]: n["model"] for n in json.loads(shown.stdout)["nodes"] if n.get("model")}
    assert (models[doc["a"]["node_id"]], models[doc["b"]["node_id"]]) == (sides["a"], sides["b"])


def test_thirty_votes_for_one_model_rank_it_first_and_a_changed_vote_counts_once(main):
    matches = []
    for i in range(30):
        code, out, err = main("arena", "-m", FAV, "-m", MID, "-m", LOW, "--tag", "fruit", "--json", f"round {i}")
        assert code == 0, err
        assert_blind(out + err, [FAV, MID, LOW])
        doc = json.loads(out)
        a_fav, b_fav = MARK[FAV] in doc["a"]["text"], MARK[FAV] in doc["b"]["text"]
        vote = "a" if a_fav else "b" if b_fav else ("tie" if i % 2 else "bad")
        code, out, err = main("vote", doc["match_id"], vote, "--json")
        assert code == 0, err
        matches.append((doc["match_id"], json.loads(out)))
    played = {frozenset((v["a_model"], v["b_model"])) for _, v in matches}
    assert len(played) == 3  # every pair was drawn

    # change one vote against the favourite: it replaces the earlier one (one vote per match and voter)
    changed_id, changed = next((mid, v) for mid, v in matches if FAV in (v["a_model"], v["b_model"]))
    against = "b" if changed["a_model"] == FAV else "a"
    assert main("vote", changed_id, against)[0] == 0

    code, out, err = main("leaderboard", "--json", "--seed", "7")
    assert code == 0, err
    board = json.loads(out)
    assert board[0]["model"] == FAV
    assert sum(row["votes"] for row in board) == 2 * 30  # 30 matches, each counted once per side
    fav = board[0]
    fav_matches = sum(1 for _, v in matches if FAV in (v["a_model"], v["b_model"]))
    assert (fav["votes"], fav["wins"], fav["losses"], fav["ties"]) == (fav_matches, fav_matches - 1, 1, 0)
    for row in board:
        assert row["ci_low"] <= row["rating"] <= row["ci_high"]
        assert row["votes"] == row["wins"] + row["losses"] + row["ties"]
    assert [r["rating"] for r in board] == sorted((r["rating"] for r in board), reverse=True)

    assert json.loads(main("leaderboard", "--json", "--tag", "other")[1]) == []
    assert json.loads(main("leaderboard", "--json", "--voter", "judge")[1]) == []
    code, csv_out, _ = main("leaderboard", "--format", "csv", "--seed", "7")
    assert csv_out.splitlines()[0] == "rank,model,rating,ci_low,ci_high,votes,wins,losses,ties"
    assert csv_out.splitlines()[1].startswith(f"1,{FAV},")
    code, md_out, _ = main("leaderboard", "--format", "md", "--seed", "7")
    assert f"| 1 | {FAV} |" in md_out and "Win rate" in md_out


def _fair_judge(req: RecordedRequest) -> Answer:
    """Prefers the answer about apples wherever it is shown."""
    prompt, _ = _conversation(req)
    a_part = prompt.split("## Answer A", 1)[1].split("## Answer B", 1)[0]
    return Answer(text=("Apples win.\n", f"VERDICT: {'A' if 'apples' in a_part else 'B'}"))


def test_judge_votes_are_stored_as_the_judges_and_position_bias_is_a_tie(run, server):
    server.script(JUDGE.split(":", 1)[1], _fair_judge)
    r = run("arena", "-m", FAV, "-m", MID, "--judge", JUDGE, "--json", "Which fruit?")
    assert r.returncode == 0, r.stderr
    assert_blind(r.stdout + r.stderr, [FAV, MID, JUDGE])
    doc = json.loads(r.stdout)
    fav_side = "a" if "apples" in doc["a"]["text"] else "b"
    assert f"the judge voted {fav_side}" in r.stderr
    judge_prompts = [q for q in server.requests if q.model == JUDGE.split(":", 1)[1]]
    assert len(judge_prompts) == 2  # once per side order
    for q in judge_prompts:
        assert_blind(_conversation(q)[0].split("## Answer A", 1)[1], [FAV, MID])
    board = json.loads(run("leaderboard", "--json", "--voter", "judge").stdout)
    assert [row["model"] for row in board] == [FAV, MID] and board[0]["wins"] == 1
    assert json.loads(run("leaderboard", "--json").stdout) == []  # the user has not voted: judge votes are apart

    server.script(JUDGE.split(":", 1)[1], Answer(text=("VERDICT: A",)))  # always the first shown: biased
    r = run("arena", "-m", FAV, "-m", MID, "--judge", JUDGE, "--json", "Which fruit?")
    assert r.returncode == 0 and "the judge voted tie" in r.stderr
    board = json.loads(run("leaderboard", "--json", "--voter", "judge").stdout)
    assert {row["model"]: row["ties"] for row in board} == {FAV: 1, MID: 1}


def test_cost_of_an_arena_session_matches_the_catalog(run):
    r = run("arena", "-m", FAV, "-m", MID, "--json", "Which fruit?")
    sid = json.loads(r.stdout)["session_id"]
    blind = json.loads(run("show", sid, "--json").stdout)["nodes"]  # before the vote: no model, no cost
    assert not [n for n in blind if n.get("model") in (FAV, MID) or n.get("cost_usd")]
    early = run("cost", sid, "--json")  # which models were used, and their costs, would tell them apart
    assert early.returncode == 2 and "vote first" in early.stderr and not early.stdout
    run("vote", json.loads(r.stdout)["match_id"], "tie")
    c = run("cost", sid, "--json")
    assert c.returncode == 0, c.stderr
    doc = json.loads(c.stdout)
    shown = json.loads(run("show", sid, "--json").stdout)["nodes"]
    answers = [n for n in shown if n.get("model")]
    assert doc["actual_usd"] == pytest.approx(sum(n["cost_usd"] for n in answers))
    cat = load_catalog()
    from app.domain import Usage

    usages = [Usage(input=n["usage"]["input_tokens"], cached_input=n["usage"]["cached_input_tokens"],
                    output=n["usage"]["output_tokens"]) for n in answers]
    luna = next(row for row in doc["rows"] if row["model"] == "openai:gpt-6-luna")
    assert luna["cost_usd"] == pytest.approx(sum(cat.get("openai:gpt-6-luna").price.cost(u) for u in usages))
    assert "tokenizers" in c.stderr
    one = answers[0]
    p = json.loads(run("cost", sid, "--path", one["node_id"], "--json").stdout)
    assert p["actual_usd"] == pytest.approx(one["cost_usd"])


def test_a_failed_answer_stays_blind_and_the_match_can_still_be_voted(run, server):
    server.script(MID.split(":", 1)[1], HTTPFault(500, message="deepseek-flash is overloaded (DeepSeek)"))
    r = run("arena", "-m", FAV, "-m", MID, "--max-retries", "0", "--json", "Which fruit?")
    assert r.returncode == 1
    assert_blind(r.stdout + r.stderr, [FAV, MID])
    doc = json.loads(r.stdout)
    assert sorted([doc["a"]["status"], doc["b"]["status"]]) == ["done", "error"]
    assert run("vote", doc["match_id"], "a" if doc["a"]["status"] == "done" else "b").returncode == 0


def test_bad_usage_is_refused_before_anything_is_sent_or_stored(main, server, monkeypatch):
    code, _out, err = main("arena", "-m", FAV, "-m", FAV, "Which fruit?")
    assert code == 2 and "two different models" in err
    monkeypatch.delenv("ANTHROPIC_API_KEY")
    code, _out, err = main("arena", "-m", FAV, "-m", LOW, "Which fruit?")
    assert code == 2 and "no API key for anthropic" in err
    code, _out, err = main("vote", "nope", "a")
    assert code == 2 and "no blind match" in err
    code, _out, err = main("leaderboard", "--resamples", "50")
    assert code == 2
    assert json.loads(main("sessions", "--json")[1]) == []
    assert server.requests == []


def test_show_and_every_export_before_the_vote_name_no_model(run, tmp_path):
    r = run("arena", "-m", FAV, "-m", MID, "--json", "Which fruit?")
    doc = json.loads(r.stdout)
    sid = doc["session_id"]
    shown = run("show", sid)
    assert shown.returncode == 0, shown.stderr
    texts = [shown.stdout, run("show", sid, "--json").stdout]
    for fmt in ("md", "html", "json", "canvas"):
        out = tmp_path / f"blind.{fmt}"
        e = run("export", sid, "--format", fmt, "-o", str(out))
        assert e.returncode == 0, e.stderr
        texts.append(out.read_text(encoding="utf-8"))
    png = run("export", sid, "--format", "png", "-o", str(tmp_path / "blind.png"))
    assert png.returncode == 0, png.stderr
    everything = "\n".join(texts).lower()
    for name in ("gpt-6.2-sol", "deepseek-flash", "gpt-6.2 sol", "deepseek v4", "claude", "anthropic"):
        assert name not in everything, name
    assert "model a" in everything and "[model]" in everything
    run("vote", doc["match_id"], "a")
    assert "gpt-6.2-sol" in run("show", sid).stdout.lower() or "deepseek-flash" in run("show", sid).stdout.lower()
