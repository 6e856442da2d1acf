"""PNG export of a canvas (or some of its cards): the same card items, rendered to a QImage.

`render_png(graph, path, selection=None)` works without a window and without a display: when no
QApplication exists it creates one on the offscreen platform (the CLI's `export --format png`).
Call it on the thread that owns (or will own) the QApplication.

A picture shows whole answers: each card is as tall as its text (the canvas cuts a long answer at the
card's height and scrolls it), and the cards below a grown card move down to make room for it.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from PySide6.QtCore import QCoreApplication, QRectF
    from PySide6.QtGui import QImage

    from app.domain import Graph
    from ui.canvas.scene import CanvasScene
    from ui.canvas.style import CardStyle

MAX_SIDE = 12_000  # pixels; larger canvases are scaled down to fit
MARGIN = 48.0


def _ensure_app() -> QCoreApplication:
    from PySide6.QtWidgets import QApplication

    app = QApplication.instance()
    if app is None:
        os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
        app = QApplication(["triptych-export"])
    return app


def default_style(theme_name: str = "light") -> CardStyle:
    """A CardStyle with catalog names and provider colours, for use outside the window.

    `theme_name`: "light", "dark" or "system" (the desktop's preference; light without one)."""
    from app.catalog import load_catalog
    from app.config import BUILTIN_PROVIDERS
    from app.present.colours import provider_color
    from ui.canvas.style import CardStyle
    from ui.render_bridge import RenderBridge
    from ui.theme import resolve_theme

    theme = resolve_theme(theme_name)
    try:
        catalog = load_catalog(None)
        display = catalog.display_name
    except Exception:  # the picture matters more than pretty names
        display = lambda ref: ref.split(":", 1)[-1]  # noqa: E731
    return CardStyle(
        theme=theme,
        display_name=display,
        provider_color=provider_color,
        provider_display=lambda p: BUILTIN_PROVIDERS[p].display if p in BUILTIN_PROVIDERS else p,
        renderer=RenderBridge(theme.name),
    )


def render_image(
    scene: CanvasScene, rect: QRectF | None = None, scale: float = 1.0, background: str | None = None
) -> QImage:
    """Render a CanvasScene's `rect` (scene coordinates; default: all cards) to a QImage."""
    from PySide6.QtCore import QRectF, Qt
    from PySide6.QtGui import QColor, QImage, QPainter

    from ui import math_images

    math_images.flush()  # formulas still queued are drawn now: a picture shows no placeholders
    if rect is None:
        rect = scene.cards_bounds()
    if rect.isNull() or rect.isEmpty():
        rect = QRectF(0, 0, 400, 200)
    rect = rect.adjusted(-MARGIN, -MARGIN, MARGIN, MARGIN)
    longest = max(rect.width(), rect.height()) * scale
    if longest > MAX_SIDE:
        scale *= MAX_SIDE / longest
    width = max(int(rect.width() * scale), 1)
    height = max(int(rect.height() * scale), 1)
    image = QImage(width, height, QImage.Format.Format_ARGB32_Premultiplied)
    for _ in range(2):  # again if cards laid out while painting queued formulas
        image.fill(QColor(background or scene.style.theme.canvas))
        painter = QPainter(image)
        painter.setRenderHints(
            QPainter.RenderHint.Antialiasing
            | QPainter.RenderHint.TextAntialiasing
            | QPainter.RenderHint.SmoothPixmapTransform
        )
        scene.render(painter, QRectF(0, 0, width, height), rect, Qt.AspectRatioMode.KeepAspectRatio)
        painter.end()
        if not math_images.pending_count():
            break
        math_images.flush()
    return image


def build_scene(graph: Graph, style: CardStyle, selection: Iterable[str] | None = None) -> CanvasScene:
    """A CanvasScene holding `graph`'s cards (only `selection` when given) and their edges."""
    from ui.canvas.scene import CanvasScene

    keep = set(selection) if selection else None
    scene = CanvasScene(style)
    scene.draw_grid = False
    for node in graph.nodes.values():
        if keep is None or node.id in keep:
            scene.add_card(node)
    make_room(scene)
    scene.set_edges(graph.edges)
    return scene


def make_room(scene: CanvasScene) -> None:
    """Move cards down below the cards above them that grew (`CardItem.grown_height`), so no card
    covers another: a card moves by the most that any card above it (wholly above it, or in its
    column) grew and moved. Cards side by side in a row keep their places."""
    cards = sorted(scene.cards(), key=lambda c: (c.pos().y(), c.pos().x()))
    if not any(c.grown_height for c in cards):
        return
    placed: list[tuple[float, float, float, float, float]] = []  # left, right, top, canvas bottom, push
    moves = []
    for card in cards:
        p = card.pos()
        left, top = p.x(), p.y()
        right = left + card.card_width
        shift = 0.0
        for a_left, a_right, a_top, a_bottom, push in placed:
            if push > shift and a_top < top and (a_bottom <= top + 1.0 or (a_left < right and left < a_right)):
                shift = push
        placed.append((left, right, top, top + card.layout_height - card.grown_height, shift + card.grown_height))
        if shift:
            moves.append((card, shift))
    for card, shift in moves:
        card.setPos(card.pos().x(), card.pos().y() + shift)


def render_png(
    graph: Graph,
    path: str | os.PathLike[str],
    selection: Iterable[str] | None = None,
    theme: str = "light",
    scale: float = 2.0,
    style: CardStyle | None = None,
) -> Path:
    """Draw `graph` (an app.domain.Graph) like the canvas does, without buttons and with whole
    answers, and save it as a PNG.

    `selection`: node ids to include (their edges among them are drawn); None = every card.
    `style`: a CardStyle (the window passes its own, in its theme); default: the catalog's names in
    `theme` ("light", "dark" or "system").
    Returns the path written. Raises OSError if the file cannot be written.
    """
    _ensure_app()
    from dataclasses import replace

    style = replace(style or default_style(theme), interactive=False, whole_answers=True)
    scene = build_scene(graph, style, selection)
    image = render_image(scene, scale=scale)
    out = Path(path)
    try:
        # PySide6 6.11 stubs say `format: bytes`, but the binding takes a str and rejects bytes.
        if not image.save(str(out), "PNG"):  # type: ignore[call-overload]
            raise OSError(f"could not write {out}")
    finally:
        scene.clear_canvas()
    return out
