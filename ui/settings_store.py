"""Settings → Store: which store the app opens at its next start: the local SQLite file (empty) or a
team store's URL (`postgresql+psycopg://user@host/database`), saved as config.toml `[store] url`. A
password typed into the URL is never saved (libpq reads it from PGPASSWORD or ~/.pgpass)."""

from __future__ import annotations

import re

from PySide6.QtWidgets import QFormLayout, QLabel, QLineEdit, QWidget

from app.config import Settings

_PASSWORD = re.compile(r"^([a-z][a-z0-9+.\-]*://[^:/@\s]*):[^@\s]*@", re.I)


def without_password(url: str) -> str:
    return _PASSWORD.sub(r"\1@", url.strip())


def store_tab(settings: Settings, parent: QWidget) -> tuple[QWidget, QLineEdit]:
    page = QWidget(parent)
    form = QFormLayout(page)
    edit = QLineEdit(page)
    edit.setPlaceholderText("postgresql+psycopg://user@host:5432/database (empty: this computer's store)")
    store = settings.config.get("store", {})
    edit.setText(str(store.get("url", "")) if isinstance(store, dict) else "")
    form.addRow("Team store URL", edit)
    note = QLabel(
        "Used from the next start (TRIPTYCH_DATABASE_URL and --database-url take precedence). "
        "A password in the URL is not saved: put it in PGPASSWORD or ~/.pgpass. API keys stay on this "
        "computer.", page)
    note.setWordWrap(True)
    form.addRow(note)
    return page, edit


def apply_store_url(settings: Settings, text: str) -> None:
    """Write the URL (password removed) into `settings.config`, or remove it when empty."""
    url = without_password(text)
    store = settings.config.get("store")
    if not url:
        if isinstance(store, dict):
            store.pop("url", None)
        return
    if not isinstance(store, dict):
        store = settings.config["store"] = {}
    store["url"] = url
