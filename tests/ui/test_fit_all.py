"""Fit all (Ctrl+0) shows every card and uses the view: after cards streamed taller, after a follow-up
and after Edit → Tidy up layout (a stale bounding box left half the view empty and cut the top row)."""

from __future__ import annotations

import asyncio

from PySide6.QtCore import QRectF

from tests.ui.conftest import cards_of, open_window, wait_until
from tests.ui.hands import press_keys, send, trigger


async def _ask(window, text: str) -> None:
    graph = window.controller.graph
    before = len(graph.nodes)
    send(window, text)
    await wait_until(lambda: len(graph.nodes) > before, 5, "the new cards")
    await wait_until(lambda: all(not n.status.is_live for n in graph.nodes.values()), 15, "the answers")
    await asyncio.sleep(0.05)


def _content_on_screen(window) -> QRectF:
    view = window.view
    rect = QRectF()
    for card in cards_of(window):
        rect = rect.united(QRectF(view.mapFromScene(card.sceneBoundingRect()).boundingRect()))
    return rect


def _check_fit(window) -> None:
    press_keys(window.view, "Ctrl+0")
    window.controller.flush_repaints()
    vp = QRectF(window.view.viewport().rect())
    shown = _content_on_screen(window)
    assert vp.contains(shown), (vp, shown)  # every card in view
    usable_h = vp.height() - (window.view.minimap.height() + 16 if window.view.minimap.isVisible() else 0)
    # the content fills the view in at least one direction (the margins are 40 scene units a side)
    assert shown.width() > vp.width() * 0.7 or shown.height() > usable_h * 0.7, (vp, shown)


async def test_fit_all_fits_after_streaming_follow_ups_and_tidy_up(app_env, fake_server):
    async with open_window() as (window, _services):
        await _ask(window, "First question about math")
        _check_fit(window)
        await _ask(window, "A second, separate question")
        _check_fit(window)
        window.scene.select_only([cards_of(window, "response")[0].node_id])
        await _ask(window, "A follow-up on that answer")
        _check_fit(window)
        trigger(window, "Edit/Tidy up layout")
        await asyncio.sleep(0.05)
        _check_fit(window)


async def test_fit_all_after_tidy_up_with_cards_too_small_to_make(app_env, fake_server):
    async with open_window() as (window, _services):
        for i in range(4):
            await _ask(window, f"Question number {i}")
            window.scene.select_only([cards_of(window, "response")[-1].node_id])
            await _ask(window, f"Follow-up number {i}")
            window.scene.select_only([])
        window.view.set_viewport(0.0, 0.0, 0.06)  # cards are blocks here, not items
        trigger(window, "Edit/Tidy up layout")
        await asyncio.sleep(0.05)
        _check_fit(window)
