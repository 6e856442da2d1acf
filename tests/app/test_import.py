"""Import of untrusted files: Triptych JSON, our canvases, Obsidian canvases; clear errors, no writes."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import pytest

from app.domain import Edge, EdgeRole, Graph, Node, NodeKind, Session
from app.export import ImportFailed, export_canvas, export_json, import_file, save_imported
from tests.app.sample_graph import assert_same_tree, build_sample_graph

# A canvas as Obsidian writes it: text, file, link and group nodes, edges with and without labels.
OBSIDIAN_CANVAS = {
    "nodes": [
        {
            "id": "8a2f1c3b9d0e4f51",
            "type": "group",
            "x": -60,
            "y": -80,
            "width": 1100,
            "height": 620,
            "color": "6",
            "label": "Research",
        },
        {
            "id": "1b7c2d4e5f6a7b8c",
            "type": "text",
            "text": "# Ideas\n\n- parse CSV lazily\n- compare crates ✅",
            "x": -20,
            "y": -20,
            "width": 400,
            "height": 260,
            "color": "#FF8800",
        },
        {
            "id": "c0ffee0000000001",
            "type": "file",
            "file": "Notes/Rust CSV.md",
            "x": 460,
            "y": -20,
            "width": 400,
            "height": 400,
        },
        {
            "id": "c0ffee0000000002",
            "type": "file",
            "file": "Attachments/plot.png",
            "subpath": "#page=1",
            "x": 460,
            "y": 420,
            "width": 300,
            "height": 100,
        },
        {
            "id": "d00d000000000003",
            "type": "link",
            "url": "https://docs.rs/csv",
            "x": -20,
            "y": 300,
            "width": 400,
            "height": 200,
            "color": "4",
        },
    ],
    "edges": [
        {
            "id": "e1",
            "fromNode": "1b7c2d4e5f6a7b8c",
            "fromSide": "right",
            "toNode": "c0ffee0000000001",
            "toSide": "left",
        },
        {
            "id": "e2",
            "fromNode": "1b7c2d4e5f6a7b8c",
            "fromSide": "bottom",
            "toNode": "d00d000000000003",
            "toSide": "top",
            "toEnd": "arrow",
            "label": "see also",
            "color": "2",
        },
        {"id": "e3", "fromNode": "c0ffee0000000001", "toNode": "c0ffee0000000002", "label": "follow"},
        {
            "id": "e4",
            "fromNode": "d00d000000000003",
            "toNode": "c0ffee0000000001",
            "fromEnd": "none",
            "toEnd": "arrow",
        },
    ],
}


class FakeRepo:
    """Records the calls `save_imported` makes; optionally fails in add_nodes."""

    def __init__(self, fail_add: bool = False) -> None:
        self.calls: list[str] = []
        self.sessions: dict[str, Session] = {}
        self.nodes: list[Node] = []
        self.edges: list[Edge] = []
        self.fail_add = fail_add

    def create_session(self, session: Session) -> Session:
        self.calls.append("create_session")
        self.sessions[session.id] = session
        return session

    def add_nodes(self, nodes: Sequence[Node], edges: Sequence[Edge] = ()) -> None:
        self.calls.append("add_nodes")
        if self.fail_add:
            raise RuntimeError("disk full")
        self.nodes += nodes
        self.edges += edges

    def purge_session(self, session_id: str) -> None:
        self.calls.append("purge_session")
        self.sessions.pop(session_id, None)


def test_obsidian_canvas_imports_as_note_cards():
    g = import_file(json.dumps(OBSIDIAN_CANVAS).encode(), title="My board")
    assert g.session.title == "My board"
    assert all(n.kind == NodeKind.NOTE for n in g.nodes.values())
    nodes = list(g.nodes.values())
    assert nodes[0].meta["canvas_type"] == "group"  # groups first: they sit under their cards
    by_text = {n.text: n for n in nodes}
    group = by_text["Research"]
    assert (group.x, group.y, group.width, group.height, group.color) == (-60, -80, 1100, 620, "6")
    ideas = by_text["# Ideas\n\n- parse CSV lazily\n- compare crates ✅"]
    assert (ideas.x, ideas.y, ideas.width, ideas.height, ideas.color) == (-20, -20, 400, 260, "#FF8800")
    md_file = by_text["📄 Notes/Rust CSV.md"]
    assert md_file.meta == {"canvas_type": "file", "file": "Notes/Rust CSV.md", "subpath": None}
    assert "📄 Attachments/plot.png#page=1" in by_text
    link = by_text["https://docs.rs/csv"]
    assert link.color == "4" and link.meta["url"] == "https://docs.rs/csv"

    def edge(a: Node, b: Node) -> Edge:
        (found,) = [e for e in g.edges if e.parent_id == a.id and e.child_id == b.id]
        return found

    assert edge(ideas, md_file).role == EdgeRole.REF  # no label
    assert edge(ideas, link).role == EdgeRole.REF  # a label that is not a role
    assert edge(md_file, by_text["📄 Attachments/plot.png#page=1"]).role == EdgeRole.FOLLOW
    # md_file has two parents: ordered as in the file
    assert [e.parent_id for e in g.parents(md_file.id)] == [ideas.id, link.id]
    assert {e.session_id for e in g.edges} == {g.session.id}


def test_obsidian_canvas_from_a_path_is_named_after_the_file(tmp_path):
    path = tmp_path / "Reading list.canvas"
    path.write_text(json.dumps(OBSIDIAN_CANVAS), encoding="utf-8")
    assert import_file(path).session.title == "Reading list"


def test_triptych_json_file_is_detected(tmp_path):
    g = build_sample_graph()
    path = tmp_path / "export.json"
    path.write_bytes(b"\xef\xbb\xbf" + export_json(g).encode())  # a BOM is fine
    assert_same_tree(g, import_file(path))


def _canvas(**change: Any) -> dict[str, Any]:
    doc = json.loads(json.dumps(OBSIDIAN_CANVAS))
    for key, value in change.items():
        kind, index, field = key.split("__")
        if value is DELETE:
            del doc[kind][int(index)][field]
        else:
            doc[kind][int(index)][field] = value
    return doc


DELETE = object()
BAD_CANVASES = [
    (_canvas(nodes__1__id=DELETE), "node 2 has no id"),
    (_canvas(nodes__1__x="12"), "x must be a finite number"),
    (_canvas(nodes__2__id="1b7c2d4e5f6a7b8c"), "node 3 (1b7c2d4e5f6a7b8c) has the same id"),
    (_canvas(nodes__1__type="widget"), "unknown type 'widget'"),
    (_canvas(nodes__1__text=42), "text must be text"),
    (_canvas(nodes__1__width=-5), "width must be positive"),
    (_canvas(nodes__1__color="red"), "color 'red'"),
    (_canvas(nodes__2__file=DELETE), "has no file"),
    (_canvas(nodes__4__url=None), "has no url"),
    (_canvas(edges__0__toNode="missing"), "edge 1 (e1): toNode 'missing' is not a node"),
    (_canvas(edges__1__fromSide="middle"), "fromSide 'middle'"),
    (_canvas(edges__1__toEnd="big"), "toEnd 'big'"),
    (_canvas(edges__2__id=DELETE), "edge 3 has no id"),
    ({"nodes": {"a": 1}}, "nodes must be a list"),
    ({"nodes": [1, 2]}, "node 1 must be an object"),
    ([1, 2, 3], "top level is not an object"),
    ({"something": "else"}, "no format and no nodes"),
]


@pytest.mark.parametrize(("doc", "message"), BAD_CANVASES, ids=[m for _, m in BAD_CANVASES])
def test_bad_canvas_gives_a_clear_error_and_writes_nothing(doc, message):
    repo = FakeRepo()
    with pytest.raises(ImportFailed) as err:
        save_imported(repo, import_file(json.dumps(doc).encode()))  # type: ignore[arg-type]
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert repo.calls == []


def _json_doc() -> dict[str, Any]:
    return json.loads(export_json(build_sample_graph()))


def _broken(fn: Any) -> bytes:
    doc = _json_doc()
    fn(doc)
    return json.dumps(doc).encode()


BAD_JSON = [
    (b"", "the file is empty"),
    (b"\xff\xfe{", "not UTF-8"),
    (b'{"format": "triptych", "version": 1, "nodes": [', "not valid JSON"),
    (b'{"format": "triptych", "version": 1, "nodes": [NaN]}', "NaN"),
    (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
    (_broken(lambda d: d["nodes"][2].pop("id")), "node 3 has no id"),
    (_broken(lambda d: d["nodes"][3].update(id=d["nodes"][1]["id"])), "node 4 has the same id"),
    (_broken(lambda d: d["nodes"][1].update(kind="robot")), "node 2 has unknown kind 'robot'"),
    (_broken(lambda d: d["nodes"][1].update(x="left")), "node 2: x must be a finite number"),
    (
        _broken(lambda d: d["nodes"][1]["usage"].update(output=-3)),
        "node 2 usage: output must not be negative",
    ),
    (_broken(lambda d: d["nodes"][1]["usage"].update(output=1.5)), "output must be a whole number"),
    (_broken(lambda d: d["nodes"][1].update(status="exploded")), "unknown status 'exploded'"),
    (_broken(lambda d: d["nodes"][1].update(meta=[1])), "meta must be an object"),
    (_broken(lambda d: d["edges"][0].update(child_id="ghost")), "edge 1: child_id 'ghost' is not a node"),
    (_broken(lambda d: d["edges"][1].update(role="sibling")), "edge 2 has unknown role 'sibling'"),
    (_broken(lambda d: d["edges"].append(dict(d["edges"][0]))), "repeats edge 1"),
    (_broken(lambda d: d.update(nodes="many")), "no list of nodes"),
    (_broken(lambda d: d["nodes"][1].update(model="gpt4")), "is not written as PROVIDER:MODEL"),
    (
        _broken(
            lambda d: d["edges"].append(
                {
                    **d["edges"][3],
                    "parent_id": d["edges"][3]["child_id"],
                    "child_id": d["edges"][3]["parent_id"],
                    "role": "follow",
                }
            )
        ),
        "the edges loop back to node",
    ),
    (_broken(lambda d: d.update(version="one")), "format version"),
]


@pytest.mark.parametrize(("data", "message"), BAD_JSON, ids=[m for _, m in BAD_JSON])
def test_bad_json_gives_a_clear_error_and_writes_nothing(data, message):
    repo = FakeRepo()
    with pytest.raises(ImportFailed) as err:
        save_imported(repo, import_file(data))  # type: ignore[arg-type]
    assert message in str(err.value)
    assert "\n" not in str(err.value)
    assert repo.calls == []


def test_loops_drawn_in_obsidian_are_cut_where_they_close():
    doc = json.loads(json.dumps(OBSIDIAN_CANVAS))
    # e5 closes the loop file -> plot -> file; e6 is a self-link
    doc["edges"].append({"id": "e5", "fromNode": "c0ffee0000000002", "toNode": "c0ffee0000000001"})
    doc["edges"].append({"id": "e6", "fromNode": "d00d000000000003", "toNode": "d00d000000000003"})
    g = import_file(json.dumps(doc).encode())
    assert len(g.edges) == 4  # e1-e4 kept, e5 and e6 dropped
    by_text = {n.text: n.id for n in g.nodes.values()}
    plot, md_file = by_text["📄 Attachments/plot.png#page=1"], by_text["📄 Notes/Rust CSV.md"]
    assert not any(e.parent_id == plot and e.child_id == md_file for e in g.edges)


def test_empty_and_minimal_sessions_export_and_import():
    from app.export import export_session

    empty = Graph(Session(title="Nothing yet"))
    for fmt in ("md", "html", "json", "canvas"):
        assert export_session(empty, fmt)
    assert import_file(export_json(empty).encode()).nodes == {}
    assert import_file(export_canvas(empty).encode()).nodes == {}
    assert import_file(b'{"nodes": [], "edges": []}').nodes == {}
    lone = Graph(Session(title="One note"))
    lone.add(Node(session_id=lone.session.id, kind=NodeKind.NOTE, text="just a note <b>"))
    for fmt in ("md", "html", "json", "canvas"):
        assert "just a note" in export_session(lone, fmt)
    assert_same_tree(lone, import_file(export_canvas(lone).encode()))


def test_size_limit(tmp_path):
    data = export_json(build_sample_graph()).encode()
    with pytest.raises(ImportFailed, match="import limit"):
        import_file(data, max_bytes=1000)
    path = tmp_path / "big.json"
    path.write_bytes(data)
    with pytest.raises(ImportFailed, match="import limit of"):
        import_file(path, max_bytes=1000)
    with pytest.raises(ImportFailed, match="does not exist"):
        import_file(tmp_path / "missing.canvas")
    with pytest.raises(ImportFailed, match="folder"):
        import_file(tmp_path)


def test_save_imported_uses_one_session_and_one_batch():
    g = build_sample_graph()
    imported = import_file(export_canvas(g).encode())
    repo = FakeRepo()
    session = save_imported(repo, imported)  # type: ignore[arg-type]
    assert repo.calls == ["create_session", "add_nodes"]
    assert session.id == imported.session.id
    assert [n.id for n in repo.nodes] == list(imported.nodes)
    assert len(repo.edges) == len(g.edges)


def test_a_failed_save_leaves_no_empty_session():
    repo = FakeRepo(fail_add=True)
    with pytest.raises(RuntimeError, match="disk full"):
        save_imported(repo, import_file(export_json(build_sample_graph()).encode()))  # type: ignore[arg-type]
    assert repo.calls == ["create_session", "add_nodes", "purge_session"]
    assert repo.sessions == {}


def test_round_trip_through_the_real_store(tmp_path):
    storage = pytest.importorskip("storage")
    repo = storage.open_store(tmp_path)
    try:
        g = build_sample_graph()
        imported = import_file(export_canvas(g).encode())
        session = save_imported(repo, imported)
        loaded: Graph = repo.load_graph(session.id)
        assert_same_tree(g, loaded, session_updated=False)  # the store touches updated_at on write
        # and once more: export what the store gives back, import it again
        again = import_file(export_json(loaded).encode())
        assert_same_tree(g, again, session_updated=False)
    finally:
        repo.close()


@pytest.mark.parametrize("export", [export_json, export_canvas])
def test_an_imported_session_is_told_apart_from_its_source_once(export):
    """Issue #12: the import had the same title as the session it came from (two identical entries in
    the sidebar); importing an export of the imported copy does not pile the mark up."""
    g = build_sample_graph()
    first = import_file(export(g).encode())
    assert first.session.title == g.session.title + " (imported)"
    again = import_file(export(first).encode())
    assert again.session.title == g.session.title + " (imported)"


def test_an_export_with_a_negative_duration_imports_with_zero():
    """Earlier builds stored negative durations for answers that failed around a retry; the user's own
    JSON export must import again (timing read as 0), while other bad timing is still refused."""
    doc = _json_doc()
    answer = next(n for n in doc["nodes"] if n.get("model"))
    answer["timing"] = {"ttft_ms": -40, "duration_ms": -2}
    (got,) = [n for n in import_file(json.dumps(doc).encode()).nodes.values() if n.text == answer["text"]]
    assert (got.timing.ttft_ms, got.timing.duration_ms) == (0, 0)
    answer["timing"] = {"ttft_ms": None, "duration_ms": "fast"}
    with pytest.raises(ImportFailed, match="duration_ms must be a whole number"):
        import_file(json.dumps(doc).encode())
