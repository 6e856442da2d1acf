"""Word diff of two answers: prose by word, code by line; terminal and side-by-side renderings."""

from __future__ import annotations

from html.parser import HTMLParser

import pytest

from app.diff import DiffOp, diff_html, similarity, split_blocks, unified_diff_text, word_diff
from tests.app.sample_graph import R1_TEXT, R2_TEXT

A = """The quick brown fox jumps over the dog.

```python
def add(a, b):
    return a + b
```

Use it **carefully**.
"""

B = """The slow brown fox leaps over the dog.

```python
def add(a, b):
    return a - b
```

Use it **carefully**.
Added a closing line.
"""


def _joined(ops: list[DiffOp]) -> tuple[str, str]:
    return "".join(op.a for op in ops), "".join(op.b for op in ops)


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (A, B),
        (B, A),
        ("", B),
        (A, ""),
        ("", ""),
        (R1_TEXT, R2_TEXT),
        ("x\r\ny", "x\ny"),
        ("```\nunclosed", "```\nun"),
    ],
)
def test_ops_reproduce_both_texts(a, b):
    assert _joined(word_diff(a, b)) == (a, b)


def test_prose_changes_are_marked_word_by_word():
    ops = word_diff(A, B)
    changes = [(op.tag, op.a.strip(), op.b.strip()) for op in ops if op.tag != "equal"]
    assert ("replace", "quick", "slow") in changes
    assert ("replace", "jumps", "leaps") in changes
    assert ("insert", "", "Added a closing line.") in changes
    # unchanged words stay equal
    equal = "".join(op.a for op in ops if op.tag == "equal")
    assert "brown fox" in equal and "over the dog." in equal


def test_code_changes_are_whole_lines():
    ops = word_diff(A, B)
    code = [op for op in ops if "return" in op.a or "return" in op.b]
    assert [(op.tag, op.a, op.b) for op in code if op.tag != "equal"] == [
        ("replace", "    return a + b\n", "    return a - b\n")
    ]


def test_blocks():
    kinds = [(b.kind, b.text.splitlines()[0]) for b in split_blocks(A)]
    assert kinds == [
        ("prose", "The quick brown fox jumps over the dog."),
        ("code", "```python"),
        ("prose", ""),
        ("prose", "Use it **carefully**."),
    ]
    assert "".join(b.text for b in split_blocks(A)) == A


def test_unified_text_for_the_terminal():
    out = unified_diff_text(A, B, "deepseek 01AB", "claude 01CD")
    lines = out.splitlines()
    assert lines[0] == "--- deepseek 01AB" and lines[1] == "+++ claude 01CD"
    assert lines[2].startswith("@@ -1,") and "+1," in lines[2]
    assert "The [-quick-]{+slow+} brown fox [-jumps-]{+leaps+} over the dog." in lines
    assert "[-    return a + b-]{+    return a - b+}" in lines
    assert "{+Added a closing line.+}" in lines
    assert unified_diff_text("same", "same") == "--- a\n+++ b\n(no differences)\n"
    colored = unified_diff_text(A, B, color=True)
    assert "\x1b[31m[-quick-]\x1b[0m" in colored and "\x1b[32m{+slow+}\x1b[0m" in colored


def test_unified_text_hunks_keep_context_short():
    a = "\n".join(f"line {i} stays" for i in range(40)) + "\n"
    b = a.replace("line 3 stays", "line 3 moved").replace("line 30 stays", "line 30 moved")
    out = unified_diff_text(a, b, context=2)
    hunks = [line for line in out.splitlines() if line.startswith("@@")]
    assert hunks == ["@@ -2,5 +2,5 @@", "@@ -29,5 +29,5 @@"]
    assert "line 3 [-stays-]{+moved+}" in out
    assert "line 15 stays" not in out


class _Spans(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.marked: list[tuple[str, str]] = []
        self.text: list[str] = []
        self._style: list[str] = []

    def handle_starttag(self, tag, attrs):
        assert tag in ("div", "span", "br")
        assert all(name == "style" for name, _ in attrs)  # inline styles only
        if tag == "span":
            self._style.append(dict(attrs)["style"])

    def handle_endtag(self, tag):
        if tag == "span":
            self._style.pop()

    def handle_data(self, data):
        self.text.append(data)
        if self._style:
            self.marked.append((self._style[-1], data))


def _parse(fragment: str) -> _Spans:
    p = _Spans()
    p.feed(fragment)
    return p


def test_side_by_side_html_marks_deletions_left_and_insertions_right():
    left, right = diff_html(A + "<script>x</script>", B, "light")
    lp, rp = _parse(left), _parse(right)
    assert ("background-color:#ffcecb", "quick") in lp.marked
    assert ("background-color:#aceebb", "slow") in rp.marked
    assert all("ffcecb" in style for style, _ in lp.marked)
    assert all("aceebb" in style for style, _ in rp.marked)
    assert "<script>x</script>" in "".join(lp.text)  # escaped, shown as text
    dark_left, _ = diff_html(A, B, "dark")
    assert "#8e1519" in dark_left
    with pytest.raises(ValueError):
        diff_html(A, B, "sepia")


def test_similarity():
    assert similarity(A, A) == 1.0
    assert similarity("", "") == 1.0
    assert similarity("alpha beta", "gamma delta") == 0.0
    assert 0.6 < similarity(A, B) < 1.0
    assert similarity("a  b\n\nc", "a b c") == 1.0  # whitespace does not count
