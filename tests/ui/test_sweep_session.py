"""A session made by `triptych sweep` opens in the window: the sweep card shows the definition, and its
grid stands for the cells (each an ordinary prompt and answer pair in the store, not a card on the
canvas until the user continues it: tests/ui/test_sweep_grid.py)."""

from __future__ import annotations

from app.domain import Edge, EdgeRole, Node, NodeKind, NodeStatus, Session
from app.sweep import CELL_META, SWEEP_META, SweepDef
from storage import open_store
from tests.ui.conftest import cards_of, open_window, wait_until


async def test_a_sweep_session_opens_with_its_sweep_card_and_its_grid(app_env, fake_server):
    defn = SweepDef(templates=["Hi {{n}}"], models=["deepseek:deepseek-flash"], columns=["n"],
                    rows=[{"n": "a"}, {"n": "b"}], vars_name="v.csv")
    repo = open_store(app_env)
    session = repo.create_session(Session(title="Sweep: Hi"))
    sweep = Node(session.id, NodeKind.SWEEP, defn.summary(), meta={SWEEP_META: defn.to_dict()}, x=-600)
    nodes, edges = [sweep], []
    for cell in defn.cells():
        mark = {CELL_META: {"sweep": sweep.id, "cell": cell.index}}
        prompt = Node(session.id, NodeKind.PROMPT, cell.text, meta=dict(mark), y=cell.index * 700)
        answer = Node(session.id, NodeKind.RESPONSE, f"answer {cell.index}", model=cell.model,
                      status=NodeStatus.DONE, meta=dict(mark), y=cell.index * 700 + 180)
        nodes += [prompt, answer]
        edges.append(Edge(prompt.id, answer.id, EdgeRole.REPLY, 0, session.id))
    repo.add_nodes(nodes, edges)
    repo.close()
    async with open_window() as (window, _services):
        await wait_until(lambda: window.controller.sweeps.item is not None, 10, "the sweep's grid")
        assert len(cards_of(window)) == 1 and len(cards_of(window, "sweep")) == 1  # no cell floods the canvas
        grid = window.controller.sweeps.grid
        assert [c.preview for c in grid.cells] == ["answer 0", "answer 1"]
        assert [r.label for r in grid.rows] == ["a", "b"]
        assert window.controller.graph.nodes[sweep.id].text.startswith("Sweep: 1 prompt × 2 rows")
