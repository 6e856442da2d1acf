"""A minimap overlay in the view's bottom-right corner: cards as coloured blocks, the visible area
outlined; click or drag on it to move there.

The blocks are drawn once into a cached pixmap, redrawn only when the scene reports that cards
changed (`CanvasScene.blocks_changed`, debounced) or the map's extent changed; each frame paints that
pixmap and the viewport rectangle. While the visible area lies outside the cards' extent the map
grows to include it: the cached pixmap is drawn scaled into the new mapping at once and redrawn
sharp shortly after.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QPointF, QRectF, Qt, QTimer
from PySide6.QtGui import QColor, QMouseEvent, QPainter, QPaintEvent, QPen, QPixmap
from PySide6.QtWidgets import QWidget

from ui.canvas import constants as C
from ui.canvas.sweep_grid import grid_items

if TYPE_CHECKING:
    from ui.canvas.scene import CanvasScene
    from ui.canvas.view import CanvasView

MINIMAP_W = 200
MINIMAP_H = 140
MARGIN = 12


class MinimapWidget(QWidget):
    """Lives on the view's viewport (a child of it), not on the view: a widget stacked over the
    viewport as its sibling would stop Qt from scrolling the viewport's pixels on a pan (every pan
    would repaint the whole canvas). Scrolling moves children along, so the view puts it back in
    `scrollContentsBy` (`reposition`)."""

    def __init__(self, view: CanvasView) -> None:
        super().__init__(view.viewport())
        self._view = view
        self._pixmap: QPixmap | None = None
        self._pixmap_world = QRectF()  # the world rectangle the pixmap was drawn for
        self._redraw = QTimer(self)
        self._redraw.setSingleShot(True)
        self._redraw.setInterval(C.MINIMAP_DEBOUNCE_MS)
        self._redraw.timeout.connect(self._on_scene_blocks_changed)  # the sharp redraw after a move
        self._scene: CanvasScene | None = None
        # The window's first frame shows the canvas without waiting for the map's picture (~30 ms for
        # 10,000 cards, benchmark 6): it is drawn right after, then updated as usual.
        self._first_picture = True
        self.setObjectName("Minimap")
        # It paints every pixel (corners in the canvas colour): the canvas under it is never repainted
        # just because the minimap updates.
        self.setAttribute(Qt.WidgetAttribute.WA_OpaquePaintEvent, True)
        self.setFixedSize(MINIMAP_W, MINIMAP_H)
        self.setCursor(Qt.CursorShape.PointingHandCursor)
        self.setToolTip("Minimap: click or drag to move around the canvas")
        self.reposition()

    def reposition(self) -> None:
        parent = self.parentWidget()
        if parent is None:
            return
        # At most about a fifth of the canvas's width: on a small window a 200 × 140 map would
        # cover a large part of it.
        width = int(max(120, min(MINIMAP_W, parent.width() * 0.2)))
        height = int(width * MINIMAP_H / MINIMAP_W)
        if (width, height) != (self.width(), self.height()):
            self.setFixedSize(width, height)
            self._pixmap = None  # drawn again at the new size
        self.move(parent.width() - self.width() - MARGIN, parent.height() - self.height() - MARGIN)
        self.raise_()

    def _canvas_scene(self) -> CanvasScene:
        """The view's scene: the window gives the view its CanvasScene before the map is shown."""
        return cast("CanvasScene", self._view.scene())

    def _watch_scene(self) -> CanvasScene:
        scene = self._canvas_scene()
        if scene is not self._scene:
            if self._scene is not None and hasattr(self._scene, "blocks_changed"):
                self._scene.blocks_changed.disconnect(self._on_scene_blocks_changed)
            self._scene = scene
            if hasattr(scene, "blocks_changed"):
                scene.blocks_changed.connect(self._on_scene_blocks_changed)
            self._pixmap = None
        return scene

    def _on_scene_blocks_changed(self) -> None:
        self._pixmap = None  # the cards changed: draw them again on the next paint
        if self.isVisible():
            self.update()

    def _world(self) -> QRectF:
        scene = self._canvas_scene()
        world = scene.cards_bounds()
        for grid in grid_items(scene):  # a sweep's grid, though no card
            world = world.united(grid.sceneBoundingRect()) if not world.isNull() else grid.sceneBoundingRect()
        visible = self._view.visible_scene_rect()
        world = world.united(visible) if not world.isNull() else visible
        return world.adjusted(-60, -60, 60, 60)

    def _mapping_for(self, world: QRectF) -> tuple[float, QPointF]:
        inner = QRectF(6, 6, self.width() - 12, self.height() - 12)
        scale = min(inner.width() / max(world.width(), 1), inner.height() / max(world.height(), 1))
        offset = QPointF(
            inner.left() + (inner.width() - world.width() * scale) / 2 - world.left() * scale,
            inner.top() + (inner.height() - world.height() * scale) / 2 - world.top() * scale,
        )
        return scale, offset

    def _mapping(self) -> tuple[QRectF, float, QPointF]:
        world = self._world()
        scale, offset = self._mapping_for(world)
        return world, scale, offset

    def _draw_blocks(self, world: QRectF) -> QPixmap:
        """The cards as blocks, in widget coordinates for the mapping of `world` (transparent elsewhere)."""
        scene = self._canvas_scene()
        dpr = self.devicePixelRatioF()
        pixmap = QPixmap(round(self.width() * dpr), round(self.height() * dpr))
        pixmap.setDevicePixelRatio(dpr)
        pixmap.fill(Qt.GlobalColor.transparent)
        scale, offset = self._mapping_for(world)
        ox, oy = offset.x(), offset.y()
        by_colour: dict[tuple[str, bool], list[QRectF]] = {}
        for x, y, w, h, colour, selected in scene.card_blocks():
            by_colour.setdefault((colour, selected), []).append(
                QRectF(x * scale + ox, y * scale + oy, max(w * scale, 2.0), max(h * scale, 2.0))
            )
        for grid in grid_items(scene):  # a sweep's grid: one muted block
            r = grid.sceneBoundingRect()
            by_colour.setdefault((scene.style.theme.muted, False), []).append(
                QRectF(r.x() * scale + ox, r.y() * scale + oy, max(r.width() * scale, 2.0), max(r.height() * scale, 2.0))
            )
        painter = QPainter(pixmap)
        painter.setPen(Qt.PenStyle.NoPen)
        for (colour, selected), rects in by_colour.items():
            color = QColor(colour)
            if not selected:
                color.setAlpha(170)
            painter.setBrush(color)
            painter.drawRects(rects)
        painter.end()
        return pixmap

    def paintEvent(self, event: QPaintEvent) -> None:
        scene = self._watch_scene()
        theme = scene.style.theme
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        painter.fillRect(self.rect(), QColor(theme.canvas))
        bg = QColor(theme.base)
        painter.setPen(QPen(QColor(theme.border), 1))
        painter.setBrush(bg)
        painter.drawRoundedRect(QRectF(self.rect()).adjusted(0.5, 0.5, -0.5, -0.5), 8, 8)
        world, scale, offset = self._mapping()
        if self._pixmap is None and self._first_picture:
            self._first_picture = False
            QTimer.singleShot(0, self, self.update)  # cancelled if the map is gone first
        elif self._pixmap is None:
            self._pixmap = self._draw_blocks(world)
            self._pixmap_world = QRectF(world)
        if self._pixmap is None:
            pass  # the first frame: the frame and the view's rectangle only
        elif self._pixmap_world == world:
            painter.drawPixmap(0, 0, self._pixmap)
        else:
            # The map's extent changed (the visible area left the cards' extent): place the cached
            # picture where its world lies now, and draw it sharp again once the view settles.
            old = self._pixmap_world
            old_scale, old_offset = self._mapping_for(old)
            # the pixmap's widget rect, mapped back to scene coordinates, then to the new mapping
            src = QRectF(self.rect())
            scene_tl = QPointF(
                (src.left() - old_offset.x()) / old_scale, (src.top() - old_offset.y()) / old_scale
            )
            target = QRectF(
                scene_tl.x() * scale + offset.x(),
                scene_tl.y() * scale + offset.y(),
                src.width() / old_scale * scale,
                src.height() / old_scale * scale,
            )
            painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, True)
            painter.drawPixmap(target, self._pixmap, QRectF(self._pixmap.rect()))
            self._redraw.start()
        visible = self._view.visible_scene_rect()
        visible = QRectF(
            visible.left() * scale + offset.x(),
            visible.top() * scale + offset.y(),
            max(visible.width() * scale, 2),
            max(visible.height() * scale, 2),
        )
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

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._go(event.position())
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        if event.buttons() & Qt.MouseButton.LeftButton:
            self._go(event.position())
        event.accept()
