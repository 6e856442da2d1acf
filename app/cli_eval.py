"""The "Evaluate" commands of `triptych` (DESIGN.md): `cost` (app.whatif), `arena`, `vote` and
`leaderboard` (app.arena). Kept out of app/cli.py, which only registers them (`add_parsers`, `run`)."""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import random
import signal
import sys
from typing import TYPE_CHECKING, Any, cast

from app.arena import VOTES
from app.cli import Ctx, UsageError, _load_files, _parse_models, _read_prompt
from app.present.money import fmt_cost

if TYPE_CHECKING:
    from app.arena import ArenaStore


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    a = sub.add_parser("arena", parents=[common],
                       help="a blind match: two of the models, drawn at random, answer as A and B until you vote")
    a.add_argument("-m", "--model", action="append", default=[], metavar="PROVIDER:MODEL",
                   help="a model of the pool (repeatable; at least two)")
    a.add_argument("--tag", action="append", default=[], metavar="TAG", help="a tag for the match (repeatable)")
    a.add_argument("--judge", metavar="PROVIDER:MODEL",
                   help="a model that votes too (twice, sides swapped; disagreement is a tie)")
    a.add_argument("-a", "--attach", action="append", default=[], metavar="FILE",
                   help="attach a file (repeatable): images PNG/JPEG/WebP/GIF, PDF, UTF-8 text")
    a.add_argument("--max-retries", type=int, default=2, help="retries before the first token (default 2)")
    a.add_argument("--json", action="store_true", help="one JSON object at the end (no model names)")
    a.add_argument("prompt", nargs="+", help="the prompt ('-' reads standard input)")

    v = sub.add_parser("vote", parents=[common], help="vote on a blind match: a, b, tie or bad (both bad)")
    v.add_argument("match", metavar="MATCH_ID", help="the match id (or a unique prefix/suffix)")
    v.add_argument("vote", choices=list(VOTES))
    v.add_argument("--json", action="store_true")

    lb = sub.add_parser("leaderboard", parents=[common],
                        help="Bradley-Terry ratings (Elo scale) from the blind-match votes, with 95%% intervals")
    lb.add_argument("--tag", action="append", default=[], metavar="TAG",
                    help="only matches with this tag (repeatable: all of them)")
    lb.add_argument("--voter", default="user", choices=["user", "judge", "all"],
                    help="whose votes count (default: user)")
    lb.add_argument("--json", action="store_true", help="an array sorted by rating")
    lb.add_argument("--format", choices=["csv", "md"], help="the table (and md: the win-rate matrix) as CSV or Markdown")
    lb.add_argument("--resamples", type=int, default=200, help="bootstrap resamples (default 200, at least 200)")
    lb.add_argument("--seed", type=int, help="seed of the bootstrap (the same seed gives the same intervals)")

    c = sub.add_parser("cost", parents=[common],
                       help="what a session (or the path to a card, or a sweep) would have cost on every priced model")
    c.add_argument("session", help="a session or sweep id (unique prefix, or 'last')")
    c.add_argument("--path", metavar="NODE_ID", help="only the path to this card (it and its ancestors)")
    c.add_argument("--json", action="store_true")


def run(ctx: Ctx, args: argparse.Namespace) -> int:
    commands = {"cost": cmd_cost, "arena": cmd_arena, "vote": cmd_vote, "leaderboard": cmd_leaderboard}
    return commands[args.command](ctx, args)


# ---------------------------------------------------------------------------------------------- cost
def cmd_cost(ctx: Ctx, args: argparse.Namespace) -> int:
    from app.whatif import NOTE, answers_phrase, cost_whatif, whatif_json

    sid = ctx.session_id(args.session)
    graph = ctx.repo.load_graph(sid)
    unvoted = [m.id for m in graph.matches if not m.revealed]
    if unvoted:  # the costs (and which models were used) would tell the blind pair apart
        raise UsageError(f"session {sid} has a blind match not voted on yet: vote first "
                         f"(triptych vote {unvoted[0]} a|b|tie|bad), then ask what it cost")
    path_to = None
    if args.path:
        path_to = ctx.node(args.path).id
        if path_to not in graph.nodes:
            raise UsageError(f"card {path_to} is not in session {sid}: --path takes a card of this session")
    result = cost_whatif(graph, ctx.catalog, path_to)
    if args.json:
        print(json.dumps(whatif_json(result), ensure_ascii=False))
        print(f"triptych: note: {NOTE}", file=sys.stderr)
        return 0
    u = result.usage
    fresh = max((u.input or 0) - (u.cached_input or 0) - (u.cache_write or 0), 0)
    scope = f"the path to {path_to}" if path_to else f"session {sid}"
    print(f"{scope}: {answers_phrase(result)}; {fresh:,} uncached input, {u.cached_input or 0:,} cached input, "
          f"{u.cache_write or 0:,} cache-write, {u.output or 0:,} output tokens (incl. {u.reasoning or 0:,} reasoning)")
    print(f"actual cost: {fmt_cost(result.actual_usd)}")
    if result.unreported:
        print(f"({result.unreported} answers have no token counts and are left out)")
    width = max([len(r.model) for r in result.rows] + [5])
    print(f"{'model':<{width}}  {'cost':>11}  {'batch':>11}  {'off-peak':>11}")
    for r in result.rows:
        mark = f"  (used: spent {fmt_cost(r.spent_usd)})" if r.used else ""
        print(f"{r.model:<{width}}  {fmt_cost(r.cost_usd):>11}  {fmt_cost(r.batch_cost_usd):>11}  "
              f"{fmt_cost(r.off_peak_cost_usd):>11}{mark}")
    print(f"note: {NOTE}")
    return 0


# ---------------------------------------------------------------------------------------------- arena
def _store(ctx: Ctx) -> ArenaStore:
    """The store's arena side (storage.repository.SqliteRepository implements app.arena.ArenaStore)."""
    return cast("ArenaStore", ctx.repo)


def _check_keys_quietly(ctx: Ctx, models: list[str]) -> None:
    """Providers known and keyed; unlike `ask`, nothing is printed that names a model (a blind match)."""
    from app.domain import ModelRef

    for m in models:
        pid = ModelRef.parse(m).provider
        cfg = ctx.settings.providers.get(pid)
        if cfg is None:
            raise UsageError(f"unknown provider {pid!r}: use one of {', '.join(sorted(ctx.settings.providers))}, "
                             "or define it in providers.toml")
        if not cfg.local and not cfg.api_key:
            raise UsageError(f"no API key for {pid}: {ctx.settings.key_hint(pid)}")


def cmd_arena(ctx: Ctx, args: argparse.Namespace) -> int:
    from app.arena import normalise_tags, voted_pair_counts

    if args.max_retries < 0:
        raise UsageError("--max-retries must be 0 or more")
    files = _load_files(args.attach)
    pool = list(dict.fromkeys(_parse_models(args.model)))
    if len(pool) < 2:
        raise UsageError("a blind match needs at least two different models: -m PROVIDER:MODEL -m PROVIDER:MODEL")
    judge = _parse_models([args.judge])[0] if args.judge else None
    prompt = _read_prompt(args.prompt)
    _check_keys_quietly(ctx, [*pool, *([judge] if judge else [])])
    tags = normalise_tags(args.tag)
    from app.arena import draw_pair

    a_model, b_model = draw_pair(pool, voted_pair_counts(_store(ctx).list_matches()), random.SystemRandom())
    from app.domain import Session

    title = "Blind match: " + (" ".join(prompt.split())[:60] or "untitled")
    session = ctx.repo.create_session(Session(title=title))
    try:
        return asyncio.run(_arena_async(ctx, session.id, prompt, (a_model, b_model), pool, tags, judge, args, files))
    except UsageError:  # refused before anything was sent: no empty session is left behind
        with contextlib.suppress(Exception):
            if not ctx.repo.node_ids(session.id):
                ctx.repo.purge_session(session.id)
        raise


async def _arena_async(ctx: Ctx, session_id: str, prompt: str, pair: tuple[str, str], pool: list[str],
                       tags: list[str], judge: str | None, args: argparse.Namespace, files: list[Any]) -> int:
    from app.arena import Match, identity_names, identity_pattern, mask_identities
    from app.domain import ModelRef, NodeStatus
    from app.engine import Engine, EngineError, Target, make_client

    names = identity_names(ctx.catalog, [*pool, *([judge] if judge else [])],
                           [ctx.settings.display_names.get(ModelRef.parse(m).provider, "") for m in pool])
    pattern = identity_pattern(names)
    client = make_client(ctx.settings)
    engine = Engine(ctx.repo, ctx.settings, catalog=ctx.catalog, client=client, max_retries=args.max_retries)
    loop = asyncio.get_running_loop()

    def on_sigint() -> None:
        print("\ntriptych: stopping; partial answers are kept", file=sys.stderr)
        engine.cancel_all()

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        loop.add_signal_handler(signal.SIGTERM, on_sigint)
    judge_note = None
    try:
        try:
            result = engine.ask(session_id, prompt, [Target(pair[0]), Target(pair[1])], attachments=files)
        except (EngineError, ValueError) as exc:
            raise UsageError(mask_identities(str(exc), pattern)) from exc
        run_a, run_b = result.runs
        match = Match(session_id, result.prompts[0].id, run_a.node.id, run_b.node.id, pair[0], pair[1], tags=tags)
        _store(ctx).add_match(match)  # known as a blind match before any text arrives (the window hides it)
        await engine.wait(result.runs)
        if judge is not None:
            judge_note = await _judge_match(engine, match, prompt, run_a.node.text, run_b.node.text, judge, pattern)
        await engine.flush_saves(2.0)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
        await engine.aclose()
        await client.aclose()
    sides = {"a": run_a.node, "b": run_b.node}
    if args.json:
        print(json.dumps({"match_id": match.id, "session_id": session_id,
                          **{k: {"node_id": n.id, "text": mask_identities(n.text, pattern), "status": n.status.value}
                             for k, n in sides.items()}}, ensure_ascii=False))
    else:
        print(f"blind match {match.id} (session {session_id})")
        for side, node in sides.items():
            state = "" if node.status == NodeStatus.DONE else f" [{node.status.value}]"
            print(f"\n=== Model {side.upper()}{state}\n")
            print(mask_identities(node.text, pattern).rstrip())
        print(f"\nvote: triptych vote {match.id} a|b|tie|bad")
    sys.stdout.flush()
    if judge_note:
        print(f"triptych: {judge_note}", file=sys.stderr)
    ok = all(n.status == NodeStatus.DONE for n in sides.values())
    return 0 if ok and (judge is None or (judge_note or "").startswith("the judge voted")) else 1


async def _judge_match(engine: Any, match: Any, prompt: str, text_a: str, text_b: str, judge: str,
                       pattern: Any) -> str:
    """The judge's vote (app.arena_judge), its line for stderr."""
    from app.arena_judge import judge_match

    return await judge_match(engine, match, prompt, text_a, text_b, judge, pattern)


# ---------------------------------------------------------------------------------------------- vote
def _match(ctx: Ctx, ref: str) -> Any:
    mid = _store(ctx).resolve_match(ref)
    match = _store(ctx).get_match(mid) if mid else None
    if match is None:
        raise UsageError(f"no blind match {ref!r}: `triptych arena` prints its id")
    return match


def cmd_vote(ctx: Ctx, args: argparse.Namespace) -> int:
    from app.arena import Vote

    match = _match(ctx, args.match)
    _store(ctx).record_vote(Vote(match.id, "user", args.vote))
    if args.json:
        print(json.dumps({"match_id": match.id, "vote": args.vote, "a_model": match.a_model,
                          "b_model": match.b_model}, ensure_ascii=False))
        return 0
    said = {"a": "A is better", "b": "B is better", "tie": "a tie", "bad": "both bad"}[args.vote]
    print(f"match {match.id}: your vote: {said}")
    print(f"A was {ctx.catalog.display_name(match.a_model)} ({match.a_model})")
    print(f"B was {ctx.catalog.display_name(match.b_model)} ({match.b_model})")
    return 0


# ---------------------------------------------------------------------------------------------- leaderboard
def _fmt_rate(x: float | None) -> str:
    return "–" if x is None else f"{x * 100:.0f}%"


def cmd_leaderboard(ctx: Ctx, args: argparse.Namespace) -> int:
    from app.arena import comparisons, leaderboard, pair_game_counts, win_rate_matrix
    from app.arena_view import leaderboard_csv, leaderboard_markdown, leaderboard_rows

    if args.resamples < 200:
        raise UsageError("--resamples must be 200 or more (the 95% intervals need them)")
    if args.json and args.format:
        raise UsageError("--json and --format are two outputs: choose one")
    games = comparisons(_store(ctx).list_matches(), voter=args.voter, tags=args.tag)
    standings = leaderboard(games, resamples=args.resamples, seed=args.seed)
    if args.json:
        print(json.dumps([s.to_dict() for s in standings], ensure_ascii=False))
        return 0
    from app.arena_view import LEADERBOARD_HEAD as head

    rows = leaderboard_rows(standings)
    models = [s.model for s in standings]
    matrix = win_rate_matrix(games, models)
    counts = pair_game_counts(games, models)
    filters = [("tag", ", ".join(args.tag) if args.tag else "all matches"), ("voter", args.voter)]
    if args.format == "csv":
        sys.stdout.write(leaderboard_csv(standings, matrix, counts, filters))
        return 0
    if args.format == "md":
        sys.stdout.write(leaderboard_markdown(standings, matrix, counts, filters))
        return 0
    if not standings:
        print("no votes yet: run `triptych arena -m A -m B PROMPT`, then `triptych vote MATCH_ID a|b|tie|bad`")
        return 0
    widths = [max(len(h), *(len(r[i]) for r in rows)) for i, h in enumerate(head)]
    print("  ".join(h.ljust(w) if h == "model" else h.rjust(w) for h, w in zip(head, widths, strict=True)))
    for r in rows:
        print("  ".join(c.ljust(w) if i == 1 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    print(f"\nratings: Bradley-Terry on the Elo scale, 95% bootstrap intervals ({args.resamples} resamples); "
          f"votes by {args.voter}" + (f"; tags: {', '.join(args.tag)}" if args.tag else ""))
    if len(models) > 1:
        print("\nwin rate (row vs column, ties as half):")
        mw = max(len(m) for m in models)
        for row_model in models:
            print(f"  {row_model:<{mw}}  " + "  ".join(f"{_fmt_rate(matrix[row_model][c]):>5}" for c in models))
    return 0
