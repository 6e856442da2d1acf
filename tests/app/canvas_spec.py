"""A JSON Canvas 1.0 validator for tests (https://jsoncanvas.org/spec/1.0/).

`canvas_problems(doc)` returns human-readable problems; an empty list means the document follows
the spec: top-level `nodes`/`edges` arrays; every node with a unique string id, a known type,
integer x/y/width/height and the type's required fields; colours as presets "1"-"6" or "#RRGGBB";
every edge with a unique id, fromNode/toNode naming existing nodes, valid sides and ends.
Extra keys are allowed (the spec does not forbid them; Obsidian keeps them).
"""

from __future__ import annotations

import re
from typing import Any

NODE_TYPES = {"text", "file", "link", "group"}
SIDES = {"top", "right", "bottom", "left"}
ENDS = {"none", "arrow"}
COLOR = re.compile(r"^(?:[1-6]|#[0-9A-Fa-f]{6})$")
REQUIRED_BY_TYPE = {"text": ("text",), "file": ("file",), "link": ("url",), "group": ()}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def canvas_problems(doc: Any) -> list[str]:
    problems: list[str] = []
    if not isinstance(doc, dict):
        return ["top level is not an object"]
    nodes = doc.get("nodes", [])
    edges = doc.get("edges", [])
    if not isinstance(nodes, list):
        problems.append("nodes is not an array")
        nodes = []
    if not isinstance(edges, list):
        problems.append("edges is not an array")
        edges = []

    ids: set[str] = set()
    for i, node in enumerate(nodes):
        where = f"node[{i}]"
        if not isinstance(node, dict):
            problems.append(f"{where} is not an object")
            continue
        nid = node.get("id")
        if not isinstance(nid, str) or not nid:
            problems.append(f"{where} has no string id")
        elif nid in ids:
            problems.append(f"{where} duplicate id {nid!r}")
        else:
            ids.add(nid)
        ntype = node.get("type")
        if ntype not in NODE_TYPES:
            problems.append(f"{where} bad type {ntype!r}")
        for key in ("x", "y", "width", "height"):
            if not _is_int(node.get(key)):
                problems.append(f"{where} {key} is not an integer: {node.get(key)!r}")
        for key in ("width", "height"):
            if _is_int(node.get(key)) and node[key] <= 0:
                problems.append(f"{where} {key} is not positive")
        for key in REQUIRED_BY_TYPE.get(str(ntype), ()):
            if not isinstance(node.get(key), str):
                problems.append(f"{where} ({ntype}) has no string {key}")
        if "color" in node and not (isinstance(node["color"], str) and COLOR.match(node["color"])):
            problems.append(f"{where} bad color {node['color']!r}")
        if ntype == "group":
            for key in ("label", "background"):
                if key in node and not isinstance(node[key], str):
                    problems.append(f"{where} {key} is not a string")
            if "backgroundStyle" in node and node["backgroundStyle"] not in ("cover", "ratio", "repeat"):
                problems.append(f"{where} bad backgroundStyle")

    edge_ids: set[str] = set()
    for i, edge in enumerate(edges):
        where = f"edge[{i}]"
        if not isinstance(edge, dict):
            problems.append(f"{where} is not an object")
            continue
        eid = edge.get("id")
        if not isinstance(eid, str) or not eid:
            problems.append(f"{where} has no string id")
        elif eid in edge_ids:
            problems.append(f"{where} duplicate id {eid!r}")
        else:
            edge_ids.add(eid)
        for key in ("fromNode", "toNode"):
            if edge.get(key) not in ids:
                problems.append(f"{where} {key} {edge.get(key)!r} is not a node")
        for key in ("fromSide", "toSide"):
            if key in edge and edge[key] not in SIDES:
                problems.append(f"{where} bad {key} {edge[key]!r}")
        for key in ("fromEnd", "toEnd"):
            if key in edge and edge[key] not in ENDS:
                problems.append(f"{where} bad {key} {edge[key]!r}")
        if "color" in edge and not (isinstance(edge["color"], str) and COLOR.match(edge["color"])):
            problems.append(f"{where} bad color {edge['color']!r}")
        if "label" in edge and not isinstance(edge["label"], str):
            problems.append(f"{where} label is not a string")
    return problems
