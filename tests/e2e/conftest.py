"""Shared end-to-end fixtures: one loopback fake provider server per test module, and `cli`, which runs
`python -m app …` as a real subprocess pointed at it with a throwaway data dir and no real keys."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.server import FakeProviderServer

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def server():
    srv = FakeProviderServer(tokens_per_second=0)
    _url, stop = srv.run_in_thread()
    yield srv
    stop()


@pytest.fixture
def cli(server, tmp_path):
    """`cli(*args, input="", extra_env=None, timeout=60)` -> CompletedProcess; `cli.env`, `cli.home`.
    The server's scripts and recorded requests start empty for each test."""
    env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
    env.update(server.env())
    env.update({"TRIPTYCH_HOME": str(tmp_path / "home"), "TRIPTYCH_NO_KEYRING": "1", "PYTHONPATH": str(ROOT)})

    def run(*args: str, input: str | None = "", extra_env: dict | None = None, timeout: float = 60):
        return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, input=input,
                              env={**env, **(extra_env or {})}, timeout=timeout, cwd=ROOT)

    run.env = env
    run.home = tmp_path / "home"
    server.reset()
    return run
