"""How a blind match looks before the vote: ONE rule for the window's cards, its dialogs and panels, the
exports and `triptych show` (DESIGN.md, "Evaluate"). Qt-free and pure.

A `BlindRule` knows every answer of a match the user has not voted on yet ("A" or "B") and the names
that identify a model (app.arena.identity_names). `present(node)` is what any view shows of a node: the
node itself, or for a blind answer a copy titled "Model A" / "Model B" in a neutral colour, with no
model, parameters, usage, cost, timing, metadata or reasoning (whether a model reasons tells it
apart), and its text and error with every model name masked as "[model]" (app.arena.mask_identities).
The prompt of a match loses the list of models it was sent to. `present_graph(graph)` does that to a whole graph (an export), and drops the matches
not voted on yet: their model names are the one thing the file must not carry.

Leaderboard tables (CSV, Markdown) are here too: the Leaderboard dialog and `triptych leaderboard`
write the same files.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import re
from collections.abc import Iterable, Sequence
from typing import Any

from app.arena import USER, Match, Standing, identity_names, identity_pattern, mask_identities, ranks
from app.domain import Graph, Node, Params, Timing, Usage

__all__ = ["NEUTRAL_COLOR", "VOTE_LABELS", "BlindRule", "blind_rule", "leaderboard_csv", "leaderboard_markdown"]

NEUTRAL_COLOR = "#8A8F98"  # the stripe of a blind card: no provider's colour
VOTE_LABELS = {"a": "A is better", "b": "B is better", "tie": "Tie", "bad": "Both bad"}


@dataclasses.dataclass(eq=False)
class BlindRule:
    """The blind answers (node id → "A" / "B") and the pattern of identifying names. Mutable: the
    window keeps one and refreshes it (`update`) when a match is made or a vote changes."""

    sides: dict[str, str] = dataclasses.field(default_factory=dict)
    pattern: re.Pattern[str] | None = None
    prompts: set[str] = dataclasses.field(default_factory=set)  # prompts of the unvoted matches
    sessions: set[str] = dataclasses.field(default_factory=set)  # sessions with an unvoted match

    def __repr__(self) -> str:
        return f"<BlindRule {len(self.sides)} blind cards>"

    def update(self, matches: Iterable[Match], pattern: re.Pattern[str] | None = None) -> None:
        """Take the blind cards from `matches` (those without the user's vote)."""
        self.sides.clear()
        self.prompts.clear()
        self.sessions.clear()
        for m in matches:
            if m.vote_of(USER) is None:
                self.sides[m.a_node_id] = "A"
                self.sides[m.b_node_id] = "B"
                self.prompts.add(m.prompt_id)
                self.sessions.add(m.session_id)
        if pattern is not None:
            self.pattern = pattern

    def __bool__(self) -> bool:
        return bool(self.sides)

    def side(self, node_id: str) -> str | None:
        return self.sides.get(node_id)

    def is_blind(self, node_id: str) -> bool:
        return node_id in self.sides

    def label(self, node_id: str) -> str | None:
        """ "Model A" / "Model B" for a blind card, else None."""
        side = self.sides.get(node_id)
        return f"Model {side}" if side else None

    def session_is_blind(self, session_id: str | None) -> bool:
        return session_id in self.sessions

    def mask(self, text: str) -> str:
        return mask_identities(text, self.pattern) if self.pattern is not None and text else text

    def present(self, node: Node) -> Node:
        """What a view shows of `node` (see the module docstring); `node` itself when it is not blind."""
        side = self.sides.get(node.id)
        if side is None:
            if node.id in self.prompts and isinstance(node.meta, dict) and "targets" in node.meta:
                meta = {k: v for k, v in node.meta.items() if k != "targets"}
                return dataclasses.replace(node, meta=meta)
            return node
        error = node.error
        if error is not None:
            error = dataclasses.replace(error, message=self.mask(error.message))
        live = node.status.is_live
        run = node.run
        if run is not None and run.phase == "thinking":  # "Thinking…" would tell a reasoning model apart
            run = dataclasses.replace(run, phase="streaming")
        return dataclasses.replace(
            node,
            run=run,
            text=self.mask(_settled(node.text) if live else node.text),
            reasoning="",  # whether (and how much) a model reasons would tell the models apart
            model=None,
            params=Params(),
            error=error,
            usage=Usage(),
            cost_usd=None,
            reported_cost_usd=None,
            timing=Timing(),
            color=NEUTRAL_COLOR,
            title=f"Model {side}",
            meta={"blind": side},
            updated_at=node.created_at,  # when it ended would say how long it took
        )

    def present_graph(self, graph: Graph) -> Graph:
        """`graph` as a file may show it before the vote: blind nodes presented (their model is the
        word "Model A" / "Model B", which every export prints as the answer's name, in no provider's
        colour), the matches not voted on yet left out."""
        if not any(nid in self.sides or nid in self.prompts for nid in graph.nodes):
            return graph
        nodes = {nid: self.present(n) for nid, n in graph.nodes.items()}
        for nid, side in self.sides.items():  # files name an answer by its model: "Model A" it is
            if nid in nodes:
                nodes[nid] = dataclasses.replace(nodes[nid], model=f"Model {side}")
        matches = [m for m in graph.matches if m.vote_of(USER) is not None]
        return Graph(graph.session, nodes, graph.edges, matches=matches)


def _settled(text: str, words: int = 3) -> str:
    """A streaming text without its last three words: a name still arriving ("Claude Son…", "Claude
    Sonnet" before "5.5") is masked once it is whole, never shown in part. Walks back from the end
    only (it runs on every repaint of a streaming card)."""
    i = len(text)
    for _ in range(words):
        while i > 0 and text[i - 1].isspace():
            i -= 1
        while i > 0 and not text[i - 1].isspace():
            i -= 1
    return text[:i]


def blind_rule(matches: Iterable[Match], catalog: Any = None, provider_names: Iterable[str] = ()) -> BlindRule:
    """A rule for `matches`, masking every catalog name, every model of the matches and `provider_names`."""
    matches = list(matches)
    models = [m for match in matches for m in (match.a_model, match.b_model)]
    rule = BlindRule()
    rule.update(matches, identity_pattern(identity_names(catalog, models, provider_names)))
    return rule


# ---------------------------------------------------------------------------------------------- tables
LEADERBOARD_HEAD = ["rank", "model", "rating", "ci_low", "ci_high", "votes", "wins", "losses", "ties"]


def _fmt_rate(x: float | None, games: int | None = None) -> str:
    if x is None:
        return "–"
    return f"{x * 100:.0f}%" + (f" ({games})" if games is not None else "")


def leaderboard_rows(standings: Sequence[Standing]) -> list[list[str]]:
    """The table as text cells (ratings rounded to whole points; equal ratings share a rank)."""
    return [[str(rank), s.model, f"{s.rating:.0f}", f"{s.ci_low:.0f}", f"{s.ci_high:.0f}", str(s.votes),
             str(s.wins), str(s.losses), str(s.ties)] for rank, s in zip(ranks(standings), standings, strict=True)]


def leaderboard_csv(standings: Sequence[Standing], matrix: dict[str, dict[str, float | None]] | None = None,
                    counts: dict[str, dict[str, int]] | None = None,
                    filters: Sequence[tuple[str, str]] = ()) -> str:
    """`triptych leaderboard --format csv`: a header and one row per model (ratings to one decimal;
    equal ratings share a rank); then, each after an empty line, the win-rate matrix (share of the
    row model's games against the column model it won, ties as half; empty where they never met),
    the number of games behind each rate, and the filters the table was made with."""
    buf = io.StringIO()
    w = csv.writer(buf, lineterminator="\n")
    w.writerow(LEADERBOARD_HEAD)
    w.writerows([[str(rank), s.model, round(s.rating, 1), round(s.ci_low, 1), round(s.ci_high, 1), s.votes,
                  s.wins, s.losses, s.ties] for rank, s in zip(ranks(standings), standings, strict=True)])
    models = [s.model for s in standings]
    if matrix is not None and models:
        w.writerow([])
        w.writerow(["win_rate (row vs column)", *models])
        for r in models:
            w.writerow([r, *("" if (x := matrix[r][c]) is None else round(x, 3) for c in models)])
    if counts is not None and models:
        w.writerow([])
        w.writerow(["games (row vs column)", *models])
        for r in models:
            w.writerow([r, *("" if r == c else counts[r][c] for c in models)])
    if filters:
        w.writerow([])
        w.writerow(["filter", "value"])
        w.writerows([list(f) for f in filters])
    return buf.getvalue()


def leaderboard_markdown(standings: Sequence[Standing], matrix: dict[str, dict[str, float | None]],
                         counts: dict[str, dict[str, int]] | None = None,
                         filters: Sequence[tuple[str, str]] = ()) -> str:
    """`triptych leaderboard --format md`: the filters (when given), the table, then the win-rate matrix
    (row vs column, with the number of games behind each rate when `counts` is given)."""
    head = LEADERBOARD_HEAD
    lines = []
    if filters:
        lines += ["Filters: " + " · ".join(f"{k}: {v}" for k, v in filters), ""]
    lines += ["| " + " | ".join(head) + " |",
              "|" + "|".join("---:" if h != "model" else "---" for h in head) + "|"]
    for r in leaderboard_rows(standings):
        lines.append("| " + " | ".join(c.replace("|", "\\|") for c in r) + " |")
    models = [s.model for s in standings]
    if models:
        lines += ["", "Win rate of the row model against the column model (ties as half)"
                  + (", with the number of games in brackets:" if counts is not None else ":"), "",
                  "| | " + " | ".join(models) + " |", "|---|" + "|".join("---:" for _ in models) + "|"]
        for row_model in models:
            lines.append(f"| {row_model} | " + " | ".join(
                _fmt_rate(matrix[row_model][c], counts[row_model][c] if counts is not None else None)
                for c in models) + " |")
    return "\n".join(lines) + "\n"
