"""Streaming writes while another process holds the store's write lock (the GUI's store gives up after
~50 ms with StoreBusyError): the text stays in memory, the card says it is not saved yet, the engine
does not knock on the lock once per lane per interval, and the text is saved once the lock is free,
even when no new text arrives to trigger a write."""

from __future__ import annotations

import asyncio
import time

import pytest

from app.domain import Session
from app.engine import BUSY_RETRY_S, Engine, Target
from app.events import Finish, TextDelta
from app.repository import StoreBusyError
from storage import open_store
from tests.app.scripted import scripted_factory, settings_with_keys

MODELS = ("deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol")


@pytest.fixture
def store(tmp_path, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    repo = open_store(tmp_path)
    yield repo, settings_with_keys(tmp_path, deepseek="k1", anthropic="k2", openai="k3")
    repo.close()


class Lock:
    """Makes `repo.update_stream` fail as a locked store does, between `lock()` and `unlock()`."""

    def __init__(self, repo) -> None:
        self.locked = False
        self.tries_while_locked: list[float] = []
        original = repo.update_stream

        def update_stream(node) -> None:
            if self.locked:
                self.tries_while_locked.append(time.monotonic())
                raise StoreBusyError("the store is locked: another program has been writing to it for more than 50 ms")
            original(node)

        repo.update_stream = update_stream


async def test_locked_store_text_kept_in_memory_saved_after_without_new_text(store):
    repo, settings = store
    session = repo.create_session(Session(title="busy"))
    scripts = {ref.split(":")[1]: [TextDelta("before "), 0.4, TextDelta("during "), 1.2, TextDelta("after"),
                                   Finish("stop")] for ref in MODELS}
    engine = Engine(repo, settings, provider_factory=scripted_factory(scripts, []))
    lock = Lock(repo)
    result = engine.ask(session.id, "Q", [Target(m) for m in MODELS])
    await asyncio.sleep(0.3)  # "before " arrived and is saved (within the persist interval)
    lock.locked = True
    await asyncio.sleep(0.6)  # "during " arrives while locked
    nodes = [r.node for r in result.runs]
    assert all(n.text == "before during " for n in nodes)  # kept in memory
    assert all(n.run is not None and "not saved yet" in str(n.run.persist_error) for n in nodes)  # the card says so
    assert all(repo.get_node(n.id).text == "before " for n in nodes)
    # three lanes, 0.55 s locked: one shared try every BUSY_RETRY_S, not one per lane per interval
    assert 1 <= len(lock.tries_while_locked) <= 0.6 / BUSY_RETRY_S + 2
    lock.locked = False
    await asyncio.sleep(BUSY_RETRY_S + 0.15)  # no new text arrives in this time: the retry saves it
    assert all(repo.get_node(n.id).text == "before during " for n in nodes)
    assert all(n.run is None or n.run.persist_error is None for n in nodes)
    await engine.wait()
    assert all(repo.get_node(n.id).text == "before during after" for n in nodes)
    await engine.aclose()
