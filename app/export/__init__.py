"""Export, import and comparison of sessions (Qt-free). The CLI and the GUI call only this module.

    export_session(graph, "md" | "html" | "json" | "canvas", ExportOptions(...)) -> str
    default_filename(session, fmt) -> "parse-a-csv-in-rust-2025-11-16.md"
    import_file(path_or_bytes, max_bytes=50 MB) -> Graph   (new ids; raises ImportFailed)
    save_imported(repo, graph) -> Session

"png" is listed in FORMATS but needs Qt: ui/export_png.py renders `export_graph(graph, options)` (the CLI
and the window both call it); `export_session` refuses it.
"""

from __future__ import annotations

from app.domain import Graph
from app.export.canvas import canvas_files, export_canvas
from app.export.common import (
    ExportOptions,
    ImportFailed,
    Scope,
    default_filename,
    export_graph,
    scoped_graph,
    sections,
    slugify,
    tree_order,
)
from app.export.html import export_html
from app.export.importer import MAX_IMPORT_BYTES, import_file, save_imported
from app.export.jsonfmt import export_json, import_json
from app.export.markdown import defang_markdown, export_markdown
from app.export.table import (
    Branch,
    Row,
    Totals,
    branch_totals,
    branches,
    comparison_rows,
    session_totals,
    subtree_totals,
    totals,
)

FORMATS = ("md", "html", "json", "canvas", "png", "csv", "jsonl")
TEXT_FORMATS = ("md", "html", "json", "canvas", "csv", "jsonl")
SWEEP_FORMATS = ("csv", "jsonl")  # one row per sweep cell (app.export.sweep)

__all__ = [
    "FORMATS",
    "MAX_IMPORT_BYTES",
    "SWEEP_FORMATS",
    "TEXT_FORMATS",
    "Branch",
    "ExportOptions",
    "ImportFailed",
    "Row",
    "Scope",
    "Totals",
    "branch_totals",
    "branches",
    "canvas_files",
    "comparison_rows",
    "defang_markdown",
    "default_filename",
    "export_canvas",
    "export_graph",
    "export_html",
    "export_json",
    "export_markdown",
    "export_session",
    "import_file",
    "import_json",
    "save_imported",
    "scoped_graph",
    "sections",
    "session_totals",
    "slugify",
    "subtree_totals",
    "totals",
    "tree_order",
]


def export_session(graph: Graph, fmt: str, options: ExportOptions | None = None, files_dir: str = "files") -> str:
    """The session (or the scope chosen in `options`) as text in one of TEXT_FORMATS.

    Raises ValueError for "png" (rendered by the GUI) and unknown formats, and for a scope whose
    selected node ids are missing or not in the graph.
    """
    options = options or ExportOptions()
    if fmt in SWEEP_FORMATS:
        from app.export.sweep import sweep_csv, sweep_jsonl

        return sweep_csv(graph) if fmt == "csv" else sweep_jsonl(graph)
    if fmt == "md":
        return _with_sweep_grid(export_markdown(graph, options), graph, options, "md")
    if fmt == "html":
        return _with_sweep_grid(export_html(graph, options), graph, options, "html")
    if fmt == "json":
        return export_json(export_graph(graph, options))
    if fmt == "canvas":
        return export_canvas(graph, options, files_dir)  # attached files: canvas_files(graph, options, files_dir)
    if fmt == "png":
        raise ValueError("png export draws the canvas and needs the GUI: use the window's Export menu")
    raise ValueError(f"unknown export format {fmt!r}: use one of {', '.join(FORMATS)}")


def _with_sweep_grid(report: str, graph: Graph, options: ExportOptions, fmt: str) -> str:
    """A sweep session's md/html report begins with the sweep grid and its per-column totals."""
    if options.scope != "all":
        return report
    from app.export.sweep import grid_html, grid_markdown

    if fmt == "md":
        grid = grid_markdown(graph, options.display_names)
        if grid is None:
            return report
        head, sep, rest = report.partition("\n\n*Triptych session")
        line_end = rest.find("\n\n")
        if not sep or line_end < 0:
            return report
        cut = len(head) + len(sep) + line_end + 2
        return report[:cut] + grid + "\n" + report[cut:]
    grid = grid_html(graph, options.display_names)
    if grid is None or "<main>\n" not in report:
        return report
    return report.replace("<main>\n", "<main>\n" + grid + "\n", 1)
