"""The canvas view: pan, zoom to cursor, fit, keyboard navigation between cards, minimap overlay.

Input map:
- drag on empty space, middle button, or Space+drag: pan
- Shift/Ctrl+drag on empty space: rubber-band selection; Ctrl+click: toggle a card
- wheel: zoom to the cursor (over a card whose body overflows, at full detail: scroll that body); Ctrl+wheel:
  always zoom
- Shift+wheel or a sideways wheel over a table wider than its card: scroll that table sideways
- arrow keys: move the selection to the nearest card in that direction
- double-click on a card's text: select a word; drag in a selected card's body: select text (its header
  still moves it); Ctrl+C copies the selected text, Esc or a click elsewhere ends the selection

Emits `viewport_changed(x, y, zoom)` (scene centre and scale) whenever the visible area changes.
Qt main thread only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, cast

from PySide6.QtCore import QEvent, QPoint, QPointF, QRectF, Qt, Signal
from PySide6.QtGui import QKeyEvent, QKeySequence, QMouseEvent, QPainter, QResizeEvent, QWheelEvent
from PySide6.QtWidgets import QApplication, QFrame, QGraphicsView, QWidget

from ui.canvas import constants as C
from ui.canvas.cards import CardItem
from ui.canvas.minimap import MinimapWidget
from ui.canvas.navigation import nearest_card
from ui.canvas.sweep_grid import grid_items

if TYPE_CHECKING:
    from ui.canvas.scene import CanvasScene


class CanvasView(QGraphicsView):
    viewport_changed = Signal(float, float, float)
    empty_double_clicked = Signal()

    def __init__(self, scene: CanvasScene, parent: QWidget | None = None) -> None:
        super().__init__(scene, parent)
        self.setObjectName("CanvasView")
        self.setRenderHints(
            QPainter.RenderHint.Antialiasing
            | QPainter.RenderHint.TextAntialiasing
            | QPainter.RenderHint.SmoothPixmapTransform
        )
        self.setViewportUpdateMode(QGraphicsView.ViewportUpdateMode.SmartViewportUpdate)
        self.setOptimizationFlag(QGraphicsView.OptimizationFlag.DontAdjustForAntialiasing, True)
        self.setTransformationAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)  # (see resizeEvent)
        self.setHorizontalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setVerticalScrollBarPolicy(Qt.ScrollBarPolicy.ScrollBarAlwaysOff)
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setDragMode(QGraphicsView.DragMode.NoDrag)
        self.setRubberBandSelectionMode(Qt.ItemSelectionMode.IntersectsItemShape)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self._panning = False
        self._pan_last = QPoint()
        self._pan_moved = False
        self._space_down = False
        self._rubber = False
        self._pinned_center: QPointF | None = None
        self._adjusting = False  # zoom_by moves both scroll bars, then reports the viewport once
        self.minimap = MinimapWidget(self)
        self.horizontalScrollBar().valueChanged.connect(self._on_scrollbar_value_changed)
        self.verticalScrollBar().valueChanged.connect(self._on_scrollbar_value_changed)

    def canvas(self) -> CanvasScene:
        return cast("CanvasScene", self.scene())

    # ------------------------------------------------------------------ viewport state
    def zoom(self) -> float:
        return self.transform().m11()

    def center(self) -> QPointF:
        vp = self.viewport()
        inverse, _ok = self.viewportTransform().inverted()
        return inverse.map(QPointF(vp.width() / 2.0, vp.height() / 2.0))

    def visible_scene_rect(self) -> QRectF:
        return self.mapToScene(self.viewport().rect()).boundingRect()

    def set_viewport(self, x: float, y: float, zoom: float) -> None:
        zoom = min(max(zoom, C.ZOOM_MIN), C.ZOOM_MAX)
        self.resetTransform()
        self.scale(zoom, zoom)
        self.centerOn(QPointF(x, y))
        # A viewport set before the window shows (a session's saved one) is kept through the window's
        # first layout passes, until the user first touches the canvas; later resizes keep the scene
        # where it is on screen (see resizeEvent).
        self._pinned_center = None if self.isVisible() else QPointF(x, y)
        self._emit_viewport()

    def _emit_viewport(self) -> None:
        c = self.center()
        zoom = self.zoom()
        scene = self.scene()
        if scene is not None and hasattr(scene, "show_area"):
            scene.show_area(self.visible_scene_rect(), zoom)  # before the paint this change causes
        self.viewport_changed.emit(c.x(), c.y(), zoom)
        self.minimap.update()

    def _on_scrollbar_value_changed(self, _value: int) -> None:
        if not self._adjusting:
            self._emit_viewport()

    # ------------------------------------------------------------------ zoom
    def zoom_by(self, factor: float, anchor: QPoint | None = None) -> None:
        self._pinned_center = None
        current = self.zoom()
        target = min(max(current * factor, C.ZOOM_MIN), C.ZOOM_MAX)
        factor = target / current
        if abs(factor - 1.0) < 1e-4:
            return
        if anchor is None:
            anchor = self.viewport().rect().center()
        before = self.mapToScene(anchor)
        self._adjusting = True
        try:
            self.scale(factor, factor)
            after_view = self.mapFromScene(before)
            delta = after_view - anchor
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() + delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() + delta.y())
        finally:
            self._adjusting = False
        self._emit_viewport()

    def zoom_in(self) -> None:
        self.zoom_by(C.ZOOM_STEP)

    def zoom_out(self) -> None:
        self.zoom_by(1 / C.ZOOM_STEP)

    def fit_rect(self, rect: QRectF, max_zoom: float = 1.0) -> None:
        if rect.isNull() or rect.isEmpty():
            return
        rect = rect.adjusted(-40, -40, 40, 40)
        vp = self.viewport().rect()
        # keep a strip at the bottom free for the minimap, so no card hides under it
        reserved = self.minimap.height() + 16 if self.minimap.isVisible() else 0
        height = max(vp.height() - reserved, vp.height() / 2)
        zoom = min(vp.width() / rect.width(), height / rect.height(), max_zoom)
        shift = (vp.height() - height) / 2 / zoom  # centre the content in the free area
        self.set_viewport(rect.center().x(), rect.center().y() + shift, zoom)

    def fit_all(self) -> None:
        scene = self.scene()
        rect = scene.cards_bounds() if hasattr(scene, "cards_bounds") else scene.itemsBoundingRect()
        for item in grid_items(scene):  # a sweep's grid is part of the session, though no card
            rect = rect.united(item.sceneBoundingRect()) if not rect.isNull() else item.sceneBoundingRect()
        self.fit_rect(rect)

    def zoom_to_selection(self) -> None:
        scene = self.canvas()
        ids = scene.selected_ids()
        if ids:
            self.fit_rect(scene.cards_bounds(ids), max_zoom=1.5)

    def center_on_card(self, node_id: str) -> None:
        card = self.canvas().card(node_id)
        if card is not None:
            self._pinned_center = None
            self.centerOn(card.sceneBoundingRect().center())
            self._emit_viewport()

    def reveal_rect(self, rect: QRectF, readable: float = C.READABLE_ZOOM) -> None:
        """Bring `rect` (new cards) into view at a zoom where their text reads: scroll if it fits at
        the current zoom, else zoom out to fit it but not below `readable` (then its top-left part
        shows); from a zoom below `readable`, zoom in to it."""
        if rect.isNull() or rect.isEmpty():
            return
        zoom = self.zoom()
        vp = self.viewport().rect()
        # The minimap sits over the canvas's bottom-right corner: new cards go in the area above it.
        reserved = self.minimap.height() + 16 if self.minimap.isVisible() else 0
        usable_h = max(vp.height() - reserved, vp.height() / 2)
        visible = self.visible_scene_rect()
        visible.setHeight(visible.height() - (vp.height() - usable_h) / max(zoom, 1e-6))
        if zoom >= readable - 1e-6 and visible.contains(rect):
            return
        margin = 40.0
        fit = min((vp.width() - 2 * margin) / rect.width(), (usable_h - 2 * margin) / rect.height())
        if zoom >= readable - 1e-6 and fit >= zoom:
            self._pinned_center = None  # fits at this zoom: scroll only, clear of the minimap
            self.ensureVisible(rect, 40, 40 + int(vp.height() - usable_h))
            self._emit_viewport()
            return
        target = min(max(fit, readable), max(zoom, readable), C.ZOOM_MAX)
        # Where it does not fit at that zoom, show its start in reading order: the top (the prompt,
        # the answers' first lines) and the left (the first lane).
        width, height = vp.width() / target, usable_h / target
        if rect.width() + 2 * margin / target <= width:
            cx = rect.center().x()
        else:
            cx = rect.left() - margin / target + width / 2
        if rect.height() + 2 * margin / target <= height:
            cy = rect.center().y() + (vp.height() - usable_h) / 2 / target  # centred above the minimap
        else:
            cy = rect.top() - margin / target + vp.height() / 2 / target
        self.set_viewport(cx, cy, target)

    def ensure_rect_visible(self, rect: QRectF) -> None:
        self._pinned_center = None
        self.ensureVisible(rect, 40, 40)
        self._emit_viewport()

    def ensure_card_visible(self, node_id: str) -> None:
        card = self.canvas().card(node_id)
        if card is not None:
            self._pinned_center = None
            self.ensureVisible(card.sceneBoundingRect(), 40, 40)
            self._emit_viewport()

    # ------------------------------------------------------------------ mouse
    def _card_at(self, pos: QPoint) -> CardItem | None:
        for item in self.items(pos):
            if isinstance(item, CardItem):
                return item
        return None

    def _drop_stale_grab(self, held: Qt.MouseButton, pressed_at: QPoint | None = None) -> None:
        """A card that still grabs the mouse while no button is held lost its release to a popup or a
        new window (its context menu, focus mode). Qt would hand it the next press, move or the move it
        replays after a zoom, and drag it across the canvas with no undo step (issue #12): let go. A new
        press away from the grabbing card lets go too, whatever buttons the system still reports held
        (one whose release a menu took may still count as held: the pan that followed dragged the card)."""
        scene = self.scene()
        grabber = scene.mouseGrabberItem() if scene is not None else None
        if grabber is not None and (not held or (pressed_at is not None and self._card_at(pressed_at) is not grabber)):
            grabber.ungrabMouse()

    def mousePressEvent(self, event: QMouseEvent) -> None:
        self._pinned_center = None
        button = event.button()
        self._drop_stale_grab(event.buttons() & ~button, event.position().toPoint())
        on_card = self._card_at(event.position().toPoint()) is not None
        mods = event.modifiers()
        if button == Qt.MouseButton.MiddleButton or (
            button == Qt.MouseButton.LeftButton
            and (
                self._space_down
                or (
                    not on_card
                    and not mods & (Qt.KeyboardModifier.ShiftModifier | Qt.KeyboardModifier.ControlModifier)
                )
            )
        ):
            self._panning = True
            self._pan_moved = False
            self._pan_last = event.position().toPoint()
            self.viewport().setCursor(Qt.CursorShape.ClosedHandCursor)
            event.accept()
            return
        if button == Qt.MouseButton.LeftButton and not on_card:
            self._rubber = True
            self.setDragMode(QGraphicsView.DragMode.RubberBandDrag)
        super().mousePressEvent(event)

    def mouseMoveEvent(self, event: QMouseEvent) -> None:
        self._drop_stale_grab(event.buttons())
        if self._panning:
            self._pinned_center = None
            pos = event.position().toPoint()
            delta = pos - self._pan_last
            self._pan_last = pos
            if delta.manhattanLength():
                self._pan_moved = True
            self.horizontalScrollBar().setValue(self.horizontalScrollBar().value() - delta.x())
            self.verticalScrollBar().setValue(self.verticalScrollBar().value() - delta.y())
            event.accept()
            return
        super().mouseMoveEvent(event)

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:
        if self._panning and event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton):
            self._panning = False
            self.viewport().setCursor(
                Qt.CursorShape.OpenHandCursor if self._space_down else Qt.CursorShape.ArrowCursor
            )
            if not self._pan_moved and event.button() == Qt.MouseButton.LeftButton:
                if not self._click_item(event.position().toPoint()):
                    self.scene().clearSelection()  # a click on empty space
            event.accept()
            return
        super().mouseReleaseEvent(event)
        if self._rubber:
            self._rubber = False
            self.setDragMode(QGraphicsView.DragMode.NoDrag)

    def _click_item(self, pos: QPoint) -> bool:
        """A click without a drag on a non-card item that takes clicks (the sweep grid): True if taken."""
        for item in self.items(pos):
            clicked_at = getattr(item, "clicked_at", None)
            if clicked_at is not None:
                return bool(clicked_at(item.mapFromScene(self.mapToScene(pos))))
        return False

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:
        if self._card_at(event.position().toPoint()) is None:
            self.empty_double_clicked.emit()
            event.accept()
            return
        super().mouseDoubleClickEvent(event)

    def wheelEvent(self, event: QWheelEvent) -> None:
        self._pinned_center = None
        self._drop_stale_grab(QApplication.mouseButtons())
        pos = event.position().toPoint()
        dy = event.angleDelta().y()
        dx = event.angleDelta().x() or (dy if event.modifiers() & Qt.KeyboardModifier.ShiftModifier else 0)
        # Zoomed out a card shows its title and first words only: nothing in it to scroll, the wheel zooms.
        card = None
        if self.zoom() >= C.LOD_TEXT_MIN and not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            card = self._card_at(pos)
        item_pos = card.mapFromScene(self.mapToScene(pos)) if card is not None else None
        if dx and card is not None and item_pos is not None and card.can_scroll_x(item_pos):
            card.scroll_x_by(-dx / 120.0 * 60.0, item_pos)
            event.accept()
            return
        if not dy:
            event.ignore()
            return
        if card is not None and item_pos is not None and card.can_scroll(item_pos):
            card.scroll_by(-dy / 120.0 * 60.0, item_pos)
            event.accept()
            return
        self.zoom_by(C.ZOOM_STEP ** (dy / 120.0), pos)
        event.accept()

    # ------------------------------------------------------------------ keys
    def _text_key(self, event: QKeyEvent) -> bool:
        """Ctrl+C and Esc belong to the text selected in a card, when there is some."""
        if event.key() != Qt.Key.Key_Escape and not event.matches(QKeySequence.StandardKey.Copy):
            return False
        scene = self.scene()
        return hasattr(scene, "text_selection_card") and scene.text_selection_card() is not None

    def event(self, event: QEvent) -> bool:
        if (
            event.type() == QEvent.Type.ShortcutOverride
            and isinstance(event, QKeyEvent)
            and self._text_key(event)
        ):
            event.accept()  # before the window's Esc (stop streams) and any other shortcut
            return True
        return super().event(event)

    def keyPressEvent(self, event: QKeyEvent) -> None:
        self._pinned_center = None
        if self._text_key(event):
            scene = self.canvas()
            if event.key() == Qt.Key.Key_Escape:
                scene.clear_text_selection()
            else:
                scene.copy_text_selection()
            event.accept()
            return
        key = event.key()
        if key == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = True
            self.viewport().setCursor(Qt.CursorShape.OpenHandCursor)
            event.accept()
            return
        directions: dict[int, tuple[int, int]] = {  # (event.key() is an int)
            Qt.Key.Key_Left: (-1, 0),
            Qt.Key.Key_Right: (1, 0),
            Qt.Key.Key_Up: (0, -1),
            Qt.Key.Key_Down: (0, 1),
        }
        if key in directions and not event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.move_selection(*directions[key])
            event.accept()
            return
        if (
            key in (Qt.Key.Key_Plus, Qt.Key.Key_Equal)
            and event.modifiers() & Qt.KeyboardModifier.ControlModifier
        ):
            self.zoom_in()
            return
        if key == Qt.Key.Key_Minus and event.modifiers() & Qt.KeyboardModifier.ControlModifier:
            self.zoom_out()
            return
        super().keyPressEvent(event)

    def keyReleaseEvent(self, event: QKeyEvent) -> None:
        if event.key() == Qt.Key.Key_Space and not event.isAutoRepeat():
            self._space_down = False
            self.viewport().setCursor(Qt.CursorShape.ArrowCursor)
            event.accept()
            return
        super().keyReleaseEvent(event)

    def move_selection(self, dx: int, dy: int) -> str | None:
        """Select the nearest card in direction (dx, dy) from the current one; returns its id."""
        scene = self.canvas()
        ids = scene.card_ids()
        if not ids:
            return None
        # card centres from the scene's blocks: no card items are made for the search
        centres: dict[str, tuple[float, float]] = {}
        selected: list[str] = []
        for node_id, (x, y, w, h, _colour, sel) in zip(ids, scene.card_blocks(), strict=True):
            centres[node_id] = (x + w / 2, y + h / 2)
            if sel:
                selected.append(node_id)
        best = nearest_card(centres, selected[-1] if selected else None, self.center(), dx, dy)
        if best is None:
            return None
        scene.select_only([best])
        self.ensure_card_visible(best)
        return best

    # ------------------------------------------------------------------ overlays
    def resizeEvent(self, event: QResizeEvent) -> None:
        old, new = event.oldSize(), event.size()
        if self._pinned_center is None and old.isValid() and old.width() == new.width():
            # Only the bottom edge moved (the composer's "Following" bar came or went, the prompt grew):
            # the scene stays where it is on screen, so nothing moves under the cursor (issue #12).
            self.setResizeAnchor(QGraphicsView.ViewportAnchor.NoAnchor)
        else:
            # Wider or narrower (the window, the sidebar, the lens): the centre stays in the centre.
            self.setResizeAnchor(QGraphicsView.ViewportAnchor.AnchorViewCenter)
        super().resizeEvent(event)
        if self._pinned_center is not None:
            self.centerOn(self._pinned_center)
        self.minimap.reposition()
        self._emit_viewport()

    def scrollContentsBy(self, dx: int, dy: int) -> None:
        super().scrollContentsBy(dx, dy)  # scrolls the viewport's pixels, the minimap with them
        self.minimap.reposition()
        self.minimap.update()
