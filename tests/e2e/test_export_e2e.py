"""Compare and export end to end (issue 5, "done when"): the real `triptych` CLI in a subprocess against
the loopback fake providers builds a session with a 3-model fan-out, a lane follow-up, a shared
follow-up (one of its lanes fails mid-answer) and a synthesis card, then exports it to json, canvas,
md, html and png and checks what a user would check: both re-import to the same tree, the canvas is
JSON Canvas 1.0, the report has every answer and the comparison table, the page is inert and lays the
lanes side by side, the image shows the cards."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from app.layout import CARD_W, PROMPT_W
from tests.app.canvas_spec import canvas_problems
from tests.app.test_export_md_html import inspect
from tests.e2e.test_inert import bad_links, scan
from tests.fakes.server import Answer, FakeProviderServer

ROOT = Path(__file__).resolve().parents[2]
DS, CL, GP = "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"
FORMATS = ("json", "canvas", "md", "html", "png")

DS1 = (
    "## Keep the first of each\n\n`list(dict.fromkeys(xs))` keeps order — answer DS-1.\n\n"
    "```python\ndef dedupe(xs):\n    return list(dict.fromkeys(xs))\n```\n"
)
CL1 = (
    "A seen-set loop is the clearest — answer CL-1.\n\n"
    "```python\ndef dedupe(xs):\n    seen = set()\n    return [x for x in xs if not (x in seen or seen.add(x))]\n```\n\n"
    "| way | order kept |\n|---|---|\n| set | no |\n| dict | yes |\n"
)
GP1 = (
    "Use `unique_everseen` from more-itertools — answer GP-1.\n\n"
    "Hostile bits a model may echo: <img src=x onerror=alert(1)> <script>alert(2)</script> "
    "[click me](javascript:alert(3)) ![pixel](https://tracker.example/p.png)\n"
)
CL2 = "For ten million strings `dict.fromkeys` is fastest — answer CL-2.\n"
DS2 = "Both agree on dict.fromkeys; the seen-set handles unhashables — answer DS-2.\n"
GP2_PART = "Reconciling: the partial answer GP-2 "
SYN = "Merged: use dict.fromkeys, fall back to a seen-set for unhashable items — answer SYN-1.\n"
PROMPT, LANE, SHARED = (
    "How do I dedupe a Python list, keeping order?",
    "Which is fastest?",
    "Reconcile these two",
)


def pieces(text: str, n: int = 4) -> tuple[str, ...]:
    step = max(1, len(text) // n)
    return tuple(text[i : i + step] for i in range(0, len(text), step))


def lines(out: str) -> list[dict]:
    return [json.loads(line) for line in out.splitlines() if line.strip()]


@pytest.fixture(scope="module")
def session(tmp_path_factory):
    """Build the session once through the CLI and export it to every format. Returns a namespace."""
    tmp = tmp_path_factory.mktemp("export-e2e")
    srv = FakeProviderServer(tokens_per_second=0)
    _url, stop = srv.run_in_thread()
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.endswith(("_API_KEY", "_BASE_URL")) and not k.startswith("TRIPTYCH_")
    }
    env.update(srv.env())
    env.update({"TRIPTYCH_HOME": str(tmp / "home"), "TRIPTYCH_NO_KEYRING": "1", "PYTHONPATH": str(ROOT)})

    def cli(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "app", *args], env=env, cwd=tmp, capture_output=True, text=True, timeout=60
        )

    srv.script(
        "deepseek-flash",
        Answer(
            text=pieces(DS1),
            reasoning=("Order matters, ", "so a bare set is wrong."),
            input_tokens=40,
            cached_tokens=8,
            output_tokens=52,
            reasoning_tokens=9,
        ),
        Answer(text=pieces(DS2), input_tokens=310, output_tokens=21),
    )
    srv.script(
        "claude-sonnet-5-5",
        Answer(
            text=pieces(CL1),
            reasoning=("Readability first.",),
            input_tokens=42,
            output_tokens=70,
            reasoning_tokens=5,
        ),
        Answer(text=pieces(CL2), input_tokens=150, output_tokens=18),
        Answer(text=pieces(SYN), input_tokens=520, output_tokens=24),
    )
    srv.script(
        "gpt-6.2-sol",
        Answer(text=pieces(GP1), input_tokens=38, output_tokens=44),
        Answer(
            text=(GP2_PART, "never arrives"),
            error_after=1,
            error_code=500,
            error_message="Internal upstream failure",
        ),
    )
    try:
        r = cli("ask", "--json", "-m", DS, "-m", CL, "-m", GP, PROMPT)
        assert r.returncode == 0, r.stderr
        ds1, cl1, gp1 = lines(r.stdout)
        r = cli("ask", "--json", "--parent", cl1["node_id"], LANE)  # continue Claude's lane
        assert r.returncode == 0, r.stderr
        (cl2,) = lines(r.stdout)
        r = cli(
            "ask",
            "--json",
            "--max-retries",
            "0",
            "--mode",
            "shared",
            "--parent",
            ds1["node_id"],
            "--parent",
            gp1["node_id"],
            SHARED,
        )
        assert r.returncode == 1, r.stderr  # GPT's lane fails mid-answer; the partial text is kept
        ds2, gp2 = lines(r.stdout)
        assert (gp2["status"], gp2["text"]) == ("error", GP2_PART)
        r = cli(
            "synth",
            "--json",
            "-m",
            CL,
            "--source",
            ds1["node_id"],
            "--source",
            cl1["node_id"],
            "--source",
            gp1["node_id"],
        )
        assert r.returncode == 0, r.stderr
        (syn,) = lines(r.stdout)
    finally:
        stop()
    sid = ds1["session_id"]
    files = {}
    for fmt in FORMATS:
        out = tmp / f"report.{fmt}"
        r = cli("export", sid, "--format", fmt, "-o", str(out))
        assert r.returncode == 0, (fmt, r.stderr)
        assert r.stdout.strip() == str(out)
        files[fmt] = out

    class S:
        pass

    s = S()
    s.cli, s.sid, s.files, s.tmp = cli, sid, files, tmp
    s.answers = {"ds1": ds1, "cl1": cl1, "gp1": gp1, "cl2": cl2, "ds2": ds2, "gp2": gp2, "syn": syn}
    s.shown = json.loads(cli("show", sid, "--json").stdout)
    return s


def tree(shown: dict) -> list[tuple]:
    """A session's tree without ids: every node's content, metrics and place, and its parents by content."""
    by_id = {n["node_id"]: n for n in shown["nodes"]}

    def sig(n: dict) -> tuple:
        return n["kind"], n["model"], n["text"]

    out = []
    for n in shown["nodes"]:
        out.append(
            (
                *sig(n),
                n["reasoning"],
                n["status"],
                n["finish"],
                json.dumps(n["error"], sort_keys=True),
                json.dumps(n["usage"], sort_keys=True),
                n["cost_usd"],
                json.dumps(n["timing"], sort_keys=True),
                n["x"],
                n["y"],
                tuple((sig(by_id[p["node_id"]]), p["role"]) for p in n["parents"]),
            )
        )
    return sorted(out, key=repr)


def test_the_session_has_every_kind_of_card(session):
    nodes = session.shown["nodes"]
    assert len(nodes) == 10  # 3 prompts, 6 responses, 1 synthesis
    kinds = [n["kind"] for n in nodes]
    assert kinds.count("prompt") == 3 and kinds.count("response") == 6 and kinds.count("synthesis") == 1
    syn = next(n for n in nodes if n["kind"] == "synthesis")
    assert [p["role"] for p in syn["parents"]] == ["source"] * 3


@pytest.mark.parametrize("fmt", ["json", "canvas"])
def test_json_and_canvas_reimport_to_the_same_tree(session, fmt):
    r = session.cli("import", str(session.files[fmt]))
    assert r.returncode == 0, r.stderr
    new_id = r.stdout.strip()
    assert new_id and new_id != session.sid
    shown = json.loads(session.cli("show", new_id, "--json").stdout)
    assert shown["session"]["title"] == session.shown["session"]["title"] + " (imported)" == PROMPT + " (imported)"
    assert len(shown["nodes"]) == len(session.shown["nodes"])
    assert tree(shown) == tree(session.shown)
    # the hostile answer came back exactly as the model sent it (the export is inert, the data is not edited)
    assert any(n["text"] == GP1 for n in shown["nodes"])
    assert not {n["node_id"] for n in shown["nodes"]} & {n["node_id"] for n in session.shown["nodes"]}


def test_canvas_is_json_canvas_with_provider_colours_and_role_labels(session):
    doc = json.loads(session.files["canvas"].read_text(encoding="utf-8"))
    assert canvas_problems(doc) == []
    nodes = {n["id"]: n for n in doc["nodes"]}
    assert len(nodes) == 10 and all(n["type"] == "text" for n in nodes.values())
    shown = {n["node_id"]: n for n in session.shown["nodes"]}
    colours: dict[str, set[str]] = {}
    for nid, node in nodes.items():
        model = shown[nid]["model"]
        if model:
            colours.setdefault(model.split(":")[0], set()).add(node["color"])
    assert all(len(c) == 1 for c in colours.values()), colours  # one colour per provider…
    assert len(set().union(*colours.values())) == 3  # …and three different ones
    # every card is readable as text in Obsidian: the answer, not only the triptych data
    assert "answer CL-2" in nodes[session.answers["cl2"]["node_id"]]["text"]
    roles = {(p["node_id"], n["node_id"]): p["role"] for n in session.shown["nodes"] for p in n["parents"]}
    assert {(e["fromNode"], e["toNode"]): e["label"] for e in doc["edges"]} == roles


def test_markdown_report_has_every_answer_the_table_and_totals(session):
    md = session.files["md"].read_text(encoding="utf-8")
    for marker in (
        "answer DS-1",
        "answer CL-1",
        "answer GP-1",
        "answer CL-2",
        "answer DS-2",
        "partial answer GP-2",
        "answer SYN-1",
        "return list(dict.fromkeys(xs))",
        "seen = set()",
        PROMPT,
        LANE,
        SHARED,
    ):
        assert marker in md, marker
    assert md.index(PROMPT) < md.index("answer DS-1") < md.index(LANE) < md.index("answer CL-2")
    header = "| Model | Status | TTFT | tok/s | Input | Cached | Output | Reasoning | Cost | Finish |"
    assert md.count(header) == 3  # one comparison table per prompt
    first = md.split(header)[1].split("\n\n")[0]
    rows = [r for r in first.splitlines() if r.startswith("| ") and "---" not in r]
    assert [re.search(r"`([^`]+)`", r).group(1) for r in rows] == [DS, CL, GP]
    assert "| 52 |" in rows[0] and "| 70 |" in rows[1] and "| 44 |" in rows[2]  # output tokens
    failed = md.split(header)[3].split("\n\n")[0]
    assert "error" in failed and "server" in md  # the failed lane says so
    assert "## Totals per branch" in md and "## Session totals" in md
    totals = md.split("## Session totals")[1]
    # 7 answers; output = 52 + 70 + 44 + 18 + 21 + 24 (+ what GPT's failed answer reported: nothing)
    assert re.search(r"\|\s*7\s*\|", totals) and "229" in totals
    assert "<details><summary>Reasoning</summary>" in md and "so a bare set is wrong" in md


def test_export_options_no_reasoning_and_path(session):
    out = session.tmp / "path.md"
    r = session.cli(
        "export",
        session.sid,
        "-f",
        "md",
        "--no-reasoning",
        "--path",
        session.answers["cl2"]["node_id"],
        "-o",
        str(out),
    )
    assert r.returncode == 0, r.stderr
    md = out.read_text(encoding="utf-8")
    assert "answer CL-1" in md and "answer CL-2" in md  # the path to Claude's follow-up answer
    assert "answer DS-1" not in md and "answer DS-2" not in md and "answer SYN-1" not in md  # nothing else
    assert "<summary>Reasoning" not in md and "Readability first" not in md
    r = session.cli("export", session.sid, "-f", "md", "--path", "zzzzzz")
    assert r.returncode == 2 and "no card" in r.stderr


def test_html_is_inert_and_lays_the_lanes_side_by_side(session):
    page = session.files["html"].read_text(encoding="utf-8")
    ins = inspect(page)
    assert ins.problems == []
    found = scan(page)
    assert found.urls == []  # nothing a browser would fetch on its own
    assert [h for h in bad_links(page) if not h.startswith("#")] == []  # links: in-page anchors or http(s)
    for tag, attrs in ins.tags:
        for name, value in attrs.items():
            assert not (tag != "a" and re.search(r"(https?:)?//", value)), (tag, name, value)
    text = ins.visible
    assert "<img src=x onerror=alert(1)>" in text and "<script>alert(2)</script>" in text  # shown as text
    # the first prompt's three answers are three lanes of one row, in -m order
    first = page.split('<div class="lanes"', 1)[1].split("</div>\n</section>", 1)[0]
    assert first.startswith(' style="--n:3"')
    lane_ids = re.findall(r'<article class="lane" id="n-([^"]+)"', first)
    assert lane_ids[:3] == [session.answers[k]["node_id"] for k in ("ds1", "cl1", "gp1")]
    assert "grid-template-columns" in page and "@media (prefers-color-scheme: dark)" in page
    for marker in ("answer SYN-1", "answer CL-2", "partial answer GP-2"):
        assert marker in text
    assert page.count('<table class="cmp">') == 3 and "Session totals" in text


def test_png_shows_every_card_at_its_place(session):
    from PySide6.QtGui import QColor, QImage

    image = QImage(str(session.files["png"]))
    assert not image.isNull()
    nodes = session.shown["nodes"]
    xs = [(n["x"], n["x"] + (PROMPT_W if n["kind"] == "prompt" else CARD_W)) for n in nodes]
    left, right = min(a for a, _ in xs), max(b for _, b in xs)
    scale, margin = 2.0, 48.0
    expected_w = (right - left + 2 * margin) * scale
    assert abs(image.width() - expected_w) <= 24, (image.width(), expected_w)  # + shadows
    top, bottom = min(n["y"] for n in nodes), max(n["y"] for n in nodes)
    assert image.height() > (bottom - top + 2 * margin) * scale  # the lowest cards have a body too
    background = QColor(image.pixel(2, 2))
    for n in nodes:
        # inside the card, just below its top edge: card colour, not the canvas
        px = int((n["x"] - left + margin + 60) * scale)
        py = int((n["y"] - top + margin + 8) * scale)
        assert QColor(image.pixel(px, py)) != background, n["kind"]
    # and not blank: plenty of dark text pixels
    step = 7
    dark = sum(
        QColor(image.pixel(x, y)).lightness() < 90
        for x in range(0, image.width(), step)
        for y in range(0, image.height(), step)
    )
    assert dark > 1000, dark  # (a blank image has none)


def test_diff_of_two_answers(session):
    a, b = session.answers["ds1"]["node_id"], session.answers["cl1"]["node_id"]
    r = session.cli("diff", a, b)
    assert r.returncode == 0, r.stderr
    assert DS in r.stdout and CL in r.stdout
    assert "— answer [-DS-]{+CL+}-1." in r.stdout  # word level in prose
    assert "[-    return list(dict.fromkeys(xs))-]{+    seen = set()+}" in r.stdout  # line level in code
    assert "\n```python\ndef dedupe(xs):\n" in r.stdout  # what is the same is not marked


@pytest.mark.parametrize(
    "args, needle",
    [
        ([], "needs at least one --source"),
        (["--source", "PROMPT"], "is a prompt, not an answer"),
        (["--source", "DS1", "--source", "CL1", "--kind", "custom"], "--kind custom needs --instruction"),
        (["--source", "DS1", "--source", "DS1"], "given twice"),
        (["--source", "zzzzzz"], "no card"),
    ],
)
def test_synth_usage_errors_are_clear_and_exit_2(session, args, needle):
    prompt = next(n["node_id"] for n in session.shown["nodes"] if n["kind"] == "prompt")
    ids = {
        "PROMPT": prompt,
        "DS1": session.answers["ds1"]["node_id"],
        "CL1": session.answers["cl1"]["node_id"],
    }
    r = session.cli("synth", "-m", CL, *[ids.get(a, a) for a in args])
    assert r.returncode == 2, r.stderr
    assert needle in r.stderr and "Traceback" not in r.stderr
    assert len(r.stderr.strip().splitlines()) == 1
    after = json.loads(session.cli("show", session.sid, "--json").stdout)
    assert len(after["nodes"]) == 10  # nothing was created
