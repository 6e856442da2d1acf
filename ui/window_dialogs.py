"""The windows the main window opens on demand: focus mode, the diff and comparison table, settings, the
shortcuts and about boxes, and the export and import dialogs (their files are written and read by
app.session_io). Each is parented to the window and deleted when closed. Qt main thread only.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from app.domain import Node, NodeKind
from ui.dialogs import ShortcutsDialog

if TYPE_CHECKING:
    from ui.main_window import MainWindow
    from ui.settings_dialog import SettingsDialog
    from ui.views import ComparisonTableDialog, DiffDialog, FocusDialog


class DialogOpener:
    """Opens the main window's dialogs; keeps the focus-mode one, which follows its card."""

    def __init__(self, window: MainWindow) -> None:
        self.w = window
        self.focus_dialog: FocusDialog | None = None  # the focus-mode dialog open now

    def __repr__(self) -> str:
        return f"<DialogOpener focus={self.focus_dialog is not None}>"

    def open_focus(self, node_id: str) -> None:
        from ui.views import FocusDialog

        graph = self.w.controller.graph
        if graph is None or node_id not in graph.nodes:
            return
        blind = self.w.blind

        def node_of(i: str) -> Node | None:
            node = graph.nodes.get(i)
            return blind.present(node) if node is not None else None

        dlg = FocusDialog(
            node_id,
            node_of,
            self.w.controller.siblings,
            self.w.scene.style.render_markdown,
            self.w.catalog.display_name,
            self.w.controller.open_link,
            self.w,
            incremental=self.w.scene.style.incremental_renderer,
        )
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.focus_dialog = dlg
        dlg.finished.connect(lambda _r: self._on_focus_dialog_finished(dlg))
        dlg.show()
        dlg.raise_()
        dlg.activateWindow()  # its keys (←/→, Esc) are the reader's next move, not the canvas's

    def on_card_rendered(self, node_id: str) -> None:
        # Focus mode follows its card: refreshed on the card's own throttled repaint.
        dlg = self.focus_dialog
        if dlg is not None and dlg.node_id == node_id:
            dlg.refresh()

    def _on_focus_dialog_finished(self, dlg: FocusDialog) -> None:
        if dlg.node_id and self.w.scene.card(dlg.node_id) is not None:
            self.w.scene.select_only([dlg.node_id])
            self.w.view.ensure_card_visible(dlg.node_id)
        self.focus_dialog = None

    def open_diff(self, left_id: str, right_id: str) -> DiffDialog | None:
        from datetime import datetime

        from app.diff import diff_html
        from app.present.text import snippet
        from ui.sweep_cells import cell_title_of
        from ui.views import DiffDialog

        graph = self.w.controller.graph
        if graph is None:
            return None
        a, b = self.w.blind.present(graph.nodes[left_id]), self.w.blind.present(graph.nodes[right_id])
        left, right = diff_html(a.text, b.text, self.w.ui_theme.name)

        def prompt_of(node_id: str) -> str:
            parents = [graph.nodes.get(e.parent_id) for e in graph.parents(node_id)]
            prompt = next((p for p in parents if p is not None and p.kind == NodeKind.PROMPT), None)
            return prompt.id if prompt is not None else ""

        cells = [cell_title_of(self.w.controller.sweeps, i) for i in (left_id, right_id)]
        if cells[0] is not None and cells[1] is not None and cells[0] != cells[1]:
            names = [cells[0], cells[1]]  # two sweep cells: their columns (model · variant) and rows
        else:
            names = [self.w.catalog.display_name(n.model) if n.model else (n.title or "note") for n in (a, b)]
            prompts = [prompt_of(left_id), prompt_of(right_id)]
            if names[0] == names[1] or prompts[0] != prompts[1]:  # say which answer is which: its question
                names = [f"{name} on “{snippet(graph.nodes[p].text, 32)}”" if p else name
                         for name, p in zip(names, prompts, strict=True)]
            if names[0] == names[1]:  # the same model on the same question (a re-run): when each was asked
                names = [f"{name}, {datetime.fromtimestamp(n.created_at):%H:%M:%S}"
                         for name, n in zip(names, (a, b), strict=True)]
        note = ""
        if a.text == b.text:
            note = "The two texts are identical."
        elif " ".join(a.text.split()) == " ".join(b.text.split()):
            note = "The two texts differ only in spacing and line breaks."
        dlg = DiffDialog(names[0], names[1], left, right, self.w, note=note)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        return dlg

    def open_table(self, prompt_id: str) -> ComparisonTableDialog | None:
        from app.export import comparison_rows, session_totals, subtree_totals
        from ui.cost_panel import CostPanel
        from ui.views import ComparisonTableDialog

        graph = self.w.controller.graph
        if graph is None:
            return None
        blind = self.w.blind.session_is_blind(self.w.controller.session_id)
        shown = self.w.blind.present_graph(graph) if blind else graph
        names = self.w.catalog.display_names()
        rows = comparison_rows(shown, prompt_id, names)
        prompt = graph.nodes[prompt_id]
        title = "Comparison: " + " ".join(prompt.text.split())[:60]
        totals = [] if blind else [  # a blind match's sums would tell its models apart
            ("This prompt and everything after it", subtree_totals(graph, prompt_id)),
            ("Whole session", session_totals(graph)),
        ]
        dlg = ComparisonTableDialog(rows, self.w, title, totals)
        panel = CostPanel(self.w.catalog, dlg)
        selected = [i for i in self.w.controller.selected_answers() if i in graph.nodes]
        panel.show_whatif(self.w.controller.export_graph(), selected[0] if selected else None, blind=blind)
        dlg.add_side_panel(panel)
        dlg.cost_panel = panel
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        return dlg

    def open_settings(self, provider: str = "") -> SettingsDialog:
        from ui.settings_dialog import SettingsDialog

        dlg = SettingsDialog(
            self.w.settings, self.w.catalog, self.w.client_getter, self.w, provider=provider or None
        )
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.appearance_applied.connect(self._on_settings_appearance_applied)
        dlg.finished.connect(lambda _r: self._after_settings())
        dlg.open()
        return dlg

    def _after_settings(self) -> None:
        self.w.keys_changed()  # refresh the welcome and the "(no key)" marks

    def _on_settings_appearance_applied(self, theme: str, font_size: int) -> None:
        self.w.set_theme_mode(theme, font_size)

    def show_shortcuts(self) -> None:
        dlg = ShortcutsDialog(self.w)
        dlg.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dlg.show()
        dlg.raise_()
        dlg.activateWindow()  # Esc closes it at once

    def show_about(self) -> None:
        from app import __version__

        QMessageBox.about(
            self.w,
            "About Triptych",
            f"<b>Triptych {__version__}</b><br>One prompt, several models, side by side on an "
            "infinite canvas.",
        )

    def export_dialog(self, selection: bool = False) -> None:
        """File → Export: ask format, scope, reasoning and file (DialogService.export_options), then write."""
        from app.export import default_filename

        session = self.w.controller.session
        if session is None:
            return
        ids = self.w.scene.selected_ids()
        if selection and not ids:
            self.w.statusBar().showMessage("Select the cards to export first.", 4000)
            return
        folder = str(self.w.settings.ui.get("export_dir") or Path.home())
        sweep = self.w.controller.sweeps.grid is not None  # a sweep session: csv and jsonl, one row per cell
        choice = self.w.dialogs.export_options(
            lambda fmt: default_filename(session, fmt), folder, len(ids), "selection" if selection else "all",
            sweep=sweep,
        )
        if choice is None:
            return
        try:
            self.export_to(
                choice.path,
                choice.fmt,
                ids if choice.scope != "all" else None,
                scope=choice.scope,
                include_reasoning=choice.include_reasoning,
            )
        except (OSError, ValueError) as exc:
            self.w.dialogs.show_error("Export failed", str(exc))
            return
        self.w.settings.ui["export_dir"] = str(Path(choice.path).parent)
        self.w.statusBar().showMessage(f"Exported to {choice.path}", 5000)

    def export_to(
        self,
        path: str,
        fmt: str,
        node_ids: list[str] | None = None,
        scope: str | None = None,
        include_reasoning: bool = True,
    ) -> None:
        """Write the session to `path` in `fmt` (md, html, json, canvas, png; csv, jsonl for a sweep). With `node_ids`, `scope`
        "selection" (the default then) writes only those cards, "path" them and what led to them."""
        from app.fsutil import private_if_inside
        from app.session_io import export_options, write_export

        graph = self.w.controller.export_graph()
        if graph is None:
            return
        graph = self.w.blind.present_graph(graph)  # a blind match before the vote: "Model A", masked
        options = export_options(node_ids, scope, include_reasoning, self.w.catalog.display_names(),
                                 self.w.settings.colors)
        if fmt == "png":
            from app.export import export_graph
            from ui.export_png import render_png

            render_png(export_graph(graph, options), path, style=self.w.scene.style)
            private_if_inside(path, self.w.settings.data_dir)
            return
        write_export(graph, path, fmt, options, self.w.settings.data_dir)

    def import_dialog(self) -> None:
        """File → Import: a .json export or a .canvas file (ours or Obsidian's) becomes a new session."""
        path = self.w.dialogs.import_path(str(self.w.settings.ui.get("export_dir") or Path.home()))
        if path:
            self.import_from(path)

    def import_from(self, path: str) -> str | None:
        """Import `path` as a new session and show it; a bad file is refused with one clear message and
        nothing is stored. Returns the new session id."""
        from app.session_io import ImportRefused, import_session

        try:
            imported = import_session(self.w.repo, path)
        except ImportRefused as exc:
            self.w.dialogs.show_error("Import failed", str(exc))
            return None
        self.w.refresh_sessions()
        self.w.controller.open_session(imported.session.id)
        self.w.statusBar().showMessage(f"Imported {imported.summary} from {Path(path).name}.", 5000)
        return imported.session.id
