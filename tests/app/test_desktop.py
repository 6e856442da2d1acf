"""`triptych desktop install|uninstall` as a user runs it (a real subprocess): the desktop entry passes
desktop-file-validate, the AppStream file passes `appstreamcli validate --no-net`, the icons land in the
hicolor theme, and uninstall removes exactly what install wrote (bash scripts/bootstrap.sh test
installs the two validators)."""

from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from app.paths import APP_ID

ROOT = Path(__file__).resolve().parents[2]


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is missing: bash scripts/bootstrap.sh test installs it "
                    "(Debian packages desktop-file-utils, appstream)")
    return path


def _triptych(*args: str) -> subprocess.CompletedProcess[str]:
    env = dict(os.environ, PYTHONPATH=str(ROOT), TRIPTYCH_NO_KEYRING="1")
    return subprocess.run([sys.executable, "-m", "app", *args], capture_output=True, text=True, env=env,
                          timeout=60, cwd=ROOT)


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*")} if root.exists() else set()


def test_install_writes_a_valid_launcher_entry_icons_and_appstream_and_uninstall_leaves_nothing(tmp_path):
    prefix = tmp_path / "prefix"
    r = _triptych("desktop", "install", "--prefix", str(prefix))
    assert r.returncode == 0, r.stderr
    entry_path = prefix / "share" / "applications" / f"{APP_ID}.desktop"
    assert str(entry_path) in r.stdout

    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read(entry_path, encoding="utf-8")
    main = entry["Desktop Entry"]
    program = Path(main["Exec"])
    assert program.is_absolute() and os.access(program, os.X_OK), main["Exec"]
    assert program == Path(sys.executable).parent / "triptych"  # the program installed beside this Python
    assert main["Icon"] == APP_ID and main["StartupWMClass"] == "Triptych" and main["Terminal"] == "false"
    assert main["Categories"] and main["Keywords"]

    validate = subprocess.run([_tool("desktop-file-validate"), str(entry_path)], capture_output=True, text=True)
    assert validate.returncode == 0 and "error" not in validate.stdout, validate.stdout
    metainfo = prefix / "share" / "metainfo" / f"{APP_ID}.metainfo.xml"
    appstream = subprocess.run([_tool("appstreamcli"), "validate", "--no-net", str(metainfo)],
                               capture_output=True, text=True)
    assert appstream.returncode == 0, appstream.stdout + appstream.stderr
    text = metainfo.read_text(encoding="utf-8")
    for needle in ("<screenshot", "<release ", "<content_rating", f'<launchable type="desktop-id">{APP_ID}.desktop'):
        assert needle in text

    icons = prefix / "share" / "icons" / "hicolor"
    assert (icons / "scalable" / "apps" / f"{APP_ID}.svg").is_file()
    sizes = {p.parts[-3] for p in icons.glob(f"*/apps/{APP_ID}.png")}
    assert {"16x16", "32x32", "48x48", "128x128", "256x256", "512x512"} <= sizes

    written = sum(1 for p in prefix.rglob("*") if p.is_file())
    assert f" {written} files under " in r.stdout  # the count it says is what it wrote

    r = _triptych("desktop", "uninstall", "--prefix", str(prefix))
    assert r.returncode == 0, r.stderr
    assert f"Removed {written} files" in r.stdout  # and what uninstall says it removed
    assert _files(prefix) == set() and not prefix.exists(), _files(prefix)


def test_uninstall_keeps_what_install_did_not_write(tmp_path):
    prefix = tmp_path / "local"
    other = prefix / "share" / "applications" / "other.desktop"
    other.parent.mkdir(parents=True)
    other.write_text("[Desktop Entry]\nType=Application\nName=Other\nExec=other\n")
    before = _files(prefix)
    assert _triptych("desktop", "install", "--prefix", str(prefix)).returncode == 0
    assert _triptych("desktop", "install", "--prefix", str(prefix)).returncode == 0  # again: an update
    assert _triptych("desktop", "uninstall", "--prefix", str(prefix)).returncode == 0
    assert _files(prefix) == before
    again = _triptych("desktop", "uninstall", "--prefix", str(prefix))
    assert again.returncode == 1 and "nothing to uninstall" in again.stderr


def test_exec_with_a_space_is_quoted_as_the_spec_asks(tmp_path):
    prefix = tmp_path / "p"
    r = _triptych("desktop", "install", "--prefix", str(prefix), "--exec", "/opt/my apps/triptych")
    assert r.returncode == 0, r.stderr
    entry = prefix / "share" / "applications" / f"{APP_ID}.desktop"
    assert 'Exec="/opt/my apps/triptych"' in entry.read_text()
    validate = subprocess.run([_tool("desktop-file-validate"), str(entry)], capture_output=True, text=True)
    assert validate.returncode == 0, validate.stdout
