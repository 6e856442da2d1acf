"""One answer for each presentation rule (issue 13, item 3), seen through the window: the card's
metrics strip and every export say the same tokens/s and cost for the same answer, and a provider has
one colour on the canvas and in the .canvas export (LM Studio, custom endpoints with and without a
colour of their own)."""

from __future__ import annotations

import html
import json
import re

from app.domain import Edge, EdgeRole, Node, NodeKind, NodeStatus, Session, Timing, Usage
from storage import open_store
from tests.ui.conftest import open_window
from tests.ui.test_export_gui import ExportDriver


def _store(home, answers: list[Node]) -> tuple[Session, Node]:
    repo = open_store(home)
    session = repo.create_session(Session(title="Metrics"))
    prompt = Node(session.id, NodeKind.PROMPT, "Say hi", x=0, y=0)
    for a in answers:
        a.session_id = session.id
    edges = [Edge(prompt.id, a.id, EdgeRole.REPLY, i, session.id) for i, a in enumerate(answers)]
    repo.add_nodes([prompt, *answers], edges)
    repo.close()
    return session, prompt


def _answer(model: str, x: float = 0.0, **fields) -> Node:
    return Node("", NodeKind.RESPONSE, "Hi there.", model=model, status=NodeStatus.DONE, finish="stop",
                x=x, y=220.0, **fields)


async def test_card_strip_and_every_export_say_the_same_tokens_per_second_and_cost(app_env, fake_server, tmp_path):
    # A fast local answer as an earlier version stored it: 2 tokens between the first token (100 ms)
    # and the end (121 ms), and its own unrounded figure (100.0 tok/s over 20.0 ms) in meta. The card
    # showed "100 tok/s" from meta, the exports "95.2 tok/s" from the timing.
    answer = _answer(
        "deepseek:deepseek-flash",
        usage=Usage(input=20, output=2),
        timing=Timing(ttft_ms=100, duration_ms=121),
        reported_cost_usd=0.000131,
        meta={"phase": "done", "tokens_per_s": 100.0},
    )
    _store(app_env, [answer])
    async with open_window() as (window, _services):
        card = window.scene.card(answer.id)
        strip = card.metrics_text
        assert re.search(r"\b95\.2 tok/s\b", strip) and "$0.000131" in strip, strip
        driver = ExportDriver(window)
        files = {fmt: driver.export(window.export_action, fmt, tmp_path / f"s.{fmt}") for fmt in ("md", "html", "canvas")}
    md = files["md"].read_text(encoding="utf-8")
    assert f"*done · {strip}*" in md
    page = files["html"].read_text(encoding="utf-8")
    assert f'<p class="meta">done · {html.escape(strip)}</p>' in page
    doc = json.loads(files["canvas"].read_text(encoding="utf-8"))
    text = next(n["text"] for n in doc["nodes"] if n["id"] == answer.id)
    assert text.splitlines()[-1] == f"*{strip}*"


async def test_a_provider_has_one_colour_on_the_canvas_and_in_the_canvas_export(app_env, fake_server, tmp_path):
    (app_env / "providers.toml").write_text(
        '# my endpoints\n'
        '[groq]\nbase_url = "https://api.groq.example/openai/v1"\nprotocol = "chat"\ncolor = "#123456"\n\n'
        '[myllm]\nbase_url = "http://127.0.0.1:9/v1"\n',
        encoding="utf-8",
    )
    answers = [
        _answer("lmstudio:qwen3-8b", x=0.0),
        _answer("groq:llama-4", x=500.0),
        _answer("myllm:tiny", x=1000.0),
        _answer("anthropic:claude-sonnet-5-5", x=1500.0),
    ]
    _store(app_env, answers)
    async with open_window() as (window, _services):
        stripes = {a.model: window.scene.card(a.id).stripe_color.name().upper() for a in answers}
        driver = ExportDriver(window)
        path = driver.export(window.export_action, "canvas", tmp_path / "s.canvas")
    doc = json.loads(path.read_text(encoding="utf-8"))
    exported = {n["triptych"]["model"]: n.get("color", "").upper() for n in doc["nodes"] if n["triptych"].get("model")}
    assert exported == stripes
    assert stripes["groq:llama-4"] == "#123456"  # the colour chosen in providers.toml
    assert stripes["lmstudio:qwen3-8b"] != stripes["myllm:tiny"]  # LM Studio keeps its own
