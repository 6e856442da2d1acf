"""Markdown comparison report, and `defang_markdown`: model text made inert for markdown viewers.

Model text is embedded as markdown, so a viewer renders its formatting. What a viewer could make
*live* is neutralised in the source, outside code blocks and code spans:

- raw HTML tags, comments and declarations: `<` is backslash-escaped (`\\<script>` shows as text);
  formatting tags without attributes (`<br>`, `<sub>`, `<kbd>`, `<details>`, …) are kept, and
  `<details open>`;
- images become links (`\\![t](url)`: a card or canvas export must not fetch remote pixels when
  opened), except in the Markdown report (`keep_images=True`): a `.md` file is the model's text as
  written, Triptych itself never fetches its pictures, and a reader's viewer shows `![t](url)` as the
  model meant (http(s), relative and `data:image/…` pictures; other schemes are still broken up);
- links, autolinks and link definitions whose URL is not http(s)/mailto/relative are broken up
  so they show as text;
- an unclosed code fence (a cut-off answer) is closed so it cannot swallow the rest of the report.

The result is then parsed with markdown-it as a permissive viewer would (raw HTML on, every link
allowed) and checked; if anything live is left, every tag is escaped without sparing code spans, and
as a last resort the text is shown in a fenced code block.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable
from functools import lru_cache

from markdown_it import MarkdownIt
from markdown_it.token import Token

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
    branches,
    comparison_rows,
    row_numbers,
    session_totals,
    totals_cells,
)
from app.present.metrics import metrics_parts
from app.render.markdown import SAFE_INLINE_TAGS
from app.render.math import math_plugin, math_spans
from app.urls import is_safe_url

# --------------------------------------------------------------------------- URL safety

def is_safe_link(url: str) -> bool:
    """A link a markdown file may keep live: app.urls' rule, relative links (#anchors, files) allowed."""
    return is_safe_url(url, relative_ok=True)


# --------------------------------------------------------------------------- defang

_ALLOWED_TAGS = frozenset(SAFE_INLINE_TAGS)  # what the cards render; anything else shows as text there too
_TAG_START = re.compile(r"<(?:/?[A-Za-z][A-Za-z0-9-]*(?=[\s/>]|$)|[!?])")
_BARE_TAG = re.compile(r"</?([A-Za-z][A-Za-z0-9]*)\s*/?>")
# `<details open>` (a section shown unfolded): the one attribute kept, and only on <details>
_DETAILS_OPEN = re.compile(r"""<details\s+open(?:\s*=\s*(?:"(?:open)?"|'(?:open)?'|open))?\s*>""", re.I)
_DATA_IMAGE = re.compile(r"^data:image/(?:png|jpeg|gif|webp);base64,[A-Za-z0-9+/=\s]*$", re.I)
_AUTOLINK = re.compile(r"<([A-Za-z][A-Za-z0-9+.\-]{1,31}:[^\s<>]*)>")
_LINK_DEST = re.compile(r"\]\(\s*(<[^>\n]*>?|[^\s)]*)")
_REF_DEF = re.compile(r"(?m)^([ \t>*+\-0-9.)]*)\[(?=(?:[^\]\\\n]|\\.)+\]:[ \t]*(<[^>\n]*>|\S+))")
_IMAGE = re.compile(r"!(?=\[)")
_BACKTICKS = re.compile(r"`+")
_FENCE_LINE = re.compile(r"^( {0,3})(`{3,}|~{3,})(.*)$")


def _escaped(s: str, i: int) -> bool:
    """Is s[i] preceded by an odd number of backslashes?"""
    n = 0
    while i - n - 1 >= 0 and s[i - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def is_safe_image(url: str) -> bool:
    """A picture a viewer may show from a kept `![t](url)`: a safe link, or an inline raster image."""
    return is_safe_link(url) or _DATA_IMAGE.match(html.unescape(url.strip().strip("<>"))) is not None


def _is_image_dest(s: str, close: int) -> bool:
    """Does the `]` at `s[close]` end the alt text of an image (`![alt]`)?"""
    depth = 0
    for i in range(close, -1, -1):
        ch = s[i]
        if _escaped(s, i):
            continue
        if ch == "]":
            depth += 1
        elif ch == "[":
            depth -= 1
            if depth == 0:
                return i > 0 and s[i - 1] == "!" and not _escaped(s, i - 1)
        elif ch == "\n" and i < close and s[i - 1 : i + 1] == "\n\n":
            return False
    return False


def _safe_tag(text: str, start: int) -> bool:
    """Is the tag at `text[start]` a formatting tag kept as is (no attributes, or `<details open>`)?"""
    bare = _BARE_TAG.match(text, start)
    if bare:
        return bare.group(1).lower() in _ALLOWED_TAGS
    return _DETAILS_OPEN.match(text, start) is not None


def _defang_text(s: str, *, strict: bool, keep_images: bool = False) -> str:
    """Neutralise one run of non-code markdown source."""

    def sub(pattern: re.Pattern[str], fix: Callable[[re.Match[str]], str], text: str) -> str:
        return pattern.sub(lambda m: m.group(0) if _escaped(m.string, m.start()) else fix(m), text)

    def link(m: re.Match[str]) -> str:
        if is_safe_link(m.group(1)):
            return m.group(0)
        if keep_images and _DATA_IMAGE.match(m.group(1).strip("<>")) and _is_image_dest(m.string, m.start()):
            return m.group(0)
        return "]\\(" + m.group(0)[2:]

    def autolink(m: re.Match[str]) -> str:
        return m.group(0) if is_safe_link(m.group(1)) else "\\" + m.group(0)

    def tag(m: re.Match[str]) -> str:
        if not strict and _safe_tag(m.string, m.start()):
            # Formatting tags stay, also at the start of a line (where a viewer starts a raw HTML
            # block: live_content() checks what that block holds).
            return m.group(0)
        return "\\" + m.group(0)

    def refdef(m: re.Match[str]) -> str:
        return m.group(0) if is_safe_link(m.group(2)) else m.group(1) + "\\["

    s = sub(_LINK_DEST, link, s)
    s = sub(_AUTOLINK, autolink, s)
    s = sub(_TAG_START, tag, s)
    if not keep_images:
        s = sub(_IMAGE, lambda m: "\\!", s)
    s = _REF_DEF.sub(refdef, s)
    return s


def _defang_keeping_math(text: str, keep_images: bool) -> str:
    """Formulas (``$…$``, ``\\(…\\)``, …) are kept exactly as written; the rest is defanged."""
    out: list[str] = []
    pos = 0
    for start, end in math_spans(text):
        out.append(_defang_text(text[pos:start], strict=False, keep_images=keep_images))
        out.append(text[start:end])
        pos = end
    out.append(_defang_text(text[pos:], strict=False, keep_images=keep_images))
    return "".join(out)


def _defang_line_keeping_code_spans(line: str, keep_images: bool = False) -> str:
    """Code spans (paired backtick runs on this line) and formulas are kept verbatim; the rest is
    defanged."""
    out: list[str] = []
    pos = 0
    scan = 0
    while True:
        m = _BACKTICKS.search(line, scan)
        if m is None:
            break
        if _escaped(line, m.start()):
            scan = m.start() + 1
            continue
        closing = re.compile(r"(?<!`)" + re.escape(m.group(0)) + r"(?!`)")
        c = closing.search(line, m.end())
        if c is None:
            scan = m.end()
            continue
        out.append(_defang_keeping_math(line[pos : m.start()], keep_images))
        out.append(line[m.start() : c.end()])
        pos = scan = c.end()
    out.append(_defang_keeping_math(line[pos:], keep_images))
    return "".join(out)


@lru_cache(maxsize=1)
def _parser() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    math_plugin(md)  # formula blocks are kept as written, like code
    return md


@lru_cache(maxsize=1)
def _permissive_viewer() -> MarkdownIt:
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    md.validateLink = lambda url: True  # type: ignore[method-assign]  # a careless viewer
    return md


def _code_lines(text: str) -> set[int]:
    lines: set[int] = set()
    for tok in _parser().parse(text):
        if tok.type in ("fence", "code_block", "math_block", "math_block_open_source") and tok.map:
            lines.update(range(tok.map[0], tok.map[1]))
    return lines


def close_open_fences(text: str) -> str:
    """Append a closing fence when the text ends inside a fenced code block (a cut-off answer)."""
    opened: tuple[str, int] | None = None
    for line in text.split("\n"):
        m = _FENCE_LINE.match(line)
        if not m:
            continue
        fence, rest = m.group(2), m.group(3)
        if opened is None:
            if fence[0] == "`" and "`" in rest:
                continue
            opened = (fence[0], len(fence))
        elif fence[0] == opened[0] and len(fence) >= opened[1] and not rest.strip():
            opened = None
    if opened is None:
        return text
    return text + ("" if text.endswith("\n") else "\n") + opened[0] * opened[1]


def _tokens_live(tokens: list[Token], images: bool = False) -> str | None:
    """The first live thing a permissive viewer would render from these tokens, or None; with
    `images`, a picture from a safe source (see `is_safe_image`) is allowed."""
    for tok in tokens:
        if tok.type in ("html_block", "html_inline"):
            rest = _DETAILS_OPEN.sub("", tok.content)
            rest = _BARE_TAG.sub(lambda m: "" if m.group(1).lower() in _ALLOWED_TAGS else m.group(0), rest)
            if "<" in rest:
                return f"raw HTML {tok.content.strip()[:40]!r}"
        elif tok.type == "image":
            src = str(tok.attrGet("src") or "")
            if not (images and is_safe_image(src)):
                return f"an image from {src[:40]!r}"
        elif tok.type == "link_open":
            href = str(tok.attrGet("href") or "")
            if not is_safe_link(href):
                return f"a link to {href[:40]!r}"
        if tok.children:
            found = _tokens_live(tok.children, images)
            if found:
                return found
    return None


def live_content(markdown_text: str, images: bool = False) -> str | None:
    """What a careless markdown viewer (raw HTML on, all links allowed) would make live, or None;
    with `images`, pictures from safe sources (what the Markdown report keeps) do not count."""
    return _tokens_live(_permissive_viewer().parse(markdown_text), images)


def _fence_wrap(text: str) -> str:
    longest = max((len(m.group(0)) for m in _BACKTICKS.finditer(text)), default=0)
    fence = "`" * max(3, longest + 1)
    return f"{fence}text\n{text.rstrip(chr(10))}\n{fence}"


def defang_markdown(text: str, keep_images: bool = False) -> str:
    """Model text, still markdown, with nothing a viewer could make live (see the module doc);
    `keep_images`: pictures (`![t](url)`) from safe sources stay pictures (the Markdown report)."""
    text = close_open_fences(text.replace("\r\n", "\n").replace("\r", "\n"))
    code = _code_lines(text)
    lines = text.split("\n")
    gentle = "\n".join(
        line if i in code else _defang_line_keeping_code_spans(line, keep_images) for i, line in enumerate(lines)
    )
    if live_content(gentle, keep_images) is None:
        return gentle
    strict = "\n".join(
        line if i in code else _defang_text(line, strict=True, keep_images=keep_images) for i, line in enumerate(lines)
    )
    if live_content(strict, keep_images) is None:
        return strict
    return _fence_wrap(text)


# --------------------------------------------------------------------------- headings

_ATX = re.compile(r"^( {0,3})(#{1,6})(?=[ \t]|$)")


def demote_headings(text: str, by: int = 3) -> str:
    """Model text with its top-level headings `by` levels lower (at most `######`), so an answer's
    `## Title` sits below the report's own `### Model` heading instead of breaking its outline.
    Setext headings (underlined with === or ---) become ATX headings; code blocks are left alone."""
    if by <= 0 or ("#" not in text and "\n=" not in text and "\n-" not in text):
        return text
    lines = text.split("\n")
    for tok in reversed(_parser().parse(text)):  # from the end: setext rewrites drop lines
        if tok.type != "heading_open" or tok.level != 0 or not tok.map:
            continue
        start, end = tok.map
        level = min(6, int(tok.tag[1]) + by)
        if tok.markup.startswith("#"):
            m = _ATX.match(lines[start])
            if m:
                lines[start] = m.group(1) + "#" * level + lines[start][m.end() :]
        elif end - start >= 2:  # setext: content lines, then the underline
            content = " ".join(line.strip() for line in lines[start : end - 1])
            lines[start:end] = ["#" * level + " " + content]
    return "\n".join(lines)


def fit_headings(text: str, top: int = 4) -> str:
    """Model text with its headings moved under the report's own (``### Model``): the highest one
    becomes level ``top`` and the others keep their distance below it, as far as level 6 allows
    (an answer's ``##`` and ``###`` become ``####`` and ``#####``, not both ``######``)."""
    if "#" not in text and "\n=" not in text and "\n-" not in text:
        return text
    levels = sorted(
        {int(t.tag[1]) for t in _parser().parse(text) if t.type == "heading_open" and t.level == 0}
    )
    if not levels:
        return text
    by = top - levels[0]
    if by <= 0:
        return text
    # Levels that would fall below 6 share the lowest ones left, keeping their order.
    new_level = {lv: min(6, lv + by) for lv in levels}
    if len(levels) > 1 and max(lv + by for lv in levels) > 6:
        slots = list(range(top, 7))
        new_level = {lv: slots[min(i, len(slots) - 1)] for i, lv in enumerate(levels)}
    return _relevel(text, new_level)


def _relevel(text: str, new_level: dict[int, int]) -> str:
    lines = text.split("\n")
    for tok in reversed(_parser().parse(text)):  # from the end: setext rewrites drop lines
        if tok.type != "heading_open" or tok.level != 0 or not tok.map:
            continue
        start, end = tok.map
        level = new_level.get(int(tok.tag[1]), int(tok.tag[1]))
        if tok.markup.startswith("#"):
            m = _ATX.match(lines[start])
            if m:
                lines[start] = m.group(1) + "#" * level + lines[start][m.end() :]
        elif end - start >= 2:
            content = " ".join(line.strip() for line in lines[start : end - 1])
            lines[start:end] = ["#" * level + " " + content]
    return "\n".join(lines)


# --------------------------------------------------------------------------- the report


def _quote(text: str) -> str:
    return "\n".join(("> " + line) if line.strip() else ">" for line in text.split("\n"))


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("\\", "\\\\").replace("|", "\\|").replace("<", "\\<")


def answer_heading_name(node: Node, options: ExportOptions) -> str:
    name = display_name(node.model, options.display_names)
    return name if name == node.model else f"{name} ({node.model or 'no model'})"  # "Model A" once


TABLE_HEAD = (
    "| Model | Status | TTFT | tok/s | Input | Cached | Output | Reasoning | Cost | Finish |\n"
    "|---|---|--:|--:|--:|--:|--:|--:|--:|---|"
)


def table_markdown(rows: list[Row]) -> str:
    lines = [TABLE_HEAD]
    for r in rows:
        name = f"{r.display_name} (`{r.model}`)" if r.model and r.model != r.display_name else r.display_name
        marks = (" ⚡ fastest" if r.fastest else "") + (" · cheapest" if r.cheapest else "")
        cells = [_cell(name) + marks, _cell(r.status), *row_numbers(r), _cell(r.finish or "–")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def _metrics_line(node: Node) -> str:
    parts = [status_label(node), *metrics_parts(node, live=False)]
    return "*" + _cell(" · ".join(parts)).replace("*", "\\*").replace("_", "\\_") + "*"


class _Labels:
    """How a report refers to cards: "DeepSeek V4.1 Flash's answer in 1", "prompt 1.2"."""

    def __init__(self, secs: list[Section], options: ExportOptions) -> None:
        self.options = options
        self.section_of: dict[str, str] = {}
        for sec in secs:
            self.section_of[sec.head.id] = sec.number
            for ans in sec.answers:
                self.section_of[ans.id] = sec.number

    def of(self, node: Node) -> str:
        where = self.section_of.get(node.id, "?")
        if node.kind == NodeKind.PROMPT:
            return f"prompt {where}"
        if node.kind == NodeKind.NOTE:
            return f"note {where}"
        name = display_name(node.model, self.options.display_names)
        what = "synthesis" if node.kind == NodeKind.SYNTHESIS else "answer"
        return f"{name}'s {what} in {where}"


def _section_title(sec: Section, graph: Graph, options: ExportOptions) -> str:
    head = sec.head
    if head.kind == NodeKind.PROMPT:
        targets = ", ".join(dict.fromkeys(display_name(a.model, options.display_names) for a in sec.answers))
        label = f"Prompt {sec.number}" if sec.is_root else f"Follow-up {sec.number}"
        if head.title:
            label += f": {head.title}"
        return label + (f" → to {targets}" if targets else " (not sent)")
    if head.kind == NodeKind.SYNTHESIS:
        kind = str(head.meta.get("instruction_kind") or "").strip()
        name = display_name(head.model, options.display_names)
        return f"Synthesis {sec.number}" + (f" ({kind})" if kind else "") + f" by {name}"
    if head.kind == NodeKind.NOTE:
        return f"Note {sec.number}" + (f": {head.title}" if head.title else "")
    if head.kind == NodeKind.SWEEP:
        return f"Sweep definition {sec.number}"
    return f"Answer {sec.number}"


def _answer_block(node: Node, options: ExportOptions) -> list[str]:
    out = [f"### {_cell(answer_heading_name(node, options))}", "", _metrics_line(node), ""]
    if node.error is not None and not node.text:
        out += ["*(no text received)*", ""]
    if node.text:
        out += [fit_headings(defang_markdown(node.text, keep_images=True)).rstrip("\n"), ""]
    if options.include_reasoning and node.reasoning.strip():
        out += [
            "<details><summary>Reasoning</summary>",
            "",
            fit_headings(defang_markdown(node.reasoning, keep_images=True)).rstrip("\n"),
            "",
            "</details>",
            "",
        ]
    return out


def _files_markdown(node: Node) -> list[str]:
    """A prompt's attached files: images inline as data URLs (self-contained), the others as a line."""
    out = []
    for att in node.attachments:
        label = re.sub(r"[\[\]()<>`*_\\]", "_", att.describe())
        if att.kind == "image":
            out += [f"![{label}]({att.data_url()})", ""]
        else:
            out += [f"📎 {label}", ""]
    return out


def export_markdown(graph: Graph, options: ExportOptions | None = None) -> str:
    """A comparison report of the session (see DESIGN.md "Export formats": md)."""
    options = options or ExportOptions()
    graph = scoped_graph(graph, options)
    secs = sections(graph)
    labels = _Labels(secs, options)
    s = graph.session
    out: list[str] = [
        f"# {_cell(s.title) or 'Untitled'}",
        "",
        f"*Triptych session · created {fmt_date(s.created_at)} · updated {fmt_date(s.updated_at)}"
        f" · {len(graph.nodes)} cards*",
        "",
    ]
    for sec in secs:
        head = sec.head
        out += [f"## {_cell(_section_title(sec, graph, options))}", ""]
        follows = [e for e in sec.parents if e.role == EdgeRole.FOLLOW]
        refs = [e for e in sec.parents if e.role == EdgeRole.REF]
        sources = [e for e in sec.parents if e.role == EdgeRole.SOURCE]
        if follows:
            out += ["*After " + ", ".join(labels.of(graph.nodes[e.parent_id]) for e in follows) + ".*", ""]
        if refs:
            out += [
                "*With context from " + ", ".join(labels.of(graph.nodes[e.parent_id]) for e in refs) + ".*",
                "",
            ]
        if sources:
            out += ["Sources:", ""]
            for i, e in enumerate(sources, start=1):
                src = graph.nodes[e.parent_id]
                out.append(f"{i}. {labels.of(src)} ({status_label(src)})")
            out.append("")
        if head.kind == NodeKind.PROMPT:
            if head.params.system:
                out += ["**System prompt:**", "", _quote(defang_markdown(head.params.system, keep_images=True)), ""]
            out += [_quote(defang_markdown(head.text, keep_images=True)) if head.text.strip() else "> *(empty prompt)*", ""]
            out += _files_markdown(head)
            for ans in sec.answers:
                out += _answer_block(ans, options)
            if sec.answers:
                rows = comparison_rows(graph, head.id, options.display_names)
                out += ["**Comparison**", "", table_markdown(rows), ""]
                if any(r.fastest or r.cheapest for r in rows):
                    out += ["⚡ fastest first token · cheapest: lowest cost (among finished answers)", ""]
        elif head.is_answer:
            out += _answer_block(head, options)
        else:
            out += [defang_markdown(head.text, keep_images=True) if head.text.strip() else "*(empty note)*", ""]
    tips = branches(graph)
    if len(tips) >= 2:
        out += [
            "## Totals per branch",
            "",
            "*A branch runs from the first prompt to an answer nothing follows; it counts every answer that "
            "answer built on, so branches overlap.*",
            "",
            "| Branch | " + " | ".join(TOTALS_COLUMNS) + " |",
            "|---|" + "--:|" * len(TOTALS_COLUMNS),
        ]
        for b in tips:
            label = labels.of(b.tip) + (f" — “{snippet(b.prompt.text)}”" if b.prompt is not None else "")
            out.append(f"| {_cell(label)} | {' | '.join(totals_cells(b.totals))} |")
        out.append("")
    out += [
        "## Session totals",
        "",
        "| " + " | ".join(TOTALS_COLUMNS) + " |",
        "|" + "--:|" * len(TOTALS_COLUMNS),
        f"| {' | '.join(totals_cells(session_totals(graph)))} |",
        "",
    ]
    return "\n".join(out)

