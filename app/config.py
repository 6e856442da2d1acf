"""Data directory, configuration files and API keys. No Qt.

- Data dir: `--data-dir`, else `TRIPTYCH_HOME`, else the platform data dir (platformdirs, "triptych").
- `config.toml`: defaults and UI preferences. `providers.toml`: user-defined endpoints and per-provider
  overrides (base URL, `api = "chat"` for OpenAI, extra headers, `key_env`).
- Keys: the OS keyring first (service "triptych", username = provider id), then the provider's
  environment variable. Keys never go to the database, logs, exports or any file we write.
"""

from __future__ import annotations

import logging
import os
import tomllib
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.providers.base import ProviderConfig

log = logging.getLogger(__name__)

KEYRING_SERVICE = "triptych"


class ConfigError(Exception):
    """A configuration problem the user must fix; the message names the file, line and key."""


@dataclass(frozen=True, slots=True)
class BuiltinProvider:
    id: str
    display: str
    protocol: str
    base_url: str
    key_env: str | None
    base_env: str
    local: bool = False
    color: str = "#888888"


BUILTIN_PROVIDERS: dict[str, BuiltinProvider] = {
    p.id: p
    for p in (
        BuiltinProvider("deepseek", "DeepSeek", "chat", "https://api.deepseek.com", "DEEPSEEK_API_KEY",
                        "DEEPSEEK_BASE_URL", color="#4D6BFE"),
        BuiltinProvider("anthropic", "Anthropic", "anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY",
                        "ANTHROPIC_BASE_URL", color="#D97757"),
        BuiltinProvider("openai", "OpenAI", "responses", "https://api.openai.com/v1", "OPENAI_API_KEY",
                        "OPENAI_BASE_URL", color="#10A37F"),
        BuiltinProvider("openrouter", "OpenRouter", "chat", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY",
                        "OPENROUTER_BASE_URL", color="#7C5CFF"),
        BuiltinProvider("ollama", "Ollama", "chat", "http://127.0.0.1:11434/v1", None, "OLLAMA_BASE_URL",
                        local=True, color="#6B7280"),
        BuiltinProvider("lmstudio", "LM Studio", "chat", "http://127.0.0.1:1234/v1", None, "LMSTUDIO_BASE_URL",
                        local=True, color="#8B5CF6"),
    )
}

CUSTOM_COLOR = "#9CA3AF"


def resolve_data_dir(explicit: str | os.PathLike[str] | None = None) -> Path:
    if explicit:
        return Path(explicit).expanduser()
    env = os.environ.get("TRIPTYCH_HOME")
    if env:
        return Path(env).expanduser()
    import platformdirs

    return Path(platformdirs.user_data_dir("triptych", appauthor=False))


def _read_toml(path: Path) -> dict[str, Any]:
    if not path.exists():
        return {}
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path} is not UTF-8 text: {exc}") from exc
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        # tomllib's message already carries "(at line N, column M)".
        raise ConfigError(f"{path}: {exc}") from exc


def _keyring_enabled() -> bool:
    return os.environ.get("TRIPTYCH_NO_KEYRING", "").strip() not in ("1", "true", "yes")


def keyring_get(provider_id: str) -> str | None:
    """The key stored in the OS keyring, or None (no backend, locked, or nothing stored)."""
    if not _keyring_enabled():
        return None
    try:
        import keyring
        from keyring.backends import fail

        if isinstance(keyring.get_keyring(), fail.Keyring):
            return None
        value = keyring.get_password(KEYRING_SERVICE, provider_id)
    except Exception as exc:  # any backend trouble means "no key from the keyring"
        log.info("keyring unavailable for %s: %s", provider_id, type(exc).__name__)
        return None
    return value or None


def keyring_set(provider_id: str, key: str | None) -> None:
    """Store (or with None/"" delete) a key in the OS keyring. Raises ConfigError if there is no keyring."""
    if not _keyring_enabled():
        raise ConfigError("the OS keyring is disabled (TRIPTYCH_NO_KEYRING is set); use the environment variable")
    try:
        import keyring
        from keyring.backends import fail

        if isinstance(keyring.get_keyring(), fail.Keyring):
            raise ConfigError(
                "no OS keyring is available on this system; set the provider's environment variable instead"
            )
        if key:
            keyring.set_password(KEYRING_SERVICE, provider_id, key)
        else:
            try:
                keyring.delete_password(KEYRING_SERVICE, provider_id)
            except keyring.errors.PasswordDeleteError:
                pass
    except ConfigError:
        raise
    except Exception as exc:
        raise ConfigError(f"could not use the OS keyring: {type(exc).__name__}: {exc}") from exc


def keyring_backend_name() -> str:
    if not _keyring_enabled():
        return "disabled (TRIPTYCH_NO_KEYRING)"
    try:
        import keyring

        kr = keyring.get_keyring()
        return f"{type(kr).__module__}.{type(kr).__name__}"
    except Exception as exc:
        return f"unavailable ({type(exc).__name__})"


def mask_key(key: str | None) -> str:
    if not key:
        return ""
    return "•" * 8 + key[-4:] if len(key) > 8 else "•" * len(key)


@dataclass(slots=True)
class Settings:
    data_dir: Path
    providers: dict[str, ProviderConfig] = field(default_factory=dict)
    display_names: dict[str, str] = field(default_factory=dict)
    colors: dict[str, str] = field(default_factory=dict)
    key_sources: dict[str, str] = field(default_factory=dict)  # provider -> "keyring" | "env" | ""
    config: dict[str, Any] = field(default_factory=dict)  # config.toml contents
    idle_timeout: float = 120.0
    connect_timeout: float = 10.0

    def __repr__(self) -> str:
        return f"<Settings {self.data_dir} providers={sorted(self.providers)}>"

    @property
    def config_path(self) -> Path:
        return self.data_dir / "config.toml"

    @property
    def db_path(self) -> Path:
        return self.data_dir / "triptych.db"

    @property
    def ui(self) -> dict[str, Any]:
        ui = self.config.setdefault("ui", {})
        assert isinstance(ui, dict)
        return ui

    def has_key(self, provider_id: str) -> bool:
        cfg = self.providers.get(provider_id)
        return bool(cfg and (cfg.local or cfg.api_key))

    def key_hint(self, provider_id: str) -> str:
        """How to add a key for this provider, in one line."""
        cfg = self.providers.get(provider_id)
        env = cfg.key_env if cfg else None
        where = f"set {env}" if env else "add a key in providers.toml (key_env)"
        return f"{where} or add the key in Settings → Providers"

    def set_key(self, provider_id: str, key: str | None) -> None:
        keyring_set(provider_id, key)
        cfg = self.providers.get(provider_id)
        if cfg is not None:
            env_key = os.environ.get(cfg.key_env) if cfg.key_env else None
            cfg.api_key = key or env_key or None
            self.key_sources[provider_id] = "keyring" if key else ("env" if env_key else "")

    def set_base_url(self, provider_id: str, url: str) -> None:
        cfg = self.providers.get(provider_id)
        if cfg is not None:
            cfg.base_url = url.rstrip("/")
        self.config.setdefault("providers", {}).setdefault(provider_id, {})["base_url"] = url.rstrip("/")

    def save(self) -> None:
        """Write config.toml (UI prefs, defaults, base URL overrides). Never keys."""
        self.data_dir.mkdir(parents=True, exist_ok=True)
        tmp = self.config_path.with_suffix(".toml.tmp")
        tmp.write_text(dump_toml(self.config), encoding="utf-8")
        tmp.replace(self.config_path)


def dump_toml(data: dict[str, Any]) -> str:
    """A small TOML writer for our own config (tables of scalars, lists and nested tables)."""
    lines: list[str] = []

    def scalar(v: Any) -> str:
        if isinstance(v, bool):
            return "true" if v else "false"
        if isinstance(v, (int, float)):
            return repr(v)
        if isinstance(v, (list, tuple)):
            return "[" + ", ".join(scalar(x) for x in v) + "]"
        s = str(v).replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")
        return f'"{s}"'

    def key(k: str) -> str:
        return k if k.replace("_", "").replace("-", "").isalnum() else scalar(k)

    def table(prefix: str, d: dict[str, Any]) -> None:
        plain = {k: v for k, v in d.items() if not isinstance(v, dict)}
        nested = {k: v for k, v in d.items() if isinstance(v, dict)}
        if prefix and plain:
            lines.append(f"[{prefix}]")
        for k, v in plain.items():
            if v is not None:
                lines.append(f"{key(k)} = {scalar(v)}")
        if plain:
            lines.append("")
        for k, v in nested.items():
            table(f"{prefix}.{key(k)}" if prefix else key(k), v)

    table("", data)
    return "\n".join(lines).strip() + "\n"


def _positive_float(value: Any, where: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where} must be a positive number, got {value!r}")
    return float(value)


def load_settings(data_dir: str | os.PathLike[str] | None = None) -> Settings:
    """Read config.toml, providers.toml, keys and base-URL variables. Raises ConfigError."""
    root = resolve_data_dir(data_dir)
    config = _read_toml(root / "config.toml")
    custom = _read_toml(root / "providers.toml")
    settings = Settings(data_dir=root, config=config)

    net = config.get("network", {})
    if not isinstance(net, dict):
        raise ConfigError(f"{root / 'config.toml'}: [network] must be a table")
    if "idle_timeout" in net:
        settings.idle_timeout = _positive_float(net["idle_timeout"], f"{root / 'config.toml'}: network.idle_timeout")
    if "connect_timeout" in net:
        settings.connect_timeout = _positive_float(
            net["connect_timeout"], f"{root / 'config.toml'}: network.connect_timeout"
        )
    env_idle = os.environ.get("TRIPTYCH_IDLE_TIMEOUT")
    if env_idle:
        try:
            settings.idle_timeout = _positive_float(float(env_idle), "TRIPTYCH_IDLE_TIMEOUT")
        except ValueError as exc:
            raise ConfigError(f"TRIPTYCH_IDLE_TIMEOUT must be a number of seconds, got {env_idle!r}") from exc

    overrides = config.get("providers", {})
    if not isinstance(overrides, dict):
        raise ConfigError(f"{root / 'config.toml'}: [providers] must be a table")

    for bp in BUILTIN_PROVIDERS.values():
        over = overrides.get(bp.id, {}) if isinstance(overrides.get(bp.id, {}), dict) else {}
        custom_over = custom.get(bp.id, {}) if isinstance(custom.get(bp.id), dict) else {}
        over = {**over, **custom_over}
        protocol = bp.protocol
        if bp.id == "openai":
            api = os.environ.get("TRIPTYCH_OPENAI_API") or over.get("api")
            if api == "chat":
                protocol = "chat"
            elif api not in (None, "", "responses"):
                raise ConfigError(f"TRIPTYCH_OPENAI_API / providers.openai.api must be 'chat' or 'responses', got {api!r}")
        base = os.environ.get(bp.base_env) or over.get("base_url") or bp.base_url
        key_env = str(over.get("key_env") or bp.key_env or "") or None
        key, source = _find_key(bp.id, key_env)
        settings.providers[bp.id] = ProviderConfig(
            id=bp.id,
            protocol=protocol,  # type: ignore[arg-type]
            base_url=str(base).rstrip("/"),
            api_key=key,
            key_env=key_env,
            headers=dict(over.get("headers", {})),
            connect_timeout=settings.connect_timeout,
            idle_timeout=settings.idle_timeout,
            local=bp.local,
        )
        settings.key_sources[bp.id] = source
        settings.display_names[bp.id] = bp.display
        settings.colors[bp.id] = bp.color

    _load_custom_providers(settings, custom, root / "providers.toml")
    return settings


def _find_key(provider_id: str, key_env: str | None) -> tuple[str | None, str]:
    key = keyring_get(provider_id)
    if key:
        return key, "keyring"
    if key_env:
        env = os.environ.get(key_env, "").strip()
        if env:
            return env, "env"
    return None, ""


def _load_custom_providers(settings: Settings, custom: dict[str, Any], path: Path) -> None:
    """User-defined endpoints: `[name]` tables with base_url, protocol (chat|responses|anthropic), key_env."""
    for name, table in custom.items():
        if name in BUILTIN_PROVIDERS:
            continue  # an override of a built-in, handled above
        if not isinstance(table, dict):
            raise ConfigError(f"{path}: [{name}] must be a table with base_url and protocol")
        pid = name.strip().lower()
        if not pid or ":" in pid:
            raise ConfigError(f"{path}: provider name {name!r} must be non-empty and have no ':'")
        base = table.get("base_url")
        if not isinstance(base, str) or not base.startswith(("http://", "https://")):
            raise ConfigError(f"{path}: {name}.base_url must be an http(s) URL, got {base!r}")
        protocol = table.get("protocol", "chat")
        if protocol not in ("chat", "responses", "anthropic"):
            raise ConfigError(f"{path}: {name}.protocol must be chat, responses or anthropic, got {protocol!r}")
        key_env = table.get("key_env")
        if key_env is not None and not isinstance(key_env, str):
            raise ConfigError(f"{path}: {name}.key_env must be a string (an environment variable name)")
        headers = table.get("headers", {})
        if not isinstance(headers, dict):
            raise ConfigError(f"{path}: {name}.headers must be a table of strings")
        key, source = _find_key(pid, key_env)
        local = bool(table.get("local", key_env is None))
        settings.providers[pid] = ProviderConfig(
            id=pid,
            protocol=protocol,
            base_url=base.rstrip("/"),
            api_key=key,
            key_env=key_env,
            headers={str(k): str(v) for k, v in headers.items()},
            connect_timeout=settings.connect_timeout,
            idle_timeout=settings.idle_timeout,
            local=local,
        )
        settings.key_sources[pid] = source
        settings.display_names[pid] = str(table.get("display", name))
        settings.colors[pid] = str(table.get("color", CUSTOM_COLOR))


def with_overrides(cfg: ProviderConfig, **changes: Any) -> ProviderConfig:
    return replace(cfg, **changes)
