"""Markdown report and HTML page: every answer, the comparison table, reasoning, and nothing live."""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser

import pytest
from markdown_it import MarkdownIt

from app.domain import EdgeRole, NodeKind
from app.export import (
    ExportOptions,
    branch_totals,
    branches,
    comparison_rows,
    defang_markdown,
    export_html,
    export_markdown,
    session_totals,
    subtree_totals,
    totals,
)
from app.export.markdown import demote_headings, live_content
from tests.app.sample_graph import R1_TEXT, S1_TEXT, build_sample_graph, node_with_text

MODELS = {
    "deepseek:deepseek-flash": "DeepSeek V4.1 Flash",
    "anthropic:claude-sonnet-5-5": "Claude Sonnet 5.5",
    "openai:gpt-6.2-sol": "GPT-6.2 Sol",
    "openrouter:deepseek/deepseek-v4-flash": "DeepSeek V4.1 Flash (OpenRouter)",
}

# --------------------------------------------------------------------------- an HTML inertness checker

LIVE_TAGS = {
    "script", "iframe", "frame", "object", "embed", "img", "image", "picture", "source", "video", "audio",
    "track", "link", "base", "svg", "math", "form", "input", "button", "applet", "portal", "frameset",
}  # fmt: skip
FETCH_ATTRS = {"src", "srcset", "srcdoc", "poster", "background", "action", "formaction", "data", "ping"}


class Inspector(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []
        self.style_text: list[str] = []
        self._stack: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        self.tags.append((tag, a))
        if tag in LIVE_TAGS:
            self.problems.append(f"<{tag}>")
        for name, value in a.items():
            flat = re.sub(r"[\x00-\x20]+", "", htmllib.unescape(value)).lower()
            if name.startswith("on"):
                self.problems.append(f"{name}= on <{tag}>")
            if name in FETCH_ATTRS:
                self.problems.append(f"{name}= on <{tag}>")
            if "javascript:" in flat or "vbscript:" in flat or "data:" in flat:
                self.problems.append(f"script URL in {name}= on <{tag}>")
            if name == "href" and not re.match(r"^(#|https?://|mailto:)", value.strip()):
                self.problems.append(f"href {value!r}")
            if name == "style" and "url(" in flat:
                self.problems.append(f"url( in style= on <{tag}>")
            if tag == "meta" and name == "http-equiv" and value.lower() == "refresh":
                self.problems.append("meta refresh")
        if tag not in ("meta", "br", "hr", "input"):
            self._stack.append(tag)

    def handle_endtag(self, tag: str) -> None:
        if tag in self._stack:
            while self._stack and self._stack.pop() != tag:
                pass

    def handle_data(self, data: str) -> None:
        if "style" in self._stack:
            self.style_text.append(data)
        else:
            self.text.append(data)

    @property
    def visible(self) -> str:
        return "".join(self.text)


def inspect(page: str) -> Inspector:
    ins = Inspector()
    ins.feed(page)
    ins.close()
    css = "".join(ins.style_text).lower()
    if "url(" in css or "@import" in css or "@font-face" in css:
        ins.problems.append("remote CSS")
    return ins


def careless_viewer(markdown_text: str) -> str:
    """How a permissive markdown viewer renders: raw HTML on, any link allowed."""
    md = MarkdownIt("commonmark", {"html": True}).enable("table")
    md.validateLink = lambda url: True
    return md.render(markdown_text)


# --------------------------------------------------------------------------- table and totals


def test_the_cheapest_mark_is_words_any_font_shows_and_names_match_the_window():
    """Issue #12: the 💲 emoji was an empty box on a desktop without an emoji font; and a model the
    catalog does not know had one name on its card and another in the table and the exports."""
    from app.catalog import load_catalog
    from app.export.common import display_name
    from app.export.html import table_html
    from app.export.markdown import table_markdown

    g = build_sample_graph()
    p1 = next(iter(g.nodes.values()))
    rows = comparison_rows(g, p1.id)
    assert rows[0].cheapest
    for text in (table_html(rows), table_markdown(rows), export_html(g), export_markdown(g)):
        assert "💲" not in text
        assert "cheapest" in text
    unknown = "openrouter:meta/llama-slow"
    assert display_name(unknown) == load_catalog().display_name(unknown) == "Llama Slow"


def test_comparison_rows_metrics_and_flags():
    g = build_sample_graph()
    p1 = next(iter(g.nodes.values()))
    rows = comparison_rows(g, p1.id)
    assert [r.model for r in rows] == [
        "deepseek:deepseek-flash",
        "anthropic:claude-sonnet-5-5",
        "openai:gpt-6.2-sol",
    ]
    ds, cl, gp = rows
    assert ds.display_name == "DeepSeek V4.1 Flash"
    assert ds.tok_per_s == pytest.approx(412 / ((4430 - 310) / 1000))
    assert (ds.input_tokens, ds.cached_tokens, ds.output_tokens, ds.reasoning_tokens) == (40, 0, 412, 120)
    assert cl.cached_tokens == 12 and cl.cost_usd == 0.003906 and cl.finish == "stop"
    assert gp.status == "error" and gp.tok_per_s is None and gp.cost_usd is None
    assert gp.error == "network: connection reset mid-answer"
    assert [r.fastest for r in rows] == [True, False, False]  # the errored lane is not eligible
    assert [r.cheapest for r in rows] == [True, False, False]


def test_reported_cost_wins_and_single_rows_are_not_flagged():
    g = build_sample_graph()
    p3 = node_with_text(g, "Combine both approaches")
    r5, r6 = comparison_rows(g, p3.id)
    assert r6.cost_usd == 0.000151 and r6.cost_reported
    assert r6.cheapest and r6.fastest and not r5.cheapest
    p2 = node_with_text(g, "Make it stream")
    (only,) = comparison_rows(g, p2.id)
    assert not only.fastest and not only.cheapest


def test_totals_per_branch_and_session():
    g = build_sample_graph()
    t = session_totals(g)
    answers = [n for n in g.nodes.values() if n.is_answer]
    assert t.answers == len(answers) == 7
    assert t.output_tokens == sum(n.usage.output or 0 for n in answers)
    assert t.cost_usd == pytest.approx(0.000253 + 0.003906 + 0.0000596 + 0.003 + 0.000151 + 0.0045)
    assert t.cost_complete is True  # the errored lane reported nothing, so costs nothing known
    r4 = node_with_text(g, "count with `.count()`")
    b = branch_totals(g, r4.id)
    assert b.answers == 2 and b.output_tokens == 412 + 96
    p3 = node_with_text(g, "Combine both approaches")
    s = subtree_totals(g, p3.id)
    assert s.answers == 2 and s.input_tokens == 900 + 910
    assert totals(g, [p3.id]).answers == 0


def test_branches_end_at_answers_nothing_follows():
    g = build_sample_graph()
    tips = branches(g)
    assert [(b.tip.model, b.tip.kind.value) for b in tips] == [
        ("deepseek:deepseek-flash", "response"),  # R4, the lane follow-up's answer
        ("anthropic:claude-sonnet-5-5", "response"),  # R5 and R6 answer the shared follow-up
        ("openrouter:deepseek/deepseek-v4-flash", "response"),
        ("anthropic:claude-sonnet-5-5", "synthesis"),
    ]
    assert tips[0].prompt is not None and tips[0].prompt.text.startswith("Make it stream")
    assert tips[3].prompt is None
    r4 = tips[0].tip
    assert tips[0].totals == branch_totals(g, r4.id)
    assert tips[3].totals.answers == 4  # the synthesis and its three sources
    p3 = node_with_text(g, "Combine both approaches")
    assert [b.tip.model for b in branches(g, under=p3.id)] == [
        "anthropic:claude-sonnet-5-5",
        "openrouter:deepseek/deepseek-v4-flash",
    ]


def test_reports_show_totals_per_branch():
    g = build_sample_graph()
    md = export_markdown(g)
    part = md.split("## Totals per branch")[1].split("## Session totals")[0]
    assert "| Claude Sonnet 5.5's synthesis in 1.3 | 4 |" in part
    assert "DeepSeek V4.1 Flash's answer in 1.1 — “Make it stream" in part
    assert part.count("\n| ") == 5  # the head and four branches
    page = export_html(g)
    assert "<h2>Totals per branch</h2>" in page
    branch_table = page.split("<h2>Totals per branch</h2>")[1].split("</table>")[0]
    assert branch_table.count("<tr>") == 5 and "synthesis in 1.3" in branch_table


def test_answer_headings_sit_below_the_model_heading():
    assert demote_headings("# Title\n\ntext\n\n```\n# not a heading\n```\n") == (
        "#### Title\n\ntext\n\n```\n# not a heading\n```\n"
    )
    assert demote_headings("Big\n===\n\nSmall\n---\n") == "#### Big\n\n##### Small\n"
    assert demote_headings("##### five\n") == "###### five\n"


# --------------------------------------------------------------------------- defang


HOSTILE_SNIPPETS = [
    "<img src=x onerror=alert(1)>",
    "<script>alert(1)</script>",
    "<SCRIPT SRC=//evil/x.js></SCRIPT>",
    "[x](javascript:alert(1))",
    "[x]( JaVaScRiPt:alert(1) )",
    "[x](java&#115;cript:alert(1))",
    "[x](<javascript:alert(1)>)",
    "<javascript:alert(1)>",
    "![t](http://127.0.0.1:9/x.png)",
    "![t][ref]\n\n[ref]: http://127.0.0.1:9/x.png",
    "[x][r]\n\n[r]: javascript:alert(1)",
    "<iframe src=https://evil></iframe>",
    "<!-- hidden --><style>body{background:url(http://x)}</style>",
    "<b>\n<img src=x onerror=alert(1)>\n</b>",
    "<http://a`b> <img src=x onerror=alert(1)> `",
    "- item <svg onload=alert(1)>\n  > <a href=javascript:alert(1)>x</a>",
    "<details open ontoggle=alert(1)>",
    "[a](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
]


@pytest.mark.parametrize("snippet", HOSTILE_SNIPPETS)
def test_defang_leaves_nothing_live(snippet):
    out = defang_markdown(snippet)
    assert live_content(out) is None
    assert inspect(careless_viewer(out)).problems == []


def test_defang_keeps_ordinary_markdown_as_is():
    assert defang_markdown(R1_TEXT) == R1_TEXT
    code = "Use `<div>` or:\n\n```html\n<script src=x></script>\n```\n\n    <img src=y>\n"
    assert defang_markdown(code) == code  # code spans and blocks are never touched
    for keep in (
        "a < b and c > d",
        "line<br>break, H<sub>2</sub>O",
        "<https://example.com>",
        "[ok](https://x.y/z)",
    ):
        assert defang_markdown(keep) == keep
    shown = careless_viewer(defang_markdown("<script>alert(1)</script>"))
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in shown  # visible as text


def test_defang_closes_a_cut_off_code_block():
    out = defang_markdown("Use this:\n\n```rust\nlet x = ")
    assert out.endswith("\n```")
    assert defang_markdown("~~~~\ncode") == "~~~~\ncode\n~~~~"


# --------------------------------------------------------------------------- markdown report


def test_markdown_report_contains_every_answer_and_table():
    g = build_sample_graph()
    md = export_markdown(g, ExportOptions())
    assert md.startswith(f"# {g.session.title}\n")
    assert "created 2025-11-1" in md
    for node in g.nodes.values():
        if node.is_answer and "Careful" not in node.text and node.text != R1_TEXT:
            assert defang_markdown(node.text).rstrip("\n") in md
    assert R1_TEXT.rstrip("\n") in md and S1_TEXT.rstrip("\n") in md
    for model, name in MODELS.items():
        assert f"### {name} ({model})" in md
        assert re.search(rf"^\| {re.escape(name)} \(`{re.escape(model)}`\)", md, re.M), model
    assert (
        "| DeepSeek V4.1 Flash (`deepseek:deepseek-flash`) ⚡ fastest · cheapest | done | 310 ms | 100 |"
        in md
    )
    assert "error · network: connection reset mid-answer" in md
    assert "$0.000151 (reported)" in md


def test_markdown_report_structure_in_tree_order():
    md = export_markdown(build_sample_graph())
    headings = [line for line in md.splitlines() if line.startswith("## ")]
    assert headings == [
        "## Prompt 1: CSV parsing → to DeepSeek V4.1 Flash, Claude Sonnet 5.5, GPT-6.2 Sol",
        "## Follow-up 1.1 → to DeepSeek V4.1 Flash",
        "## Follow-up 1.2 → to Claude Sonnet 5.5, DeepSeek V4.1 Flash (OpenRouter)",
        "## Synthesis 1.3 (judge) by Claude Sonnet 5.5",
        "## Note 2",
        "## Totals per branch",
        "## Session totals",
    ]
    assert "> How do I parse a **large** CSV file in Rust?" in md
    assert "*After DeepSeek V4.1 Flash's answer in 1.*" in md
    assert "*With context from DeepSeek V4.1 Flash's answer in 1.*" in md
    sources = md.split("## Synthesis 1.3")[1].split("###")[0]
    assert "1. DeepSeek V4.1 Flash's answer in 1 (done)" in sources
    assert "3. GPT-6.2 Sol's answer in 1 (error · network: connection reset mid-answer)" in sources
    assert "| 7 | 3,882 | 460 | 1,198 | 216 | $0.0119 |" in md
    # the cut-off answer's code block is closed: every table after it still renders as a table
    tables = [t for t in MarkdownIt("commonmark").enable("table").parse(md) if t.type == "table_open"]
    assert len(tables) == 6  # R1's own, three comparisons, branch totals, session totals


def test_markdown_reasoning_in_details_or_left_out():
    g = build_sample_graph()
    md = export_markdown(g)
    assert md.count("<details><summary>Reasoning</summary>") == 2
    assert "The user wants streaming." in md
    md = export_markdown(g, ExportOptions(include_reasoning=False))
    assert "<details>" not in md and "The user wants streaming." not in md


def test_markdown_report_is_inert_in_a_careless_viewer():
    """Nothing live but the model's own Markdown pictures. The .md report keeps `![t](url)` exactly as
    the model wrote it (decided for issue #20): a .md file is the model's text, Triptych itself never
    opens or fetches it, and the reader's viewer shows the picture the model meant. Cards, the HTML
    and canvas exports keep pictures inert (a plain link, never fetched); raw `<img>` HTML stays text."""
    md = export_markdown(build_sample_graph())
    page = careless_viewer(md)
    ins = inspect(page)
    assert [a for t, a in ins.tags if t == "img"] == [{"src": "http://127.0.0.1:9/x.png", "alt": "t"}]
    assert [p for p in ins.problems if p not in ("<img>", "src= on <img>")] == []
    assert "<script>alert(1)</script>" in ins.visible  # shown, not run
    assert "<img src=x onerror=alert(1)>" in ins.visible


def test_markdown_scope_path():
    g = build_sample_graph()
    r4 = node_with_text(g, "count with `.count()`")
    md = export_markdown(g, ExportOptions(scope="path", node_ids=(r4.id,)))
    assert "Careful with user input" not in md and "## Synthesis" not in md
    assert "count with `.count()`" in md and "memory stays flat" in md


# --------------------------------------------------------------------------- HTML page


def test_html_is_one_inert_self_contained_file():
    page = export_html(build_sample_graph())
    ins = inspect(page)
    assert ins.problems == []
    metas = [a for t, a in ins.tags if t == "meta" and a.get("http-equiv")]
    assert metas == [
        {"http-equiv": "Content-Security-Policy", "content": "default-src 'none'; style-src 'unsafe-inline'"}
    ]
    # the image became a plain link: nothing is fetched unless the reader clicks it
    assert not any("127.0.0.1" in v for t, a in ins.tags if t != "a" for v in a.values())
    assert "@media (prefers-color-scheme: dark)" in page
    assert "<script" not in page.lower().replace("&lt;script", "")
    assert "onerror=" not in page.replace("onerror=alert(1)&gt;", "")


def test_html_shows_hostile_text_as_text():
    ins = inspect(export_html(build_sample_graph()))
    assert "<img src=x onerror=alert(1)>" in ins.visible
    assert "<script>alert(1)</script>" in ins.visible


def test_html_contains_every_answer_side_by_side_with_the_table():
    g = build_sample_graph()
    page = export_html(g)
    ins = inspect(page)
    text = ins.visible
    for fragment in (
        "memory stays flat 🚀",
        "中文说明：使用",
        'let mut rdr = csv::Reader::from_path("big.csv")?;',
        "fn main() -> Result<(), Box<dyn Error>> {",
        "Combined: read with csv::Reader, deserialize, count. 完成 ✅",
        "Claude's answer is the most complete",
        "Remember to benchmark with a",
    ):
        assert fragment in text, fragment
    lanes = [a for t, a in ins.tags if t == "div" and "lanes" in a.get("class", "").split()]
    assert [a["style"] for a in lanes][:1] == ["--n:3"]
    assert ".lanes {" in page and "grid-template-columns" in page
    articles = [a for t, a in ins.tags if t == "article"]
    assert len(articles) == 7  # every answer is a lane
    tables = page.split('<table class="cmp">')[1:]
    assert len(tables) == 3
    for model, name in MODELS.items():
        assert any(name in t and model in t for t in tables), model
    assert "⚡ fastest" in tables[0].split("</tr>")[1]  # DeepSeek's row
    assert "Session totals" in text
    assert page.count("<summary>Reasoning</summary>") == 2


WIDE_TABLE = (
    "| Model | Provider | Context window | Input price | Output price | Throughput | Latency (p50) "
    "| Reasoning support | Licence | Notes |\n|---|---|---|---|---|---|---|---|---|---|\n"
    "| claude-sonnet-4 | Anthropic | 200k tokens | $3 per million | $15 per million | 78 tok/s | 1.9 seconds "
    "| extended thinking | proprietary | strong at refactoring large codebases |\n"
)


def test_html_tables_scroll_sideways_with_whole_words():
    """A wide table in an answer scrolls sideways in its own box; its words are never split (the lane's
    `overflow-wrap: anywhere` split them a few letters per line)."""
    g = build_sample_graph()
    node_with_text(g, "中文说明").text = "Compared:\n\n" + WIDE_TABLE + "\nPick by budget."
    page = export_html(g)
    assert inspect(page).problems == []
    boxes = re.findall(r'<div class="table-scroll" style="overflow-x:auto;max-width:100%"><table[^>]*>', page)
    assert len(boxes) >= 2  # the wide table and the sample's own, one box each
    assert page.count('<div class="table-scroll"') == page.count("</table></div>")
    wide = page[page.index("Context window") - 2000 : page.index("Pick by budget.")]
    cells = re.findall(r"<t[hd][ >][^>]*>", wide)
    assert len(cells) == 20 and all("overflow-wrap:normal" in c and "white-space:normal" in c for c in cells)
    assert ".answer .table-scroll {" in page and "overflow-x: auto" in page.split(".answer .table-scroll {")[1]


def test_html_reasoning_can_be_left_out():
    page = export_html(build_sample_graph(), ExportOptions(include_reasoning=False))
    assert "<summary>Reasoning</summary>" not in page
    assert "The user wants streaming" not in page


def test_html_anchor_links_point_at_existing_cards():
    ins = inspect(export_html(build_sample_graph()))
    ids = {a["id"] for _, a in ins.tags if "id" in a}
    hrefs = [a["href"] for t, a in ins.tags if t == "a" and a.get("href", "").startswith("#")]
    assert hrefs and all(h[1:] in ids for h in hrefs)


def test_graph_helpers_used_by_reports():
    g = build_sample_graph()
    synth = next(n for n in g.nodes.values() if n.kind == NodeKind.SYNTHESIS)
    assert len(g.parents(synth.id, (EdgeRole.SOURCE,))) == 3


def test_markdown_report_keeps_pictures_and_details_open_as_written():
    """`<details open>` was escaped (`\\<details open>`) and pictures became `\\![t](url)` text in the .md
    report; now both are kept as the model wrote them (pictures only from http(s), relative and
    inline raster sources; anything scripted is still broken up), while the HTML export of the same
    answer still fetches nothing."""
    g = build_sample_graph()
    text = (
        "<details open>\n<summary>Proof</summary>\n\nBy induction.\n\n</details>\n\n"
        "The plot: ![loss curve](https://example.com/loss.png), local ![arch](figures/arch.png), "
        "inline ![dot](data:image/png;base64,iVBORw0KGgo=) and by reference ![ref][fig].\n\n"
        "[fig]: https://example.com/fig.png\n\n"
        "Not these: ![x](javascript:alert(1)) <details open ontoggle=alert(1)>\n"
    )
    node_with_text(g, "中文说明").text = text
    md = export_markdown(g)
    for kept in (
        "<details open>\n<summary>Proof</summary>",
        "![loss curve](https://example.com/loss.png)",
        "![arch](figures/arch.png)",
        "![dot](data:image/png;base64,iVBORw0KGgo=)",
        "![ref][fig]",
        "[fig]: https://example.com/fig.png",
    ):
        assert kept in md, kept
    assert "\\<details open>" not in md
    assert "![x]\\(javascript:alert(1))" in md and "\\<details open ontoggle=alert(1)>" in md
    shown = inspect(careless_viewer(md))
    assert {a["src"] for t, a in shown.tags if t == "img"} >= {
        "https://example.com/loss.png", "figures/arch.png", "https://example.com/fig.png"
    }
    assert not any(k.startswith("on") for t, a in shown.tags for k in a)
    page = inspect(export_html(g))
    assert page.problems == []  # the HTML export: the same pictures are plain links
    assert "https://example.com/loss.png" in [a.get("href") for t, a in page.tags if t == "a"]


def test_markdown_report_keeps_the_tags_the_cards_render_and_escapes_the_rest():
    """The .md report rendered `<b>bold?</b>` as bold while the card (and focus mode) showed it as text:
    one list of inline tags for both (app.render.markdown.SAFE_INLINE_TAGS)."""
    g = build_sample_graph()
    node_with_text(g, "中文说明").text = "Press <kbd>Ctrl</kbd>+<kbd>C</kbd>, x<sup>2</sup>, <mark>note</mark>; <b>bold?</b>"
    md = export_markdown(g)
    assert "<kbd>Ctrl</kbd>+<kbd>C</kbd>" in md and "x<sup>2</sup>" in md and "<mark>note</mark>" in md
    assert "<b>bold?</b>" not in md and "bold?" in md
