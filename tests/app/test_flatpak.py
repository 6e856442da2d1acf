"""The Flatpak manifest (packaging/flatpak): it cannot be built here (no Flathub), so its syntax and
content are checked: the app id, the PySide BaseApp on the KDE runtime, every Python dependency of the
wheel pinned by URL and sha256 (PySide6 excepted: the BaseApp has it)."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import yaml

from app.paths import APP_ID

ROOT = Path(__file__).resolve().parents[2]
FLATPAK = ROOT / "packaging" / "flatpak"


def _name(requirement: str) -> str:
    return re.split(r"[<>=!~\[; ]", requirement, maxsplit=1)[0].lower().replace("_", "-").replace(".", "-")


def test_the_manifest_parses_and_builds_triptych_on_the_pyside_baseapp():
    manifest = yaml.safe_load((FLATPAK / f"{APP_ID}.yml").read_text(encoding="utf-8"))
    assert manifest["app-id"] == APP_ID and manifest["command"] == "triptych"
    assert manifest["base"] == "io.qt.PySide.BaseApp" and manifest["runtime"] == "org.kde.Platform"
    assert manifest["sdk"] == "org.kde.Sdk" and manifest["base-version"] == manifest["runtime-version"]
    assert "/app/cleanup-BaseApp.sh" in manifest["cleanup-commands"]
    assert {"--share=network", "--socket=wayland", "--socket=fallback-x11"} <= set(manifest["finish-args"])
    modules = manifest["modules"]
    assert modules[0] == "python3-requirements.json" and (FLATPAK / modules[0]).is_file()
    app = modules[-1]
    assert app["name"] == "triptych" and (FLATPAK / app["sources"][0]["path"]).resolve() == ROOT
    assert any("desktop install" in c for c in app["build-commands"])


def test_every_dependency_is_a_hash_pinned_pypi_file():
    module = json.loads((FLATPAK / "python3-requirements.json").read_text(encoding="utf-8"))
    sources = module["sources"]
    assert sources
    for s in sources:
        assert s["type"] == "file" and s["url"].startswith("https://files.pythonhosted.org/"), s
        assert re.fullmatch(r"[0-9a-f]{64}", s["sha256"]), s
        assert set(s.get("only-arches", ["x86_64", "aarch64"])) <= {"x86_64", "aarch64"}
    files = {_name(s["url"].rsplit("/", 1)[1].split("-", 1)[0]) for s in sources}
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    wanted = {_name(d) for d in deps} - {"pyside6-essentials"}
    assert wanted <= files, sorted(wanted - files)
    for arch in ("x86_64", "aarch64"):  # a platform wheel for each architecture
        assert any("sqlalchemy" in s["url"] and arch in s["url"] for s in sources), arch
