"""Engine behaviour a user notices: every lane streams and ends in its own honest status, one failing or
stopped lane never touches another, text reaches the store within the persist interval, metrics."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.domain import EdgeRole, NodeKind, NodeStatus, Params, SendMode, Session
from app.engine import Engine, EngineError, Target
from app.events import Finish, ReasoningDelta, StreamError, TextDelta, Usage
from app.present.metrics import metrics_line
from storage import open_store
from tests.app.scripted import default_script, scripted_factory, settings_with_keys

DS, CL, GP = "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"


@pytest.fixture
def env(tmp_path, store_target, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    for var in ("DEEPSEEK_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    repo = open_store(store_target)
    settings = settings_with_keys(tmp_path, deepseek="k1", anthropic="k2", openai="k3")
    scripts: dict = {}
    requests: list = []
    session = repo.create_session(Session(title="test"))
    yield repo, settings, scripts, requests, session.id
    repo.close()


def make_engine(env, **kw):
    repo, settings, scripts, requests, _ = env
    return Engine(repo, settings, provider_factory=scripted_factory(scripts, requests), **kw)


async def test_fanout_three_models_each_done_with_own_text_usage_cost_and_timing(env):
    repo, settings, scripts, requests, sid = env
    scripts["deepseek-flash"] = [ReasoningDelta("hmm"), 0.01, *default_script("DeepSeek answer")]
    engine = make_engine(env)
    result = engine.ask(sid, "What is 2+2?", [Target(DS), Target(CL), Target(GP)])
    assert [r.node.status for r in result.runs] == [NodeStatus.PENDING] * 3  # returned before streaming
    await engine.wait(result.runs)
    graph = repo.load_graph(sid)
    (prompt,) = [n for n in graph.nodes.values() if n.kind == NodeKind.PROMPT]
    answers = [graph.nodes[r.node.id] for r in result.runs]
    assert [a.text for a in answers] == ["DeepSeek answer", f"answer from {CL.split(':')[1]}",
                                         f"answer from {GP.split(':')[1]}"]
    assert answers[0].reasoning == "hmm"
    for a in answers:
        assert a.status == NodeStatus.DONE and a.finish == "stop" and a.error is None
        assert a.usage.input == 12 and a.usage.cached_input == 2 and a.usage.output == 20
        assert a.cost_usd is not None and a.cost_usd > 0
        assert a.timing.ttft_ms is not None and a.timing.duration_ms >= a.timing.ttft_ms
        assert a.owner is None
        assert [(e.parent_id, e.role) for e in graph.parents(a.id)] == [(prompt.id, EdgeRole.REPLY)]
    # siblings in a row under their prompt
    assert len({a.y for a in answers}) == 1 and answers[0].y > prompt.y
    assert answers[0].x < answers[1].x < answers[2].x
    await engine.aclose()


async def test_one_lane_failing_mid_stream_keeps_its_text_and_leaves_the_others_alone(env):
    repo, settings, scripts, requests, sid = env
    scripts["claude-sonnet-5-5"] = [TextDelta("partial "), 0.01, TextDelta("text"),
                                    StreamError("overloaded", "Overloaded (529)", status=529)]
    engine = make_engine(env)
    result = engine.ask(sid, "Q", [Target(DS), Target(CL), Target(GP)])
    await engine.wait()
    stored = {r.node.model: repo.get_node(r.node.id) for r in result.runs}
    assert stored[CL].status == NodeStatus.ERROR
    assert stored[CL].text == "partial text"
    assert stored[CL].error.kind == "overloaded" and stored[CL].error.status == 529
    assert stored[DS].status == stored[GP].status == NodeStatus.DONE


async def test_stop_one_lane_mid_stream(env):
    repo, settings, scripts, requests, sid = env
    scripts["claude-sonnet-5-5"] = [TextDelta("first words "), "hang"]
    scripts["deepseek-flash"] = default_script("slow but complete", delay=0.05)
    engine = make_engine(env)
    result = engine.ask(sid, "Q", [Target(DS), Target(CL)])
    cl = result.runs[1].node
    for _ in range(100):
        if cl.text:
            break
        await asyncio.sleep(0.01)
    assert engine.cancel(cl.id) is True
    await engine.wait()
    assert repo.get_node(cl.id).status == NodeStatus.STOPPED
    assert repo.get_node(cl.id).text == "first words "
    assert repo.get_node(result.runs[0].node.id).status == NodeStatus.DONE
    assert engine.cancel(cl.id) is False  # already over


async def test_a_stopped_answer_keeps_the_usage_reported_before_the_stop(env):
    """Issue #12: usage a provider reported before the stop is kept (stored, shown); the output count
    that never came stays unknown, not zero."""
    repo, settings, scripts, requests, sid = env
    scripts["claude-sonnet-5-5"] = [Usage(input=1200, cached_input=1000), TextDelta("first words "), "hang"]
    engine = make_engine(env)
    cl = engine.ask(sid, "Q", [Target(CL)]).runs[0].node
    for _ in range(100):
        if cl.text:
            break
        await asyncio.sleep(0.01)
    assert engine.cancel(cl.id) is True
    await engine.wait()
    stored = repo.get_node(cl.id)
    assert stored.status == NodeStatus.STOPPED
    assert (stored.usage.input, stored.usage.cached_input, stored.usage.output) == (1200, 1000, None)
    assert stored.cost_usd is not None and stored.cost_usd > 0  # the input's cost (a lower bound)


async def test_streamed_text_is_in_the_store_within_the_persist_interval(env):
    repo, settings, scripts, requests, sid = env
    scripts["deepseek-flash"] = [TextDelta("a"), 0.02, TextDelta("b"), 0.6, TextDelta("c"), Finish("stop")]
    engine = make_engine(env, persist_interval=0.25)
    (run,) = engine.ask(sid, "Q", [Target(DS)]).runs
    while "b" not in run.node.text:
        await asyncio.sleep(0.005)
    arrived = time.monotonic()
    while repo.get_node(run.node.id).text != "ab":
        assert time.monotonic() - arrived < 0.25 + 0.05, "text not persisted within 250 ms"
        await asyncio.sleep(0.01)
    stored = repo.get_node(run.node.id)
    assert stored.status == NodeStatus.STREAMING and stored.owner is not None  # live, owned
    await engine.wait()
    assert repo.get_node(run.node.id).text == "abc"


async def test_text_is_not_written_per_token(env):
    repo, settings, scripts, requests, sid = env
    scripts["deepseek-flash"] = [*(TextDelta("x") for _ in range(300)), Finish("stop")]
    writes = []
    original = repo.update_stream
    repo.update_stream = lambda node: (writes.append(len(node.text)), original(node))
    engine = make_engine(env)
    await engine.wait(engine.ask(sid, "Q", [Target(DS)]).runs)
    assert len(writes) <= 3  # first token + at most a couple of batched flushes, not 300


async def test_retry_before_first_token_shows_countdown_then_streams(env):
    repo, settings, scripts, requests, sid = env
    seen = []
    # the first request is refused (retried by the engine's retry wrapper after 0.05 s), the second answers
    scripts["gpt-6.2-sol"] = ([0.03, StreamError("rate_limit", "429 Too Many Requests", 0.05, 429)],
                              default_script("after retry"))
    engine = make_engine(env)
    engine.add_listener(lambda node, change: seen.append((change, node.run.retry if node.run else None)))
    (run,) = engine.ask(sid, "Q", [Target(GP)]).runs
    await engine.wait()
    retry_events = [m for c, m in seen if c == "retry"]
    assert retry_events and retry_events[0].attempt == 1 and retry_events[0].delay == 0.05
    assert run.node.run is not None and run.node.run.retry is None  # the countdown ended with the lane
    node = repo.get_node(run.node.id)
    assert node.status == NodeStatus.DONE and node.text == "after retry" and "retry" not in node.meta
    assert node.timing.ttft_ms < 50  # measured from the retried request, not the first attempt
    assert node.timing.duration_ms >= node.timing.ttft_ms


async def test_missing_key_is_a_clear_error_on_the_card(env):
    repo, settings, scripts, requests, sid = env
    settings.providers["anthropic"].api_key = None
    engine = make_engine(env)
    (run,) = engine.ask(sid, "Q", [Target(CL)]).runs
    await engine.wait()
    node = repo.get_node(run.node.id)
    assert node.status == NodeStatus.ERROR and node.error.kind == "auth"
    assert "ANTHROPIC_API_KEY" in node.error.message and "Settings" in node.error.message
    assert requests == []  # nothing was sent
    assert node.run_record.no_key and node.run_record.started_at is not None  # stored: the card says "add a key"


async def test_stream_without_terminal_event_is_never_a_success(env):
    repo, settings, scripts, requests, sid = env
    scripts["deepseek-flash"] = [TextDelta("half an ans")]
    engine = make_engine(env)
    (run,) = engine.ask(sid, "Q", [Target(DS)]).runs
    await engine.wait()
    node = repo.get_node(run.node.id)
    assert node.status == NodeStatus.ERROR and node.error.kind == "bad_stream" and node.text == "half an ans"


async def test_lanes_follow_up_sends_each_model_its_own_history(env):
    repo, settings, scripts, requests, sid = env
    engine = make_engine(env)
    first = engine.ask(sid, "Q1", [Target(DS), Target(CL), Target(GP)])
    await engine.wait()
    requests.clear()
    follow = engine.ask(sid, "Why?", [], parents=[r.node.id for r in first.runs], mode=SendMode.LANES)
    await engine.wait()
    assert len(follow.prompts) == 3 and [r.node.model for r in follow.runs] == [DS, CL, GP]
    by_model = {r.model: [(m.role, m.content) for m in r.messages] for r in requests}
    for model in (DS, CL, GP):
        mid = model.split(":")[1]
        assert by_model[mid] == [("user", "Q1"), ("assistant", f"answer from {mid}"), ("user", "Why?")]


async def test_shared_follow_up_sends_the_chosen_answer_to_every_model(env):
    repo, settings, scripts, requests, sid = env
    engine = make_engine(env)
    first = engine.ask(sid, "Q1", [Target(DS), Target(CL), Target(GP)])
    await engine.wait()
    requests.clear()
    chosen = first.runs[1].node  # Claude's answer
    shared = engine.ask(sid, "Go on", [Target(DS), Target(GP)], parents=[chosen.id], mode=SendMode.SHARED)
    await engine.wait()
    assert len(shared.prompts) == 1
    for r in requests:
        assert [(m.role, m.content) for m in r.messages] == [
            ("user", "Q1"), ("assistant", "answer from claude-sonnet-5-5"), ("user", "Go on")]


async def test_synthesis_and_rerun(env):
    repo, settings, scripts, requests, sid = env
    engine = make_engine(env)
    first = engine.ask(sid, "Q1", [Target(DS), Target(CL), Target(GP)])
    await engine.wait()
    syn = engine.synthesize(sid, [r.node.id for r in first.runs], GP, "merge")
    await engine.wait()
    graph = repo.load_graph(sid)
    assert graph.nodes[syn.node.id].kind == NodeKind.SYNTHESIS
    assert [e.parent_id for e in graph.parents(syn.node.id)] == [r.node.id for r in first.runs]
    assert all(e.role == EdgeRole.SOURCE for e in graph.parents(syn.node.id))
    assert graph.nodes[syn.node.id].status == NodeStatus.DONE
    again = engine.rerun(first.runs[0].node.id, model=CL)
    await engine.wait()
    graph = repo.load_graph(sid)
    prompt_id = first.prompts[0].id
    assert [e.parent_id for e in graph.parents(again.node.id)] == [prompt_id]
    assert graph.nodes[again.node.id].model == CL and graph.nodes[again.node.id].status == NodeStatus.DONE
    assert len(graph.children(prompt_id, (EdgeRole.REPLY,))) == 4  # the original stays


async def test_parameters_a_model_rejects_are_not_sent(env):
    repo, settings, scripts, requests, sid = env
    engine = make_engine(env)
    engine.ask(sid, "Q", [Target(CL, Params(temperature=0.2, effort="high")),
                          Target(GP, Params(temperature=0.2, effort="none"))])
    await engine.wait()
    by_model = {r.model: r.params for r in requests}
    assert by_model["claude-sonnet-5-5"].temperature is None and by_model["claude-sonnet-5-5"].effort == "high"
    assert by_model["gpt-6.2-sol"].temperature == 0.2  # allowed at effort none
    # the store remembers what was not sent, and the card's metrics line (after a restart too) says so
    stored = {n.model: n for n in repo.load_graph(sid).nodes.values() if n.model}
    assert stored[CL].run_record.dropped_params == ("temperature",) and stored[GP].run_record.dropped_params == ()
    assert "not sent: temperature" in metrics_line(stored[CL]) and "not sent" not in metrics_line(stored[GP])


async def test_bad_input_is_refused_before_anything_is_stored(env):
    repo, settings, scripts, requests, sid = env
    engine = make_engine(env)
    with pytest.raises(EngineError, match="empty"):
        engine.ask(sid, "   \n", [Target(DS)])
    with pytest.raises(EngineError, match="unknown provider"):
        engine.ask(sid, "Q", [Target("nope:model")])
    with pytest.raises(EngineError, match="at least one model"):
        engine.ask(sid, "Q", [])
    assert repo.load_graph(sid).nodes == {}


async def _lane_of_three_turns(engine, sid, model=DS):
    """P1 → R1 → P2 → R2 → P3 → R3, all answered by `model`; returns the last answer."""
    run = engine.ask(sid, "Turn one?", [Target(model)]).runs[0]
    await engine.wait([run])
    for text in ("Turn two?", "Turn three?"):
        run = engine.ask(sid, text, [Target(model)], parents=[run.node.id]).runs[0]
        await engine.wait([run])
    return run.node


async def test_rerun_path_replays_the_lane_on_another_model_with_its_own_history(env):
    repo, settings, scripts, requests, sid = env
    scripts["claude-sonnet-5-5"] = tuple(default_script(f"Claude turn {i}") for i in (1, 2, 3))
    engine = make_engine(env)
    last = await _lane_of_three_turns(engine, sid)
    created: list[list[str]] = []
    path = engine.rerun_path(last.id, CL, on_created=lambda nodes: created.append([n.kind.value for n in nodes]))
    assert path.turns == 3
    answers = await path.task
    assert [a.text for a in answers] == ["Claude turn 1", "Claude turn 2", "Claude turn 3"]
    assert all(repo.get_node(a.id).status == NodeStatus.DONE for a in answers)
    assert created == [["prompt", "response"], ["prompt", "response"]]
    graph = repo.load_graph(sid)
    # the first Claude answer is a sibling of DeepSeek's first answer, under the same prompt
    first_prompt = graph.parents(answers[0].id, (EdgeRole.REPLY,))[0].parent_id
    assert graph.nodes[first_prompt].text == "Turn one?"
    assert {graph.nodes[e.child_id].model for e in graph.children(first_prompt, (EdgeRole.REPLY,))} == {DS, CL}
    # each later turn: a copy of the prompt, following Claude's own previous answer
    for prev, ans, text in ((answers[0], answers[1], "Turn two?"), (answers[1], answers[2], "Turn three?")):
        prompt = graph.nodes[graph.parents(ans.id, (EdgeRole.REPLY,))[0].parent_id]
        assert prompt.text == text
        assert [e.parent_id for e in graph.parents(prompt.id, (EdgeRole.FOLLOW,))] == [prev.id]
    # what Claude received on the last turn: its own history, never DeepSeek's answers
    last_request = [r for r in requests if r.model == "claude-sonnet-5-5"][-1]
    assert [(m.role, m.content) for m in last_request.messages] == [
        ("user", "Turn one?"), ("assistant", "Claude turn 1"),
        ("user", "Turn two?"), ("assistant", "Claude turn 2"),
        ("user", "Turn three?"),
    ]
    # the original lane is untouched
    assert repo.get_node(last.id).text == "answer from deepseek-flash"
    await engine.aclose()


async def test_rerun_path_stops_at_a_failed_turn(env):
    repo, settings, scripts, requests, sid = env
    scripts["claude-sonnet-5-5"] = (default_script("Claude turn 1"),
                                    [TextDelta("half"), StreamError("server", "Internal error", status=500)])
    engine = make_engine(env)
    last = await _lane_of_three_turns(engine, sid)
    path = engine.rerun_path(last.id, CL)
    answers = await path.task
    assert [repo.get_node(a.id).status for a in answers] == [NodeStatus.DONE, NodeStatus.ERROR]
    assert repo.get_node(answers[1].id).text == "half"  # what arrived is kept
    graph = repo.load_graph(sid)
    assert [n.text for n in graph.nodes.values() if n.kind == NodeKind.PROMPT].count("Turn three?") == 1
    await engine.aclose()


async def test_stopping_a_path_rerun_sends_no_further_turn(env):
    repo, settings, scripts, requests, sid = env
    engine = make_engine(env)
    last = await _lane_of_three_turns(engine, sid)
    scripts["claude-sonnet-5-5"] = [TextDelta("slow"), "hang"]
    path = engine.rerun_path(last.id, CL)
    await asyncio.sleep(0.05)
    engine.cancel_all()
    answers = await asyncio.gather(path.task, return_exceptions=True)
    assert isinstance(answers[0], asyncio.CancelledError) or len(answers[0]) == 1
    await engine.wait()
    assert repo.get_node(path.first.node.id).status == NodeStatus.STOPPED
    assert repo.get_node(path.first.node.id).text == "slow"
    graph = repo.load_graph(sid)
    assert [n.text for n in graph.nodes.values() if n.kind == NodeKind.PROMPT].count("Turn two?") == 1
    await engine.aclose()


async def test_rerun_path_refuses_a_prompt_or_synthesis(env):
    repo, settings, scripts, requests, sid = env
    engine = make_engine(env)
    result = engine.ask(sid, "Q", [Target(DS)])
    await engine.wait()
    with pytest.raises(EngineError, match="path"):
        engine.rerun_path(result.prompts[0].id, CL)
    await engine.aclose()
