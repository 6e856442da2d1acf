"""The settings dialog: masked keys saved to the (in-memory) OS keyring, connection test and model list
refresh against the fake provider server, custom endpoints, theme and font size."""

from __future__ import annotations

import httpx
import keyring
import pytest
from keyring.backend import KeyringBackend

from app.catalog import load_catalog
from app.config import add_custom_endpoint, load_settings
from ui.settings_dialog import SettingsDialog


class MemoryKeyring(KeyringBackend):
    priority = 1

    def __init__(self) -> None:
        super().__init__()
        self.store: dict[tuple[str, str], str] = {}

    def get_password(self, service, username):
        return self.store.get((service, username))

    def set_password(self, service, username, password):
        self.store[(service, username)] = password

    def delete_password(self, service, username):
        self.store.pop((service, username), None)


@pytest.fixture
def memory_keyring(monkeypatch):
    previous = keyring.get_keyring()
    ring = MemoryKeyring()
    keyring.set_keyring(ring)
    monkeypatch.delenv("TRIPTYCH_NO_KEYRING", raising=False)
    yield ring
    keyring.set_keyring(previous)


def test_key_is_saved_to_the_keyring_and_shown_masked(qapp, tmp_path, monkeypatch, memory_keyring):
    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path))
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    settings = load_settings()
    dialog = SettingsDialog(settings, load_catalog(settings), lambda: None, provider="anthropic")
    assert dialog.current_provider() == "anthropic" and dialog.key_label.text() == "no key"
    typed = "-".join(("sk", "ant", "secret", "value", "9876"))  # no key-like literal in the source
    dialog.key_edit.setText(typed)
    dialog.save_key_button.click()
    assert memory_keyring.store[("triptych", "anthropic")] == typed
    assert settings.has_key("anthropic")
    shown = dialog.key_label.text()
    assert "9876" in shown and "secret" not in shown and "sk-ant" not in shown
    assert dialog.key_edit.text() == ""  # the field never keeps the key
    assert dialog.key_hint.text() == "Key in the OS keyring"
    dialog.remove_key_button.click()
    assert ("triptych", "anthropic") not in memory_keyring.store and not settings.has_key("anthropic")
    assert dialog.key_hint.text() == (
        "No key: paste one here and press Save key (kept in the OS keyring), or set ANTHROPIC_API_KEY "
        "(started from the app menu, Triptych reads it from the line ANTHROPIC_API_KEY=… in "
        "~/.config/environment.d/triptych.conf after you log in again)"
    )
    # theme, font size and default models go to config.toml (never keys)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    dialog.font_spin.setValue(12)
    applied = []
    dialog.appearance_applied.connect(lambda t, f: applied.append((t, f)))
    dialog.accept()
    assert applied == [("dark", 12)]
    text = (tmp_path / "config.toml").read_text(encoding="utf-8")
    assert 'theme = "dark"' in text and "font_size = 12" in text and "sk-" not in text


def test_no_keyring_says_so(qapp, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path))
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    settings = load_settings()
    dialog = SettingsDialog(settings, load_catalog(settings), lambda: None, provider="openai")
    dialog.key_edit.setText("sk-whatever-1234")
    dialog.save_key_button.click()
    assert "Could not save the key" in dialog.result_label.text()
    assert "environment variable" in dialog.result_label.text()
    dialog.reject()


async def test_test_connection_and_refresh_models(app_env, fake_server, qapp):
    settings = load_settings()
    catalog = load_catalog(settings)
    client = httpx.AsyncClient()
    try:
        dialog = SettingsDialog(settings, catalog, lambda: client, provider="openai")
        text = await dialog.test_connection("openai")
        assert text.startswith("✓ Connected") and dialog.result_label.text() == text
        before = len(catalog.models("openai"))
        text = await dialog.refresh_models("openai")
        assert text.startswith("✓") and "merged" in text
        assert len(catalog.models("openai")) >= before
        # a wrong base URL fails with a message, not an exception
        settings.set_base_url("deepseek", "http://127.0.0.1:9/")
        dialog.select_provider("deepseek")
        text = await dialog.test_connection("deepseek")
        assert text.startswith("✗")
        dialog.reject()
    finally:
        await client.aclose()


def test_custom_endpoint_is_written_and_loaded(qapp, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path))
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    monkeypatch.setenv("GROQ_KEY", "gsk-test-1111")
    settings = load_settings()
    pid = add_custom_endpoint(settings, "Groq", "chat", "https://api.groq.example/openai/v1", "GROQ_KEY")
    assert pid == "groq" and settings.providers["groq"].base_url == "https://api.groq.example/openai/v1"
    assert settings.has_key("groq")
    assert "groq" in load_settings().providers  # survives a restart
    dialog = SettingsDialog(settings, load_catalog(settings), lambda: None, provider="groq")
    assert dialog.current_provider() == "groq"
    assert "1111" in dialog.key_label.text() and "gsk" not in dialog.key_label.text()
    dialog.reject()


async def test_test_connection_uses_the_key_typed_but_not_saved(app_env, fake_server, qapp):
    settings = load_settings()
    settings.providers["anthropic"].api_key = None  # as on a first run
    catalog = load_catalog(settings)
    client = httpx.AsyncClient()
    try:
        dialog = SettingsDialog(settings, catalog, lambda: client, provider="anthropic")
        text = await dialog.test_connection("anthropic")
        assert text.startswith("✗") and "paste one in the key field above" in text
        assert "Settings" not in text  # the user is already there
        dialog.key_edit.setText("sk-fake-test-key")  # pasted, Save not pressed
        text = await dialog.test_connection("anthropic")
        assert text.startswith("✓ Connected: the key works")
        assert settings.providers["anthropic"].api_key is None  # testing saves nothing
        dialog.select_provider("ollama")
        text = await dialog.test_connection("ollama")
        assert text.startswith("✓ Connected: the server answers")  # no key involved
        dialog.reject()
    finally:
        await client.aclose()


async def test_one_listed_model_is_said_in_the_singular(app_env, fake_server, qapp):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest

    from tests.ui.conftest import wait_until

    fake_server.models["lmstudio"] = fake_server.models["lmstudio"][:1]
    settings = load_settings()
    client = httpx.AsyncClient()
    try:
        dialog = SettingsDialog(settings, load_catalog(settings), lambda: client, provider="lmstudio")
        QTest.mouseClick(dialog.test_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: dialog.result_label.text().startswith(("✓", "✗")), 5)
        assert dialog.result_label.text() == "✓ Connected: the server answers and lists 1 model."
        QTest.mouseClick(dialog.refresh_button, Qt.MouseButton.LeftButton)
        await wait_until(lambda: "merged" in dialog.result_label.text(), 5)
        assert dialog.result_label.text() == "✓ 1 model from LM Studio merged into the catalog."
        dialog.reject()
    finally:
        await client.aclose()


def test_adding_an_endpoint_with_the_dialogs_widgets_writes_through_app_config(qapp, tmp_path, monkeypatch):
    """Settings → Providers → Add custom endpoint…, filled in by keyboard: providers.toml gains the
    endpoint through app.config (one atomic write; the user's comments and other endpoints kept)."""
    from PySide6.QtCore import Qt, QTimer
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QApplication, QDialogButtonBox

    import app.config
    from ui.settings_dialog import CustomEndpointDialog

    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path))
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    mine = '# my endpoints\n[groq]\nbase_url = "https://api.groq.example/openai/v1"  # the fast one\n'
    (tmp_path / "providers.toml").write_text(mine, encoding="utf-8")
    settings = load_settings()
    writes: list[str] = []
    real_write = app.config.write_private
    monkeypatch.setattr(
        app.config, "write_private", lambda path, data: (writes.append(path.name), real_write(path, data))
    )
    dialog = SettingsDialog(settings, load_catalog(settings), lambda: None)
    dialog.show()
    filled: list[bool] = []

    def fill() -> None:
        dlg = QApplication.activeModalWidget()
        if not isinstance(dlg, CustomEndpointDialog):
            QTimer.singleShot(10, fill)
            return
        QTest.keyClicks(dlg.name_edit, "Box")
        dlg.protocol_combo.setFocus()
        QTest.keyClick(dlg.protocol_combo, Qt.Key.Key_Down)  # OpenAI Responses
        QTest.keyClicks(dlg.url_edit, "http://127.0.0.1:8080/v1/")
        QTest.keyClicks(dlg.key_env_edit, "BOX_KEY")
        filled.append(True)
        ok = dlg.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
        QTest.mouseClick(ok, Qt.MouseButton.LeftButton)

    QTimer.singleShot(10, fill)
    QTest.mouseClick(dialog.add_custom_button, Qt.MouseButton.LeftButton)
    assert filled and writes == ["providers.toml"]
    assert dialog.current_provider() == "box"
    text = (tmp_path / "providers.toml").read_text(encoding="utf-8")
    assert text.startswith(mine)  # the user's lines, comments included, untouched
    box = load_settings().providers["box"]  # what the next start reads
    assert (box.protocol, box.base_url, box.key_env) == ("responses", "http://127.0.0.1:8080/v1", "BOX_KEY")
    dialog.reject()


def _store_tab(dialog):
    dialog.tabs.setCurrentIndex(next(i for i in range(dialog.tabs.count()) if dialog.tabs.tabText(i) == "Store"))
    return dialog.store_page


def _click_ok(dialog):
    from PySide6.QtCore import Qt
    from PySide6.QtTest import QTest
    from PySide6.QtWidgets import QDialogButtonBox

    ok = dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)
    QTest.mouseClick(ok, Qt.MouseButton.LeftButton)


def test_the_store_password_goes_to_the_keyring_never_to_config(qapp, tmp_path, monkeypatch, memory_keyring):
    from tests.ui.hands import type_text

    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path))
    monkeypatch.delenv("TRIPTYCH_DATABASE_URL", raising=False)
    secret = "-".join(("db", "pass", "word", "7531"))
    settings = load_settings()
    dialog = SettingsDialog(settings, load_catalog(settings), lambda: None)
    dialog.show()
    page = _store_tab(dialog)
    assert page.password_edit.echoMode() == page.password_edit.EchoMode.Password
    type_text(page.url_edit, "postgresql+psycopg://alice@db.example:5432/team")
    type_text(page.password_edit, secret)
    _click_ok(dialog)
    assert not dialog.isVisible()
    assert memory_keyring.store == {("triptych", "store:alice@db.example:5432/team"): secret}
    assert secret not in (tmp_path / "config.toml").read_text(encoding="utf-8")
    assert load_settings().database_url == "postgresql+psycopg://alice@db.example:5432/team"
    # a password typed into the URL goes to the keyring as well, and the URL is saved without it
    dialog = SettingsDialog(settings, load_catalog(settings), lambda: None)
    dialog.show()
    page = _store_tab(dialog)
    assert page.password_edit.text() == ""  # never shown back
    page.url_edit.clear()
    type_text(page.url_edit, f"postgresql+psycopg://bob:{secret}x@db.example/team")
    _click_ok(dialog)
    assert memory_keyring.store[("triptych", "store:bob@db.example:5432/team")] == secret + "x"
    for path in tmp_path.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def test_a_store_password_with_no_keyring_keeps_the_dialog_open_and_says_why(qapp, tmp_path, monkeypatch):
    from tests.ui.hands import type_text

    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path))
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    settings = load_settings()
    dialog = SettingsDialog(settings, load_catalog(settings), lambda: None)
    dialog.show()
    page = _store_tab(dialog)
    type_text(page.url_edit, "postgresql+psycopg://alice@db.example:5432/team")
    type_text(page.password_edit, "typed-password-1234")
    _click_ok(dialog)
    assert dialog.isVisible() and dialog.tabs.currentWidget() is page
    assert "PGPASSWORD" in page.status_label.text() and "typed-password" not in page.status_label.text()
    assert not (tmp_path / "config.toml").exists() or "typed-password" not in (tmp_path / "config.toml").read_text()
    dialog.reject()
