"""The scene's cards as rectangles: where each made card was last reported (for the minimap and
keyboard navigation), the bounds around every card (kept up to date incrementally), and the
background (grid, and the blocks of cards not made yet). Qt main thread only."""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping

from PySide6.QtCore import QLineF, QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QGraphicsItem

from app import layout
from app.domain import Edge, Node
from app.outline import CardOutline
from ui.canvas import constants as C
from ui.canvas.cards import CardItem, stripe_color
from ui.canvas.style import CardStyle
from ui.theme import UiTheme

Block = tuple[float, float, float, float]  # x, y, w, h
Bounds = tuple[float, float, float, float]  # left, top, right, bottom


def block_of(card: CardItem) -> Block:
    p = card.pos()
    return p.x(), p.y(), card.card_width, card.layout_height


def bounds_of(cards: Iterable[CardItem], nodes: Iterable[Node | CardOutline]) -> QRectF:
    """The rectangle around `cards` (where they are) and `nodes` (where their cards will be)."""
    left = top = math.inf
    right = bottom = -math.inf
    m = C.SELECTION_MARGIN
    for card in cards:
        p = card.pos()
        x, y = p.x() - m, p.y() - m
        left, top = min(left, x), min(top, y)
        right = max(right, x + card.card_width + 2 * m)
        bottom = max(bottom, y + card.layout_height + 2 * m)
    for node in nodes:
        left, top = min(left, node.x - m), min(top, node.y - m)
        right = max(right, node.x + layout.width(node) + m)
        bottom = max(bottom, node.y + layout.height(node) + m)
    if left == math.inf:
        return QRectF()
    return QRectF(left, top, right - left, bottom - top)


class CardBlocks:
    """Each made card's last reported rectangle, and the cached bounds around every card."""

    def __init__(self) -> None:
        self.blocks: dict[str, Block] = {}
        self.bounds: Bounds | None = None  # None: measure again when asked

    def __repr__(self) -> str:
        return f"<CardBlocks {len(self.blocks)} bounds={self.bounds}>"

    def clear(self) -> None:
        self.blocks.clear()
        self.bounds = None

    def set_registered(self, around: Bounds | None) -> None:
        """The bounds of a session just registered (around every card, with the selection margin)."""
        m = C.SELECTION_MARGIN
        self.bounds = None if around is None else (around[0] - m, around[1] - m, around[2] + m, around[3] + m)

    def assume(self, node_id: str, node: Node) -> None:
        """Where a card being made was assumed to be until now (its layout size), for the bounds."""
        self.blocks[node_id] = (node.x, node.y, layout.width(node), layout.height(node))

    def moved(self, node_id: str, card: CardItem, just_made: bool) -> bool:
        """A card moved or changed size; True if its rectangle changed."""
        new = block_of(card)
        old = self.blocks.get(node_id)
        self.blocks[node_id] = new
        if new == old:
            return False
        if self.bounds is not None:
            if old is not None and not just_made and self._on_edge(old):
                self.bounds = None  # it may have moved in from the edge: measure again when asked
            else:
                m = C.SELECTION_MARGIN
                x, y, w, h = new
                left, top, right, bottom = self.bounds
                self.bounds = (
                    min(left, x - m),
                    min(top, y - m),
                    max(right, x + w + m),
                    max(bottom, y + h + m),
                )
        return True

    def forget(self, node_id: str, pending: Node | CardOutline | None) -> None:
        """A card is gone (made or `pending`): the bounds are measured again if it was on their edge."""
        old = self.blocks.pop(node_id, None)
        if pending is not None:
            old = (pending.x, pending.y, layout.width(pending), layout.height(pending))
        if old is not None and self.bounds is not None and self._on_edge(old):
            self.bounds = None

    def all(
        self,
        cards: Mapping[str, CardItem],
        pending: Mapping[str, Node | CardOutline],
        selected: set[QGraphicsItem],
        chosen: Mapping[str, None],
        style: CardStyle,
    ) -> Iterator[tuple[float, float, float, float, str, bool]]:
        """(x, y, w, h, colour, selected) of every card: the made `cards` where they were last reported,
        then the `pending` ones where they will be (`selected` items, `chosen` pending ids selected)."""
        blocks = self.blocks
        for node_id, card in cards.items():
            x, y, w, h = blocks.get(node_id) or block_of(card)
            yield x, y, w, h, card.stripe_color.name(), card in selected
        colours: dict[tuple[object, ...], str] = {}
        for node in pending.values():
            look = (node.kind, node.model, node.color)
            colour = colours.get(look)
            if colour is None:
                colour = colours[look] = stripe_color(node, style)
            yield node.x, node.y, layout.width(node), layout.height(node), colour, node.id in chosen

    def bounds_rect(self, cards: Iterable[CardItem], nodes: Iterable[Node | CardOutline]) -> QRectF:
        """The rectangle around every card (cached; measured from `cards` and `nodes` when needed)."""
        if self.bounds is None:
            rect = bounds_of(cards, nodes)
            if rect.isNull():
                return rect
            self.bounds = (rect.left(), rect.top(), rect.right(), rect.bottom())
        left, top, right, bottom = self.bounds
        return QRectF(left, top, right - left, bottom - top)

    def _on_edge(self, block: Block) -> bool:
        assert self.bounds is not None
        left, top, right, bottom = self.bounds
        m = C.SELECTION_MARGIN + 0.5
        x, y, w, h = block
        return x - m <= left or y - m <= top or x + w + m >= right or y + h + m >= bottom


def paint_grid(painter: QPainter, rect: QRectF, theme: UiTheme) -> None:
    """The canvas and its grid of hairlines in `rect` (coarser as the view zooms out)."""
    painter.fillRect(rect, QColor(theme.canvas))
    scale = painter.worldTransform().m11()
    step = C.GRID_STEP
    while step * scale < 14:  # keep the grid from turning into a solid fill when zoomed out
        step *= 4
    left = math.floor(rect.left() / step) * step
    top = math.floor(rect.top() / step) * step
    # Axis-aligned hairlines: drawn in two batched calls, without antialiasing (which costs ~30 µs a
    # line on the raster engine and buys nothing for straight lines).
    lines_minor: list[QLineF] = []
    lines_major: list[QLineF] = []
    x = left
    while x < rect.right():
        (lines_major if round(x / step) % 5 == 0 else lines_minor).append(
            QLineF(x, rect.top(), x, rect.bottom())
        )
        x += step
    y = top
    while y < rect.bottom():
        (lines_major if round(y / step) % 5 == 0 else lines_minor).append(
            QLineF(rect.left(), y, rect.right(), y)
        )
        y += step
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    painter.setPen(QPen(QColor(theme.grid), 0))
    painter.drawLines(lines_minor)
    painter.setPen(QPen(QColor(theme.grid_major), 0))
    painter.drawLines(lines_major)
    painter.restore()


def paint_pending(
    painter: QPainter,
    ids: list[str],
    pending: Mapping[str, Node | CardOutline],
    cards: Mapping[str, CardItem],
    waiting_edges: Mapping[str, tuple[Edge, ...]],
    chosen: Mapping[str, None],
    style: CardStyle,
) -> None:
    """Cards registered but not made (`ids`, too small to read, or not reached yet): their edges as
    lines, each card as its block (background, colour stripe, header bar, a tint of its colour), as
    a made card draws itself that far out (card_paint.paint_low_detail); `chosen` ones selected."""
    theme = style.theme
    painter.save()
    painter.setRenderHint(QPainter.RenderHint.Antialiasing, False)
    lines: list[QLineF] = []
    for node_id in ids:
        for edge in waiting_edges.get(node_id, ()):
            if edge.child_id != node_id:
                continue
            a = pending.get(edge.parent_id)
            if a is not None:
                top = QPointF(a.x + layout.width(a) / 2, a.y + layout.height(a))
            else:
                card = cards.get(edge.parent_id)
                if card is None:
                    continue
                top = card.anchor_center("bottom")
            b = pending[node_id]
            lines.append(QLineF(top, QPointF(b.x + layout.width(b) / 2, b.y)))
    if lines:
        painter.setPen(QPen(QColor(theme.muted), 0))
        painter.drawLines(lines)
    border = QPen(QColor(theme.card_border), 0)
    chosen_border = QPen(QColor(theme.card_selected), 0)
    header = QColor(theme.card_header)
    card_bg = QColor(theme.card)
    colours: dict[str, QColor] = {}
    bar = C.HEADER_H * 1.6
    for node_id in ids:
        n = pending[node_id]
        w, h = layout.width(n), layout.height(n)
        name = stripe_color(n, style)
        stripe = colours.get(name)
        if stripe is None:
            stripe = colours[name] = QColor(name)
        painter.setPen(chosen_border if node_id in chosen else border)
        painter.setBrush(card_bg)
        painter.drawRect(QRectF(n.x, n.y, w, h))
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(stripe)
        painter.drawRect(QRectF(n.x, n.y, C.STRIPE_W, h))
        painter.setBrush(header)
        painter.drawRect(QRectF(n.x + C.STRIPE_W, n.y + 1, w - C.STRIPE_W - 1, bar))
        tint = QColor(stripe)
        tint.setAlpha(60)
        painter.setBrush(tint)
        painter.drawRect(
            QRectF(
                n.x + C.STRIPE_W + C.CARD_PAD,
                n.y + bar + C.CARD_PAD,
                w - C.STRIPE_W - 2 * C.CARD_PAD,
                max(h - bar - 2 * C.CARD_PAD, 4),
            )
        )
    painter.restore()
