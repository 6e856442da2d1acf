"""The main window's status bar: what is streaming, the session's token and cost totals, the zoom.
Qt main thread only.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QLabel, QStatusBar, QToolButton

from ui.format import elide_parts, fmt_cost, fmt_tokens

if TYPE_CHECKING:
    from ui.controller import CanvasController


class WindowStatus:
    """The permanent labels of the window's status bar, kept current by the window's signals."""

    def __init__(self, bar: QStatusBar, controller: CanvasController) -> None:
        self._controller = controller
        self.blind: Callable[[], bool] | None = None  # the open session has a blind match not voted on yet
        self.saving_label = QLabel("", bar)
        self.saving_label.setToolTip(
            "Another program (the triptych command, for example) is writing to the store. Your changes "
            "show here already; they are saved, in order, as soon as it is done."
        )
        self.saving_label.hide()
        self.running_label = QLabel("", bar)
        # Stop sits beside "● N streaming", shown only while something streams: in the composer's row it
        # took room from the model chips (they wrapped onto a second line as a sweep's answers came and went)
        self.stop_button = QToolButton(bar)
        self.stop_button.setText("■ Stop")
        self.stop_button.setToolTip("Stop the running streams (Esc)")
        self.stop_button.setAutoRaise(True)
        self.stop_button.hide()
        self.totals_label = QLabel("", bar)
        self.zoom_label = QLabel("", bar)
        self.sweep_label = QLabel("", bar)  # a running sweep's progress (done/total, failed, cost, ETA)
        bar.addPermanentWidget(self.sweep_label)
        bar.addPermanentWidget(self.saving_label)
        bar.addPermanentWidget(self.running_label)
        bar.addPermanentWidget(self.stop_button)
        bar.addPermanentWidget(self.totals_label)
        bar.addPermanentWidget(self.zoom_label)

    def __repr__(self) -> str:
        return f"<WindowStatus {self.totals_label.text()!r}>"

    def labels(self) -> tuple[QLabel, QLabel, QLabel]:
        """(running, totals, zoom)."""
        return self.running_label, self.totals_label, self.zoom_label

    def show_saving(self, waiting: int) -> None:
        """`waiting` changes wait for the store's lock (app.write_queue): say so until they land."""
        self.saving_label.setText("Saving… (the store is busy)" if waiting else "")
        self.saving_label.setVisible(bool(waiting))

    def show_running(self, count: int) -> None:
        self.running_label.setText(f"● {count} streaming" if count else "")
        self.stop_button.setVisible(count > 0)

    SWEEP_LABEL_MAX_PX = 560  # the status bar's sweep line, at most (the bar's other labels keep their room)

    def show_sweep_progress(self, text: str) -> None:
        """A running sweep's progress, cut at a seam with "…" when long (a batch's status line); the
        tooltip has it whole."""
        bar = self.sweep_label.parentWidget()
        width = min(self.SWEEP_LABEL_MAX_PX, max(bar.width() // 2, 200)) if bar is not None else self.SWEEP_LABEL_MAX_PX
        shown = elide_parts(text, width, self.sweep_label.fontMetrics().horizontalAdvance, (" · ", "; ", ": "))
        self.sweep_label.setText(shown)
        self.sweep_label.setToolTip(text.replace(" · batch ", "\nbatch ").replace("; batch ", "\nbatch ")
                                    if shown != text else "")

    def show_zoom(self, _x: float, _y: float, zoom: float) -> None:
        self.zoom_label.setText(f"{zoom * 100:.0f}%")

    def show_totals(self, totals: dict) -> None:
        if self.blind is not None and self.blind():
            self.show_blind_totals()  # a blind match's tokens and cost would tell its models apart
            return
        cost = totals.get("cost_usd")
        unreported = int(totals.get("unreported") or 0)
        # from the store (every answer, read or not); else from the cards the window holds
        cost_unknown = bool(totals["cost_unknown"]) if "cost_unknown" in totals else self._cost_incomplete()
        text = (
            f"Session: in {fmt_tokens(int(totals.get('input') or 0))} · out {fmt_tokens(int(totals.get('output') or 0))}"
            f" · {fmt_cost(float(cost)) if cost is not None else '–'}{'+' if cost_unknown else ''}"
        )
        if unreported:
            # A stopped or cut stream never gets its usage report: say that the sums leave those answers out.
            text += f" · {unreported} answer{'s' if unreported != 1 else ''} without usage"
        self.totals_label.setText(text)
        tips = []
        if unreported:
            tips.append(
                "Tokens and cost the providers reported. An answer stopped, cut off or failed before its usage "
                "report (or from a server that reports none) has no output count: only what its provider did "
                "report (such as Claude's input tokens, sent first) is in these sums."
            )
        if cost_unknown:
            tips.append(
                "+: some answers' cost is unknown (a model without a price in the catalog, and no cost "
                "reported by its provider); the sum leaves them out."
            )
        self.totals_label.setToolTip("\n\n".join(tips))

    def show_blind_totals(self) -> None:
        """The open session has a blind match not voted on yet: its sums would tell the models apart."""
        self.totals_label.setText("Session: tokens and cost show after your vote (blind match)")
        self.totals_label.setToolTip("")

    def _cost_incomplete(self) -> bool:
        from app.estimate import session_cost_incomplete

        return session_cost_incomplete(self._controller.graph)
