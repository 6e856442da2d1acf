"""`import_file`: a Triptych JSON export or a `.canvas` file → an in-memory Graph under new ids.

The input is untrusted: it is size-limited, fully parsed and validated before anything is built,
and every problem raises `ImportFailed` with one line saying what is wrong and where. Nothing is
written here; `save_imported` then stores the graph (session first, then all nodes and edges in one
`add_nodes` transaction; the empty session is purged again if that fails).
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

from app.domain import Graph, Session
from app.export.canvas import graph_from_canvas
from app.export.common import FORMAT_NAME, ImportFailed
from app.export.jsonfmt import graph_from_document, parse_json
from app.repository import Repository

MAX_IMPORT_BYTES = 50 * 1024 * 1024


def _size(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.1f} MB"
    if n >= 1000:
        return f"{n / 1e3:.1f} KB"
    return f"{n} bytes"


def _read_limited(path: Path, max_bytes: int) -> bytes:
    try:
        size = path.stat().st_size
        if size > max_bytes:
            raise ImportFailed(f"{path.name} is {_size(size)}, over the import limit of {_size(max_bytes)}")
        with path.open("rb") as fh:
            data = fh.read(max_bytes + 1)
    except FileNotFoundError:
        raise ImportFailed(f"{path} does not exist") from None
    except IsADirectoryError:
        raise ImportFailed(f"{path} is a folder, not a file") from None
    except OSError as exc:
        raise ImportFailed(f"cannot read {path}: {exc.strerror or exc}") from None
    if len(data) > max_bytes:
        raise ImportFailed(f"{path.name} is over the import limit of {_size(max_bytes)}")
    return data


def detect_kind(doc: Any) -> str:
    """ "json" for a Triptych export, "canvas" for a JSON Canvas (ours or another app's)."""
    if not isinstance(doc, dict):
        raise ImportFailed("not a Triptych export or a JSON Canvas (the top level is not an object)")
    if doc.get("format") == FORMAT_NAME or ("format" in doc and "version" in doc):
        return "json"
    if "nodes" in doc or "edges" in doc or "triptych" in doc or not doc:
        return "canvas"
    raise ImportFailed("not a Triptych export or a JSON Canvas (no format and no nodes)")


def import_file(
    path_or_bytes: str | os.PathLike[str] | bytes,
    *,
    max_bytes: int = MAX_IMPORT_BYTES,
    title: str | None = None,
) -> Graph:
    """Parse and validate a `.json` export or a `.canvas` file into a new Graph (new session and node
    ids). `title` names a session for canvases that carry none (default: the file name)."""
    if isinstance(path_or_bytes, bytes | bytearray):
        data = bytes(path_or_bytes)
        if len(data) > max_bytes:
            raise ImportFailed(f"the data is {_size(len(data))}, over the import limit of {_size(max_bytes)}")
        name = title or "Imported canvas"
        base_dir = None
    else:
        path = Path(path_or_bytes)
        data = _read_limited(path, max_bytes)
        name = title or path.stem or "Imported canvas"
        base_dir = path.parent  # a canvas's attached files lie beside it
    doc = parse_json(data)
    if detect_kind(doc) == "json":
        graph = graph_from_document(doc)
    elif isinstance(doc.get("triptych"), dict):
        graph = graph_from_canvas(doc, title=name, base_dir=base_dir)
    else:
        return graph_from_canvas(doc, title=name)  # another app's canvas: named after its file
    graph.session.title = imported_title(graph.session.title)
    return graph


IMPORTED = " (imported)"


def imported_title(title: str) -> str:
    """A Triptych session's title once imported: told apart from its source in the sidebar, without
    piling up "(imported)" when an imported session is exported and imported again."""
    title = title.rstrip()
    return title if title.endswith(IMPORTED) else title + IMPORTED


def save_imported(repo: Repository, graph: Graph) -> Session:
    """Store an imported graph: create the session, then every node and edge in one transaction.
    If the second step fails the (empty) session is purged, so nothing half-imported remains."""
    session = repo.create_session(graph.session)
    try:
        repo.add_nodes(list(graph.nodes.values()), list(graph.edges))
        if graph.matches:  # blind matches and their votes (app.arena); a store without them refuses
            add_matches = getattr(repo, "add_matches", None)
            if add_matches is None:
                raise ImportFailed("this store cannot keep the file's blind matches")
            add_matches(list(graph.matches))
    except BaseException:
        with contextlib.suppress(Exception):
            repo.purge_session(session.id)
        raise
    return session
