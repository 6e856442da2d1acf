"""Which configured values are secrets, and when a secret would travel unencrypted. No Qt.

- `secret_header_values`: the values of `headers` entries (providers.toml / config.toml) that carry a
  credential (`Authorization = "Bearer …"`, `x-api-key`, `api-key`, any name with key/token/secret/
  auth/cookie/password in it); app.config registers them for redaction like the API keys.
- `plain_http_warning`: one line when a provider's key (or a secret header) would be sent over plain
  `http://` to a host other than this machine (localhost, 127.0.0.1, ::1); the card, the CLI and the
  settings dialog show it.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from urllib.parse import urlsplit

from app.providers.base import ProviderConfig

_SECRET_NAME = re.compile(r"key|token|secret|auth|cookie|passw|session|signature", re.I)
_SCHEME = re.compile(r"^\s*(?:bearer|basic|token|apikey|api-key|key)\s+", re.I)
LOOPBACK_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


def is_secret_header(name: str) -> bool:
    return _SECRET_NAME.search(name) is not None


def secret_header_values(headers: Mapping[str, str]) -> list[str]:
    """The credential values among `headers`: each whole value and, for `Bearer xyz`-style values, the
    token alone (it may show up without its scheme in an error message)."""
    out: list[str] = []
    for name, value in headers.items():
        if not is_secret_header(str(name)) or not isinstance(value, str) or not value.strip():
            continue
        out.append(value)
        token = _SCHEME.sub("", value).strip()
        if token and token != value:
            out.append(token)
    return out


def sends_secret(cfg: ProviderConfig) -> bool:
    """Whether requests to this provider carry a key (its API key or a credential header)."""
    return bool(cfg.api_key) or bool(secret_header_values(cfg.headers))


def plain_http_warning(cfg: ProviderConfig, name: str | None = None) -> str | None:
    """A one-line warning when `cfg`'s key would go unencrypted to another machine; else None."""
    if not sends_secret(cfg):
        return None
    try:
        parts = urlsplit(cfg.base_url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    if parts.scheme.lower() != "http" or host in LOOPBACK_HOSTS:
        return None
    return (
        f"the key for {name or cfg.id} is sent unencrypted over plain http:// to {host}; "
        "use an https:// base URL"
    )
