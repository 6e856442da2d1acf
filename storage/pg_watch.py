"""LISTEN/NOTIFY for the team store: one background thread per open window holding its own psycopg
connection, `LISTEN triptych_changes`, handing every other process's note to a callback (on that
thread: the callback must only queue work for the loop thread, see `app.foreign.PushWatcher`).

A lost connection (a server restart, a network cut) is retried every `RETRY_S` (never faster), the
channel LISTENed to again, and the callback told `{"op": "resync"}`: what was written while no note
could arrive is read once the watcher next checks.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from typing import Any

from sqlalchemy.engine import make_url

from storage.backend_pg import CHANNEL, CONNECT_TIMEOUT_S, keyring_password, normalize_url, where

log = logging.getLogger(__name__)

Note = dict[str, Any]
RETRY_S = 0.5


def libpq_url(url: str) -> str:
    """The SQLAlchemy URL as a libpq connection URI (the driver name dropped)."""
    u = make_url(normalize_url(url)).set(drivername="postgresql")
    return u.render_as_string(hide_password=False)


class PgListener:
    """Calls `on_note(note)` (on its own thread) for every NOTIFY on `CHANNEL` whose token is not
    `own_token`; `{"op": "resync"}` after a reconnect. `close()` stops the thread."""

    def __init__(self, url: str, on_note: Callable[[Note], None], own_token: str) -> None:
        self._url = url
        self._on_note = on_note
        self._own = own_token
        self._stop = threading.Event()
        self.connected = threading.Event()
        self.reconnects = 0
        self._conn: Any = None
        self._thread = threading.Thread(target=self._run, name="triptych-pg-listen", daemon=True)
        self._thread.start()

    def __repr__(self) -> str:
        return f"<PgListener {where(self._url)} connected={self.connected.is_set()}>"

    def _connect(self) -> Any:
        import psycopg

        extra: dict[str, Any] = {}
        password = keyring_password(self._url)  # (the URL's own, else the keyring's, else libpq's sources)
        if password:
            extra["password"] = password
        conn = psycopg.connect(libpq_url(self._url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S,
                               application_name="triptych-listen", **extra)
        conn.execute(f"LISTEN {CHANNEL}")
        return conn

    def _run(self) -> None:
        first = True
        while not self._stop.is_set():
            try:
                self._conn = self._connect()
            except Exception as exc:
                log.info("team store listener: cannot connect to %s (%s); retrying", where(self._url),
                         type(exc).__name__)
                self._stop.wait(RETRY_S)
                continue
            self.connected.set()
            if not first:
                self.reconnects += 1
                self._deliver({"op": "resync"})
            first = False
            try:
                while not self._stop.is_set():
                    for n in self._conn.notifies(timeout=0.5):
                        self._handle(n.payload)
            except Exception as exc:
                if self._stop.is_set():
                    break
                log.info("team store listener lost %s (%s: %s); reconnecting", where(self._url), type(exc).__name__, exc)
                self.connected.clear()
                self._stop.wait(RETRY_S)
            finally:
                try:
                    self._conn.close()
                except Exception:
                    pass
        self.connected.clear()

    def _handle(self, payload: str) -> None:
        try:
            note = json.loads(payload)
        except ValueError:
            return
        if not isinstance(note, dict) or str(note.get("p")) == self._own:
            return
        self._deliver(note)

    def _deliver(self, note: Note) -> None:
        try:
            self._on_note(note)
        except Exception:
            log.exception("team store listener callback failed")

    def close(self) -> None:
        self._stop.set()
        self._thread.join(timeout=2.0)
