"""A card's buttons: the action row at its foot, a prompt's row of file tiles, where each is
(`action_row`, `file_tile_row`, computed in `CardItem.sync`), which is under the mouse
(`button_at`), and how they are drawn. Pure functions of the card's state and style.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPen

from app import layout
from app.domain import Node
from ui.canvas import constants as C
from ui.canvas.card_state import CardButton, CardState

if TYPE_CHECKING:
    from app.attachments import Attachment
    from ui.canvas.style import CardStyle

MORE_TILE_W = 48.0  # the "+N" tile after the files that do not fit


def action_row(
    actions: Sequence[tuple[str, str, bool]], style: CardStyle, y: float, left: float, w: float
) -> list[CardButton]:
    """The buttons of a row at `y` from `left`, `w` wide: left to right, the "⋯" menu at the right end."""
    out: list[CardButton] = []
    x = left
    row_y = y + (C.ACTIONS_H - C.BUTTON_H) / 2
    for action, label, primary in actions:
        bw = style.small_advance(label) + 18.0
        if action == "menu":
            rect = QRectF(left + w - bw, row_y, bw, C.BUTTON_H)
        else:
            rect = QRectF(x, row_y, bw, C.BUTTON_H)
            x += bw + 6.0
        out.append(CardButton(action, label, rect, primary))
    return out


def tile_width(att: Attachment) -> float:
    """A file's tile on a prompt card: an image as wide as its picture at FILE_TILE_H (within limits),
    a PDF or text file as a chip."""
    if att.kind == "image" and att.width and att.height:
        return max(40.0, min(C.FILE_TILE_H * att.width / att.height, 160.0))
    return 168.0


def file_tile_row(files: Sequence[Attachment], y: float, left: float, w: float) -> list[CardButton]:
    """A prompt's files as tiles in a row at `y`: as many as fit, then "+N" (action "open_file:<i>")."""
    out: list[CardButton] = []
    h = C.FILE_TILE_H
    top = y + (layout.FILES_ROW_H - h) / 2 - 4.0
    widths = [tile_width(a) for a in files]
    shown = len(files)
    while (
        shown
        and sum(widths[:shown]) + 8.0 * (shown - 1) + (MORE_TILE_W + 8.0 if shown < len(files) else 0.0) > w
    ):
        shown -= 1
    x = left
    for i in range(shown):
        out.append(CardButton(f"open_file:{i}", files[i].name, QRectF(x, top, widths[i], h), arg=i))
        x += widths[i] + 8.0
    if shown < len(files):
        out.append(
            CardButton(
                f"open_file:{shown}", f"+{len(files) - shown}", QRectF(x, top, MORE_TILE_W, h), arg=shown
            )
        )
    return out


def button_at(st: CardState, pos: QPointF) -> CardButton | None:
    """The button under `pos` (item coordinates): code Copy buttons first (they sit over the body)."""
    for b in st.code_buttons + st.buttons + st.file_buttons:
        if b.rect.contains(pos):
            return b
    return None


def paint_buttons(
    painter: QPainter,
    buttons: list[CardButton],
    style: CardStyle,
    hovered_action: str | None,
    small: bool = False,
) -> None:
    theme = style.theme
    painter.setFont(style.small_font)
    for b in buttons:
        hovered = b.action == hovered_action
        if b.primary:
            bg = QColor(theme.accent)
            fg = QColor(theme.accent_text)
            if hovered:
                bg = bg.lighter(112)
        else:
            bg = QColor(theme.button_hover if hovered else theme.button_bg)
            fg = QColor(theme.text)
        if small:
            bg.setAlpha(235)
        if b.primary:
            painter.setPen(Qt.PenStyle.NoPen)
        else:
            painter.setPen(QPen(QColor(theme.card_border), 1.0))
        painter.setBrush(bg)
        painter.drawRoundedRect(b.rect, 5, 5)
        painter.setPen(fg)
        painter.drawText(b.rect, Qt.AlignmentFlag.AlignCenter, b.label)


def paint_file_tiles(
    painter: QPainter, st: CardState, node: Node, style: CardStyle, hovered_action: str | None
) -> None:
    """A prompt's files: a thumbnail for an image, a chip (name and kind) for a PDF or text file."""
    if not st.file_buttons:
        return
    from ui.attach import short_kind
    from ui.thumbs import thumbnail

    theme = style.theme
    for b in st.file_buttons:
        hovered = b.action == hovered_action
        r = b.rect
        att = node.attachments[b.arg] if isinstance(b.arg, int) and b.arg < len(node.attachments) else None
        pixmap = None
        if att is not None and not b.label.startswith("+"):
            pixmap = thumbnail(att, int(r.width() * 2), int(r.height() * 2))
        painter.setPen(QPen(QColor(theme.accent if hovered else theme.card_border), 1.0))
        painter.setBrush(QColor(theme.button_hover if hovered else theme.button_bg))
        painter.drawRoundedRect(r, 6, 6)
        if pixmap is not None:
            target = QRectF(r.adjusted(1, 1, -1, -1))
            size = pixmap.size().scaled(
                int(target.width() * 2), int(target.height() * 2), Qt.AspectRatioMode.KeepAspectRatio
            )
            dw, dh = size.width() / 2, size.height() / 2
            dest = QRectF(target.center().x() - dw / 2, target.center().y() - dh / 2, dw, dh)
            painter.save()
            clip = QPainterPath()
            clip.addRoundedRect(target, 5, 5)
            painter.setClipPath(clip)
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawPixmap(dest, pixmap, QRectF(pixmap.rect()))
            painter.restore()
            continue
        painter.setFont(style.small_font)
        painter.setPen(QColor(theme.text))
        inner = r.adjusted(8, 6, -8, -6)
        if att is None or b.label.startswith("+"):
            painter.drawText(r, Qt.AlignmentFlag.AlignCenter, b.label)
            continue
        metrics = style.small_metrics
        line = metrics.lineSpacing()
        left_mid = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
        painter.drawText(
            QRectF(inner.left(), inner.top(), inner.width(), line),
            left_mid,
            metrics.elidedText(f"📎 {att.name}", Qt.TextElideMode.ElideMiddle, int(inner.width())),
        )
        painter.setPen(QColor(theme.muted))
        painter.drawText(
            QRectF(inner.left(), inner.top() + line + 2, inner.width(), line),
            left_mid,
            metrics.elidedText(short_kind(att), Qt.TextElideMode.ElideRight, int(inner.width())),
        )
