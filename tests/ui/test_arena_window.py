"""The window's blind arena (issue #17), through the user's hands against the loopback fake server:
Blind match toggle → two of three models answer as "Model A" / "Model B" with no identity anywhere
(cards, tooltips, status bar, title, sidebar, dialogs, comparison table, cost panel, exports, pixels);
key 1 votes and reveals, a changed vote replaces the first, undo brings it back; the Leaderboard dialog
ranks the models from the votes."""

from __future__ import annotations

import json
import re

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import (
    QAbstractButton,
    QApplication,
    QComboBox,
    QGraphicsSimpleTextItem,
    QGraphicsTextItem,
    QLabel,
    QLineEdit,
    QListWidget,
    QPlainTextEdit,
    QTableWidget,
    QTabWidget,
    QTextEdit,
    QWidget,
)

from app.domain import NodeStatus
from app.present.metrics import fmt_tokens
from app.present.money import fmt_cost
from tests.ui import hands
from tests.ui.conftest import DEFAULT_MODELS, open_window, wait_until

PROMPT = "Which fruit is the best for breakfast"


def _answers(window):
    graph = window.controller.graph
    return [c for c in window.scene.cards() if graph.nodes[c.node_id].is_answer]


def _widget_texts(widget, skip=()) -> list[str]:
    """Every text a dialog or window shows: titles, labels, buttons, fields, lists, tables, tooltips
    (not in `skip` widgets, nor in other windows)."""
    out = [widget.windowTitle(), widget.toolTip()]
    for w in widget.findChildren(QWidget):
        if not w.isVisible() or w.window() is not widget or any(s is w or s.isAncestorOf(w) for s in skip):
            continue
        out.append(w.toolTip())
        if isinstance(w, (QLabel, QAbstractButton, QLineEdit)):
            out.append(w.text())
        elif isinstance(w, (QTextEdit, QPlainTextEdit)):
            out.append(w.toPlainText())
        elif isinstance(w, QComboBox):
            out += [w.itemText(i) for i in range(w.count())]
        elif isinstance(w, QListWidget):
            for i in range(w.count()):
                out += [w.item(i).text(), w.item(i).toolTip()]
        elif isinstance(w, QTableWidget):
            for r in range(w.rowCount()):
                for c in range(w.columnCount()):
                    item = w.item(r, c)
                    if item is not None:
                        out += [item.text(), item.toolTip()]
            for c in range(w.columnCount()):
                head = w.horizontalHeaderItem(c)
                out.append(head.text() if head is not None else "")
        elif isinstance(w, QTabWidget):
            out += [w.tabText(i) for i in range(w.count())]
    return out


def _canvas_texts(window) -> list[str]:
    out = []
    for card in window.scene.cards():
        st = card._state  # what the card paints: title, subtitle, chip, metrics, overview, buttons
        out += [v for v in vars(st).values() if isinstance(v, str)] if hasattr(st, "__dict__") else []
        out += [getattr(st, name) for name in getattr(type(st), "__slots__", ()) if isinstance(getattr(st, name), str)]
        out += [b.label for b in st.buttons]
        out += [card.title_text, card.metrics_text, card.status_text, card.summary_text, card.error_text,
                card.toolTip(), card.body_text]
        out += [doc.toPlainText() for doc in card.text_documents()]
    for item in window.scene.items():
        out.append(item.toolTip())
        if isinstance(item, QGraphicsTextItem):
            out.append(item.toPlainText())
        elif isinstance(item, QGraphicsSimpleTextItem):
            out.append(item.text())
    return out


def _identities(window) -> tuple[list[str], list[str]]:
    """(names that identify a model: catalog names and ids, providers; provider colours)."""
    catalog, settings = window.catalog, window.settings
    names = set()
    for info in catalog.models():
        names |= {info.display, info.ref, info.ref.split(":", 1)[1]}
    names |= {v for v in settings.display_names.values() if len(v) > 3}
    names |= {"Claude", "GPT", "DeepSeek", "Anthropic", "OpenAI"}
    colours = {catalog.provider_color(m.split(":", 1)[0]).lower() for m in DEFAULT_MODELS}
    return sorted(names, key=len, reverse=True), sorted(colours)


def _leaks(text: str, names: list[str], colours: list[str], figures: list[str]) -> list[str]:
    found = []
    low = text.lower()
    for name in names:
        if re.search(rf"(?<![A-Za-z0-9]){re.escape(name.lower())}(?![A-Za-z0-9])", low):
            found.append(name)
    found += [c for c in colours if c in low]
    found += [f for f in figures if f in text]
    return found


async def test_blind_match_hides_every_identity_until_the_vote(app_env, fake_server, tmp_path):
    async with open_window() as (window, services):
        repo = services.repo
        composer = window.composer
        # the user's three models (the default set), Blind match on, a question, Send
        assert composer.models() == DEFAULT_MODELS
        composer.add_menu.aboutToShow.emit()  # "+ Model" opens: its first entry is the toggle
        toggle = composer.add_menu.actions()[0]
        assert toggle.text().startswith("Blind match") and toggle.isCheckable()
        toggle.trigger()
        assert composer.blind_action.isChecked() and window.blind_action.isChecked()
        assert composer.send_button.text() == "Blind match: 2 of 3 models"
        hands.type_text(composer.edit, PROMPT)
        hands.press_keys(composer.edit, "Ctrl+Return")
        await wait_until(lambda: len(_answers(window)) == 2, 5, "two answer cards")
        graph = window.controller.graph
        await wait_until(lambda: all(graph.nodes[c.node_id].status == NodeStatus.DONE for c in _answers(window)),
                         15, "both answers done")
        window.controller.flush_repaints()
        [match] = repo.list_matches()
        assert {match.a_model, match.b_model} < set(DEFAULT_MODELS) and match.a_model != match.b_model
        real = {nid: graph.nodes[nid] for nid in (match.a_node_id, match.b_node_id)}
        assert all("Answer from" in n.text for n in real.values())  # the fake server names its model
        # A on the left, B on the right
        card_a, card_b = window.scene.card(match.a_node_id), window.scene.card(match.b_node_id)
        assert card_a.pos().x() < card_b.pos().x()
        assert (card_a.title_text, card_b.title_text) == ("Model A", "Model B")

        names, colours = _identities(window)
        figures = []
        for n in real.values():
            if n.cost_usd:
                figures.append(fmt_cost(n.cost_usd))
            if n.usage.output:
                figures += [f"out {fmt_tokens(n.usage.output)}", f"in {fmt_tokens(n.usage.input)}"]
        assert len(figures) >= 2  # the answers have costs and token counts to hide

        # the dialogs a user opens on the pair: focus mode, the comparison table (with its cost panel),
        # the cost on other models
        hands.click_card(window, match.a_node_id)
        hands.trigger(window, "Cards/Comparison table")
        table = next(w for w in QApplication.topLevelWidgets() if w.isVisible() and hasattr(w, "cost_panel"))
        assert "Hidden until you vote" in table.cost_panel.actual_label.text()
        hands.trigger(window, "Evaluate/Cost on other models")
        hands.trigger(window, "View/Focus mode")
        await wait_until(lambda: window._focus_dialog is not None, 3, "focus mode")
        # both selected: the diff of the pair, and the context lens of a follow-up
        hands.click_card(window, match.a_node_id)
        hands.click_card(window, match.b_node_id, mods=Qt.KeyboardModifier.ControlModifier)
        assert set(window.controller.selected_ids()) == set(real)
        hands.trigger(window, "Cards/Compare two answers (diff)")
        hands.trigger(window, "View/Context lens")
        window.refresh_lens()
        # a re-run would name the model: refused until the vote (Ctrl+R, the card's menu alike)
        hands.trigger(window, "Cards/Retry selected")
        assert "Vote on the blind match first" in window.statusBar().currentMessage()
        assert len(_answers(window)) == 2
                # a search in the sidebar finds the answers: listed without their model
        hands.type_text(window.sidebar.search_edit, "fruit")
        await wait_until(lambda: window.sidebar._showing_hits, 3, "search hits")

        shown = {"canvas": _canvas_texts(window), "window": _widget_texts(window, skip=[window.composer.chips_area]),  # (the user's own pool)
                 "status bar": [window.statusBar().currentMessage(), window.totals_label.text(), window.windowTitle()]}
        for w in QApplication.topLevelWidgets():
            if w.isVisible() and w is not window:
                shown[f"dialog {w.windowTitle()}"] = _widget_texts(w)
        for fmt in ("md", "html", "json", "canvas"):
            path = tmp_path / f"blind.{fmt}"
            window.export_to(str(path), fmt)
            shown[f"{fmt} export"] = [path.read_text(encoding="utf-8")]
        shown["lens"] = [window.lens.browser.toPlainText()]
        leaks = {where: found for where, texts in shown.items()
                 if (found := _leaks("\n".join(texts), names, colours, figures))}
        assert not leaks, f"the blind match shows {leaks}"
        assert "[model]" in card_a.body_text  # "Answer from [model]"
        assert "show after your vote" in window.totals_label.text()
        json_doc = json.loads((tmp_path / "blind.json").read_text(encoding="utf-8"))
        assert not json_doc.get("matches")  # the match would name the models

        # the canvas's pixels: no provider colour in either card
        wanted = {QColor(c).rgb() & 0xFFFFFF for c in colours}

        def card_pixels(card) -> set[int]:
            shot = window.grab().toImage()
            origin = window.view.viewport().mapTo(window, window.view.viewport().rect().topLeft())
            dpr = shot.devicePixelRatio()
            r = window.view.mapFromScene(card.sceneBoundingRect()).boundingRect().translated(origin)
            r = r.intersected(window.rect())
            return {shot.pixel(int(x * dpr), int(y * dpr)) & 0xFFFFFF
                    for x in range(r.left(), r.right(), 2) for y in range(r.top(), r.bottom(), 2)}

        for card in (card_a, card_b):
            assert not card_pixels(card) & wanted, f"{card.title_text} shows a provider's colour"
        # the PNG export: the pair in grey too
        png = tmp_path / "blind.png"
        window.export_to(str(png), "png")
        picture = QImage(str(png))
        assert not picture.isNull()
        seen = {picture.pixel(x, y) & 0xFFFFFF for x in range(0, picture.width(), 3)
                for y in range(0, picture.height(), 3)}
        assert not seen & wanted, "the PNG export shows a provider's colour"
        for w in QApplication.topLevelWidgets():
            if w.isVisible() and w is not window:
                w.close()

        # key 1 with a card of the pair selected: "A is better", stored as the user's; names revealed
        hands.click_card(window, match.b_node_id)
        hands.focus(window.view)
        await wait_until(lambda: window.view.hasFocus(), 3, "the canvas has the keyboard")
        hands.press_keys(window.view, "1")
        voted = repo.get_match(match.id)
        assert [(v.voter, v.vote) for v in voted.votes] == [("user", "a")]
        window.controller.flush_repaints()
        cat = window.catalog
        assert card_a.title_text == cat.display_name(match.a_model)
        assert card_b.title_text == cat.display_name(match.b_model)
        assert "Answer from " + match.a_model.split(":", 1)[1] in card_a.body_text
        assert card_a.metrics_text  # tokens, cost, timing are back
        assert cat.display_name(match.a_model) in window.arena_bar.label.text()
        assert "show after your vote" not in window.totals_label.text()
        assert card_a.stripe_color.name().lower() != "#8a8f98"
        assert cat.display_name(match.b_model) in window.composer.parents_label.text()  # "Following GPT-…"
        # the same pixel checks now find the providers' colours (they would have found them before)
        assert card_pixels(card_a) & wanted
        window.export_to(str(png), "png")
        picture = QImage(str(png))
        assert {picture.pixel(x, y) & 0xFFFFFF for x in range(0, picture.width(), 3)
                for y in range(0, picture.height(), 3)} & wanted

        # changed: "B is better" replaces it (one user vote); undo brings back "A"
        hands.press_keys(window.view, "2")
        assert [(v.voter, v.vote) for v in repo.get_match(match.id).votes] == [("user", "b")]
        hands.trigger(window, window.undo_action)
        assert [(v.voter, v.vote) for v in repo.get_match(match.id).votes] == [("user", "a")]
        hands.trigger(window, window.redo_action)

        # the tags field of the match
        bar = window.arena_bar
        bar.tags.setFocus()
        bar.tags.clear()
        hands.type_text(bar.tags, "Coding, legal")
        hands.press_keys(bar.tags, "Return")
        assert repo.get_match(match.id).tags == ["coding", "legal"]

        # the leaderboard ranks B's model first (the vote says B is better)
        hands.trigger(window, "Evaluate/Leaderboard")
        board = window.arena.leaderboard_dialog
        assert board.table.rowCount() == 2
        assert match.b_model in board.table.item(0, 1).text()
        assert board.standings[0].model == match.b_model and board.standings[0].wins == 1
        assert board.standings[0].ci_low <= board.standings[0].rating <= board.standings[0].ci_high
        assert "model" in board.export_text("csv").splitlines()[0]
        board.tag_combo.setCurrentIndex(board.tag_combo.findText("legal"))
        assert board.table.rowCount() == 2
        board.close()


async def test_cost_panel_beside_the_comparison_table(app_env, fake_server):
    async with open_window() as (window, services):
        window.composer.set_text("Name a colour")
        hands.press_keys(window.composer.edit, "Ctrl+Return")
        await wait_until(lambda: len(_answers(window)) == 3, 5, "three answers")
        graph = window.controller.graph
        await wait_until(lambda: all(graph.nodes[c.node_id].status == NodeStatus.DONE for c in _answers(window)),
                         15, "answers done")
        hands.click_card(window, _answers(window)[0].node_id)
        hands.trigger(window, "Cards/Comparison table")
        table = next(w for w in QApplication.topLevelWidgets() if w.isVisible() and hasattr(w, "cost_panel"))
        rows = table.cost_panel.rows_text()
        priced = [m for m in window.catalog.models() if m.price is not None]
        assert len(rows) == len(priced) > 3
        costs = [float(r[2].lstrip("$")) for r in rows if r[2].startswith("$")]
        assert costs == sorted(costs)  # cheapest first
        assert "Actual: $" in table.cost_panel.actual_label.text()
        assert "tokenizers" in table.cost_panel.note.text()
        assert sum("(used)" in r[0] for r in rows) == 3
        # the path to the selected card: one answer and its prompt
        table.cost_panel.scope.setCurrentIndex(1)
        assert "for 1 answer " in table.cost_panel.actual_label.text()
        table.close()


async def _blind_pair(window):
    """Blind match on, the composer's first two models, a question sent; both answers done."""
    composer = window.composer
    composer.set_models(DEFAULT_MODELS[:2])
    hands.trigger(window, "Evaluate/Blind match")
    assert composer.blind_action.isChecked()
    hands.type_text(composer.edit, PROMPT)
    hands.press_keys(composer.edit, "Ctrl+Return")
    await wait_until(lambda: len(_answers(window)) == 2, 5, "two answer cards")
    graph = window.controller.graph
    await wait_until(lambda: all(graph.nodes[c.node_id].status == NodeStatus.DONE for c in _answers(window)),
                     15, "both answers done")
    return window.arena.current_match()


async def test_a_judge_votes_twice_sides_swapped_and_reveals_nothing(app_env, fake_server, monkeypatch):
    from tests.fakes.server import Answer

    judge = "openai:gpt-6-luna"
    fake_server.script(judge.split(":", 1)[1], Answer(text=("Both fine. ", "VERDICT: A")))  # always the first
    async with open_window() as (window, services):
        match = await _blind_pair(window)
        monkeypatch.setattr(window.dialogs, "pick_judge", lambda *a, **k: (judge, ""))
        QTest.mouseClick(window.arena_bar.judge_button, Qt.MouseButton.LeftButton)
        assert window.arena_bar.judge_button.text() == "Stop judge"
        await wait_until(lambda: services.repo.get_match(match.id).votes, 15, "the judge's vote")
        # it preferred the first answer shown both times: A, then B (swapped): a disagreement, a tie
        assert [(v.voter, v.vote) for v in services.repo.get_match(match.id).votes] == [(f"judge:{judge}", "tie")]
        await wait_until(lambda: "tie" in window.statusBar().currentMessage(), 3, "the judge's line")
        assert window.arena_bar.judge_button.text() == "Judge…"
        # the judge's vote is not the user's: the pair stays blind
        window.controller.flush_repaints()
        assert window.scene.card(match.a_node_id).title_text == "Model A"
        graph = window.controller.graph
        judge_prompts = [n for n in graph.nodes.values() if n.kind.value == "prompt" and "Answer A" in n.text]
        assert len(judge_prompts) == 2 and all("[model]" in p.text for p in judge_prompts)


async def test_stopping_the_judge_records_no_vote(app_env, fake_server, monkeypatch):
    from tests.fakes.server import Answer

    judge = "openai:gpt-6-luna"
    fake_server.script(judge.split(":", 1)[1], Answer(text=tuple(f"word{i} " for i in range(400)), rate=40))
    async with open_window() as (window, services):
        match = await _blind_pair(window)
        monkeypatch.setattr(window.dialogs, "pick_judge", lambda *a, **k: (judge, ""))
        QTest.mouseClick(window.arena_bar.judge_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: window.arena._judge_ids, 3, "the judge's cards")
        QTest.mouseClick(window.arena_bar.judge_button, Qt.MouseButton.LeftButton)  # "Stop judge"
        await wait_until(lambda: "Judge stopped" in window.statusBar().currentMessage(), 5, "the judge stopped")
        assert not window.arena.judging and window.arena_bar.judge_button.text() == "Judge…"
        graph = window.controller.graph
        await wait_until(lambda: not any(graph.nodes[i].status.is_live for i in window.arena._judge_ids), 5)
        assert services.repo.get_match(match.id).votes == []


async def test_a_match_made_by_the_cli_opens_blind(app_env, fake_server):
    """`triptych arena` in another process while the window is open: opening its session from the
    sidebar shows the pair blind."""
    from app.arena import Match
    from app.domain import Edge, EdgeRole, Node, NodeKind, Session, Usage

    async with open_window() as (window, services):
        repo = services.repo
        s = repo.create_session(Session(title="Blind match: pears"))
        p = Node(s.id, NodeKind.PROMPT, "Pears or apples?")
        a = Node(s.id, NodeKind.RESPONSE, "Claude likes pears.", model=DEFAULT_MODELS[1], y=200,
                 usage=Usage(input=5, output=7), cost_usd=0.0042)
        b = Node(s.id, NodeKind.RESPONSE, "Apples.", model=DEFAULT_MODELS[2], x=420, y=200)
        repo.add_nodes([p, a, b], [Edge(p.id, a.id, EdgeRole.REPLY), Edge(p.id, b.id, EdgeRole.REPLY)])
        repo.add_match(Match(s.id, p.id, a.id, b.id, a.model, b.model))
        window.refresh_sessions()
        lst = window.sidebar.list
        item = next(lst.item(i) for i in range(lst.count()) if lst.item(i).text().startswith("Blind match: pears"))
        QTest.mouseClick(lst.viewport(), Qt.MouseButton.LeftButton, pos=lst.visualItemRect(item).center())
        await wait_until(lambda: window.controller.session_id == s.id, 3, "the session opened")
        window.controller.flush_repaints()
        card = window.scene.card(a.id)
        assert card.title_text == "Model A" and card.body_text.startswith("[model] likes pears")
        assert card.metrics_text == "" and "$0.0042" not in window.totals_label.text()
        assert window.arena_bar.isVisible() and "Model A" in window.arena_bar.label.text()
