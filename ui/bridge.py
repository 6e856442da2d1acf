"""A thin QObject bridge: engine listener callbacks become Qt signals (STYLE.md "Models are observed").

The engine calls `on_node_changed(node, change)` on the asyncio loop thread, which in the app is the Qt
main thread (qasync), so the signal is delivered synchronously; receivers must stay cheap (they mark a
card dirty and return; the shared frame tick repaints).
"""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from app.domain import Node


class EngineBridge(QObject):
    node_changed = Signal(
        object, str
    )  # (Node, change): created | text | reasoning | status | usage | retry | phase

    def __init__(self, engine, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._engine = engine
        engine.add_listener(self.on_node_changed)

    def on_node_changed(self, node: Node, change: str) -> None:
        self.node_changed.emit(node, change)

    def close(self) -> None:
        self._engine.remove_listener(self.on_node_changed)
