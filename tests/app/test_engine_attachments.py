"""The engine with files in prompts (issue #15): lanes that cannot read a file fail alone before
sending; files travel with their lane (follow-ups, a lane replayed on another model); the lens."""

from __future__ import annotations

import pytest

from app.attachments import attachment_from_bytes
from app.domain import NodeKind, NodeStatus, Session
from app.engine import Engine, Target
from storage import open_store
from tests import attach_samples as samples
from tests.app.scripted import default_script, scripted_factory, settings_with_keys

DS, CL, GP = "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol"
PNG = attachment_from_bytes("chart.png", samples.png(40, 30))
PDF = attachment_from_bytes("report.pdf", samples.pdf("Revenue grew", pages=2))


@pytest.fixture
def env(tmp_path, store_target, monkeypatch):
    monkeypatch.setenv("TRIPTYCH_NO_KEYRING", "1")
    repo = open_store(store_target)
    settings = settings_with_keys(tmp_path, deepseek="k1", anthropic="k2", openai="k3")
    scripts: dict = {}
    requests: list = []
    session = repo.create_session(Session(title="test"))
    engine = Engine(repo, settings, provider_factory=scripted_factory(scripts, requests))
    yield repo, engine, scripts, requests, session.id
    repo.close()


async def test_a_text_only_lane_fails_before_sending_and_the_others_get_the_files(env):
    repo, engine, scripts, requests, sid = env
    result = engine.ask(sid, "What does it show?", [Target(DS), Target(CL)], attachments=[PNG, PDF])
    await engine.wait()
    ds, cl = (repo.get_node(r.node.id) for r in result.runs)
    assert ds.status == NodeStatus.ERROR and ds.error.kind == "unsupported_input"
    assert ds.error.message.startswith(f"{DS} cannot read images: chart.png")
    assert cl.status == NodeStatus.DONE
    assert [r.model for r in requests] == ["claude-sonnet-5-5"]  # nothing went to DeepSeek
    (msg,) = requests[0].messages
    assert [a.name for a in msg.attachments] == ["chart.png", "report.pdf"] and msg.content == "What does it show?"
    (prompt,) = [n for n in repo.load_graph(sid).nodes.values() if n.kind == NodeKind.PROMPT]
    assert [a.sha256 for a in prompt.attachments] == [PNG.sha256, PDF.sha256]
    await engine.aclose()


async def test_a_pdf_only_lane_runs_on_its_text(env):
    repo, engine, scripts, requests, sid = env
    await engine.wait(engine.ask(sid, "Summarise", [Target(DS)], attachments=[PDF]).runs)
    (req,) = requests
    (msg,) = req.messages
    assert msg.attachments == () and "[page 2]\nRevenue grew (page 2)" in msg.content
    assert msg.content.endswith("```\n\nSummarise")
    await engine.aclose()


async def test_a_lane_replayed_on_another_model_keeps_each_turns_files(env):
    repo, engine, scripts, requests, sid = env
    scripts["claude-sonnet-5-5"] = (default_script("c1"), default_script("c2"))
    first = engine.ask(sid, "Look", [Target(GP)], attachments=[PNG]).runs[0]
    await engine.wait([first])
    second = engine.ask(sid, "And this", [Target(GP)], parents=[first.node.id], attachments=[PDF]).runs[0]
    await engine.wait([second])
    path = engine.rerun_path(second.node.id, CL)
    await path.task
    last = [r for r in requests if r.model == "claude-sonnet-5-5"][-1]
    assert [(m.role, [a.name for a in m.attachments]) for m in last.messages] == [
        ("user", ["chart.png"]), ("assistant", []), ("user", ["report.pdf"])]
    await engine.aclose()


def test_the_lens_shows_files_tokens_and_which_lane_would_fail(env):
    repo, engine, scripts, requests, sid = env
    cl, ds = engine.plan(sid, "Q", [Target(CL), Target(DS)], attachments=[PNG, PDF])
    assert [a.name for a in cl.files] == ["chart.png", "report.pdf"] and cl.inlined == []
    assert cl.file_tokens_est == 2 + 2 * 2000 and cl.unsupported is None
    assert cl.input_tokens_est >= cl.file_tokens_est
    assert ds.unsupported and "chart.png" in ds.unsupported
    assert any("will fail before sending" in w for w in ds.warnings)
    (only_pdf,) = engine.plan(sid, "Q", [Target(DS)], attachments=[PDF])
    assert only_pdf.files == [] and [a.name for a in only_pdf.inlined] == ["report.pdf"]
    assert "Revenue grew (page 1)" in only_pdf.messages[0].content
