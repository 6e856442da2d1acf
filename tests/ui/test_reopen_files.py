"""A session with files, opened again: its prompt card shows its files (and is as tall as it was) and
a follow-up still sends them. The window reads cards as the view reaches them (ui/canvas/loader.py);
the store's outline and its per-card reads now carry the files (they did not: the reopened card
crashed the view's fill, or showed no files)."""

from __future__ import annotations

import json

from PySide6.QtGui import QColor, QImage

from tests.ui import hands
from tests.ui.conftest import cards_of, open_window, wait_until


async def test_a_reopened_prompt_shows_its_files_and_a_follow_up_sends_them_again(app_env, fake_server, tmp_path):
    shot = tmp_path / "chart.png"
    image = QImage(320, 200, QImage.Format.Format_RGB32)
    image.fill(QColor("#12B4A0"))
    assert image.save(str(shot))
    async with open_window() as (window, _services):
        window.dialogs.attach_paths = lambda folder: [str(shot)]
        hands.trigger(window, "File/Attach files…")
        hands.send(window, "What does the chart show?")
        await wait_until(lambda: len(cards_of(window, "response")) == 3, 5, "the answer cards")
        graph = window.controller.graph
        await wait_until(lambda: all(not graph.nodes[c.node_id].status.is_live for c in cards_of(window)), 15)
        count = len(cards_of(window))
        prompt = cards_of(window, "prompt")[0]
        height = prompt.sceneBoundingRect().height()
        assert [a for a, _r in prompt.file_tiles()] == ["open_file:0"]

    fake_server.requests.clear()
    async with open_window() as (window, _services):  # the last session opens again
        await wait_until(lambda: len(cards_of(window)) == count, 5, "the session's cards")
        prompt = cards_of(window, "prompt")[0]
        assert [a for a, _r in prompt.file_tiles()] == ["open_file:0"]  # its picture, where it was
        assert prompt.sceneBoundingRect().height() == height
        graph = window.controller.graph
        answer = next(c for c in cards_of(window, "response") if graph.nodes[c.node_id].model.startswith("anthropic:"))
        hands.click_card(window, answer.node_id)  # follow up the answer that read the picture
        hands.send(window, "And the trend?")
        await wait_until(lambda: any(r.flavor == "anthropic" for r in fake_server.requests), 10, "the request")
        body = next(r.body for r in fake_server.requests if r.flavor == "anthropic")
        first_turn = body["messages"][0]["content"]
        assert any(part.get("type") == "image" for part in first_turn), json.dumps(body)[:400]
