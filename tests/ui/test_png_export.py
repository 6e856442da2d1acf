"""The PNG export (issue #20, part 9): it follows the chosen theme, from the window (File → Export) and
from the command line (`triptych export --format png`), and shows whole answers: a long answer's card
is as tall as its whole text, and the cards under it move down to make room."""

from __future__ import annotations

from PySide6.QtGui import QColor, QImage

from app import cli
from tests.fakes.server import Answer
from tests.ui.conftest import open_window, wait_until
from tests.ui.test_export_gui import ExportDriver
from ui.canvas import constants as C
from ui.export_png import MARGIN

MODEL = "deepseek:deepseek-flash"
SHORT = "A short answer with `code`.\n\n```python\nprint('hi')\n```\n"
LONG = "\n\n".join(f"Paragraph {i}: " + "words of a long answer " * 6 for i in range(40)) + "\n\nTHE END."
SCALE = 2.0


def _theme_action(window, label: str):
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    theme_menu = next(a.menu() for a in view_menu.actions() if a.text() == "Theme")
    return next(a for a in theme_menu.actions() if a.text() == label)


async def _ask(window, fake_server, answer: str) -> str:
    """Ask one model; it streams `answer`. Returns its card's id."""
    fake_server.script("deepseek-flash", Answer(text=(answer[:40], answer[40:])))
    window.composer.set_models([MODEL])
    ids = window.controller.send("Tell me", window.composer.targets(), window.composer.mode())
    graph = window.controller.graph
    await wait_until(lambda: all(not graph.nodes[i].status.is_live for i in ids), 15, "the answer")
    window.controller.flush_repaints()
    return next(i for i in ids if graph.nodes[i].is_answer)


def _dark(color: QColor) -> bool:
    return color.lightness() < 70


def _stripe_run(image: QImage, x: int, y: int, stripe: QColor) -> int:
    """How many pixel rows from (x, y) down are the card's stripe colour."""
    run = 0
    while y + run < image.height():
        c = QColor(image.pixel(x, y + run))
        if abs(c.red() - stripe.red()) + abs(c.green() - stripe.green()) + abs(c.blue() - stripe.blue()) > 40:
            break
        run += 1
    return run


async def test_png_export_from_the_window_follows_the_dark_theme(app_env, fake_server, tmp_path):
    async with open_window() as (window, _services):
        node_id = await _ask(window, fake_server, SHORT)
        _theme_action(window, "Dark").trigger()
        path = ExportDriver(window).export(window.export_action, "png", tmp_path / "dark.png")
        image = QImage(str(path))
        assert _dark(QColor(image.pixel(2, 2))) and _dark(QColor(image.pixel(image.width() - 3, image.height() - 3)))
        card = window.scene.card(node_id)
        bounds = window.scene.cards_bounds()
        inside = card.mapToScene(card.body_rect.bottomRight()) - bounds.topLeft()
        x, y = (inside.x() - 4 + MARGIN) * SCALE, (inside.y() + MARGIN) * SCALE
        assert _dark(QColor(image.pixel(int(x), int(y))))  # the card is dark too


async def test_png_export_from_the_command_line_uses_the_apps_theme(app_env, fake_server, tmp_path):
    async with open_window() as (window, _services):
        await _ask(window, fake_server, SHORT)
        _theme_action(window, "Dark").trigger()  # the app's theme setting, saved
        session_id = window.controller.session.id
    out = tmp_path / "cli.png"
    assert cli.main(["export", session_id, "--format", "png", "-o", str(out)]) == 0
    image = QImage(str(out))
    assert _dark(QColor(image.pixel(2, 2)))
    light = tmp_path / "light.png"
    assert cli.main(["export", session_id, "--format", "png", "--theme", "light", "-o", str(light)]) == 0
    assert not _dark(QColor(QImage(str(light)).pixel(2, 2)))


async def test_png_export_shows_a_long_answer_whole(app_env, fake_server, tmp_path):
    async with open_window() as (window, _services):
        node_id = await _ask(window, fake_server, LONG)
        card = window.scene.card(node_id)
        assert card.can_scroll()  # on the canvas the card shows the top of the answer and scrolls
        lines = card.body_line_rects()
        text_h = max(r.bottom() for r in lines) - min(r.top() for r in lines)
        assert text_h > card.body_rect.height() + 200
        # a follow-up in the same lane: its cards sit right under the long answer
        window.controller.continue_lane(node_id)
        follow = await _ask(window, fake_server, "A follow-up answer.")
        bounds = window.scene.cards_bounds()
        path = ExportDriver(window).export(window.export_action, "png", tmp_path / "whole.png")
        image = QImage(str(path))
        top_left = card.scenePos() - bounds.topLeft()
        x, y = int((top_left.x() + 2 + MARGIN) * SCALE), int((top_left.y() + C.CARD_RADIUS + MARGIN) * SCALE)
        run = _stripe_run(image, x, y, card.stripe_color) / SCALE
        # the card is as tall as its whole text (header, text, metrics: no button row in a picture)
        whole = card.card_height - card.body_rect.height() + text_h - C.ACTIONS_H - 2 * C.CARD_RADIUS
        assert run >= whole - 12, (run, whole, card.card_height)
        # its last line is drawn near its bottom: ink in the rows just above the metrics line
        bottom = y + run * SCALE
        band = range(int(bottom - (C.METRICS_H + 34) * SCALE), int(bottom - (C.METRICS_H + 6) * SCALE))
        assert any(_dark(QColor(image.pixel(xx, yy))) for yy in band for xx in range(x + 30, x + 200, 2))
        # the follow-up's answer is drawn under it, not over it
        follow_card = window.scene.card(follow)
        assert follow_card is not None
        fx = int((follow_card.scenePos().x() - bounds.left() + 2 + MARGIN) * SCALE)
        column = [_stripe_run(image, fx, yy, follow_card.stripe_color) for yy in range(int(bottom), image.height(), 4)]
        assert max(column) / SCALE >= follow_card.card_height - C.ACTIONS_H - 2 * C.CARD_RADIUS - 12
