"""The context lens: per target, the exact messages it will receive, its token and cost estimates.

A view over `engine.plan(...)` results (`PlannedCall`s); it never computes anything itself.
"""

from __future__ import annotations

import html

from PySide6.QtWidgets import QFrame, QLabel, QTextBrowser, QVBoxLayout, QWidget

from ui.format import fmt_cost

PREVIEW_CHARS = 900


class ContextLensPanel(QFrame):
    def __init__(self, display_name, parent: QWidget | None = None) -> None:
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
        self._plans: list = []

    def plans(self) -> list:
        return list(self._plans)

    def show_error(self, message: str) -> None:
        self._plans = []
        self.browser.setHtml(f"<p>{html.escape(message)}</p>")

    def set_plans(self, plans: list) -> None:
        self._plans = list(plans)
        if not plans:
            self.browser.setHtml("<p>Choose at least one model to see what it will receive.</p>")
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
            for w in call.warnings:
                parts.append(f"<p style='margin:0 0 4px 0;color:#C2410C'>⚠ {html.escape(w)}</p>")
            if call.system:
                parts.append(self._message("system", call.system, None))
            for m in call.messages:
                parts.append(self._message(m.role, m.content, getattr(m, "model", None)))
        self.browser.setHtml("".join(parts))

    def _message(self, role: str, content: str, model: str | None) -> str:
        who = role + (f" · {html.escape(self._display_name(model))}" if model else "")
        text = (
            content
            if len(content) <= PREVIEW_CHARS
            else content[:PREVIEW_CHARS] + f"… ({len(content):,} chars)"
        )
        body = html.escape(text)
        return (
            f"<p style='margin:8px 0 0 0'><b>{who}</b></p>"
            f"<p style='margin:0 0 0 10px;white-space:pre-wrap'>{body}</p>"
        )

    def text(self) -> str:
        return self.browser.toPlainText()
