"""Fixtures every suite may use: the throwaway PostgreSQL cluster (tests/pgcluster.py), one per test
session; a fresh database on it per test (`pg_url`); and `store_target`, which runs a test on both
backends."""

from __future__ import annotations

import pytest

from tests.pgcluster import pg_cluster, pg_url

__all__ = ["pg_cluster", "pg_url", "store_target"]


@pytest.fixture(params=["sqlite", "pg"])
def store_target(request, tmp_path):
    """What `open_store` is given: a data dir (SQLite) or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return tmp_path / "data"
    return request.getfixturevalue("pg_url")
