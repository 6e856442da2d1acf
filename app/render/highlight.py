"""Syntax highlighting of code blocks with pygments, as inline-styled HTML.

QTextDocument ignores CSS classes, so every token gets ``<span style="color:…">``. The output is
line-oriented: spans never cross a newline and the lines are joined with ``"\\n"`` (no trailing
newline). That makes the HTML of a code block the concatenation of the HTML of its lines, which is
what lets :class:`CodeHighlighter` re-highlight only the end of a growing (streaming) block and
still produce the same string as a one-shot :func:`highlight_code`.

Incremental lexing drives pygments' ``RegexLexer`` state machine directly (the loop of
``RegexLexer.get_tokens_unprocessed``) so that the lexer state at line starts can be recorded
and resumed from. Lexers with their own tokenizer fall back to a full re-lex on every feed.

Everything here is pure and thread-compatible: module caches are filled idempotently.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import lru_cache

from pygments.lexer import Lexer, RegexLexer
from pygments.lexers import get_lexer_by_name
from pygments.styles import get_style_by_name
from pygments.token import Error, Name, Whitespace, _TokenType
from pygments.util import ClassNotFound

from app.render.theme import Theme, get_theme

__all__ = ["CodeHighlighter", "escape_code", "escape_html", "highlight_code", "lexer_for"]

# Languages shown as plain text even though pygments knows a lexer for them.
_PLAIN_LANGS = frozenset({"", "text", "txt", "plain", "plaintext", "none", "output", "console-output"})

_TokenStream = Iterator[tuple[int, "_TokenType | None", str, "tuple[str, ...] | None"]]
_Mapper = Callable[[_TokenType, str], _TokenType]


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


def _regex_tokens(lexer: RegexLexer, text: str, pos: int, stack: tuple[str, ...]) -> _TokenStream:
    """RegexLexer's tokenizer loop, also yielding checkpoints.

    Yields ``(pos, ttype, value, None)`` for tokens and ``(pos, None, "", stack)`` whenever a
    match ends right after a newline, ``pos`` being that line start and ``stack`` the lexer
    state there. Mirrors ``pygments.lexer.RegexLexer.get_tokens_unprocessed`` (pygments 2.x).
    """
    tokendefs = lexer._tokens
    statestack = list(stack)
    statetokens = tokendefs[statestack[-1]]
    end = len(text)
    while True:
        for rule in statetokens:
            rexmatch, action, new_state = rule
            m = rexmatch(text, pos)
            if m:
                if action is not None:
                    if type(action) is _TokenType:
                        value = m.group()
                        yield pos, action, value, None
                        if new_state is None:
                            # A token spanning lines (typically ``\s+`` eating "\n    "): its
                            # last line start is a checkpoint if resuming there re-matches the
                            # same rule up to the same end, so the token stream is unchanged.
                            nl = value.rfind("\n")
                            if 0 <= nl < len(value) - 1:
                                mid = pos + nl + 1
                                for rule2 in statetokens:
                                    m2 = rule2[0](text, mid)
                                    if m2:
                                        if rule2 is rule and m2.end() == m.end():
                                            yield mid, None, "", tuple(statestack)
                                        break
                    else:
                        for _, t, v in action(lexer, m):
                            yield pos, t, v, None
                pos = m.end()
                if new_state is not None:
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
    there. Each call therefore costs about one or two lines plus the new text.

    The text is always identical to a one-shot highlight. Colours are too, except where a
    lexer's single regex spans lines and was tried before its end had arrived (a Python
    docstring, a C ``/* … */`` comment, a C function header split over lines): those lines
    keep the colours of the fallback rules. Render the block again in one shot when exact
    colours matter (the incremental renderer does so for ``final=True``).

    Not thread-safe; one instance per streaming block.
    """

    def __init__(self, lang: str, theme: str | Theme = "light") -> None:
        self.lang = lang
        self._theme = get_theme(theme)
        self._lexer = lexer_for(lang)
        self._incremental, self._mapper = (
            _token_mapper(self._lexer) if self._lexer is not None else (False, None)
        )
        self._code = ""
        self._lines: list[str] = []
        self._ckpt: tuple[int, tuple[str, ...], int] = (0, ("root",), 0)

    def __repr__(self) -> str:
        return f"CodeHighlighter(lang={self.lang!r}, chars={len(self._code)})"

    @property
    def highlighted(self) -> bool:
        """Whether the language has a lexer (else the output is plain escaped code)."""
        return self._lexer is not None

    def reset(self) -> None:
        self._code = ""
        self._lines = []
        self._ckpt = (0, ("root",), 0)

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
        lexer = self._lexer
        assert isinstance(lexer, RegexLexer)
        text = _newline_terminated(code)
        # Resume points must have a complete line after them: many lexers decide a token by
        # looking at the next line (C function headers, "\s+" swallowing a newline).
        stable = code.rfind("\n") + 1
        pos, stack, nlines = self._ckpt
        del self._lines[nlines:]
        fmt = _LineFormatter(_style_map(self._theme), self._lines)
        mapper = self._mapper
        for at, ttype, value, st in _regex_tokens(lexer, text, pos, stack):
            if ttype is None:
                if st is not None and at < stable:
                    self._ckpt = (at, st, len(self._lines))
                continue
            fmt.feed(mapper(ttype, value) if mapper else ttype, value)
        fmt.close()
        return "\n".join(self._lines)
