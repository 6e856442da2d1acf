"""Storage fixtures: `store_target` runs a test on both backends (the local SQLite file and the team
store on a throwaway PostgreSQL cluster, tests/pgcluster.py)."""

from __future__ import annotations

import pytest

from tests.pgcluster import pg_cluster, pg_url

__all__ = ["pg_cluster", "pg_url"]


@pytest.fixture(params=["sqlite", "pg"])
def store_target(request, tmp_path):
    """What `open_store` is given: a data dir (SQLite) or a fresh PostgreSQL database's URL."""
    if request.param == "sqlite":
        return tmp_path / "data"
    return request.getfixturevalue("pg_url")
