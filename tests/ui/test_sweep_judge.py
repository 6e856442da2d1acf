"""The sweep's judge as a user meets it (issue #16, qa3 N4, N5, N11): Cancel all stops the judge too (the
verdict being written stops, no further one starts, the header stops saying "Running" at once, the cells
not judged say so); a quit mid-sweep leaves the finished cells "not judged yet" and Resume sweep judges
them without asking their models again (its button and confirmation say how many, and what the judge
costs); while the quit question is open no cell starts, so its numbers stay true."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import Qt, QTimer
from PySide6.QtTest import QTest
from PySide6.QtWidgets import QApplication, QMessageBox

from tests.fakes.server import Answer
from tests.ui import hands
from tests.ui.conftest import open_window, wait_until
from tests.ui.test_sweep_grid import _click, _grid_on_screen, _start_from_dialog, answer_dialog, say

JUDGE = "openai:gpt-6-luna"
JUDGE_MODEL = JUDGE.split(":", 1)[1]


def _painted(window) -> list[str]:
    window.view.viewport().grab()
    return list(window.controller.sweeps.item.painted_texts)


def _slow_judge(req):
    return Answer(text=tuple(f"thinking {i} " for i in range(200)), delay=0.05)  # ~10 s: never ends in a test


def _judge_requests(server) -> int:
    return sum(1 for r in server.requests if r.method == "POST" and r.model == JUDGE_MODEL)


def _cell_requests(server) -> int:
    return sum(1 for r in server.requests if r.method == "POST" and r.model != JUDGE_MODEL)


async def _judge_busy(window, tmp_path, fake_server):
    """A 6-cell sweep with a judge whose cells all answered, the judge writing its first verdict (one at a
    time: concurrency 1), five waiting their turn."""
    fake_server.script(JUDGE_MODEL, _slow_judge)
    sweeps = await _start_from_dialog(window, tmp_path, ["one", "two", "three"], max_tokens="256", concurrency=1,
                                      judge=JUDGE)
    await wait_until(lambda: all(c.status == "done" for c in sweeps.grid.cells), 10, "every cell answered")
    await wait_until(lambda: _judge_requests(fake_server) == 1, 5, "the judge's first verdict")
    await asyncio.sleep(0.2)
    assert _judge_requests(fake_server) == 1 and sweeps.running
    return sweeps


async def test_cancel_all_stops_the_judge_and_the_cells_not_judged_say_so(app_env, fake_server, tmp_path):
    """qa3 N4: after Cancel all the judge went on for ~26 s (every verdict after the cancel), the grid
    saying "Running" with its Cancel all button."""
    async with open_window() as (window, _services):
        sweeps = await _judge_busy(window, tmp_path, fake_server)
        item = sweeps.item
        await wait_until(lambda: item.button_rect("cancel") is not None, 3, "Cancel all")
        assert item.progress_text.startswith("Running")
        _click(window, item, item.button_rect("cancel"))
        assert "Running" not in item.progress_text  # at once, not when the last request has ended
        await wait_until(lambda: not sweeps.running, 2, "the sweep to stop (the judge's verdict too)")
        await asyncio.sleep(0.3)
        assert _judge_requests(fake_server) == 1  # no verdict starts after Cancel all
        assert item.button_rect("cancel") is None
        cells = sweeps.grid.cells
        assert all(c.status == "done" and not c.judged for c in cells)
        painted = _painted(window)
        assert painted.count("not judged yet") == 6 and "no score" not in painted
        assert window.statusBar().currentMessage().startswith("Sweep cancelled: ")
        assert "6 not judged — Resume sweep judges them" in window.statusBar().currentMessage()
        assert item.button_text("resume") == "Resume sweep (6 cells to judge)"


async def test_a_quit_leaves_cells_not_judged_and_resume_judges_them_without_asking_the_models_again(
        app_env, fake_server, tmp_path):
    """qa3 N5: quitting mid-sweep left 71 answered cells with no judge result, nothing said so and Resume
    was not offered."""
    async with open_window() as (window, _services):
        await _judge_busy(window, tmp_path, fake_server)
        window.close()  # Stop and quit (the fixture answers the quit question yes)
    fake_server.script(JUDGE_MODEL, Answer(text=("SCORE: 8 — clear",)))
    cells_sent, judged_before = _cell_requests(fake_server), _judge_requests(fake_server)
    async with open_window() as (window, _services):
        sweeps, item = await _grid_on_screen(window)
        cells = sweeps.grid.cells
        assert all(c.status == "done" and c.unjudged for c in cells)
        await wait_until(lambda: "not judged yet" in window.statusBar().currentMessage(), 3, "the status bar's word")
        assert window.statusBar().currentMessage() == (
            "This sweep has 6 cells not judged yet: Resume sweep on its grid judges them.")
        window.view.set_viewport(item.sceneBoundingRect().left() + 600, item.sceneBoundingRect().top() + 300, 1.0)
        await asyncio.sleep(0.05)
        assert _painted(window).count("not judged yet") == 6
        assert item.button_text("resume") == "Resume sweep (6 cells to judge)"
        asked = answer_dialog(say(True), "Resume")
        _click(window, item, item.button_rect("resume"))
        assert asked and asked[0][0] == "Resume this sweep?", asked
        assert "6 cells to judge" in asked[0][1] and "estimated $" in asked[0][1], asked
        assert "without an answer" not in asked[0][1] and asked[0][1].strip().endswith("Judge them?"), asked
        await wait_until(lambda: all(c.score == 8 for c in cells), 10, "every cell judged")
        await wait_until(lambda: not sweeps.running, 5, "the run to end")
        assert _cell_requests(fake_server) == cells_sent  # the models were not asked again
        assert _judge_requests(fake_server) - judged_before == 6
        assert all(c.attempts == 1 and not c.unjudged for c in cells)
        assert item.button_rect("resume") is None
        painted = _painted(window)
        assert painted.count("8/10") == 6 and "not judged yet" not in painted
        assert sum("mean score 8.0/10 (3 scored)" in t for t in painted) == 2, painted  # each column's header
    async with open_window() as (window, _services):  # the scores were stored
        sweeps, _item = await _grid_on_screen(window)
        assert all(c.score == 8 for c in sweeps.grid.cells)


def _quick(req):
    return Answer(text=tuple(f"Answer {i} " for i in range(8)), delay=0.05)  # ~0.4 s


async def test_no_cell_starts_while_the_quit_question_is_open(app_env, fake_server, tmp_path):
    """qa3 N11: the quit dialog said "11 cells without an answer yet" while the sweep ran on behind it to
    "0 left": the user decided on numbers no longer true, and the sweep kept spending."""
    fake_server.script("deepseek-flash", _quick)
    fake_server.script("claude-sonnet-5-5", _quick)
    async with open_window() as (window, _services):
        sweeps = await _start_from_dialog(window, tmp_path, ["one", "two", "three", "four"], max_tokens="256",
                                          concurrency=1)
        await wait_until(lambda: sum(c.status == "streaming" for c in sweeps.grid.cells) == 2, 5, "two cells streaming")
        del window.dialogs.confirm_quit  # the real question
        seen: list[tuple[str, int, int]] = []

        def poll() -> None:
            box = QApplication.activeModalWidget()
            if not isinstance(box, QMessageBox) or not box.isVisible():
                QTimer.singleShot(10, poll)
                return
            seen.append((box.informativeText(), _cell_requests(fake_server), 0))

            def later() -> None:  # 1 s on, time for 2 more cells per provider: the user stays
                seen.append((box.informativeText(), _cell_requests(fake_server), 1))
                stay = next(b for b in box.buttons() if box.buttonRole(b) == QMessageBox.ButtonRole.RejectRole)
                QTest.mouseClick(stay, Qt.MouseButton.LeftButton)

            QTimer.singleShot(1000, later)

        try:
            QTimer.singleShot(0, poll)
            # File → Quit from the event loop (as a click does), not from inside this test's step: the
            # question's own loop runs while the sweep goes on behind it
            QTimer.singleShot(0, lambda: hands.trigger(window, "File/Quit"))
            await wait_until(lambda: len(seen) == 2, 5, "the quit question answered")
            await asyncio.sleep(0.05)
            (text, at_open, _), (_, at_answer, _) = seen
            assert at_open == at_answer == 2  # no cell started while the question was open
            assert "8 cells without an answer yet" in text and "no further cell starts" in text, text
            assert window.isVisible() and sweeps.running
            # the user stayed: the sweep goes on to its end
            await wait_until(lambda: not sweeps.running, 10, "the sweep to end")
            assert all(c.status == "done" for c in sweeps.grid.cells) and _cell_requests(fake_server) == 8
        finally:
            window.dialogs.confirm_quit = lambda *_args: True
