"""JSON Canvas 1.0 export (opens in Obsidian) and import of canvases, ours or Obsidian's.

Spec: https://jsoncanvas.org/spec/1.0/. Every card becomes a `text` node whose `text` is readable
markdown (a title line with the model and status, the answer, the reasoning in a collapsed
`> [!note]- Reasoning` callout, a metrics line). What the text cannot carry rides along in an extra
`"triptych"` key on each node and edge, and on the top level, so `import` restores the session
exactly (under new ids). Sizes the user changed in Obsidian, and positions they moved, are kept.

Canvases made elsewhere (text / file / link / group nodes) import as note cards.

Attached files (issue #15) are written beside the canvas, in a folder `<canvas name>-files/`, as
`<sha256[:12]>-<file name>` (`canvas_files` lists them; the caller writes them), and each appears as a
`file` node to the right of its prompt card (the Obsidian convention; Obsidian resolves `file` paths
from the vault root, so keep the canvas at the top of the vault or move the folder with it). Import
reads them back from beside the canvas and checks them like any attached file.
"""

from __future__ import annotations

import json
import math
import re
import unicodedata
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from app.attachments import Attachment
from app.domain import Edge, EdgeRole, Graph, Node, NodeKind, Session
from app.export.common import (
    ExportOptions,
    ImportFailed,
    display_name,
    scoped_graph,
    status_label,
)
from app.export.jsonfmt import (
    check_header,
    header,
    need_dict,
    node_from_dict,
    node_on_cycle,
    node_to_dict,
    opt_int,
    opt_str,
    parse_role,
    remap_ids,
    remap_record,
    req_num,
    req_str,
    session_from_dict,
    type_name,
)
from app.export.markdown import defang_markdown
from app.present.colours import model_color
from app.present.metrics import metrics_line

CANVAS_COLOR = re.compile(r"^(?:[1-6]|#[0-9A-Fa-f]{6})$")
SIDES = ("top", "right", "bottom", "left")
ENDS = ("none", "arrow")
NODE_TYPES = ("text", "file", "link", "group")

ANSWER_WIDTH = 480
PROMPT_WIDTH = 480
MIN_HEIGHT = 120
MAX_HEIGHT = 2400
CHARS_PER_LINE = 56  # at 480 px in Obsidian's default font
LINE_PX = 26
PADDING_PX = 48
GAP_PX = 20


def node_color(node: Node, chosen: Mapping[str, str] | None = None) -> str | None:
    """The user's card colour when it is a valid canvas colour, else its provider's colour, as on the
    app's canvas (app.present.colours; `chosen`: the colours set in providers.toml)."""
    if node.color and CANVAS_COLOR.match(node.color):
        return node.color
    return model_color(node.model, chosen) if node.is_answer else None


# --------------------------------------------------------------------------- text and size


def _callout(title: str, body: str) -> str:
    lines = [f"> [!note]- {title}"]
    lines += [f"> {line}" if line.strip() else ">" for line in body.split("\n")]
    return "\n".join(lines)


def card_text(node: Node, options: ExportOptions) -> str:
    """The readable markdown shown on the canvas card."""
    if node.kind == NodeKind.NOTE:
        return node.text
    if node.kind == NodeKind.PROMPT:
        out = ["**Prompt**" + (f" · {node.title}" if node.title else ""), ""]
        if node.params.system:
            out += [_callout("System prompt", defang_markdown(node.params.system).rstrip("\n")), ""]
        out.append(defang_markdown(node.text))
        return "\n".join(out).rstrip("\n")
    name = display_name(node.model, options.display_names)
    title = f"**{name}** · `{node.model or 'no model'}` · {status_label(node)}"
    if node.kind == NodeKind.SYNTHESIS:
        kind = str(node.meta.get("instruction_kind") or "").strip()
        title = "**Synthesis" + (f" ({kind})" if kind else "") + "** · " + title
    out = [title, ""]
    if node.text:
        out += [defang_markdown(node.text).rstrip("\n"), ""]
    elif node.error is not None:
        out += ["*(no text received)*", ""]
    if options.include_reasoning and node.reasoning.strip():
        out += [_callout("Reasoning", defang_markdown(node.reasoning).rstrip("\n")), ""]
    metrics = metrics_line(node, live=False)
    if metrics:
        out.append("*" + metrics + "*")
    return "\n".join(out).rstrip("\n")


def _display_width(line: str) -> int:
    return sum(2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1 for ch in line)


def estimate_height(text: str, width: int) -> int:
    """Pixels a card needs to show `text` at `width` without scrolling (bounded)."""
    per_line = max(16, round(CHARS_PER_LINE * width / ANSWER_WIDTH))
    lines = 0
    in_code = False
    collapsed = False
    for line in text.split("\n"):
        stripped = line.strip()
        if stripped.startswith(("```", "~~~")):
            in_code = not in_code
            lines += 1
            continue
        if stripped.startswith("> [!") and "]-" in stripped:
            collapsed = True
            lines += 1
            continue
        if collapsed:
            if stripped.startswith(">"):
                continue
            collapsed = False
        if in_code:
            lines += 1  # code scrolls sideways
        else:
            lines += max(1, math.ceil(_display_width(line) / per_line))
    return max(MIN_HEIGHT, min(MAX_HEIGHT, PADDING_PX + lines * LINE_PX))


def _layout(graph: Graph, texts: dict[str, str]) -> dict[str, tuple[int, int, int, int]]:
    """Integer x, y, width, height per node: the card's own size if set, else estimated; estimated
    sizes are capped so a card does not run into its neighbour to the right or below."""
    boxes: dict[str, tuple[int, int, int, int]] = {}
    pos = {nid: (round(n.x), round(n.y)) for nid, n in graph.nodes.items()}
    for nid, node in graph.nodes.items():
        x, y = pos[nid]
        fixed_w = node.width is not None
        w = max(1, round(node.width)) if node.width is not None else ANSWER_WIDTH
        if not fixed_w:
            for oid, (ox, oy) in pos.items():
                if oid != nid and ox > x and abs(oy - y) < MIN_HEIGHT:
                    w = min(w, max(240, ox - x - GAP_PX))
        if node.height is not None:
            h = max(1, round(node.height))
        else:
            h = estimate_height(texts[nid], w)
            for oid, (ox, oy) in pos.items():
                if oid == nid or oy <= y:
                    continue
                ow = ANSWER_WIDTH
                if ox < x + w and x < ox + ow:
                    h = min(h, max(MIN_HEIGHT, oy - y - GAP_PX))
        boxes[nid] = (x, y, w, h)
    return boxes


# --------------------------------------------------------------------------- export


def _safe_name(name: str) -> str:
    cleaned = re.sub(r"[^\w.\- ]+", "_", unicodedata.normalize("NFC", name)).strip(" .") or "file"
    return cleaned[:80]


def file_path(att: Attachment, files_dir: str) -> str:
    """Where an attached file is written, relative to the canvas's folder."""
    return f"{files_dir}/{att.sha256[:12]}-{_safe_name(att.name)}"


def canvas_files(graph: Graph, options: ExportOptions | None = None, files_dir: str = "files") -> dict[str, bytes]:
    """The attached files to write beside the canvas: relative path -> bytes."""
    graph = scoped_graph(graph, options or ExportOptions())
    return {file_path(a, files_dir): a.data for n in graph.nodes.values() for a in n.attachments}


def canvas_document(graph: Graph, options: ExportOptions | None = None, files_dir: str = "files") -> dict[str, Any]:
    options = options or ExportOptions()
    graph = scoped_graph(graph, options)
    texts = {nid: card_text(n, options) for nid, n in graph.nodes.items()}
    boxes = _layout(graph, texts)
    nodes: list[dict[str, Any]] = []
    for nid, node in graph.nodes.items():
        x, y, w, h = boxes[nid]
        extra = node_to_dict(node)
        del extra["id"]
        if not options.include_reasoning:
            extra["reasoning"] = ""
        extra["written"] = {"x": x, "y": y, "width": w, "height": h}
        item: dict[str, Any] = {"id": nid, "type": "text", "x": x, "y": y, "width": w, "height": h}
        color = node_color(node, options.provider_colors)
        if color:
            item["color"] = color
        item["text"] = texts[nid]
        item["triptych"] = extra
        nodes.append(item)
        if node.attachments:  # the bytes go beside the canvas, not inside it
            extra["attachments"] = [{**a.meta(), "file": file_path(a, files_dir)} for a in node.attachments]
            fy = y
            for i, att in enumerate(node.attachments):
                fh = 240 if att.kind == "image" else 80
                nodes.append({"id": f"{nid}-file-{i + 1}", "type": "file", "file": file_path(att, files_dir),
                              "x": x + w + 40, "y": fy, "width": 320, "height": fh,
                              "triptych": {"attachment_of": nid, "position": i}})
                fy += fh + 20
    edges: list[dict[str, Any]] = []
    for i, edge in enumerate(graph.edges, start=1):
        edges.append(
            {
                "id": f"edge-{i}",
                "fromNode": edge.parent_id,
                "fromSide": "bottom",
                "toNode": edge.child_id,
                "toSide": "top",
                "toEnd": "arrow",
                "label": edge.role.value,
                "triptych": {"role": edge.role.value, "position": edge.position},
            }
        )
    return {"nodes": nodes, "edges": edges, "triptych": header(graph)}


def export_canvas(graph: Graph, options: ExportOptions | None = None, files_dir: str = "files") -> str:
    """The session as a JSON Canvas 1.0 document (a `.canvas` file for Obsidian). Attached files are
    referenced under `files_dir` (write `canvas_files(...)` there)."""
    doc = canvas_document(graph, options, files_dir)
    return json.dumps(doc, ensure_ascii=False, indent=1, default=str) + "\n"


def _read_attached(extra: dict[str, Any], where: str, base_dir: Path | None) -> None:
    """Put each attachment's bytes (read from beside the canvas) into `extra` as base64, for
    node_from_dict. The path must stay inside the canvas's folder."""
    import base64

    files = extra.get("attachments")
    if not isinstance(files, list):
        return
    for i, f in enumerate(files, 1):
        if not isinstance(f, dict) or "data" in f:
            continue
        rel = f.get("file")
        name = f.get("name")
        what = f"{where} attachment {i} ({name})"
        if not isinstance(rel, str) or not rel:
            raise ImportFailed(f"{what} has neither data nor a file")
        if base_dir is None:
            raise ImportFailed(f"{what}: its file {rel} is beside the canvas; import the .canvas file from disk")
        path = (base_dir / rel).resolve()
        if not path.is_relative_to(base_dir.resolve()):
            raise ImportFailed(f"{what}: its file {rel[:80]!r} is outside the canvas's folder")
        try:
            f["data"] = base64.b64encode(path.read_bytes()).decode("ascii")
        except OSError:
            raise ImportFailed(f"{what}: its file {rel} is missing beside the canvas") from None


# --------------------------------------------------------------------------- import


def _canvas_int(d: dict[str, Any], key: str, where: str, *, positive: bool = False) -> float:
    value = req_num(d, key, where)
    if positive and value <= 0:
        raise ImportFailed(f"{where}: {key} must be positive")
    return float(value)


def _canvas_color(d: dict[str, Any], where: str) -> str | None:
    color = opt_str(d, "color", where)
    if color is not None and not CANVAS_COLOR.match(color):
        raise ImportFailed(f"{where}: color {color[:20]!r} is neither a preset 1-6 nor #RRGGBB")
    return color


def _note_text(d: dict[str, Any], kind: str, where: str) -> tuple[str, dict[str, Any]]:
    if kind == "text":
        text = d.get("text", "")
        if not isinstance(text, str):
            raise ImportFailed(f"{where}: text must be text, not {type_name(text)}")
        return text, {}
    if kind == "file":
        file = req_str(d, "file", where)
        subpath = opt_str(d, "subpath", where)
        return f"📄 {file}{subpath or ''}", {"canvas_type": "file", "file": file, "subpath": subpath}
    if kind == "link":
        url = req_str(d, "url", where)
        return url, {"canvas_type": "link", "url": url}
    label = opt_str(d, "label", where) or ""
    return label or "Group", {"canvas_type": "group", "label": label}


MAX_UNTANGLE_EDGES = 20_000


def _without_loops(edges: list[tuple[Edge, int | None, bool]]) -> list[tuple[Edge, int | None, bool]]:
    """Our own edges must not loop (a broken file); arrows drawn in another app may: those that
    close a loop are dropped, in file order, so the cards keep a well-defined ancestry."""
    ours = [e for e, _, mine in edges if mine]
    looped = node_on_cycle(ours)
    if looped is not None:
        raise ImportFailed("the canvas's Triptych edges loop: cards cannot be their own ancestors")
    if node_on_cycle([e for e, _, _ in edges]) is None:
        return edges
    foreign = [item for item in edges if not item[2]]
    if len(foreign) > MAX_UNTANGLE_EDGES:
        raise ImportFailed(f"the canvas has loops among {len(foreign)} arrows: too many to untangle")
    children: dict[str, list[str]] = {}
    for e in ours:
        children.setdefault(e.parent_id, []).append(e.child_id)

    def reaches(start: str, goal: str) -> bool:
        stack, seen = [start], set()
        while stack:
            n = stack.pop()
            if n == goal:
                return True
            if n not in seen:
                seen.add(n)
                stack.extend(children.get(n, ()))
        return False

    kept = [item for item in edges if item[2]]
    for item in foreign:
        edge = item[0]
        if reaches(edge.child_id, edge.parent_id):
            continue
        children.setdefault(edge.parent_id, []).append(edge.child_id)
        kept.append(item)
    order = {id(item[0]): i for i, item in enumerate(edges)}
    return sorted(kept, key=lambda item: order[id(item[0])])


def graph_from_canvas(doc: Any, title: str = "Imported canvas", base_dir: Path | None = None) -> Graph:
    """A Graph from a parsed JSON Canvas: our own cards restored exactly (new ids), any other node
    as a note card; edges kept (role from the label when it is a Triptych role, else "ref")."""
    doc = need_dict(doc, "the canvas")
    top = doc.get("triptych")
    if top is not None:
        top = need_dict(top, "the canvas's triptych data")
        check_header(top, "the canvas")
        session = session_from_dict(top.get("session"), "the canvas's session")
    else:
        session = Session(title=title)
    raw_nodes = doc.get("nodes", [])
    raw_edges = doc.get("edges", [])
    if not isinstance(raw_nodes, list):
        raise ImportFailed(f"the canvas's nodes must be a list, not {type_name(raw_nodes)}")
    if not isinstance(raw_edges, list):
        raise ImportFailed(f"the canvas's edges must be a list, not {type_name(raw_edges)}")

    def is_group(raw: Any) -> bool:
        return isinstance(raw, dict) and raw.get("type") == "group"

    # groups first (they lie underneath the cards they frame), then the rest in file order
    ordered = sorted(enumerate(raw_nodes, start=1), key=lambda p: 0 if is_group(p[1]) else 1)
    mapping: dict[str, str] = {}
    nodes: list[Node] = []
    attached: set[str] = set()  # our file nodes: the prompt carries their file, they are no card
    for i, raw in ordered:
        where = f"node {i}"
        d = need_dict(raw, where)
        ours = d.get("triptych")
        if d.get("type") == "file" and isinstance(ours, dict) and "attachment_of" in ours and top is not None:
            attached.add(str(d.get("id")))
            continue
        if "id" not in d or d["id"] in (None, ""):
            raise ImportFailed(f"{where} has no id")
        cid = req_str(d, "id", where)
        where = f"node {i} ({cid[:24]})"
        if cid in mapping:
            raise ImportFailed(f"{where} has the same id as another node")
        kind = req_str(d, "type", where)
        if kind not in NODE_TYPES:
            raise ImportFailed(f"{where} has unknown type {kind[:20]!r} (expected text, file, link or group)")
        x = _canvas_int(d, "x", where)
        y = _canvas_int(d, "y", where)
        w = _canvas_int(d, "width", where, positive=True)
        h = _canvas_int(d, "height", where, positive=True)
        color = _canvas_color(d, where)
        extra = d.get("triptych")
        if extra is not None and kind == "text":
            extra = need_dict(extra, f"{where} triptych data")
            _read_attached(extra, where, base_dir)
            node = node_from_dict(extra, where, session.id)
            written = extra.get("written")
            written = written if isinstance(written, dict) else {}
            # keep our exact values unless the card was moved/resized/recoloured in Obsidian
            if written.get("x") != x:
                node.x = x
            if written.get("y") != y:
                node.y = y
            if written.get("width") != w:
                node.width = w
            if written.get("height") != h:
                node.height = h
            if color != node_color(node):
                node.color = color
            if node.kind == NodeKind.NOTE:
                node.text, _ = _note_text(d, kind, where)  # a note card shows its text undecorated
        else:
            text, meta = _note_text(d, kind, where)
            node = Node(
                session_id=session.id,
                kind=NodeKind.NOTE,
                text=text,
                x=x,
                y=y,
                width=w,
                height=h,
                color=color,
                meta=meta,
            )
            if kind == "group":
                node.title = meta["label"] or None
        mapping[cid] = node.id
        nodes.append(node)

    edges: list[tuple[Edge, int | None, bool]] = []
    seen: set[tuple[str, str, EdgeRole]] = set()
    for i, raw in enumerate(raw_edges, start=1):
        where = f"edge {i}"
        d = need_dict(raw, where)
        if "id" not in d or d["id"] in (None, ""):
            raise ImportFailed(f"{where} has no id")
        eid = req_str(d, "id", where)
        where = f"edge {i} ({eid[:24]})"
        src = req_str(d, "fromNode", where)
        dst = req_str(d, "toNode", where)
        if src in attached or dst in attached:
            continue
        for key, ref in (("fromNode", src), ("toNode", dst)):
            if ref not in mapping:
                raise ImportFailed(f"{where}: {key} {ref[:24]!r} is not a node in this canvas")
        for key, allowed in (("fromSide", SIDES), ("toSide", SIDES), ("fromEnd", ENDS), ("toEnd", ENDS)):
            value = opt_str(d, key, where)
            if value is not None and value not in allowed:
                raise ImportFailed(f"{where}: {key} {value[:20]!r} is not one of {', '.join(allowed)}")
        _canvas_color(d, where)
        label = opt_str(d, "label", where)
        extra = d.get("triptych")
        position: int | None = None
        if extra is not None:
            extra = need_dict(extra, f"{where} triptych data")
            role = parse_role(extra.get("role"), where)
            position = opt_int(extra, "position", where)
        elif label is not None and label.strip().lower() in {r.value for r in EdgeRole}:
            role = EdgeRole(label.strip().lower())
        else:
            role = EdgeRole.REF
        if src == dst:
            continue  # a loop carries no context; Triptych cannot show it
        key3 = (mapping[src], mapping[dst], role)
        if key3 in seen:
            continue  # Obsidian allows the same link twice (different sides)
        seen.add(key3)
        edges.append((Edge(mapping[src], mapping[dst], role, 0, session.id), position, extra is not None))

    edges = _without_loops(edges)

    # parent order: positions as we wrote them; edges drawn in Obsidian after those, in file order
    by_child: dict[str, list[tuple[Edge, int | None]]] = {}
    for edge, position, _ in edges:
        by_child.setdefault(edge.child_id, []).append((edge, position))
    for group in by_child.values():
        given = [p for _, p in group]
        if all(p is not None for p in given) and len(set(given)) == len(given):
            for edge, p in group:
                edge.position = p or 0
            continue
        ranked = sorted(range(len(group)), key=lambda k: (given[k] is None, given[k] or 0, k))
        for rank, k in enumerate(ranked):
            group[k][0].position = rank

    for node in nodes:
        node.meta = remap_ids(node.meta, mapping)
        node.run_record = remap_record(node.run_record, mapping)
    session.settings = remap_ids(session.settings, mapping)
    return Graph(session=session, nodes={n.id: n for n in nodes}, edges=[e for e, _, _ in edges])
