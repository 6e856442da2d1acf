"""Syntax highlighting of code blocks with pygments, as inline-styled HTML.

QTextDocument ignores CSS classes, so every token gets ``<span style="color:…">``. The output is
line-oriented: spans never cross a newline and the lines are joined with ``"\\n"`` (no trailing
newline). That makes the HTML of a code block the concatenation of the HTML of its lines, which is
what lets :class:`CodeHighlighter` re-highlight only the end of a growing (streaming) block and
still produce the same string as a one-shot :func:`highlight_code`.

Incremental lexing drives pygments' ``RegexLexer`` state machine directly (the loop of
``RegexLexer.get_tokens_unprocessed``) so that the lexer state at line starts can be recorded
and resumed from. Lexers with their own tokenizer fall back to a full re-lex on every feed.

When the block closes, :meth:`CodeHighlighter.exact` turns that work into the exact one-shot
result instead of lexing the whole block again: the only attempts whose outcome can change when
text is appended are those of rules whose regex may look past the end of its own line (found by
reading the regex, :func:`_line_bounded`); those attempts are logged, re-run on the final text,
and the block is re-lexed only from the last line before the first one that changed.

Everything here is pure and thread-compatible: module caches are filled idempotently.
"""

from __future__ import annotations

import importlib
import re
from bisect import bisect_right
from collections.abc import Callable, Iterator, Sequence
from functools import lru_cache
from typing import Any

from pygments.lexer import Lexer, RegexLexer
from pygments.lexers import get_lexer_by_name
from pygments.styles import get_style_by_name
from pygments.token import Error, Name, Whitespace, _TokenType
from pygments.util import ClassNotFound

from app.render.theme import Theme, get_theme

__all__ = ["CodeHighlighter", "escape_code", "escape_html", "highlight_code", "lexer_for", "warm_up"]

# Languages shown as plain text even though pygments knows a lexer for them.
_PLAIN_LANGS = frozenset({"", "text", "txt", "plain", "plaintext", "none", "output", "console-output"})

_TokenStream = Iterator[tuple[int, "_TokenType | None", str, "tuple[str, ...] | None"]]
_Mapper = Callable[[_TokenType, str], _TokenType]
_MatchFn = Callable[[str, int], "re.Match[str] | None"]
# A logged rule attempt: (position, the rule's match function, m.regs or None); see CodeHighlighter.
_Attempt = tuple[int, _MatchFn, Any]
# A line start the lexer can resume from: (position, state stack, lines before it, attempts
# before it, whether a token ended there rather than spanning it).
_Checkpoint = tuple[int, tuple[str, ...], int, int, bool]
_START: _Checkpoint = (0, ("root",), 0, 0, True)


def escape_html(text: str) -> str:
    """Escape text for element content and double-quoted attributes."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")


def _esc(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def escape_code(code: str) -> str:
    """Plain (unhighlighted) code block body: escaped, one trailing newline dropped."""
    if code.endswith("\n"):
        code = code[:-1]
    return _esc(code)


@lru_cache(maxsize=256)
def lexer_for(lang: str) -> Lexer | None:
    """A cached pygments lexer for a fence language name, or ``None`` (unknown/plain)."""
    name = lang.strip().lower()
    if name in _PLAIN_LANGS:
        return None
    try:
        # stripnl/ensurenl off: the lexer must see exactly the code we give it.
        lexer: Lexer = get_lexer_by_name(name, stripnl=False, ensurenl=False)
    except ClassNotFound:
        return None
    return lexer


# --------------------------------------------------------------------------------------------
# Styles


class _StyleMap:
    """token type -> inline CSS for one pygments style (filled lazily)."""

    def __init__(self, style_name: str, base_colour: str) -> None:
        self._style = get_style_by_name(style_name)
        self._base = base_colour.lstrip("#").lower()
        self._css: dict[_TokenType, str] = {}

    def css(self, ttype: _TokenType) -> str:
        try:
            return self._css[ttype]
        except KeyError:
            pass
        try:
            st = self._style.style_for_token(ttype)
        except KeyError:
            st = {}
        parts: list[str] = []
        colour = st.get("color")
        if colour and str(colour).lower() != self._base:
            parts.append(f"color:#{colour}")
        if st.get("bold"):
            parts.append("font-weight:bold")
        if st.get("italic"):
            parts.append("font-style:italic")
        if st.get("underline"):
            parts.append("text-decoration:underline")
        css = ";".join(parts)
        self._css[ttype] = css
        return css


_STYLE_MAPS: dict[str, _StyleMap] = {}


def _style_map(theme: Theme) -> _StyleMap:
    key = f"{theme.pygments_style}|{theme.code_text}"
    sm = _STYLE_MAPS.get(key)
    if sm is None:
        sm = _STYLE_MAPS[key] = _StyleMap(theme.pygments_style, theme.code_text)
    return sm


# --------------------------------------------------------------------------------------------
# Line formatter


class _LineFormatter:
    """Turns (token type, text) pairs into per-line HTML, merging equal styles within a line."""

    __slots__ = ("_css", "_lines", "_parts", "_pending", "_pending_css")

    def __init__(self, styles: _StyleMap, lines: list[str]) -> None:
        self._css = styles.css
        self._lines = lines
        self._parts: list[str] = []
        self._pending: list[str] = []
        self._pending_css = ""

    def _emit(self) -> None:
        if self._pending:
            text = _esc("".join(self._pending))
            css = self._pending_css
            self._parts.append(f'<span style="{css}">{text}</span>' if css else text)
            self._pending = []

    def _add(self, ttype: _TokenType, chunk: str) -> None:
        if chunk.isspace() and (self._pending or not self._parts):
            # Spaces look the same in any colour: extend the current span (or start the line
            # unstyled) instead of opening a span per gap.
            self._pending.append(chunk)
            return
        css = self._css(ttype)
        if css != self._pending_css:
            self._emit()
            self._pending_css = css
        self._pending.append(chunk)

    def feed(self, ttype: _TokenType, value: str) -> None:
        if "\n" not in value:
            if value:
                self._add(ttype, value)
            return
        chunks = value.split("\n")
        last = len(chunks) - 1
        for i, chunk in enumerate(chunks):
            if chunk:
                self._add(ttype, chunk)
            if i < last:
                self._emit()
                self._lines.append("".join(self._parts))
                self._parts = []
                self._pending_css = ""

    def close(self) -> None:
        """Flush a last line that has no newline (only happens for non-newline-terminated input)."""
        self._emit()
        if self._parts:
            self._lines.append("".join(self._parts))
            self._parts = []


# --------------------------------------------------------------------------------------------
# Lexing


def _is_plain_regex_lexer(lexer: Lexer) -> bool:
    return isinstance(lexer, RegexLexer) and hasattr(lexer, "_tokens")


def _token_mapper(lexer: Lexer) -> tuple[bool, _Mapper | None]:
    """Whether ``lexer`` can run on our copy of RegexLexer's loop, and the per-token remapping
    it applies on top of that loop (``None``: none, as for most lexers; a function for the C
    family, which turns some names into types). Unsupported lexers are fully re-lexed.
    """
    if not _is_plain_regex_lexer(lexer):
        return False, None
    impl = type(lexer).get_tokens_unprocessed
    if impl is RegexLexer.get_tokens_unprocessed:
        return True, None
    try:
        from pygments.lexers.c_cpp import CFamilyLexer
    except ImportError:  # pragma: no cover - pygments always ships it
        return False, None
    if isinstance(lexer, CFamilyLexer) and impl is CFamilyLexer.get_tokens_unprocessed:
        return True, _c_family_mapper(lexer)
    return False, None


def _c_family_mapper(lexer: Lexer) -> _Mapper:
    from pygments.token import Keyword

    opts = lexer
    groups: list[frozenset[str]] = []
    for flag, attr in (
        ("stdlibhighlighting", "stdlib_types"),
        ("c99highlighting", "c99_types"),
        ("c11highlighting", "c11_atomic_types"),
        ("platformhighlighting", "linux_types"),
    ):
        if getattr(opts, flag, False):
            groups.append(frozenset(getattr(opts, attr, ())))
    types = frozenset().union(*groups) if groups else frozenset()

    def mapper(ttype: _TokenType, value: str) -> _TokenType:
        if ttype is Name and value in types:
            return Keyword.Type
        return ttype

    return mapper


def _enter_state(statestack: list[str], new_state: Any) -> None:
    """Apply a rule's state change to ``statestack``, as ``RegexLexer.get_tokens_unprocessed`` does."""
    if isinstance(new_state, tuple):
        for state in new_state:
            if state == "#pop":
                if len(statestack) > 1:
                    statestack.pop()
            elif state == "#push":
                statestack.append(statestack[-1])
            else:
                statestack.append(state)
    elif isinstance(new_state, int):
        if abs(new_state) >= len(statestack):
            del statestack[1:]
        else:
            del statestack[new_state:]
    elif new_state == "#push":
        statestack.append(statestack[-1])
    else:  # pragma: no cover - pygments validates state defs
        raise AssertionError(f"wrong state def: {new_state!r}")


def _regex_tokens(lexer: RegexLexer, text: str, pos: int, stack: tuple[str, ...]) -> _TokenStream:
    """RegexLexer's tokenizer loop, also yielding checkpoints.

    Yields ``(pos, ttype, value, None)`` for tokens and ``(pos, None, "" or _MID, stack)`` whenever
    a match ends right after a newline (``pos`` being that line start and ``stack`` the lexer
    state there), or a token spanning lines can be resumed at its last line start (``_MID``).
    Mirrors ``pygments.lexer.RegexLexer.get_tokens_unprocessed`` (pygments 2.x). It is
    :func:`_regex_tokens_logged` with no rule logged.
    """
    return _regex_tokens_logged(lexer, _unlogged_rules(lexer), text, pos, stack, len(text), [])


# --------------------------------------------------------------------------------------------
# Rules whose outcome may depend on later lines

try:
    _sre: Any = importlib.import_module("re._parser")  # CPython's own regex parser (3.11+)
except ImportError:  # pragma: no cover - then every rule counts as looking past its line
    _sre = None

_NO_NEWLINE_CATEGORIES = frozenset(
    () if _sre is None else (_sre.CATEGORY_NOT_SPACE, _sre.CATEGORY_DIGIT, _sre.CATEGORY_WORD)
)
# Never equal to a match's ``regs``: logged for a match that reached text that may still change.
_UNSURE: tuple[()] = ()
_MID = "mid"  # the value of a checkpoint yielded inside a token (see _regex_tokens_logged)


def _set_has_newline(items: list[tuple[Any, Any]]) -> bool:
    """Whether a parsed ``[...]`` set may match a newline (True when unsure)."""
    negate = hit = False
    for op, av in items:
        if op == _sre.NEGATE:
            negate = True
        elif op == _sre.LITERAL:
            hit = hit or av == 10
        elif op == _sre.RANGE:
            hit = hit or av[0] <= 10 <= av[1]
        elif op == _sre.CATEGORY:
            hit = hit or av not in _NO_NEWLINE_CATEGORIES
        else:
            return True
    return hit != negate


def _scan(items: Any, dotall: bool, multiline: bool) -> bool | None:
    """Walk a parsed regex sequence. ``None``: the engine may look at a character after a newline
    it consumed; else whether the sequence may consume a newline (as its last step)."""
    nl = False
    for op, av in items:
        if nl:
            return None  # a newline may be consumed already and this looks at what follows
        if op == _sre.LITERAL:
            nl = av == 10
        elif op == _sre.NOT_LITERAL:
            nl = av != 10
        elif op == _sre.ANY:
            nl = dotall
        elif op == _sre.IN:
            nl = _set_has_newline(av)
        elif op == _sre.AT:
            # Anchors look at the current and previous characters only, except "$" without
            # MULTILINE, which also asks whether a newline is the last character of the text.
            if av == _sre.AT_END and not multiline:
                return None
        elif op == _sre.SUBPATTERN:
            _group, add, rm, sub = av
            r = _scan(
                sub,
                (dotall or bool(add & re.DOTALL)) and not rm & re.DOTALL,
                (multiline or bool(add & re.MULTILINE)) and not rm & re.MULTILINE,
            )
            if r is None:
                return None
            nl = r
        elif op == _sre.ATOMIC_GROUP:
            r = _scan(av, dotall, multiline)
            if r is None:
                return None
            nl = r
        elif op == _sre.BRANCH:
            results = [_scan(alt, dotall, multiline) for alt in av[1]]
            if None in results:
                return None
            nl = any(results)
        elif op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT):
            _lo, hi, sub = av
            r = _scan(sub, dotall, multiline)
            if r is None or (r and hi != 1):
                return None  # after a newline, a further repetition looks at the next line
            nl = bool(r and hi)
        elif op in (_sre.ASSERT, _sre.ASSERT_NOT):
            direction, sub = av
            # A lookbehind only sees text before the current position.
            if direction == 1 and _scan(sub, dotall, multiline) is None:
                return None
        else:
            return None  # backreferences, conditionals, anything new: unsure
    return nl


@lru_cache(maxsize=4096)
def _line_bounded(pattern: re.Pattern[str]) -> bool:
    """Whether matching ``pattern`` at a position looks at nothing after the first newline at
    or after that position (conservative: False when unsure).

    Such a rule gives the same outcome at a position of a complete line whatever text is
    appended later; any other rule (Python's docstring rule, or any ``\\s+``) may not.
    """
    if _sre is None or not isinstance(pattern.pattern, str):
        return False  # pragma: no cover
    try:
        parsed = _sre.parse(pattern.pattern, pattern.flags)
    except Exception:  # pragma: no cover - it compiled, so it parses
        return False
    flags = parsed.state.flags
    return _scan(parsed, bool(flags & re.DOTALL), bool(flags & re.MULTILINE)) is not None


# Where a rule can start: (anchor, first characters or None for any). Anchor 1: "^" with
# MULTILINE, only at a line start; 2: only at the start of the text; 0: anywhere.
_Start = tuple[int, "frozenset[str] | None"]
_ANYWHERE: _Start = (0, None)


def _first_chars(items: Any) -> tuple[set[str] | None, bool]:
    """Characters a parsed regex sequence may consume first (``None``: any) and whether it
    may consume nothing. Conservative: assertions count as transparent."""
    chars: set[str] = set()
    for op, av in items:
        if op == _sre.LITERAL:
            chars.add(chr(av))
            return chars, False
        if op == _sre.IN:
            if not all(o == _sre.LITERAL or (o == _sre.RANGE and a[1] - a[0] < 256) for o, a in av):
                return None, False
            for o, a in av:
                chars.update(chr(a) if o == _sre.LITERAL else map(chr, range(a[0], a[1] + 1)))
            return chars, False
        if op in (_sre.AT, _sre.ASSERT, _sre.ASSERT_NOT):
            continue
        if op in (
            _sre.SUBPATTERN,
            _sre.ATOMIC_GROUP,
            _sre.MAX_REPEAT,
            _sre.MIN_REPEAT,
            _sre.POSSESSIVE_REPEAT,
        ):
            if op == _sre.SUBPATTERN:
                sub, required = av[3], True
            elif op == _sre.ATOMIC_GROUP:
                sub, required = av, True
            else:
                sub, required = av[2], av[0] > 0
            first, empty = _first_chars(sub)
            if first is None:
                return None, False
            chars |= first
            if required and not empty:
                return chars, False
            continue
        if op == _sre.BRANCH:
            empty_any = False
            for alt in av[1]:
                first, empty = _first_chars(alt)
                if first is None:
                    return None, False
                chars |= first
                empty_any = empty_any or empty
            if not empty_any:
                return chars, False
            continue
        return None, False
    return chars, True


def _anchor(items: Any, multiline: bool) -> int:
    """1 if the sequence starts with "^" under MULTILINE, 2 with "\\A" or "^" without, else 0."""
    for op, av in items:
        if op == _sre.AT:
            if av == _sre.AT_BEGINNING_STRING or (av == _sre.AT_BEGINNING and not multiline):
                return 2
            if av == _sre.AT_BEGINNING:
                return 1
            return 0
        if op == _sre.SUBPATTERN and not av[1] & re.MULTILINE and not av[2] & re.MULTILINE:
            return _anchor(av[3], multiline)
        return 0
    return 0


@lru_cache(maxsize=4096)
def _rule_start(pattern: re.Pattern[str]) -> _Start:
    """Where ``pattern`` can start matching (see ``_Start``); an attempt elsewhere fails
    whatever the text after its position."""
    if _sre is None or not isinstance(pattern.pattern, str) or pattern.flags & re.IGNORECASE:
        return _ANYWHERE  # pragma: no cover - (case folding maps letters to other letters)
    try:
        parsed = _sre.parse(pattern.pattern, pattern.flags)
    except Exception:  # pragma: no cover - it compiled, so it parses
        return _ANYWHERE
    flags = parsed.state.flags
    if flags & re.IGNORECASE or _has_local_ignorecase(parsed):
        return _ANYWHERE
    first, empty = _first_chars(parsed)
    return (_anchor(parsed, bool(flags & re.MULTILINE)), None if first is None or empty else frozenset(first))


def _has_local_ignorecase(items: Any) -> bool:
    for op, av in items:
        if op == _sre.SUBPATTERN and (av[1] & re.IGNORECASE or _has_local_ignorecase(av[3])):
            return True
        if op in (_sre.MAX_REPEAT, _sre.MIN_REPEAT, _sre.POSSESSIVE_REPEAT) and _has_local_ignorecase(av[2]):
            return True
        if op in (_sre.ASSERT, _sre.ASSERT_NOT) and _has_local_ignorecase(av[1]):
            return True
        if op == _sre.ATOMIC_GROUP and _has_local_ignorecase(av):
            return True
        if op == _sre.BRANCH and any(_has_local_ignorecase(alt) for alt in av[1]):
            return True
    return False


def _failed_here(start: _Start, text: str, pos: int) -> bool:
    """Whether a failed attempt of a rule starting as ``start`` failed on the characters at
    and before ``pos`` alone (then no later text can change that)."""
    anchor, first = start
    if anchor == 2 and pos > 0:
        return True
    if anchor == 1 and pos > 0 and text[pos - 1] != "\n":
        return True
    return first is not None and pos < len(text) and text[pos] not in first


# Callbacks of pygments that only read the text of their match (bygroups passes each group on
# as a match of its own, using() lexes the matched text).
_MATCH_ONLY_CALLBACKS = frozenset({"bygroups.<locals>.callback", "using.<locals>.callback"})

# (match function, action, new state, where the rule can start if its attempts are logged).
_LoggedRule = tuple[_MatchFn, Any, Any, "_Start | None"]


def _reads_only_its_match(action: Any) -> bool:
    return (
        action is None
        or type(action) is _TokenType
        or (
            getattr(action, "__module__", None) == "pygments.lexer"
            and getattr(action, "__qualname__", None) in _MATCH_ONLY_CALLBACKS
        )
    )


class _LoggedRules(dict[str, list[_LoggedRule]]):
    """State name → that state's rules, each with where it can start if its attempts are to be
    logged (it may look past its line), else ``None``. Filled on first use of a state: reading
    a regex costs about 20-100 µs."""

    def __init__(self, tokendefs: dict[str, list[tuple[Any, Any, Any]]]) -> None:
        super().__init__()
        self._tokendefs = tokendefs

    def __missing__(self, state: str) -> list[_LoggedRule]:
        rows = [
            (
                rexmatch,
                action,
                new_state,
                None if _line_bounded(rexmatch.__self__) else _rule_start(rexmatch.__self__),
            )
            for rexmatch, action, new_state in self._tokendefs[state]
        ]
        self[state] = rows
        return rows


@lru_cache(maxsize=64)
def _unlogged_rules(lexer: RegexLexer) -> dict[str, list[_LoggedRule]]:
    """The lexer's rules in :func:`_regex_tokens_logged`'s form, none of them logged."""
    return {state: [(*rule, None) for rule in rules] for state, rules in lexer._tokens.items()}


@lru_cache(maxsize=64)
def _logged_rules(lexer: RegexLexer) -> _LoggedRules | None:
    """The lexer's rules for :func:`_regex_tokens_logged`, or ``None`` if a rule's callback may
    read more than its match: the lexer is then not checked and a closed block is highlighted
    again in one shot. (Per instance: some lexers build their rules from their options.)
    """
    tokendefs: dict[str, list[tuple[Any, Any, Any]]] = lexer._tokens
    for rules in tokendefs.values():
        for rexmatch, action, _new_state in rules:
            if not isinstance(getattr(rexmatch, "__self__", None), re.Pattern):
                return None
            if not _reads_only_its_match(action):
                return None
    return _LoggedRules(tokendefs)


def _log_outcome(
    log: list[_Attempt],
    start: _Start,
    rexmatch: _MatchFn,
    m: re.Match[str] | None,
    text: str,
    pos: int,
    limit: int,
) -> None:
    if m is not None:
        log.append((pos, rexmatch, m.regs if m.end() <= limit else _UNSURE))
    elif not _failed_here(start, text, pos):
        log.append((pos, rexmatch, None))


def _regex_tokens_logged(
    lexer: RegexLexer,
    tokendefs: dict[str, list[_LoggedRule]],
    text: str,
    pos: int,
    stack: tuple[str, ...],
    limit: int,
    log: list[_Attempt],
) -> _TokenStream:
    """The tokenizer loop of :func:`_regex_tokens`, also appending to ``log`` every attempt of
    a rule flagged by :func:`_logged_rules`: ``(pos, match function, m.regs or None)``, or
    ``_UNSURE`` for a match reaching past ``limit`` (the end of the real text). A failure
    decided by the characters at and before ``pos`` (:func:`_failed_here`) is not logged.

    A checkpoint inside a token spanning lines (see :func:`_regex_tokens`) has the value
    ``_MID``; other checkpoints have ``""``.
    """
    log_attempt = log.append
    statestack = list(stack)
    statetokens = tokendefs[statestack[-1]]
    end = len(text)
    while True:
        for rule in statetokens:
            rexmatch, action, new_state, start = rule
            m = rexmatch(text, pos)
            if start is not None:
                if m is not None:
                    log_attempt((pos, rexmatch, m.regs if m.end() <= limit else _UNSURE))
                else:
                    # Inline copy of _failed_here() (this loop is hot).
                    anchor, first = start
                    if (first is None or pos >= end or text[pos] in first) and (
                        not anchor or (pos == 0 if anchor == 2 else pos == 0 or text[pos - 1] == "\n")
                    ):
                        log_attempt((pos, rexmatch, None))
            if m:
                if action is not None:
                    if type(action) is _TokenType:
                        value = m.group()
                        yield pos, action, value, None
                        if new_state is None:
                            nl = value.rfind("\n")
                            if 0 <= nl < len(value) - 1:
                                mid = pos + nl + 1
                                for rule2 in statetokens:
                                    m2 = rule2[0](text, mid)
                                    if rule2[3] is not None:
                                        _log_outcome(log, rule2[3], rule2[0], m2, text, mid, limit)
                                    if m2:
                                        if rule2 is rule and m2.end() == m.end():
                                            yield mid, None, _MID, tuple(statestack)
                                        break
                    else:
                        for _, t, v in action(lexer, m):
                            yield pos, t, v, None
                pos = m.end()
                if new_state is not None:
                    _enter_state(statestack, new_state)
                    statetokens = tokendefs[statestack[-1]]
                if pos and text[pos - 1] == "\n":
                    yield pos, None, "", tuple(statestack)
                break
        else:
            if pos >= end:
                break
            if text[pos] == "\n":
                statestack = ["root"]
                statetokens = tokendefs["root"]
                yield pos, Whitespace, "\n", None
                pos += 1
                yield pos, None, "", ("root",)
                continue
            yield pos, Error, text[pos], None
            pos += 1


def _lex_all(lexer: Lexer, text: str) -> Iterator[tuple[_TokenType, str]]:
    supported, mapper = _token_mapper(lexer)
    if not supported:
        for _, t, v in lexer.get_tokens_unprocessed(text):
            yield t, v
        return
    assert isinstance(lexer, RegexLexer)
    for _, t, v, _st in _regex_tokens(lexer, text, 0, ("root",)):
        if t is not None:
            yield (mapper(t, v) if mapper else t), v


def _newline_terminated(code: str) -> str:
    return code if code.endswith("\n") else code + "\n"


def highlight_code(code: str, lang: str, theme: str | Theme = "light") -> str | None:
    """Highlighted HTML (inline-styled spans, lines joined by ``\\n``) for a code block body.

    Returns ``None`` when ``lang`` names no known lexer; the caller then shows plain escaped code
    (:func:`escape_code`). A single trailing newline of ``code`` is not part of the output.
    """
    lexer = lexer_for(lang)
    if lexer is None:
        return None
    t = get_theme(theme)
    lines: list[str] = []
    fmt = _LineFormatter(_style_map(t), lines)
    for ttype, value in _lex_all(lexer, _newline_terminated(code)):
        fmt.feed(ttype, value)
    fmt.close()
    return "\n".join(lines)


class CodeHighlighter:
    """Highlights a code block that grows by appending (a streaming, still open fence).

    ``feed(code)`` returns what ``highlight_code(code, lang, theme)`` returns (or
    ``escape_code(code)`` for plain code), but re-lexes only from the start of the last line
    that was already complete at the previous call, resuming the lexer in the state it had
    there. Each call therefore costs about one or two lines plus the new text. (It resumes at
    the start of the line that was incomplete instead when the logged attempts of the line
    before it, see :meth:`exact`, come out the same on the longer text: then lexing that line
    again would change nothing.)

    The text is always identical to a one-shot highlight. Colours are too, except where a
    lexer's single regex spans lines and was tried before its end had arrived (a Python
    docstring, a C ``/* … */`` comment, a C function header split over lines): those lines
    keep the colours of the fallback rules. ``exact(code)`` returns the exact one-shot result,
    re-lexing only what those late regexes changed (see the module docstring).

    Not thread-safe; one instance per streaming block.
    """

    def __init__(self, lang: str, theme: str | Theme = "light") -> None:
        self.lang = lang
        self._theme = get_theme(theme)
        self._lexer = lexer_for(lang)
        self._incremental, self._mapper = (
            _token_mapper(self._lexer) if self._lexer is not None else (False, None)
        )
        self._rules = (
            _logged_rules(self._lexer) if self._incremental and isinstance(self._lexer, RegexLexer) else None
        )
        self._code = ""
        self._lines: list[str] = []
        # Line starts to resume from (all of them, for exact()); the last one is where feed()
        # resumes. Attempts of rules that may look past their line, in lexing order.
        self._ckpts: list[_Checkpoint] = [_START]
        self._log: list[_Attempt] = []
        self._resumed_log = 0  # len(self._log) where the last lex resumed
        # Whether the last checkpoint starts the line that was incomplete (see feed()).
        self._tentative = False

    def __repr__(self) -> str:
        return f"CodeHighlighter(lang={self.lang!r}, chars={len(self._code)})"

    @property
    def highlighted(self) -> bool:
        """Whether the language has a lexer (else the output is plain escaped code)."""
        return self._lexer is not None

    def reset(self) -> None:
        self._code = ""
        self._lines = []
        self._ckpts = [_START]
        self._log = []
        self._resumed_log = 0
        self._tentative = False

    def feed(self, code: str) -> str:
        """HTML for ``code``, which should extend the previous ``code`` (otherwise: restart)."""
        if self._lexer is None:
            self._code = code
            return escape_code(code)
        if not self._incremental:
            self._code = code
            return highlight_code(code, self.lang, self._theme) or ""
        if not code.startswith(self._code):
            self.reset()
        self._code = code
        index = len(self._ckpts) - 1
        if self._tentative:
            # The line before the last checkpoint was lexed while the next one was incomplete:
            # only its logged attempts may come out differently now.
            start, stop = self._ckpts[index - 1][3], self._ckpts[index][3]
            if self._first_changed(_newline_terminated(code), start, stop) is not None:
                index -= 1
        return self._lex_from(index, code)

    def exact(self, code: str) -> str:
        """Exactly ``highlight_code(code, lang, theme)`` (or ``escape_code(code)`` for plain code),
        as :meth:`feed` but with no colour left over from a regex tried too early.

        Re-runs the logged attempts of the earlier feeds (those of rules that may look past their
        own line) on ``code``. Lines before the first attempt that comes out differently are
        exact; from the line start before it the block is lexed again, until that lexer reaches
        a line start where the earlier one was in the same state, after which the checking goes
        on. If something had to be lexed again, the next :meth:`feed` starts over.
        """
        html = self.feed(code)
        if not self._incremental:
            return html  # a one-shot highlight (or plain code) already
        lexer, rules = self._lexer, self._rules
        if rules is None or not isinstance(lexer, RegexLexer):
            return highlight_code(code, self.lang, self._theme) or ""
        text = _newline_terminated(code)
        bad = self._first_changed(text, 0, self._resumed_log)
        if bad is None:
            return html
        lines, ckpts, mapper = self._lines, self._ckpts, self._mapper
        out: list[str] = []
        done = 0  # lines[:done] are settled (copied to out, or replaced there)
        while bad is not None:
            # The lines and state at a checkpoint depend only on the attempts logged before it.
            ci = bisect_right(ckpts, bad, key=lambda c: c[3]) - 1
            pos, stack, nlines = ckpts[ci][:3]
            out.extend(lines[done:nlines])
            fmt = _LineFormatter(_style_map(self._theme), out)
            j = ci + 1
            resync: _Checkpoint | None = None
            for at, ttype, value, st in _regex_tokens_logged(lexer, rules, text, pos, stack, len(code), []):
                if ttype is not None:
                    fmt.feed(mapper(ttype, value) if mapper else ttype, value)
                    continue
                if st is None or value == _MID:
                    continue
                while j < len(ckpts) and ckpts[j][0] < at:
                    j += 1
                if j < len(ckpts):
                    c = ckpts[j]
                    # Same place, same state, past the changed attempt, a token boundary in both.
                    if c[0] == at and c[1] == st and c[3] > bad and c[4]:
                        resync = c
                        break
            if resync is None:
                fmt.close()
                break
            done = resync[2]
            bad = self._first_changed(text, resync[3], self._resumed_log)
        else:
            out.extend(lines[done:])
        self.reset()
        return "\n".join(out)

    def _first_changed(self, text: str, start: int, stop: int) -> int | None:
        """Index of the first logged attempt in ``start:stop`` whose outcome on ``text`` differs.
        (In exact(), ``stop`` is where the last feed resumed: later attempts were made on
        ``text`` itself.)"""
        log = self._log
        for i in range(start, stop):
            pos, rexmatch, regs = log[i]
            m = rexmatch(text, pos)
            if (None if m is None else m.regs) != regs:
                return i
        return None

    def _lex_from(self, index: int, code: str) -> str:
        """Re-lex ``code`` from checkpoint ``self._ckpts[index]`` on; the HTML of all of it."""
        lexer = self._lexer
        assert isinstance(lexer, RegexLexer)
        ckpts = self._ckpts
        del ckpts[index + 1 :]
        pos, stack, nlines, nlog, _ = ckpts[index]
        lines = self._lines
        del lines[nlines:]
        log = self._log
        del log[nlog:]
        self._resumed_log = nlog
        text = _newline_terminated(code)
        # Resume points must have a complete line after them: many lexers decide a token by
        # looking at the next line (C function headers, "\s+" swallowing a newline). With the
        # attempts logged, the start of the incomplete line is kept too, to be checked by the
        # next feed(), if no attempt was made on that line yet (the first checkpoint there,
        # not one inside a token).
        stable = code.rfind("\n") + 1
        rules = self._rules
        tokens = (
            _regex_tokens(lexer, text, pos, stack)
            if rules is None
            else _regex_tokens_logged(lexer, rules, text, pos, stack, len(code), log)
        )
        fmt = _LineFormatter(_style_map(self._theme), lines)
        mapper = self._mapper
        for at, ttype, value, st in tokens:
            if ttype is None:
                if st is not None and (
                    at < stable
                    or (at == stable and rules is not None and value != _MID and ckpts[-1][0] < at)
                ):
                    ckpts.append((at, st, len(lines), len(log), value != _MID))
                continue
            fmt.feed(mapper(ttype, value) if mapper else ttype, value)
        fmt.close()
        self._tentative = len(ckpts) > 1 and ckpts[-1][0] == stable
        return "\n".join(lines)


# The fence languages models write most; warm_up() prepares them ahead of the first answer.
COMMON_LANGS = (
    "python", "javascript", "typescript", "bash", "json", "rust", "go", "c", "cpp", "java", "sql",
    "html", "css", "yaml",
)  # fmt: skip


def warm_up(langs: Sequence[str] = COMMON_LANGS, stop: Callable[[], bool] = lambda: False) -> int:
    """Build and cache what the first code block of each language costs (the pygments lexer, its
    compiled rules, the analysis `exact()` uses): ~20-60 ms per language, otherwise paid by the
    GUI thread in the middle of the first streaming answer with that language. Meant for a worker
    thread at start-up (the caches are lru_caches and dicts filled idempotently); `stop()` is
    checked between languages. Returns how many were prepared."""
    done = 0
    for lang in langs:
        if stop():
            break
        lexer = lexer_for(lang)
        if isinstance(lexer, RegexLexer) and _token_mapper(lexer)[0]:
            rules = _logged_rules(lexer)
            if rules is not None:
                for state in list(lexer._tokens):
                    rules[state]  # noqa: B018 (fills the state's row)
        done += 1
    return done
