"""Settings → Store: which store the app opens at its next start: the local SQLite file (empty) or a
team store's URL (`postgresql+psycopg://user@host/database`), saved as config.toml `[store] url`; and
the database password, kept in the OS keyring (service "triptych", account
"store:USER@HOST:PORT/DATABASE", app.config.store_account), used whenever the URL has none. A password
is never saved in config.toml: one typed into the URL goes to the keyring too (or, with no keyring,
is dropped: libpq then reads PGPASSWORD or ~/.pgpass)."""

from __future__ import annotations

import re

from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QWidget

from app.config import ConfigError, Settings, set_store_password

_PASSWORD = re.compile(r"^([a-z][a-z0-9+.\-]*://[^:/@\s]*):([^@\s]*)@", re.I)


def without_password(url: str) -> str:
    return _PASSWORD.sub(r"\1@", url.strip())


def password_in(url: str) -> str:
    """The password a URL carries ("" if none)."""
    from urllib.parse import unquote

    match = _PASSWORD.match(url.strip())
    return unquote(match.group(2)) if match else ""


class StorePage(QWidget):
    """The Store tab: `url_edit`, `password_edit` (hidden text, never shown back), `status_label`."""

    def __init__(self, settings: Settings, parent: QWidget) -> None:
        super().__init__(parent)
        form = QFormLayout(self)
        self.url_edit = QLineEdit(self)
        self.url_edit.setPlaceholderText("postgresql+psycopg://user@host:5432/database (empty: this computer's store)")
        store = settings.config.get("store", {})
        self.url_edit.setText(str(store.get("url", "")) if isinstance(store, dict) else "")
        form.addRow("Team store URL", self.url_edit)
        self.password_edit = QLineEdit(self)
        self.password_edit.setEchoMode(QLineEdit.EchoMode.Password)
        self.password_edit.setPlaceholderText("kept in the OS keyring (empty: keep the one stored)")
        form.addRow("Password", self.password_edit)
        note = QLabel(
            "Used from the next start (TRIPTYCH_DATABASE_URL and --database-url take precedence). "
            "The password goes to the OS keyring, never to a file; without a keyring, put it in "
            "PGPASSWORD or ~/.pgpass. API keys stay on this computer.", self)
        note.setWordWrap(True)
        form.addRow(note)
        self.status_label = QLabel(self)
        self.status_label.setWordWrap(True)
        form.addRow(self.status_label)

    def apply(self, settings: Settings) -> bool:
        """Write the URL (password removed) into `settings.config`; a typed password (or one in the URL)
        into the keyring. False, with the reason on the page, when a typed password could not be kept."""
        text = self.url_edit.text()
        url = apply_store_url(settings, text)
        typed = self.password_edit.text()
        password = typed or password_in(text)
        if not url or not password:
            return True
        try:
            account = set_store_password(url, password)
        except (ConfigError, ValueError) as exc:
            if not typed:  # only in the URL: dropped, as the note says
                return True
            self.status_label.setText(f"Could not keep the password: {exc}")
            return False
        self.password_edit.clear()
        self.status_label.setText(f"Password for {account.removeprefix('store:')} kept in the OS keyring.")
        return True


def apply_store_url(settings: Settings, text: str) -> str:
    """Write the URL (password removed) into `settings.config`, or remove it when empty; returns it."""
    url = without_password(text)
    store = settings.config.get("store")
    if not url:
        if isinstance(store, dict):
            store.pop("url", None)
        return ""
    if not isinstance(store, dict):
        store = settings.config["store"] = {}
    store["url"] = url
    return url
