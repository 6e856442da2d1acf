"""Pictures of LaTeX formulas for cards and focus mode.

app.render writes a formula in a card as `<img src="triptych-math:KEY">`; this module gives a
QTextDocument those images before its HTML is set: each formula drawn by ziamath (an SVG, in the
card's text colour and size), rasterised through QtSvg for the device pixels it is painted on: the card
body asks again for the zoom it is painted at (`rescale`, in steps of √2, never fewer pixels than
shown), so a formula stays sharp zoomed in and keeps its hairlines (fraction bars, radicals: at least
one device pixel thick) zoomed out. Cached per formula, colour, size and scale. An inline picture is
padded so that, placed the way QTextDocument places an `align="middle"` image, the formula's baseline
lies on the text's (see `_pads`). A formula ziamath cannot draw shows its source.

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
    QFontMetrics,
    QFontMetricsF,
    QGuiApplication,
    QImage,
    QPainter,
    QTextCursor,
    QTextDocument,
)
from PySide6.QtSvg import QSvgRenderer

from app.render.math import MATH_SCHEME, formula_of, math_svg

_SRC = re.compile(MATH_SCHEME + r":([0-9a-f]+)\"")
_CACHE_MAX = 1024
_ZOOM_MARGIN = 2.0  # pictures made before anything was painted keep their detail up to this zoom
_SIZE = 1.2  # ziamath draws a "size" smaller than the text font of the same pixel size
_PIXELS_MAX = 24_000_000  # the cache's budget, in pixels (about 100 MB)
_Metrics = tuple[float, float, float]  # the text's ascent, descent and x-height
_Key = tuple[str, str, int, _Metrics, float]  # formula key, colour, pixel size, text metrics, scale
_cache: OrderedDict[_Key, QImage] = OrderedDict()
_cache_pixels = 0
_view_scale: float | None = None  # the scale cards were last painted at (see rescale)
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


def scale_bucket(device_scale: float) -> float:
    """The scale to rasterise at for pictures shown at `device_scale` device pixels per pixel: the next
    step of √2 up (or half-integer, whichever is smaller), from 0.5; a picture is never enlarged when
    shown and shrunk by at most √2 (smooth scaling keeps its hairlines)."""
    s = max(device_scale, 0.5)
    step = 2 ** (math.ceil(math.log2(s) * 2 - 1e-6) / 2)
    return round(min(step, math.ceil(s * 2 - 1e-6) / 2), 3)


def text_metrics(font: QFont) -> _Metrics:
    """What decides where QTextDocument puts an `align="middle"` image on a line of `font` text."""
    metrics = QFontMetricsF(font)
    return (
        round(metrics.ascent() * 4) / 4,
        round(metrics.descent() * 4) / 4,
        round(QFontMetrics(font).xHeight() * 4) / 4,
    )


def _pads(h: float, baseline: float, text: _Metrics) -> tuple[float, float]:
    """Padding (top, bottom) for an inline formula picture `h` high, its baseline `baseline` below its
    top, so that it sits on the baseline of a line of text with metrics `text`.

    QTextDocument lays an `align="middle"` image out with ascent (H + x/2)/2 and descent (H - x/2)/2
    (x: the x-height), which may make the line taller, then draws it centred on the line:
    its middle is (ascent - descent)/2 of the *line* above the baseline. Padding the top lowers the
    formula's baseline in the picture faster than it moves the middle; padding the bottom the other
    way: the right amount is found by bisection."""
    ascent, descent, x_height = text

    def low(top: float, bottom: float) -> float:  # how far the formula's baseline sits below the text's
        full = h + top + bottom
        middle = (max(ascent, (full + x_height / 2) / 2) - max(descent, (full - x_height / 2) / 2)) / 2
        return (baseline + top) - (full / 2 + middle)

    miss = low(0.0, 0.0)
    if abs(miss) < 0.01:
        return 0.0, 0.0
    lo, hi = 0.0, 8 * (abs(miss) + 1)
    for _ in range(40):
        mid = (lo + hi) / 2
        if (low(mid, 0.0) if miss < 0 else -low(0.0, mid)) < 0:
            lo = mid
        else:
            hi = mid
    return (hi, 0.0) if miss < 0 else (0.0, hi)


def add_math_resources(
    doc: QTextDocument,
    html: str,
    color: str,
    font: QFont,
    waiter: FormulaWaiter | None = None,
    immediate: bool = False,
    scale: float | None = None,
) -> int:
    """Give `doc` the picture of each formula in `html` (call before `doc.setHtml(html)`), rasterised
    at `scale` device pixels per pixel (default: the scale cards were last painted at).

    A formula not drawn yet gets its source as a placeholder (unless `immediate`) and is queued;
    `waiter.formulas_drawn()` is called once the queue is drawn. Returns how many placeholders
    `doc` got."""
    keys = math_keys(html)
    if not keys:
        return 0
    px = pixel_size(font)
    metrics = text_metrics(font)
    if scale is None:
        scale = _view_scale if _view_scale is not None else screen_scale()
    color = QColor(color).name()
    pending = 0
    for key in keys:
        cache_key = (key, color, px, metrics, scale)
        image = _cache.get(cache_key)
        if image is None:
            if immediate:
                image = formula_image(key, color, px, metrics, scale)
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


def rescale(
    doc: QTextDocument, keys: list[str], color: str, font: QFont, scale: float, waiter: FormulaWaiter
) -> bool:
    """Give `doc` its formulas' pictures for `scale` (see `scale_bucket`; it was painted at that scale).
    Pictures already drawn replace the old ones at once (same size on the page: no new layout); the
    others are queued and `waiter.formulas_drawn()` is called when they are ready. True if all were
    there (the document shows `scale` now)."""
    global _view_scale
    _view_scale = scale
    px = pixel_size(font)
    metrics = text_metrics(font)
    color = QColor(color).name()
    ready: list[tuple[str, QImage]] = []
    for key in keys:
        cache_key = (key, color, px, metrics, scale)
        image = _cache.get(cache_key)
        if image is None:
            _queue[cache_key] = None
        else:
            ready.append((key, image))
    if len(ready) < len(keys):
        _waiters.add(waiter)
        _start_timer()
        return False
    for key, image in ready:
        doc.addResource(QTextDocument.ResourceType.ImageResource, QUrl(f"{MATH_SCHEME}:{key}"), image)
    return True


def _placeholder(cache_key: _Key) -> QImage:
    image = _placeholders.get(cache_key)
    if image is None:
        key, color, px, _metrics, scale = cache_key
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


def selection_text(cursor: QTextCursor) -> str:
    """What `cursor` selects, as QTextCursor.selectedText() (paragraphs end in U+2029), with each
    formula picture written as its source (`$…$`, `$$…$$`) instead of U+FFFC, the object character
    Qt gives a picture: copied text keeps its formulas. Another picture is left out."""
    text = cursor.selectedText()
    if "\ufffc" not in text:
        return text
    start = cursor.selectionStart()
    probe = QTextCursor(cursor.document())
    out = []
    for i, ch in enumerate(text):
        if ch != "\ufffc":
            out.append(ch)
            continue
        probe.setPosition(start + i + 1)  # the format of the character before the cursor: this one
        fmt = probe.charFormat()
        name = fmt.toImageFormat().name() if fmt.isImageFormat() else ""
        prefix = MATH_SCHEME + ":"
        out.append(_source_of(formula_of(name[len(prefix) :])) if name.startswith(prefix) else "")
    return "".join(out)


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


def formula_image(key: str, color: str, px: int, metrics: _Metrics, scale: float) -> QImage:
    global _cache_pixels
    cache_key = (key, color, px, metrics, scale)
    image = _cache.get(cache_key)
    if image is not None:
        _cache.move_to_end(cache_key)
        return image
    formula = formula_of(key)
    image = None
    if formula is not None:
        image = _draw_formula(formula[0], formula[1], color, px, metrics, scale)
        if image is None:
            image = _draw_source(formula[0], formula[1], color, px, scale)
    if image is None:
        image = _draw_source("?", False, color, px, scale)
    _cache[cache_key] = image
    _cache_pixels += image.width() * image.height()
    while len(_cache) > 1 and (len(_cache) > _CACHE_MAX or _cache_pixels > _PIXELS_MAX):
        _, old = _cache.popitem(last=False)
        _cache_pixels -= old.width() * old.height()
    return image


_RECT = re.compile(r'<rect x="([-\d.e]+)" y="([-\d.e]+)" width="([-\d.e]+)" height="([-\d.e]+)"')


def _hairlines(svg: str, scale: float) -> str:
    """`svg` with its bars (fraction bars, radicals' and overlines' rules: ziamath draws them as rects)
    at least one device pixel thick at `scale`, so they never fade out or fall between pixel rows."""
    least = 1.0 / scale

    def widen(m: re.Match[str]) -> str:
        x, y, w, h = (float(v) for v in m.groups())
        if h < least:
            y, h = y - (least - h) / 2, least
        if w < least:
            x, w = x - (least - w) / 2, least
        return f'<rect x="{x:.3f}" y="{y:.3f}" width="{w:.3f}" height="{h:.3f}"'

    return _RECT.sub(widen, svg)


def _draw_formula(
    latex: str, display: bool, color: str, px: int, metrics: _Metrics, scale: float
) -> QImage | None:
    drawn = math_svg(latex, display, color, round(px * _SIZE, 1))
    if drawn is None:
        return None
    svg, baseline = drawn
    svg = _hairlines(svg, scale)
    renderer = QSvgRenderer(QByteArray(svg.encode("utf-8")))
    if not renderer.isValid():
        return None
    box = renderer.viewBoxF()
    w, h = box.width(), box.height()
    if w <= 0 or h <= 0:
        return None
    top_pad = bottom_pad = 0.0
    if not display:
        # Inline (align="middle"): padded so the formula's baseline lies on the text's (a full stop
        # after the formula sits level with it).
        top_pad, bottom_pad = _pads(h, baseline, metrics)
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
