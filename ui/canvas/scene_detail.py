"""The scene's background work, in idle slices: text documents of the cards the view paints without
them (asked by the cards), then the cards around the view (made and given documents ahead of a pan),
then documents of cards far away dropped beyond `MAX_DETAILED`. While the view moves only the asked
documents are built: frames stay short. Qt main thread only."""

from __future__ import annotations

import math
import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QRectF, Qt, QTimer

from app import layout
from ui.canvas import constants as C
from ui.canvas.cards import CardItem

if TYPE_CHECKING:
    from ui.canvas.scene import CanvasScene

# Below this zoom a card (460 units wide) is narrower than C.OVERVIEW_MIN_W_PX on screen: too small to
# read. The scene then makes no items for it and draws its block (drawBackground).
BLOCK_ZOOM = C.OVERVIEW_MIN_W_PX / layout.CARD_W
BY_BOUNDS = Qt.ItemSelectionMode.IntersectsItemBoundingRect


class DetailWork(QObject):
    """Where the view is, which cards have documents built by the scene, and the slices of work."""

    def __init__(self, scene: CanvasScene) -> None:
        super().__init__(scene)
        self._scene = scene
        self.view_rect = QRectF()
        self.view_zoom = 1.0
        self.detailed: dict[str, None] = {}  # cards whose documents the scene built, oldest first
        self.requests: dict[str, None] = {}
        self._moved_at = 0.0  # when the view last moved (background work waits while it moves)
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.setInterval(0)
        self._timer.timeout.connect(self._on_timer_timeout)

    def __repr__(self) -> str:
        return f"<DetailWork detailed={len(self.detailed)} asked={len(self.requests)}>"

    def view_moved(self, rect: QRectF, zoom: float) -> None:
        self.view_rect = QRectF(rect)
        self.view_zoom = zoom
        self._moved_at = time.monotonic()

    def request(self, node_id: str) -> None:
        """A card was painted at full detail without its documents: build them soon."""
        self.requests[node_id] = None
        self.schedule()

    def detail(self, card: CardItem) -> None:
        card.ensure_detail()
        self.detailed.pop(card.node_id, None)
        self.detailed[card.node_id] = None

    def forget(self, node_id: str) -> None:
        self.detailed.pop(node_id, None)
        self.requests.pop(node_id, None)

    def stop(self) -> None:
        self._timer.stop()
        self.detailed.clear()
        self.requests.clear()

    def schedule(self) -> None:
        if not self._timer.isActive():
            self._timer.start(0 if self.requests else self._wait_for_still_view())

    def _wait_for_still_view(self) -> int:
        """ms until the view has been still for WORK_IDLE_MS (0 if it has)."""
        still = (time.monotonic() - self._moved_at) * 1000
        return max(0, math.ceil(C.WORK_IDLE_MS - still))

    def _around_view(self) -> QRectF:
        view = self.view_rect
        dx, dy = view.width() * C.PREFETCH_VIEWS, view.height() * C.PREFETCH_VIEWS
        return view.adjusted(-dx, -dy, dx, dy)

    def _on_timer_timeout(self) -> None:
        """One slice of background work: requested documents, then the documents of cards around the
        view (ahead of a pan), then documents far away are dropped. (Cards are made only as the view
        reaches them: `CanvasScene.show_area`.)"""
        scene = self._scene
        deadline = time.perf_counter() + C.FILL_SLICE_MS / 1000
        more = False
        for node_id in list(self.requests):
            self.requests.pop(node_id, None)
            card = scene.made_card(node_id)
            if card is not None:
                self.detail(card)
        wait = self._wait_for_still_view()
        if wait:
            self._timer.start(wait)
            return
        view = self.view_rect
        if scene.pending_count() and not view.isNull() and self.view_zoom >= BLOCK_ZOOM:
            # the cards just around the view, ahead of a pan (a bounded ring, never the whole session)
            more = scene.make_near(self._around_view(), view.center(), C.PREFETCH_BATCH)
        if not view.isNull() and self.view_zoom >= C.LOD_TEXT_MIN and time.perf_counter() < deadline:
            todo = [
                i
                for i in scene.items(self._around_view(), BY_BOUNDS)
                if isinstance(i, CardItem) and not i.has_documents
            ]
            if todo:
                centre = view.center()
                todo.sort(key=lambda c: (c.pos() - centre).manhattanLength())
                for card in todo:
                    if time.perf_counter() >= deadline:
                        more = True
                        break
                    self.detail(card)
        if len(self.detailed) > C.MAX_DETAILED:
            self._drop_far_details()
        if more:
            self._timer.start(0)

    def _drop_far_details(self) -> None:
        keep = self._around_view()
        centre = self.view_rect.center()
        cards = [c for i in self.detailed if (c := self._scene.made_card(i)) is not None]
        cards.sort(key=lambda c: (c.pos() - centre).manhattanLength(), reverse=True)
        excess = len(cards) - C.MAX_DETAILED
        for card in cards:
            if excess <= 0:
                break
            if self.view_zoom >= C.LOD_TEXT_MIN and card.sceneBoundingRect().intersects(keep):
                break  # every card left is near the view
            if card.drop_detail():
                self.detailed.pop(card.node_id, None)
                excess -= 1
