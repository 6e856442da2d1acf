"""How a card draws itself at each zoom: in full (header with its status chip, sections, body,
metrics or file tiles, buttons), as an overview (title and first words in device-pixel fonts), or as
a block (a title over a tint of its colour).

`CardPainter` reads only what `CardItem.sync` computed (the card's `state` and parts); the one thing
it keeps is the laid-out overview text of its card. Qt main thread only.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPainterPath, QPen, QStaticText, QTransform
from PySide6.QtWidgets import QStyleOptionGraphicsItem

from ui.canvas import constants as C
from ui.canvas.card_body import paint_text_skeleton
from ui.canvas.card_buttons import paint_buttons, paint_file_tiles
from ui.canvas.card_state import CardState

if TYPE_CHECKING:
    from ui.canvas.cards import CardItem
    from ui.canvas.style import CardStyle

_ELIDE_RIGHT = Qt.TextElideMode.ElideRight
_LEFT_MIDDLE = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
TINY_RADIUS_PX = 1.5  # below this on screen, a card's rounded corners are drawn square (see paint)


class CardPainter:
    """Paints one card (its `CardItem.paint` calls `paint`)."""

    __slots__ = ("card", "overview_text")

    def __init__(self, card: CardItem) -> None:
        self.card = card
        # the overview's wrapped text, laid out once per (text, width, font size)
        self.overview_text: tuple[tuple[str, int, int], QStaticText] | None = None

    def __repr__(self) -> str:
        return f"<CardPainter {self.card!r}>"

    def paint(self, painter: QPainter) -> None:
        card = self.card
        st = card.state
        style = card.card_style
        theme = style.theme
        lod = QStyleOptionGraphicsItem.levelOfDetailFromTransform(painter.worldTransform())
        rect = QRectF(0, 0, st.width, st.height)
        selected = card.isSelected()
        border = QColor(theme.card_selected if selected else theme.card_border)
        painter.setPen(QPen(border, 2.0 if selected else 1.0))
        painter.setBrush(QBrush(card.background()))
        if lod * C.CARD_RADIUS < TINY_RADIUS_PX:
            # So far out that the corners round by less than a pixel: square, aliased shapes look the
            # same and cost a fifth (an antialiased rounded rectangle is ~20 µs; benchmark 6 paints
            # ~500 of these for a zoomed-out 10k-card session's first frame).
            painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
            painter.drawRect(rect)
            painter.setPen(Qt.PenStyle.NoPen)
            painter.setBrush(st.stripe)
            painter.drawRect(QRectF(0, 0, C.STRIPE_W, st.height))
            if st.width * lod >= C.OVERVIEW_MIN_W_PX:
                self.paint_overview(painter, st, style, lod, tiny=True)
            else:
                paint_low_detail(painter, st, style, tiny=True)
            return
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.drawRoundedRect(rect, C.CARD_RADIUS, C.CARD_RADIUS)
        # colour stripe on the left edge
        stripe = QPainterPath()
        stripe.addRoundedRect(
            QRectF(0.5, 0.5, C.STRIPE_W + C.CARD_RADIUS, st.height - 1), C.CARD_RADIUS, C.CARD_RADIUS
        )
        clip = QPainterPath()
        clip.addRect(QRectF(0, 0, C.STRIPE_W, st.height))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(st.stripe)
        painter.drawPath(stripe.intersected(clip))
        if lod < C.LOD_TEXT_MIN:
            if st.width * lod >= C.OVERVIEW_MIN_W_PX:
                self.paint_overview(painter, st, style, lod)
            else:
                paint_low_detail(painter, st, style)
            return
        if not st.elided:
            st.elide(style)
        paint_header(painter, st, style)
        hovered_action = card.pointer.hover_button
        if st.collapsed:
            painter.setFont(style.small_font)
            painter.setPen(QColor(theme.muted))
            painter.drawText(st.preview_rect, _LEFT_MIDDLE, st.preview_shown)
            paint_buttons(painter, st.buttons, style, hovered_action)
            return
        card.reasoning.paint(painter, st, style)
        card.error_box.paint(painter, st, style)
        self.paint_body(painter, st, style)
        node = card.node
        if st.file_buttons and node is not None:
            paint_file_tiles(painter, st, node, style, hovered_action)
        else:
            paint_metrics(painter, st, style)
        paint_buttons(painter, st.buttons, style, hovered_action)
        if card.pointer.hovered or selected:  # code Copy buttons appear on hover, off the code
            paint_buttons(painter, st.code_buttons, style, hovered_action, small=True)

    def paint_body(self, painter: QPainter, st: CardState, style: CardStyle) -> None:
        if st.body_placeholder:
            painter.setFont(style.body_font)
            painter.setPen(QColor(style.theme.muted))
            painter.drawText(st.body_rect, _LEFT_MIDDLE, st.body_placeholder)
            return
        if st.body_rect.height() <= 0:
            return
        card = self.card
        if not card.has_documents:
            # Shown before its documents exist (the scene builds them in a moment): grey text lines.
            paint_text_skeleton(painter, st.body_rect, style)
            card.request_detail()
            return
        card.body.paint(painter, st, style)

    def paint_overview(
        self, painter: QPainter, st: CardState, style: CardStyle, lod: float, tiny: bool = False
    ) -> None:
        """A zoomed-out card that is still a fair size on screen: its title and its first words, in
        fonts sized in device pixels (legible at any zoom), over a tint of its colour.

        Drawn in device pixels (the painter scaled by 1/lod); the wrapped text is a QStaticText laid
        out once per card and text width (in 4 px steps), so a frame of many cards only draws glyphs.
        """
        theme = style.theme
        painter.save()
        painter.scale(1.0 / lod, 1.0 / lod)
        w, h = st.width * lod, st.height * lod
        left = C.STRIPE_W * lod + C.OVERVIEW_PAD_PX
        right = w - C.OVERVIEW_PAD_PX
        band_h = min(style.overview_title_px + 2 * C.OVERVIEW_PAD_PX, h)
        painter.setPen(Qt.PenStyle.NoPen)
        tint = QColor(st.stripe)
        tint.setAlpha(28)
        painter.setBrush(tint)
        painter.drawRect(QRectF(C.STRIPE_W * lod, band_h, w - C.STRIPE_W * lod - 1, h - band_h - 1))
        if st.status_key:
            r = max(min(band_h / 5, 4.0), 2.0)
            painter.setBrush(theme.status_color(st.status_key))
            dot = QPointF(right - r, band_h / 2)
            if tiny:
                painter.drawRect(QRectF(dot.x() - r, dot.y() - r, 2 * r, 2 * r))
            else:
                painter.drawEllipse(dot, r, r)
            right -= 2 * r + 4
        text = st.overview or st.body_placeholder
        body = QRectF(left, band_h + 2, w - C.OVERVIEW_PAD_PX - left, h - band_h - 2 - C.OVERVIEW_PAD_PX)
        title = st.title
        if body.height() < style.overview_text_px and st.overview:
            title = f"{title}: {st.overview}"  # no room under the title (a prompt): the words beside it
        painter.setPen(QColor(theme.text))
        painter.setFont(style.overview_title_font)
        title_w = max(right - left, 1.0)
        painter.drawText(
            QRectF(left, 0, title_w, band_h),
            _LEFT_MIDDLE,
            style.overview_title_metrics.elidedText(title, _ELIDE_RIGHT, title_w),
        )
        if text and body.height() >= style.overview_text_px and body.width() > 8:
            width = max(math.floor(body.width() / 4) * 4, 8)
            cached = self.overview_text
            if cached is None or cached[0] != (text, width, style.overview_text_px):
                static = QStaticText(text)
                static.setTextFormat(Qt.TextFormat.PlainText)
                static.setTextWidth(width)
                static.prepare(QTransform(), style.overview_font)
                cached = self.overview_text = ((text, width, style.overview_text_px), static)
            lines = max(math.floor(body.height() / style.overview_line_px), 1)
            painter.setClipRect(QRectF(body.left(), body.top(), body.width(), lines * style.overview_line_px))
            painter.setFont(style.overview_font)
            painter.setPen(QColor(theme.text if st.overview else theme.muted))
            painter.drawStaticText(body.topLeft(), cached[1])
        painter.restore()


def paint_low_detail(painter: QPainter, st: CardState, style: CardStyle, tiny: bool = False) -> None:
    """A zoomed-out card: its title over a block of its colour. `tiny`: square shapes (see paint)."""
    theme = style.theme
    painter.setBrush(QColor(theme.card_header))
    bar = QRectF(C.STRIPE_W, 0, st.width - C.STRIPE_W, C.HEADER_H * 1.6)
    painter.drawRect(bar.adjusted(0, 1, -1, 0))
    painter.setPen(QColor(theme.text))
    painter.setFont(style.lod_font)
    painter.drawText(bar.adjusted(C.CARD_PAD, 0, -C.CARD_PAD, 0), _LEFT_MIDDLE, st.title)
    block = QColor(st.stripe)
    block.setAlpha(60)
    painter.setPen(Qt.PenStyle.NoPen)
    painter.setBrush(block)
    inner = QRectF(
        C.STRIPE_W + C.CARD_PAD,
        bar.bottom() + C.CARD_PAD,
        st.width - C.STRIPE_W - 2 * C.CARD_PAD,
        max(st.height - bar.bottom() - 2 * C.CARD_PAD, 4),
    )
    if tiny:
        painter.drawRect(inner)
    else:
        painter.drawRoundedRect(inner, 6, 6)
    if st.status_key:
        painter.setBrush(theme.status_color(st.status_key))
        dot = QPointF(st.width - 24, bar.center().y())
        if tiny:
            painter.drawRect(QRectF(dot.x() - 10, dot.y() - 10, 20, 20))
        else:
            painter.drawEllipse(dot, 10, 10)


def paint_header(painter: QPainter, st: CardState, style: CardStyle) -> None:
    """The title (and subtitle), the status chip at the right, and the line under them."""
    theme = style.theme
    painter.setFont(style.title_font)
    painter.setPen(QColor(theme.text))
    align = Qt.AlignmentFlag.AlignBottom if st.subtitle else Qt.AlignmentFlag.AlignVCenter
    painter.drawText(st.title_rect, Qt.AlignmentFlag.AlignLeft | align, st.title_shown)
    if st.subtitle_shown:
        painter.setFont(style.small_font)
        painter.setPen(QColor(theme.muted))
        painter.drawText(
            st.subtitle_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignTop, st.subtitle_shown
        )
    if st.status_text:
        color = theme.status_color(st.status_key)
        fill = QColor(color)
        fill.setAlpha(38 if not theme.is_dark else 56)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(fill)
        painter.drawRoundedRect(st.status_rect, st.status_rect.height() / 2, st.status_rect.height() / 2)
        painter.setBrush(color)
        dot = QPointF(st.status_rect.left() + 9, st.status_rect.center().y())
        painter.drawEllipse(dot, 3.2, 3.2)
        painter.setPen(color)
        painter.setFont(style.small_bold_font)
        painter.drawText(st.status_rect.adjusted(16, 0, -8, 0), Qt.AlignmentFlag.AlignVCenter, st.status_text)
    painter.setPen(QPen(QColor(theme.card_border), 1.0))
    painter.drawLine(QPointF(C.STRIPE_W, C.HEADER_H), QPointF(st.width, C.HEADER_H))


def paint_metrics(painter: QPainter, st: CardState, style: CardStyle) -> None:
    """The metrics line (tokens, speed, cost) over its separator."""
    if st.metrics_rect is None or not st.metrics_text:
        return
    theme = style.theme
    painter.setPen(QPen(QColor(theme.card_border), 1.0))
    painter.drawLine(
        QPointF(st.metrics_rect.left(), st.metrics_rect.top()),
        QPointF(st.metrics_rect.right(), st.metrics_rect.top()),
    )
    painter.setFont(style.small_font)
    painter.setPen(QColor(theme.muted))
    painter.drawText(st.metrics_rect, _LEFT_MIDDLE, st.metrics_shown)
