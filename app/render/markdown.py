"""Markdown → safe, inline-styled HTML for the canvas cards (QTextDocument) and the HTML export.

Model output is untrusted. The rules, enforced here and checked by :func:`sanitize_check`:

- raw HTML in the source is never interpreted (markdown-it ``html=False``): ``<script>`` comes out
  as the visible text ``&lt;script&gt;``;
- links keep their ``href`` only for ``http``, ``https`` and ``mailto`` (:func:`is_safe_url`);
  any other link renders as its text followed by the URL in muted plain text;
- images are never emitted as ``<img>`` (nothing may fetch a remote resource): they render as the
  text ``[image: alt]`` followed by the URL, as a link when the URL is safe;
- no scripts, event handlers, ``style`` elements or CSS ``url(…)`` are ever produced.

Styling is inline only (QTextDocument ignores CSS classes); colours come from
:mod:`app.render.theme`. The host sets the base text colour and font.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, MutableMapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from html.parser import HTMLParser
from typing import Any

from markdown_it import MarkdownIt
from markdown_it.common.utils import escapeHtml, unescapeAll
from markdown_it.renderer import RendererHTML
from markdown_it.rules_core import StateCore
from markdown_it.rules_inline import StateInline
from markdown_it.token import Token
from markdown_it.utils import OptionsDict

from app.render.highlight import escape_code, escape_html, highlight_code, lexer_for
from app.render.math import MATH_SCHEME, math_key, math_plugin, mathml
from app.render.theme import CODE_LABEL_STATE, Theme, get_theme
from app.urls import SAFE_SCHEMES as SAFE_SCHEMES
from app.urls import is_safe_url as is_safe_url

__all__ = [
    "CODE_LABEL_STATE",
    "CodeBlock",
    "code_label",
    "extract_code_blocks",
    "is_safe_url",
    "render_markdown",
    "render_plain",
    "sanitize_check",
]

Env = MutableMapping[str, Any]

_THEME_KEY = "triptych_theme"
_TARGET_KEY = "triptych_target"  # "card" (QTextDocument) or "export" (a browser): see render_markdown
_LINKS_KEY = "triptych_links"
TARGETS = ("card", "export")
_SHOWN_URL_MAX = 80

# --------------------------------------------------------------------------------------------
# URL safety

# One rule for the cards, the exports and the window: app.urls.


# --------------------------------------------------------------------------------------------
# Renderer


def _theme_of(env: Env) -> Theme:
    theme = env.get(_THEME_KEY)
    return theme if isinstance(theme, Theme) else get_theme("light")


def _for_export(env: Env) -> bool:
    return env.get(_TARGET_KEY) == "export"


# Attribute-free inline HTML that models use, rendered as formatting (everything else is text); the
# markdown export keeps the same tags and escapes the rest (app.export.markdown).
SAFE_INLINE_TAGS = ("kbd", "sup", "sub", "br", "mark", "u", "details", "summary")
_SAFE_TAG_RE = re.compile(rf"<(/?)({'|'.join(SAFE_INLINE_TAGS)})\s*(?:open\s*)?/?>\Z", re.I)
_HTML_COMMENT_RE = re.compile(r"<!--.*?-->\Z|<!---?>\Z", re.S)
_STRUCTURAL_RE = re.compile(r"\s*</?(?:details|summary)\b", re.I)
_TASK_RE = re.compile(r"\[([ xX])\][ \t]+(?=\S)")
_ALERT_RE = re.compile(r"\[!(NOTE|TIP|IMPORTANT|WARNING|CAUTION)\][ \t]*(?:\n|\Z)", re.I)
# GitHub's alert colours (light, dark) and glyphs.
_ALERTS: dict[str, tuple[str, str, str]] = {
    "NOTE": ("#0969da", "#4493f8", "ℹ"),
    "TIP": ("#1a7f37", "#3fb950", "💡"),
    "IMPORTANT": ("#8250df", "#ab7df8", "❗"),
    "WARNING": ("#9a6700", "#d29922", "⚠"),
    "CAUTION": ("#d1242f", "#f85149", "⛔"),
}
_MARK_BACKGROUND = {"light": "#fff8c5", "dark": "#594a00"}


def lang_from_info(info: str) -> str:
    """The language of a fence info string (``"python title=x"`` → ``"python"``)."""
    info = unescapeAll(info).strip() if info else ""
    return info.split(maxsplit=1)[0] if info else ""


def code_body_html(code: str, lang: str, theme: Theme) -> str:
    """The inside of a code block's ``<pre>``: highlighted if ``lang`` is known, else escaped."""
    if lang:
        highlighted = highlight_code(code, lang, theme)
        if highlighted is not None:
            return highlighted
    return escape_code(code)


_LABEL_MAX = 32


def code_label(lang: str) -> str:
    """What a code block's header says: the language's name ("py" → "Python"), the fence's word when
    pygments does not know it, "code" without one."""
    lang = lang.strip()
    if not lang:
        return "code"
    lexer = lexer_for(lang)
    name = lexer.name if lexer is not None else lang
    return name if len(name) <= _LABEL_MAX else name[: _LABEL_MAX - 1] + "…"


def pre_html(body: str, theme: Theme, headed: bool = False) -> str:
    """Wrap a code body (see :func:`code_body_html`) in the themed ``<pre>`` block; ``headed``: it
    sits under a :func:`code_header_html` line (no top margin, square top corners)."""
    # An HTML parser drops one newline right after <pre>: keep a leading empty line visible.
    lead = "\n" if body.startswith("\n") else ""
    edge = "margin:0 0 6px 0;border-top:none;border-radius:0 0 6px 6px" if headed else (
        "margin:6px 0;border-radius:6px"
    )
    return (
        f'<pre style="background-color:{theme.code_background};color:{theme.code_text};'
        f"font-family:{theme.mono_font};padding:8px;border:1px solid {theme.border};{edge};"
        f'white-space:pre-wrap">{lead}{body}</pre>\n'
    )


def code_header_html(lang: str, theme: Theme) -> str:
    """The header line of a code block: its language (:func:`code_label`) in small muted type."""
    return (
        f'<p style="-qt-user-state:{CODE_LABEL_STATE};background-color:{theme.code_background};'
        f"color:{theme.muted};font-size:small;margin:6px 0 0 0;padding:4px 8px;"
        f'border:1px solid {theme.border};border-bottom:none;border-radius:6px 6px 0 0">'
        f"{escape_html(code_label(lang))}</p>"
    )


def fence_html(body: str, lang: str, theme: Theme) -> str:
    """A code block (fenced or indented): a header with its language over :func:`pre_html`, as one
    top-level ``<div>``; a "diagram" label above a mermaid block."""
    out = f"<div>{code_header_html(lang, theme)}{pre_html(body, theme, headed=True).rstrip()}</div>\n"
    if lang.lower() == "mermaid":
        return diagram_label_html(theme) + out
    return out


def _shown_url(url: str) -> str:
    return url if len(url) <= _SHOWN_URL_MAX else url[: _SHOWN_URL_MAX - 1] + "…"


_QUOTES_KEY = "triptych_quotes"
_STRUCTURAL_KEY = "triptych_structural"


def _dir(env: Env) -> str:
    """``dir="auto"`` in the export (a browser lays out Arabic or Hebrew right to left); QTextDocument
    finds each block's direction itself."""
    return ' dir="auto"' if _for_export(env) else ""


def diagram_label_html(theme: Theme) -> str:
    """The label above a mermaid block (shown as code: nothing here draws diagrams)."""
    return (
        f'<p style="color:{theme.muted};font-size:small;margin:6px 0 0 0">◇ diagram (mermaid)</p>\n'
    )


def _first_inline(tokens: Sequence[Token], idx: int) -> Token | None:
    """The inline token of a list item's first paragraph."""
    if idx + 2 < len(tokens) and tokens[idx + 1].type == "paragraph_open" and tokens[idx + 2].type == "inline":
        return tokens[idx + 2]
    return None


def _all_tasks(tokens: Sequence[Token], idx: int) -> bool:
    """Whether every item of the list opened at `idx` starts with a task box (``[ ]``/``[x]``)."""
    level = tokens[idx].level
    items = 0
    for j in range(idx + 1, len(tokens)):
        tok = tokens[j]
        if tok.level == level and tok.nesting == -1:
            break
        if tok.type == "list_item_open" and tok.level == level + 1:
            items += 1
            inline = _first_inline(tokens, j)
            if inline is None or not _TASK_RE.match(inline.content):
                return False
    return items > 0


def _matching_close(tokens: Sequence[Token], idx: int) -> Token | None:
    level = tokens[idx].level
    for tok in tokens[idx + 1 :]:
        if tok.level == level and tok.nesting == -1:
            return tok
    return None


DETAILS_OPEN = "<!--triptych:details-->"
DETAILS_CLOSE = "<!--triptych:/details-->"
SUMMARY_OPEN = '<p style="margin:4px 0"><b>▾ '


def _safe_tag_html(name: str, closing: bool, env: Env) -> str:
    t = _theme_of(env)
    export = _for_export(env)
    if name == "br":
        return "<br>"
    if name == "details":
        if export:
            return "</details>" if closing else "<details>"
        # Cards show the content ("open"); focus mode folds it at these markers (a comment lays out
        # nothing in QTextDocument, and a model's own comments never reach the output).
        return DETAILS_CLOSE if closing else DETAILS_OPEN
    if name == "summary":
        if export:
            return "</summary>" if closing else '<summary style="cursor:pointer">'
        return "</b></p>" if closing else SUMMARY_OPEN
    if name == "mark":
        bg = _MARK_BACKGROUND.get(t.name, _MARK_BACKGROUND["light"])
        return "</span>" if closing else f'<span style="background-color:{bg}">'
    if name == "kbd":
        if closing:
            return "</kbd>"
        return (
            f'<kbd style="font-family:{t.mono_font};background-color:{t.inline_code_background};'
            f'border:1px solid {t.border};border-radius:3px;padding:0 3px">'
        )
    return f"</{name}>" if closing else f"<{name}>"  # sup, sub, u


def _math_html(token: Token, display: bool, env: Env) -> str:
    """A formula: an image the card supplies, MathML in the export, its source if it does not parse."""
    latex = token.content
    t = _theme_of(env)
    if mathml(latex, display) is None:
        return _math_source_html(token, display, t)
    if _for_export(env):
        return str(mathml(latex, display))
    key = math_key(latex.strip(), display)
    alt = escape_html(_math_source(token))
    align = "" if display else ' align="middle"'
    return f'<img src="{MATH_SCHEME}:{key}"{align} alt="{alt}">'


def _math_source(token: Token) -> str:
    markup = token.markup
    closer = {"\\(": "\\)", "\\[": "\\]"}.get(markup, markup)
    return f"{markup}{token.content}{closer}"  # a block's content keeps its first and last newline


def _math_source_html(token: Token, display: bool, t: Theme) -> str:
    source = _math_source(token)
    if token.type == "math_block":
        return pre_html(escape_code(source), t)
    return (
        f'<code style="background-color:{t.inline_code_background};padding:0 3px;border-radius:3px">'
        f"{escape_html(source)}</code>"
    )


class _SafeRenderer(RendererHTML):
    """markdown-it's HTML renderer with safe links/images, inline styles and pygments fences.

    Per-call state (theme, open-link stack) lives in ``env``; the instance is stateless.
    """

    def __init__(self, parser: Any = None) -> None:
        super().__init__(parser)
        self._parser = parser

    # -- code ----------------------------------------------------------------------------
    def fence(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        token = tokens[idx]
        theme = _theme_of(env)
        lang = lang_from_info(token.info)
        return fence_html(code_body_html(token.content, lang, theme), lang, theme)

    # -- math (see app.render.math) ---------------------------------------------------------
    def math_inline(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        return _math_html(tokens[idx], False, env)

    def math_display(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        return _math_html(tokens[idx], True, env)

    def math_block(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        html = _math_html(tokens[idx], True, env)
        if html.startswith("<pre"):
            return html
        return f'<p align="center" style="text-align:center;margin:8px 0">{html}</p>\n'

    def math_block_open_source(
        self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env
    ) -> str:
        """A ``$$`` block not closed yet (still streaming): its exact source, as code."""
        token = tokens[idx]
        return pre_html(escape_code(str(token.meta.get("source", token.content))), _theme_of(env))

    # -- footnotes (mdit-py-plugins' rules; the notes section: see footnotes_html) --------------
    def footnote_ref(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        n = footnote_number(env, str(tokens[idx].meta["label"]))
        return f'<sup style="color:{_theme_of(env).link}">{n}</sup>'

    def footnote_anchor(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        return ""  # no back links: a card has no place to jump to

    # -- lists: task items; dir="auto" in the export ---------------------------------------------
    def list_item_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        token = tokens[idx]
        inline = _first_inline(tokens, idx)
        m = _TASK_RE.match(inline.content) if inline is not None else None
        if inline is not None and m is not None:
            glyph = "☑" if m.group(1) != " " else "☐"
            rest = render_inline(inline.content[m.end() :], env)
            inline.children = [Token(_HTML_TOKEN, "", 0, content=f"{glyph} {rest}")]
            if _for_export(env):
                token.attrSet("style", "list-style-type:none")
        return self._with_dir(tokens, idx, options, env)

    def bullet_list_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        """A list whose items are all tasks shows only their boxes, no bullets (as GitHub does). Qt's
        rich text takes `list-style-type` on the list, not per item: a mixed list keeps its bullets
        in the cards (the export also hides them per item, see list_item_open)."""
        token = tokens[idx]
        if _all_tasks(tokens, idx):
            token.attrSet("style", "list-style-type:none")
        return self._with_dir(tokens, idx, options, env)

    def paragraph_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        inline = tokens[idx + 1] if idx + 1 < len(tokens) else None
        if inline is not None and inline.type == "inline" and _STRUCTURAL_RE.match(inline.content):
            # <details>/<summary> on their own: no paragraph around them. (Not "hidden": the
            # renderer would then start the next block with a newline only when rendered with it.)
            close = _matching_close(tokens, idx)
            if close is not None:
                close.meta = {**(close.meta or {}), _STRUCTURAL_KEY: True}
            return ""
        return self._with_dir(tokens, idx, options, env)

    def paragraph_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        if tokens[idx].meta and tokens[idx].meta.get(_STRUCTURAL_KEY):
            return "\n"
        return self.renderToken(tokens, idx, options, env)

    def heading_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        return self._with_dir(tokens, idx, options, env)

    def _with_dir(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        if _for_export(env) and not tokens[idx].hidden:
            tokens[idx].attrSet("dir", "auto")
        return self.renderToken(tokens, idx, options, env)

    def code_block(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        return fence_html(escape_code(tokens[idx].content), "", _theme_of(env))

    def code_inline(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        t = _theme_of(env)
        return (
            f'<code style="background-color:{t.inline_code_background};padding:0 3px;border-radius:3px">'
            f"{escape_html(tokens[idx].content)}</code>"
        )

    # -- links and images ----------------------------------------------------------------
    def link_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        token = tokens[idx]
        href = str(token.attrGet("href") or "")
        stack: list[str | None] = env.setdefault(_LINKS_KEY, [])
        if token.markup == "linkify" and not _is_site_text(tokens, idx):
            stack.append("")  # "main.py", "notes.md": a file name, not a site; the text stays as is
            return ""
        if token.markup == "linkify" and href.startswith("http://") and "://" not in tokens[idx + 1].content:
            href = "https://" + href[len("http://"):]  # "www.example.com" opens over https
        if is_safe_url(href):
            stack.append(None)
            return f'<a href="{escape_html(href)}" style="color:{_theme_of(env).link}">'
        # Unsafe: drop the anchor, remember the URL to show it after the text.
        stack.append("" if token.markup in ("autolink", "linkify") else href)
        return ""

    def link_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        stack: list[str | None] = env.setdefault(_LINKS_KEY, [])
        href = stack.pop() if stack else None
        if href is None:
            return "</a>"
        if not href:
            return ""
        return f' <span style="color:{_theme_of(env).muted}">({escape_html(_shown_url(href))})</span>'

    def image(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        token = tokens[idx]
        t = _theme_of(env)
        alt = self.renderInlineAsText(token.children, options, env).strip()
        src = str(token.attrGet("src") or "")
        label = f"[image: {alt}]" if alt else "[image]"
        out = f'<span style="color:{t.muted}">{escape_html(label)}</span>'
        if not src:
            return out
        shown = escape_html(_shown_url(self._display_url(src)))
        inside_anchor = any(h is None for h in env.get(_LINKS_KEY, ()))
        if is_safe_url(src) and not inside_anchor:
            return out + f' <a href="{escape_html(src)}" style="color:{t.link}">{shown}</a>'
        return out + f' <span style="color:{t.muted}">{shown}</span>'

    def _display_url(self, url: str) -> str:
        parser = self._parser
        if parser is not None:
            try:
                return str(parser.normalizeLinkText(url))
            except Exception:  # pragma: no cover - display only
                return url
        return url

    def triptych_html(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        """Pre-rendered inline HTML (see :func:`fill_inline`): produced by this module only."""
        return tokens[idx].content

    # -- raw HTML: a few attribute-free formatting tags render, comments are hidden, the rest is
    # shown as text (the block rule is disabled in the parser; escaped here too, defence in depth)
    def html_block(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        return f"<p>{escape_html(tokens[idx].content)}</p>\n"

    def html_inline(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        raw = tokens[idx].content
        m = _SAFE_TAG_RE.match(raw)
        if m is not None:
            return _safe_tag_html(m.group(2).lower(), bool(m.group(1)), env)
        if _HTML_COMMENT_RE.match(raw):
            return ""
        return escape_html(raw)

    # -- blocks ----------------------------------------------------------------------------
    def table_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        t = _theme_of(env)
        table = (
            '<table border="1" cellspacing="0" cellpadding="4" '
            f'style="border-collapse:collapse;border-color:{t.border};margin:6px 0">\n'
        )
        if _for_export(env):
            # A browser scrolls a wide table sideways inside this box; its words wrap at spaces only.
            return f'<div class="table-scroll" style="overflow-x:auto;max-width:100%">{table}'
        return table  # a card lays a wide table out itself (ui.canvas.tables)

    def table_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        return "</table></div>\n" if _for_export(env) else "</table>\n"

    def th_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        return self._cell("th", tokens[idx], env)

    def td_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        return self._cell("td", tokens[idx], env)

    def _cell(self, tag: str, token: Token, env: Env) -> str:
        t = _theme_of(env)
        style = str(token.attrGet("style") or "")
        align = style.partition("text-align:")[2].strip() if "text-align:" in style else ""
        align_attr = f' align="{align}"' if align in ("left", "center", "right") else ""
        align_css = f";text-align:{align}" if align_attr else ""
        # (in a browser) wrap at spaces only, a long cell at most 20em wide: a wide table scrolls instead
        wrap = ";white-space:normal;overflow-wrap:normal;word-break:normal;max-width:20em" if _for_export(env) else ""
        return f'<{tag}{align_attr} style="border:1px solid {t.border};padding:4px 8px{align_css}{wrap}">'

    def blockquote_open(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        t = _theme_of(env)
        bar, color, title = t.border, t.muted, ""
        inline = tokens[idx + 2] if idx + 2 < len(tokens) and tokens[idx + 1].type == "paragraph_open" else None
        m = _ALERT_RE.match(inline.content) if inline is not None and inline.type == "inline" else None
        if inline is not None and m is not None:
            kind = m.group(1).upper()
            light, dark, glyph = _ALERTS[kind]
            bar = color = dark if t.name == "dark" else light
            title = f'<p style="color:{color};font-weight:bold;margin:0 0 2px 0">{glyph} {kind.title()}</p>\n'
            color = ""
            rest = inline.content[m.end() :]
            inline.children = [Token(_HTML_TOKEN, "", 0, content=render_inline(rest, env))]
            if not rest.strip():
                tokens[idx + 1].hidden = True
                close = _matching_close(tokens, idx + 1)
                if close is not None:
                    close.hidden = True
        text_color = f"color:{color};" if color else ""
        stack: list[bool] = env.setdefault(_QUOTES_KEY, [])
        if _for_export(env):
            stack.append(False)
            return (
                f'<blockquote{_dir(env)} style="margin:4px 0 4px 14px;padding-left:10px;'
                f'border-left:3px solid {bar};{text_color}">\n{title}'
            )
        # QTextDocument ignores border-left: a two-cell table draws the bar. The blockquote's own margins
        # do not reach a table inside it: the table's margins keep two quotes (alerts) and the text
        # around them apart.
        stack.append(True)
        return (
            '<blockquote style="margin:4px 0 4px 4px">'
            '<table cellspacing="0" cellpadding="0" style="margin:6px 0 6px 0">'
            f'<tr><td width="3" bgcolor="{bar}" style="background-color:{bar}"></td>'
            f'<td style="padding-left:10px;{text_color}">\n{title}'
        )

    def blockquote_close(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        stack: list[bool] = env.setdefault(_QUOTES_KEY, [])
        if stack and stack.pop():
            return "</td></tr></table></blockquote>\n"
        return "</blockquote>\n"

    def hr(self, tokens: Sequence[Token], idx: int, options: OptionsDict, env: Env) -> str:
        return f'<hr style="border:none;border-top:1px solid {_theme_of(env).border}">\n'


def _has_linkify() -> bool:
    try:
        import linkify_it  # noqa: F401
    except ImportError:
        return False
    return True


def _renderer_of(md: MarkdownIt) -> _SafeRenderer:
    renderer = md.renderer
    if not isinstance(renderer, _SafeRenderer):  # pragma: no cover - built above
        raise TypeError("unexpected markdown-it renderer")
    return renderer


_PLUGIN_RULES = ("footnote_ref", "footnote_anchor")


def _is_site_text(tokens: Sequence[Token], idx: int) -> bool:
    """A bare link found by linkify is a link only if its text has a scheme or starts with www.

    Fuzzy matching finds "www.example.com" but also "main.py" (.py is Paraguay's domain): only the
    first is a site. E-mail addresses (fuzzy too) stay text: an answer's address is not a link to follow.
    """
    text = tokens[idx + 1].content if idx + 1 < len(tokens) else ""
    return "://" in text or text.lower().startswith("www.")


def _build_md() -> MarkdownIt:
    from mdit_py_plugins.footnote import footnote_plugin

    linkify = _has_linkify()  # without linkify-it-py bare URLs stay text
    # html=True only so that inline tags reach html_inline() above, which renders a few formatting
    # tags and shows every other tag as text; raw HTML blocks stay off (their lines are paragraphs).
    md = MarkdownIt(
        "commonmark",
        {"html": True, "xhtmlOut": False, "linkify": linkify, "typographer": False},
        renderer_cls=_SafeRenderer,
    )
    md.enable(["table", "strikethrough"])
    md.disable("html_block")
    if linkify:
        md.enable("linkify")
        # Links with a scheme, and "www." sites; "main.py" or "notes.md" are file names (see
        # _is_site_text, which keeps those as text).
        if md.linkify is not None:
            md.linkify.set({"fuzzy_link": True, "fuzzy_email": False})
    math_plugin(md)
    # Definitions stay where they are: render_tokens() callers take them out (extract_footnotes)
    # and list them at the end (footnotes_html).
    footnote_plugin(md, inline=False, move_to_end=False)
    renderer = _renderer_of(md)
    for name in [n for n in renderer.rules if n.startswith("footnote_")]:
        del renderer.rules[name]  # the plugin's renderers (anchors, back links): ours are below
    for name in _PLUGIN_RULES:
        renderer.rules[name] = getattr(renderer, name)
    return md


_MD = _build_md()


_RENDERER = _renderer_of(_MD)
# Block structure only: inline content is parsed separately (and cached) by fill_inline().
_MD_BLOCKS = _build_md()
_MD_BLOCKS.disable([r for r in ("inline", "linkify", "text_join") if r in _MD_BLOCKS.get_active_rules()["core"]])
_HTML_TOKEN = "triptych_html"


def new_env(theme: str | Theme = "light", target: str = "card") -> Env:
    """A fresh markdown-it ``env`` carrying the theme and the target (one per parse/render)."""
    return {_THEME_KEY: get_theme(theme), _TARGET_KEY: target}


def parse(text: str, env: Env) -> list[Token]:
    """markdown-it block tokens for ``text`` (``env`` collects reference definitions)."""
    return _MD.parse(text, env)


# With only these core rules, parsing normalised text is the block parser's work alone.
_BLOCKS_ONLY = _MD_BLOCKS.get_active_rules()["core"] == ["normalize", "block"]


def parse_blocks(text: str, env: Env) -> list[Token]:
    """Like :func:`parse` but leaves ``inline`` tokens unparsed; pass them to :func:`fill_inline`.

    ``text`` must be normalised already (no "\\r" or "\\0", as markdown-it's "normalize" rule
    leaves it): that rule, a regex pass over the whole text, is skipped.
    """
    if not _BLOCKS_ONLY:
        return _MD_BLOCKS.parse(text, env)  # pragma: no cover - the rules are fixed above
    tokens: list[Token] = []
    _MD_BLOCKS.block.parse(text, _MD_BLOCKS, env, tokens)
    return tokens


def render_inline(content: str, env: Env) -> str:
    """HTML of one inline token's content (what rendering it inside a block produces)."""
    children = _MD.parseInline(content, env)[0].children or []
    return _RENDERER.renderInline(children, _MD.options, env)


# The core rules that parseInline() runs after inline parsing (text_join).
_CORE_AFTER_INLINE = [
    rule
    for name, rule in zip(_MD.get_active_rules()["core"], _MD.core.ruler.getRules(""), strict=True)
    if name not in ("normalize", "block", "inline")
    and _MD.get_active_rules()["core"].index(name) > _MD.get_active_rules()["core"].index("inline")
]
# A text may be rendered in pieces (see InlineCache) unless a rule looks back across them. The
# linkify rule looks back only at the scheme just before "://", which never spans the space a
# text is cut at.
_PIECES_OK = True
_SPACES = " \t\n"
# Text with none of the characters that stop markdown-it's "text" rule (the first inline rule)
# is one text token: its HTML is the escaped text. (None: that shortcut is not taken.)
_TERMINATOR_RE: re.Pattern[str] | None = (
    getattr(_MD.inline, "terminator_re", None)
    if _MD.get_active_rules()["inline"][:1] == ["text"] and _SafeRenderer.text is RendererHTML.text
    else None
)


# A "www." site has no terminator character, but linkify (a core rule) makes it a link.
_WWW_RE = re.compile(r"www\.", re.IGNORECASE)


def _render_piece(src: str, env: Env) -> tuple[str, bool]:
    """:func:`render_inline` for normalised ``src``, and whether ``src`` is *closed*: nothing in
    it can pair with text after it (no unmatched emphasis/strikethrough opener, no backtick run
    or bracket left as literal text, which a later closer could turn into code or a link)."""
    if _TERMINATOR_RE is not None and _TERMINATOR_RE.search(src) is None and not _WWW_RE.search(src):
        return escapeHtml(src), True
    children: list[Token] = []
    state = StateInline(src, _MD, env, children)
    # What parseInline() does for normalised text, keeping the inline state to look at.
    _MD.inline.tokenize(state)
    for rule in _MD.inline.ruler2.getRules(""):
        rule(state)
    closed = not any(d.open and d.end < 0 for d in state.delimiters) and not _has_literal_opener(children)
    core = StateCore(src, _MD, env)
    core.inlineMode = True
    core.tokens.append(Token("inline", "", 0, content=src, map=[0, 1], children=children))
    for core_rule in _CORE_AFTER_INLINE:
        core_rule(core)
    return _RENDERER.renderInline(core.tokens[0].children or [], _MD.options, env), closed


def _has_literal_opener(tokens: list[Token]) -> bool:
    """Whether a backtick, "$", "<", "\\(", "\\[" or a "[" that could still open a link (see
    :func:`_open_bracket`) was left as text, also inside an image's alt text (whose end was found
    by a scan that a later backtick could change)."""
    for t in tokens:
        if t.type == "text" and (
            "`" in t.content or "$" in t.content or "<" in t.content or _open_bracket(t.content)
        ):
            return True  # ("$": a formula's closer may still come; "<": a tag's or comment's end)
        if t.type == "text_special" and t.markup in ("\\(", "\\["):
            return True
        if t.children and _has_literal_opener(t.children):
            return True
    return False


def _open_bracket(text: str) -> bool:
    """Whether a "[" left as literal ``text`` could still start a link with text written after
    it. A "[" is literal when no link or reference starts there; that is final once the "]"
    that ends its label (brackets nest, as in markdown-it's label scan; all inside one text
    token, so no code span or tag can move it) is followed, in the same text, by a character
    other than "(" (an inline link's destination). (A "[" after it starts a full reference's
    label: that one is checked in turn, and so must be complete.)"""
    pos = text.find("[")
    while pos >= 0:
        depth = 0
        end = -1
        for i in range(pos, len(text)):
            c = text[i]
            if c == "[":
                depth += 1
            elif c == "]":
                depth -= 1
                if depth == 0:
                    end = i
                    break
        if end < 0 or end + 1 >= len(text) or text[end + 1] == "(":
            return True
        pos = text.find("[", pos + 1)
    return False


def _last_cut(text: str, lo: int) -> int:
    """The last index ``i >= lo`` where ``text`` may be cut in two inline pieces: ``text[i-1]``
    is a space between two characters that are not whitespace (so no delimiter run, line break
    or hard break touches the cut); -1 if none."""
    s = text.rfind(" ", max(lo - 1, 1), len(text) - 1)
    while s > 0:
        if text[s - 1] not in _SPACES and text[s + 1] not in _SPACES:
            return s + 1
        s = text.rfind(" ", max(lo - 1, 1), s)
    return -1


class InlineCache:
    """Rendered inline HTML for the inline tokens of one growing text (one theme, no reference
    definitions), for :func:`fill_inline`.

    HTML is cached by content, so finished list items and table cells are not parsed again.
    A paragraph still being written is re-rendered on every update; to keep that cost to the
    new text, a long content is rendered in two pieces cut at a space (:func:`_last_cut`) when
    the first piece is closed (:func:`_render_piece`): inline markup in CommonMark only pairs
    forwards, so a closed piece renders the same whatever follows it. The closed piece is
    remembered, and a later content that extends it renders only what comes after it. (A first
    piece that is not closed, say after a literal "[1]", costs a parse for nothing: cutting is
    then not tried again until the content has doubled.)
    """

    MAX_ENTRIES = 4096
    MIN_PIECE = 48  # shorter new text is not worth a second parse

    def __init__(self) -> None:
        # content -> its HTML (strings only: see children())
        self._html: dict[str, str] = {}
        self._head = ""  # a closed piece of the last long content, ending at a cut
        self._head_html = ""
        # The cuts the head grew by, each with the length of its HTML so far (see closed_pieces).
        self._head_cuts: list[tuple[int, int]] = []
        self._open = ""  # a first piece that was not closed ...
        self._retry_at = 0  # ... and the length from which cutting its extensions is tried again

    def __repr__(self) -> str:
        return f"InlineCache(entries={len(self._html)}, head_chars={len(self._head)})"

    def __len__(self) -> int:
        return len(self._html)

    def clear(self) -> None:
        self._html.clear()
        self._head = self._head_html = self._open = ""
        self._head_cuts = []

    def render(self, content: str, env: Env) -> str:
        """The HTML of inline content (normalised text, as the block parser gives it)."""
        html = self._html.get(content)
        if html is None:
            if len(self._html) >= self.MAX_ENTRIES:
                self._html.clear()
            html = self._html[content] = self._render(content, env)
        return html

    def closed_pieces(self, content: str) -> tuple[tuple[tuple[int, int], ...], str]:
        """The closed pieces ``content[:cut]`` that were rendered on their own while ``content``
        grew (the current head's cuts), each as ``(cut, length of its HTML)``, and the HTML of
        the longest; ``((), "")`` if the head is not ``content``'s. Such a piece with no label
        defined renders the same whatever the definitions (see :func:`render_after`)."""
        if self._head and content.startswith(self._head):
            return tuple(self._head_cuts), self._head_html
        return (), ""

    def children(self, content: str, env: Env) -> list[Token]:
        # A new token each time: the cache holds strings only. Cached Token lists (GC-tracked, long
        # lived) made the collector's full passes slow enough to stall the window 30-40 ms while
        # three long answers streamed (bench/bench_ui.py).
        return [Token(_HTML_TOKEN, "", 0, content=self.render(content, env))]

    def _render(self, content: str, env: Env) -> str:
        if not _PIECES_OK:
            return render_inline(content, env)  # pragma: no cover - linkify is not installed
        start, head_html = 0, ""
        head = self._head
        if (
            head
            and content.startswith(head)
            and len(content) > len(head)
            and content[len(head)] not in _SPACES
        ):
            start, head_html = len(head), self._head_html
        cut = _last_cut(content, start + self.MIN_PIECE)
        if cut > 0 and not (len(content) < self._retry_at and content.startswith(self._open)):
            first, closed = _render_piece(content[start:cut], env)
            if closed:
                self._head, self._head_html = content[:cut], head_html + first
                if not start:
                    self._head_cuts = []
                self._head_cuts.append((cut, len(self._head_html)))
                return self._head_html + _render_piece(content[cut:], env)[0]
            self._open, self._retry_at = content[:cut], 2 * len(content)
        return head_html + _render_piece(content[start:], env)[0]


def render_after(prefix_html: str, rest: str, env: Env, cache: InlineCache) -> list[Token]:
    """The children of an inline token whose content is a closed piece (see
    :meth:`InlineCache.closed_pieces`) rendered as ``prefix_html``, followed by ``rest``."""
    return [Token(_HTML_TOKEN, "", 0, content=prefix_html + cache.render(rest, env))]


def fill_inline(tokens: Sequence[Token], env: Env, cache: InlineCache) -> None:
    """Give the ``inline`` tokens of :func:`parse_blocks` their rendered HTML.

    Inline rendering is a pure function of the content when there are no reference
    definitions, so ``cache`` may be reused across calls for one theme (see :class:`InlineCache`).
    """
    for tok in tokens:
        if tok.type == "inline":
            tok.children = cache.children(tok.content, env)


def render_tokens(tokens: Sequence[Token], env: Env) -> str:
    """Render (a slice of) top-level tokens; concatenating slices equals rendering all."""
    return _RENDERER.render(tokens, _MD.options, env)


# --------------------------------------------------------------------------------------------
# Footnotes
#
# GitHub-style footnotes through mdit-py-plugins' block and inline rules: "[^label]: text" defines
# a note (its body: that text and the blocks indented under it), and "[^label]" anywhere refers to
# it when the label is defined anywhere in the text. The notes are numbered in the order of their
# first definition, and listed in that order at the end of the card, each defined label once (its
# first definition wins, as for link references). GitHub numbers notes by first reference and
# leaves out notes never referred to; numbering by definition keeps every number fixed once its
# definition is written, so a streamed answer never renumbers what it has shown (and the
# incremental renderer need not render its closed blocks again: see app.render.incremental).

FOOTNOTES_KEY = "footnotes"  # the plugin's env entry: {"refs": {":label": …}, "list": {…}}
_FOOTNOTE_NUMBERS_KEY = "triptych_footnote_numbers"
FOOTNOTES_CLOSE = "</ol>\n"


def footnote_keys(env: Env) -> dict[str, Any]:
    """The plugin's map of defined labels (``":" + label``), in the order of first definition."""
    data = env.get(FOOTNOTES_KEY)
    refs = data.get("refs") if isinstance(data, dict) else None
    return refs if isinstance(refs, dict) else {}


def seed_footnotes(env: Env, labels: Iterable[str]) -> None:
    """Make ``labels`` (defined earlier in the text, in this order) defined for a parse of more text."""
    env[FOOTNOTES_KEY] = {"refs": {":" + label: -1 for label in labels}, "list": {}}


def footnote_number(env: Env, label: str) -> int:
    """The number of the note ``label`` (1-based, in the order of first definition)."""
    keys = footnote_keys(env)
    cached = env.get(_FOOTNOTE_NUMBERS_KEY)
    if not (isinstance(cached, tuple) and cached[0] == len(keys)):  # labels are only ever added
        cached = env[_FOOTNOTE_NUMBERS_KEY] = (len(keys), {k: i for i, k in enumerate(keys, 1)})
    return int(cached[1].get(":" + label, 0))


def extract_footnotes(tokens: Sequence[Token]) -> tuple[list[Token], list[tuple[str, list[Token]]]]:
    """Take the footnote definitions out of block ``tokens``: the other tokens, and each
    definition's label and body tokens in document order (a definition nested in another one
    comes after it, and is not part of its body)."""
    if not any(tok.type == "footnote_reference_open" for tok in tokens):
        return list(tokens), []
    out: list[Token] = []
    notes: list[tuple[str, list[Token]]] = []
    bodies: list[list[Token]] = []  # the bodies being collected, innermost last
    for tok in tokens:
        if tok.type == "footnote_reference_open":
            body: list[Token] = []
            notes.append((str(tok.meta["label"]), body))
            bodies.append(body)
        elif tok.type == "footnote_reference_close":
            bodies.pop()
        else:
            (bodies[-1] if bodies else out).append(tok)
    return out, notes


def first_definitions(notes: Iterable[tuple[str, list[Token]]]) -> dict[str, list[Token]]:
    """Label -> body tokens of the first definition of each label, in definition order."""
    first: dict[str, list[Token]] = {}
    for label, body in notes:
        first.setdefault(label, body)
    return first


def footnotes_open_html(env: Env) -> str:
    """The start of the notes section: a rule, then a small muted ordered list."""
    t = _theme_of(env)
    return (
        f'<hr style="border:none;border-top:1px solid {t.border}">\n'
        f'<ol style="color:{t.muted};font-size:small;margin:4px 0">\n'
    )


def footnote_item_html(body_html: str) -> str:
    """One note of the notes section, from the HTML of its body."""
    return f"<li>{body_html}</li>\n"


def footnotes_html(bodies_html: Sequence[str], env: Env) -> str:
    """The notes section (empty without notes), from the HTML of each note's body, in order."""
    if not bodies_html:
        return ""
    return "".join([footnotes_open_html(env), *map(footnote_item_html, bodies_html), FOOTNOTES_CLOSE])


def render_document(tokens: Sequence[Token], env: Env) -> str:
    """Render the tokens of a whole text (:func:`parse`): its blocks, then its notes."""
    blocks, notes = extract_footnotes(tokens)
    html = render_tokens(blocks, env)
    if not notes:
        return html
    return html + footnotes_html([render_tokens(body, env) for body in first_definitions(notes).values()], env)


def _render(text: str, theme: str | Theme, target: str = "card") -> str:
    env = new_env(theme, target)
    return render_document(parse(text, env), env)


@lru_cache(maxsize=128)
def _render_cached(text: str, theme: str | Theme, target: str) -> str:
    return _render(text, theme, target)


def render_markdown(text: str, theme: str | Theme = "light", target: str = "card") -> str:
    """Markdown → safe HTML fragment with inline styles. Pure and cached.

    CommonMark + GitHub's tables, strikethrough, task lists, footnotes, alerts and bare links;
    LaTeX formulas (see :mod:`app.render.math`); a few formatting tags (``<kbd>``, ``<sup>``,
    ``<sub>``, ``<br>``, ``<mark>``, ``<u>``, ``<details>``/``<summary>``), every other raw tag
    shown as text; fenced code highlighted with pygments (inline colours), unknown languages as
    plain escaped code. ``theme`` is ``"light"``, ``"dark"`` or a :class:`~app.render.theme.Theme`.

    ``target`` ``"card"`` (QTextDocument): formulas are ``<img src="triptych-math:…">`` whose
    pictures the ui supplies, block quotes a table with a coloured bar; ``"export"`` (a browser):
    formulas are MathML, blocks carry ``dir="auto"``, ``<details>`` folds.
    """
    get_theme(theme)  # validate early (ValueError), before caching
    if target not in TARGETS:
        raise ValueError(f"unknown target {target!r}; known: {', '.join(TARGETS)}")
    return _render_cached(text, theme, target)


def render_plain(text: str, theme: str | Theme = "light") -> str:
    """Reasoning text → HTML: escaped (never markdown), muted colour, line breaks kept.

    Paragraphs (separated by blank lines) become ``<p>``; single newlines become ``<br>``.
    Cheap (linear, no parser), so it can be called on every streamed chunk.
    """
    t = get_theme(theme)
    text = text.replace("\r\n", "\n").replace("\r", "\n").strip("\n")
    if not text.strip():
        return ""
    paragraphs = [p for p in re.split(r"\n[ \t]*\n", text) if p.strip()]
    style = f'style="color:{t.muted};margin:0 0 6px 0"'
    return "".join(f"<p {style}>{escape_html(p).replace(chr(10), '<br>')}</p>\n" for p in paragraphs)


# --------------------------------------------------------------------------------------------
# Code blocks for copy buttons


@dataclass(frozen=True, slots=True)
class CodeBlock:
    """A code block of a markdown text.

    ``lang`` is the fence language ("" when none, or for an indented block), ``code`` the body
    without its final newline, ``start_line`` the 0-based line of the opening fence (or of the
    first line of an indented block).
    """

    lang: str
    code: str
    start_line: int

    def __repr__(self) -> str:
        return f"CodeBlock(lang={self.lang!r}, start_line={self.start_line}, chars={len(self.code)})"


def extract_code_blocks(text: str) -> list[CodeBlock]:
    """Every code block of ``text`` (fenced and indented, nested ones included), in document
    order but those in footnotes last (where the notes are shown), which is also the order of the
    ``<pre>`` elements in :func:`render_markdown`."""
    blocks: list[CodeBlock] = []
    tokens, notes = extract_footnotes(_MD.parse(text, {}))
    for body in first_definitions(notes).values():  # the notes come last
        tokens += body
    for tok in tokens:
        if tok.type not in ("fence", "code_block"):
            continue
        code = tok.content[:-1] if tok.content.endswith("\n") else tok.content
        lang = lang_from_info(tok.info) if tok.type == "fence" else ""
        blocks.append(CodeBlock(lang=lang, code=code, start_line=tok.map[0] if tok.map else 0))
    return blocks


# --------------------------------------------------------------------------------------------
# Checker

_FORBIDDEN_TAGS = frozenset(
    {
        "script",
        "iframe",
        "frame",
        "frameset",
        "object",
        "embed",
        "applet",
        "img",
        "image",
        "picture",
        "source",
        "video",
        "audio",
        "track",
        "link",
        "base",
        "svg",
        "form",
        "input",
        "button",
        "textarea",
        "select",
        "portal",
    }
)
# Attributes that make a browser fetch something (or submit somewhere) whatever the tag.
_FETCH_ATTRS = frozenset(
    {
        "src",
        "srcset",
        "srcdoc",
        "poster",
        "background",
        "action",
        "formaction",
        "data",
        "ping",
        "lowsrc",
        "dynsrc",
    }
)
_CSS_BAD_RE = re.compile(r"url\s*\(|image-set\s*\(|@import|expression\s*\(|behaviou?r\s*:|-moz-binding", re.I)
_CSS_ESCAPE_RE = re.compile(r"\\([0-9a-fA-F]{1,6})\s?|\\(.)", re.S)
_CSS_COMMENT_RE = re.compile(r"/\*.*?\*/", re.S)


def _css_unescape(css: str) -> str:
    def repl(m: re.Match[str]) -> str:
        if m.group(1):
            try:
                return chr(int(m.group(1), 16))
            except (ValueError, OverflowError):
                return "\ufffd"
        return m.group(2)

    return _CSS_ESCAPE_RE.sub(repl, _CSS_COMMENT_RE.sub("", css))


def _css_is_bad(css: str) -> bool:
    return bool(_CSS_BAD_RE.search(css) or _CSS_BAD_RE.search(_css_unescape(css)))


_FORMULA_SRC_RE = re.compile(rf"{MATH_SCHEME}:[0-9a-f]+\Z")


def _is_formula_image(attrs: list[tuple[str, str | None]]) -> bool:
    """A card's formula: ``<img src="triptych-math:KEY">`` names a picture the app draws itself."""
    names = {name for name, _ in attrs}
    src = dict(attrs).get("src") or ""
    return names <= {"src", "alt", "align"} and _FORMULA_SRC_RE.match(src) is not None


class _Checker(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.problems: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "img" and _is_formula_image(attrs):
            return
        if tag in _FORBIDDEN_TAGS:
            self.problems.append(f"forbidden element <{tag}>")
        elif tag == "meta" and any(name != "charset" for name, _ in attrs):
            self.problems.append("<meta> with attributes other than charset")
        elif tag == "style":
            self._in_style = True
        for name, value in attrs:
            v = value or ""
            if name.startswith("on"):
                self.problems.append(f"event handler attribute {name!r} on <{tag}>")
            elif name in ("href", "xlink:href"):
                if not (v.strip().startswith("#") or is_safe_url(v)):
                    self.problems.append(f"unsafe {name} {v[:60]!r} on <{tag}>")
            elif name in _FETCH_ATTRS:
                self.problems.append(f"fetching attribute {name!r} on <{tag}>")
            elif name == "style" and _css_is_bad(v):
                self.problems.append(f"style attribute with url()/import on <{tag}>")

    def handle_endtag(self, tag: str) -> None:
        if tag == "style":
            self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style and _css_is_bad(data):
            self.problems.append("<style> with url()/import")


def sanitize_check(html: str) -> list[str]:
    """Problems in an HTML string, as human-readable messages (empty list: looks safe).

    Flags: ``<script>``, ``<iframe>``, ``<object>``, ``<embed>``, ``<img>`` (but a card's formula,
    ``<img src="triptych-math:KEY">``), ``<link>``, ``<base>``,
    ``<svg>``, media and form elements; ``<meta>`` other than ``<meta charset>``; ``<style>`` or a
    ``style`` attribute with ``url(``/``@import``/``expression(``; any ``on*`` attribute; any
    ``src``-like attribute; any ``href`` that is not http(s)/mailto or a ``#`` anchor.
    Used by the tests and by the HTML export on its final document.
    """
    checker = _Checker()
    checker.feed(html)
    checker.close()
    return checker.problems
