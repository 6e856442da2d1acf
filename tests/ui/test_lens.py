"""The context lens as a user opens it: long history is shortened around the middle, the new question
is always shown, and an empty composer asks for a prompt instead of showing a placeholder."""

from __future__ import annotations

from PySide6.QtCore import Qt

from tests.fakes.server import Answer
from tests.ui import hands
from tests.ui.conftest import DEFAULT_MODELS, cards_of, open_window, wait_until

CTRL = Qt.KeyboardModifier.ControlModifier


def _long(name: str) -> list[str]:
    return [f"{name} paragraph {i}: " + "lorem ipsum dolor sit amet " * 8 + "\n\n" for i in range(8)]


async def _two_long_answers(window, fake_server) -> list[str]:
    for ref in DEFAULT_MODELS:
        fake_server.script(ref.split(":", 1)[1], Answer(text=_long(ref.split(":", 1)[1])))
    hands.send(window, "Tell me a long story")
    controller = window.controller
    await wait_until(
        lambda: sum(1 for n in controller.graph.nodes.values() if n.is_answer and not n.status.is_live) == 3,
        15,
        "three answers",
    )
    controller.flush_repaints()
    answers = [c.node_id for c in cards_of(window) if controller.graph.nodes[c.node_id].is_answer]
    return answers[:2]


async def test_the_lens_shows_the_new_question_of_a_shared_follow_up_of_long_answers(app_env, fake_server):
    async with open_window() as (window, _services):
        first, second = await _two_long_answers(window, fake_server)
        hands.click_card(window, first)
        hands.click_card(window, second, mods=CTRL)
        assert set(window.controller.follow_ids()) == {first, second}
        edit = window.composer.edit
        hands.focus(edit)
        hands.press_keys(edit, "Alt+S")
        assert window.composer.shared_button.isChecked()
        question = "Which of the two stories has the better ending, and why?"
        hands.type_text(edit, question)
        hands.press_keys(edit, "Ctrl+L")
        assert window.lens.isVisible()
        await wait_until(lambda: "better ending" in window.lens.text(), 5, "the question in the lens")
        text = window.lens.text()
        assert question in text
        assert "characters …" in text  # the long quoted answers are shortened in the middle
        plans = window.lens.plans()
        assert plans and all(len(p.messages[-1].content) > 2000 for p in plans)


async def test_the_lens_with_an_empty_composer_asks_for_a_prompt(app_env, fake_server):
    async with open_window() as (window, _services):
        edit = window.composer.edit
        hands.focus(edit)
        hands.press_keys(edit, "Ctrl+L")
        assert window.lens.isVisible()
        await wait_until(lambda: window.lens.text().strip() != "", 5, "the lens filled")
        text = window.lens.text()
        assert text.strip() == "Type a prompt to see what each model will receive."
        assert "input tokens" not in text and "…" not in text
        hands.type_text(edit, "Hello")
        await wait_until(lambda: "Hello" in window.lens.text(), 5, "the prompt in the lens")
        assert "input tokens" in window.lens.text()
