"""Writing files so that a crash, a full disk or a kill never leaves half a file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

PRIVATE_MODE = 0o600


def write_private_atomic(path: str | os.PathLike[str], data: str | bytes, mode: int = PRIVATE_MODE) -> None:
    """Replace `path` with `data` (str: UTF-8) all at once: written to a temporary file in the same
    folder, flushed to disk, then renamed over the old file (os.replace), and the folder synced. If
    anything fails on the way, the old file is left as it was and the temporary file is removed.
    The file is readable by its owner only (`mode`, whatever the umask)."""
    target = Path(path)
    target.parent.mkdir(parents=True, exist_ok=True)
    raw = data.encode("utf-8") if isinstance(data, str) else data
    fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            if hasattr(os, "fchmod"):
                os.fchmod(f.fileno(), mode)
            f.write(raw)
            f.flush()
            os.fsync(f.fileno())
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
