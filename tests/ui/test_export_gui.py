"""File → Export and File → Import on the real window (issue 5): the "done when" session (a 3-model
fan-out, a lane follow-up, a shared follow-up, a synthesis) exported whole, as the selected cards and
as the path to a card without reasoning, to every format, through the real export dialog; the json and
canvas files imported back; an Obsidian canvas imported as note cards; a bad file refused."""

from __future__ import annotations

import json
from pathlib import Path

from PySide6.QtCore import QPoint, Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest

from app.domain import NodeKind, SendMode
from app.export import default_filename
from tests.app.canvas_spec import canvas_problems
from tests.app.test_export_md_html import inspect
from tests.app.test_import import OBSIDIAN_CANVAS
from tests.fakes.server import Answer
from tests.ui.conftest import DEFAULT_MODELS, open_window, wait_until
from ui.canvas import constants as C
from ui.dialogs import ExportDialog

DS1 = "Keep order with `dict.fromkeys` — answer DS-1.\n\n```python\nlist(dict.fromkeys(xs))\n```\n"
CL1 = "A seen-set loop is clearest — answer CL-1.\n\n| way | order |\n|---|---|\n| set | lost |\n"
GP1 = "Use unique_everseen — answer GP-1. <img src=x onerror=alert(1)> [x](javascript:alert(2))\n"
CL2 = "For ten million strings dict.fromkeys wins — answer CL-2.\n"
DS2 = "Shared: both agree — answer DS-2.\n"
GP2 = "Shared: agreed — answer GP-2.\n"
SYN = "Merged: dict.fromkeys, or a seen-set for unhashables — answer SYN-1.\n"
MARKERS = [
    "answer DS-1",
    "answer CL-1",
    "answer GP-1",
    "answer CL-2",
    "answer DS-2",
    "answer GP-2",
    "answer SYN-1",
]


def _script(server) -> None:
    server.script(
        "deepseek-flash",
        Answer(text=(DS1[:20], DS1[20:]), reasoning=("order matters",), output_tokens=30, reasoning_tokens=3),
        Answer(text=(DS2,)),
    )
    server.script(
        "claude-sonnet-5-5",
        Answer(text=(CL1[:25], CL1[25:]), reasoning=("readability first",), output_tokens=40),
        Answer(text=(CL2,)),
        Answer(text=(SYN,)),
    )
    server.script("gpt-6.2-sol", Answer(text=(GP1,)), Answer(text=(GP2,)))


async def _send(window, text: str, mode: SendMode | None = None) -> list[str]:
    window.composer.set_text(text)
    ids = window.controller.send(
        window.composer.text(), window.composer.targets(), mode or window.composer.mode()
    )
    graph = window.controller.graph
    await wait_until(lambda: all(not graph.nodes[i].status.is_live for i in ids), 15, f"{text!r} answered")
    return ids


async def _build_session(window) -> dict[str, str]:
    """The issue's session, made as a user makes it. Returns {marker name: node id}."""
    graph = lambda: window.controller.graph  # noqa: E731
    ids = await _send(window, "How do I dedupe a list, keeping order?")
    by_model = {graph().nodes[i].model: i for i in ids if graph().nodes[i].is_answer}
    ds1, cl1, gp1 = (by_model[m] for m in DEFAULT_MODELS)
    window.controller.continue_lane(cl1)  # Continue this lane
    (cl2,) = [
        i for i in await _send(window, "Which is fastest?", SendMode.LANES) if graph().nodes[i].is_answer
    ]
    window.controller.use_as_shared_context(ds1)
    window.controller.use_as_shared_context(gp1)
    window.composer.set_models([DEFAULT_MODELS[0], DEFAULT_MODELS[2]])  # ask DeepSeek and GPT only
    shared = [
        i for i in await _send(window, "Reconcile these", SendMode.SHARED) if graph().nodes[i].is_answer
    ]
    ds2 = next(i for i in shared if graph().nodes[i].model == DEFAULT_MODELS[0])
    gp2 = next(i for i in shared if graph().nodes[i].model == DEFAULT_MODELS[2])
    window.dialogs.synthesize_options = lambda *a, **k: ("merge", DEFAULT_MODELS[1], None)
    syn = window.controller.synthesize([ds1, cl1, gp1])
    await wait_until(lambda: not graph().nodes[syn].status.is_live, 15, "synthesis done")
    window.controller.flush_repaints()
    assert len(graph().nodes) == 10
    return {"ds1": ds1, "cl1": cl1, "gp1": gp1, "cl2": cl2, "ds2": ds2, "gp2": gp2, "syn": syn}


class ExportDriver:
    """Stands in for DialogService.export_options: builds the real ExportDialog and uses its widgets as a
    user would (format, scope, reasoning, file name), recording what the dialog offered."""

    def __init__(self, window) -> None:
        self.window = window
        self.offered: list[dict] = []
        self.plan: dict = {}
        window.dialogs.export_options = self

    def __call__(self, default_name, folder, selected, scope="all", sweep=False):
        dlg = ExportDialog(default_name, folder, selected, scope, self.window, sweep=sweep)
        try:
            checked = next(k for k, b in dlg.scope_buttons.items() if b.isChecked())
            enabled = {k for k, b in dlg.scope_buttons.items() if b.isEnabled()}
            dlg.format_combo.setCurrentIndex(dlg.format_combo.findData(self.plan["fmt"]))
            self.offered.append(
                {"scope": checked, "enabled": enabled, "name": Path(dlg.path_edit.text()).name}
            )
            if self.plan.get("scope"):
                dlg.scope_buttons[self.plan["scope"]].click()
            if not self.plan.get("reasoning", True):
                dlg.reasoning_check.click()
            dlg.path_edit.setText(str(self.plan["path"]))
            return dlg.choice()
        finally:
            dlg.deleteLater()

    def export(self, action, fmt: str, path: Path, **plan) -> Path:
        self.plan = {"fmt": fmt, "path": path, **plan}
        action.trigger()
        assert path.exists(), f"{fmt} export wrote nothing"
        return path


def _tree(graph) -> list[tuple]:
    sig = {nid: (n.kind.value, n.model, n.text) for nid, n in graph.nodes.items()}
    out = []
    for nid, n in graph.nodes.items():
        parents = tuple((sig[e.parent_id], e.role.value) for e in graph.parents(nid))
        out.append((*sig[nid], n.reasoning, n.status.value, n.usage, n.cost_usd, n.timing, n.x, n.y, parents))
    return sorted(out, key=repr)


def _check_png(window, path: Path, node_ids) -> QImage:
    image = QImage(str(path))
    bounds = window.scene.cards_bounds(node_ids)
    assert abs(image.width() - (bounds.width() + 96) * 2) <= 4, (image.width(), bounds.width())
    # the image has the cards without their button row, so the lowest card ends that much higher
    expected_h = (bounds.height() - C.ACTIONS_H + 96) * 2
    assert abs(image.height() - expected_h) <= 4, (image.height(), bounds.height())
    background = QColor(image.pixel(2, 2))
    for nid in node_ids:  # every card is drawn where it sits on the canvas
        card = window.scene.card(nid).sceneBoundingRect()
        x = int((card.left() - bounds.left() + 48 + 60) * 2)
        y = int((card.top() - bounds.top() + 48 + 10) * 2)
        assert QColor(image.pixel(x, y)) != background, nid
    return image


async def test_export_whole_session_selection_and_path_then_import_them(app_env, fake_server, tmp_path):
    _script(fake_server)
    async with open_window() as (window, services):
        ids = await _build_session(window)
        original = window.controller.graph
        original_tree = _tree(window.controller.export_graph())
        driver = ExportDriver(window)
        session = window.controller.session

        # --- the whole session, to every format (File → Export session…)
        window.scene.select_only([])
        whole = {}
        for fmt in ("json", "canvas", "md", "html", "png"):
            whole[fmt] = driver.export(window.export_action, fmt, tmp_path / f"whole.{fmt}")
            offered = driver.offered[-1]
            assert offered["scope"] == "all" and offered["enabled"] == {"all"}  # nothing selected
            assert offered["name"] == default_filename(session, fmt)  # named after the session, per format
        doc = json.loads(whole["json"].read_text(encoding="utf-8"))
        assert len(doc["nodes"]) == 10 and len(doc["edges"]) == len(original.edges)
        canvas = json.loads(whole["canvas"].read_text(encoding="utf-8"))
        assert canvas_problems(canvas) == [] and len(canvas["nodes"]) == 10
        md = whole["md"].read_text(encoding="utf-8")
        assert all(m in md for m in MARKERS)
        assert md.count("| Model | Status | TTFT |") == 3 and "## Session totals" in md
        assert "<summary>Reasoning</summary>" in md and "order matters" in md
        page = whole["html"].read_text(encoding="utf-8")
        ins = inspect(page)
        assert ins.problems == []
        assert all(m in ins.visible for m in MARKERS)
        assert '<div class="lanes" style="--n:3">' in page
        _check_png(window, whole["png"], list(original.nodes))

        # --- the selected cards (File → Export selection…)
        window.scene.select_only([ids["ds1"], ids["cl1"]])
        sel = {}
        for fmt in ("json", "canvas", "md", "html", "png"):
            sel[fmt] = driver.export(window.export_selection_action, fmt, tmp_path / f"sel.{fmt}")
            assert driver.offered[-1]["scope"] == "selection"
            assert driver.offered[-1]["enabled"] == {"all", "selection", "path"}
        doc = json.loads(sel["json"].read_text(encoding="utf-8"))
        assert sorted(n["text"] for n in doc["nodes"]) == sorted([DS1, CL1])
        canvas = json.loads(sel["canvas"].read_text(encoding="utf-8"))
        assert canvas_problems(canvas) == [] and len(canvas["nodes"]) == 2
        for fmt in ("md", "html"):
            text = sel[fmt].read_text(encoding="utf-8")
            assert "answer DS-1" in text and "answer CL-1" in text, fmt
            assert not any(m in text for m in MARKERS[2:]), fmt
        assert inspect(sel["html"].read_text(encoding="utf-8")).problems == []
        part = _check_png(window, sel["png"], [ids["ds1"], ids["cl1"]])
        assert part.width() < QImage(str(whole["png"])).width()

        # --- the path to Claude's follow-up answer, without reasoning (scope and reasoning in the dialog)
        window.scene.select_only([ids["cl2"]])
        for fmt in ("json", "md"):
            driver.export(window.export_action, fmt, tmp_path / f"path.{fmt}", scope="path", reasoning=False)
            assert driver.offered[-1]["scope"] == "all"  # Export session… starts at the whole session
        doc = json.loads((tmp_path / "path.json").read_text(encoding="utf-8"))
        assert sorted((n["kind"], n["text"][:14]) for n in doc["nodes"]) == sorted(
            [("prompt", "How do I dedup"), ("response", CL1[:14]), ("prompt", "Which is faste"),
             ("response", CL2[:14])]
        )  # fmt: skip
        assert all(n["reasoning"] == "" for n in doc["nodes"])
        md = (tmp_path / "path.md").read_text(encoding="utf-8")
        assert "answer CL-2" in md and "answer DS-1" not in md and "readability first" not in md

        # --- Export selection… with nothing selected says so and asks nothing
        window.scene.select_only([])
        asked = len(driver.offered)
        window.export_selection_action.trigger()
        assert len(driver.offered) == asked
        assert "Select the cards" in window.statusBar().currentMessage()

        # --- File → Import of the json and the canvas: the same tree, shown, in the sidebar
        for fmt in ("json", "canvas"):
            before = window.controller.session_id
            window.dialogs.import_path = lambda folder, p=whole[fmt]: str(p)
            window.import_action.trigger()
            assert window.controller.session_id not in (before, session.id), fmt
            assert len(window.scene.cards()) == 10
            assert _tree(window.controller.graph) == original_tree, fmt
            assert len(window.scene.edge_keys()) == len(original.edges)
            current = window.sidebar.list.currentItem()
            assert current is not None and current.text().startswith(session.title)
            assert "Imported 10 cards" in window.statusBar().currentMessage()
        assert window.sidebar.list.count() == 3
        assert len(services.repo.list_sessions()) == 3


async def test_import_obsidian_canvas_as_notes_and_refuse_a_bad_file(app_env, fake_server, tmp_path):
    board = tmp_path / "Reading list.canvas"
    board.write_text(json.dumps(OBSIDIAN_CANVAS), encoding="utf-8")
    bad = tmp_path / "broken.canvas"
    bad.write_text('{"nodes": [{"id": "a", "type": "text", "x": 0}]', encoding="utf-8")
    async with open_window() as (window, services):
        errors = []
        window.dialogs.show_error = lambda title, text: errors.append((title, text))
        window.dialogs.import_path = lambda folder: str(board)
        window.import_action.trigger()
        graph = window.controller.graph
        assert window.controller.session.title == "Reading list"
        assert errors == []
        assert len(window.scene.cards()) == len(OBSIDIAN_CANVAS["nodes"])
        assert all(n.kind == NodeKind.NOTE for n in graph.nodes.values())
        texts = {n.text: n for n in graph.nodes.values()}
        assert {"Research", "📄 Notes/Rust CSV.md", "https://docs.rs/csv"} <= set(texts)
        for raw in OBSIDIAN_CANVAS["nodes"]:  # positions kept
            label = raw.get("text") or raw.get("label") or raw.get("url")
            if label in texts:
                assert (texts[label].x, texts[label].y) == (raw["x"], raw["y"])
        assert len(window.scene.edge_keys()) == len(OBSIDIAN_CANVAS["edges"])
        sessions = len(services.repo.list_sessions())
        shown = window.controller.session_id

        window.dialogs.import_path = lambda folder: str(bad)
        window.import_action.trigger()
        assert len(errors) == 1 and errors[0][0] == "Import failed"
        assert "broken.canvas" in errors[0][1] and "JSON" in errors[0][1]
        assert len(services.repo.list_sessions()) == sessions  # nothing half-imported
        assert window.controller.session_id == shown

        window.dialogs.import_path = lambda folder: None  # cancelled
        window.import_action.trigger()
        assert len(errors) == 1 and window.controller.session_id == shown


async def test_comparison_table_sorts_by_number_and_shows_totals(app_env, fake_server):
    fake_server.script("deepseek-flash", Answer(text=("a",), input_tokens=9, output_tokens=1200))
    fake_server.script("claude-sonnet-5-5", Answer(text=("b",), input_tokens=9, output_tokens=95))
    fake_server.script("gpt-6.2-sol", Answer(text=("c",), input_tokens=9, output_tokens=310))
    async with open_window() as (window, _services):
        ids = await _send(window, "Sort me")
        tables = []
        window.controller.table_requested.connect(lambda pid: tables.append(window.open_table(pid)))
        assert window.controller.comparison_table(ids[1])
        dialog = tables[0]
        table = dialog.table

        def column(c: int) -> list[str]:
            return [table.item(r, c).text() for r in range(table.rowCount())]

        names = [window.catalog.display_name(m) for m in DEFAULT_MODELS]
        assert column(0) == names  # in the order they were asked until the user sorts
        output = 6
        header = table.horizontalHeader()
        x = header.sectionViewportPosition(output) + header.sectionSize(output) // 2
        QTest.mouseClick(header.viewport(), Qt.MouseButton.LeftButton, pos=QPoint(x, header.height() // 2))
        assert column(output) == ["95", "310", "1.2k"]  # by number, not by text ("1.2k" < "310" < "95")
        assert column(0) == [names[1], names[2], names[0]]
        totals = dialog.totals_label.text()
        assert "Whole session" in totals and "3 answers" in totals and "out 1.6k" in totals
        dialog.close()
