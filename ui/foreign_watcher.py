"""The GUI's clock for a polling `ForeignChangeWatcher` (app/foreign.py): checks the open session for
other processes' writes every STORE_POLL_MS. A watcher that is told of changes (PostgreSQL
LISTEN/NOTIFY) needs no clock: it calls its listener itself.

Threading: Qt main thread; each check is a few short store reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Collection
from typing import Any

from PySide6.QtCore import QObject, QTimer

from app.foreign import ForeignChangeWatcher, PushWatcher, StorePoller

log = logging.getLogger(__name__)

STORE_POLL_MS = 1000  # how often the open session is checked for other processes' cards and text


def make_watcher(repo: Any, on_changes: Callable[..., None], own_runs: Callable[[], Collection[str]],
                 sessions_changed: Callable[[], None]) -> StorePoller:
    """The open session's watcher: told of writes by a team store that announces them (LISTEN/NOTIFY,
    `repo.listen`), else polled every second by a `PollingClock` (SQLite)."""
    listen = getattr(repo, "listen", None)
    if listen is None:
        return StorePoller(repo, on_changes, own_runs)
    return PushWatcher(repo, on_changes, own_runs, listen, asyncio.get_event_loop().call_soon_threadsafe,
                       sessions_changed)


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
