"""Issue #15 in the window: files dropped on the composer or a card, pasted, or chosen with File →
Attach…; chips with a remove button; bad files refused with one line naming them; the files going out
with the send in each provider's format (a text-only lane failing alone); thumbnails on the prompt
card and the viewer a click on one opens."""

from __future__ import annotations

import asyncio
import base64
import json
from pathlib import Path

from PySide6.QtCore import QMimeData, QPoint, QPointF, Qt, QUrl
from PySide6.QtGui import QColor, QDragEnterEvent, QDragMoveEvent, QDropEvent, QImage
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from app.domain import NodeStatus
from tests.ui import hands
from tests.ui.conftest import cards_of, open_window, wait_until

TEAL = QColor("#12B4A0")


def chart_png(path, width: int = 320, height: int = 200) -> bytes:
    """A real, decodable PNG: teal with a dark bar across the middle."""
    image = QImage(width, height, QImage.Format.Format_RGB32)
    image.fill(TEAL)
    for x in range(width):
        for y in range(height // 2 - 4, height // 2 + 4):
            image.setPixelColor(x, y, QColor("#202020"))
    assert image.save(str(path), "PNG")
    return path.read_bytes()


def drop_files(widget, paths, pos: QPoint | None = None) -> bool:
    """Drag `paths` over `widget` and drop them at `pos` (default: its centre), as a file manager does:
    DragEnter, DragMove, Drop, each sent to the widget under the pointer. Returns whether the drop
    was accepted."""
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = widget.rect().center() if pos is None else pos
    copy, left, none = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
    enter = QDragEnterEvent(pos, copy, mime, left, none)
    QApplication.sendEvent(widget, enter)
    assert enter.isAccepted(), "the drag was not accepted where the user drops"
    move = QDragMoveEvent(pos, copy, mime, left, none)
    QApplication.sendEvent(widget, move)
    drop = QDropEvent(QPointF(pos), copy, mime, left, none)
    QApplication.sendEvent(widget, drop)
    QApplication.sendPostedEvents()
    return drop.isAccepted()


def read(path) -> bytes:
    return Path(path).read_bytes()


def chip_names(window) -> list[str]:
    return [c.attachment.name for c in window.composer.files.chips()]


async def test_drop_on_the_composer_attaches_and_refuses_bad_files_naming_them(app_env, tmp_path):
    chart = tmp_path / "chart.png"
    chart_png(chart)
    svg = tmp_path / "logo.svg"
    svg.write_text("<svg xmlns='http://www.w3.org/2000/svg'><script>alert(1)</script></svg>")
    missing = tmp_path / "gone.png"
    async with open_window() as (window, _services):
        edit = window.composer.edit
        hands.focus(edit)
        hands.type_text(edit, "What does it show?")
        assert drop_files(edit.viewport(), [chart, svg, missing])
        assert chip_names(window) == ["chart.png"]
        chip = window.composer.files.chips()[0]
        assert chip.isVisible() and chip.button.text() == f"chart.png  {chart.stat().st_size} B"
        errors = window.composer.files.error_text().splitlines()
        assert len(errors) == 2
        assert errors[0].endswith("logo.svg: SVG images are not accepted (they can carry scripts): export it as PNG first")
        assert errors[1].endswith("gone.png: no such file")
        assert window.composer.files.error_label.isVisible()
        # nothing else touched: the typed prompt is as it was (no file path inserted into it)
        assert window.composer.text() == "What does it show?"

        # the same file again is not attached twice; a drop on the composer's frame works too
        assert drop_files(window.composer, [chart])
        assert chip_names(window) == ["chart.png"]


async def test_paste_an_image_with_ctrl_v_attaches_a_png(app_env):
    async with open_window() as (window, _services):
        edit = window.composer.edit
        hands.focus(edit)
        hands.type_text(edit, "Explain")
        image = QImage(90, 60, QImage.Format.Format_RGB32)
        image.fill(TEAL)
        QApplication.clipboard().setImage(image)
        hands.press_keys(edit, "Ctrl+V")
        assert chip_names(window) == ["pasted-image-1.png"]
        att = window.composer.attachments()[0]
        assert (att.kind, att.mime, att.width, att.height) == ("image", "image/png", 90, 60)
        assert window.composer.text() == "Explain"
        # text on the clipboard still pastes as text
        QApplication.clipboard().setText(" this")
        hands.press_keys(edit, "Ctrl+V")
        assert window.composer.text() == "Explain this"
        assert len(window.composer.attachments()) == 1


async def test_file_attach_action_and_the_remove_buttons(app_env, tmp_path):
    chart = tmp_path / "chart.png"
    chart_png(chart)
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\n\nQ3 revenue grew 12%.\n")
    async with open_window() as (window, _services):
        asked = []
        window.dialogs.attach_paths = lambda folder: asked.append(folder) or [str(chart), str(notes)]
        action = hands.find_action(window, "File/Attach files…")
        assert action.shortcut().toString() == "Ctrl+Shift+A"
        hands.trigger(window, action)
        assert asked and chip_names(window) == ["chart.png", "notes.md"]
        assert window.composer.files.error_text() == ""

        # the mouse: ✕ on the first chip
        hands.click_widget(window.composer.files.chips()[0].remove)
        assert chip_names(window) == ["notes.md"]
        # the keyboard: Tab reaches the chip's ✕, Space removes it, the focus goes back to the prompt
        remove = window.composer.files.chips()[0].remove
        assert remove.focusPolicy() & Qt.FocusPolicy.TabFocus
        hands.focus(remove)
        hands.press_keys(remove, "Space")
        await asyncio.sleep(0)
        assert chip_names(window) == []
        assert not window.composer.files.isVisible()
        assert window.composer.edit.hasFocus()

        # cancelled dialog: nothing changes
        window.dialogs.attach_paths = lambda folder: []
        hands.trigger(window, action)
        assert chip_names(window) == []


async def test_send_with_an_image_each_provider_format_text_only_lane_fails_alone(app_env, fake_server, tmp_path):
    chart = tmp_path / "chart.png"
    data = chart_png(chart)
    b64 = base64.b64encode(data).decode()
    async with open_window() as (window, _services):
        edit = window.composer.edit
        hands.focus(edit)
        hands.type_text(edit, "What does the chart show?")
        assert drop_files(edit.viewport(), [chart])

        # the estimate counts the image; the lens lists it and says the text-only lane will fail
        hands.click_widget(window.composer.lens_button)
        await wait_until(lambda: "chart.png" in window.lens.text(), 5, "the lens listing the file")
        lens = window.lens.text()
        assert "tokens (est.)" in lens and "will fail before sending" in lens and "cannot read images" in lens
        # the composer says it before sending too, right under the files, without opening the lens
        warning = window.composer.files.warning_text()
        assert "cannot read images" in warning and "chart.png" in warning and "deepseek" in warning.lower(), warning
        assert window.composer.files.warning_label.isVisible()
        with_image = window.composer.estimate_label.text()
        hands.click_widget(window.composer.files.chips()[0].remove)
        await wait_until(lambda: window.composer.estimate_label.text() != with_image, 5, "estimate without it")
        without = window.composer.estimate_label.text()
        assert window.composer.files.warning_text() == ""  # no file, nothing to warn about

        def tokens(label: str) -> int:
            return int(label.split("≈ ", 1)[1].split(" tokens", 1)[0].replace(",", ""))

        assert tokens(with_image) > tokens(without) + 100
        assert drop_files(edit.viewport(), [chart])

        hands.press_keys(edit, "Ctrl+Return")
        await wait_until(lambda: len(cards_of(window, "response")) == 3, 5, "three answer cards")
        assert window.composer.attachments() == [] and not window.composer.files.isVisible()
        assert window.composer.text() == ""
        graph = window.controller.graph

        def node(card):
            return graph.nodes[card.node_id]

        await wait_until(
            lambda: all(node(c).status in (NodeStatus.DONE, NodeStatus.ERROR) for c in cards_of(window, "response")),
            15, "all lanes finished",
        )
        by_model = {node(c).model.split(":")[0]: c for c in cards_of(window, "response")}
        assert node(by_model["anthropic"]).status == NodeStatus.DONE
        assert node(by_model["openai"]).status == NodeStatus.DONE
        deepseek = by_model["deepseek"]
        assert node(deepseek).status == NodeStatus.ERROR
        error = deepseek.error_text
        assert "cannot take the prompt's files" in error and "cannot read images: chart.png was not sent" in error
        assert deepseek.button_actions()[0] == "rerun_other"  # its first offer: another model

        bodies = {r.flavor: json.dumps(r.body) for r in fake_server.requests if r.fmt != "models"}
        assert "deepseek" not in bodies  # nothing sent to the text-only model
        anthropic = next(r.body for r in fake_server.requests if r.flavor == "anthropic")
        parts = anthropic["messages"][-1]["content"]
        assert parts[0] == {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": b64}}
        assert parts[-1]["type"] == "text" and "What does the chart show?" in parts[-1]["text"]
        assert f"data:image/png;base64,{b64}" in bodies["openai"]

        # the prompt card shows the picture where its tile is; a click there opens the viewer
        prompt = cards_of(window, "prompt")[0]
        (action, rect), = prompt.file_tiles()
        assert action == "open_file:0"
        window.view.centerOn(prompt)
        await asyncio.sleep(0.05)
        pos = window.view.mapFromScene(prompt.mapToScene(rect.center()))
        shot = window.view.viewport().grab().toImage()
        seen = shot.pixelColor(pos.x(), pos.y() - int(rect.height() / 4))
        assert abs(seen.green() - TEAL.green()) < 20 and abs(seen.red() - TEAL.red()) < 20, seen.name()
        QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        await wait_until(lambda: window.attach.viewer is not None and window.attach.viewer.isVisible(), 3, "viewer")
        viewer = window.attach.viewer
        assert viewer.attachment.name == "chart.png"
        assert viewer.image_label.pixmap().size().width() == 320  # full size, not the thumbnail
        hands.focus(viewer.close_button)
        await wait_until(lambda: QApplication.activeWindow() is viewer, 3, "the viewer active")
        hands.press_keys(viewer.close_button, "Esc")
        await wait_until(lambda: window.attach.viewer is None, 3, "the viewer closed")

        # a file dropped on the prompt card: attached, and the next send follows up its answers
        notes = tmp_path / "notes.md"
        notes.write_text("more data\n")
        assert drop_files(window.view.viewport(), [notes], window.view.mapFromScene(prompt.sceneBoundingRect().center()))
        assert chip_names(window) == ["notes.md"]
        followed = set(window.controller.follow_ids())
        assert followed == {by_model["anthropic"].node_id, by_model["openai"].node_id}
        assert window.composer.send_label() == "Continue 2 lanes"


def click_tile(window, card, index: int) -> None:
    """A left click on the card's `index`-th file tile, where it is on screen."""
    window.view.centerOn(card)
    QApplication.sendPostedEvents()
    _action, rect = card.file_tiles()[index]
    pos = window.view.mapFromScene(card.mapToScene(rect.center()))
    assert window.view.viewport().rect().contains(pos)
    QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)


async def test_pdf_and_text_tiles_open_inside_triptych_more_tile_and_branch_keeps_files(
    app_env, fake_server, tmp_path, monkeypatch
):
    from tests import attach_samples
    from ui import attach

    opened: list[QUrl] = []

    class Desktop:  # the system's viewer: only the Open button may reach it
        @staticmethod
        def openUrl(url) -> bool:
            opened.append(url)
            return True

    monkeypatch.setattr(attach, "QDesktopServices", Desktop)
    report = tmp_path / "report.pdf"
    report.write_bytes(attach_samples.pdf("Revenue grew", pages=2))
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes\nline two\n")
    shots = []
    for i, color in enumerate(("#AA2020", "#20AA20", "#2020AA", "#AAAA20")):
        image = QImage(320, 200, QImage.Format.Format_RGB32)
        image.fill(QColor(color))
        shots.append(tmp_path / f"shot{i}.png")
        assert image.save(str(shots[-1]))
    async with open_window() as (window, _services):
        window.dialogs.attach_paths = lambda folder: [str(report), str(notes), *map(str, shots)]
        hands.trigger(window, "File/Attach files…")
        assert len(chip_names(window)) == 6
        hands.send(window, "Summarise these")
        await wait_until(lambda: cards_of(window, "prompt"), 5, "the prompt card")
        prompt = cards_of(window, "prompt")[0]
        tiles = [action for action, _rect in prompt.file_tiles()]
        assert tiles == ["open_file:0", "open_file:1", "open_file:2"]  # two chips, then "+4" more
        assert prompt.button_rect("open_file:2").width() < 60

        click_tile(window, prompt, 1)  # notes.md: its text, in Triptych
        await wait_until(lambda: window.attach.viewer is not None, 3, "the viewer")
        viewer = window.attach.viewer
        assert viewer.attachment.name == "notes.md"
        assert viewer.text_view.isVisible() and viewer.text_view.toPlainText() == "# Notes\nline two\n"
        viewer.prev_button.click()  # report.pdf: name, pages, size
        assert viewer.attachment.name == "report.pdf" and "PDF, 2 pages" in viewer.info.text()
        assert opened == []  # nothing launched without the Open button
        viewer.open_button.click()
        assert len(opened) == 1 and opened[0].isLocalFile()
        copy = opened[0].toLocalFile()
        assert copy.endswith("report.pdf") and read(copy) == read(report)
        viewer.close()
        await wait_until(lambda: window.attach.viewer is None, 3, "the viewer closed")

        click_tile(window, prompt, 2)  # "+4": the first file not shown
        await wait_until(lambda: window.attach.viewer is not None, 3, "the viewer")
        assert window.attach.viewer.attachment.name == "shot0.png"
        window.attach.viewer.close()
        await wait_until(lambda: window.attach.viewer is None, 3, "the viewer closed")

        # Edit & branch on the prompt brings back its text and its files
        rect = prompt.button_rect("branch")
        pos = window.view.mapFromScene(prompt.mapToScene(rect.center()))
        QTest.mouseClick(window.view.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, pos)
        assert window.composer.text() == "Summarise these"
        assert chip_names(window) == ["report.pdf", "notes.md", "shot0.png", "shot1.png", "shot2.png", "shot3.png"]


async def test_a_composer_chip_opens_the_viewer_and_text_drags_still_insert_text(app_env, tmp_path):
    chart = tmp_path / "chart.png"
    chart_png(chart)
    async with open_window() as (window, _services):
        edit = window.composer.edit
        assert drop_files(edit.viewport(), [chart])
        hands.click_widget(window.composer.files.chips()[0].button)
        await wait_until(lambda: window.attach.viewer is not None, 3, "the viewer")
        assert window.attach.viewer.attachment.name == "chart.png"
        window.attach.viewer.close()
        await wait_until(lambda: window.attach.viewer is None, 3, "the viewer closed")
        # a text drag (a link from a browser) is not a file: the prompt box inserts it as before
        mime = QMimeData()
        mime.setText("https://example.com/x.png")
        mime.setUrls([QUrl("https://example.com/x.png")])
        pos = edit.viewport().rect().center()
        copy, left, none = Qt.DropAction.CopyAction, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier
        QApplication.sendEvent(edit.viewport(), QDragEnterEvent(pos, copy, mime, left, none))
        QApplication.sendEvent(edit.viewport(), QDragMoveEvent(pos, copy, mime, left, none))
        QApplication.sendEvent(edit.viewport(), QDropEvent(QPointF(pos), copy, mime, left, none))
        assert "https://example.com/x.png" in window.composer.text()
        assert chip_names(window) == ["chart.png"]
