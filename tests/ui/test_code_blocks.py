"""Code blocks in a card on the real window (issue #20, part 8): each block says its language in a
header, the Copy button sits in that header (never over code text, and a one-line block at the very
end of an answer has one), and a line too long for the card wraps with a hanging indent and a wrap
arrow."""

from __future__ import annotations

from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QColor, QGuiApplication
from PySide6.QtTest import QTest

from app.render.markdown import CODE_LABEL_STATE
from tests.fakes.server import Answer
from tests.ui.conftest import open_window, wait_until

LONG_LINE = (
    "def fetch_all(session, urls, *, timeout=30, retries=3, backoff=0.5, headers=None, verify=True, "
    "proxies=None, stream=False):"
)
ANSWER = f"""Three ways to do it:

```python
{LONG_LINE}
    return [session.get(u) for u in urls]
```

```javascript
const total = sum(prices);
```

```
plain text, no language
```

    an indented block

Install it:

```bash
pip install triptych
```"""
LABELS = ["Python", "JavaScript", "code", "code", "Bash"]
NESTED = "1. Install:\n\n   ```bash\n   pip install triptych\n   ```\n\n> Quoted:\n>\n> ```python\n> x\n> ```\n"
MODEL = "deepseek:deepseek-flash"


async def _answer_card(window, fake_server, text: str = ANSWER):
    """Ask one model; it streams `text` in a few pieces. Returns its finished card."""
    fake_server.script("deepseek-flash", Answer(text=(text[:30], text[30:140], text[140:])))
    window.composer.set_models([MODEL])
    ids = window.controller.send("Show me code", window.composer.targets(), window.composer.mode())
    graph = window.controller.graph
    await wait_until(lambda: all(not graph.nodes[i].status.is_live for i in ids), 15, "the answer")
    window.controller.flush_repaints()
    (answer,) = [i for i in ids if graph.nodes[i].is_answer]
    assert graph.nodes[answer].text == text
    return window.scene.card(answer)


def _show_at_full_size(window, card) -> None:
    """The canvas at 100 % around the card's body, as a user reads it."""
    body = card.mapRectToScene(card.body_rect)
    window.view.set_viewport(body.center().x(), body.center().y(), 1.0)
    QGuiApplication.processEvents()


async def test_every_code_block_shows_its_language(app_env, fake_server):
    async with open_window() as (window, _services):
        card = await _answer_card(window, fake_server)
        labels = []
        for doc in card.text_documents():
            block = doc.begin()
            while block.isValid():
                if block.userState() == CODE_LABEL_STATE:
                    labels.append(block.text())
                block = block.next()
        assert labels == LABELS
        assert card.code_block_count() == len(LABELS)
        # the label is drawn at the top of its block, left of the block's Copy button
        lines = card.body_line_rects()
        for i, label in enumerate(LABELS):
            button = card.button_rect(f"copy_code:{i}")
            assert button is not None, label
            beside = [r for r in lines if r.top() < button.center().y() < r.bottom()]
            assert len(beside) == 1 and beside[0].right() < button.left(), label


async def test_a_long_code_line_wraps_with_a_hanging_indent_and_a_wrap_arrow(app_env, fake_server):
    async with open_window() as (window, _services):
        card = await _answer_card(window, fake_server)
        doc, block = next(
            (d, b)
            for d in card.text_documents()
            for b in _blocks(d)
            if b.text().startswith("def fetch_all")
        )
        lines = block.layout()
        assert lines.lineCount() >= 2  # too long for the card: wrapped, not cut
        first, second = lines.lineAt(0), lines.lineAt(1)
        char_w = first.naturalTextWidth() / max(first.textLength(), 1)
        assert second.x() >= first.x() + 1.5 * char_w  # the continuation hangs under the line
        marks = card.wrap_mark_rects()
        assert len(marks) == lines.lineCount() - 1  # only the wrapped line has marks, one per continuation
        text_lines = card.body_line_rects()
        for mark in marks:
            continuation = next(r for r in text_lines if abs(r.center().y() - mark.center().y()) < 2)
            assert mark.right() <= continuation.left() + 0.5  # in the gutter, left of the text it marks

        # and the arrow is drawn: its cell has ink where the same cell on an unwrapped line has none
        _show_at_full_size(window, card)
        image = window.view.viewport().grab().toImage()
        dpr = image.devicePixelRatio()

        def ink(rect) -> int:
            top_left = window.view.mapFromScene(card.mapToScene(rect.topLeft()))
            bottom_right = window.view.mapFromScene(card.mapToScene(rect.bottomRight()))
            fill = QColor(image.pixel(int(top_left.x() * dpr) - 2, int(top_left.y() * dpr)))
            count = 0
            for x in range(int(top_left.x() * dpr), int(bottom_right.x() * dpr)):
                for y in range(int(top_left.y() * dpr), int(bottom_right.y() * dpr)):
                    c = QColor(image.pixel(x, y))
                    count += abs(c.lightness() - fill.lightness()) > 40
            return count

        assert ink(marks[0]) >= 4
        below = marks[-1].translated(0, marks[-1].height())  # "    return …": not wrapped, no arrow
        assert ink(below) == 0


async def test_copy_buttons_never_cover_code_text(app_env, fake_server):
    async with open_window() as (window, _services):
        card = await _answer_card(window, fake_server)
        assert card.code_copy_count() == len(LABELS)  # every block has one, the last one-line block too
        lines = card.body_line_rects()
        body = card.body_rect
        for i in range(len(LABELS)):
            button = card.button_rect(f"copy_code:{i}")
            assert button is not None and body.contains(button)
            covered = [r for r in lines if r.intersects(button)]
            assert covered == [], (i, covered)
        # an answer that is one one-line block: its button is there too, inside the card, off the code
        one = await _answer_card(window, fake_server, "```sh\nmake test\n```")
        button = one.button_rect("copy_code:0")
        assert button is not None and one.body_rect.contains(button)
        assert not any(r.intersects(button) for r in one.body_line_rects())
        # blocks in a list item and in a quote (a quote is as wide as its text: here one letter)
        nested = await _answer_card(window, fake_server, NESTED)
        lines = nested.body_line_rects()
        for i in range(2):
            button = nested.button_rect(f"copy_code:{i}")
            assert button is not None and nested.body_rect.contains(button)
            assert not any(r.intersects(button) for r in lines), i


async def test_clicking_copy_on_a_one_line_block_at_the_end_copies_its_exact_code(app_env, fake_server):
    async with open_window() as (window, _services):
        card = await _answer_card(window, fake_server)
        last = len(LABELS) - 1
        rect = card.button_rect(f"copy_code:{last}")
        assert rect is not None, "the one-line block at the end of the answer has no Copy button"
        _show_at_full_size(window, card)
        QGuiApplication.clipboard().setText("something else")
        pos = window.view.mapFromScene(card.mapToScene(rect.center()))
        viewport = window.view.viewport()
        QTest.mouseMove(viewport, pos)
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        await wait_until(lambda: QGuiApplication.clipboard().text() != "something else", 2, "the copy")
        assert QGuiApplication.clipboard().text() == "pip install triptych"
        # and the Python block's button copies that block, its long line whole
        rect = card.button_rect("copy_code:0")
        assert rect is not None
        pos = window.view.mapFromScene(card.mapToScene(QPointF(rect.center())))
        QTest.mouseClick(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        await wait_until(lambda: QGuiApplication.clipboard().text().startswith("def "), 2, "the copy")
        assert QGuiApplication.clipboard().text() == (
            f"{LONG_LINE}\n    return [session.get(u) for u in urls]"
        )


def _blocks(doc):
    block = doc.begin()
    while block.isValid():
        yield block
        block = block.next()
