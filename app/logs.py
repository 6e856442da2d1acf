"""The support log: a rotating file in `<data dir>/logs/`. Request ids, statuses and timings; never prompt
text (unless TRIPTYCH_LOG_PROMPTS=1) and never keys (a filter masks anything that looks like one)."""

from __future__ import annotations

import logging
import logging.handlers
import re
from pathlib import Path

from app.fsutil import create_private, private_dir, tighten

_KEY_RE = re.compile(r"(sk-[A-Za-z0-9_\-]{8,}|Bearer\s+[A-Za-z0-9_\-\.]{8,}|(?:x-)?api[-_]key[\"':\s=]+[A-Za-z0-9_\-]{8,})", re.I)


_REGISTERED: set[str] = set()
_URL_PASSWORD_RE = re.compile(r"([a-z][a-z0-9+.\-]*://[^:/@\s]*):[^@\s]*@", re.I)


def redact_url(text: str) -> str:
    """Every `scheme://user:password@host` in `text` with the password as `***` (a team store's URL
    in messages, logs and `doctor`)."""
    return _URL_PASSWORD_RE.sub(r"\1:***@", text)


def register_secret(secret: str | None) -> None:
    """Mask this value in every log record from now on (app.config registers every key it loads, so
    a handler installed without an explicit key list still masks keys that do not look like `sk-…`)."""
    if secret and len(secret) >= 6:
        _REGISTERED.add(secret)


def redact(text: str, secrets: list[str] | tuple[str, ...] = ()) -> str:
    """`text` with every registered secret (and `secrets`) and anything that looks like a key masked:
    for tracebacks and error messages shown to the user (dialogs, cards, the CLI's stderr)."""
    for s in sorted({*(x for x in secrets if x and len(x) >= 6), *_REGISTERED}, key=len, reverse=True):
        if s in text:
            text = text.replace(s, "[redacted]")
    return redact_url(_KEY_RE.sub("[redacted]", text))


class _PrivateRotatingFileHandler(logging.handlers.RotatingFileHandler):
    """A rotating log whose files are owner-only (0600) whatever the umask: each new file (the first,
    and the fresh one after every rollover) is created 0600 before the handler opens it."""

    def _open(self):  # type: ignore[no-untyped-def]
        create_private(self.baseFilename)
        return super()._open()


class RedactKeys(logging.Filter):
    def __init__(self, secrets: list[str] | None = None) -> None:
        super().__init__()
        self.secrets = [s for s in (secrets or []) if s and len(s) >= 6]

    def filter(self, record: logging.LogRecord) -> bool:
        msg = record.getMessage()
        if record.exc_info and not record.exc_text:  # tracebacks are text too: mask them as well
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        clean = redact(msg, self.secrets)
        if record.exc_text:
            record.exc_text = redact(record.exc_text, self.secrets)
        if clean != msg:
            record.msg, record.args = clean, None
        return True


_installed: logging.Handler | None = None


def installed_handler() -> logging.Handler | None:
    """The support log's handler, once `setup_logging` has installed it."""
    return _installed


def setup_logging(data_dir: Path, secrets: list[str] | None = None, level: int = logging.INFO) -> Path | None:
    """Install the rotating file handler once per process; returns the log path (None if unwritable)."""
    global _installed
    log_dir = data_dir / "logs"
    try:
        private_dir(log_dir.parent)
        private_dir(log_dir)
        handler = _PrivateRotatingFileHandler(
            log_dir / "triptych.log", maxBytes=2_000_000, backupCount=3, encoding="utf-8"
        )
    except OSError:
        return None
    for old in log_dir.glob("triptych.log*"):  # rotated files written before they were owner-only
        tighten(old)
    handler.setFormatter(logging.Formatter("%(asctime)s %(process)d %(levelname)s %(name)s: %(message)s"))
    handler.addFilter(RedactKeys(secrets))
    root = logging.getLogger()
    if _installed is not None:
        root.removeHandler(_installed)
        _installed.close()
    root.addHandler(handler)
    root.setLevel(min(root.level or level, level) if root.level else level)
    for noisy in ("httpx", "httpcore", "asyncio"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _installed = handler
    return log_dir / "triptych.log"
