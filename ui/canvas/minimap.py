"""A minimap overlay in the view's bottom-right corner: cards as coloured blocks, the visible area
outlined; click or drag on it to move there. Paints rectangles only (never renders the scene)."""

from __future__ import annotations

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPen
from PySide6.QtWidgets import QWidget

MINIMAP_W = 200
MINIMAP_H = 140
MARGIN = 12


class MinimapWidget(QWidget):
    def __init__(self, view) -> None:
        super().__init__(view)
        self._view = view
        self.setObjectName("Minimap")
        self.setFixedSize(MINIMAP_W, MINIMAP_H)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Minimap: click or drag to move around the canvas")
        self.reposition()

    def reposition(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        self.move(parent.width() - self.width() - MARGIN, parent.height() - self.height() - MARGIN)
        self.raise_()

    def _world(self) -> QRectF:
        scene = self._view.scene()
        world = scene.cards_bounds()
        visible = self._view.visible_scene_rect()
        world = world.united(visible) if not world.isNull() else visible
        return world.adjusted(-60, -60, 60, 60)

    def _mapping(self) -> tuple[QRectF, float, QPointF]:
        world = self._world()
        inner = QRectF(6, 6, self.width() - 12, self.height() - 12)
        scale = min(inner.width() / max(world.width(), 1), inner.height() / max(world.height(), 1))
        offset = QPointF(
            inner.left() + (inner.width() - world.width() * scale) / 2 - world.left() * scale,
            inner.top() + (inner.height() - world.height() * scale) / 2 - world.top() * scale,
        )
        return world, scale, offset

    def paintEvent(self, event) -> None:
        scene = self._view.scene()
        theme = scene.style.theme
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        bg = QColor(theme.base)
        bg.setAlpha(248)
        painter.setPen(QPen(QColor(theme.border), 1))
        painter.setBrush(bg)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        _world, scale, offset = self._mapping()

        def to_map(r: QRectF) -> QRectF:
            return QRectF(
                r.left() * scale + offset.x(),
                r.top() * scale + offset.y(),
                max(r.width() * scale, 2),
                max(r.height() * scale, 2),
            )

        painter.setPen(Qt.PenStyle.NoPen)
        for card in scene.cards():
            color = QColor(card.stripe_color)
            if not card.isSelected():
                color.setAlpha(170)
            painter.setBrush(color)
            painter.drawRoundedRect(to_map(card.sceneBoundingRect()), 1.5, 1.5)
        visible = to_map(self._view.visible_scene_rect())
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.setPen(QPen(QColor(theme.accent), 1.5))
        painter.drawRect(visible.intersected(QRectF(self.rect()).adjusted(1, 1, -1, -1)))
        painter.end()

    def _go(self, pos: QPointF) -> None:
        _world, scale, offset = self._mapping()
        scene_pt = QPointF((pos.x() - offset.x()) / scale, (pos.y() - offset.y()) / scale)
        self._view._pinned_center = None
        self._view.centerOn(scene_pt)
        self._view._emit_viewport()

    def mousePressEvent(self, event) -> None:
        self._go(event.position())
        event.accept()

    def mouseMoveEvent(self, event) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._go(event.position())
        event.accept()
