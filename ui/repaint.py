"""RepaintScheduler: the shared ≤ 30 fps repaint tick of the canvas's changed cards.

Graph events mark cards dirty (`mark_dirty`); a precise frame timer queues each card when its frame
budget allows (33 ms after its last render on screen, HIDDEN_CARD_INTERVAL_S off screen or when
too small to read), and a zero-delay drain timer renders one queued card per event-loop pass, so
network reads, input and painting run between two cards' renders. Retry countdowns tick twice a
second while they run.

Threading: Qt main thread (= the asyncio loop thread under qasync).
"""

from __future__ import annotations

import time
from collections.abc import Callable

from PySide6.QtCore import QObject, Qt, QTimer, Signal

from app.domain import Node
from ui.canvas import constants as C
from ui.canvas.scene import CanvasScene
from ui.canvas.view import CanvasView
from ui.format import has_live_countdown


class RepaintScheduler(QObject):
    card_rendered = Signal(str)  # node id: its card shows the node's latest state

    def __init__(self, scene: CanvasScene, view: CanvasView, node_of: Callable[[str], Node | None],
                 parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.scene = scene
        self.view = view
        self._node_of = node_of
        self._dirty: set[str] = set()
        self._render_queue: list[str] = []  # cards to re-render, one per event-loop pass
        self._last_render: dict[str, float] = {}  # node id -> monotonic time of its last render
        self._countdowns: set[str] = set()
        self._last_countdown_tick = 0.0
        # Fires when the earliest dirty card may render again (per card: 33 ms after its last render, or
        # at once if it has not rendered for that long), so each card's text reaches the screen as soon
        # as its frame budget allows, and the three cards of a fan-out render at their own phases
        # instead of all in the same loop pass.
        self._frame_timer = QTimer(self)
        self._frame_timer.setSingleShot(True)
        self._frame_timer.setTimerType(Qt.TimerType.PreciseTimer)
        self._frame_timer.timeout.connect(self._on_frame_timer_timeout)
        self._frame_due = 0.0  # monotonic time the frame timer fires at, while it is active
        self._drain_timer = QTimer(self)
        self._drain_timer.setSingleShot(True)
        self._drain_timer.setInterval(0)
        self._drain_timer.timeout.connect(self._on_drain_timer_timeout)

    def __repr__(self) -> str:
        return f"<RepaintScheduler dirty={len(self._dirty)} queued={len(self._render_queue)}>"

    def clear(self) -> None:
        """Forget pending renders (another session is shown)."""
        self._dirty.clear()
        self._render_queue.clear()

    def watch_countdown(self, node: Node) -> None:
        """Re-render `node` every half second while its retry countdown runs."""
        if has_live_countdown(node, time.time()):
            self._countdowns.add(node.id)

    def forget(self, node_id: str) -> None:
        self._countdowns.discard(node_id)
        self._dirty.discard(node_id)

    def mark_dirty(self, node_id: str) -> None:
        if node_id in self._dirty:
            return
        self._dirty.add(node_id)
        if node_id in self._render_queue:
            return
        due = self._last_render.get(node_id, 0.0) + C.FRAME_INTERVAL_MS / 1000
        if not self._frame_timer.isActive() or due < self._frame_due - 0.001:
            self._arm_frame_timer(due)

    def _arm_frame_timer(self, due: float) -> None:
        self._frame_due = due
        self._frame_timer.start(max(0, round((due - time.monotonic()) * 1000)))

    def _on_frame_timer_timeout(self) -> None:
        """Queue every changed card whose frame budget allows a render now, and re-arm for the rest."""
        now = time.time()
        mono = time.monotonic()
        if self._countdowns and now - self._last_countdown_tick >= 0.5:
            self._last_countdown_tick = now
            for node_id in list(self._countdowns):
                node = self._node_of(node_id)
                if node is None or not has_live_countdown(node, now):
                    self._countdowns.discard(node_id)
                self._dirty.add(node_id)
        visible = self.view.visible_scene_rect()
        readable = self.view.zoom() >= C.LOD_TEXT_MIN
        later: set[str] = set()
        next_due = mono + 0.5 if self._countdowns else float("inf")
        for node_id in self._dirty:
            if node_id in self._render_queue:
                continue
            card = self.scene.card(node_id)
            shown = card is not None and readable and card.sceneBoundingRect().intersects(visible)
            interval = C.FRAME_INTERVAL_MS / 1000 if shown else C.HIDDEN_CARD_INTERVAL_S
            due = self._last_render.get(node_id, 0.0) + interval
            if due > mono + 0.001:
                later.add(node_id)
                next_due = min(next_due, due)
                continue
            self._render_queue.append(node_id)
        self._dirty = later
        if self._render_queue and not self._drain_timer.isActive():
            self._drain_timer.start()
        if next_due != float("inf"):
            self._arm_frame_timer(next_due)

    def _on_drain_timer_timeout(self) -> None:
        if not self._render_queue:
            return
        node_id = self._render_queue.pop(0)
        self._dirty.discard(node_id)  # changes that came while it waited in the queue are in this render
        node = self._node_of(node_id)
        if node is not None:
            self.scene.sync_card(node)
            self._last_render[node_id] = time.monotonic()
            self.card_rendered.emit(node_id)
        if self._render_queue:
            self._drain_timer.start()

    def flush(self) -> None:
        """Apply every pending card update now (tests, screenshots, export)."""
        for node_id in self._dirty:
            if node_id not in self._render_queue:
                self._render_queue.append(node_id)
        self._dirty = set()
        while self._render_queue:
            self._on_drain_timer_timeout()
        self._drain_timer.stop()

    def stop(self) -> None:
        self._frame_timer.stop()
        self._drain_timer.stop()
