"""The one URL rule (app.urls), table-tested, and its three users agreeing on it: the card renderer
(which links stay live), the markdown/canvas exports (which links a file keeps) and the window (which
links it offers to open)."""

from __future__ import annotations

import pytest

from app.export.markdown import defang_markdown, is_safe_link
from app.render import is_safe_url as render_is_safe_url
from app.render import render_markdown
from app.urls import is_openable, is_safe_url, url_scheme

# (url, live link / opened in the window, kept live in an exported markdown file)
TABLE = [
    ("http://example.com", True, True),
    ("https://example.com/a?b=c#d", True, True),
    ("HTTPS://EXAMPLE.COM", True, True),
    ("HtTp://example.com", True, True),
    ("  https://example.com  ", True, True),
    ("<https://example.com>", True, True),
    ("mailto:someone@example.com", True, True),
    ("MAILTO:someone@example.com", True, True),
    ("mailto:", False, False),
    ("javascript:alert(1)", False, False),
    ("JavaScript:alert(1)", False, False),
    ("JAVASCRIPT:alert(1)", False, False),
    ("  javascript:alert(1)", False, False),
    ("\x01javascript:alert(1)", False, False),
    ("java\tscript:alert(1)", False, False),
    ("java\nscript:alert(1)", False, False),
    ("java\rscript:alert(1)", False, False),
    ("java\x00script:alert(1)", False, False),
    ("java\u200bscript:alert(1)", False, False),
    ("\ufeffjavascript:alert(1)", False, False),
    ("java\x85script:alert(1)", False, False),
    ("&#106;avascript:alert(1)", False, False),
    ("&#x6A;avascript:alert(1)", False, False),
    ("&amp;#x6A;avascript:alert(1)", False, False),
    ("javascript&colon;alert(1)", False, False),
    ("javascript\\:alert(1)", False, False),
    ("vbscript:msgbox", False, False),
    ("VBScript:msgbox", False, False),
    ("data:text/html,<script>alert(1)</script>", False, False),
    ("DATA:text/html;base64,PHNjcmlwdD4=", False, False),
    ("file:///etc/passwd", False, False),
    ("FILE://server/share", False, False),
    ("ftp://host/", False, False),
    ("blob:https://example.com/x", False, False),
    ("http:/x", False, False),
    ("http:///x", False, False),
    ("https:\\\\evil.example", False, False),
    ("//evil.example/x", False, False),
    ("\\\\evil.example\\share", False, False),
    ("/relative/path", False, True),
    ("page.html", False, True),
    ("#anchor", False, True),
    ("?q=1", False, True),
]


@pytest.mark.parametrize(("url", "live", "in_file"), TABLE)
def test_one_url_rule(url: str, live: bool, in_file: bool) -> None:
    assert is_safe_url(url) is live
    assert is_safe_url(url, relative_ok=True) is in_file
    # the three users say the same
    assert render_is_safe_url(url) is live
    assert is_openable(url) is live
    assert is_safe_link(url) is in_file


@pytest.mark.parametrize(
    ("url", "scheme"),
    [("JaVa&#x09;Script:x", "javascript"), (" data:x", "data"), ("page.html", None), ("HTTPS://a", "https")],
)
def test_the_scheme_a_viewer_sees(url: str, scheme: str | None) -> None:
    assert url_scheme(url) == scheme


@pytest.mark.parametrize(
    "url", ["javascript:alert(1)", "JaVaScRiPt:alert(1)", "vbscript:x", "data:text/html,x", "file:///etc/passwd"]
)
def test_unsafe_links_are_inert_in_cards_and_files(url: str) -> None:
    html = render_markdown(f"[click](<{url}>)")
    assert "href" not in html
    defanged = defang_markdown(f"[click]({url})")
    assert f"]({url})" not in defanged


def test_safe_links_stay_live_in_cards_and_files() -> None:
    assert 'href="https://example.com/a"' in render_markdown("[a](https://example.com/a)")
    assert "[a](https://example.com/a)" in defang_markdown("[a](https://example.com/a)")
