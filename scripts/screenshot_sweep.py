#!/usr/bin/env python
"""Take the README's sweep grid screenshot: the real window runs a sweep against the loopback fake providers.

    .venv/bin/python scripts/screenshot_sweep.py [--out docs] [--offscreen]

Starts tests.fakes.server.FakeProviderServer on a background thread with scripted answers (three
models answer six support tickets in four languages at two temperatures (DeepSeek with thinking off,
GPT at effort none; Claude takes none: one column); one lane fails one row; a
fourth model judges every answer), opens the real main window, runs the sweep from the window
(Evaluate → New sweep… does the same through its form) and saves docs/sweep-grid.png (light) and
sweep-grid-dark.png next to it. Under Xvfb (`DISPLAY` set) the picture is `import -window root`,
else `window.grab()`.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "scripts"))

TICKETS = """ticket,lang
"My invoice shows two charges for March, please refund one",English
"La aplicación se cierra al abrir la cámara",Spanish
"Can't log in after resetting my password",English
"配送状況が3日間更新されていません",Japanese
"Export to CSV drops the last column",English
"Das Abo wurde trotz Kündigung verlängert",German
"""

REPLIES = {
    "refund": ("Billing", "high", "Sorry for the double charge: the duplicate March payment is refunded today, "
               "and it shows on your statement within 5 business days."),
    "cámara": ("Bug", "high", "Lamentamos el cierre inesperado. Actualice a la versión 4.2, que corrige el acceso "
               "a la cámara, y díganos si vuelve a ocurrir."),
    "password": ("Account", "medium", "After a reset the old session token stays cached: sign out on every "
                 "device, clear the app data and sign in with the new password."),
    "配送": ("Shipping", "medium", "ご不便をおかけして申し訳ありません。配送業者に確認し、24時間以内に最新の"
           "追跡情報をお送りします。"),
    "CSV": ("Bug", "low", "Thanks for the report: the export skips a trailing empty column. A fix ships on "
            "Friday; until then, export to XLSX."),
    "Kündigung": ("Billing", "high", "Entschuldigung: Ihre Kündigung vom 3. Mai wurde übersehen. Wir erstatten "
                  "die Verlängerung und bestätigen die Kündigung per E-Mail."),
}


def _answer_for(model: str):
    from tests.fakes.server import Answer, HTTPFault, _conversation

    def reply(req):
        prompt = _conversation(req)[0]
        if "grading the answer above" in prompt:
            score = 6 + (len(prompt) * 7) % 5
            reason = "polite, right priority" if score > 7 else "correct but generic"
            return Answer(text=(f"SCORE: {score} — {reason}",), delay=0.005)
        key = next((k for k in REPLIES if k in prompt), "")
        area, priority, text = REPLIES.get(key, ("Other", "low", "Thanks for writing in."))
        if model == "gpt-6.2-sol" and key == "配送":
            return HTTPFault(503, "overloaded")
        if model == "deepseek-flash":
            body = f"{area} · Priority: {priority}. {text}"
        elif model == "claude-sonnet-5-5":
            body = f"**Triage:** {area}, Priority {priority}.\n\n{text}"
        else:
            body = f"{area} ({priority}). {text}" if "Billing" not in area else f"Priority: {priority}. {text}"
        words = tuple(w + " " for w in body.split(" "))
        return Answer(text=words, delay=0.02 + 0.01 * (len(prompt) % 4), input_tokens=80, output_tokens=len(words) * 2)

    return reply


async def _shoot(out: Path, server) -> None:
    from screenshots import _open_window, _settle

    from app.sweep import SweepDef, parse_vars

    for model in ("deepseek-flash", "claude-sonnet-5-5", "gpt-6.2-sol", "claude-haiku-5-5"):
        server.script(model, _answer_for(model))
    services, window = await _open_window()
    window.resize(1600, 1000)
    window.sidebar.hide()
    window.view.minimap.hide()  # (it would cover the last row's right-hand cells)
    columns, rows = parse_vars("tickets.csv", TICKETS)
    defn = SweepDef(templates=["Triage this {{lang}} support ticket and draft a short reply: {{ticket}}"],
                    models=["deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"],
                    columns=columns, rows=rows, vars_name="tickets.csv", vars_text=TICKETS,
                    variants=[{"thinking": False, "effort": "none", "temperature": 0.0},
                              {"thinking": False, "effort": "none", "temperature": 0.7}],
                    checks=["contains:Priority"],
                    judge="anthropic:claude-haiku-5-5", rubric="polite, correct priority", concurrency=4)
    defn.plan(window.controller.catalog)  # as the New sweep dialog does: Claude takes no temperature, one column
    sweeps = window.controller.sweeps
    sweeps.start(defn)
    done = asyncio.Event()
    sweeps.run_finished.connect(done.set)
    await done.wait()
    sweeps.refresh()
    item = sweeps.item
    rect = item.sceneBoundingRect()
    window.view.set_viewport(rect.center().x(), rect.top() + 340, 0.88)  # every column, the header and all rows
    await _settle(window, 0.6)
    _save(window, out / "sweep-grid.png")
    window.set_theme_mode("dark")
    await _settle(window, 0.6)
    _save(window, out / "sweep-grid-dark.png")
    window.set_theme_mode("light")
    window.close()
    from ui.app import close_services

    await close_services(services)


def _save(window, path: Path) -> None:
    if os.environ.get("DISPLAY") and os.environ.get("QT_QPA_PLATFORM") != "offscreen" and shutil.which("import"):
        geo = window.frameGeometry()
        subprocess.run(["import", "-window", "root", "-crop", f"{geo.width()}x{geo.height()}+{geo.x()}+{geo.y()}",
                        str(path)], check=True)
    else:
        window.grab().save(str(path), "PNG")
    print(f"wrote {path}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=str(ROOT / "docs"))
    parser.add_argument("--offscreen", action="store_true")
    args = parser.parse_args()
    if args.offscreen or not os.environ.get("DISPLAY"):
        os.environ["QT_QPA_PLATFORM"] = "offscreen"
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    from tests.fakes.server import FakeProviderServer

    server = FakeProviderServer(tokens_per_second=0)
    _url, stop = server.run_in_thread()
    home = tempfile.mkdtemp(prefix="triptych-sweep-shot-")
    os.environ.update(server.env())
    os.environ.update({"TRIPTYCH_HOME": home, "TRIPTYCH_NO_KEYRING": "1", "TRIPTYCH_NO_ERROR_DIALOG": "1"})
    os.environ.setdefault("QT_API", "pyside6")
    try:
        from PySide6.QtWidgets import QApplication

        from ui.qtloop import TriptychEventLoop

        app = QApplication.instance() or QApplication(["triptych-screenshots"])
        app.setQuitOnLastWindowClosed(False)
        with asyncio.Runner(loop_factory=lambda: TriptychEventLoop(app)) as runner:
            runner.run(_shoot(out, server))
    finally:
        stop()
        shutil.rmtree(home, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
