"""The window's File → Export and File → Import, without Qt: what to write, where, and what a refused
file says. The window asks the user (format, scope, file) and shows the outcome; PNG is drawn by
ui/export_png.py from `export_graph(graph, options)`.

Threading: synchronous file and store I/O, called on the loop thread (a session's export is quick;
imports are capped by `app.export.importer.MAX_IMPORT_BYTES`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import cast

from app.domain import Graph, Session
from app.export import ExportOptions, export_session
from app.export.common import Scope
from app.repository import Repository


class ImportRefused(Exception):
    """The file was not imported (nothing was stored); the message is one line for the user."""


@dataclass(frozen=True, slots=True)
class Imported:
    session: Session
    cards: int

    @property
    def summary(self) -> str:
        return f"{self.cards} card{'s' if self.cards != 1 else ''}"


def export_options(node_ids: Sequence[str] | None, scope: str | None, include_reasoning: bool,
                   display_names: dict[str, str], provider_colors: dict[str, str] | None = None) -> ExportOptions:
    """With `node_ids`, `scope` "selection" (the default then) exports only those cards, "path" them
    and what led to them; without, the whole session."""
    chosen = scope or ("selection" if node_ids else "all")
    if chosen not in ("all", "path", "selection"):
        raise ValueError(f"unknown export scope {chosen!r}")
    return ExportOptions(
        include_reasoning=include_reasoning,
        scope=cast(Scope, chosen),
        node_ids=tuple(node_ids or ()) if chosen != "all" else (),
        display_names=display_names,
        provider_colors=dict(provider_colors or {}),
    )


def write_export(graph: Graph, path: str | Path, fmt: str, options: ExportOptions, data_dir: str | Path) -> None:
    """Write a text export (md, html, json, canvas) of `graph` to `path` (OSError, ValueError): owner-only
    when it lands in the data dir (app.fsutil). A canvas gets the prompts' files beside it, in
    `<name>-files/`, as its `file` nodes name them."""
    from app.export import canvas_files
    from app.fsutil import private_if_inside
    from app.fsutil import write_export as write_text

    files_dir = f"{Path(path).stem}-files"
    write_text(path, export_session(graph, fmt, options, files_dir=files_dir), data_dir)
    if fmt == "canvas":
        for rel, data in canvas_files(graph, options, files_dir).items():
            target = Path(path).parent / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            private_if_inside(target, data_dir)


def import_session(repo: Repository, path: str | Path) -> Imported:
    """Import a .json export or a .canvas file as a new session, or refuse it (ImportRefused) with
    nothing stored."""
    from app.export import ImportFailed, import_file, save_imported
    from app.repository import StoreError

    name = Path(path).name
    try:
        graph = import_file(str(path))
        session = save_imported(repo, graph)
    except ImportFailed as exc:
        raise ImportRefused(f"Cannot import {name}: {exc}") from exc
    except StoreError as exc:
        raise ImportRefused(f"Cannot store {name}: {exc}") from exc
    return Imported(session, len(graph.nodes))
