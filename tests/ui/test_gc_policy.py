"""The cyclic garbage collector around start-up and big-session fills (ui/gc_policy.py): paused while
long-lived objects pile up, then those frozen and the collector resumed, so that opening a
10,000-card session is not interrupted by full collections of 60-145 ms."""

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
    gc.unfreeze()  # this process's later tests keep a collector that scans everything
    if not was_enabled:
        gc.disable()


def test_paused_while_any_reason_holds_then_survivors_frozen(policy):
    policy.pause("start-up")
    assert gc.isenabled()  # off unless the app's launcher enabled the policy (tests build windows)
    policy.enable()
    frozen = gc.get_freeze_count()
    policy.pause("start-up")
    policy.pause("fill")
    assert not gc.isenabled() and policy.paused()
    policy.resume("start-up")
    assert not gc.isenabled()  # the fill still runs
    kept = [{"i": i} for i in range(1000)]  # long-lived objects made during the burst
    policy.resume("fill")
    assert gc.isenabled() and not policy.paused()
    assert gc.get_freeze_count() >= frozen + len(kept)
    policy.pause("fill")
    policy.resume_all()  # whatever happens, the collector ends up on
    assert gc.isenabled()


def test_a_collector_the_app_did_not_turn_off_is_left_alone(policy):
    policy.enable()
    gc.disable()  # someone else's choice
    policy.pause("fill")
    policy.resume("fill")
    assert not gc.isenabled()
    gc.enable()


_CHILD = r"""
import gc, json, os, sys, time
full = []
def watch(phase, info):
    if phase == "stop" and info["generation"] == 2:
        full.append(round(time.monotonic() - t0, 2))
gc.callbacks.append(watch)
t0 = time.monotonic()
import ui.launch as launch
from ui import gc_policy
resumed = []
finish = gc_policy._finish
def finished():
    if gc_policy._paused:
        resumed.append(round(time.monotonic() - t0, 2))
    finish()
gc_policy._finish = finished
from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication
make = launch.make_application

def report():
    windows = [w for w in QApplication.topLevelWidgets() if type(w).__name__ == "MainWindow"]
    scene = windows[0].scene
    print(json.dumps({"full": full, "resumed": resumed, "enabled": gc.isenabled(), "frozen": gc.get_freeze_count(),
                      "pending": len(scene._pending), "cards": len(scene._cards)}), flush=True)
    os._exit(0)

def made(argv):
    app = make(argv)
    QTimer.singleShot(int(sys.argv[1]), report)
    return app
launch.make_application = made
from app.start import main
main([])
"""


@pytest.mark.slow
def test_opening_a_big_session_runs_no_full_collection_until_it_is_filled(tmp_path):
    home = tmp_path / "home"
    write_session(home, 1500)
    env = dict(
        os.environ,
        QT_QPA_PLATFORM="offscreen",
        TRIPTYCH_HOME=str(home),
        TRIPTYCH_NO_KEYRING="1",
        TRIPTYCH_NO_ERROR_DIALOG="1",
        PYTHONPATH=str(ROOT),
    )
    out = subprocess.run(
        [sys.executable, "-c", _CHILD, "4000"], env=env, capture_output=True, text=True, timeout=120
    )
    report = json.loads(out.stdout.strip().splitlines()[-1])
    assert report["pending"] == 0 and report["cards"] == 1500  # the fill has finished
    assert len(report["resumed"]) == 1  # once: start-up and the fill were one burst
    # no full collection from the start until the session was filled (after it, they scan only
    # what is not frozen)
    assert not [t for t in report["full"] if t < report["resumed"][0]], report
    assert report["enabled"] and report["frozen"] > 100_000  # on again, the start-up's objects frozen
