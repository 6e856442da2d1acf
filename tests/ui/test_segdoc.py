"""The segmented card body: split at top-level blocks, rebuild only what changed while streaming."""

from __future__ import annotations

from PySide6.QtCore import QRectF
from PySide6.QtGui import (
    QAbstractTextDocumentLayout,
    QColor,
    QFont,
    QImage,
    QPainter,
    QPalette,
    QTextDocument,
)

from app.render.incremental import IncrementalRenderer
from app.render.markdown import render_markdown
from ui.canvas import segdoc
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


JOINS = (
    "Intro paragraph with **bold** text.\n\n```python\nx = 1\n```\n\n## A heading right after code\n\n"
    "A paragraph.\n\n| a | b |\n|---|---|\n| 1 | 2 |\n\nAfter the table.\n\n- one\n- two\n  - nested\n\n"
    "1. first\n2. second\n\n> a quote\n\n> [!NOTE]\n> an alert\n\n---\n\n### Small heading\n\n"
    "```\nplain code\n```\n\n```js\nlet y = 2;\n```\n\n#### The end\n\nLast words."
)


def _painted(seg: SegmentedDocument) -> QImage:
    image = QImage(420, int(seg.height()) + 1, QImage.Format.Format_ARGB32)
    image.fill(QColor("white"))
    painter = QPainter(image)
    seg.draw(painter, QRectF(0, 0, 420, image.height()), 0.0, QColor("black"), QColor("blue"))
    painter.end()
    return image


def test_chunk_joins_keep_the_spacing_of_one_document(qapp, monkeypatch):
    """A long answer split into many small documents looks exactly like one: no spacing lost at a join
    (a heading glued to the code block above it)."""
    html = render_markdown(JOINS)
    font = QFont()
    monkeypatch.setattr(segdoc, "CHUNK_CHARS", 10**9)
    whole = SegmentedDocument()
    whole.set_html(html, 420, font, "#000000")
    monkeypatch.setattr(segdoc, "CHUNK_CHARS", 1)
    split = SegmentedDocument()
    split.set_html(html, 420, font, "#000000")
    assert split.chunk_count() > 15 and whole.chunk_count() <= 4  # (the table is a chunk of its own)
    # The same spacing as one QTextDocument of the whole answer.
    one = QTextDocument()
    one.setDocumentMargin(0)
    one.setDefaultFont(font)
    one.setTextWidth(420)
    one.setHtml(html)
    assert abs(split.height() - whole.height()) <= 1
    # Every line where it is in one document: the painted pictures are the same.
    assert _painted(split) == _painted(whole)
    picture = QImage(_painted(whole))
    picture.fill(QColor("white"))
    painter = QPainter(picture)
    ctx = QAbstractTextDocumentLayout.PaintContext()
    ctx.palette.setColor(QPalette.ColorRole.Text, QColor("black"))
    ctx.palette.setColor(QPalette.ColorRole.Link, QColor("blue"))
    one.documentLayout().draw(painter, ctx)
    painter.end()
    assert picture == _painted(whole)
