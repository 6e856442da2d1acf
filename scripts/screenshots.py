#!/usr/bin/env python
"""Take the README screenshots of the real window against the loopback fake providers.

    .venv/bin/python scripts/screenshots.py [--out docs] [--offscreen]

Starts tests.fakes.server.FakeProviderServer on a background thread, points every provider at it
(fake keys, a temporary TRIPTYCH_HOME, no keyring), opens the real main window and drives it:
a 3-model fan-out with code, a table and reasoning (light and dark), then a branched session (a lane
follow-up, a shared follow-up and a synthesis) zoomed out with the minimap. Saves
docs/screenshot-light.png, docs/screenshot-dark.png and docs/screenshot-branched.png.

Without a display it re-runs itself under `xvfb-run` when available, else uses the offscreen platform
(widget.grab() renders the same pixels either way).
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

PROMPT = "Compare three ways to remove duplicates from a Python list, keeping order. Show code and a table."
FOLLOW_UP = "Which one would you pick for a list of 10 million strings?"
SHARED = "Is there a faster way than that?"


def _maybe_reexec_under_xvfb(args: argparse.Namespace) -> None:
    if args.offscreen or os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY"):
        return
    if os.environ.get("TRIPTYCH_SCREENSHOTS_CHILD") or not shutil.which("xvfb-run"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
        return
    env = dict(os.environ, TRIPTYCH_SCREENSHOTS_CHILD="1")
    cmd = ["xvfb-run", "-a", "-s", "-screen 0 1920x1200x24", sys.executable, *sys.argv]
    sys.exit(subprocess.call(cmd, env=env))


async def _wait(pred, timeout: float = 20.0) -> None:  # noqa: ASYNC109
    deadline = time.monotonic() + timeout
    while not pred():
        if time.monotonic() > deadline:
            raise TimeoutError("the screenshot scene did not settle in time")
        await asyncio.sleep(0.05)


async def _settle(window, seconds: float = 0.3) -> None:
    window.controller.flush_repaints()
    await asyncio.sleep(seconds)  # let Qt lay out and paint
    window.controller.flush_repaints()


def _save(window, path: Path) -> None:
    image = window.grab()
    if not image.save(str(path), "PNG"):
        raise OSError(f"could not write {path}")
    print(f"wrote {path} ({image.width()}x{image.height()})")


async def _fanout(window, text: str, mode=None) -> list[str]:
    window.composer.set_text(text)
    ids = window.controller.send(
        window.composer.text(), window.composer.targets(), mode or window.composer.mode()
    )
    graph = window.controller.graph
    await _wait(lambda: all(not graph.nodes[i].status.is_live for i in ids if i in graph.nodes))
    window.composer.clear()
    return ids


async def _shoot(out: Path) -> None:
    from app.domain import SendMode
    from ui.app import build_services, close_services, create_window

    services = build_services(interactive=False)
    services.settings.ui["theme"] = "light"
    window = create_window(services)
    window.dialogs.confirm_quit = lambda running: True
    window.resize(1600, 1000)
    window.show()
    await _settle(window)
    graph = lambda: window.controller.graph  # noqa: E731

    # 1. a three-model fan-out (light)
    ids = await _fanout(window, PROMPT)
    answers = [i for i in ids if graph().nodes[i].is_answer]
    claude = next(i for i in answers if graph().nodes[i].model.startswith("anthropic"))
    window.scene.card(claude).set_reasoning_open(True)
    window.view.fit_rect(window.scene.cards_bounds(ids), max_zoom=1.0)
    window.composer.set_text("Which of these is fastest for 10 million items?")
    await _settle(window)
    _save(window, out / "screenshot-light.png")

    # 2. dark, continuing Claude's lane, with the context lens open on the draft
    window.set_theme_mode("dark")
    window.controller.continue_lane(claude)
    window.composer.set_text(FOLLOW_UP)
    window.composer.lens_button.setChecked(True)
    window.canvas_split.setSizes([1000, 380])
    window.view.fit_rect(window.scene.cards_bounds(ids), max_zoom=1.0)
    window.refresh_lens()
    await _settle(window)
    _save(window, out / "screenshot-dark.png")
    window.composer.lens_button.setChecked(False)
    window.set_theme_mode("light")
    window.composer.clear()

    # 3. a branched session: a lane follow-up, a shared follow-up, a synthesis; zoomed out + minimap
    window.scene.card(claude).set_reasoning_open(False)
    await _fanout(window, FOLLOW_UP, SendMode.LANES)
    deepseek = next(i for i in answers if graph().nodes[i].model.startswith("deepseek"))
    window.controller.use_as_shared_context(deepseek)
    window.composer.set_models(["anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"])
    await _fanout(window, SHARED, SendMode.SHARED)
    window.dialogs.synthesize_options = lambda *a, **k: ("merge", "anthropic:claude-sonnet-5-5", None)
    synth = window.controller.synthesize(answers)
    await _wait(lambda: not graph().nodes[synth].status.is_live)
    window.scene.clearSelection()
    window.composer.set_models(services.catalog.default_models(services.settings))
    window.controller.tidy_up()  # Edit → Tidy up layout: lanes in columns
    window.view.fit_all()
    await _settle(window)
    _save(window, out / "screenshot-branched.png")

    window.close()
    await close_services(services)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--offscreen", action="store_true", help="use the offscreen platform, not Xvfb")
    args = parser.parse_args()
    if args.offscreen:
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    _maybe_reexec_under_xvfb(args)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)

    from tests.fakes.server import FakeProviderServer

    server = FakeProviderServer(tokens_per_second=600)
    _url, stop = server.run_in_thread()
    home = tempfile.mkdtemp(prefix="triptych-shots-")
    os.environ.update(server.env())
    os.environ.update({"TRIPTYCH_HOME": home, "TRIPTYCH_NO_KEYRING": "1", "TRIPTYCH_NO_ERROR_DIALOG": "1"})
    os.environ.setdefault("QT_API", "pyside6")
    try:
        from PySide6.QtWidgets import QApplication

        from ui.qtloop import TriptychEventLoop

        app = QApplication.instance() or QApplication(["triptych-screenshots"])
        app.setQuitOnLastWindowClosed(False)
        with asyncio.Runner(loop_factory=lambda: TriptychEventLoop(app)) as runner:
            runner.run(_shoot(out))
    finally:
        stop()
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
