"""The blind arena's rough edges a new user found (qa2 D11–D17), through the user's hands: keys 1–4 with
nothing selected, the Evaluate menu without a match, the leaderboard's ranks, empty state, win-rate
counts and exports, the cost panel's "(used)" rows, the judge's cards in view, the Send button in
blind mode, the Markdown export of an unvoted match, the reasoning row of a masked card."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from tests.ui import hands
from tests.ui.conftest import open_window, wait_until
from tests.ui.test_arena_window import _answers, _blind_pair


def _empty_point(window) -> QPoint:
    """A viewport point over empty canvas (no card, no minimap or other child widget)."""
    vp = window.view.viewport()
    for y in range(vp.height() - 20, 12, -16):
        for x in range(20, vp.width() - 20, 16):
            p = QPoint(x, y)
            if window.view._card_at(p) is None and vp.childAt(p) is None:
                return p
    raise AssertionError("no empty spot in the view")


async def test_keys_vote_on_the_open_match_the_bar_shows_with_nothing_selected(app_env, fake_server):
    async with open_window() as (window, services):
        match = await _blind_pair(window)
        assert window.arena_bar.isVisible() and "Which answer is better" in window.arena_bar.label.text()
        # a click on empty canvas: nothing selected, the canvas has the keyboard
        QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                         _empty_point(window))
        await wait_until(lambda: window.view.hasFocus(), 3, "the canvas has the keyboard")
        assert window.controller.selected_ids() == []
        hands.press_keys(window.view, "1")
        assert [(v.voter, v.vote) for v in services.repo.get_match(match.id).votes] == [("user", "a")]
        assert "You voted" in window.arena_bar.label.text()
        # the bar now shows a voted match: a stray key with nothing selected does not change the vote
        hands.press_keys(window.view, "2")
        assert [(v.voter, v.vote) for v in services.repo.get_match(match.id).votes] == [("user", "a")]
        assert "Select a card of the pair" in window.statusBar().currentMessage()


async def test_vote_and_judge_items_are_disabled_until_the_session_has_a_match(app_env, fake_server):
    async with open_window() as (window, services):
        items = [hands.find_action(window, f"Evaluate/Vote: {label}")
                 for label in ("A is better", "B is better", "Tie", "Both bad")]
        items.append(hands.find_action(window, "Evaluate/Judge this pair"))
        assert not any(a.isEnabled() for a in items)
        assert all("No blind match in this session" in a.toolTip() for a in items)
        assert all("No blind match in this session" in a.statusTip() for a in items)
        match = await _blind_pair(window)
        assert match is not None
        assert all(a.isEnabled() for a in items)
        assert not any("No blind match" in a.toolTip() for a in items)
        # a new session has no match: disabled again
        hands.trigger(window, "File/New session")
        await wait_until(lambda: window.controller.session_id != match.session_id, 3, "the new session")
        assert not any(a.isEnabled() for a in items)


async def test_a_masked_card_hides_its_reasoning_and_the_markdown_names_it_once(app_env, fake_server, tmp_path):
    from tests.fakes.server import Answer
    from tests.ui.conftest import DEFAULT_MODELS

    for ref in DEFAULT_MODELS[:2]:  # both reason: only the row's presence would tell them apart
        fake_server.script(ref.split(":", 1)[1], Answer(text=("Pears", " are best."),
                                                        reasoning=("Let me think", " about fruit.")))
    async with open_window() as (window, services):
        match = await _blind_pair(window)
        window.controller.flush_repaints()
        graph = window.controller.graph
        assert graph.nodes[match.a_node_id].reasoning  # the answers did reason
        for nid in (match.a_node_id, match.b_node_id):
            st = window.scene.card(nid)._state
            assert st.reasoning_row is None and not st.reasoning_label, "the reasoning row shows before the vote"
        path = tmp_path / "blind.md"
        window.export_to(str(path), "md")
        text = path.read_text(encoding="utf-8")
        assert "### Model A\n" in text and "### Model B\n" in text
        assert "(Model A)" not in text and "(`Model A`)" not in text and "| Model A |" in text
        assert "some unknown" not in text and "$0 " not in text and "$0 |" not in text
        assert "blind until the vote" in text
        assert "Let me think" not in text
        # the vote reveals the reasoning row
        hands.click_card(window, match.a_node_id)
        hands.focus(window.view)
        hands.press_keys(window.view, "1")
        window.controller.flush_repaints()
        assert "Reasoning" in window.scene.card(match.a_node_id)._state.reasoning_label
