"""Exports of a sweep session (DESIGN.md, "Evaluate"): csv and jsonl with one row per cell, and the grid
table with per-column totals that the md and html reports of a sweep session start with.

Model text is untrusted: in the csv a text that a spreadsheet would run as a formula (=, +, -, @ first)
gets a leading apostrophe; in the md grid it is defanged and its pipes escaped; in the html grid escaped.
"""

from __future__ import annotations

import csv
import html
import io
import json
from typing import Any

from app.domain import Graph
from app.export.common import snippet
from app.present.money import fmt_cost
from app.sweep import cell_passed, check_word, column_label, column_totals, sweep_rows

__all__ = ["NOT_A_SWEEP", "grid_html", "grid_markdown", "sweep_csv", "sweep_jsonl"]

NOT_A_SWEEP = "holds no sweep: csv and jsonl exports are one row per sweep cell (run one with `triptych sweep`)"
PREVIEW = 60

_USAGE_KEYS = ("input_tokens", "cached_input_tokens", "cache_write_tokens", "output_tokens", "reasoning_tokens")


def _records(graph: Graph) -> list[dict[str, Any]]:
    records = sweep_rows(graph)
    if records is None:
        raise ValueError(f"session {graph.session.id} {NOT_A_SWEEP}")
    return records


def sweep_jsonl(graph: Graph) -> str:
    """One JSON object per cell: the `sweep --json` keys plus score_reason, judge_cost_usd, attempts, not_sent
    (what of its variant(s) the model does not take)."""
    return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in _records(graph))


def _inert(text: str) -> str:
    return "'" + text if text[:1] in ("=", "+", "-", "@", "\t", "\r") else text


def sweep_csv(graph: Graph) -> str:
    """One row per cell: vars.<column>…, model, params.<name>…, status, text, checks, score, tokens, cost,
    timing."""
    records = _records(graph)
    var_cols = list(dict.fromkeys(k for r in records for k in r["vars"]))
    param_cols = list(dict.fromkeys(k for r in records for k in r["params"]))
    head = ["sweep_id", "row", "prompt_index", *(f"vars.{c}" for c in var_cols), "model",
            *(f"params.{p}" for p in param_cols), "node_id", "status", "finish", "error", "text", "checks",
            "passed", "score", "score_reason", *_USAGE_KEYS, "cost_usd", "judge_cost_usd", "ttft_ms",
            "duration_ms", "attempts"]
    out = io.StringIO(newline="")
    w = csv.writer(out, lineterminator="\r\n")
    w.writerow(head)
    for r in records:
        usage = r["usage"] or {}
        timing = r["timing"] or {}
        err = r["error"]
        w.writerow([
            r["sweep_id"], r["row"], r["prompt_index"], *(r["vars"].get(c, "") for c in var_cols), r["model"],
            *(_blank(r["params"].get(p)) for p in param_cols), _blank(r["node_id"]), r["status"],
            _blank(r["finish"]), _inert(f"{err['kind']}: {err['message']}") if err else "", _inert(r["text"]),
            "; ".join(f"{c['check']}={check_word(c)}" for c in r["checks"]),
            "true" if cell_passed(r) else "false", _blank(r["score"]), _inert(r["score_reason"] or ""),
            *(_blank(usage.get(k)) for k in _USAGE_KEYS), _blank(r["cost_usd"]), _blank(r["judge_cost_usd"]),
            _blank(timing.get("ttft_ms")), _blank(timing.get("duration_ms")), r["attempts"],
        ])
    return out.getvalue()


def _blank(value: Any) -> Any:
    return "" if value is None else value


# ------------------------------------------------------------------------------------------------ grid
def _grid(records: list[dict[str, Any]]) -> tuple[list[str], list[tuple[str, dict[str, dict[str, Any]]]]]:
    """(column labels, [(row label, {column: record})]) — rows = (variable row, prompt), columns = model ×
    variant."""
    columns = list(dict.fromkeys(column_label(r) for r in records))
    rows: dict[tuple[int, int], dict[str, dict[str, Any]]] = {}
    labels: dict[tuple[int, int], str] = {}
    for r in records:
        key = (r["row"], r["prompt_index"])
        rows.setdefault(key, {})[column_label(r)] = r
        vals = ", ".join(f"{k}={v}" for k, v in r["vars"].items())
        labels[key] = f"row {r['row'] + 1}" + (f" · prompt {r['prompt_index'] + 1}" if r["prompt_index"] else "") + (
            f" ({snippet(vals, 40)})" if vals else "")
    return columns, [(labels[k], rows[k]) for k in sorted(rows)]


def _cell_words(r: dict[str, Any]) -> tuple[str, str]:
    """(status line, answer preview) of one grid cell."""
    mark = "✓" if cell_passed(r) else "✗"
    parts = [f"{mark} {r['status']}"]
    if r["checks"]:
        words = [check_word(c) for c in r["checks"]]
        na = words.count("n/a")
        parts.append(f"{words.count('pass')}/{len(words) - na} checks" + (f" ({na} n/a)" if na else ""))
    if r["score"] is not None:
        parts.append(f"score {r['score']}")
    ms = (r["timing"] or {}).get("duration_ms")
    if ms is not None:
        parts.append(f"{ms} ms")
    parts.append(fmt_cost(r["cost_usd"]))
    return " · ".join(parts), snippet(r["text"], PREVIEW)


def _totals_words(col: dict[str, Any]) -> str:
    score = "–" if col["mean_score"] is None else f"{col['mean_score']:.1f}"
    p50 = "–" if col["p50_ms"] is None else f"{col['p50_ms']} ms"
    p95 = "–" if col["p95_ms"] is None else f"{col['p95_ms']} ms"
    return (f"pass {col['passed']}/{col['cells']} ({col['pass_rate']:.0%}) · mean score {score} · "
            f"{fmt_cost(col['cost_usd'])} · p50 {p50} · p95 {p95}")


def _md(text: str) -> str:
    from app.export.markdown import defang_markdown

    flat = " ".join(defang_markdown(text).split())
    return flat.replace("\\", "\\\\").replace("|", "\\|")


def grid_markdown(graph: Graph) -> str | None:
    """The sweep grid as a markdown section (None when the session holds no sweep)."""
    records = sweep_rows(graph)
    if records is None:
        return None
    columns, rows = _grid(records)
    totals = {c["column"]: c for c in column_totals(records)}
    out = ["## Sweep grid", "", "| | " + " | ".join(_md(c) for c in columns) + " |",
           "|---" * (len(columns) + 1) + "|",
           "| **totals** | " + " | ".join(_md(_totals_words(totals[c])) for c in columns) + " |"]
    for label, cells in rows:
        shown = []
        for c in columns:
            r = cells.get(c)
            if r is None:
                shown.append("")
                continue
            status, preview = _cell_words(r)
            shown.append(_md(status) + (f" — {_md(preview)}" if preview else ""))
        out.append(f"| {_md(label)} | " + " | ".join(shown) + " |")
    return "\n".join([*out, ""])


def grid_html(graph: Graph) -> str | None:
    """The sweep grid as an html section (escaped text only; None when the session holds no sweep)."""
    records = sweep_rows(graph)
    if records is None:
        return None
    e = html.escape
    columns, rows = _grid(records)
    totals = {c["column"]: c for c in column_totals(records)}
    head = "".join(f'<th scope="col">{e(c)}</th>' for c in columns)
    tot = "".join(f"<td>{e(_totals_words(totals[c]))}</td>" for c in columns)
    body = []
    for label, cells in rows:
        tds = []
        for c in columns:
            r = cells.get(c)
            if r is None:
                tds.append("<td></td>")
                continue
            status, preview = _cell_words(r)
            tds.append(f"<td>{e(status)}<br><small>{e(preview)}</small></td>")
        body.append(f'<tr><th scope="row">{e(label)}</th>{"".join(tds)}</tr>')
    return "\n".join([
        '<section class="sec" id="sweep-grid">',
        "<h2>Sweep grid</h2>",
        f'<table class="totals"><thead><tr><th></th>{head}</tr>',
        f'<tr><th scope="row">totals</th>{tot}</tr></thead>',
        "<tbody>" + "".join(body) + "</tbody></table>",
        "</section>",
    ])
