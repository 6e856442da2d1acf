"""The engine on the team store (PostgreSQL, tests/pgcluster.py): three lanes stream into it; the
server goes away mid-stream (a restart, a network cut): the text is kept in memory, the card says it
is not saved yet, and everything is written once the server is back; nothing is lost."""

from __future__ import annotations

import asyncio

from app.domain import Session
from app.engine import Engine, Target
from app.events import Finish, TextDelta
from storage import open_store
from tests.app.scripted import scripted_factory, settings_with_keys

MODELS = ("deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol")


async def test_three_lanes_stream_into_the_team_store(pg_url, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    repo = open_store(pg_url)
    settings = settings_with_keys(tmp_path, deepseek="k1", anthropic="k2", openai="k3")
    try:
        session = repo.create_session(Session(title="lanes"))
        scripts = {ref.split(":")[1]: [TextDelta("one "), 0.1, TextDelta("two"), Finish("stop")] for ref in MODELS}
        engine = Engine(repo, settings, provider_factory=scripted_factory(scripts, []))
        result = engine.ask(session.id, "Q", [Target(m) for m in MODELS])
        await engine.wait()
        assert [repo.get_node(r.node.id).text for r in result.runs] == ["one two"] * 3
        assert {n.status.value for n in repo.load_graph(session.id).nodes.values() if n.model} == {"done"}
        await engine.aclose()
    finally:
        repo.close()


async def test_text_streamed_while_the_server_is_down_is_saved_when_it_returns(pg_cluster, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    repo = open_store(pg_cluster.url(pg_cluster.create_db()))
    settings = settings_with_keys(tmp_path, deepseek="k1", anthropic="k2", openai="k3")
    try:
        session = repo.create_session(Session(title="outage"))
        scripts = {ref.split(":")[1]: [TextDelta("before "), 0.6, TextDelta("during "), 1.5, TextDelta("after"),
                                       Finish("stop")] for ref in MODELS}
        engine = Engine(repo, settings, provider_factory=scripted_factory(scripts, []))
        result = engine.ask(session.id, "Q", [Target(m) for m in MODELS])
        await asyncio.sleep(0.4)  # "before " is saved
        nodes = [r.node for r in result.runs]
        assert [repo.get_node(n.id).text for n in nodes] == ["before "] * 3
        await asyncio.to_thread(pg_cluster.stop, "fast")  # the server goes away
        await asyncio.sleep(0.6)  # "during " arrives: kept in memory, the card says it is not saved
        assert all(n.text == "before during " for n in nodes)
        assert all(n.run is not None and "not saved yet" in str(n.run.persist_error) for n in nodes)
        assert all("cannot reach the team store" in str(n.run.persist_error) for n in nodes)
        await asyncio.to_thread(pg_cluster.start)  # back (a restart, a network cut healed)
        await asyncio.wait_for(engine.wait(), 15)
        for _ in range(60):
            if all(repo.get_node(n.id).text == "before during after" for n in nodes):
                break
            await asyncio.sleep(0.25)
        assert [repo.get_node(n.id).text for n in nodes] == ["before during after"] * 3
        assert {repo.get_node(n.id).status.value for n in nodes} == {"done"}
        await engine.aclose()
    finally:
        repo.close()
