"""The composer's two model menus, filled each time they open: "+ Model" (every provider and its models,
ticked when chosen, with a typed model id for models the catalog does not list yet) and "Presets"
(the saved sets, the default set, saving the current set). The composer (ui/composer.py) owns the
menus and the chosen models; these functions only list them and call back what the user picked.
Qt main thread only.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QMenu

from ui.dialogs import color_icon, model_choices

if TYPE_CHECKING:
    from app.catalog import Catalog
    from app.config import Settings


def _article(word: str) -> str:
    """ "a" or "an" before `word` as it is read aloud: an OpenRouter, an LM Studio, a DeepSeek."""
    w = word.strip()
    if not w:
        return "a"
    if len(w) > 1 and w[1].isupper() and w[0].upper() in "FHLMNRSX":  # spelt out: an LM Studio, an SGLang
        return "an"
    if w.lower().startswith(("uni", "use", "eu", "one")):
        return "a"
    return "an" if w[0].lower() in "aeiou" else "a"


def fill_add_menu(
    menu: QMenu,
    catalog: Catalog,
    settings: Settings,
    chosen: Sequence[str],
    *,
    add: Callable[[str], object],
    remove: Callable[[str], object],
    add_typed: Callable[[str], object],
    first: Sequence[QAction] = (),
) -> None:
    """Refill "+ Model": ticking a model calls `add(ref)`, unticking it `remove(ref)`; "Type … model id"
    calls `add_typed(prefix)` ("provider:" or "" for any provider). `first`: actions on top (the
    composer's "Blind match" toggle), then a separator."""
    menu.clear()
    menu.setToolTipsVisible(True)
    if first:
        menu.addActions(list(first))
        menu.addSeparator()
    # Providers and their models in catalog order (the same order on every launch), then providers
    # with no model in the catalog yet (Ollama, LM Studio, custom endpoints until their list is
    # refreshed): a model id can still be typed, and the menu says where the list comes from.
    by_provider: dict[str, list] = {}
    for ref, _label, usable in model_choices(catalog, settings, usable_first=False):
        by_provider.setdefault(ref.split(":", 1)[0], []).append((ref, usable))
    for provider in settings.providers:
        by_provider.setdefault(provider, [])
    for ref in chosen:  # a typed model id the catalog does not know: still listed, ticked
        provider = ref.split(":", 1)[0]
        if catalog.get(ref) is None and provider in by_provider:
            by_provider[provider].append((ref, settings.has_key(provider)))
    for provider, items in by_provider.items():
        name = settings.display_names.get(provider, provider)
        sub = menu.addMenu(color_icon(catalog.provider_color(provider)), name)
        for ref, usable in items:
            action = sub.addAction(catalog.display_name(ref) + ("" if usable else "  (no key)"))
            action.setCheckable(True)
            action.setChecked(ref in chosen)
            action.triggered.connect(lambda checked, r=ref: add(r) if checked else remove(r))
        if not items:
            hint = sub.addAction("No models known yet: Settings → this provider → Refresh model list")
            hint.setEnabled(False)
        else:
            sub.addSeparator()
        typed = sub.addAction(f"Type {_article(name)} {name} model id…")
        typed.triggered.connect(lambda _=False, p=provider: add_typed(f"{p}:"))
    menu.addSeparator()
    other = menu.addAction("Other model id (any provider:model)…")
    other.triggered.connect(lambda: add_typed(""))


def fill_presets_menu(
    menu: QMenu,
    catalog: Catalog,
    settings: Settings,
    chosen: Sequence[str],
    *,
    choose: Callable[[list[str]], object],
    save: Callable[[], object],
) -> None:
    """Refill "Presets": a preset or the default set calls `choose(refs)`; "Save current set" calls
    `save()` (disabled while nothing is chosen)."""
    menu.clear()
    presets = settings.ui.get("presets") or {}
    if isinstance(presets, dict) and presets:
        for name, refs in presets.items():
            if isinstance(refs, list):
                action = menu.addAction(f"{name}  ({len(refs)})")
                action.triggered.connect(lambda _=False, r=list(refs): choose([str(x) for x in r]))
        menu.addSeparator()
    defaults = catalog.default_models(settings)
    if defaults:
        action = menu.addAction("Default set (one per provider with a key)")
        action.triggered.connect(lambda: choose(defaults))
    save_action = menu.addAction("Save current set as preset…")
    save_action.setEnabled(bool(chosen))
    save_action.triggered.connect(save)
