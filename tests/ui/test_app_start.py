"""Start-up paths of ui.app: a damaged database is moved aside on request; errors reach one reporter."""

from __future__ import annotations

import sys

import pytest
from PySide6.QtWidgets import QMessageBox

from ui.app import ErrorReporter, StartupCancelled, open_store_interactive


def _answer(monkeypatch, role):
    monkeypatch.setattr(QMessageBox, "exec", lambda self: 0)
    monkeypatch.setattr(
        QMessageBox,
        "clickedButton",
        lambda self: next(b for b in self.buttons() if self.buttonRole(b) == role),
    )


def test_corrupt_database_is_backed_up_and_a_fresh_one_started(qapp, tmp_path, monkeypatch):
    (tmp_path / "triptych.db").write_bytes(b"this is not a database" * 100)
    _answer(monkeypatch, QMessageBox.ButtonRole.AcceptRole)
    repo = open_store_interactive(tmp_path)
    try:
        assert repo.list_sessions() == []
        moved = [p.name for p in tmp_path.iterdir() if p.name.startswith("triptych.db.corrupt-")]
        assert moved, "the damaged file is kept aside, never deleted"
    finally:
        repo.close()


def test_corrupt_database_quit_leaves_the_file_alone(qapp, tmp_path, monkeypatch):
    data = b"this is not a database" * 100
    (tmp_path / "triptych.db").write_bytes(data)
    _answer(monkeypatch, QMessageBox.ButtonRole.RejectRole)
    with pytest.raises(StartupCancelled):
        open_store_interactive(tmp_path)
    assert (tmp_path / "triptych.db").read_bytes() == data


def test_unhandled_errors_reach_one_reporter(qapp, monkeypatch, capsys):
    monkeypatch.setenv("TRIPTYCH_NO_ERROR_DIALOG", "1")
    reporter = ErrorReporter()
    try:
        raise RuntimeError("boom in a slot")
    except RuntimeError:
        reporter.excepthook(*sys.exc_info())
    assert reporter.errors == ["RuntimeError: boom in a slot"]
    assert "boom in a slot" in capsys.readouterr().err


_START = """
import sys
import ui.app
from PySide6.QtWidgets import QApplication
app = QApplication([])
services = ui.app.build_services(interactive=False)
window = ui.app.create_window(services)
window.show()
window.view.viewport().repaint()
before = "httpx" in sys.modules
ui.app.warm_up_client(services)
made = services.engine._client  # made by the warm-up, not by this read
print(before, "httpx" in sys.modules, type(made).__name__, made is services.engine.client)
services.repo.close()
"""


def test_the_window_paints_before_the_http_client_is_made(tmp_path):
    """Start-up (benchmark 6): the window is built and painted without importing httpx or loading the
    CA certificates; `warm_up_client` (250 ms after show) makes the engine's one client."""
    import os
    import subprocess

    env = dict(os.environ, TRIPTYCH_HOME=str(tmp_path), TRIPTYCH_NO_KEYRING="1", QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, "-c", _START], env=env, capture_output=True, text=True, timeout=120, check=True
    ).stdout.split()
    assert out == ["False", "True", "AsyncClient", "True"]


def test_an_unreachable_team_store_offers_the_local_store(qapp, tmp_path, monkeypatch):
    import socket

    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    url = f"postgresql+psycopg://alice:hunter2secret@127.0.0.1:{port}/team"
    shown: list[str] = []
    monkeypatch.setattr(QMessageBox, "setText", lambda self, text: shown.append(text))
    _answer(monkeypatch, QMessageBox.ButtonRole.AcceptRole)
    repo = open_store_interactive(tmp_path, location=url)
    try:
        assert repo.path == tmp_path / "triptych.db"  # the local store, opened instead
        assert f"127.0.0.1:{port}/team" in shown[0] and "hunter2secret" not in shown[0]
    finally:
        repo.close()
    _answer(monkeypatch, QMessageBox.ButtonRole.RejectRole)
    with pytest.raises(StartupCancelled):
        open_store_interactive(tmp_path, location=url)


_START_RENDERER = """
import sys
import ui.app
from PySide6.QtWidgets import QApplication
app = QApplication([])
services = ui.app.build_services(interactive=False)
window = ui.app.create_window(services)
window.show()
window.view.viewport().repaint()
heavy = ("markdown_it", "pygments", "app.export")
print(*[name in sys.modules for name in heavy])
from ui.render_bridge import RenderBridge
print("<strong>bold</strong>" in RenderBridge("light").markdown("**bold**"), "markdown_it" in sys.modules)
services.repo.close()
"""


def test_the_window_paints_before_the_renderer_is_imported(tmp_path):
    """Start-up (benchmark 6): a window with no card showing text paints without importing the
    markdown renderer (markdown-it, Pygments) or the exporters; the first card that shows text
    imports the renderer (ui.app also imports it on a worker thread after the first paint)."""
    import os
    import subprocess

    env = dict(os.environ, TRIPTYCH_HOME=str(tmp_path), TRIPTYCH_NO_KEYRING="1", QT_QPA_PLATFORM="offscreen")
    out = subprocess.run(
        [sys.executable, "-c", _START_RENDERER], env=env, capture_output=True, text=True, timeout=120,
        check=True,
    ).stdout.split()
    assert out == ["False", "False", "False", "True", "True"]


_START_KEYRING = """
import asyncio, sys, time
import app.config as config
asked = []
KEYS = eval(sys.argv[1])
def slow_keyring(provider_id):  # a desktop keyring answering over D-Bus
    asked.append(provider_id)
    time.sleep(0.01)
    return KEYS.get(provider_id)
config.keyring_get = slow_keyring
import ui.app
from PySide6.QtWidgets import QApplication
app = QApplication([])
services = ui.app.build_services(interactive=False)
window = ui.app.create_window(services)
window.show()
window.view.viewport().repaint()
said = lambda: "No API keys yet" in window.welcome.body.text()
print(len(asked), said())
loop = ui.app.TriptychEventLoop(app)
asyncio.set_event_loop(loop)
loop.run_until_complete(ui.app.read_keyring(loop, services, window))
print(len(asked) > 0, said(), services.settings.keyring_pending)
full = config.load_settings()  # what a start that waited for the keyring would have chosen
print(window.composer.models() == services.catalog.default_models(full))
services.repo.close()
loop.close()
"""


def test_the_window_paints_before_the_keyring_is_asked(tmp_path):
    """Start-up (issue 13: keyring probing must not block): the window is built and painted without
    asking the OS keyring (importing keyring and finding its backend took ~190 ms before the window
    could be built, more with a desktop keyring); it does not say "No API keys yet" before the
    keyring has answered, and says it once the keyring, asked on a worker thread, holds none; the
    models it starts with are then those a start that waited for the keyring would have chosen."""
    import os
    import subprocess

    env = dict(os.environ, TRIPTYCH_HOME=str(tmp_path), QT_QPA_PLATFORM="offscreen")
    env.pop("TRIPTYCH_NO_KEYRING", None)
    for name in ("DEEPSEEK_API_KEY", "ANTHROPIC_API_KEY", "OPENAI_API_KEY", "OPENROUTER_API_KEY"):
        env.pop(name, None)

    def start(keys: dict[str, str]) -> list[str]:
        return subprocess.run(
            [sys.executable, "-c", _START_KEYRING, repr(keys)], env=env, capture_output=True, text=True,
            timeout=120, check=True,
        ).stdout.split()

    assert start({}) == ["0", "False", "True", "True", "False", "True"]
    # a key only in the keyring: once it answers, the models offered are those a full load chooses
    assert start({"deepseek": "sk-deepseek-in-keyring-1"}) == ["0", "False", "True", "False", "False", "True"]
