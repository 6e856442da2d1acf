"""Model output is untrusted: hostile markdown streamed through the CLI into the store must stay inert in
every export (html, md, canvas) and in the cards' HTML (app.render) — except the Markdown pictures the
model wrote, which the .md export keeps as written (see the test). "Inert" is checked the way it
would fail: a *fetching viewer* loads every sub-resource a browser (or a markdown viewer that renders
raw HTML, like Obsidian) would load on its own — images, srcset, stylesheets, iframes, scripts, CSS
url() and @import, SVG images, posters, objects, meta refresh — and a loopback listener counts what
reaches it. A control run proves the viewer and the listener do see the raw hostile markdown.
`javascript:` and `file:` links must not survive as links.

The Qt side (QTextDocument loading the card HTML) is in tests/ui/test_reliability_inert.py.
"""

from __future__ import annotations

import gc
import http.server
import json
import os
import re
import subprocess
import sys
import threading
import urllib.request
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path

import pytest
from markdown_it import MarkdownIt

from app.render.incremental import IncrementalRenderer
from app.render.markdown import render_markdown
from tests.fakes.server import Answer, FakeProviderServer
from tests.reliability import record

ROOT = Path(__file__).resolve().parents[2]


class Listener:
    """A loopback HTTP server that counts every connection and request it gets."""

    def __init__(self) -> None:
        self.hits: list[str] = []
        hits = self.hits

        class Handler(http.server.BaseHTTPRequestHandler):
            def _any(self) -> None:
                hits.append(self.path)
                self.send_response(200)
                self.send_header("content-type", "image/png")
                self.send_header("content-length", "0")
                self.end_headers()

            do_GET = do_POST = do_HEAD = _any

            def log_message(self, *args: object) -> None:
                pass

        class Server(http.server.ThreadingHTTPServer):
            def verify_request(self, request, client_address) -> bool:  # every connection, HTTP or not
                hits.append(f"connection from {client_address[0]}")
                return True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def hostile_markdown(base: str) -> str:
    return f"""# A helpful answer

Here is the picture: ![tracker]({base}/md-image.png) and ![ref][img].

[img]: {base}/ref-image.png

<img src="{base}/raw-img.png" onerror="fetch('{base}/onerror')">
<img srcset="{base}/srcset.png 2x">
<picture><source srcset="{base}/source.webp"></picture>
<link rel="stylesheet" href="{base}/style.css">
<iframe src="{base}/frame.html"></iframe>
<script src="{base}/script.js"></script>
<style>@import url("{base}/import.css"); body {{ background: url({base}/css-bg.png) }}</style>
<div style="background-image: url('{base}/inline-css.png')">styled</div>
<svg><image href="{base}/svg.png"/></svg>
<video poster="{base}/poster.png" src="{base}/video.mp4"></video>
<object data="{base}/object.swf"></object>
<embed src="{base}/embed.swf">
<meta http-equiv="refresh" content="0;url={base}/refresh">
<body background="{base}/body-bg.png"></body>

[click me](javascript:fetch('{base}/js-link')) · [open](file:///etc/passwd) · <a href="javascript:alert(1)">js</a>
<a href="file:///etc/shadow">raw file link</a> · [data](data:text/html;base64,PHNjcmlwdD5hbGVydCgxKTwvc2NyaXB0Pg==)

A normal link stays a link: [the docs](https://example.com/docs).

```html
<img src="{base}/in-code-block.png">
```
"""


# --------------------------------------------------------------------------------------------- the viewer

_CSS_URL = re.compile(r"""url\(\s*['"]?([^'")\s]+)|@import\s+['"]([^'"]+)""", re.I)
_AUTOLOAD = {  # tag -> attributes a browser fetches by itself
    "img": ("src", "srcset"), "source": ("src", "srcset"), "script": ("src",), "iframe": ("src",),
    "frame": ("src",), "embed": ("src",), "audio": ("src",), "video": ("src", "poster"), "track": ("src",),
    "object": ("data",), "input": ("src",), "body": ("background",), "table": ("background",),
    "td": ("background",), "image": ("href", "xlink:href"), "use": ("href", "xlink:href"), "link": ("href",),
}


class _Resources(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.urls: list[str] = []
        self.links: list[str] = []
        self._in_style = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = {k.lower(): v or "" for k, v in attrs}
        for name in _AUTOLOAD.get(tag, ()):
            if values.get(name):
                self.urls += [part.strip().split(" ")[0] for part in values[name].split(",")]
        if tag == "meta" and values.get("http-equiv", "").lower() == "refresh":
            match = re.search(r"url\s*=\s*(\S+)", values.get("content", ""), re.I)
            if match:
                self.urls.append(match.group(1))
        if "style" in values:
            self.urls += [a or b for a, b in _CSS_URL.findall(values["style"])]
        if tag == "a" and "href" in values:
            self.links.append(values["href"])
        self._in_style = tag == "style"

    def handle_endtag(self, tag: str) -> None:
        self._in_style = False

    def handle_data(self, data: str) -> None:
        if self._in_style:
            self.urls += [a or b for a, b in _CSS_URL.findall(data)]


def scan(html: str) -> _Resources:
    parser = _Resources()
    parser.feed(html)
    parser.close()
    return parser


def view(html: str) -> list[str]:
    """Load `html` like a browser would: fetch every sub-resource it references. Returns their URLs."""
    found = scan(html)
    for url in found.urls:
        if url.startswith(("http://", "https://")):
            try:
                urllib.request.urlopen(url, timeout=2).read()  # noqa: S310
            except OSError:
                pass
    return found.urls


PERMISSIVE = MarkdownIt("commonmark", {"html": True})  # a viewer that renders raw HTML (Obsidian-like)


def view_markdown(text: str) -> list[str]:
    return view(PERMISSIVE.render(text))


def bad_links(html: str) -> list[str]:
    """<a href> values that are not http(s)/mailto (after the decoding a browser does)."""
    return [h for h in scan(html).links if not re.match(r"^\s*(https?:|mailto:)", h, re.I)]


# --------------------------------------------------------------------------------------------- the test


@pytest.fixture
def listener() -> Iterator[Listener]:
    # Collect leftovers of earlier (GUI) tests here, on the main thread: if the collector ran in our
    # server thread instead, Qt would warn that it cannot stop their timers from another thread.
    gc.collect()
    lst = Listener()
    yield lst
    lst.close()


def test_hostile_markdown_stays_inert_in_the_store_exports_and_cards(listener, tmp_path):
    hostile = hostile_markdown(listener.url)
    # Control: the viewer and the listener work — the raw text, rendered permissively, fetches plenty.
    view_markdown(hostile)
    control_hits = len(listener.hits)
    assert control_hits >= 10, listener.hits
    assert bad_links(PERMISSIVE.render(hostile))  # and carries javascript:/file: links
    listener.hits.clear()

    srv = FakeProviderServer(tokens_per_second=0)
    _url, stop = srv.run_in_thread()
    try:
        pieces = [hostile[i : i + 37] for i in range(0, len(hostile), 37)]  # streamed in awkward cuts
        srv.script("claude-sonnet-5-5", Answer(text=tuple(pieces)))
        env = {k: v for k, v in os.environ.items()
               if not k.endswith(("_API_KEY", "_BASE_URL")) and not k.startswith("TRIPTYCH_")}
        env.update(srv.env())
        env.update({"TRIPTYCH_HOME": str(tmp_path / "home"), "TRIPTYCH_NO_KEYRING": "1", "PYTHONPATH": str(ROOT)})

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "app", *args], env=env, cwd=ROOT, capture_output=True,
                                  text=True, timeout=60)

        r = cli("ask", "--json", "-m", "anthropic:claude-sonnet-5-5", "Show me a picture")
        assert r.returncode == 0, r.stderr
        (o,) = [json.loads(line) for line in r.stdout.splitlines()]
        assert o["text"] == hostile  # stored exactly as the model sent it: inert is about output, not edits
        files = {}
        for fmt in ("html", "md", "canvas"):
            path = tmp_path / f"export.{fmt}"
            r = cli("export", o["session_id"], "--format", fmt, "-o", str(path))
            assert r.returncode == 0, r.stderr
            files[fmt] = path.read_text(encoding="utf-8")
    finally:
        stop()

    # The HTML export, opened in a browser.
    html_export = files["html"]
    assert "the docs" in html_export and "A helpful answer" in html_export  # the content is there
    fetched = view(html_export)
    assert not [u for u in fetched if u.startswith(("http", "file", "//"))], fetched
    assert bad_links(html_export) == []
    # The markdown export, in a viewer that renders raw HTML and images: only the model's own Markdown
    # pictures load. The .md report keeps `![t](url)` exactly as written (decided for issue #20: a .md
    # file is the model's text, Triptych itself never fetches it, the reader's viewer shows what the
    # model meant); every raw-HTML, CSS and script fetch stays dead.
    view_markdown(files["md"])
    assert sorted(h for h in listener.hits if not h.startswith("connection")) == ["/md-image.png", "/ref-image.png"]
    listener.hits.clear()
    assert bad_links(PERMISSIVE.render(files["md"])) == []
    # The canvas export: each card's text, rendered the same way (Obsidian renders canvas cards as markdown).
    canvas = json.loads(files["canvas"])
    for node in canvas["nodes"]:
        if node.get("type") == "text":
            view_markdown(node["text"])
            assert bad_links(PERMISSIVE.render(node["text"])) == [], node["text"][:200]
    # The cards' HTML, whole and while streaming.
    card = render_markdown(o["text"])
    view(card)
    assert bad_links(card) == []
    assert '<a href="https://example.com/docs"' in card  # a safe link stays clickable
    streaming = IncrementalRenderer()
    for end in range(37, len(hostile) + 37, 37):
        view(streaming.update(hostile[:end]))
    view(streaming.update(hostile, final=True))

    assert listener.hits == [], listener.hits
    record("Untrusted output", "hostile markdown (images, <img>, CSS url(), <link>, <iframe>, <script>, "
           "javascript:/file: links) from a model",
           "shown as text or a plain link; nothing is fetched",
           f"the text as sent; 0 requests reached a listener (the raw markdown in a permissive viewer: "
           f"{control_hits})")
