"""Markdown → safe, inline-styled HTML for the canvas cards (QTextDocument) and the HTML export.

Pure and Qt-free. Entry points:

- :func:`render_markdown` (cached one-shot render) and :class:`IncrementalRenderer` (streaming);
- :func:`render_plain` for reasoning text (escaped, muted, line breaks kept; no markdown);
- :func:`extract_code_blocks` for the cards' Copy buttons;
- :func:`is_safe_url` and :func:`sanitize_check` for the safety rules (see :mod:`.markdown`);
- :mod:`.theme` for the light/dark colours shared with the export.

The names below are loaded on first use (PEP 562): importing a light submodule (``.theme``,
``.math``) does not import markdown-it and Pygments, which the window needs only once a card shows
text (ui/render_bridge.py), not before its first paint.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from app.render.highlight import CodeHighlighter, highlight_code
    from app.render.incremental import IncrementalRenderer
    from app.render.markdown import (
        CodeBlock,
        extract_code_blocks,
        is_safe_url,
        render_markdown,
        render_plain,
        sanitize_check,
    )
    from app.render.theme import DARK, LIGHT, THEMES, Theme, document_css, get_theme

_HOME = {
    "CodeHighlighter": "highlight",
    "highlight_code": "highlight",
    "IncrementalRenderer": "incremental",
    "CodeBlock": "markdown",
    "extract_code_blocks": "markdown",
    "is_safe_url": "markdown",
    "render_markdown": "markdown",
    "render_plain": "markdown",
    "sanitize_check": "markdown",
    "DARK": "theme",
    "LIGHT": "theme",
    "THEMES": "theme",
    "Theme": "theme",
    "document_css": "theme",
    "get_theme": "theme",
}


def __getattr__(name: str) -> Any:
    home = _HOME.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{home}"), name)
    globals()[name] = value
    return value

__all__ = [
    "DARK",
    "LIGHT",
    "THEMES",
    "CodeBlock",
    "CodeHighlighter",
    "IncrementalRenderer",
    "Theme",
    "document_css",
    "extract_code_blocks",
    "get_theme",
    "highlight_code",
    "is_safe_url",
    "render_markdown",
    "render_plain",
    "sanitize_check",
]
