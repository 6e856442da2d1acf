"""Triptych started from a desktop launcher: no terminal, so what would only reach stderr must show in a
dialog and land in the log; the window carries the app icon and the desktop entry's name, and its X11
WM_CLASS is the entry's StartupWMClass (task bars group the window under the launcher's icon)."""

from __future__ import annotations

import configparser
import logging
import os
import shutil
import subprocess

import pytest
from PySide6.QtGui import QGuiApplication, QImage
from PySide6.QtWidgets import QMessageBox

from app import logs
from app.desktop import desktop_entry
from app.paths import APP_ID
from ui.app_icon import PNG_SIZES, png_path, render


@pytest.fixture
def fresh_log(monkeypatch):
    """No support log yet, as in a process just started; the one the test installs is removed after."""
    monkeypatch.setattr(logs, "_installed", None)
    yield
    if logs._installed is not None:
        logging.getLogger().removeHandler(logs._installed)
        logs._installed.close()


def test_a_start_up_error_shows_a_dialog_and_reaches_the_log(qapp, tmp_path, monkeypatch, fresh_log):
    """A config.toml with `font_size = "big"` (a real mistake, hand-edited) made the start-up raise
    before the window existed: the traceback went to stderr only, and from a launcher nothing showed."""
    import ui.app

    home = tmp_path / "home"
    home.mkdir()
    (home / "config.toml").write_text('[ui]\nfont_size = "big"\n', encoding="utf-8")
    monkeypatch.setenv("TRIPTYCH_HOME", str(home))
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    monkeypatch.delenv("TRIPTYCH_NO_ERROR_DIALOG", raising=False)
    shown: list[tuple[str, str, str]] = []

    def record(box: QMessageBox) -> int:
        shown.append((box.windowTitle(), box.informativeText(), box.detailedText()))
        return 0

    monkeypatch.setattr(QMessageBox, "exec", record)
    status = ui.app.main(["triptych"])

    assert status == 1
    assert len(shown) == 1, shown
    title, summary, details = shown[0]
    assert title == "Triptych hit a bug" and summary.startswith("ValueError") and "in create_window" in details
    log = (home / "logs" / "triptych.log").read_text(encoding="utf-8")
    assert "unhandled error: ValueError" in log and "in create_window" in log


def test_the_shipped_icon_pngs_are_the_svgs_rendered(qapp):
    """scripts/render_icons.py made them: an SVG edited without re-rendering fails here."""
    for size in PNG_SIZES:
        shipped = QImage(str(png_path(size))).convertToFormat(QImage.Format.Format_ARGB32)
        fresh = render(size).convertToFormat(QImage.Format.Format_ARGB32)
        assert shipped.size() == fresh.size() and shipped.width() == size, size
        worst = max(
            abs(a - b)
            for y in range(0, size, max(1, size // 32))
            for x in range(0, size, max(1, size // 32))
            for a, b in zip(shipped.pixelColor(x, y).getRgb(), fresh.pixelColor(x, y).getRgb(), strict=True)
        )
        assert worst <= 2, f"{png_path(size)} differs from its SVG: run scripts/render_icons.py"


def test_the_application_carries_the_icon_and_the_desktop_file_name(qapp):
    from ui.launch import make_application

    app = make_application(["triptych"])
    assert QGuiApplication.desktopFileName() == APP_ID
    sizes = {s.width() for s in app.windowIcon().availableSizes()}
    assert {16, 32, 48, 256} <= sizes, sizes


MISSING = [tool for tool in ("Xvfb", "xdotool", "xprop") if shutil.which(tool) is None]


@pytest.mark.skipif(bool(MISSING), reason=f"NOT RUN: needs {', '.join(MISSING)} (bash scripts/bootstrap.sh test)")
def test_the_windows_wm_class_is_the_desktop_entrys_startup_wm_class(tmp_path):
    from tests.ui.test_xsession import XSession

    entry = configparser.ConfigParser(interpolation=None)
    entry.optionxform = str  # type: ignore[assignment,method-assign]
    entry.read_string(desktop_entry("/usr/bin/triptych"))
    wm_class = entry["Desktop Entry"]["StartupWMClass"]

    home = tmp_path / "home"
    home.mkdir()
    session = XSession(home, tmp_path / "shots")
    try:
        session.start_x()
        env = {k: v for k, v in os.environ.items() if not k.endswith(("_API_KEY", "_BASE_URL"))}
        env.update(DISPLAY=session.display, QT_QPA_PLATFORM="xcb", TRIPTYCH_HOME=str(home), TRIPTYCH_NO_KEYRING="1")
        env.pop("WAYLAND_DISPLAY", None)
        session.start_app(env)
        props = subprocess.run(["xprop", "-id", session.window, "WM_CLASS", "_NET_WM_ICON"], capture_output=True,
                               text=True, timeout=20, env=dict(os.environ, DISPLAY=session.display)).stdout
    finally:
        session.stop()
    wm_line = next(line for line in props.splitlines() if line.startswith("WM_CLASS"))
    assert wm_line.rstrip().endswith(f'"{wm_class}"'), props  # the class (second string) is what launchers match
    assert "_NET_WM_ICON(CARDINAL)" in props and "not found" not in props.split("_NET_WM_ICON", 1)[1][:40], props
