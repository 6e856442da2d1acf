"""Lossless, versioned JSON export of a session, and its import under new ids.

Document shape (format version 1):

    {"format": "triptych", "version": 1,
     "session": {"id", "title", "created_at", "updated_at", "viewport": {x, y, zoom}, "settings"},
     "nodes": [{"id", "kind", "text", "reasoning", "model", "params", "status", "error", "finish",
                "usage", "cost_usd", "reported_cost_usd", "timing", "x", "y", "width", "height",
                "collapsed", "color", "title", "meta", "created_at", "updated_at",
                "run": {"started_at", "request_id", "no_key", "dropped_params", "insecure", "rerun_of"}
                       (app.domain.RunRecord, only its fields that are set; only on nodes that ran),
                "attachments": [{"name", "kind", "mime", "size", "sha256", "width"/"height"/"pages",
                                 "data": BASE64}, ...]   (only on nodes that carry files)}, ...],
     "edges": [{"parent_id", "child_id", "role", "position"}, ...],
     "matches": [{"id", "prompt_id", "a_node_id", "b_node_id", "a_model", "b_model", "tags",
                  "created_at", "votes": [{"voter", "vote", "created_at"}, ...]}, ...]}
                 (blind matches, app.arena; only when the session has any)

Not exported: a node's owner (process/heartbeat) and the session's deleted flag. Live statuses
(pending/streaming) are written as "interrupted". Import validates everything (the file is untrusted)
and raises `ImportFailed` with a one-line message naming what is wrong and where. Attached files are
checked on import like any file attached by hand (app.attachments): their bytes must match their
SHA-256, and an SVG, a corrupt image or PDF is refused.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
from dataclasses import fields, replace
from typing import Any

from app.arena import Match, Vote
from app.attachments import Attachment, AttachmentError, attachment_from_bytes
from app.domain import (
    NO_RUN_RECORD,
    RUN_RECORD_KEYS,
    Edge,
    EdgeRole,
    ErrorInfo,
    Graph,
    Node,
    NodeKind,
    NodeStatus,
    Params,
    RunRecord,
    Session,
    Timing,
    Usage,
    Viewport,
    parse_started_at,
)
from app.export.common import FORMAT_NAME, FORMAT_VERSION, ImportFailed, file_status

# --------------------------------------------------------------------------- export


def session_to_dict(session: Session) -> dict[str, Any]:
    return {
        "id": session.id,
        "title": session.title,
        "created_at": session.created_at,
        "updated_at": session.updated_at,
        "viewport": session.viewport.to_dict(),
        "settings": session.settings,
    }


def node_to_dict(node: Node) -> dict[str, Any]:
    return {
        "id": node.id,
        "kind": node.kind.value,
        "text": node.text,
        "reasoning": node.reasoning,
        "model": node.model,
        "params": {f.name: getattr(node.params, f.name) for f in fields(Params)},
        "status": file_status(node).value,
        "error": node.error.to_dict() if node.error else None,
        "finish": node.finish,
        "usage": node.usage.to_dict(),
        "cost_usd": node.cost_usd,
        "reported_cost_usd": node.reported_cost_usd,
        "timing": node.timing.to_dict(),
        "x": node.x,
        "y": node.y,
        "width": node.width,
        "height": node.height,
        "collapsed": node.collapsed,
        "color": node.color,
        "title": node.title,
        "meta": node.meta,
        "created_at": node.created_at,
        "updated_at": node.updated_at,
        **({"run": node.run_record.to_dict()} if node.run_record else {}),
        **({"attachments": [attachment_to_dict(a) for a in node.attachments]} if node.attachments else {}),
    }


def attachment_to_dict(att: Attachment) -> dict[str, Any]:
    return {**att.meta(), "data": att.b64()}


def attachment_from_dict(d: Any, where: str) -> Attachment:
    d = need_dict(d, where)
    name = req_str(d, "name", where)
    data_text = req_str(d, "data", where)
    try:
        data = base64.b64decode(data_text, validate=True)
    except (binascii.Error, ValueError):
        raise ImportFailed(f"{where} ({name}): data is not base64") from None
    try:
        att = attachment_from_bytes(name, data)
    except AttachmentError as exc:
        raise ImportFailed(f"{where}: {exc}") from None
    sha = opt_str(d, "sha256", where)
    if sha is not None and sha != att.sha256:
        raise ImportFailed(f"{where} ({name}): its bytes do not match its sha256 (damaged file)")
    return att


def edge_to_dict(edge: Edge) -> dict[str, Any]:
    return {
        "parent_id": edge.parent_id,
        "child_id": edge.child_id,
        "role": edge.role.value,
        "position": edge.position,
    }


def header(graph: Graph) -> dict[str, Any]:
    return {"format": FORMAT_NAME, "version": FORMAT_VERSION, "session": session_to_dict(graph.session)}


def export_json(graph: Graph) -> str:
    """The whole graph as a versioned JSON document (UTF-8 text, indented, trailing newline)."""
    doc = header(graph)
    doc["nodes"] = [node_to_dict(n) for n in graph.nodes.values()]
    doc["edges"] = [edge_to_dict(e) for e in graph.edges]
    if graph.matches:
        doc["matches"] = [m.to_dict() for m in graph.matches]
    return json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n"


# --------------------------------------------------------------------------- validation helpers


def type_name(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, int | float):
        return "a number"
    if isinstance(value, str):
        return "text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return type(value).__name__


def _is_num(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def need_dict(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ImportFailed(f"{where} must be an object, not {type_name(value)}")
    return value


def opt_dict(d: dict[str, Any], key: str, where: str) -> dict[str, Any]:
    value = d.get(key)
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise ImportFailed(f"{where}: {key} must be an object, not {type_name(value)}")
    return value


def req_str(d: dict[str, Any], key: str, where: str) -> str:
    if key not in d or d[key] is None or d[key] == "":
        raise ImportFailed(f"{where} has no {key}")
    value = d[key]
    if not isinstance(value, str):
        raise ImportFailed(f"{where}: {key} must be text, not {type_name(value)}")
    return value


def opt_str(d: dict[str, Any], key: str, where: str, default: str | None = None) -> str | None:
    value = d.get(key)
    if value is None:
        return default
    if not isinstance(value, str):
        raise ImportFailed(f"{where}: {key} must be text, not {type_name(value)}")
    return value


def opt_num(d: dict[str, Any], key: str, where: str) -> float | None:
    value = d.get(key)
    if value is None:
        return None
    if not _is_num(value):
        raise ImportFailed(f"{where}: {key} must be a finite number, not {type_name(value)}")
    return float(value)


def req_num(d: dict[str, Any], key: str, where: str) -> float:
    if key not in d or d[key] is None:
        raise ImportFailed(f"{where} has no {key}")
    value = opt_num(d, key, where)
    assert value is not None
    return value


def opt_int(d: dict[str, Any], key: str, where: str) -> int | None:
    value = d.get(key)
    if value is None:
        return None
    if not _is_int(value):
        raise ImportFailed(f"{where}: {key} must be a whole number, not {type_name(value)}")
    return int(value)


def opt_bool(d: dict[str, Any], key: str, where: str, default: bool | None = None) -> bool | None:
    value = d.get(key)
    if value is None:
        return default
    if not isinstance(value, bool):
        raise ImportFailed(f"{where}: {key} must be true or false, not {type_name(value)}")
    return value


def parse_json(text: str | bytes) -> Any:
    """json.loads with a one-line ImportFailed for every way it can fail."""
    if isinstance(text, bytes):
        try:
            text = text.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise ImportFailed(f"the file is not UTF-8 text (bad byte at offset {exc.start})") from None
    if not text.strip():
        raise ImportFailed("the file is empty")
    try:
        return json.loads(text, parse_constant=_reject_constant)
    except json.JSONDecodeError as exc:
        raise ImportFailed(
            f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno}); "
            "import reads a Triptych .json export or a .canvas file"
        ) from None
    except RecursionError:
        raise ImportFailed("not valid JSON: nested too deeply") from None


def _reject_constant(name: str) -> Any:
    raise ImportFailed(f"not valid JSON: {name} is not a number JSON allows")


def check_header(doc: dict[str, Any], where: str = "the file") -> None:
    fmt = doc.get("format")
    if fmt != FORMAT_NAME:
        raise ImportFailed(f"{where} is not a Triptych export (format is {fmt!r}, expected {FORMAT_NAME!r})")
    version = doc.get("version")
    if not isinstance(version, int) or isinstance(version, bool):
        raise ImportFailed(f"{where} has no format version (a whole number)")
    if version > FORMAT_VERSION:
        raise ImportFailed(
            f"{where} was written by a newer Triptych (format version {version}); "
            f"this version reads up to {FORMAT_VERSION}: please update"
        )
    if version < 1:
        raise ImportFailed(f"{where} has an unknown format version {version}")


# --------------------------------------------------------------------------- import


def session_from_dict(data: Any, where: str = "session") -> Session:
    """A Session with a NEW id; title, times, viewport and settings as in the file."""
    d = need_dict(data, where)
    session = Session(title=opt_str(d, "title", where, "Imported session") or "Imported session")
    created = opt_num(d, "created_at", where)
    updated = opt_num(d, "updated_at", where)
    if created is not None:
        session.created_at = created
    if updated is not None:
        session.updated_at = updated
    vp = opt_dict(d, "viewport", where)
    session.viewport = Viewport(
        x=opt_num(vp, "x", f"{where} viewport") or 0.0,
        y=opt_num(vp, "y", f"{where} viewport") or 0.0,
        zoom=opt_num(vp, "zoom", f"{where} viewport") or 1.0,
    )
    session.settings = opt_dict(d, "settings", where)
    return session


def node_from_dict(d: dict[str, Any], where: str, session_id: str) -> Node:
    """Validate one exported node dict and build a Node with a NEW id (meta/ids remapped later)."""
    kind_text = req_str(d, "kind", where)
    try:
        kind = NodeKind(kind_text)
    except ValueError:
        raise ImportFailed(
            f"{where} has unknown kind {kind_text!r} (expected one of {', '.join(k.value for k in NodeKind)})"
        ) from None
    status_text = opt_str(d, "status", where, NodeStatus.DONE.value) or NodeStatus.DONE.value
    try:
        status = NodeStatus(status_text)
    except ValueError:
        raise ImportFailed(f"{where} has unknown status {status_text!r}") from None
    if status.is_live:
        status = NodeStatus.INTERRUPTED

    p = opt_dict(d, "params", where)
    pw = f"{where} params"
    params = Params(
        system=opt_str(p, "system", pw),
        temperature=opt_num(p, "temperature", pw),
        max_tokens=opt_int(p, "max_tokens", pw),
        thinking=opt_bool(p, "thinking", pw),
        effort=opt_str(p, "effort", pw),
    )
    error: ErrorInfo | None = None
    if d.get("error") is not None:
        e = need_dict(d["error"], f"{where} error")
        ew = f"{where} error"
        error = ErrorInfo(
            kind=opt_str(e, "kind", ew, "server") or "server",
            message=opt_str(e, "message", ew, "") or "",
            status=opt_int(e, "status", ew),
        )
    u = opt_dict(d, "usage", where)
    uw = f"{where} usage"
    usage = Usage(**{f.name: _opt_count(u, f.name, uw) for f in fields(Usage)})
    t = opt_dict(d, "timing", where)
    tw = f"{where} timing"
    timing = Timing(ttft_ms=_opt_ms(t, "ttft_ms", tw), duration_ms=_opt_ms(t, "duration_ms", tw))
    meta = opt_dict(d, "meta", where)
    record, meta = _run_record(d, meta, where)

    node = Node(
        session_id=session_id,
        kind=kind,
        text=opt_str(d, "text", where, "") or "",
        reasoning=opt_str(d, "reasoning", where, "") or "",
        model=_opt_model(d, where),
        params=params,
        status=status,
        error=error,
        finish=opt_str(d, "finish", where),
        usage=usage,
        cost_usd=opt_num(d, "cost_usd", where),
        reported_cost_usd=opt_num(d, "reported_cost_usd", where),
        timing=timing,
        x=opt_num(d, "x", where) or 0.0,
        y=opt_num(d, "y", where) or 0.0,
        width=_opt_size(d, "width", where),
        height=_opt_size(d, "height", where),
        collapsed=bool(opt_bool(d, "collapsed", where, False)),
        color=opt_str(d, "color", where),
        title=opt_str(d, "title", where),
        meta=meta,
        run_record=record,
    )
    raw_files = d.get("attachments", [])
    if not isinstance(raw_files, list):
        raise ImportFailed(f"{where} attachments must be a list, not {type_name(raw_files)}")
    node.attachments = [attachment_from_dict(f, f"{where} attachment {i}") for i, f in enumerate(raw_files, 1)]
    created = opt_num(d, "created_at", where)
    updated = opt_num(d, "updated_at", where)
    if created is not None:
        node.created_at = created
    if updated is not None:
        node.updated_at = updated
    return node


def _run_record(d: dict[str, Any], meta: dict[str, Any], where: str) -> tuple[RunRecord, dict[str, Any]]:
    """The node's run record from its "run" object, and from the keys of `meta` where an export made
    before the "run" key kept them (those leave `meta`; one not of its field's type stays there).
    Returns (record, the rest of meta)."""
    run = opt_dict(d, "run", where)
    rw = f"{where} run"
    legacy: dict[str, Any] = {}
    for key in RUN_RECORD_KEYS:
        value = meta.get(key)
        if key == "started_at":
            value = parse_started_at(value)
        elif key == "no_key":
            value = value if isinstance(value, bool) else None
        elif key == "dropped_params":
            value = value if isinstance(value, list) and all(isinstance(v, str) for v in value) else None
        elif not isinstance(value, str):
            value = None
        if value is not None:
            legacy[key] = value
    if not run and not legacy:
        return NO_RUN_RECORD, meta
    started = run.get("started_at")
    if started is not None and parse_started_at(started) is None:
        raise ImportFailed(f"{rw}: started_at must be a time (seconds or ISO 8601), not {type_name(started)}")
    dropped = run.get("dropped_params")
    if dropped is not None and not (isinstance(dropped, list) and all(isinstance(v, str) for v in dropped)):
        raise ImportFailed(f"{rw}: dropped_params must be a list of parameter names")
    given = {
        "started_at": parse_started_at(started),
        "request_id": opt_str(run, "request_id", rw),
        "no_key": opt_bool(run, "no_key", rw),
        "dropped_params": dropped,
        "insecure": opt_str(run, "insecure", rw),
        "rerun_of": opt_str(run, "rerun_of", rw),
    }
    merged = {**legacy, **{k: v for k, v in given.items() if v is not None}}
    rest = {k: v for k, v in meta.items() if k not in legacy}
    return RunRecord.from_dict(merged), rest


def _opt_model(d: dict[str, Any], where: str) -> str | None:
    model = opt_str(d, "model", where)
    if model is not None:
        provider, sep, name = model.partition(":")
        if not (sep and provider.strip() and name.strip()):
            raise ImportFailed(f"{where}: model {model[:40]!r} is not written as PROVIDER:MODEL")
    return model


def _opt_count(d: dict[str, Any], key: str, where: str) -> int | None:
    value = opt_int(d, key, where)
    if value is not None and value < 0:
        raise ImportFailed(f"{where}: {key} must not be negative")
    return value


def _opt_ms(d: dict[str, Any], key: str, where: str) -> int | None:
    """A timing in whole milliseconds. A negative one is read as 0: earlier Triptych builds wrote negative
    durations for answers that failed or were stopped around a retry, and a user's own export must
    import again. Anything that is not a whole number is still refused."""
    value = opt_int(d, key, where)
    return max(value, 0) if value is not None else None


def _opt_size(d: dict[str, Any], key: str, where: str) -> float | None:
    value = opt_num(d, key, where)
    if value is not None and value <= 0:
        raise ImportFailed(f"{where}: {key} must be positive")
    return value


def node_on_cycle(edges: list[Edge]) -> str | None:
    """A node on a cycle of parent -> child edges, or None when they form a DAG (Kahn, O(V+E))."""
    indegree: dict[str, int] = {}
    children: dict[str, list[str]] = {}
    parents: dict[str, list[str]] = {}
    for e in edges:
        indegree.setdefault(e.parent_id, 0)
        indegree[e.child_id] = indegree.get(e.child_id, 0) + 1
        children.setdefault(e.parent_id, []).append(e.child_id)
        parents.setdefault(e.child_id, []).append(e.parent_id)
    ready = [n for n, d in indegree.items() if d == 0]
    done = 0
    while ready:
        n = ready.pop()
        done += 1
        for c in children.get(n, ()):
            indegree[c] -= 1
            if indegree[c] == 0:
                ready.append(c)
    if done == len(indegree):
        return None
    # walk up through unresolved parents until a node repeats: that node is on a cycle
    cur = next(n for n, d in indegree.items() if d > 0)
    seen: set[str] = set()
    while cur not in seen:
        seen.add(cur)
        cur = next(p for p in parents[cur] if indegree.get(p, 0) > 0)
    return cur


def remap_ids(value: Any, mapping: dict[str, str]) -> Any:
    """Replace every string equal to an old node id (in meta/settings) by the new id."""
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, list):
        return [remap_ids(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: remap_ids(v, mapping) for k, v in value.items()}
    return value


def remap_record(record: RunRecord, mapping: dict[str, str]) -> RunRecord:
    """`record` with the answer it re-runs renamed to its new id (when that answer came along)."""
    if record.rerun_of is None or record.rerun_of not in mapping:
        return record
    return replace(record, rerun_of=mapping[record.rerun_of])


def parse_role(value: Any, where: str) -> EdgeRole:
    if not isinstance(value, str):
        raise ImportFailed(f"{where}: role must be text, not {type_name(value)}")
    try:
        return EdgeRole(value)
    except ValueError:
        raise ImportFailed(
            f"{where} has unknown role {value!r} (expected one of {', '.join(r.value for r in EdgeRole)})"
        ) from None


def graph_from_document(doc: Any) -> Graph:
    """Build a Graph (new session id, new node ids, consistently remapped) from a parsed document."""
    doc = need_dict(doc, "the file")
    check_header(doc)
    session = session_from_dict(doc.get("session"))
    raw_nodes = doc.get("nodes")
    if not isinstance(raw_nodes, list):
        raise ImportFailed(f"the file has no list of nodes (nodes is {type_name(raw_nodes)})")
    raw_edges = doc.get("edges", [])
    if not isinstance(raw_edges, list):
        raise ImportFailed(f"the file's edges must be a list, not {type_name(raw_edges)}")

    mapping: dict[str, str] = {}
    nodes: list[Node] = []
    for i, raw in enumerate(raw_nodes, start=1):
        where = f"node {i}"
        d = need_dict(raw, where)
        old_id = req_str(d, "id", where)
        if old_id in mapping:
            raise ImportFailed(f"{where} has the same id as another node ({old_id!r})")
        node = node_from_dict(d, where, session.id)
        mapping[old_id] = node.id
        nodes.append(node)

    edges: list[Edge] = []
    seen: dict[tuple[str, str, EdgeRole], int] = {}
    for i, raw in enumerate(raw_edges, start=1):
        where = f"edge {i}"
        d = need_dict(raw, where)
        parent = req_str(d, "parent_id", where)
        child = req_str(d, "child_id", where)
        for key, ref in (("parent_id", parent), ("child_id", child)):
            if ref not in mapping:
                raise ImportFailed(f"{where}: {key} {ref!r} is not a node in this file")
        if parent == child:
            raise ImportFailed(f"{where} links node {parent!r} to itself")
        role = parse_role(d.get("role"), where)
        position = opt_int(d, "position", where)
        key3 = (parent, child, role)
        if key3 in seen:
            raise ImportFailed(f"{where} repeats edge {seen[key3]}")
        seen[key3] = i
        edges.append(
            Edge(mapping[parent], mapping[child], role, position if position is not None else 0, session.id)
        )

    looped = node_on_cycle(edges)
    if looped is not None:
        old = next(k for k, v in mapping.items() if v == looped)
        raise ImportFailed(f"the edges loop back to node {old!r}: cards cannot be their own ancestors")
    for node in nodes:
        node.meta = remap_ids(node.meta, mapping)
        node.run_record = remap_record(node.run_record, mapping)
    session.settings = remap_ids(session.settings, mapping)
    _fill_positions(edges)
    raw_matches = doc.get("matches", [])
    if not isinstance(raw_matches, list):
        raise ImportFailed(f"the file's matches must be a list, not {type_name(raw_matches)}")
    matches = [match_from_dict(need_dict(raw, f"match {i}"), f"match {i}", session.id, mapping)
               for i, raw in enumerate(raw_matches, start=1)]
    return Graph(session=session, nodes={n.id: n for n in nodes}, edges=edges, matches=matches)


def match_from_dict(d: dict[str, Any], where: str, session_id: str, mapping: dict[str, str]) -> Match:
    """A blind match and its votes under a NEW match id, its node ids remapped like the nodes'."""
    ids = {}
    for key in ("prompt_id", "a_node_id", "b_node_id"):
        ref = req_str(d, key, where)
        if ref not in mapping:
            raise ImportFailed(f"{where}: {key} {ref!r} is not a node in this file")
        ids[key] = mapping[ref]
    tags = d.get("tags", [])
    if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
        raise ImportFailed(f"{where}: tags must be a list of text")
    match = Match(session_id=session_id, prompt_id=ids["prompt_id"], a_node_id=ids["a_node_id"],
                  b_node_id=ids["b_node_id"], a_model=req_str(d, "a_model", where),
                  b_model=req_str(d, "b_model", where), tags=list(tags))
    created = opt_num(d, "created_at", where)
    if created is not None:
        match.created_at = created
    raw_votes = d.get("votes", [])
    if not isinstance(raw_votes, list):
        raise ImportFailed(f"{where}: votes must be a list, not {type_name(raw_votes)}")
    voters: set[str] = set()
    for j, raw in enumerate(raw_votes, start=1):
        vw = f"{where} vote {j}"
        v = need_dict(raw, vw)
        try:
            vote = Vote(match.id, req_str(v, "voter", vw), req_str(v, "vote", vw))
        except ValueError as exc:
            raise ImportFailed(f"{vw}: {exc}") from None
        if vote.voter in voters:
            raise ImportFailed(f"{vw} repeats the voter {vote.voter!r}")
        voters.add(vote.voter)
        vcreated = opt_num(v, "created_at", vw)
        if vcreated is not None:
            vote.created_at = vcreated
        match.votes.append(vote)
    return match


def _fill_positions(edges: list[Edge]) -> None:
    """Where a child's parents share a position (missing in the file), number them in file order."""
    by_child: dict[str, list[Edge]] = {}
    for edge in edges:
        by_child.setdefault(edge.child_id, []).append(edge)
    for group in by_child.values():
        positions = [e.position for e in group]
        if len(set(positions)) == len(positions):
            continue
        for rank, edge in enumerate(sorted(group, key=lambda e: e.position)):
            edge.position = rank


def import_json(text: str | bytes) -> Graph:
    """Recreate an exported session: identical fields and positions, NEW session id and node ids."""
    return graph_from_document(parse_json(text))
