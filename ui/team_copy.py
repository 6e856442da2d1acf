"""File → Copy to team store…: the open session copied (ids kept, only what is new) into a team store
(a PostgreSQL URL; storage.copy). The URL is asked for, prefilled from TRIPTYCH_DATABASE_URL or
config.toml `[store] url`; a password typed into it is used for this copy only, never saved.

Threading: the copy (which opens a connection) runs in a worker thread; the window stays responsive.
"""

from __future__ import annotations

import asyncio
import logging
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QInputDialog, QLineEdit, QMessageBox

from app.logs import redact_url

if TYPE_CHECKING:
    from ui.main_window import MainWindow

log = logging.getLogger(__name__)


def _copy(repo: Any, url: str, session_id: str) -> Any:
    from storage import copy_session, open_store

    with open_store(url) as team:
        return copy_session(repo, team, session_id)


class TeamCopy:
    def __init__(self, window: MainWindow) -> None:
        self.w = window
        self.task: asyncio.Task[None] | None = None

    def __repr__(self) -> str:
        return f"<TeamCopy running={self.task is not None and not self.task.done()}>"

    def ask_url(self, default: str) -> str | None:
        """The team store's URL (None: cancelled)."""
        text, ok = QInputDialog.getText(
            self.w, "Copy to team store", "PostgreSQL URL (postgresql+psycopg://user@host/database):",
            QLineEdit.EchoMode.Normal, default)
        return text.strip() if ok and text.strip() else None

    def copy_session(self) -> None:
        session = self.w.controller.session
        if session is None:
            return
        url = self.ask_url(self.w.settings.database_url or "")
        if url is None:
            return
        if not url.startswith(("postgresql", "postgres:")):
            self.w.statusBar().showMessage("A team store URL starts with postgresql+psycopg://", 6000)
            return
        self.w.statusBar().showMessage(f"Copying “{session.title}” to {redact_url(url)}…")
        self.task = asyncio.ensure_future(self._run(url, session.id, session.title))

    async def _run(self, url: str, session_id: str, title: str) -> None:
        try:
            result = await asyncio.to_thread(_copy, self.w.controller.repo, url, session_id)
        except Exception as exc:  # unreachable server, refused schema: say so, keep working
            log.warning("copy to the team store failed: %s", redact_url(str(exc)))
            message = f"Could not copy “{title}”: {redact_url(str(exc))}"
            self.w.statusBar().showMessage(message, 10000)
            # The user asked for this copy: the whole reason, where it cannot be missed or cut off.
            # (open(), not exec(): no nested event loop inside this task.)
            box = QMessageBox(QMessageBox.Icon.Warning, "Copy to team store", message,
                              QMessageBox.StandardButton.Ok, self.w)
            box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
            box.open()
            return
        where = redact_url(url)
        if result.cards or result.new_session:
            self.w.statusBar().showMessage(
                f"Copied “{title}” to {where}: {result.cards} cards ({result.already} were there already)", 8000)
        else:
            self.w.statusBar().showMessage(f"“{title}” is up to date in {where}", 8000)
