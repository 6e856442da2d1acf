"""Formula pictures set like text: on the text's baseline, hairlines kept when the canvas is zoomed out,
sharp when it is zoomed in (the smoke test of issue #20 found a full stop riding high after inline math,
fraction bars vanishing below 100 % zoom and soft formulas past 2×)."""

from __future__ import annotations

from PySide6.QtCore import QRectF, QUrl
from PySide6.QtGui import QColor, QFont, QImage, QPainter, QTextDocument

from app.render.markdown import render_markdown
from app.render.math import MATH_SCHEME
from ui import math_images
from ui.canvas.segdoc import SegmentedDocument


def _font() -> QFont:
    font = QFont()
    font.setPixelSize(16)
    return font


def _ink_rows(img: QImage, is_ink) -> list[int]:
    return [y for y in range(img.height()) if any(is_ink(img.pixelColor(x, y)) for x in range(img.width()))]


def _red(c: QColor) -> bool:
    return c.red() > 150 and c.green() < 110 and c.blue() < 110


def _black(c: QColor) -> bool:
    return c.red() < 110 and c.green() < 110 and c.blue() < 110


def test_inline_formula_sits_on_the_text_baseline(qapp):
    """A letter of a formula with a subscript ends on the same pixel row as the text's letters (the
    picture used to hang below the baseline, so a full stop after it looked too high)."""
    for tex in ("$\\mathrm{u}_i$", "$\\mathrm{u}^2_{k}$", "$\\mathrm{u} \\frac{a}{b}$"):
        html = render_markdown(f"uu {tex}.")
        doc = QTextDocument()
        doc.setDocumentMargin(4)
        doc.setDefaultFont(_font())
        doc.setDefaultStyleSheet("body { color: #000000; }")
        math_images.add_math_resources(doc, html, "#ff0000", _font(), immediate=True)
        doc.setHtml(html)
        doc.setTextWidth(300)
        img = QImage(300, int(doc.size().height()) + 8, QImage.Format.Format_ARGB32)
        img.fill(QColor("white"))
        painter = QPainter(img)
        doc.drawContents(painter)
        painter.end()
        first = min(x for x in range(img.width()) for y in range(img.height()) if _red(img.pixelColor(x, y)))
        letter = [y for y in range(img.height()) if any(_red(img.pixelColor(x, y)) for x in range(first, first + 5))]
        text = _ink_rows(img, _black)
        assert letter and text
        assert abs(letter[-1] - text[-1]) <= 1, (tex, letter, text)


def _card_body(tex: str, scale: float) -> tuple[SegmentedDocument, QImage]:
    """A card body showing `tex`, painted as a canvas zoomed to `scale` paints it (twice: pictures
    redrawn for the new zoom are drawn between frames)."""
    body = SegmentedDocument()
    body.set_html(render_markdown(tex), 420, _font(), "#000000")
    math_images.flush()
    img = QImage()
    for _ in range(2):
        img = QImage(int(440 * scale), int((body.height() + 20) * scale), QImage.Format.Format_ARGB32)
        img.fill(QColor("white"))
        painter = QPainter(img)
        painter.scale(scale, scale)
        body.draw(painter, QRectF(10, 10, 420, body.height()), 0, QColor("black"), QColor("blue"))
        painter.end()
        math_images.flush()
    return body, img


def test_fraction_bars_keep_their_ink_when_zoomed_out(qapp):
    """At 65 % zoom a fraction bar is still a solid line across the fraction (it used to fall between
    the sampled rows of a picture drawn for 200 %)."""
    _, img = _card_body("$$\\frac{a+b+c+d+e+f}{x+y}$$", 0.65)

    def longest_run(y: int) -> int:
        best = run = 0
        for x in range(img.width()):
            run = run + 1 if img.pixelColor(x, y).lightness() < 150 else 0
            best = max(best, run)
        return best

    assert max(longest_run(y) for y in range(img.height())) >= 40


def test_formula_pictures_get_sharper_past_2x(qapp):
    """Zoomed to 3×, a formula's picture has three device pixels per logical pixel, not two."""
    body, _ = _card_body("$$\\frac{a+b}{x+y}$$", 3.0)
    (doc,) = [d for d in body.documents() if MATH_SCHEME in d.toHtml()]
    key = doc.toHtml().split(f"{MATH_SCHEME}:")[1].split('"')[0]
    image = doc.resource(QTextDocument.ResourceType.ImageResource, QUrl(f"{MATH_SCHEME}:{key}"))
    assert isinstance(image, QImage)
    assert image.width() >= 2.9 * image.deviceIndependentSize().width()
