"""The one place ui/ calls app.render (markdown → safe, inline-styled HTML for QTextDocument).

`RenderBridge(theme_name)` binds the render theme; `markdown()` is cached by text (final answers are
rendered once), `incremental()` returns a streaming renderer that re-renders only the open block.

The renderer (markdown-it, Pygments: ~25-40 ms to import) is imported by the first card that shows
text, not before the window's first paint: a session restored zoomed out (cards drawn as blocks)
paints without it. ui/app.py imports it on a worker thread once the window has painted.
"""

from __future__ import annotations

from collections import OrderedDict
from typing import TYPE_CHECKING

from app.render.theme import get_theme

if TYPE_CHECKING:
    from app.render.incremental import IncrementalRenderer

_CACHE_SIZE = 512


class RenderBridge:
    def __init__(self, theme_name: str) -> None:
        self.theme_name = theme_name
        self.theme = get_theme(theme_name)
        self._cache: OrderedDict[str, str] = OrderedDict()

    def __repr__(self) -> str:
        return f"<RenderBridge {self.theme_name}>"

    def markdown(self, text: str) -> str:
        cached = self._cache.get(text)
        if cached is not None:
            self._cache.move_to_end(text)
            return cached
        from app.render.markdown import render_markdown

        html = render_markdown(text, self.theme)
        self._cache[text] = html
        if len(self._cache) > _CACHE_SIZE:
            self._cache.popitem(last=False)
        return html

    def plain(self, text: str) -> str:
        from app.render.markdown import render_plain

        return render_plain(text, self.theme)

    def incremental(self) -> IncrementalRenderer:
        from app.render.incremental import IncrementalRenderer

        return IncrementalRenderer(self.theme)

    def code_blocks(self, text: str) -> list[str]:
        """The code of each fenced block, in order (for the cards' Copy buttons)."""
        from app.render.markdown import extract_code_blocks

        return [b.code for b in extract_code_blocks(text)]
