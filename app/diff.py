"""Markdown-aware comparison of two answers: word diff for prose, line diff for fenced code.

Both texts are split into blocks (fenced code blocks, and prose paragraphs separated by blank
lines). Blocks are aligned first; inside changed regions, prose is compared word by word (tokens
keep their trailing whitespace, so joining them gives the text back) and code line by line.
The ops always reproduce both inputs: `"".join(op.a for op in ops) == a` and likewise for b.

Renderings: `unified_diff_text` for a terminal (`triptych diff A B`), `diff_html` for a
side-by-side QTextDocument view (inline styles only), `similarity` for a 0..1 score.
"""

from __future__ import annotations

import difflib
import html
import re
from dataclasses import dataclass
from typing import Literal

Tag = Literal["equal", "insert", "delete", "replace"]

_FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
_WORD = re.compile(r"\s+|\w+\s*|[^\w\s]\s*")
_WORDS_ONLY = re.compile(r"\w+|[^\w\s]")


@dataclass(frozen=True, slots=True)
class DiffOp:
    """One step from a to b. `a` is the text taken from a, `b` the text in b ('' where absent)."""

    tag: Tag
    a: str
    b: str

    def __repr__(self) -> str:
        return f"DiffOp({self.tag}, {self.a[:20]!r}, {self.b[:20]!r})"


@dataclass(frozen=True, slots=True)
class _Block:
    kind: Literal["code", "prose"]
    text: str  # includes its trailing newline(s)


def split_blocks(text: str) -> list[_Block]:
    """Fenced code blocks (opening to closing fence, or to the end) and prose runs ending in a
    blank line. Concatenating the blocks' texts gives `text` back."""
    lines = text.splitlines(keepends=True)
    blocks: list[_Block] = []
    prose: list[str] = []
    i = 0

    def flush() -> None:
        if prose:
            blocks.append(_Block("prose", "".join(prose)))
            prose.clear()

    while i < len(lines):
        line = lines[i]
        m = _FENCE.match(line)
        if m:
            flush()
            fence = m.group(1)
            j = i + 1
            while j < len(lines):
                close = _FENCE.match(lines[j])
                if close and close.group(1)[0] == fence[0] and len(close.group(1)) >= len(fence):
                    if not lines[j].strip().strip(fence[0]):
                        break
                j += 1
            blocks.append(_Block("code", "".join(lines[i : j + 1])))
            i = j + 1
            continue
        prose.append(line)
        if not line.strip():
            flush()
        i += 1
    flush()
    return blocks


# Above this many token pairs a word diff gets slow (seconds): compare such regions by lines.
MAX_WORD_PAIRS = 20_000_000


def _tokens(blocks: list[_Block], by_line: bool = False) -> list[tuple[str, str]]:
    """(kind, text) tokens: code as whole lines, prose as words with their trailing whitespace."""
    out: list[tuple[str, str]] = []
    for block in blocks:
        if block.kind == "code" or by_line:
            out.extend(("code", line) for line in block.text.splitlines(keepends=True))
        else:
            out.extend(("prose", tok) for tok in _WORD.findall(block.text))
    return out


def _append(ops: list[DiffOp], tag: Tag, a: str, b: str) -> None:
    if not a and not b:
        return
    if ops and ops[-1].tag == tag:
        last = ops.pop()
        ops.append(DiffOp(tag, last.a + a, last.b + b))
    elif ops and tag != "equal" and ops[-1].tag != "equal":
        last = ops.pop()
        ops.append(DiffOp("replace", last.a + a, last.b + b))
    else:
        ops.append(DiffOp(tag, a, b))


def _absorb_small_equals(ops: list[DiffOp]) -> list[DiffOp]:
    """Fold a whitespace-only equal run (within a paragraph) between two changes into one replace."""
    merged: list[DiffOp] = []
    i = 0
    while i < len(ops):
        op = ops[i]
        between_changes = (
            merged and merged[-1].tag != "equal" and i + 1 < len(ops) and ops[i + 1].tag != "equal"
        )
        if op.tag == "equal" and between_changes and not op.a.strip() and "\n\n" not in op.a:
            prev, nxt = merged.pop(), ops[i + 1]
            merged.append(DiffOp("replace", prev.a + op.a + nxt.a, prev.b + op.b + nxt.b))
            i += 2
            continue
        merged.append(op)
        i += 1
    return merged


def word_diff(a: str, b: str) -> list[DiffOp]:
    """Ops turning a into b: prose word by word, fenced code line by line (see the module doc)."""
    blocks_a, blocks_b = split_blocks(a), split_blocks(b)
    ops: list[DiffOp] = []
    outer = difflib.SequenceMatcher(
        None, [x.text for x in blocks_a], [x.text for x in blocks_b], autojunk=False
    )
    for tag, i1, i2, j1, j2 in outer.get_opcodes():
        if tag == "equal":
            _append(
                ops,
                "equal",
                "".join(x.text for x in blocks_a[i1:i2]),
                "".join(x.text for x in blocks_b[j1:j2]),
            )
            continue
        ta, tb = _tokens(blocks_a[i1:i2]), _tokens(blocks_b[j1:j2])
        if len(ta) * len(tb) > MAX_WORD_PAIRS:
            ta, tb = _tokens(blocks_a[i1:i2], by_line=True), _tokens(blocks_b[j1:j2], by_line=True)
        inner = difflib.SequenceMatcher(None, ta, tb, autojunk=False)
        for itag, k1, k2, l1, l2 in inner.get_opcodes():
            _append(
                ops,
                itag,
                "".join(t for _, t in ta[k1:k2]),
                "".join(t for _, t in tb[l1:l2]),
            )
    return _absorb_small_equals(ops)


def similarity(a: str, b: str) -> float:
    """0.0 (nothing in common) … 1.0 (same words in the same order), ignoring whitespace."""
    wa, wb = _WORDS_ONLY.findall(a), _WORDS_ONLY.findall(b)
    if not wa and not wb:
        return 1.0
    matcher = difflib.SequenceMatcher(None, wa, wb, autojunk=len(wa) * len(wb) > MAX_WORD_PAIRS)
    return matcher.ratio()


# --------------------------------------------------------------------------- terminal


def _split_ws(a: str, b: str) -> tuple[str, str, str]:
    """Common trailing whitespace moved outside the markers: (a_core, b_core, tail)."""
    tail = ""
    while a and b and a[-1] == b[-1] and a[-1].isspace():
        tail = a[-1] + tail
        a, b = a[:-1], b[:-1]
    return a, b, tail


def _mark(text: str, left: str, right: str) -> str:
    """Wrap each line's content in markers; newlines stay outside so lines stay lines."""
    parts = text.split("\n")
    return "\n".join(f"{left}{p}{right}" if p else "" for p in parts)


def unified_diff_text(
    a: str, b: str, label_a: str = "a", label_b: str = "b", *, context: int = 3, color: bool = False
) -> str:
    """A git `--word-diff=plain`-style diff: `--- a` / `+++ b` headers, `@@ -l,n +l,n @@` hunks with
    `context` unchanged lines around the changes, deletions as `[-old-]` and insertions as `{+new+}`
    inside the lines (also ANSI red/green with `color=True`). Identical texts: the headers and
    "(no differences)"."""
    head = f"--- {label_a}\n+++ {label_b}\n"
    if a == b:
        return head + "(no differences)\n"
    red, green, reset = ("\x1b[31m", "\x1b[32m", "\x1b[0m") if color else ("", "", "")
    segments: list[tuple[str, str]] = []
    for op in word_diff(a, b):
        if op.tag == "equal":
            segments.append(("=", op.a))
            continue
        old, new, tail = _split_ws(op.a, op.b)
        segments += [("-", old), ("+", new), ("=", tail)]

    # output lines: (text, a line at start, b line at start, changed?)
    lines: list[tuple[str, int, int, bool]] = []
    buf: list[str] = []
    changed = False
    la = lb = 0
    start = (0, 0)
    for kind, text in segments:
        parts = text.split("\n")
        for idx, part in enumerate(parts):
            if part:
                if kind == "=":
                    buf.append(part)
                else:
                    left, right = ("[-", "-]") if kind == "-" else ("{+", "+}")
                    buf.append(f"{red if kind == '-' else green}{left}{part}{right}{reset}")
                    changed = True
            if idx < len(parts) - 1:  # a newline of this segment ends the output line
                la += kind in "=-"
                lb += kind in "=+"
                changed = changed or kind != "="
                lines.append(("".join(buf), start[0], start[1], changed))
                buf, changed, start = [], False, (la, lb)
    if buf or changed:
        lines.append(("".join(buf), start[0], start[1], changed))

    total_a, total_b = len(a.splitlines()), len(b.splitlines())
    hits = [i for i, line in enumerate(lines) if line[3]]
    groups: list[list[int]] = []
    for i in hits:
        if groups and i - groups[-1][-1] <= 2 * context:
            groups[-1].append(i)
        else:
            groups.append([i])
    out = [head]
    for group in groups:
        first, last = max(0, group[0] - context), min(len(lines), group[-1] + context + 1)
        a0, b0 = lines[first][1], lines[first][2]
        a1, b1 = (lines[last][1], lines[last][2]) if last < len(lines) else (total_a, total_b)
        out.append(f"@@ -{a0 + 1},{max(0, a1 - a0)} +{b0 + 1},{max(0, b1 - b0)} @@\n")
        out.extend(text + "\n" for text, _, _, _ in lines[first:last])
    return "".join(out)


# --------------------------------------------------------------------------- side by side HTML

DIFF_COLORS = {
    "light": {"text": "#1f2328", "del": "#ffcecb", "ins": "#aceebb", "mono": "monospace"},
    "dark": {"text": "#e6edf3", "del": "#8e1519", "ins": "#1b6f32", "mono": "monospace"},
}


def diff_html(a: str, b: str, theme: str = "light") -> tuple[str, str]:
    """Two HTML fragments (left = a with deletions marked, right = b with insertions marked) for a
    side-by-side view. Inline styles only (QTextDocument ignores classes); text is escaped."""
    colors = DIFF_COLORS.get(theme)
    if colors is None:
        raise ValueError(f"unknown theme {theme!r}; known: {', '.join(DIFF_COLORS)}")
    left: list[str] = []
    right: list[str] = []

    def esc(text: str) -> str:
        return html.escape(text, quote=False).replace("\n", "<br>")

    def span(text: str, bg: str) -> str:
        if not text:
            return ""
        return f'<span style="background-color:{bg}">{esc(text)}</span>'

    for op in word_diff(a, b):
        if op.tag == "equal":
            left.append(esc(op.a))
            right.append(esc(op.b))
        else:
            old, new, tail = _split_ws(op.a, op.b)
            left.append(span(old, colors["del"]) + esc(tail))
            right.append(span(new, colors["ins"]) + esc(tail))
    style = f'style="white-space:pre-wrap;color:{colors["text"]}"'
    return f"<div {style}>{''.join(left)}</div>", f"<div {style}>{''.join(right)}</div>"
