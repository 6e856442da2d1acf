"""The start picture (ui/start_picture.py, ui/launch.py): reopening Triptych shows the window as it
closed within a fraction of the start-up, only while that picture is still true, and hands over to
the real window without losing keys typed meanwhile."""

from __future__ import annotations

import os
import stat
import sys
from pathlib import Path

import pytest
from PySide6.QtCore import QEvent, QSize, Qt
from PySide6.QtGui import QColor, QKeyEvent
from PySide6.QtWidgets import QApplication, QWidget

from app.domain import Node, NodeKind
from app.start import _gui_data_dir
from tests.ui.conftest import open_window, wait_until
from ui import start_picture
from ui.start_picture import META_NAME, PICTURE_NAME, StartPreview

ROOT = Path(__file__).resolve().parents[2]


def _window(size=(640, 400)) -> QWidget:
    widget = QWidget()
    widget.setWindowTitle("Triptych — picture test")
    widget.resize(*size)
    widget.setStyleSheet("background: #123456")
    widget.show()
    return widget


def _type(widget: QWidget, ch: str) -> None:
    key = {"\b": Qt.Key.Key_Backspace, "\r": Qt.Key.Key_Return}.get(ch) or Qt.Key(ord(ch.upper()))
    QApplication.sendEvent(widget, QKeyEvent(QEvent.Type.KeyPress, key, Qt.KeyboardModifier.NoModifier, ch))


def _save_closed_store(home: Path, widget: QWidget) -> None:
    (home / "triptych.db").write_bytes(b"store")
    (home / "config.toml").write_text("[ui]\n")
    assert start_picture.save(home, start_picture.grab(widget))


def test_picture_is_shown_only_while_it_is_still_true(qapp, tmp_path, monkeypatch):
    home = tmp_path
    widget = _window()
    _save_closed_store(home, widget)
    for name in (PICTURE_NAME, META_NAME):  # owner-only, like the store
        assert stat.S_IMODE(os.stat(home / name).st_mode) == 0o600
    loaded = start_picture.load(home)
    assert loaded is not None
    pixmap, record = loaded
    assert (pixmap.width(), pixmap.height()) == (640, 400) and record["title"] == "Triptych — picture test"
    assert QColor(pixmap.toImage().pixel(5, 5)) == QColor("#123456")

    # A store left with an empty WAL (a process that did not close it) holds nothing new.
    (home / "triptych.db-wal").write_bytes(b"")
    assert start_picture.load(home) is not None
    (home / "triptych.db-wal").unlink()

    def untrue(change, why: str) -> None:
        """After `change`, the picture is not shown, and is gone from disk."""
        _save_closed_store(home, widget)
        assert start_picture.load(home) is not None
        with monkeypatch.context() as patch:
            change(patch)
            assert start_picture.load(home) is None, why
        assert not (home / PICTURE_NAME).exists() and not (home / META_NAME).exists(), why
        (home / "triptych.db-wal").unlink(missing_ok=True)

    untrue(lambda p: (home / "triptych.db-wal").write_bytes(b"x" * 32), "the store was written since")
    untrue(lambda p: (home / "config.toml").write_text("[ui]\ntheme = 'dark'\n"), "the config was edited")
    untrue(lambda p: p.setattr(start_picture, "color_scheme", lambda: 99), "the system went dark")
    untrue(lambda p: p.setattr(start_picture, "__version__", "9.9.9"), "another version of the app")
    untrue(lambda p: p.setenv("PICTURE_TEST_API_KEY", "k" * 8), "a key variable was set: other models")
    untrue(lambda p: (home / PICTURE_NAME).write_bytes(b"not a png"), "a damaged picture")
    untrue(lambda p: (home / META_NAME).write_text("{not json"), "a damaged record")

    with monkeypatch.context() as patch:  # turned off: no picture shown, none written, the old one gone
        _save_closed_store(home, widget)
        patch.setenv("TRIPTYCH_NO_START_PICTURE", "1")
        assert start_picture.open_preview(home) is None
        assert not start_picture.save(home, start_picture.grab(widget))
        assert not (home / PICTURE_NAME).exists() and not (home / META_NAME).exists()

    with monkeypatch.context() as patch:
        patch.setenv("PICTURE_TEST_API_KEY", "k" * 8)
        _save_closed_store(home, widget)
        record = (home / META_NAME).read_text()
        assert "PICTURE_TEST_API_KEY" in record and "k" * 8 not in record  # names, never values
    widget.close()


def test_preview_takes_the_saved_geometry_and_refuses_another_size(qapp, tmp_path):
    widget = _window((640, 400))
    _save_closed_store(tmp_path, widget)
    pixmap, record = start_picture.load(tmp_path)
    preview = StartPreview(pixmap, record)
    assert preview.size() == widget.size() and preview.fits()
    assert preview.windowTitle() == "Triptych — picture test"
    assert preview.cursor().shape() == Qt.CursorShape.BusyCursor  # it is not the app yet
    preview.resize(600, 400)  # say, a smaller screen clamped the restored geometry
    assert not preview.fits()
    widget.close()
    preview.deleteLater()


async def test_a_maximized_window_is_pictured_at_its_maximized_size(qapp, tmp_path):
    widget = QWidget()
    widget.resize(300, 200)
    widget.showMaximized()
    await wait_until(lambda: widget.width() > 300, what="the window maximized")
    _save_closed_store(tmp_path, widget)
    preview = StartPreview(*start_picture.load(tmp_path))
    assert preview.size() == QSize(300, 200)  # restored, not shown yet: the un-maximized size
    assert preview.isMaximized() and preview.fits()  # the same screen area as when pictured
    preview.show()
    await wait_until(lambda: preview.size() == widget.size(), what="the picture shown maximized")
    preview._screen = [0, 0, 1280, 720]  # pictured on another screen (or another work area)
    assert not preview.fits()
    preview.close()
    widget.close()


def _shown_picture(pictures: Path) -> StartPreview:
    """A start picture of a closed test window, saved in `pictures` and shown."""
    pictures.mkdir()
    widget = _window()
    _save_closed_store(pictures, widget)
    widget.close()
    preview = StartPreview(*start_picture.load(pictures))
    preview.show()
    return preview


async def test_keys_typed_on_the_picture_reach_the_prompt_and_it_closes_once_the_canvas_paints(
    qapp, app_env
):
    preview = _shown_picture(app_env.parent / "pictures")
    for ch in "Whyy\b?\r":  # typed, with a Backspace and Enter
        _type(preview, ch)
    QApplication.sendEvent(preview, QKeyEvent(QEvent.Type.KeyPress, Qt.Key.Key_Shift, Qt.KeyboardModifier.NoModifier))
    assert preview.typed == list("Why?\n")
    async with open_window() as (window, _services):
        window.composer.set_text("Compare: ")
        preview.hand_over(window, window.view.viewport(), window.composer.edit, window.composer.append_text)
        assert window.composer.text() == "Compare: Why?\n"
        # keys still queued when the window took over (the GUI thread was busy): the prompt's too
        for ch in "Ok\b!":
            _type(preview, ch)
        assert window.composer.text() == "Compare: Why?\nO!"
        window.view.viewport().update()
        closed = []
        preview.destroyed.connect(lambda: closed.append(True))
        await wait_until(lambda: closed, what="the picture closed (and freed) after the canvas painted")
        assert window.isVisible()


async def test_closing_the_picture_while_the_window_is_built_closes_the_app(qapp, app_env):
    preview = _shown_picture(app_env.parent / "pictures")
    # The user clicks its close button: a spontaneous close event (Qt's own; a test's sendEvent is
    # never spontaneous), which sets this flag in StartPreview.closeEvent.
    preview.closed_by_user = True
    preview.close()
    async with open_window() as (window, _services):
        preview.hand_over(window, window.view.viewport(), window.composer.edit, window.composer.append_text)
        await wait_until(lambda: not window.isVisible(), what="the window closed as the user asked")


async def test_closing_the_window_saves_its_picture_unless_answers_were_streaming(qapp, app_env, monkeypatch):
    async with open_window() as (window, _services):
        window.close()
        assert window.start_picture is not None
        assert window.start_picture.image.size() == window.size() * window.devicePixelRatioF()
        assert window.start_picture.title == window.windowTitle()
    async with open_window() as (window, services):
        monkeypatch.setattr(type(services.engine), "running_count", property(lambda engine: 1))
        window.close()  # answers streaming (the quit was confirmed): their cards are about to change
        assert window.start_picture is None


def test_only_opening_the_app_skips_the_cli():
    assert _gui_data_dir([]) == (True, None)
    assert _gui_data_dir(["gui"]) == (True, None)
    assert _gui_data_dir(["--data-dir", "/d"]) == (True, "/d")
    assert _gui_data_dir(["gui", "--data-dir=/d"]) == (True, "/d")
    assert _gui_data_dir(["sessions"])[0] is False
    assert _gui_data_dir(["ask", "hi"])[0] is False
    assert _gui_data_dir(["--data-dir"])[0] is False  # app.cli reports the missing value
    assert _gui_data_dir(["--help"])[0] is False


@pytest.mark.slow
def test_reopening_shows_the_last_window_first_then_the_app(tmp_path):
    """The real `triptych` start (app.start.main, offscreen 1920×1080), as benchmark 6 runs it."""
    from bench.bench_startup import child_env, start_once
    from bench.common import write_session
    from storage import open_store

    home = tmp_path / "home"
    session_id = write_session(home, 40).session.id
    env = child_env(tmp_path, home)

    first = start_once("app", env, 120)  # never closed before: no picture, the window itself
    assert "preview_painted" not in first and first["painted"] > 0
    assert "primed" in start_once("prime", env, 120)  # opened and closed as a user would
    again = start_once("app", env, 120)
    assert again["preview_painted"] < again["core_imported"] < again["window_shown"] <= again["painted"]
    assert "preview_painted" in start_once("app", env, 120)  # a start that is cut off changes nothing

    with open_store(home) as repo:  # `triptych ask` (say) adds a card while the app is closed
        repo.add_nodes([Node(session_id=session_id, kind=NodeKind.NOTE, text="added")], [])
    changed = start_once("app", env, 120)
    assert "preview_painted" not in changed and changed["painted"] > 0


def test_launcher_imports_nothing_heavy_before_the_picture(tmp_path):
    """What runs before the start picture paints: PySide6 and the standard library only."""
    import subprocess

    code = (
        "import sys, ui.launch, ui.start_picture, app.start; "
        "print(sorted(m for m in ('sqlalchemy', 'storage', 'app.engine', 'markdown_it', 'pygments', "
        "'asyncio', 'qasync', 'httpx', 'app.cli', 'ui.app') if m in sys.modules))"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        env=dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(ROOT)),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert out.stdout.strip() == "[]"

