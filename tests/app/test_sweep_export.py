"""The exports of a sweep session (qa3 N7, N8): the md and html reports' totals say what the grid's
header says (every try's cost, the judge's apart, "pass 1/1 (100%) · 1 not run", the rubric); the csv
guards every text field a spreadsheet would run as a formula, and the jsonl keeps the values exact."""

from __future__ import annotations

import csv
import io
import json

from app.domain import Edge, EdgeRole, ErrorInfo, Graph, Node, NodeKind, NodeStatus, Session, Timing
from app.export import ExportOptions, export_session
from app.sweep import CELL_META, CHECKS_META, SCORE_META, SWEEP_META, SweepDef
from tests.app.test_export_md_html import inspect

DS, CL = "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5"
FORMULAS = ["=1+1", "+cmd|' /C calc'!A0", "-2+3", "@SUM(A1:A2)", "\tx", "\rx"]


def _session(rows: list[dict[str, str]], answers) -> Graph:
    """A sweep (models DS, CL; one prompt; judge with a rubric; the check contains:ok) and, per cell
    index, its attempts as (status, text, cost, judge cost, duration ms)."""
    defn = SweepDef(templates=["Explain {{topic}}"], models=[DS, CL], columns=list(rows[0]), rows=rows,
                    vars_name="rows.csv", checks=["contains:ok"], judge=CL, rubric="Names a | real use.")
    session = Session(title="Sweep: Explain")
    sweep = Node(session.id, NodeKind.SWEEP, defn.summary(), meta={SWEEP_META: defn.to_dict()}, created_at=1.0)
    nodes, edges = {sweep.id: sweep}, []
    at = 2.0
    for cell in defn.cells():
        mark = {CELL_META: {"sweep": sweep.id, "cell": cell.index}}
        prompt = Node(session.id, NodeKind.PROMPT, cell.text, meta=dict(mark), created_at=at)
        nodes[prompt.id] = prompt
        for status, text, cost, judge, ms in answers.get(cell.index, []):
            at += 1
            meta = {**mark, CHECKS_META: [{"check": "contains:ok", "pass": "ok" in text}]}
            if judge is not None:
                meta[SCORE_META] = {"score": 7, "reason": "fine", "cost_usd": judge}
            answer = Node(session.id, NodeKind.RESPONSE, text, model=cell.model, status=status, meta=meta,
                          cost_usd=cost, timing=Timing(duration_ms=ms), created_at=at,
                          error=ErrorInfo("server", "boom") if status == NodeStatus.ERROR else None)
            nodes[answer.id] = answer
            edges.append(Edge(prompt.id, answer.id, EdgeRole.REPLY, 0, session.id))
    return Graph(session, nodes, edges)


def test_report_totals_count_every_try_and_the_judge_apart_like_the_grid():
    # cell 0 (row 1, DeepSeek): a failed try ($0.01), then a passing one ($0.02, judged for $0.003);
    # cell 1 (row 1, Claude): one passing try ($0.005, judged $0.001); cell 2 (row 2, DeepSeek): a
    # check failed ($0.004, judged $0.001); cell 3 (row 2, Claude): never ran
    graph = _session([{"topic": "tabs"}, {"topic": "=1+1"}], {
        0: [(NodeStatus.ERROR, "", 0.01, None, None), (NodeStatus.DONE, "ok then", 0.02, 0.003, 400)],
        1: [(NodeStatus.DONE, "ok", 0.005, 0.001, 900)],
        2: [(NodeStatus.DONE, "nope", 0.004, 0.001, 300)],
    })
    names = {DS: "DeepSeek V4.1 Flash", CL: "Claude Sonnet 5.5"}
    md = export_session(graph, "md", ExportOptions(display_names=names))
    grid = md[md.index("## Sweep grid"):md.index("## Sweep definition")]
    # the whole grid, as the header's corner: every try's cost, the judge's apart, the cell not run named
    assert ("**All 4 cells:** pass 2/3 (67%) · 1 not run · mean score 7.0/10 (3 scored) · "
            "$0.0390 + judge $0.0050 · p50 400 ms · p95 900 ms") in grid
    assert "Judge: Claude Sonnet 5.5 · rubric: Names a \\| real use." in grid  # the rubric is in the report
    head, rule, totals, row1, row2 = [line for line in grid.splitlines() if line.startswith("|")]
    assert head == "| | DeepSeek V4.1 Flash · default settings | Claude Sonnet 5.5 · default settings |"
    assert totals == ("| **totals** | pass 1/2 (50%) · mean score 7.0/10 (2 scored) · $0.0340 + judge $0.0040 · "
                      "p50 300 ms · p95 400 ms | pass 1/1 (100%) · 1 not run · mean score 7.0/10 (1 scored) · "
                      "$0.0050 + judge $0.0010 · p50 900 ms · p95 900 ms |")
    # rows numbered as the grid numbers them; a re-run cell says which try it shows
    assert row1.startswith("| 1. tabs | ✓ done · try 2 · 1/1 checks · score 7/10 · 400 ms · $0.0200 — ok then |")
    assert row2 == "| 2. =1+1 | ✗ check failed · 0/1 checks · score 7/10 · 300 ms · $0.0040 — nope | queued |"

    page = export_session(graph, "html", ExportOptions(display_names=names))
    section = page[page.index('id="sweep-grid"'):page.index("</section>", page.index('id="sweep-grid"'))]
    assert "$0.0390 + judge $0.0050" in section and "pass 2/3 (67%) · 1 not run" in section
    assert "$0.0340 + judge $0.0040" in section and "pass 1/1 (100%) · 1 not run" in section
    assert "Judge: Claude Sonnet 5.5 · rubric: Names a | real use." in section
    assert '<th scope="row">2. =1+1</th>' in section
    assert inspect(page).problems == []  # still one inert, self-contained page


def test_csv_guards_every_text_field_that_looks_like_a_formula_and_jsonl_keeps_it_exact():
    rows = [{"topic": f, "note": f} for f in FORMULAS] + [{"topic": "plain", "note": "-"}]
    graph = _session(rows, {0: [(NodeStatus.DONE, "=HYPERLINK(\"http://x\")", 0.001, None, 10)],
                            2: [(NodeStatus.ERROR, "", 0.001, None, None)]})
    table = list(csv.reader(io.StringIO(export_session(graph, "csv"), newline="")))
    head, body = table[0], table[1:]
    assert len(body) == 2 * len(rows)
    cols = {name: i for i, name in enumerate(head)}
    for value, line in zip([f for f in FORMULAS for _ in (DS, CL)], body, strict=False):
        assert line[cols["vars.topic"]] == "'" + value and line[cols["vars.note"]] == "'" + value
    assert body[-1][cols["vars.topic"]] == "plain" and body[-1][cols["vars.note"]] == "'-"
    assert body[0][cols["text"]] == "'=HYPERLINK(\"http://x\")"
    for line in body:  # no text field of any row starts like a formula; numbers stay numbers
        assert not any(field[:1] in ("=", "+", "-", "@", "\t", "\r") for field in line), line
    assert body[0][cols["cost_usd"]] == "0.001" and body[0][cols["row"]] == "0"
    # the jsonl is exact: the values as the user's csv had them
    lines = [json.loads(x) for x in export_session(graph, "jsonl").splitlines()]
    assert [x["vars"]["topic"] for x in lines] == [v for v in [*FORMULAS, "plain"] for _ in (DS, CL)]
    assert lines[0]["text"] == "=HYPERLINK(\"http://x\")"
