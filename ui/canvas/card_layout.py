"""Where everything on a card goes, for each kind of card: its header (title, subtitle, colour,
status chip), its sections, its body (cut at the card's height, or estimated while a lazy card has no
documents), its metrics or file tiles and its action row, collapsed or not.

A card's `CardLayout` (chosen by its kind: `CardItem.layout_class`) builds a fresh `CardState` from
the node on every `CardItem.sync`; the documents it lays out belong to the card's parts (its body,
reasoning and error box). Qt main thread only.
"""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

from PySide6.QtCore import QRectF
from PySide6.QtGui import QColor

from app import layout
from app.domain import Node, NodeKind, NodeStatus
from app.present.status import member_note, status_chip
from ui.canvas import constants as C
from ui.canvas.card_buttons import action_row, file_tile_row
from ui.canvas.card_state import CardState
from ui.canvas.card_text import html_text, overview_text
from ui.card_actions import buttons_for
from ui.format import error_advice, metrics_line

if TYPE_CHECKING:
    from app.outline import CardOutline
    from app.render.incremental import IncrementalRenderer
    from ui.canvas.cards import CardItem
    from ui.canvas.style import CardStyle


def stripe_color(node: Node | CardOutline, style: CardStyle) -> str:
    """The colour of a card's left stripe (and of its block on the minimap)."""
    theme = style.theme
    if node.kind == NodeKind.PROMPT:
        return theme.accent
    if node.kind == NodeKind.NOTE:
        return node.color or theme.status.get("thinking", "#7C3AED")
    if node.kind in (NodeKind.RESPONSE, NodeKind.SYNTHESIS):
        if style.blind is not None and style.blind.is_blind(node.id):  # before the vote: neutral
            return (style.blind.present(node).color if isinstance(node, Node) else None) or theme.muted
        provider = node.model.split(":", 1)[0] if node.model else ""
        return node.color or style.provider_color(provider)
    return theme.muted


class CardLayout:
    """A plain card: a header, a markdown body and an action row. The kinds below fill in more."""

    __slots__ = ("card",)

    def __init__(self, card: CardItem) -> None:
        self.card = card

    def __repr__(self) -> str:
        return f"<{type(self).__name__} {self.card!r}>"

    def build(self, node: Node, detailed: bool, following: bool) -> CardState:
        """The card's state for `node`; `detailed`: lay its documents out (else estimate the body);
        `following`: keep the body scrolled to its end (the text is streaming)."""
        card = self.card
        style = card.card_style
        st = CardState()
        st.width = layout.width(node)
        st.collapsed = node.collapsed
        st.overview = overview_text(node.text)
        if node.status == NodeStatus.ERROR:  # zoomed out, a failed card still says why
            advice = error_advice(node, style.provider_display)
            if advice is not None:
                st.overview = overview_text(html_text(advice[0]) + "\n\n" + node.text)
        self.fill_header(node, st)
        inner_w = st.width - 2 * C.CARD_PAD - C.STRIPE_W
        left = C.STRIPE_W + C.CARD_PAD
        y = C.HEADER_H
        if st.collapsed:
            st.preview = " ".join(node.text.split())[:400]
            y = self.fill_actions(node, st, y + 22.0, left, inner_w)
            return self._finish(st, y + 6.0)
        y = self.fill_sections(node, st, y, left, inner_w)
        # body
        available = max(layout.height(node) - y - self.footer_height(node) - 16.0, 60.0)
        body = card.body
        if detailed:
            body.set_html(self.body_html(node), inner_w, style)
            doc_h = body.doc.height() if node.text else 0.0
        else:
            doc_h = body.estimate_height(node.text, inner_w, style, available) if node.text else 0.0
        st.doc_h = doc_h
        if not node.text:
            st.body_placeholder = self.placeholder(node)
            body_h = C.BODY_MIN_H if st.body_placeholder else 0.0
        else:
            body_h = min(doc_h, available)
            if style.whole_answers:
                st.grown, body_h = doc_h - body_h, doc_h
        st.body_rect = QRectF(left, y + 4.0, inner_w, body_h)
        st.body_scrollable = doc_h > body_h + 0.5
        body.place(doc_h, body_h, following)
        y += body_h + 12.0
        st.code_buttons = body.code_buttons(node.text, st, style.interactive)
        y = self.fill_metrics(node, st, y, left, inner_w)
        y = self.fill_actions(node, st, y, left, inner_w)
        return self._finish(st, y + 4.0)

    @staticmethod
    def _finish(st: CardState, height: float) -> CardState:
        st.height = max(height, C.HEADER_H + 10.0)
        return st

    # ------------------------------------------------------------------ what a kind fills in
    def fill_header(self, node: Node, st: CardState) -> None:
        st.title = "Card"
        st.stripe = QColor(stripe_color(node, self.card.card_style))

    def fill_sections(self, node: Node, st: CardState, y: float, left: float, w: float) -> float:
        """The sections above the body (an answer's reasoning and error box); returns the body's top."""
        return y

    def body_html(self, node: Node) -> str:
        return self.card.card_style.render_markdown(node.text) if node.text else ""

    def placeholder(self, node: Node) -> str:
        """What the body says while there is no text ("" for none)."""
        return ""

    def footer_height(self, node: Node) -> float:
        return C.ACTIONS_H if self.card.card_style.interactive else 0.0

    def fill_metrics(self, node: Node, st: CardState, y: float, left: float, w: float) -> float:
        return y

    def actions(self, node: Node) -> list[tuple[str, str, bool]]:
        """The card's buttons (ui/card_actions.py, the one table of card actions), then its "⋯" menu."""
        return [(action, label, False) for action, label in buttons_for(node)] + [("menu", "⋯", False)]

    def fill_actions(self, node: Node, st: CardState, y: float, left: float, w: float) -> float:
        style = self.card.card_style
        if not style.interactive:
            return y
        # no second Retry next to the one in the error box
        has_primary_retry = any(b.action == "retry" for b in st.buttons)
        actions = [a for a in self.actions(node) if not (a[0] == "retry" and has_primary_retry)]
        st.buttons.extend(action_row(actions, style, y, left, w))
        return y + C.ACTIONS_H


class PromptLayout(CardLayout):
    """A prompt: who asked what in the subtitle, its files in a row of tiles under its text."""

    __slots__ = ()

    def fill_header(self, node: Node, st: CardState) -> None:
        st.title = node.title or (node.author if member_note(node) else None) or "You"
        st.stripe = QColor(stripe_color(node, self.card.card_style))
        bits = []
        if node.params.system:
            bits.append("system prompt")
        targets = node.meta.get("targets") if isinstance(node.meta, dict) else None
        if isinstance(targets, list) and targets:
            bits.append(f"asked {len(targets)} model{'s' if len(targets) != 1 else ''}")
        mode = node.meta.get("mode") if isinstance(node.meta, dict) else None
        if mode == "shared":
            bits.append("shared context")
        if node.attachments:
            bits.append(f"{len(node.attachments)} file{'s' if len(node.attachments) != 1 else ''}")
        st.subtitle = " · ".join(bits)

    def footer_height(self, node: Node) -> float:
        return super().footer_height(node) + (layout.FILES_ROW_H if node.attachments else 0.0)

    def fill_metrics(self, node: Node, st: CardState, y: float, left: float, w: float) -> float:
        if not node.attachments:
            return y
        st.file_buttons = file_tile_row(node.attachments, y, left, w)
        return y + layout.FILES_ROW_H


class NoteLayout(CardLayout):
    __slots__ = ()

    def fill_header(self, node: Node, st: CardState) -> None:
        st.title = node.title or "Note"
        st.stripe = QColor(stripe_color(node, self.card.card_style))


_SYNTHESIS_LABELS = {
    "merge": "Merged answer",
    "judge": "Judgement",
    "compare": "Comparison",
    "custom": "Custom synthesis",
}


class ResponseLayout(CardLayout):
    """An answer (or a synthesis): the model and a status chip in the header, reasoning and error box
    above the body (rendered incrementally while it streams), the metrics line under it."""

    __slots__ = ("renderer", "renderer_style")

    def __init__(self, card: CardItem) -> None:
        super().__init__(card)
        self.renderer: IncrementalRenderer | None = None  # while the node streams
        self.renderer_style: CardStyle | None = None

    def body_html(self, node: Node) -> str:
        if not node.text:
            return ""
        style = self.card.card_style
        if node.status.is_live:
            if self.renderer is None or self.renderer_style is not style:
                self.renderer = style.incremental_renderer()
                self.renderer_style = style
            return self.renderer.update(node.text)
        if self.renderer is not None and self.renderer_style is style:
            # The stream ended: the same renderer's final pass equals render_markdown(text) but only
            # re-does what streaming approximated, instead of parsing the whole answer again.
            renderer, self.renderer = self.renderer, None
            return renderer.update(node.text, final=True)
        self.renderer = None
        return style.render_markdown(node.text)

    def fill_header(self, node: Node, st: CardState) -> None:
        style = self.card.card_style
        st.title = style.display_name(node.model) if node.model else (node.title or "Response")
        if node.kind == NodeKind.SYNTHESIS:
            how = str(node.meta.get("instruction_kind") or "synthesis")
            label = _SYNTHESIS_LABELS.get(how, "Synthesis")
            st.subtitle = f"{label} · {node.model}" if node.model else label
        elif node.model:
            st.subtitle = node.model
        if who := member_note(node):  # another member's card (a team store)
            st.subtitle = f"{st.subtitle} · {who}" if st.subtitle else who
        st.stripe = QColor(stripe_color(node, style))
        key, text = status_chip(node, time.time())
        st.status_key, st.status_text = key, text
        chip_w = style.small_bold_advance(text) + 26.0
        st.status_rect = QRectF(st.width - C.CARD_PAD - chip_w, (C.HEADER_H - 20) / 2, chip_w, 20)

    def placeholder(self, node: Node) -> str:
        if node.status.is_live:
            phase = node.run.phase if node.run is not None else None
            if phase == "thinking" or node.reasoning:
                return "Thinking…"
            if phase == "queued":
                return "Waiting for a free slot…"
            return "Waiting for the first token…"
        if node.status == NodeStatus.DONE:
            return "(empty answer)"
        if node.status == NodeStatus.STOPPED:
            return "Stopped before any text arrived."
        if node.status == NodeStatus.INTERRUPTED:
            return "Interrupted before any text arrived."
        return ""  # an error: its box says what happened

    def fill_sections(self, node: Node, st: CardState, y: float, left: float, w: float) -> float:
        card = self.card
        y = card.reasoning.layout(node, st, card.card_style, y, left, w)
        return card.error_box.layout(node, st, card.card_style, y, left, w)

    def footer_height(self, node: Node) -> float:
        return C.METRICS_H + (C.ACTIONS_H if self.card.card_style.interactive else 0.0)

    def fill_metrics(self, node: Node, st: CardState, y: float, left: float, w: float) -> float:
        st.metrics_text = metrics_line(node)
        st.metrics_rect = QRectF(left, y, w, C.METRICS_H)
        return y + C.METRICS_H
