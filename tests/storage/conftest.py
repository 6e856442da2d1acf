"""Storage fixtures: `store_target` (tests/conftest.py) runs a test on both backends (the local SQLite
file and the team store on a throwaway PostgreSQL cluster, tests/pgcluster.py)."""
