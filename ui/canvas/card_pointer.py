"""The mouse on a card: clicks on its buttons and links, text selection in its body, the scroll bar
of a wide table, hover feedback, double-click (focus mode) and its context menu.

`CardPointer` holds the gesture in progress; the card's Qt event handlers ask it first and fall back
to Qt's item behaviour (select, drag) when it returns False. Qt main thread only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import QPointF, QRectF, Qt
from PySide6.QtWidgets import (
    QGraphicsSceneContextMenuEvent,
    QGraphicsSceneHoverEvent,
    QGraphicsSceneMouseEvent,
    QGraphicsView,
)

from ui.canvas import constants as C
from ui.canvas.card_buttons import button_at
from ui.canvas.card_state import CardButton
from ui.canvas.segdoc import TextPos

if TYPE_CHECKING:
    from ui.canvas.cards import CardItem

_LEFT = Qt.MouseButton.LeftButton
_EXTEND = Qt.KeyboardModifier.ControlModifier | Qt.KeyboardModifier.ShiftModifier


def shows_overview(event: QGraphicsSceneMouseEvent) -> bool:
    """Whether the view the mouse `event` came from shows cards as their overview (title and first
    words, no buttons or text to select): then a click anywhere on a card selects or drags it
    (issue #12: a click on the title strip at 22 % hit a button that was not drawn)."""
    viewport = event.widget()
    view = viewport.parentWidget() if viewport is not None else None
    return isinstance(view, QGraphicsView) and view.transform().m11() < C.LOD_TEXT_MIN


class CardPointer:
    """The gesture in progress on one card, and what the mouse hovers."""

    __slots__ = ("card", "hbar_drag", "hover_button", "hovered", "in_press", "press_button", "text_drag")

    def __init__(self, card: CardItem) -> None:
        self.card = card
        self.hover_button: str | None = None  # the button drawn hovered
        self.hovered = False
        self.press_button: CardButton | None = None  # pressed; acted on if released over it
        self.in_press = False  # inside the card's mousePressEvent (see there)
        self.text_drag = False  # the left button is selecting text
        self.hbar_drag: tuple[int, float, float] | None = None  # (table, press x, its offset then)

    def __repr__(self) -> str:
        return (
            f"<CardPointer hover={self.hover_button!r} drag={self.text_drag or self.hbar_drag is not None}>"
        )

    # ------------------------------------------------------------------ what is where
    def hit_test(self, pos: QPointF) -> str:
        """What is under `pos` (item coordinates): a button action, "link:<url>", "reasoning", "body", ""."""
        card = self.card
        st = card.state
        b = button_at(st, pos)
        if b is not None:
            return b.action
        link = "" if st.body_placeholder else card.body.link_at(st.body_rect, pos)
        if link:
            return f"link:{link}"
        if st.reasoning_row is not None and st.reasoning_row.contains(pos):
            return "toggle_reasoning"
        if st.body_rect.contains(pos):
            return "body"
        return ""

    def activate(self, hit: str) -> None:
        """Perform what a click on `hit` (from `hit_test`) means."""
        card = self.card
        if hit == "toggle_reasoning":
            card.set_reasoning_open(not card.reasoning.open)
        elif hit.startswith("link:"):
            card.request_action("open_link", hit[5:])
        elif hit.startswith(("copy_code:", "open_file:")):
            action, index = hit.split(":", 1)
            card.request_action(action, int(index))
        elif hit:
            card.request_action(hit)

    # ------------------------------------------------------------------ the wheel
    def scroll(self, dy: float, pos: QPointF | None = None) -> bool:
        """Scroll the body (or the open reasoning, at `pos`) by `dy`; True if the wheel is used up."""
        card = self.card
        st = card.state
        if pos is not None and st.reasoning_rect is not None and st.reasoning_rect.contains(pos):
            moved = card.reasoning.scroll_by(dy, st.reasoning_rect)
            if moved:
                card.update()
            return moved is not False  # at its end: still swallow the wheel
        if not st.body_scrollable:
            return False
        if card.body.scroll_by(dy, st):
            node = card.node
            if node is not None:
                st.code_buttons = card.body.code_buttons(node.text, st, card.card_style.interactive)
            card.update()
        return True  # at the end: still swallow the wheel so the canvas does not jump

    def can_scroll(self, pos: QPointF | None = None) -> bool:
        st = self.card.state
        if pos is not None and st.reasoning_rect is not None and st.reasoning_rect.contains(pos):
            return self.card.reasoning.can_scroll(st.reasoning_rect)
        return st.body_scrollable

    # ------------------------------------------------------------------ press, move, release
    def press(self, event: QGraphicsSceneMouseEvent) -> bool:
        """True if the press is handled here (a button, a link, text, a table's scroll bar)."""
        card = self.card
        pos = event.pos()
        overview = shows_overview(event)  # no buttons, links or text there: select or drag, as on a header
        if overview:
            card.clear_text_selection()
        elif event.button() == _LEFT and (i := card.body.hbar_at(card.state, pos)) >= 0:
            # the thin scroll bar under a wide table: dragging it scrolls the table
            self.hbar_drag = (i, pos.x(), card.body.doc.x_offset(i))
            self.press_button = None
            event.accept()
            return True
        if event.button() == _LEFT and not overview:
            hit = self.hit_test(pos)
            b = button_at(card.state, pos)
            if b is not None or hit.startswith("link:") or hit == "toggle_reasoning":
                self.press_button = b or CardButton(hit, "", QRectF())
                event.accept()
                return True
            if self._selected_alone() and not event.modifiers() & _EXTEND and self._text_allowed(pos):
                # In the selected card's body a drag selects text (the header still moves the card; with
                # several cards selected, dragging any of them moves them all, as before).
                where = card.body.position_at(card.state.body_rect, pos)
                if where is not None:
                    self.press_button = None
                    self.text_drag = True
                    self._select(where, where)
                    event.accept()
                    return True
            card.clear_text_selection()
        self.press_button = None
        if event.button() == _LEFT:
            card.setZValue(C.Z_CARD_DRAGGED)
        return False

    def move(self, event: QGraphicsSceneMouseEvent) -> bool:
        """True if the move is handled here (or ignored: see CardItem.mousePressEvent)."""
        if self.in_press:
            event.accept()
            return True
        if self.text_drag:
            self._drag_text_to(event.pos())
            event.accept()
            return True
        if self.hbar_drag is not None:
            card = self.card
            i, x0, offset = self.hbar_drag
            if card.body.drag_hbar(i, offset, event.pos().x() - x0, card.state.body_rect.width()):
                card.update()
            event.accept()
            return True
        return False

    def release(self, event: QGraphicsSceneMouseEvent) -> bool:
        """True if the release ends a gesture of this pointer (a click on a button acts)."""
        if self.hbar_drag is not None and event.button() == _LEFT:
            self.hbar_drag = None
            event.accept()
            return True
        card = self.card
        if self.text_drag and event.button() == _LEFT:
            self.text_drag = False
            if not card.has_text_selection:
                card.clear_text_selection()  # a plain click in the text
            event.accept()
            return True
        pressed = self.press_button
        self.press_button = None
        if pressed is not None and event.button() == _LEFT:
            hit = self.hit_test(event.pos())
            if hit == pressed.action:
                self.activate(hit)
            event.accept()
            return True
        return False

    def double_click(self, event: QGraphicsSceneMouseEvent) -> bool:
        card = self.card
        if shows_overview(event):  # no text shown to select: the card in focus mode
            self._focus(event)
            return True
        pos = event.pos()
        if event.button() == _LEFT and self._text_allowed(pos):
            # A double-click on the text selects the word under it, as in every reader; dragging on
            # from there extends the selection.
            word = card.body.word_at(card.state.body_rect, pos)
            if word is not None:
                card.select_alone()
                self.text_drag = True
                self._select(*word)
                event.accept()
                return True
        if self.hit_test(pos) == "":  # the header or the margins: the card in focus mode
            self._focus(event)
            return True
        return False

    def _focus(self, event: QGraphicsSceneMouseEvent) -> None:
        self.card.request_action("focus")
        event.accept()
        self.let_go()  # the release goes to the focus window

    def context_menu(self, event: QGraphicsSceneContextMenuEvent) -> None:
        card = self.card
        card.select_alone()
        card.request_action("menu", event.screenPos())
        event.accept()
        self.let_go()  # the menu took the release

    def let_go(self) -> None:
        """Stop grabbing the mouse after a gesture that opened a menu or a window: the button's release
        goes there, and a card left grabbing would follow the next move (issue #12)."""
        card = self.card
        scene = card.scene()
        if scene is not None and scene.mouseGrabberItem() is card:
            card.ungrabMouse()

    # ------------------------------------------------------------------ hover
    def hover_move(self, event: QGraphicsSceneHoverEvent) -> None:
        card = self.card
        pos = event.pos()
        hit = self.hit_test(pos)
        button = hit if hit and hit != "body" and not hit.startswith("link:") else None
        if button != self.hover_button:
            self.hover_button = button
            card.update()
        if button or hit.startswith("link:"):
            card.setCursor(Qt.CursorShape.PointingHandCursor)
        elif (
            hit == "body"
            and card.isSelected()
            and not card.state.body_placeholder
            and card.body.hbar_at(card.state, pos) < 0
        ):
            card.setCursor(Qt.CursorShape.IBeamCursor)  # a drag here selects text
        else:
            card.unsetCursor()

    def hover_enter(self) -> None:
        self.hovered = True
        self.card.update()

    def hover_leave(self) -> None:
        self.hovered = False
        self.hover_button = None
        self.card.update()
        self.card.unsetCursor()

    # ------------------------------------------------------------------ text selection
    def _selected_alone(self) -> bool:
        card = self.card
        if not card.isSelected():
            return False
        scene = card.scene()
        return scene is None or len(scene.selectedItems()) == 1

    def _text_allowed(self, pos: QPointF) -> bool:
        """Text can be selected at `pos`: over the body's text, at a zoom where text shows."""
        card = self.card
        st = card.state
        if st.body_placeholder or st.collapsed or self.hit_test(pos) != "body":
            return False
        if not card.text_readable():
            return False
        card.ensure_detail()
        return bool(card.body.doc.height())

    def _select(self, anchor: TextPos, cursor: TextPos) -> None:
        card = self.card
        card.body.selection = (anchor, cursor)
        card.text_selection_started()
        card.update()

    def _drag_text_to(self, pos: QPointF) -> None:
        card = self.card
        r = card.state.body_rect
        if pos.y() > r.bottom():
            self.scroll(min(pos.y() - r.bottom(), 40.0))  # dragging past the edge scrolls the body
        elif pos.y() < r.top():
            self.scroll(-min(r.top() - pos.y(), 40.0))
        where = card.body.position_at(r, pos)
        sel = card.body.selection
        if where is not None and sel is not None:
            self._select(sel[0], where)
