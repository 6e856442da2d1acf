"""The UI stall plot of benchmark 2 (docs/ui-stall.png), drawn with QPainter on a QImage offscreen.

    python -m bench.plot SERIES.json OUT.png

SERIES.json is what `python -m bench.bench_ui --series SERIES.json` writes: tick times since the
send (`t_s`), the stall of each 5 ms tick (`stall_ms`) and the run's figures.
"""

from __future__ import annotations

import os

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import json
import math
import sys
from pathlib import Path
from typing import Any

W, H = 1100, 420
LEFT, RIGHT, TOP, BOTTOM = 64, 24, 56, 48


def draw(series: dict[str, Any], out: Path) -> None:
    from PySide6.QtCore import QPointF, QRectF, Qt
    from PySide6.QtGui import QColor, QFont, QGuiApplication, QImage, QPainter, QPen

    _app = QGuiApplication.instance() or QGuiApplication([])
    t = series.get("t_s") or [0.0]
    stall = series.get("stall_ms") or [0.0]
    figures = series.get("figures", {})
    top = max(50.0, math.ceil(max(stall) / 10.0) * 10.0)
    span = max(t[-1], 1e-3)

    image = QImage(W, H, QImage.Format.Format_ARGB32)
    image.fill(QColor("#ffffff"))
    p = QPainter(image)
    p.setRenderHint(QPainter.RenderHint.Antialiasing, True)
    plot = QRectF(LEFT, TOP, W - LEFT - RIGHT, H - TOP - BOTTOM)

    def x_of(seconds: float) -> float:
        return plot.left() + seconds / span * plot.width()

    def y_of(ms: float) -> float:
        return plot.bottom() - min(ms, top) / top * plot.height()

    font = QFont()
    font.setPointSizeF(9)
    p.setFont(font)
    # grid and axes
    p.setPen(QPen(QColor("#e5e7eb"), 1))
    step = 10.0 if top <= 100 else 50.0 if top <= 500 else 100.0
    v = 0.0
    while v <= top + 1e-6:
        p.drawLine(QPointF(plot.left(), y_of(v)), QPointF(plot.right(), y_of(v)))
        p.setPen(QColor("#6b7280"))
        p.drawText(
            QRectF(0, y_of(v) - 8, LEFT - 8, 16),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            f"{v:g}",
        )
        p.setPen(QPen(QColor("#e5e7eb"), 1))
        v += step
    for second in range(int(span) + 1):
        p.setPen(QColor("#6b7280"))
        p.drawText(
            QRectF(x_of(second) - 20, plot.bottom() + 4, 40, 16), Qt.AlignmentFlag.AlignCenter, f"{second}"
        )
    p.drawText(
        QRectF(plot.left(), H - 22, plot.width(), 18),
        Qt.AlignmentFlag.AlignCenter,
        "seconds since Send (three lanes streaming)",
    )
    p.save()
    p.translate(14, plot.center().y())
    p.rotate(-90)
    p.drawText(QRectF(-80, -8, 160, 16), Qt.AlignmentFlag.AlignCenter, "stall per 5 ms tick (ms)")
    p.restore()
    # targets
    for level, label, colour in (
        (16.0, "p99 target 16 ms", "#d97706"),
        (40.0, "max target 40 ms", "#dc2626"),
    ):
        pen = QPen(QColor(colour), 1.5, Qt.PenStyle.DashLine)
        p.setPen(pen)
        p.drawLine(QPointF(plot.left(), y_of(level)), QPointF(plot.right(), y_of(level)))
        p.drawText(
            QRectF(plot.right() - 160, y_of(level) - 18, 156, 16),
            Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter,
            label,
        )
    # the stalls
    p.setPen(QPen(QColor("#2563eb"), 1.2))
    for ts, ms in zip(t, stall, strict=False):
        if ms > 0.05:
            p.drawLine(QPointF(x_of(ts), plot.bottom()), QPointF(x_of(ts), y_of(ms)))
    p.setPen(QPen(QColor("#111827"), 1))
    p.drawRect(plot)
    title = QFont(font)
    title.setPointSizeF(11)
    title.setBold(True)
    p.setFont(title)
    head = f"UI stall while 3 lanes stream at {figures.get('tok_s_per_lane_asked', '?'):g} tok/s each"
    sub = (
        f"stall p99 {figures.get('stall_p99_ms', '?')} ms, max {figures.get('stall_max_ms', '?')} ms · "
        f"CPU {figures.get('cpu_pct_of_one_core', '?')} % of one core · "
        f"token-to-screen p99 {figures.get('latency_p99_ms', '?')} ms"
    )
    left = Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter
    p.drawText(QRectF(LEFT, 6, W - LEFT - RIGHT, 22), left, head)
    p.setFont(font)
    p.setPen(QColor("#374151"))
    p.drawText(QRectF(LEFT, 28, W - LEFT - RIGHT, 18), left, sub)
    p.end()
    out.parent.mkdir(parents=True, exist_ok=True)
    if not image.save(str(out), "PNG"):
        raise OSError(f"could not write {out}")


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    if len(args) != 2:
        print("usage: python -m bench.plot SERIES.json OUT.png", file=sys.stderr)
        return 2
    draw(json.loads(Path(args[0]).read_text()), Path(args[1]))
    return 0


if __name__ == "__main__":
    sys.exit(main())
