"""The segmented card body: split at top-level blocks, rebuild only what changed while streaming."""

from __future__ import annotations

from PySide6.QtGui import QFont, QTextDocument

from app.render.incremental import IncrementalRenderer
from app.render.markdown import render_markdown
from ui.canvas.segdoc import SegmentedDocument, split_blocks

TEXT = "\n\n".join(
    f"## Part {i}\n\nSome *prose* with `code` and a [link](https://example.com/{i}).\n\n"
    f"```python\ndef f{i}(x):\n    return x + {i}\n```\n\n| a | b |\n|---|---|\n| {i} | {i * 2} |\n\n- one\n- two\n  - nested"
    for i in range(40)
)


def test_split_blocks_finds_top_level_ends_only():
    html = "<h2>T</h2>\n<ul>\n<li><p>a</p>\n<ul><li>b</li></ul></li>\n</ul>\n<pre>x &lt;p&gt; y</pre>\n<hr />\n<p>z</p>\n"
    ends = split_blocks(html)
    pieces = [html[a:b].strip() for a, b in zip([0, *ends[:-1]], ends, strict=True)]
    assert pieces[0] == "<h2>T</h2>" and pieces[1].startswith("<ul>") and pieces[1].endswith("</ul>")
    assert pieces[2] == "<pre>x &lt;p&gt; y</pre>" and pieces[3] == "<hr />" and pieces[4] == "<p>z</p>"


def test_streaming_rebuilds_only_the_tail(qapp):
    seg = SegmentedDocument()
    renderer = IncrementalRenderer("light")
    font = QFont()
    step = 97
    first_chunks = None
    for end in range(step, len(TEXT) + step, step):
        seg.set_html(renderer.update(TEXT[:end]), 420, font, "#000000")
        if end > len(TEXT) * 0.8 and first_chunks is None:
            first_chunks = [c.doc for c in seg._chunks[:-2]]
    seg.set_html(renderer.update(TEXT, final=True), 420, font, "#000000")
    assert seg.chunk_count() > 5
    # the early chunks were laid out once and kept, not rebuilt on every update
    assert [c.doc for c in seg._chunks[: len(first_chunks)]] == first_chunks
    # same text and about the same height as one big document
    whole = QTextDocument()
    whole.setDocumentMargin(0)
    whole.setDefaultFont(font)
    whole.setTextWidth(420)
    whole.setHtml(render_markdown(TEXT))
    assert seg.plain_text().split() == whole.toPlainText().split()
    assert abs(seg.height() - whole.size().height()) < whole.size().height() * 0.1
    assert len(seg.code_block_rects()) == 40
    rects = seg.code_block_rects()
    assert all(b.top() >= a.bottom() for a, b in zip(rects, rects[1:], strict=False))
