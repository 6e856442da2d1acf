"""Curved edges with arrowheads, styled by role (reply, follow, source, ref)."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPainterPathStroker, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem

from ui.canvas import constants as C
from ui.theme import UiTheme

ARROW = 9.0

_PEN_STYLE = {
    "reply": (Qt.PenStyle.SolidLine, 1.6),
    "follow": (Qt.PenStyle.SolidLine, 2.2),
    "source": (Qt.PenStyle.DashLine, 1.8),
    "ref": (Qt.PenStyle.DotLine, 1.8),
}


class EdgeItem(QGraphicsItem):
    """parent bottom-centre → child top-centre, a cubic Bézier. `adjust()` precomputes the path."""

    def __init__(self, parent_id: str, child_id: str, role: str, theme: UiTheme) -> None:
        super().__init__()
        self.parent_id = parent_id
        self.child_id = child_id
        self.role = role
        self._theme = theme
        self._path = QPainterPath()
        self._arrow = QPolygonF()
        self._bounds = QRectF()
        self.setZValue(C.Z_EDGE)
        self.setAcceptedMouseButtons(Qt.MouseButton.NoButton)

    def __repr__(self) -> str:
        return f"<EdgeItem {self.parent_id[-6:]} -{self.role}-> {self.child_id[-6:]}>"

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.parent_id, self.child_id, self.role)

    def set_theme(self, theme: UiTheme) -> None:
        self._theme = theme
        self.update()

    def adjust(self, start: QPointF, end: QPointF) -> None:
        """Recompute the curve between two scene points (call when either card moves or resizes)."""
        path = QPainterPath(start)
        dy = end.y() - start.y()
        bend = max(abs(dy) * 0.5, 40.0)
        if dy < 0:  # child above its parent: loop out sideways so the curve stays readable
            bend = max(abs(dy) * 0.5 + 60.0, 80.0)
        c1 = QPointF(start.x(), start.y() + bend)
        c2 = QPointF(end.x(), end.y() - bend)
        path.cubicTo(c1, c2, end)
        # arrowhead along the final tangent
        angle = math.atan2(end.y() - c2.y(), end.x() - c2.x())
        left = QPointF(end.x() - ARROW * math.cos(angle - 0.45), end.y() - ARROW * math.sin(angle - 0.45))
        right = QPointF(end.x() - ARROW * math.cos(angle + 0.45), end.y() - ARROW * math.sin(angle + 0.45))
        arrow = QPolygonF([end, left, right])
        bounds = path.boundingRect().united(arrow.boundingRect()).adjusted(-4, -4, 4, 4)
        if bounds != self._bounds:
            self.prepareGeometryChange()
        self._path = path
        self._arrow = arrow
        self._bounds = bounds
        self.update()

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        stroker = QPainterPathStroker()
        stroker.setWidth(8.0)
        return stroker.createStroke(self._path)

    def paint(self, painter: QPainter, option: QStyleOptionGraphicsItem, widget=None) -> None:
        color = QColor(self._theme.edge.get(self.role, self._theme.muted))
        style, width = _PEN_STYLE.get(self.role, (Qt.PenStyle.SolidLine, 1.5))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        pen = QPen(color, width, style)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        painter.drawPath(self._path)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawPolygon(self._arrow)
