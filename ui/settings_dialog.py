"""Settings: provider keys (OS keyring), base URLs, connection test, model list refresh, custom endpoints,
default models, theme and font size.

Keys are shown masked (only the last 4 characters) and saved with `settings.set_key` (the OS keyring);
they never go to config.toml. Connection tests and model refreshes run as named asyncio tasks on the
Qt loop (qasync) and report into the dialog; closing the dialog cancels them.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
from collections.abc import Callable, Coroutine
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QMessageBox,
    QPushButton,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from app.config import ConfigError, add_custom_endpoint, mask_key
from app.keys import plain_http_warning
from app.providers.base import ProviderConfig
from ui.dialogs import color_icon, ok_cancel_buttons, resize_within_screen
from ui.settings_store import StorePage

if TYPE_CHECKING:
    import httpx

    from app.catalog import Catalog
    from app.config import Settings

log = logging.getLogger(__name__)


def _count(n: int, noun: str) -> str:
    """ "1 model", "3 models"."""
    return f"{n} {noun}{'' if n == 1 else 's'}"


THEMES = [("system", "Follow the system"), ("light", "Light"), ("dark", "Dark")]


def _key_source_text(cfg: ProviderConfig, source: str) -> str:
    """Where this provider's key comes from, said in the tab where it is set (not how to get here)."""
    if cfg.api_key and source == "env":
        return f"Key from the environment variable {cfg.key_env}"
    if cfg.api_key and source == "keyring":
        return "Key in the OS keyring"
    if cfg.api_key:
        return "Key loaded"
    also = (f", or set {cfg.key_env} (started from the app menu, Triptych reads it from the line "
            f"{cfg.key_env}=… in ~/.config/environment.d/triptych.conf after you log in again)") if cfg.key_env else ""
    return f"No key: paste one here and press Save key (kept in the OS keyring){also}"


class SettingsDialog(QDialog):
    appearance_applied = Signal(str, int)  # (theme mode, font size)
    models_refreshed = Signal(str, int)  # (provider, count)

    def __init__(
        self,
        settings: Settings,
        catalog: Catalog,
        client_getter: Callable[[], httpx.AsyncClient],
        parent: QWidget | None = None,
        provider: str | None = None,
    ) -> None:
        super().__init__(parent)
        self.setWindowTitle("Settings")
        resize_within_screen(self, 760, 540)
        self._settings = settings
        self._catalog = catalog
        self._client_getter = client_getter
        self._tasks: dict[str, asyncio.Task[object]] = {}
        layout = QVBoxLayout(self)
        self.tabs = QTabWidget(self)
        layout.addWidget(self.tabs)
        self.tabs.addTab(self._build_providers_tab(), "Providers")
        self.tabs.addTab(self._build_defaults_tab(), "Default models")
        self.tabs.addTab(self._build_appearance_tab(), "Appearance")
        self.store_page = StorePage(settings, self)
        self.store_url = self.store_page.url_edit
        self.tabs.addTab(self.store_page, "Store")
        buttons = ok_cancel_buttons(self)
        layout.addWidget(buttons)
        if provider:
            self.select_provider(provider)

    # ------------------------------------------------------------------ providers
    def _build_providers_tab(self) -> QWidget:
        page = QWidget(self)
        row = QHBoxLayout(page)
        left = QVBoxLayout()
        self.provider_list = QListWidget(page)
        self.provider_list.setFixedWidth(200)
        left.addWidget(self.provider_list)
        self.add_custom_button = QPushButton("Add custom endpoint…", page)
        self.add_custom_button.clicked.connect(self._on_add_custom_button_clicked)
        left.addWidget(self.add_custom_button)
        row.addLayout(left)
        form_host = QWidget(page)
        form = QFormLayout(form_host)
        self.protocol_label = QLabel(form_host)
        form.addRow("Protocol", self.protocol_label)
        self.base_url_edit = QLineEdit(form_host)
        self.base_url_edit.setPlaceholderText("https://…")
        self.save_url_button = QPushButton("Save URL", form_host)
        self.save_url_button.clicked.connect(self._on_save_url_button_clicked)
        url_row = QHBoxLayout()
        url_row.addWidget(self.base_url_edit)
        url_row.addWidget(self.save_url_button)
        form.addRow("Base URL", url_row)
        self.http_warning = QLabel(form_host)  # a key that would go over plain http:// to another host
        self.http_warning.setWordWrap(True)
        self.http_warning.setVisible(False)
        form.addRow("", self.http_warning)
        self.base_url_edit.textChanged.connect(self._on_base_url_edit_text_changed)
        self.key_label = QLabel(form_host)
        self.key_label.setTextInteractionFlags(Qt.TextInteractionFlag.NoTextInteraction)
        form.addRow("API key", self.key_label)
        self.key_edit = QLineEdit(form_host)
        self.key_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.key_edit.setPlaceholderText("Paste a new key")
        self.save_key_button = QPushButton("Save key", form_host)
        self.save_key_button.clicked.connect(self._on_save_key_button_clicked)
        self.remove_key_button = QPushButton("Remove", form_host)
        self.remove_key_button.clicked.connect(self._on_remove_key_button_clicked)
        key_row = QHBoxLayout()
        key_row.addWidget(self.key_edit)
        key_row.addWidget(self.save_key_button)
        key_row.addWidget(self.remove_key_button)
        form.addRow("", key_row)
        self.key_hint = QLabel(form_host)
        self.key_hint.setObjectName("Muted")
        self.key_hint.setWordWrap(True)
        form.addRow("", self.key_hint)
        actions = QHBoxLayout()
        self.test_button = QPushButton("Test connection", form_host)
        self.test_button.clicked.connect(self._on_test_button_clicked)
        self.refresh_button = QPushButton("Refresh model list", form_host)
        self.refresh_button.clicked.connect(self._on_refresh_button_clicked)
        actions.addWidget(self.test_button)
        actions.addWidget(self.refresh_button)
        actions.addStretch(1)
        form.addRow("", actions)
        self.result_label = QLabel(form_host)
        self.result_label.setWordWrap(True)
        self.result_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        form.addRow("Result", self.result_label)
        row.addWidget(form_host, 1)
        self._fill_provider_list()
        self.provider_list.currentItemChanged.connect(self._on_provider_list_current_item_changed)
        if self.provider_list.count():
            self.provider_list.setCurrentRow(0)
        return page

    def _fill_provider_list(self) -> None:
        self.provider_list.clear()
        for pid in self._settings.providers:
            name = self._settings.display_names.get(pid, pid)
            mark = "✓" if self._settings.has_key(pid) else "–"
            item = QListWidgetItem(color_icon(self._catalog.provider_color(pid)), f"{name}  {mark}")
            item.setData(Qt.ItemDataRole.UserRole, pid)
            self.provider_list.addItem(item)

    def current_provider(self) -> str | None:
        item = self.provider_list.currentItem()
        return str(item.data(Qt.ItemDataRole.UserRole)) if item else None

    def select_provider(self, provider: str) -> None:
        for i in range(self.provider_list.count()):
            if self.provider_list.item(i).data(Qt.ItemDataRole.UserRole) == provider:
                self.provider_list.setCurrentRow(i)
                self.tabs.setCurrentIndex(0)
                self.key_edit.setFocus()
                return

    def _on_provider_list_current_item_changed(
        self, current: QListWidgetItem | None, _previous: QListWidgetItem | None
    ) -> None:
        self._show_provider()

    def _show_provider(self) -> None:
        pid = self.current_provider()
        cfg = self._settings.providers.get(pid) if pid else None
        if pid is None or cfg is None:
            return
        self.protocol_label.setText(
            {
                "chat": "Chat Completions",
                "responses": "OpenAI Responses",
                "anthropic": "Anthropic Messages",
            }.get(cfg.protocol, cfg.protocol)
            + ("  · local, no key needed" if cfg.local else "")
        )
        self.base_url_edit.setText(cfg.base_url)
        source = self._settings.key_sources.get(pid, "")
        if cfg.api_key:
            where = {"keyring": "from the OS keyring", "env": f"from ${cfg.key_env}"}.get(source, "")
            self.key_label.setText(f"{mask_key(cfg.api_key)}  {where}")
        else:
            self.key_label.setText("no key" if not cfg.local else "not needed")
        self.key_hint.setText(_key_source_text(cfg, source) if not cfg.local else "")
        self.key_edit.clear()
        self.result_label.clear()
        self._show_http_warning()

    def _on_base_url_edit_text_changed(self, _text: str) -> None:
        self._show_http_warning()

    def _show_http_warning(self) -> None:
        """Warn while the URL shown (saved or being typed) would send the key unencrypted to another host."""
        pid = self.current_provider()
        cfg = self._settings.providers.get(pid) if pid else None
        url = self.base_url_edit.text().strip()
        warning = None
        if pid is not None and cfg is not None and url:
            warning = plain_http_warning(dataclasses.replace(cfg, base_url=url), self._settings.display_names.get(pid))
        self.http_warning.setText(f"⚠ {warning[:1].upper()}{warning[1:]}." if warning else "")
        self.http_warning.setVisible(bool(warning))

    def _on_save_url_button_clicked(self) -> None:
        pid = self.current_provider()
        url = self.base_url_edit.text().strip()
        if not pid or not url.startswith(("http://", "https://")):
            self.result_label.setText("The base URL must start with http:// or https://.")
            return
        self._settings.set_base_url(pid, url)
        self._save_settings()
        self.result_label.setText(f"Saved: requests to {pid} now go to {url.rstrip('/')}.")

    def _on_save_key_button_clicked(self) -> None:
        pid = self.current_provider()
        key = self.key_edit.text().strip()
        if not pid or not key:
            self.result_label.setText("Paste a key first.")
            return
        self._set_key(pid, key)

    def _on_remove_key_button_clicked(self) -> None:
        pid = self.current_provider()
        if pid:
            self._set_key(pid, None)

    def _set_key(self, pid: str, key: str | None) -> None:
        try:
            self._settings.set_key(pid, key)
        except ConfigError as exc:
            self.result_label.setText(f"Could not save the key: {exc}")
            return
        self.key_edit.clear()
        row = self.provider_list.currentRow()
        self._fill_provider_list()
        self.provider_list.setCurrentRow(row)
        self._show_provider()
        self.result_label.setText(
            "Key saved in the OS keyring." if key else "Key removed from the OS keyring."
        )

    def _on_add_custom_button_clicked(self) -> None:
        dlg = CustomEndpointDialog(self)
        if dlg.exec() != QDialog.DialogCode.Accepted:
            return
        name, protocol, url, key_env = dlg.values()
        try:
            pid = add_custom_endpoint(self._settings, name, protocol, url, key_env)
        except (ConfigError, OSError, ValueError) as exc:
            QMessageBox.warning(self, "Custom endpoint", str(exc))
            return
        self._fill_provider_list()
        self.select_provider(pid)

    # -- async checks
    def _start(self, name: str, coro: Coroutine[Any, Any, object]) -> None:
        old = self._tasks.pop(name, None)
        if old is not None and not old.done():
            old.cancel()
        task = asyncio.get_event_loop().create_task(coro, name=f"settings {name}")
        self._tasks[name] = task

        def forget(done: asyncio.Task[object], n: str = name) -> None:
            if self._tasks.get(n) is done:
                self._tasks.pop(n, None)

        task.add_done_callback(forget)

    def _on_test_button_clicked(self) -> None:
        pid = self.current_provider()
        if pid:
            self.result_label.setText("Testing…")
            self._start("test", self.test_connection(pid))

    def _on_refresh_button_clicked(self) -> None:
        pid = self.current_provider()
        if pid:
            self.result_label.setText("Fetching the model list…")
            self._start("refresh", self.refresh_models(pid))

    async def _list_models(self, pid: str) -> list:
        from app.providers.base import make_provider

        cfg = self._settings.providers[pid]
        if self.current_provider() == pid:
            # Test what is in the fields, saved or not: a key just pasted, a base URL just edited.
            typed_key = self.key_edit.text().strip()
            typed_url = self.base_url_edit.text().strip()
            cfg = dataclasses.replace(cfg, api_key=typed_key or cfg.api_key, base_url=typed_url or cfg.base_url)
        if not cfg.local and not cfg.api_key:
            where = f" (or set {cfg.key_env})" if cfg.key_env else ""
            raise ConfigError(f"no API key yet: paste one in the key field above{where}")
        return await asyncio.wait_for(make_provider(cfg, self._client_getter()).list_models(), 20)

    async def test_connection(self, pid: str) -> str:
        """GET the provider's model list; show and return a one-line result."""
        try:
            models = await self._list_models(pid)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            text = f"✗ {getattr(getattr(exc, 'error', None), 'message', None) or exc}"
        else:
            cfg = self._settings.providers.get(pid)
            what = "the server answers" if cfg is not None and cfg.local else "the key works"
            text = f"✓ Connected: {what} and lists {_count(len(models), 'model')}."
        self._set_result(pid, text)
        return text

    async def refresh_models(self, pid: str) -> str:
        try:
            models = await self._list_models(pid)
            count = self._catalog.merge_listing(pid, models)
        except asyncio.CancelledError:
            raise
        except Exception as exc:
            text = f"✗ Could not refresh: {getattr(getattr(exc, 'error', None), 'message', None) or exc}"
        else:
            name = self._settings.display_names.get(pid, pid)
            text = f"✓ {_count(count, 'model')} from {name} merged into the catalog."
            self.models_refreshed.emit(pid, count)
        self._set_result(pid, text)
        return text

    def _set_result(self, pid: str, text: str) -> None:
        if self.current_provider() == pid:
            with contextlib.suppress(RuntimeError):  # the dialog may be gone
                self.result_label.setText(text)

    # ------------------------------------------------------------------ defaults
    def _build_defaults_tab(self) -> QWidget:
        page = QWidget(self)
        layout = QVBoxLayout(page)
        intro = QLabel(
            "The models a new prompt goes to (one each from DeepSeek, Anthropic and OpenAI "
            "by default, limited to providers with a key).",
            page,
        )
        intro.setWordWrap(True)  # never wider than the dialog (a small screen)
        layout.addWidget(intro)
        self.defaults_list = QListWidget(page)
        saved = self._settings.ui.get("default_models")
        chosen = [str(r) for r in saved] if isinstance(saved, list) and saved else []
        chosen = chosen or self._catalog.default_models(self._settings)
        rows = [(info.ref, f"{info.display}  ({info.ref})") for info in self._catalog.models()]
        # Models the user added by id (+ Model → Other model id…) are not in the catalog: list them too,
        # ticked, or OK would drop them from the default set.
        known = {ref for ref, _ in rows}
        rows += [
            (ref, f"{self._catalog.display_name(ref)}  ({ref}) · added by id")
            for ref in dict.fromkeys(chosen)
            if ref not in known and self._catalog.canonical(ref) not in known and ":" in ref
        ]
        for ref, label in rows:
            item = QListWidgetItem(color_icon(self._catalog.provider_color(ref.split(":", 1)[0])), label)
            item.setData(Qt.ItemDataRole.UserRole, ref)
            item.setFlags(item.flags() | Qt.ItemFlag.ItemIsUserCheckable)
            checked = ref in chosen or any(self._catalog.canonical(c) == ref for c in chosen)
            item.setCheckState(Qt.CheckState.Checked if checked else Qt.CheckState.Unchecked)
            self.defaults_list.addItem(item)
        self._defaults_shown = self.default_models_checked()
        layout.addWidget(self.defaults_list)
        self.reset_defaults = QCheckBox("Use the built-in default set instead", page)
        layout.addWidget(self.reset_defaults)
        return page

    def default_models(self) -> list[str] | None:
        if self.reset_defaults.isChecked():
            return None
        return self.default_models_checked()

    def default_models_checked(self) -> list[str]:
        out = []
        for i in range(self.defaults_list.count()):
            item = self.defaults_list.item(i)
            if item.checkState() == Qt.CheckState.Checked:
                out.append(str(item.data(Qt.ItemDataRole.UserRole)))
        return out

    # ------------------------------------------------------------------ appearance
    def _build_appearance_tab(self) -> QWidget:
        page = QWidget(self)
        form = QFormLayout(page)
        self.theme_combo = QComboBox(page)
        for key, label in THEMES:
            self.theme_combo.addItem(label, key)
        idx = self.theme_combo.findData(self._settings.ui.get("theme", "system"))
        self.theme_combo.setCurrentIndex(max(idx, 0))
        form.addRow("Theme", self.theme_combo)
        self.font_spin = QSpinBox(page)
        self.font_spin.setRange(8, 20)
        self.font_spin.setSuffix(" pt")
        self.font_spin.setValue(int(self._settings.ui.get("font_size", 10)))
        form.addRow("Font size", self.font_spin)
        return page

    # ------------------------------------------------------------------ closing
    def accept(self) -> None:
        ui = self._settings.ui
        ui["theme"] = str(self.theme_combo.currentData())
        ui["font_size"] = int(self.font_spin.value())
        models = self.default_models()
        if models is None:
            ui.pop("default_models", None)
        elif set(models) != set(self._defaults_shown):  # untouched: the saved set keeps its order
            ui["default_models"] = models
        if not self.store_page.apply(self._settings):  # a typed password the keyring refused: say so
            self.tabs.setCurrentWidget(self.store_page)
            return
        self._save_settings()
        self.appearance_applied.emit(ui["theme"], ui["font_size"])
        super().accept()

    def _save_settings(self) -> None:
        try:
            self._settings.save()
        except (OSError, ConfigError) as exc:
            QMessageBox.warning(self, "Settings", f"Could not save config.toml: {exc}")

    def done(self, result: int) -> None:
        for task in list(self._tasks.values()):
            task.cancel()
        self._tasks.clear()
        super().done(result)


class CustomEndpointDialog(QDialog):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Add a custom endpoint")
        form = QFormLayout(self)
        self.name_edit = QLineEdit(self)
        self.name_edit.setPlaceholderText("e.g. groq (becomes the model prefix: groq:model-id)")
        form.addRow("Name", self.name_edit)
        self.protocol_combo = QComboBox(self)
        for key, label in (
            ("chat", "Chat Completions (OpenAI-compatible)"),
            ("responses", "OpenAI Responses"),
            ("anthropic", "Anthropic Messages"),
        ):
            self.protocol_combo.addItem(label, key)
        form.addRow("Protocol", self.protocol_combo)
        self.url_edit = QLineEdit(self)
        self.url_edit.setPlaceholderText("https://api.example.com/v1")
        form.addRow("Base URL", self.url_edit)
        self.key_env_edit = QLineEdit(self)
        self.key_env_edit.setPlaceholderText("environment variable with the key (empty: no key)")
        form.addRow("Key variable", self.key_env_edit)
        buttons = ok_cancel_buttons(self)
        form.addRow(buttons)

    def values(self) -> tuple[str, str, str, str | None]:
        return (
            self.name_edit.text().strip(),
            str(self.protocol_combo.currentData()),
            self.url_edit.text().strip(),
            self.key_env_edit.text().strip() or None,
        )
