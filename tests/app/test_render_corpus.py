"""Realistic answers (tests/app/corpus): formulas, GitHub extras, inline HTML, RTL, emoji, mermaid,
rendered for a card, for the HTML export and kept in the Markdown export."""

from __future__ import annotations

import html as htmllib
import re
from pathlib import Path

import pytest

from app.export.markdown import defang_markdown, fit_headings
from app.render.incremental import IncrementalRenderer
from app.render.markdown import render_markdown, sanitize_check
from app.render.math import formula_of, math_spans
from tests.app.test_render import _parse, _visible

CORPUS = Path(__file__).parent / "corpus"
NAMES = sorted(p.stem for p in CORPUS.glob("*.md"))


def corpus(name: str) -> str:
    return (CORPUS / f"{name}.md").read_text(encoding="utf-8")


parse, visible = _parse, _visible  # one HTML reader for the render tests (tests/app/test_render.py)


def formula_images(html: str) -> list[dict[str, str]]:
    return [a for t, a in parse(html).tags if t == "img"]


# ------------------------------------------------------------------------------------------ formulas

SCIENCE_FORMULAS = [
    "$I = \\int_{-\\infty}^{\\infty} e^{-x^2}\\,dx$",
    "$$\nI^2 = \\int_0^{2\\pi}\\!\\int_0^\\infty e^{-r^2}\\, r\\,dr\\,d\\theta = \\pi\n$$",
    "$I = \\sqrt{\\pi}$",
    "\\[\n\\oint_{\\partial \\Omega} \\mathbf{F}\\cdot d\\mathbf{S} = \\iiint_\\Omega \\nabla\\cdot\\mathbf{F}\\,dV\n\\]",
    "\\(\\{x \\in \\mathbb{R} \\mid x^2 < 2\\}\\)",
    "$\\|v\\|_2 = \\sqrt{v_1^2 + v_2^2}$",
    "$A = \\begin{pmatrix} a & b \\\\ c & d \\end{pmatrix}$",
    "$\\det A = ad - bc$",
    "$pV = nRT$",
    "$R \\approx 8.314\\ \\mathrm{J\\,mol^{-1}\\,K^{-1}}$",
]


def test_card_shows_every_formula_as_a_picture_whose_source_is_exact() -> None:
    text = corpus("science_math")
    for f in SCIENCE_FORMULAS:
        assert f in text  # the list is the corpus' formulas as written
    imgs = formula_images(render_markdown(text))
    assert [a["alt"] for a in imgs] == SCIENCE_FORMULAS  # alt: the exact source, nothing eaten
    for a in imgs:
        assert a["src"].startswith("triptych-math:")
        latex, _display = formula_of(a["src"].split(":", 1)[1])
        assert latex.strip() in a["alt"]  # the picture is drawn from the exact formula
    shown = visible(render_markdown(text))
    for mangled in ("[\n", "\\{", "\\,", "I = [", "( \\{"):
        assert mangled not in shown


def test_escapes_brackets_and_emphasis_inside_formulas_are_left_alone() -> None:
    md = r"Thin space $a\,b$, newline $a \\ b$, braces \(\{x\}\), norm $\|x\|$, and $a*X + b*$ here."
    html = render_markdown(md)
    alts = [a["alt"] for a in formula_images(html)]
    assert alts == [r"$a\,b$", r"$a \\ b$", r"\(\{x\}\)", r"$\|x\|$", "$a*X + b*$"]
    assert "<em>" not in html
    export = render_markdown(md, target="export")
    assert export.count("<math") == 5 and "<em>" not in export


def test_bracket_delimiters_do_not_become_plain_brackets() -> None:
    html = render_markdown("Inline \\(x^2\\) and display:\n\n\\[\nx = 1\n\\]\n")
    assert [a["alt"] for a in formula_images(html)] == ["\\(x^2\\)", "\\[\nx = 1\n\\]"]
    assert "(x^2)" not in visible(html) and "[" not in visible(html)


@pytest.mark.parametrize(
    "text",
    [
        "Plan A costs $5 and plan B costs $10 per month.",
        "It went from $5 to $6, then $60 vs $120.",
        "Pay $5, or $ 10, or 3$ and 4$.",
        "Prices: $5 and $10; then $a$ is math.",
        "| a | b |\n|---|---|\n| $5 | $10 |",
    ],
)
def test_currency_is_not_math(text: str) -> None:
    html = render_markdown(text)
    assert "$5" in visible(html)
    assert all(not a["alt"].startswith("$5") for a in formula_images(html))
    if "$a$" not in text:
        assert "<img" not in html and "<math" not in render_markdown(text, target="export")


def test_a_pipe_inside_a_formula_keeps_a_table_cell_whole() -> None:
    text = corpus("finance")
    html = render_markdown(text)
    rows = re.findall(r"<tr>(.*?)</tr>", html, re.S)
    assert [r.count("<td") + r.count("<th") for r in rows] == [3, 3, 3, 3]
    alts = [a["alt"] for a in formula_images(html)]
    assert "$|x - \\hat{x}|$" in alts and "$\\sigma = \\sqrt{\\mathrm{Var}(R)}$" in alts
    assert "costs $5 and plan B costs $10" in visible(html)
    assert "$5 → $6 is 20%" in visible(html)
    assert "a*X + b*" in visible(html) or "$a*X + b*$" in alts
    assert "\\$ escaped" not in visible(html) and "$ escaped stays a dollar" in visible(html)


def test_a_formula_that_does_not_parse_shows_its_exact_source_as_code() -> None:
    html = render_markdown(corpus("ml"))
    assert '<code style="' in html and "$\\frac{a}{$</code>" in html
    export = render_markdown(corpus("ml"), target="export")
    assert "$\\frac{a}{$</code>" in export


def test_export_formulas_are_mathml_and_pass_the_safety_check() -> None:
    for name in ("science_math", "finance", "ml"):
        html = render_markdown(corpus(name), target="export")
        assert "<math" in html and "<img" not in html
        assert sanitize_check(html) == []
    html = render_markdown(corpus("science_math"), target="export")
    assert html.count("<math") == len(SCIENCE_FORMULAS)
    assert 'display="block"' in html


def test_an_unclosed_display_block_shows_its_source_until_it_closes() -> None:
    text = "Intro.\n\n$$\n\\mathcal{L} = -\\sum_i y_i\n"
    r = IncrementalRenderer()
    open_html = r.update(text)
    assert "<img" not in open_html and "<pre" in open_html
    assert "$$\n\\mathcal{L} = -\\sum_i y_i" in htmllib.unescape(open_html)
    closed = r.update(text + "$$\n\nAfter.\n", final=True)
    assert [a["alt"] for a in formula_images(closed)] == ["$$\n\\mathcal{L} = -\\sum_i y_i\n$$"]
    # a "$$" never closed before a blank line is text, not a formula
    assert "<img" not in render_markdown("$$ not math\n\nnext")


@pytest.mark.parametrize("name", NAMES)
def test_streaming_every_prefix_equals_the_one_shot_render(name: str) -> None:
    text = corpus(name)
    r = IncrementalRenderer()
    for end in range(7, len(text), 23):
        assert r.update(text[:end]) == render_markdown(text[:end]), repr(text[:end][-60:])
    assert r.update(text, final=True) == render_markdown(text)


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("target", ["card", "export"])
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_corpus_renders_inert(name: str, target: str, theme: str) -> None:
    html = render_markdown(corpus(name), theme, target=target)
    assert sanitize_check(html) == []
    for tag, attrs in parse(html).tags:
        assert tag not in ("script", "iframe", "object", "embed", "style", "link", "svg")
        assert not any(k.startswith("on") for k in attrs)
        if tag == "img":
            assert target == "card" and set(attrs) <= {"src", "alt", "align"}
            assert re.fullmatch(r"triptych-math:[0-9a-f]+", attrs["src"])


def test_math_spans_find_formulas_not_prices() -> None:
    line = r"costs $5 and $10; $a<b$ and \(x\) and $$y$$"
    assert [line[s:e] for s, e in math_spans(line)] == ["$a<b$", r"\(x\)", "$$y$$"]


# ------------------------------------------------------------------------------------ GitHub extras


def test_task_lists_show_glyphs() -> None:
    html = render_markdown(corpus("gfm"))
    shown = visible(html)
    assert "☑ Tests pass" in shown and "☐ Update the changelog" in shown
    assert "[ ]" not in shown and "[x]" not in shown
    export = render_markdown(corpus("gfm"), target="export")
    assert 'style="list-style-type:none"' in export


def test_alerts_are_titled_callouts_with_a_coloured_bar() -> None:
    html = render_markdown(corpus("gfm"))
    shown = visible(html)
    assert "[!NOTE]" not in shown and "[!WARNING]" not in shown
    assert "ℹ Note" in shown and "⚠ Warning" in shown
    bars = [a.get("bgcolor") for t, a in parse(html).tags if t == "td" and a.get("width") == "3"]
    assert bars == ["#0969da", "#9a6700", "#d1d9e0"]  # note, warning, plain quote
    dark = render_markdown(corpus("gfm"), "dark")
    assert [a.get("bgcolor") for t, a in parse(dark).tags if t == "td" and a.get("width") == "3"] == [
        "#4493f8",
        "#d29922",
        "#3d444d",
    ]
    export = render_markdown(corpus("gfm"), target="export")
    assert "border-left:3px solid #9a6700" in export


def test_footnotes_strikethrough_and_bare_links() -> None:
    html = render_markdown(corpus("gfm"))
    doc = parse(html)
    assert [t for t, _ in doc.tags].count("sup") == 2
    shown = visible(html)
    assert "[^why]" not in shown and "Because readers can skip them." in shown
    assert shown.index("Because readers") > shown.index("numbered ones")  # the notes come last
    assert "<s>deprecated</s>" in html
    hrefs = [a["href"] for t, a in doc.tags if t == "a"]
    # a URL with a scheme and a www. site; "main.py" and "notes.md" are file names
    assert hrefs == ["https://example.com/docs", "https://www.example.org/guide"]


# ------------------------------------------------------------------------------------ inline HTML


def test_safe_inline_html_renders_and_the_rest_stays_text() -> None:
    html = render_markdown(corpus("inline_html"))
    tags = [t for t, _ in parse(html).tags]
    for tag in ("kbd", "sub", "sup", "u", "br"):
        assert tag in tags, tag
    shown = visible(html)
    assert "a comment the model left" not in shown
    assert "<b>bold?</b>" in shown and '<span style="color:red">red?</span>' in shown
    assert "<script>alert(1)</script>" in shown
    assert "Show the proof" in shown and "The proof is short." in shown  # open in a card
    assert "details" not in tags  # QTextDocument has no <details>: the content shows
    export = render_markdown(corpus("inline_html"), target="export")
    assert "<details>" in export and "<summary" in export and "</details>" in export
    assert sanitize_check(export) == []


# ------------------------------------------------------------------------------------ RTL, mermaid


def test_export_blocks_carry_dir_auto() -> None:
    export = render_markdown(corpus("rtl_emoji"), target="export")
    assert export.count('dir="auto"') >= 4
    assert '<h2 dir="auto">مرحبا بالعالم</h2>' in export
    assert "🚀" in export and "✌️" in export


def test_mermaid_is_labelled_code_with_its_source_exact() -> None:
    text = corpus("mermaid")
    source = text.split("```mermaid\n")[1].split("```")[0]
    for target in ("card", "export"):
        html = render_markdown(text, target=target)
        assert "diagram (mermaid)" in visible(html)
        pre = re.search(r"<pre[^>]*>(.*?)</pre>", html, re.S)
        assert pre is not None and htmllib.unescape(re.sub(r"<[^>]+>", "", pre.group(1))) == source.rstrip("\n")
        assert "<img" not in html  # "$5?" inside the diagram is code, not a formula
    assert defang_markdown(text) == text


# ------------------------------------------------------------------------------------ Markdown export


@pytest.mark.parametrize("name", ["science_math", "finance", "ml", "mermaid", "gfm", "rtl_emoji"])
def test_markdown_export_keeps_the_source_exact(name: str) -> None:
    assert defang_markdown(corpus(name)) == corpus(name)


def test_markdown_export_keeps_safe_html_and_formulas_with_html_characters() -> None:
    text = corpus("inline_html")
    out = defang_markdown(text)
    for kept in ("<kbd>Ctrl</kbd>", "<details>", "<summary>Show the proof</summary>", "</details>", "H<sub>2</sub>O"):
        assert kept in out
    assert "\\<details>" not in out
    assert "\\<script>" in out  # still inert
    assert defang_markdown("If $a<b$ and \\(c>d\\) then.") == "If $a<b$ and \\(c>d\\) then."


def test_markdown_export_keeps_heading_levels_apart() -> None:
    assert fit_headings("## Intro\n\n### Detail\n\n#### Fine\n") == "#### Intro\n\n##### Detail\n\n###### Fine\n"
    assert fit_headings("# A\n## B\n### C\n#### D\n") == "#### A\n##### B\n###### C\n###### D\n"
    assert fit_headings("#### Already low\n") == "#### Already low\n"


# ------------------------------------------------------------------------------------ whole exports


def _graph_with(text: str):
    from tests.app.sample_graph import R1_TEXT, build_sample_graph, node_with_text

    g = build_sample_graph()
    node_with_text(g, R1_TEXT[:40]).text = text
    return g


def test_html_export_page_shows_mathml_rtl_and_distinct_small_headings() -> None:
    from app.export import ExportOptions, export_html

    text = corpus("science_math") + "\n\n" + corpus("rtl_emoji") + "\n\n#### Four\n\n##### Five\n\n###### Six\n"
    page = export_html(_graph_with(text), ExportOptions())
    assert page.count("<math") == 2 * len(SCIENCE_FORMULAS)  # light and dark copies
    assert '<p dir="auto">هذه فقرة' in page
    sizes = {h: re.search(rf"\.answer {h} \{{ font-size: ([.\d]+)em", page).group(1) for h in ("h4", "h5", "h6")}
    assert len(set(sizes.values())) == 3, sizes
    assert "<script" not in page and "<img" not in page


def test_markdown_export_keeps_formulas_html_and_heading_levels() -> None:
    from app.export import ExportOptions, export_markdown

    text = corpus("science_math").replace("## The Gaussian integral", "## Gaussian\n\n### Polar step") + (
        "\n\n" + corpus("inline_html")
    )
    md = export_markdown(_graph_with(text), ExportOptions())
    for f in SCIENCE_FORMULAS:
        assert f in md
    assert "#### Gaussian" in md and "##### Polar step" in md
    assert "<details>" in md and "\\<details>" not in md and "<kbd>Ctrl</kbd>" in md
    assert "\\<script>" in md


@pytest.mark.parametrize(
    "source",
    [
        "$<img src=x onerror=alert(1)>$",
        "$\\href{javascript:alert(1)}{x}$",
        "$\\text{<script>alert(1)</script>}$",
        "$\\style{background:url(http://x)}{x}$",
        "$\\style{background:url(x)}{x}$",
        '$\\color{red" onmouseover="x}{y}$',
        "$$\n<iframe src=http://x>\n$$",
    ],
)
@pytest.mark.parametrize("target", ["card", "export"])
def test_hostile_formulas_stay_inert(source: str, target: str) -> None:
    html = render_markdown(source, target=target)
    assert sanitize_check(html) == []
    for tag, attrs in parse(html).tags:
        assert tag not in ("script", "iframe", "a")
        assert not any(k.startswith("on") or k == "href" for k in attrs)
        assert "url" not in attrs.get("style", "")


def test_operator_names_keep_their_thin_space():
    """`\\det A` is set "det A" as TeX sets it, not glued into "detA" (ziamath and latex2mathml drop
    the thin space after an operator name); none is added before a delimiter."""
    from app.render.math import math_svg, mathml

    def width(tex: str) -> float:
        drawn = math_svg(tex, False, "#000000", 16.8)
        assert drawn is not None, tex
        found = re.search(r'viewBox="\S+ \S+ (\S+)', drawn[0])
        assert found is not None
        return float(found.group(1))

    assert width("\\det A") >= width("\\mathrm{det}A") + 2  # a thin space: 3/18 em
    for spaced in ("\\log n", "\\lim_{n\\to\\infty} a_n", "\\sin\\theta", "\\max_i x_i"):
        assert "mspace" in str(mathml(spaced)), spaced
    for tight in ("\\log(n)", "\\det", "\\sin\\left(x\\right)", "\\det\\,A"):
        assert str(mathml(tight)).count("mspace") == tight.count("\\,"), tight


def test_www_sites_are_links_over_https_and_file_names_and_addresses_stay_text() -> None:
    html = render_markdown("Docs at www.example.com/docs, code in main.py and notes.md; mail a@b.com.")
    doc = parse(html)
    hrefs = [a["href"] for t, a in doc.tags if t == "a"]
    assert hrefs == ["https://www.example.com/docs"]
    shown = visible(html)
    assert "main.py" in shown and "notes.md" in shown and "a@b.com" in shown
