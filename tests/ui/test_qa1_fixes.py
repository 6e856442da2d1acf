"""Defects a new user met in the real window (qa1, /work/briefs/qa1-defects.md), reproduced through
the user's hands: wheel turns, drags and keys on the window's widgets at their on-screen places."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from tests.ui import hands
from tests.ui.conftest import cards_of, open_window, wait_until

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier
CTRL = Qt.KeyboardModifier.ControlModifier


def _answers(window):
    graph = window.controller.graph
    return [c for c in cards_of(window) if graph.nodes[c.node_id].is_answer]


async def _send(window, text: str, models: list[str] | None = None) -> None:
    if models is not None:
        window.composer.set_models(models)
    window.composer.edit.setFocus()
    QTest.keyClicks(window.composer.edit, text)
    QTest.keyClick(window.composer.edit, Qt.Key.Key_Return, CTRL)
    await wait_until(lambda: len(_answers(window)) >= len(window.composer.models()), 5, "the answer cards")
    graph = window.controller.graph
    await wait_until(
        lambda: all(not graph.nodes[c.node_id].status.is_live for c in _answers(window)), 15, "answers done"
    )
    window.controller.flush_repaints()


async def test_zoomed_out_the_wheel_over_a_card_zooms_and_leaves_its_text_where_it_was(app_env, fake_server):
    """Fitted out (cards show their title and first words), a wheel turn over a card zoomed nothing:
    it scrolled the card's hidden body, whose text then sat elsewhere when zoomed back in."""
    from tests.fakes.server import Answer
    from ui.canvas import constants as C

    fake_server.script("deepseek-flash", Answer(text=tuple(f"Line {i} of a long answer.\n\n" for i in range(60))))
    async with open_window() as (window, _services):
        await _send(window, "A long answer please", ["deepseek:deepseek-flash"])
        card = _answers(window)[0]
        assert card.can_scroll()  # a long answer: at full detail the wheel scrolls it
        at = card.body_scroll()
        view = window.view
        view.setFocus()
        while view.zoom() >= C.LOD_TEXT_MIN:
            QTest.keyClick(view, Qt.Key.Key_Minus, CTRL)
        view.centerOn(card.sceneBoundingRect().center())
        await asyncio.sleep(0.02)
        zoom = view.zoom()
        hands.wheel(window, view.mapFromScene(card.sceneBoundingRect().center()), 1)
        assert view.zoom() > zoom, "the wheel over a zoomed-out card did not zoom"
        assert card.body_scroll() == at, "the wheel scrolled a body nobody can see"


def _drag(view, start: QPoint, end: QPoint, steps: int = 6) -> None:
    vp = view.viewport()
    QTest.mousePress(vp, LEFT, NO_MOD, start)
    for i in range(1, steps + 1):
        QTest.mouseMove(vp, start + (end - start) * (i / steps))
    QTest.mouseRelease(vp, LEFT, NO_MOD, end)


FORMULA_ANSWER = "The model is $y = wx + b$ with a bias.\n\nIts loss is $$L = (y - t)^2$$ summed over the data.\n"


async def test_copying_selected_card_text_keeps_its_formulas(app_env, fake_server):
    """A drag over an answer with formulas, then Ctrl+C, put U+FFFC boxes where the formulas were."""
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    from tests.fakes.server import Answer

    fake_server.script("deepseek-flash", Answer(text=(FORMULA_ANSWER,)))
    async with open_window() as (window, _services):
        await _send(window, "A formula please", ["deepseek:deepseek-flash"])
        view = window.view
        card = _answers(window)[0]
        body = card.body_rect
        QTest.mouseClick(view.viewport(), LEFT, NO_MOD, view.mapFromScene(card.mapToScene(QPointF(body.left() + 30, body.top() + 8))))
        await asyncio.sleep(0.05)
        assert window.scene.selected_ids() == [card.node_id]
        start = view.mapFromScene(card.mapToScene(QPointF(body.left() + 1, body.top() + 6)))
        end = view.mapFromScene(card.mapToScene(QPointF(body.right() - 4, body.bottom() - 4)))
        _drag(view, start, end)
        await asyncio.sleep(0.05)
        QApplication.clipboard().setText("")
        QTest.keyClick(view, Qt.Key.Key_C, CTRL)
        copied = QApplication.clipboard().text()
        assert copied.startswith("The model is"), copied
        assert "\ufffc" not in copied, copied
        assert "$y = wx + b$" in copied and "$$L = (y - t)^2$$" in copied, copied


async def test_copying_from_focus_mode_keeps_the_formulas(app_env, fake_server):
    from PySide6.QtCore import QPointF
    from PySide6.QtWidgets import QApplication

    from tests.fakes.server import Answer

    fake_server.script("deepseek-flash", Answer(text=(FORMULA_ANSWER,)))
    async with open_window() as (window, _services):
        await _send(window, "A formula please", ["deepseek:deepseek-flash"])
        view = window.view
        card = _answers(window)[0]
        body = card.body_rect
        QTest.mouseClick(view.viewport(), LEFT, NO_MOD, view.mapFromScene(card.mapToScene(QPointF(body.left() + 30, body.top() + 8))))
        await asyncio.sleep(0.05)
        QTest.keyClick(view, Qt.Key.Key_F)  # focus mode
        await wait_until(lambda: window._focus_dialog is not None, 3, "focus mode")
        dialog = window._focus_dialog
        await wait_until(lambda: QApplication.activeWindow() is dialog, 3, "focus mode is the active window")
        browser = dialog.browser
        browser.setFocus()
        QApplication.clipboard().setText("")
        QTest.keyClick(browser, Qt.Key.Key_A, CTRL)
        QTest.keyClick(browser, Qt.Key.Key_C, CTRL)
        copied = QApplication.clipboard().text()
        assert "The model is" in copied, copied
        assert "\ufffc" not in copied, copied
        assert "$y = wx + b$" in copied and "$$L = (y - t)^2$$" in copied, copied
        window._focus_dialog.close()


def test_the_model_picker_takes_arrow_keys_from_its_filter_field(app_env):
    """Re-run on another model…, Down Down Return: the third model listed is chosen (the arrows did
    nothing in the filter field, which has the focus, and the first model ran)."""
    from app.catalog import load_catalog
    from app.config import load_settings
    from ui.dialogs import ModelPickerDialog

    settings = load_settings(keyring=False)
    dlg = ModelPickerDialog(load_catalog(settings), settings, exclude="deepseek:deepseek-flash",
                            title="Re-run on another model")
    dlg.show()
    try:
        third = dlg.list.item(2).data(Qt.ItemDataRole.UserRole)
        dlg.filter_edit.setFocus()
        for key in (Qt.Key.Key_Down, Qt.Key.Key_Down):
            QTest.keyClick(dlg.filter_edit, key)  # where the user's keys go: the focused filter
        QTest.keyClick(dlg.filter_edit, Qt.Key.Key_Return)
        assert dlg.result() == ModelPickerDialog.DialogCode.Accepted
        assert dlg.chosen() == third
        # typing a filter, then Down: the second match
        dlg.show()
        QTest.keyClicks(dlg.filter_edit, "claude")
        QTest.keyClick(dlg.filter_edit, Qt.Key.Key_Down)
        shown = [dlg.list.item(i) for i in range(dlg.list.count()) if not dlg.list.item(i).isHidden()]
        assert dlg.chosen() == shown[1].data(Qt.ItemDataRole.UserRole)
    finally:
        dlg.close()


async def test_a_zoomed_out_card_shows_formatting_tags_as_their_text(app_env, fake_server):
    """Zoomed out, an answer with <kbd> keys and <sub>scripts read "Press <kbd>Ctrl</kbd>+…" (the
    card itself draws them as keys and subscripts)."""
    from tests.fakes.server import Answer
    from ui.canvas import constants as C

    fake_server.script("deepseek-flash", Answer(text=("Press <kbd>Ctrl</kbd>+<kbd>C</kbd> to copy H<sub>2</sub>O. a < b > c\n",)))
    async with open_window() as (window, _services):
        await _send(window, "Keys please", ["deepseek:deepseek-flash"])
        card = _answers(window)[0]
        view = window.view
        view.setFocus()
        while view.zoom() >= C.LOD_TEXT_MIN:
            QTest.keyClick(view, Qt.Key.Key_Minus, CTRL)
        assert card.summary_text.startswith("Press Ctrl+C to copy H2O. a < b > c"), card.summary_text


async def test_the_sessions_list_scroll_bar_is_not_black_in_the_light_theme(app_env, fake_server):
    """Search results longer than the sidebar: the list's scroll bar trough was painted black."""
    from PySide6.QtGui import QColor

    from tests.fakes.server import Answer

    for model in ("deepseek-flash", "claude-sonnet-5-5", "gpt-6.2-sol"):
        fake_server.script(model, Answer(text=("A zebra crossing is a striped road crossing.\n",)))
    async with open_window() as (window, _services):
        hands.trigger(window, "View/Theme/Light")
        window.resize(1000, 420)
        await _send(window, "Tell me about zebra crossings")
        hands.press_keys(window, "Ctrl+F")
        hands.type_text(window.sidebar.search_edit, "zebra")
        bar = window.sidebar.list.verticalScrollBar()
        await wait_until(lambda: bar.isVisible() and bar.maximum() > 0, 5, "a sidebar that scrolls")
        await asyncio.sleep(0.05)
        image = bar.grab().toImage()
        # the trough below the handle (the handle sits at the top)
        trough = QColor(image.pixel(image.width() // 2, image.height() - 30))
        assert trough.lightness() > 128, f"the scroll bar trough is {trough.name()} in the light theme"


async def test_a_zoomed_out_card_writes_transposes_and_triple_integrals_as_symbols(app_env, fake_server):
    """Zoomed out, `$w^\\top x$` read "w^(top) x" and `$\\iiint_V$` read "iiint_V"."""
    from tests.fakes.server import Answer
    from ui.canvas import constants as C

    fake_server.script("deepseek-flash", Answer(text=("The model is $w^\\top x$ over $\\iiint_V f\\,dV$ with $a \\perp b$.\n",)))
    async with open_window() as (window, _services):
        await _send(window, "Formulas please", ["deepseek:deepseek-flash"])
        card = _answers(window)[0]
        view = window.view
        view.setFocus()
        while view.zoom() >= C.LOD_TEXT_MIN:
            QTest.keyClick(view, Qt.Key.Key_Minus, CTRL)
        words = card.summary_text
        assert "wᵀ x" in words and "∭" in words and "a ⊥ b" in words, words
        assert "top" not in words and "iiint" not in words and "perp" not in words, words


async def test_a_failed_copy_to_the_team_store_says_so_in_a_dialog(app_env, fake_server):
    """File → Copy to team store… with a server that cannot be reached: the reason only flashed in
    the status bar, cut off at the window's edge. It is said in a dialog (without the password)."""
    from PySide6.QtWidgets import QApplication, QMessageBox

    async with open_window() as (window, _services):
        await _send(window, "What is a monad?", ["deepseek:deepseek-flash"])
        asked: list[str] = []

        def ask_url(default: str) -> str:
            asked.append(default)
            return "postgresql+psycopg://alice:s3cret@127.0.0.1:1/team"

        window.team_copy.ask_url = ask_url  # the user's answer to "PostgreSQL URL:"
        hands.trigger(window, "File/Copy to team store…")
        assert asked, "no URL was asked for"

        def box():
            return next(
                (w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.isVisible()), None
            )

        await wait_until(box, 5, "a dialog saying the copy failed")
        text = box().text()
        try:
            assert "Could not copy" in text and "127.0.0.1" in text, text
            assert "s3cret" not in text, text
        finally:
            box().close()


async def test_an_answer_stopped_before_its_first_token_says_so(app_env, fake_server):
    """Esc before any text arrived left a card with an empty body: only Copy and Retry under its title."""
    async with open_window() as (window, _services):
        window.composer.set_models(["openai:stall"])
        window.composer.edit.setFocus()
        QTest.keyClicks(window.composer.edit, "Anyone there?")
        QTest.keyClick(window.composer.edit, Qt.Key.Key_Return, CTRL)
        await wait_until(lambda: _answers(window), 5, "the answer card")
        card = _answers(window)[0]
        await wait_until(lambda: card.summary_text == "Waiting for the first token…", 5, "the request sent")
        QTest.keyClick(window.composer.edit, Qt.Key.Key_Escape)  # Esc stops the streams
        graph = window.controller.graph
        await wait_until(lambda: graph.nodes[card.node_id].status.value == "stopped", 5, "stopped")
        window.controller.flush_repaints()
        assert card.summary_text == "Stopped before any text arrived."


async def test_the_unreachable_team_store_dialog_at_start_is_in_the_users_theme(app_env):
    """Started with a dark theme and a team store that cannot be reached: the dialog was drawn in
    Qt's light default, began "cannot reach …", and named only the command line to copy later."""
    import socket

    from PySide6.QtGui import QPalette
    from PySide6.QtWidgets import QApplication, QMessageBox

    from ui.app import build_services, close_services

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    (app_env / "config.toml").write_text(
        f'[ui]\ntheme = "dark"\n\n[store]\nurl = "postgresql+psycopg://alice@127.0.0.1:{port}/team"\n'
    )
    app = QApplication.instance()
    style, palette, sheet = app.style().name(), app.palette(), app.styleSheet()
    seen: dict[str, object] = {}

    def answer(box: QMessageBox) -> int:
        seen["text"], seen["info"] = box.text(), box.informativeText()
        seen["window"] = box.palette().color(QPalette.ColorRole.Window).lightness()
        local = next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.AcceptRole)
        local.click()  # "Open the local store"
        return 0

    original = QMessageBox.exec
    QMessageBox.exec = answer
    try:
        services = build_services(interactive=True)
        await close_services(services)
    finally:
        QMessageBox.exec = original
        app.setStyle(style)
        app.setPalette(palette)
        app.setStyleSheet(sheet)
    assert seen, "no dialog"
    assert seen["window"] < 100, f"a light dialog (lightness {seen['window']}) in the dark theme"
    assert str(seen["text"])[:1].isupper(), seen["text"]
    assert "File → Copy to team store" in str(seen["info"]), seen["info"]
