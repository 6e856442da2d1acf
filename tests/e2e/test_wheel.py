"""The wheel, as `pipx install` / `uv tool install` use it: built from a copy of the checkout, installed
into a fresh virtual environment, and run from another directory, so every resource must come from the
installed package (importlib.resources), never from the working directory or the checkout.

To stay offline and quick, the fresh environment takes the third-party dependencies from the test
environment's site-packages through a .pth line (which does not run the checkout's editable-install
hook); Triptych itself comes only from the wheel, as the test checks.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from email.parser import Parser
from pathlib import Path

import pytest

from app.paths import APP_ID

ROOT = Path(__file__).resolve().parents[2]
DS = "deepseek:deepseek-flash"
SOURCES = ("pyproject.toml", "README.md", "LICENSE", "app", "storage", "ui", "resources")


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    src = tmp_path_factory.mktemp("src")
    for name in SOURCES:
        if (ROOT / name).is_dir():
            shutil.copytree(ROOT / name, src / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
        else:
            shutil.copy2(ROOT / name, src / name)
    out = tmp_path_factory.mktemp("wheels")
    r = subprocess.run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "-q",
                        "-w", str(out), str(src)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    (built,) = out.glob("triptych-*.whl")
    return built


@pytest.fixture(scope="module")
def venv(wheel, tmp_path_factory) -> Path:
    env_dir = tmp_path_factory.mktemp("fresh") / "venv"
    base = getattr(sys, "_base_executable", sys.executable)
    subprocess.run([base, "-m", "venv", "--without-pip", str(env_dir)], check=True, timeout=120)
    py = env_dir / "bin" / "python"
    r = subprocess.run([sys.executable, "-m", "pip", "--python", str(py), "install", "--no-deps", "--no-index",
                        "-q", str(wheel)], capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    site = subprocess.run([str(py), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                          capture_output=True, text=True, check=True).stdout.strip()
    (Path(site) / "zz_test_dependencies.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    return env_dir


def _env(home: Path, extra: dict[str, str] | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items()
           if not k.endswith(("_API_KEY", "_BASE_URL")) and k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    env.update({"TRIPTYCH_HOME": str(home), "TRIPTYCH_NO_KEYRING": "1", "QT_QPA_PLATFORM": "offscreen"})
    env.update(extra or {})
    return env


def test_the_wheel_carries_every_resource_and_the_metadata(wheel):
    with zipfile.ZipFile(wheel) as zf:
        names = set(zf.namelist())
        meta_name = next(n for n in names if n.endswith(".dist-info/METADATA"))
        meta = Parser().parsestr(zf.read(meta_name).decode())
    shipped = {str(p.relative_to(ROOT)) for p in (ROOT / "resources").rglob("*")
               if p.is_file() and "__pycache__" not in p.parts}
    assert shipped and shipped <= names, sorted(shipped - names)
    assert f"resources/desktop/icons/hicolor/16x16/apps/{APP_ID}.png" in names
    assert not any(n.startswith(("tests/", "bench/", "docs/")) for n in names)
    assert meta["Summary"] and meta["License-Expression"] == "MIT"
    assert meta["Requires-Python"] and meta.get_all("Classifier") and meta.get_all("Project-URL")
    assert "pyside6-essentials==6.11.3" in meta.get_all("Requires-Dist")


def test_installed_wheel_works_from_another_directory(venv, server, tmp_path):
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    triptych = str(venv / "bin" / "triptych")
    where = subprocess.run([str(venv / "bin" / "python"), "-c",
                            "import app, ui, resources, storage; print(app.__file__, ui.__file__, resources.__file__)"],
                           capture_output=True, text=True, cwd=elsewhere, env=_env(tmp_path / "home"), check=True)
    assert all(p.startswith(str(venv)) for p in where.stdout.split()), where.stdout

    r = subprocess.run([triptych, "--help"], capture_output=True, text=True, cwd=elsewhere,
                       env=_env(tmp_path / "home"), timeout=60)
    assert r.returncode == 0 and "usage: triptych" in r.stdout, r.stderr

    server.reset()
    r = subprocess.run([triptych, "ask", "--json", "-m", DS, "What is 2+2?"], capture_output=True, text=True,
                       cwd=elsewhere, env=_env(tmp_path / "home", server.env()), timeout=60)
    assert r.returncode == 0, r.stderr
    (answer,) = [json.loads(line) for line in r.stdout.splitlines() if line.strip()]
    assert answer["status"] == "done" and answer["cost_usd"] > 0  # priced from the packaged catalog

    r = subprocess.run([triptych, "models", "deepseek"], capture_output=True, text=True, cwd=elsewhere,
                       env=_env(tmp_path / "home"), timeout=60)
    assert r.returncode == 0 and "deepseek-flash" in r.stdout and "$/M" in r.stdout, r.stderr

    r = subprocess.run([triptych], capture_output=True, text=True, cwd=elsewhere,
                       env=_env(tmp_path / "home", {"TRIPTYCH_EXIT_AFTER_PAINT": "1"}), timeout=60)
    assert r.returncode == 0 and "the window painted" in r.stderr, r.stderr

    r = subprocess.run([triptych, "desktop", "install", "--prefix", str(tmp_path / "prefix")],
                       capture_output=True, text=True, cwd=elsewhere, env=_env(tmp_path / "home"), timeout=60)
    assert r.returncode == 0, r.stderr
    entry = (tmp_path / "prefix" / "share" / "applications" / f"{APP_ID}.desktop").read_text()
    assert f"Exec={triptych}\n" in entry
