"""The one URL safety rule: which links from model output may be a live link or be opened.

Model output is untrusted. A URL is read the way the most lenient viewer reads it before its scheme is
judged: HTML entities decoded (twice: ``&amp;#x6A;`` too), markdown backslash escapes and ``<…>``
undone, and every whitespace, control and invisible character dropped (browsers drop them inside a
scheme: ``java\tscript:``). Then:

- ``http://host…``, ``https://host…`` (with a host) and ``mailto:address`` are safe;
- every other scheme (``javascript:``, ``data:``, ``file:``, ``vbscript:``, ``blob:``…) never is;
- a scheme-less URL (``page.html``, ``#anchor``, ``?q``) is relative: only where the caller says it
  may stay (a markdown file's own links), never as something the window opens; ``//host`` and
  ``\\\\host`` (network paths) are never safe.

Used by the card renderer (app.render), the markdown/canvas exports and the window's link opening.
"""

from __future__ import annotations

import re
from html import unescape

SAFE_SCHEMES = frozenset({"http", "https", "mailto"})

_MD_ESCAPE = re.compile(r"\\([!-/:-@\[-`{-~])")
# ASCII whitespace and controls, C1 controls, zero-width and bidi marks, line/paragraph separators, BOM
_INVISIBLE = re.compile(r"[\x00-\x20\x7f-\x9f\u00ad\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2028\u2029\ufeff]+")
_NETWORK = ("//", "\\\\", "/\\", "\\/")  # //host, \\host: another machine, not a relative link
_SCHEME = re.compile(r"([a-z][a-z0-9+.\-]*):")


def _clean(url: str) -> str:
    text = url.strip()
    if text.startswith("<") and text.endswith(">"):
        text = text[1:-1]
    text = unescape(unescape(_MD_ESCAPE.sub(r"\1", text)))
    return _INVISIBLE.sub("", text)


def url_scheme(url: str) -> str | None:
    """The lower-case scheme a lenient viewer would see (``"javascript"`` for ``JaVa&#x09;Script:``),
    or None for a scheme-less (relative) URL."""
    m = _SCHEME.match(_clean(url).lower())
    return m.group(1) if m else None


def is_safe_url(url: str, *, relative_ok: bool = False) -> bool:
    """True for http(s) URLs with a host and non-empty mailto: URLs; with `relative_ok`, also for a
    relative URL (no scheme, not a network path). Everything else is unsafe."""
    clean = _clean(url)
    m = _SCHEME.match(clean.lower())
    if m is None:
        raw = _INVISIBLE.sub("", url)
        return relative_ok and not any(t.startswith(_NETWORK) for t in (clean, raw))
    scheme = m.group(1)
    rest = clean[m.end():]
    if scheme == "mailto":
        return bool(rest)
    if scheme in ("http", "https"):
        return rest.startswith("//") and len(rest) > 2 and rest[2] not in "/\\"
    return False


def is_openable(url: str) -> bool:
    """Whether the window may offer to open this link (after the user's click and confirmation)."""
    return is_safe_url(url)
