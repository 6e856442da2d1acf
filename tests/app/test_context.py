"""The exact message list each model receives (DESIGN.md "Lane"): the contract users rely on when they
continue one lane or share one answer with every model."""

from __future__ import annotations

import pytest

from app.context import build_context, build_synthesis_context
from app.domain import EdgeRole, Graph, Node, NodeKind, Params, Session

DS, CL, GP = "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"


def msgs(built):  # (role, content) pairs: what goes on the wire
    return [(m.role, m.content) for m in built.messages]


class Tree:
    def __init__(self) -> None:
        self.g = Graph(Session(title="t"))

    def prompt(self, text: str, *follows: Node, refs: tuple[Node, ...] = (), system: str | None = None) -> Node:
        p = self.g.add(Node(self.g.session.id, NodeKind.PROMPT, text, params=Params(system=system)))
        for f in follows:
            self.g.link(f.id, p.id, EdgeRole.FOLLOW)
        for r in refs:
            self.g.link(r.id, p.id, EdgeRole.REF)
        return p

    def answer(self, prompt: Node, model: str, text: str, reasoning: str = "", **meta) -> Node:
        n = self.g.add(Node(self.g.session.id, NodeKind.RESPONSE, text, model=model, reasoning=reasoning, meta=meta))
        self.g.link(prompt.id, n.id, EdgeRole.REPLY)
        return n

    def fanout(self, text: str, *follows: Node) -> tuple[Node, Node, Node, Node]:
        p = self.prompt(text, *follows)
        return (p, self.answer(p, DS, f"DS says {text}", reasoning="ds thinking"),
                self.answer(p, CL, f"CL says {text}", reasoning="cl thinking"), self.answer(p, GP, f"GP says {text}"))


def test_first_turn_is_one_user_message_with_system_kept_apart():
    t = Tree()
    p = t.prompt("What is a monad?", system="Answer in one paragraph.")
    for model in (DS, CL, GP):
        built = build_context(t.g, p.id, model)
        assert built.system == "Answer in one paragraph."
        assert msgs(built) == [("user", "What is a monad?")]


def test_follow_up_in_one_lane_carries_that_lane_only():
    t = Tree()
    p1, ds, cl, gp = t.fanout("Q1")
    p2 = t.prompt("Shorter please", cl)
    built = build_context(t.g, p2.id, CL)
    assert msgs(built) == [("user", "Q1"), ("assistant", "CL says Q1"), ("user", "Shorter please")]


def test_lanes_follow_up_after_three_way_fanout_gives_each_model_its_own_history():
    t = Tree()
    p1, ds, cl, gp = t.fanout("Q1")
    follow = {m: t.prompt("Why?", a) for m, a in ((DS, ds), (CL, cl), (GP, gp))}
    assert msgs(build_context(t.g, follow[DS].id, DS)) == [("user", "Q1"), ("assistant", "DS says Q1"), ("user", "Why?")]
    assert msgs(build_context(t.g, follow[CL].id, CL)) == [("user", "Q1"), ("assistant", "CL says Q1"), ("user", "Why?")]
    assert msgs(build_context(t.g, follow[GP].id, GP)) == [("user", "Q1"), ("assistant", "GP says Q1"), ("user", "Why?")]
    # and two turns deep, still no other model's answer anywhere
    ds2 = t.answer(follow[DS], DS, "DS because")
    p3 = t.prompt("And then?", ds2)
    sent = msgs(build_context(t.g, p3.id, DS))
    assert sent == [("user", "Q1"), ("assistant", "DS says Q1"), ("user", "Why?"), ("assistant", "DS because"),
                    ("user", "And then?")]
    assert not any("CL says" in c or "GP says" in c for _, c in sent)


def test_shared_follow_up_after_choosing_one_answer_sends_it_to_every_model():
    t = Tree()
    p1, ds, cl, gp = t.fanout("Q1")
    shared = t.prompt("Build on this", cl)
    for model in (DS, CL, GP):
        assert msgs(build_context(t.g, shared.id, model)) == [
            ("user", "Q1"), ("assistant", "CL says Q1"), ("user", "Build on this")]


def test_shared_with_several_chosen_answers_quotes_them_all_alike_labelled_by_model():
    """Issue #12 (7): no chosen answer is sent as one model's own assistant turn; each is quoted,
    labelled by model, in the user turn, after the history they share."""
    t = Tree()
    p0 = t.prompt("Q0")
    a0 = t.answer(p0, CL, "CL says Q0")
    p1, ds, cl, gp = t.fanout("Q1", a0)
    shared = t.prompt("Which is right?", ds, refs=(gp,))
    for model in (DS, CL, GP):
        sent = msgs(build_context(t.g, shared.id, model, display={GP: "GPT-6.2 Sol"}))
        assert sent[:2] == [("user", "Q0"), ("assistant", "CL says Q0")]  # the common history stays as turns
        assert [r for r, _ in sent] == ["user", "assistant", "user"]
        content = sent[2][1]
        assert content.startswith("Q1\n\nAnswer from deepseek:deepseek-flash:")
        assert "Answer from GPT-6.2 Sol (openai:gpt-6.2-sol):" in content
        assert content.index("DS says Q1") < content.index("GP says Q1") < content.index("Which is right?")
        assert content.endswith("Which is right?")


def test_shared_answers_from_different_lanes_say_what_they_answered():
    t = Tree()
    p1, ds, cl, gp = t.fanout("Q1")
    p2 = t.prompt("Deeper", cl)
    cl2 = t.answer(p2, CL, "CL deeper")
    shared = t.prompt("Reconcile", cl2, refs=(gp,))
    sent = msgs(build_context(t.g, shared.id, DS))
    assert [r for r, _ in sent] == ["user"]  # Q1, then both answers quoted, then the question
    content = sent[0][1]
    assert content.startswith("Q1\n\nAnswer from anthropic:claude-sonnet-5-5:\n(in reply to: Deeper)")
    assert "CL deeper" in content and "GP says Q1" in content and "CL says Q1" not in content
    # a follow-up of that shared prompt's answer keeps the same history
    a = t.answer(shared, DS, "DS reconciled")
    after = t.prompt("Thanks", a)
    assert msgs(build_context(t.g, after.id, DS)) == [*sent, ("assistant", "DS reconciled"), ("user", "Thanks")]


def test_foreign_answers_can_be_quoted_instead_of_sent_as_assistant_turns():
    t = Tree()
    p1, ds, cl, gp = t.fanout("Q1")
    shared = t.prompt("Go on", cl)
    sent = msgs(build_context(t.g, shared.id, DS, quote_foreign=True))
    assert len(sent) == 1 and sent[0][0] == "user"
    assert sent[0][1].startswith("Q1\n\nAnswer from anthropic:claude-sonnet-5-5:")
    assert "CL says Q1" in sent[0][1] and sent[0][1].endswith("Go on")
    # the model's own turns stay assistant turns
    assert msgs(build_context(t.g, shared.id, CL, quote_foreign=True))[1] == ("assistant", "CL says Q1")


def test_synthesis_over_three_answers():
    t = Tree()
    p1, ds, cl, gp = t.fanout("Q1")
    built = build_synthesis_context(t.g, [ds.id, cl.id, gp.id], CL, "judge")
    assert len(built.messages) == 1
    (role, content), = msgs(built)
    assert role == "user" and content.startswith("Q1\n\nHere are 3 answers to this question from different models:")
    for i, (model, text) in enumerate(((DS, "DS says Q1"), (CL, "CL says Q1"), (GP, "GP says Q1")), 1):
        assert f"## Answer {i} — {model}\n\n{text}" in content
    assert "Correctness" in content and "Total" in content  # the judge's score table is asked for
    assert "thinking" not in content  # no reasoning of any model


def test_follow_up_after_a_synthesis_shares_the_merged_answer():
    t = Tree()
    p1, ds, cl, gp = t.fanout("Q1")
    syn = t.g.add(Node(t.g.session.id, NodeKind.SYNTHESIS, "MERGED", model=GP))
    for a in (ds, cl, gp):
        t.g.link(a.id, syn.id, EdgeRole.SOURCE)
    p2 = t.prompt("Expand", syn)
    for model in (DS, CL):
        assert msgs(build_context(t.g, p2.id, model)) == [("user", "Q1"), ("assistant", "MERGED"), ("user", "Expand")]


def test_custom_synthesis_needs_an_instruction():
    t = Tree()
    p1, ds, cl, gp = t.fanout("Q1")
    with pytest.raises(ValueError, match="instruction"):
        build_synthesis_context(t.g, [ds.id, cl.id], GP, "custom", "  ")
    built = build_synthesis_context(t.g, [ds.id, cl.id], GP, "custom", "Write a haiku from both")
    assert msgs(built)[-1][1].endswith("Write a haiku from both")


def test_consecutive_user_turns_are_merged_for_alternation():
    t = Tree()
    note = t.g.add(Node(t.g.session.id, NodeKind.NOTE, "Background: we use Postgres."))
    p = t.prompt("Which index?", note)
    sent = msgs(build_context(t.g, p.id, CL))
    assert sent == [("user", "Background: we use Postgres.\n\nWhich index?")]
    # a failed answer with no text leaves no empty assistant turn: the user turns merge
    p1 = t.prompt("Q1")
    failed = t.answer(p1, CL, "")
    p2 = t.prompt("retry wording", failed)
    assert msgs(build_context(t.g, p2.id, CL)) == [("user", "Q1\n\nretry wording")]


def test_roles_alternate_and_start_with_user_in_every_case():
    t = Tree()
    p1, ds, cl, gp = t.fanout("Q1")
    p2 = t.prompt("more", cl, refs=(ds, gp))
    a2 = t.answer(p2, CL, "more from CL")
    p3 = t.prompt("end", a2)
    for model in (DS, CL, GP):
        roles = [m.role for m in build_context(t.g, p3.id, model).messages]
        assert roles[0] == "user"
        assert all(a != b for a, b in zip(roles, roles[1:], strict=False))


def test_reasoning_is_never_resent_except_deepseek_after_tool_calls():
    t = Tree()
    p1, ds, cl, gp = t.fanout("Q1")
    for model, ans in ((DS, ds), (CL, cl)):
        p2 = t.prompt("next", ans)
        assert all(m.reasoning is None for m in build_context(t.g, p2.id, model).messages)
    p = t.prompt("Q2")
    tool_turn = t.answer(p, DS, "calling a tool", reasoning="I should call the tool", tool_calls=True)
    p3 = t.prompt("result is 4", tool_turn)
    sent = build_context(t.g, p3.id, DS).messages
    assert sent[1].role == "assistant" and sent[1].reasoning == "I should call the tool"
    # but not to another model
    assert all(m.reasoning is None for m in build_context(t.g, p3.id, CL).messages)


def test_system_prompt_is_inherited_along_the_lane_and_can_be_overridden():
    t = Tree()
    p1 = t.prompt("Q1", system="You are terse.")
    a = t.answer(p1, CL, "ok")
    p2 = t.prompt("Q2", a)
    assert build_context(t.g, p2.id, CL).system == "You are terse."
    assert build_context(t.g, p2.id, CL, system="Be verbose.").system == "Be verbose."


def test_graph_queries_follow_every_way_its_edges_change():
    """Graph.parents/children use an index (a long lane walked every edge per step); it must follow
    the ways callers change `edges`: link/append, a filtered new list, list.remove, a new list."""
    t = Tree()
    p = t.prompt("q")
    a, b = t.answer(p, DS, "a"), t.answer(p, CL, "b")
    assert [e.child_id for e in t.g.children(p.id)] == [a.id, b.id]
    f = t.prompt("follow", a)
    assert [e.parent_id for e in t.g.parents(f.id)] == [a.id]
    t.g.edges.append(t.g.edges[0].__class__(b.id, f.id, EdgeRole.REF, 1, t.g.session.id))
    assert [e.parent_id for e in t.g.parents(f.id)] == [a.id, b.id]
    t.g.edges = [e for e in t.g.edges if e.parent_id != a.id]  # a deleted card's edges filtered out
    assert [e.parent_id for e in t.g.parents(f.id)] == [b.id] and t.g.children(a.id) == []
    t.g.edges.remove(t.g.parents(f.id)[0])
    assert t.g.parents(f.id) == []
    t.g.edges = []
    assert t.g.children(p.id) == []


def test_a_five_thousand_turn_lane_builds_its_context_in_order():
    t = Tree()
    last = None
    for i in range(2500):
        p = t.prompt(f"q{i}", *([last] if last else []))
        last = t.answer(p, DS, f"a{i}")
    nxt = t.prompt("next", last)
    got = msgs(build_context(t.g, nxt.id, DS))
    assert len(got) == 5001 and got[0] == ("user", "q0") and got[-2] == ("assistant", "a2499")
    assert got[-1] == ("user", "next")
