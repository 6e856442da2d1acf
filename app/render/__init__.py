"""Markdown → safe, inline-styled HTML for the canvas cards (QTextDocument) and the HTML export.

Pure and Qt-free. Entry points:

- :func:`render_markdown` (cached one-shot render) and :class:`IncrementalRenderer` (streaming);
- :func:`render_plain` for reasoning text (escaped, muted, line breaks kept; no markdown);
- :func:`extract_code_blocks` for the cards' Copy buttons;
- :func:`is_safe_url` and :func:`sanitize_check` for the safety rules (see :mod:`.markdown`);
- :mod:`.theme` for the light/dark colours shared with the export.
"""

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
