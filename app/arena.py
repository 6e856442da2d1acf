"""Blind-match arena (DESIGN.md, "Evaluate"): matches, votes, the pairing draw, identity masking, judge
verdicts and the Bradley–Terry leaderboard. Qt-free and pure, except `ArenaStore` (the store's side).

A **match** is one prompt answered by two models shown as "A" and "B"; until a vote is recorded nothing
may show which model is which (the window's cards call `mask_identities` on their text and show
"Model A" / "Model B"; `triptych arena` prints only node ids, text and status). A **vote** is `a`, `b`,
`tie` or `bad` (both bad: counts as a tie), by a voter: `user` or `judge:PROVIDER:MODEL`; one vote per
match and voter, a changed vote replaces the earlier one.

**Pairing draw** (`draw_pair`): every unordered pair of distinct models in the pool gets the weight
`1 / (1 + n)`, where `n` is the number of matches of that pair that have at least one vote; a pair is
drawn with probability weight / sum of weights (uniform when every pair has as many votes, and a pair
never voted on is twice as likely as a pair voted on once). The sides are then a fair coin flip.

**Leaderboard** (`leaderboard`): a Bradley–Terry model, P(i beats j) = p_i / (p_i + p_j), fitted by the
MM algorithm (Hunter 2004, "MM algorithms for generalized Bradley–Terry models") on every comparison,
ties (and "both bad") counting as half a win for each side. A tiny prior keeps an undefeated (or
winless) model finite: every model also plays `prior` virtual games (default 0.5 in all), all ties,
spread evenly over the other models (`prior / (k - 1)` with each). Ratings are on the Elo scale,
1000 + 400·log10(p_i), with the strengths scaled to a geometric mean of 1 (so the mean rating is 1000). 95% intervals: the 2.5th and 97.5th percentiles of the ratings refitted on
`resamples` (default 200) bootstrap resamples of the votes (with replacement), drawn from a seeded
`random.Random` (the interval is widened to include the estimate in the rare lopsided case where it
would not).
"""

from __future__ import annotations

import math
import random
import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

from app.domain import new_id, now_ts

__all__ = [
    "FAMILY_NAMES",
    "MASK",
    "VOTES",
    "ArenaStore",
    "Comparison",
    "Match",
    "Standing",
    "Vote",
    "blind_sides",
    "combine_judge_verdicts",
    "comparisons",
    "draw_pair",
    "fit_bradley_terry",
    "identity_names",
    "identity_pattern",
    "judge_prompt",
    "leaderboard",
    "mask_identities",
    "pair_game_counts",
    "pair_key",
    "parse_verdict",
    "ranks",
    "swap_vote",
    "win_rate_matrix",
]

VOTES = ("a", "b", "tie", "bad")
USER = "user"
JUDGE_PREFIX = "judge:"
MASK = "[model]"


# ------------------------------------------------------------------------------------------------ records
@dataclass(slots=True)
class Vote:
    match_id: str
    voter: str  # "user" | "judge:PROVIDER:MODEL"
    vote: str  # a | b | tie | bad
    created_at: float = field(default_factory=now_ts)

    def __post_init__(self) -> None:
        if self.vote not in VOTES:
            raise ValueError(f"a vote is one of {', '.join(VOTES)}, not {self.vote!r}")
        if self.voter != USER and not (self.voter.startswith(JUDGE_PREFIX) and ":" in self.voter[len(JUDGE_PREFIX):]):
            raise ValueError(f"a voter is 'user' or 'judge:PROVIDER:MODEL', not {self.voter!r}")

    def __repr__(self) -> str:
        return f"<Vote {self.match_id[-6:]} {self.voter} {self.vote}>"

    @property
    def is_judge(self) -> bool:
        return self.voter.startswith(JUDGE_PREFIX)

    def to_dict(self) -> dict[str, Any]:
        return {"voter": self.voter, "vote": self.vote, "created_at": self.created_at}


@dataclass(slots=True)
class Match:
    session_id: str
    prompt_id: str
    a_node_id: str
    b_node_id: str
    a_model: str
    b_model: str
    tags: list[str] = field(default_factory=list)
    id: str = field(default_factory=new_id)
    created_at: float = field(default_factory=now_ts)
    votes: list[Vote] = field(default_factory=list)  # filled by the store when it loads a match

    def __repr__(self) -> str:
        return f"<Match {self.id[-6:]} {len(self.votes)} votes>"  # no model names: reprs end up in logs

    def vote_of(self, voter: str = USER) -> Vote | None:
        return next((v for v in self.votes if v.voter == voter), None)

    @property
    def revealed(self) -> bool:
        """Whether the user has voted (the identities may be shown)."""
        return self.vote_of(USER) is not None

    def model_of(self, side: str) -> str:
        return self.a_model if side == "a" else self.b_model

    def to_dict(self) -> dict[str, Any]:
        """Lossless (the json export): every field and every vote."""
        return {"id": self.id, "prompt_id": self.prompt_id, "a_node_id": self.a_node_id,
                "b_node_id": self.b_node_id, "a_model": self.a_model, "b_model": self.b_model,
                "tags": list(self.tags), "created_at": self.created_at, "votes": [v.to_dict() for v in self.votes]}


class ArenaStore(Protocol):
    """What the arena needs from the store (storage.repository.SqliteRepository implements it)."""

    def add_match(self, match: Match) -> None: ...
    def get_match(self, match_id: str) -> Match | None: ...
    def resolve_match(self, ref: str) -> str | None: ...
    def record_vote(self, vote: Vote) -> None:
        """Insert, or replace the voter's earlier vote on that match."""
        ...
    def list_matches(self, session_id: str | None = None) -> list[Match]:
        """Every match (of one session, or all), oldest first, with its votes."""
        ...


def blind_sides(matches: Iterable[Match], voter: str = USER) -> dict[str, str]:
    """Answer node id → "A" or "B" for every match `voter` has not voted on yet: the cards a view must
    show as "Model A" / "Model B" (neutral colour, masked text, no model, cost, tokens or timing)."""
    out: dict[str, str] = {}
    for m in matches:
        if m.vote_of(voter) is None:
            out[m.a_node_id] = "A"
            out[m.b_node_id] = "B"
    return out


def normalise_tags(tags: Iterable[str]) -> list[str]:
    """Tags as stored: stripped, lower-case, no empties or repeats, in the order given."""
    return list(dict.fromkeys(t.strip().lower() for t in tags if t.strip()))


# ------------------------------------------------------------------------------------------------ pairing
def pair_key(m1: str, m2: str) -> tuple[str, str]:
    return (m1, m2) if m1 <= m2 else (m2, m1)


def voted_pair_counts(matches: Iterable[Match]) -> dict[tuple[str, str], int]:
    """How many matches of each (unordered) pair of models have at least one vote."""
    counts: dict[tuple[str, str], int] = {}
    for m in matches:
        if m.votes:
            key = pair_key(m.a_model, m.b_model)
            counts[key] = counts.get(key, 0) + 1
    return counts


def pair_weights(pool: Sequence[str], counts: dict[tuple[str, str], int]) -> dict[tuple[str, str], float]:
    """Each unordered pair of distinct models in `pool` → 1 / (1 + voted matches of that pair)."""
    models = list(dict.fromkeys(pool))
    return {pair_key(x, y): 1.0 / (1 + counts.get(pair_key(x, y), 0))
            for i, x in enumerate(models) for y in models[i + 1:]}


def draw_pair(pool: Sequence[str], counts: dict[tuple[str, str], int], rng: random.Random) -> tuple[str, str]:
    """(model A, model B): a pair drawn with the weights of `pair_weights`, then sides by a coin flip.
    ValueError when the pool has fewer than two distinct models."""
    weights = pair_weights(pool, counts)
    if not weights:
        raise ValueError("a blind match needs at least two different models")
    pairs = list(weights)
    x, y = rng.choices(pairs, weights=[weights[p] for p in pairs], k=1)[0]
    return (x, y) if rng.random() < 0.5 else (y, x)


# ------------------------------------------------------------------------------------------------ masking
# Families and makers that name a model whatever the catalog holds. Deliberately not bare "Google" or
# "Meta" (ordinary words in answers about code); "Google DeepMind" and "Meta AI" are masked.
FAMILY_NAMES = (
    "Claude", "GPT", "ChatGPT", "DeepSeek", "Anthropic", "OpenAI", "Gemini", "Gemma", "Bard", "DeepMind",
    "Google DeepMind", "Meta AI", "Llama", "Qwen", "Alibaba Cloud", "Mistral", "Mixtral", "Codestral", "Grok",
    "xAI", "OpenRouter", "Kimi", "Moonshot AI", "Zhipu", "ChatGLM", "Cohere", "Command R", "Ernie", "Yi-Lightning",
)
# Provider ids too ordinary to mask as words (a user's endpoint named "local" or "work").
_PLAIN_WORDS = frozenset({"local", "custom", "server", "work", "home", "test", "lab", "api", "default"})


def identity_names(catalog: Any = None, models: Iterable[str] = (), provider_names: Iterable[str] = ()) -> list[str]:
    """Every name that may identify a model: the families and makers above, and from the catalog (and
    the given `provider:model` refs) each display name, model id (also its part after a '/'), full ref,
    provider id, the versioned part of a display name after its first word ("Sonnet 5.5"), and the
    providers' display names. Longest first."""
    names: set[str] = set(FAMILY_NAMES)
    refs: list[str] = [str(m) for m in models]
    displays: list[str] = list(provider_names)
    if catalog is not None:
        for info in catalog.models():
            refs.append(info.ref)
            displays.append(info.display)
    for ref in refs:
        provider, _, model = ref.partition(":")
        names.add(ref)
        if model:
            names.add(model)
            names.add(model.rsplit("/", 1)[-1])
        if provider and provider.lower() not in _PLAIN_WORDS and len(provider) >= 3:
            names.add(provider)
    for display in displays:
        display = display.strip()
        if not display or display.lower() in _PLAIN_WORDS:
            continue
        names.add(display)
        base = re.sub(r"\s*\(.*\)\s*$", "", display)  # "Claude Sonnet 5.5 (OpenRouter)"
        names.add(base)
        first, _, rest = base.partition(" ")
        if rest and any(ch.isdigit() for ch in rest):
            names.add(rest)
    return sorted((n for n in names if len(n) >= 2), key=lambda n: (-len(n), n.lower()))


def _name_regex(name: str) -> str:
    """A name as a pattern: '-', '_', '.' and spaces between its parts match any of them (gpt-6.2-sol,
    "GPT 6.2 Sol", claude_sonnet)."""
    parts = [re.escape(p) for p in re.split(r"[-_\s]+", name) if p]
    return r"[-_\s]?".join(parts)


_VERSION_TAIL = r"(?:[-_ ]?v?\d(?:\w|\.(?=\w))*(?:-[A-Za-z0-9](?:\w|\.(?=\w))*)*)?"


def identity_pattern(names: Sequence[str]) -> re.Pattern[str]:
    """One case-insensitive pattern for `names` (longest first), word-bounded (a letter or digit on
    either side is no match: "gpt" in "chatgpts" or "gptx" is left alone), that also takes a version
    glued to a name ("GPT-4o-mini", "Qwen2.5-72B", "Llama 3.1")."""
    alternatives = "|".join(_name_regex(n) for n in names)
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives}){_VERSION_TAIL}(?![A-Za-z0-9])", re.IGNORECASE)


def mask_identities(text: str, pattern: re.Pattern[str]) -> str:
    """`text` with every name the pattern knows replaced by "[model]" (runs of masks joined by ':' or
    '/' become one: "openai/gpt-6.2-sol" → "[model]")."""
    masked = pattern.sub(MASK, text)
    return re.sub(r"\[model\](?:[:/]\[model\])+", MASK, masked)


# ------------------------------------------------------------------------------------------------ judge
def judge_prompt(question: str, answer_a: str, answer_b: str, rubric: str | None = None) -> str:
    """What a judge model is asked: the question and the two (masked) answers as A and B; with a
    `rubric`, compared against it (as the sweep judge's rubric)."""
    against = f"\n\n## Rubric\n\nJudge the answers against this rubric: {rubric.strip()}" if rubric and rubric.strip() else ""
    return (
        "You are judging two anonymous answers to the same question. Compare them for correctness, "
        "helpfulness and clarity; ignore their length and order.\n\n"
        f"## Question\n\n{question}\n\n## Answer A\n\n{answer_a}\n\n## Answer B\n\n{answer_b}{against}\n\n"
        "Give a short reason, then end with exactly one line `VERDICT: A`, `VERDICT: B`, `VERDICT: TIE` "
        "(equally good) or `VERDICT: BAD` (both bad)."
    )


_VERDICT = re.compile(r"verdict\s*[:=]\s*\**\s*(both\s+bad|tie|bad|a|b)\b", re.IGNORECASE)


def parse_verdict(text: str) -> str | None:
    """The judge's vote (a, b, tie, bad) from its last `VERDICT:` line; None when there is none."""
    found = _VERDICT.findall(text)
    if not found:
        return None
    word = re.sub(r"\s+", " ", found[-1].lower())
    return "bad" if word in ("bad", "both bad") else word


def swap_vote(vote: str) -> str:
    """The same verdict seen from the other side (a ↔ b; tie and bad stay)."""
    return {"a": "b", "b": "a"}.get(vote, vote)


def combine_judge_verdicts(first: str, swapped: str) -> str:
    """The judge's vote from its verdict on (A, B) and its verdict with the sides swapped (B shown as
    A): the same answer preferred both times → that vote; otherwise (disagreement) → tie."""
    second = swap_vote(swapped)
    return first if first == second else "tie"


# ------------------------------------------------------------------------------------------------ leaderboard
@dataclass(frozen=True, slots=True)
class Comparison:
    """One vote as a game: `score` is what `first` earned (1 win, 0.5 tie or both bad, 0 loss)."""

    first: str
    second: str
    score: float


def voter_matches(vote: Vote, voter: str) -> bool:
    """`voter` filter: "user", "judge" (any judge), "all", or an exact voter id."""
    if voter == "all":
        return True
    if voter == "judge":
        return vote.is_judge
    return vote.voter == voter


def comparisons(matches: Iterable[Match], *, voter: str = USER, tags: Sequence[str] = ()) -> list[Comparison]:
    """The games to fit: one per vote that passes the voter filter, on matches carrying every tag."""
    wanted = set(normalise_tags(tags))
    out: list[Comparison] = []
    for m in matches:
        if wanted and not wanted <= set(m.tags):
            continue
        for v in m.votes:
            if not voter_matches(v, voter):
                continue
            score = {"a": 1.0, "b": 0.0}.get(v.vote, 0.5)
            out.append(Comparison(m.a_model, m.b_model, score))
    return out


PRIOR_GAMES = 0.5


def fit_bradley_terry(games: Sequence[Comparison], models: Sequence[str] | None = None, *,
                      prior: float = PRIOR_GAMES, max_iter: int = 10_000, tol: float = 1e-10,
                      start: Sequence[float] | None = None) -> dict[str, float]:
    """Bradley–Terry strengths (geometric mean 1) by the MM algorithm; see the module docstring.
    `start`: initial strengths in the order of `models` (a bootstrap starts from the full fit).
    With `prior=0` a model that never won (or never lost) has no finite strength: ValueError."""
    names = list(dict.fromkeys([*(models or ()), *(g.first for g in games), *(g.second for g in games)]))
    if not names:
        return {}
    index = {n: i for i, n in enumerate(names)}
    k = len(names)
    wins = [0.0] * k
    pair_games: dict[tuple[int, int], float] = {}
    for g in games:
        i, j = index[g.first], index[g.second]
        if i == j:
            continue
        wins[i] += g.score
        wins[j] += 1.0 - g.score
        key = (i, j) if i < j else (j, i)
        pair_games[key] = pair_games.get(key, 0.0) + 1.0
    if prior <= 0:
        for i in range(k):
            played = sum(n for (x, y), n in pair_games.items() if i in (x, y))
            if wins[i] <= 0 or wins[i] >= played:
                raise ValueError(f"{names[i]} never lost or never won: its strength is not finite without a prior")
    elif k > 1:  # the prior: `prior` virtual games per model, ties, spread evenly over its opponents
        share = prior / (k - 1)
        for i in range(k):
            wins[i] += prior / 2
            for j in range(i + 1, k):
                pair_games[(i, j)] = pair_games.get((i, j), 0.0) + share
    p = list(start) if start is not None else [1.0] * k
    neighbours: list[list[tuple[int, float]]] = [[] for _ in range(k)]
    for (i, j), n in pair_games.items():
        neighbours[i].append((j, n))
        neighbours[j].append((i, n))
    for _ in range(max_iter):
        new = []
        for i in range(k):
            denom = sum(n / (p[i] + p[j]) for j, n in neighbours[i])
            new.append(wins[i] / denom if denom > 0 else p[i])
        # BT strengths are defined up to a common factor: keep the geometric mean at 1 (mean rating 1000)
        shift = math.exp(sum(math.log(x) for x in new) / k)
        new = [x / shift for x in new]
        change = max(abs(math.log(a / b)) for a, b in zip(new, p, strict=True))
        p = new
        if change < tol:
            break
    return dict(zip(names, p, strict=True))


def elo(strength: float) -> float:
    """A Bradley–Terry strength on the Elo scale: 1000 + 400·log10(p)."""
    return 1000.0 + 400.0 * math.log10(strength)


@dataclass(frozen=True, slots=True)
class Standing:
    model: str
    rating: float
    ci_low: float
    ci_high: float
    votes: int
    wins: int
    losses: int
    ties: int

    def __repr__(self) -> str:
        return f"<Standing {self.model} {self.rating:.0f}>"

    def to_dict(self) -> dict[str, Any]:
        """`leaderboard --json` (DESIGN.md); ratings to one decimal."""
        return {"model": self.model, "rating": round(self.rating, 1), "ci_low": round(self.ci_low, 1),
                "ci_high": round(self.ci_high, 1), "votes": self.votes, "wins": self.wins,
                "losses": self.losses, "ties": self.ties}


def _percentile(sorted_values: Sequence[float], q: float) -> float:
    """Linear interpolation between closest ranks (numpy's default)."""
    if len(sorted_values) == 1:
        return sorted_values[0]
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = min(lo + 1, len(sorted_values) - 1)
    return sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo)


def leaderboard(games: Sequence[Comparison], *, resamples: int = 200, seed: int | None = None,
                prior: float = PRIOR_GAMES) -> list[Standing]:
    """The standings, best rating first (then most votes, then name): ratings, 95% bootstrap intervals,
    and votes / wins / losses / ties ("both bad" is a tie). Empty for no games."""
    if not games:
        return []
    models = list(dict.fromkeys([*(g.first for g in games), *(g.second for g in games)]))
    strengths = fit_bradley_terry(games, models, prior=prior)
    ratings = {m: elo(s) for m, s in strengths.items()}
    rng = random.Random(seed)
    samples: dict[str, list[float]] = {m: [] for m in models}
    for _ in range(max(resamples, 0)):
        drawn = rng.choices(games, k=len(games))
        fitted = fit_bradley_terry(drawn, models, prior=prior, tol=1e-7, start=[strengths[m] for m in models])
        for m in models:
            samples[m].append(elo(fitted[m]))
    record = {m: [0, 0, 0] for m in models}  # wins, losses, ties
    for g in games:
        if g.score == 1.0:
            record[g.first][0] += 1
            record[g.second][1] += 1
        elif g.score == 0.0:
            record[g.first][1] += 1
            record[g.second][0] += 1
        else:
            record[g.first][2] += 1
            record[g.second][2] += 1
    out = []
    for m in models:
        values = sorted(samples[m])
        low = _percentile(values, 0.025) if values else ratings[m]
        high = _percentile(values, 0.975) if values else ratings[m]
        w, loss, t = record[m]
        out.append(Standing(m, ratings[m], min(low, ratings[m]), max(high, ratings[m]), w + loss + t, w, loss, t))
    out.sort(key=lambda s: (-s.rating, -s.votes, s.model))
    return out


def win_rate_matrix(games: Sequence[Comparison], models: Sequence[str]) -> dict[str, dict[str, float | None]]:
    """row model → column model → share of their direct games the row model won (ties as half), None
    where they never met (and on the diagonal)."""
    score: dict[tuple[str, str], float] = {}
    played: dict[tuple[str, str], int] = {}
    for g in games:
        for x, y, s in ((g.first, g.second, g.score), (g.second, g.first, 1.0 - g.score)):
            score[(x, y)] = score.get((x, y), 0.0) + s
            played[(x, y)] = played.get((x, y), 0) + 1
    return {r: {c: (score[(r, c)] / played[(r, c)] if played.get((r, c)) else None) for c in models}
            for r in models}


def pair_game_counts(games: Sequence[Comparison], models: Sequence[str]) -> dict[str, dict[str, int]]:
    """row model → column model → how many of the games played the two (the votes behind a win rate)."""
    played: dict[tuple[str, str], int] = {}
    for g in games:
        key = pair_key(g.first, g.second)
        played[key] = played.get(key, 0) + 1
    return {r: {c: (played.get(pair_key(r, c), 0) if r != c else 0) for c in models} for r in models}


def ranks(standings: Sequence[Standing]) -> list[int]:
    """Competition ranks of standings sorted best first: equal ratings (to the tenth of a point the CSV
    prints) share a rank and the next one skips ("1, 1, 3")."""
    out: list[int] = []
    for i, s in enumerate(standings):
        if i and round(s.rating, 1) == round(standings[i - 1].rating, 1):
            out.append(out[-1])
        else:
            out.append(i + 1)
    return out
