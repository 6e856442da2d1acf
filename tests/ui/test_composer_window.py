"""The composer in the real window, driven by the user's hands (issue #12): chips added through the
+ Model menu wrap instead of widening the window, the window fits the screen, the Send button says where
the prompt goes and the send mode follows what the user does now, Settings keeps models added by id,
and Tab walks the chips with a visible focus in both themes."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QPoint, QPointF, QRect, Qt, QTimer
from PySide6.QtGui import QAction, QMouseEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QMenu

from app.domain import EdgeRole, NodeKind, SendMode
from tests.ui.conftest import cards_of, open_window, send_mouse, wait_until

LEFT = Qt.MouseButton.LeftButton


def _menu_pick(button, path: list[str]) -> None:
    """Click `button` (an instant-popup tool button) and choose `path` in its menu with the keyboard, as
    a user does: Down to the entry, Right into a submenu, Return on the action. The menu runs its own
    event loop, so the keys are typed from a timer inside it; a step that fails closes the menus and
    fails the test (never a menu left open, waiting)."""
    failed: list[BaseException] = []

    def close_menus() -> None:
        while (popup := QApplication.activePopupWidget()) is not None:
            popup.close()

    def step(fn) -> None:
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001 - reported after the menu's loop returns
            failed.append(exc)
            close_menus()

    def walk(menu: QMenu, names: list[str]) -> None:
        items = [a for a in menu.actions() if not a.isSeparator() and a.isVisible() and a.isEnabled()]
        texts = [a.text() for a in items]
        index = next((i for i, t in enumerate(texts) if t.startswith(names[0])), None)
        assert index is not None, f"no {names[0]!r} in the menu: {texts}"
        if menu.activeAction() is None:
            QTest.keyClick(menu, Qt.Key.Key_Down)
        for _ in range(index - items.index(menu.activeAction())):
            QTest.keyClick(menu, Qt.Key.Key_Down)
        assert menu.activeAction() is items[index], (menu.activeAction().text(), names[0])
        if len(names) == 1:
            QTest.keyClick(menu, Qt.Key.Key_Return)
            return
        QTest.keyClick(menu, Qt.Key.Key_Right)
        sub = items[index].menu()
        QTimer.singleShot(0, lambda: step(lambda: walk(sub, names[1:])))

    def start() -> None:
        menu = QApplication.activePopupWidget()
        assert isinstance(menu, QMenu), menu
        walk(menu, path)

    QTimer.singleShot(0, lambda: step(start))
    QTimer.singleShot(3000, close_menus)  # a last resort: the test fails, it does not hang
    QTest.mouseClick(button, LEFT)
    if failed:
        raise failed[0]


def _inside(widget, window) -> bool:
    rect = QRect(widget.mapTo(window, QPoint(0, 0)), widget.size())
    return widget.isVisible() and window.rect().contains(rect)


async def test_adding_eight_models_wraps_the_chips_and_never_widens_the_window(app_env, fake_server):
    async with open_window() as (window, _services):
        composer = window.composer
        await asyncio.sleep(0.05)
        width, composer_height = window.width(), composer.height()
        assert _inside(composer.send_button, window)
        picks = [
            ["DeepSeek", "DeepSeek V4 Pro"],
            ["Anthropic", "Claude Opus"],
            ["Anthropic", "Claude Haiku"],
            ["OpenAI", "GPT-6.2 Astra"],
            ["OpenAI", "GPT-6 Luna"],
            ["OpenRouter", "Claude Sonnet 5.5"],
            ["OpenRouter", "GPT-6.2 Sol"],
            ["OpenRouter", "DeepSeek"],
        ]
        for path in picks:
            _menu_pick(composer.add_button, path)
            await asyncio.sleep(0.02)
        assert len(composer.models()) == 11
        await asyncio.sleep(0.05)
        assert window.width() == width  # the window never resizes itself
        assert composer.width() <= window.width()
        assert _inside(composer.send_button, window) and _inside(composer.add_button, window)
        rows = {composer.chip(ref).mapTo(window, QPoint(0, 0)).y() for ref in composer.models()}
        assert len(rows) >= 2 and composer.height() > composer_height  # the chips wrapped
        for ref in composer.models():
            assert _inside(composer.chip(ref), window)
        # removing chips gives the lines back; the width still never moved
        for ref in composer.models()[3:]:
            QTest.mouseClick(composer.chip(ref).remove, LEFT)
        await asyncio.sleep(0.05)
        assert window.width() == width and composer.height() == composer_height


async def test_the_window_opens_no_bigger_than_the_screen(app_env, fake_server):
    from ui.app import build_services, close_services, create_window

    # the offscreen screen is 800×800: smaller than the default 1440×900, like a 1366×768 laptop
    available = QApplication.primaryScreen().availableGeometry()
    for saved in (None, await _geometry_bigger_than(available)):
        services = build_services(None, interactive=False)
        if saved:
            services.settings.ui["window_geometry"] = saved
        window = create_window(services)
        assert window.width() <= available.width() and window.height() <= available.height(), (
            bool(saved),
            window.size(),
            available,
        )
        window.show()
        await asyncio.sleep(0.05)
        assert available.contains(window.frameGeometry()), (bool(saved), window.frameGeometry(), available)
        assert _inside(window.composer.send_button, window)
        window.close()
        await close_services(services)
        window.deleteLater()
        await asyncio.sleep(0)


async def _geometry_bigger_than(available: QRect) -> str:
    """A window geometry saved on a monitor bigger than `available` (as `save_window_state` stores it)."""
    from PySide6.QtWidgets import QWidget

    probe = QWidget()
    probe.setGeometry(
        available.x() + 40, available.y() + 40, available.width() + 640, available.height() + 300
    )
    probe.show()
    await asyncio.sleep(0.02)
    data = bytes(probe.saveGeometry().toBase64()).decode("ascii")
    probe.close()
    probe.deleteLater()
    return data


def _click_card(window, card, mods=Qt.KeyboardModifier.NoModifier) -> None:
    """A click on the card's title bar (what selects it)."""
    view = window.view
    rect = card.sceneBoundingRect()
    pos = view.mapFromScene(QPointF(rect.left() + 30, rect.top() + 10))
    send_mouse(view.viewport(), QMouseEvent.Type.MouseButtonPress, pos, mods=mods)
    send_mouse(
        view.viewport(), QMouseEvent.Type.MouseButtonRelease, pos, buttons=Qt.MouseButton.NoButton, mods=mods
    )


def _click_card_button(window, card, action: str) -> None:
    view = window.view
    rect = card.button_rect(action)
    assert rect is not None, (action, card.button_actions())
    pos = view.mapFromScene(card.mapToScene(rect.center()))
    send_mouse(view.viewport(), QMouseEvent.Type.MouseButtonPress, pos)
    send_mouse(view.viewport(), QMouseEvent.Type.MouseButtonRelease, pos, buttons=Qt.MouseButton.NoButton)


async def _type_and_send(window, text: str) -> None:
    graph = window.controller.graph
    QTest.keyClicks(window.composer.edit, text)
    QTest.mouseClick(window.composer.send_button, LEFT)
    await wait_until(lambda: any(n.text == text for n in graph.nodes.values()), 5, "the prompt card")
    await wait_until(lambda: all(not n.status.is_live for n in graph.nodes.values()), 15, "the answers")
    await asyncio.sleep(0.05)


def _answer(window, prompt_text: str, model: str):
    graph = window.controller.graph
    prompt = next(n for n in graph.nodes.values() if n.kind == NodeKind.PROMPT and n.text == prompt_text)
    for e in graph.children(prompt.id, (EdgeRole.REPLY,)):
        if graph.nodes[e.child_id].model == model:
            return window.scene.card(e.child_id)
    raise AssertionError(f"no {model} answer to {prompt_text!r}")


async def test_send_says_where_the_prompt_goes_and_the_mode_is_not_sticky(app_env, fake_server):
    sonnet, flash = "anthropic:claude-sonnet-5-5", "deepseek:deepseek-flash"
    async with open_window() as (window, _services):
        composer, graph = window.composer, window.controller.graph
        assert composer.models() == [flash, sonnet, "openai:gpt-6.2-sol"]
        assert composer.send_button.text() == "Send to 3 models"
        await _type_and_send(window, "First question")
        # one card selected: its lane
        _click_card(window, _answer(window, "First question", sonnet))
        assert composer.mode() == SendMode.LANES
        assert composer.send_button.text() == "Continue Claude Sonnet 5.5"
        await _type_and_send(window, "Go on")  # a lane follow-up: Sonnet only
        # two cards selected, the user picks Shared
        _click_card(window, _answer(window, "First question", flash))
        _click_card(window, _answer(window, "Go on", sonnet), Qt.KeyboardModifier.ControlModifier)
        assert composer.send_button.text() == "Continue 2 lanes"
        QTest.mouseClick(composer.shared_button, LEFT)
        assert composer.send_button.text() == "Send to 3 models"
        await _type_and_send(window, "Compare them")
        assert composer.mode() == SendMode.LANES  # the shared choice went with that send
        # "Edit & branch" on the lane follow-up: it goes to its lane again, not to every chip
        go_on = next(n for n in graph.nodes.values() if n.kind == NodeKind.PROMPT and n.text == "Go on")
        _click_card_button(window, window.scene.card(go_on.id), "branch")
        assert composer.text() == "Go on" and composer.mode() == SendMode.LANES
        assert "shared with every chosen model" not in composer.parents_label.text()
        assert composer.send_button.text() == "Continue Claude Sonnet 5.5"
        before = set(graph.nodes)
        composer.edit.selectAll()
        await _type_and_send(window, "Go on, briefly")
        asked = {graph.nodes[i].model for i in set(graph.nodes) - before if graph.nodes[i].is_answer}
        assert asked == {sonnet}
        # "Edit & branch" on the shared follow-up shares again
        shared = next(
            n for n in graph.nodes.values() if n.kind == NodeKind.PROMPT and n.text == "Compare them"
        )
        _click_card_button(window, window.scene.card(shared.id), "branch")
        assert composer.mode() == SendMode.SHARED and composer.send_button.text() == "Send to 3 models"
        # clearing the follow bar goes back to a new thread to every chip
        QTest.mouseClick(composer.clear_follow_button, LEFT)
        assert composer.mode() == SendMode.LANES and composer.send_button.text() == "Send to 3 models"
        assert len(cards_of(window, "prompt")) == 4


async def test_settings_ok_keeps_a_model_added_by_id_in_the_default_set(app_env, fake_server, monkeypatch):
    custom = "openrouter:meta/llama-slow"
    async with open_window() as (window, _services):
        composer = window.composer
        monkeypatch.setattr(composer, "ask_model_id", lambda prefix: custom)  # the id the user types
        _menu_pick(composer.add_button, ["Other model"])
        assert composer.models()[-1] == custom
        assert window.settings.ui["default_models"][-1] == custom
        settings_action = next(a for a in window.findChildren(QAction) if a.text() == "Settings…")
        settings_action.trigger()
        dialog = next(
            w for w in QApplication.topLevelWidgets() if w.windowTitle() == "Settings" and w.isVisible()
        )
        shown = [dialog.defaults_list.item(i) for i in range(dialog.defaults_list.count())]
        row = next(item for item in shown if item.data(Qt.ItemDataRole.UserRole) == custom)
        assert row.checkState() == Qt.CheckState.Checked
        ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        QTest.mouseClick(ok, LEFT)
        await asyncio.sleep(0.02)
        assert custom in window.settings.ui["default_models"]
        assert composer.models()[-1] == custom
    # and the next start still has it
    async with open_window() as (window, _services):
        assert window.composer.models()[-1] == custom


def _theme_action(window, label: str):
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    theme_menu = next(a.menu() for a in view_menu.actions() if a.text() == "Theme")
    return next(a for a in theme_menu.actions() if a.text() == label)


async def test_tab_walks_the_chips_and_every_stop_shows_its_focus(app_env, fake_server):
    async with open_window() as (window, _services):
        composer = window.composer
        window.activateWindow()
        for theme in ("Light", "Dark"):
            _theme_action(window, theme).trigger()
            await asyncio.sleep(0.05)
            composer.edit.setFocus(Qt.FocusReason.MouseFocusReason)
            await wait_until(lambda: composer.edit.hasFocus(), 2, "the prompt's focus")
            chips = [composer.chip(ref) for ref in composer.models()]
            expected = [w for c in chips for w in (c.button, c.remove)]
            expected += [composer.add_button, composer.presets_button, composer.lens_button]
            expected += [composer.send_button]
            unfocused = {id(w): w.grab().toImage() for w in expected}
            walked = []
            for _ in expected:
                QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
                widget = QApplication.focusWidget()
                walked.append(widget)
                assert widget.grab().toImage() != unfocused.get(id(widget)), (
                    f"{theme}: no visible focus on {widget.objectName() or widget.text()}"
                )
            assert walked == expected, [w.objectName() or w.text() for w in walked]
            # Tab on from Send leaves the composer (to the canvas): that stop shows its focus too
            QTest.keyClick(composer.send_button, Qt.Key.Key_Tab)
            after = QApplication.focusWidget()
            assert not composer.isAncestorOf(after)
            focused = after.grab().toImage()
            QTest.keyClick(after, Qt.Key.Key_Backtab)
            assert QApplication.focusWidget() is composer.send_button
            assert after.grab().toImage() != focused, f"{theme}: no visible focus on {after.objectName()}"
            composer.set_running(0)


async def test_a_chips_parameters_open_from_the_keyboard_and_tab_moves_on(app_env, fake_server):
    from ui.composer import ParamsPopover

    async with open_window() as (window, _services):
        composer = window.composer
        window.activateWindow()
        composer.edit.setFocus(Qt.FocusReason.MouseFocusReason)
        await wait_until(lambda: composer.edit.hasFocus(), 2, "the prompt's focus")
        QTest.keyClick(composer.edit, Qt.Key.Key_Tab)
        chip = composer.chip(composer.models()[0])
        assert QApplication.focusWidget() is chip.button
        QTest.keyClick(chip.button, Qt.Key.Key_Space)
        await wait_until(
            lambda: isinstance(QApplication.activePopupWidget(), ParamsPopover), 2, "the popover"
        )
        popover = QApplication.activePopupWidget()
        system = popover.system
        unfocused = system.grab().toImage()
        for _ in range(6):
            if QApplication.focusWidget() is system:
                break
            QTest.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
        assert QApplication.focusWidget() is system
        assert system.grab().toImage() != unfocused  # the focused field shows it
        QTest.keyClick(system, Qt.Key.Key_Tab)  # moves on: no tab character, no trap
        assert QApplication.focusWidget() is popover.thinking and system.toPlainText() == ""
        QTest.keyClick(popover.thinking, Qt.Key.Key_Escape)
        await wait_until(lambda: not popover.isVisible(), 2, "the popover to close")
        assert QApplication.focusWidget() is chip.button  # back where the user was



async def test_typing_shows_the_estimate_in_the_prompt_box_without_moving_the_model_chips(app_env, fake_server):
    """qa4 Q5: as soon as the prompt held text, "≈ N tokens in · est. $…" appeared in the chips' row and
    took their room: "Presets ▾" dropped to a second line and the composer grew by a row. It now sits in
    the prompt box's bottom-right corner, on the line the box keeps free below the text."""
    async with open_window() as (window, _services):
        composer = window.composer
        for width in (900, 1250, 1600):
            window.resize(width, 900)
            await asyncio.sleep(0.1)
            composer.edit.setFocus()
            presets = composer.presets_button.geometry().top()
            rows = composer.chips_area.height()
            QTest.keyClicks(composer.edit, "Explain the birthday paradox with a worked example")
            await wait_until(lambda: "tokens in" in composer.estimate_label.text(), 3, "the estimate")
            await asyncio.sleep(0.05)
            assert (composer.presets_button.geometry().top(), composer.chips_area.height()) == (presets, rows), width
            label = composer.estimate_label
            assert label.isVisible() and label.parent() is composer.edit and label.width() > 100, width
            # inside the box, under the typed line: nothing of the text is covered
            line = composer.edit.cursorRect().translated(composer.edit.viewport().pos())
            assert composer.edit.rect().contains(label.geometry()) and label.geometry().top() >= line.bottom()
            composer.edit.selectAll()
            QTest.keyClick(composer.edit, Qt.Key.Key_Delete)
            await wait_until(lambda: not composer.estimate_label.isVisible(), 3, "no estimate for an empty prompt")
