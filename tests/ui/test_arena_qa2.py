"""The blind arena's rough edges a new user found (qa2 D11–D17), through the user's hands: keys 1–4 with
nothing selected, the Evaluate menu without a match, the leaderboard's ranks, empty state, win-rate
counts and exports, the cost panel's "(used)" rows, the judge's cards in view, the Send button in
blind mode, the Markdown export of an unvoted match, the reasoning row of a masked card."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from app.present.money import fmt_cost
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


def _voted_matches(repo, results):
    """One session of matches with the user's votes: `results` is [(model a, model b, vote, tags)]."""
    from app.arena import Match, Vote
    from app.domain import Edge, EdgeRole, Node, NodeKind, Session

    s = repo.create_session(Session(title="Arena"))
    for i, (ma, mb, vote, tags) in enumerate(results):
        p = Node(s.id, NodeKind.PROMPT, f"Question {i}", y=400 * i)
        a = Node(s.id, NodeKind.RESPONSE, "One.", model=ma, y=400 * i + 200)
        b = Node(s.id, NodeKind.RESPONSE, "Two.", model=mb, x=480, y=400 * i + 200)
        repo.add_nodes([p, a, b], [Edge(p.id, a.id, EdgeRole.REPLY), Edge(p.id, b.id, EdgeRole.REPLY)])
        match = Match(s.id, p.id, a.id, b.id, ma, mb, tags=list(tags))
        repo.add_match(match)
        repo.record_vote(Vote(match.id, "user", vote))
    return s


async def test_leaderboard_shares_tied_ranks_counts_games_and_exports_its_filters(app_env, fake_server, tmp_path,
                                                                                  monkeypatch):
    import csv
    import io

    from tests.ui.conftest import DEFAULT_MODELS

    x, y, z = DEFAULT_MODELS
    async with open_window() as (window, services):
        # x and y each beat z, and tie with each other: x and y have the same rating
        _voted_matches(services.repo, [(x, z, "a", ["coding"]), (z, y, "b", ["coding"]), (x, y, "tie", ["coding"])])
        exports = tmp_path / "exports"
        exports.mkdir()
        window.settings.ui["export_dir"] = str(exports)  # where File → Export session… saved last
        hands.trigger(window, "Evaluate/Leaderboard")
        board = window.arena.leaderboard_dialog
        table = board.table
        rows = [[table.item(r, c).text() for c in range(table.columnCount())] for r in range(table.rowCount())]
        assert [r[0] for r in rows] == ["1", "1", "3"], rows
        assert rows[0][2] == rows[1][2]
        assert z in rows[2][1]
        # the win-rate tab: the rate and the games behind it
        names = [board.matrix.horizontalHeaderItem(c).text() for c in range(board.matrix.columnCount())]
        cat = window.catalog
        xi, yi = names.index(cat.display_name(x)), names.index(cat.display_name(y))
        assert board.matrix.item(xi, yi).text() == "50% (1)"
        # filters that hide every vote: the empty state says so
        board.tag_combo.setCurrentIndex(board.tag_combo.findText("coding"))
        board.voter_combo.setCurrentIndex(board.voter_combo.findText("Judge votes"))
        assert board.table.rowCount() == 0
        assert "No votes match these filters" in board.note.text()
        assert "turn on Blind match" not in board.note.text()
        board.voter_combo.setCurrentIndex(board.voter_combo.findText("All votes"))
        # Export CSV…: the dialog opens where Export session… does; the file records the filters and the matrix
        asked = []

        def save_name(parent, title, start, filt):
            asked.append(start)
            return str(exports / "lb.csv"), filt

        monkeypatch.setattr("ui.leaderboard.QFileDialog.getSaveFileName", save_name)
        QTest.mouseClick(board.csv_button, Qt.MouseButton.LeftButton)
        assert asked and asked[0].startswith(str(exports))
        text = (exports / "lb.csv").read_text(encoding="utf-8")
        sections = [list(csv.reader(io.StringIO(part))) for part in text.split("\n\n")]
        assert sections[0][0][:2] == ["rank", "model"] and [r[0] for r in sections[0][1:]] == ["1", "1", "3"]
        assert any(sec[0][0].startswith("win_rate") for sec in sections)
        assert ["tag", "coding"] in sections[-1] and ["voter", "All votes"] in sections[-1]
        monkeypatch.setattr("ui.leaderboard.QFileDialog.getSaveFileName",
                            lambda *a: (str(exports / "lb.md"), a[-1]))
        QTest.mouseClick(board.md_button, Qt.MouseButton.LeftButton)
        md = (exports / "lb.md").read_text(encoding="utf-8")
        assert "tag: coding" in md and "voter: All votes" in md and "50% (1)" in md
        board.close()


async def test_cost_on_other_models_shows_what_was_spent_and_counts_the_judge_apart(app_env, fake_server,
                                                                                   monkeypatch):
    from PySide6.QtWidgets import QApplication

    from tests.fakes.server import Answer

    judge = "openai:gpt-6-luna"
    fake_server.script(judge.split(":", 1)[1], Answer(text=("Fine. ", "VERDICT: A")))
    async with open_window() as (window, services):
        match = await _blind_pair(window)
        # before the vote, the panel beside the comparison table: its title, scope and message sit together
        hands.click_card(window, match.a_node_id)
        hands.trigger(window, "Cards/Comparison table")
        table = next(w for w in QApplication.topLevelWidgets() if w.isVisible() and hasattr(w, "cost_panel"))
        panel = table.cost_panel
        assert "Hidden until you vote" in panel.actual_label.text()
        heading, scope, label = panel.heading.geometry(), panel.scope.geometry(), panel.actual_label.geometry()
        # (a label centres its text in its box: a tall box is a gap on the screen)
        assert scope.top() - heading.top() < 40 and heading.height() < 30, (heading, scope)
        assert label.top() - scope.bottom() < 16 and label.height() < 80, (scope, label)
        table.close()
        # the vote, then a judge: two answers of the pair, two of the judge
        hands.focus(window.view)
        hands.press_keys(window.view, "1")
        monkeypatch.setattr(window.dialogs, "pick_judge", lambda *a, **k: (judge, ""))
        hands.trigger(window, "Evaluate/Judge this pair")
        await wait_until(lambda: not window.arena.judging and window.arena._judge_task is None, 15, "the judge")
        graph = window.controller.graph
        await wait_until(lambda: not any(n.status.is_live for n in graph.nodes.values()), 5, "all answers done")
        hands.trigger(window, "Evaluate/Cost on other models")
        dlg = next(w for w in QApplication.topLevelWidgets()
                   if w.isVisible() and w.windowTitle() == "Cost on other models")
        panel = dlg.cost_panel
        assert " 2 answers (+2 judge) " in panel.actual_label.text()
        rows = {r[0]: r for r in panel.rows_text()}
        cat = window.catalog
        for model in (match.a_model, match.b_model):
            row = rows[cat.display_name(model) + "  (used)"]
            spent = sum(n.cost_usd or 0 for n in graph.nodes.values() if n.model == model and n.is_answer)
            assert spent > 0 and row[1] == fmt_cost(spent), row  # what was spent on it, not the session on it
            assert row[2] != row[1]
        unused = [r for r in rows.values() if "(used)" not in r[0]]
        assert unused and all(r[1] == "–" for r in unused)
        # no empty column at the right: the columns fill the table's width
        t = panel.table
        assert sum(t.columnWidth(c) for c in range(t.columnCount())) >= t.viewport().width() - 1
        dlg.close()


async def test_send_says_a_new_blind_match_follows_the_card_and_a_new_session_starts_with_blind_off(
        app_env, fake_server):
    async with open_window() as (window, services):
        match = await _blind_pair(window)
        composer = window.composer
        hands.click_card(window, match.a_node_id)
        # the button and the "Following" line say the same thing: a new blind match after Model A
        assert composer.send_button.text() == "New blind match: 2 of 2 models"
        line = composer.parents_label.text()
        assert line.startswith("Following 1 card: Model A") and "new blind match" in line, line
        assert "continues with its own model" not in line
        assert not composer.lanes_button.isEnabled() and not composer.shared_button.isEnabled()
        hands.send(window, "And for lunch?")
        await wait_until(lambda: len(services.repo.list_matches()) == 2, 5, "a second match")
        second = services.repo.list_matches()[-1]
        graph = window.controller.graph
        assert {e.parent_id for e in graph.edges if e.child_id == second.prompt_id} == {match.a_node_id}
        await wait_until(lambda: len(_answers(window)) == 4, 5, "the new pair")
        # Ctrl+N: a new session starts with Blind match off, and the status bar says so
        hands.focus(window.view)
        hands.press_keys(window, "Ctrl+N")
        await wait_until(lambda: window.controller.session_id != match.session_id, 3, "the new session")
        assert not composer.blind_action.isChecked() and not window.blind_action.isChecked()
        assert "Blind match" not in composer.send_button.text()
        assert "Blind match is off" in window.statusBar().currentMessage()
        # on again with its shortcut: the button says it
        hands.press_keys(window, "Ctrl+Shift+M")
        assert composer.blind_action.isChecked() and composer.send_button.text().startswith("Blind match")


async def test_judge_this_pair_brings_its_cards_into_view(app_env, fake_server, monkeypatch):
    from tests.fakes.server import Answer

    judge = "openai:gpt-6-luna"
    fake_server.script(judge.split(":", 1)[1], Answer(text=("Fine. ", "VERDICT: A")))
    async with open_window() as (window, services):
        match = await _blind_pair(window)
        monkeypatch.setattr(window.dialogs, "pick_judge", lambda *a, **k: (judge, ""))
        hands.trigger(window, "Evaluate/Judge this pair")
        await wait_until(lambda: len(window.arena._judge_ids) == 4, 5, "the judge's cards")
        ids = list(window.arena._judge_ids)
        await wait_until(lambda: all(window.scene.card(i) is not None for i in ids), 5, "the judge's cards drawn")
        await wait_until(lambda: services.repo.get_match(match.id).votes, 15, "the judge's vote")
        window.controller.flush_repaints()
        view = window.view
        seen = view.mapToScene(view.viewport().rect()).boundingRect()
        shown = [i for i in ids if seen.intersects(window.scene.card(i).sceneBoundingRect())]
        assert len(shown) == len(ids), f"{len(ids) - len(shown)} of the judge's {len(ids)} cards are off-screen"


async def test_the_judge_dialog_takes_a_rubric_that_reaches_the_judges_prompts(app_env, fake_server):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication, QDialogButtonBox

    from tests.fakes.server import Answer
    from ui.arena import JudgeDialog

    judge = "openai:gpt-6-luna"
    fake_server.script(judge.split(":", 1)[1], Answer(text=("Fine. ", "VERDICT: A")))
    seen: list[str] = []

    def fill_in() -> None:  # what the user does in the dialog: the judge, a rubric, OK
        dlg = QApplication.activeModalWidget()
        if not isinstance(dlg, JudgeDialog) or seen:
            return
        seen.append(dlg.rubric_edit.text())
        QTest.keyClicks(dlg.filter_edit, judge)
        QTest.keyClicks(dlg.rubric_edit, "the fruit must be in season")
        ok = dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        QTest.mouseClick(ok, Qt.MouseButton.LeftButton)

    async with open_window() as (window, services):
        match = await _blind_pair(window)
        timer = QTimer()
        timer.setInterval(10)
        timer.timeout.connect(fill_in)
        timer.start()
        try:
            hands.trigger(window, "Evaluate/Judge this pair")
        finally:
            timer.stop()
        assert seen == [""]
        await wait_until(lambda: services.repo.get_match(match.id).votes, 15, "the judge's vote")
        graph = window.controller.graph
        asks = [n for n in graph.nodes.values() if n.kind.value == "prompt" and "Answer A" in n.text]
        assert len(asks) == 2 and all("the fruit must be in season" in n.text for n in asks)
        assert [v.voter for v in services.repo.get_match(match.id).votes] == [f"judge:{judge}"]
