"""app.render: markdown → safe, inline-styled HTML (no Qt needed)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from html.parser import HTMLParser
from pathlib import Path

import pytest

from app.render import (
    CodeBlock,
    CodeHighlighter,
    document_css,
    extract_code_blocks,
    get_theme,
    highlight_code,
    is_safe_url,
    render_markdown,
    render_plain,
    sanitize_check,
)
from app.render.markdown import CODE_LABEL_STATE

REPO = Path(__file__).resolve().parents[2]


class _Collect(HTMLParser):
    """All start tags with their attributes, and the visible text."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str]]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, {k: v or "" for k, v in attrs}))

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def _parse(html: str) -> _Collect:
    c = _Collect()
    c.feed(html)
    c.close()
    return c


def _visible(html: str) -> str:
    return "".join(_parse(html).text)


# -- structure and styling --------------------------------------------------------------------


def test_blocks_render_with_inline_styles_only() -> None:
    md = (
        "# Title\n\nSome *em* and **strong** and ~~gone~~ and `inline`.\n\n"
        "- one\n- two\n  1. nested\n\n> quoted\n\n---\n\n"
        "| name | n |\n|:-----|--:|\n| a | 1 |\n| b | 22 |\n"
    )
    html = render_markdown(md)
    tags = [t for t, _ in _parse(html).tags]
    for tag in ("h1", "em", "strong", "s", "code", "ul", "ol", "li", "blockquote", "hr", "table", "th", "td"):
        assert tag in tags, tag
    assert 'class="' not in html  # QTextDocument ignores classes: everything is inline
    assert sanitize_check(html) == []


def test_table_has_borders_and_padding_qtextdocument_honours() -> None:
    html = render_markdown("| a | b |\n|---|--:|\n| 1 | 2 |\n")
    table = next(attrs for tag, attrs in _parse(html).tags if tag == "table")
    assert table["border"] == "1"
    assert table["cellpadding"] == "4"
    assert table["cellspacing"] == "0"
    assert "border-collapse:collapse" in table["style"]
    right = [
        attrs for tag, attrs in _parse(html).tags if tag in ("th", "td") and attrs.get("align") == "right"
    ]
    assert len(right) == 2  # the aligned column, header and cell


def test_inline_code_has_a_subtle_background() -> None:
    html = render_markdown("Use `x < y` here.")
    code = next(attrs for tag, attrs in _parse(html).tags if tag == "code")
    assert get_theme("light").inline_code_background in code["style"]
    assert "x &lt; y" in html


def test_code_fence_is_highlighted_with_coloured_spans() -> None:
    html = render_markdown("```python\ndef f(x):\n    return x  # comment\n```\n")
    assert html.startswith("<div><p ")  # one top-level block: the language header, then the code
    spans = [attrs["style"] for tag, attrs in _parse(html).tags if tag == "span"]
    assert any(s.startswith("color:#") for s in spans)
    assert any("font-style:italic" in s for s in spans)  # the comment
    assert _visible(html).strip() == "Pythondef f(x):\n    return x  # comment"


def test_every_code_block_is_labelled_with_its_language() -> None:
    text = "```py\nx = 1\n```\n\n```frobnicate\nzz\n```\n\n```\nplain\n```\n\n    indented\n"
    html = render_markdown(text)
    labels = re.findall(rf"-qt-user-state:{CODE_LABEL_STATE};[^>]*>([^<]*)</p><pre ", html)
    assert labels == ["Python", "frobnicate", "code", "code"]
    assert html.count("<pre") == len(extract_code_blocks(text))


def test_light_and_dark_code_differ() -> None:
    src = "```python\nimport os\n```"
    light, dark = render_markdown(src, "light"), render_markdown(src, "dark")
    assert get_theme("light").code_background in light
    assert get_theme("dark").code_background in dark
    assert light != dark


@pytest.mark.parametrize("fence", ["```\n", "```nosuchlanguage\n", "```text\n", "~~~\n"])
def test_unknown_or_missing_language_is_plain_escaped_code(fence: str) -> None:
    html = render_markdown(f"{fence}if a < b && c:\n    <script>\n{fence[:3]}\n")
    assert "<span" not in html
    assert "if a &lt; b &amp;&amp; c:\n    &lt;script&gt;" in html
    assert "<script" not in html


def test_cjk_and_emoji_pass_through_untouched() -> None:
    text = "中文：你好，世界。日本語のテキスト 한국어 😀🚀👩‍💻 café"
    html = render_markdown(f"# {text}\n\n{text}\n\n| {text} |\n|---|\n| {text} |\n\n```\n{text}\n```")
    assert html.count(text) == 5  # heading, paragraph, header cell, body cell, code
    assert render_plain(text).count(text) == 1


def test_render_markdown_is_pure_and_cached() -> None:
    a = render_markdown("same *text*")
    assert render_markdown("same *text*") is a
    with pytest.raises(ValueError):
        render_markdown("x", "purple")


def test_document_css_is_safe() -> None:
    for name in ("light", "dark"):
        css = document_css(name)
        assert sanitize_check(f"<style>{css}</style>") == []
        assert get_theme(name).link in css


# -- safety -------------------------------------------------------------------------------------

HOSTILE = [
    "<script>alert(1)</script>",
    "<img src=x onerror=alert(1)>",
    '<iframe src="http://evil.example/"></iframe>',
    "<style>body{background:url(http://evil.example/x)}</style>",
    '<a href="javascript:alert(1)">click</a>',
    "<svg onload=alert(1)>",
    '<object data="http://evil.example/x.swf"></object><embed src=x>',
    '<link rel=stylesheet href="http://evil.example/x.css"><meta http-equiv=refresh content="0;url=http://e">',
    "[click](javascript:alert(1))",
    "[click](JaVaScRiPt:alert(1))",
    "[click](&#106;avascript:alert(1))",
    "[click](&#x6A;&#x61;vascript:alert(1))",
    "[click](java&#x09;script:alert(1))",
    "[click]( javascript:alert(1))",
    "[click](<javascript:alert(1)>)",
    "[click](vbscript:msgbox(1))",
    "[click](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)",
    "[click](file:///etc/passwd)",
    "<javascript:alert(1)>",
    "[ref]\n\n[ref]: javascript:alert(1)",
    "![x](http://tracker.example/pixel.png)",
    "![x](javascript:alert(1))",
    "![x](data:image/png;base64,iVBORw0KGgo=)",
    '![x](http://h/a.png "title")',
    "[![x](http://h/a.png)](https://ok.example/)",
    '<a href="http://ok.example" onclick="steal()">x</a>',
    "`<img src=x onerror=alert(1)>`",
    "```html\n<img src=x onerror=alert(1)><script>alert(1)</script>\n```",
    "| <script>x</script> |\n|---|\n| <img src=x> |",
]


@pytest.mark.parametrize("source", HOSTILE)
@pytest.mark.parametrize("theme", ["light", "dark"])
def test_hostile_input_renders_inert(source: str, theme: str) -> None:
    html = render_markdown(source, theme)
    assert sanitize_check(html) == []
    for tag, attrs in _parse(html).tags:
        assert tag not in ("script", "img", "iframe", "object", "embed", "style", "link", "meta", "svg")
        assert not any(name.startswith("on") for name in attrs), (tag, attrs)
        assert "src" not in attrs
        if "href" in attrs:
            assert attrs["href"].startswith(("http://", "https://", "mailto:")), attrs
    lowered = html.lower()
    for raw in ("<script", "<img", "<iframe", "<svg", "<style", 'href="javascript', "href='javascript"):
        assert raw not in lowered


def test_raw_html_is_shown_as_text() -> None:
    html = render_markdown('<img src=x onerror=alert(1)> and <a href="javascript:x">a</a>')
    assert _visible(html).strip() == '<img src=x onerror=alert(1)> and <a href="javascript:x">a</a>'


def test_image_becomes_text_and_a_link_never_an_img() -> None:
    html = render_markdown("![a chart](https://example.com/chart.png)")
    assert "<img" not in html
    assert "[image: a chart]" in _visible(html)
    links = [attrs["href"] for tag, attrs in _parse(html).tags if tag == "a"]
    assert links == ["https://example.com/chart.png"]
    assert "[image]" in _visible(render_markdown("![](http://h/x.png)"))


def test_image_inside_a_link_does_not_nest_anchors() -> None:
    html = render_markdown("[![logo](http://h/l.png)](https://ok.example/)")
    assert [t for t, _ in _parse(html).tags].count("a") == 1
    assert "http://h/l.png" in _visible(html)


def test_unsafe_link_keeps_its_text_and_shows_the_url_as_text() -> None:
    html = render_markdown("[files](ftp://host/f) and [rel](docs/page.html) and [ok](mailto:a@b.example)")
    hrefs = [attrs["href"] for tag, attrs in _parse(html).tags if tag == "a"]
    assert hrefs == ["mailto:a@b.example"]
    visible = _visible(html)
    assert "files (ftp://host/f)" in visible
    assert "rel (docs/page.html)" in visible


def test_hrefs_are_escaped() -> None:
    html = render_markdown('[x](https://e.example/?q="><script>&a=1)')
    assert "<script" not in html
    assert sanitize_check(html) == []


def test_autolinks_work() -> None:
    html = render_markdown("<https://example.com/a> and <me@example.com>")
    hrefs = [attrs["href"] for tag, attrs in _parse(html).tags if tag == "a"]
    assert hrefs == ["https://example.com/a", "mailto:me@example.com"]


@pytest.mark.parametrize(
    ("url", "safe"),
    [
        ("http://example.com", True),
        ("https://example.com/a?b=c#d", True),
        ("HTTPS://EXAMPLE.COM", True),
        ("mailto:someone@example.com", True),
        ("javascript:alert(1)", False),
        ("JavaScript:alert(1)", False),
        ("  javascript:alert(1)", False),
        ("java\tscript:alert(1)", False),
        ("java\nscript:alert(1)", False),
        ("&#106;avascript:alert(1)", False),
        ("&#x6A;avascript:alert(1)", False),
        ("javascript&colon;alert(1)", False),
        ("vbscript:msgbox", False),
        ("data:text/html,<script>", False),
        ("file:///etc/passwd", False),
        ("ftp://host/", False),
        ("//evil.example/x", False),
        ("/relative/path", False),
        ("#anchor", False),
        ("http:/x", False),
        ("http:///x", False),
        ("mailto:", False),
        ("", False),
    ],
)
def test_is_safe_url(url: str, safe: bool) -> None:
    assert is_safe_url(url) is safe


@pytest.mark.parametrize(
    "bad",
    [
        "<script>x</script>",
        "<img src=x>",
        "<iframe></iframe>",
        "<object></object>",
        "<embed>",
        '<link rel="stylesheet" href="https://x">',
        '<meta http-equiv="refresh" content="0">',
        "<style>a{background:url(http://x)}</style>",
        "<style>@import 'x.css';</style>",
        "<style>a{background:u\\72l(http://x)}</style>",
        '<div onclick="x()">',
        '<p ONMOUSEOVER="x()">',
        '<a href="javascript:x()">',
        '<a href="&#106;avascript:x()">',
        '<a href="data:text/html,x">',
        '<a href="relative.html">',
        '<p style="background-image:url(http://x)">',
        '<video poster="http://x">',
        '<form action="http://x">',
    ],
)
def test_sanitize_check_finds_problems(bad: str) -> None:
    assert sanitize_check(bad)


def test_sanitize_check_accepts_safe_documents() -> None:
    ok = (
        '<meta charset="utf-8"><style>body{color:#000}</style>'
        '<a href="#totals">x</a><a href="https://e.example">y</a><a href="mailto:a@b">z</a>'
        '<pre style="background-color:#fff">code</pre><table border="1"><tr><td>1</td></tr></table>'
    )
    assert sanitize_check(ok) == []


# -- reasoning, code blocks, highlighter --------------------------------------------------------


def test_render_plain_escapes_and_keeps_line_breaks() -> None:
    html = render_plain("first <b>line</b>\nsecond *not markdown*\n\nnew paragraph\r\nend")
    assert html.count("<p ") == 2
    assert "<br>" in html
    assert "&lt;b&gt;" in html and "<b>" not in html
    assert "*not markdown*" in html
    assert get_theme("light").muted in html
    assert render_plain("") == "" and render_plain("\n \n") == ""
    assert sanitize_check(render_plain("<script>x</script>")) == []


def test_extract_code_blocks() -> None:
    text = (
        "Intro\n\n```python\nprint('hi')\n\nprint('again')\n```\n\n"
        "- item\n\n  ~~~bash title=x\n  echo nested\n  ~~~\n\n"
        "Para.\n\n    indented code\n\n"
        "```\nno language\n```\n\n"
        "```js\nunclosed()\n"
    )
    blocks = extract_code_blocks(text)
    assert blocks == [
        CodeBlock("python", "print('hi')\n\nprint('again')", 2),
        CodeBlock("bash", "echo nested", 10),
        CodeBlock("", "indented code", 16),
        CodeBlock("", "no language", 18),
        CodeBlock("js", "unclosed()", 22),
    ]
    assert render_markdown(text).count("<pre") == len(blocks)
    assert extract_code_blocks("no code here") == []


def test_footnotes_are_numbered_by_definition_and_listed_at_the_end() -> None:
    """Notes keep the number of their definition's place (a streamed answer never renumbers a
    note it showed); the first definition of a label wins; every defined note is listed."""
    text = (
        "Later[^b], first[^a], again[^b], undefined[^c].\n\n[^a]: Note A.\n[^b]: Note B.\n\n"
        "    ```py\n    note_code()\n    ```\n[^a]: Not shown.\n[^d]: Never cited.\n\n```\nbody_code()\n```\n\nAfter."
    )
    html = render_markdown(text)
    assert re.findall(r"<sup[^>]*>(\d+)</sup>", html) == ["2", "1", "2"]
    assert "undefined[^c]" in html
    body, notes = html.split("<ol", 1)
    assert "After." in body and "Note" not in body
    assert notes.index("Note A") < notes.index("Note B") < notes.index("note_code") < notes.index("Never cited")
    assert "Not shown" not in html
    # Copy buttons follow the <pre> order: the code of the notes comes last.
    assert [b.code for b in extract_code_blocks(text)] == ["body_code()", "note_code()"]
    assert html.count("<pre") == 2


def test_code_highlighter_matches_one_shot_for_line_oriented_code() -> None:
    code = "".join(f"def f{i}(x: int) -> str:\n    return str(x * {i})  # n\n\n" for i in range(40))
    for lang in ("python", "javascript", "rust", "nosuchlang"):
        hl = CodeHighlighter(lang)
        out = ""
        for i in range(0, len(code) + 7, 7):
            out = hl.feed(code[:i])
        assert out == (highlight_code(code, lang) if lang != "nosuchlang" else out)
    assert highlight_code("x = 1", "nosuchlang") is None


# -- benchmark smoke ------------------------------------------------------------------------------


def test_render_bench_smoke_prints_json_lines() -> None:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.run(
        [sys.executable, "-m", "bench.render_bench", "--smoke"],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    lines = [json.loads(line) for line in proc.stdout.splitlines() if line.strip()]
    names = {line["name"] for line in lines}
    assert names == {
        "render.stream_update",
        "render.adversarial_flushes",
        "render.open_code_update",
        "render.speedup_vs_full_rerender",
    }
    for line in lines:
        assert set(line) >= {"name", "figures", "target", "pass"}
        assert isinstance(line["figures"], dict) and isinstance(line["target"], dict)
        assert isinstance(line["pass"], bool)
    stream = next(line for line in lines if line["name"] == "render.stream_update")
    assert stream["figures"]["identical_final"] is True
    adversarial = next(line for line in lines if line["name"] == "render.adversarial_flushes")
    assert adversarial["figures"]["identical_final"] is True
    assert adversarial["figures"]["window_updates"] > adversarial["figures"]["places"] > 0
