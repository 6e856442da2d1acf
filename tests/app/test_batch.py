"""Sweeps through the batch APIs (app.batch, app.batch_api): the batch body is the live body without
`stream`, results are read by the live parsers and matched by custom_id, big sweeps are split by the
providers' limits, cells cost the batch price, and a whole run against the loopback fake batch APIs
(a 429 on create, an errored request, a batch that expires with part of its results)."""

from __future__ import annotations

import json
import time

import pytest

from app.batch import (
    BATCH_META,
    CELL_BATCH_META,
    BatchRecord,
    batch_cost,
    batch_factor,
    build_cell_request,
    cell_batch_states,
    load_records,
    run_sweep_batches,
)
from app.batch_api import (
    EXPIRED,
    LIMITS,
    BatchLimits,
    batch_api_for,
    parse_anthropic_results,
    parse_openai_results,
    split_requests,
)
from app.domain import Node, NodeKind, NodeStatus, Session, Usage
from app.engine import Engine
from app.events import Finish, ReasoningDelta, TextDelta
from app.events import Usage as UsageEvent
from app.sweep import CHECKS_META, SWEEP_META, SweepDef, SweepRunner, cell_answers, find_sweep, parse_sets
from storage import open_store
from tests.app.scripted import settings_with_keys
from tests.fakes.server import Answer, FakeProviderServer

DS, CL, GP = "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"


@pytest.fixture
async def srv():
    async with FakeProviderServer(tokens_per_second=0) as server:
        yield server


@pytest.fixture
def store(tmp_path, store_target, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    repo = open_store(store_target)
    yield repo
    repo.close()


def _settings(tmp_path, srv, *, openai_api: str = "responses"):
    settings = settings_with_keys(tmp_path, deepseek="k1", anthropic="k2", openai="k3")
    for pid in ("openai", "anthropic", "deepseek"):
        settings.providers[pid].base_url = srv.url(pid)
    settings.providers["openai"].protocol = openai_api  # type: ignore[assignment]
    return settings


def _new_sweep(repo, defn: SweepDef):
    session = repo.create_session(Session(title="sweep"))
    node = Node(session.id, NodeKind.SWEEP, defn.summary(), meta={SWEEP_META: defn.to_dict()},
                status=NodeStatus.DONE)
    repo.add_nodes([node])
    graph = repo.load_graph(session.id)
    return graph, find_sweep(graph)


# ------------------------------------------------------------------------------------------------ bodies
@pytest.mark.parametrize("model, api", [(GP, "responses"), (GP, "chat"), (CL, "responses")])
async def test_the_batch_body_is_the_live_body_without_stream(srv, store, tmp_path, model, api):
    settings = _settings(tmp_path, srv, openai_api=api)
    defn = SweepDef(templates=["Translate {{w}}"], models=[model], columns=["w"], rows=[{"w": "chat, \"cat\"\n猫"}],
                    vars_name="v.csv", variants=parse_sets(["temperature=0.3", "max_tokens=300"], ["Be brief."]))
    graph, sweep = _new_sweep(store, defn)
    engine = Engine(store, settings)
    (cell,) = defn.cells()
    cfg, request = build_cell_request(engine, cell, sweep)
    api_obj = batch_api_for(cfg, engine.client)
    batch = api_obj.body(request)
    await SweepRunner(engine, graph, sweep, defn).run()  # the same cell, live
    await engine.aclose()
    live = next(r.body for r in srv.requests if r.fmt in ("responses", "chat", "anthropic"))
    assert live["stream"] is True and "stream" not in batch and "stream_options" not in batch
    assert batch == {k: v for k, v in live.items() if k not in ("stream", "stream_options")}
    assert "Be brief." in json.dumps(batch) and "猫" in json.dumps(batch, ensure_ascii=False)


def test_openai_jsonl_lines_name_the_endpoint_and_the_custom_id(tmp_path):
    settings = settings_with_keys(tmp_path, openai="k3")
    for api, url in (("responses", "/v1/responses"), ("chat", "/v1/chat/completions")):
        settings.providers["openai"].protocol = api  # type: ignore[assignment]
        obj = batch_api_for(settings.providers["openai"], object())  # type: ignore[arg-type]
        lines = obj.jsonl([("tb1-0", {"model": "m", "input": "é"}), ("tb1-1", {"model": "m"})]).decode().splitlines()
        assert [json.loads(x) for x in lines] == [
            {"custom_id": "tb1-0", "method": "POST", "url": url, "body": {"model": "m", "input": "é"}},
            {"custom_id": "tb1-1", "method": "POST", "url": url, "body": {"model": "m"}}]
    # only the built-in OpenAI and Anthropic providers have a batch API
    assert batch_api_for(settings.providers["deepseek"]) is None
    assert batch_api_for(settings.providers["openrouter"]) is None
    assert batch_api_for(settings.providers["ollama"]) is None


# ------------------------------------------------------------------------------------------------ results
def _reader(provider: str, protocol: str):
    """The live client's reader of a JSON document, as the batch API objects use it."""
    from app.providers.base import ProviderConfig

    return batch_api_for(ProviderConfig(provider, protocol, "http://127.0.0.1:9"), object()).read  # type: ignore[arg-type]


def test_openai_results_are_matched_by_custom_id_and_read_by_the_live_parser():
    ok = {"id": "resp_1", "object": "response", "status": "completed",
          "output": [{"type": "reasoning", "summary": [{"type": "summary_text", "text": "hmm"}]},
                     {"type": "message", "content": [{"type": "output_text", "text": "Bonjour"}]}],
          "usage": {"input_tokens": 30, "input_tokens_details": {"cached_tokens": 10}, "output_tokens": 7,
                    "output_tokens_details": {"reasoning_tokens": 3}}}
    text = "\n".join(json.dumps(x) for x in [
        {"custom_id": "tb-2", "response": None, "error": {"code": "batch_expired", "message": "expired"}},
        {"custom_id": "tb-1", "response": {"status_code": 400, "body": {"error": {"message": "max_output_tokens too big",
                                                                                   "type": "invalid_request_error"}}},
         "error": None},
        {"custom_id": "tb-0", "response": {"status_code": 200, "body": ok}, "error": None},
    ]) + "\n\n"
    out = parse_openai_results(text, _reader("openai", "responses"))
    assert out["tb-0"].events == (ReasoningDelta("hmm"), TextDelta("Bonjour"),
                                  UsageEvent(input=30, cached_input=10, output=7, reasoning=3), Finish("stop"))
    assert out["tb-0"].error is None
    assert out["tb-1"].error.kind == "bad_request" and out["tb-1"].error.status == 400
    assert "max_output_tokens too big" in out["tb-1"].error.message
    assert out["tb-2"].error.kind == "timeout" and out["tb-2"].error.message == EXPIRED


def test_anthropic_results_of_every_type():
    message = {"type": "message", "content": [{"type": "thinking", "thinking": "let me see"},
                                              {"type": "text", "text": "Hallo"}],
               "stop_reason": "max_tokens",
               "usage": {"input_tokens": 5, "cache_read_input_tokens": 20, "cache_creation_input_tokens": 0,
                         "output_tokens": 9}}
    text = "\n".join(json.dumps(x) for x in [
        {"custom_id": "a", "result": {"type": "succeeded", "message": message}},
        {"custom_id": "b", "result": {"type": "errored", "error": {"type": "error", "error": {
            "type": "invalid_request_error", "message": "prompt is too long"}}}},
        {"custom_id": "c", "result": {"type": "canceled"}},
        {"custom_id": "d", "result": {"type": "expired"}},
    ])
    out = parse_anthropic_results(text, _reader("anthropic", "anthropic"))
    assert out["a"].events == (ReasoningDelta("let me see"), TextDelta("Hallo"),
                               UsageEvent(input=25, cached_input=20, cache_write=0, output=9), Finish("length"))
    assert out["b"].error.kind == "bad_request" and "prompt is too long" in out["b"].error.message
    assert "cancelled" in out["c"].error.message
    assert out["d"].error.message == EXPIRED


def test_big_sweeps_are_split_by_the_providers_limits():
    items = [(i, {"input": "x" * 50}) for i in range(10)]
    size = len(json.dumps(items[0][1])) + 1
    assert [len(c) for c in split_requests(items, BatchLimits(4, 10**9))] == [4, 4, 2]
    assert [len(c) for c in split_requests(items, BatchLimits(100, size * 3))] == [3, 3, 3, 1]
    assert [i for c in split_requests(items, BatchLimits(3, 10**9)) for i, _ in c] == list(range(10))  # order kept
    assert split_requests([(0, {"input": "y" * 500})], BatchLimits(10, 10)) == [[(0, {"input": "y" * 500})]]
    assert (LIMITS["openai"].max_requests, LIMITS["openai"].max_bytes) == (50_000, 200 * 1024 * 1024)
    assert (LIMITS["anthropic"].max_requests, LIMITS["anthropic"].max_bytes) == (100_000, 256 * 1024 * 1024)


def test_a_cell_costs_the_batch_price(tmp_path, store):
    settings = settings_with_keys(tmp_path, deepseek="k1", anthropic="k2", openai="k3")
    engine = Engine(store, settings)
    for model in (GP, CL):
        node = Node("s", NodeKind.RESPONSE, "x", model=model)
        node.usage = Usage(input=1000, cached_input=200, output=500)
        live = engine.catalog.cost(model, node.usage)
        assert live and batch_cost(engine.catalog, node) == pytest.approx(live / 2)
        assert batch_factor(settings, engine.catalog, model) == pytest.approx(0.5)
    assert batch_factor(settings, engine.catalog, DS) == 1.0  # DeepSeek has no batch API: runs live


def test_batch_records_round_trip_and_name_the_cells_they_hold():
    rec = BatchRecord(key="tbabc", provider="openai", cells={"tbabc-0": 0, "tbabc-3": 3}, remote_id="batch_1",
                      status="in_progress", counts={"total": 2, "completed": 1})
    assert BatchRecord.from_dict(json.loads(json.dumps(rec.to_dict()))) == rec
    assert rec.line() == "batch batch_1 (openai, 2 requests): in_progress, 2 total, 1 completed"
    sweep = Node("s", NodeKind.SWEEP, "", meta={BATCH_META: [rec.to_dict()]})
    assert load_records(sweep) == [rec] and set(cell_batch_states(sweep)) == {0, 3}
    rec.state = "filled"
    sweep.meta[BATCH_META] = [rec.to_dict()]
    assert cell_batch_states(sweep) == {}


# ------------------------------------------------------------------------------------------------ runs
async def test_a_sweep_through_both_batch_apis_with_a_429_errors_and_an_expiry(srv, store, tmp_path):
    settings = _settings(tmp_path, srv)
    srv.batches.create_429 = 1
    srv.batches.retry_after = "0.3"
    srv.script("claude-sonnet-5-5", Answer(text=("Ja", "."), input_tokens=40, output_tokens=10))
    defn = SweepDef(templates=["{{q}}"], models=[GP, CL, DS, "openai:fail-400", "anthropic:batch-expire"],
                    columns=["q"], rows=[{"q": "one"}, {"q": "two"}], vars_name="v.csv", batch=True,
                    checks=["contains:."])
    graph, sweep = _new_sweep(store, defn)
    engine = Engine(store, settings)
    added: list[str] = []
    engine.subscribe(lambda ev: added.extend(n.id for n in getattr(ev, "nodes", ())))
    seen: list[str] = []
    t0 = time.monotonic()
    results = await run_sweep_batches(engine, graph, sweep, defn, poll_interval=0.05,
                                      on_batch=lambda r: seen.append(r.line()))
    elapsed = time.monotonic() - t0
    await engine.aclose()
    # the filled cells are announced by the engine the window listens to, like live ones
    assert {n.id for _, n in results} <= set(added)
    by_model = {}
    for cell, node in results:
        by_model.setdefault(cell.model, []).append(node)
    # one create per batch, after the 429's Retry-After
    assert srv.batches.rejected_creates == 1 and elapsed >= 0.3
    assert srv.batches.creates == {"/v1/batches": 1, "/v1/messages/batches": 1}
    kinds = sorted(b.kind for b in srv.batches.created)
    assert kinds == ["anthropic", "openai"]
    assert {len(b.requests) for b in srv.batches.created} == {4}  # 2 rows × 2 models each; DeepSeek live
    live = [r for r in srv.requests if r.fmt == "chat" and r.flavor == "deepseek"]
    assert len(live) == 2 and all(n.status == NodeStatus.DONE for n in by_model[DS])
    # the successful batch cells: text, usage and the batch price
    for node in by_model[CL]:
        assert node.status == NodeStatus.DONE and node.text == "Ja." and node.usage.input == 40
        assert node.cost_usd == pytest.approx(engine.catalog.cost(CL, node.usage) / 2)
        assert node.timing.duration_ms is None and node.meta[CELL_BATCH_META]["batch_id"].startswith("msgbatch_")
        assert node.meta["sweep_checks"] == [{"check": "contains:.", "pass": True}]
    for node in by_model[GP]:
        assert node.status == NodeStatus.DONE and node.usage.output and node.meta[CELL_BATCH_META]["provider"] == "openai"
    # an errored request and an expired one fail their cell, each with its reason
    for node in by_model["openai:fail-400"]:
        assert node.status == NodeStatus.ERROR and node.error.status == 400 and "fake error 400" in node.error.message
    for node in by_model["anthropic:batch-expire"]:
        assert node.status == NodeStatus.ERROR and node.error.message == EXPIRED
    stored = load_records(store.get_node(sweep.id))
    assert [r.state for r in stored] == ["filled", "filled"] and all(r.remote_id for r in stored)
    assert any("ended" in line and "filled" in line for line in seen)
    assert any("completed" in line and "filled" in line for line in seen)
    # qa4 Q4: while its results are written the line says so (it kept the last poll's "in_progress")
    for word in ("ended", "completed"):
        writing = [i for i, line in enumerate(seen) if f"): {word}" in line and "writing its results" in line]
        filled = [i for i, line in enumerate(seen) if f"): {word}" in line and "filled" in line]
        assert writing and filled and writing[0] < filled[0], seen


async def test_resume_polls_a_stored_batch_and_never_sends_its_cells_again(srv, store, tmp_path):
    settings = _settings(tmp_path, srv)
    srv.batches.hold = True
    defn = SweepDef(templates=["{{q}}"], models=[CL], columns=["q"], rows=[{"q": "a"}, {"q": "b"}],
                    vars_name="v.csv", batch=True)
    graph, sweep = _new_sweep(store, defn)
    engine = Engine(store, settings)
    results = await run_sweep_batches(engine, graph, sweep, defn, wait=False, poll_interval=0.05)
    await engine.aclose()
    assert [n for _, n in results] == [None, None]  # waiting in the batch
    (rec,) = load_records(store.get_node(sweep.id))
    assert rec.state == "submitted" and rec.remote_id
    # a new process: the batch is polled, not sent again, and fills the cells when it ends
    srv.batches.hold = False
    graph = store.load_graph(graph.session.id)
    engine = Engine(store, settings)
    results = await run_sweep_batches(engine, graph, find_sweep(graph), defn, poll_interval=0.05)
    await engine.aclose()
    assert [n.status for _, n in results] == [NodeStatus.DONE] * 2
    assert srv.batches.creates == {"/v1/messages/batches": 1}


async def test_a_run_stopped_while_a_batch_fills_its_cells_is_resumed_without_storing_a_cell_twice(
        srv, store, tmp_path):
    """qa3 N1/N2: stopped (a quit) after the first cell of an ended batch was written, the run writes no
    further cell; the resume fills the others and leaves the written one alone (no second answer, no
    second cost)."""
    settings = _settings(tmp_path, srv)
    defn = SweepDef(templates=["{{q}}"], models=[CL], columns=["q"], rows=[{"q": "a"}, {"q": "b"}, {"q": "c"}],
                    vars_name="v.csv", batch=True, checks=["contains:Answer"])
    graph, sweep = _new_sweep(store, defn)
    engine = Engine(store, settings)
    handle = []
    await run_sweep_batches(engine, graph, sweep, defn, poll_interval=0.05, started=handle.append,
                            on_progress=lambda p: handle[0].stop())
    await engine.aclose()
    first = {i: [n.id for n in ns] for i, ns in cell_answers(store.load_graph(graph.session.id)).items()}
    assert list(first) == [0] and len(first[0]) == 1  # the cell being written, whole; the others wait
    (rec,) = load_records(store.get_node(sweep.id))
    assert rec.state == "submitted" and rec.status == "ended"
    graph = store.load_graph(graph.session.id)
    [node] = cell_answers(graph)[0]
    assert node.meta[CHECKS_META] == [{"check": "contains:Answer", "pass": True}]
    assert node.cost_usd == pytest.approx(batch_cost(engine.catalog, node)) and node.timing.duration_ms is None
    engine = Engine(store, settings)
    results = await run_sweep_batches(engine, graph, find_sweep(graph), defn, poll_interval=0.05)
    await engine.aclose()
    assert [n.status for _, n in results] == [NodeStatus.DONE] * 3
    answers = cell_answers(store.load_graph(graph.session.id))
    assert {i: len(ns) for i, ns in answers.items()} == {0: 1, 1: 1, 2: 1}
    assert answers[0][0].id == first[0][0]
    assert srv.batches.creates == {"/v1/messages/batches": 1}
    assert load_records(store.get_node(sweep.id))[0].state == "filled"


@pytest.mark.parametrize("model, provider, path", [(GP, "openai", "/v1/batches"),
                                                    (CL, "anthropic", "/v1/messages/batches")])
async def test_a_batch_created_before_a_crash_is_found_and_adopted(srv, store, tmp_path, model, provider, path):
    settings = _settings(tmp_path, srv)
    defn = SweepDef(templates=["{{q}}"], models=[model], columns=["q"], rows=[{"q": "a"}, {"q": "b"}],
                    vars_name="v.csv", batch=True)
    graph, sweep = _new_sweep(store, defn)
    engine = Engine(store, settings)
    api = batch_api_for(settings.providers[provider], engine.client)
    bodies = [(f"tbcrash-{c.index}", api.body(build_cell_request(engine, c, sweep)[1])) for c in defn.cells()]
    # the process made the batch, then died before storing its id: the record is still `submitting`
    rec = BatchRecord(key="tbcrash", provider=provider, cells={"tbcrash-0": 0, "tbcrash-1": 1})
    await api.create(rec.key, bodies)
    sweep.meta[BATCH_META] = [rec.to_dict()]
    store.update_node(sweep)
    graph = store.load_graph(graph.session.id)
    results = await run_sweep_batches(engine, graph, find_sweep(graph), defn, poll_interval=0.05)
    await engine.aclose()
    assert [n.status for _, n in results] == [NodeStatus.DONE] * 2
    # adopted (OpenAI: by its metadata; Anthropic: the one batch made since, with as many requests)
    assert srv.batches.creates == {path: 1}


async def test_a_record_left_submitting_with_no_batch_at_the_provider_is_sent(srv, store, tmp_path):
    settings = _settings(tmp_path, srv)
    defn = SweepDef(templates=["{{q}}"], models=[CL], columns=["q"], rows=[{"q": "a"}], vars_name="v.csv",
                    batch=True)
    graph, sweep = _new_sweep(store, defn)
    sweep.meta[BATCH_META] = [BatchRecord(key="tblost", provider="anthropic", cells={"tblost-0": 0}).to_dict()]
    store.update_node(sweep)
    engine = Engine(store, settings)
    results = await run_sweep_batches(engine, graph, sweep, defn, poll_interval=0.05)
    await engine.aclose()
    assert [n.status for _, n in results] == [NodeStatus.DONE]
    ((cid, _),) = srv.batches.created[0].requests
    assert cid == "tblost-0" and srv.batches.creates == {"/v1/messages/batches": 1}



async def test_a_failed_look_at_a_batch_is_tried_again_at_the_next_interval(srv, store, tmp_path):
    settings = _settings(tmp_path, srv)
    srv.batches.fail_polls = 2  # a proxy's 503 page, twice
    defn = SweepDef(templates=["{{q}}"], models=[GP], columns=["q"], rows=[{"q": "a"}], vars_name="v.csv",
                    batch=True)
    graph, sweep = _new_sweep(store, defn)
    engine = Engine(store, settings)
    seen: list[str] = []
    results = await run_sweep_batches(engine, graph, sweep, defn, poll_interval=0.02,
                                      on_batch=lambda r: seen.append(r.line()))
    await engine.aclose()
    assert [n.status for _, n in results] == [NodeStatus.DONE]
    assert sum("trying again" in line and "HTTP 503" in line for line in seen) == 2
    assert srv.batches.creates == {"/v1/batches": 1}


async def test_cancel_all_cancels_the_batches_at_the_provider_and_fails_their_cells(srv, store, tmp_path):
    import asyncio

    settings = _settings(tmp_path, srv)
    srv.batches.hold = True
    defn = SweepDef(templates=["{{q}}"], models=[GP, CL], columns=["q"], rows=[{"q": "a"}, {"q": "b"}],
                    vars_name="v.csv", batch=True)
    graph, sweep = _new_sweep(store, defn)
    engine = Engine(store, settings)
    handles = []
    run = asyncio.ensure_future(run_sweep_batches(engine, graph, sweep, defn, poll_interval=0.02,
                                                  started=handles.append))
    for _ in range(200):
        if len([r for r in srv.requests if r.method == "GET" and "/batches/" in r.path]) >= 2:
            break
        await asyncio.sleep(0.01)
    assert not run.done()
    await handles[0].cancel()
    results = await asyncio.wait_for(run, 5)
    await engine.aclose()
    assert [n.status for _, n in results] == [NodeStatus.ERROR] * 4
    assert all("cancelled" in n.error.message for _, n in results)
    cancels = [r.path for r in srv.requests if r.path.endswith("/cancel")]
    assert sorted(cancels) == sorted(f"/v1/{'messages/' if b.kind == 'anthropic' else ''}batches/{b.id}/cancel"
                                     for b in srv.batches.created)
    assert [r.state for r in load_records(store.get_node(sweep.id))] == ["filled", "filled"]


async def test_a_live_run_of_the_sweep_leaves_the_cells_waiting_in_a_batch_alone(srv, store, tmp_path):
    settings = _settings(tmp_path, srv)
    defn = SweepDef(templates=["{{q}}"], models=[CL], columns=["q"], rows=[{"q": "a"}, {"q": "b"}],
                    vars_name="v.csv", batch=True)
    graph, sweep = _new_sweep(store, defn)
    rec = BatchRecord(key="tbw", provider="anthropic", cells={"tbw-1": 1}, state="submitted", remote_id="msgbatch_x")
    sweep.meta[BATCH_META] = [rec.to_dict()]
    engine = Engine(store, settings)
    results = await SweepRunner(engine, graph, sweep, defn).run()  # e.g. a window that resumes sweeps on open
    await engine.aclose()
    assert [n is not None and n.status for _, n in results] == [NodeStatus.DONE, False]
    assert len([r for r in srv.requests if r.fmt == "anthropic"]) == 1  # cell 1 waits in its batch


async def test_a_sweep_over_the_providers_limit_goes_in_several_batches(srv, store, tmp_path, monkeypatch):
    monkeypatch.setitem(LIMITS, "anthropic", BatchLimits(2, 10**9))
    settings = _settings(tmp_path, srv)
    defn = SweepDef(templates=["{{q}}"], models=[CL], columns=["q"], rows=[{"q": str(i)} for i in range(5)],
                    vars_name="v.csv", batch=True)
    graph, sweep = _new_sweep(store, defn)
    engine = Engine(store, settings)
    results = await run_sweep_batches(engine, graph, sweep, defn, poll_interval=0.02)
    await engine.aclose()
    assert [n.status for _, n in results] == [NodeStatus.DONE] * 5
    assert [len(b.requests) for b in srv.batches.created] == [2, 2, 1]
    assert srv.batches.creates == {"/v1/messages/batches": 3}
    assert [n.text.split('You asked: "')[1][0] for _, n in results] == ["0", "1", "2", "3", "4"]


async def test_a_refused_create_fails_its_cells_with_the_reason_and_creates_nothing(store, tmp_path):
    async with FakeProviderServer(tokens_per_second=0, api_key="the-right-key") as srv:
        settings = _settings(tmp_path, srv)  # keys k1..k3: wrong for this server
        defn = SweepDef(templates=["{{q}}"], models=[CL], columns=["q"], rows=[{"q": "a"}], vars_name="v.csv",
                        batch=True)
        graph, sweep = _new_sweep(store, defn)
        engine = Engine(store, settings)
        ((_, node),) = await run_sweep_batches(engine, graph, sweep, defn, poll_interval=0.02)
        await engine.aclose()
        assert node.status == NodeStatus.ERROR and node.error.kind == "auth" and "HTTP 401" in node.error.message
        assert "k2" not in node.error.message and srv.batches.created == []


async def test_an_openai_batch_that_failed_validation_fails_every_cell_with_its_reason():
    from app.batch_api import BatchStatus, OpenAIBatchAPI
    from app.providers.base import ProviderConfig

    api = OpenAIBatchAPI(ProviderConfig("openai", "responses", "http://127.0.0.1:9/v1"), object())  # type: ignore[arg-type]
    status = BatchStatus("batch_1", "failed", {"total": 2}, {
        "id": "batch_1", "status": "failed", "output_file_id": None, "error_file_id": None,
        "errors": {"object": "list", "data": [{"code": "invalid_json_line", "message": "line 2 is not JSON"}]}})
    out = await api.results(status, {"a", "b"})
    assert set(out) == {"a", "b"}
    assert all(o.error.kind == "bad_request" and "line 2 is not JSON" in o.error.message for o in out.values())
