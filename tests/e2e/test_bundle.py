"""The standalone bundle (`bash scripts/package.sh`, PyInstaller folder mode), started as a user without
Python would: its CLI sends a prompt to the loopback fake server (priced from the bundled catalog), its
window opens offscreen and closes cleanly, and `desktop install` points the launcher at the bundle.

The build takes one to three minutes on 2 cores, so it runs at most once per source state: the bundle is
cached under .cache/bundle/<hash of the sources it is built from>/ (git-ignored), and a later run of the
test command with the same sources reuses it.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import tarfile
from pathlib import Path

import pytest

from app.paths import APP_ID

ROOT = Path(__file__).resolve().parents[2]
DS = "deepseek:deepseek-flash"
INPUTS = ("app", "storage", "ui", "resources", "packaging/pyinstaller", "scripts/package.sh", "pyproject.toml")

pytestmark = pytest.mark.slow


def _source_hash() -> str:
    h = hashlib.sha256()
    for name in INPUTS:
        path = ROOT / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for f in files:
            if "__pycache__" in f.parts or f.suffix == ".pyc":
                continue
            h.update(str(f.relative_to(ROOT)).encode() + b"\0" + f.read_bytes() + b"\0")
    return h.hexdigest()[:16]


@pytest.fixture(scope="module")
def bundle() -> Path:
    cache = ROOT / ".cache" / "bundle"
    dist = cache / _source_hash()
    exe = dist / "triptych" / "triptych"
    if not exe.exists():
        shutil.rmtree(cache, ignore_errors=True)  # bundles of older sources
        r = subprocess.run(["bash", "scripts/package.sh", "--dist", str(dist)], cwd=ROOT, capture_output=True,
                           text=True, timeout=900)
        assert r.returncode == 0, (r.stdout + r.stderr)[-4000:]
        assert "bundle:" in r.stdout
    return exe


def _env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_BASE_URL")) and k not in ("PYTHONPATH", "VIRTUAL_ENV", "PYTHONHOME")}
    env.update({"TRIPTYCH_HOME": str(home), "TRIPTYCH_NO_KEYRING": "1", "QT_QPA_PLATFORM": "offscreen"})
    env.update(extra or {})
    return env


def test_the_bundle_and_its_archive_hold_the_program(bundle):
    (archive,) = bundle.parent.parent.glob("triptych-*-linux-*.tar.gz")
    with tarfile.open(archive) as tf:
        assert "triptych/triptych" in tf.getnames()
    assert os.access(bundle, os.X_OK)


def test_the_bundle_answers_through_its_cli_and_opens_its_window(bundle, server, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    server.reset()
    r = subprocess.run([str(bundle), "ask", "--json", "-m", DS, "What is 2+2?"], capture_output=True, text=True,
                       cwd=elsewhere, env=_env(tmp_path / "home", server.env()), timeout=120)
    assert r.returncode == 0, r.stderr
    (answer,) = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert answer["status"] == "done" and answer["text"] and answer["cost_usd"] > 0
    assert server.requests_for("deepseek-flash")

    r = subprocess.run([str(bundle)], capture_output=True, text=True, cwd=elsewhere,
                       env=_env(tmp_path / "home", {"TRIPTYCH_EXIT_AFTER_PAINT": "1"}), timeout=120)
    assert r.returncode == 0 and "the window painted" in r.stderr, r.stderr
    assert "Traceback" not in r.stderr

    r = subprocess.run([str(bundle), "desktop", "install", "--prefix", str(tmp_path / "prefix")],
                       capture_output=True, text=True, cwd=elsewhere, env=_env(tmp_path / "home"), timeout=120)
    assert r.returncode == 0, r.stderr
    entry = (tmp_path / "prefix" / "share" / "applications" / f"{APP_ID}.desktop").read_text()
    assert f"Exec={bundle}\n" in entry
