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
                   display_names: dict[str, str]) -> ExportOptions:
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
    )


def write_export(graph: Graph, path: str | Path, fmt: str, options: ExportOptions) -> None:
    """Write a text export (md, html, json, canvas) of `graph` to `path` (OSError, ValueError)."""
    Path(path).write_text(export_session(graph, fmt, options), encoding="utf-8")


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
