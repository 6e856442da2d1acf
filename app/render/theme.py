"""Colours shared by the canvas cards (QTextDocument) and the HTML export (a browser).

Pure data, no Qt. The renderer writes these colours into inline ``style`` attributes, because
QTextDocument ignores CSS classes; the host (card or export page) sets the base text and
background colours itself, from the same :class:`Theme`.
"""

from __future__ import annotations

from dataclasses import dataclass

# The header line of a code block (its language, and the room for the card's Copy button) carries
# this Qt user state (``-qt-user-state``; browsers ignore it), so the ui finds it in a QTextDocument.
# (Here, not in .markdown: the canvas imports it before the first paint, the renderer after.)
CODE_LABEL_STATE = 0x7C0DE

__all__ = ["CODE_LABEL_STATE", "DARK", "LIGHT", "THEMES", "Theme", "document_css", "get_theme"]

MONO_FONTS = "ui-monospace,'SFMono-Regular','Cascadia Mono',Menlo,Consolas,'DejaVu Sans Mono',monospace"


@dataclass(frozen=True, slots=True)
class Theme:
    """One colour scheme. Colours are ``#rrggbb`` strings."""

    name: str
    text: str
    muted: str
    background: str
    code_background: str
    code_text: str
    inline_code_background: str
    border: str
    link: str
    pygments_style: str
    mono_font: str = MONO_FONTS

    def __repr__(self) -> str:
        return f"Theme({self.name!r}, text={self.text}, background={self.background})"


LIGHT = Theme(
    name="light",
    text="#1f2328",
    muted="#59636e",
    background="#ffffff",
    code_background="#f6f8fa",
    code_text="#1f2328",
    inline_code_background="#eff1f3",
    border="#d1d9e0",
    link="#0969da",
    pygments_style="default",
)

DARK = Theme(
    name="dark",
    text="#e6edf3",
    muted="#9198a1",
    background="#0d1117",
    code_background="#161b22",
    code_text="#e6edf3",
    inline_code_background="#262c36",
    border="#3d444d",
    link="#4493f8",
    pygments_style="github-dark",
)

THEMES: dict[str, Theme] = {LIGHT.name: LIGHT, DARK.name: DARK}


def get_theme(name: str | Theme) -> Theme:
    """The theme called ``name`` (``"light"`` or ``"dark"``); a :class:`Theme` is returned as is.

    Raises ``ValueError`` for an unknown name.
    """
    if isinstance(name, Theme):
        return name
    try:
        return THEMES[name]
    except KeyError:
        raise ValueError(f"unknown theme {name!r}; known: {', '.join(sorted(THEMES))}") from None


def document_css(theme: str | Theme = "light") -> str:
    """Base CSS for a standalone page (the HTML export) that hosts rendered markdown.

    The rendered fragments carry their own inline styles; this only sets the page defaults.
    It contains no ``url(``/``@import``, so it passes :func:`app.render.sanitize_check`.
    """
    t = get_theme(theme)
    return (
        f"body{{color:{t.text};background:{t.background};"
        "font-family:system-ui,-apple-system,'Segoe UI',Roboto,'Noto Sans',sans-serif;"
        "line-height:1.5;}\n"
        f"a{{color:{t.link};}}\n"
        f"pre,code{{font-family:{t.mono_font};}}\n"
        f"table{{border-color:{t.border};}}\n"
        f"hr{{border:none;border-top:1px solid {t.border};}}\n"
    )
