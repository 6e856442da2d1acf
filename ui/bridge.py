"""A thin QObject bridge: the engine's graph events become a Qt signal (STYLE.md "Models are observed").

The engine calls `on_graph_event(event)` on the asyncio loop thread, which in the app is the Qt main
thread (qasync), so the signal is delivered synchronously; receivers must stay cheap (they fold the
event into the session model, mark cards dirty and return; the repaint scheduler repaints).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.engine import Engine
from app.graph_events import GraphEvent


class EngineBridge(QObject):
    graph_changed = Signal(object)  # an app.graph_events event: NodesAdded | NodeChanged | NodesRemoved | SessionChanged

    def __init__(self, engine: Engine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._engine = engine
        engine.subscribe(self.on_graph_event)

    def on_graph_event(self, event: GraphEvent) -> None:
        self.graph_changed.emit(event)

    def close(self) -> None:
        self._engine.unsubscribe(self.on_graph_event)
