"""The "Evaluate" commands of `triptych` (DESIGN.md): `cost` (app.whatif), `arena`, `vote` and
`leaderboard` (app.arena). Kept out of app/cli.py, which only registers them (`add_parsers`, `run`)."""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from app.cli import Ctx, UsageError
from app.present.money import fmt_cost


def add_parsers(sub: Any, common: argparse.ArgumentParser) -> None:
    c = sub.add_parser("cost", parents=[common],
                       help="what a session (or the path to a card, or a sweep) would have cost on every priced model")
    c.add_argument("session", help="a session or sweep id (unique prefix, or 'last')")
    c.add_argument("--path", metavar="NODE_ID", help="only the path to this card (it and its ancestors)")
    c.add_argument("--json", action="store_true")


def run(ctx: Ctx, args: argparse.Namespace) -> int:
    return {"cost": cmd_cost}[args.command](ctx, args)


# ---------------------------------------------------------------------------------------------- cost
def cmd_cost(ctx: Ctx, args: argparse.Namespace) -> int:
    from app.whatif import NOTE, cost_whatif, whatif_json

    sid = ctx.session_id(args.session)
    graph = ctx.repo.load_graph(sid)
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
    print(f"{scope}: {result.answers} answers; {fresh:,} uncached input, {u.cached_input or 0:,} cached input, "
          f"{u.cache_write or 0:,} cache-write, {u.output or 0:,} output tokens (incl. {u.reasoning or 0:,} reasoning)")
    print(f"actual cost: {fmt_cost(result.actual_usd)}")
    if result.unreported:
        print(f"({result.unreported} answers have no token counts and are left out)")
    width = max([len(r.model) for r in result.rows] + [5])
    print(f"{'model':<{width}}  {'cost':>11}  {'batch':>11}  {'off-peak':>11}")
    for r in result.rows:
        mark = "  (used)" if r.used else ""
        print(f"{r.model:<{width}}  {fmt_cost(r.cost_usd):>11}  {fmt_cost(r.batch_cost_usd):>11}  "
              f"{fmt_cost(r.off_peak_cost_usd):>11}{mark}")
    print(f"note: {NOTE}")
    return 0
