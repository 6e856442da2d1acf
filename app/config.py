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
import re
import tomllib
from collections.abc import Iterable, Mapping, MutableMapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from app.fsutil import private_dir, write_private
from app.keys import secret_header_values
from app.logs import register_secret
from app.paths import CONFIG_FILENAME, DB_FILENAME, PROVIDERS_FILENAME, resolve_data_dir
from app.present.colours import is_hex_color, provider_color
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


BUILTIN_PROVIDERS: dict[str, BuiltinProvider] = {
    p.id: p
    for p in (
        BuiltinProvider("deepseek", "DeepSeek", "chat", "https://api.deepseek.com", "DEEPSEEK_API_KEY",
                        "DEEPSEEK_BASE_URL"),
        BuiltinProvider("anthropic", "Anthropic", "anthropic", "https://api.anthropic.com", "ANTHROPIC_API_KEY",
                        "ANTHROPIC_BASE_URL"),
        BuiltinProvider("openai", "OpenAI", "responses", "https://api.openai.com/v1", "OPENAI_API_KEY",
                        "OPENAI_BASE_URL"),
        BuiltinProvider("openrouter", "OpenRouter", "chat", "https://openrouter.ai/api/v1", "OPENROUTER_API_KEY",
                        "OPENROUTER_BASE_URL"),
        BuiltinProvider("ollama", "Ollama", "chat", "http://127.0.0.1:11434/v1", None, "OLLAMA_BASE_URL",
                        local=True),
        BuiltinProvider("lmstudio", "LM Studio", "chat", "http://127.0.0.1:1234/v1", None, "LMSTUDIO_BASE_URL",
                        local=True),
    )
}



def _read_toml(path: Path) -> dict[str, Any]:
    return _TomlFile.read(path).data


_LINE_AT = re.compile(r"\(at line (\d+), column (\d+)\)")
_KEY_LINE = re.compile(r"""^\s*((?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*')(?:\s*\.\s*(?:[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'))*)\s*=""")
_SECRETISH = re.compile(r"(sk-[A-Za-z0-9_\-]{4})[A-Za-z0-9_\-]+")


def _key_parts(dotted: str) -> tuple[str, ...]:
    parts = re.findall(r"""[A-Za-z0-9_\-]+|"[^"]*"|'[^']*'""", dotted)
    return tuple(p[1:-1] if p[:1] in "\"'" else p for p in parts)


@dataclass(slots=True)
class _TomlFile:
    """A parsed TOML file that can say on which line a key is, for error messages."""

    path: Path
    text: str = ""
    data: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def read(cls, path: Path) -> _TomlFile:
        if not path.exists():
            return cls(path)
        try:
            text = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc
        except UnicodeDecodeError as exc:
            line = path.read_bytes()[: exc.start].count(b"\n") + 1
            raise ConfigError(f"{path}, line {line}: not UTF-8 text ({exc.reason}); save the file as UTF-8") from exc
        try:
            return cls(path, text, tomllib.loads(text))
        except tomllib.TOMLDecodeError as exc:
            match = _LINE_AT.search(str(exc))
            what = _LINE_AT.sub("", str(exc)).strip()
            if match is None:
                raise ConfigError(f"{path}: {what}") from exc
            number = int(match.group(1))
            lines = text.splitlines()
            shown = lines[number - 1].strip() if 0 < number <= len(lines) else ""
            shown = _SECRETISH.sub(r"\1…", shown)[:100]
            key = _KEY_LINE.match(shown)
            named = f" in {'.'.join(_key_parts(key.group(1)))}" if key else ""
            raise ConfigError(
                f"{path}, line {number}, column {match.group(2)}: invalid TOML{named}: {what}: {shown!r}"
            ) from exc

    def line_of(self, table: tuple[str, ...], key: str | None = None) -> int | None:
        """The line that sets `table.key` (or opens/sets `table` when the key is not found)."""
        current: tuple[str, ...] = ()
        fallback: int | None = None
        for number, raw in enumerate(self.text.splitlines(), 1):
            line = raw.strip()
            if line.startswith("["):
                current = _key_parts(line.strip("[] \t").split("]")[0])
                if current == table and fallback is None:
                    fallback = number
                continue
            match = _KEY_LINE.match(line)
            if match is None:
                continue
            path = current + _key_parts(match.group(1))
            if key is not None and path == (*table, key):
                return number
            if fallback is None and path and (path == table[: len(path)] or path[: len(table)] == table):
                fallback = number
        return fallback

    def error(self, table: tuple[str, ...], key: str | None, problem: str) -> ConfigError:
        """A ConfigError naming the file, the line and the key: `path, line N: a.b must be ...`."""
        number = self.line_of(table, key)
        where = f"{self.path}, line {number}" if number else str(self.path)
        name = ".".join((*table, key) if key else table)
        return ConfigError(f"{where}: {name} {problem}")


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


def store_account(url: str) -> str:
    """The keyring account holding a team store's password: "store:USER@HOST:PORT/DATABASE" (the user
    libpq would log in as when the URL names none). ValueError for a URL that is not one."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        u = make_url(url.strip())
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {exc}") from None
    user = u.username or os.environ.get("PGUSER") or _os_user()
    return f"store:{user}@{u.host or 'localhost'}:{u.port or 5432}/{u.database or ''}"


def _os_user() -> str:
    import getpass

    try:
        return getpass.getuser()
    except Exception:  # no user name in this environment
        return ""


def store_password(url: str) -> str | None:
    """The team store's password from the OS keyring (None: none stored, no keyring, or a URL that
    carries its own). Registered as a secret: the logs mask it."""
    try:
        from sqlalchemy.engine import make_url

        if make_url(url.strip()).password is not None:
            return None
        account = store_account(url)
    except Exception:  # not a URL: nothing to look up
        return None
    password = keyring_get(account)
    if password:
        register_secret(password)
    return password


def set_store_password(url: str, password: str | None) -> str:
    """Keep (or with None/"" forget) the team store's password in the OS keyring; returns the account.
    ConfigError when there is no keyring (then PGPASSWORD or ~/.pgpass)."""
    account = store_account(url)
    try:
        keyring_set(account, password)
    except ConfigError as exc:
        if "disabled" in str(exc) or "no OS keyring" in str(exc):
            raise ConfigError("no OS keyring to keep the password in: put it in PGPASSWORD or ~/.pgpass "
                              "instead") from None
        raise
    return account


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
    # "provider:model" -> the kinds of file it reads, from providers.toml `inputs` (overrides the catalog)
    model_inputs: dict[str, frozenset[str]] = field(default_factory=dict)
    # the OS keyring not asked yet (load_settings(keyring=False), the window's start-up): the keys so
    # far are the environment's; `apply_keyring_keys` / `ensure_keyring_keys` complete them
    keyring_pending: bool = False

    def __repr__(self) -> str:
        return f"<Settings {self.data_dir} providers={sorted(self.providers)}>"

    @property
    def config_path(self) -> Path:
        return self.data_dir / CONFIG_FILENAME

    @property
    def db_path(self) -> Path:
        return self.data_dir / DB_FILENAME

    @property
    def database_url(self) -> str | None:
        """The team store's URL (`postgresql+psycopg://…`): `TRIPTYCH_DATABASE_URL` (which
        `--database-url` sets), else config.toml `[store] url`; None for the local SQLite file."""
        env = os.environ.get("TRIPTYCH_DATABASE_URL", "").strip()
        if env:
            return env
        store = self.config.get("store", {})
        url = store.get("url") if isinstance(store, dict) else None
        return url.strip() if isinstance(url, str) and url.strip() else None

    @property
    def store_location(self) -> str | Path:
        """What `storage.open_store` opens: the team store's URL, else the data dir."""
        return self.database_url or self.data_dir

    @property
    def ui(self) -> dict[str, Any]:
        ui = self.config.setdefault("ui", {})
        assert isinstance(ui, dict)
        return ui

    def has_key(self, provider_id: str) -> bool:
        """A key to send with (or none needed). While the keyring is not asked yet, a provider
        without one from the environment may still have one there: not said missing until it is
        known (the window says "no key" only once the keyring has answered)."""
        cfg = self.providers.get(provider_id)
        if cfg is None:
            return False
        return bool(cfg.local or cfg.api_key or (self.keyring_pending and _keyring_enabled()))

    def key_hint(self, provider_id: str) -> str:
        """How to add a key for this provider, in one line."""
        cfg = self.providers.get(provider_id)
        env = cfg.key_env if cfg else None
        where = f"set {env}" if env else "add a key in providers.toml (key_env)"
        return f"{where} or add the key in Settings → Providers"

    def base_url_hint(self, provider_id: str) -> str:
        """Where this provider's base URL is set, in a few words (for error advice)."""
        bp = BUILTIN_PROVIDERS.get(provider_id)
        if bp is not None:
            return f"{bp.base_env} or Settings → Providers"
        return f"{provider_id}.base_url in {self.data_dir / 'providers.toml'}"

    def set_key(self, provider_id: str, key: str | None) -> None:
        keyring_set(provider_id, key)
        register_secret(key)
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
        """Write config.toml (UI prefs, defaults, base URL overrides), never keys. The user's comments
        and layout stay; only what changed is rewritten (see write_toml)."""
        private_dir(self.data_dir)
        write_toml(self.config_path, self.config)


# ------------------------------------------------------------------ writing TOML (tomlkit)


def _read_document(path: Path) -> Any:
    """The file as a tomlkit document (comments and layout kept); an empty one when there is none."""
    import tomlkit
    from tomlkit.exceptions import ParseError

    if not path.exists():
        return tomlkit.document()
    try:
        return tomlkit.parse(path.read_text(encoding="utf-8"))
    except (ParseError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path} is not valid TOML any more ({exc}); fix it, then save again") from exc
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}") from exc


def _plain(value: Any) -> Any:
    return value.unwrap() if hasattr(value, "unwrap") else value


def _sync(table: MutableMapping[str, Any], data: Mapping[str, Any]) -> None:
    """Make tomlkit `table` hold `data`: keys gone from `data` are removed, changed values replaced,
    nested tables synced key by key, and unchanged values (with their comments) left alone. None
    means "not set"."""
    for key in [k for k in table if data.get(k) is None]:
        del table[key]
    for key, value in data.items():
        if value is None:
            continue
        current = table.get(key)
        if isinstance(value, Mapping) and isinstance(current, MutableMapping):
            _sync(current, value)
        elif current is None or _plain(current) != value:
            table[key] = value


def _without_none(data: Mapping[str, Any]) -> dict[str, Any]:
    return {k: _without_none(v) if isinstance(v, Mapping) else v for k, v in data.items() if v is not None}


def toml_text(path: Path, data: Mapping[str, Any]) -> str:
    """The text of `path` changed to hold `data` (tomlkit: comments and layout kept, any string
    escaped as TOML wants it, lists of tables as [[tables]]). Raises ConfigError unless the text reads
    back as exactly `data`."""
    import tomlkit

    doc = _read_document(path)
    _sync(doc, data)
    text = tomlkit.dumps(doc)
    try:
        back = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:  # pragma: no cover - tomlkit writes valid TOML
        raise ConfigError(f"could not write {path.name}: {exc}") from exc
    if back != _without_none(data):
        raise ConfigError(f"could not write {path.name}: a value would not read back the same")
    return text


def write_toml(path: Path, data: Mapping[str, Any]) -> None:
    """Write `data` to the TOML file `path`, atomically (app.fsutil), keeping the user's comments."""
    write_private(path, toml_text(path, data))


# ------------------------------------------------------------------ custom endpoints (providers.toml)

PROTOCOLS = ("chat", "responses", "anthropic")
ENDPOINT_FIELDS = ("base_url", "protocol", "key_env", "display", "color", "local", "headers", "inputs")


def endpoint_id(name: str) -> str:
    """The provider id (the model prefix) a custom endpoint named `name` gets: "Groq" -> "groq"."""
    pid = name.strip().lower()
    if re.fullmatch(r"[\w.\-]+", pid) is None:
        raise ConfigError("the endpoint name must be one word without ':' (it becomes the model prefix)")
    if pid in BUILTIN_PROVIDERS:
        raise ConfigError(f"{pid} is a built-in provider; pick another name for a custom endpoint")
    return pid


def _check_endpoint(fields: Mapping[str, Any]) -> None:
    base = fields.get("base_url")
    if base is not None and not _is_http_url(base):
        raise ConfigError("the base URL must start with http:// or https://")
    if fields.get("protocol") not in (None, *PROTOCOLS):
        raise ConfigError(f"the protocol must be one of {', '.join(PROTOCOLS)}")


def _edit_endpoints(settings: Settings, pid: str, table: Mapping[str, Any] | None) -> None:
    """Set (or with None remove) `[pid]` in providers.toml, check that the whole file still loads,
    write it atomically, and bring `settings` up to date. Nothing is written when the check fails."""
    path = settings.data_dir / PROVIDERS_FILENAME
    current = _TomlFile.read(path).data
    data = {k: v for k, v in current.items() if k != pid}
    if table is not None:
        data[pid] = dict(table)
    text = toml_text(path, data)
    scratch = Settings(data_dir=settings.data_dir, idle_timeout=settings.idle_timeout,
                       connect_timeout=settings.connect_timeout)
    _load_custom_providers(scratch, _TomlFile(path, text, tomllib.loads(text)))
    private_dir(settings.data_dir)
    write_private(path, text)
    for store in (settings.providers, settings.display_names, settings.colors, settings.key_sources):
        store.pop(pid, None)
    if pid in scratch.providers:
        settings.providers[pid] = scratch.providers[pid]
        settings.display_names[pid] = scratch.display_names[pid]
        settings.colors[pid] = scratch.colors[pid]
        settings.key_sources[pid] = scratch.key_sources[pid]


def add_custom_endpoint(settings: Settings, name: str, protocol: str, base_url: str,
                        key_env: str | None = None, **extra: Any) -> str:
    """Add a user-defined endpoint `[id]` to providers.toml (comments and other endpoints kept) and
    load it into `settings`; returns its id (the model prefix). `extra`: display, color, local,
    headers. Raises ConfigError (nothing written) for a bad name, URL, protocol or a taken id."""
    pid = endpoint_id(name)
    if pid in _TomlFile.read(settings.data_dir / PROVIDERS_FILENAME).data:
        raise ConfigError(f"there is already an endpoint called {pid}")
    table: dict[str, Any] = {"base_url": base_url.strip().rstrip("/"), "protocol": protocol,
                             "display": extra.pop("display", None) or name.strip()}
    if key_env and key_env.strip():
        table["key_env"] = key_env.strip()
    unknown = set(extra) - set(ENDPOINT_FIELDS)
    if unknown:
        raise ConfigError(f"unknown endpoint setting {sorted(unknown)[0]!r}")
    table.update({k: v for k, v in extra.items() if v is not None})
    _check_endpoint(table)
    _edit_endpoints(settings, pid, table)
    return pid


def update_custom_endpoint(settings: Settings, pid: str, **changes: Any) -> None:
    """Change fields of the endpoint `[pid]` (base_url, protocol, key_env, display, color, local,
    headers; None removes a field); the rest of providers.toml, comments included, stays."""
    table = _TomlFile.read(settings.data_dir / PROVIDERS_FILENAME).data.get(pid)
    if pid in BUILTIN_PROVIDERS or not isinstance(table, dict):
        raise ConfigError(f"there is no custom endpoint called {pid}")
    unknown = set(changes) - set(ENDPOINT_FIELDS)
    if unknown:
        raise ConfigError(f"unknown endpoint setting {sorted(unknown)[0]!r}")
    if isinstance(changes.get("base_url"), str):
        changes["base_url"] = changes["base_url"].strip().rstrip("/")
    _check_endpoint(changes)
    merged = {**table, **changes}
    _edit_endpoints(settings, pid, {k: v for k, v in merged.items() if v is not None})


def remove_custom_endpoint(settings: Settings, pid: str) -> None:
    """Remove the endpoint `[pid]` from providers.toml and from `settings`."""
    if pid in BUILTIN_PROVIDERS or pid not in _TomlFile.read(settings.data_dir / PROVIDERS_FILENAME).data:
        raise ConfigError(f"there is no custom endpoint called {pid}")
    _edit_endpoints(settings, pid, None)


def _positive_float(value: Any, where: str) -> float:
    if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
        raise ConfigError(f"{where} must be a positive number, got {value!r}")
    return float(value)


def _is_http_url(value: object) -> bool:
    return isinstance(value, str) and re.fullmatch(r"https?://[^/\s]+\S*", value) is not None


def _provider_table(file: _TomlFile, table: tuple[str, ...], value: object) -> dict[str, Any]:
    """Check the common keys of a provider table (base_url, key_env, headers, api, protocol)."""
    if not isinstance(value, dict):
        raise file.error(table, None, f"must be a table (like [{'.'.join(table)}]), got {value!r}")
    if "base_url" in value and not _is_http_url(value["base_url"]):
        raise file.error(table, "base_url", f"must be an http(s) URL, got {value['base_url']!r}")
    if "key_env" in value and not (isinstance(value["key_env"], str) and value["key_env"].strip()):
        raise file.error(table, "key_env", f"must be the name of an environment variable, got {value['key_env']!r}")
    headers = value.get("headers", {})
    if not isinstance(headers, dict) or not all(isinstance(v, str) for v in headers.values()):
        raise file.error(table, "headers", "must be a table of strings, like headers = { \"X-Title\" = \"Triptych\" }")
    for name in ("api", "protocol", "display", "color"):
        if name in value and not isinstance(value[name], str):
            raise file.error(table, name, f"must be a string, got {value[name]!r}")
    if "color" in value and not is_hex_color(value["color"]):
        raise file.error(table, "color", f"must be a colour like \"#3B82F6\", got {value['color']!r}")
    inputs = value.get("inputs", {})
    ok_kinds = {"text", "image", "pdf"}
    if not isinstance(inputs, dict) or not all(
        isinstance(v, list) and all(isinstance(k, str) and k in ok_kinds for k in v) for v in inputs.values()
    ):
        raise file.error(table, "inputs", 'must map model ids to what they read, like inputs = { "llava:13b" = '
                         '["text", "image"] } (kinds: text, image, pdf)')
    return value


def _model_inputs(settings: Settings, provider_id: str, table: dict[str, Any]) -> None:
    """A provider table's `inputs = { "MODEL" = ["text", "image"] }`: what those models read (attachments)."""
    for model, kinds in table.get("inputs", {}).items():
        settings.model_inputs[f"{provider_id}:{model}"] = frozenset(["text", *kinds])


def load_settings(data_dir: str | os.PathLike[str] | None = None, *, keyring: bool = True) -> Settings:
    """Read config.toml, providers.toml, keys and base-URL variables. Raises ConfigError naming the
    file, the line and the key (or the environment variable) at fault.

    `keyring=False` (the window's start-up) leaves the OS keyring for later: importing `keyring` and
    finding its backend costs ~100-200 ms (more with a desktop keyring to ask over D-Bus), which the
    window does on a worker thread after its first paint (`read_keyring_keys`, then
    `apply_keyring_keys`); `settings.keyring_pending` says so meanwhile."""
    root = resolve_data_dir(data_dir)
    config_file = _TomlFile.read(root / CONFIG_FILENAME)
    custom_file = _TomlFile.read(root / PROVIDERS_FILENAME)
    config, custom = config_file.data, custom_file.data
    settings = Settings(data_dir=root, config=config)
    settings.keyring_pending = not keyring and _keyring_enabled()
    use_keyring = keyring

    net = config.get("network", {})
    if not isinstance(net, dict):
        raise config_file.error(("network",), None, "must be a table ([network])")
    for name in ("idle_timeout", "connect_timeout"):
        if name in net:
            value = net[name]
            if not isinstance(value, (int, float)) or isinstance(value, bool) or value <= 0:
                raise config_file.error(("network",), name, f"must be a positive number of seconds, got {value!r}")
            setattr(settings, name, float(value))
    if not isinstance(config.get("ui", {}), dict):
        raise config_file.error(("ui",), None, "must be a table ([ui])")
    env_idle = os.environ.get("TRIPTYCH_IDLE_TIMEOUT")
    if env_idle:
        try:
            settings.idle_timeout = _positive_float(float(env_idle), "TRIPTYCH_IDLE_TIMEOUT")
        except ValueError as exc:
            raise ConfigError(f"TRIPTYCH_IDLE_TIMEOUT must be a number of seconds, got {env_idle!r}") from exc

    overrides = config.get("providers", {})
    if not isinstance(overrides, dict):
        raise config_file.error(("providers",), None, "must be a table ([providers.NAME] tables)")

    for bp in BUILTIN_PROVIDERS.values():
        over = dict(_provider_table(config_file, ("providers", bp.id), overrides[bp.id])) if bp.id in overrides else {}
        if bp.id in custom:
            over.update(_provider_table(custom_file, (bp.id,), custom[bp.id]))
        protocol = bp.protocol
        if bp.id == "openai":
            api = os.environ.get("TRIPTYCH_OPENAI_API") or over.get("api")
            if api == "chat":
                protocol = "chat"
            elif api not in (None, "", "responses"):
                problem = f"must be 'chat' or 'responses', got {api!r}"
                if os.environ.get("TRIPTYCH_OPENAI_API"):
                    raise ConfigError(f"TRIPTYCH_OPENAI_API {problem}")
                if "api" in over and isinstance(custom.get("openai"), dict) and "api" in custom["openai"]:
                    raise custom_file.error(("openai",), "api", problem)
                raise config_file.error(("providers", "openai"), "api", problem)
        env_base = os.environ.get(bp.base_env, "").strip()
        if env_base and not _is_http_url(env_base):
            raise ConfigError(f"{bp.base_env} must be an http(s) URL, got {env_base!r}")
        base = env_base or over.get("base_url") or bp.base_url
        key_env = str(over.get("key_env") or bp.key_env or "") or None
        key, source = _find_key(bp.id, key_env, use_keyring)
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
        _model_inputs(settings, bp.id, over)
        settings.display_names[bp.id] = bp.display
        settings.colors[bp.id] = provider_color(bp.id, {bp.id: str(over.get("color", ""))})

    _load_custom_providers(settings, custom_file, use_keyring)
    for cfg in settings.providers.values():  # credentials typed into `headers` tables are keys too
        for secret in secret_header_values(cfg.headers):
            register_secret(secret)
    return settings


def _find_key(provider_id: str, key_env: str | None, use_keyring: bool = True) -> tuple[str | None, str]:
    key = keyring_get(provider_id) if use_keyring else None
    if key:
        register_secret(key)
        return key, "keyring"
    if key_env:
        env = os.environ.get(key_env, "").strip()
        if env:
            register_secret(env)
            return env, "env"
    return None, ""


def read_keyring_keys(provider_ids: Iterable[str]) -> dict[str, str]:
    """The keys the OS keyring holds for these providers. Reads only (safe on a worker thread)."""
    found: dict[str, str] = {}
    if not _keyring_enabled():
        return found
    for provider_id in provider_ids:
        key = keyring_get(provider_id)
        if key:
            found[provider_id] = key
    return found


def apply_keyring_keys(settings: Settings, keys: Mapping[str, str]) -> None:
    """Complete a `load_settings(keyring=False)`: the keyring's keys win over the environment's, as
    `load_settings` would have chosen. Call on the thread that owns `settings`."""
    for provider_id, key in keys.items():
        cfg = settings.providers.get(provider_id)
        if cfg is None:
            continue
        register_secret(key)
        cfg.api_key = key  # (in place: whoever holds this provider's config sees the key)
        settings.key_sources[provider_id] = "keyring"
    settings.keyring_pending = False


def ensure_keyring_keys(settings: Settings) -> None:
    """Ask the keyring now if it has not been asked yet (a send before the window's worker answered)."""
    if settings.keyring_pending:
        apply_keyring_keys(settings, read_keyring_keys(list(settings.providers)))


def _load_custom_providers(settings: Settings, file: _TomlFile, use_keyring: bool = True) -> None:
    """User-defined endpoints: `[name]` tables with base_url, protocol (chat|responses|anthropic), key_env."""
    for name, table in file.data.items():
        if name in BUILTIN_PROVIDERS:
            continue  # an override of a built-in, handled above
        if not isinstance(table, dict):
            raise file.error((name,), None, "must be a table ([NAME] with base_url and protocol)")
        pid = name.strip().lower()
        if not pid or ":" in pid:
            raise file.error((name,), None, "is not a usable provider name: it must be non-empty and have no ':'")
        base = table.get("base_url")
        if not _is_http_url(base):
            raise file.error((name,), "base_url", f"must be an http(s) URL, got {base!r}")
        _provider_table(file, (name,), table)
        protocol = table.get("protocol", "chat")
        if protocol not in ("chat", "responses", "anthropic"):
            raise file.error((name,), "protocol", f"must be chat, responses or anthropic, got {protocol!r}")
        key_env = table.get("key_env")
        headers = table.get("headers", {})
        assert isinstance(base, str)
        key, source = _find_key(pid, key_env, use_keyring)
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
        _model_inputs(settings, pid, table)
        settings.display_names[pid] = str(table.get("display", name))
        settings.colors[pid] = provider_color(pid, {pid: str(table.get("color", ""))})


def with_overrides(cfg: ProviderConfig, **changes: Any) -> ProviderConfig:
    return replace(cfg, **changes)
