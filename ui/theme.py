"""Light and dark themes: the Qt palette, a small style sheet and the canvas/card colours.

`app.render` turns markdown into HTML with inline colours from its own theme; `UiTheme.render_theme`
names which one (light/dark) so the card bodies match the chrome around them.
"""

from __future__ import annotations

from dataclasses import dataclass
from importlib import resources

from PySide6.QtCore import Qt
from PySide6.QtGui import QColor, QGuiApplication, QPalette
from PySide6.QtWidgets import QApplication


@dataclass(frozen=True, slots=True)
class UiTheme:
    name: str  # "light" | "dark"
    window: str
    base: str
    alt_base: str
    text: str
    muted: str
    border: str
    accent: str
    accent_text: str
    canvas: str
    grid: str
    grid_major: str
    card: str
    card_border: str
    card_selected: str
    card_header: str
    prompt_card: str
    code_bg: str
    shadow: str
    button_bg: str
    button_hover: str
    edge: dict[str, str]
    status: dict[str, str]
    error_bg: str
    error_text: str

    @property
    def is_dark(self) -> bool:
        return self.name == "dark"

    def status_color(self, status: str) -> QColor:
        return QColor(self.status.get(status, self.muted))


_STATUS_LIGHT = {
    "queued": "#6B7280",
    "connecting": "#B45309",
    "thinking": "#7C3AED",
    "streaming": "#2563EB",
    "retrying": "#B45309",
    "done": "#15803D",
    "filtered": "#B45309",  # amber: finished, but cut by the provider's content filter
    "stopped": "#6B7280",
    "error": "#DC2626",
    "interrupted": "#C2410C",
    "pending": "#6B7280",
}
_STATUS_DARK = {
    "queued": "#9CA3AF",
    "connecting": "#FBBF24",
    "thinking": "#C4B5FD",
    "streaming": "#60A5FA",
    "retrying": "#FBBF24",
    "done": "#4ADE80",
    "filtered": "#FBBF24",
    "stopped": "#9CA3AF",
    "error": "#F87171",
    "interrupted": "#FB923C",
    "pending": "#9CA3AF",
}

LIGHT = UiTheme(
    name="light",
    window="#F3F4F6",
    base="#FFFFFF",
    alt_base="#F9FAFB",
    text="#1F2328",
    muted="#6B7280",
    border="#D9DCE1",
    accent="#2563EB",
    accent_text="#FFFFFF",
    canvas="#F5F6F8",
    grid="#E6E8EC",
    grid_major="#D8DBE1",
    card="#FFFFFF",
    card_border="#DADDE3",
    card_selected="#2563EB",
    card_header="#FAFAFB",
    prompt_card="#EEF4FF",
    code_bg="#F6F8FA",
    shadow="#1A000000",
    button_bg="#F1F2F4",
    button_hover="#E3E6EA",
    edge={"reply": "#9AA3AF", "follow": "#2563EB", "source": "#7C3AED", "ref": "#0F766E"},
    status=_STATUS_LIGHT,
    error_bg="#FEF2F2",
    error_text="#991B1B",
)

DARK = UiTheme(
    name="dark",
    window="#1B1C1F",
    base="#232428",
    alt_base="#26282C",
    text="#E6E7E9",
    muted="#9AA0A8",
    border="#3A3D44",
    accent="#60A5FA",
    accent_text="#0B1220",
    canvas="#141518",
    grid="#1E2024",
    grid_major="#272A2F",
    card="#1F2125",
    card_border="#363940",
    card_selected="#60A5FA",
    card_header="#24262B",
    prompt_card="#1E2638",
    code_bg="#161B22",
    shadow="#66000000",
    button_bg="#2C2F35",
    button_hover="#3A3E46",
    edge={"reply": "#6B7280", "follow": "#60A5FA", "source": "#A78BFA", "ref": "#2DD4BF"},
    status=_STATUS_DARK,
    error_bg="#3A1F22",
    error_text="#FCA5A5",
)


def system_prefers_dark() -> bool:
    app = QGuiApplication.instance()
    if app is None:
        return False
    try:
        return QGuiApplication.styleHints().colorScheme() == Qt.ColorScheme.Dark
    except AttributeError:  # older Qt
        return False


def resolve_theme(mode: str | None) -> UiTheme:
    """ "light" | "dark" | "system" (anything else) -> a concrete theme."""
    if mode == "dark":
        return DARK
    if mode == "light":
        return LIGHT
    return DARK if system_prefers_dark() else LIGHT


def build_palette(theme: UiTheme) -> QPalette:
    pal = QPalette()
    c = QColor
    roles = {
        QPalette.ColorRole.Window: theme.window,
        QPalette.ColorRole.WindowText: theme.text,
        QPalette.ColorRole.Base: theme.base,
        QPalette.ColorRole.AlternateBase: theme.alt_base,
        QPalette.ColorRole.ToolTipBase: theme.base,
        QPalette.ColorRole.ToolTipText: theme.text,
        QPalette.ColorRole.PlaceholderText: theme.muted,
        QPalette.ColorRole.Text: theme.text,
        QPalette.ColorRole.Button: theme.button_bg,
        QPalette.ColorRole.ButtonText: theme.text,
        QPalette.ColorRole.BrightText: "#FF5555",
        QPalette.ColorRole.Highlight: theme.accent,
        QPalette.ColorRole.HighlightedText: theme.accent_text,
        QPalette.ColorRole.Link: theme.accent,
        QPalette.ColorRole.LinkVisited: theme.accent,
        QPalette.ColorRole.Mid: theme.border,
        QPalette.ColorRole.Midlight: theme.button_hover,
        QPalette.ColorRole.Dark: theme.border,
        QPalette.ColorRole.Light: theme.base,
        QPalette.ColorRole.Shadow: "#000000",
    }
    for role, value in roles.items():
        pal.setColor(role, c(value))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        pal.setColor(QPalette.ColorGroup.Disabled, role, c(theme.muted))
    return pal


def style_sheet(theme: UiTheme, font_size: int) -> str:
    """The app's style sheet. A widget styled here (border, background) no longer gets Fusion's focus
    frame, so each such rule has a `:focus` rule that draws one: keyboard users always see where they are."""
    t = theme
    return f"""
QWidget {{ font-size: {font_size}pt; }}
QToolTip {{ color: {t.text}; background: {t.base}; border: 1px solid {t.border}; padding: 4px; }}
QSplitter::handle {{ background: {t.border}; }}
QGraphicsView#CanvasView {{ border: 2px solid {t.canvas}; }}
QGraphicsView#CanvasView:focus {{ border-color: {t.accent}; }}
QStatusBar {{ border-top: 1px solid {t.border}; }}
QStatusBar QLabel {{ color: {t.muted}; padding: 0 6px; }}
#SessionsSidebar {{ background: {t.alt_base}; }}
#SessionsSidebar QListWidget {{ border: none; background: {t.alt_base}; }}
#SessionsSidebar QListWidget::item {{ padding: 6px 8px; border-radius: 6px; }}
#SessionsSidebar QListWidget::item:selected {{ background: {t.button_hover}; color: {t.text}; }}
#ComposerWidget {{ background: {t.base}; border-top: 1px solid {t.border}; }}
#ComposerWidget QPlainTextEdit {{ border: 1px solid {t.border}; border-radius: 8px; padding: 6px;
    background: {t.base}; }}
#ComposerWidget QPlainTextEdit:focus {{ border: 1px solid {t.accent}; }}
QFrame#ModelChipFrame {{ border: 1px solid {t.border}; border-radius: 13px; background: {t.button_bg}; }}
QFrame#ModelChipFrame:hover {{ background: {t.button_hover}; }}
QToolButton#ModelChip {{ border: 2px solid transparent; border-radius: 11px; background: transparent;
    padding: 1px 0 1px 6px; }}
QToolButton#ChipRemove {{ border: 2px solid transparent; border-radius: 10px; background: transparent;
    padding: 0 6px 0 0; color: {t.muted}; }}
QToolButton#ChipRemove:hover {{ color: {t.text}; }}
QToolButton#ModelChip:focus, QToolButton#ChipRemove:focus {{ border-color: {t.accent}; color: {t.text}; }}
QPushButton#SendButton {{ background: {t.accent}; color: {t.accent_text}; border: 2px solid {t.accent};
    border-radius: 8px; padding: 4px 14px; font-weight: 600; }}
QPushButton#SendButton:focus {{ border-color: {t.text}; }}
QPushButton#SendButton:disabled {{ background: {t.border}; border-color: {t.border}; color: {t.muted}; }}
QLabel#Muted {{ color: {t.muted}; }}
QFrame#ParentsBar {{ background: {t.alt_base}; border: 1px solid {t.border}; border-radius: 8px; }}
QFrame#ArenaBar {{ background: {t.alt_base}; border-top: 1px solid {t.border}; }}
QFrame#ArenaBar QPushButton {{ border: 1px solid {t.border}; border-radius: 6px; padding: 3px 10px;
    background: {t.button_bg}; }}
QFrame#ArenaBar QPushButton:hover {{ background: {t.button_hover}; }}
QFrame#ArenaBar QPushButton:checked {{ background: {t.accent}; color: {t.accent_text}; border-color: {t.accent}; }}
QFrame#ArenaBar QPushButton:focus {{ border: 2px solid {t.accent}; padding: 2px 9px; }}
QFrame#ParentsBar QPushButton {{ border: 1px solid {t.border}; border-radius: 6px; padding: 3px 10px;
    background: {t.button_bg}; }}
QFrame#ParentsBar QPushButton:checked {{ background: {t.accent}; color: {t.accent_text}; border-color: {t.accent}; }}
QFrame#ParentsBar QPushButton:focus {{ border: 2px solid {t.accent}; padding: 2px 9px; }}
QFrame#ParentsBar QPushButton:checked:focus {{ border-color: {t.text}; }}
QToolButton#ComposerButton {{ border: 1px solid {t.border}; border-radius: 6px; background: {t.button_bg};
    padding: 3px 8px; }}
QToolButton#ComposerButton:hover {{ background: {t.button_hover}; }}
QToolButton#ComposerButton:pressed, QToolButton#ComposerButton:open {{ background: {t.border}; }}
QToolButton#ComposerButton:checked {{ border-color: {t.accent}; background: {t.button_hover}; }}
QToolButton#ComposerButton:focus {{ border: 2px solid {t.accent}; padding: 2px 7px; }}
QToolButton#ComposerButton:checked:focus {{ border-color: {t.text}; }}
QToolButton#ComposerButton::menu-indicator {{ image: none; width: 0; }}
QToolButton:checked {{ background: {t.button_hover}; border: 1px solid {t.accent}; border-radius: 4px; }}
QToolButton:checked:focus {{ border: 2px solid {t.text}; }}
QFrame#LensPanel {{ background: {t.alt_base}; border-left: 1px solid {t.border}; }}
QCheckBox::indicator, QListView::indicator, QTableView::indicator {{ width: 14px; height: 14px;
    border: 1px solid {t.muted}; border-radius: 3px; background: {t.base}; }}
QCheckBox::indicator:checked, QListView::indicator:checked, QTableView::indicator:checked {{
    background: {t.accent}; border-color: {t.accent}; image: url({_check_icon(t)}); }}
QCheckBox::indicator:disabled {{ border-color: {t.border}; background: {t.alt_base}; }}
QRadioButton::indicator {{ width: 14px; height: 14px; border: 1px solid {t.muted}; border-radius: 8px;
    background: {t.base}; }}
QRadioButton::indicator:checked {{ border: 4px solid {t.accent}; width: 8px; height: 8px; }}
"""


def _check_icon(theme: UiTheme) -> str:
    """The check mark drawn on a ticked box: Fusion's own indicator frame is nearly invisible on a
    dark base, so the style sheet draws the boxes and needs the mark as a file (resources/icons)."""
    name = "check-dark.svg" if QColor(theme.accent_text).lightness() < 128 else "check-white.svg"
    return str(resources.files("resources").joinpath("icons").joinpath(name)).replace("\\", "/")


def apply_theme(app: QApplication, theme: UiTheme, font_size: int = 10) -> None:
    """Palette + style sheet for the whole app. Safe to call again to switch themes."""
    app.setStyle("Fusion")
    app.setPalette(build_palette(theme))
    app.setStyleSheet(style_sheet(theme, font_size))
