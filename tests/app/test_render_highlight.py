"""CodeHighlighter while a block streams, and exact(): the one-shot colours without a re-lex."""

from __future__ import annotations

import random
import re

import pytest

from app.render import CodeHighlighter, highlight_code
from app.render.highlight import _line_bounded, _rule_start, escape_code

# Code where lexer regexes span lines (docstrings, block comments, headers split over lines,
# raw strings, heredocs), so that colours streamed before such a regex's end may be wrong.
SAMPLES: dict[str, str] = {
    "python": "def f(x):\n    \"\"\"Doc.\n\n    More.\n    \"\"\"\n    s = '''multi\nline'''\n"
    '    return f"{x!r} {{y}}"  # c\n\nclass A(B):\n    @property\n    def g(self): return r"\\d+" \\\n'
    "        + 1\nimport os\nfrom a import (b,\n   c)\nmatch x:\n    case 1: pass\n",
    "c": "/* multi\n   line */\n#include <stdio.h>\nstatic int\nmain(int argc,\n     char **argv) {\n"
    '  // c\n  printf("%d\\n", 1); /* x */ return 0;\n}\n#define X(a) \\\n  (a)\n',
    "javascript": "const s = `tpl ${f(1,\n 2)}`;\n/* c\n */ function g(a, b) {\n  return a / b / 2 // x\n}\n"
    "let r = /ab+c/g;\n",
    "rust": 'fn main() {\n    let s = r#"raw\n"#;\n    /* nested /* c */ */\n    println!("hi {}", 1);\n}\n',
    "html": '<!DOCTYPE html>\n<html>\n<!-- c\n -->\n<script>\nvar x = 1;\n</script>\n<p class="x">t</p>\n',
    "sql": "SELECT a, b\nFROM t -- c\nWHERE x = 'multi\nline' /* c\n */;\n",
    "bash": 'echo "a\n b" $(ls\n) <<EOF\nheredoc\nEOF\nfor i in 1 2; do\n  echo $i\ndone\n',
    "go": 'package main\nimport "fmt"\nfunc main() {\n\ts := `raw\nstr`\n\tfmt.Println(s) /* c\n */\n}\n',
    "java": '/** doc\n * x */\npublic class A {\n  String s = """\n    text\n    """;\n}\n',
    "yaml": "a: 1\nb: |\n  multi\n  line\nc:\n  - 'y\n    z'\n",  # not incremental: one-shot feeds
    "nosuchlang": "x < y\n",  # plain escaped code
}


def _one_shot(code: str, lang: str) -> str:
    out = highlight_code(code, lang)
    return escape_code(code) if out is None else out


def _stream(code: str, rnd: random.Random, max_chunk: int) -> list[str]:
    prefixes, i = [], 0
    while i < len(code):
        i = min(len(code), i + rnd.randint(1, max_chunk))
        prefixes.append(code[:i])
    return prefixes


@pytest.mark.parametrize("lang", sorted(SAMPLES))
def test_exact_after_streaming_equals_one_shot(lang: str) -> None:
    rnd = random.Random(lang)
    code = SAMPLES[lang] * 2
    for _ in range(30):
        final = code[: rnd.randint(1, len(code))]
        hl = CodeHighlighter(lang)
        for prefix in _stream(final, rnd, 40):
            hl.feed(prefix)
        assert hl.exact(final) == _one_shot(final, lang), repr(final[-60:])


def test_exact_fixes_colours_of_a_docstring_streamed_before_it_closed() -> None:
    code = "".join(
        f'def f{i}(x):\n    """Doc {i}.\n\n    More.\n    """\n    return x  # c\n' for i in range(5)
    )
    hl = CodeHighlighter("python")
    streamed = ""
    for i in range(1, len(code) + 1):
        streamed = hl.feed(code[:i])
    assert streamed != _one_shot(code, "python")  # the docstring regex was tried too early
    assert hl.exact(code) == _one_shot(code, "python")


def test_exact_reuses_the_streamed_lines_and_the_highlighter_goes_on() -> None:
    code = "".join(f"value_{i} = compute({i}, 'text')  # note {i}\n" for i in range(50))
    hl = CodeHighlighter("python")
    for i in range(7, len(code) + 7, 7):
        hl.feed(code[:i])
    assert hl.exact(code) == _one_shot(code, "python")
    more = code + "tail = 1\n"
    assert hl.feed(more) == _one_shot(more, "python")
    assert hl.exact(more) == _one_shot(more, "python")


def test_exact_without_feeding_and_after_a_non_extending_text() -> None:
    code = SAMPLES["python"]
    assert CodeHighlighter("python").exact(code) == _one_shot(code, "python")
    hl = CodeHighlighter("python")
    hl.feed("something else entirely\n")
    assert hl.exact(code) == _one_shot(code, "python")


@pytest.mark.parametrize(
    ("pattern", "flags", "bounded"),
    [
        (r"\n", 0, True),
        (r"[^\S\n]+", 0, True),
        (r"#.*$", re.M, True),
        (r"\\\n", 0, True),
        (r"(?<!\.)(self)\b", 0, True),
        (r"a\n?", 0, True),
        (r"(?s:.)", 0, True),  # may end on the newline, looks no further
        (r"(?=\n)", 0, True),
        (r"\s+", 0, False),  # spaces over several lines
        (r'"""[\s\S]*?"""', 0, False),
        (r"(?s).+", 0, False),
        (r"x(?=\s*\()", 0, False),  # a lookahead over lines
        (r"foo$", 0, False),  # "$" without MULTILINE asks whether the newline is the last char
        (r"foo$", re.M, True),
        (r"(a)\1", 0, False),  # a backreference: unsure
        (r"\n\n", 0, False),
        (r"\n+", 0, False),
        (r"(?:a|\n)b", 0, False),
    ],
)
def test_which_rules_can_look_past_their_line(pattern: str, flags: int, bounded: bool) -> None:
    assert _line_bounded(re.compile(pattern, flags)) is bounded


@pytest.mark.parametrize(
    ("pattern", "flags", "start"),
    [
        (r"(def)(\s+)", re.M, (0, frozenset("d"))),
        (r"^(\s*)x", re.M, (1, None)),  # only at a line start, any first character
        (r"\Afoo", re.M, (2, frozenset("f"))),
        (r"^foo", 0, (2, frozenset("f"))),
        (r"a?b", 0, (0, frozenset("ab"))),
        (r"[a-c]x|y", 0, (0, frozenset("abcy"))),
        (r"a*", 0, (0, None)),  # may match nothing
        (r"(?i)def", 0, (0, None)),  # case folding: unsure
        (r"(?i:d)ef", 0, (0, None)),
    ],
)
def test_where_rules_can_start(pattern: str, flags: int, start: tuple[int, frozenset[str] | None]) -> None:
    assert _rule_start(re.compile(pattern, flags)) == start


def test_warm_up_prepares_each_language_once_and_stops_when_asked():
    from app.render.highlight import _logged_rules, lexer_for, warm_up

    assert warm_up(("python", "rust"), stop=lambda: False) == 2
    python = lexer_for("python")
    rules = _logged_rules(python)
    assert rules is not None and set(rules) == set(python._tokens)  # every state analysed ahead
    # a highlighter made afterwards uses those very objects (nothing built mid-stream)
    h = CodeHighlighter("python")
    assert h._lexer is python and h._rules is rules
    assert "def" in h.feed("def f(x):\n    return x\n")
    calls = []
    assert warm_up(("go", "java"), stop=lambda: bool(calls.append(1)) or len(calls) > 1) == 1
