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
from PySide6.QtCore import QEvent, QObject, QPoint, Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

class Cycle:
    def __init__(self):
        self.me = self
refs = []
make = launch.make_application

class Watch(QObject):
    shown = False
    def eventFilter(self, obj, event):
        if event.type() == QEvent.Type.Show and type(obj).__name__ == "MainWindow" and not self.shown:
            self.shown = True
            QTimer.singleShot(0, lambda: type_now(obj))
        return False

def type_now(window):
    # right after the window appeared: a click on the prompt box, typing with a correction
    edit = window.composer.edit
    QTest.mouseClick(edit.viewport(), Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, QPoint(10, 10))
    target = QApplication.focusWidget()
    QTest.keyClicks(target, "hellp")
    QTest.keyClick(target, Qt.Key.Key_Backspace)
    QTest.keyClicks(target, "o")
    QTimer.singleShot(1500, lambda: report(window))

def report(window):
    gc.collect()
    print(json.dumps({"text": window.composer.edit.toPlainText(), "alive": sum(r() is not None for r in refs),
                      "enabled": gc.isenabled(), "paused_at_start": paused}), flush=True)
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
    out = subprocess.run([sys.executable, "-c", _CHILD], env=env, capture_output=True, text=True, timeout=120)
    lines = out.stdout.strip().splitlines()
    assert lines, out.stderr[-2000:]
    return json.loads(lines[-1])


def test_typing_right_after_start_reaches_the_prompt_box_and_start_up_cycles_are_collected(tmp_path):
    report = _start(tmp_path)
    # every key reached the prompt box, the correction (a non-printable key) too, after a click
    assert report["text"] == "hello", report
    # the collector was paused for start-up, is on again, and collected every cycle made meanwhile
    assert report["paused_at_start"] and report["enabled"]
    assert report["alive"] == 0, report
