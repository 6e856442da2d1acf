"""The GUI (`triptych gui`, reached through ui/launch.py): QApplication, the qasync loop, one HTTP client, the store, the engine and the main window; and the
one place unhandled errors are shown.

Async contract: `main()` runs `asyncio.Runner(loop_factory=TriptychEventLoop)` and awaits an event set
when the last window closes; then it cancels the streams (their text is saved as `stopped`), closes the
HTTP client and the store.
"""

from __future__ import annotations

import asyncio
import logging
import os
import sys
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

os.environ.setdefault("QT_API", "pyside6")

from PySide6.QtCore import QEvent, QMessageLogContext, QObject, QTimer, QtMsgType, qInstallMessageHandler
from PySide6.QtWidgets import QApplication, QMessageBox, QWidget

from ui import gc_policy
from ui.launch import make_application
from ui.qtloop import TriptychEventLoop

if TYPE_CHECKING:
    from app.catalog import Catalog
    from app.config import Settings
    from app.engine import Engine
    from app.write_queue import WriteBehindStore
    from storage.repository import SqliteRepository
    from ui.main_window import MainWindow

log = logging.getLogger(__name__)

GC_RESUME_MS = 20_000  # the collector is back on by then, whatever the start-up and first fill did
# after the canvas's first paint, one at a time (each costs the GUI thread tens of ms)
GC_RESUME_AFTER_PAINT_MS = 150
CLIENT_WARM_UP_MS = 400
KEYRING_AFTER_PAINT_MS = 50  # on a worker thread (build_services leaves the keyring for after the paint)
RENDERER_WARM_UP_MS = 200  # on a worker thread: the GUI thread stays free for the user's input


class ErrorReporter:
    """The one place unhandled errors reach (sys.excepthook and the asyncio loop's handler).

    Logs every error; shows at most one dialog at a time, with the traceback under "details".
    """

    def __init__(self) -> None:
        self._showing = False
        self.errors: list[str] = []

    def excepthook(
        self, exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None
    ) -> None:
        if issubclass(exc_type, KeyboardInterrupt):
            sys.__excepthook__(exc_type, exc, tb)
            return
        text = "".join(traceback.format_exception(exc_type, exc, tb))
        self.report(f"{exc_type.__name__}: {exc}", text, busy=_is_store_busy(exc))

    def loop_exception_handler(self, loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        exc = context.get("exception")
        if isinstance(exc, asyncio.CancelledError):
            return
        message = context.get("message", "asyncio error")
        if exc is not None:
            text = "".join(traceback.format_exception(type(exc), exc, exc.__traceback__))
            self.report(f"{type(exc).__name__}: {exc}", text, busy=_is_store_busy(exc))
        else:
            log.warning("asyncio: %s", message)

    def report(self, summary: str, details: str, *, busy: bool = False) -> None:
        """`busy`: not a bug but a store write that gave up on another process's write lock (the
        GUI's store waits ~50 ms): the dialog says so."""
        from app.logs import redact

        # A traceback's messages and locals may carry a key (an httpx error with the request's
        # headers): masked before anything shows or stores them.
        summary, details = redact(summary), redact(details)
        _ensure_log()  # an error before the store opened (started from a launcher: no terminal to see it)
        log.error("unhandled error: %s\n%s", summary, details)
        self.errors.append(summary)
        if sys.stderr is not None:  # None under a launcher on some platforms (pythonw)
            print(details, file=sys.stderr)
        if self._showing or QApplication.instance() is None or os.environ.get("TRIPTYCH_NO_ERROR_DIALOG"):
            return
        self._showing = True
        try:
            box = QMessageBox(QApplication.activeWindow())
            if busy:
                box.setIcon(QMessageBox.Icon.Warning)
                box.setWindowTitle("Triptych: the store is busy")
                box.setText("Another program (the triptych command, for example) is writing to the store "
                            "right now, so this change was not saved. Try again in a moment.")
            else:
                box.setIcon(QMessageBox.Icon.Critical)
                box.setWindowTitle("Triptych hit a bug")
                box.setText("Something went wrong inside Triptych. Your cards are saved; you can keep working.")
            box.setInformativeText(summary)
            box.setDetailedText(details)
            box.exec()
        finally:
            self._showing = False


def _ensure_log() -> None:
    """The support log in the data dir, if nothing has set it up yet (app.logs.setup_logging)."""
    from app import logs
    from app.paths import resolve_data_dir

    if logs.installed_handler() is None:
        try:
            logs.setup_logging(resolve_data_dir())
        except Exception:  # noqa: BLE001 - no log then; the dialog and stderr still say it
            pass


def _qt_message(mode: QtMsgType, context: QMessageLogContext, message: str) -> None:
    """Qt's own warnings: into the support log too (from a launcher, stderr goes nowhere anyone reads)."""
    level = {QtMsgType.QtWarningMsg: logging.WARNING, QtMsgType.QtCriticalMsg: logging.ERROR,
             QtMsgType.QtFatalMsg: logging.CRITICAL}.get(mode)
    if level is not None:
        logging.getLogger("qt").log(level, "%s", message)
    if sys.stderr is not None:
        print(message, file=sys.stderr)


def _is_store_busy(exc: BaseException | None) -> bool:
    from app.repository import StoreBusyError

    return isinstance(exc, StoreBusyError)


QUIT_SAVE_WAIT_S = 3.0
"""On quit, how long changes still waiting for another program's write lock are tried (ui.app)."""


@dataclass(slots=True)
class Services:
    settings: Settings
    repo: SqliteRepository  # the store itself (opened, closed, its busy timeout set here)
    catalog: Catalog
    engine: Engine  # it owns the one shared HTTP client (`engine.client`, made on first use)
    # The store as the window and the engine write it: a write that finds the store locked by another
    # process waits in a queue (app.write_queue) instead of failing.
    store: WriteBehindStore


class StartupCancelled(Exception):
    """The user chose not to continue (for example after a store error)."""


def _dialogs_in_theme(settings: Settings | None) -> None:
    """Before a start-up question: the user's theme (the window applies it later; the dialog came first)."""
    app = QApplication.instance()
    if settings is None or not isinstance(app, QApplication):
        return
    from ui.theme import apply_theme, resolve_theme

    apply_theme(app, resolve_theme(settings.ui.get("theme", "system")), int(settings.ui.get("font_size", 10)))


def _sentence(text: str) -> str:
    return text[:1].upper() + text[1:]


def open_store_interactive(data_dir: Path, parent: QWidget | None = None,
                           location: str | Path | None = None,
                           settings: Settings | None = None) -> SqliteRepository:
    """open_store with the user in the loop: a corrupt DB may be moved aside and a fresh one started;
    an unreachable team store (`location`, a URL) may be swapped for the local store. `settings`: the
    questions are asked in the user's theme."""
    from app.repository import StoreError
    from storage import CorruptStoreError, backup_corrupt, open_store
    from storage.backend_pg import StoreUnreachableError

    try:
        return open_store(location if location is not None else data_dir)
    except StoreUnreachableError as exc:
        _dialogs_in_theme(settings)
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Triptych: the team store is unreachable")
        box.setText(_sentence(str(exc)))
        box.setInformativeText(f"You can work in the local store ({data_dir}) and copy the session to the "
                               "team store later (File → Copy to team store…, or triptych copy SESSION "
                               "--to URL).")
        local = box.addButton("Open the local store", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        if box.clickedButton() is not local:
            raise StartupCancelled() from exc
        return open_store_interactive(data_dir, parent, settings=settings)
    except CorruptStoreError as exc:
        _dialogs_in_theme(settings)
        box = QMessageBox(parent)
        box.setIcon(QMessageBox.Icon.Warning)
        box.setWindowTitle("Triptych: the database is damaged")
        box.setText(str(exc))
        box.setInformativeText(
            "Triptych can move the damaged file aside (nothing is deleted) and start "
            "with a fresh, empty database. You can try to recover the old file later."
        )
        fresh = box.addButton("Back it up and start fresh", QMessageBox.ButtonRole.AcceptRole)
        box.addButton("Quit", QMessageBox.ButtonRole.RejectRole)
        box.exec()
        if box.clickedButton() is not fresh:
            raise StartupCancelled() from exc
        moved = backup_corrupt(exc.path)
        log.warning("moved a damaged database to %s", moved)
        return open_store(data_dir)
    except StoreError as exc:
        _dialogs_in_theme(settings)
        QMessageBox.critical(parent, "Triptych cannot open its database", _sentence(str(exc)))
        raise StartupCancelled() from exc


def build_services(data_dir: str | os.PathLike[str] | None = None, *, interactive: bool = True) -> Services:
    """Settings, store (orphans marked interrupted), catalog and the engine, which makes the one
    shared HTTP client on first use (`warm_up_client` makes it once the window has painted).

    Call on the loop thread. `interactive=False` (tests) lets store errors propagate.
    """
    from app.catalog import load_catalog
    from app.config import load_settings
    from app.engine import Engine
    from app.write_queue import WriteBehindStore
    from storage.sqlite import GUI_BUSY_TIMEOUT_MS

    settings = load_settings(data_dir, keyring=False)  # the keyring after the first paint (read_keyring)
    if interactive:
        repo = open_store_interactive(settings.data_dir, location=settings.store_location, settings=settings)
    else:
        from storage import open_store

        repo = open_store(settings.store_location)
    interrupted = repo.mark_orphans_interrupted()
    if interrupted:
        log.info("%d answers were cut by a previous exit and are marked interrupted", len(interrupted))
    # From here on every store call runs on the GUI thread: none may wait long for another process's
    # write lock (a CLI writing to the same store). A streaming write that finds it locked is kept in
    # memory and retried (app.engine), any other write waits in a queue (app.write_queue); opening the
    # store above still waited the usual 5 s.
    repo.set_busy_timeout(GUI_BUSY_TIMEOUT_MS)
    store = WriteBehindStore(repo)
    catalog = load_catalog(settings)
    engine = Engine(store, settings, catalog=catalog)
    return Services(settings, repo, catalog, engine, store)


def create_window(services: Services) -> MainWindow:
    """The main window over `services` (theme applied). Shown by the caller."""
    from ui.main_window import MainWindow
    from ui.theme import apply_theme, resolve_theme

    app = QApplication.instance()
    if not isinstance(app, QApplication):
        raise RuntimeError("create_window needs the QApplication (ui.launch.make_application)")
    ui = services.settings.ui
    apply_theme(app, resolve_theme(ui.get("theme", "system")), int(ui.get("font_size", 10)))
    return MainWindow(
        services.settings,
        services.store,
        services.catalog,
        services.engine,
        client_getter=lambda: services.engine.client,
    )


def warm_up_client(services: Services) -> None:
    """Make the engine's HTTP client now (importing httpx, loading the CA certificates: ~60 ms) rather
    than on the first send, where it would add to that answer's time to first token."""
    try:
        services.engine.client  # noqa: B018 (the property makes it)
    except Exception:  # the first send makes it again and reports what fails on its card
        log.exception("could not make the HTTP client")


def read_keyring(loop: asyncio.AbstractEventLoop, services: Services, window: MainWindow) -> asyncio.Future[None]:
    """Ask the OS keyring for the providers' keys on a worker thread (importing `keyring` and finding
    its backend: ~100-200 ms, a desktop keyring answers over D-Bus), then, on the GUI thread, put
    them in the settings and refresh what the window says about keys. A send before this answers
    asks the keyring itself (app.lanes)."""
    from app.config import apply_keyring_keys, read_keyring_keys

    settings = services.settings
    done: asyncio.Future[None] = loop.create_future()
    if not settings.keyring_pending:
        done.set_result(None)
        return done
    initial = window.composer.models()
    worker = loop.run_in_executor(None, read_keyring_keys, list(settings.providers))

    def answered(future: asyncio.Future[dict[str, str]]) -> None:
        try:
            keys = future.result()
        except Exception:  # any keyring trouble means "no key from the keyring" (as load_settings)
            log.exception("keyring read failed")
            keys = {}
        if settings.keyring_pending:
            apply_keyring_keys(settings, keys)
            window.keys_changed(initial)
        done.set_result(None)

    worker.add_done_callback(answered)
    return done


async def close_services(services: Services) -> None:
    """Stop every stream (saved as stopped), close the HTTP client (the engine's), write the changes
    still waiting for another program's lock (for up to QUIT_SAVE_WAIT_S; then the user is told what
    was not saved) and close the store."""
    try:
        await services.engine.aclose()
        if services.store.pending:
            unsaved = await services.store.flush(QUIT_SAVE_WAIT_S)
            if unsaved:
                tell_unsaved(unsaved)
    finally:
        services.store.close()


def tell_unsaved(labels: list[str]) -> None:
    """Say which changes could not be saved at quit (another program held the store's lock)."""
    shown = labels[:8] + ([f"and {len(labels) - 8} more"] if len(labels) > 8 else [])
    text = ("Another program (the triptych command, for example) kept the store locked, so these "
            "changes were not saved:\n\n" + "\n".join(f"• {label}" for label in shown))
    log.error("quit with %d changes not saved (the store stayed locked): %s", len(labels), "; ".join(labels))
    if QApplication.instance() is None or os.environ.get("TRIPTYCH_NO_ERROR_DIALOG"):
        print(f"triptych: {text}", file=sys.stderr)
        return
    box = QMessageBox()
    box.setIcon(QMessageBox.Icon.Warning)
    box.setWindowTitle("Triptych: some changes were not saved")
    box.setText(text)
    box.exec()


class OnFirstPaint(QObject):
    """Calls `callback` once, right after `widget` has first painted."""

    def __init__(self, widget: QWidget, callback: Callable[[], object]) -> None:
        super().__init__(widget)
        self._callback = callback
        widget.installEventFilter(self)

    def eventFilter(self, obj: QObject, event: QEvent) -> bool:  # noqa: N802 (Qt's name)
        if event.type() == QEvent.Type.Paint:
            obj.removeEventFilter(self)
            QTimer.singleShot(0, self._callback)  # once this paint has finished
        return False


async def _run(app: QApplication, reporter: ErrorReporter) -> int:
    from app.config import ConfigError
    from app.logs import setup_logging

    loop = asyncio.get_running_loop()
    loop.set_exception_handler(reporter.loop_exception_handler)
    try:
        services = build_services()
    except ConfigError as exc:
        QMessageBox.critical(None, "Triptych: configuration problem", str(exc))
        return 2
    except StartupCancelled:
        return 1
    setup_logging(services.settings.data_dir)
    closed = asyncio.Event()
    window = create_window(services)
    window.closed.connect(closed.set)
    app.lastWindowClosed.connect(closed.set)
    window.composer.focus_prompt()  # before it shows: the first keys typed go to the prompt box
    window.show()
    window.raise_()
    window.activateWindow()
    highlighting = HighlightWarmUp(loop)

    def painted() -> None:
        """Start-up work that waits until the canvas has painted and the user's first input has been
        handled: the collector back on (its first collection scans everything start-up made: ~45 ms
        for a 10,000-card session, ui/gc_policy.py), the HTTP client made, the markdown renderer
        imported and the highlighter prepared (on a worker thread)."""
        QTimer.singleShot(KEYRING_AFTER_PAINT_MS, lambda: read_keyring(loop, services, window))
        QTimer.singleShot(GC_RESUME_AFTER_PAINT_MS, lambda: gc_policy.resume("start-up"))
        QTimer.singleShot(RENDERER_WARM_UP_MS, highlighting.start)
        QTimer.singleShot(CLIENT_WARM_UP_MS, lambda: warm_up_client(services))
        if os.environ.get("TRIPTYCH_EXIT_AFTER_PAINT"):  # a smoke test of an installed build or bundle
            print(f"triptych: the window painted ({window.windowTitle()}); closing", file=sys.stderr)
            QTimer.singleShot(0, window.close)

    OnFirstPaint(window.view.viewport(), painted)
    QTimer.singleShot(GC_RESUME_MS, gc_policy.resume_all)  # whatever happens
    QTimer.singleShot(0, window.composer.focus_prompt)
    await closed.wait()
    await highlighting.stop()
    await close_services(services)
    return 0


class HighlightWarmUp:
    """Imports the markdown renderer (markdown-it, Pygments; ui/render_bridge.py imports it when a
    card first shows text, which a window restored zoomed out does not before its first paint) and
    prepares the code highlighter for common languages (`app.render.highlight.warm_up`), on a worker
    thread after start-up: on the GUI thread the import would cost ~25-40 ms at the first card that
    shows text, and the first code block of each language ~20-60 ms mid-stream. Owned by `_run`:
    `stop()` asks it to end after the current language and waits for it."""

    def __init__(self, loop: asyncio.AbstractEventLoop) -> None:
        self._loop = loop
        self._stopping = False
        self._future: asyncio.Future[int] | None = None

    def start(self) -> None:
        if self._stopping or self._future is not None:
            return
        self._future = self._loop.run_in_executor(None, self._work)

    def _work(self) -> int:
        """On the worker thread."""
        import app.render.incremental  # noqa: F401 (the renderer: markdown, highlight, math)
        from app.render.highlight import COMMON_LANGS, warm_up

        return warm_up(COMMON_LANGS, self._stop_requested)

    def _stop_requested(self) -> bool:
        """Asked by the worker thread between languages."""
        return self._stopping

    async def stop(self) -> None:
        self._stopping = True
        if self._future is not None:
            try:
                await self._future
            except Exception:  # a warm-up that failed costs the first block its time, nothing else
                log.exception("highlighter warm-up failed")


def main(argv: list[str] | None = None) -> int:
    """Open the app; returns the process exit status."""
    argv = list(sys.argv if argv is None else argv)
    app = make_application(argv)  # (it leaves quitting to main(), after the streams are saved)
    reporter = ErrorReporter()
    previous_hook = sys.excepthook
    sys.excepthook = reporter.excepthook
    previous_handler = qInstallMessageHandler(_qt_message)
    try:
        with asyncio.Runner(loop_factory=lambda: TriptychEventLoop(app)) as runner:
            return runner.run(_run(app, reporter))
    except Exception as exc:  # start-up failed: said in a dialog and the log, not only on stderr
        reporter.excepthook(type(exc), exc, exc.__traceback__)
        return 1
    finally:
        qInstallMessageHandler(previous_handler)
        sys.excepthook = previous_hook


if __name__ == "__main__":
    sys.exit(main())
