"""A scripted session under a real X server, as a user: the real app (`python -m app`) on its own Xvfb
display, driven with xdotool (keys and clicks), answers from the loopback fake providers, results read
back from the store. The README's main flows: type, Ctrl+Enter, click a card and continue its lane, a
shared follow-up on two answers, Ctrl+N, Ctrl+E (the export dialog opens and Escape closes it).

On failure, screenshots of the whole screen (ImageMagick `import`) are saved and their folder printed.
Skipped, loudly, where Xvfb or xdotool is missing (`bash scripts/bootstrap.sh test` installs them).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from app.domain import EdgeRole, NodeKind, NodeStatus
from tests.fakes.server import FakeProviderServer

ROOT = Path(__file__).resolve().parents[2]
MISSING = [tool for tool in ("Xvfb", "xdotool") if shutil.which(tool) is None]
pytestmark = pytest.mark.skipif(
    bool(MISSING),
    reason=f"NOT RUN: the X session test needs {' and '.join(MISSING)} (bash scripts/bootstrap.sh test installs them)",
)


def _free_display() -> int:
    # pytest-xdist workers (gw0, gw1, …) look in ranges of their own, so two never race for one number
    worker = os.environ.get("PYTEST_XDIST_WORKER", "gw0")
    start = 140 + 20 * (int(worker[2:]) if worker[2:].isdigit() else 0)
    for n in range(start, start + 100):
        if not Path(f"/tmp/.X11-unix/X{n}").exists() and not Path(f"/tmp/.X{n}-lock").exists():
            return n
    raise RuntimeError("no free X display number")


class XSession:
    def __init__(self, home: Path, shots: Path) -> None:
        self.home = home
        self.shots = shots
        self.display = f":{_free_display()}"
        self.procs: list[subprocess.Popen] = []
        self.app: subprocess.Popen | None = None
        self.window = ""
        self.log = home / "app-output.txt"

    # -- processes
    def start_x(self) -> None:
        xvfb = subprocess.Popen(
            ["Xvfb", self.display, "-screen", "0", "1600x1000x24", "-nolisten", "tcp"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )
        self.procs.append(xvfb)
        sock = Path(f"/tmp/.X11-unix/X{self.display[1:]}")
        self._wait(lambda: sock.exists(), 10, "Xvfb to start")

    def start_app(self, env: dict[str, str]) -> None:
        out = open(self.log, "wb")  # noqa: SIM115 (closed with the process)
        self.app = subprocess.Popen(
            [sys.executable, "-m", "app"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
        self.procs.append(self.app)
        self._wait(lambda: self._search("Triptych"), 30, "the Triptych window")
        self.window = self._search("Triptych").split()[0]
        self.x("windowactivate", "--sync", self.window)

    def stop(self) -> None:
        for p in reversed(self.procs):
            if p.poll() is None:
                p.terminate()
                try:
                    p.wait(10)
                except subprocess.TimeoutExpired:
                    p.kill()

    # -- xdotool
    def x(self, *args: str) -> str:
        env = dict(os.environ, DISPLAY=self.display)
        done = subprocess.run(["xdotool", *args], env=env, capture_output=True, text=True, timeout=20)
        return done.stdout.strip()

    def _search(self, name: str) -> str:
        return self.x("search", "--onlyvisible", "--name", name)

    def key(self, *keys: str) -> None:
        self.x("key", "--clearmodifiers", "--delay", "30", *keys)
        time.sleep(0.15)

    def type(self, text: str) -> None:
        self.x("type", "--delay", "15", text)
        time.sleep(0.1)

    def geometry(self) -> tuple[int, int, int, int]:
        out = self.x("getwindowgeometry", "--shell", self.window)
        vals = dict(line.split("=", 1) for line in out.splitlines() if "=" in line)
        return int(vals["X"]), int(vals["Y"]), int(vals["WIDTH"]), int(vals["HEIGHT"])

    def click(self, x: int, y: int, ctrl: bool = False) -> None:
        self.x("mousemove", "--sync", str(x), str(y))
        if ctrl:
            self.x("keydown", "ctrl")
        self.x("click", "1")
        if ctrl:
            self.x("keyup", "ctrl")
        time.sleep(0.2)

    def screenshot(self, name: str) -> Path | None:
        if shutil.which("import") is None:
            return None
        self.shots.mkdir(parents=True, exist_ok=True)
        path = self.shots / f"{name}.png"
        env = dict(os.environ, DISPLAY=self.display)
        subprocess.run(["import", "-window", "root", str(path)], env=env, timeout=20, capture_output=True)
        return path

    def alive(self) -> bool:
        return self.app is not None and self.app.poll() is None

    def _wait(self, pred, timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not pred():
            if self.app is not None and self.app.poll() is not None:
                raise AssertionError(f"the app exited ({self.app.returncode}) while waiting for {what}")
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout}s waiting for {what}")
            time.sleep(0.1)

    # -- the store, as the CLI reads it
    def graph(self):
        from storage import open_store

        repo = open_store(self.home)
        try:
            sessions = repo.list_sessions()
            return (repo.load_graph(sessions[0].id) if sessions else None), len(sessions)
        finally:
            repo.close()


def _answers_done(graph, n: int) -> bool:
    answers = [x for x in graph.nodes.values() if x.is_answer] if graph else []
    return len(answers) >= n and all(a.status == NodeStatus.DONE for a in answers)


def _prompts(graph):
    return [x for x in graph.nodes.values() if x.kind == NodeKind.PROMPT]


def test_readme_flows_under_a_real_x_server(tmp_path):
    home = tmp_path / "home"
    home.mkdir()
    shots = Path(tempfile.mkdtemp(prefix="triptych-xsession-"))
    srv = FakeProviderServer(tokens_per_second=400)
    _url, stop_server = srv.run_in_thread()
    s = XSession(home, shots)
    env = {k: v for k, v in os.environ.items() if not k.startswith("QT_")}
    env.update(srv.env())
    env.update(
        DISPLAY=s.display, QT_QPA_PLATFORM="xcb", TRIPTYCH_HOME=str(home), TRIPTYCH_NO_KEYRING="1",
        TRIPTYCH_NO_ERROR_DIALOG="1",
    )
    env.pop("TRIPTYCH_OPENAI_API", None)
    step = "start"
    try:
        s.start_x()
        s.start_app(env)
        wx, wy, ww, wh = s.geometry()

        step = "type a prompt and press Ctrl+Enter"
        s.type("Compare three sorting algorithms")
        s.key("ctrl+Return")
        s._wait(lambda: _answers_done(s.graph()[0], 3), 20, "three finished answers")
        graph, _n = s.graph()
        assert len(_prompts(graph)) == 1

        step = "click a card, continue its lane"
        view_w = ww - 260  # the sidebar is ~250 px
        s.click(wx + 255 + view_w // 2, wy + 60)  # the canvas (empty, above the cards): focus it
        s.key("ctrl+0")  # fit all: the prompt on top, the three answers in a row under it
        time.sleep(0.3)
        s.screenshot("fitted")
        # the answers sit in the lower part of the fitted canvas; try a few points until one selects
        before = {x.id for x in _prompts(graph)}
        targets = [(wx + 255 + int(view_w * f), wy + int(wh * g)) for g in (0.45, 0.5, 0.38) for f in (0.2, 0.5)]
        s.click(*targets[0])
        s.x("windowactivate", "--sync", s.window)
        s.click(wx + 255 + view_w // 2, wy + wh - 80)  # the prompt box of the composer
        s.type("Why is that one faster?")
        s.key("ctrl+Return")
        s._wait(lambda: len(_prompts(s.graph()[0])) == 2, 10, "the follow-up prompt")
        graph, _n = s.graph()
        follow = next(x for x in _prompts(graph) if x.id not in before)
        parents = graph.parents(follow.id, (EdgeRole.FOLLOW,))
        assert len(parents) == 1 and graph.nodes[parents[0].parent_id].is_answer, (
            f"the follow-up does not continue the clicked card's lane (parents: {parents})"
        )
        s._wait(lambda: _answers_done(s.graph()[0], 4), 20, "the lane's answer")

        step = "Ctrl+N opens a new session and the app lives on"
        graph, count = s.graph()
        s.key("ctrl+n")
        s._wait(lambda: s.graph()[1] == count + 1, 10, "a new session in the store")
        time.sleep(0.5)
        assert s.alive(), "the app died after Ctrl+N"
        assert "Traceback" not in s.log.read_text(errors="replace"), s.log.read_text(errors="replace")[-3000:]

        step = "a shared follow-up on two answers of a new fan-out"
        s.click(wx + 255 + view_w // 2, wy + wh - 80)
        s.type("Name three sorting algorithms")
        s.key("ctrl+Return")
        s._wait(lambda: _answers_done(s.graph()[0], 3), 20, "three finished answers in the new session")
        graph, _n = s.graph()
        before = {x.id for x in _prompts(graph)}
        s.click(wx + 255 + view_w // 2, wy + 60)
        s.key("ctrl+0")
        time.sleep(0.3)
        s.click(*targets[0])  # the first answer, as in the first session
        s.click(wx + 255 + int(view_w * 0.5), targets[0][1], ctrl=True)  # and the middle one
        s.click(wx + 255 + view_w // 2, wy + wh - 80)  # the prompt box
        s.key("alt+s")  # "Following 2 cards: [Continue each lane] [Shared] [✕]": Shared, typing on
        s.type("Which of these two is right?")
        s.key("ctrl+Return")
        s._wait(lambda: len(_prompts(s.graph()[0])) == 2, 10, "the shared follow-up prompt")
        graph, _n = s.graph()
        shared = [x for x in _prompts(graph) if x.id not in before]
        assert len(shared) == 1, f"{len(shared)} new prompts: not one shared follow-up"
        parents = graph.parents(shared[0].id, (EdgeRole.FOLLOW, EdgeRole.REF))  # the first follows, the rest are quoted
        assert len(parents) == 2 and all(graph.nodes[p.parent_id].is_answer for p in parents), parents

        step = "Ctrl+E opens the export dialog; Escape closes it"
        s.key("ctrl+e")
        s._wait(lambda: s._search("^Export$"), 10, "the Export dialog")
        s.key("Escape")
        s._wait(lambda: not s._search("^Export$"), 10, "the Export dialog to close")
        assert s.alive()
        assert "Traceback" not in s.log.read_text(errors="replace"), s.log.read_text(errors="replace")[-3000:]
    except BaseException:
        path = s.screenshot("failure")
        print(f"X session failed at step: {step}; screenshots in {shots} ({path}); app output: {s.log}")
        raise
    finally:
        s.stop()
        stop_server()
