"""Invariants under random input: ~300 seeded random gestures (clicks, Ctrl-clicks, double-clicks,
drags on cards and on empty canvas, wheel turns, right-clicks, keys) on a session whose fan-out is
still streaming. After each gesture:

- no card moved unless that move is on the undo stack (the top command is the move, to that place);
- the scene's card positions equal the session's (the controller's graph), and at the end the store's;
- the window is no larger than its screen (reported separately: see test_action_walk);
- no uncaught exception and no Qt warning.

The seed is TRIPTYCH_GESTURE_SEED, else a fixed one and then a fresh random one; it is printed, and
named in every failure, so a failing run can be replayed.
"""

from __future__ import annotations

import asyncio
import os
import random

import pytest
from PySide6.QtCore import QPoint

from app.domain import NodeKind
from tests.ui import hands
from tests.ui.conftest import open_window, wait_until
from tests.ui.test_action_walk import SLOW, _captured_errors, _fits_screen, _from_the_event_loop
from ui.commands import MoveNodesCommand

GESTURES = 300
# Fixed seeds in the test command (a red run must be replayable and CI must not depend on luck);
# TRIPTYCH_GESTURE_SEED=N replays one, TRIPTYCH_GESTURE_SEED=random explores a fresh one.
_SEED_ENV = os.environ.get("TRIPTYCH_GESTURE_SEED", "")
SEEDS = (
    [random.SystemRandom().randrange(1, 10**9)] if _SEED_ENV == "random"
    else [int(_SEED_ENV)] if _SEED_ENV
    else [1203, 82145143]
)


def _positions(window) -> dict[str, tuple[float, float]]:
    return {c.node_id: (c.pos().x(), c.pos().y()) for c in window.scene.cards()}


def _top_move(window) -> MoveNodesCommand | None:
    stack = window.undo_stack
    cmd = stack.command(stack.index() - 1) if stack.index() > 0 else None
    return cmd if isinstance(cmd, MoveNodesCommand) else None


def _aimed(gesture) -> None:
    """Run `gesture`; one that finds no visible point to aim at (a card hidden under others) is not made."""
    try:
        gesture()
    except hands.NotVisible:
        pass


def _gesture(rng: random.Random, window) -> tuple[str, object]:
    """A random gesture as (description, callable)."""
    ids = [c.node_id for c in window.scene.cards()]
    view = window.view
    vp = view.viewport()
    kind = rng.choices(
        ["click", "ctrl_click", "body_click", "double", "drag_card", "drag_empty", "wheel", "keys",
         "right_click", "click_empty"],
        weights=[14, 6, 6, 3, 18, 10, 12, 20, 3, 8],
    )[0]
    if ids and kind in ("click", "ctrl_click", "body_click", "double", "drag_card", "right_click"):
        node_id = rng.choice(ids)
        if kind == "click":
            return f"click header of {node_id}", lambda: hands.click_card(window, node_id)
        if kind == "ctrl_click":
            mods = hands.Qt.KeyboardModifier.ControlModifier
            return f"ctrl-click {node_id}", lambda: hands.click_card(window, node_id, mods=mods)
        if kind == "body_click":
            return f"click body of {node_id}", lambda: hands.click_card(window, node_id, where="body")
        if kind == "double":
            return f"double-click {node_id}", lambda: hands.double_click_card(window, node_id)
        if kind == "right_click":
            return f"right-click {node_id}", lambda: hands.context_menu(
                vp, hands.card_screen_pos(window, node_id)
            )
        dx, dy = rng.randint(-200, 200), rng.randint(-150, 150)
        return f"drag {node_id} by {dx},{dy}", lambda: hands.drag_card(window, node_id, dx, dy)
    x, y = rng.randint(5, vp.width() - 5), rng.randint(5, vp.height() - 5)
    if kind == "wheel":
        clicks = rng.choice([-2, -1, 1, 2])
        return f"wheel {clicks} at {x},{y}", lambda: hands.wheel(window, QPoint(x, y), clicks)
    if kind in ("drag_empty", "click_empty"):

        def on_empty() -> None:
            try:
                start = hands.empty_point(window)
            except AssertionError:  # cards fill the view: zoom out as a user would
                hands.focus(view)
                hands.press_keys(view, "Ctrl+0")
                return
            if kind == "click_empty":
                hands.click_widget(vp, start)
            else:
                hands.drag(window, start, start + QPoint(dx, dy))

        dx, dy = rng.randint(-150, 150), rng.randint(-150, 150)
        return f"{kind} by {dx},{dy}", on_empty
    keys = rng.choice(["Left", "Right", "Up", "Down", "Ctrl+0", "Ctrl+=", "Ctrl+-", "C", "Esc", "F",
                       "Ctrl+A", "Space"])
    return f"keys {keys} on the canvas", lambda: (hands.focus(view), hands.press_keys(view, keys))


@pytest.mark.parametrize("seed", SEEDS)
async def test_random_gestures_keep_cards_where_the_undo_stack_says(app_env, fake_server, seed):
    print(f"gesture seed: {seed} (replay: TRIPTYCH_GESTURE_SEED={seed})")
    rng = random.Random(seed)
    async with open_window() as (window, services):
        window.setGeometry(window.screen().availableGeometry().adjusted(10, 30, -10, -10))
        window.composer.set_models(SLOW)
        hands.send(window, "Gestures on a streaming fan-out")
        await wait_until(lambda: len(window.scene.cards()) == 4, 5, "the prompt and three answers")
        problems: list[str] = []
        too_big: list[str] = []
        history: list[str] = []
        with _captured_errors() as errors:
            for step in range(GESTURES):
                before = _positions(window)
                top_before = _top_move(window)
                count_before = window.undo_stack.count()
                what, gesture = _gesture(rng, window)
                history.append(f"step {step}: {what}")
                opened = hands.visible_windows()
                n = len(errors)
                with hands.auto_dismiss():
                    await _from_the_event_loop(lambda g=gesture: _aimed(g))
                hands.close_new_windows(opened, window)
                await asyncio.sleep(0)
                where = f"seed {seed}, step {step}: {what}"
                # (A card may still hold a grab its release never reached, as after a menu took it: the view
                # drops such a grab at the next mouse event. What counts is that no card moves by it.)
                problems += [f"{where}: {e}" for e in errors[n:]]
                after = _positions(window)
                moved = {
                    i: p for i, p in after.items()
                    if i in before and (abs(p[0] - before[i][0]) > 0.5 or abs(p[1] - before[i][1]) > 0.5)
                }
                if moved:
                    top = _top_move(window)
                    pushed = top is not None and (top is not top_before or window.undo_stack.count() != count_before
                                                  or set(moved) <= set(top._new))
                    if not pushed or any(
                        abs(top._new[i][0] - p[0]) > 0.5 or abs(top._new[i][1] - p[1]) > 0.5
                        for i, p in moved.items() if i in top._new
                    ) or not set(moved) <= set(top._new):
                        problems.append(f"{where}: cards moved without an undoable move: {sorted(moved)}")
                graph = window.controller.graph
                for i, (x, y) in after.items():
                    node = graph.nodes.get(i) if graph else None
                    if node is not None and (abs(node.x - x) > 0.5 or abs(node.y - y) > 0.5):
                        problems.append(f"{where}: card {i} shows at {x:.0f},{y:.0f}, the session says "
                                        f"{node.x:.0f},{node.y:.0f}")
                if msg := _fits_screen(window):
                    too_big.append(f"{where}: {msg}")
                if problems and len(problems) == len(set(problems)) and not problems[0].endswith("(gestures before)"):
                    problems.insert(0, "the gestures before: " + "; ".join(history[-8:]) + " (gestures before)")
                if len(problems) > 10:
                    break
        # the store has what the window shows
        await wait_until(lambda: window.controller.engine.running_count == 0, 20, "streams ended")
        stored = services.repo.load_graph(window.controller.session_id)
        for i, (x, y) in _positions(window).items():
            node = stored.nodes.get(i)
            if node is not None and node.kind != NodeKind.NOTE and (abs(node.x - x) > 0.5 or abs(node.y - y) > 0.5):
                problems.append(f"seed {seed}, at the end: card {i} at {x:.0f},{y:.0f}, stored at {node.x:.0f},{node.y:.0f}")
        assert not problems, "\n".join(problems[:12])
        assert not too_big, "\n".join(too_big[:5])
