"""What cards need to draw themselves: theme colours, fonts, names and the markdown renderer.

One `CardStyle` is shared by every card of a scene; switching theme or font size makes a new one.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtGui import QFont, QFontMetricsF

from app.present.colours import provider_color
from ui.render_bridge import RenderBridge
from ui.theme import LIGHT, UiTheme

if TYPE_CHECKING:
    from app.arena_view import BlindRule
    from app.render.incremental import IncrementalRenderer


def _default_display(ref: str) -> str:
    return ref.split(":", 1)[-1]


@dataclass(eq=False)
class CardStyle:
    theme: UiTheme = LIGHT
    font_size: float = 10.0
    display_name: Callable[[str], str] = _default_display
    provider_color: Callable[[str], str] = provider_color
    provider_display: Callable[[str], str] = lambda provider: provider.capitalize() or "The provider"
    renderer: RenderBridge = field(default_factory=lambda: RenderBridge("light"))
    interactive: bool = True  # False: no buttons (PNG export)
    blind: BlindRule | None = None  # blind-match cards before the vote (app.arena_view), shared with the window
    whole_answers: bool = False  # True: a card is as tall as its whole text, never scrolled (PNG export)
    body_font: QFont = field(init=False)
    small_font: QFont = field(init=False)
    small_bold_font: QFont = field(init=False)
    title_font: QFont = field(init=False)
    lod_font: QFont = field(init=False)  # the big title drawn on far zoomed-out cards (blocks)
    # zoomed-out cards (overview): fonts sized in device pixels, legible at any zoom
    overview_title_font: QFont = field(init=False)
    overview_font: QFont = field(init=False)
    overview_title_px: int = field(init=False)
    overview_text_px: int = field(init=False)
    overview_title_metrics: QFontMetricsF = field(init=False)
    overview_line_px: float = field(init=False)  # line spacing of overview_font
    # metrics of the fonts above, made once (cards measure and elide text on every sync)
    body_metrics: QFontMetricsF = field(init=False)
    small_metrics: QFontMetricsF = field(init=False)
    small_bold_metrics: QFontMetricsF = field(init=False)
    title_metrics: QFontMetricsF = field(init=False)

    def __post_init__(self) -> None:
        base = QFont()
        base.setPointSizeF(self.font_size)
        self.body_font = base
        self.small_font = QFont(base)
        self.small_font.setPointSizeF(max(self.font_size - 1.5, 7.0))
        self.small_bold_font = QFont(self.small_font)
        self.small_bold_font.setBold(True)
        self.title_font = QFont(base)
        self.title_font.setPointSizeF(self.font_size + 0.5)
        self.title_font.setBold(True)
        self.lod_font = QFont(self.title_font)
        self.lod_font.setPointSizeF(self.title_font.pointSizeF() * 2.2)
        self.overview_title_px = max(round(self.font_size * 1.25), 10)
        self.overview_text_px = max(round(self.font_size * 1.1), 9)
        self.overview_title_font = QFont(base)
        self.overview_title_font.setPixelSize(self.overview_title_px)
        self.overview_title_font.setBold(True)
        self.overview_font = QFont(base)
        self.overview_font.setPixelSize(self.overview_text_px)
        self.overview_title_metrics = QFontMetricsF(self.overview_title_font)
        self.overview_line_px = QFontMetricsF(self.overview_font).lineSpacing()
        self.body_metrics = QFontMetricsF(self.body_font)
        self.small_metrics = QFontMetricsF(self.small_font)
        self.small_bold_metrics = QFontMetricsF(self.small_bold_font)
        self.title_metrics = QFontMetricsF(self.title_font)
        self._advances: dict[str, float] = {}

    def small_advance(self, text: str) -> float:
        """Width of `text` in the small font (button labels: measured once per label)."""
        width = self._advances.get(text)
        if width is None:
            width = self._advances[text] = self.small_metrics.horizontalAdvance(text)
        return width

    def small_bold_advance(self, text: str) -> float:
        key = "\0" + text
        width = self._advances.get(key)
        if width is None:
            if len(self._advances) > 4096:
                self._advances.clear()
            width = self._advances[key] = self.small_bold_metrics.horizontalAdvance(text)
        return width

    def render_markdown(self, text: str) -> str:
        return self.renderer.markdown(text)

    def render_plain(self, text: str) -> str:
        return self.renderer.plain(text)

    def incremental_renderer(self) -> IncrementalRenderer:
        return self.renderer.incremental()
