"""Curved edges with arrowheads, styled by role (reply, follow, source, ref)."""

from __future__ import annotations

import math

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtGui import QColor, QPainter, QPainterPath, QPainterPathStroker, QPen, QPolygonF
from PySide6.QtWidgets import QGraphicsItem, QStyleOptionGraphicsItem, QWidget

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
    """parent bottom-centre → child top-centre, a cubic Bézier.

    `adjust()` stores the end points and the bounds (the control points' box, which contains the
    curve); the path and arrowhead are made on first paint (10,000 edges open without building any).
    """

    def __init__(self, parent_id: str, child_id: str, role: str, theme: UiTheme) -> None:
        super().__init__()
        self.parent_id = parent_id
        self.child_id = child_id
        self.role = role
        self._theme = theme
        self._ends: tuple[float, float, float, float] | None = None
        self._path: QPainterPath | None = None
        self._arrow: QPolygonF | None = None
        self._shape: QPainterPath | None = None
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

    @staticmethod
    def _bend(sy: float, ey: float) -> float:
        dy = ey - sy
        if dy < 0:  # child above its parent: loop out sideways so the curve stays readable
            return max(abs(dy) * 0.5 + 60.0, 80.0)
        return max(abs(dy) * 0.5, 40.0)

    def adjust(self, start: QPointF, end: QPointF) -> None:
        """Move the curve's ends to two scene points (call when either card moves or resizes)."""
        sx, sy, ex, ey = start.x(), start.y(), end.x(), end.y()
        ends = (sx, sy, ex, ey)
        if ends == self._ends:
            return
        bend = self._bend(sy, ey)
        # The curve lies inside its control points' hull: start, start+bend, end-bend, end.
        pad = ARROW + 4.0
        left, right = min(sx, ex) - pad, max(sx, ex) + pad
        top = min(sy, ey - bend) - pad
        bottom = max(sy + bend, ey) + pad
        bounds = QRectF(left, top, right - left, bottom - top)
        if bounds != self._bounds:
            self.prepareGeometryChange()
            self._bounds = bounds
        self._ends = ends
        self._path = None
        self._arrow = None
        self._shape = None
        self.update()

    def _geometry(self) -> tuple[QPainterPath, QPolygonF]:
        if self._path is None or self._arrow is None:
            sx, sy, ex, ey = self._ends or (0.0, 0.0, 0.0, 0.0)
            bend = self._bend(sy, ey)
            start, end = QPointF(sx, sy), QPointF(ex, ey)
            c2 = QPointF(ex, ey - bend)
            path = QPainterPath(start)
            path.cubicTo(QPointF(sx, sy + bend), c2, end)
            # arrowhead along the final tangent
            angle = math.atan2(end.y() - c2.y(), end.x() - c2.x())
            left = QPointF(ex - ARROW * math.cos(angle - 0.45), ey - ARROW * math.sin(angle - 0.45))
            right = QPointF(ex - ARROW * math.cos(angle + 0.45), ey - ARROW * math.sin(angle + 0.45))
            self._path, self._arrow = path, QPolygonF([end, left, right])
        return self._path, self._arrow

    def boundingRect(self) -> QRectF:
        return self._bounds

    def shape(self) -> QPainterPath:
        if self._shape is None:
            stroker = QPainterPathStroker()
            stroker.setWidth(8.0)
            self._shape = stroker.createStroke(self._geometry()[0])
        return self._shape

    def paint(
        self, painter: QPainter, option: QStyleOptionGraphicsItem, widget: QWidget | None = None
    ) -> None:
        color = QColor(self._theme.edge.get(self.role, self._theme.muted))
        style, width = _PEN_STYLE.get(self.role, (Qt.PenStyle.SolidLine, 1.5))
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        pen = QPen(color, width, style)
        pen.setCapStyle(Qt.PenCapStyle.RoundCap)
        painter.setPen(pen)
        painter.setBrush(Qt.BrushStyle.NoBrush)
        path, arrow = self._geometry()
        painter.drawPath(path)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(color)
        painter.drawPolygon(arrow)
