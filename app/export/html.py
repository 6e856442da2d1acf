"""One self-contained, inert HTML page: each prompt, its answers side by side, the comparison table.

Inert by construction and checked: no scripts, no event handlers, no remote resources (no `<img>`,
no external CSS or fonts, no `url(`), a Content-Security-Policy of `default-src 'none'` that only
allows the inline stylesheet (and, when prompts carry attached images, `img-src data:`: those images are
embedded as data URLs, never fetched). Model and user text goes through `app.render` (raw HTML shown as text,
unsafe links reduced to text, images to a label; formulas as MathML, which browsers draw natively).
Light and dark: each text is rendered in both
themes (their colours are inline styles) and `prefers-color-scheme` shows one.
"""

from __future__ import annotations

import html
from collections.abc import Callable

from app.domain import EdgeRole, Graph, Node, NodeKind
from app.export.common import (
    ExportOptions,
    Section,
    display_name,
    fmt_date,
    scoped_graph,
    sections,
    snippet,
    status_label,
)
from app.export.table import (
    TOTALS_COLUMNS,
    Row,
    Totals,
    branches,
    comparison_rows,
    row_numbers,
    session_totals,
    totals_cells,
)
from app.present.colours import model_color
from app.present.metrics import metrics_line
from app.render.markdown import render_markdown, render_plain, sanitize_check
from app.render.theme import DARK, LIGHT, document_css

CSP = "default-src 'none'; style-src 'unsafe-inline'"
CSP_WITH_IMAGES = f"{CSP}; img-src data:"
_FILES_MARK = "<!--triptych-files:{}-->"


def _files_html(node: Node) -> str:
    """A prompt's attached files: images embedded as data URLs (our own bytes, checked on attach,
    base64: nothing in them can break out of the attribute), other files as a line."""
    out = ['<div class="files">']
    for att in node.attachments:
        if att.kind == "image":
            out.append(f'<figure><img src="{_e(att.data_url())}" alt="{_e(att.name)}" '
                       f'style="max-width:100%;height:auto"><figcaption class="meta">{_e(att.describe())}'
                       "</figcaption></figure>")
        else:
            out.append(f'<p class="meta">📎 {_e(att.describe())}</p>')
    out.append("</div>")
    return "".join(out)


def _accent(model: str | None, options: ExportOptions) -> str:
    """The lane's top border: the provider's colour (as on the canvas)."""
    return model_color(model, options.provider_colors) or LIGHT.border


def _e(text: str) -> str:
    return html.escape(text, quote=True)


STYLE = f"""
{document_css(LIGHT)}
:root {{ --muted: {LIGHT.muted}; --border: {LIGHT.border}; --card: #f6f8fa; --mark: #fff8c5; }}
* {{ box-sizing: border-box; }}
body {{ margin: 0 auto; padding: 24px; max-width: 1800px; }}
h1 {{ margin: 0 0 4px 0; font-size: 1.7em; }}
h2 {{ margin: 0 0 8px 0; font-size: 1.25em; }}
h3 {{ margin: 0; font-size: 1.05em; }}
.muted, .meta {{ color: var(--muted); }}
.meta {{ font-size: .9em; margin: 2px 0 10px 0; }}
section.sec {{ margin: 28px 0; padding-top: 16px; border-top: 1px solid var(--border); }}
section.depth-1 {{ margin-left: 1.5rem; }}
section.depth-2 {{ margin-left: 3rem; }}
section.depth-3, section.deep {{ margin-left: 4.5rem; }}
.prompt {{ background: var(--card); border: 1px solid var(--border); border-radius: 8px; padding: 4px 14px;
  max-width: 70rem; }}
.system {{ font-size: .9em; }}
.lanes {{ display: grid; grid-template-columns: repeat(var(--n, 1), minmax(20rem, 1fr)); gap: 14px;
  margin: 14px 0; overflow-x: auto; align-items: start; }}
.lanes.single {{ grid-template-columns: minmax(20rem, 60rem); }}
.lane {{ min-width: 0; border: 1px solid var(--border); border-top-width: 4px; border-radius: 8px;
  padding: 10px 14px; }}
.lane .ref {{ font-weight: normal; font-size: .85em; color: var(--muted); }}
.answer {{ overflow-wrap: anywhere; }}
.answer pre {{ white-space: pre-wrap !important; overflow-wrap: anywhere; max-width: 100%; }}  /* lanes are narrow: wrap long code lines
  rather than hide them behind a scroll bar (and off the printed page) */
.answer table {{ display: block; width: max-content; max-width: 100%; overflow-x: auto; border: none; }}
/* a markdown table in its scroll box: columns at their natural width (a cell at most 20em), words
   never split (the lane's overflow-wrap does not reach into it); the box scrolls sideways */
.answer .table-scroll {{ overflow-x: auto; max-width: 100%; margin: 6px 0; }}
.answer .table-scroll table {{ display: table; width: max-content; max-width: none; overflow: visible;
  overflow-wrap: normal; word-break: normal; }}
.answer .table-scroll th, .answer .table-scroll td {{ white-space: normal; overflow-wrap: normal;
  word-break: normal; max-width: 20em; min-width: 3em; }}
.answer h1, .answer h2, .answer h3, .answer h4, .answer h5, .answer h6 {{ margin: 14px 0 6px 0;
  line-height: 1.3; }}
.answer h1 {{ font-size: 1.2em; }} .answer h2 {{ font-size: 1.12em; }} .answer h3 {{ font-size: 1.05em; }}
.answer h4 {{ font-size: 1em; }} .answer h5 {{ font-size: .92em; }}
.answer h6 {{ font-size: .85em; color: var(--muted); }}
math[display="block"] {{ margin: 8px 0; }}
.answer > div > :first-child {{ margin-top: 0; }}
details {{ margin: 8px 0; }}
summary {{ cursor: pointer; color: var(--muted); }}
table.cmp, table.totals {{ border-collapse: collapse; margin: 10px 0; font-size: .92em; }}
table.cmp th, table.cmp td, table.totals th, table.totals td {{ border: 1px solid var(--border);
  padding: 4px 10px; }}
table.cmp td.num, table.totals td {{ text-align: right; font-variant-numeric: tabular-nums; }}
table.totals th[scope=row] {{ text-align: left; font-weight: normal; }}
table.cmp tr.best td.model {{ background: var(--mark); }}
.badge {{ font-size: .8em; padding: 0 6px; border: 1px solid var(--border); border-radius: 10px;
  margin-left: 4px; white-space: nowrap; }}
.error {{ color: #cf222e; }}
.v-dark {{ display: none; }}
@media (prefers-color-scheme: dark) {{
{document_css(DARK)}
  :root {{ --muted: {DARK.muted}; --border: {DARK.border}; --card: #161b22; --mark: #3b2e00; }}
  .v-light {{ display: none; }}
  .v-dark {{ display: block; }}
  .error {{ color: #ff7b72; }}
}}
@media (max-width: 760px) {{
  .lanes, .lanes.single {{ grid-template-columns: 1fr; }}
  section.depth-1, section.depth-2, section.depth-3, section.deep {{ margin-left: 0; }}
}}
@media print {{
  .v-dark {{ display: none !important; }} .v-light {{ display: block !important; }}
}}
"""


def _safe(fragment: str, fallback: str) -> str:
    """A rendered fragment if it passes the sanitizer check, else the text escaped in a <pre>."""
    if sanitize_check(fragment):
        return f'<pre class="plain">{_e(fallback)}</pre>'
    return fragment


def _both(render: Callable[[str, str], str], text: str) -> str:
    light = _safe(render(text, "light"), text)
    dark = _safe(render(text, "dark"), text)
    return f'<div class="v-light">{light}</div><div class="v-dark">{dark}</div>'


def _render_export(text: str, theme: str) -> str:
    return render_markdown(text, theme, target="export")  # MathML formulas, dir="auto" blocks


def _markdown(text: str) -> str:
    return _both(_render_export, text)


def _plain(text: str) -> str:
    return _both(render_plain, text)


def _label(node: Node, section_of: dict[str, str], options: ExportOptions) -> str:
    where = section_of.get(node.id, "?")
    if node.kind == NodeKind.PROMPT:
        text = f"prompt {where}"
    elif node.kind == NodeKind.NOTE:
        text = f"note {where}"
    else:
        what = "synthesis" if node.kind == NodeKind.SYNTHESIS else "answer"
        text = f"{display_name(node.model, options.display_names)}'s {what} in {where}"
    return f'<a href="#n-{_e(node.id)}">{_e(text)}</a>'


def _lane(node: Node, options: ExportOptions) -> str:
    name = display_name(node.model, options.display_names)
    status_html = _e(status_label(node))
    if node.error is not None:
        status_html = f'<span class="error">{status_html}</span>'
    metrics = metrics_line(node, live=False)
    out = [
        f'<article class="lane" id="n-{_e(node.id)}" style="border-top-color:{_accent(node.model, options)}">',
        f"<h3>{_e(name)}</h3>" if name == node.model else  # a blind "Model A": its name once
        f'<h3>{_e(name)} <span class="ref">({_e(node.model or "no model")})</span></h3>',
        f'<p class="meta">{status_html}' + (f" · {_e(metrics)}" if metrics else "") + "</p>",
    ]
    if node.text:
        out.append(f'<div class="answer">{_markdown(node.text)}</div>')
    elif node.error is not None:
        out.append('<p class="muted"><em>(no text received)</em></p>')
    if options.include_reasoning and node.reasoning.strip():
        out.append(f"<details><summary>Reasoning</summary>{_plain(node.reasoning)}</details>")
    out.append("</article>")
    return "\n".join(out)


def _lanes(nodes: list[Node], options: ExportOptions) -> str:
    cls = "lanes single" if len(nodes) == 1 else "lanes"
    body = "\n".join(_lane(n, options) for n in nodes)
    return f'<div class="{cls}" style="--n:{len(nodes)}">\n{body}\n</div>'


def table_html(rows: list[Row]) -> str:
    head = (
        "<tr><th>Model</th><th>Status</th><th>TTFT</th><th>tok/s</th><th>Input</th><th>Cached</th>"
        "<th>Output</th><th>Reasoning</th><th>Cost</th><th>Finish</th></tr>"
    )
    lines = ['<table class="cmp">', f"<thead>{head}</thead>", "<tbody>"]
    for r in rows:
        badges = ('<span class="badge">⚡ fastest</span>' if r.fastest else "") + (
            '<span class="badge">$ cheapest</span>' if r.cheapest else ""
        )
        ref = f' <span class="muted">({_e(r.model)})</span>' if r.model != r.display_name else ""
        cells = [
            f'<td class="model">{_e(r.display_name)}{ref}{badges}</td>',
            f"<td>{_e(r.status)}</td>",
            *(f'<td class="num">{_e(cell)}</td>' for cell in row_numbers(r)),
            f"<td>{_e(r.finish or '–')}</td>",
        ]
        cls = ' class="best"' if (r.fastest or r.cheapest) else ""
        lines.append(f"<tr{cls}>{''.join(cells)}</tr>")
    lines += ["</tbody>", "</table>"]
    return "\n".join(lines)


def _section_title(sec: Section, options: ExportOptions) -> str:
    head = sec.head
    if head.kind == NodeKind.PROMPT:
        targets = ", ".join(dict.fromkeys(display_name(a.model, options.display_names) for a in sec.answers))
        label = f"Prompt {sec.number}" if sec.is_root else f"Follow-up {sec.number}"
        if head.title:
            label += f": {head.title}"
        return label + (f" → to {targets}" if targets else " (not sent)")
    if head.kind == NodeKind.SYNTHESIS:
        kind = str(head.meta.get("instruction_kind") or "").strip()
        return (
            f"Synthesis {sec.number}"
            + (f" ({kind})" if kind else "")
            + f" by {display_name(head.model, options.display_names)}"
        )
    if head.kind == NodeKind.NOTE:
        return f"Note {sec.number}" + (f": {head.title}" if head.title else "")
    if head.kind == NodeKind.SWEEP:
        return f"Sweep definition {sec.number}"
    return f"Answer {sec.number}"


def _section(sec: Section, graph: Graph, section_of: dict[str, str], options: ExportOptions) -> str:
    head = sec.head
    depth_cls = f"depth-{sec.depth}" if sec.depth <= 3 else "deep"
    out = [
        f'<section class="sec {depth_cls}" id="s-{_e(sec.number)}">',
        f"<h2>{_e(_section_title(sec, options))}</h2>",
    ]
    for role, words in ((EdgeRole.FOLLOW, "After"), (EdgeRole.REF, "With context from")):
        parents = [e for e in sec.parents if e.role == role]
        if parents:
            links = ", ".join(_label(graph.nodes[e.parent_id], section_of, options) for e in parents)
            out.append(f'<p class="meta">{words} {links}.</p>')
    sources = [e for e in sec.parents if e.role == EdgeRole.SOURCE]
    if sources:
        items = "".join(
            f"<li>{_label(graph.nodes[e.parent_id], section_of, options)}"
            f' <span class="muted">({_e(status_label(graph.nodes[e.parent_id]))})</span></li>'
            for e in sources
        )
        out.append(f'<p class="meta">Sources:</p><ol class="meta">{items}</ol>')
    if head.kind == NodeKind.PROMPT:
        out.append(f'<div class="prompt" id="n-{_e(head.id)}">')
        if head.params.system:
            out.append(
                f'<details class="system"><summary>System prompt</summary>{_markdown(head.params.system)}</details>'
            )
        out.append(
            _markdown(head.text) if head.text.strip() else '<p class="muted"><em>(empty prompt)</em></p>'
        )
        if head.attachments:
            out.append(_FILES_MARK.format(head.id))  # filled in after the safety check (export_html)
        out.append("</div>")
        if sec.answers:
            out.append(_lanes(sec.answers, options))
            out.append(table_html(comparison_rows(graph, head.id, options.display_names)))
    elif head.is_answer:
        out.append(_lanes([head], options))
    else:
        out.append(f'<div class="prompt" id="n-{_e(head.id)}">{_markdown(head.text)}</div>')
    out.append("</section>")
    return "\n".join(out)


TOTALS_HEAD = "".join(f"<th>{c}</th>" for c in TOTALS_COLUMNS)


def _totals_cells(t: Totals) -> str:
    return "".join(f"<td>{_e(c)}</td>" for c in totals_cells(t))


def export_html(graph: Graph, options: ExportOptions | None = None) -> str:
    """The session as one self-contained, script-free HTML page (see the module doc)."""
    options = options or ExportOptions()
    graph = scoped_graph(graph, options)
    secs = sections(graph)
    section_of: dict[str, str] = {}
    for sec in secs:
        section_of[sec.head.id] = sec.number
        for ans in sec.answers:
            section_of[ans.id] = sec.number
    s = graph.session
    t = session_totals(graph)
    body = [
        "<header>",
        f"<h1>{_e(s.title)}</h1>",
        f'<p class="meta">Triptych session · created {_e(fmt_date(s.created_at))} · updated '
        f"{_e(fmt_date(s.updated_at))} · {len(graph.nodes)} cards</p>",
        "</header>",
        "<main>",
    ]
    body += [_section(sec, graph, section_of, options) for sec in secs]
    tips = branches(graph)
    if len(tips) >= 2:
        rows = []
        for b in tips:
            what = f" — “{_e(snippet(b.prompt.text))}”" if b.prompt is not None else ""
            rows.append(f'<tr><th scope="row">{_label(b.tip, section_of, options)}{what}</th>'
                        f"{_totals_cells(b.totals)}</tr>")
        body += [
            '<section class="sec" id="branches">',
            "<h2>Totals per branch</h2>",
            '<p class="meta">A branch runs from the first prompt to an answer nothing follows; it counts every '
            "answer that answer built on, so branches overlap.</p>",
            '<table class="totals"><thead><tr><th>Branch</th>' + TOTALS_HEAD + "</tr></thead>",
            "<tbody>" + "".join(rows) + "</tbody></table>",
            "</section>",
        ]
    body += [
        '<section class="sec" id="totals">',
        "<h2>Session totals</h2>",
        f'<table class="totals"><thead><tr>{TOTALS_HEAD}</tr></thead>',
        f"<tbody><tr>{_totals_cells(t)}</tr></tbody></table>",
        "</section>",
        "</main>",
    ]
    body_html = "\n".join(body)
    problems = sanitize_check(body_html)
    if problems:  # a bug in this module, never the content (fragments are checked one by one)
        raise RuntimeError(f"HTML export failed its safety check: {problems[0]}")
    images = False
    for node in graph.nodes.values():
        if node.attachments and _FILES_MARK.format(node.id) in body_html:
            body_html = body_html.replace(_FILES_MARK.format(node.id), _files_html(node))
            images = images or any(a.kind == "image" for a in node.attachments)
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta http-equiv="Content-Security-Policy" content="{CSP_WITH_IMAGES if images else CSP}">\n'
        '<meta name="referrer" content="no-referrer">\n'
        '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
        '<meta name="color-scheme" content="light dark">\n'
        f"<title>{_e(s.title)}</title>\n<style>{STYLE}</style>\n</head>\n"
        f"<body>\n{body_html}\n</body>\n</html>\n"
    )
