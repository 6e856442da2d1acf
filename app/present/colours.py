"""One colour per provider: the card stripes, the model chips and menus, the minimap, the PNG and HTML
exports and the .canvas export all ask here, so a provider looks the same everywhere."""

from __future__ import annotations

import re
from collections.abc import Mapping

PROVIDER_COLORS: dict[str, str] = {
    "deepseek": "#4D6BFE",
    "anthropic": "#D97757",
    "openai": "#10A37F",
    "openrouter": "#7C5CFF",
    "ollama": "#6B7280",
    "lmstudio": "#8B5CF6",
}
CUSTOM_COLOR = "#9CA3AF"  # user-defined endpoints without a `color` of their own
_HEX = re.compile(r"^#[0-9A-Fa-f]{6}$")


def is_hex_color(value: object) -> bool:
    return isinstance(value, str) and _HEX.match(value) is not None


def provider_color(provider: str | None, chosen: Mapping[str, str] | None = None) -> str:
    """The colour of `provider` ("anthropic", "groq"): the one chosen in providers.toml (`color =
    "#RRGGBB"`, given as `chosen`, e.g. Settings.colors) when valid, else the built-in one, else the one
    colour of custom endpoints."""
    pid = (provider or "").strip().lower()
    picked = chosen.get(pid) if chosen else None
    if is_hex_color(picked):
        assert picked is not None
        return picked
    return PROVIDER_COLORS.get(pid, CUSTOM_COLOR)


def model_color(model: str | None, chosen: Mapping[str, str] | None = None) -> str | None:
    """The colour of a `provider:model` ref's provider; None without a provider."""
    if not model or ":" not in model:
        return None
    return provider_color(model.partition(":")[0], chosen)
