"""`triptych desktop install|uninstall`: the launcher entry a `pipx install` / `uv tool install` does not
write (pypa/pipx#717).

`install` writes, under `--prefix` (default `~/.local`):
  share/applications/APP_ID.desktop          Exec= the installed program's absolute path
  share/icons/hicolor/scalable/apps/APP_ID.svg and share/icons/hicolor/NxN/apps/APP_ID.png (16-512)
  share/metainfo/APP_ID.metainfo.xml         AppStream data for software centres
and a manifest of those files (and of the folders it had to make) in share/triptych/, so `uninstall`
removes exactly what `install` wrote and nothing else. Standard library only.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
from importlib import resources
from pathlib import Path
from typing import Any

from app.paths import APP_ID

WM_CLASS = "Triptych"  # the window's WM_CLASS class (Qt: the application name, ui/launch.py)
MANIFEST = Path("share") / "triptych" / "desktop-install.json"

DESKTOP_ENTRY = """\
[Desktop Entry]
Type=Application
Version=1.4
Name=Triptych
GenericName=AI Model Comparison
Comment=Ask several AI models the same question and compare the answers side by side
Exec={exec}
TryExec={tryexec}
Icon={app_id}
Terminal=false
Categories=Utility;
Keywords=AI;LLM;chat;compare;prompt;DeepSeek;Claude;GPT;OpenRouter;Ollama;
StartupNotify=true
StartupWMClass={wm_class}
"""


class DesktopError(Exception):
    """Something `install`/`uninstall` cannot do; its text is for the user."""


def installed_program() -> Path:
    """The absolute path of the `triptych` program that is running (or of the one beside this Python):
    the standalone bundle's executable, the console script of a pipx/uv/venv install."""
    if getattr(sys, "frozen", False):  # the standalone bundle (scripts/package.sh)
        return Path(sys.executable).absolute()
    argv0 = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if argv0 is not None and argv0.name == "triptych":
        found = argv0 if argv0.parent != Path() else shutil.which("triptych")
        if found:
            return Path(found).absolute()
    beside = Path(sys.executable).parent / "triptych"
    if beside.exists():
        return beside.absolute()
    found = shutil.which("triptych")
    if found:
        return Path(found).absolute()
    raise DesktopError("cannot find the installed `triptych` program; give it with --exec PATH")


def _quote_exec(path: str) -> str:
    """An Exec= argument, quoted as the Desktop Entry spec asks when it has reserved characters."""
    if not any(c in path for c in ' \t\n"\'\\><~|&;$*?#()`%='):
        return path
    escaped = "".join("\\" + c if c in '"`$\\' else c for c in path).replace("%", "%%")
    return f'"{escaped}"'.replace("\\", "\\\\")  # the string-level escape comes on top of the quoting one


def desktop_entry(program: str) -> str:
    return DESKTOP_ENTRY.format(exec=_quote_exec(program), tryexec=program.replace("\\", "\\\\"),
                                app_id=APP_ID, wm_class=WM_CLASS)


def _resource_dir() -> Path:
    return Path(str(resources.files("resources").joinpath("desktop")))


def planned_files(program: str) -> dict[Path, bytes]:
    """{path under the prefix: content} of everything `install` writes."""
    src = _resource_dir()
    files: dict[Path, bytes] = {
        Path("share/applications") / f"{APP_ID}.desktop": desktop_entry(program).encode(),
        Path("share/metainfo") / f"{APP_ID}.metainfo.xml": (src / f"{APP_ID}.metainfo.xml").read_bytes(),
        Path("share/icons/hicolor/scalable/apps") / f"{APP_ID}.svg": (src / f"{APP_ID}.svg").read_bytes(),
    }
    hicolor = src / "icons" / "hicolor"
    for png in sorted(hicolor.glob(f"*/apps/{APP_ID}.png")):
        files[Path("share/icons/hicolor") / png.relative_to(hicolor)] = png.read_bytes()
    if not any(p.suffix == ".png" for p in files):
        raise DesktopError(f"the app icon's PNG files are missing from {hicolor}")
    return files


def _read_manifest(prefix: Path) -> dict[str, Any]:
    path = prefix / MANIFEST
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {"files": [], "dirs": []}
    except (OSError, ValueError) as exc:
        raise DesktopError(f"cannot read {path}: {exc}") from exc
    return {"files": list(data.get("files", [])), "dirs": list(data.get("dirs", []))}


def install(prefix: Path, program: str | None = None) -> list[Path]:
    """Write the desktop entry, icons and AppStream file under `prefix`; the paths written."""
    prefix = prefix.expanduser().absolute()
    program = program or str(installed_program())
    if not Path(program).is_absolute():
        raise DesktopError(f"--exec must be an absolute path (Exec= in the desktop entry): {program}")
    manifest = _read_manifest(prefix)
    made_dirs: list[str] = list(manifest["dirs"])
    written: list[str] = list(manifest["files"])
    for rel, content in [*planned_files(program).items(), (MANIFEST, b"")]:
        target = prefix / rel
        missing = [p for p in [target.parent, *target.parent.parents] if not p.exists()]
        for d in reversed(missing):
            d.mkdir()
            made_dirs.append(str(d.relative_to(prefix)))
        if rel == MANIFEST:
            continue
        tmp = target.with_name(f".{target.name}.tmp")
        tmp.write_bytes(content)
        tmp.chmod(0o644)
        os.replace(tmp, target)
        if str(rel) not in written:
            written.append(str(rel))
    (prefix / MANIFEST).write_text(
        json.dumps({"app_id": APP_ID, "exec": program, "files": written, "dirs": made_dirs}, indent=1) + "\n",
        encoding="utf-8",
    )
    return [*(prefix / f for f in written), prefix / MANIFEST]  # the list of them is a file it wrote too


def uninstall(prefix: Path) -> list[Path]:
    """Remove what `install` wrote under `prefix` (its manifest's files, then the folders it made,
    when empty); the files removed."""
    prefix = prefix.expanduser().absolute()
    if not (prefix / MANIFEST).exists():
        raise DesktopError(f"nothing to uninstall: no {MANIFEST} under {prefix}")
    manifest = _read_manifest(prefix)
    removed: list[Path] = []
    for rel in [*manifest["files"], str(MANIFEST)]:
        path = prefix / rel
        if path.is_file() or path.is_symlink():
            path.unlink()
            removed.append(path)
    for rel in sorted(manifest["dirs"], key=lambda d: len(Path(d).parts), reverse=True):
        path = prefix / rel
        try:
            path.rmdir()  # only when empty: a folder holding someone else's files stays
        except OSError:
            pass
    return removed


def add_parser(sub: Any, common: argparse.ArgumentParser) -> None:
    d = sub.add_parser("desktop", parents=[common],
                       help="add Triptych to the desktop's launcher (desktop entry, icon, AppStream data), or remove it")
    dsub = d.add_subparsers(dest="desktop_command", required=True)
    i = dsub.add_parser("install", help="write the desktop entry, icons and AppStream file")
    i.add_argument("--prefix", default="~/.local", help="where share/ is (default ~/.local)")
    i.add_argument("--exec", dest="exec_path", metavar="PATH",
                   help="the program the entry starts (default: this triptych's absolute path)")
    u = dsub.add_parser("uninstall", help="remove exactly what `desktop install` wrote")
    u.add_argument("--prefix", default="~/.local", help="the prefix given to install (default ~/.local)")


def run(args: argparse.Namespace) -> int:
    """The `desktop` command; its exit status."""
    prefix = Path(args.prefix)
    try:
        if args.desktop_command == "install":
            paths = install(prefix, args.exec_path)
            entry = next(p for p in paths if p.suffix == ".desktop")
            print(f"Installed Triptych in the launcher: {entry}")
            print(f"  {len(paths)} files under {prefix.expanduser().absolute()}; "
                  f"remove them with: triptych desktop uninstall --prefix {prefix}")
            return 0
        paths = uninstall(prefix)
        print(f"Removed {len(paths)} files written by `triptych desktop install`.")
        return 0
    except DesktopError as exc:
        print(f"triptych: {exc}", file=sys.stderr)
        return 1
