"""File → Export session… of a sweep session (qa3 N6): the real dialog offers CSV and JSON Lines (one row
per cell, as `triptych export --format csv|jsonl`), and the format and the file's extension always agree:
choosing a format changes the extension, typing a file name ending in .html chooses HTML."""

from __future__ import annotations

import csv
import io
import json
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QPushButton

from app.domain import Edge, EdgeRole, Node, NodeKind, NodeStatus, Session
from app.sweep import CELL_META, SWEEP_META, SweepDef
from storage import open_store
from tests.ui.conftest import open_window, wait_until
from tests.ui.hands import trigger
from ui.dialogs import ExportDialog

DS = "deepseek:deepseek-flash"


def _sweep_session(data_dir) -> str:
    defn = SweepDef(templates=["Explain {{topic}}"], models=[DS], columns=["topic"],
                    rows=[{"topic": "tabs"}, {"topic": "=1+1"}], vars_name="rows.csv")
    repo = open_store(data_dir)
    session = repo.create_session(Session(title="Sweep: Explain"))
    sweep = Node(session.id, NodeKind.SWEEP, defn.summary(), meta={SWEEP_META: defn.to_dict()}, x=-600)
    nodes, edges = [sweep], []
    for cell in defn.cells():
        mark = {CELL_META: {"sweep": sweep.id, "cell": cell.index}}
        prompt = Node(session.id, NodeKind.PROMPT, cell.text, meta=dict(mark), y=cell.index * 700)
        answer = Node(session.id, NodeKind.RESPONSE, f"answer {cell.index}", model=cell.model,
                      status=NodeStatus.DONE, meta=dict(mark), cost_usd=0.001, y=cell.index * 700 + 180)
        nodes += [prompt, answer]
        edges.append(Edge(prompt.id, answer.id, EdgeRole.REPLY, 0, session.id))
    repo.add_nodes(nodes, edges)
    repo.close()
    return session.id


def _read(path: str | Path) -> str:
    return Path(path).read_text(encoding="utf-8")


def _export(window, fmt: str | None, typed: str | None) -> dict:
    """File → Export session…, and in the dialog that opens, as a user: choose `fmt` in the Format list,
    then (when given) select the file name and type `typed`, then click Export. Returns what the dialog
    showed."""
    seen: dict = {}

    def poll() -> None:
        dlg = QApplication.activeModalWidget()
        if not isinstance(dlg, ExportDialog) or not dlg.isVisible() or seen:
            return
        combo = dlg.format_combo
        seen["formats"] = [combo.itemData(i) for i in range(combo.count())]
        if fmt is not None:
            combo.setCurrentIndex(combo.findData(fmt))
        seen["after_format"] = dlg.path_edit.text()
        if typed is not None:
            dlg.path_edit.setFocus()
            QTest.keyClick(dlg.path_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
            QTest.keyClicks(dlg.path_edit, typed)
        seen["format"] = combo.currentData()
        seen["scope_enabled"] = {k for k, b in dlg.scope_buttons.items() if b.isEnabled()}
        seen["reasoning_enabled"] = dlg.reasoning_check.isEnabled()
        (ok,) = [b for b in dlg.findChildren(QPushButton) if b.text() == "Export"]
        QTest.mouseClick(ok, Qt.MouseButton.LeftButton)

    timer = QTimer()
    timer.setInterval(5)
    timer.timeout.connect(poll)
    timer.start()
    try:
        trigger(window, "File/Export session…")
    finally:
        timer.stop()
    assert seen, "no export dialog opened"
    return seen


async def test_export_dialog_offers_csv_and_jsonl_of_a_sweep_and_keeps_format_and_extension_agreed(
        app_env, fake_server, tmp_path):
    _sweep_session(app_env)
    async with open_window() as (window, _services):
        await wait_until(lambda: window.controller.sweeps.item is not None, 10, "the sweep's grid")
        window.settings.ui["export_dir"] = str(tmp_path)
        errors: list = []
        window.dialogs.show_error = lambda *a: errors.append(a)

        # CSV: offered; the file name takes .csv; one row per cell, a formula-like value guarded
        seen = _export(window, "csv", None)
        assert {"csv", "jsonl"} <= set(seen["formats"])
        assert seen["after_format"].endswith(".csv") and seen["scope_enabled"] == {"all"}
        assert not seen["reasoning_enabled"]  # one row per cell: no reasoning to leave out
        path = seen["after_format"]
        rows = list(csv.DictReader(io.StringIO(_read(path), newline="")))
        assert [(r["vars.topic"], r["text"], r["status"]) for r in rows] == [
            ("tabs", "answer 0", "done"), ("'=1+1", "answer 1", "done")]
        assert window.statusBar().currentMessage() == f"Exported to {path}"

        # JSON Lines: the values exact
        seen = _export(window, "jsonl", None)
        assert seen["after_format"].endswith(".jsonl")
        lines = [json.loads(x) for x in _read(seen["after_format"]).splitlines()]
        assert [x["vars"]["topic"] for x in lines] == ["tabs", "=1+1"]

        # Markdown chosen, then a name ending in .html typed: the format follows the extension
        seen = _export(window, "md", str(tmp_path / "report.html"))
        assert seen["format"] == "html"
        page = _read(tmp_path / "report.html")
        assert page.lstrip().lower().startswith("<!doctype html") and 'id="sweep-grid"' in page
        assert sorted(p.name for p in tmp_path.glob("report.*")) == ["report.html"]

        # a typed name, then another format chosen: the name keeps, its extension follows the format
        seen = _export(window, None, str(tmp_path / "mine.md"))
        assert seen["format"] == "md"
        assert _read(tmp_path / "mine.md").startswith("# Sweep: Explain")
        dlg = ExportDialog(lambda fmt: f"x.{fmt}", str(tmp_path), 0, "all", window, sweep=True)
        dlg.path_edit.setFocus()
        QTest.keyClick(dlg.path_edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClicks(dlg.path_edit, str(tmp_path / "mine.md"))
        dlg.format_combo.setCurrentIndex(dlg.format_combo.findData("jsonl"))
        assert dlg.path_edit.text() == str(tmp_path / "mine.jsonl")
        assert dlg.choice().fmt == "jsonl" and dlg.choice().path == str(tmp_path / "mine.jsonl")
        dlg.deleteLater()
        # a session without a sweep is not offered them
        plain = ExportDialog(lambda fmt: f"x.{fmt}", str(tmp_path), 0, "all", window)
        assert "csv" not in [plain.format_combo.itemData(i) for i in range(plain.format_combo.count())]
        plain.deleteLater()
        assert errors == []
