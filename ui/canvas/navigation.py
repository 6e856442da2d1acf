"""Keyboard navigation between cards: which card an arrow key moves the selection to. Plain geometry on
card centres (scene units), so the canvas needs no card item to search (ui/canvas/view.py
`CanvasView.move_selection` calls it with the scene's card blocks).
"""

from __future__ import annotations

from PySide6.QtCore import QPointF


def nearest_card(
    centres: dict[str, tuple[float, float]], current: str | None, view_centre: QPointF, dx: int, dy: int
) -> str | None:
    """The card to select after an arrow key in direction (dx, dy): from the `current` card, the
    nearest one ahead of it in that direction (cards off to the side count 2.5× their offset); with
    no current card, the card nearest the view's centre. None: nothing lies that way."""
    if current is None:
        vx, vy = view_centre.x(), view_centre.y()
        return min(centres, key=lambda i: abs(centres[i][0] - vx) + abs(centres[i][1] - vy))
    ox, oy = centres[current]
    best = None
    best_score = float("inf")
    for node_id, (cx, cy) in centres.items():
        if node_id == current:
            continue
        ddx, ddy = cx - ox, cy - oy
        along = ddx * dx + ddy * dy
        if along <= 1:
            continue
        across = abs(ddx * dy) + abs(ddy * dx)
        score = along + across * 2.5
        if score < best_score:
            best, best_score = node_id, score
    return best
