"""Where Triptych keeps its files: the data dir and the names in it. Standard library only, so the
start-up path can find them before anything heavy is imported (see ui/launch.py)."""

from __future__ import annotations

import os
from pathlib import Path

DB_FILENAME = "triptych.db"  # the store (storage.sqlite); SQLite adds "-wal" and "-shm" beside it
CONFIG_FILENAME = "config.toml"
PROVIDERS_FILENAME = "providers.toml"


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    """`--data-dir`, else `TRIPTYCH_HOME`, else the platform data dir (platformdirs, "triptych")."""
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("TRIPTYCH_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("triptych", appauthor=False))

# The reverse-DNS id of the app: the desktop entry's and AppStream file's name, the icon's name, the
# window's desktop file name (Wayland app_id) and the Flatpak id.
APP_ID = "io.github.triptych.Triptych"
