"""SessionController: which session the canvas shows, and the session records' own edits.

Open, new, rename, duplicate, delete (to the trash, undoable) and restore a session, and keep its saved
viewport current (debounced while the user pans and zooms, written on switch and quit). It loads a
session's graph and hands it to the `CanvasController`, which draws it and keeps it current from the
graph events; renames and deletions go through the engine (the one writer), as undo commands.

Threading: Qt main thread (= the asyncio loop thread); repository calls are short transactions.
"""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING

from PySide6.QtCore import QObject, QTimer

from app.domain import Session, Viewport
from ui.canvas import constants as C
from ui.canvas import loader
from ui.commands import DeleteSessionCommand, RenameSessionCommand

if TYPE_CHECKING:
    from ui.controller import CanvasController

log = logging.getLogger(__name__)


class SessionController(QObject):
    def __init__(self, canvas: CanvasController) -> None:
        super().__init__(canvas)
        self.canvas = canvas
        self.repo = canvas.repo
        self._viewport_timer = QTimer(self)
        self._viewport_timer.setSingleShot(True)
        self._viewport_timer.setInterval(C.VIEWPORT_SAVE_DEBOUNCE_MS)
        self._viewport_timer.timeout.connect(self._on_viewport_timer_timeout)
        self._pending_viewport: Viewport | None = None
        self._restoring_viewport = False
        canvas.view.viewport_changed.connect(self._on_view_viewport_changed)

    def __repr__(self) -> str:
        return f"<SessionController {self.canvas.session!r}>"

    # ------------------------------------------------------------------ showing
    def open_session(self, session_id: str) -> None:
        """Show a session: cards, edges and its saved viewport."""
        c = self.canvas
        self.flush_viewport()
        session = self.repo.get_session(session_id)
        if session is None:
            c.message_posted.emit("That session no longer exists.", 4000)
            return
        graph = loader.open_graph(self.repo, session_id)  # its outline: cards are read as the view needs them
        # While a lane streams, the engine's own Node object is the truth (the store lags ≤ 250 ms).
        for node_id, run in list(c.engine.runs.items()):
            if node_id in graph.nodes:
                graph.nodes[node_id] = run.node
        c.show_session(session, graph)
        self._restore_viewport(session)
        c.sweeps.after_viewport(session)
        c.settings.ui["last_session"] = session.id
        c.watch_foreign_changes()
        c.session_changed.emit(session.id, session.title)
        c.emit_totals()
        c.emit_follow()

    def _restore_viewport(self, session: Session) -> None:
        vp = session.viewport
        graph = self.canvas.graph
        self._restoring_viewport = True
        try:
            if vp.zoom == 1.0 and vp.x == 0.0 and vp.y == 0.0 and graph and graph.nodes:
                self.canvas.view.fit_all()  # never saved: show everything
            else:
                self.canvas.view.set_viewport(vp.x, vp.y, vp.zoom)
        finally:
            self._restoring_viewport = False

    def ensure_session(self, session_id: str) -> None:
        if self.canvas.session_id != session_id:
            self.open_session(session_id)

    def open_initial_session(self) -> None:
        last = self.canvas.settings.ui.get("last_session")
        if isinstance(last, str) and self.repo.get_session(last) is not None:
            self.open_session(last)
            return
        sessions = self.repo.list_sessions()
        if sessions:
            self.open_session(sessions[0].id)
        else:
            self.new_session()

    # ------------------------------------------------------------------ user edits
    def start_session(self) -> str:
        """The user's "New session" (Ctrl+N, the sidebar's New): a fresh untitled session, except when
        the open one is already that (no cards, no title): then it stays, and says so, instead of
        piling up empty "Untitled · 0 cards" sessions."""
        c = self.canvas
        session, graph = c.session, c.graph
        if session is not None and graph is not None and not graph.nodes and session.title == "Untitled":
            c.message_posted.emit("This session is new and empty already: type a prompt below.", 4000)
            c.composer_focus_requested.emit()
            return session.id
        session_id = self.new_session()
        c.composer_focus_requested.emit()  # a new session is for typing a prompt: the caret goes there
        return session_id

    def new_session(self, title: str = "Untitled") -> str:
        session = self.canvas.engine.create_session(title)
        self.canvas.sessions_changed.emit()
        self.open_session(session.id)
        return session.id

    def rename_session(self, session_id: str, title: str) -> None:
        title = title.strip()
        session = self.repo.get_session(session_id)
        if session is None or not title or title == session.title:
            return
        self.canvas.undo_stack.push(RenameSessionCommand(self.canvas, session_id, session.title, title))

    def duplicate_session(self, session_id: str) -> None:
        session = self.repo.get_session(session_id)
        if session is None:
            return
        copy_ = self.canvas.engine.duplicate_session(session_id, f"{session.title} (copy)")
        self.canvas.sessions_changed.emit()
        self.open_session(copy_.id)

    def delete_session(self, session_id: str) -> None:
        session = self.repo.get_session(session_id)
        if session is None:
            return
        self.canvas.undo_stack.push(DeleteSessionCommand(self.canvas, session_id, session.title))
        self.canvas.message_posted.emit(f"Deleted “{session.title}”. Ctrl+Z brings it back.", 6000)

    # ------------------------------------------------------------------ applied by commands
    def apply_rename(self, session_id: str, title: str) -> None:
        """Through the engine: its SessionChanged retitles the open session (CanvasController)."""
        if self.canvas.engine.rename_session(session_id, title) is not None:
            self.canvas.sessions_changed.emit()

    def apply_delete_session(self, session_id: str) -> None:
        self.canvas.engine.delete_session(session_id)
        self.canvas.sessions_changed.emit()
        if self.canvas.session_id == session_id:
            remaining = [s for s in self.repo.list_sessions() if s.id != session_id]
            if remaining:
                self.open_session(remaining[0].id)
            else:
                self.new_session()

    def apply_restore_session(self, session_id: str) -> None:
        self.canvas.engine.restore_session(session_id)
        self.canvas.sessions_changed.emit()
        self.open_session(session_id)
        session = self.canvas.session
        if session is not None and session.id == session_id:  # (replaces "Deleted …, Ctrl+Z brings it back")
            self.canvas.message_posted.emit(f"Restored “{session.title}”.", 4000)

    # ------------------------------------------------------------------ viewport persistence
    def _on_view_viewport_changed(self, x: float, y: float, zoom: float) -> None:
        if self.canvas.session is None or self._restoring_viewport:
            return
        self._pending_viewport = Viewport(x=x, y=y, zoom=zoom)
        self._viewport_timer.start()

    def _on_viewport_timer_timeout(self) -> None:
        self.flush_viewport()

    def flush_viewport(self) -> None:
        """Write a pending viewport change now (on session switch and on quit)."""
        self._viewport_timer.stop()
        vp, self._pending_viewport = self._pending_viewport, None
        current = self.canvas.session
        if vp is None or current is None:
            return
        current.viewport = vp
        try:
            self.repo.save_viewport(current.id, vp)
        except Exception as exc:
            log.warning("could not save the viewport: %s", exc)

    def close(self) -> None:
        self.flush_viewport()
        self._viewport_timer.stop()
        try:
            self.canvas.view.viewport_changed.disconnect(self._on_view_viewport_changed)
        except (RuntimeError, TypeError):
            pass
