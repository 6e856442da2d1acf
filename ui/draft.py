"""The composer's draft, planned as it is typed: the estimate beside the Send button, warnings for files
a chosen model cannot take, and the context lens when it is open (engine.plan, offline).

Qt main thread only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ui.format import fmt_cost

if TYPE_CHECKING:
    from ui.main_window import MainWindow


def refresh_draft(w: MainWindow) -> None:
    """Re-plan the composer's draft (engine.plan) for the estimate label and, if open, the lens."""
    from app.estimate import draft_estimate

    targets = w.composer.targets()
    if w.arena.hides_lens(w.composer, w.lens):
        return
    try:
        plans = w.controller.plan(w.composer.text(), targets, w.composer.mode(),
                                  attachments=w.composer.attachments())
    except Exception as exc:  # planning is advisory: say why, never break typing
        w.composer.set_estimate("")
        w.composer.files.show_warnings([])
        if w.lens.isVisible():
            w.lens.show_error(str(exc))
        return
    w.composer.files.show_warnings([
        "⚠ " + p.unsupported.replace(" was not sent", " will not be sent: its lane will fail")
        for p in plans if p.unsupported and w.composer.attachments()
    ])
    estimate = draft_estimate(plans)
    if estimate is not None:
        tokens, cost = estimate.input_tokens, estimate.cost_usd
        est = f"≈ {tokens:,} tokens in · est. {fmt_cost(cost)}" if cost is not None else f"≈ {tokens:,} tokens in"
        drafted = w.composer.text().strip() or w.composer.attachments()
        w.composer.set_estimate(est if drafted else "")
        w.composer.estimate_label.setToolTip(
            "Estimated before sending, offline: input tokens of the largest context, and the cost over all "
            "models assuming about 1,000 output tokens each. Open the context lens for details."
        )
    else:
        w.composer.set_estimate("")
    if w.lens.isVisible():
        w.lens.set_plans(plans, w.composer.text(), files=w.composer.attachments())
