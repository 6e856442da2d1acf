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

Reference definitions (``[x]: http://…``) make earlier blocks depend on later text: a ``[x]``
anywhere is a link if ``[x]: …`` is defined anywhere. The renderer keeps the map of the
definitions in the closed part (:attr:`IncrementalRenderer._defs`, first definition wins, as in
markdown-it) and parses the tail with it, so a definition is a closed block like any other whose
only effect is on that map:

- a definition is closed only once it is *settled*, i.e. no appended text can change it (see
  :func:`_settled`: a definition may still take a title from the next line, and ``[x]: See``
  stops being one when `` the docs`` arrives);
- every closed block whose inline text could look a label up (a ``[label]`` in it, see
  :func:`_labels_in`) is kept apart (:class:`_RefBlock`) with the labels it could use; when a
  definition is closed, only the closed blocks that could use its label are rendered again;
- a definition still in the tail (*transient*) applies to the closed blocks that could use its
  label for that update only (memoised while it does not change).

Footnotes (see :mod:`app.render.markdown`) work the same way, more simply. A ``[^label]`` is a
footnote reference if ``[^label]:`` is defined anywhere, and its number is the place of that
label's first definition. Both are final as soon as the ``[^label]:`` line is written: no
appended text can make that line something else, and no definition can come before it later. So
a footnote label counts as closed from the update its definition appears in, even while the
definition's body is still in the tail (:attr:`IncrementalRenderer._footnotes`, in order, seeded
into each parse of the tail); the closed blocks that could refer to it (``_FN + label`` among
their labels) are rendered again then, once. The notes section at the end is built on every
update from the closed notes' cached HTML (:class:`_Note`, rendered again only when a label
their body uses gets defined) followed by the notes still in the tail, rendered with the tail.

So an update costs the same whatever prefix the stream stops at. Any other document-wide state in
markdown-it's ``env`` (a plugin's) is not understood here: then the renderer renders the whole
text on every update (correct, not fast).
"""

from __future__ import annotations

import re
from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from itertools import islice
from typing import Any

from markdown_it.common.utils import normalizeReference
from markdown_it.token import Token

from app.render.closed import ClosedHtml, Prefixes, _RefBlock
from app.render.highlight import CodeHighlighter
from app.render.markdown import (
    FOOTNOTES_CLOSE,
    FOOTNOTES_KEY,
    Env,
    InlineCache,
    extract_footnotes,
    fence_html,
    fill_inline,
    first_definitions,
    footnote_item_html,
    footnote_keys,
    footnotes_open_html,
    lang_from_info,
    new_env,
    parse,
    parse_blocks,
    render_after,
    render_document,
    render_tokens,
    seed_footnotes,
)
from app.render.theme import Theme, get_theme

__all__ = ["IncrementalRenderer"]

_REFS = "references"  # markdown-it's env keys for reference definitions (first one wins) ...
_DUPLICATES = "duplicate_refs"  # ... and for the later ones with the same label
# The env keys a parse may fill that this module understands (beside the theme, see new_env()).
_KNOWN_ENV_KEYS = frozenset({_REFS, _DUPLICATES, FOOTNOTES_KEY, *new_env()})
# A footnote label's key among the labels a block depends on: never a normalised reference
# label (normalisation replaces "\0").
_FN = "\0"
_TITLE_OPENERS = "\"'("
_BLANK_LINE_RE = re.compile(r"\n[ \t]*\n")
# The text up to the next unescaped "]" with no unescaped "[" before it (a label's shape).
_LABEL_TAIL_RE = re.compile(r"((?:[^\[\]\\]|\\.)*)\]", re.S)

Refs = Mapping[str, Mapping[str, Any]]
# What a block's HTML depends on, by label (see _labels_in): a reference label's href and title,
# a footnote label's number.
Sigs = Mapping[str, Hashable]


def _ref_sig(ref: Mapping[str, Any]) -> Hashable:
    return (ref["href"], ref["title"])


def _normalise(text: str) -> str:
    # Same normalisation as markdown-it's "normalize" core rule, so offsets agree.
    if "\r" in text:
        text = text.replace("\r\n", "\n").replace("\r", "\n")
    if "\0" in text:
        text = text.replace("\0", "\ufffd")
    return text


def _closer_re(markup: str) -> re.Pattern[str]:
    return re.compile(r" {0,3}" + re.escape(markup[0]) + "{" + str(len(markup)) + r",}[ \t]*\Z")


def _labels_in(content: str) -> frozenset[str]:
    """Every normalised label that inline ``content`` could look up in the reference map, and
    (as ``_FN + label``) every footnote label it could refer to.

    markdown-it looks up ``normalizeReference(s)`` where ``s`` is the text between a ``[`` and its
    ``]`` (``[s]``, ``[s][]``, ``[text][s]``, and the same after ``!``). A label that can be
    defined has no unescaped bracket, so it is the text after some ``[`` up to the next
    unescaped ``]``: this takes that text after *every* ``[`` (a superset, never missing one).
    A footnote reference ``[^label]`` is the text after ``[^`` up to the next ``]``, with no space
    or newline (mdit-py-plugins' rule, labels taken as written).
    """
    labels: set[str] = set()
    pos = content.find("[")
    while pos >= 0:
        m = _LABEL_TAIL_RE.match(content, pos + 1)
        if m is not None:
            label = normalizeReference(m.group(1))
            if label:
                labels.add(label)
        pos = content.find("[", pos + 1)
    pos = content.find("[^")
    while pos >= 0:
        end = content.find("]", pos + 2)
        label = content[pos + 2 : end] if end > pos + 2 else ""
        if label and " " not in label and "\n" not in label:
            labels.add(_FN + label)
        pos = content.find("[^", pos + 2)
    return frozenset(labels)


def _uses(labels: Iterable[str], refs: Refs, footnotes: Mapping[str, Any]) -> bool:
    """Whether one of ``labels`` (see _labels_in) is defined: in ``refs``, or among the
    ``footnotes`` (mdit-py-plugins' keys, ``":" + label``)."""
    for label in labels:
        if label[:1] == _FN:
            if footnotes and ":" + label[1:] in footnotes:
                return True
        elif label in refs:
            return True
    return False


def _settled(tail: str, line_starts: list[int], complete: int, end: int) -> bool:
    """Whether a definition ending before line ``end`` of ``tail`` is final (no appended text
    can change it or its extent).

    After its destination a definition may take a title from the next line, if that line (past
    container markers and indentation) starts with a quote or "(", and the title may go on until
    a blank line. So it is final once that next line is known to start otherwise (or to be
    blank in its container), or once a complete blank line follows.
    """
    if end > complete:
        return False  # ends at the end of the text: the last line may grow
    line_end = line_starts[end + 1] - 1 if end < complete else len(tail)
    rest = tail[line_starts[end] : line_end].lstrip(" \t>")
    if (rest and rest[0] not in _TITLE_OPENERS) or (not rest and end < complete):
        return True  # the next line cannot be a title (or is blank in its container)
    return _BLANK_LINE_RE.search(tail, line_starts[end] - 1) is not None


def _labels_of(tokens: Iterable[Token]) -> frozenset[str]:
    labels: frozenset[str] = frozenset()
    for tok in tokens:
        if tok.type == "inline" and "[" in tok.content:
            labels = labels | _labels_in(tok.content)
    return labels


def _prefixes(tokens: Iterable[Token], inline_cache: InlineCache) -> Prefixes:
    """For the inline contents of a block just rendered that could use a label: the closed
    pieces the inline cache rendered on their own while the content grew (see
    InlineCache.closed_pieces). A piece none of whose labels is defined renders the same
    with definitions as without: when a definition arrives, only what follows the longest
    such piece is rendered again."""
    found: Prefixes = {}
    for tok in tokens:
        if tok.type == "inline" and "[" in tok.content:
            cuts, html = inline_cache.closed_pieces(tok.content)
            if cuts:
                found[tok.content] = (cuts, html)
    return found


def _memo_key(block: _RefBlock | _Note, transient: Sigs) -> tuple[Any, ...]:
    """What ``block`` renders with, beside the closed definitions: the transient
    definitions of the labels it could use. (A closed definition changes the HTML of the
    blocks that could use its label only, and _add_defs() renders those again and forgets
    their memo: the closed definitions need not be part of the key.)"""
    return tuple((k, transient[k]) for k in sorted(block.labels) if k in transient)


class _WholeInline(InlineCache):
    """An inline cache for content rendered once: in one piece (cutting it in two pieces, to
    render less of it next time, would cost a second parse for nothing)."""

    MIN_PIECE = 1 << 62


@dataclass(slots=True, eq=False)
class _Note:
    """A closed footnote definition (the first one of its label): the body of a note."""

    label: str
    tokens: list[Token]  # its body's tokens (as in _RefBlock)
    labels: frozenset[str]  # the labels its body could use (see _labels_in)
    html: str  # its body's HTML, with the closed definitions
    prefixes: Prefixes  # as in _RefBlock
    memo_key: tuple[Any, ...] | None = None  # as in _RefBlock
    memo_html: str = ""

    def __repr__(self) -> str:
        return f"_Note(label={self.label!r}, labels={sorted(self.labels)!r})"


@dataclass(slots=True)
class _OpenFence:
    """A top-level fence that is still open at the end of the text."""

    closer: re.Pattern[str]
    lang: str
    body_start: int  # absolute offset of the first body line
    scan_pos: int  # absolute offset up to which complete lines were checked for a closer
    highlighter: CodeHighlighter

    @classmethod
    def at_start(cls, tail: str, tokens: list[Token], offset: int, theme: Theme) -> _OpenFence | None:
        """Fast-path state if ``tail`` (at ``offset`` in the text) is exactly one open, unindented,
        top-level fence."""
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
        return cls(
            closer=closer,
            lang=lang,
            body_start=offset + body_start,
            scan_pos=offset + body_start,
            highlighter=CodeHighlighter(lang, theme),
        )

    def advance(self, text: str, theme: Theme) -> tuple[str, int | None]:
        """Advance over new text: (the HTML of the fence, None) while it is still open (or closed by
        a fence at the very end of the text, not yet followed by a newline); once a complete closing
        line arrived, (its final HTML, with the exact colours of the one-shot result, the offset
        after the closing line)."""
        pos = self.scan_pos
        closer = self.closer
        while True:
            nl = text.find("\n", pos)
            if nl < 0:
                break
            if closer.match(text, pos, nl):
                body = text[self.body_start : pos]
                return fence_html(self.highlighter.exact(body), self.lang, theme), nl + 1
            pos = nl + 1
        self.scan_pos = pos
        end = len(text)
        if pos < end:
            if closer.match(text, pos):
                end = pos  # closed at the very end of the text: the closing line is not code
            elif not text[pos:].strip(" \t"):
                end = pos  # markdown-it ignores a last line of only blanks with no newline yet
        body = text[self.body_start : end]
        return fence_html(self.highlighter.feed(body), self.lang, theme), None


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
        # The HTML of the closed part, and the closed blocks in it that could use a label.
        self._closed = ClosedHtml()
        self._full_mode = False  # document-wide state not understood here: render everything
        self._fence: _OpenFence | None = None
        self._last: tuple[str, bool, str] | None = None
        # Rendered inline HTML by content (list items, table cells and a paragraph still being
        # written are not parsed again from their start), for content that uses no defined label.
        self._inline_cache = InlineCache()
        # The reference definitions of the closed part (normalised label -> href/title), in
        # document order; _defs_version counts their changes (and the footnotes').
        self._defs: dict[str, Mapping[str, Any]] = {}
        self._defs_version = 0
        # The footnote labels defined so far (final once written, see the module docstring), in
        # the order of first definition (a label's number is its place here), and the notes of
        # the closed part (each label's first definition's body).
        self._footnotes: dict[str, None] = {}
        self._notes: dict[str, _Note] = {}
        self._notes_by_label: dict[str, list[_Note]] = {}  # notes whose body could use a label
        self._notes_html: str | None = None  # the closed notes' items, joined (None: to join)
        self._notes_open = footnotes_open_html(new_env(self._theme))
        # Inline HTML for content that uses a defined label, valid for one definitions map.
        self._ref_inline = InlineCache()
        self._ref_inline_key: tuple[Any, ...] | None = None
        self._blocks_rendered = 0

    def __repr__(self) -> str:
        return (
            f"IncrementalRenderer(theme={self._theme.name!r}, chars={len(self._text)}, "
            f"closed={self._closed_end}, open_fence={self._fence is not None})"
        )

    @property
    def closed_chars(self) -> int:
        """How many characters of the text are closed (rendered once, cached)."""
        return self._closed_end

    @property
    def blocks_rendered(self) -> int:
        """How many top-level blocks (and footnote bodies) were rendered to HTML so far (a measure
        of the work done: the open tail's blocks on each update, plus closed blocks rendered again)."""
        return self._blocks_rendered

    def reset(self) -> None:
        self._raw = ""
        self._text = ""
        self._closed_end = 0
        self._closed = ClosedHtml()
        self._full_mode = False
        self._fence = None
        self._last = None
        self._inline_cache.clear()
        self._defs = {}
        self._defs_version += 1
        self._footnotes = {}
        self._notes = {}
        self._notes_by_label = {}
        self._notes_html = None
        self._ref_inline.clear()
        self._ref_inline_key = None

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
        self._closed.append(html)

    def _with_closed(
        self,
        tail_html: str,
        transient: Sigs | None = None,
        env: Env | None = None,
        tail_notes: Sequence[str] = (),
    ) -> str:
        """The closed HTML followed by ``tail_html`` and the notes (the closed ones, then the
        items ``tail_notes``); with ``transient`` definitions (still in the tail), the closed
        blocks and notes that use one of their labels are rendered with them."""
        notes = self._notes_section(transient, env, tail_notes)
        if transient and env is not None:
            blocks = self._closed.blocks_using(transient)
            if blocks:
                htmls = [self._transient_html(block, transient, env) for block in blocks]
                return self._closed.with_blocks(blocks, htmls, tail_html, notes)
        return self._closed.joined(tail_html, notes)

    def _notes_section(self, transient: Sigs | None, env: Env | None, tail_notes: Sequence[str]) -> str:
        """The notes at the end of the card (see :func:`~app.render.markdown.footnotes_html`)."""
        if not self._notes and not tail_notes:
            return ""
        closed = self._notes_html
        if closed is None:
            closed = self._notes_html = "".join(footnote_item_html(n.html) for n in self._notes.values())
        if transient and env is not None and self._notes_by_label:
            using = {id(n) for n in self._notes_using(transient)}
            if using:
                closed = "".join(
                    footnote_item_html(self._transient_html(n, transient, env) if id(n) in using else n.html)
                    for n in self._notes.values()
                )
        return "".join([self._notes_open, closed, *tail_notes, FOOTNOTES_CLOSE])

    def _notes_using(self, labels: Iterable[str]) -> list[_Note]:
        """The closed notes whose body could use one of ``labels``."""
        found: dict[int, _Note] = {}
        for label in labels:
            for note in self._notes_by_label.get(label, ()):
                found[id(note)] = note
        return list(found.values())

    def _transient_html(self, block: _RefBlock | _Note, transient: Sigs, env: Env) -> str:
        key = _memo_key(block, transient)
        if block.memo_key != key:
            block.memo_key = key
            block.memo_html = self._render_block(block.tokens, env, self._ref_cache(env), block.prefixes)
        return block.memo_html

    # ----------------------------------------------------------------------------------------
    # Inline content and reference definitions

    def _ref_cache(self, env: Env) -> InlineCache:
        """The inline cache for content that uses a label of ``env``'s definitions."""
        refs: Refs = env[_REFS]
        key = (
            self._defs_version,
            *((k, r["href"], r["title"]) for k, r in islice(refs.items(), len(self._defs), None)),
            *islice(footnote_keys(env), len(self._footnotes), None),
        )
        if key != self._ref_inline_key:
            self._ref_inline.clear()
            self._ref_inline_key = key
        return self._ref_inline

    def _fill(
        self, tokens: Sequence[Token], env: Env, ref_cache: InlineCache, prefixes: Prefixes | None = None
    ) -> None:
        """Give the inline tokens their rendered HTML (fill_inline(), with definitions): content
        that could use a defined label is rendered with ``env``'s definitions through
        ``ref_cache`` (after its closed prefix in ``prefixes``, if any: see _prefixes), the rest
        without any (the same HTML) through the cache kept across updates."""
        refs: Refs = env.get(_REFS) or {}
        footnotes = footnote_keys(env)
        if not refs and not footnotes:
            fill_inline(tokens, new_env(self._theme), self._inline_cache)
            return
        plain: list[Token] = []
        using: list[Token] = []
        for tok in tokens:
            if tok.type == "inline":
                content = tok.content
                uses = "[" in content and _uses(_labels_in(content), refs, footnotes)
                (using if uses else plain).append(tok)
        if plain:
            fill_inline(plain, new_env(self._theme), self._inline_cache)
        if prefixes:
            rest: list[Token] = []
            for tok in using:
                content = tok.content
                cuts, html = prefixes.get(content, ((), ""))
                for cut, size in reversed(cuts):
                    # The longest piece that uses no defined label renders as it did without any.
                    if "[" not in content[:cut] or not _uses(_labels_in(content[:cut]), refs, footnotes):
                        tok.children = render_after(html[:size], content[cut:], env, ref_cache)
                        break
                else:
                    rest.append(tok)
            using = rest
        if using:
            fill_inline(using, env, ref_cache)

    def _render_block(
        self, tokens: list[Token], env: Env, ref_cache: InlineCache, prefixes: Prefixes | None = None
    ) -> str:
        self._fill(tokens, env, ref_cache, prefixes)
        self._blocks_rendered += 1
        html = render_tokens(tokens, env)
        for tok in tokens:
            if tok.type == "inline":
                tok.children = None  # kept for the next render only as content
        return html

    def _closed_env(self) -> Env:
        """An env with the closed definitions (references and footnote labels)."""
        env = new_env(self._theme)
        env[_REFS] = dict(self._defs)
        if self._footnotes:
            seed_footnotes(env, self._footnotes)
        return env

    def _add_defs(self, refs: list[tuple[str, Mapping[str, Any]]], footnotes: list[str]) -> None:
        """Close settled reference definitions and footnote labels: add them to the maps and
        render again the closed blocks and notes that could use them."""
        closing: dict[str, Hashable] = {label: _ref_sig(ref) for label, ref in refs}
        first = len(self._footnotes) + 1
        closing.update((_FN + label, number) for number, label in enumerate(footnotes, first))
        blocks = self._closed.blocks_using(closing)
        notes = self._notes_using(closing)
        # A block last rendered with exactly these definitions as transient ones (while they were
        # still in the tail) already has its HTML.
        kept: list[_RefBlock | _Note] = [*blocks, *notes]
        new_html = {id(b): b.memo_html for b in kept if b.memo_key == _memo_key(b, closing)}
        for label, ref in refs:
            self._defs.setdefault(label, ref)
        for label in footnotes:
            self._footnotes.setdefault(label)
        self._defs_version += 1
        if not blocks and not notes:
            return
        env = self._closed_env()
        scratch = _WholeInline()
        for note in notes:
            html = new_html.get(id(note))
            note.html = self._render_block(note.tokens, env, scratch, note.prefixes) if html is None else html
            note.memo_key = None
            self._notes_html = None
        if not blocks:
            return
        for block in blocks:
            if id(block) not in new_html:
                new_html[id(block)] = self._render_block(block.tokens, env, scratch, block.prefixes)
        self._closed.replace_blocks(blocks, new_html)

    def _close_blocks(self, tokens: list[Token], env: Env) -> None:
        """Render closed top-level ``tokens`` (under the closed definitions ``env``; footnote
        definitions taken out) and add them to the closed part; blocks that could use a label
        are kept apart (see _RefBlock)."""
        n = len(tokens)
        i = 0
        run_start = 0
        while i < n:
            j = _after_block(tokens, i, n) if tokens[i].level == 0 else i + 1
            labels = _labels_of(tokens[i:j])
            if labels:
                if run_start < i:
                    self._close(self._render_plain(tokens[run_start:i], env))
                block_tokens = tokens[i:j]
                html = self._render_block(block_tokens, env, _WholeInline())
                self._closed.add_block(block_tokens, labels, html, _prefixes(block_tokens, self._inline_cache))
                run_start = j
            i = j
        if run_start < n:
            self._close(self._render_plain(tokens[run_start:], env))

    def _close_notes(self, notes: Mapping[str, list[Token]], env: Env) -> None:
        """Render the bodies of closed footnote definitions (first ones of their label) once."""
        for label, body in notes.items():
            if label in self._notes:
                continue  # the first definition of a label wins
            labels = _labels_of(body)
            note = _Note(label, body, labels, self._render_block(body, env, _WholeInline()), {})
            note.prefixes = _prefixes(body, self._inline_cache)
            self._notes[label] = note
            for dep in labels:
                self._notes_by_label.setdefault(dep, []).append(note)
            self._notes_html = None

    def _render_plain(self, tokens: list[Token], env: Env) -> str:
        # No "[" in their inline content: no definition applies.
        fill_inline(tokens, new_env(self._theme), self._inline_cache)
        self._blocks_rendered += sum(1 for t in tokens if t.level == 0 and t.nesting != -1)
        return render_tokens(tokens, env)

    def _render(self, text: str, final: bool) -> str:
        if self._full_mode:
            env = new_env(self._theme)
            tokens = parse(text, env)
            self._blocks_rendered += sum(1 for t in tokens if t.level == 0 and t.nesting != -1)
            return render_document(tokens, env)
        if self._fence is not None:
            tail_html = self._advance_fence(text, self._fence)
            if tail_html is not None and not final:
                self._blocks_rendered += 1
                return self._with_closed(tail_html)

        tail = text[self._closed_end :]
        env = self._closed_env()
        tokens = parse_blocks(tail, env)
        if not _KNOWN_ENV_KEYS.issuperset(env):
            # Document-wide state this module does not know how to keep: give up on caching.
            self._full_mode = True
            return self._render(text, final)

        line_starts = [0]
        line_starts.extend(m.end() for m in re.finditer("\n", tail))
        complete = len(line_starts) - 1  # lines 0 .. complete-1 end with "\n"
        # The definitions in the tail: new labels in document order, and repeated ones.
        refs: dict[str, Mapping[str, Any]] = env[_REFS]
        tail_defs = list(islice(refs.items(), len(self._defs), None))
        limit: int | None = None  # no split after the start of a definition not yet settled
        for ref in [r for _, r in tail_defs] + list(env.get(_DUPLICATES, ())):
            first, end = ref["map"]
            if (limit is None or first < limit) and not _settled(tail, line_starts, complete, end):
                limit = first
        # Footnote labels defined in the tail are closed at once: a label and its number are
        # final as soon as its "[^label]:" is written (no appended text can make that line
        # something else, and text is only appended). Only the body may still grow: it is in the
        # notes, rendered with the tail until its definition is closed.
        new_footnotes = [key[1:] for key in islice(footnote_keys(env), len(self._footnotes), None)]

        split = _find_split(tail, tokens, line_starts, complete, limit)
        transient: dict[str, Hashable] = {label: _ref_sig(ref) for label, ref in tail_defs}
        closing: list[tuple[str, Mapping[str, Any]]] = []
        if split is not None:
            closing = [(k, r) for k, r in tail_defs if r["map"][0] < split[1]]
        if closing or new_footnotes:
            self._add_defs(closing, new_footnotes)
            for k, _ in closing:
                del transient[k]
        if split is not None:
            index, line = split
            offset = line_starts[line]
            closed_env = self._closed_env() if transient else env
            head, defined = extract_footnotes(tokens[:index])
            notes = first_definitions(defined)
            self._close_blocks(head, closed_env)
            self._close_notes(notes, closed_env)
            self._closed_end += offset
            tokens = tokens[index:]
            tail = tail[offset:]
        if not final:
            self._fence = _OpenFence.at_start(tail, tokens, self._closed_end, self._theme)
            if self._fence is not None:
                fence_html = self._advance_fence(text, self._fence)
                if fence_html is not None:
                    self._blocks_rendered += 1
                    return self._with_closed(fence_html)
        ref_cache = self._ref_cache(env)
        tokens, defined = extract_footnotes(tokens)
        self._fill(tokens, env, ref_cache)
        self._blocks_rendered += sum(1 for t in tokens if t.level == 0 and t.nesting != -1)
        tail_html = render_tokens(tokens, env)
        tail_notes: list[str] = []
        for label, body in first_definitions(defined).items():
            if label not in self._notes:
                self._fill(body, env, ref_cache)
                self._blocks_rendered += 1
                tail_notes.append(footnote_item_html(render_tokens(body, env)))
        return self._with_closed(tail_html, transient, env, tail_notes)

    def _advance_fence(self, text: str, fence: _OpenFence) -> str | None:
        """Advance the open fence over new text: the HTML of the fence, still open; or, if a complete
        closing line arrived, None: the fence is moved to the closed part (the rest goes the general way)."""
        html, closed_end = fence.advance(text, self._theme)
        if closed_end is None:
            return html
        self._close(html)
        self._closed_end = closed_end
        self._fence = None
        return None


def _find_split(
    tail: str, tokens: list[Token], line_starts: list[int], complete: int, limit: int | None = None
) -> tuple[int, int] | None:
    """(token index, line) of the last safe split of ``tail``, if any, at a line ``<= limit``.

    Everything before the split is final: its HTML will not change whatever text is appended.
    ``line_starts`` are the offsets of the lines of ``tail``, the first ``complete`` of which
    end with a newline. Only top-level (level 0) blocks are considered:

    - a block starting on a complete line ends the blocks before it (a table: once its
      delimiter row is complete too, as a table may interrupt a paragraph);
    - a heading or a thematic break is final once its last line is complete;
    - a paragraph, table or block quote is final once followed by a complete blank line;
    - a fenced code block is final once its closing fence line is complete.

    Reference definitions make no tokens: the caller passes as ``limit`` the first line of the
    first one that is not settled yet (see :func:`_settled`), which no split may pass.
    """
    best: tuple[int, int] | None = None
    n = len(tokens)
    if limit is None:
        limit = complete
    for i, tok in enumerate(tokens):
        if tok.level != 0 or tok.nesting == -1 or tok.map is None:
            continue
        start, end = tok.map
        if start > limit:
            break
        kind = tok.type
        # A table is one only while its delimiter row (the next line) stays valid.
        if 0 < start < complete and (kind != "table_open" or start + 1 < complete):
            best = (i, start)
        if kind in ("heading_open", "hr"):
            if end <= complete and end <= limit:
                best = (_after_block(tokens, i, n), end)
        elif kind in ("paragraph_open", "table_open", "blockquote_open"):
            if end < min(complete, limit) and not tail[line_starts[end] : line_starts[end + 1]].strip(
                " \t\n"
            ):
                best = (_after_block(tokens, i, n), end + 1)
        elif kind == "fence":
            if start < end - 1 < complete and end <= limit and tail[line_starts[start]] in "`~":
                closing = tail[line_starts[end - 1] : line_starts[end] - 1]
                if _closer_re(tok.markup).match(closing):
                    best = (i + 1, end)
    return best


def _after_block(tokens: list[Token], i: int, n: int) -> int:
    """Index just after the top-level block opened by ``tokens[i]``."""
    if tokens[i].nesting == 0:
        return i + 1
    j = i + 1
    while j < n and not (tokens[j].level == 0 and tokens[j].nesting == -1):
        j += 1
    return j + 1
