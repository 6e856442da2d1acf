"""LaTeX formulas in model answers: parsing rules for markdown-it, and their renderings.

Pure and Qt-free. A formula is recognised before markdown's own inline rules, so its source is never
touched by backslash escapes, emphasis or table cell splitting:

- ``$…$`` inline (Pandoc's rule for currency: no space just inside the dollars, no digit right after
  the closing one, so "$5 and $10" stays text), ``$$…$$`` inline or as a block;
- ``\\(…\\)`` inline, ``\\[…\\]`` inline or as a block.

Renderings, chosen per render by the caller (see :mod:`app.render.markdown`):

- ``"image"`` (cards): ``<img src="triptych-math:KEY">``; the ui supplies that resource, drawn from
  :func:`math_svg` (ziamath, pure Python) in the card's colour and size. :func:`formula_of` maps a key
  back to its formula. Nothing is fetched: the scheme is the app's own;
- ``"mathml"`` (the HTML export): MathML Core from latex2mathml, which browsers draw natively;
- a formula that does not parse, in any mode, shows its exact source (delimiters included) in code
  style.

Rendering a formula to SVG is slow (milliseconds): it happens lazily, once per formula, colour and
size, never while parsing. Checking that a formula parses (latex2mathml, a fraction of a millisecond)
is cached per formula.
"""

from __future__ import annotations

import hashlib
import re
from collections import OrderedDict
from collections.abc import Callable
from functools import lru_cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # (markdown-it is imported by app.render.markdown, which uses this module's rules)
    from markdown_it import MarkdownIt
    from markdown_it.rules_block import StateBlock
    from markdown_it.rules_inline import StateInline

__all__ = [
    "MATH_SCHEME",
    "formula_of",
    "math_key",
    "math_plugin",
    "math_spans",
    "math_svg",
    "mathml",
    "spaced_operators",
    "split_table_row",
]

MATH_SCHEME = "triptych-math"
_KEYS_MAX = 50_000
_keys: OrderedDict[str, tuple[str, bool]] = OrderedDict()


def math_key(latex: str, display: bool) -> str:
    """A short stable key for a formula (what the cards' ``<img src>`` names); remembered for
    :func:`formula_of`."""
    key = hashlib.blake2b(f"{int(display)}\0{latex}".encode(), digest_size=10).hexdigest()
    if key not in _keys:
        _keys[key] = (latex, display)
        if len(_keys) > _KEYS_MAX:
            _keys.popitem(last=False)
    return key


def formula_of(key: str) -> tuple[str, bool] | None:
    """``(latex, display)`` of a key made by :func:`math_key` in this process, or None."""
    return _keys.get(key)


# Operator names TeX sets upright with a thin space before an ordinary symbol after them ("det A",
# "sin x"); latex2mathml and ziamath glue them ("detA"), so the space is written in.
_OPERATORS = (
    "arccos arcsin arctan arg cos cosh cot coth csc deg det dim exp gcd hom inf ker lg lim liminf limsup "
    "ln log max min Pr sec sin sinh sup tan tanh"
).split()
_OPERATOR = re.compile(r"\\(?:" + "|".join(sorted(_OPERATORS, key=len, reverse=True)) + r")(?![A-Za-z])")
_SCRIPT = re.compile(r"\s*[_^]\s*(?:\{|\\[A-Za-z]+|[^\s{}])")
_ORDINARY_NEXT = re.compile(r"\s*(?:[A-Za-z0-9{]|\\(?!(?:left|right|big|Big|bigg|Bigg|[,;:! ]|quad|qquad|[{}|])(?![A-Za-z]))[A-Za-z]+)")


def _skip_group(src: str, pos: int) -> int:
    """The index just past the brace group that opens at ``src[pos] == "{"`` (or the end)."""
    depth = 0
    while pos < len(src):
        ch = src[pos]
        if ch == "\\":
            pos += 2
            continue
        if ch == "{":
            depth += 1
        elif ch == "}":
            depth -= 1
            if depth == 0:
                return pos + 1
        pos += 1
    return pos


def spaced_operators(latex: str) -> str:
    """``latex`` with a thin space (``\\,``) after each operator name (``\\det``, ``\\sin``, ``\\lim``…)
    and its sub/superscripts when an ordinary symbol follows (``\\det A``, ``\\log n``), as TeX sets
    them; none before a delimiter (``\\sin(x)``) or an explicit space."""
    if "\\" not in latex:
        return latex
    out: list[str] = []
    pos = 0
    for m in _OPERATOR.finditer(latex):
        if m.start() < pos:
            continue
        end = m.end()
        while True:  # its scripts: \lim_{n\to\infty}, \max_i, \log^2
            s = _SCRIPT.match(latex, end)
            if s is None:
                break
            end = _skip_group(latex, s.end() - 1) if s.group(0).endswith("{") else s.end()
        out.append(latex[pos:end])
        if _ORDINARY_NEXT.match(latex, end):
            out.append("\\,")
        pos = end
    out.append(latex[pos:])
    return "".join(out)


@lru_cache(maxsize=4096)
def mathml(latex: str, display: bool = False) -> str | None:
    """MathML for ``latex`` (a ``<math>`` element), or None if it does not parse."""
    if not latex.strip():
        return None
    try:
        from latex2mathml.converter import convert

        out = convert(spaced_operators(latex), display="block" if display else "inline")
    except Exception:  # noqa: BLE001 - any parse failure: the caller shows the source
        return None
    # latex2mathml escapes text; refuse anything that could link or load all the same.
    if _BAD_ATTR.search(out) or "<script" in out.lower():
        return None
    for style in _STYLE_ATTR.findall(out):  # \style{…}, \colorbox{…}: colours only, nothing to fetch
        if not _PLAIN_CSS.fullmatch(style) or re.search(r"url|image|expression|binding", style, re.I):
            return None
    return out


_STYLE_ATTR = re.compile(r"""\sstyle\s*=\s*["']([^"']*)["']""", re.I)
_PLAIN_CSS = re.compile(r"[\w\s:;#.,%()\-]*")  # no "/" (url, comments), no "\\" (escapes), no "@"
_BAD_ATTR = re.compile(r"<[^>]*\s(?:on[a-z]+|href|src|xlink:href)\s*=", re.S | re.I)


@lru_cache(maxsize=2048)
def math_svg(latex: str, display: bool, color: str, size: float) -> tuple[str, float] | None:
    """``(svg, baseline)`` of a formula drawn by ziamath at font size ``size`` (px) in ``color``;
    ``baseline`` is the distance in px from the top of the picture to the formula's baseline.
    None if it cannot be drawn. Slow (milliseconds): call lazily, never per streamed token."""
    if mathml(latex, display) is None:
        return None
    try:
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)  # its font lookup (pkg_resources)
            import ziamath

            ziamath.config.svg2 = False  # plain SVG 1.1 (no <symbol> viewBoxes): what QtSvg draws
            m = ziamath.Math.fromlatex(spaced_operators(latex), size=size, color=color, inline=not display)
            svg = m.svg()
    except Exception:  # noqa: BLE001 - unknown commands, missing glyphs: the caller shows the source
        return None
    vb = re.search(r'viewBox="([-\d.e]+) ([-\d.e]+) ([-\d.e]+) ([-\d.e]+)"', svg)
    baseline = -float(vb.group(2)) if vb else 0.0
    return svg, baseline


# --------------------------------------------------------------------------------------------
# Parsing (markdown-it rules)

_INLINE_TYPE = "math_inline"
_DISPLAY_TYPE = "math_display"  # display math inside a paragraph ($$…$$ or \[…\] inline)
_BLOCK_TYPE = "math_block"
_OPEN_BLOCK_TYPE = "math_block_open_source"  # a $$ / \[ block not closed yet (streaming)


def _is_escaped(src: str, pos: int) -> bool:
    n = 0
    while pos - n - 1 >= 0 and src[pos - n - 1] == "\\":
        n += 1
    return n % 2 == 1


def find_dollar_close(src: str, start: int, end: int) -> int:
    """Index of the ``$`` closing inline math opened at ``start`` (the opening ``$``), or -1.

    Pandoc's rules, so prices stay text: a non-space right after the opener; the closer is the
    next unescaped ``$``, with a non-space right before it and no digit right after it ("$5 and
    $10" is not math: its next ``$`` follows a space)."""
    if start + 1 >= end or src[start + 1] in " \t\n$":
        return -1
    pos = start + 1
    while True:
        close = src.find("$", pos, end)
        if close < 0:
            return -1
        if _is_escaped(src, close):
            pos = close + 1
            continue
        if src[close - 1] in " \t\n":
            return -1
        if close + 1 < end and src[close + 1].isdigit():
            return -1
        return close


def _inline_math(state: StateInline, silent: bool) -> bool:
    src, pos, maximum = state.src, state.pos, state.posMax
    ch = src[pos]
    if ch == "$":
        if _is_escaped(src, pos):
            return False
        if pos + 1 < maximum and src[pos + 1] == "$":  # $$…$$ inside a paragraph
            close = src.find("$$", pos + 2, maximum)
            while close >= 0 and _is_escaped(src, close):
                close = src.find("$$", close + 1, maximum)
            if close < 0 or not src[pos + 2 : close].strip():
                return False
            if not silent:
                tok = state.push(_DISPLAY_TYPE, "math", 0)
                tok.content = src[pos + 2 : close]
                tok.markup = "$$"
            state.pos = close + 2
            return True
        if pos > 0 and src[pos - 1].isdigit():
            return False
        close = find_dollar_close(src, pos, maximum)
        if close < 0:
            return False
        if not silent:
            tok = state.push(_INLINE_TYPE, "math", 0)
            tok.content = src[pos + 1 : close]
            tok.markup = "$"
        state.pos = close + 1
        return True
    if ch == "\\" and pos + 1 < maximum and src[pos + 1] in "([" and not _is_escaped(src, pos):
        closer = "\\)" if src[pos + 1] == "(" else "\\]"
        close = src.find(closer, pos + 2, maximum)
        while close >= 0 and _is_escaped(src, close):
            close = src.find(closer, close + 1, maximum)
        if close < 0 or not src[pos + 2 : close].strip():
            return False
        if not silent:
            tok = state.push(_INLINE_TYPE if closer == "\\)" else _DISPLAY_TYPE, "math", 0)
            tok.content = src[pos + 2 : close]
            tok.markup = src[pos : pos + 2]
        state.pos = close + 2
        return True
    return False


def _block_math(state: StateBlock, start_line: int, end_line: int, silent: bool) -> bool:
    """``$$`` or ``\\[`` at the start of a line, up to the line that ends with ``$$`` / ``\\]``.

    Not closed before a blank line: not math (the text is a paragraph). Not closed by the end of
    the text (an answer still streaming): an open block, shown as its source.
    """
    if state.sCount[start_line] - state.blkIndent >= 4:
        return False
    begin = state.bMarks[start_line] + state.tShift[start_line]
    line_end = state.eMarks[start_line]
    opener = state.src[begin : begin + 2]
    if opener == "$$":
        closer = "$$"
    elif opener == "\\[":
        closer = "\\]"
    else:
        return False
    first = state.src[begin + 2 : line_end]
    parts: list[str] = []
    line = start_line
    closed = False
    stripped = first.rstrip()
    if stripped.endswith(closer) and len(stripped) >= len(closer) and stripped[: -len(closer)].strip():
        parts.append(stripped[: -len(closer)])
        closed = True
    elif closer in first:
        return False  # "$$a$$ more text": a paragraph with inline math
    else:
        parts.append(first)
        while True:
            line += 1
            if line >= end_line:
                break
            lb = state.bMarks[line] + state.tShift[line]
            le = state.eMarks[line]
            text = state.src[lb:le]
            if state.isEmpty(line) or state.sCount[line] < state.blkIndent:
                return False  # a blank line (or the end of a container) before the closer
            rs = text.rstrip()
            if rs.endswith(closer) and not _is_escaped(rs, len(rs) - len(closer)):
                parts.append(rs[: -len(closer)])
                closed = True
                break
            parts.append(text)
    if not closed and line < end_line:
        return False
    if silent:
        return True
    content = "\n".join(parts)
    if closed and not content.strip():
        return False
    state.line = line + 1
    tok = state.push(_BLOCK_TYPE if closed else _OPEN_BLOCK_TYPE, "math", 0)
    tok.block = True
    tok.content = content
    tok.markup = opener
    tok.map = [start_line, state.line]
    if not closed:  # the exact source, to show as is until the block closes
        tok.meta = {"source": state.src[state.bMarks[start_line] : state.eMarks[min(line, end_line - 1)]]}
    return True


def math_plugin(md: MarkdownIt) -> None:
    """Add the formula rules to ``md`` (before escapes, emphasis and the table rule's cell split)."""
    md.inline.ruler.before("escape", "math_inline", _inline_math)
    # It interrupts nothing: a block that may stop being math when a blank line arrives must not
    # end the paragraph before it (a streamed text would then render differently in pieces).
    md.block.ruler.before("fence", "math_block", _block_math)
    # A table row is split at its pipes before inline parsing: keep pipes inside formulas.
    if "table" in md.block.ruler.get_all_rules():
        md.block.ruler.at("table", _math_aware_table(), {"alt": ["paragraph", "reference"]})


def split_table_row(row: str) -> list[str]:
    """markdown-it's table cell split (an unescaped ``|`` separates cells, ``\\|`` is a ``|``),
    except that a formula (``$…$``, ``\\(…\\)``) is kept whole and exactly as written."""
    result: list[str] = []
    current: list[str] = []
    pos, n = 0, len(row)
    while pos < n:
        ch = row[pos]
        if ch == "$" and not _is_escaped(row, pos) and not (pos > 0 and row[pos - 1].isdigit()):
            if row.startswith("$$", pos):
                close = row.find("$$", pos + 2)
                if close > pos + 2:
                    current.append(row[pos : close + 2])
                    pos = close + 2
                    continue
            else:
                close = find_dollar_close(row, pos, n)
                if close > 0:
                    current.append(row[pos : close + 1])
                    pos = close + 1
                    continue
        if ch == "\\" and row.startswith("\\(", pos) and not _is_escaped(row, pos):
            close = row.find("\\)", pos + 2)
            if close > 0:
                current.append(row[pos : close + 2])
                pos = close + 2
                continue
        if ch == "|":
            if _is_escaped(row, pos):
                current[-1] = current[-1][:-1]  # "\|": a pipe in the cell
                current.append("|")
            else:
                result.append("".join(current))
                current = []
            pos += 1
            continue
        current.append(ch)
        pos += 1
    result.append("".join(current))
    return result


def _math_aware_table() -> Callable[[StateBlock, int, int, bool], bool]:
    import importlib
    import types

    table_module = importlib.import_module("markdown_it.rules_block.table")
    rule = table_module.table
    glob = dict(rule.__globals__)
    glob["escapedSplit"] = split_table_row
    patched = types.FunctionType(rule.__code__, glob, rule.__name__, rule.__defaults__, rule.__closure__)
    return patched


def math_spans(line: str) -> list[tuple[int, int]]:
    """``(start, end)`` of each inline formula in one line of markdown source (the rules above),
    for code that must keep formulas exactly as written (the markdown export)."""
    spans: list[tuple[int, int]] = []
    pos, n = 0, len(line)
    while pos < n:
        ch = line[pos]
        if ch == "$" and not _is_escaped(line, pos):
            if line.startswith("$$", pos):
                close = line.find("$$", pos + 2)
                if close > pos + 2:
                    spans.append((pos, close + 2))
                    pos = close + 2
                    continue
                pos += 2
                continue
            if not (pos > 0 and line[pos - 1].isdigit()):
                close = find_dollar_close(line, pos, n)
                if close > 0:
                    spans.append((pos, close + 1))
                    pos = close + 1
                    continue
        elif ch == "\\" and pos + 1 < n and line[pos + 1] in "([" and not _is_escaped(line, pos):
            closer = "\\)" if line[pos + 1] == "(" else "\\]"
            close = line.find(closer, pos + 2)
            if close > pos + 2:
                spans.append((pos, close + 2))
                pos = close + 2
                continue
        pos += 1
    return spans


# ------------------------------------------------------------------ formulas as plain words

_SYMBOLS = {
    "alpha": "α", "beta": "β", "gamma": "γ", "delta": "δ", "epsilon": "ε", "varepsilon": "ε", "zeta": "ζ",
    "eta": "η", "theta": "θ", "vartheta": "ϑ", "iota": "ι", "kappa": "κ", "lambda": "λ", "mu": "μ", "nu": "ν",
    "xi": "ξ", "pi": "π", "rho": "ρ", "sigma": "σ", "tau": "τ", "upsilon": "υ", "phi": "φ", "varphi": "φ",
    "chi": "χ", "psi": "ψ", "omega": "ω", "Gamma": "Γ", "Delta": "Δ", "Theta": "Θ", "Lambda": "Λ", "Xi": "Ξ",
    "Pi": "Π", "Sigma": "Σ", "Phi": "Φ", "Psi": "Ψ", "Omega": "Ω", "int": "∫", "iint": "∬", "oint": "∮",
    "sum": "∑", "prod": "∏", "infty": "∞", "partial": "∂", "nabla": "∇", "pm": "±", "mp": "∓", "times": "×",
    "cdot": "·", "cdots": "⋯", "ldots": "…", "dots": "…", "leq": "≤", "le": "≤", "geq": "≥", "ge": "≥",
    "neq": "≠", "ne": "≠", "approx": "≈", "sim": "∼", "equiv": "≡", "propto": "∝", "to": "→",
    "rightarrow": "→", "leftarrow": "←", "Rightarrow": "⇒", "iff": "⇔", "implies": "⇒", "in": "∈",
    "notin": "∉", "subset": "⊂", "subseteq": "⊆", "cup": "∪", "cap": "∩", "forall": "∀", "exists": "∃",
    "emptyset": "∅", "circ": "∘", "degree": "°", "langle": "⟨", "rangle": "⟩",
    "mid": "|", "vert": "|", "lVert": "‖", "rVert": "‖", "|": "‖", "cdotp": "·", "ast": "∗", "star": "⋆",
    "%": "%", "$": "$", "{": "{", "}": "}", "_": "_", "&": "&", "#": "#",
    # "T" (not ⊤): as a superscript it becomes ᵀ, the transpose everyone writes (w^\top → wᵀ)
    "top": "T", "intercal": "T", "iiint": "∭", "oiint": "∯", "bot": "⊥", "perp": "⊥", "parallel": "∥",
    "ell": "ℓ", "hbar": "ℏ", "dagger": "†", "prime": "′", "leftrightarrow": "↔", "Leftarrow": "⇐",
    "Leftrightarrow": "⇔", "mapsto": "↦", "setminus": "∖", "supset": "⊃", "supseteq": "⊇", "wedge": "∧",
    "vee": "∨", "neg": "¬", "lnot": "¬", "land": "∧", "lor": "∨", "otimes": "⊗", "oplus": "⊕", "ll": "≪",
    "gg": "≫", "simeq": "≃", "cong": "≅", "div": "÷", "aleph": "ℵ", "lceil": "⌈", "rceil": "⌉",
    "lfloor": "⌊", "rfloor": "⌋", "lbrace": "{", "rbrace": "}",
}
_SUP = str.maketrans("0123456789+-=()niT", "⁰¹²³⁴⁵⁶⁷⁸⁹⁺⁻⁼⁽⁾ⁿⁱᵀ")
_SUB = str.maketrans("0123456789+-=()aeioruvxjkt", "₀₁₂₃₄₅₆₇₈₉₊₋₌₍₎ₐₑᵢₒᵣᵤᵥₓⱼₖₜ")
_QUIET = {"left", "right", "big", "Big", "bigg", "Bigg", "displaystyle", "limits", "nolimits", ",", ";", ":",
          "!", "quad", "qquad", " ", "textstyle"}
_WORD_ARGS = {"text", "mathrm", "mathbf", "mathit", "mathsf", "mathtt", "mathcal", "operatorname", "boldsymbol",
              "textbf", "textit", "hat", "bar", "tilde", "vec", "dot", "overline", "underline", "mathbb"}


def _group(src: str, pos: int) -> tuple[str, int]:
    """The argument at `pos` (a {group} or one character/command) and the position after it."""
    while pos < len(src) and src[pos] == " ":
        pos += 1
    if pos >= len(src):
        return "", pos
    if src[pos] == "{":
        end = _skip_group(src, pos)
        return src[pos + 1 : end - 1], end
    if src[pos] == "\\":
        m = re.match(r"\\([A-Za-z]+|.)", src[pos:])
        if m:
            return m.group(0), pos + m.end()
    return src[pos], pos + 1


def _script(text: str, table: dict[int, int], mark: str) -> str:
    """A super- or subscript: in Unicode script letters when it has them all (x², xᵢ), else marked."""
    flat = latex_to_text(text).replace("−", "-")
    if flat and all(ord(c) in table for c in flat):
        return flat.translate(table)
    flat = flat.replace("-", "−")
    return f"{mark}{flat}" if len(flat) == 1 else f"{mark}({flat})"


def latex_to_text(latex: str) -> str:
    """A formula as readable plain text, for places that cannot show it typeset (a zoomed-out card's
    first words, a collapsed card): `\\int_{-\\infty}^{\\infty} e^{-x^2}\\,dx` → `∫₋∞^∞ e^(−x²) dx`-like
    words. Never exact: the typeset picture and the exports keep the source."""
    out: list[str] = []
    pos, n = 0, len(latex)
    while pos < n:
        ch = latex[pos]
        if ch == "\\":
            m = re.match(r"\\([A-Za-z]+|.)", latex[pos:])
            name = m.group(1) if m else ""
            pos += m.end() if m else 1
            if name == "frac" or name in ("dfrac", "tfrac"):
                num, pos = _group(latex, pos)
                den, pos = _group(latex, pos)
                a, b = latex_to_text(num), latex_to_text(den)
                a = a if len(a) <= 1 or a.isalnum() else f"({a})"
                b = b if len(b) <= 1 or b.isalnum() else f"({b})"
                out.append(f"{a}/{b}")
            elif name == "sqrt":
                arg, pos = _group(latex, pos)
                inner = latex_to_text(arg)
                out.append("√" + (inner if len(inner) <= 1 else f"({inner})"))
            elif name in _WORD_ARGS:
                arg, pos = _group(latex, pos)
                out.append(latex_to_text(arg))
            elif name in _QUIET:
                out.append(" " if name in (",", ";", ":", "quad", "qquad", " ") else "")
            elif name in _SYMBOLS:
                out.append(_SYMBOLS[name])
            elif name in ("begin", "end"):
                _, pos = _group(latex, pos)
            elif name == "\\":
                out.append("; ")
            else:
                out.append(name)  # \det, \sin, \log, \max: the operator's own name
        elif ch in "^_":
            arg, pos = _group(latex, pos + 1)
            out.append(_script(arg, _SUP if ch == "^" else _SUB, "^" if ch == "^" else "_"))
        elif ch in "{}":
            pos += 1
        elif ch == "&":
            out.append(" ")
            pos += 1
        elif ch == "-":
            out.append("−")
            pos += 1
        else:
            out.append(ch)
            pos += 1
    return re.sub(r"[ \t]+", " ", "".join(out)).strip()


def formulas_as_text(line: str) -> str:
    """`line` of markdown with each formula ($…$, $$…$$, \\(…\\), \\[…\\]) replaced by latex_to_text."""
    spans = math_spans(line)
    if not spans:
        return line
    out, last = [], 0
    for start, end in spans:
        src = line[start:end]
        inner = src[2:-2] if src.startswith(("$$", "\\(", "\\[")) else src[1:-1]
        out += [line[last:start], latex_to_text(inner)]
        last = end
    out.append(line[last:])
    return "".join(out)
