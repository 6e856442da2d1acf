"""Formulas in cards: a streamed answer with LaTeX shows each formula as a picture the card draws."""

from __future__ import annotations

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QImage, QTextDocument
from PySide6.QtTest import QTest

from app.domain import NodeStatus
from app.render.math import MATH_SCHEME
from tests.fakes.server import Answer
from tests.ui.conftest import DEFAULT_MODELS, cards_of, open_window, wait_until
from ui import math_images

ANSWER = (
    "The Gaussian integral is $\\int_0^\\infty e^{-x^2}\\,dx = \\frac{\\sqrt{\\pi}}{2}$, and it costs $5 and $10.\n\n"
    "$$\n\\mathcal{L}(\\theta) = -\\sum_{i=1}^{n} y_i \\log \\hat{y}_i\n$$\n\n"
    "Done."
)


def _formula_images(card) -> list[QImage]:
    """The pictures the card's documents hold for its formulas (what QTextDocument paints)."""
    images = []
    for doc in card.text_documents():
        html = doc.toHtml()
        for key in sorted(set(part.split('"')[0] for part in html.split(f"{MATH_SCHEME}:")[1:])):
            res = doc.resource(QTextDocument.ResourceType.ImageResource, QUrl(f"{MATH_SCHEME}:{key}"))
            if isinstance(res, QImage) and not res.isNull():
                images.append(res)
    return images


async def test_a_streamed_formula_is_painted_as_a_picture(app_env, fake_server, qtbot):
    pieces = tuple(ANSWER[i : i + 9] for i in range(0, len(ANSWER), 9))
    for model in DEFAULT_MODELS:
        fake_server.script(model.split(":", 1)[1], Answer(text=pieces))
    async with open_window() as (window, _services):
        QTest.keyClicks(window.composer.edit, "What is the Gaussian integral?")
        QTest.keyClick(window.composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        graph = window.controller.graph

        def answers():
            return [c for c in cards_of(window) if graph.nodes[c.node_id].is_answer]

        await wait_until(
            lambda: len(answers()) == 3 and all(graph.nodes[c.node_id].status == NodeStatus.DONE for c in answers()),
            15,
            "three answers done",
        )
        card = answers()[0]
        node = graph.nodes[card.node_id]
        assert node.text == ANSWER, (node.text, node.error)
        await wait_until(lambda: "Done." in card.body_text, 5, "the final text shown")
        text = card.body_text
        assert "costs $5 and $10" in text  # currency is text
        assert "\\frac" not in text and "$$" not in text  # the formulas are pictures, not source
        # The queued formulas are drawn on idle turns of the loop; then the card holds two pictures
        # of plausible size: the inline integral about a line high, the display formula wider.
        await wait_until(lambda: len(_formula_images(card)) == 2, 5, "two formula pictures")

        def sizes():
            return sorted((img.deviceIndependentSize().width(), img.deviceIndependentSize().height())
                          for img in _formula_images(card))

        await wait_until(lambda: math_images.pending_count() == 0, 5, "the queued formulas drawn")
        await wait_until(lambda: len(_formula_images(card)) == 2, 5, "the card rebuilt with the pictures")
        # Drawn formulas, not their one-line source (a placeholder is a line high and much wider).
        (w1, h1), (w2, h2) = sizes()
        assert 60 < w1 < 300 and 30 <= h1 < 90, sizes()
        assert 60 < w2 < 300 and 30 <= h2 < 90, sizes()
        # A picture is drawn in the text colour: it has opaque pixels of that colour (as many device
        # pixels as the card is painted on: the canvas's zoom times the screen's pixel ratio).
        img = _formula_images(card)[0]
        opaque = sum(1 for y in range(img.height()) for x in range(img.width()) if img.pixelColor(x, y).alpha() > 200)
        assert opaque > 20


async def test_focus_mode_formulas_stay_sharp_after_the_canvas_was_zoomed_out(app_env, fake_server, qtbot):
    """Cards painted zoomed out get formula pictures with fewer pixels; focus mode (not zoomed) still
    gets pictures with at least one device pixel per pixel, not the canvas's smaller ones."""
    from PySide6.QtGui import QAction

    for model in DEFAULT_MODELS:
        fake_server.script(model.split(":", 1)[1], Answer(text=(ANSWER,)))
    async with open_window() as (window, _services):
        QTest.keyClicks(window.composer.edit, "What is the Gaussian integral?")
        QTest.keyClick(window.composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
        graph = window.controller.graph

        def answers():
            return [c for c in cards_of(window) if graph.nodes[c.node_id].is_answer]

        await wait_until(
            lambda: len(answers()) == 3 and all(graph.nodes[c.node_id].status == NodeStatus.DONE for c in answers()),
            15,
            "three answers done",
        )
        card = answers()[0]
        zoom_out = next(a for a in window.findChildren(QAction) if a.text() == "Zoom out")
        while window.view.transform().m11() > 0.8:
            zoom_out.trigger()
        assert window.view.transform().m11() > 0.5
        window.view.viewport().grab()  # the canvas painted at that zoom
        await wait_until(lambda: math_images.pending_count() == 0, 5, "the formulas drawn for the zoom")
        window.view.viewport().grab()
        window.scene.select_only([card.node_id])
        window.view.setFocus()
        next(a for a in window.findChildren(QAction) if a.text() == "Focus mode").trigger()
        dialog = window._focus_dialog
        await wait_until(lambda: dialog is not None and dialog.isVisible(), 5, "focus mode open")
        doc = dialog.browser.document()
        html = doc.toHtml()
        keys = sorted(set(part.split('"')[0] for part in html.split(f"{MATH_SCHEME}:")[1:]))
        assert keys
        for key in keys:
            image = doc.resource(QTextDocument.ResourceType.ImageResource, QUrl(f"{MATH_SCHEME}:{key}"))
            assert isinstance(image, QImage)
            assert image.width() >= image.deviceIndependentSize().width(), key
        dialog.close()
