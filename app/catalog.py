"""Model catalog: ids, capabilities and prices as data (resources/models.toml + refreshed lists).

No model id is hard-coded in code: defaults, aliases and prices all come from the TOML file, and
`refresh()` merges each provider's `GET /models` answer (cached in `models-cache.json` in the data dir).
"""

from __future__ import annotations

import json
import logging
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from decimal import Decimal
from importlib import resources
from pathlib import Path
from typing import Any

from app.domain import ModelRef, Params, Usage
from app.fsutil import private_dir, write_private
from app.present.colours import provider_color

log = logging.getLogger(__name__)

PARAM_NAMES = ("system", "max_tokens", "temperature", "thinking", "effort")


@dataclass(frozen=True, slots=True)
class Price:
    """USD per million tokens."""

    input: float
    output: float
    cached_input: float | None = None
    cache_write: float | None = None

    @classmethod
    def from_dict(cls, d: dict[str, Any] | None) -> Price | None:
        if not d or "input" not in d or "output" not in d:
            return None
        return cls(
            input=float(d["input"]),
            output=float(d["output"]),
            cached_input=float(d["cached_input"]) if d.get("cached_input") is not None else None,
            cache_write=float(d["cache_write"]) if d.get("cache_write") is not None else None,
        )

    def cost(self, usage: Usage) -> float | None:
        if usage.input is None and usage.output is None:
            return None
        cached = usage.cached_input or 0
        write = usage.cache_write or 0
        fresh = max((usage.input or 0) - cached - write, 0)
        total = fresh * self.input
        total += cached * (self.cached_input if self.cached_input is not None else self.input)
        total += write * (self.cache_write if self.cache_write is not None else self.input)
        total += (usage.output or 0) * self.output
        # Tokens are whole numbers, so the exact cost has at most the prices' decimals + 6: rounding
        # there drops float artefacts (1.8299999999999998e-05 → 1.83e-05) and nothing else.
        return round(total / 1_000_000, self.decimals + 6)

    @property
    def decimals(self) -> int:
        """The most decimal places any of these per-million prices has in the catalog."""
        prices = (self.input, self.output, self.cached_input, self.cache_write)
        return max(_decimals(p) for p in prices if p is not None)


def _scaled(price: Price | None, factor: Any) -> Price | None:
    """`price` with every figure times `factor` (a batch API's discount); None without either."""
    if price is None or factor is None:
        return None
    f = float(factor)

    def mul(v: float | None) -> float | None:
        return None if v is None else round(v * f, 9)

    return Price(input=round(price.input * f, 9), output=round(price.output * f, 9),
                 cached_input=mul(price.cached_input), cache_write=mul(price.cache_write))


def _decimals(value: float) -> int:
    exponent = Decimal(repr(value)).normalize().as_tuple().exponent
    return max(-exponent, 0) if isinstance(exponent, int) else 0


@dataclass(frozen=True, slots=True)
class ModelInfo:
    ref: str  # provider:model
    provider: str
    model: str
    display: str
    context_window: int | None = None
    max_output: int | None = None
    accepts: frozenset[str] = frozenset({"system", "max_tokens"})
    efforts: tuple[str, ...] = ()
    temperature_when: str = "always"
    default_max_tokens: int | None = None
    price: Price | None = None
    peak_price: Price | None = None
    # The price through the provider's batch API (OpenAI Batch, Anthropic Message Batches): the live
    # price times the provider's `batch_price_factor` in models.toml; None where there is no batch API.
    batch_price: Price | None = None
    # What the model reads in a prompt (attachments): text, image, pdf. A model the catalog does not
    # know reads text only (providers.toml `inputs` can say more: Settings.model_inputs).
    inputs: frozenset[str] = frozenset({"text"})
    known: bool = True  # False: not in the catalog, capabilities guessed from the provider
    source: str = "bundled"  # bundled | refreshed

    def __repr__(self) -> str:
        return f"<ModelInfo {self.ref}>"


@dataclass(slots=True)
class PlanParams:
    """Parameters actually sent, and the names dropped because the model rejects them."""

    params: Params
    dropped: list[str] = field(default_factory=list)


def estimate_tokens(text: str) -> int:
    """Offline token estimate (no BPE files): ~4 chars/token for Latin text, ~1 token per CJK char.

    Calibrated against typical BPE tokenisers to within ~15% for English prose and code.
    """
    if not text:
        return 0
    ascii_count = len(text.encode("ascii", "ignore"))  # the ASCII characters, counted in C
    other = len(text) - ascii_count
    return max(1, round(ascii_count / 4 + other * 0.9))



class Catalog:
    def __init__(self, data: dict[str, Any], cache: dict[str, Any] | None = None,
                 cache_path: Path | None = None) -> None:
        self._data = data
        self._cache_path = cache_path
        self._cache: dict[str, Any] = cache or {}
        self._provider_defaults: dict[str, dict[str, Any]] = data.get("provider_defaults", {})
        self.prices_taken: str = str(data.get("meta", {}).get("prices_taken", ""))
        self.colors: Mapping[str, str] = {}  # provider -> colour chosen in providers.toml (Settings.colors)
        self.peak_hours: list[tuple[int, int]] = [
            (int(a), int(b)) for a, b in data.get("meta", {}).get("deepseek_peak_hours_utc", [])
        ]
        self._defaults: dict[str, str] = dict(data.get("defaults", {}))
        self._models: dict[str, ModelInfo] = {}
        self._aliases: dict[str, str] = {}
        for entry in data.get("models", []):
            info = self._info_from_entry(entry)
            self._models[info.ref] = info
            for alias in entry.get("aliases", []):
                self._aliases[alias] = info.ref
        self._merge_cache()

    # ------------------------------------------------------------------ building
    def _pdefaults(self, provider: str) -> dict[str, Any]:
        if provider in self._provider_defaults:
            return self._provider_defaults[provider]
        if provider in ("ollama", "lmstudio"):
            return self._provider_defaults.get("local", {})
        return self._provider_defaults.get("local", {})

    def _info_from_entry(self, entry: dict[str, Any], source: str = "bundled") -> ModelInfo:
        ref = ModelRef.parse(str(entry["ref"]))
        pd = self._pdefaults(ref.provider)
        accepts = entry.get("accepts", pd.get("accepts", ["system", "max_tokens"]))
        return ModelInfo(
            ref=str(ref),
            provider=ref.provider,
            model=ref.model,
            display=str(entry.get("display") or ref.model),
            context_window=entry.get("context_window", pd.get("context_window")),
            max_output=entry.get("max_output", pd.get("max_output")),
            accepts=frozenset(accepts),
            efforts=tuple(entry.get("efforts", pd.get("efforts", ()))),
            temperature_when=str(entry.get("temperature_when", pd.get("temperature_when", "always"))),
            default_max_tokens=entry.get("default_max_tokens", pd.get("default_max_tokens")),
            price=Price.from_dict(entry.get("price")),
            peak_price=Price.from_dict(entry.get("peak_price")),
            batch_price=_scaled(Price.from_dict(entry.get("price")),
                                entry.get("batch_price_factor", pd.get("batch_price_factor"))),
            inputs=frozenset(["text", *entry.get("inputs", pd.get("inputs", ()))]),
            source=source,
        )

    def _merge_cache(self) -> None:
        for provider, models in self._cache.get("providers", {}).items():
            for m in models:
                ref = f"{provider}:{m['id']}"
                ref = self._aliases.get(ref, ref)
                existing = self._models.get(ref)
                price = Price.from_dict(m.get("price"))
                if existing is not None:
                    factor = self._pdefaults(existing.provider).get("batch_price_factor")
                    self._models[ref] = replace(
                        existing,
                        context_window=m.get("context_window") or existing.context_window,
                        price=price or existing.price,
                        batch_price=_scaled(price, factor) if price else existing.batch_price,
                        source="refreshed" if price else existing.source,
                    )
                else:
                    entry = {"ref": ref, "display": m.get("display") or m["id"],
                             "context_window": m.get("context_window"), "price": m.get("price"),
                             "inputs": []}  # not in the bundled catalog: text only
                    entry = {k: v for k, v in entry.items() if v is not None}
                    self._models[ref] = self._info_from_entry(entry, source="refreshed")

    # ------------------------------------------------------------------ queries
    def models(self, provider: str | None = None) -> list[ModelInfo]:
        return [m for m in self._models.values() if provider is None or m.provider == provider]

    def canonical(self, ref: str) -> str:
        return self._aliases.get(ref, ref)

    def get(self, ref: str) -> ModelInfo | None:
        return self._models.get(self.canonical(ref))

    def info(self, ref: str) -> ModelInfo:
        """The catalog entry, or a guessed one for an unknown model (known=False, no price)."""
        found = self.get(ref)
        if found is not None:
            return found
        guessed = self._info_from_entry({"ref": ref})
        return replace(guessed, known=False, display=derived_display_name(ref), inputs=frozenset({"text"}))

    def provider_color(self, provider: str) -> str:
        """The provider's colour, the one every view and export uses (app.present.colours), with the
        colours chosen in providers.toml when the catalog was loaded with the Settings."""
        return provider_color(provider, self.colors)

    def display_names(self) -> dict[str, str]:
        """{"provider:model": display name} for every catalog model (labels in contexts and exports)."""
        return {m.ref: m.display for m in self.models()}

    def display_name(self, ref: str) -> str:
        """The model's display name; a name that is no `provider:model` ref ("Model A" of a blind match
        before the vote, app.arena_view) is its own display name."""
        if ":" not in ref:
            return ref
        return self.info(ref).display

    def default_model(self, provider: str) -> str | None:
        model = self._defaults.get(provider)
        if model:
            return f"{provider}:{model}"
        candidates = self.models(provider)
        return candidates[0].ref if candidates else None

    def default_models(self, has_key: Any = None) -> list[str]:
        """One model each from DeepSeek, Anthropic and OpenAI, limited to providers with a key.

        `has_key` is a Settings (its `has_key`), a callable provider -> bool, or None (no filter).
        """
        if has_key is not None and hasattr(has_key, "has_key"):
            has_key = has_key.has_key
        out = []
        for provider in ("deepseek", "anthropic", "openai"):
            if has_key is not None and not has_key(provider):
                continue
            ref = self.default_model(provider)
            if ref:
                out.append(ref)
        return out

    # ------------------------------------------------------------------ parameters
    def filter_params(self, ref: str, params: Params) -> PlanParams:
        """Keep only parameters the model accepts; name the dropped ones (shown to the user once)."""
        info = self.info(ref)
        kept = Params()
        dropped: list[str] = []
        for name in PARAM_NAMES:
            value = getattr(params, name)
            if value is None:
                continue
            if name not in info.accepts:
                dropped.append(name)
                continue
            if name == "effort" and info.efforts and value not in info.efforts:
                dropped.append(f"effort={value}")
                continue
            setattr(kept, name, value)
        if kept.temperature is not None and not self._temperature_allowed(info, kept):
            dropped.append("temperature")
            kept.temperature = None
        if kept.max_tokens is not None and info.max_output and kept.max_tokens > info.max_output:
            kept.max_tokens = info.max_output
            dropped.append(f"max_tokens capped at {info.max_output}")
        if kept.max_tokens is None and info.default_max_tokens:
            kept.max_tokens = info.default_max_tokens
        return PlanParams(kept, dropped)

    @staticmethod
    def _temperature_allowed(info: ModelInfo, params: Params) -> bool:
        rule = info.temperature_when
        if rule == "never":
            return False
        if rule == "thinking_off":
            return params.thinking is False
        if rule == "effort_none":
            return params.effort == "none"
        return True

    # ------------------------------------------------------------------ prices
    def is_peak(self, ref: str, at: datetime) -> bool:
        info = self.info(ref)
        if info.peak_price is None:
            return False
        hour = at.astimezone(UTC).hour
        return any(start <= hour < end for start, end in self.peak_hours)

    def price_for(self, ref: str, at: datetime | None = None) -> Price | None:
        info = self.info(ref)
        at = at or datetime.now(UTC)
        if info.peak_price is not None and self.is_peak(ref, at):
            return info.peak_price
        return info.price

    def cost(self, ref: str, usage: Usage, at: datetime | None = None) -> float | None:
        price = self.price_for(ref, at)
        return price.cost(usage) if price else None

    def estimate_cost(self, ref: str, input_tokens: int, output_tokens: int = 0,
                      at: datetime | None = None) -> float | None:
        return self.cost(ref, Usage(input=input_tokens, output=output_tokens), at)

    # ------------------------------------------------------------------ refresh
    def merge_listing(self, provider: str, raw: list[dict[str, Any]]) -> int:
        """Merge a provider's GET /models `data` list; returns how many models it listed."""
        models = [normalise_listing(provider, m) for m in raw if isinstance(m, dict) and m.get("id")]
        self._cache.setdefault("providers", {})[provider] = models
        self._cache["refreshed_at"] = datetime.now(UTC).isoformat(timespec="seconds")
        self._merge_cache()
        if self._cache_path is not None:
            private_dir(self._cache_path.parent)
            write_private(self._cache_path, json.dumps(self._cache, indent=1))
        return len(models)


_BRANDS = {"gpt": "GPT", "deepseek": "DeepSeek", "openai": "OpenAI", "llama": "Llama", "qwen": "Qwen"}


def derived_display_name(ref: str) -> str:
    """The human name of a model the catalog does not know, from its id ("openrouter:meta/llama-slow"
    -> "Llama Slow"): the one name its card, the comparison table, the lens and the exports show."""
    ident = ref.partition(":")[2] or ref
    ident = ident.rsplit("/", 1)[-1]
    words = [w for w in re.split(r"[-_\s]+", ident) if w]
    out: list[str] = []
    for word in words:
        if out and word.isdigit() and out[-1][-1:].isdigit():
            out[-1] += "." + word
        else:
            out.append(_BRANDS.get(word.lower(), word[:1].upper() + word[1:]))
    return " ".join(out) or ref


def normalise_listing(provider: str, m: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {"id": str(m["id"])}
    name = m.get("display_name") or m.get("name")
    if name:
        out["display"] = str(name)
    ctx = m.get("context_length") or m.get("context_window") or m.get("max_context_length")
    if isinstance(ctx, int):
        out["context_window"] = ctx
    pricing = m.get("pricing")
    if isinstance(pricing, dict):  # OpenRouter: USD per token as strings
        try:
            price = {
                "input": float(pricing.get("prompt", 0)) * 1e6,
                "output": float(pricing.get("completion", 0)) * 1e6,
            }
            if pricing.get("input_cache_read") is not None:
                price["cached_input"] = float(pricing["input_cache_read"]) * 1e6
            if pricing.get("input_cache_write") is not None:
                price["cache_write"] = float(pricing["input_cache_write"]) * 1e6
            out["price"] = price
        except (TypeError, ValueError):
            pass
    return out


def load_catalog(where: Any = None) -> Catalog:
    """The bundled catalog merged with the refreshed cache in `where` (a data dir or a Settings)."""
    data_dir: Path | None = getattr(where, "data_dir", where)
    text = resources.files("resources").joinpath("models.toml").read_text(encoding="utf-8")
    data = tomllib.loads(text)
    cache: dict[str, Any] = {}
    cache_path = data_dir / "models-cache.json" if data_dir else None
    if cache_path is not None and cache_path.exists():
        try:
            cache = json.loads(cache_path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            log.warning("ignoring unreadable model cache %s: %s", cache_path, exc)
    catalog = Catalog(data, cache, cache_path)
    colors = getattr(where, "colors", None)
    if isinstance(colors, Mapping):
        catalog.colors = colors  # the Settings' own dict: an endpoint added later gets its colour too
    return catalog
