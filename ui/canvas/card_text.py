"""The words a card shows without laying its text out: the zoomed-out card's first words
(`overview_text`), an estimate of the body's height for a lazy card (`estimate_text_height`), and the
text of an error's advice (`html_text`). Pure functions (the height estimate reads font metrics)."""

from __future__ import annotations

import html
import math
import re
from typing import TYPE_CHECKING

from app.render.math import formulas_as_text, latex_to_text
from ui.canvas.text import CODE_HEADER_H

if TYPE_CHECKING:
    from ui.canvas.style import CardStyle

_FENCE = re.compile(r"^\s*(?:```|~~~)")
_RULE = re.compile(r"^\s*(?:[-:|]\s*){3,}$|^\s*(?:[*_]\s*){3,}$")  # table rules, thematic breaks
_LEAD = re.compile(r"^\s{0,3}(?:#{1,6}(?:\s+|$)|>\s?)")  # a heading's or a quote's marks
_BULLET = re.compile(r"^\s*(?:[-*+]|\d+[.)])\s+")
_TASK = re.compile(r"^\[([ xX])\](?:\s+|$)")
# Inline code and math are kept as written (emphasis is not looked for inside them).
_VERBATIM = re.compile(r"(`+)(.+?)\1|(\$\$?)(.+?)\3")
# Emphasis pairs only where they wrap words: `**x**`, `__x__`, `*x*`, `_x_`, `~~x~~`; `y_i`,
# `\int_{-\infty}` and `base * 2 ** i` are not emphasis and stay as they are.
_EMPHASIS = (
    re.compile(r"(?<![\w*\\])(\*\*|__)(?=[^\s*_])(.+?)(?<=[^\s*_\\])\1(?![\w*])"),
    re.compile(r"(?<![\w*\\])\*(?=[^\s*])(.+?)(?<=[^\s*\\])\*(?![\w*])"),
    re.compile(r"(?<![\w_\\])_(?=[^\s_])(.+?)(?<=[^\s_\\])_(?![\w_])"),
    re.compile(r"(?<!~)~~(?=\S)(.+?)(?<=\S)~~(?!~)"),
)
_LINK = re.compile(r"!?\[([^\]\n]*)\]\([^)\s]*(?:\s+\"[^\"]*\")?\)")
# The formatting tags a card draws (app.render.markdown.SAFE_INLINE_TAGS; not imported: this module is
# loaded before the window's first paint, the renderer after it): their words stay, the tags go.
_SAFE_TAG = re.compile(r"<(/?)(kbd|sup|sub|br|mark|u|details|summary)\s*(?:open\s*)?/?>", re.I)


def html_text(markup: str) -> str:
    """The text of a small HTML fragment (an error's advice): tags dropped, entities decoded."""
    return html.unescape(re.sub(r"<br\s*/?>", "\n", re.sub(r"<(?!br)[^>]*>", "", markup)))


def _plain_inline(text: str) -> str:
    out: list[str] = []
    last = 0
    for m in _VERBATIM.finditer(text):
        out.append(_unemphasize(text[last : m.start()]))
        out.append(m.group(2) if m.group(1) else m.group(0))  # code without its ticks; math as written
        last = m.end()
    out.append(_unemphasize(text[last:]))
    return "".join(out)


def _unemphasize(text: str) -> str:
    text = _SAFE_TAG.sub(lambda m: " " if m.group(2).lower() == "br" else "", text)
    text = _LINK.sub(r"\1", text)
    for pattern in _EMPHASIS:
        text = pattern.sub(lambda m: m.group(m.lastindex or 0), text)
    return text


def overview_text(text: str, limit: int = 320) -> str:
    """The first words of a card's markdown as plain text, for the zoomed-out card: only the markdown
    structure goes (heading and quote marks, list bullets, fences, table pipes and rules, emphasis
    pairs around words, link targets, the formatting tags a card draws: `<kbd>`, `<sub>`…), formulas
    become readable words (app.render.math.latex_to_text:
    `$\\frac{1}{1+e^{-z}}$` → `1/(1+e^(−z))`); everything else stays as written (`y_i`, `2 ** i`).
    Task items show their box (☐/☑) where it is. Lines are joined. Looks at the start of the text
    only: cheap on every streaming frame."""
    if not text:
        return ""
    words: list[str] = []
    in_code = in_math = False
    for line in text[: limit * 2].split("\n"):
        if _FENCE.match(line):
            in_code = not in_code
            continue
        if in_code:
            words.append(line)
            continue
        if line.strip() in ("$$", "\\[", "\\]"):  # a display formula's own lines
            in_math = not in_math if line.strip() == "$$" else line.strip() == "\\["
            continue
        if in_math:
            words.append(latex_to_text(line))
            continue
        if _RULE.match(line):
            continue
        while True:  # nested quotes, a heading in a quote
            stripped = _LEAD.sub("", line, count=1)
            if stripped == line:
                break
            line = stripped
        bullet = _BULLET.match(line)
        if bullet:
            line = line[bullet.end() :]
            task = _TASK.match(line)
            if task:
                line = ("☐ " if task.group(1) == " " else "☑ ") + line[task.end() :]
        if line.lstrip().startswith("|"):  # a table row: its cells, without the pipes
            cells = [c.strip() for c in re.split(r"(?<!\\)\|", line.strip().strip("|"))]
            line = "  ".join(c for c in cells if c)
        words.append(formulas_as_text(_plain_inline(line)))  # (emphasis first: formulas are left alone by it)
    return " ".join(" ".join(words).split())[:limit]


def estimate_text_height(text: str, width: float, style: CardStyle, cap: float = math.inf) -> float:
    """About how tall `text` (markdown) lays out at `width` in the body font, without laying it out.

    Counts wrapped lines per source line (code lines never wrap); blank lines and headings add the
    spacing the renderer gives paragraphs. Used for lazy cards until their documents exist; a card
    never grows past its layout height, so long answers come out exact (capped) anyway.
    """
    fm = style.body_metrics
    line = fm.lineSpacing()
    per_line = max(int(width / max(fm.averageCharWidth() * 1.08, 1.0)), 8)
    rough = len(text) / per_line * line * 0.5  # even lines half full, no spacing: below the real height
    if rough > cap:
        return rough  # taller than the card can show: it is cut at `cap` anyway
    total = 0.0
    in_code = False
    for raw in text.split("\n"):
        stripped = raw.strip()
        if stripped.startswith(("```", "~~~")):
            in_code = not in_code
            # an opening fence: the block's header line (its language); a closing one: its padding
            total += CODE_HEADER_H + 6.0 if in_code else line * 0.5
            continue
        if in_code:
            total += line * 1.05
        elif not stripped:
            total += line * 0.6
        elif stripped.startswith("#"):
            total += line * 1.9
        elif stripped.startswith("|"):
            total += line * 1.4
        else:
            total += line * -(-len(stripped) // per_line)
    return max(total, line)
