"""Without PostgreSQL the team-store tests are skipped with a loud reason; under scripts/test.sh
(TRIPTYCH_REQUIRE_PG=1) they fail instead: a CI run never passes without having run them."""

from __future__ import annotations

import os
import subprocess
import sys

from tests.storage import REPO_ROOT


def _run(require: bool) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "TRIPTYCH_PG_BINDIR": "/nonexistent/postgresql/bin", "PYTHONPATH": str(REPO_ROOT)}
    env.pop("TRIPTYCH_REQUIRE_PG", None)
    if require:
        env["TRIPTYCH_REQUIRE_PG"] = "1"
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "tests.block_qt", "-p", "no:pytest-qt", "-p", "no:cacheprovider",
         "-W", "ignore::pytest.PytestConfigWarning", "-q", "-rs",
         "tests/storage/test_members.py::test_a_private_session_is_invisible_to_other_members"],
        cwd=REPO_ROOT, env=env, capture_output=True, text=True, timeout=120)


def test_missing_postgresql_skips_loudly_or_fails_when_required():
    skipped = _run(require=False)
    assert skipped.returncode == 0 and "1 skipped" in skipped.stdout
    assert "PostgreSQL is not installed" in skipped.stdout and "did NOT run" in skipped.stdout
    failed = _run(require=True)
    assert failed.returncode != 0 and "TRIPTYCH_REQUIRE_PG" in failed.stdout
