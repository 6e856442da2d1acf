"""Storage tests (no Qt). Shared helpers: node builders and a subprocess runner."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

from app.domain import (
    RUN_RECORD_KEYS,
    ErrorInfo,
    Node,
    NodeKind,
    NodeStatus,
    Owner,
    Params,
    RunRecord,
    Timing,
    Usage,
)

REPO_ROOT = Path(__file__).resolve().parents[2]


def full_node(session_id: str, **overrides: Any) -> Node:
    """A node with every field set to a non-default value (unicode, CJK and emoji included)."""
    values: dict[str, Any] = dict(
        session_id=session_id,
        kind=NodeKind.RESPONSE,
        text="Réponse: 你好世界 🎉 — C++ and \"quotes\" and 'single' \\ backslash\nsecond line\ttab",
        reasoning="思考中… step 1 → step 2 😀",
        model="openrouter:vendor/model:free",
        params=Params(system="Be brief ✓", temperature=0.7, max_tokens=1234, thinking=True, effort="high"),
        status=NodeStatus.ERROR,
        error=ErrorInfo(kind="rate_limit", message="Slow down — 429 ⏳", status=429),
        finish="length",
        usage=Usage(input=1200, cached_input=300, cache_write=50, output=640, reasoning=128),
        cost_usd=0.00123456789,
        reported_cost_usd=0.0012,
        timing=Timing(ttft_ms=321, duration_ms=4567),
        x=-120.5,
        y=3.25e6,
        width=480.0,
        height=360.5,
        collapsed=True,
        color="#ff8800",
        title="Card títle 卡片",
        meta={"instruction": "merge", "attachments": [{"name": "a.txt", "bytes": 12}], "ünï": [1, 2.5, None]},
        owner=Owner(pid=4242, host="host-ü", heartbeat=1_700_000_000.125),
        run_record=RunRecord(started_at=1_700_000_000.25, request_id="req_ü-7", no_key=True,
                             dropped_params=("temperature", "top_p"), insecure="plain http:// — 键",
                             rerun_of="01JABCDEFGHJKMNPQRSTVWXYZ0"),
        created_at=1_700_000_000.5,
        updated_at=1_700_000_001.75,
    )
    values.update(overrides)
    return Node(**values)


def add_nodes_before_m006(db_path: Path, nodes: list[Node]) -> None:
    """Insert `nodes` into a store whose schema predates m006_run_record (no run-record columns), as
    the Triptych of then wrote them: the current repository would write columns that store lacks.
    Their `run_record` is not written (an older Triptych kept it in `meta`: put it there)."""
    from storage.rows import _node_values

    con = sqlite3.connect(db_path)
    try:
        for node in nodes:
            values = {k: v for k, v in _node_values(node).items() if k not in RUN_RECORD_KEYS}
            con.execute(f"INSERT INTO nodes ({', '.join(values)}) VALUES ({', '.join('?' * len(values))})",
                        list(values.values()))
        con.commit()
    finally:
        con.close()


def spawn_python(code: str, *args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-c", textwrap.dedent(code), *args],
        cwd=REPO_ROOT,
        env={**os.environ, "PYTHONPATH": str(REPO_ROOT)},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
