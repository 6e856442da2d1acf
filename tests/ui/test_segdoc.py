"""The segmented card body: split at top-level blocks, rebuild only what changed while streaming."""

from __future__ import annotations

import re

import pytest
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
from ui.canvas.text import CodeShapes, shape_code_blocks

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


def _whole_and_split(html: str, font: QFont, monkeypatch) -> tuple[SegmentedDocument, SegmentedDocument]:
    """The answer laid out as (about) one chunk, and split at every block boundary."""
    docs = []
    for size in (10**9, 1):
        monkeypatch.setattr(segdoc, "CHUNK_CHARS", size)
        doc = SegmentedDocument()
        doc.set_html(html, 420, font, "#000000")
        docs.append(doc)
    return docs[0], docs[1]


def test_chunk_joins_keep_the_spacing_of_one_document(qapp, monkeypatch):
    """A long answer split into many small documents looks exactly like one: no spacing lost at a join
    (a heading glued to the code block above it)."""
    html = render_markdown(JOINS)
    font = QFont()
    whole, split = _whole_and_split(html, font, monkeypatch)
    assert split.chunk_count() > 15 and whole.chunk_count() <= 4  # (the table is a chunk of its own)
    assert abs(split.height() - whole.height()) <= 1
    # Every line where it is in one document: the painted pictures are the same.
    assert _painted(split) == _painted(whole)
    # And where one QTextDocument of the whole answer has it. A card shapes its code blocks (a header
    # line with padded margins, the box it draws under them: ui.canvas.text.shape_code_blocks), so a
    # plain QTextDocument is not the picture of an answer with code: the reference is one document
    # shaped the same way, its boxes drawn as a card draws them. The header's padding makes the blocks
    # below it start at fractional y: a chunk drawn there (translated) anti-aliases the edges of a
    # table's borders and of list bullets a few levels apart from one document drawing them at that
    # y, so this picture is compared within a few levels per channel, and every line's place exactly.
    one, code = _one_document(html, font, shaped=True)
    assert len(code.rects) == 3
    assert whole.code_block_rects() == split.code_block_rects() == code.rects
    assert abs(whole.height() - max(one.size().height(), code.rects[-1].bottom())) <= 1
    assert [round(r.top(), 2) for r in whole.line_rects()] == [round(r.top(), 2) for r in _line_rects(one)]
    assert _max_difference(_painted_one(one, code, _painted(whole)), _painted(whole)) <= 8
    # Without code blocks nothing is shaped and every block starts at a whole pixel: the picture of the
    # card body is exactly the one of a plain QTextDocument.
    plain = render_markdown(re.sub(r"```[a-z]*\n.*?```\n\n", "", JOINS, flags=re.DOTALL))
    assert "<pre" not in plain and "## A heading right after code" in JOINS
    body = SegmentedDocument()
    body.set_html(plain, 420, font, "#000000")
    one, code = _one_document(plain, font, shaped=False)
    assert abs(body.height() - one.size().height()) <= 1
    assert _painted_one(one, code, _painted(body)) == _painted(body)


def _one_document(html: str, font: QFont, shaped: bool) -> tuple[QTextDocument, CodeShapes]:
    one = QTextDocument()
    one.setDocumentMargin(0)
    one.setDefaultFont(font)
    one.setTextWidth(420)
    one.setHtml(html)
    return one, shape_code_blocks(one) if shaped else CodeShapes()


def _painted_one(one: QTextDocument, code: CodeShapes, like: QImage) -> QImage:
    """One document painted as a card paints a chunk: code boxes, text, the marks over code."""
    picture = QImage(like)
    picture.fill(QColor("white"))
    painter = QPainter(picture)
    ctx = QAbstractTextDocumentLayout.PaintContext()
    ctx.palette.setColor(QPalette.ColorRole.Text, QColor("black"))
    ctx.palette.setColor(QPalette.ColorRole.Link, QColor("blue"))
    if code.rects:
        segdoc._draw_code_boxes(painter, code, QColor("black"))
    one.documentLayout().draw(painter, ctx)
    if code.rects:
        segdoc._draw_code_marks(painter, code, QColor("black"))
    painter.end()
    return picture


def _line_rects(doc: QTextDocument) -> list[QRectF]:
    out = []
    block = doc.begin()
    while block.isValid():
        r = doc.documentLayout().blockBoundingRect(block)
        for i in range(block.layout().lineCount()):
            line = block.layout().lineAt(i)
            if line.naturalTextWidth() > 0:
                out.append(
                    QRectF(r.left() + line.x(), r.top() + line.y(), line.naturalTextWidth(), line.height())
                )
        block = block.next()
    return out


def _max_difference(a: QImage, b: QImage) -> int:
    """The largest difference of one colour channel between two pictures of the same size."""
    assert a.size() == b.size() and a.format() == b.format()
    return max(
        (abs(x - y) for x, y in zip(bytes(a.constBits()), bytes(b.constBits()), strict=True)), default=0
    )


CODE_JOINS = {
    "first": "```python\nx = 1\n```\n\nthen text\n\n```\na\n```",
    "in a list": "- item\n\n  ```python\n  x = 1\n  y = 2\n  ```\n\n- next\n\n```js\nz\n```\n\n1. a\n\n   ```\n   q\n   ```\n2. b",
    "in a quote": "> quote\n>\n> ```py\n> x\n> ```\n\nafter\n\n> ```\n> only code\n> ```\n\nend",
    "wrapped": "para\n\n```python\nx = "
    + " + ".join(["abcdef"] * 40)
    + "\n\tif y:\n\t\treturn 1\n```\n\n### h\n\n"
    "```mermaid\ngraph TD; A-->B\n```\n\ntext",
    "indented and rules": "para\n\n    indented code\n    more\n\n## H\n\n---\n\n```\nc\n```\n\n---\n\n```\nd\n```",
}


@pytest.mark.parametrize("text", CODE_JOINS.values(), ids=CODE_JOINS.keys())
def test_chunk_joins_next_to_code_blocks_are_invisible(qapp, monkeypatch, text):
    """Code blocks first in an answer, in lists and quotes, wrapped, after rules: split at every block,
    each line is where it is in one chunk, and the code boxes too."""
    html = render_markdown(text)
    font = QFont()
    whole, split = _whole_and_split(html, font, monkeypatch)
    assert split.chunk_count() > whole.chunk_count() and whole.code_block_rects()
    assert abs(split.height() - whole.height()) <= 1
    assert [round(r.top(), 2) for r in split.line_rects()] == [round(r.top(), 2) for r in whole.line_rects()]
    assert split.code_block_rects() == whole.code_block_rects()
    assert _painted(split) == _painted(whole)


def test_consecutive_alerts_and_the_text_after_them_have_gaps(qapp):
    """Two GitHub alerts in a row show two bars with a gap between them, and the paragraph after them
    does not touch the second (the blockquote's margins never reached the table that draws the bar)."""
    text = "> [!NOTE]\n> First note.\n\n> [!WARNING]\n> Second.\n\nAfter paragraph."
    seg = SegmentedDocument()
    font = QFont()
    font.setPixelSize(14)
    seg.set_html(render_markdown(text), 400, font, "#000000")
    img = QImage(400, int(seg.height()) + 10, QImage.Format.Format_ARGB32)
    img.fill(QColor("white"))
    painter = QPainter(img)
    seg.draw(painter, QRectF(0, 0, 400, seg.height()), 0, QColor("black"), QColor("blue"))
    painter.end()
    # the bars: coloured runs in a column through them
    x = next(x for x in range(40) if img.pixelColor(x, 10).saturation() > 100 or img.pixelColor(x, 20).saturation() > 100)
    runs: list[list[int]] = []
    for y in range(img.height()):
        if img.pixelColor(x, y).saturation() > 100:
            if runs and runs[-1][1] == y - 1:
                runs[-1][1] = y
            else:
                runs.append([y, y])
    assert len(runs) == 2, runs
    assert runs[1][0] - runs[0][1] >= 8, runs  # a visible gap between the two alerts
    after = [r for r in seg.line_rects() if r.left() < 5]  # the paragraph after them (not indented)
    assert after and after[-1].top() - runs[1][1] >= 8, (runs, after)


def test_a_stream_cut_anywhere_ends_as_the_one_shot_text(qapp):
    """A flush that ended inside a code block left a space after its last line once the block closed
    (the kept chunk's html ended in a newline): the card's final text must not depend on the chunking."""
    text = ("Intro.\n\n```python\ndef fib(n):\n    return seq[:n]\n```\n\n| Step | What |\n|---|---|\n"
            "| 1 | heading |\n\n- one\n- two")
    font = QFont()

    def final_text(cuts: list[int]) -> str:
        seg, renderer = SegmentedDocument(), IncrementalRenderer("light")
        for cut in cuts:
            seg.set_html(renderer.update(text[:cut]), 420, font, "#000000")
        seg.set_html(renderer.update(text, final=True), 420, font, "#000000")
        return seg.plain_text()

    whole = final_text([])
    assert [c for c in range(1, len(text)) if final_text([c]) != whole] == []
