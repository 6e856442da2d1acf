"""The card actions: ONE table used by a card's buttons, its context menu and the window's Cards menu.

Each `CardAction` has an id (what a card reports in `card_action_requested`), the Cards menu label and
shortcut, when (and under which label) it is offered for a card, its card button, and its handler.
A handler gets the controller and the card it was chosen on, or None when it came from the Cards menu:
then it acts on the selected cards. The card gestures that carry an argument (a link, a code block, a
text selection) are not menu actions: see `CanvasController.handle_card_action`.

No Qt here: the window turns the table into QActions, the dialog service into a QMenu.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from app.domain import Node, NodeKind, NodeStatus

if TYPE_CHECKING:
    from ui.controller import CanvasController


@dataclass(frozen=True, slots=True)
class CardContext:
    """What a card's menu depends on besides the node: is its lane running here, how many answers
    are selected."""

    running: bool = False
    selected_answers: int = 0


Label = Callable[[Node, CardContext], str | None]  # the label for this card, None = not offered


@dataclass(frozen=True, slots=True)
class CardAction:
    id: str
    label: str  # in the Cards menu, where it acts on the selected cards
    shortcut: str | None
    card_label: Label  # in the card's context menu (enabled-when: None hides it)
    handler: Callable[[CanvasController, str | None], object]
    group: int = 0  # the context menu puts a separator between groups
    button: Callable[[Node], str | None] | None = None  # the card's own button, if any
    canvas_only: bool = False  # the shortcut works only while the canvas has the focus

    def __repr__(self) -> str:
        return f"<CardAction {self.id}>"


def _has_text(node: Node) -> bool:
    return bool(node.text.strip())


# ------------------------------------------------------------------------------------- handlers
def _first(c: CanvasController, node_id: str | None, answers: bool = True) -> str | None:
    if node_id is not None:
        return node_id
    ids = c.selected_answers() if answers else c.selected_ids()
    return ids[0] if ids else None


def _with_selection(c: CanvasController, node_id: str, ids: list[str]) -> list[str]:
    """The whole selection when the card is part of it, else the card alone."""
    return ids if node_id in ids else [node_id]


def _copy(c: CanvasController, node_id: str | None) -> None:
    c.copy_cards([node_id] if node_id is not None else c.selected_ids())


def _stop(c: CanvasController, node_id: str | None) -> None:
    if node_id is None:
        c.stop_selected_or_all()
    else:
        c.stop([node_id])


def _retry(c: CanvasController, node_id: str | None) -> None:
    for answer in [node_id] if node_id is not None else c.selected_answers():
        c.rerun(answer)


def _rerun_other(c: CanvasController, node_id: str | None, whole_lane: bool = False) -> None:
    target = _first(c, node_id)
    if target is not None:
        c.rerun_on_other(target, whole_lane=whole_lane)


def _continue(c: CanvasController, node_id: str | None) -> None:
    target = _first(c, node_id, answers=False)
    if target is not None:
        c.continue_lane(target)


def _branch(c: CanvasController, node_id: str | None) -> None:
    target = _first(c, node_id, answers=False)
    if target is not None:
        c.branch(target)


def _shared(c: CanvasController, node_id: str | None) -> None:
    for target in [node_id] if node_id is not None else c.follow_ids():
        c.use_as_shared_context(target)


def _synthesize(c: CanvasController, node_id: str | None) -> None:
    c.synthesize(None if node_id is None else _with_selection(c, node_id, c.selected_answers()))


def _collapse(c: CanvasController, node_id: str | None) -> None:
    c.toggle_collapse(None if node_id is None else [node_id])


def _focus(c: CanvasController, node_id: str | None) -> None:
    target = _first(c, node_id, answers=False)
    if target is not None:
        c.focus_requested.emit(target)


def _delete(c: CanvasController, node_id: str | None) -> None:
    c.delete(None if node_id is None else _with_selection(c, node_id, c.selected_ids()))


# ------------------------------------------------------------------------------------- labels
def _copy_label(node: Node, ctx: CardContext) -> str:
    return "Copy answer" if node.is_answer else "Copy prompt" if node.kind == NodeKind.PROMPT else "Copy"


def _answer_if(pred: Callable[[Node, CardContext], bool], label: str) -> Label:
    return lambda node, ctx: label if node.is_answer and pred(node, ctx) else None


def _continue_label(node: Node, ctx: CardContext) -> str | None:
    if node.is_answer:
        return "Continue this lane" if _has_text(node) else None
    return "Ask about this" if node.kind == NodeKind.NOTE else None


def _branch_label(node: Node, ctx: CardContext) -> str | None:
    if node.kind == NodeKind.PROMPT:
        return "Edit and branch"
    return "Branch (edit the prompt)" if node.is_answer and _has_text(node) else None


def _shared_label(node: Node, ctx: CardContext) -> str | None:
    ok = node.kind == NodeKind.NOTE or (node.is_answer and _has_text(node))
    return "Use as shared context" if ok else None


def _table_label(node: Node, ctx: CardContext) -> str | None:
    return "Comparison table…" if node.is_answer or node.kind == NodeKind.PROMPT else None


def _retry_button(node: Node) -> str | None:
    if not node.is_answer or node.status.is_live:
        return None
    return "Retry" if node.status in (NodeStatus.ERROR, NodeStatus.INTERRUPTED, NodeStatus.STOPPED) else "Re-run"


def _continue_button(node: Node) -> str | None:
    if node.kind == NodeKind.NOTE:
        return "Ask about this"
    return "Continue" if node.is_answer and not node.status.is_live and _has_text(node) else None


CARD_ACTIONS: tuple[CardAction, ...] = (
    CardAction("copy", "Copy", None, _copy_label, _copy, 0, button=lambda node: "Copy"),
    CardAction("stop", "Stop (selected or all)", "Esc", _answer_if(lambda n, ctx: ctx.running, "Stop"), _stop, 1,
               button=lambda node: "Stop" if node.is_answer and node.status.is_live else None),
    CardAction("retry", "Retry selected", "Ctrl+R",
               _answer_if(lambda n, ctx: not ctx.running, "Retry (re-run as a sibling)"), _retry, 1,
               button=_retry_button),
    CardAction("rerun_other", "Re-run on another model…", None,
               _answer_if(lambda n, ctx: not ctx.running, "Re-run on another model…"), _rerun_other, 1),
    CardAction("rerun_path", "Re-run the whole lane on another model…", None,
               _answer_if(lambda n, ctx: not ctx.running and n.kind == NodeKind.RESPONSE,
                          "Re-run the whole lane on another model…"),
               lambda c, node_id: _rerun_other(c, node_id, whole_lane=True), 1),
    CardAction("continue", "Continue this lane", None, _continue_label, _continue, 2, button=_continue_button),
    CardAction("branch", "Branch (edit the prompt)", None, _branch_label, _branch, 2,
               button=lambda node: "Edit & branch" if node.kind == NodeKind.PROMPT else None),
    CardAction("shared", "Use as shared context", None, _shared_label, _shared, 2),
    CardAction("synthesize", "Synthesize selected…", "Ctrl+Shift+S",
               lambda n, ctx: f"Synthesize {ctx.selected_answers} answers…"
               if n.is_answer and ctx.selected_answers >= 2 else None, _synthesize, 3),
    CardAction("diff", "Compare two answers (diff)…", "Ctrl+D",
               _answer_if(lambda n, ctx: ctx.selected_answers == 2, "Compare (diff)…"),
               lambda c, node_id: c.compare_selected(node_id), 3),
    CardAction("table", "Comparison table…", "Ctrl+T", _table_label,
               lambda c, node_id: c.comparison_table(node_id), 3),
    CardAction("collapse", "Collapse / expand", "C",
               lambda n, ctx: "Expand" if n.collapsed else "Collapse", _collapse, 4, canvas_only=True),
    CardAction("focus", "Focus mode", "F", lambda n, ctx: "Focus mode\tF", _focus, 4, canvas_only=True),
    CardAction("delete", "Delete selected cards", "Del", lambda n, ctx: "Delete\tDel", _delete, 5,
               canvas_only=True),
)

BY_ID: dict[str, CardAction] = {a.id: a for a in CARD_ACTIONS}


def menu_entries(node: Node, ctx: CardContext) -> list[tuple[str, str] | None]:
    """The card's context menu: (action id, label) in table order, None between groups."""
    out: list[tuple[str, str] | None] = []
    group = None
    for action in CARD_ACTIONS:
        label = action.card_label(node, ctx)
        if label is None:
            continue
        if group is not None and action.group != group:
            out.append(None)
        group = action.group
        out.append((action.id, label))
    return out


def buttons_for(node: Node) -> list[tuple[str, str]]:
    """The card's buttons, left to right: (action id, label); the "⋯" menu button is the card's own."""
    out = []
    for action in CARD_ACTIONS:
        label = action.button(node) if action.button is not None else None
        if label is not None:
            out.append((action.id, label))
    return out
