"""A realistic session for export/import/diff tests.

Shape (creation order):

    P1 prompt ──reply──> R1 deepseek (done, reasoning, code + table + CJK + emoji)
                  ├─────> R2 anthropic (done, reasoning, code + HOSTILE content)
                  └─────> R3 openai (error after first token: partial text, unclosed fence)
    R1 ──follow──> P2 "lanes" follow-up ──reply──> R4 deepseek
    R2 ──follow──> P3 shared follow-up <──ref── R1 ; P3 ──reply──> R5 anthropic, R6 openrouter
    R1, R2, R3 ──source──> S1 synthesis (anthropic, meta instruction_kind=judge)
    R2 has a run record (request id, a parameter not sent), R6 too (a re-run of R5, sent over http://)
    N1 note (user colour), no edges
"""

from __future__ import annotations

from app.domain import (
    EdgeRole,
    ErrorInfo,
    Graph,
    Node,
    NodeKind,
    NodeStatus,
    Params,
    RunRecord,
    Session,
    Timing,
    Usage,
    Viewport,
)

T0 = 1_763_280_000.0  # 2025-11-16, a fixed clock for stable output

HOSTILE = (
    "Careful with user input:\n\n"
    "<img src=x onerror=alert(1)>\n\n"
    "<script>alert(1)</script>\n\n"
    "A [harmless-looking link](javascript:alert(1)) and an image ![t](http://127.0.0.1:9/x.png).\n"
)

R1_TEXT = """Use the **`csv`** crate with `serde` — it streams rows, so memory stays flat 🚀.

```rust
use std::error::Error;

fn main() -> Result<(), Box<dyn Error>> {
    let mut rdr = csv::Reader::from_path("big.csv")?;
    for result in rdr.records() {
        let record = result?;
        println!("{:?}", record);
    }
    Ok(())
}
```

| Crate | Streaming | Serde |
|---|---|---|
| csv | yes | yes |
| polars | lazy | no |

中文说明：使用 `csv` 库可以逐行读取，内存占用很低。
"""

R2_TEXT = (
    """The `csv` crate is the standard choice. Deserialize straight into a struct:

```rust
#[derive(serde::Deserialize)]
struct Row { id: u64, name: String }

let mut rdr = csv::Reader::from_path("big.csv")?;
for row in rdr.deserialize::<Row>() {
    let row = row?;
    if row.id < 10 && row.name.len() > 3 { println!("{}", row.name); }
}
```

"""
    + HOSTILE
)

R3_TEXT = "Use the `csv` crate:\n\n```rust\nlet mut rdr = csv::Reader::from_path("

S1_TEXT = """**Verdict:** Claude's answer is the most complete (typed rows via serde); DeepSeek's is
simplest; GPT's answer was cut off by a network error.

1. Claude Sonnet 5.5 — best
2. DeepSeek V4.1 Flash — good
3. GPT-6.2 Sol — incomplete
"""


def build_sample_graph() -> Graph:
    session = Session(
        title="Parse a CSV in Rust: 三个模型 🚀",
        created_at=T0,
        updated_at=T0 + 600,
        viewport=Viewport(x=120.5, y=-40.0, zoom=0.8),
        settings={"default_models": ["deepseek:deepseek-flash", "anthropic:claude-sonnet-5-5"]},
    )
    g = Graph(session=session)
    sid = session.id
    clock = iter(range(1, 1000))

    def add(**kw: object) -> Node:
        t = T0 + next(clock)
        node = Node(session_id=sid, created_at=t, updated_at=t + 0.5, **kw)  # type: ignore[arg-type]
        return g.add(node)

    p1 = add(
        kind=NodeKind.PROMPT,
        text="How do I parse a **large** CSV file in Rust? Show code and compare crates.",
        params=Params(system="You are a senior Rust engineer. Be concise."),
        x=0.0,
        y=0.0,
        title="CSV parsing",
    )
    r1 = add(
        kind=NodeKind.RESPONSE,
        model="deepseek:deepseek-flash",
        text=R1_TEXT,
        reasoning="The user wants streaming. The csv crate reads lazily; polars is heavier.",
        params=Params(temperature=0.3, thinking=True),
        status=NodeStatus.DONE,
        finish="stop",
        usage=Usage(input=40, cached_input=0, output=412, reasoning=120),
        cost_usd=0.000253,
        timing=Timing(ttft_ms=310, duration_ms=4430),
        x=-520.5,
        y=320.0,
    )
    r2 = add(
        kind=NodeKind.RESPONSE,
        model="anthropic:claude-sonnet-5-5",
        text=R2_TEXT,
        reasoning="Serde derive gives typed rows.\n\n<script>alert('reasoning')</script>",
        params=Params(max_tokens=16000, thinking=True, effort="high"),
        status=NodeStatus.DONE,
        finish="stop",
        usage=Usage(input=52, cached_input=12, cache_write=40, output=380, reasoning=96),
        cost_usd=0.003906,
        timing=Timing(ttft_ms=820, duration_ms=6100),
        run_record=RunRecord(started_at=T0 + 3, request_id="req_011CX7", dropped_params=("temperature",)),
        x=0.0,
        y=320.0,
        width=520.0,
        height=None,
    )
    r3 = add(
        kind=NodeKind.RESPONSE,
        model="openai:gpt-6.2-sol",
        text=R3_TEXT,
        params=Params(effort="medium"),
        status=NodeStatus.ERROR,
        error=ErrorInfo(kind="network", message="connection reset mid-answer", status=None),
        finish="error",
        usage=Usage(),
        cost_usd=None,
        timing=Timing(ttft_ms=640, duration_ms=2210),
        x=560.0,
        y=320.0,
    )
    g.link(p1.id, r1.id, EdgeRole.REPLY)
    g.link(p1.id, r2.id, EdgeRole.REPLY)
    g.link(p1.id, r3.id, EdgeRole.REPLY)

    # lanes follow-up from one response
    p2 = add(kind=NodeKind.PROMPT, text="Make it stream with serde and count rows.", x=-520.5, y=1400.0)
    g.link(r1.id, p2.id, EdgeRole.FOLLOW)
    r4 = add(
        kind=NodeKind.RESPONSE,
        model="deepseek:deepseek-flash",
        text="Add `#[derive(Deserialize)]` and count with `.count()`:\n\n```rust\nlet n = rdr.deserialize::<Row>().count();\n```\n",
        status=NodeStatus.DONE,
        finish="stop",
        usage=Usage(input=480, cached_input=448, output=96, reasoning=0),
        cost_usd=0.0000596,
        timing=Timing(ttft_ms=280, duration_ms=1480),
        x=-520.5,
        y=1700.0,
    )
    g.link(p2.id, r4.id, EdgeRole.REPLY)

    # shared follow-up: follows R2, with R1 attached as extra context
    p3 = add(kind=NodeKind.PROMPT, text="Combine both approaches into one function.", x=0.0, y=1400.0)
    g.link(r2.id, p3.id, EdgeRole.FOLLOW)
    g.link(r1.id, p3.id, EdgeRole.REF)
    r5 = add(
        kind=NodeKind.RESPONSE,
        model="anthropic:claude-sonnet-5-5",
        text="Here is one function:\n\n```rust\nfn rows(path: &str) -> csv::Result<usize> {\n    Ok(csv::Reader::from_path(path)?.records().count())\n}\n```\n",
        status=NodeStatus.DONE,
        finish="length",
        usage=Usage(input=900, cached_input=0, output=120, reasoning=0),
        cost_usd=0.003,
        timing=Timing(ttft_ms=700, duration_ms=2700),
        x=0.0,
        y=1700.0,
    )
    r6 = add(
        kind=NodeKind.RESPONSE,
        model="openrouter:deepseek/deepseek-v4-flash",
        text="Combined: read with `csv::Reader`, deserialize, count. 完成 ✅",
        status=NodeStatus.DONE,
        finish="stop",
        usage=Usage(input=910, cached_input=None, output=40, reasoning=None),
        cost_usd=0.00016,
        reported_cost_usd=0.000151,
        timing=Timing(ttft_ms=450, duration_ms=950),
        run_record=RunRecord(started_at=T0 + 9, request_id="gen-ü-1", rerun_of=r5.id,
                             insecure="the OpenRouter key goes over plain http:// to 10.0.0.2"),
        x=560.0,
        y=1700.0,
    )
    g.link(p3.id, r5.id, EdgeRole.REPLY)
    g.link(p3.id, r6.id, EdgeRole.REPLY)

    # synthesis of the three first answers
    s1 = add(
        kind=NodeKind.SYNTHESIS,
        model="anthropic:claude-sonnet-5-5",
        text=S1_TEXT,
        status=NodeStatus.DONE,
        finish="stop",
        usage=Usage(input=1500, cached_input=0, output=150, reasoning=0),
        cost_usd=0.0045,
        timing=Timing(ttft_ms=900, duration_ms=3900),
        meta={"instruction_kind": "judge", "instruction": "Which answer is best and why?"},
        x=1200.0,
        y=800.0,
    )
    g.link(r1.id, s1.id, EdgeRole.SOURCE)
    g.link(r2.id, s1.id, EdgeRole.SOURCE)
    g.link(r3.id, s1.id, EdgeRole.SOURCE)

    add(
        kind=NodeKind.NOTE,
        text="Remember to benchmark with a **10 GB** file.",
        color="4",
        x=1200.0,
        y=-200.0,
        width=300.0,
        height=120.0,
        collapsed=True,
    )
    return g


def by_model(graph: Graph, model: str) -> list[Node]:
    return [n for n in graph.nodes.values() if n.model == model]


def node_with_text(graph: Graph, fragment: str) -> Node:
    found = [n for n in graph.nodes.values() if fragment in n.text]
    assert len(found) == 1, f"{len(found)} nodes contain {fragment!r}"
    return found[0]


# --------------------------------------------------------------------------- comparing trees

SKIP_NODE_FIELDS = {"id", "session_id", "owner", "author"}  # author: the store sets it (who wrote the copy)


def _remap(value: object, mapping: dict[str, str]) -> object:
    if isinstance(value, str):
        return mapping.get(value, value)
    if isinstance(value, list):
        return [_remap(v, mapping) for v in value]
    if isinstance(value, dict):
        return {k: _remap(v, mapping) for k, v in value.items()}
    return value


def assert_same_tree(src: Graph, dst: Graph, *, session_updated: bool = True) -> dict[str, str]:
    """dst is src under new ids: same session fields, every node field equal (live statuses as
    interrupted), edges equal through the id mapping. Returns the mapping old id -> new id."""
    from dataclasses import fields, replace

    assert dst.session.id != src.session.id
    names = (
        ("title", "created_at", "updated_at", "viewport")
        if session_updated
        else ("title", "created_at", "viewport")
    )
    for name in names:
        if name == "title":  # import_file marks the copy "(imported)" (tests/app/test_import.py)
            assert dst.session.title.removesuffix(" (imported)") == src.session.title.removesuffix(" (imported)")
            continue
        assert getattr(dst.session, name) == getattr(src.session, name), name
    assert len(dst.nodes) == len(src.nodes)
    mapping = dict(zip(src.nodes, dst.nodes, strict=True))
    assert not set(mapping) & set(mapping.values()), "ids must all be new"
    assert len(set(mapping.values())) == len(mapping)
    assert dst.session.settings == _remap(src.session.settings, mapping)
    for old_id, new_id in mapping.items():
        a, b = src.nodes[old_id], dst.nodes[new_id]
        assert b.id == new_id and b.session_id == dst.session.id
        assert b.owner is None
        for f in fields(a):
            if f.name in SKIP_NODE_FIELDS:
                continue
            want = getattr(a, f.name)
            if f.name == "status" and a.status.is_live:
                want = NodeStatus.INTERRUPTED
            if f.name == "meta":
                want = _remap(want, mapping)
            if f.name == "run_record" and want.rerun_of is not None:
                want = replace(want, rerun_of=mapping.get(want.rerun_of, want.rerun_of))
            assert getattr(b, f.name) == want, f"{a!r}: field {f.name}"
    want_edges = {(mapping[e.parent_id], mapping[e.child_id], e.role, e.position) for e in src.edges}
    got_edges = {(e.parent_id, e.child_id, e.role, e.position) for e in dst.edges}
    assert got_edges == want_edges
    assert len(dst.edges) == len(src.edges)
    assert all(e.session_id == dst.session.id for e in dst.edges)
    return mapping
