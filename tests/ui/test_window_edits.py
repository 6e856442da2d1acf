"""Structure edits on the real window: synthesis, undo/redo of moves and deletes, sessions, restart."""

from __future__ import annotations

import asyncio
import json

from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent

from app.domain import Edge, EdgeRole, Node, NodeKind, NodeStatus, Session
from storage import open_store
from tests.ui import hands
from tests.ui.conftest import cards_of, open_window, send_mouse, streaming_answer, wait_until


def _node(window, node_id):
    return window.controller.graph.nodes[node_id]


def _answers(window):
    return [c for c in cards_of(window) if _node(window, c.node_id).is_answer]


async def _fanout(window, text="What is a monad?"):
    window.composer.set_text(text)
    ids = window.controller.send(window.composer.text(), window.composer.targets(), window.composer.mode())
    await wait_until(
        lambda: all(not _node(window, i).status.is_live for i in ids if _node(window, i).is_answer),
        15,
        "fan-out done",
    )
    window.controller.flush_repaints()
    return ids


def _mouse(view, kind, pos: QPoint, button=Qt.MouseButton.LeftButton, buttons=None):
    send_mouse(view.viewport(), kind, pos, button, buttons)


def _drag(view, start: QPoint, end: QPoint) -> None:
    """A real left-button drag through the view's viewport (press, moves, release)."""
    _mouse(view, QMouseEvent.Type.MouseButtonPress, start)
    steps = 6
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        _mouse(view, QMouseEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, Qt.MouseButton.LeftButton)
    _mouse(view, QMouseEvent.Type.MouseButtonRelease, end, Qt.MouseButton.LeftButton, Qt.MouseButton.NoButton)


async def test_synthesis_of_three_answers(app_env, fake_server, monkeypatch):
    async with open_window() as (window, services):
        await _fanout(window)
        answers = [c.node_id for c in _answers(window)]
        window.scene.select_only(answers)
        asked = {}

        def fake_options(catalog, settings, count):
            asked["count"] = count
            return ("judge", "anthropic:claude-sonnet-5-5", None)

        monkeypatch.setattr(window.dialogs, "synthesize_options", fake_options)
        before = len(fake_server.requests)
        synth_id = window.controller.synthesize()
        assert asked["count"] == 3 and synth_id
        await wait_until(lambda: _node(window, synth_id).status == NodeStatus.DONE, 15, "synthesis done")
        node = _node(window, synth_id)
        assert node.kind == NodeKind.SYNTHESIS and node.model == "anthropic:claude-sonnet-5-5"
        body = json.dumps(fake_server.requests[before].body, ensure_ascii=False)
        for model in ("deepseek-flash", "claude-sonnet-5-5", "gpt-6.2-sol"):
            assert f"Answer from {model}" in body
        sources = [k for k in window.scene.edge_keys() if k[1] == synth_id and k[2] == "source"]
        assert len(sources) == 3
        # synthesis is an undoable structure edit
        assert window.undo_stack.undoText().startswith("Synthesize")
        window.undo_stack.undo()
        assert window.scene.card(synth_id) is None and services.repo.get_node(synth_id) is None
        window.undo_stack.redo()
        assert window.scene.card(synth_id) is not None and services.repo.get_node(synth_id) is not None


async def test_undo_redo_move_and_delete(app_env, fake_server):
    async with open_window() as (window, services):
        await _fanout(window)
        view = window.view
        view.set_viewport(700, 400, 0.6)
        card = _answers(window)[0]
        node_id = card.node_id
        x0, y0 = card.pos().x(), card.pos().y()
        # drag the card by its header
        start = view.mapFromScene(card.mapToScene(QPointF(card.card_width / 2, 16)))
        _drag(view, start, start + QPoint(90, 60))
        await asyncio.sleep(0)
        x1, y1 = card.pos().x(), card.pos().y()
        assert (x1, y1) != (x0, y0)
        stored = services.repo.get_node(node_id)
        assert (stored.x, stored.y) == (x1, y1)  # committed on release
        assert window.undo_stack.undoText() == "Move card"
        window.undo_stack.undo()
        assert (card.pos().x(), card.pos().y()) == (x0, y0)
        assert (services.repo.get_node(node_id).x, services.repo.get_node(node_id).y) == (x0, y0)
        window.undo_stack.redo()
        assert (card.pos().x(), card.pos().y()) == (x1, y1)

        # delete with the Delete key on the canvas, then undo / redo
        text = _node(window, node_id).text
        edges_before = len(window.scene.edge_keys())
        window.scene.select_only([node_id])
        view.setFocus()
        window.controller.delete()
        assert window.scene.card(node_id) is None and services.repo.get_node(node_id) is None
        assert len(window.scene.edge_keys()) == edges_before - 1
        window.undo_stack.undo()
        restored = window.scene.card(node_id)
        assert restored is not None and services.repo.get_node(node_id).text == text
        assert len(window.scene.edge_keys()) == edges_before
        window.undo_stack.redo()
        assert window.scene.card(node_id) is None
        # collapse a card to its header (persisted), and back with undo
        other = _answers(window)[0]
        tall = other.card_height
        window.controller.toggle_collapse([other.node_id])
        assert other.card_height < 120 < tall and services.repo.get_node(other.node_id).collapsed
        window.undo_stack.undo()
        assert other.card_height == tall and not services.repo.get_node(other.node_id).collapsed
        window.undo_stack.redo()
        window.undo_stack.undo()
        # streamed tokens never became undo commands: send, move, delete, collapse only
        texts = [window.undo_stack.text(i) for i in range(window.undo_stack.count())]
        assert texts == ["Send", "Move card", "Delete card", "Collapse"]


async def test_restart_restores_cards_positions_viewport(app_env, fake_server):
    async with open_window() as (window, services):
        await _fanout(window, "Persist me")
        session_id = window.controller.session_id
        card = _answers(window)[1]
        window.controller.move_nodes({card.node_id: (1234.0, 777.0)})
        window.view.set_viewport(321.0, 456.0, 0.5)
        positions = {c.node_id: (c.pos().x(), c.pos().y()) for c in window.scene.cards()}
        texts = {c.node_id: c.body_text for c in window.scene.cards()}
        window.main_split.setSizes([300, 1100])
    # closed: viewport flushed, window state saved; now a new window on the same data dir
    async with open_window() as (window, services):
        assert window.controller.session_id == session_id
        assert window.windowTitle() == "Triptych — Persist me"
        assert {c.node_id: (c.pos().x(), c.pos().y()) for c in window.scene.cards()} == positions
        window.controller.flush_repaints()
        assert {c.node_id: c.body_text for c in window.scene.cards()} == texts
        center = window.view.center()
        assert abs(center.x() - 321.0) * 0.5 <= 1 and abs(center.y() - 456.0) * 0.5 <= 1  # within a pixel
        assert abs(window.view.zoom() - 0.5) < 1e-6
        assert window.main_split.sizes()[0] == 300
        assert len(window.scene.edge_keys()) == 3


async def test_stream_cut_by_a_crash_shows_interrupted_with_retry(app_env, fake_server):
    # a previous process died mid-stream: the store still says "streaming", its owner is gone
    repo = open_store(app_env)
    session = repo.create_session(Session(title="Crashed"))
    prompt = Node(session.id, NodeKind.PROMPT, "A long question")
    resp = streaming_answer(session.id, "Partial text before the crash", 999_999_999, heartbeat=0.0)
    repo.add_nodes([prompt, resp], [Edge(prompt.id, resp.id, EdgeRole.REPLY, 0, session.id)])
    repo.close()
    async with open_window() as (window, services):
        assert window.controller.session_id == session.id
        card = window.scene.card(resp.id)
        assert _node(window, resp.id).status == NodeStatus.INTERRUPTED
        assert card.status_text == "interrupted"
        assert "Partial text before the crash" in card.body_text
        assert "retry" in card.button_actions()
        card.activate("retry")
        await wait_until(lambda: len(_answers(window)) == 2, 5)
        again = next(c for c in _answers(window) if c.node_id != resp.id)
        await wait_until(lambda: _node(window, again.node_id).status == NodeStatus.DONE, 10)
        assert services.repo.get_node(resp.id).text == "Partial text before the crash"  # the old one is kept


async def test_sessions_sidebar_search_rename_delete_undo(app_env, fake_server, monkeypatch):
    async with open_window() as (window, services):
        c = window.controller
        await _fanout(window, "Explain quantum tunnelling")
        first = c.session_id
        hands.press_keys(window, "Ctrl+N")
        second = c.session_id
        assert second != first
        assert window.sidebar.list.count() == 2
        assert window.sidebar.list.item(0).data(Qt.ItemDataRole.UserRole) == second  # recent first
        # full-text search over all sessions
        window.sidebar.search_edit.setText("tunnelling")
        await wait_until(lambda: window.sidebar.showing_hits() and window.sidebar.list.count() > 0, 3, "hits")
        assert "tunnelling" in window.sidebar.list.item(0).text().lower()
        item = window.sidebar.list.item(0)
        hands.click_list_item(window.sidebar.list, item)
        assert c.session_id == first
        window.sidebar.search_edit.clear()
        await wait_until(lambda: window.sidebar.list.count() == 2, 3)
        # rename (undoable)
        monkeypatch.setattr(window.dialogs, "ask_text", lambda *a, **k: "Physics")
        row = next(
            window.sidebar.list.item(i)
            for i in range(window.sidebar.list.count())
            if window.sidebar.list.item(i).data(Qt.ItemDataRole.UserRole) == first
        )
        with hands.choosing("Rename") as items:
            hands.context_menu(window.sidebar.list.viewport(), window.sidebar.list.visualItemRect(row).center())
        assert items[:2] == ["Open", "Rename…"]
        assert window.windowTitle() == "Triptych — Physics"
        window.undo_stack.undo()
        assert window.windowTitle() == "Triptych — Explain quantum tunnelling"
        window.undo_stack.redo()
        # delete with undo (through the sidebar's menu and Ctrl+Z)
        row = next(
            window.sidebar.list.item(i)
            for i in range(window.sidebar.list.count())
            if window.sidebar.list.item(i).data(Qt.ItemDataRole.UserRole) == first
        )
        with hands.choosing("Delete"):
            hands.context_menu(window.sidebar.list.viewport(), window.sidebar.list.visualItemRect(row).center())
        assert c.session_id != first and services.repo.get_session(first).deleted
        assert "Ctrl+Z brings it back" in window.statusBar().currentMessage()
        hands.press_keys(window.view, "Ctrl+Z")
        assert c.session_id == first and not services.repo.get_session(first).deleted
        assert "Restored" in window.statusBar().currentMessage()  # not the stale "Ctrl+Z brings it back"
        assert len(window.scene.cards()) == 4
        # duplicate
        c.duplicate_session(first)
        assert c.session_id not in (first, second) and len(window.scene.cards()) == 4


async def test_rerun_the_whole_lane_on_another_model_and_undo_it(app_env, fake_server, monkeypatch):
    from app.engine import Target

    async with open_window() as (window, services):
        c = window.controller
        run = services.engine.ask(c.session_id, "First question?", [Target("deepseek:deepseek-flash")]).runs[0]
        await services.engine.wait([run])
        run = services.engine.ask(c.session_id, "Second question?", [Target("deepseek:deepseek-flash")],
                                  parents=[run.node.id]).runs[0]
        await services.engine.wait([run])
        last = run.node.id
        await wait_until(lambda: last in c.graph.nodes and not _node(window, last).status.is_live, 10, "lane")
        before_cards = {card.node_id for card in cards_of(window)}
        window.scene.select_only([last])
        monkeypatch.setattr(window.dialogs, "pick_model", lambda *a, **k: "anthropic:claude-sonnet-5-5")
        from tests.ui import hands

        hands.trigger(window, "Cards/Re-run the whole lane on another model")

        def claude_answers():
            return [n for n in c.graph.nodes.values() if n.model == "anthropic:claude-sonnet-5-5"]

        await wait_until(lambda: len(claude_answers()) == 2 and all(n.status == NodeStatus.DONE
                                                                     for n in claude_answers()), 20, "replay")
        new_cards = {card.node_id for card in cards_of(window)} - before_cards
        kinds = sorted(_node(window, i).kind.value for i in new_cards)
        assert kinds == ["prompt", "response", "response"]  # Claude's first answer, the copied prompt, its answer
        # the sidebar counts every card of the replay, the later turns too
        rows = [window.sidebar.list.item(i).text() for i in range(window.sidebar.list.count())]
        assert any(f"· {len(c.graph.nodes)} cards" in r for r in rows), (rows, len(c.graph.nodes))
        (copied,) = [i for i in new_cards if _node(window, i).kind == NodeKind.PROMPT]
        assert _node(window, copied).text == "Second question?"
        # Claude's second call carried Claude's own first answer, not DeepSeek's
        body = [r.body for r in fake_server.requests if "claude" in json.dumps(r.body.get("model", ""))][-1]
        sent = json.dumps(body["messages"], ensure_ascii=False)
        assert "First question?" in sent and "Second question?" in sent
        assert "claude-sonnet-5-5" in sent and "deepseek-flash" not in sent
        # one undo step removes the whole replay
        assert window.undo_stack.undoText() == "Re-run lane on Claude Sonnet 5.5"
        window.undo_stack.undo()
        assert {card.node_id for card in cards_of(window)} == before_cards
        assert all(services.repo.get_node(i) is None for i in new_cards)


async def test_after_a_crash_the_app_reopens_the_session_in_use(app_env, fake_server):
    """The open session is remembered when it changes, not only at a clean close: a window killed
    after the user moved to another session reopens that one."""
    from tests.ui import hands

    async with open_window() as (window, services):
        await _fanout(window, "First session")
        first = window.controller.session_id
        hands.trigger(window, "File/New session")
        await _fanout(window, "Second session")
        second = window.controller.session_id
        assert second != first
        row = next(
            window.sidebar.list.item(i) for i in range(window.sidebar.list.count())
            if window.sidebar.list.item(i).text().startswith("First session")
        )
        hands.click_list_item(window.sidebar.list, row)  # back to the first
        assert window.controller.session_id == first
        # a crash: no closeEvent, nothing saved at exit; a new process reads config.toml
        from app.config import load_settings

        assert load_settings().ui.get("last_session") == first
        window.hide()  # (the fixture's close must not save it either: it already is)


async def test_looking_at_a_session_does_not_make_it_the_newest(app_env, fake_server):
    """Opening an older session and panning it saved its viewport as a change: it jumped to the top of
    the sidebar as "just now". Only what changes the session (cards, title) moves it."""
    import asyncio

    from tests.ui.hands import click_list_item, press_keys, send, wheel

    async with open_window() as (window, services):
        send(window, "The older session")
        await wait_until(lambda: window.controller.graph.nodes, 5, "its cards")
        older = window.controller.session_id
        await asyncio.sleep(0.05)
        press_keys(window, "Ctrl+N")
        send(window, "The newer session")
        await wait_until(lambda: window.controller.graph.nodes, 5, "its cards")
        newer = window.controller.session_id
        await wait_until(lambda: all(not n.status.is_live for n in window.controller.graph.nodes.values()), 15)
        assert [s.id for s in services.repo.list_sessions()][:2] == [newer, older]
        lst = window.sidebar.list
        item = next(lst.item(i) for i in range(lst.count()) if older in str(lst.item(i).data(Qt.ItemDataRole.UserRole)))
        click_list_item(lst, item)
        await wait_until(lambda: window.controller.session_id == older, 5, "the older session shown")
        before = window.view.visible_scene_rect()
        wheel(window, window.view.viewport().rect().center(), -3)  # look around (the wheel scrolls)
        assert window.view.visible_scene_rect() != before
        window.controller.flush_viewport()
        assert [s.id for s in services.repo.list_sessions()][:2] == [newer, older]
        assert services.repo.get_session(older).viewport == window.controller.session.viewport  # still saved
