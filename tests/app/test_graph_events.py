"""The engine is the one writer of a session's graph and announces every write as a typed event: a send
brings its cards *and* edges (nothing is re-read from the store), streamed text comes as NodeChanged
with the fields that changed, a delete as NodesRemoved, the retry countdown in the lane's RunState.
A SessionModel fed those events holds the same graph as the store; other processes' writes come as the
same events from the store watcher."""

from __future__ import annotations

import time

import pytest

from app.domain import Edge, EdgeRole, Node, NodeKind, NodeStatus, Owner, Session
from app.engine import Engine, Target
from app.events import StreamError, TextDelta
from app.foreign import StorePoller
from app.graph_events import NodeChanged, NodesAdded, NodesRemoved, SessionChanged
from app.session_model import SessionModel
from storage import open_store
from tests.app.scripted import default_script, scripted_factory, settings_with_keys

DS, GP = "deepseek:deepseek-flash", "openai:gpt-6.2-sol"


@pytest.fixture
def env(tmp_path, store_target, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    for var in ("DEEPSEEK_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY"):
        monkeypatch.delenv(var, raising=False)
    repo = open_store(store_target)
    settings = settings_with_keys(tmp_path, deepseek="k1", anthropic="k2", openai="k3")
    scripts: dict = {}
    session = repo.create_session(Session(title="test"))
    yield repo, settings, scripts, session.id
    repo.close()


def _engine(env) -> tuple[Engine, list]:
    repo, settings, scripts, _ = env
    engine = Engine(repo, settings, provider_factory=scripted_factory(scripts, []))
    events: list = []
    engine.subscribe(events.append)
    return engine, events


def _model(repo, session_id: str) -> SessionModel:
    model = SessionModel()
    model.load(repo.get_session(session_id), repo.load_graph(session_id))
    return model


def _same_graph(a, b) -> None:
    assert set(a.nodes) == set(b.nodes)
    key = lambda e: (e.parent_id, e.child_id, e.role, e.position)  # noqa: E731
    assert sorted(map(key, a.edges)) == sorted(map(key, b.edges))


async def test_a_send_announces_its_cards_with_their_edges_and_the_model_needs_no_store_read(env):
    repo, _settings, _scripts, sid = env
    engine, events = _engine(env)
    model = _model(repo, sid)
    engine.subscribe(model.apply)
    result = engine.ask(sid, "Q", [Target(DS), Target(GP)])
    (added,) = [e for e in events if isinstance(e, NodesAdded)]
    (prompt,) = result.prompts
    assert [n.id for n in added.nodes] == [prompt.id] + [r.node.id for r in result.runs]
    assert {(e.parent_id, e.child_id, e.role) for e in added.edges} == {
        (prompt.id, r.node.id, EdgeRole.REPLY) for r in result.runs
    }
    assert added.nodes[1] is result.runs[0].node  # the live node: its text grows in place
    await engine.wait()
    # a follow-up from one answer: its FOLLOW edge comes with the new cards too
    follow = engine.ask(sid, "and?", [], parents=[result.runs[0].node.id])
    last = [e for e in events if isinstance(e, NodesAdded)][-1]
    assert (result.runs[0].node.id, follow.prompts[0].id, EdgeRole.FOLLOW) in {
        (e.parent_id, e.child_id, e.role) for e in last.edges
    }
    await engine.wait()
    _same_graph(model.graph, repo.load_graph(sid))
    await engine.aclose()


async def test_streamed_text_comes_as_node_changed_with_the_changed_fields(env):
    repo, _settings, scripts, sid = env
    scripts["deepseek-flash"] = [TextDelta("Hel"), 0.01, TextDelta("lo"), *default_script("")]
    engine, events = _engine(env)
    (run,) = engine.ask(sid, "Q", [Target(DS)]).runs
    await engine.wait()
    changes = [e for e in events if isinstance(e, NodeChanged) and e.id == run.node.id]
    texts = [e for e in changes if "text" in e.fields]
    assert len(texts) >= 2 and all(e.node is run.node for e in texts)
    assert "status" in changes[-1].fields and changes[-1].node.status == NodeStatus.DONE
    assert any("usage" in e.fields for e in changes)
    assert not any("text" in e.fields for e in changes if e.fields == frozenset({"run"}))
    assert run.node.text.startswith("Hello")
    await engine.aclose()


async def test_delete_announces_nodes_removed_and_the_model_drops_their_edges(env):
    repo, _settings, _scripts, sid = env
    engine, events = _engine(env)
    model = _model(repo, sid)
    engine.subscribe(model.apply)
    result = engine.ask(sid, "Q", [Target(DS), Target(GP)])
    await engine.wait()
    gone = result.runs[0].node.id
    nodes, edges = engine.delete_nodes([gone])
    assert [n.id for n in nodes] == [gone] and len(edges) == 1
    assert isinstance(events[-1], NodesRemoved) and events[-1].ids == (gone,)
    assert gone not in model.graph.nodes and all(gone not in (e.parent_id, e.child_id) for e in model.graph.edges)
    _same_graph(model.graph, repo.load_graph(sid))
    # undo: the same cards and edges come back, announced as added
    engine.add_nodes(sid, nodes, edges)
    assert isinstance(events[-1], NodesAdded) and events[-1].edges == tuple(edges)
    _same_graph(model.graph, repo.load_graph(sid))
    await engine.aclose()


async def test_run_state_carries_the_retry_countdown_and_the_phase(env):
    repo, _settings, scripts, sid = env
    scripts["gpt-6.2-sol"] = ([0.01, StreamError("rate_limit", "429 Too Many Requests", 0.3, 429)],
                              default_script("after retry"))
    engine, events = _engine(env)
    (run,) = engine.ask(sid, "Q", [Target(GP)]).runs
    assert run.node.run is not None and run.node.run.phase == "queued"
    seen = []
    engine.subscribe(lambda e: seen.append((time.time(), e.node.run.retry))
                     if isinstance(e, NodeChanged) and e.fields == {"run"} and e.node.run.retry else None)
    await engine.wait()
    (at, retry), *_ = seen
    assert retry.attempt == 1 and retry.max == engine.max_retries and retry.delay == 0.3
    assert 0.2 < retry.remaining(at) <= 0.3  # the countdown the card shows
    assert "429" in retry.error
    state = run.node.run
    assert state.retry is None and state.phase is None and state.persist_error is None  # ended
    stored = repo.get_node(run.node.id)
    assert stored.run is None and not {"retry", "phase", "persist_error"} & stored.meta.keys()  # never stored
    await engine.aclose()


async def test_rename_is_a_session_changed_event(env):
    repo, _settings, _scripts, sid = env
    engine, events = _engine(env)
    model = _model(repo, sid)
    engine.subscribe(model.apply)
    engine.rename_session(sid, "Renamed")
    assert events == [SessionChanged(sid, title="Renamed")]
    assert model.session.title == "Renamed" and repo.get_session(sid).title == "Renamed"


def test_the_store_watcher_announces_another_process_cards_edges_text_and_deletes(env):
    repo, _settings, _scripts, sid = env
    model = _model(repo, sid)
    got: list = []
    poller = StorePoller(repo, got.extend, lambda: ())
    poller.watch(model.graph)
    assert poller.check() == []
    # another process (the CLI) sends: a prompt and a streaming answer, linked
    prompt = Node(sid, NodeKind.PROMPT, "Q")
    answer = Node(sid, NodeKind.RESPONSE, "par", model=DS, status=NodeStatus.STREAMING)
    answer.owner = Owner.here()
    time.sleep(0.002)
    repo.add_nodes([prompt, answer], [Edge(prompt.id, answer.id, EdgeRole.REPLY, 0, sid)])
    (added,) = poller.check()
    assert isinstance(added, NodesAdded) and {n.id for n in added.nodes} == {prompt.id, answer.id}
    assert [(e.parent_id, e.child_id) for e in added.edges] == [(prompt.id, answer.id)]
    for event in got:
        model.apply(event)
    poller.rescan()
    assert poller.streaming == {answer.id}
    answer.text = "partial text"
    repo.update_stream(answer)
    changed = [e for e in poller.check() if isinstance(e, NodeChanged)]
    assert changed and changed[0].node.text == "partial text" and "text" in changed[0].fields
    time.sleep(0.002)
    repo.delete_nodes([answer.id])
    removed = [e for e in poller.check() if isinstance(e, NodesRemoved)]
    assert removed and removed[0].ids == (answer.id,)
