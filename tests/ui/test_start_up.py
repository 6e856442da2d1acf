"""Start-up from a fresh process (app.start.main → ui.launch → ui.app), driven through the user's
hands: typing right after the window appears reaches the prompt box (nothing between the user and
the window swallows keys or clicks), and the garbage collector paused during start-up (ui/gc_policy.py)
collects every cycle made during the pause once it resumes (a gc.freeze() there leaked them all)."""

from __future__ import annotations

import gc
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from bench.common import write_session
from ui import gc_policy

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def policy(monkeypatch):
    monkeypatch.setattr(gc_policy, "_reasons", set())
    monkeypatch.setattr(gc_policy, "_paused", False)
    monkeypatch.setattr(gc_policy, "_enabled", False)
    was_enabled = gc.isenabled()
    gc.enable()
    yield gc_policy
    if not was_enabled:
        gc.disable()


def test_paused_while_any_reason_holds_then_on_again_with_nothing_frozen(policy):
    policy.pause("start-up")
    assert gc.isenabled()  # off unless the app's launcher enabled the policy (tests build windows)
    policy.enable()
    frozen = gc.get_freeze_count()
    policy.pause("start-up")
    policy.pause("other")
    assert not gc.isenabled() and policy.paused()
    policy.resume("start-up")
    assert not gc.isenabled()
    policy.resume("other")
    assert gc.isenabled() and not policy.paused()
    assert gc.get_freeze_count() == frozen
    policy.pause("start-up")
    policy.resume_all()  # whatever happens, the collector ends up on
    assert gc.isenabled()


_CHILD = r"""
import gc, json, os, sys, weakref
import ui.launch as launch
from PySide6.QtCore import QEvent, QObject, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QWidget

class Cycle:
    def __init__(self):
        self.me = self
refs = []
make = launch.make_application

class Watch(QObject):
    shown = False
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Show and isinstance(obj, QWidget) and obj.isWindow() and not self.shown:
            self.shown = True  # the first window the user sees
            QTimer.singleShot(0, lambda: type_now(obj))
        return False

first = []
typed = []

def type_now(window):
    first.append(type(window).__name__)
    # as soon as the first window shows: typing, with a correction, where the platform sends keys
    # (the focused widget, else the window itself)
    target = QApplication.focusWidget() or window
    typed.append(type(target).__name__)
    QTest.keyClicks(target, "hellp")
    QTest.keyClick(target, Qt.Key.Key_Backspace)
    QTest.keyClicks(target, "o")
    QTest.keyClick(target, Qt.Key.Key_Left)  # a correction inside the word
    QTest.keyClick(target, Qt.Key.Key_Left)
    QTest.keyClick(target, Qt.Key.Key_Backspace)
    QTest.keyClicks(target, "l")
    QTimer.singleShot(1500, report)

def report():
    window = next(w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow")
    gc.collect()
    print(json.dumps({"text": window.composer.edit.toPlainText(), "alive": sum(r() is not None for r in refs),
                      "enabled": gc.isenabled(), "paused_at_start": paused,
                      "first": first, "typed_into": typed}), flush=True)
    os._exit(0)

def made(argv):
    global paused
    app = make(argv)
    if not hasattr(app, "_watch"):
        app._watch = Watch()
        app.installEventFilter(app._watch)
        paused = not gc.isenabled()
        for _ in range(1000):  # cyclic garbage made during the start-up pause
            c = Cycle()
            refs.append(weakref.ref(c))
            del c
    return app

launch.make_application = made
from app.start import main
main([])
"""


_CLOSE = r"""
import ui.launch as launch
make = launch.make_application

def made(argv):
    from PySide6.QtCore import QTimer
    from PySide6.QtWidgets import QApplication
    app = make(argv)
    def close_soon():
        for w in QApplication.topLevelWidgets():
            if type(w).__name__ == "MainWindow" and w.isVisible():
                QTimer.singleShot(800, w.close)
                return
        QTimer.singleShot(50, close_soon)
    if not hasattr(app, "_closing"):
        app._closing = True
        close_soon()
    return app

launch.make_application = made
from app.start import main
raise SystemExit(main([]))
"""


def _start(tmp_path) -> dict:
    home = tmp_path / "home"
    write_session(home, 300)
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        TRIPTYCH_HOME=str(home),
        TRIPTYCH_NO_KEYRING="1",
        TRIPTYCH_NO_ERROR_DIALOG="1",
        PYTHONPATH=str(ROOT),
    )
    # opened and closed once before, as a user reopening the app (what an older version showed a
    # picture of at the next start, dropping keys and clicks meanwhile)
    closed = subprocess.run([sys.executable, "-c", _CLOSE], env=env, capture_output=True, text=True, timeout=120)
    assert closed.returncode == 0, closed.stderr[-2000:]
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=120)
    lines = out.stdout.strip().splitlines()
    assert lines, out.stderr[-2000:]
    return json.loads(lines[-1])


def test_typing_right_after_start_reaches_the_prompt_box_and_start_up_cycles_are_collected(tmp_path):
    report = _start(tmp_path)
    # the first window shown is the real one, and every key typed at once reached its prompt box,
    # the non-printable ones (Backspace, arrows) too
    assert report["first"] == ["MainWindow"] and report["typed_into"] == ["PromptEdit"], report
    assert report["text"] == "hello", report
    # the collector was paused for start-up, is on again, and collected every cycle made meanwhile
    assert report["paused_at_start"] and report["enabled"]
    assert report["alive"] == 0, report
