"""A throwaway PostgreSQL cluster for the team-store tests: `initdb` into a temp dir (as an
unprivileged user when the tests run as root), `pg_ctl start` on a free loopback port, a fresh
database per test, `pg_ctl stop` at the end (the cluster itself: tests/pgserver.py). One cluster per
test session (`pg_cluster` is session-scoped; tests/conftest.py offers it to every suite).

No PostgreSQL binaries -> the tests that need one are skipped with a loud reason, unless
TRIPTYCH_REQUIRE_PG=1 (scripts/test.sh sets it), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterator

import pytest

from tests.pgserver import SUPERUSER, Cluster, pg_bindir, start_cluster

__all__ = ["SUPERUSER", "Cluster", "pg_bindir", "pg_cluster", "pg_url"]


def _require() -> bool:
    return os.environ.get("TRIPTYCH_REQUIRE_PG", "") not in ("", "0")


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    reason = ("PostgreSQL is not installed (no initdb found): the team-store tests did NOT run. "
              "Install Debian's `postgresql` package (scripts/bootstrap.sh test does).")
    if pg_bindir() is None:
        if _require():
            pytest.fail(reason + " TRIPTYCH_REQUIRE_PG is set.")
        pytest.skip(reason)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        msg = "psycopg is not installed: the team-store tests did NOT run (pip install 'psycopg[binary]')"
        if _require():
            pytest.fail(msg)
        pytest.skip(msg)
    try:
        cluster = start_cluster()
    except subprocess.CalledProcessError as exc:
        pytest.fail(f"could not start a throwaway PostgreSQL cluster: {exc.stderr or exc.stdout}")
    try:
        yield cluster
    finally:
        cluster.destroy()


@pytest.fixture
def pg_url(pg_cluster: Cluster) -> str:
    """The URL of a fresh, empty database on the throwaway cluster."""
    return pg_cluster.url(pg_cluster.create_db())
