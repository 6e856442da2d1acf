"""Write python3-requirements.json beside this file: the Flatpak module that installs Triptych's Python
dependencies (all but PySide6, which io.qt.PySide.BaseApp provides) from wheels pinned by URL and
sha256, in the style of flatpak-pip-generator. Needs PyPI (pip's resolver, `--dry-run --report`).

    PIP_CONFIG_FILE=/dev/null .venv/bin/python packaging/flatpak/generate_requirements.py

(PIP_CONFIG_FILE=/dev/null: PyPI itself, not a machine's local mirror, whose file URLs a Flatpak cannot fetch.)

The versions are the ones installed in the .venv (the ones the tests ran with), resolved for the
Flatpak's Python (the KDE runtime's: CPython 3.13) on x86_64 and aarch64; a platform wheel gets one
source per architecture (`only-arches`).
"""

from __future__ import annotations

import json
import subprocess
import sys
import tempfile
import tomllib
from importlib import metadata
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parents[1]
PYTHON = "3.13"
ARCHES = ("x86_64", "aarch64")
PROVIDED = ("pyside6", "shiboken6")  # by the BaseApp
BUILD_ONLY = ["setuptools>=77"]  # builds Triptych's own wheel in the app module


def _requirements() -> list[str]:
    deps = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    return [d for d in deps if not d.lower().startswith(PROVIDED)] + BUILD_ONLY


def _constraints() -> str:
    pins = []
    for dist in metadata.distributions():
        name = dist.metadata["Name"]
        if name and name.lower() not in ("triptych",) and not name.lower().startswith(PROVIDED):
            pins.append(f"{name}=={dist.version}")
    return "\n".join(sorted(pins)) + "\n"


def _report(arch: str, reqs: list[str], constraints: Path) -> list[dict]:
    with tempfile.TemporaryDirectory() as tmp:
        out = Path(tmp) / "report.json"
        subprocess.run(
            [sys.executable, "-m", "pip", "install", "--dry-run", "--ignore-installed", "--quiet",
             "--report", str(out), "--only-binary=:all:", "--python-version", PYTHON, "--implementation", "cp",
             "--abi", "cp" + PYTHON.replace(".", ""), "--platform", f"manylinux_2_28_{arch}",
             "--platform", f"manylinux_2_17_{arch}", "--platform", f"manylinux2014_{arch}",
             "-c", str(constraints), *reqs],
            check=True,
        )
        return json.loads(out.read_text())["install"]


def main() -> int:
    reqs = _requirements()
    with tempfile.NamedTemporaryFile("w", suffix=".txt", delete=False) as f:
        f.write(_constraints())
    by_url: dict[str, dict] = {}
    names: list[str] = []
    for arch in ARCHES:
        for item in _report(arch, reqs, Path(f.name)):
            info = item["download_info"]
            url, sha = info["url"], info["archive_info"]["hashes"]["sha256"]
            if not url.startswith("https://files.pythonhosted.org/"):
                raise SystemExit(f"not a PyPI file URL: {url}")
            source = by_url.setdefault(url, {"type": "file", "url": url, "sha256": sha, "arches": []})
            source["arches"].append(arch)
            name = item["metadata"]["name"]
            if name not in names:
                names.append(name)
    sources = []
    for source in sorted(by_url.values(), key=lambda s: s["url"].rsplit("/", 1)[1].lower()):
        arches = source.pop("arches")
        if sorted(arches) != sorted(ARCHES):
            source["only-arches"] = arches
        sources.append(source)
    module = {
        "name": "python3-requirements",
        "buildsystem": "simple",
        "build-commands": [
            "pip3 install --verbose --exists-action=i --no-index --find-links=\"file://${PWD}\" "
            "--prefix=${FLATPAK_DEST} --no-build-isolation " + " ".join(f'"{n}"' for n in sorted(names, key=str.lower))
        ],
        "sources": sources,
    }
    (HERE / "python3-requirements.json").write_text(json.dumps(module, indent=2) + "\n")
    print(f"{len(names)} packages, {len(sources)} files -> {HERE / 'python3-requirements.json'}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
