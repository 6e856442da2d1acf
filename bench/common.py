"""Helpers shared by the benchmarks: result lines, percentiles, synthetic answers and sessions, and
process probes (CPU time, RSS).

Every benchmark prints one JSON object per measured thing on stdout, as `bench/render_bench.py` does:

    {"name": "...", "figures": {...numbers...}, "target": {...}, "pass": true|false}

with `"smoke": true` added under `--smoke` (tiny sizes: the shape is checked, targets are not judged).
Anything else a benchmark wants to say goes to stderr.
"""

from __future__ import annotations

import json
import math
import os
import random
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any

from app.domain import (
    Edge,
    EdgeRole,
    Graph,
    Node,
    NodeKind,
    NodeStatus,
    Params,
    Session,
    Timing,
    Usage,
    Viewport,
)

__all__ = [
    "cpu_seconds",
    "emit",
    "markdown_answer",
    "median",
    "pct",
    "rss_bytes",
    "session_graph",
    "token_pieces",
]


# --------------------------------------------------------------------------------------------------
# results


def emit(
    name: str, figures: dict[str, Any], target: dict[str, Any], passed: bool, *, smoke: bool = False
) -> dict[str, Any]:
    """Print one result line (and return it). Under `--smoke` the line says so; `pass` is still the
    honest verdict for the tiny sizes, but nobody should read it as one."""
    result: dict[str, Any] = {"name": name, "figures": figures, "target": target, "pass": bool(passed)}
    if smoke:
        result["smoke"] = True
    print(json.dumps(result, ensure_ascii=False), flush=True)
    return result


def pct(values: Sequence[float], q: float) -> float:
    """The q-quantile (0…1) by nearest rank, as render_bench does."""
    ordered = sorted(values)
    if not ordered:
        return 0.0
    k = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[k]


def median(values: Iterable[float]) -> float:
    values = list(values)
    return statistics.median(values) if values else 0.0


def r(value: float, digits: int = 3) -> float:
    return round(float(value), digits)


def log(*parts: object) -> None:
    print(*parts, file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------------
# process probes


def cpu_seconds() -> float:
    """CPU time (user + system) of this process, all threads."""
    return time.process_time()


def rss_bytes() -> int:
    """Resident set size of this process now (Linux /proc; falls back to the peak elsewhere)."""
    try:
        with open("/proc/self/statm", encoding="ascii") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        import resource

        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        return peak if sys.platform == "darwin" else peak * 1024


# --------------------------------------------------------------------------------------------------
# synthetic answers


_WORDS = (
    "the model streams tokens into a card while the canvas keeps repainting and every answer is "
    "compared side by side with latency cost and quality in view so that a reader can judge which "
    "lane gave the clearest explanation of the problem cache index query latency throughput retry "
    "context window budget naïve café résumé 渲染 增量 😀"
).split()


def _sentence(rnd: random.Random) -> str:
    words = [rnd.choice(_WORDS) for _ in range(rnd.randint(7, 18))]
    i = rnd.randrange(len(words))
    words[i] = rnd.choice([f"**{words[i]}**", f"*{words[i]}*", f"`{words[i]}()`"])
    return " ".join(words).capitalize() + "."


def _code(rnd: random.Random, lines: int) -> str:
    out = []
    for n in range(lines):
        out.append(
            rnd.choice(
                [
                    f"def step_{n}(items: list[int], *, limit: int = {rnd.randint(2, 99)}) -> int:",
                    f"    total = sum(x * {rnd.randint(2, 9)} for x in items if x < limit)  # weighted",
                    '    return total if total else -1  # "none"',
                    f'    print(f"{{total:,}} rows in {n} ms", 0x{rnd.randint(16, 255):x})',
                    "",
                ]
            )
        )
    return "\n".join(out)


def markdown_answer(chars: int, seed: int = 1) -> str:
    """A deterministic mixed markdown answer of about `chars` characters: headings, paragraphs,
    lists, Python code blocks and tables, the shapes model answers have."""
    rnd = random.Random(seed)
    parts: list[str] = []
    size = 0
    section = 0
    while size < chars:
        section += 1
        block = [f"## Part {section}", " ".join(_sentence(rnd) for _ in range(rnd.randint(2, 4)))]
        kind = section % 3
        if kind == 0:
            rows = ["| option | latency (ms) | cost |", "|---|--:|--:|"]
            rows += [
                f"| opt-{i} | {rnd.randint(80, 900)} | ${rnd.random():.4f} |"
                for i in range(rnd.randint(3, 6))
            ]
            block.append("\n".join(rows))
        elif kind == 1:
            block.append("```python\n" + _code(rnd, rnd.randint(6, 24)) + "\n```")
        else:
            block.append("\n".join(f"- {_sentence(rnd)}" for _ in range(rnd.randint(3, 5))))
        text = "\n\n".join(block)
        parts.append(text)
        size += len(text) + 2
    return "\n\n".join(parts)[:chars]


def token_pieces(n_tokens: int, seed: int = 1) -> list[str]:
    """`n_tokens` word-sized pieces (whitespace attached in front, as models stream them) of a long
    markdown answer; their concatenation is the answer text."""
    from tests.fakes.server import tokens

    pieces: list[str] = []
    part = 0
    while len(pieces) < n_tokens:
        part += 1
        text = markdown_answer(max(4_000, n_tokens * 5), seed + part)
        pieces += tokens(("\n\n" if pieces else "") + text)
    return pieces[:n_tokens]


# --------------------------------------------------------------------------------------------------
# synthetic sessions


MODELS = ("deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5", "openai:gpt-6.2-sol")


def session_graph(
    n_nodes: int, *, answer_chars: int = 1_500, seed: int = 7, title: str = "Benchmark session"
) -> Graph:
    """A finished session of about `n_nodes` cards: rounds of one prompt fanned out to three models,
    each round following the previous round's first answer (so every card has edges), laid out the
    way the engine places them (prompt above its answers), the rounds in a square-ish grid centred
    on the origin (the canvas scene spans ±50,000 units).
    Answers are ~`answer_chars` of markdown each (a few distinct texts, so nothing is unrealistically
    tiny), with usage, cost and timing filled in."""
    rnd = random.Random(seed)
    session = Session(title=title, viewport=Viewport(0.0, 0.0, 1.0))
    graph = Graph(session)
    texts = [markdown_answer(answer_chars, seed + i) for i in range(16)]
    prompts = [f"Question {i}: " + _sentence(rnd) for i in range(32)]
    t = time.time() - n_nodes
    previous: Node | None = None
    round_no = 0
    rounds = -(-n_nodes // 4)
    rows = max(1, math.ceil(math.sqrt(rounds * 2)))
    cols = -(-rounds // rows)
    while len(graph.nodes) < n_nodes:
        col, row = divmod(round_no, rows)
        x0, y0 = (col - cols / 2) * 1_600.0, (row - rows / 2) * 800.0
        t += 1
        prompt = Node(
            session.id,
            NodeKind.PROMPT,
            prompts[round_no % len(prompts)],
            x=x0 + 508.0,
            y=y0,
            created_at=t,
            updated_at=t,
        )
        graph.add(prompt)
        if previous is not None:  # (Graph.link scans every edge: quadratic for 10k cards)
            graph.edges.append(Edge(previous.id, prompt.id, EdgeRole.FOLLOW, 0, session.id))
        first: Node | None = None
        for lane, model in enumerate(MODELS):
            if len(graph.nodes) >= n_nodes:
                break
            t += 0.001
            answer = Node(
                session.id,
                NodeKind.RESPONSE,
                texts[(round_no * 3 + lane) % len(texts)],
                model=model,
                params=Params(max_tokens=4096) if lane == 2 else Params(),
                status=NodeStatus.DONE,
                finish="stop",
                usage=Usage(1_200 + lane, 300, None, 450 + lane, 40),
                cost_usd=0.00123,
                timing=Timing(ttft_ms=300 + lane, duration_ms=4_000 + lane),
                x=x0 + lane * 508.0,
                y=y0 + 200.0,
                meta={"phase": "done", "tokens_per_s": 95.5},
                created_at=t,
                updated_at=t,
            )
            graph.add(answer)
            graph.edges.append(Edge(prompt.id, answer.id, EdgeRole.REPLY, 0, session.id))
            first = first or answer
        previous = first
        round_no += 1
    return graph


def write_session(home: Path, cards: int) -> Graph:
    """A data dir holding one finished session of about `cards` cards (`session_graph`); returns it."""
    from storage import open_store

    graph = session_graph(cards)
    with open_store(home) as repo:
        repo.create_session(graph.session)
        repo.add_nodes(list(graph.nodes.values()), graph.edges)
    return graph
