"""Owner-only files in the data dir, whatever the umask: the data dir and `logs/` are 0700, every file
Triptych writes there (the store and its -wal/-shm, logs, config, caches, exports saved there) 0600.
Standard library only. On Windows the modes are not enforced (chmod only sets the read-only bit).

The one place permission logic lives; callers: storage.repository.open_store (data dir, store file,
-wal/-shm, backups), app.logs (logs/ and the rotating log files), app.config.Settings.save,
app.catalog (models-cache.json), ui.settings_dialog (providers.toml), app.cli and ui.main_window
(exports, via `write_export`/`private_if_inside`).
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

DIR_MODE = 0o700
FILE_MODE = 0o600


def private_dir(path: str | os.PathLike[str]) -> Path:
    """Create `path` (and its missing parents) if needed and make it 0700. An existing directory is
    tightened too (a data dir made by an older version with the umask's 0755). Raises OSError when it
    cannot be created; a failed chmod (a directory owned by someone else) is left alone."""
    directory = Path(path)
    existed = directory.is_dir()
    directory.mkdir(mode=DIR_MODE, parents=True, exist_ok=True)
    if not (existed and _is_shared_folder(directory)):
        tighten(directory, DIR_MODE)
    return directory


def _is_shared_folder(directory: Path) -> bool:
    """A folder the user shares with other programs (the home folder or one of its ancestors, `/`):
    pointed at with `--data-dir ~`, it is used but never chmod-ed (others may rely on its mode)."""
    try:
        resolved = directory.resolve()
        home = Path.home().resolve()
    except (OSError, RuntimeError):
        return False
    return resolved == home or home.is_relative_to(resolved)


def tighten(path: str | os.PathLike[str], mode: int = FILE_MODE) -> None:
    """chmod `path` to `mode` if it exists and is looser; never raises (not ours, vanished, Windows)."""
    with contextlib.suppress(OSError):
        current = os.stat(path).st_mode & 0o777
        if current & ~mode:
            os.chmod(path, current & mode)


def create_private(path: str | os.PathLike[str]) -> None:
    """Make sure `path` exists as a 0600 file (created empty if missing, tightened if not). Call it
    before a library opens the file itself (SQLite, a log handler), so it never exists world-readable.
    An existing file is only chmod-ed, never opened: closing a descriptor of a database file would
    drop the POSIX locks SQLite holds on it in this process."""
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, FILE_MODE)
    except FileExistsError:
        pass
    else:
        os.close(fd)
    tighten(path)


def write_private(path: str | os.PathLike[str], data: str | bytes, *, encoding: str = "utf-8") -> Path:
    """Write `data` to `path` atomically (a 0600 temporary file in the same directory, flushed,
    then renamed over `path`, and the folder synced): readers see the old file or the new one, never half
    of it, and a failure on the way leaves the old file as it was."""
    target = Path(path)
    payload = data.encode(encoding) if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")  # mode 0600
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(payload)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
    if hasattr(os, "O_DIRECTORY"):  # the rename itself survives a power cut (POSIX)
        with contextlib.suppress(OSError):
            dir_fd = os.open(target.parent, os.O_RDONLY | os.O_DIRECTORY)
            try:
                os.fsync(dir_fd)
            finally:
                os.close(dir_fd)
    return target


def is_inside(path: str | os.PathLike[str], directory: str | os.PathLike[str]) -> bool:
    """Whether `path` is `directory` or lies under it (both resolved, symlinks followed)."""
    try:
        return Path(path).resolve().is_relative_to(Path(directory).resolve())
    except (OSError, RuntimeError):
        return False


def private_if_inside(path: str | os.PathLike[str], data_dir: str | os.PathLike[str]) -> None:
    """After something else wrote `path` (a PNG export): 0600 when it lies in the data dir."""
    if is_inside(path, data_dir):
        tighten(path)


def write_export(path: str | os.PathLike[str], text: str, data_dir: str | os.PathLike[str]) -> None:
    """An export the user asked for: owner-only (atomically) when it lands in the data dir; elsewhere a
    plain write that keeps the user's umask (the file is theirs to share)."""
    if is_inside(Path(path).parent, data_dir):
        write_private(path, text)
    else:
        Path(path).write_text(text, encoding="utf-8")
