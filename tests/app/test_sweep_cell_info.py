"""A sweep cell in words (app/sweep_cell_info.py): what focus mode shows above a cell's answer and how
a diff titles a cell (issue #16, qa2 D3/D8)."""

from __future__ import annotations

from app.domain import Node, NodeKind, NodeStatus, Timing
from app.sweep import CHECKS_META, NOT_APPLICABLE, SCORE_META, SweepDef
from app.sweep_cell_info import cell_details, cell_title, checks_line, judge_line
from app.sweep_view import SweepGrid

DS, CL = "deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5"


def _name(ref: str) -> str:
    return {DS: "DeepSeek", CL: "Claude"}[ref]


def _answer(status: NodeStatus = NodeStatus.DONE, ms: int | None = 3120, **meta) -> Node:
    node = Node("s", NodeKind.RESPONSE, "ok", model=DS, status=status, meta=dict(meta))
    node.timing = Timing(ttft_ms=10, duration_ms=ms)
    return node


def test_a_cell_without_variables_or_variants_names_its_prompt_and_model_only():
    grid = SweepGrid(SweepDef(templates=["Explain   commas"], models=[DS, CL]))
    assert cell_title(grid, 1, _name) == "Claude — row 1: Explain commas"
    assert cell_details(grid, 0, None, _name) == ["Row 1 of 1", "Prompt: Explain commas"]


def test_checks_name_what_they_measured_and_why_one_does_not_apply():
    node = _answer(**{CHECKS_META: [{"check": "contains:Paris", "pass": True},
                                    {"check": "max-ms:2000", "pass": False}]})
    assert checks_line(node) == "✓ contains:Paris  ✗ max-ms:2000 (3,120 ms)"
    batch = _answer(ms=None, **{CHECKS_META: [{"check": "max-ms:500", "pass": None, "reason": NOT_APPLICABLE}]})
    assert checks_line(batch) == f"– max-ms:500 ({NOT_APPLICABLE})"
    assert checks_line(_answer()) == ""


def test_the_judge_line_says_the_score_its_reason_or_why_there_is_none():
    grid = SweepGrid(SweepDef(templates=["Q"], models=[DS], judge=CL))
    scored = _answer(**{SCORE_META: {"score": 8, "reason": "right\nand short"}})
    assert judge_line(grid, scored, _name) == "Judge Claude: 8/10 — right and short"
    failed = _answer(**{SCORE_META: {"score": None, "reason": "the judge failed: timeout"}})
    assert judge_line(grid, failed, _name) == "Judge Claude: no score — the judge failed: timeout"
    assert judge_line(grid, _answer(status=NodeStatus.ERROR), _name).endswith("only a finished answer is scored)")
    assert judge_line(grid, _answer(status=NodeStatus.STREAMING), _name).endswith("once it is finished")
    assert judge_line(SweepGrid(SweepDef(templates=["Q"], models=[DS])), scored, _name) == ""
