"""Mouse and keyboard on the canvas, as a user drives it: pan (empty-space drag, middle button,
Space+drag), zoom to the cursor (wheel, Ctrl+wheel over a card), Ctrl +/-, rubber-band and Ctrl-click
selection, dragging a card. Real events sent to the view's viewport (QTest), no main window."""

from __future__ import annotations

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication

from tests.ui.conftest import send_mouse
from tests.ui.test_canvas import build, make_graph

LEFT = Qt.MouseButton.LeftButton
MIDDLE = Qt.MouseButton.MiddleButton
NO_MOD = Qt.KeyboardModifier.NoModifier
CTRL = Qt.KeyboardModifier.ControlModifier
SHIFT = Qt.KeyboardModifier.ShiftModifier


def _mouse(view, kind: QEvent.Type, pos: QPoint, button, buttons, mods=NO_MOD) -> None:
    send_mouse(view.viewport(), kind, pos, button, buttons, mods)


def drag(view, start: QPoint, end: QPoint, button=LEFT, mods=NO_MOD, steps: int = 6) -> None:
    """Press at `start`, move in steps to `end`, release: what a hand on a mouse does."""
    _mouse(view, QEvent.Type.MouseButtonPress, start, button, button, mods)
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        _mouse(view, QEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, button, mods)
    _mouse(view, QEvent.Type.MouseButtonRelease, end, button, Qt.MouseButton.NoButton, mods)
    QApplication.processEvents()


def wheel(view, pos: QPoint, clicks: int, mods=NO_MOD) -> None:
    vp = view.viewport()
    event = QWheelEvent(
        QPointF(pos), QPointF(vp.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, 120 * clicks),
        Qt.MouseButton.NoButton, mods, Qt.ScrollPhase.NoScrollPhase, False,
    )
    QApplication.sendEvent(vp, event)
    QApplication.processEvents()


def centre_of(view) -> QPointF:
    return view.visible_scene_rect().center()


def empty_point(view, scene) -> QPoint:
    """A viewport point with no card under it (left of the leftmost card, at prompt height)."""
    for y in range(10, view.viewport().height(), 20):
        for x in range(10, view.viewport().width(), 20):
            p = QPoint(x, y)
            if view._card_at(p) is None and view._card_at(p + QPoint(-150, 0)) is None:
                return p
    raise AssertionError("no empty spot in the view")


def card_point(view, card) -> QPoint:
    """A viewport point on the card's header (not a button)."""
    r = card.sceneBoundingRect()
    return view.mapFromScene(QPointF(r.left() + 60, r.top() + 12))


def test_drag_on_empty_space_pans_and_moves_no_card(qapp):
    g = make_graph()
    scene, view = build(g)
    positions = {c.node_id: c.pos() for c in scene.cards()}
    start = empty_point(view, scene)
    before = centre_of(view)
    drag(view, start, start + QPoint(-150, 0))
    after = centre_of(view)
    assert after.x() - before.x() > 100  # dragging the canvas left shows what was to the right
    assert abs(after.y() - before.y()) < 2
    assert {c.node_id: c.pos() for c in scene.cards()} == positions
    assert scene.selected_ids() == []
    view.close()


def test_middle_button_and_space_drag_pan_even_over_a_card(qapp):
    g = make_graph()
    scene, view = build(g)
    card = next(c for c in scene.cards() if g.nodes[c.node_id].is_answer)
    pos0 = card.pos()
    at = card_point(view, card)

    before = centre_of(view)
    drag(view, at, at + QPoint(0, -120), button=MIDDLE)
    assert centre_of(view).y() - before.y() > 80
    assert card.pos() == pos0  # the card under the cursor did not move

    view.setFocus()
    at = card_point(view, card)
    QTest.keyPress(view, Qt.Key.Key_Space)
    before = centre_of(view)
    drag(view, at, at + QPoint(120, 0))
    QTest.keyRelease(view, Qt.Key.Key_Space)
    assert before.x() - centre_of(view).x() > 80
    assert card.pos() == pos0

    # without Space, the same drag moves the card
    at = card_point(view, card)
    drag(view, at, at + QPoint(120, 0))
    assert card.pos().x() - pos0.x() > 80
    view.close()


def test_wheel_zooms_about_the_cursor(qapp):
    g = make_graph()
    scene, view = build(g)
    point = empty_point(view, scene)
    under = view.mapToScene(point)
    zoom0 = view.zoom()
    wheel(view, point, 2)
    assert view.zoom() > zoom0 * 1.2
    moved = view.mapToScene(point) - under
    assert abs(moved.x()) < 3 and abs(moved.y()) < 3  # the spot under the cursor stays under it
    wheel(view, point, -4)
    assert view.zoom() < zoom0
    moved = view.mapToScene(point) - under
    assert abs(moved.x()) < 4 and abs(moved.y()) < 4
    view.close()


def test_ctrl_plus_minus_zoom(qapp):
    g = make_graph()
    scene, view = build(g)
    view.setFocus()
    zoom0 = view.zoom()
    QTest.keyClick(view, Qt.Key.Key_Equal, CTRL)
    assert view.zoom() > zoom0
    QTest.keyClick(view, Qt.Key.Key_Minus, CTRL)
    QTest.keyClick(view, Qt.Key.Key_Minus, CTRL)
    assert view.zoom() < zoom0
    view.close()


def test_rubber_band_and_ctrl_click_selection(qapp):
    g = make_graph()
    scene, view = build(g)
    view.fit_all()
    QApplication.processEvents()
    answers = sorted((c for c in scene.cards() if g.nodes[c.node_id].is_answer), key=lambda c: c.pos().x())
    # Shift+drag from empty space above-left of the first two answers to below-right of the second
    r0, r1 = answers[0].sceneBoundingRect(), answers[1].sceneBoundingRect()
    start = view.mapFromScene(QPointF(r0.left() - 20, r0.top() - 10))
    end = view.mapFromScene(QPointF(r1.right() + 10, r1.bottom() + 20))
    assert view._card_at(start) is None
    drag(view, start, end, mods=SHIFT)
    assert set(scene.selected_ids()) == {answers[0].node_id, answers[1].node_id}

    # Ctrl+click adds the third, Ctrl+click again removes it
    third = card_point(view, answers[2])
    QTest.mouseClick(view.viewport(), LEFT, CTRL, third)
    assert set(scene.selected_ids()) == {a.node_id for a in answers}
    QTest.mouseClick(view.viewport(), LEFT, CTRL, third)
    assert set(scene.selected_ids()) == {answers[0].node_id, answers[1].node_id}

    # a click on empty space clears the selection
    QTest.mouseClick(view.viewport(), LEFT, NO_MOD, empty_point(view, scene))
    assert scene.selected_ids() == []
    view.close()
