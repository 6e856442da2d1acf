"""IncrementalRenderer: streamed rendering must match the one-shot render_markdown."""

from __future__ import annotations

import html
import random
import re

import pytest

from app.render import IncrementalRenderer, markdown, render_markdown
from app.render.markdown import InlineCache, new_env, render_inline

# Documents whose code is line-oriented for the lexer: streaming output must be byte-identical
# to the one-shot render on every prefix (not only at the end).
DOCS: list[str] = [
    # prose, headings, CJK, emoji, inline markup across chunk boundaries
    "# Heading 你好\n\nSome *prose* with `code`, **bold\nacross lines** and a [link](https://example.com). 😀🚀\n\n"
    "中文段落，包含标点。日本語のテキスト。한국어 텍스트.\n\nSetext\n======\n\nAnother\n---\n\nEnd with ~~strike~~.",
    # nested lists, tight and loose, lazy lines, ordered starts
    "- item one\n- item two\n  continued\n\n  nested para\n- item three\n  - nested a\n  - nested b\n\n"
    "    deep code\n\n3. three\n4. four\n\n1\n2. not a list\n\n1. a\n\n1\n\n1. b\nlazy line\n\nafter",
    # tables: alignment, inline markup, followed by paragraph rows and by a fence
    "| a | b | c |\n|:--|:-:|--:|\n| `x` | **y** | 1 |\n| 3 | 4 \\| 5 | 6 |\n\n| h |\n|---|\n| r1 |\nlazy row\n"
    "```\nfence ends table\n```\n| not | table |\n\ntext",
    # fenced code with blank lines inside, ~~~ fences, longer fences, info strings
    "Intro:\n```python\ndef f(x):\n    y = x + 1\n\n\n    return y  # done\n```\nAfter code.\n\n"
    "~~~\ntilde fence\n```\nstill in tilde\n~~~\n\n````text\n```\ninner\n```\n````\n\n``` `x`\nnot a fence\n",
    # unclosed fence at the end (mid-stream the whole time)
    "Here is the module:\n\n```js\nfunction f(a, b) {\n\n  return a * b; // times\n}\n\nconst s = `tpl ${f(1, 2)}`;\n",
    # indented fences, fence in a list item with an outdented line, indented code
    "  ```\n  indented fence\n\n   x\n  ```\n\n- item\n\n  ```\n  code in item\n\nout\n  ```\n\n"
    "    indented code\n\n    more\n\nnot code\n\n\ttab code\n",
    # blockquotes, nested, lazy, containing lists and code
    "> quote line\nlazy continuation\n\n> - a\n> - b\n>\n> ```\n> code\n> ```\n\n>> nested\n\n> new quote\n\nafter",
    # raw HTML and entities are text; hard breaks; hr variants
    "<div onclick=x>not html</div>\n\n<script>alert(1)</script>\n\nline with two spaces  \nnext\\\nthird\n\n"
    "&amp; &#x41; &copy; &notanentity;\n\n***\n___\n- - -\n\n[img ![alt](http://h/x.png)](https://z.com) <http://a.b/c>",
    # whitespace-only lines and trailing blanks
    "para\n   \n  \n\n\tnext\n\n \n\n- a\n \n- b\n\n\n\n",
    # windows newlines
    "line one\r\nline two\r\n\r\n```py\r\nx = 1\r\n\r\ny = 2\r\n```\r\n\r\n| a |\r\n|---|\r\n| b |\r\n",
    # a C block that closes normally
    '```c\n#include <stdio.h>\nint main(void) {\n    for (int i = 0; i < 3; i++) {\n        printf("%d\\n", i);\n'
    "    }\n    return 0;\n}\n```\n\nDone.",
]

SNIPPETS: list[str] = [
    "Plain paragraph with *emphasis* and `code` and a [link](https://example.com/a?b=1&c=2).",
    "Multi-line paragraph\nwith a soft break and **strong\ntext** across lines.",
    "# ATX heading",
    "## Heading with `code` 😀",
    "Setext heading\n===",
    "---",
    "- a\n- b\n- c",
    "- loose\n\n- list\n\n  with para",
    "1. one\n2. two\n   - nested\n   - more",
    "3. starts at three\n4. four",
    "> quote\n> more",
    "> quote\nlazy",
    "| x | y |\n|---|--:|\n| 1 | 2 |\n| 3 | 4 |",
    "```python\nimport os\n\n\ndef g():\n    return os.sep  # sep\n```",
    "~~~\nplain tilde\n\nwith blank\n~~~",
    "```\nno lang\n```",
    "    indented code\n\n    after blank",
    "中文 🎉 emoji and CJK 日本語",
    "<b>raw html</b> & <script>x</script>",
    "![image](http://example.com/i.png) and [bad](javascript:alert(1))",
    "Line with hard break  \nnext line",
    '```rust\nfn main() {\n    println!("hi");\n}\n```',
    "- item\n  ```\n  code in item\n  ```\n- next",
    "Para right before a fence:\n```sh\necho hi\n```",
    "| t |\n|---|\n| r |\nrow without pipes",
]

SEPARATORS = ["\n", "\n\n", "\n\n\n", "\n \n"]


def _random_doc(rnd: random.Random) -> str:
    parts = [rnd.choice(SNIPPETS) for _ in range(rnd.randint(3, 8))]
    doc = ""
    for part in parts:
        doc += part + rnd.choice(SEPARATORS)
    if rnd.random() < 0.3:
        doc += "```python\ndef unfinished():\n\n    return 1"  # ends inside an open fence
    return doc


def _stream(doc: str, rnd: random.Random, max_chunk: int) -> list[str]:
    prefixes = []
    i = 0
    while i < len(doc):
        i = min(len(doc), i + rnd.randint(1, max_chunk))
        prefixes.append(doc[:i])
    return prefixes


def _check_every_prefix(doc: str, seed: int, max_chunk: int) -> None:
    rnd = random.Random(seed)
    renderer = IncrementalRenderer()
    for prefix in _stream(doc, rnd, max_chunk):
        got = renderer.update(prefix)
        assert got == render_markdown(prefix), f"seed {seed}, prefix {prefix[-60:]!r}"
    assert renderer.update(doc, final=True) == render_markdown(doc)


@pytest.mark.parametrize("index", range(len(DOCS)))
def test_streamed_equals_one_shot_on_every_prefix(index: int) -> None:
    for seed in range(3):
        _check_every_prefix(DOCS[index], seed, max_chunk=6 if seed == 0 else 40)


def test_random_documents_streamed_equal_one_shot() -> None:
    rnd = random.Random(1234)
    for n in range(40):
        doc = _random_doc(rnd)
        _check_every_prefix(doc, n, max_chunk=30)


def _visible(html_text: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", "", html_text))


def test_docstrings_may_differ_in_colour_only_and_final_is_exact() -> None:
    code = "\n".join(
        f'def f{i}(x):\n    """Doc {i}.\n\n    More.\n    """\n    /* not c */ return x  # c\n'
        for i in range(60)
    )
    doc = (
        f"Intro\n\n```python\n{code}```\n\nAfter.\n\n````md\n```\ninner\n```\n````\n\n"
        "```c\n/* multi\n   line */\nint x;\n"
    )
    assert len(code) > 2000
    rnd = random.Random(5)
    renderer = IncrementalRenderer()
    for prefix in _stream(doc, rnd, 264):
        got = renderer.update(prefix)
        assert _visible(got) == _visible(render_markdown(prefix))
    assert renderer.update(doc, final=True) == render_markdown(doc)
    # After final=True the cached blocks are exact, for later updates too.
    assert renderer.update(doc + "\nmore") == render_markdown(doc + "\nmore")


def test_open_fence_renders_as_code_not_paragraphs() -> None:
    renderer = IncrementalRenderer()
    text = "Intro\n\n```python\ndef f():\n\n    return 1\n\nmore text\n\n# not a heading"
    out = ""
    for i in range(1, len(text) + 1):
        out = renderer.update(text[:i])
    assert out.count("<pre") == 1
    assert "<h1>" not in out
    assert "<p>more" not in out
    assert "more text" in out.split("<pre", 1)[1]
    assert 'style="color:' in out  # highlighted while open


def test_long_open_fence_stays_incremental() -> None:
    body = "".join(f"value_{i} = compute({i}, 'text')  # note {i}\n" for i in range(400))
    text = "Code:\n\n```python\n" + body
    renderer = IncrementalRenderer()
    for i in range(264, len(text) + 264, 264):
        renderer.update(text[:i])
    assert renderer.closed_chars == len("Code:\n\n")  # the intro is cached, the fence is open
    assert renderer.update(text, final=True) == render_markdown(text)
    closed = text + "```\n\nAfter.\n"
    assert renderer.update(closed) == render_markdown(closed)
    assert renderer.closed_chars >= len(text) + 4  # the closed fence is cached


def test_closed_blocks_are_cached() -> None:
    doc = "\n\n".join(f"Paragraph {i} with *some* text." for i in range(50))
    renderer = IncrementalRenderer()
    for i in range(10, len(doc) + 10, 10):
        renderer.update(doc[:i])
    assert renderer.closed_chars > len(doc) - 40
    assert renderer.update(doc) == render_markdown(doc)


def test_non_extending_text_resets() -> None:
    renderer = IncrementalRenderer()
    renderer.update("# Title\n\nfirst paragraph\n\nsecond")
    assert renderer.update("Other *text*") == render_markdown("Other *text*")
    assert renderer.update("") == ""


def test_reference_definitions_stay_incremental() -> None:
    doc = "See [the docs][d] and [x].\n\nMiddle.\n\n[d]: https://example.com/docs\n[x]: http://x.org\n\nEnd.\n\nMore"
    renderer = IncrementalRenderer()
    for i in range(1, len(doc) + 1):
        assert renderer.update(doc[:i]) == render_markdown(doc[:i])
    assert 'href="https://example.com/docs"' in renderer.update(doc)
    assert renderer.closed_chars == len(doc) - len("More")  # the definitions are closed too


# Documents where a prefix parses otherwise than the whole text around reference definitions:
# a definition still being written ("[^1]: See" until " the docs" arrives), a title on the next
# line (complete, unclosed, or followed by garbage), definitions in containers and lazy lines,
# labels defined twice, in other case or spacing, used before and after their definition, in
# closed and open blocks, tables, setext headings and code.
ADVERSARIAL_DOCS: list[str] = [
    "See [the docs][d] and [x] and [^1].\n\nMiddle.\n\n[d]: https://e.com/docs\n[x]: http://x.org\n"
    "[^1]: See the docs\n\nEnd [d].",
    '[a]: /url\n"title"\n\n[a]\n',
    "[a]: /url\n\"tit\nle\"\n\n[a] [b]\n\n[b]: /b 'x'\n# h [a]\n",
    '[a]: /url\n"title" junk\nmore\n\n[a]',
    'Use [foo].\n\n[foo]: /url "tit\nstill" trailing\n\n[foo]: /dup\n\n[Foo]',
    "> [q]: /q\n> \"t\"\n\n[q]\n\n- [l]: /l\n  'lt'\n- item [l]\n\n[l]",
    '- [l]: /l\n"lazy title"\n\n[l] x',
    '[x]\n\n[x]:\n/dest\n"ti"\n\ntext [x][] and [y][x] ![x]',
    "para [a]\n\n[a]: <my url> (paren title)\n| t |\n|---|\n| [a] |\n\nSetext [a]\n---\n\n```\n[a]: /not\n```\n",
    "[^1]: See the docs\n[^2]: https://e.com\n\nText[^1] and[^2].\n\n[1]: a b\n\n[1]",
    "Text with [ Foo  Bar ] and [foo\nbar].\n\n[FOO BAR]: /fb\n\n[ΑΣ]: /sigma\n\n[ας] [σς]",
    '[a]: /a\n[b]: /b\n[c]: /c "c"\n[d]: /d\n\n[a][b][c][d]\n\n> [e]: /e\n\n[e]',
    "```\ncode\n```\n[z]: /z\n```\nx\n```\n[z]",
    "[a]:\n\n[a]\n\n[b]: /b\n   (t)\n\n[b]",
    "Text \\[esc] [esc] `[code]` [a`]`b] [x \\[y] [y] [a`\\`[y]\n\n[esc]: /e\n[y]: /y\n[code]: /c",
    # Footnotes: referred to before and after their definition, defined in the middle and at the
    # end, undefined, defined twice, with bodies of several (indented, lazy) paragraphs, a list and
    # code, nested in a list, a quote and another note, citing links and other notes.
    "Claim[^a] and later[^b], never[^none].\n\n[^a]: First note.\n\nMore[^a] text[^c].\n\n[^c]: Last [l].\n\n"
    "[^a]: Duplicate, ignored[^b].\n\nEnd[^b].\n\n[^b]: Cites [^c].\n\n[l]: https://e.com",
    "A[^b].\n\n[^b]: Second note,\nlazy line.\n\n    Second paragraph[^b].\n\n    - a list\n\n    ```\n    code\n"
    "    ```\n\nB[^b]",
    "- item[^x]\n- [^x]: note in a list\n\n> [^y]: note in a quote\n> [^x]\n\n[^z]: outer\n    [^w]: inner[^z]\n\n"
    "[^w] [^y] [^z] [^Z] [^ x] [^x ]\n\n[^Z]:\n\n    after a blank [^x]",
    "Intro.\n\n[^1]: Note written first[^2].\n[^2]: Then this one, citing [^1].\n\nText[^2][^1].\n\n# Head[^1]\n\n"
    "| a[^2] | b |\n|---|---|\n| [^1] | x |\n\n[^3]:    spaced\n\n\tafter tab[^3]",
]


@pytest.mark.parametrize("index", range(len(ADVERSARIAL_DOCS)))
def test_reference_definitions_streamed_equal_one_shot_at_every_chunking(index: int) -> None:
    """Every prefix equals the one-shot render: flushed at every character, at every pair of
    offsets (then the whole text), and at random chunkings."""
    doc = ADVERSARIAL_DOCS[index]
    _check_every_prefix(doc, 0, max_chunk=1)
    for seed in range(1, 6):
        _check_every_prefix(doc, seed, max_chunk=9)
    n = len(doc)
    for i in range(1, n, 2):
        for j in range(i + 1, n + 1, 3):
            renderer = IncrementalRenderer()
            for prefix in (doc[:i], doc[:j], doc):
                assert renderer.update(prefix) == render_markdown(prefix), (i, j, prefix[-40:])


_REF_SNIPPETS = [
    "[r%d]: https://e.com/%d", '[r%d]: /u "t%d"', "see [r%d] and [t][r%d]", "[^r%d]: See %d words",
    "# H [r%d] %d", "- item [r%d]\n- two %d", "> q [r%d] %d", "| a | [r%d] |\n|---|---|\n| %d | x |",
    "Setext [r%d] %d\n===", "```\n[r%d]: /in-code %d\n```", "[r%d]:\n/next %d\n'title'", "para %d [r%d]",
]  # fmt: skip


@pytest.mark.parametrize("min_piece", [1, InlineCache.MIN_PIECE])
def test_random_documents_with_definitions_streamed_equal_one_shot(
    monkeypatch: pytest.MonkeyPatch, min_piece: int
) -> None:
    monkeypatch.setattr(InlineCache, "MIN_PIECE", min_piece)
    rnd = random.Random(77)
    for n in range(80):
        parts = []
        for _ in range(rnd.randint(3, 12)):
            k = rnd.randint(0, 4)
            parts += [rnd.choice(_REF_SNIPPETS) % (k, k), rnd.choice(SEPARATORS)]
        _check_every_prefix("".join(parts), n, max_chunk=rnd.choice([1, 3, 9]))


_CITING_WORDS = ["word", "other", "*em*", "**b**", "`c`", "[x]", "[^a]", "[^b]", "[y][x]", "[t](http://u.v)",
    "[docs]", "![i](http://h/i.png)", "_u_", "~~s~~", "[", "]", "*", "`", "<", "$", "\\[", "[x]:", "&amp;", "😀"]
_LATER_DEFINITIONS = ["[x]: /x", "[^a]: note a [x]", "[^b]: note b", "[y]: /y 'T'", "[docs]: http://d"]  # fmt: skip


@pytest.mark.parametrize("min_piece", [1, 8, InlineCache.MIN_PIECE])
def test_long_paragraphs_citing_later_definitions_streamed_equal_one_shot(
    monkeypatch: pytest.MonkeyPatch, min_piece: int
) -> None:
    """A closed paragraph citing a label defined later is rendered again from its longest closed
    piece that uses no defined label (rendered while it streamed): every prefix must still equal
    the one-shot render."""
    monkeypatch.setattr(InlineCache, "MIN_PIECE", min_piece)
    rnd = random.Random(min_piece)
    for n in range(40):
        paras = [" ".join(rnd.choice(_CITING_WORDS) for _ in range(rnd.randint(5, 60))) for _ in range(3)]
        defs = rnd.sample(_LATER_DEFINITIONS, rnd.randint(1, 4))
        doc = "\n\n".join(paras[:2] + defs[:2] + paras[2:] + defs[2:]) + "\n\nend"
        _check_every_prefix(doc, n, max_chunk=30)


def _answer_with_definitions(sections: int) -> str:
    """A long answer citing references and footnote-style labels that each part defines at its
    end, the way models write them."""
    parts = []
    for s in range(sections):
        parts.append(
            f"## Part {s}\n\nSome prose citing [the spec][spec-{s}] and [faq-{s}], with a footnote[^{s}] and "
            f"a [plain link](https://example.com/{s}) in it, long enough to be a real paragraph of text.\n\n"
            f"- a list item citing [faq-{s}]\n- another item\n\n"
            f'[spec-{s}]: https://example.com/spec/{s} "Spec {s}"\n[faq-{s}]: https://example.com/faq/{s}\n'
            f"[^{s}]: See the notes for part {s}.\n\n"
        )
    return "".join(parts)


def _blocks_per_update(doc: str, step: int) -> list[int]:
    renderer = IncrementalRenderer()
    counts = []
    for i in range(step, len(doc) + step, step):
        before = renderer.blocks_rendered
        renderer.update(doc[:i])
        counts.append(renderer.blocks_rendered - before)
    assert renderer.update(doc, final=True) == render_markdown(doc)
    return counts


def test_definitions_do_not_make_every_update_render_the_whole_answer() -> None:
    """A 60k answer streamed in 20-char steps: with definitions (each a prefix at some flush,
    "[^1]: See" before " the notes" arrives) an update renders about as many blocks as without
    them, not all the blocks of the answer."""
    doc = _answer_with_definitions(260)
    assert len(doc) > 60_000
    plain = re.sub(r"(?m)^\[", "(", doc)  # the same text with no definition
    with_defs, without = _blocks_per_update(doc, 20), _blocks_per_update(plain, 20)
    assert max(with_defs) <= 8, max(with_defs)
    assert sum(with_defs) <= 1.5 * sum(without), (sum(with_defs), sum(without))


def _answer_with_footnotes(sections: int) -> str:
    """A long answer citing notes defined in its middle (each part's notes at the part's end)
    and at its very end, before and after their definition, and notes that cite notes."""
    parts = []
    for s in range(sections):
        parts.append(
            f"## Part {s}\n\nSome prose with a note[^p{s}], one defined at the end[^end{s}] and an earlier "
            f"one[^p{max(s - 1, 0)}], long enough to be a real paragraph of text in an answer.\n\n"
            f"- a list item citing[^p{s}]\n- another item\n\n"
            f"[^p{s}]: The note of part {s}, citing[^end{s}].\n\n    A second paragraph of the note.\n\n"
        )
    parts += [f"[^end{s}]: The closing note {s}.\n" for s in range(sections)]
    return "".join(parts)


def test_footnotes_do_not_make_every_update_render_the_whole_answer() -> None:
    """A 60k answer full of notes streamed in 20-char steps (every "[^p1]: The" a definition
    whose body is still growing at some flush): an update renders a bounded number of blocks,
    in all about as many as the same text without notes."""
    doc = _answer_with_footnotes(200)
    assert len(doc) > 60_000
    plain = doc.replace("[^", "(^")  # the same text with no note
    with_notes, without = _blocks_per_update(doc, 20), _blocks_per_update(plain, 20)
    assert max(with_notes) <= 8, max(with_notes)
    assert sum(with_notes) <= 1.5 * sum(without), (sum(with_notes), sum(without))
    final = render_markdown(doc)
    assert final.count("<sup") == 5 * 200 and final.count("<li><p>") == 2 * 200


def test_dark_theme_and_hostile_input_while_streaming() -> None:
    doc = "<img src=x onerror=alert(1)>\n\n[x](javascript:alert(1))\n\n```html\n<script>alert(1)</script>\n```\n"
    renderer = IncrementalRenderer("dark")
    for i in range(1, len(doc) + 1):
        out = renderer.update(doc[:i])
        assert "<img" not in out and "<script" not in out
        assert out == render_markdown(doc[:i], "dark")


_FUZZ_PIECES = ["\n"] * 6 + [" "] * 5 + [
    "-", "*", "#", ">", "`", "```", "~~~", "|", "1", ".", "a", "b", "c", "[", "]", "(", ")", ":", "\t",
    "=", "_", "!", "2)", "```py\n", "~~~c\n", "'", '"', "/*", "*/", "   ", "\n\n", "http://x.y",
]  # fmt: skip


def _without_colours(html_text: str) -> str:
    return re.sub(r'<span style="[^"]*">|</span>', "", html_text)


def test_fuzzed_markdown_streams_to_the_same_structure() -> None:
    """Random markdown-ish soup: every prefix has the one-shot structure and text (colours of
    garbage code may differ while streaming); the final render is byte-identical."""
    rnd = random.Random(2024)
    for _ in range(150):
        doc = "".join(rnd.choice(_FUZZ_PIECES) for _ in range(rnd.randint(20, 120)))
        renderer = IncrementalRenderer()
        for prefix in _stream(doc, rnd, 8):
            got = renderer.update(prefix)
            assert _without_colours(got) == _without_colours(render_markdown(prefix)), repr(prefix)
        assert renderer.update(doc, final=True) == render_markdown(doc), repr(doc)


_INLINE_FUZZ = ["word", "other", " ", " ", " ", "  ", "*", "**", "_", "__", "~~", "~", "`", "``", "[", "]",
    "(", ")", "![", "](", "http://x.y/z", "<", ">", "<http://a.b>", "&amp;", "&", ";", "\\", "\\*", "\\`",
    "\n", " \n", "  \n", "\\\n", "a*b", "snake_case", "é", "😀", "中文", '"t"', "!", ":", "-", "\t",
]  # fmt: skip


@pytest.mark.parametrize("min_piece", [1, InlineCache.MIN_PIECE])
def test_growing_paragraphs_rendered_in_pieces_equal_one_shot(
    monkeypatch: pytest.MonkeyPatch, min_piece: int
) -> None:
    """A paragraph being written is rendered from the end of its last closed piece on; markup
    that could still pair with later text (an open ``*``, a lone backtick or bracket) keeps a
    piece open. Every prefix must still equal the one-shot render."""
    monkeypatch.setattr(InlineCache, "MIN_PIECE", min_piece)
    rnd = random.Random(99)
    for _ in range(40):
        doc = "Intro " + "".join(rnd.choice(_INLINE_FUZZ) for _ in range(rnd.randint(30, 160)))
        if rnd.random() < 0.3:
            doc += "\n\n- item " + "".join(rnd.choice(_INLINE_FUZZ) for _ in range(30))
        renderer = IncrementalRenderer()
        for prefix in _stream(doc, rnd, 12):
            assert renderer.update(prefix) == render_markdown(prefix), repr(prefix)


_LINK_FUZZ = ["a", "bb", " ", " ", " ", " ", "`", "``", "[", "]", "![", "](", "(", ")", "*", "_", "**", "~~",
    "<", ">", "\\", "\n", '"', "'", "u", "http://h", "<a@b.c>", "&", "&amp;", ";", "!",
]  # fmt: skip


def test_pieces_with_links_images_and_code_spans_equal_one_shot(monkeypatch: pytest.MonkeyPatch) -> None:
    """Link and image labels end where a scan finds "]", which a later backtick may move (also
    inside an image's alt text): such a piece must stay open."""
    monkeypatch.setattr(InlineCache, "MIN_PIECE", 1)
    rnd = random.Random(1)
    for _ in range(150):
        doc = "x " + "".join(rnd.choice(_LINK_FUZZ) for _ in range(rnd.randint(10, 120)))
        renderer = IncrementalRenderer()
        for prefix in _stream(doc, rnd, 6):
            assert renderer.update(prefix) == render_markdown(prefix), repr(prefix)


def test_a_comment_or_tag_with_spaces_streams_like_the_whole() -> None:
    """A paragraph is rendered in pieces cut at spaces: a "<" left as text may still become a
    hidden comment or a formatting tag once its ">" arrives, so no piece may end inside one."""
    words = " ".join(f"word{i}" for i in range(30))  # long enough for a cut inside the comment
    for doc in (
        f"A paragraph of prose <!-- a hidden note: {words} --> and more.",
        f"A paragraph of prose {words} then <details open> and more.",
    ):
        renderer = IncrementalRenderer()
        for i in range(1, len(doc) + 1):
            assert renderer.update(doc[:i]) == render_markdown(doc[:i]), doc[:i]


def test_literal_brackets_do_not_stop_a_paragraph_being_rendered_in_pieces() -> None:
    """A citation like "[^3]" or "[ref]" that is not (yet) defined stays text whatever follows
    it: a long paragraph with one is still rendered from its last closed piece on."""
    cache, env = InlineCache(), new_env()
    text = "Some prose that cites a note[^3] and a [ref] in the middle of it, then goes on. " * 2
    calls: list[str] = []
    original = markdown._render_piece

    def counting(src: str, env: dict[str, object]) -> tuple[str, bool]:
        calls.append(src)
        return original(src, env)

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(markdown, "_render_piece", counting)
        assert cache.render(text, env) == render_inline(text, env)
        calls.clear()
        longer = text + "More words after it"
        assert cache.render(longer, env) == render_inline(longer, env)
    assert sum(map(len, calls)) < 40  # only the new text was parsed


def test_inline_cache_renders_a_long_paragraph_from_its_closed_piece() -> None:
    cache, env = InlineCache(), new_env()
    text = "Some **bold** and `code()` and a [link](https://example.com/a) " * 3
    assert cache.render(text, env) == render_inline(text, env)
    assert repr(cache).startswith("InlineCache(entries=1, head_chars=")
    longer = text + "then *more*"
    assert cache.render(longer, env) == render_inline(longer, env)
    unclosed = "An *open emphasis and `a lone backtick " * 3
    assert cache.render(unclosed, env) == render_inline(unclosed, env)
    assert cache.render(unclosed + "closes* here`", env) == render_inline(unclosed + "closes* here`", env)
    image = "An ![alt with `a backtick](u) and more words after it "
    assert cache.render(image, env) == render_inline(image, env)
    assert cache.render(image + "then `", env) == render_inline(image + "then `", env)  # a code span
