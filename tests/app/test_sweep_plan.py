"""Planning a sweep against the catalog (qa2 D1, issue #16): a parameter variant a model does not take is
not sent to it, so that model's variants that send the same request are ONE cell per row (one grid
column, labelled with what was not accepted, paid once); the estimate names the models, the parameters
and the cells saved; a parameter no chosen model takes is refused; a stored sweep keeps its cells (and
their indexes) whatever the catalog says later, and one stored before planning existed opens and
resumes as it was (every variant a cell)."""

from __future__ import annotations

import pytest

from app.catalog import load_catalog
from app.cli import _NullRepo
from app.domain import NodeStatus
from app.engine import Engine
from app.events import Finish, TextDelta, Usage
from app.sweep import SweepDef, SweepError, SweepRunner, cell_answers, column_totals, parse_sets, sweep_rows
from app.sweep_view import SweepGrid, estimate, load_grid
from tests.app.scripted import settings_with_keys
from tests.app.test_sweep import _new_sweep, env  # noqa: F401  (the fixture)

DS, CL, GP = "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"
ROWS = [{"w": "alpha"}, {"w": "beta"}, {"w": "gamma"}]


def _defn(models: list[str], sets: list[str], **kw) -> SweepDef:
    return SweepDef(templates=["Say {{w}}"], models=models, columns=["w"], rows=[dict(r) for r in ROWS],
                    vars_name="words.csv", variants=parse_sets(sets), **kw)


def test_a_models_variants_that_send_the_same_request_are_one_cell_and_one_column():
    catalog = load_catalog()
    # DeepSeek takes a temperature with thinking off; Claude never; GPT-6.2 Sol only at effort none
    defn = _defn([DS, CL, GP], ["thinking=off", "temperature=0,0.7"])
    assert defn.size == defn.full_size == 18  # not planned yet: every variant a cell
    defn.plan(catalog)
    assert defn.full_size == 18 and defn.size == 12
    cells = defn.cells()
    assert len(cells) == 12 and [c.index for c in cells] == list(range(12))
    assert [(c.model, c.params, c.not_sent) for c in cells[:4]] == [
        (DS, {"thinking": False, "temperature": 0.0}, ()),
        (DS, {"thinking": False, "temperature": 0.7}, ()),
        (CL, {"thinking": False}, ("temperature",)),  # what is sent: no temperature
        (GP, {}, ("thinking", "temperature")),
    ]
    grid = SweepGrid(defn)
    assert [(c.model, c.label) for c in grid.columns] == [
        # what varies between the variants first: the header's one line tells the two DeepSeek columns apart
        (DS, "temperature=0.0 · thinking=off"), (DS, "temperature=0.7 · thinking=off"),
        (CL, "temperature not accepted · thinking=off"), (GP, "thinking, temperature not accepted")]
    assert len(grid.rows) == 3 and grid.cell_at(2, 3).index == 11
    # the estimate's lines: which models ignore which parameters, and the cells that saves
    assert defn.not_sent_lines(catalog.display_name) == [
        "Claude Sonnet 5.5: temperature not accepted, not sent; its 2 variants run as 1 column (3 cells fewer)",
        "GPT-6.2 Sol: thinking, temperature not accepted, not sent; its 2 variants run as 1 column (3 cells fewer)"]
    assert "= 12 cells (6 fewer" in defn.summary()
    # stored and read back: the same cells, without asking the catalog again
    again = SweepDef.from_dict(defn.to_dict())
    assert again.cells() == cells and again.sent == defn.sent


def test_models_alike_are_named_together_and_a_capped_value_is_said():
    catalog = load_catalog()
    defn = _defn([CL, "anthropic:claude-opus-5-5", DS], ["temperature=0,0.7", "thinking=off"])
    defn.plan(catalog)
    assert defn.not_sent_lines() == [
        f"{CL}, anthropic:claude-opus-5-5: temperature not accepted, not sent; their 2 variants run as 1 column "
        "(6 cells fewer)"]
    capped = _defn(["anthropic:claude-haiku-5-5", DS], ["max_tokens=64000,100000"])
    capped.plan(catalog)
    # Haiku's output is capped at 64,000 tokens: both values send 64000, one column
    assert [c.label for c in SweepGrid(capped).columns] == [
        "max_tokens capped at 64000", "max_tokens=64000", "max_tokens=100000"]
    assert capped.size == 9 and capped.not_sent_lines() == [
        "anthropic:claude-haiku-5-5: max_tokens capped at 64000; its 2 variants run as 1 column (3 cells fewer)"]


@pytest.mark.parametrize("models,sets,message", [
    ([DS, CL, GP], ["temperature=0,0.7"],
     "Temperature is accepted by none of the chosen models (DeepSeek V4.1 Flash takes it only with thinking off; "
     "Claude Sonnet 5.5 does not take it; GPT-6.2 Sol takes it only with effort none)"),
    ([CL], ["temperature=0.3"], "Temperature is not accepted by the chosen model (Claude Sonnet 5.5 does not take it)"),
    ([GP], ["thinking=on,off"], "Thinking is not accepted by the chosen model (GPT-6.2 Sol does not take it)"),
    ([DS], ["effort=xhigh"], "Effort is not accepted by the chosen model (DeepSeek V4.1 Flash takes only low, high, max)"),
])
def test_a_parameter_that_reaches_no_chosen_model_is_refused_before_anything_is_sent(models, sets, message):
    defn = _defn(models, sets)
    with pytest.raises(SweepError) as err:
        defn.plan(load_catalog())
    assert str(err.value).startswith(message) and "Leave it out" in str(err.value)
    assert defn.sent is None


def test_the_estimate_counts_a_merged_cell_once_and_prices_live_models_at_full_price(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    settings = settings_with_keys(tmp_path, deepseek="k1", anthropic="k2", openai="k3")
    engine = Engine(_NullRepo(), settings)  # type: ignore[arg-type]
    unplanned = _defn([DS, CL], ["thinking=off", "temperature=0,0.7"])
    planned = _defn([DS, CL], ["thinking=off", "temperature=0,0.7"])
    planned.plan(engine.catalog)
    every, _, _ = estimate(engine, unplanned, unplanned.cells())
    once, _, _ = estimate(engine, planned, planned.cells())
    claude_cells = [c for c in unplanned.cells() if c.model == CL]
    claude, _, _ = estimate(engine, unplanned, claude_cells)
    assert once == pytest.approx(every - claude / 2)  # Claude's second temperature column is not paid
    # with batch APIs: Claude's cells at the batch price (half), DeepSeek's (no batch API) at full price
    live_ds, _, _ = estimate(engine, planned, [c for c in planned.cells() if c.model == DS])
    live_cl, _, _ = estimate(engine, planned, [c for c in planned.cells() if c.model == CL])
    planned.batch = True
    batch_ds, _, _ = estimate(engine, planned, [c for c in planned.cells() if c.model == DS])
    batch_all, _, _ = estimate(engine, planned, planned.cells())
    assert batch_ds == pytest.approx(live_ds) and live_ds > 0
    assert batch_all == pytest.approx(live_ds + live_cl / 2)


def test_a_sweep_stored_before_planning_opens_and_resumes_with_every_variant_a_cell():
    """Decided: a sweep stored without a plan (before this change) keeps its grid: every model × variant a
    column, cell indexes as they were stored; resuming runs its unfinished cells by those indexes."""
    stored = _defn([DS, CL], ["temperature=0,0.7"]).to_dict()
    assert "sent" not in stored
    old = SweepDef.from_dict(stored)
    assert old.sent is None and old.size == 12
    assert [(c.index, c.model, c.params) for c in old.cells()[:4]] == [
        (0, DS, {"temperature": 0.0}), (1, DS, {"temperature": 0.7}), (2, CL, {"temperature": 0.0}),
        (3, CL, {"temperature": 0.7})]
    assert [c.label for c in SweepGrid(old).columns] == ["temperature=0.0", "temperature=0.7"] * 2


async def test_a_planned_sweep_sends_each_merged_cell_once_and_resume_keeps_the_cells(env):  # noqa: F811
    repo, settings, scripts, requests, factory = env
    for model in ("deepseek-flash", "claude-sonnet-5-5"):
        scripts[model] = [TextDelta("ok"), Usage(input=5, output=2), Finish("stop")]
    engine = Engine(repo, settings, provider_factory=factory)
    defn = _defn([DS, CL], ["thinking=off", "temperature=0,0.7"], checks=["contains:ok"])
    defn.plan(engine.catalog)
    graph, sweep = _new_sweep(repo, defn)
    runner = SweepRunner(engine, graph, sweep, defn)
    runner_cells = runner.pending_cells()
    assert len(runner_cells) == 9  # 3 rows × (2 DeepSeek temperatures + 1 Claude column)
    await runner.run_cells(runner_cells[:5])
    # reopened from the store: the same cells; only the unfinished ones run, each once
    graph = repo.load_graph(graph.session.id)
    sweep, grid, answers = load_grid(graph)
    assert len(grid.columns) == 3 and grid.columns[2].label == "temperature not accepted · thinking=off"
    stored = SweepDef.from_dict(sweep.meta["sweep"])
    runner = SweepRunner(engine, graph, sweep, stored)
    assert [c.index for c in runner.pending_cells()] == [5, 6, 7, 8]
    results = await runner.run()
    await engine.aclose()
    assert all(node is not None and node.status == NodeStatus.DONE for _, node in results)
    sent = [(r.model, r.params.temperature, r.params.thinking) for r in requests]
    assert len(sent) == 9
    assert sorted(t for m, t, _ in sent if m == "deepseek-flash") == [0.0, 0.0, 0.0, 0.7, 0.7, 0.7]
    assert [(t, th) for m, t, th in sent if m == "claude-sonnet-5-5"] == [(None, False)] * 3
    answers = cell_answers(repo.load_graph(graph.session.id))
    assert sorted(answers) == list(range(9)) and all(len(a) == 1 for a in answers.values())
    # the report's columns say what was not sent
    records = sweep_rows(repo.load_graph(graph.session.id))  # (qa3 N10: in the header's words, "thinking=off")
    assert [c["column"] for c in column_totals(records)] == [
        f"{DS} (thinking=off, temperature=0.0)", f"{DS} (thinking=off, temperature=0.7)",
        f"{CL} (thinking=off; temperature not accepted)"]
