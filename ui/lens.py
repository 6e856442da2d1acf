"""The context lens: per target, the exact messages it will receive, its token and cost estimates.

A view over `engine.plan(...)` results (`PlannedCall`s); it never computes anything itself.
"""

from __future__ import annotations

import html
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFrame, QLabel, QTextBrowser, QVBoxLayout, QWidget

from ui.format import fmt_cost

if TYPE_CHECKING:
    from app.planner import PlannedCall

# A long message shows its head and its tail around "… N characters …"; the last user message (which
# ends with the new question) keeps its end in full up to QUESTION_CHARS, so the question is never cut.
HEAD_CHARS = 500
TAIL_CHARS = 400
QUESTION_CHARS = 2_000
EMPTY_PROMPT = "Type a prompt to see what each model will receive."


def preview(content: str, tail: int = TAIL_CHARS) -> str:
    """`content` in full when short, else its first HEAD_CHARS and last `tail` characters."""
    if len(content) <= HEAD_CHARS + tail:
        return content
    omitted = len(content) - HEAD_CHARS - tail
    return f"{content[:HEAD_CHARS]}\n… {omitted:,} characters …\n{content[-tail:]}"


def question_tail(content: str, question: str) -> int:
    """How much of the last user message's end to show: the whole new question when it is under
    QUESTION_CHARS (it ends the message), never less than TAIL_CHARS."""
    q = question.strip()
    if q and len(q) <= QUESTION_CHARS and content.rstrip().endswith(q):
        return max(TAIL_CHARS, len(content) - len(content.rstrip()) + len(q))
    return TAIL_CHARS


class ContextLensPanel(QFrame):
    def __init__(self, display_name: Callable[[str], str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("LensPanel")
        self._display_name = display_name
        layout = QVBoxLayout(self)
        layout.setContentsMargins(10, 8, 10, 8)
        title = QLabel("<b>Context lens</b> — what each model will receive", self)
        layout.addWidget(title)
        self.browser = QTextBrowser(self)
        self.browser.setOpenLinks(False)
        self.browser.setFrameShape(QFrame.Shape.NoFrame)
        layout.addWidget(self.browser)
        self._plans: list[PlannedCall] = []

    def plans(self) -> list[PlannedCall]:
        return list(self._plans)

    def show_error(self, message: str) -> None:
        self._plans = []
        self.browser.setHtml(f"<p>{html.escape(message)}</p>")

    def set_plans(
        self, plans: Sequence[PlannedCall], question: str | None = None, files: Sequence[object] = ()
    ) -> None:
        """Show `plans`; `question` is the composer's draft (None: not known), `files` its attachments.
        An empty draft shows a hint instead of a placeholder prompt."""
        self._plans = list(plans)
        if not plans:
            self.browser.setHtml("<p>Choose at least one model to see what it will receive.</p>")
            return
        if question is not None and not question.strip() and not files:
            self.browser.setHtml(f"<p>{html.escape(EMPTY_PROMPT)}</p>")
            return
        parts = []
        for call in plans:
            name = html.escape(self._display_name(call.model))
            cost = fmt_cost(call.cost_est_usd) if call.cost_est_usd is not None else "cost unknown"
            window = f" of {call.context_window:,}" if call.context_window else ""
            parts.append(
                f"<h3 style='margin:10px 0 2px 0'>{name}</h3>"
                f"<p style='margin:0 0 4px 0'>≈ {call.input_tokens_est:,} input tokens{window} · "
                f"est. {cost} (with ~{call.output_tokens_est:,} output tokens) · "
                f"{len(call.messages)} message{'s' if len(call.messages) != 1 else ''}</p>"
            )
            parts.append(self._files(call))
            for w in call.warnings:
                parts.append(f"<p style='margin:0 0 4px 0;color:#C2410C'>⚠ {html.escape(w)}</p>")
            if call.system:
                parts.append(self._message("system", call.system, None))
            last_user = max((i for i, m in enumerate(call.messages) if m.role == "user"), default=-1)
            for i, m in enumerate(call.messages):
                tail = question_tail(m.content, question or "") if i == last_user else TAIL_CHARS
                parts.append(self._message(m.role, m.content, getattr(m, "model", None), tail))
        self.browser.setHtml("".join(parts))

    @staticmethod
    def _files(call: PlannedCall) -> str:
        """The files in this request as this model gets them, with their estimated tokens."""
        out = []
        sent = getattr(call, "files", None) or []
        inlined = getattr(call, "inlined", None) or []
        if sent:
            names = ", ".join(html.escape(a.describe()) for a in sent)
            out.append(f"📎 {names} · ≈ {call.file_tokens_est:,} tokens (est.)")
        if inlined:
            names = ", ".join(html.escape(a.name) for a in inlined)
            out.append(f"📎 inlined as text: {names} (counted in the text)")
        return "".join(f"<p style='margin:0 0 4px 0'>{line}</p>" for line in out)

    def _message(self, role: str, content: str, model: str | None, tail: int = TAIL_CHARS) -> str:
        who = role + (f" · {html.escape(self._display_name(model))}" if model else "")
        body = html.escape(preview(content, tail))
        return (
            f"<p style='margin:8px 0 0 0'><b>{who}</b></p>"
            f"<p style='margin:0 0 0 10px;white-space:pre-wrap'>{body}</p>"
        )

    def text(self) -> str:
        return self.browser.toPlainText()
