"""The `triptych` command's entry point: the GUI without loading the CLI, everything else via app.cli.

Opening the app (`triptych`, `triptych gui`, with or without `--data-dir DIR`) goes straight to
ui.launch; any other command, and anything
this does not recognise, is app.cli's to parse (and to report on).
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence


def _gui_data_dir(argv: list[str]) -> tuple[bool, str | None]:
    """(True, --data-dir or None) when `argv` only opens the app; (False, None) otherwise."""
    rest: list[str] = []
    data_dir = None
    args = iter(argv)
    for arg in args:
        if arg == "--data-dir":
            data_dir = next(args, None)
            if data_dir is None:
                return False, None
        elif arg.startswith("--data-dir="):
            data_dir = arg.split("=", 1)[1]
        else:
            rest.append(arg)
    return rest in ([], ["gui"]), data_dir


def open_app(data_dir: str | None) -> int:
    """The GUI on `data_dir` (else `TRIPTYCH_HOME` or the platform's); its exit status."""
    from ui.launch import main as launch

    if data_dir:
        os.environ["TRIPTYCH_HOME"] = data_dir
    return int(launch([sys.argv[0]]) or 0)


def _take_database_url(argv: list[str]) -> list[str]:
    """`--database-url URL` (anywhere) -> TRIPTYCH_DATABASE_URL for the GUI and the CLI alike."""
    out: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg == "--database-url":
            url = next(args, None)
            if url is None:
                return argv  # the CLI's parser says what is missing
            os.environ["TRIPTYCH_DATABASE_URL"] = url
        elif arg.startswith("--database-url="):
            os.environ["TRIPTYCH_DATABASE_URL"] = arg.split("=", 1)[1]
        else:
            out.append(arg)
    return out


def main(argv: Sequence[str] | None = None) -> int:
    args = _take_database_url(list(sys.argv[1:] if argv is None else argv))
    gui, data_dir = _gui_data_dir(args)
    if gui:
        return open_app(data_dir)
    from app.cli import main as cli_main

    return cli_main(args)
