"""The closed part of a streamed answer's HTML (app/render/incremental.py): rendered once, kept as a
string and a few recent parts, with the place of every closed block whose inline text could use a
reference or footnote label (a `_RefBlock`), so that a definition arriving later re-renders only
those blocks and splices their new HTML in.
"""

from __future__ import annotations

from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from itertools import islice
from typing import Any

from markdown_it.token import Token

_JOIN_EVERY = 16  # closed parts kept apart before they are joined into one string

# Inline content -> its closed pieces: ((cut, length of the HTML of content[:cut]), ...) and the
# HTML of the longest (see app.render.incremental._prefixes).
Prefixes = dict[str, tuple[tuple[tuple[int, int], ...], str]]


@dataclass(slots=True, eq=False)
class _RefBlock:
    """A closed top-level block whose inline text could use a reference label."""

    tokens: list[Token]  # its tokens (inline ones without children: they are filled to render)
    labels: frozenset[str]  # the labels it could look up (see _labels_in)
    start: int  # where its HTML is in the closed HTML
    end: int
    prefixes: Prefixes  # closed pieces of its inline contents (see _prefixes)
    memo_key: tuple[Any, ...] | None = None  # the transient definitions memo_html was rendered with
    memo_html: str = ""

    def __repr__(self) -> str:
        return f"_RefBlock(labels={sorted(self.labels)!r}, html=[{self.start}:{self.end}])"



class ClosedHtml:
    """The closed HTML: `_html` followed by `_parts` (see `append`), and its label-dependent blocks."""

    __slots__ = ("_by_label", "_html", "_len", "_parts", "blocks")

    def __init__(self) -> None:
        self._html = ""
        self._parts: list[str] = []
        self._len = 0  # len(_html) + the lengths of _parts
        # Closed blocks that could use a label, in order, and by label.
        self.blocks: list[_RefBlock] = []
        self._by_label: dict[str, list[_RefBlock]] = {}

    def __repr__(self) -> str:
        return f"ClosedHtml(chars={self._len}, parts={len(self._parts)}, blocks={len(self.blocks)})"

    def __len__(self) -> int:
        return self._len

    def append(self, html: str) -> None:
        parts = self._parts
        parts.append(html)
        self._len += len(html)
        if len(parts) >= _JOIN_EVERY:
            # Now and then fold the parts into one string: copying it into each result is a
            # plain memory copy, where many small (often ASCII) parts must each be widened to
            # the result's wider character size (any emoji makes it 4 bytes per character).
            self.fold()

    def fold(self) -> str:
        if self._parts:
            self._html = "".join([self._html, *self._parts])
            self._parts.clear()
        return self._html

    def add_block(self, tokens: list[Token], labels: frozenset[str], html: str, prefixes: Prefixes) -> _RefBlock:
        """Append the HTML of a block that could use `labels`, and keep where it is."""
        start = self._len
        self.append(html)
        block = _RefBlock(tokens, labels, start, self._len, prefixes)
        self.blocks.append(block)
        for label in labels:
            self._by_label.setdefault(label, []).append(block)
        return block

    def blocks_using(self, labels: Iterable[str]) -> list[_RefBlock]:
        """The closed blocks that could use one of ``labels``, in document order."""
        by_label = self._by_label
        found: dict[int, _RefBlock] = {}
        for label in labels:
            for block in by_label.get(label, ()):
                found[id(block)] = block
        return sorted(found.values(), key=lambda block: block.start)

    def joined(self, *after: str) -> str:
        """The closed HTML followed by `after`. One join per update: building the (large) result
        string once is the main fixed cost."""
        return "".join([self._html, *self._parts, *after])

    def with_blocks(self, blocks: list[_RefBlock], htmls: list[str], *after: str) -> str:
        """`joined(*after)` with `blocks` (in order) shown as `htmls` for this once."""
        closed = self.fold()
        pieces: list[str] = []
        pos = 0
        for block, html in zip(blocks, htmls, strict=True):
            pieces += [closed[pos : block.start], html]
            pos = block.end
        pieces += [closed[pos:], *after]
        return "".join(pieces)

    def replace_blocks(self, blocks: list[_RefBlock], new_html: Mapping[int, str]) -> None:
        """Put the new HTML of `blocks` (in order; `new_html` by the block's id) in place of theirs, and
        move the blocks after them."""
        # Splice the new HTML in. The blocks are usually recent ones, still in _parts:
        # then only those parts are joined again, not the whole closed HTML.
        base = len(self._html)
        in_parts = blocks[0].start >= base
        if in_parts:
            region = "".join(self._parts)
        else:
            region, base = self.fold(), 0
        pieces: list[str] = []
        pos = base
        for block in blocks:
            pieces += [region[pos - base : block.start - base], new_html[id(block)]]
            pos = block.end
        pieces.append(region[pos - base :])
        if in_parts:
            self._parts = ["".join(pieces)]
            self._len = base + len(self._parts[0])
        else:
            self._html = "".join(pieces)
            self._len = len(self._html)
        # Move every kept block from the first one changed by the change in length of the
        # blocks before it.
        delta = 0
        first = bisect_left(self.blocks, blocks[0].start, key=lambda block: block.start)
        for block in islice(self.blocks, first, None):
            html = new_html.get(id(block))
            start = block.start + delta
            if html is None:
                block.end += delta
            else:
                delta += len(html) - (block.end - block.start)
                block.end = start + len(html)
                block.memo_key = None
            block.start = start
