"""The fault table of docs/reliability.md is generated from the fault tests, never written by hand.

A fault test calls `record(area, fault, seen, kept)` at its end, with what it observed (the stored
status and error message, what text survived). When `TRIPTYCH_RELIABILITY_OUT` names a file, each call
appends one JSON line to it; otherwise `record` does nothing. `scripts/reliability_table.py` runs the
fault tests with the variable set and turns the lines into the markdown table.
"""

from __future__ import annotations

import json
import os
import threading

ENV = "TRIPTYCH_RELIABILITY_OUT"
_PATH = os.environ.get(ENV)  # read at import: test fixtures clear TRIPTYCH_* variables
_lock = threading.Lock()


def record(area: str, fault: str, seen: str, kept: str) -> None:
    """One row: `fault` (what went wrong), `seen` (the status and message the user gets), `kept` (what is
    on disk afterwards). Call it after the test's assertions, with the values they checked."""
    path = _PATH
    if not path:
        return
    test = os.environ.get("PYTEST_CURRENT_TEST", "").rsplit(" ", 1)[0]
    row = {"area": area, "fault": fault, "seen": " ".join(seen.split()), "kept": " ".join(kept.split()),
           "test": test}
    with _lock, open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(row, ensure_ascii=False) + "\n")


def kept_text(text: str, full: str | None = None) -> str:
    """How much of an answer is on disk, in words for the table."""
    if not text:
        return "no text (none had arrived)"
    if full is not None and text == full:
        return f"the whole answer ({len(text)} chars)"
    return f"the partial text ({len(text)} chars)"
