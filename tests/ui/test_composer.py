"""The composer: model chips, the per-model parameter popover (only what a model accepts), presets,
and parameters reaching the provider; canvas mouse gestures (pan, rubber band)."""

from __future__ import annotations

import asyncio

import pytest
from PySide6.QtCore import QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from app.catalog import load_catalog
from app.config import load_settings
from app.domain import NodeStatus, Params
from tests.ui import hands
from tests.ui.conftest import cards_of, open_window, send_mouse, wait_until
from ui.composer import ComposerWidget


@pytest.fixture
def composer(qapp, tmp_path, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_HOME", str(tmp_path))
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    monkeypatch.setenv("DEEPSEEK_API_KEY", "sk-test-deepseek")
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    settings = load_settings()
    widget = ComposerWidget(load_catalog(settings), settings)
    widget.resize(1000, 160)
    widget.show()
    yield widget
    widget.close()


def test_chips_add_remove_and_no_key_marks(composer):
    composer.set_models(["deepseek:deepseek-flash", "openai:gpt-6.2-sol"])
    assert composer.models() == ["deepseek:deepseek-flash", "openai:gpt-6.2-sol"]
    assert "(no key)" not in composer.chip("deepseek:deepseek-flash").button.text()
    assert "(no key)" in composer.chip("openai:gpt-6.2-sol").button.text()
    seen = []
    composer.targets_changed.connect(seen.append)
    composer.chip("openai:gpt-6.2-sol").remove.click()
    assert composer.models() == ["deepseek:deepseek-flash"] and seen[-1] == ["deepseek:deepseek-flash"]
    composer.add_model("anthropic:claude-sonnet-5-5")
    composer.add_model("anthropic:claude-sonnet-5-5")  # no duplicates
    assert composer.models() == ["deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5"]


def test_params_popover_shows_only_accepted_parameters(composer):
    composer.set_models(["anthropic:claude-sonnet-5-5", "deepseek:deepseek-flash", "openai:gpt-6.2-sol"])
    claude = composer.open_params("anthropic:claude-sonnet-5-5")
    assert claude.thinking.isVisibleTo(claude) and claude.effort.isVisibleTo(claude)
    assert not claude.temperature.isVisibleTo(claude)  # the 2026-10-21 API rejects temperature
    efforts = [claude.effort.itemText(i) for i in range(claude.effort.count())]
    assert efforts == ["model default", "low", "medium", "high", "xhigh", "max"]
    claude.close()
    deepseek = composer.open_params("deepseek:deepseek-flash")
    assert deepseek.temperature.isVisibleTo(deepseek) and deepseek.thinking.isVisibleTo(deepseek)
    deepseek.max_tokens.setValue(2048)
    deepseek.thinking.setCurrentIndex(2)  # off
    deepseek.temp_on.setChecked(True)
    deepseek.temperature.setValue(0.3)
    deepseek.close()
    assert composer.params_for("deepseek:deepseek-flash") == Params(
        max_tokens=2048, thinking=False, temperature=0.3
    )
    gpt = composer.open_params("openai:gpt-6.2-sol")
    assert not gpt.thinking.isVisibleTo(gpt) and gpt.effort.isVisibleTo(gpt)
    gpt.close()
    target = next(t for t in composer.targets() if t.model == "deepseek:deepseek-flash")
    assert target.params.max_tokens == 2048 and target.params.temperature == 0.3


def test_mode_toggle_and_follow_bar(composer):
    assert not composer.parents_bar.isVisibleTo(composer)
    composer.set_follow(["DeepSeek V4.1 Flash", "Claude Sonnet 5.5"])
    assert composer.parents_bar.isVisibleTo(composer)
    assert "Following 2 cards" in composer.parents_label.text()
    assert "each continues with its own model" in composer.parents_label.text()  # the chips are not asked
    modes = []
    composer.mode_changed.connect(modes.append)
    composer.shared_button.click()
    assert composer.mode().value == "shared" and modes == ["shared"]
    assert "shared with every chosen model" in composer.parents_label.text()
    composer.set_follow([])
    assert not composer.parents_bar.isVisibleTo(composer)


async def test_parameters_reach_the_provider(app_env, fake_server):
    async with open_window() as (window, _services):
        window.composer.set_models(["deepseek:deepseek-flash"])
        window.composer.set_params("deepseek:deepseek-flash", Params(max_tokens=777, system="Be terse."))
        window.composer.set_text("Parameters please")
        hands.send(window)
        await wait_until(lambda: any(r.model == "deepseek-flash" for r in fake_server.requests), 5)
        body = next(r for r in fake_server.requests if r.model == "deepseek-flash").body
        assert body["max_tokens"] == 777
        assert body["messages"][0] == {"role": "system", "content": "Be terse."}
        graph = window.controller.graph
        await wait_until(lambda: all(not n.status.is_live for n in graph.nodes.values()), 10)
        assert all(n.status == NodeStatus.DONE for n in graph.nodes.values() if n.is_answer)


def _send_mouse(view, kind, pos, button, buttons, mods=Qt.KeyboardModifier.NoModifier):
    send_mouse(view.viewport(), kind, pos, button, buttons, mods)


async def test_canvas_pan_on_empty_space_and_rubber_band(app_env, fake_server):
    async with open_window() as (window, _services):
        window.composer.set_text("Gestures")
        hands.send(window)
        graph = window.controller.graph
        await wait_until(lambda: graph.nodes and all(not n.status.is_live for n in graph.nodes.values()), 10)
        view = window.view
        view.fit_all()
        await asyncio.sleep(0.02)
        # drag on empty space pans
        empty = QPoint(8, 8)
        assert view._card_at(empty) is None
        before = view.center()
        left = Qt.MouseButton.LeftButton
        _send_mouse(view, QMouseEvent.Type.MouseButtonPress, empty, left, left)
        _send_mouse(view, QMouseEvent.Type.MouseMove, empty + QPoint(120, 80), Qt.MouseButton.NoButton, left)
        _send_mouse(
            view, QMouseEvent.Type.MouseButtonRelease, empty + QPoint(120, 80), left, Qt.MouseButton.NoButton
        )
        after = view.center()
        assert after.x() < before.x() and after.y() < before.y()
        # shift+drag on empty space draws a rubber band that selects the cards it touches
        view.fit_all()
        await asyncio.sleep(0.02)
        rect = window.scene.cards_bounds()
        start = view.mapFromScene(rect.topLeft() - QPointF(30, 30))
        end = view.mapFromScene(rect.bottomRight() + QPointF(30, 30))
        shift = Qt.KeyboardModifier.ShiftModifier
        _send_mouse(view, QMouseEvent.Type.MouseButtonPress, start, left, left, shift)
        for i in range(1, 5):
            p = start + (end - start) * (i / 4)
            _send_mouse(view, QMouseEvent.Type.MouseMove, p, Qt.MouseButton.NoButton, left, shift)
        _send_mouse(view, QMouseEvent.Type.MouseButtonRelease, end, left, Qt.MouseButton.NoButton, shift)
        assert sorted(window.scene.selected_ids()) == sorted(c.node_id for c in cards_of(window))
        # the selected answers become what the next send follows
        assert len(window.controller.follow_ids()) == 3
        assert window.composer.parents_bar.isVisibleTo(window)


def test_local_providers_are_in_the_model_menu_and_any_id_can_be_typed(composer, monkeypatch):
    composer.add_menu.popup(composer.add_button.mapToGlobal(composer.add_button.rect().bottomLeft()))
    QApplication.processEvents()  # the "+ Model" menu as it opens (aboutToShow fills it)
    menus = {a.text(): a.menu() for a in composer.add_menu.actions() if a.menu() is not None}
    assert {"Ollama", "LM Studio"} <= set(menus), sorted(menus)  # local: no key needed, listed from the start
    ollama_items = [a.text() for a in menus["Ollama"].actions() if a.text()]
    assert any("Refresh model list" in t for t in ollama_items)  # where its model list comes from
    typed = next(a for a in menus["Ollama"].actions() if a.text().startswith("Type a"))
    asked = []

    def answer(prefix):
        asked.append(prefix)
        return prefix + "llama4:8b"

    monkeypatch.setattr(composer, "ask_model_id", answer)
    typed.trigger()
    assert asked == ["ollama:"] and composer.models()[-1] == "ollama:llama4:8b"
    assert composer.chip("ollama:llama4:8b") is not None
    other = next(a for a in composer.add_menu.actions() if a.text().startswith("Other model"))
    monkeypatch.setattr(composer, "ask_model_id", lambda prefix: "openrouter:some-lab/new-model")
    other.trigger()
    assert composer.models()[-1] == "openrouter:some-lab/new-model"
    monkeypatch.setattr(composer, "ask_model_id", lambda prefix: "no-provider")  # not provider:model
    before = composer.models()
    other.trigger()
    assert composer.models() == before
    composer.add_menu.close()


def _open_add_menu(composer) -> dict:
    """Pop the + Model menu up (its entries are made when it shows) and return {name: submenu}."""
    composer.add_menu.popup(composer.add_button.mapToGlobal(QPoint(0, 0)))
    menus = {a.text(): a.menu() for a in composer.add_menu.actions() if a.menu() is not None}
    composer.add_menu.hide()
    return menus


def test_model_menu_keeps_catalog_order_whatever_keys_are_set(composer):
    order = ["DeepSeek", "Anthropic", "OpenAI", "OpenRouter", "Ollama", "LM Studio"]
    assert list(_open_add_menu(composer)) == order  # only DeepSeek has a key here
    composer._settings.providers["openai"].api_key = "sk-test-openai"  # a key added: same order
    composer._settings.providers["anthropic"].api_key = "sk-test-anthropic"
    menus = _open_add_menu(composer)
    assert list(menus) == order
    openai = [a.text() for a in menus["OpenAI"].actions() if a.text() and not a.isSeparator()]
    assert openai[:3] == ["GPT-6.2 Astra", "GPT-6.2 Sol", "GPT-6 Luna"]  # the catalog's order
    # a model added by id is listed, ticked, under its provider
    composer.add_model("openrouter:meta/llama-slow")
    openrouter = _open_add_menu(composer)["OpenRouter"]
    typed = next(a for a in openrouter.actions() if a.text().startswith("Llama Slow"))  # its one name
    assert typed.isChecked()


def test_model_menu_grammar(composer):
    menus = _open_add_menu(composer)
    typed = {}
    for name, menu in menus.items():
        typed[name] = next(a.text() for a in menu.actions() if a.text().startswith("Type"))
    assert typed["OpenRouter"] == "Type an OpenRouter model id…"
    assert typed["OpenAI"] == "Type an OpenAI model id…"
    assert typed["LM Studio"] == "Type an LM Studio model id…"
    assert typed["DeepSeek"] == "Type a DeepSeek model id…"


def test_the_add_a_model_picker_leaves_out_the_models_already_chosen(composer):
    from PySide6.QtCore import QTimer

    from ui.dialogs import ModelPickerDialog

    composer.set_models(["deepseek:deepseek-flash", "openai:gpt-6.2-sol"])
    listed: list[str] = []

    def read_and_close() -> None:
        dlg = QApplication.activeModalWidget()
        assert isinstance(dlg, ModelPickerDialog)
        listed.extend(dlg.list.item(i).data(Qt.ItemDataRole.UserRole) for i in range(dlg.list.count()))
        dlg.reject()

    QTimer.singleShot(0, read_and_close)
    composer.add_menu.aboutToShow.emit()  # (the menu fills itself as it opens)
    other = next(a for a in composer.add_menu.actions() if a.text().startswith("Other model id"))
    other.trigger()
    assert listed and "anthropic:claude-sonnet-5-5" in listed
    assert "deepseek:deepseek-flash" not in listed and "openai:gpt-6.2-sol" not in listed
