"""Sweeps (app.sweep): template expansion, variable files, the cartesian product, checks, the judge's
reply, and the runner (concurrency cap per provider, resume that never repeats a finished cell)."""

from __future__ import annotations

import asyncio
import time
from typing import ClassVar

import pytest

from app.domain import Node, NodeKind, NodeStatus, Session, Timing
from app.engine import Engine
from app.events import Finish, StreamError, TextDelta, Usage
from app.sweep import (
    SWEEP_META,
    SweepDef,
    SweepError,
    SweepRunner,
    cell_answers,
    cell_passed,
    column_totals,
    expand,
    find_sweep,
    parse_check,
    parse_judge_reply,
    parse_prompts_file,
    parse_sets,
    parse_vars,
    percentile,
    placeholders,
    run_checks,
    sweep_rows,
)
from storage import open_store
from tests.app.scripted import ScriptedProvider, default_script, settings_with_keys

DS, CL, GP = "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"


# ------------------------------------------------------------------------------------------------ templates
def test_expansion_inserts_awkward_values_verbatim():
    values = {"q": 'say "hi", then\nleave', "who": "李小龙 🐉", "x": "{{who}}"}
    assert expand("{{q}} | {{ who }} | {{x}}", values) == 'say "hi", then\nleave | 李小龙 🐉 | {{who}}'
    # a value that looks like a placeholder is never expanded again, even one naming itself
    assert expand("{{x}}{{x}}", {"x": "{{x}}"}) == "{{x}}{{x}}"
    assert placeholders("{{a}} {{ b }} {{a}} {single} {{}}") == ["a", "b"]


def test_csv_with_quotes_commas_newlines_and_cjk_reads_back_verbatim():
    text = '\ufeffid,question,note\n1,"He said ""hi"", twice","line one\nline two"\n2,日本語の質問,{{id}}\n\n'
    columns, rows = parse_vars("rows.csv", text)
    assert columns == ["id", "question", "note"]
    assert rows == [
        {"id": "1", "question": 'He said "hi", twice', "note": "line one\nline two"},
        {"id": "2", "question": "日本語の質問", "note": "{{id}}"},
    ]
    defn = SweepDef(templates=["Q{{id}}: {{question}} ({{note}})"], models=[DS], columns=columns, rows=rows,
                    vars_name="rows.csv")
    defn.validate()
    assert [c.text for c in defn.cells()] == ['Q1: He said "hi", twice (line one\nline two)', "Q2: 日本語の質問 ({{id}})"]


def test_jsonl_rows_keep_strings_and_write_other_values_as_json():
    text = '{"a": "x, \\"y\\"", "n": 3}\n\n{"a": "中文\\n二", "flag": true, "obj": {"k": [1]}}\n'
    columns, rows = parse_vars("rows.jsonl", text)
    assert columns == ["a", "n", "flag", "obj"]
    assert rows[0] == {"a": 'x, "y"', "n": "3", "flag": "", "obj": ""}
    assert rows[1] == {"a": "中文\n二", "flag": "true", "obj": '{"k": [1]}', "n": ""}


@pytest.mark.parametrize("name,text,message", [
    ("rows.csv", "", "empty"),
    ("rows.csv", "a,b\n", "no rows"),
    ("rows.csv", "a,a\n1,2\n", "distinct"),
    ("rows.csv", "a\n1,2\n", "row 2 has 2 fields"),
    ("rows.jsonl", '{"a": 1}\n[1]\n', "line 2 is not a JSON object"),
    ("rows.jsonl", '{"a": 1}\n{bad\n', "line 2 is not valid JSON"),
])
def test_bad_variable_files_are_refused_with_the_reason(name, text, message):
    with pytest.raises(SweepError, match=message):
        parse_vars(name, text)


def test_a_template_naming_a_missing_column_is_refused_naming_the_column():
    defn = SweepDef(templates=["ok {{a}}", "bad {{missing}}"], models=[DS], columns=["a"], rows=[{"a": "1"}],
                    vars_name="rows.csv")
    with pytest.raises(SweepError, match=r"^Template 2 uses \{\{missing\}\} but rows.csv has no column 'missing'"):
        defn.validate()
    with pytest.raises(SweepError, match=r"^Row 2 of rows\.csv makes the template an empty prompt"):
        SweepDef(templates=["{{a}}"], models=[DS], columns=["a"], rows=[{"a": "1"}, {"a": " "}],
                 vars_name="rows.csv").validate()
    with pytest.raises(SweepError, match=r"^The template uses .* but there is no variables file$"):
        SweepDef(templates=["{{a}}"], models=[DS]).validate()


def test_prompts_file_one_per_line_or_a_json_array():
    assert parse_prompts_file("p.txt", "first {{a}}\n\n  second\n") == ["first {{a}}", "  second"]
    assert parse_prompts_file("p.json", '["multi\\nline", "two, with comma"]') == ["multi\nline", "two, with comma"]
    with pytest.raises(SweepError):
        parse_prompts_file("p.json", '{"not": "a list"}')


# ------------------------------------------------------------------------------------------------ product
def test_parameter_variants_are_the_cartesian_product_in_the_order_given():
    variants = parse_sets(["temperature=0,0.7", "effort=low,high"], ["Be brief, please.", "Be formal."])
    assert len(variants) == 8
    assert variants[0] == {"temperature": 0.0, "effort": "low", "system": "Be brief, please."}
    assert variants[-1] == {"temperature": 0.7, "effort": "high", "system": "Be formal."}
    assert parse_sets([]) == [{}]
    assert parse_sets(["max_tokens=100,200"]) == [{"max_tokens": 100}, {"max_tokens": 200}]


@pytest.mark.parametrize("spec,message", [
    ("temperature", "PARAM=V1,V2"), ("colour=red", "unknown parameter"), ("temperature=hot", "hot"),
    ("max_tokens=0", "positive"), ("temperature=0,", "empty value"), ("system=a,b", "--system"),
])
def test_bad_set_is_refused(spec, message):
    with pytest.raises(SweepError, match=message):
        parse_sets([spec])


def test_cells_run_in_row_prompt_model_variant_order():
    defn = SweepDef(templates=["A {{n}}", "B {{n}}"], models=[DS, GP], columns=["n"],
                    rows=[{"n": "1"}, {"n": "2"}, {"n": "3"}], vars_name="v.csv",
                    variants=parse_sets(["temperature=0,1"]))
    cells = defn.cells()
    assert len(cells) == defn.size == 3 * 2 * 2 * 2
    assert [(c.row, c.prompt_index, c.model, c.params["temperature"]) for c in cells[:5]] == [
        (0, 0, DS, 0.0), (0, 0, DS, 1.0), (0, 0, GP, 0.0), (0, 0, GP, 1.0), (0, 1, DS, 0.0)]
    assert cells[4].text == "B 1" and cells[-1].text == "B 3"
    assert [c.index for c in cells] == list(range(24))
    assert SweepDef.from_dict(defn.to_dict()).cells() == cells  # stored and read back: the same grid


# ------------------------------------------------------------------------------------------------ checks
def _answer(text: str, status: NodeStatus = NodeStatus.DONE, cost: float | None = 0.002, ms: int = 900) -> Node:
    return Node("s", NodeKind.RESPONSE, text, model=DS, status=status, cost_usd=cost,
                timing=Timing(ttft_ms=100, duration_ms=ms))


def test_each_check_passes_and_fails():
    cases = [
        ("contains:Paris", "It is Paris.", True), ("contains:Paris", "It is paris.", False),
        ("not-contains:sorry", "Here you go", True), ("not-contains:sorry", "I'm sorry", False),
        (r"regex:^\d{3}-\d{4}$", "555-1234", True), (r"regex:^\d{3}-\d{4}$", "call 555-1234", False),
        ("json", '{"a": [1, 2]}', True), ("json", '```json\n{"a": 1}\n```', True), ("json", "{'a': 1}", False),
        ("json", "", False),
        ("max-cost:0.01", "x", True), ("max-cost:0.001", "x", False),
        ("max-ms:1000", "x", True), ("max-ms:500", "x", False),
    ]
    for spec, text, expected in cases:
        assert run_checks([parse_check(spec)], _answer(text)) == [{"check": spec, "pass": expected}], spec


def test_an_unfinished_answer_or_unknown_cost_passes_no_check():
    checks = [parse_check("not-contains:x"), parse_check("max-ms:99999")]
    assert [c["pass"] for c in run_checks(checks, _answer("fine", NodeStatus.ERROR))] == [False, False]
    assert run_checks([parse_check("max-cost:1")], _answer("x", cost=None)) == [{"check": "max-cost:1", "pass": False}]
    assert [c["pass"] for c in run_checks(checks, None)] == [False, False]


def test_max_ms_does_not_apply_to_an_answer_without_a_latency():
    """A batch answer has no latency: its max-ms check is n/a (pass None, with the reason), which fails
    nothing and is no passing evidence either."""
    batch = _answer("Paris")
    batch.timing = Timing()
    checks = [parse_check("contains:Paris"), parse_check("max-ms:500")]
    stored = run_checks(checks, batch)
    assert stored == [{"check": "contains:Paris", "pass": True},
                      {"check": "max-ms:500", "pass": None, "reason": "n/a: no latency for batch answers"}]
    rec = {"model": CL, "params": {}, "status": "done", "score": None, "cost_usd": 0.001, "timing": {},
           "checks": stored}
    assert cell_passed(rec)
    assert not cell_passed({**rec, "checks": [*stored[1:], {"check": "json", "pass": False}]})
    assert not cell_passed({**rec, "status": "error"})
    (col,) = column_totals([rec, {**rec, "checks": [{"check": "contains:Paris", "pass": False}, stored[1]]}])
    assert (col["passed"], col["pass_rate"]) == (1, 0.5)
    # a live answer still has its latency checked, and an unfinished one passes nothing
    assert run_checks(checks[1:], _answer("x", ms=900)) == [{"check": "max-ms:500", "pass": False}]
    assert run_checks(checks[1:], _answer("x", NodeStatus.ERROR)) == [{"check": "max-ms:500", "pass": False}]


def test_exports_say_n_a_for_a_check_that_does_not_apply(tmp_path, monkeypatch):
    import csv
    import io
    import json

    from app.domain import Edge, EdgeRole
    from app.export import export_session
    from app.sweep import CELL_META, CHECKS_META

    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    repo = open_store(tmp_path)
    try:
        defn = SweepDef(templates=["Capital of {{c}}?"], models=[CL], columns=["c"], rows=[{"c": "France"}],
                        vars_name="c.csv", checks=["contains:Paris", "max-ms:500"], batch=True)
        graph, sweep = _new_sweep(repo, defn)
        sid = graph.session.id
        mark = {CELL_META: {"sweep": sweep.id, "cell": 0}}
        prompt = Node(sid, NodeKind.PROMPT, "Capital of France?", meta=dict(mark))
        answer = Node(sid, NodeKind.RESPONSE, "Paris.", model=CL, status=NodeStatus.DONE, cost_usd=0.001,
                      meta=dict(mark), timing=Timing())  # filled from a batch: no latency
        answer.meta[CHECKS_META] = run_checks([parse_check(c) for c in defn.checks], answer)
        repo.add_nodes([prompt, answer], [Edge(prompt.id, answer.id, EdgeRole.REPLY, 0, sid)])
        graph = repo.load_graph(sid)
        (row,) = csv.DictReader(io.StringIO(export_session(graph, "csv"), newline=""))
        assert (row["checks"], row["passed"]) == ("contains:Paris=pass; max-ms:500=n/a", "true")
        (line,) = [json.loads(x) for x in export_session(graph, "jsonl").splitlines()]
        assert line["checks"][1] == {"check": "max-ms:500", "pass": None, "reason": "n/a: no latency for batch answers"}
        md = export_session(graph, "md")
        assert "✓ done · 1/1 checks (1 n/a)" in md and "pass 1/1 (100%)" in md
        assert "1/1 checks (1 n/a)" in export_session(graph, "html")
    finally:
        repo.close()


@pytest.mark.parametrize("spec,message", [
    ("startswith:x", "unknown check"), ("contains", "needs an argument"), ("regex:(", "not a valid regular"),
    ("max-cost:abc", "number"), ("json:1", "no argument"),
])
def test_bad_checks_are_refused(spec, message):
    with pytest.raises(SweepError, match=message):
        parse_check(spec)


def test_judge_reply_gives_a_score_and_a_one_line_reason():
    assert parse_judge_reply("SCORE: 8 — correct and concise") == (8, "correct and concise")
    assert parse_judge_reply("**Score: 10/10** - perfect\nmore lines") == (10, "perfect more lines")
    assert parse_judge_reply("score=3, misses the point") == (3, "misses the point")
    assert parse_judge_reply("I liked it") == (None, "I liked it")


def test_totals_per_column():
    assert percentile([5, 1, 3, 2, 4], 50) == 3 and percentile([1, 2, 3, 4, 100], 95) == 100
    assert percentile([], 50) is None
    rec = {"model": DS, "params": {"temperature": 0.0}, "status": "done", "score": 8, "cost_usd": 0.01,
           "timing": {"ttft_ms": 1, "duration_ms": 100}, "checks": [{"check": "json", "pass": True}]}
    bad = {**rec, "score": 4, "checks": [{"check": "json", "pass": False}], "timing": {"duration_ms": 300}}
    (col,) = column_totals([rec, bad])
    assert col["column"] == f"{DS} (temperature=0.0)"
    assert (col["cells"], col["passed"], col["pass_rate"], col["mean_score"]) == (2, 1, 0.5, 6.0)
    assert col["cost_usd"] == pytest.approx(0.02) and (col["p50_ms"], col["p95_ms"]) == (100, 300)


# ------------------------------------------------------------------------------------------------ runner
class _CountingProvider(ScriptedProvider):
    """Counts the requests in flight at once, per provider."""

    peak: ClassVar[dict[str, int]] = {}
    live: ClassVar[dict[str, int]] = {}
    began: ClassVar[list[float]] = []

    async def stream(self, request):  # type: ignore[override]
        pid = self.config.id
        self.began.append(time.monotonic())
        self.live[pid] = self.live.get(pid, 0) + 1
        self.peak[pid] = max(self.peak.get(pid, 0), self.live[pid])
        try:
            async for ev in super().stream(request):
                yield ev
        finally:
            self.live[pid] -= 1


@pytest.fixture
def env(tmp_path, store_target, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    repo = open_store(store_target)
    settings = settings_with_keys(tmp_path, deepseek="k1", anthropic="k2", openai="k3")
    scripts: dict = {}
    requests: list = []
    _CountingProvider.peak, _CountingProvider.live, _CountingProvider.began = {}, {}, []

    def factory(config, client):
        return _CountingProvider(config, scripts, requests)

    yield repo, settings, scripts, requests, factory
    repo.close()


def _new_sweep(repo, defn: SweepDef):
    session = repo.create_session(Session(title="sweep"))
    node = Node(session.id, NodeKind.SWEEP, defn.summary(), meta={SWEEP_META: defn.to_dict()})
    repo.add_nodes([node])
    graph = repo.load_graph(session.id)
    return graph, find_sweep(graph)


async def test_runner_holds_the_concurrency_cap_per_provider_and_checks_each_cell(env):
    repo, settings, scripts, requests, factory = env
    scripts["deepseek-flash"] = [TextDelta("ok"), 0.03, Usage(input=5, output=2), Finish("stop")]
    scripts["gpt-6.2-sol"] = [TextDelta("nope"), 0.03, Usage(input=5, output=2), Finish("stop")]
    defn = SweepDef(templates=["{{n}}?"], models=[DS, GP], columns=["n"], rows=[{"n": str(i)} for i in range(6)],
                    vars_name="v.csv", checks=["contains:ok"], concurrency=2)
    graph, sweep = _new_sweep(repo, defn)
    engine = Engine(repo, settings, provider_factory=factory)
    seen = []
    results = await SweepRunner(engine, graph, sweep, defn, on_progress=lambda p: seen.append((p.done, p.failed))).run()
    await engine.aclose()
    assert _CountingProvider.peak == {"deepseek": 2, "openai": 2}
    assert len(requests) == 12 and seen[-1] == (12, 6)
    assert [n.status for _, n in results] == [NodeStatus.DONE] * 12
    assert [n.meta["sweep_checks"][0]["pass"] for _, n in results] == [True, False] * 6
    # every cell is an ordinary prompt -> response pair in the store, the expanded prompt its text
    stored = sweep_rows(repo.load_graph(graph.session.id))
    assert [(r["row"], r["model"], r["status"]) for r in stored] == [(i, m, "done") for i in range(6) for m in (DS, GP)]
    prompts = [n for n in repo.load_graph(graph.session.id).nodes.values() if n.kind == NodeKind.PROMPT]
    assert sorted(p.text for p in prompts) == sorted(f"{i}?" for i in range(6) for _ in (DS, GP))


async def test_each_cell_is_stored_marked_from_its_first_write_with_its_checks_in_its_final_one(env):
    """A sweep's store writes per cell: the prompt and answer are inserted already marked as the cell's,
    the answer's text is saved as it streams, and its checks go into its final write (no further
    updates: a 1,000-cell sweep's CPU was mostly writes, benchmark 9). Stored exactly as before."""
    repo, settings, scripts, requests, factory = env
    scripts["deepseek-flash"] = [TextDelta("ok"), 0.01, Usage(input=5, output=2), Finish("stop")]
    defn = SweepDef(templates=["{{n}}?"], models=[DS], columns=["n"], rows=[{"n": str(i)} for i in range(4)],
                    vars_name="v.csv", checks=["contains:ok", "contains:no"])
    graph, sweep = _new_sweep(repo, defn)
    engine = Engine(repo, settings, provider_factory=factory)
    inserted: list[dict] = []
    updates: list[str] = []
    add_nodes, update_node = repo.add_nodes, repo.update_node

    def spy_add(nodes, edges=()):
        inserted.extend(dict(n.meta) for n in nodes)
        return add_nodes(nodes, edges)

    def spy_update(node):
        updates.append(node.id)
        return update_node(node)

    repo.add_nodes, repo.update_node = spy_add, spy_update
    try:
        await SweepRunner(engine, graph, sweep, defn).run()
    finally:
        repo.add_nodes, repo.update_node = add_nodes, update_node
        await engine.aclose()
    assert sorted(m["sweep_cell"]["cell"] for m in inserted) == [0, 0, 1, 1, 2, 2, 3, 3]
    assert all(m["sweep_cell"]["sweep"] == sweep.id for m in inserted)
    assert len(updates) == 4 and len(set(updates)) == 4  # one final write per answer
    stored = repo.load_graph(graph.session.id)
    rows = sweep_rows(stored)
    assert [r["status"] for r in rows] == ["done"] * 4
    assert [[c["pass"] for c in r["checks"]] for r in rows] == [[True, False]] * 4
    assert not engine.before_final_save  # the runner's hook is gone with its run


async def test_resume_runs_only_cells_without_a_finished_answer(env):
    repo, settings, scripts, requests, factory = env
    scripts["deepseek-flash"] = default_script("fine")
    scripts["gpt-6.2-sol"] = ["hang"]  # streams forever: stopped mid-sweep
    defn = SweepDef(templates=["{{n}}"], models=[DS, GP], columns=["n"], rows=[{"n": "a"}, {"n": "b"}],
                    vars_name="v.csv")
    graph, sweep = _new_sweep(repo, defn)
    engine = Engine(repo, settings, provider_factory=factory)
    runner = SweepRunner(engine, graph, sweep, defn)
    task = asyncio.ensure_future(runner.run())
    for _ in range(200):
        await asyncio.sleep(0.01)
        if sum(1 for n in runner.answers.values() for a in n if a.status == NodeStatus.DONE) == 2:
            break
    runner.stop()
    await task
    await engine.aclose()
    answers = cell_answers(repo.load_graph(graph.session.id))
    assert {i: [a.status for a in a_] for i, a_ in answers.items()} == {
        0: [NodeStatus.DONE], 1: [NodeStatus.STOPPED], 2: [NodeStatus.DONE], 3: [NodeStatus.STOPPED]}

    scripts["gpt-6.2-sol"] = default_script("now fine")
    requests.clear()
    graph = repo.load_graph(graph.session.id)
    engine = Engine(repo, settings, provider_factory=factory)
    runner = SweepRunner(engine, graph, find_sweep(graph), defn)
    assert [c.index for c in runner.pending_cells()] == [1, 3]
    results = await runner.run()
    await engine.aclose()
    assert sorted(r.model for r in requests) == ["gpt-6.2-sol", "gpt-6.2-sol"]  # no finished cell again
    assert [n.status for _, n in results] == [NodeStatus.DONE] * 4
    assert [n.text for _, n in results] == ["fine", "now fine", "fine", "now fine"]
    graph = repo.load_graph(graph.session.id)
    assert [len(v) for _, v in sorted(cell_answers(graph).items())] == [1, 2, 1, 2]  # the stopped try is kept
    assert SweepRunner(Engine(repo, settings, provider_factory=factory), graph, find_sweep(graph),
                       defn).pending_cells() == []


async def test_judge_scores_each_finished_cell_and_its_cost_is_counted_apart(env):
    repo, settings, scripts, requests, factory = env
    scripts["deepseek-flash"] = default_script("Paris")
    scripts["claude-sonnet-5-5"] = [TextDelta("SCORE: 9 — right"), Usage(input=50, output=8), Finish("stop")]
    defn = SweepDef(templates=["Capital of France?"], models=[DS], judge=CL, rubric="names the city")
    graph, sweep = _new_sweep(repo, defn)
    engine = Engine(repo, settings, provider_factory=factory)
    runner = SweepRunner(engine, graph, sweep, defn)
    ((_, node),) = await runner.run()
    await engine.aclose()
    stored = repo.get_node(node.id)
    assert stored.meta["sweep_score"]["score"] == 9 and stored.meta["sweep_score"]["reason"] == "right"
    judge_req = next(r for r in requests if r.model == "claude-sonnet-5-5")
    assert "names the city" in judge_req.messages[-1].content and "Paris" in judge_req.messages[-1].content
    assert runner.progress.judge_cost_usd > 0 and runner.progress.cost_usd == pytest.approx(node.cost_usd or 0)
    verdict = repo.get_node(stored.meta["sweep_score"]["node_id"])
    assert verdict.kind == NodeKind.SYNTHESIS and verdict.meta["sweep_judge_of"] == node.id
    # the judge's card is not a cell
    assert list(cell_answers(repo.load_graph(graph.session.id))) == [0]


async def test_csv_jsonl_and_report_grid_of_a_sweep_session(env):
    import csv
    import io
    import json

    from app.export import export_session

    repo, settings, scripts, requests, factory = env
    scripts["deepseek-flash"] = [TextDelta("=HYPERLINK(\"http://x\")"), Usage(input=5, output=2), Finish("stop")]
    scripts["gpt-6.2-sol"] = [TextDelta("a | b <script>"), Usage(input=5, output=2), Finish("stop")]
    defn = SweepDef(templates=["{{q}}"], models=[DS, GP], columns=["q"], rows=[{"q": "x, \"y\"\nz"}, {"q": "中"}],
                    vars_name="v.csv", variants=parse_sets(["temperature=0,0.5"]), checks=["not-contains:|"])
    graph, sweep = _new_sweep(repo, defn)
    engine = Engine(repo, settings, provider_factory=factory)
    await SweepRunner(engine, graph, sweep, defn).run()
    await engine.aclose()
    graph = repo.load_graph(graph.session.id)
    rows = list(csv.DictReader(io.StringIO(export_session(graph, "csv"), newline="")))
    assert len(rows) == 8
    assert [(r["vars.q"], r["model"], r["params.temperature"]) for r in rows[:4]] == [
        ('x, "y"\nz', DS, "0.0"), ('x, "y"\nz', DS, "0.5"), ('x, "y"\nz', GP, "0.0"), ('x, "y"\nz', GP, "0.5")]
    assert rows[0]["text"] == "'=HYPERLINK(\"http://x\")"  # a spreadsheet does not run it
    assert (rows[0]["passed"], rows[2]["passed"], rows[2]["checks"]) == ("true", "false", "not-contains:|=fail")
    assert rows[0]["input_tokens"] == "5" and rows[0]["status"] == "done" and rows[0]["attempts"] == "1"
    lines = [json.loads(line) for line in export_session(graph, "jsonl").splitlines()]
    assert [x["vars"]["q"] for x in lines] == ['x, "y"\nz'] * 4 + ["中"] * 4
    md = export_session(graph, "md")
    assert md.index("*Triptych session") < md.index("## Sweep grid") < md.index("## Prompt")
    assert "## Sweep definition 1" in md and "## Answer 1" not in md
    assert "| **totals** | pass 2/2 (100%)" in md and "a \\| b" in md
    page = export_session(graph, "html")
    assert "Sweep definition 1" in page and 'id="sweep-grid"' in page and "<script>" not in page and "&lt;script&gt;" in page
    assert page.count("pass 0/2 (0%)") == 2  # the two gpt columns failed their check
    with pytest.raises(ValueError, match="holds no sweep"):
        export_session(repo.load_graph(repo.create_session(Session(title="plain")).id), "csv")


async def test_a_429s_retry_after_holds_back_the_providers_next_cells(env):
    repo, settings, scripts, requests, factory = env
    ok = [TextDelta("ok"), Usage(input=5, output=2), Finish("stop")]
    scripts["deepseek-flash"] = ([StreamError("rate_limit", "slow down", retry_after=0.4, status=429)], ok)
    defn = SweepDef(templates=["{{n}}"], models=[DS], columns=["n"], rows=[{"n": str(i)} for i in range(4)],
                    vars_name="v.csv", concurrency=2)
    graph, sweep = _new_sweep(repo, defn)
    engine = Engine(repo, settings, provider_factory=factory)
    t0 = time.monotonic()
    results = await SweepRunner(engine, graph, sweep, defn).run()
    await engine.aclose()
    assert [n.status for _, n in results] == [NodeStatus.DONE] * 4
    began = [t - t0 for t in _CountingProvider.began]
    assert len(began) == 5  # 4 cells + the retry of the one that got the 429
    # the first two went at once; no later request went before the server's Retry-After had passed
    assert began[1] < 0.3 and min(began[2:]) >= 0.38, began


def test_an_expensive_sweep_asks_first_and_no_sends_nothing(tmp_path, monkeypatch, capsys):
    import io

    from app import cli

    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    monkeypatch.setenv("OPENAI_API_KEY", "sk-test")
    monkeypatch.setenv("OPENAI_BASE_URL", "http://127.0.0.1:9/v1")  # nothing listens: nothing may be sent
    rows = tmp_path / "rows.jsonl"
    rows.write_text("".join(f'{{"n": {i}}}\n' for i in range(40)), encoding="utf-8")
    monkeypatch.setattr("sys.stdin", Terminal("n\n"))
    status = cli.main(["sweep", "-m", "openai:gpt-6.2-astra", "-p", "{{n}}", "--vars", str(rows)])
    err = capsys.readouterr().err
    assert status == 1
    assert "estimated cost $1." in err and "[y/N]" in err and "not started; nothing was sent" in err
    repo = open_store(tmp_path / "home")
    assert repo.list_sessions() == []
    repo.close()
