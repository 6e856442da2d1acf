"""JSON Canvas export: valid per the 1.0 spec, readable in Obsidian, re-imports to the same tree."""

from __future__ import annotations

import json

from app.domain import NodeKind
from app.export import ExportOptions, export_canvas, export_json, import_file, import_json
from app.export.markdown import live_content
from tests.app.canvas_spec import canvas_problems
from tests.app.sample_graph import HOSTILE, assert_same_tree, build_sample_graph, node_with_text


def _doc(options: ExportOptions | None = None) -> tuple[dict, object]:
    g = build_sample_graph()
    return json.loads(export_canvas(g, options)), g


def test_canvas_is_valid_json_canvas():
    doc, g = _doc()
    assert canvas_problems(doc) == []
    assert len(doc["nodes"]) == len(g.nodes)
    assert len(doc["edges"]) == len(g.edges)
    assert all(n["type"] == "text" for n in doc["nodes"])
    assert all(
        e["toEnd"] == "arrow" and e["fromSide"] == "bottom" and e["toSide"] == "top" for e in doc["edges"]
    )
    assert {e["label"] for e in doc["edges"]} == {"reply", "follow", "ref", "source"}
    assert doc["triptych"]["format"] == "triptych" and doc["triptych"]["version"] == 1
    assert doc["triptych"]["session"]["title"] == g.session.title


def test_canvas_validator_catches_what_it_should():
    bad = {
        "nodes": [
            {
                "id": "a",
                "type": "text",
                "x": 1.5,
                "y": 0,
                "width": 10,
                "height": 10,
                "text": "t",
                "color": "red",
            },
            {"id": "a", "type": "widget", "x": 0, "y": 0, "width": 10, "height": 10},
        ],
        "edges": [{"id": "e", "fromNode": "a", "toNode": "zz", "fromSide": "middle", "toEnd": "big"}],
    }
    problems = " | ".join(canvas_problems(bad))
    for fragment in (
        "x is not an integer",
        "bad color",
        "duplicate id",
        "bad type",
        "'zz' is not a node",
        "fromSide",
        "toEnd",
    ):
        assert fragment in problems


def test_cards_carry_title_answer_reasoning_and_metrics():
    doc, g = _doc()
    by_id = {n["id"]: n for n in doc["nodes"]}
    r1 = node_with_text(g, "memory stays flat")
    card = by_id[r1.id]
    text = card["text"]
    assert text.splitlines()[0] == "**DeepSeek V4.1 Flash** · `deepseek:deepseek-flash` · done"
    assert "fn main() -> Result<(), Box<dyn Error>> {" in text  # code kept verbatim
    assert "中文说明" in text and "🚀" in text
    assert "> [!note]- Reasoning\n> The user wants streaming." in text
    assert "TTFT 310 ms" in text and "100 tok/s" in text and "$0.000253" in text
    assert card["width"] == 480
    t = card["triptych"]
    assert t["text"] == r1.text and t["reasoning"] == r1.reasoning
    assert t["usage"]["output"] == 412 and t["timing"]["ttft_ms"] == 310 and t["cost_usd"] == 0.000253
    assert t["status"] == "done" and t["finish"] == "stop" and t["params"]["temperature"] == 0.3
    errored = by_id[node_with_text(g, "Use the `csv` crate:\n").id]
    assert "error · network: connection reset mid-answer" in errored["text"].splitlines()[0]
    assert errored["triptych"]["error"] == {
        "kind": "network",
        "message": "connection reset mid-answer",
        "status": None,
    }
    synth = next(n for n in doc["nodes"] if n["triptych"]["kind"] == "synthesis")
    assert synth["text"].startswith("**Synthesis (judge)** · **Claude Sonnet 5.5**")
    assert synth["triptych"]["meta"]["instruction_kind"] == "judge"


def test_reasoning_can_be_left_out():
    doc, _ = _doc(ExportOptions(include_reasoning=False))
    assert all("[!note]- Reasoning" not in n["text"] for n in doc["nodes"])
    assert all(n["triptych"]["reasoning"] == "" for n in doc["nodes"])


def test_one_colour_per_provider():
    doc, _ = _doc()
    colour_of: dict[str, set[str]] = {}
    for n in doc["nodes"]:
        model = n["triptych"]["model"]
        if model:
            colour_of.setdefault(model.split(":")[0], set()).add(n["color"])
    assert all(len(c) == 1 for c in colour_of.values())
    assert len({next(iter(c)) for c in colour_of.values()}) == len(colour_of)  # distinct per provider
    note = next(n for n in doc["nodes"] if n["triptych"]["kind"] == "note")
    assert note["color"] == "4"  # the user's own colour is kept
    prompt = next(n for n in doc["nodes"] if n["triptych"]["kind"] == "prompt")
    assert "color" not in prompt


def test_positions_are_integers_and_sizes_readable():
    doc, g = _doc()
    by_id = {n["id"]: n for n in doc["nodes"]}
    r1 = node_with_text(g, "memory stays flat")
    assert by_id[r1.id]["x"] == round(r1.x) and isinstance(by_id[r1.id]["x"], int)
    short = by_id[node_with_text(g, "Combined: read with").id]
    long = by_id[r1.id]
    assert long["height"] > short["height"] >= 120  # taller for longer text
    note = next(n for n in doc["nodes"] if n["triptych"]["kind"] == "note")
    assert (note["width"], note["height"]) == (300, 120)  # the card's own size
    # estimated heights stop before the card below in the same column
    below = by_id[node_with_text(g, "Make it stream").id]
    assert long["y"] + long["height"] < below["y"]


def test_hostile_answer_is_defanged_on_the_card_but_restored_exactly():
    doc, g = _doc()
    r2 = node_with_text(g, "Careful with user input")
    card = next(n for n in doc["nodes"] if n["id"] == r2.id)
    assert live_content(card["text"]) is None
    assert "<script>" not in card["text"].replace("\\<script>", "")
    assert card["triptych"]["text"].endswith(HOSTILE)
    back = import_file(json.dumps(doc).encode())
    restored = next(n for n in back.nodes.values() if "Careful with user input" in n.text)
    assert restored.text == r2.text


def test_reimport_equals_source_and_json_import(tmp_path):
    g = build_sample_graph()
    path = tmp_path / "session.canvas"
    path.write_text(export_canvas(g), encoding="utf-8")
    back = import_file(path)
    assert_same_tree(g, back)
    via_json = import_json(export_json(g))
    assert [n.text for n in back.nodes.values()] == [n.text for n in via_json.nodes.values()]


def test_cards_moved_or_recoloured_in_obsidian_keep_the_change():
    doc, g = _doc()
    r1 = node_with_text(g, "memory stays flat")
    card = next(n for n in doc["nodes"] if n["id"] == r1.id)
    card["x"] += 100
    card["height"] = 333
    card["color"] = "1"
    unchanged = next(n for n in doc["nodes"] if n["triptych"]["kind"] == "prompt")
    back = import_file(json.dumps(doc).encode())
    moved = next(n for n in back.nodes.values() if n.text == r1.text)
    assert moved.x == round(r1.x) + 100 and moved.y == r1.y
    assert moved.height == 333 and moved.width is None  # width untouched: still "automatic"
    assert moved.color == "1"
    prompt = next(
        n
        for n in back.nodes.values()
        if n.kind == NodeKind.PROMPT and n.text == unchanged["triptych"]["text"]
    )
    assert prompt.x == unchanged["triptych"]["x"] and prompt.color is None


def test_exact_float_positions_survive():
    g = build_sample_graph()
    r1 = node_with_text(g, "memory stays flat")
    assert r1.x == -520.5
    back = import_file(export_canvas(g).encode())
    assert any(n.x == -520.5 for n in back.nodes.values())
