#!/usr/bin/env python
"""The README's attachments screenshot: the real window on an X display (run it under Xvfb), a chart PNG
attached to one prompt sent to three models that read images, answers scripted on the loopback fake
provider server. Writes, with `import -window root`, into the folder given: before.png (the chip under
the prompt), lens.png (the context lens with the file), after.png (the answers and the prompt card's
thumbnail) and viewer.png (the viewer a click on the thumbnail opens).

    Xvfb :97 -screen 0 1600x1000x24 -nolisten tcp &
    DISPLAY=:97 .venv/bin/python scripts/screenshot_attachments.py /tmp/shots
    convert /tmp/shots/after.png -crop 1580x980+10+10 +repage docs/attachments.png
"""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

MODELS = ["anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol", "anthropic:claude-haiku-5-5"]
ANSWERS = {
    "claude-sonnet-5-5": (
        "## What the chart shows\n\nQuarterly revenue, **Q1–Q4**, in $ millions:\n\n"
        "| quarter | revenue |\n|---|---|\n| Q1 | 42 |\n| Q2 | 55 |\n| Q3 | 61 |\n| Q4 | 78 |\n\n"
        "Revenue grows every quarter; the **Q3→Q4 jump (+28 %)** is the largest. The dashed line is the "
        "60 M target, first crossed in Q3."
    ),
    "gpt-6.2-sol": (
        "The bar chart plots revenue per quarter. It rises steadily from about **$42M in Q1** to **$78M in "
        "Q4** — nearly doubling over the year (+86 %).\n\n- Growth accelerates in the second half.\n"
        "- Q3 is the first quarter above the $60M target line.\n\n"
        "Nothing in the chart suggests seasonality; four points are too few to tell."
    ),
    "claude-haiku-5-5": (
        "Four bars, Q1 to Q4, each taller than the last: **42, 55, 61, 78** ($M). The target line at 60 is "
        "passed from Q3 on. Short version: strong, accelerating growth, strongest in Q4."
    ),
}


def draw_chart(path: Path) -> None:
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QImage, QPainter, QPen

    image = QImage(640, 400, QImage.Format.Format_RGB32)
    image.fill(QColor("white"))
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing)
    font = QFont()
    font.setPointSize(16)
    font.setBold(True)
    p.setFont(font)
    p.drawText(QRectF(0, 10, 640, 36), Qt.AlignmentFlag.AlignCenter, "Revenue per quarter ($M)")
    font.setPointSize(11)
    font.setBold(False)
    p.setFont(font)
    base, scale = 350, 3.4
    for i, (quarter, value) in enumerate([("Q1", 42), ("Q2", 55), ("Q3", 61), ("Q4", 78)]):
        x = 90 + i * 130
        p.fillRect(QRectF(x, base - value * scale, 80, value * scale), QColor("#F58518" if i == 3 else "#4C78A8"))
        p.setPen(QColor("#222222"))
        p.drawText(QRectF(x, base + 6, 80, 20), Qt.AlignmentFlag.AlignCenter, quarter)
        p.drawText(QRectF(x, base - value * scale - 22, 80, 20), Qt.AlignmentFlag.AlignCenter, str(value))
    pen = QPen(QColor("#C2410C"))
    pen.setStyle(Qt.PenStyle.DashLine)
    pen.setWidth(2)
    p.setPen(pen)
    p.drawLine(60, int(base - 60 * scale), 620, int(base - 60 * scale))
    p.setPen(QColor("#444444"))
    p.drawLine(60, base, 620, base)
    p.end()
    if not image.save(str(path), "PNG"):
        raise OSError(f"could not write {path}")


def shot(out: Path, name: str) -> None:
    subprocess.run(["import", "-window", "root", str(out / name)], check=True)
    print(f"wrote {out / name}")


async def drive(out: Path) -> None:
    from ui.app import build_services, close_services, create_window

    services = build_services(interactive=False)
    services.settings.ui["theme"] = "light"
    window = create_window(services)
    window.dialogs.confirm_quit = lambda *_args: True
    window.resize(1580, 980)
    window.move(10, 10)
    window.show()
    await asyncio.sleep(0.5)
    window.composer.set_models(MODELS)
    chart = out / "chart.png"
    draw_chart(chart)
    window.composer.set_text("What does this chart show? Answer in a few lines.")
    window.attach.bar.add_paths([str(chart)])
    await asyncio.sleep(0.6)
    shot(out, "before.png")
    window.composer.lens_button.setChecked(True)
    await asyncio.sleep(0.8)
    shot(out, "lens.png")
    window.composer.lens_button.setChecked(False)
    window.composer.send_requested.emit()  # as the Send button does
    graph = window.controller.graph
    await asyncio.sleep(0.5)
    deadline = time.monotonic() + 30
    while any(n.status.is_live for n in window.controller.graph.nodes.values()):
        if time.monotonic() > deadline:
            raise TimeoutError("the answers did not finish")
        await asyncio.sleep(0.1)
    graph = window.controller.graph
    window.controller.flush_repaints()
    window.view.fit_rect(window.scene.cards_bounds(list(graph.nodes)), max_zoom=1.0)
    await asyncio.sleep(0.8)
    shot(out, "after.png")
    prompt = next(n for n in graph.nodes.values() if n.kind.value == "prompt")
    window.attach.open_viewer(list(prompt.attachments), 0)
    await asyncio.sleep(0.8)
    shot(out, "viewer.png")
    if window.attach.viewer is not None:
        window.attach.viewer.close()
    window.close()
    await close_services(services)


def main() -> int:
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()
    out.mkdir(parents=True, exist_ok=True)
    from tests.fakes.server import Answer, FakeProviderServer, tokens

    server = FakeProviderServer(tokens_per_second=400)
    for model, text in ANSWERS.items():
        server.script(model, Answer(text=tokens(text), input_tokens=1280))
    _url, stop = server.run_in_thread()
    os.environ.update(server.env())
    os.environ.update({"TRIPTYCH_HOME": tempfile.mkdtemp(prefix="triptych-attach-shots-"),
                       "TRIPTYCH_NO_KEYRING": "1", "TRIPTYCH_NO_ERROR_DIALOG": "1", "QT_API": "pyside6"})
    from PySide6.QtWidgets import QApplication

    from ui.qtloop import TriptychEventLoop

    app = QApplication(["triptych-screenshots"])
    app.setQuitOnLastWindowClosed(False)
    try:
        with asyncio.Runner(loop_factory=lambda: TriptychEventLoop(app)) as runner:
            runner.run(drive(out))
    finally:
        stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
