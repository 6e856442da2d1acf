"""Crash recovery: which `pending`/`streaming` nodes lost their owner (the process that streamed them
is gone, or its heartbeat is stale), and marking them `interrupted` (storage/repository.py
`SqliteRepository.mark_orphans_interrupted` wraps these in its read and write transactions).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

from sqlalchemy import Connection, bindparam, select, update

from app.domain import (
    ErrorInfo,
    NodeStatus,
    now_ts,
)
from storage.rows import _LIVE, INTERRUPTED_MESSAGE, _dumps
from storage.schema import nodes as nodes_t


def _pid_alive(pid: int) -> bool:
    """Whether process `pid` exists on this host (a process we may not signal counts as alive)."""
    if pid <= 0:
        return False
    if pid == os.getpid():
        return True
    if sys.platform == "win32":  # os.kill(pid, 0) would send CTRL_C_EVENT on Windows
        import ctypes

        kernel32 = ctypes.windll.kernel32
        handle = kernel32.OpenProcess(0x1000, False, pid)  # PROCESS_QUERY_LIMITED_INFORMATION
        if not handle:
            return bool(kernel32.GetLastError() == 5)  # ERROR_ACCESS_DENIED: exists
        try:
            code = ctypes.c_ulong()
            ok = kernel32.GetExitCodeProcess(handle, ctypes.byref(code))
            return bool(ok) and code.value == 259  # STILL_ACTIVE
        finally:
            kernel32.CloseHandle(handle)
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    except OSError:
        return True
    return not _is_zombie(pid)


def _is_zombie(pid: int) -> bool:
    """A killed process not yet reaped by its parent (Linux state Z): it still answers kill(pid, 0)
    but will never write again. After a kill -9 under a parent that reaps late, the restarted window
    showed its cut answers as live ("queued", a Stop that stops nothing) instead of interrupted."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
    except OSError:
        return False  # no /proc (macOS) or no access: trust kill(pid, 0)
    state = stat[stat.rfind(b")") + 2 : stat.rfind(b")") + 3]  # the field after "(comm)"
    return state in (b"Z", b"X")


def _is_orphan(
    pid: int | None, host: str | None, heartbeat: float | None, *, here: str, now: float, stale_after_s: float
) -> bool:
    if pid is None or not host or heartbeat is None:
        return True  # nobody owns it
    if now - heartbeat > stale_after_s:
        return True
    return host == here and not _pid_alive(pid)


_LIVE_OWNERS = select(nodes_t.c.id, nodes_t.c.owner_pid, nodes_t.c.owner_host, nodes_t.c.heartbeat).where(
    nodes_t.c.status.in_(_LIVE)
)


def find_orphans(conn: Connection, *, here: str, stale_after_s: float) -> list[str]:
    """The ids of the live nodes whose owner is gone (see `_is_orphan`), as this transaction sees them."""
    now = now_ts()
    return [
        row[0]
        for row in conn.execute(_LIVE_OWNERS)
        if _is_orphan(row[1], row[2], row[3], here=here, now=now, stale_after_s=stale_after_s)
    ]


def mark_interrupted(conn: Connection, node_ids: Sequence[str]) -> None:
    """Set the nodes `interrupted` (text and reasoning kept, owner cleared, error kind "interrupted")."""
    if not node_ids:
        return
    error = _dumps(ErrorInfo(kind="interrupted", message=INTERRUPTED_MESSAGE).to_dict())
    now = now_ts()
    conn.execute(
        update(nodes_t).where(nodes_t.c.id == bindparam("b_id")),
        [
            {
                "b_id": node_id,
                "status": NodeStatus.INTERRUPTED.value,
                "error": error,
                "owner_pid": None,
                "owner_host": None,
                "heartbeat": None,
                "updated_at": now,
            }
            for node_id in node_ids
        ],
    )
