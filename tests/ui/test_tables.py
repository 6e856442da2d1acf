"""Tables in real answers: a wide table keeps whole words and scrolls sideways inside its card (Shift+wheel,
a sideways wheel or its drawn scroll bar) and in focus mode; a narrow table stays as it was."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QAction, QTextDocument, QTextTable, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.domain import NodeStatus
from tests.fakes.server import Answer
from tests.ui.conftest import DEFAULT_MODELS, cards_of, open_window, send_mouse, wait_until

WIDE_TABLE = (
    "| Model | Provider | Context window | Input price | Output price | Throughput | Latency (p50) "
    "| Reasoning support | Licence | Notes |\n"
    "|---|---|---|---|---|---|---|---|---|---|\n"
    "| claude-sonnet-4 | Anthropic | 200k tokens | $3 per million | $15 per million | 78 tok/s | 1.9 seconds "
    "| extended thinking | proprietary | strong at refactoring large codebases, follows long instructions well |\n"
    "| deepseek-reasoner | DeepSeek | 64k tokens | $0.55 per million | $2.19 per million | 31 tok/s "
    "| 4.2 seconds | always on | MIT | cheap, verbose chain of thought |\n"
    "| gpt-4.1-mini | OpenAI | 1M tokens | $0.40 per million | $1.60 per million | 92 tok/s | 0.8 seconds "
    "| none | proprietary | fast and inexpensive |\n"
)
NARROW_TABLE = "| Crate | Streaming |\n|---|---|\n| csv | yes |\n| polars | lazy |\n"
PROSE = "\n\n".join(
    f"Paragraph {i}: the cheaper models answer quickly, but the reasoning ones explain their steps."
    for i in range(14)
)
ANSWER = f"Here is how the models compare:\n\n{WIDE_TABLE}\n{PROSE}\n\n{NARROW_TABLE}\nPick by budget."


def _tables(doc: QTextDocument) -> list[QTextTable]:
    return [f for f in doc.rootFrame().childFrames() if isinstance(f, QTextTable)]


def _broken_words(doc: QTextDocument, table: QTextTable) -> list[str]:
    """Cell lines of the table's layout that end inside a word (a break after a space or a hyphen is
    a word boundary), shown as "line / next line"."""
    broken = []
    for row in range(table.rows()):
        for col in range(table.columns()):
            cell = table.cellAt(row, col)
            block = cell.firstCursorPosition().block()
            while block.isValid() and block.position() <= cell.lastPosition():
                text, layout = block.text(), block.layout()
                for i in range(1, layout.lineCount()):
                    cut = layout.lineAt(i).textStart()
                    if text[cut - 1] not in " -" and not text[cut].isspace():
                        broken.append(f"{text[:cut]} / {text[cut:]}")
                block = block.next()
    return broken


def _wheel(view, pos: QPoint, delta: QPoint, mods=Qt.KeyboardModifier.NoModifier) -> None:
    vp = view.viewport()
    event = QWheelEvent(
        QPointF(pos),
        QPointF(vp.mapToGlobal(pos)),
        QPoint(0, 0),
        delta,
        Qt.MouseButton.NoButton,
        mods,
        Qt.ScrollPhase.NoScrollPhase,
        False,
    )
    QApplication.sendEvent(vp, event)
    QApplication.processEvents()


async def _answered(window, fake_server, text: str):
    for model in DEFAULT_MODELS:
        fake_server.script(model.split(":", 1)[1], Answer(text=(text,)))
    QTest.keyClicks(window.composer.edit, "Compare the models in a table")
    QTest.keyClick(window.composer.edit, Qt.Key.Key_Return, Qt.KeyboardModifier.ControlModifier)
    graph = window.controller.graph

    def answers():
        return [c for c in cards_of(window) if graph.nodes[c.node_id].is_answer]

    await wait_until(
        lambda: (
            len(answers()) == 3 and all(graph.nodes[c.node_id].status == NodeStatus.DONE for c in answers())
        ),
        15,
        "three answers done",
    )
    card = answers()[0]
    await wait_until(lambda: "Pick by budget." in card.body_text, 5, "the whole answer shown")
    return card


async def test_a_wide_table_keeps_whole_words_and_scrolls_sideways_in_its_card(app_env, fake_server, qtbot):
    async with open_window() as (window, _services):
        card = await _answered(window, fake_server, ANSWER)
        view = window.view
        window.scene.select_only([card.node_id])
        view.ensure_card_visible(card.node_id)
        QApplication.processEvents()
        # The wide table is laid out at its columns' natural width, no word split over two lines.
        table_docs = [d for d in card.text_documents() if _tables(d)]
        assert len(table_docs) == 2  # the wide and the narrow table
        wide_doc = next(d for d in table_docs if "Throughput" in d.toPlainText())
        (table,) = _tables(wide_doc)
        assert _broken_words(wide_doc, table) == []
        body = card.body_rect
        assert wide_doc.size().width() > body.width() * 2
        # The card followed the answer to its end: wheel its body back to the top, where the table is.
        middle = view.mapFromScene(card.mapToScene(body.center()))
        for _ in range(40):
            _wheel(view, middle, QPoint(0, 120))
        assert card.body_scroll() == 0
        # It shows clipped to the card's body, and scrolls sideways.
        (rect,) = card.wide_table_rects()
        assert rect.width() <= body.width() + 0.5
        offset, span = card.table_scroll(rect.center())
        assert offset == 0 and span > body.width()
        at = view.mapFromScene(card.mapToScene(rect.center()))
        before = view.viewport().grab().toImage()
        _wheel(view, at, QPoint(0, -120), Qt.KeyboardModifier.ShiftModifier)  # Shift+wheel down: to the right
        offset, _ = card.table_scroll(rect.center())
        assert offset > 0
        view.viewport().repaint()
        assert view.viewport().grab().toImage() != before  # other columns show
        _wheel(view, at, QPoint(-120, 0))  # a sideways wheel (a trackpad, a tilting wheel)
        assert card.table_scroll(rect.center())[0] > offset
        # The plain wheel over the table still scrolls the card's long body up and down.
        assert card.body_scroll() == 0
        _wheel(view, at, QPoint(0, -120))
        assert card.body_scroll() > 0
        # The thin scroll bar drawn under the table can be dragged back to the start.
        (rect,) = card.wide_table_rects()
        offset, span = card.table_scroll(rect.center())
        bar_y = rect.bottom() - 5
        card_at = card.scenePos()
        start = view.mapFromScene(card.mapToScene(QPointF(rect.left() + 30, bar_y)))
        send_mouse(view.viewport(), QEvent.Type.MouseButtonPress, start)
        for dx in (-40, -120, -300):
            send_mouse(
                view.viewport(),
                QEvent.Type.MouseMove,
                start + QPoint(dx, 0),
                Qt.MouseButton.NoButton,
                Qt.MouseButton.LeftButton,
            )
        send_mouse(
            view.viewport(),
            QEvent.Type.MouseButtonRelease,
            start + QPoint(-300, 0),
            Qt.MouseButton.LeftButton,
            Qt.MouseButton.NoButton,
        )
        assert card.table_scroll(rect.center())[0] == 0
        assert card.scenePos() == card_at and not card.has_text_selection  # the bar moved, not the card


async def test_a_narrow_table_stays_in_the_card_as_it_was(app_env, fake_server, qtbot):
    async with open_window() as (window, _services):
        card = await _answered(window, fake_server, f"Two crates:\n\n{NARROW_TABLE}\nPick by budget.")
        assert card.wide_table_rects() == []
        (doc,) = [d for d in card.text_documents() if _tables(d)]
        assert doc.size().width() <= card.body_rect.width()


async def test_focus_mode_scrolls_a_wide_table_sideways_with_whole_words(app_env, fake_server, qtbot):
    async with open_window() as (window, _services):
        card = await _answered(window, fake_server, ANSWER)
        window.scene.select_only([card.node_id])
        window.view.setFocus()
        action = next(a for a in window.findChildren(QAction) if a.text() == "Focus mode")
        action.trigger()
        dialog = window._focus_dialog
        assert dialog is not None
        await wait_until(lambda: dialog.isVisible(), 5, "focus mode open")
        browser = dialog.browser
        doc = browser.document()
        wide = next(t for t in _tables(doc) if t.columns() == 10)
        assert _broken_words(doc, wide) == []
        assert browser.horizontalScrollBar().maximum() > 0
        dialog.close()


MEDIUM_TABLE = (
    "| Approach | Strengths | Weaknesses | Typical throughput | Recommendation |\n|---|---|---|---|---|\n"
    "| Streaming reader with typed rows | memory stays flat, errors point at the line | a struct per file layout "
    "| 400 megabytes per second | the default for large files |\n"
    "| DataFrame (lazy evaluation) | joins, group-by and filters without loops | heavier dependency tree "
    "| depends on the query plan | analytics over several files |\n"
)


async def test_focus_mode_shares_a_squeezed_table_at_spaces_only(app_env, fake_server, qtbot):
    """A table a little wider than the page shares the page's width among its columns, never below a
    column's longest word, at any window width (a guard for the squeezed case of ui.canvas.tables:
    the real window's fonts had Qt's own share split "Throughp / ut")."""
    async with open_window() as (window, _services):
        card = await _answered(window, fake_server, f"Two ways:\n\n{MEDIUM_TABLE}\nPick by budget.")
        window.scene.select_only([card.node_id])
        window.view.setFocus()
        next(a for a in window.findChildren(QAction) if a.text() == "Focus mode").trigger()
        dialog = window._focus_dialog
        await wait_until(lambda: dialog is not None and dialog.isVisible(), 5, "focus mode open")
        browser = dialog.browser
        doc = browser.document()
        for width in (760, 880, 1000):
            dialog.resize(width, 600)  # the reader sizes the window; the table follows once it rests
            await asyncio.sleep(0.25)
            (table,) = _tables(doc)
            assert _broken_words(doc, table) == [], width
            assert browser.horizontalScrollBar().maximum() == 0, width  # it fits: no sideways scrolling
        dialog.close()


def _indented(prefix: str, text: str) -> str:
    return "\n".join(prefix + line for line in text.splitlines())


NESTED_ANSWER = (
    "Two options:\n\n- In a list item:\n\n"
    + _indented("  ", WIDE_TABLE)
    + "\n\n> Quoted from the docs:\n>\n"
    + _indented("> ", WIDE_TABLE)
    + "\n\nPick by budget."
)


async def test_wide_tables_in_list_items_and_quotes_scroll_sideways_in_their_card(app_env, fake_server, qtbot):
    """A wide table inside a list item or a block quote keeps whole words and scrolls sideways in the card
    like a top-level one (they were squeezed into the card, words split a few letters per line); the
    list item's text and the quote's bar beside it stay where they are."""
    async with open_window() as (window, _services):
        card = await _answered(window, fake_server, NESTED_ANSWER)
        view = window.view
        window.scene.select_only([card.node_id])
        view.ensure_card_visible(card.node_id)
        QApplication.processEvents()
        for doc in card.text_documents():
            for table in [t for f in doc.rootFrame().childFrames() for t in [f, *f.childFrames()]]:
                if isinstance(table, QTextTable) and table.columns() == 10:
                    assert _broken_words(doc, table) == []
        rects = card.wide_table_rects()
        assert len(rects) == 2, rects
        for rect in rects:
            if not card.body_rect.contains(rect.center()):
                continue
            offset, span = card.table_scroll(rect.center())
            assert offset == 0 and span > card.body_rect.width()
            at = view.mapFromScene(card.mapToScene(rect.center()))
            # the list item's or the quote's own line above the table (and the quote's bar)
            corner = view.mapFromScene(card.mapToScene(rect.topLeft()))
            width = round(rect.width() * view.transform().m11())

            def text_line(corner=corner, width=width):
                return view.viewport().grab().toImage().copy(corner.x(), corner.y(), width, 14)

            before = text_line()
            _wheel(view, at, QPoint(0, -120), Qt.KeyboardModifier.ShiftModifier)
            assert card.table_scroll(rect.center())[0] > 0
            assert text_line() == before  # only the table moved


async def test_focus_mode_scrolls_only_the_wide_table_not_the_page(app_env, fake_server, qtbot):
    """In focus mode a sideways wheel over a wide table moves that table, not the whole page: the text
    above it stays where it was (the page used to scroll sideways, the prose out of sight); over the
    prose it moves nothing. Its drawn bar drags it back. Tables in a list item or a quote scroll too."""
    async with open_window() as (window, _services):
        card = await _answered(window, fake_server, ANSWER + "\n\n" + NESTED_ANSWER)
        window.scene.select_only([card.node_id])
        window.view.setFocus()
        next(a for a in window.findChildren(QAction) if a.text() == "Focus mode").trigger()
        dialog = window._focus_dialog
        await wait_until(lambda: dialog is not None and dialog.isVisible(), 5, "focus mode open")
        browser = dialog.browser
        vp = browser.viewport()
        tables = browser.wide_tables()
        assert len(tables) == 3  # the top-level one, the one in a list item, the quoted one
        rect, span = tables[0]
        assert span > 100
        table_at = QPoint(vp.width() // 2, round(rect.center().y() - browser.verticalScrollBar().value()))
        prose_at = QPoint(vp.width() // 2, max(round(rect.top() - browser.verticalScrollBar().value()) - 6, 2))

        def strip(y0: int, y1: int):
            return vp.grab().toImage().copy(0, y0, vp.width(), y1 - y0)

        top_y = round(rect.top() - browser.verticalScrollBar().value())
        prose_before = strip(0, top_y)
        table_before = strip(table_at.y() - 8, table_at.y() + 8)
        _wheel(browser, table_at, QPoint(0, -120), Qt.KeyboardModifier.ShiftModifier)
        _wheel(browser, table_at, QPoint(-240, 0))
        assert browser.table_offsets()[0] > 0
        assert browser.horizontalScrollBar().value() == 0  # the page did not move
        vp.repaint()
        assert strip(0, top_y) == prose_before  # the text above the table stayed put
        assert strip(table_at.y() - 8, table_at.y() + 8) != table_before  # other columns show
        offsets = browser.table_offsets()
        _wheel(browser, prose_at, QPoint(-240, 0))
        assert browser.table_offsets() == offsets and browser.horizontalScrollBar().value() == 0
        # The bar under the table drags it back to its start.
        bar_y = round(rect.bottom() - browser.verticalScrollBar().value() + browser.BAND / 2)
        start = QPoint(vp.width() // 2, bar_y)
        send_mouse(vp, QEvent.Type.MouseButtonPress, start)
        send_mouse(vp, QEvent.Type.MouseMove, start + QPoint(-vp.width(), 0), Qt.MouseButton.NoButton,
                   Qt.MouseButton.LeftButton)
        send_mouse(vp, QEvent.Type.MouseButtonRelease, start + QPoint(-vp.width(), 0), Qt.MouseButton.LeftButton,
                   Qt.MouseButton.NoButton)
        assert browser.table_offsets()[0] == 0
        assert not browser.textCursor().hasSelection()  # the bar moved, no text was selected
        # The next answer (→) shows its own tables from their first column, not this one's offsets.
        _wheel(browser, table_at, QPoint(-240, 0))
        assert browser.table_offsets()[0] > 0
        first = dialog.node_id
        QTest.keyClick(dialog, Qt.Key.Key_Right)
        assert dialog.node_id != first
        assert not any(browser.table_offsets())
        dialog.close()
