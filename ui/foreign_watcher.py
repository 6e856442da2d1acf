"""The GUI's clock for a polling `ForeignChangeWatcher` (app/foreign.py): checks the open session for
other processes' writes every STORE_POLL_MS. A watcher that is told of changes (PostgreSQL
LISTEN/NOTIFY) needs no clock: it calls its listener itself.

Threading: Qt main thread; each check is a few short store reads.
"""

from __future__ import annotations

import logging

from PySide6.QtCore import QObject, QTimer

from app.foreign import ForeignChangeWatcher

log = logging.getLogger(__name__)

STORE_POLL_MS = 1000  # how often the open session is checked for other processes' cards and text


class PollingClock(QObject):
    def __init__(self, watcher: ForeignChangeWatcher, parent: QObject | None = None,
                 interval_ms: int = STORE_POLL_MS) -> None:
        super().__init__(parent)
        self.watcher = watcher
        self._timer = QTimer(self)
        self._timer.setInterval(interval_ms)
        self._timer.timeout.connect(self._on_timer_timeout)

    def __repr__(self) -> str:
        return f"<PollingClock {self.watcher!r} active={self._timer.isActive()}>"

    def start(self) -> None:
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()

    def _on_timer_timeout(self) -> None:
        try:
            self.watcher.check()
        except Exception as exc:  # a locked or vanished store: try again on the next tick
            log.warning("could not check the session for other processes' changes: %s", exc)
