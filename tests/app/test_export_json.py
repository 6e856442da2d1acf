"""JSON export: lossless, versioned; import recreates the identical tree under new ids."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from app.domain import EdgeRole, NodeKind, NodeStatus, Owner, Session
from app.export import (
    ExportOptions,
    ImportFailed,
    default_filename,
    export_json,
    export_session,
    import_json,
    sections,
    tree_order,
)
from app.present.metrics import metrics_line
from tests.app.sample_graph import T0, assert_same_tree, build_sample_graph, node_with_text


def test_document_is_versioned_and_complete():
    g = build_sample_graph()
    doc = json.loads(export_json(g))
    assert doc["format"] == "triptych"
    assert doc["version"] == 1
    assert doc["session"]["id"] == g.session.id
    assert doc["session"]["title"] == g.session.title
    assert doc["session"]["viewport"] == {"x": 120.5, "y": -40.0, "zoom": 0.8}
    assert [n["id"] for n in doc["nodes"]] == list(g.nodes)
    assert len(doc["edges"]) == len(g.edges)
    r2 = next(n for n in doc["nodes"] if n["model"] == "anthropic:claude-sonnet-5-5" and n["reasoning"])
    assert r2["usage"] == {"input": 52, "cached_input": 12, "cache_write": 40, "output": 380, "reasoning": 96}
    assert r2["timing"] == {"ttft_ms": 820, "duration_ms": 6100}
    assert r2["params"]["effort"] == "high"
    assert "owner" not in r2


def test_round_trip_is_identical_under_new_ids():
    g = build_sample_graph()
    back = import_json(export_json(g))
    mapping = assert_same_tree(g, back)
    # the synthesis keeps its three sources in order
    synth = next(n for n in back.nodes.values() if n.kind == NodeKind.SYNTHESIS)
    sources = [e.parent_id for e in back.parents(synth.id, (EdgeRole.SOURCE,))]
    old_synth = next(n for n in g.nodes.values() if n.kind == NodeKind.SYNTHESIS)
    assert sources == [mapping[e.parent_id] for e in g.parents(old_synth.id, (EdgeRole.SOURCE,))]
    # the export of the import is the export of the original, ids aside
    again = json.loads(export_json(back))
    first = json.loads(export_json(g))
    for doc in (again, first):
        del doc["session"]["id"]
        for n in doc["nodes"]:
            del n["id"]
            n.get("run", {}).pop("rerun_of", None)  # an id too (assert_same_tree checks it is remapped)
        for e in doc["edges"]:
            del e["parent_id"], e["child_id"]
    assert again == first


def test_two_imports_get_different_ids():
    text = export_json(build_sample_graph())
    a, b = import_json(text), import_json(text)
    assert a.session.id != b.session.id
    assert not set(a.nodes) & set(b.nodes)


def test_live_statuses_export_as_interrupted_and_owner_is_dropped():
    g = build_sample_graph()
    node = node_with_text(g, "Combined: read with")
    node.status = NodeStatus.STREAMING
    node.owner = Owner(pid=123, host="box", heartbeat=T0)
    doc = json.loads(export_json(g))
    exported = next(n for n in doc["nodes"] if n["id"] == node.id)
    assert exported["status"] == "interrupted"
    assert "owner" not in exported and "heartbeat" not in json.dumps(doc)
    back = import_json(json.dumps(doc))
    assert_same_tree(g, back)  # compares live as interrupted


def test_meta_and_settings_ids_are_remapped():
    g = build_sample_graph()
    r1 = node_with_text(g, "memory stays flat")
    note = next(n for n in g.nodes.values() if n.kind == NodeKind.NOTE)
    note.meta["retry_of"] = r1.id
    g.session.settings["selected"] = [r1.id]
    back = import_json(export_json(g))
    mapping = assert_same_tree(g, back)
    new_note = back.nodes[mapping[note.id]]
    assert new_note.meta["retry_of"] == mapping[r1.id]
    assert back.session.settings["selected"] == [mapping[r1.id]]


def test_an_export_from_before_the_run_key_still_imports_its_run_facts():
    """Exports written before the node's "run" object kept the run facts among `meta` (started_at as
    ISO text): they import into the typed record, and the answer's card says what they say."""
    g = build_sample_graph()
    doc = json.loads(export_json(g))
    for n in doc["nodes"]:
        run = n.pop("run", None)
        if run:
            when = datetime.fromtimestamp(run["started_at"], UTC).isoformat(timespec="seconds")
            n["meta"] = {**n["meta"], **run, "started_at": when}
    assert not any("run" in n for n in doc["nodes"]) and any("request_id" in n["meta"] for n in doc["nodes"])
    back = import_json(json.dumps(doc))
    mapping = assert_same_tree(g, back)  # the same record (re-run id renamed), meta without the facts
    r2 = back.nodes[mapping[node_with_text(g, "standard choice").id]]
    assert "not sent: temperature" in metrics_line(r2) and r2.meta == {}
    # and a file that has both: the "run" object wins, meta's other keys stay
    doc["nodes"][1]["run"] = {"request_id": "req_new"}
    doc["nodes"][1]["meta"] = {"request_id": "req_old", "sweep_cell": {"cell": 1}}
    again = import_json(json.dumps(doc))
    node = list(again.nodes.values())[1]
    assert node.run_record.request_id == "req_new" and node.meta == {"sweep_cell": {"cell": 1}}


@pytest.mark.parametrize(("run", "message"), [
    ({"started_at": "yesterday"}, "started_at must be a time"),
    ({"dropped_params": "temperature"}, "dropped_params must be a list"),
    ({"no_key": "yes"}, "no_key"),
    ({"request_id": 7}, "request_id"),
])
def test_a_bad_run_object_is_refused_naming_the_field(run, message):
    doc = json.loads(export_json(build_sample_graph()))
    doc["nodes"][1]["run"] = run
    with pytest.raises(ImportFailed, match=message):
        import_json(json.dumps(doc))


def test_path_scope_keeps_only_the_ancestors():
    g = build_sample_graph()
    r4 = node_with_text(g, "count with `.count()`")
    doc = json.loads(export_session(g, "json", ExportOptions(scope="path", node_ids=[r4.id])))
    texts = [n["text"] for n in doc["nodes"]]
    assert len(texts) == 4  # P1 -> R1 -> P2 -> R4
    assert texts[0].startswith("How do I parse")
    assert "memory stays flat" in texts[1]
    assert all("Careful with user input" not in t for t in texts)
    ids = {n["id"] for n in doc["nodes"]}
    assert all(e["parent_id"] in ids and e["child_id"] in ids for e in doc["edges"])
    assert len(doc["edges"]) == 3


def test_selection_scope_and_reasoning_option():
    g = build_sample_graph()
    r1 = node_with_text(g, "memory stays flat")
    doc = json.loads(export_session(g, "json", ExportOptions(scope="selection", node_ids=[r1.id])))
    assert [n["id"] for n in doc["nodes"]] == [r1.id] and doc["edges"] == []
    assert doc["nodes"][0]["reasoning"]
    doc = json.loads(export_session(g, "json", ExportOptions(include_reasoning=False)))
    assert all(n["reasoning"] == "" for n in doc["nodes"])
    assert g.nodes[r1.id].reasoning  # the graph itself is untouched
    with pytest.raises(ValueError, match="not in session"):
        export_session(g, "json", ExportOptions(scope="selection", node_ids=["nope"]))


def test_unknown_and_png_formats_are_refused():
    g = build_sample_graph()
    with pytest.raises(ValueError, match="GUI"):
        export_session(g, "png", ExportOptions())
    with pytest.raises(ValueError, match="unknown export format"):
        export_session(g, "docx", ExportOptions())


def test_newer_version_and_foreign_json_are_refused_clearly():
    doc = json.loads(export_json(build_sample_graph()))
    doc["version"] = 2
    with pytest.raises(ImportFailed, match="newer Triptych"):
        import_json(json.dumps(doc))
    with pytest.raises(ImportFailed, match="not a Triptych export"):
        import_json('{"format": "other", "version": 1}')


def test_default_filename_is_a_slug_with_the_date():
    s = Session(title="Parse a CSV in Rust: 三个模型 🚀", created_at=T0)
    name = default_filename(s, "md")
    assert name.startswith("parse-a-csv-in-rust-三个模型-")
    assert name.endswith(".md") and "2025-11-1" in name
    assert default_filename(s, "canvas").endswith(".canvas")
    assert default_filename(Session(title="  /// ", created_at=T0), "json").startswith("session-")
    assert "/" not in default_filename(Session(title="a/b\\c:d*e?f", created_at=T0), "html")
    with pytest.raises(ValueError):
        default_filename(s, "docx")


def test_tree_order_and_numbering():
    g = build_sample_graph()
    secs = sections(g)
    titles = [(s.number, s.head.kind.value, s.head.text[:20]) for s in secs]
    assert [t[0] for t in titles] == ["1", "1.1", "1.2", "1.3", "2"]
    assert secs[0].head.text.startswith("How do I parse")
    assert [a.model for a in secs[0].answers] == [
        "deepseek:deepseek-flash",
        "anthropic:claude-sonnet-5-5",
        "openai:gpt-6.2-sol",
    ]
    assert secs[1].head.text.startswith("Make it stream")  # lanes follow-up of R1
    assert secs[2].head.text.startswith("Combine both")  # shared follow-up after R2
    assert secs[3].head.kind == NodeKind.SYNTHESIS  # after all three of its sources
    assert secs[4].head.kind == NodeKind.NOTE
    order = tree_order(g)
    assert len(order) == len(g.nodes) and set(n.id for n in order) == set(g.nodes)
