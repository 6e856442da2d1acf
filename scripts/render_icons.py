"""Render the app icon's PNG sizes from its SVGs (resources/desktop) with QtSvg. Run after editing an
SVG: `QT_QPA_PLATFORM=offscreen .venv/bin/python scripts/render_icons.py`; the PNGs are committed
(tests/ui/test_desktop_icon.py checks they match the SVGs)."""

from __future__ import annotations

import sys

from PySide6.QtGui import QGuiApplication

from ui.app_icon import PNG_SIZES, png_path, render


def main() -> int:
    _app = QGuiApplication.instance() or QGuiApplication(sys.argv[:1])
    for size in PNG_SIZES:
        path = png_path(size)
        path.parent.mkdir(parents=True, exist_ok=True)
        if not render(size).save(str(path), "PNG"):
            print(f"could not write {path}", file=sys.stderr)
            return 1
        print(path)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
