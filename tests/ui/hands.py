"""Drive the main window the way a user does: menu actions by their path, shortcuts as key presses on
the focused widget, clicks, double-clicks, drags and wheel turns on cards at their on-screen positions.

Tests go through here instead of calling private slots (`window._on_…`), so a slot's signature, an
action's wiring and the event path of a click are all under test.

    trigger(window, "File/New session")        # the QAction the menu shows, as Qt triggers it
    press_keys(window, "Ctrl+N")               # QTest key events on the focused widget
    click_card(window, node_id)                # a left click on the card's header
    drag_card(window, node_id, 120, 40)        # press, move in steps, release
    with auto_dismiss() as closed: ...         # close any modal dialog / popup menu an action opens
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from PySide6.QtCore import QEvent, QPoint, QPointF, Qt, QTimer
from PySide6.QtGui import QAction, QKeySequence, QWheelEvent
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QDialog, QMenu, QWidget

from tests.ui.conftest import send_mouse

LEFT = Qt.MouseButton.LeftButton
NO_MOD = Qt.KeyboardModifier.NoModifier


class NotVisible(AssertionError):
    """No point of what a gesture aims at is visible (a card under others, a view full of cards)."""


def _settle() -> None:
    """Deliver the events a gesture posted (layout, update requests), without running timers or
    socket notifiers: processEvents() inside the qasync loop re-enters asyncio and can hang. Async
    tests await `asyncio.sleep(0)` (or wait_until) for what runs later."""
    QApplication.sendPostedEvents()


# ---------------------------------------------------------------------------------------- actions
def _clean(text: str) -> str:
    """A menu text as read: without the mnemonic '&' and without a tab-separated shortcut."""
    return text.split("\t", 1)[0].replace("&&", "\0").replace("&", "").replace("\0", "&").strip()


def menu_actions(window) -> list[tuple[str, QAction]]:
    """Every action reachable from the window's menu bar, as ("Menu/Sub/Item", action), in menu order."""
    out: list[tuple[str, QAction]] = []

    def walk(prefix: str, actions) -> None:
        for action in actions:
            if action.isSeparator():
                continue
            path = f"{prefix}/{_clean(action.text())}" if prefix else _clean(action.text())
            if action.menu() is not None:
                walk(path, action.menu().actions())
            else:
                out.append((path, action))

    walk("", window.menuBar().actions())
    return out


def all_actions(window) -> list[tuple[str, QAction]]:
    """Every action of the window: the menus' (by path), then the window's and the canvas view's own
    (hidden shortcuts), named by their shortcut. Taken from the window, so a new action is included."""
    seen: set[int] = set()
    out: list[tuple[str, QAction]] = []
    for path, action in menu_actions(window):
        if id(action) not in seen:
            seen.add(id(action))
            out.append((path, action))
    extra = list(window.actions()) + list(window.view.actions()) + window.findChildren(QAction)
    for action in extra:
        if id(action) in seen or action.isSeparator() or action.menu() is not None:
            continue
        if not action.shortcuts() and not action.text():
            continue
        if not action.shortcuts() and action.parent() is not window:
            continue  # a child widget's own action (a line edit's, a menu of a button): not a window command
        seen.add(id(action))
        name = _clean(action.text()) or action.shortcut().toString()
        out.append((f"(shortcut)/{name}", action))
    return out


def find_action(window, path: str) -> QAction:
    """The action at menu `path` ("File/New session"; '&' mnemonics and "…" may be left out)."""

    def norm(s: str) -> str:
        return _clean(s).rstrip("…").rstrip(".").strip().lower()

    want = [norm(p) for p in path.split("/")]
    for p, action in menu_actions(window):
        if [norm(x) for x in p.split("/")] == want:
            return action
    raise LookupError(f"no menu action {path!r}; the menus have: {[p for p, _ in menu_actions(window)]}")


def action_for_shortcut(window, keys: str) -> QAction:
    """The window's action bound to `keys` ("Ctrl+N")."""
    seq = QKeySequence(keys)
    for _path, action in all_actions(window):
        if any(s.matches(seq) == QKeySequence.SequenceMatch.ExactMatch for s in action.shortcuts()):
            return action
    raise LookupError(f"no action has the shortcut {keys!r}")


def trigger(window, what: str | QAction) -> QAction:
    """Trigger an action as a menu click does (QAction.trigger: `triggered(checked)` reaches its slots)."""
    action = what if isinstance(what, QAction) else find_action(window, what)
    assert action.isEnabled(), f"{_clean(action.text())!r} is disabled"
    action.trigger()
    _settle()
    return action


# ---------------------------------------------------------------------------------------- keys
def _combos(keys: str | QKeySequence):
    seq = keys if isinstance(keys, QKeySequence) else QKeySequence(keys)
    assert seq.count(), f"not a key sequence: {keys!r}"
    return [seq[i] for i in range(seq.count())]


def press_keys(target, keys: str | QKeySequence) -> QWidget:
    """Press `keys` ("Ctrl+N", "Ctrl+Return", "F", "Esc") as key events on a widget, the way a keyboard
    does: shortcuts are matched first (ShortcutOverride), then the widget gets the key. `target`: a
    widget, or the main window (its focused widget then, or the window itself). Returns the widget."""
    widget = target
    if hasattr(target, "menuBar"):  # the main window: keys go to whatever has the focus
        widget = target.focusWidget() or QApplication.focusWidget() or target
    for combo in _combos(keys):
        QTest.keyClick(widget, combo.key(), combo.keyboardModifiers())
    _settle()
    return widget


def type_text(widget, text: str) -> None:
    QTest.keyClicks(widget, text)
    _settle()


def focus(widget) -> None:
    """Give `widget` the keyboard focus as a click on it would (and make its window the active one)."""
    widget.window().activateWindow()
    widget.setFocus(Qt.FocusReason.MouseFocusReason)
    _settle()


# ---------------------------------------------------------------------------------------- cards
def _card(window, node_id: str):
    card = window.scene.card(node_id)
    assert card is not None, f"no card {node_id} on the canvas"
    return card


def _visible_at(window, card, scene_point: QPointF) -> QPoint | None:
    view = window.view
    p = view.mapFromScene(scene_point)
    if not view.viewport().rect().adjusted(2, 2, -2, -2).contains(p):
        return None
    return p if view._card_at(p) is card else None


def card_screen_pos(window, node_id: str, where: str = "header", scroll: bool = True) -> QPoint:
    """A point of the card in viewport coordinates, on top of every other item there: `where` is
    "header" (the title bar, no button) or "body" (its text). The view scrolls to the card first when
    that point is off screen (what a user does), unless `scroll` is False."""
    card = _card(window, node_id)
    for attempt in range(2):
        r = card.sceneBoundingRect()
        scale = card.sceneBoundingRect().width() / max(card.boundingRect().width(), 1.0)
        candidates: list[QPointF] = []
        if where == "header":
            for fx in (0.35, 0.5, 0.2, 0.65):
                candidates.append(QPointF(r.left() + r.width() * fx, r.top() + 12 * scale))
        elif where == "body":
            for fy in (0.5, 0.35, 0.65, 0.25):
                for fx in (0.5, 0.3, 0.7):
                    candidates.append(QPointF(r.left() + r.width() * fx, r.top() + r.height() * fy))
        else:
            raise ValueError(f"where={where!r}")
        for c in candidates:
            item_pos = card.mapFromScene(c)
            hit = card.hit_test(item_pos)
            if where == "header" and hit not in ("",):
                continue
            if where == "body" and hit != "body":
                continue
            p = _visible_at(window, card, c)
            if p is not None:
                return p
        if attempt == 0 and scroll:
            window.view.ensure_card_visible(node_id)
            _settle()
    raise NotVisible(f"no visible {where} point on card {node_id} (rect {card.sceneBoundingRect()})")


def click_card(window, node_id: str, where: str = "header", mods=NO_MOD, button=LEFT) -> QPoint:
    p = card_screen_pos(window, node_id, where)
    QTest.mouseClick(window.view.viewport(), button, mods, p)
    _settle()
    return p


def double_click_card(window, node_id: str, where: str = "body") -> QPoint:
    p = card_screen_pos(window, node_id, where)
    double_click(window.view.viewport(), p)
    return p


def double_click(widget, pos: QPoint, button=LEFT, mods=NO_MOD) -> None:
    """What a platform delivers for a double-click: press, release, double-click, release.
    (QTest.mouseDClick on a widget sends the double-click event alone: no release, so whatever the
    press grabbed stays grabbed, which no user can do.)"""
    QTest.mouseClick(widget, button, mods, pos)
    QTest.mouseDClick(widget, button, mods, pos)
    QTest.mouseRelease(widget, button, mods, pos)
    _settle()


def drag(window, start: QPoint, end: QPoint, button=LEFT, mods=NO_MOD, steps: int = 6) -> None:
    """Press at `start`, move in steps to `end` with the button held, release (viewport coordinates)."""
    vp = window.view.viewport()
    send_mouse(vp, QEvent.Type.MouseButtonPress, start, button, button, mods)
    for i in range(1, steps + 1):
        p = start + (end - start) * (i / steps)
        send_mouse(vp, QEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, button, mods)
    send_mouse(vp, QEvent.Type.MouseButtonRelease, end, button, Qt.MouseButton.NoButton, mods)
    _settle()


def drag_card(window, node_id: str, dx: int, dy: int, where: str = "header", mods=NO_MOD) -> QPoint:
    """Drag the card by its header `dx`, `dy` viewport pixels. Returns where the press was."""
    start = card_screen_pos(window, node_id, where)
    drag(window, start, start + QPoint(dx, dy), mods=mods)
    return start


def empty_point(window) -> QPoint:
    """A viewport point with no card under it (and none close to its left)."""
    view = window.view
    for y in range(12, view.viewport().height() - 12, 24):
        for x in range(12, view.viewport().width() - 12, 24):
            p = QPoint(x, y)
            if view._card_at(p) is None and view.childAt(p) is None:
                return p
    raise NotVisible("no empty spot in the view")


def wheel(window, pos: QPoint, clicks: int, mods=NO_MOD) -> None:
    """Turn the wheel `clicks` notches (120 each; positive: away from the user) at `pos`."""
    vp = window.view.viewport()
    event = QWheelEvent(
        QPointF(pos), QPointF(vp.mapToGlobal(pos)), QPoint(0, 0), QPoint(0, 120 * clicks),
        Qt.MouseButton.NoButton, mods, Qt.ScrollPhase.NoScrollPhase, False,
    )
    QApplication.sendEvent(vp, event)
    _settle()


# ---------------------------------------------------------------------------------------- dialogs
@contextlib.contextmanager
def auto_dismiss(interval_ms: int = 5) -> Iterator[list[str]]:
    """While inside, any modal dialog (QDialog.exec, QMessageBox, QFileDialog, QInputDialog) or popup
    menu that opens is closed as a user's Escape would (rejected), and named in the yielded list. A
    dialog's own code still runs and any error in it still surfaces: only the user's answer is "Cancel"."""
    closed: list[str] = []

    def poll() -> None:
        for get in (QApplication.activePopupWidget, QApplication.activeModalWidget):
            w = get()
            if w is None or not w.isVisible():
                continue
            closed.append(f"{type(w).__name__}: {w.windowTitle() or getattr(w, 'title', lambda: '')()}")
            if isinstance(w, QDialog):
                w.done(QDialog.DialogCode.Rejected)
            elif isinstance(w, QMenu):
                w.close()
            else:
                w.close()

    timer = QTimer()
    timer.setInterval(interval_ms)
    timer.timeout.connect(poll)
    timer.start()
    try:
        yield closed
    finally:
        timer.stop()
        poll()


def close_new_windows(before: set[int], main) -> list[str]:
    """Close every visible top-level widget not in `before` (ids) other than `main`: the modeless
    dialogs an action opened (focus mode, diff, shortcuts). Returns their class names."""
    names = []
    for w in QApplication.topLevelWidgets():
        if w is main or id(w) in before or not w.isVisible():
            continue
        names.append(type(w).__name__)
        if isinstance(w, QDialog):
            w.done(QDialog.DialogCode.Rejected)
        else:
            w.close()
    _settle()
    return names


def visible_windows() -> set[int]:
    return {id(w) for w in QApplication.topLevelWidgets() if w.isVisible()}


def shortcut_text(action: QAction) -> str:
    return action.shortcut().toString(QKeySequence.SequenceFormat.PortableText)


def is_canvas_only(window, action: QAction) -> bool:
    return action in window.view.actions() and action.shortcutContext() != Qt.ShortcutContext.WindowShortcut



# ---------------------------------------------------------------------------------------- composer, sidebar
def send(window, text: str | None = None) -> None:
    """Send from the composer as a user does: (type `text` into the prompt box,) Ctrl+Return there."""
    edit = window.composer.edit
    focus(edit)
    if text is not None:
        QTest.keyClick(edit, Qt.Key.Key_A, Qt.KeyboardModifier.ControlModifier)
        type_text(edit, text)
    press_keys(edit, "Ctrl+Return")


def click_widget(widget, pos: QPoint | None = None, button=LEFT, mods=NO_MOD) -> None:
    QTest.mouseClick(widget, button, mods, widget.rect().center() if pos is None else pos)
    _settle()


def click_list_item(list_widget, item) -> None:
    """A left click on a QListWidget row (what the sidebar's session list gets)."""
    rect = list_widget.visualItemRect(item)
    click_widget(list_widget.viewport(), rect.center())


@contextlib.contextmanager
def choosing(text: str, interval_ms: int = 5) -> Iterator[list[str]]:
    """While inside, the first popup menu that opens gets `text` (its start) chosen as a user does:
    the item made current, then Return. The yielded list gets the menu's item texts."""
    seen: list[str] = []

    def poll() -> None:
        menu = QApplication.activePopupWidget()
        if not isinstance(menu, QMenu) or not menu.isVisible() or seen:
            return
        items = [a for a in menu.actions() if not a.isSeparator()]
        seen.extend(_clean(a.text()) for a in items)
        match = next((a for a in items if _clean(a.text()).startswith(text)), None)
        if match is None:
            menu.close()
            return
        menu.setActiveAction(match)
        QTest.keyClick(menu, Qt.Key.Key_Return)

    timer = QTimer()
    timer.setInterval(interval_ms)
    timer.timeout.connect(poll)
    timer.start()
    try:
        yield seen
    finally:
        timer.stop()
    assert seen, f"no menu opened to choose {text!r} from"


def context_menu(widget, pos: QPoint) -> None:
    """A right click's context-menu request at `pos` (what the platform sends after the press)."""
    from PySide6.QtGui import QContextMenuEvent

    QTest.mousePress(widget, Qt.MouseButton.RightButton, NO_MOD, pos)
    event = QContextMenuEvent(QContextMenuEvent.Reason.Mouse, pos, widget.mapToGlobal(pos))
    QApplication.sendEvent(widget, event)
    QTest.mouseRelease(widget, Qt.MouseButton.RightButton, NO_MOD, pos)
    _settle()
