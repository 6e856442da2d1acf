"""Timing of answers that fail or are stopped around retries, over the loopback fake server: a duration
is never negative and a TTFT is unknown (no token came) rather than made up (so a JSON export of the
session can be imported again)."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from app.config import load_settings
from app.domain import NodeStatus, Session
from app.engine import Engine, Target
from app.export import export_json, import_file
from app.providers import retry
from storage import open_store
from tests.fakes import FakeProviderServer


@pytest.fixture
async def srv() -> AsyncIterator[FakeProviderServer]:
    async with FakeProviderServer(tokens_per_second=0) as server:
        yield server


@pytest.fixture
def engine_env(tmp_path, store_target, monkeypatch, srv):
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    for key, value in srv.env().items():
        monkeypatch.setenv(key, value)
    repo = open_store(store_target)
    settings = load_settings(tmp_path)
    session = repo.create_session(Session(title="timing"))
    yield repo, settings, session.id
    repo.close()


async def test_an_answer_that_fails_after_retries_has_a_non_negative_duration(engine_env, monkeypatch):
    repo, settings, sid = engine_env

    async def early_sleep(delay: float) -> None:
        """The backoff wait ends before the announced delay (a coarse timer firing early; here at once)."""

    monkeypatch.setitem(retry.stream_with_retries.__kwdefaults__, "sleep", early_sleep)
    engine = Engine(repo, settings, max_retries=2)
    try:
        node = engine.ask(sid, "Q", [Target("openai:fail-500")]).runs[0].node
        await asyncio.wait_for(engine.wait(), 10)
    finally:
        await engine.aclose()
    stored = repo.get_node(node.id)
    assert stored.status == NodeStatus.ERROR and stored.error is not None and stored.error.status == 500
    assert stored.timing.ttft_ms is None  # no token came
    assert stored.timing.duration_ms is not None and stored.timing.duration_ms >= 0
    # the user's JSON export of this session imports again
    (again,) = [n for n in import_file(export_json(repo.load_graph(sid)).encode()).nodes.values() if n.model]
    assert again.timing == stored.timing


async def test_an_answer_stopped_during_the_retry_wait_has_a_non_negative_duration(engine_env):
    repo, settings, sid = engine_env
    engine = Engine(repo, settings, max_retries=2)
    try:
        node = engine.ask(sid, "Q", [Target("openai:fail-500")]).runs[0].node
        for _ in range(500):  # until the card shows the retry countdown (the wait is 0.5–1 s)
            if node.run is not None and node.run.retry is not None:
                break
            await asyncio.sleep(0.01)
        assert node.run is not None and node.run.retry is not None
        assert engine.cancel(node.id) is True
        await asyncio.wait_for(engine.wait(), 5)
    finally:
        await engine.aclose()
    stored = repo.get_node(node.id)
    assert stored.status == NodeStatus.STOPPED
    assert stored.timing.ttft_ms is None
    assert stored.timing.duration_ms is not None and stored.timing.duration_ms >= 0
