"""What a card shows, computed by `CardItem.sync` and read by its painter and pointer handlers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF, Qt
from PySide6.QtGui import QColor

from app import layout
from ui.canvas import constants as C

if TYPE_CHECKING:
    from ui.canvas.style import CardStyle

_ELIDE_RIGHT = Qt.TextElideMode.ElideRight


@dataclass(slots=True)
class CardButton:
    action: str
    label: str
    rect: QRectF
    primary: bool = False
    arg: object = None


@dataclass(slots=True)
class CardState:
    """Everything the card's painter reads. Rebuilt by `CardItem.sync()`."""

    width: float = layout.CARD_W
    height: float = 120.0
    title: str = ""
    subtitle: str = ""
    stripe: QColor = field(default_factory=lambda: QColor("#888888"))
    status_key: str = ""
    status_text: str = ""
    status_rect: QRectF = field(default_factory=QRectF)
    reasoning_row: QRectF | None = None
    reasoning_label: str = ""
    reasoning_rect: QRectF | None = None  # the visible reasoning text area (expanded)
    error_rect: QRectF | None = None
    body_rect: QRectF = field(default_factory=QRectF)
    doc_h: float = 0.0  # the body's full text height (exact, or estimated while no documents exist)
    body_placeholder: str = ""
    metrics_rect: QRectF | None = None
    metrics_text: str = ""
    buttons: list[CardButton] = field(default_factory=list)
    code_buttons: list[CardButton] = field(default_factory=list)
    file_buttons: list[CardButton] = field(default_factory=list)  # a prompt's files (thumbnails, chips)
    body_scrollable: bool = False
    grown: float = 0.0  # how much taller the body is than the card's height on the canvas allows
    collapsed: bool = False
    preview: str = ""
    # texts elided to fit, and where they go (computed in sync, read by paint)
    title_rect: QRectF = field(default_factory=QRectF)
    title_shown: str = ""
    subtitle_rect: QRectF = field(default_factory=QRectF)
    subtitle_shown: str = ""
    metrics_shown: str = ""
    preview_rect: QRectF = field(default_factory=QRectF)
    preview_shown: str = ""
    overview: str = ""  # the first words, as plain text, for the zoomed-out card
    elided: bool = False  # the *_shown texts above are computed (a lazy card elides on first paint)

    def elide(self, style: CardStyle) -> None:
        """Fit the header's, the metrics' and the preview's texts to their places (the *_shown texts)."""
        self.elided = True
        elide = _ELIDE_RIGHT
        left = C.STRIPE_W + C.CARD_PAD
        title_w = (self.status_rect.left() - 8 if self.status_text else self.width - C.CARD_PAD) - left
        self.title_rect = QRectF(left, 0, title_w, 24 if self.subtitle else C.HEADER_H)
        self.title_shown = style.title_metrics.elidedText(self.title, elide, title_w)
        small = style.small_metrics
        self.subtitle_rect = QRectF(left, 24, title_w, 14)
        self.subtitle_shown = small.elidedText(self.subtitle, elide, title_w) if self.subtitle else ""
        if self.metrics_rect is not None:
            self.metrics_shown = small.elidedText(self.metrics_text, elide, self.metrics_rect.width())
        self.preview_rect = QRectF(left, C.HEADER_H, self.width - 2 * C.CARD_PAD - C.STRIPE_W, 20)
        self.preview_shown = (
            small.elidedText(self.preview, elide, self.preview_rect.width()) if self.preview else ""
        )
