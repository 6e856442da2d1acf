"""The real main window against loopback fake providers: fan-out, streaming, stop, lanes, shared, errors."""

from __future__ import annotations

import asyncio
import gc
import json
import time

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest

from app.domain import NodeStatus, SendMode
from tests.ui import hands
from tests.ui.conftest import DEFAULT_MODELS, cards_of, open_window, wait_until, whole_session_reads


def _body(req) -> str:
    return json.dumps(req.body, ensure_ascii=False)


def _node(window, node_id):
    return window.controller.graph.nodes[node_id]


def _answers(window):
    return [c for c in cards_of(window) if _node(window, c.node_id).is_answer]


async def test_fanout_three_cards_stream_and_finish(app_env, fake_server, qtbot):
    async with open_window() as (window, _services):
        # opens on a session, focus in the composer, the default model set chosen
        assert window.windowTitle().startswith("Triptych — ")
        assert window.composer.models() == DEFAULT_MODELS
        assert window.composer.edit.hasFocus() or window.focusWidget() is window.composer.edit

        # measure how responsive the Qt loop stays while three streams render
        gaps: list[float] = []
        last = [time.monotonic()]

        def tick() -> None:
            now = time.monotonic()
            gaps.append(now - last[0])
            last[0] = now

        gc.collect()  # do not measure the garbage of earlier tests
        probe = QTimer()
        probe.setInterval(10)
        probe.timeout.connect(tick)
        probe.start()

        QTest.keyClicks(window.composer.edit, "Compare fibonacci implementations")
        QTest.keyClick(window.composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        await wait_until(lambda: len(_answers(window)) == 3, 5, "three response cards")
        assert window.composer.text() == ""  # the composer is cleared after sending
        # text appears while the lanes still stream (rendered by the ~30 fps tick, not at the end)
        await wait_until(
            lambda: any(
                c.status_text == "streaming" and "Answer from" in c.body_text for c in _answers(window)
            ),
            10,
            "text arriving while streaming",
        )
        await wait_until(
            lambda: all(_node(window, c.node_id).status == NodeStatus.DONE for c in _answers(window)),
            15,
            "all three lanes done",
        )
        probe.stop()
        window.controller.flush_repaints()

        models = sorted(_node(window, c.node_id).model for c in _answers(window))
        assert models == sorted(DEFAULT_MODELS)
        for card in _answers(window):
            node = _node(window, card.node_id)
            assert card.status_text == "done"
            assert (
                f"Answer from {node.model.split(':', 1)[1]}" in card.body_text
            )  # rendered markdown, no '##'
            assert "##" not in card.body_text
            assert "def fibonacci" in card.body_text
            assert (
                "TTFT" in card.metrics_text and "tok/s" in card.metrics_text and "out " in card.metrics_text
            )
            assert card.code_copy_count() >= 1
            assert "copy" in card.button_actions() and "continue" in card.button_actions()
        # the prompt card and three reply edges
        assert len(cards_of(window, "prompt")) == 1
        assert len([k for k in window.scene.edge_keys() if k[2] == "reply"]) == 3
        # status bar shows session totals with a cost
        assert "Session: in" in window.totals_label.text() and "$" in window.totals_label.text()
        assert window.running_label.text() == ""
        # the loop never stalled for long while three streams rendered
        assert max(gaps) < 0.3, f"the UI stalled for {max(gaps):.3f}s"
        # the session got its title from the first prompt
        assert window.windowTitle() == "Triptych — Compare fibonacci implementations"


async def test_stop_one_lane_keeps_partial_text_others_finish(app_env, fake_server):
    async with open_window() as (window, services):
        window.composer.set_models(["deepseek:slow", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"])
        window.composer.set_text("Tell me a long story")
        hands.send(window)
        await wait_until(lambda: len(_answers(window)) == 3, 5)
        slow = next(c for c in _answers(window) if _node(window, c.node_id).model == "deepseek:slow")
        await wait_until(lambda: len(_node(window, slow.node_id).text) > 20, 10, "some slow text")
        assert window.running_label.text().startswith("●")
        slow.activate("stop")  # the card's Stop button
        await wait_until(lambda: _node(window, slow.node_id).status == NodeStatus.STOPPED, 5, "stopped")
        partial = _node(window, slow.node_id).text
        assert partial and len(partial) < 300
        others = [c for c in _answers(window) if c is not slow]
        await wait_until(lambda: all(_node(window, c.node_id).status == NodeStatus.DONE for c in others), 15)
        window.controller.flush_repaints()
        assert slow.status_text == "stopped"
        assert slow.body_text.strip()  # the partial text is still shown
        assert "retry" in slow.button_actions()
        stored = services.repo.get_node(slow.node_id)
        assert stored.status == NodeStatus.STOPPED and stored.text == partial
        # the session totals say that the stopped answer (no usage report) is not in the sums
        await wait_until(lambda: "1 answer without usage" in window.totals_label.text(), 5, "totals")
        assert window.totals_label.text().startswith("Session: in ")


async def test_continue_lane_sends_that_models_own_history(app_env, fake_server):
    async with open_window() as (window, services):
        c = window.controller
        window.composer.set_text("First question about sorting")
        hands.send(window)
        await wait_until(
            lambda: (
                len(_answers(window)) == 3
                and all(_node(window, x.node_id).status == NodeStatus.DONE for x in _answers(window))
            ),
            15,
        )
        claude = next(x for x in _answers(window) if _node(window, x.node_id).model.startswith("anthropic"))
        claude.activate("continue")  # "Continue this lane"
        assert c.follow_ids() == [claude.node_id]
        assert window.composer.mode() == SendMode.LANES
        assert window.composer.parents_bar.isVisibleTo(window)
        before = len(fake_server.requests)
        old_ids = {x.node_id for x in _answers(window)}
        window.composer.set_text("Now explain the second step")
        # the send plans on the window's own cards: it does not read the whole session again (~70 ms
        # of the GUI thread per send on a 10,000-card session)
        assert whole_session_reads(services.repo, window._on_composer_send_requested) == []
        await wait_until(lambda: len(_answers(window)) == 4, 5)
        new = [x for x in _answers(window) if x.node_id not in old_ids]
        await wait_until(
            lambda: all(_node(window, x.node_id).status == NodeStatus.DONE for x in _answers(window)), 15
        )
        assert len(new) == 1 and _node(window, new[0].node_id).model == "anthropic:claude-sonnet-5-5"
        sent = [r for r in fake_server.requests[before:] if r.fmt != "models"]
        assert len(sent) == 1
        body = _body(sent[0])
        assert "First question about sorting" in body and "Now explain the second step" in body
        assert "Answer from claude-sonnet-5-5" in body  # its own previous answer
        assert "Answer from deepseek-flash" not in body and "Answer from gpt-6.2-sol" not in body
        # the follow-up hangs under Claude's card: a follow edge then a reply edge
        assert any(k[0] == claude.node_id and k[2] == "follow" for k in window.scene.edge_keys())


async def test_shared_mode_gives_every_model_the_chosen_answer(app_env, fake_server):
    async with open_window() as (window, _services):
        window.composer.set_text("Which database should I use?")
        hands.send(window)
        await wait_until(
            lambda: (
                len(_answers(window)) == 3
                and all(_node(window, x.node_id).status == NodeStatus.DONE for x in _answers(window))
            ),
            15,
        )
        gpt = next(x for x in _answers(window) if _node(window, x.node_id).model.startswith("openai"))
        gpt.activate("shared")  # "Use as shared context"
        assert window.composer.mode() == SendMode.SHARED
        before = len(fake_server.requests)
        window.composer.set_text("Critique this recommendation")
        hands.send(window)
        await wait_until(lambda: len(_answers(window)) == 6, 5)
        await wait_until(
            lambda: all(_node(window, x.node_id).status == NodeStatus.DONE for x in _answers(window)), 15
        )
        sent = [r for r in fake_server.requests[before:] if r.fmt != "models"]
        assert sorted(r.model for r in sent) == sorted(m.split(":", 1)[1] for m in DEFAULT_MODELS)
        for req in sent:
            body = _body(req)
            assert "Answer from gpt-6.2-sol" in body, req
            assert "Critique this recommendation" in body
        # one prompt, following the chosen answer
        prompts = cards_of(window, "prompt")
        assert len(prompts) == 2


async def test_auth_error_card_offers_open_settings(app_env, fake_server):
    async with open_window() as (window, _services):
        window.composer.set_models(["openai:fail-401", "deepseek:deepseek-flash"])
        window.composer.set_text("Hello?")
        hands.send(window)
        await wait_until(lambda: len(_answers(window)) == 2, 5)
        bad = next(x for x in _answers(window) if _node(window, x.node_id).model == "openai:fail-401")
        await wait_until(lambda: _node(window, bad.node_id).status == NodeStatus.ERROR, 10, "error status")
        window.controller.flush_repaints()
        assert bad.status_text == "error"
        assert "open_settings" in bad.button_actions() and "retry" in bad.button_actions()
        assert _node(window, bad.node_id).error.kind == "auth"
        bad.activate("open_settings")
        await asyncio.sleep(0.05)
        from ui.settings_dialog import SettingsDialog

        dialogs = [w for w in window.findChildren(SettingsDialog) if w.isVisible()]
        assert dialogs and dialogs[0].current_provider() == "openai"
        assert "••••" in dialogs[0].key_label.text() and "sk-fake" not in dialogs[0].key_label.text()
        dialogs[0].reject()
        # the other lane was not touched
        good = next(x for x in _answers(window) if x is not bad)
        await wait_until(lambda: _node(window, good.node_id).status == NodeStatus.DONE, 10)


async def test_retry_countdown_then_success(app_env, fake_server):
    async with open_window() as (window, _services):
        window.composer.set_models(["deepseek:flaky-529"])
        window.composer.set_text("Try again please")
        hands.send(window)
        await wait_until(lambda: len(_answers(window)) == 1, 5)
        card = _answers(window)[0]
        await wait_until(lambda: card.status_text.startswith("retry 1/"), 10, "retry countdown on the card")
        assert _node(window, card.node_id).status.is_live
        await wait_until(
            lambda: _node(window, card.node_id).status == NodeStatus.DONE, 15, "done after retry"
        )
        window.controller.flush_repaints()
        assert card.status_text == "done" and "Answer from" in card.body_text


async def test_card_follows_the_stream_to_its_very_end(app_env, fake_server):
    """A streaming card follows its text to the end, also when the last text arrives with the
    final status (one repaint brings both: here the whole answer comes within one frame)."""
    from tests.fakes.server import Answer

    lines = tuple(f"Line {i} of an answer much longer than its card.\n\n" for i in range(60))
    fake_server.script("deepseek-flash", Answer(text=lines))
    async with open_window() as (window, _services):
        window.composer.set_models(["deepseek:deepseek-flash"])
        window.composer.set_text("A long answer please")
        window.composer.send_button.click()
        await wait_until(lambda: _answers(window), 5, "the answer card")
        card = _answers(window)[0]
        await wait_until(lambda: card.status_text == "done", 10, "the card says done")
        assert card.can_scroll()  # longer than its body
        at = card.body_scroll()
        card.scroll_by(10_000)  # a wheel turn down: nothing left below
        assert card.body_scroll() == at > 0


async def test_stop_beside_the_streaming_count_stops_them_and_the_composer_row_keeps_its_layout(app_env, fake_server):
    """Stop is in the status bar beside "● N streaming" while answers stream (in the composer's row it took
    the model chips' room and wrapped them onto a second line: the typed prompt's box moved under the mouse)."""
    from tests.fakes.server import Answer

    for model in ("deepseek-flash", "claude-sonnet-5-5", "gpt-6.2-sol"):
        fake_server.script(model, Answer(text=tuple(f"word {i} " for i in range(400)), delay=0.03))
    async with open_window() as (window, _services):
        window.resize(1250, 800)
        await asyncio.sleep(0.05)
        composer = window.composer
        edit_top, presets_top = composer.edit.geometry().top(), composer.presets_button.geometry().top()
        assert not window.stop_button.isVisible()
        QTest.keyClicks(composer.edit, "Compare fibonacci implementations")
        QTest.keyClick(composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        await wait_until(lambda: window.stop_button.isVisible(), 5, "Stop beside the streaming count")
        assert "3 streaming" in window.running_label.text()
        assert (composer.edit.geometry().top(), composer.presets_button.geometry().top()) == (edit_top, presets_top)
        QTest.mouseClick(window.stop_button, Qt.MouseButton.LeftButton)  # at once: nothing has arrived yet
        await wait_until(lambda: all(_node(window, c.node_id).status == NodeStatus.STOPPED for c in _answers(window)),
                         5, "every answer stopped (they stayed 'queued' for good when stopped before starting)")
        await wait_until(lambda: not window.stop_button.isVisible(), 3, "Stop gone once nothing streams")
        assert window.running_label.text() == ""
