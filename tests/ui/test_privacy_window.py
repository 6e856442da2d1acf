"""The window and the store: another process's write lock never freezes the window (streamed text is kept
in memory and saved once the lock is free); files the window's services write are owner-only under
umask 022; a card warns when its key went over plain http:// to another machine; the bug dialog's
traceback is masked."""

from __future__ import annotations

import contextlib
import logging
import os
import secrets
import stat
import subprocess
import sys
import time

from PySide6.QtCore import QTimer

from app.domain import NodeStatus
from tests.fakes.server import Answer, FakeProviderServer
from tests.ui import hands
from tests.ui.conftest import cards_of, open_window, wait_until

HOLD_LOCK = """
import pathlib, sqlite3, sys, time
con = sqlite3.connect(sys.argv[1], isolation_level=None, timeout=10)
con.execute("BEGIN IMMEDIATE")
pathlib.Path(sys.argv[2]).write_text("locked")
time.sleep(float(sys.argv[3]))
con.execute("COMMIT")
con.close()
"""


def _answer_card(window):
    graph = window.controller.graph
    return next(c for c in cards_of(window) if graph.nodes[c.node_id].is_answer)


class TickGaps:
    """The longest pause between the ticks of a 10 ms QTimer: how long the GUI loop stood still."""

    def __init__(self, watch=lambda: None) -> None:
        self.watch = watch  # called at every tick (what the user would see then)
        self.gaps: list[float] = []
        self._last = time.monotonic()
        self._timer = QTimer()
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._tick)

    def _tick(self) -> None:
        now = time.monotonic()
        self.gaps.append(now - self._last)
        self._last = now
        self.watch()

    def start(self) -> None:
        self._last = time.monotonic()
        self._timer.start()

    def stop(self) -> float:
        self._timer.stop()
        return max(self.gaps)


async def test_a_cli_holding_the_store_lock_never_freezes_a_streaming_window(app_env, fake_server, tmp_path):
    """Another process takes the store's write lock for 2 s while an answer streams: the GUI loop keeps
    turning (no pause over 150 ms), the card says the text is not saved yet, and once the lock is free
    the whole answer is in the store."""
    from storage import open_store

    words = tuple(f"word{i} " for i in range(80))
    fake_server.script("locked-out", Answer(text=words, delay=0.05))  # ~4 s of streaming
    async with open_window() as (window, services):
        window.composer.set_models(["deepseek:locked-out"])
        hands.send(window, "Stream while the CLI writes")
        await wait_until(lambda: cards_of(window, "response"), 5, "the answer card")
        card = _answer_card(window)
        node = window.controller.graph.nodes[card.node_id]
        db = services.repo.path

        def stored():  # read back from the file (another store opened in this process would drop
            return services.repo.get_node(node.id)  # SQLite's POSIX locks: storage.sqlite._check_header)

        await wait_until(lambda: stored().text.startswith("word0 word1"), 5, "some streamed text saved")

        marker = tmp_path / "locked"
        seen: set[str] = set()

        def watch() -> None:
            if "not saved yet" in card.metrics_text:
                seen.add("not saved yet")
            if marker.exists() and node.status == NodeStatus.STREAMING:
                seen.add("streaming while locked")

        gaps = TickGaps(watch)
        gaps.start()
        child = subprocess.Popen([sys.executable, "-c", HOLD_LOCK, str(db), str(marker), "2"])  # noqa: ASYNC220
        try:
            await wait_until(marker.exists, 5, "the other process holding the write lock")
            locked_at = time.monotonic()
            await wait_until(lambda: child.poll() is not None, 5, "the lock released")
            held = time.monotonic() - locked_at
            longest = gaps.stop()
        finally:
            with contextlib.suppress(ProcessLookupError):
                child.kill()
            child.wait()
        assert held > 1.5
        assert longest < 0.15, f"the GUI loop stood still for {longest * 1000:.0f} ms while the store was locked"
        # the answer went on arriving, and its card said it was not saved yet
        assert seen == {"not saved yet", "streaming while locked"}

        await wait_until(lambda: node.status == NodeStatus.DONE, 10, "the answer done")
        full = "".join(words)
        assert node.text == full

        await wait_until(lambda: stored().status == NodeStatus.DONE, 10, "the answer saved after the lock was released")
        assert stored().text == full
        window.controller.flush_repaints()
        assert "not saved" not in card.metrics_text
    with open_store(db) as repo:  # re-opened after the window closed
        again = repo.get_node(node.id)
    assert again is not None and again.status == NodeStatus.DONE and again.text == full


async def test_the_windows_files_are_owner_only_under_umask_022(app_env, monkeypatch):
    """The window's services under umask 022: the data dir, the store and its -wal/-shm (while open),
    the support log and config.toml are owner-only."""
    from app.logs import setup_logging

    old = os.umask(0o022)
    try:
        async with open_window() as (window, services):
            setup_logging(services.settings.data_dir)  # as ui.app does after building the services
            logging.getLogger("triptych.test").info("window open")
            hands.send(window, "Say hi")
            await wait_until(lambda: cards_of(window, "response"), 5, "the answer card")
            card = _answer_card(window)
            await wait_until(lambda: window.controller.graph.nodes[card.node_id].status == NodeStatus.DONE, 10)
            services.settings.save()
            home = services.settings.data_dir
            found = {str(p.relative_to(home)): oct(stat.S_IMODE(p.stat().st_mode)) for p in home.rglob("*")}
            found["."] = oct(stat.S_IMODE(home.stat().st_mode))
    finally:
        os.umask(old)
        from app import logs

        if logs._installed is not None:
            logging.getLogger().removeHandler(logs._installed)
            logs._installed.close()
            logs._installed = None
    assert {"triptych.db", "triptych.db-wal", "triptych.db-shm", "logs/triptych.log", "config.toml"} <= set(found)
    loose = {name: mode for name, mode in found.items()
             if mode != ("0o700" if (home / name).is_dir() else "0o600")}
    assert loose == {}, found


async def test_a_card_warns_when_its_key_went_over_plain_http_to_another_host(app_env, fake_server, monkeypatch):
    remote = FakeProviderServer(host="127.0.0.2", tokens_per_second=0)  # "another machine" (not 127.0.0.1)
    _url, stop = remote.run_in_thread()
    try:
        (app_env / "providers.toml").write_text(
            f'[remote]\nbase_url = "{remote.base_url}/v1"\nprotocol = "chat"\nkey_env = "REMOTE_KEY"\n')
        monkeypatch.setenv("REMOTE_KEY", "remote-key-0123456789")
        async with open_window() as (window, _services):
            window.composer.set_models(["remote:box-model", "deepseek:deepseek-flash"])
            hands.send(window, "Hello over the network")
            await wait_until(lambda: len(cards_of(window, "response")) == 2, 5, "two answer cards")
            graph = window.controller.graph
            await wait_until(lambda: all(graph.nodes[c.node_id].status == NodeStatus.DONE
                                         for c in cards_of(window, "response")), 10, "both answers done")
            window.controller.flush_repaints()
            by_model = {graph.nodes[c.node_id].model: c for c in cards_of(window, "response")}
            warned = by_model["remote:box-model"].metrics_text
            assert "plain http://" in warned and "127.0.0.2" in warned and "https://" in warned
            assert "plain http://" not in by_model["deepseek:deepseek-flash"].metrics_text  # 127.0.0.1
            assert remote.requests  # sent all the same: the user chose the URL
    finally:
        stop()


def test_the_bug_dialog_and_stderr_show_the_traceback_with_keys_masked(app_env, monkeypatch, capfd, qtbot):
    from PySide6.QtWidgets import QMessageBox

    from app.config import load_settings
    from app.logs import setup_logging
    from ui.app import ErrorReporter

    token = f"hdr{secrets.token_hex(12)}"
    (app_env / "providers.toml").write_text(
        f'[mine]\nbase_url = "http://127.0.0.1:9/v1"\nprotocol = "chat"\n[mine.headers]\napi-key = "{token}"\n')
    settings = load_settings()
    log_path = setup_logging(settings.data_dir)
    assert log_path is not None
    shown: list[tuple[str, str]] = []
    monkeypatch.delenv("TRIPTYCH_NO_ERROR_DIALOG")
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append((box.informativeText(), box.detailedText())))
    reporter = ErrorReporter()
    try:
        try:
            raise ValueError(f"request failed: headers {settings.providers['mine'].headers}")
        except ValueError:
            reporter.excepthook(*sys.exc_info())
    finally:
        from app import logs

        if logs._installed is not None:
            logging.getLogger().removeHandler(logs._installed)
            logs._installed.close()
            logs._installed = None
    ((summary, details),) = shown
    assert summary.startswith("ValueError: request failed") and "[redacted]" in summary
    assert "Traceback" in details and "[redacted]" in details
    err = capfd.readouterr().err
    assert "Traceback" in err
    for text in (summary, details, err, *reporter.errors, log_path.read_text(encoding="utf-8")):
        assert token not in text


def test_settings_warn_while_the_base_url_would_send_the_key_over_plain_http(qapp, tmp_path, monkeypatch):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from app.catalog import load_catalog
    from app.config import load_settings
    from ui.settings_dialog import SettingsDialog

    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path))
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-deepseek-key-0123456789")
    settings = load_settings()
    dialog = SettingsDialog(settings, load_catalog(settings), lambda: None, provider="deepseek")
    dialog.show()
    edit = dialog.base_url_edit

    def type_url(url: str) -> None:
        edit.setFocus()
        QTest.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        QTest.keyClicks(edit, url)

    assert not dialog.http_warning.isVisible()  # https://api.deepseek.com
    type_url("http://192.0.2.5:8000/v1")
    assert dialog.http_warning.isVisible()
    assert "plain http://" in dialog.http_warning.text() and "192.0.2.5" in dialog.http_warning.text()
    for quiet in ("https://192.0.2.5:8000/v1", "http://localhost:8000/v1", "http://127.0.0.1:8000/v1"):
        type_url(quiet)
        assert not dialog.http_warning.isVisible(), quiet
    dialog.select_provider("ollama")  # no key: nothing to leak over plain http
    type_url("http://192.0.2.5:11434/v1")
    assert not dialog.http_warning.isVisible()
    dialog.close()


def test_a_store_write_that_gave_up_on_the_lock_is_not_called_a_bug(qapp, monkeypatch, capfd):
    from PySide6.QtWidgets import QMessageBox

    from app.repository import StoreBusyError
    from ui.app import ErrorReporter

    shown: list[tuple[str, str]] = []
    monkeypatch.delenv("TRIPTYCH_NO_ERROR_DIALOG")
    monkeypatch.setattr(QMessageBox, "exec", lambda box: shown.append((box.windowTitle(), box.text())))
    reporter = ErrorReporter()
    try:
        raise StoreBusyError("triptych.db is locked: another program has been writing to it for more than 50 ms")
    except StoreBusyError:
        reporter.excepthook(*sys.exc_info())
    ((title, text),) = shown
    assert title == "Triptych: the store is busy" and "not saved" in text and "Try again" in text
    capfd.readouterr()
