"""Incremental markdown rendering for streamed answers.

While a model streams, a card's text only grows by appending. :class:`IncrementalRenderer` splits
the text into a *closed* head, whose HTML is rendered once and cached, and an *open* tail that is
re-rendered on every update. The split points come from markdown-it's own parse of the tail, so
they follow CommonMark exactly (a blank line inside a fence, a loose list or an indented code
block never splits a block); see :func:`_find_split` for the rules.

Inline content (paragraphs, list items, table cells) is rendered through a per-renderer
:class:`~app.render.markdown.InlineCache` keyed by its source, so a growing list or table
re-parses only its last item or row, and a growing paragraph only the text after its last
closed piece.

An open top-level code fence in the tail (the expensive case: a long code block being written)
skips markdown parsing altogether: new lines are checked for the closing fence and the body is
highlighted incrementally by :class:`~app.render.highlight.CodeHighlighter`. When the closing
fence arrives, :meth:`~app.render.highlight.CodeHighlighter.exact` gives the block its exact
colours (the one-shot result) without lexing it all again, and it is cached.

Output contract:

- ``update(text, final=True)`` returns exactly ``render_markdown(text)``. Call it once when the
  stream ends (a code fence still open then is highlighted in one shot).
- ``update(text)`` returns the same visible text and structure as ``render_markdown(text)``;
  only colours inside a code block still open may differ, where a lexer's single regex spans
  lines (a Python docstring, a C ``/* … */`` comment) and was tried before its end arrived.
  Closed blocks, and everything else, are byte-identical (the tests check this on every prefix).

Reference-style link definitions (``[x]: http://…``) make earlier blocks depend on later text:
once one appears the renderer renders the whole text on every update (correct, not fast).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from markdown_it.token import Token

from app.render.highlight import CodeHighlighter
from app.render.markdown import (
    InlineCache,
    fence_html,
    fill_inline,
    has_references,
    lang_from_info,
    new_env,
    parse,
    parse_blocks,
    render_tokens,
)
from app.render.theme import Theme, get_theme

__all__ = ["IncrementalRenderer"]

_JOIN_EVERY = 16  # closed parts kept apart before they are joined into one string


def _normalise(text: str) -> str:
    # Same normalisation as markdown-it's "normalize" core rule, so offsets agree.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\0" in text:
        text = text.replace("\0", "\ufffd")
    return text


def _closer_re(markup: str) -> re.Pattern[str]:
    return re.compile(r" {0,3}" + re.escape(markup[0]) + "{" + str(len(markup)) + r",}[ \t]*\Z")


@dataclass(slots=True)
class _OpenFence:
    """A top-level fence that is still open at the end of the text."""

    closer: re.Pattern[str]
    lang: str
    body_start: int  # absolute offset of the first body line
    scan_pos: int  # absolute offset up to which complete lines were checked for a closer
    highlighter: CodeHighlighter


class IncrementalRenderer:
    """Renders a growing markdown text, re-rendering only its open tail.

    One instance per streaming card; not thread-safe. ``update`` may be called with any text:
    if it does not extend the previous one, the renderer starts over.
    """

    def __init__(self, theme: str | Theme = "light") -> None:
        self._theme = get_theme(theme)
        self._raw = ""  # the text as given (before newline normalisation)
        self._text = ""
        self._closed_end = 0
        # The HTML of the closed part: _closed_html followed by _closed_parts (see _close()).
        self._closed_html = ""
        self._closed_parts: list[str] = []
        self._full_mode = False  # reference definitions seen: render everything every time
        self._fence: _OpenFence | None = None
        self._last: tuple[str, bool, str] | None = None
        # Rendered inline HTML by content (list items, table cells and a paragraph still being
        # written are not parsed again from their start).
        self._inline_cache = InlineCache()

    def __repr__(self) -> str:
        return (
            f"IncrementalRenderer(theme={self._theme.name!r}, chars={len(self._text)}, "
            f"closed={self._closed_end}, open_fence={self._fence is not None})"
        )

    @property
    def closed_chars(self) -> int:
        """How many characters of the text are closed (rendered once, cached)."""
        return self._closed_end

    def reset(self) -> None:
        self._raw = ""
        self._text = ""
        self._closed_end = 0
        self._closed_html = ""
        self._closed_parts = []
        self._full_mode = False
        self._fence = None
        self._last = None
        self._inline_cache.clear()

    def update(self, text: str, *, final: bool = False) -> str:
        """The full HTML for ``text``.

        With ``final=True`` (call it once when the stream ends) the result is exactly
        ``render_markdown(text)``; without it, code fences highlighted while they streamed
        may differ in colour (never in text), see the module docstring.
        """
        raw, prev_raw = text, self._raw
        if prev_raw and raw.startswith(prev_raw) and not prev_raw.endswith("\r"):
            # Appended text: normalise only the new part. A "\r\n" split across two updates
            # takes the full path below, since the previous text then ends with "\r".
            added = raw[len(prev_raw) :]
            normalised = _normalise(added)
            # Nothing normalised so far: the text is the caller's string (no copy of it all).
            unchanged = normalised is added and self._text is prev_raw
            text = raw if unchanged else self._text + normalised
        else:
            text = _normalise(raw)
            if not text.startswith(self._text):
                self.reset()
        last = self._last
        if last is not None and last[0] == text and last[1] == final:
            return last[2]
        self._raw = raw
        self._text = text
        html = self._render(text, final)
        self._last = (text, final, html)
        return html

    # ----------------------------------------------------------------------------------------

    def _close(self, html: str) -> None:
        parts = self._closed_parts
        parts.append(html)
        if len(parts) >= _JOIN_EVERY:
            # Now and then fold the parts into one string: copying it into each result is a
            # plain memory copy, where many small (often ASCII) parts must each be widened to
            # the result's wider character size (any emoji makes it 4 bytes per character).
            self._closed_html = "".join([self._closed_html, *parts])
            parts.clear()

    def _with_closed(self, tail_html: str) -> str:
        # One join per update: building the (large) result string once is the main fixed cost.
        return "".join([self._closed_html, *self._closed_parts, tail_html])

    def _render(self, text: str, final: bool) -> str:
        if self._full_mode:
            env = new_env(self._theme)
            return render_tokens(parse(text, env), env)
        if self._fence is not None:
            tail_html = self._advance_fence(text, self._fence)
            if tail_html is not None and not final:
                return self._with_closed(tail_html)

        tail = text[self._closed_end :]
        env = new_env(self._theme)
        tokens = parse_blocks(tail, env)
        if has_references(env):
            # Definitions anywhere change links everywhere: give up on caching.
            self._full_mode = True
            return self._render(text, final)
        fill_inline(tokens, env, self._inline_cache)

        split = _find_split(tail, tokens)
        if split is not None:
            index, offset = split
            self._close(render_tokens(tokens[:index], env))
            self._closed_end += offset
            tokens = tokens[index:]
            tail = tail[offset:]
        if not final:
            self._fence = self._open_fence_at_start(tail, tokens)
            if self._fence is not None:
                fence_html = self._advance_fence(text, self._fence)
                if fence_html is not None:
                    return self._with_closed(fence_html)
        return self._with_closed(render_tokens(tokens, env))

    def _open_fence_at_start(self, tail: str, tokens: list[Token]) -> _OpenFence | None:
        """Fast-path state if ``tail`` is exactly one open, unindented, top-level fence."""
        if not tokens or tokens[0].type != "fence" or tokens[0].level != 0 or tail[:1] not in ("`", "~"):
            return None
        nl = tail.find("\n")
        if nl < 0:
            return None  # the opening line (its info string) is not complete yet
        tok = tokens[0]
        closer = _closer_re(tok.markup)
        body_start = nl + 1
        for line in tail[body_start:].split("\n"):
            if closer.match(line):
                return None
        lang = lang_from_info(tok.info)
        return _OpenFence(
            closer=closer,
            lang=lang,
            body_start=self._closed_end + body_start,
            scan_pos=self._closed_end + body_start,
            highlighter=CodeHighlighter(lang, self._theme),
        )

    def _advance_fence(self, text: str, fence: _OpenFence) -> str | None:
        """Advance the open fence over new text.

        Returns the HTML of the fence, still open (or closed by a fence at the very end of the
        text, not yet followed by a newline). If a complete closing line arrived, the fence is
        moved to the closed part and ``None`` is returned (the rest goes the general way).
        """
        pos = fence.scan_pos
        closer = fence.closer
        while True:
            nl = text.find("\n", pos)
            if nl < 0:
                break
            if closer.match(text, pos, nl):
                body = text[fence.body_start : pos]
                # Closed: exact colours for the cached HTML (the one-shot result, see above).
                self._close(fence_html(fence.highlighter.exact(body), fence.lang, self._theme))
                self._closed_end = nl + 1
                self._fence = None
                return None
            pos = nl + 1
        fence.scan_pos = pos
        end = len(text)
        if pos < end:
            if closer.match(text, pos):
                end = pos  # closed at the very end of the text: the closing line is not code
            elif not text[pos:].strip(" \t"):
                end = pos  # markdown-it ignores a last line of only blanks with no newline yet
        body = text[fence.body_start : end]
        return fence_html(fence.highlighter.feed(body), fence.lang, self._theme)


def _find_split(tail: str, tokens: list[Token]) -> tuple[int, int] | None:
    """(token index, char offset) of the last safe split of ``tail``, if any.

    Everything before the split is final: its HTML will not change whatever text is appended.
    Only top-level (level 0) blocks are considered:

    - a block starting on a complete line ends the blocks before it (a table: once its
      delimiter row is complete too, as a table may interrupt a paragraph);
    - a heading or a thematic break is final once its last line is complete;
    - a paragraph, table or block quote is final once followed by a complete blank line;
    - a fenced code block is final once its closing fence line is complete.
    """
    line_starts = [0]
    line_starts.extend(m.end() for m in re.finditer("\n", tail))
    complete = len(line_starts) - 1  # lines 0 .. complete-1 end with "\n"
    best: tuple[int, int] | None = None
    n = len(tokens)
    for i, tok in enumerate(tokens):
        if tok.level != 0 or tok.nesting == -1 or tok.map is None:
            continue
        start, end = tok.map
        kind = tok.type
        # A table is one only while its delimiter row (the next line) stays valid.
        if 0 < start < complete and (kind != "table_open" or start + 1 < complete):
            best = (i, line_starts[start])
        if kind in ("heading_open", "hr"):
            if end <= complete:
                best = (_after_block(tokens, i, n), line_starts[end])
        elif kind in ("paragraph_open", "table_open", "blockquote_open"):
            if end < complete and not tail[line_starts[end] : line_starts[end + 1]].strip(" \t\n"):
                best = (_after_block(tokens, i, n), line_starts[end + 1])
        elif kind == "fence":
            if start < end - 1 < complete and tail[line_starts[start]] in "`~":
                closing = tail[line_starts[end - 1] : line_starts[end] - 1]
                if _closer_re(tok.markup).match(closing):
                    best = (i + 1, line_starts[end])
    return best


def _after_block(tokens: list[Token], i: int, n: int) -> int:
    """Index just after the top-level block opened by ``tokens[i]``."""
    if tokens[i].nesting == 0:
        return i + 1
    j = i + 1
    while j < n and not (tokens[j].level == 0 and tokens[j].nesting == -1):
        j += 1
    return j + 1
