"""GUI test fixtures: offscreen Qt, the qasync loop for async tests, loopback fake providers.

Async tests run on `TriptychEventLoop` (qasync + asyncgen hooks) through pytest-asyncio's
`pytest_asyncio_loop_factories` hook, and wait with `wait_until` (never qtbot.waitUntil/waitSignal,
which hang the teardown of an async test).
"""

from __future__ import annotations

import os

os.environ["QT_QPA_PLATFORM"] = "offscreen"  # before any QApplication exists
os.environ.setdefault("QT_API", "pyside6")
os.environ["TRIPTYCH_NO_ERROR_DIALOG"] = "1"

import asyncio
import contextlib
import time
import types
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest
from PySide6.QtWidgets import QApplication

from tests.fakes.server import FakeProviderServer
from ui.qtloop import TriptychEventLoop

DEFAULT_MODELS = ["deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"]


def _app() -> QApplication:
    app = QApplication.instance() or QApplication(["triptych-tests"])
    app.setQuitOnLastWindowClosed(False)  # closing a window must not stop the test's loop
    return app


def pytest_asyncio_loop_factories(config, item):
    return {"qasync": _bounded_loop}


def _bounded_loop() -> TriptychEventLoop:
    loop = TriptychEventLoop(_app())
    loop.shutdown_asyncgens = types.MethodType(_shutdown_asyncgens_bounded, loop)  # type: ignore[method-assign]
    return loop


TEARDOWN_CANCEL_S = 10.0
STUCK_LOG = Path(os.environ.get("TRIPTYCH_STUCK_TASKS_LOG", "/tmp/triptych-stuck-tasks.log"))


def _cancel_all_tasks_bounded(loop: asyncio.AbstractEventLoop) -> None:
    """asyncio.runners._cancel_all_tasks (which pytest-asyncio's runner calls after each async test),
    bounded: under load a whole run once waited forever here, the Qt loop idle, for a cancelled task
    that never ran its last step. After TEARDOWN_CANCEL_S the tasks still pending are written, with
    their stacks, to stderr and STUCK_LOG, and the run goes on (the test has passed or failed by then)."""
    import sys

    to_cancel = [t for t in asyncio.all_tasks(loop) if not t.done()]
    if not to_cancel:
        return
    for task in to_cancel:
        task.cancel()
    gathered = asyncio.gather(*to_cancel, return_exceptions=True)
    watchdog = loop.call_later(TEARDOWN_CANCEL_S, loop.stop)
    try:
        loop.run_until_complete(gathered)
    except RuntimeError:  # stopped by the watchdog
        stuck = [t for t in to_cancel if not t.done()]
        with STUCK_LOG.open("a", encoding="utf-8") as log:
            for out in (sys.stderr, log):
                out.write(f"\n[tests] {len(stuck)} task(s) still pending {TEARDOWN_CANCEL_S:.0f} s after cancel "
                          f"({os.environ.get('PYTEST_CURRENT_TEST', 'a test')}):\n")
                for task in stuck:
                    out.write(f"{task!r}\n")
                    task.print_stack(file=out)
        gathered.cancel()
        return
    finally:
        watchdog.cancel()
    for task in to_cancel:
        if not task.cancelled() and task.exception() is not None:
            loop.call_exception_handler({"message": "unhandled exception during teardown",
                                         "exception": task.exception(), "task": task})


asyncio.runners._cancel_all_tasks = _cancel_all_tasks_bounded  # type: ignore[attr-defined]


async def _shutdown_asyncgens_bounded(loop: asyncio.AbstractEventLoop) -> None:
    """The runner's next step after cancelling (asyncio.Runner.close: closing the async generators still
    open), bounded the same way: an `aclose()` that never ends is logged, not waited for forever."""
    import sys

    closing = asyncio.ensure_future(asyncio.BaseEventLoop.shutdown_asyncgens(loop))  # type: ignore[arg-type]
    done, _ = await asyncio.wait({closing}, timeout=TEARDOWN_CANCEL_S)
    if not done:
        with STUCK_LOG.open("a", encoding="utf-8") as log:  # noqa: ASYNC230 (a test teardown's log line)
            for out in (sys.stderr, log):
                out.write(f"\n[tests] async generators still closing {TEARDOWN_CANCEL_S:.0f} s after "
                          f"{os.environ.get('PYTEST_CURRENT_TEST', 'a test')}\n")
        closing.cancel()


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).parent
    for item in items:
        if Path(str(item.fspath)).is_relative_to(here):
            item.add_marker(pytest.mark.gui)
            # The offscreen platform warns about what it cannot do (size hints, raise, keyboard grabs
            # of popups); those are not our bugs. Every other Qt warning fails the test.
            item.add_marker(
                pytest.mark.qt_log_ignore(
                    r"^This plugin does not support (propagateSizeHints|raise|grabbing)"
                )
            )


async def wait_until(pred: Callable[[], object], timeout: float = 10.0, what: str = "") -> None:  # noqa: ASYNC109
    """Sleep in small steps on the running loop until `pred()` is truthy; fail after `timeout` s."""
    deadline = time.monotonic() + timeout
    while True:
        if pred():
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what or pred}")
        await asyncio.sleep(0.02)


@pytest.fixture(autouse=True)
def _collect_on_the_gui_thread():
    """No automatic garbage collection while a GUI test runs, and a collection on this (the GUI)
    thread after it. The fake provider servers run on threads of their own: a collection those
    threads happened to trigger destroyed cyclic Qt objects (a closed dialog, its timers) off the
    GUI thread ("QObject::~QObject: Timers cannot be stopped from another thread"), and now and
    then segfaulted the run."""
    import gc

    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        gc.collect()
        if was_enabled:
            gc.enable()


@pytest.fixture
def fake_server():
    """A scripted-capable fake provider server on a background thread (its own loop)."""
    srv = FakeProviderServer(tokens_per_second=300)
    _url, stop = srv.run_in_thread()
    try:
        yield srv
    finally:
        stop()


@pytest.fixture
def app_env(tmp_path, monkeypatch, fake_server):
    """Environment pointing every provider at the fake server, with fake keys and a tmp data dir."""
    home = tmp_path / "home"
    home.mkdir()
    monkeypatch.setenv("TRIPTYCH_HOME", str(home))
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    for key, value in fake_server.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("TRIPTYCH_OPENAI_API", raising=False)
    return home


@contextlib.asynccontextmanager
async def open_window(data_dir: Path | None = None) -> AsyncIterator:
    """The real main window over real services (store in TRIPTYCH_HOME, shared httpx client)."""
    from ui.app import build_services, close_services, create_window

    _app()
    services = build_services(data_dir, interactive=False)
    window = create_window(services)
    window.dialogs.confirm_quit = lambda *_args: True  # tests close windows with streams running
    window.resize(1400, 900)
    window.show()
    await asyncio.sleep(0.05)
    try:
        yield window, services
    finally:
        if window.isVisible():
            window.close()
        await close_services(services)
        window.deleteLater()
        await asyncio.sleep(0)


def cards_of(window, kind: str | None = None):
    graph = window.controller.graph
    out = []
    for card in window.scene.cards():
        node = graph.nodes.get(card.node_id)
        if kind is None or (node is not None and node.kind.value == kind):
            out.append(card)
    return out


def whole_session_reads(repo, action: Callable[[], object]) -> list[str]:
    """The session ids that `action()` read whole from the store (`repo.load_graph` calls): the
    window works on its own graph where a re-read would cost ~70 ms on a 10,000-card session."""
    reads: list[str] = []
    load_graph = repo.load_graph
    repo.load_graph = lambda sid: (reads.append(sid), load_graph(sid))[1]
    try:
        action()
    finally:
        del repo.load_graph
    return reads


def streaming_answer(
    session_id: str,
    text: str,
    pid: int,
    *,
    model: str = "deepseek:deepseek-flash",
    heartbeat: float | None = None,
    x: float = 0.0,
    y: float = 220.0,
):
    """A response card the store says is streaming in process `pid` on this host (heartbeat: now)."""
    import socket

    from app.domain import Node, NodeKind, NodeStatus, Owner

    return Node(
        session_id,
        NodeKind.RESPONSE,
        text,
        model=model,
        status=NodeStatus.STREAMING,
        owner=Owner(pid=pid, host=socket.gethostname(), heartbeat=time.time() if heartbeat is None else heartbeat),
        x=x,
        y=y,
    )


def send_mouse(widget, kind, pos, button=None, buttons=None, mods=None) -> None:
    """Send one mouse event (`kind`: a QEvent.Type) at `pos` (widget coordinates) to `widget`.
    Default: the left button, held only by this event; no modifier."""
    from PySide6.QtCore import QPointF, Qt
    from PySide6.QtGui import QMouseEvent

    button = Qt.MouseButton.LeftButton if button is None else button
    buttons = button if buttons is None else buttons
    mods = Qt.KeyboardModifier.NoModifier if mods is None else mods
    event = QMouseEvent(kind, QPointF(pos), QPointF(widget.mapToGlobal(pos)), button, buttons, mods)
    QApplication.sendEvent(widget, event)
