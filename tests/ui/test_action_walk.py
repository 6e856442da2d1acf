"""Every action, every state: each menu action and shortcut of the main window (the list comes from the
window, so a new action is walked automatically) is triggered, then pressed as keys, in several states:
an empty session, a fan-out streaming, a finished fan-out, with 0, 1 or 2 cards selected. Any uncaught
exception, any Qt warning (qt_log_level_fail) or a window larger than its screen fails the walk.

Dialogs an action opens are answered with Cancel / Escape (hands.auto_dismiss) and the modeless views it
shows (focus mode, diff, shortcuts) are closed; their code runs for real.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys

from PySide6.QtCore import QTimer

from app.domain import NodeStatus
from tests.ui import hands
from tests.ui.conftest import open_window, wait_until

SLOW = ["deepseek:slow", "anthropic:claude-sonnet-5-5", "openai:slow"]
FAST = ["deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"]
LAST = ("Quit",)  # ends the window: walked last, once


def _answers(window) -> list[str]:
    graph = window.controller.graph
    return [i for i in window.scene.card_ids() if i in graph.nodes and graph.nodes[i].is_answer]


@contextlib.contextmanager
def _captured_errors():
    """Uncaught exceptions from Qt slots (sys.excepthook) and from the asyncio loop, as they happen."""
    errors: list[str] = []
    previous = sys.excepthook

    def hook(exc_type, exc, tb):
        errors.append(f"{exc_type.__name__}: {exc}")
        previous(exc_type, exc, tb)

    loop = asyncio.get_running_loop()
    previous_handler = loop.get_exception_handler()

    def handler(loop, context):
        exc = context.get("exception")
        if not isinstance(exc, asyncio.CancelledError):
            errors.append(f"{type(exc).__name__}: {exc}" if exc else context.get("message", "?"))
        if previous_handler is not None:
            previous_handler(loop, context)

    sys.excepthook = hook
    loop.set_exception_handler(handler)
    try:
        yield errors
    finally:
        sys.excepthook = previous
        loop.set_exception_handler(previous_handler)


async def _from_the_event_loop(gesture) -> None:
    """Run `gesture` from a Qt timer, as a real click or key press arrives, not inside this test's
    asyncio task: a dialog's exec() in it runs a nested loop, and asyncio must not resume the test's
    own task from there (its wake-up would be lost and the test would hang)."""
    done: list[bool] = []

    def run() -> None:
        try:
            gesture()
        finally:
            done.append(True)

    QTimer.singleShot(0, run)
    await wait_until(lambda: done, 10, "the gesture to return")
    await asyncio.sleep(0.01)


def _fits_screen(window) -> str:
    screen = window.screen().availableGeometry()
    frame = window.frameGeometry()
    if frame.width() > screen.width() or frame.height() > screen.height():
        return f"window {frame.width()}x{frame.height()} larger than the screen {screen.width()}x{screen.height()}"
    return ""


async def _prepare(window, state: str) -> dict:
    """Put the window into `state`; returns what to restore before each action."""
    window.setGeometry(window.screen().availableGeometry().adjusted(10, 30, -10, -10))
    hands.trigger(window, "File/New session")  # each state on a session of its own
    await asyncio.sleep(0.05)
    if state == "empty":
        return {"selection": []}
    streaming = state.startswith("streaming")
    window.composer.set_models(SLOW if streaming else FAST)
    hands.send(window, "Walk every action")
    await wait_until(lambda: len(_answers(window)) == 3, 5, "three answer cards")
    graph = window.controller.graph
    if streaming:
        await wait_until(lambda: window.controller.engine.running_count >= 2, 5, "streams running")
    else:
        await wait_until(
            lambda: all(graph.nodes[i].status == NodeStatus.DONE for i in _answers(window)), 15, "answers done"
        )
    count = int(state[-1]) if state[-1].isdigit() else 0
    selection = _answers(window)[:count]
    window.scene.select_only(selection)
    return {"selection": selection}


async def _restore(window, session_id: str, saved: dict) -> None:
    if window.controller.session_id != session_id:
        window.controller.open_session(session_id)
    ids = [i for i in saved["selection"] if window.scene.card(i) is not None]
    if sorted(window.scene.selected_ids()) != sorted(ids):
        window.scene.select_only(ids)
    await asyncio.sleep(0)


async def _walk(window, state: str) -> tuple[list[str], list[str]]:
    """(problems, geometry problems) of walking every action in `state`."""
    saved = await _prepare(window, state)
    session_id = window.controller.session_id
    problems: list[str] = []
    too_big: list[str] = []
    actions = [(p, a) for p, a in hands.all_actions(window) if hands._clean(a.text()) not in LAST]
    assert len(actions) >= 30, [p for p, _ in actions]
    with _captured_errors() as errors:
        # 1) as a menu click does
        for path, action in actions:
            if not action.isEnabled():
                continue
            await _restore(window, session_id, saved)
            before = hands.visible_windows()
            n = len(errors)
            with hands.auto_dismiss():
                await _from_the_event_loop(action.trigger)
            hands.close_new_windows(before, window)
            await asyncio.sleep(0)
            problems += [f"[{state}] menu {path}: {e}" for e in errors[n:]]
            if msg := _fits_screen(window):
                too_big.append(f"[{state}] after menu {path}: {msg}")
        # 2) as keys on the widget that has the focus when a user presses them
        for path, action in actions:
            if not action.isEnabled() or not action.shortcuts():
                continue
            await _restore(window, session_id, saved)
            target = window.view
            hands.focus(target)
            keys = hands.shortcut_text(action)
            fired = [0]
            counted = {id(action)}
            action.triggered.connect(lambda *_a, f=fired: f.__setitem__(0, f[0] + 1))
            # another action bound to the same keys may take them ("?" and "Shift+?"): still handled
            for _p, other in actions:
                if id(other) not in counted and set(k.toString() for k in other.shortcuts()) & {keys}:
                    counted.add(id(other))
                    other.triggered.connect(lambda *_a, f=fired: f.__setitem__(0, f[0] + 1))
            before = hands.visible_windows()
            n = len(errors)
            with hands.auto_dismiss():
                await _from_the_event_loop(lambda t=target, k=action.shortcuts()[0]: hands.press_keys(t, k))
            hands.close_new_windows(before, window)
            await asyncio.sleep(0)
            problems += [f"[{state}] keys {keys} ({path}): {e}" for e in errors[n:]]
            if not fired:
                problems.append(f"[{state}] keys {keys} on the canvas did not trigger {path}")
            if msg := _fits_screen(window):
                too_big.append(f"[{state}] after keys {keys} ({path}): {msg}")
    return problems, too_big


STATES = ["empty", "streaming-0", "streaming-1", "finished-0", "finished-1", "finished-2"]


async def test_every_action_and_shortcut_in_every_state(app_env, fake_server):
    problems: list[str] = []
    too_big: list[str] = []
    for state in STATES:
        async with open_window() as (window, _services):
            found, big = await _walk(window, state)
            problems += found
            too_big += big
    assert not problems, "\n".join(problems)
    assert not too_big, "\n".join(too_big[:5])


async def test_quit_closes_the_window_with_streams_running(app_env, fake_server):
    async with open_window() as (window, services):
        await _prepare(window, "streaming-1")
        with _captured_errors() as errors:
            hands.trigger(window, "File/Quit")
            await wait_until(lambda: not window.isVisible(), 3, "the window closed")
        assert not errors


async def test_quit_shortcut_closes_the_window(app_env, fake_server):
    async with open_window() as (window, _services):
        hands.focus(window.composer.edit)
        hands.press_keys(window, "Ctrl+Q")
        await wait_until(lambda: not window.isVisible(), 3, "the window closed")

