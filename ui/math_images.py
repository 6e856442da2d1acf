"""Pictures of LaTeX formulas for cards and focus mode.

app.render writes a formula in a card as `<img src="triptych-math:KEY">`; this module gives a
QTextDocument those images before its HTML is set: each formula drawn by ziamath (an SVG, in the
card's text colour and size), rasterised through QtSvg at the screen's pixel ratio times a zoom
margin, so it stays crisp when the canvas is zoomed in. Cached per formula, colour, size and scale.
A formula ziamath cannot draw shows its source.

Drawing a new formula takes milliseconds (tens for a long one), so a card never waits for it: a
formula not drawn yet shows its source (a cheap picture) and is queued; an idle timer draws the queue
one formula per event-loop turn, then tells the documents that waited (`formulas_drawn()`), which
rebuild only their chunks that had a placeholder. `flush()` draws everything queued at once (the PNG
export); focus mode asks for its pictures at once (`immediate=True`).

Qt main thread only.
"""

from __future__ import annotations

import math
import re
import weakref
from collections import OrderedDict
from typing import Protocol

from PySide6.QtCore import QByteArray, QPointF, QRectF, QTimer, QUrl
from PySide6.QtGui import (
    QColor,
    QFont,
    QFontDatabase,
    QFontInfo,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QPainter,
    QTextDocument,
)
from PySide6.QtSvg import QSvgRenderer

from app.render.math import MATH_SCHEME, formula_of, math_svg

_SRC = re.compile(MATH_SCHEME + r":([0-9a-f]+)\"")
_CACHE_MAX = 1024
_ZOOM_MARGIN = 2.0  # pictures keep their detail up to this zoom
_AXIS = 0.28  # the math axis (fraction bars, minus signs), in em above the baseline
_SIZE = 1.2  # ziamath draws a "size" smaller than the text font of the same pixel size
_Key = tuple[str, str, int, float]  # formula key, colour, pixel size, scale
_cache: OrderedDict[_Key, QImage] = OrderedDict()
_placeholders: OrderedDict[_Key, QImage] = OrderedDict()
_queue: dict[_Key, None] = {}  # formulas waiting to be drawn, in order


class FormulaWaiter(Protocol):
    def formulas_drawn(self) -> None: ...


_waiters: weakref.WeakSet = weakref.WeakSet()
_timer_on = False


def math_keys(html: str) -> list[str]:
    """The formula keys an HTML fragment shows, in order, once each."""
    if MATH_SCHEME not in html:
        return []
    return list(dict.fromkeys(_SRC.findall(html)))


def pixel_size(font: QFont) -> int:
    return max(QFontInfo(font).pixelSize(), 6)


def screen_scale() -> float:
    app = QGuiApplication.instance()
    screens = QGuiApplication.screens() if app is not None else []
    dpr = max((s.devicePixelRatio() for s in screens), default=1.0)
    return max(dpr, 1.0) * _ZOOM_MARGIN


def add_math_resources(
    doc: QTextDocument,
    html: str,
    color: str,
    font: QFont,
    waiter: FormulaWaiter | None = None,
    immediate: bool = False,
) -> int:
    """Give `doc` the picture of each formula in `html` (call before `doc.setHtml(html)`).

    A formula not drawn yet gets its source as a placeholder (unless `immediate`) and is queued;
    `waiter.formulas_drawn()` is called once the queue is drawn. Returns how many placeholders
    `doc` got."""
    keys = math_keys(html)
    if not keys:
        return 0
    px = pixel_size(font)
    scale = screen_scale()
    color = QColor(color).name()
    pending = 0
    for key in keys:
        cache_key = (key, color, px, scale)
        image = _cache.get(cache_key)
        if image is None:
            if immediate:
                image = formula_image(key, color, px, scale)
            else:
                image = _placeholder(cache_key)
                _queue[cache_key] = None
                pending += 1
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(f"{MATH_SCHEME}:{key}"), image)
    if pending:
        if waiter is not None:
            _waiters.add(waiter)
        _start_timer()
    return pending


def _placeholder(cache_key: _Key) -> QImage:
    image = _placeholders.get(cache_key)
    if image is None:
        key, color, px, scale = cache_key
        formula = formula_of(key)
        muted = QColor(color)
        muted.setAlphaF(0.6)
        image = _draw_source(_source_of(formula), False, muted.name(QColor.NameFormat.HexArgb), px, scale)
        _placeholders[cache_key] = image
        if len(_placeholders) > _CACHE_MAX:
            _placeholders.popitem(last=False)
    return image


def _source_of(formula: tuple[str, bool] | None) -> str:
    if formula is None:
        return "?"
    latex, display = formula
    return f"$${latex}$$" if display else f"${latex}$"


def _start_timer() -> None:
    global _timer_on
    if not _timer_on and QGuiApplication.instance() is not None:
        _timer_on = True
        QTimer.singleShot(0, _draw_next)


def _draw_next() -> None:
    """Draw one queued formula per event-loop turn; when the queue is empty, tell the waiters."""
    global _timer_on
    _timer_on = False
    if _queue:
        cache_key = next(iter(_queue))
        del _queue[cache_key]
        formula_image(*cache_key)
    if _queue:
        _start_timer()
    else:
        _notify()


def _notify() -> None:
    waiters = list(_waiters)
    _waiters.clear()
    for waiter in waiters:
        waiter.formulas_drawn()


def pending_count() -> int:
    """How many formulas wait to be drawn."""
    return len(_queue)


def flush() -> None:
    """Draw every queued formula now and tell the waiters (the PNG export, before rendering)."""
    while _queue:
        cache_key = next(iter(_queue))
        del _queue[cache_key]
        formula_image(*cache_key)
    _notify()


def formula_image(key: str, color: str, px: int, scale: float) -> QImage:
    cache_key = (key, color, px, scale)
    image = _cache.get(cache_key)
    if image is not None:
        _cache.move_to_end(cache_key)
        return image
    formula = formula_of(key)
    image = None
    if formula is not None:
        image = _draw_formula(formula[0], formula[1], color, px, scale)
        if image is None:
            image = _draw_source(formula[0], formula[1], color, px, scale)
    if image is None:
        image = _draw_source("?", False, color, px, scale)
    _cache[cache_key] = image
    if len(_cache) > _CACHE_MAX:
        _cache.popitem(last=False)
    return image


def _draw_formula(latex: str, display: bool, color: str, px: int, scale: float) -> QImage | None:
    drawn = math_svg(latex, display, color, round(px * _SIZE, 1))
    if drawn is None:
        return None
    svg, baseline = drawn
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    if not renderer.isValid():
        return None
    box = renderer.viewBoxF()
    w, h = box.width(), box.height()
    if w <= 0 or h <= 0:
        return None
    top_pad = bottom_pad = 0.0
    if not display:
        # Inline: the card aligns the picture's middle with the middle of the line, so pad it to
        # put the math axis in the middle; the formula then sits on the text's baseline.
        above = baseline - _AXIS * px * _SIZE
        below = h - above
        top_pad, bottom_pad = max(below - above, 0.0), max(above - below, 0.0)
    full_h = h + top_pad + bottom_pad
    image = QImage(math.ceil(w * scale), math.ceil(full_h * scale), QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    renderer.render(painter, QRectF(0, top_pad * scale, w * scale, h * scale))
    painter.end()
    image.setDevicePixelRatio(scale)
    return image


def _draw_source(latex: str, display: bool, color: str, px: int, scale: float) -> QImage:
    """The formula's source in a monospace font (what a card shows when it cannot be drawn)."""
    font = QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont)
    font.setPixelSize(px)
    metrics = QFontMetricsF(font)
    text = latex.strip().replace("\n", " ")
    w = max(metrics.horizontalAdvance(text) + 6, 4.0)
    h = metrics.height() + 2
    image = QImage(math.ceil(w * scale), math.ceil(h * scale), QImage.Format.Format_ARGB32_Premultiplied)
    image.fill(0)
    painter = QPainter(image)
    painter.scale(scale, scale)
    painter.setFont(font)
    painter.setPen(QColor(color))
    painter.drawText(QPointF(3, 1 + metrics.ascent()), text)
    painter.end()
    image.setDevicePixelRatio(scale)
    return image
