"""`triptych` command line: the same engine and store as the GUI, without Qt (DESIGN.md, CLI contract).

Exit status: 0 when every model finished without error, 1 when any failed, 2 for bad usage.
Composition root: the only place in app/ (with __main__) that imports storage and (lazily) ui.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import signal
import sys
import textwrap
import time
import traceback
from collections.abc import Awaitable, Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, NoReturn, TextIO, cast

from app import __version__
from app.attachments import Attachment, AttachmentError, load_attachment
from app.catalog import Catalog, load_catalog
from app.config import ConfigError, Settings, keyring_backend_name, load_settings
from app.domain import Graph, ModelRef, Node, NodeKind, NodeStatus, Params, SendMode, Session
from app.engine import (
    Engine,
    EngineError,
    PlannedCall,
    Run,
    Target,
    clean_text,
    make_client,
    sendable,
)
from app.fsutil import private_if_inside, write_export
from app.keys import plain_http_warning
from app.logs import redact, redact_url, setup_logging
from app.present.metrics import cost_text, metrics_line
from app.present.money import fmt_cost, fmt_price
from app.present.status import status_label, status_word
from app.repository import Repository, StoreError


class UsageError(Exception):
    """Bad usage: one line naming the fix, exit status 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see `{self.prog} --help`)")


# ---------------------------------------------------------------------------------------------- JSON
def usage_json(node: Node) -> dict[str, int | None]:
    u = node.usage
    return {
        "input_tokens": u.input,
        "cached_input_tokens": u.cached_input,
        "cache_write_tokens": u.cache_write,
        "output_tokens": u.output,
        "reasoning_tokens": u.reasoning,
    }


def node_json(node: Node) -> dict[str, Any]:
    """The `ask --json` object for one node (DESIGN.md)."""
    cost = node.reported_cost_usd if node.reported_cost_usd is not None else node.cost_usd
    return {
        "session_id": node.session_id,
        "node_id": node.id,
        "model": node.model,
        "status": node.status.value,
        "text": node.text,
        "reasoning": node.reasoning,
        "finish": node.finish,
        "error": node.error.to_dict() if node.error else None,
        "usage": usage_json(node),
        "cost_usd": cost,
        "timing": node.timing.to_dict(),
        "author": node.author,
        # a prompt's files (name, kind, mime, size, sha256, width/height/pages): only when it has any
        **({"attachments": [a.meta() for a in node.attachments]} if node.attachments else {}),
    }


def _unsaved_reason(node: Node) -> str:
    """Why the engine could not save `node` (its RunState says; never stored)."""
    reason = (node.run.persist_error if node.run is not None else None) or "store error"
    return reason.removeprefix("not saved yet: ").removeprefix("not saved: ").removesuffix(" (retrying)")


def _ts(t: float) -> str:
    return datetime.fromtimestamp(t, UTC).isoformat(timespec="seconds")


# ---------------------------------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    common = _Parser(add_help=False)
    # SUPPRESS: a subcommand's own (absent) --data-dir must not reset one given before the subcommand
    # (`triptych --data-dir DIR sessions`); argparse would otherwise overwrite it with the default.
    common.add_argument("--data-dir", default=argparse.SUPPRESS,
                        help="data directory (default: $TRIPTYCH_HOME or the platform data dir)")
    common.add_argument("--database-url", default=argparse.SUPPRESS, metavar="URL",
                        help="the team store: postgresql+psycopg://USER@HOST/DB (default: "
                             "$TRIPTYCH_DATABASE_URL, else the local SQLite file)")

    p = _Parser(prog="triptych", description="Ask several models the same question, side by side.",
                parents=[common])
    p.add_argument("--version", action="version", version=f"triptych {__version__}")
    sub = p.add_subparsers(dest="command", parser_class=_Parser)

    sub.add_parser("gui", parents=[common], help="open the app (the default)")

    a = sub.add_parser("ask", parents=[common], help="send a prompt to one or more models")
    a.add_argument("-m", "--model", action="append", default=[], metavar="PROVIDER:MODEL",
                   help="a model to ask (repeatable); default: one each from DeepSeek, Anthropic, OpenAI")
    g = a.add_mutually_exclusive_group()
    g.add_argument("--session", help="add to this session (id, unique prefix, or 'last')")
    g.add_argument("--new", action="store_true", help="start a new session (the default)")
    a.add_argument("--parent", action="append", default=[], metavar="NODE_ID",
                   help="continue from this card (repeatable)")
    a.add_argument("--mode", choices=["lanes", "shared"], help="with --parent: lanes (default: each parent's model continues its own lane) or "
                        "shared (one prompt to every -m model; one parent answer is the assistant turn, "
                        "several are all quoted, labelled by model)")
    a.add_argument("-a", "--attach", action="append", default=[], metavar="FILE",
                   help="attach a file (repeatable): images PNG/JPEG/WebP/GIF, PDF, UTF-8 text")
    a.add_argument("--system", help="system prompt")
    a.add_argument("--temperature", type=float, help="sampling temperature (where the model accepts it)")
    a.add_argument("--max-tokens", type=int, help="maximum output tokens")
    a.add_argument("--thinking", choices=["on", "off"], help="reasoning on/off (where the model has a switch)")
    a.add_argument("--effort", help="reasoning effort (low, medium, high, ...; where accepted)")
    a.add_argument("--max-retries", type=int, default=2, help="retries before the first token (default 2)")
    a.add_argument("--dry-run", action="store_true", help="print each model's messages and estimates; send nothing")
    a.add_argument("--json", action="store_true", help="one JSON object per model per line, at the end")
    a.add_argument("--force", action="store_true",
                   help="send even when the request looks larger than a model's context window")
    a.add_argument("prompt", nargs="*", help="the prompt ('-' reads standard input)")

    rr = sub.add_parser("rerun", parents=[common],
                        help="re-run an answer as a sibling, on its model or another; --lane replays its whole lane")
    rr.add_argument("node", metavar="NODE_ID", help="the answer to re-run")
    rr.add_argument("-m", "--model", metavar="PROVIDER:MODEL", help="the model to run it on (default: the answer's own)")
    rr.add_argument("--lane", action="store_true",
                    help="replay every turn of the lane that ends at NODE_ID, in order, each as a follow-up to the "
                         "new model's own previous answer")
    rr.add_argument("--max-retries", type=int, default=2, help="retries before the first token (default 2)")
    rr.add_argument("--json", action="store_true", help="one JSON object per answer (like ask --json), at the end")

    sy = sub.add_parser("synth", parents=[common], help="synthesize answers: merge, judge, compare or custom")
    sy.add_argument("--source", action="append", default=[], metavar="NODE_ID",
                    help="an answer to synthesize (repeatable, in order; all in one session)")
    sy.add_argument("-m", "--model", metavar="PROVIDER:MODEL",
                    help="the model that writes the synthesis (default: the first default model)")
    sy.add_argument("--kind", choices=["merge", "judge", "compare", "custom"], default="merge",
                    help="merge (default), judge, compare, or custom (needs --instruction)")
    sy.add_argument("--instruction", help="the instruction for --kind custom; added to the others' preset")
    sy.add_argument("--max-retries", type=int, default=2, help="retries before the first token (default 2)")
    sy.add_argument("--dry-run", action="store_true", help="print the messages and estimates; send nothing")
    sy.add_argument("--json", action="store_true", help="one JSON object (like ask --json), at the end")

    sw = sub.add_parser("sweep", parents=[common],
                        help="a grid: prompt template(s) × variable rows × models × parameter variants")
    sw.add_argument("-m", "--model", action="append", default=[], metavar="PROVIDER:MODEL",
                    help="a model (repeatable)")
    sw.add_argument("-p", "--prompt", action="append", default=[], metavar="TEMPLATE",
                    help="a prompt template (repeatable); {{column}} is replaced by the row's value")
    sw.add_argument("--prompts", metavar="FILE", help="templates: one per line (.txt) or a JSON array of strings")
    sw.add_argument("--vars", metavar="FILE", help="variable rows: CSV with a header row, or JSONL")
    sw.add_argument("--set", action="append", default=[], metavar="PARAM=V1,V2",
                    help="parameter variants (repeatable; cartesian product): temperature, max_tokens, effort, "
                         "thinking")
    sw.add_argument("--system", action="append", default=[], metavar="TEXT",
                    help="a system prompt variant (repeatable)")
    sw.add_argument("--check", action="append", default=[], metavar="KIND:ARG",
                    help="a check per cell (repeatable): contains:TEXT, not-contains:TEXT, regex:PATTERN, json, "
                         "max-cost:USD, max-ms:MS")
    sw.add_argument("-a", "--attach", action="append", default=[], metavar="FILE",
                    help="attach a file to every cell's prompt (repeatable): images PNG/JPEG/WebP/GIF, PDF, UTF-8 text")
    sw.add_argument("--judge", metavar="PROVIDER:MODEL", help="a model that scores each answer 1-10 with a reason")
    sw.add_argument("--rubric", help="what the judge scores against")
    sw.add_argument("--concurrency", type=int, metavar="N",
                    help=f"simultaneous requests per provider (default {SWEEP_CONCURRENCY})")
    sw.add_argument("--batch", action="store_true",
                    help="send the cells of OpenAI and Anthropic models through their batch APIs (about half the "
                         "price, results within 24 h); the others run live")
    sw.add_argument("--no-wait", action="store_true",
                    help="with --batch: return once the batches are submitted (`--resume` collects the results)")
    sw.add_argument("--poll-interval", type=float, metavar="SECONDS",
                    help="with --batch: seconds between two looks at the batches (default 30)")
    sw.add_argument("--yes", action="store_true", help=f"run without asking when the estimate is above "
                                                       f"${SWEEP_CONFIRM_USD:.2f}")
    sw.add_argument("--json", action="store_true", help="one JSON object per cell per line, at the end")
    sw.add_argument("--resume", metavar="SWEEP_ID", help="run only the cells of this sweep without a finished answer")
    sw.add_argument("--max-retries", type=int, default=2, help="retries before the first token (default 2)")

    s = sub.add_parser("sessions", parents=[common], help="list sessions")
    s.add_argument("--json", action="store_true")

    sh = sub.add_parser("show", parents=[common], help="print the tree of a session")
    sh.add_argument("session")
    sh.add_argument("--json", action="store_true")

    e = sub.add_parser("export", parents=[common], help="export a session")
    e.add_argument("session")
    e.add_argument("--format", "-f", required=True, choices=["md", "html", "json", "canvas", "png", "csv", "jsonl"],
                   help="csv and jsonl: one row per sweep cell")
    e.add_argument("-o", "--output", help="output file (default: a name from the session title; '-' = stdout)")
    e.add_argument("--no-reasoning", action="store_true", help="leave reasoning out")
    e.add_argument("--path", metavar="NODE_ID", help="only the path to this card, not every branch")
    e.add_argument("--theme", choices=["light", "dark", "system"],
                   help="colours of a PNG (default: the app's theme setting)")

    i = sub.add_parser("import", parents=[common], help="import a .json or .canvas file")
    i.add_argument("file")

    m = sub.add_parser("models", parents=[common], help="list known models with prices and context size")
    m.add_argument("provider", nargs="?")
    m.add_argument("--refresh", action="store_true", help="merge each provider's GET /models")
    m.add_argument("--json", action="store_true")

    d = sub.add_parser("diff", parents=[common], help="word-level diff of two answers")
    d.add_argument("node_a")
    d.add_argument("node_b")

    from app.cli_eval import add_parsers as add_eval_parsers

    add_eval_parsers(sub, common)  # arena, vote, leaderboard, cost (app.cli_eval)

    from app.desktop import add_parser as add_desktop_parser

    add_desktop_parser(sub, common)  # desktop install|uninstall (app.desktop): no store, no settings

    dr = sub.add_parser("doctor", parents=[common], help="versions, data dir, DB health, keys, connectivity")
    dr.add_argument("--offline", action="store_true", help="skip the connectivity checks (GET each provider's models)")
    dr.add_argument("--repair", action="store_true",
                    help="if the database is damaged: move it aside (kept, renamed .corrupt-TIME) and start a fresh one")

    cp = sub.add_parser("copy", parents=[common], help="copy a session to or from another store (keeps ids; "
                        "copying again adds only what is new)")
    cp.add_argument("session", help="session id, unique prefix, or 'last' (in the store it is copied from)")
    where = cp.add_mutually_exclusive_group(required=True)
    where.add_argument("--to", metavar="URL", help="the store to copy into: postgresql+psycopg://… or a data dir")
    where.add_argument("--from", dest="from_", metavar="URL", help="the store to copy from, into this one")
    cp.add_argument("--json", action="store_true", help="what was copied, as one JSON object")

    vi = sub.add_parser("visibility", parents=[common], help="on a team store: who sees a session you own "
                        "(shared: every member; private: only you)")
    vi.add_argument("session", help="session id, unique prefix, or 'last'")
    vi.add_argument("visibility", choices=["shared", "private"])

    sp = sub.add_parser("store-password", parents=[common], help="keep the team store's database password in "
                        "the OS keyring (read from the terminal or stdin; never from the command line)")
    sp.add_argument("--delete", action="store_true", help="forget the stored password")
    return p


# ---------------------------------------------------------------------------------------------- helpers
class Ctx:
    """Settings, catalog and store for one command; opened lazily."""

    def __init__(self, data_dir: str | None) -> None:
        try:
            self.settings: Settings = load_settings(data_dir)
        except ConfigError as exc:
            raise UsageError(str(exc)) from exc
        self.catalog: Catalog = load_catalog(self.settings)
        self._repo: Repository | None = None
        keys = [c.api_key for c in self.settings.providers.values() if c.api_key]
        setup_logging(self.settings.data_dir, keys)

    @property
    def repo(self) -> Repository:
        if self._repo is None:
            from storage import open_store

            self._repo = open_store(self.settings.store_location)
            self._repo.mark_orphans_interrupted()
        return self._repo

    def close(self) -> None:
        if self._repo is not None:
            self._repo.close()
            self._repo = None

    def blind_graph(self, graph: Graph) -> Graph:
        """`graph` as `show` and `export` may print it: a blind match not voted on yet shows "Model A" /
        "Model B", masked text and no model, cost, tokens or timing (app.arena_view)."""
        from app.arena_view import blind_rule

        if not graph.matches:
            return graph
        return blind_rule(graph.matches, self.catalog, self.settings.display_names.values()).present_graph(graph)

    def session_id(self, ref: str) -> str:
        sid = self.repo.resolve_session(ref)
        if sid is None:
            raise UsageError(f"no session {ref!r}: list them with `triptych sessions`")
        return sid

    def node(self, ref: str) -> Node:
        nid = self.repo.resolve_node(ref)
        node = self.repo.get_node(nid) if nid else None
        if node is None:
            raise UsageError(f"no card {ref!r}: see the node ids with `triptych show SESSION`")
        return node


def _read_prompt(words: list[str]) -> str:
    """The prompt from the arguments or standard input ('-'), as it will be stored and sent: bytes that
    are not UTF-8 become U+FFFD (shown as �), NUL characters are removed; a note on stderr says so."""
    if words == ["-"]:
        buffer = getattr(sys.stdin, "buffer", None)
        raw = buffer.read() if buffer is not None else sys.stdin.read().encode("utf-8", "surrogateescape")
        text = raw.decode("utf-8", "surrogateescape")
    else:
        text = " ".join(words)  # Python decodes argv with surrogateescape already
    cleaned = sendable(text)
    undecodable = sum(1 for ch in text if "\ud800" <= ch <= "\udfff") if clean_text(text) != text else 0
    nul = text.count("\x00")
    if undecodable or nul:
        parts = []
        if undecodable:
            parts.append(f"{undecodable} character(s) that are not valid UTF-8 (sent and stored as �)")
        if nul:
            parts.append(f"{nul} NUL character(s) (removed)")
        print(f"triptych: note: the prompt had {' and '.join(parts)}", file=sys.stderr)
    if not cleaned.strip():
        raise UsageError("the prompt is empty: give it as an argument, or '-' to read standard input")
    return cleaned


def _parse_models(refs: list[str]) -> list[str]:
    out = []
    for r in refs:
        try:
            out.append(str(ModelRef.parse(r)))
        except ValueError as exc:
            raise UsageError(str(exc)) from exc
    return out


def _warn_unknown_models(ctx: Ctx, models: Sequence[str]) -> None:
    """Any `provider:model` is accepted; one not in the catalog gets a warning that its cost is unknown."""
    for m in dict.fromkeys(models):
        if ctx.catalog.get(m) is None:
            print(f"triptych: warning: {m} is not in the model catalog; its cost will be shown as unknown",
                  file=sys.stderr)


def _check_providers(ctx: Ctx, models: Sequence[str], need_keys: bool = True) -> None:
    for m in models:
        ref = ModelRef.parse(m)
        cfg = ctx.settings.providers.get(ref.provider)
        if cfg is None:
            known = ", ".join(sorted(ctx.settings.providers))
            raise UsageError(f"unknown provider {ref.provider!r} in {m!r}: use one of {known}, "
                             "or define it in providers.toml")
        if need_keys and not cfg.local and not cfg.api_key:
            raise UsageError(f"no API key for {ref.provider}: {ctx.settings.key_hint(ref.provider)}")
    for pid in dict.fromkeys(ModelRef.parse(m).provider for m in models):
        insecure = plain_http_warning(ctx.settings.providers[pid], ctx.settings.display_names.get(pid))
        if insecure:
            print(f"triptych: warning: {insecure}", file=sys.stderr)


def _params(args: argparse.Namespace) -> Params:
    if args.max_tokens is not None and args.max_tokens <= 0:
        raise UsageError("--max-tokens must be a positive number")
    if args.max_retries < 0:
        raise UsageError("--max-retries must be 0 or more")
    thinking = None if args.thinking is None else args.thinking == "on"
    return Params(system=args.system, temperature=args.temperature, max_tokens=args.max_tokens,
                  thinking=thinking, effort=args.effort)


# ---------------------------------------------------------------------------------------------- ask
def _load_files(paths: list[str]) -> list[Attachment]:
    """Every -a FILE, checked before anything else happens: a bad one is exit 2, one line naming it."""
    out = []
    for path in paths:
        try:
            out.append(load_attachment(path))
        except AttachmentError as exc:
            raise UsageError(str(exc)) from exc
    return out


def cmd_ask(ctx: Ctx, args: argparse.Namespace) -> int:
    files = _load_files(args.attach)
    models = _parse_models(args.model)
    prompt = _read_prompt(args.prompt)
    params = _params(args)
    parents: list[Node] = [ctx.node(p) for p in args.parent]
    mode = SendMode(args.mode) if args.mode else SendMode.LANES
    if args.mode and not parents:
        raise UsageError("--mode needs --parent: it says how to continue from earlier cards")
    if parents:
        sessions = {p.session_id for p in parents}
        if len(sessions) > 1:
            raise UsageError("all --parent cards must be in one session")
        session_id = parents[0].session_id
        if args.session and ctx.session_id(args.session) != session_id:
            raise UsageError("--session and --parent name different sessions")
    else:
        session_id = ctx.session_id(args.session) if args.session else ""
    if not models and not (parents and mode == SendMode.LANES and all(p.model for p in parents)):
        if parents and mode == SendMode.SHARED:
            models = [p.model for p in parents if p.model]
            models = list(dict.fromkeys(models))
        if not models:
            models = ctx.catalog.default_models(ctx.settings)
        if not models:
            raise UsageError("no model chosen and no provider has a key: pass -m PROVIDER:MODEL and set its key "
                             "(e.g. DEEPSEEK_API_KEY)")
    lane_models = [p.model for p in parents if p.model] if parents and mode == SendMode.LANES else []
    _check_providers(ctx, [*models, *lane_models], need_keys=not args.dry_run)
    _warn_unknown_models(ctx, [*models, *lane_models])
    targets = [Target(m, Params.from_dict(params.to_dict())) for m in models]
    for t in targets:
        dropped = ctx.catalog.filter_params(t.model, t.params).dropped
        if dropped:
            print(f"triptych: note: not sent to {t.model} (not accepted): {', '.join(dropped)}", file=sys.stderr)

    repo: Any = ctx.repo if session_id else _NullRepo()
    try:
        calls = Engine(repo, ctx.settings, catalog=ctx.catalog).plan(
            session_id or None, prompt, targets, parents=[p.id for p in parents], mode=mode, system=args.system,
            attachments=files)
    except (EngineError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    for c in calls:
        if c.over_limit and not args.dry_run:
            raise UsageError(c.over_limit)
        if c.unsupported and not args.dry_run:
            print(f"triptych: warning: {c.unsupported}; the other models still get it", file=sys.stderr)
    if args.dry_run:
        _print_plan(calls, args.json)
        return 0
    _check_size(calls, args.force)

    if not session_id:
        title = " ".join(prompt.split())[:80] or "Untitled"
        session = ctx.repo.create_session(Session(title=title))
        session_id = session.id
    return asyncio.run(_ask_async(ctx, session_id, prompt, targets, parents, mode, args, files))


LARGE_REQUEST_TOKENS = 50_000  # warn above this estimate (cost, latency), or above half the window


def _check_size(calls: list[PlannedCall], force: bool) -> None:
    """Warn on stderr about a large request (token estimate vs the model's context window); refuse one
    larger than the window (exit 2) unless --force."""
    for c in calls:
        n, window = c.input_tokens_est, c.context_window
        if window and n > window:
            if not force:
                raise UsageError(
                    f"the request to {c.model} is about {n:,} tokens (estimate), more than its context window "
                    f"of {window:,} tokens: shorten the prompt, or pass --force to send it anyway")
            print(f"triptych: warning: sending about {n:,} tokens (estimate) to {c.model}, more than its context "
                  f"window of {window:,} (--force)", file=sys.stderr)
        elif n >= LARGE_REQUEST_TOKENS or (window and n > window // 2):
            share = f", {n * 100 // window}% of its {window:,}-token context window" if window else ""
            print(f"triptych: warning: the request to {c.model} is about {n:,} tokens (estimate){share}; "
                  f"estimated input cost {fmt_cost(c.cost_in_est_usd)}", file=sys.stderr)


class _NullRepo:
    """For --dry-run without a session: nothing is read or written."""

    def load_graph(self, session_id: str) -> Graph:
        return Graph(Session(title="(dry run)"))


def _print_plan(calls: list[PlannedCall], as_json: bool) -> None:
    if as_json:
        for c in calls:
            print(json.dumps({
                "model": c.model,
                "system": c.system,
                "messages": [{"role": m.role, "content": m.content,
                              **({"files": [a.meta() for a in m.attachments]} if m.attachments else {})}
                             for m in c.messages],
                "files_tokens_estimate": c.file_tokens_est,
                "inlined_files": [a.meta() for a in c.inlined],
                "unsupported_input": c.unsupported,
                "over_limit": c.over_limit,
                "params": c.params.to_dict(),
                "dropped_params": c.dropped_params,
                "input_tokens_estimate": c.input_tokens_est,
                "cost_estimate_usd": c.cost_in_est_usd,
                "cost_estimate_with_output_usd": c.cost_est_usd,
                "assumed_output_tokens": c.output_tokens_est,
                "context_window": c.context_window,
                "warnings": c.warnings,
            }, ensure_ascii=False))
        return
    for c in calls:
        print(f"=== {c.model}  (≈{c.input_tokens_est:,} input tokens, estimate)")
        print(f"    estimated cost: {fmt_cost(c.cost_in_est_usd)} input, {fmt_cost(c.cost_est_usd)} "
              f"with {c.output_tokens_est:,} output tokens")
        for w in c.warnings:
            print(f"    warning: {w}")
        if c.system:
            print("--- system")
            print(textwrap.indent(c.system, "    "))
        if c.files or c.inlined:
            print(f"    files: {len(c.files)} sent as files (≈{c.file_tokens_est:,} tokens, estimate), "
                  f"{len(c.inlined)} inlined as text")
        for msg in c.messages:
            who = f"{msg.role} ({msg.model})" if msg.model else msg.role
            print(f"--- {who}")
            for att in msg.attachments:
                print(f"    [file] {att.describe()}")
            print(textwrap.indent(msg.content, "    "))
        print()


async def _ask_async(ctx: Ctx, session_id: str, prompt: str, targets: list[Target], parents: list[Node],
                     mode: SendMode, args: argparse.Namespace, files: Sequence[Attachment] = ()) -> int:
    def start(engine: Engine) -> list[Run]:
        return engine.ask(session_id, prompt, targets, parents=[p.id for p in parents], mode=mode,
                          system=args.system, attachments=files).runs

    return await _run_streams(ctx, start, args)


async def _run_streams(ctx: Ctx, start: Callable[[Engine], list[Run]], args: argparse.Namespace,
                       later: Callable[[], Awaitable[object]] | None = None,
                       expected: Callable[[], int] | None = None,
                       label: Callable[[Run], str] | None = None) -> int:
    """Start the runs (`start` creates the cards), stream them to stdout (or print one JSON line per run at
    the end with --json), keep what arrived on Ctrl+C. `later`, when given, is awaited after the first runs:
    it may append more runs to the list `start` returned (a lane replay's next turns). Exit 0 when every run
    is done (and there are `expected()` of them, when given), else 1."""
    client = make_client(ctx.settings)
    engine = Engine(ctx.repo, ctx.settings, catalog=ctx.catalog, client=client, max_retries=args.max_retries)
    printer = None if args.json else _StreamPrinter(sys.stdout)
    if printer is not None and label is not None:
        printer.label = label
    if printer is not None:
        engine.add_listener(printer.on_change)
    engine.add_listener(_SaveWatcher().on_change)
    loop = asyncio.get_running_loop()
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        if interrupted:  # a second Ctrl+C: stop waiting at once (text so far is already stored)
            os._exit(130)
        interrupted = True
        print("\ntriptych: stopping; partial answers are kept (Ctrl+C again to quit at once)", file=sys.stderr)
        engine.cancel_all()

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        loop.add_signal_handler(signal.SIGTERM, on_sigint)
    try:
        try:
            runs = start(engine)
        except (EngineError, ValueError) as exc:
            raise UsageError(str(exc)) from exc
        if printer is not None:
            printer.set_runs(runs, len(runs) > 1 or later is not None)
        await engine.wait(runs)
        if later is not None:
            await asyncio.gather(later(), return_exceptions=True)  # cancelled by Ctrl+C: what ran is kept
            await engine.wait(runs)
        unsaved = await engine.flush_saves(2.0)
        if printer is not None:
            printer.finish()
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
        await engine.aclose()
        await client.aclose()
    if args.json:
        for run in runs:
            print(json.dumps(node_json(run.node), ensure_ascii=False))
    else:
        _print_summary(ctx, runs)
    sys.stdout.flush()
    for node in unsaved:
        print(f"triptych: error: the answer from {node.model} (node {node.id}) could not be saved: "
              f"{_unsaved_reason(node)}. Its text is printed above; it is not in the "
              f"store.", file=sys.stderr)
    if unsaved:
        return 1
    if expected is not None and len(runs) < expected():
        print(f"triptych: the replay stopped after {len(runs)} of {expected()} turns: turn {len(runs)} did not "
              "finish", file=sys.stderr)
        return 1
    return 0 if all(r.node.status == NodeStatus.DONE for r in runs) else 1


# ---------------------------------------------------------------------------------------------- rerun
def cmd_rerun(ctx: Ctx, args: argparse.Namespace) -> int:
    """Re-run one answer as a sibling (engine.rerun), or replay its whole lane (engine.rerun_path)."""
    if args.max_retries < 0:
        raise UsageError("--max-retries must be 0 or more")
    node = ctx.node(args.node)
    if not node.is_answer:
        raise UsageError(f"card {node.id} is a {node.kind.value}, not an answer: rerun takes a model's answer")
    if args.lane and node.kind != NodeKind.RESPONSE:
        raise UsageError("--lane needs an answer to a prompt (a synthesis has no lane to replay)")
    model = _parse_models([args.model])[0] if args.model else (node.model or "")
    if not model:
        raise UsageError("this card has no model: pass -m PROVIDER:MODEL")
    _check_providers(ctx, [model], need_keys=True)
    _warn_unknown_models(ctx, [model])
    if not args.lane:
        return asyncio.run(_run_streams(ctx, lambda engine: [engine.rerun(node.id, args.model and model)], args))
    runs: list[Run] = []
    state: dict[str, Any] = {}

    def start(engine: Engine) -> list[Run]:
        def on_created(nodes: list[Node]) -> None:
            runs.extend(engine.runs[n.id] for n in nodes if n.id in engine.runs)

        path = engine.rerun_path(node.id, model, on_created=on_created)
        state["path"] = path
        runs.append(path.first)
        return runs

    async def later() -> object:
        return await state["path"].task

    from app.export.common import snippet

    def turns() -> int:
        return int(state["path"].turns)

    def label(run: Run) -> str:
        prompt = snippet(run.prompt.text if run.prompt else "", 50)
        return f"{run.node.model} · turn {runs.index(run) + 1} of {turns()}: {prompt}"

    return asyncio.run(_run_streams(ctx, start, args, later, expected=turns, label=label))


# ---------------------------------------------------------------------------------------------- synth
def cmd_synth(ctx: Ctx, args: argparse.Namespace) -> int:
    """One synthesis card over the --source answers (engine.synthesize), streamed like `ask`."""
    if not args.source:
        raise UsageError("synth needs at least one --source NODE_ID (the answers to combine)")
    if args.max_retries < 0:
        raise UsageError("--max-retries must be 0 or more")
    instruction = sendable(args.instruction).strip() if args.instruction is not None else ""
    if args.kind == "custom" and not instruction:
        raise UsageError('--kind custom needs --instruction TEXT (what to do with the answers)')
    sources = [ctx.node(ref) for ref in args.source]
    for node in sources:
        if not node.is_answer:
            raise UsageError(f"card {node.id} is a {node.kind.value}, not an answer: --source takes model answers")
    if len({n.session_id for n in sources}) > 1:
        raise UsageError("all --source cards must be in one session")
    if len({n.id for n in sources}) < len(sources):
        raise UsageError("the same card is given twice as --source")
    if args.model:
        model = _parse_models([args.model])[0]
    else:
        defaults = ctx.catalog.default_models(ctx.settings)
        if not defaults:
            raise UsageError("no model chosen and no provider has a key: pass -m PROVIDER:MODEL and set its key")
        model = defaults[0]
    _check_providers(ctx, [model], need_keys=not args.dry_run)
    _warn_unknown_models(ctx, [model])
    session_id = sources[0].session_id
    source_ids = [n.id for n in sources]
    engine_for_plan = Engine(ctx.repo, ctx.settings, catalog=ctx.catalog)
    try:
        call = engine_for_plan.plan_synthesis(session_id, source_ids, model, args.kind, instruction or None)
    except (EngineError, ValueError) as exc:
        raise UsageError(str(exc)) from exc
    if args.dry_run:
        _print_plan([call], args.json)
        return 0
    _check_size([call], force=False)

    def start(engine: Engine) -> list[Run]:
        return [engine.synthesize(session_id, source_ids, model, kind=args.kind, instruction=instruction or None)]

    return asyncio.run(_run_streams(ctx, start, args))


class _SaveWatcher:
    """Says on stderr, once per card, when streamed text cannot be saved (disk full, locked store) and
    when saving works again. The stream goes on in memory either way."""

    def __init__(self) -> None:
        self.failing: set[str] = set()

    def on_change(self, node: Node, change: str) -> None:
        problem = node.run.persist_error if node.run is not None else None
        if problem and node.id not in self.failing:
            self.failing.add(node.id)
            print(f"triptych: warning: {node.model}: {problem}; the answer goes on streaming and is kept in "
                  "memory", file=sys.stderr)
        elif not problem and node.id in self.failing:
            self.failing.discard(node.id)
            print(f"triptych: note: {node.model}: saving works again", file=sys.stderr)


class _StreamPrinter:
    """Streams text as it arrives: the first unfinished model live, the others buffered, one labelled
    block each, in `-m` order."""

    def __init__(self, out: TextIO) -> None:
        self.out = out
        self.runs: list[Run] = []
        self.labelled = False
        self.current = 0
        self.printed: dict[str, int] = {}
        self.headed: set[str] = set()
        self.label: Callable[[Run], str] = lambda run: run.node.model or ""

    def set_runs(self, runs: list[Run], labelled: bool) -> None:
        self.runs = runs
        self.labelled = labelled
        self._pump()

    def on_change(self, node: Node, change: str) -> None:
        if self.runs and change in ("text", "status"):
            self._pump()

    def _pump(self) -> None:
        while self.current < len(self.runs):
            node = self.runs[self.current].node
            if self.labelled and node.id not in self.headed:
                self.headed.add(node.id)
                sep = "\n" if self.current else ""
                self.out.write(f"{sep}━━ {self.label(self.runs[self.current])} ━━\n")
            done = self.printed.get(node.id, 0)
            if len(node.text) > done:
                self.out.write(node.text[done:])
                self.printed[node.id] = len(node.text)
            if node.status.is_live:
                break
            if node.text and not node.text.endswith("\n"):
                self.out.write("\n")
            if node.error:
                self.out.write(f"[{node.status.value}: {node.error.message}]\n")
            elif node.status == NodeStatus.STOPPED:
                self.out.write("[stopped]\n")
            elif node.finish == "length":
                self.out.write("[cut off: the model hit its output token limit]\n")
            self.current += 1
        self.out.flush()

    def finish(self) -> None:
        self._pump()


def _print_summary(ctx: Ctx, runs: list[Run]) -> None:
    """One line an answer: model, status, then the metrics line every view shows (app.present)."""
    lines = []
    for run in runs:
        n = run.node
        parts = [f"{n.model}: {status_label(n)}", metrics_line(n, live=False), f"node {n.id}"]
        lines.append("  " + " · ".join(p for p in parts if p))
    print("\n" + "\n".join(lines), file=sys.stderr)


# ---------------------------------------------------------------------------------------------- sessions / show
def cmd_sessions(ctx: Ctx, args: argparse.Namespace) -> int:
    rows = ctx.repo.list_sessions()
    if args.json:
        print(json.dumps([{"id": r.id, "title": r.title, "created_at": _ts(r.created_at),
                           "updated_at": _ts(r.updated_at), "node_count": r.node_count, "owner": r.owner,
                           "visibility": r.visibility} for r in rows],
                         ensure_ascii=False))
        return 0
    if not rows:
        print("no sessions yet: try `triptych ask \"…\"`")
        return 0
    for r in rows:
        print(f"{r.id}  {_ts(r.updated_at)}  {r.node_count:>4} cards  {r.title}")
    return 0


def cmd_show(ctx: Ctx, args: argparse.Namespace) -> int:
    sid = ctx.session_id(args.session)
    graph = ctx.blind_graph(ctx.repo.load_graph(sid))
    if args.json:
        nodes = []
        for node in graph.nodes.values():
            obj = node_json(node)
            obj.update({
                "kind": node.kind.value,
                "x": node.x,
                "y": node.y,
                "parents": [{"node_id": e.parent_id, "role": e.role.value} for e in graph.parents(node.id)],
                "created_at": _ts(node.created_at),
            })
            nodes.append(obj)
        s = graph.session
        print(json.dumps({"session": {"id": s.id, "title": s.title, "created_at": _ts(s.created_at),
                                      "updated_at": _ts(s.updated_at), "node_count": len(graph.nodes),
                                      "owner": s.owner, "visibility": s.visibility},
                          "nodes": nodes}, ensure_ascii=False))
        return 0
    print(f"{graph.session.title}  ({graph.session.id})")
    now = time.time()  # another process may be streaming a card: its live status
    for node, depth in _tree(graph):
        pad = "  " * depth
        head = node.kind.value if not node.model else f"{node.kind.value} {node.model} [{status_word(node, now)}]"
        cost = cost_text(node)
        extra = f"  {cost}" if node.is_answer and cost is not None else ""
        print(f"{pad}● {head}  {node.id}{extra}")
        if node.error:
            print(f"{pad}  ! {node.error.kind}: {node.error.message}")
        body = node.text.strip() or "(no text)"
        print(textwrap.indent(body, pad + "  │ "))
        for att in node.attachments:
            print(f"{pad}  📎 {att.describe()}")
    return 0


def _tree(graph: Graph) -> list[tuple[Node, int]]:
    from app.context import primary_parent

    kids: dict[str | None, list[Node]] = {}
    for n in graph.nodes.values():
        p = None
        if n.kind == NodeKind.SYNTHESIS:
            srcs = graph.parents(n.id)
            p = graph.nodes.get(srcs[-1].parent_id) if srcs else None
        else:
            p = primary_parent(graph, n)
        kids.setdefault(p.id if p else None, []).append(n)
    out: list[tuple[Node, int]] = []
    seen: set[str] = set()

    def walk(parent: str | None, depth: int) -> None:
        for n in kids.get(parent, []):
            if n.id in seen:
                continue
            seen.add(n.id)
            out.append((n, depth))
            walk(n.id, depth + 1)

    walk(None, 0)
    return out


# ---------------------------------------------------------------------------------------------- sweep
SWEEP_CONCURRENCY = 4
SWEEP_CONFIRM_USD = 1.0  # ask before a sweep estimated above this (--yes skips)
PROGRESS_EVERY_S = 0.5


def _read_user_file(path: str, what: str) -> str:
    from app.sweep import SweepError, read_sweep_file

    try:
        return read_sweep_file(path)
    except SweepError as exc:
        raise UsageError(f"{what} {exc}") from None


def _sweep_definition(args: argparse.Namespace) -> Any:
    from app.sweep import SweepDef, SweepError, parse_check, parse_prompts_file, parse_sets, parse_vars

    templates = [sendable(t) for t in args.prompt]
    try:
        if args.prompts:
            templates += [sendable(t) for t in parse_prompts_file(args.prompts, _read_user_file(args.prompts,
                                                                                                "--prompts"))]
        columns: list[str] = []
        rows: list[dict[str, str]] = [{}]
        vars_text = None
        if args.vars:
            vars_text = _read_user_file(args.vars, "--vars")
            columns, rows = parse_vars(args.vars, vars_text)
            rows = [{k: sendable(v) for k, v in r.items()} for r in rows]
        defn = SweepDef(templates=templates, models=_parse_models(args.model), columns=columns, rows=rows,
                        vars_name=Path(args.vars).name if args.vars else None, vars_text=vars_text,
                        variants=parse_sets(args.set, [sendable(s) for s in args.system]),
                        checks=[str(parse_check(c)) for c in args.check],
                        judge=_parse_models([args.judge])[0] if args.judge else None, rubric=args.rubric,
                        concurrency=args.concurrency or SWEEP_CONCURRENCY, batch=bool(args.batch))
        defn.validate()
    except SweepError as exc:
        raise UsageError(str(exc)) from exc
    return defn


def _sweep_estimate(ctx: Ctx, defn: Any, cells: list[Any]) -> tuple[float, float, list[str]]:
    """(estimated cost of the answers, of the judge, models whose cost is unknown) for `cells`: the
    window's estimate (app.sweep_view.estimate), planned by an engine that sends nothing."""
    from app.sweep_view import estimate

    return estimate(Engine(_NullRepo(), ctx.settings, catalog=ctx.catalog), defn, cells)  # type: ignore[arg-type]


def _confirm_sweep(ctx: Ctx, defn: Any, cells: list[Any], args: argparse.Namespace) -> bool:
    cost, judge, unknown = _sweep_estimate(ctx, defn, cells)
    line = f"triptych: {len(cells)} cell(s) to run; estimated cost {fmt_cost(cost)} (assuming about 1,000 output " \
           f"tokens per answer{'; batch prices where a batch API is used' if defn.batch else ''})"
    if defn.judge:
        line += f", plus {fmt_cost(judge)} for the judge"
    if defn.size < defn.full_size:
        line += (f"; {defn.full_size - defn.size} cell(s) fewer: variants a model receives alike run once "
                 "(the warnings above)")
    if unknown:
        line += f"; cost unknown for {', '.join(unknown)}"
    print(line, file=sys.stderr)
    total = cost + judge
    if total <= SWEEP_CONFIRM_USD or args.yes:
        return True
    if not sys.stdin.isatty():
        raise UsageError(f"the estimated cost {fmt_cost(total)} is above ${SWEEP_CONFIRM_USD:.2f} and standard input "
                         "is not a terminal to ask on: pass --yes to run it")
    print(f"Run it for about {fmt_cost(total)}? [y/N] ", end="", file=sys.stderr, flush=True)
    answer = sys.stdin.readline().strip().lower()
    if answer not in ("y", "yes"):
        print("triptych: not started; nothing was sent", file=sys.stderr)
        return False
    return True


def cmd_sweep(ctx: Ctx, args: argparse.Namespace) -> int:
    """Run a sweep (app.sweep) or resume one: each cell through Engine.ask, at most --concurrency at a time per
    provider, or with --batch through the batch APIs (app.batch); progress on stderr; --json prints one
    object per cell at the end. Exit 0 when every cell finished and passed its checks, 1 otherwise, 2 for bad
    usage."""
    from app.batch import cell_batch_states
    from app.sweep import SWEEP_META, SweepDef, find_sweep

    if args.max_retries < 0:
        raise UsageError("--max-retries must be 0 or more")
    if args.concurrency is not None and args.concurrency < 1:
        raise UsageError("--concurrency must be 1 or more")
    if args.poll_interval is not None and not args.poll_interval > 0:
        raise UsageError("--poll-interval must be more than 0 seconds")
    if (args.no_wait or args.poll_interval is not None) and not args.batch and not args.resume:
        raise UsageError("--no-wait and --poll-interval go with --batch")
    if args.resume:
        given = [flag for flag, v in (("-m", args.model), ("-p", args.prompt), ("--prompts", args.prompts),
                                      ("--vars", args.vars), ("--set", args.set), ("--system", args.system),
                                      ("--check", args.check), ("--judge", args.judge), ("--rubric", args.rubric),
                                      ("--batch", args.batch), ("-a", args.attach)) if v]
        if given:
            raise UsageError(f"--resume runs the sweep as it was defined: leave out {', '.join(given)}")
        session_id = ctx.session_id(args.resume)
        graph = ctx.repo.load_graph(session_id)
        sweep = find_sweep(graph)
        if sweep is None:
            raise UsageError(f"session {session_id} holds no sweep")
        defn = SweepDef.from_dict(sweep.meta[SWEEP_META])
        if args.concurrency:
            defn.concurrency = args.concurrency
    else:
        if not args.model:
            raise UsageError("a sweep needs at least one model: -m PROVIDER:MODEL (repeatable)")
        if not args.prompt and not args.prompts:
            raise UsageError("a sweep needs a prompt template: -p TEMPLATE or --prompts FILE")
        files = _load_files(args.attach)  # a bad file: exit 2 before anything is stored or sent
        defn = _sweep_definition(args)
        graph = None
        sweep = None
    models = [*defn.models, *([defn.judge] if defn.judge else [])]
    _check_providers(ctx, models, need_keys=True)
    _warn_unknown_models(ctx, models)
    from app.sweep import SweepError, SweepRunner, best_answer, cell_answers, is_judged, variant_params

    if sweep is None:  # a new sweep: fix what each model is sent of each variant (a stored one keeps its plan)
        try:
            defn.plan(ctx.catalog)
        except SweepError as exc:
            raise UsageError(str(exc)) from exc
    if defn.sent is not None:
        for line in defn.not_sent_lines():
            print(f"triptych: warning: {line}", file=sys.stderr)
    else:  # stored before sweeps were planned: every variant is sent as its own cell
        for m in defn.models:
            dropped = sorted({d for v in defn.variants
                              for d in ctx.catalog.filter_params(m, variant_params(v)).dropped})
            if dropped:
                print(f"triptych: note: not sent to {m} (not accepted): {', '.join(dropped)}", file=sys.stderr)

    if graph is not None and sweep is not None:
        answers = cell_answers(graph)
        waiting = cell_batch_states(sweep)  # cells in a submitted batch: polled, never sent again
        todo = [c for c in defn.cells() if c.index not in waiting
                and not any(a.status == NodeStatus.DONE or a.status.is_live for a in answers.get(c.index, []))]
        # finished cells a quit or Cancel all left unjudged: judged now, their model not asked again
        to_judge = sum(1 for c in defn.cells() if defn.judge and (b := best_answer(answers.get(c.index, [])))
                       is not None and b.status == NodeStatus.DONE and not is_judged(b))
    else:
        todo = defn.cells()
        to_judge = 0
    if todo and not _confirm_sweep(ctx, defn, todo, args):
        return 1
    if graph is None or sweep is None:
        session = ctx.repo.create_session(Session(title=defn.session_title()))
        sweep = Node(session.id, NodeKind.SWEEP, defn.summary(), meta={SWEEP_META: defn.to_dict()},
                     status=NodeStatus.DONE, title="Sweep")
        sweep.attachments = files  # stored once with the sweep; every cell's prompt carries them (and --resume)
        ctx.repo.add_nodes([sweep])
        graph = ctx.repo.load_graph(session.id)
    in_batches = len(cell_batch_states(sweep)) if defn.batch else 0
    print(f"triptych: sweep {graph.session.id}: {defn.size} cells, {len(todo)} to run"
          + (f", {to_judge} to judge (answered, not judged yet)" if to_judge else "")
          + (f", {in_batches} waiting in batches" if in_batches else "")
          + f" (resume with `triptych sweep --resume {graph.session.id}`)", file=sys.stderr, flush=True)
    return asyncio.run(_sweep_async(ctx, graph, sweep, defn, args, SweepRunner))


async def _sweep_async(ctx: Ctx, graph: Graph, sweep: Node, defn: Any, args: argparse.Namespace,
                       runner_cls: Any) -> int:
    from app.sweep import cell_json, cell_passed, column_totals, sweep_rows

    client = make_client(ctx.settings)
    engine = Engine(ctx.repo, ctx.settings, catalog=ctx.catalog, client=client, max_retries=args.max_retries)
    engine.add_listener(_SaveWatcher().on_change)
    last = [0.0]

    def on_progress(p: Any) -> None:
        now = time.monotonic()
        if now - last[0] >= PROGRESS_EVERY_S or p.done == p.total:
            last[0] = now
            print(p.line(), file=sys.stderr, flush=True)

    runner = runner_cls(engine, graph, sweep, defn, on_progress=on_progress)
    stoppable: list[Any] = [runner]
    loop = asyncio.get_running_loop()
    interrupted = False

    def on_sigint() -> None:
        nonlocal interrupted
        if interrupted:
            os._exit(130)
        interrupted = True
        print(f"\ntriptych: stopping the sweep; finished cells are kept (`triptych sweep --resume "
              f"{graph.session.id}` runs the rest; Ctrl+C again to quit at once)", file=sys.stderr)
        for target in stoppable:
            target.stop()

    with contextlib.suppress(NotImplementedError, RuntimeError):
        loop.add_signal_handler(signal.SIGINT, on_sigint)
        loop.add_signal_handler(signal.SIGTERM, on_sigint)
    try:
        if defn.batch:
            from app.batch import DEFAULT_POLL_S, BatchError, run_sweep_batches

            def on_batch(rec: Any) -> None:
                print(f"triptych: {rec.line()}", file=sys.stderr, flush=True)

            try:
                results = await run_sweep_batches(
                    engine, graph, sweep, defn, wait=not args.no_wait,
                    poll_interval=args.poll_interval or DEFAULT_POLL_S,
                    on_progress=on_progress, on_batch=on_batch, started=stoppable.append)
            except BatchError as exc:
                print(f"triptych: error: {exc} (what was submitted is stored: `triptych sweep --resume "
                      f"{graph.session.id}` continues)", file=sys.stderr)
                return 1
            if not interrupted:  # the finished cells a quit or Cancel all left unjudged
                results = await runner.judge_left()
        else:
            results = await runner.run()
        unsaved = await engine.flush_saves(2.0)
    finally:
        with contextlib.suppress(NotImplementedError, RuntimeError):
            loop.remove_signal_handler(signal.SIGINT)
            loop.remove_signal_handler(signal.SIGTERM)
        await engine.aclose()
        await client.aclose()
    records = [cell_json(graph.session.id, cell, node) for cell, node in results]
    if args.json:
        for rec in records:
            print(json.dumps(rec, ensure_ascii=False))
    else:
        stored = sweep_rows(ctx.repo.load_graph(graph.session.id)) or records
        for col in column_totals(stored):
            score = "-" if col["mean_score"] is None else f"{col['mean_score']:.1f}"
            p50 = "-" if col["p50_ms"] is None else f"{col['p50_ms']} ms"
            p95 = "-" if col["p95_ms"] is None else f"{col['p95_ms']} ms"
            print(f"{col['column']}: {col['passed']}/{col['cells']} passed, mean score {score}, "
                  f"{fmt_cost(col['cost_usd'])}, p50 {p50}, p95 {p95}")
        print(f"sweep {graph.session.id}: `triptych export {graph.session.id} --format csv` for every cell")
    sys.stdout.flush()
    for node in unsaved:
        print(f"triptych: error: the answer from {node.model} (node {node.id}) could not be saved: "
              f"{_unsaved_reason(node)}", file=sys.stderr)
    if unsaved:
        return 1
    waiting = [r for r in records if r["node_id"] is None]
    if defn.batch and args.no_wait and waiting:
        print(f"triptych: {len(waiting)} cell(s) wait in batches: `triptych sweep --resume {graph.session.id}` "
              "collects them", file=sys.stderr)
        return 0 if all(cell_passed(r) for r in records if r["node_id"] is not None) else 1
    return 0 if all(cell_passed(r) for r in records) else 1

# ---------------------------------------------------------------------------------------------- models
def cmd_models(ctx: Ctx, args: argparse.Namespace) -> int:
    if args.provider and args.provider not in ctx.settings.providers:
        raise UsageError(f"unknown provider {args.provider!r}: use one of {', '.join(sorted(ctx.settings.providers))}")
    status = 0
    if args.refresh:
        status = asyncio.run(_refresh_models(ctx, args.provider))
    models = ctx.catalog.models(args.provider)
    if args.json:
        print(json.dumps([{
            "model": m.ref, "display": m.display, "context_window": m.context_window,
            "max_output": m.max_output, "accepts": sorted(m.accepts), "efforts": list(m.efforts),
            "price": None if m.price is None else {"input": m.price.input, "cached_input": m.price.cached_input,
                                                   "cache_write": m.price.cache_write, "output": m.price.output},
            "peak_price": None if m.peak_price is None else {"input": m.peak_price.input,
                                                             "cached_input": m.peak_price.cached_input,
                                                             "output": m.peak_price.output},
            "source": m.source,
        } for m in models], ensure_ascii=False))
        return status
    width = max([42, *(len(m.ref) for m in models)])  # the column fits the longest id
    print(f"{'model':{width}} {'context':>9} {'in $/M':>8} {'cached':>8} {'out $/M':>8}  name")
    for m in models:
        ctxw = f"{m.context_window // 1000}K" if m.context_window else "?"
        p = m.price
        row = (f"{m.ref:{width}} {ctxw:>9} {fmt_price(p.input if p else None):>8} {fmt_price(p.cached_input if p else None):>8} "
               f"{fmt_price(p.output if p else None):>8}  {m.display}")
        if m.peak_price:
            row += f"  (peak {m.peak_price.input:g}/{m.peak_price.output:g})"
        print(row)
    print(f"\nprices: USD per million tokens, taken {ctx.catalog.prices_taken}; refresh with `triptych models --refresh`")
    return status


async def _refresh_models(ctx: Ctx, only: str | None) -> int:
    from app.providers.base import make_provider

    client = make_client(ctx.settings)
    status = 0
    try:
        for pid, cfg in ctx.settings.providers.items():
            if only and pid != only:
                continue
            if not cfg.local and not cfg.api_key:
                if only:
                    raise UsageError(f"no API key for {pid}: {ctx.settings.key_hint(pid)}")
                continue
            try:
                raw = await asyncio.wait_for(make_provider(cfg, client).list_models(), 30)
                n = ctx.catalog.merge_listing(pid, raw)
                print(f"{pid}: {n} models", file=sys.stderr)
            except Exception as exc:
                if cfg.local and not only:
                    continue  # a local server that is not running is not an error
                status = 1
                print(f"triptych: {pid}: could not list models: {exc}", file=sys.stderr)
    finally:
        await client.aclose()
    return status


# ---------------------------------------------------------------------------------------------- export / import / diff
def cmd_export(ctx: Ctx, args: argparse.Namespace) -> int:
    from app import export as ex

    sid = ctx.session_id(args.session)
    graph = ctx.blind_graph(ctx.repo.load_graph(sid))
    path_ids = [ctx.node(args.path).id] if args.path else []
    if path_ids and path_ids[0] not in graph.nodes:
        raise UsageError(f"card {path_ids[0]} is not in session {sid}: --path takes a card of this session")
    out = args.output or ex.default_filename(graph.session, args.format)
    options = ex.ExportOptions(include_reasoning=not args.no_reasoning, scope="path" if path_ids else "all",
                               node_ids=path_ids, display_names=ctx.catalog.display_names(),
                               provider_colors=ctx.settings.colors)
    if args.format == "png":
        if out == "-":
            raise UsageError("PNG export needs a file name (-o FILE.png)")
        try:
            from ui.export_png import render_png
        except ImportError as exc:
            print(f"triptych: PNG export needs the GUI libraries (PySide6): {exc}", file=sys.stderr)
            return 1
        theme = args.theme or str(ctx.settings.ui.get("theme") or "system")
        render_png(ex.export_graph(graph, options), Path(out), theme=theme)
        private_if_inside(out, ctx.settings.data_dir)
        print(out)
        return 0
    files_dir = f"{Path(out).stem}-files" if out != "-" else "files"
    if args.format in ex.SWEEP_FORMATS and args.path:
        raise UsageError(f"--path does not apply to --format {args.format} (one row per sweep cell)")
    try:
        text = ex.export_session(graph, args.format, options, files_dir=files_dir)
    except ValueError as exc:
        if args.format not in ex.SWEEP_FORMATS:
            raise
        raise UsageError(str(exc)) from exc
    if out == "-":
        sys.stdout.write(text)
        if args.format == "canvas" and ex.canvas_files(graph, options, files_dir):
            print("triptych: note: the attached files were not written (the canvas went to stdout): "
                  "use -o FILE.canvas", file=sys.stderr)
    else:
        write_export(out, text, ctx.settings.data_dir)
        if args.format == "canvas":  # attached files beside the canvas, as its `file` nodes name them
            for rel, data in ex.canvas_files(graph, options, files_dir).items():
                target = Path(out).parent / rel
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_bytes(data)
                private_if_inside(target, ctx.settings.data_dir)
        print(out)
    return 0


def cmd_import(ctx: Ctx, args: argparse.Namespace) -> int:
    from app.export import ImportFailed, import_file, save_imported

    path = Path(args.file)
    if not path.is_file():
        raise UsageError(f"no file {args.file!r}")
    try:
        graph = import_file(path)
    except ImportFailed as exc:
        print(f"triptych: cannot import {path.name}: {exc}", file=sys.stderr)
        return 1
    save_imported(ctx.repo, graph)
    print(graph.session.id)
    return 0


def cmd_diff(ctx: Ctx, args: argparse.Namespace) -> int:
    from app.diff import unified_diff_text

    a, b = ctx.node(args.node_a), ctx.node(args.node_b)
    print(unified_diff_text(a.text, b.text, f"{a.model or a.kind.value} {a.id}", f"{b.model or b.kind.value} {b.id}"))
    return 0


# ---------------------------------------------------------------------------------------------- doctor
def cmd_copy(ctx: Ctx, args: argparse.Namespace) -> int:
    """`triptych copy SESSION --to URL | --from URL` (storage.copy)."""
    from storage import copy_session, open_store

    other_at = args.to or args.from_
    other: Any = open_store(other_at)
    try:
        src, dst = (ctx.repo, other) if args.to else (other, ctx.repo)
        sid = src.resolve_session(args.session)
        if sid is None:
            raise UsageError(f"no session {args.session!r} in {redact_url(str(other_at)) if args.from_ else 'this store'}")
        result = copy_session(cast(Any, src), cast(Any, dst), sid)
    finally:
        other.close()
    if args.json:
        print(json.dumps(result.to_dict(), ensure_ascii=False))
        return 0
    into = redact_url(str(args.to)) if args.to else "this store"
    if not (result.cards or result.edges or result.matches or result.votes) and not result.new_session:
        print(f"{result.title}: nothing new to copy to {into} ({result.already} cards already there)")
    else:
        print(f"{result.title}: copied {result.cards} cards, {result.edges} edges, {result.matches} matches "
              f"and {result.votes} votes to {into} ({result.already} cards already there)")
    return 0


def cmd_visibility(ctx: Ctx, args: argparse.Namespace) -> int:
    """`triptych visibility SESSION shared|private` (the owner only)."""
    sid = ctx.session_id(args.session)
    session = ctx.repo.get_session(sid)
    me = getattr(ctx.repo, "user", None)
    if session is not None and session.owner not in (None, me):
        raise UsageError(f"{session.title!r} belongs to {session.owner}: only its owner can change who sees it")
    setter = getattr(ctx.repo, "set_visibility", None)
    if setter is None:
        raise UsageError("visibility applies to a team store (--database-url / TRIPTYCH_DATABASE_URL)")
    setter(sid, args.visibility)
    print(f"{session.title if session else sid}: {args.visibility}")
    return 0


def cmd_store_password(ctx: Ctx, args: argparse.Namespace) -> int:
    """`triptych store-password [--database-url URL] [--delete]`: the password of the team store's login,
    kept in the OS keyring (service "triptych", account "store:USER@HOST:PORT/DB") and used whenever
    the URL has none. Typed at a hidden prompt, or the first line of stdin; never an argument (others
    could read it in the process list), never written to config.toml or a log."""
    from app.config import store_account

    url = ctx.settings.database_url
    if not url:
        raise UsageError("no team store: give --database-url URL (or set the URL in Settings → Store)")
    try:
        account = store_account(url)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    if ":" in url.split("://", 1)[-1].split("@", 1)[0] and "@" in url:
        raise UsageError("the URL carries a password itself: remove it from the URL to use the keyring")
    if args.delete:
        return _keep_store_password(url, None, f"{account}: password removed from the OS keyring")
    if sys.stdin.isatty():
        import getpass

        password = getpass.getpass(f"Password for {account.removeprefix('store:')}: ")
    else:
        password = sys.stdin.readline().rstrip("\r\n")
    if not password:
        raise UsageError("no password given (nothing stored)")
    return _keep_store_password(url, password, f"{account}: password kept in the OS keyring")


def _keep_store_password(url: str, password: str | None, done: str) -> int:
    from app.config import set_store_password

    try:
        set_store_password(url, password)
    except ConfigError as exc:
        print(f"triptych: {exc}", file=sys.stderr)
        return 1
    print(done)
    return 0


def cmd_doctor(ctx: Ctx, args: argparse.Namespace) -> int:
    """What support needs, without secrets: versions, data dir, DB health, log file, keyring backend,
    which providers have a key (yes/no, never the key) and, unless --offline, whether each configured
    provider answers `GET {base}/models`. Exit 1 when the store or a provider with a key has a problem."""
    import platform

    import httpx
    import sqlalchemy

    from storage import CorruptStoreError, backup_corrupt

    print(f"triptych {__version__}  python {platform.python_version()}  {platform.system()} {platform.machine()}")
    print(f"httpx {httpx.__version__}  sqlalchemy {sqlalchemy.__version__}")
    try:
        from importlib.metadata import version

        print(f"pyside6-essentials {version('pyside6-essentials')}  qasync {version('qasync')}")
    except Exception:
        print("pyside6: not installed (the CLI works without it)")
    print(f"data dir: {ctx.settings.data_dir}")
    team_url = ctx.settings.database_url
    if team_url:
        print(f"team store: {redact_url(team_url)}")
    status = 0
    problems: list[str] = []
    sessions = 0
    try:
        try:
            repo = ctx.repo
            problems = _integrity(repo)
            sessions = len(repo.list_sessions())
        except CorruptStoreError as exc:
            problems = [str(exc)]
        if problems and args.repair:
            ctx.close()
            moved = backup_corrupt(ctx.settings.db_path)
            print(f"database: damaged; moved aside to {moved} (nothing deleted)")
            sessions = len(ctx.repo.list_sessions())
            problems = _integrity(ctx.repo)
            print(f"database: started a fresh store at {ctx.settings.db_path}")
        elif args.repair:
            print("database: not damaged, nothing to repair")
        if problems:
            status = 1
            print(f"database: {ctx.settings.db_path} PROBLEM: {'; '.join(problems[:3])}")
            print("  run `triptych doctor --repair` to move it aside (kept as triptych.db.corrupt-TIME, nothing "
                  "deleted) and start a fresh store")
        else:
            shown = redact_url(team_url) if team_url else ctx.settings.db_path
            print(f"database: {shown} ok ({sessions} sessions, integrity ok)")
    except StoreError as exc:
        status = 1
        print(f"database: PROBLEM: {exc}")
    log_path = ctx.settings.data_dir / "logs" / "triptych.log"
    print(f"log: {log_path}" + ("" if log_path.exists() else " (not written yet)"))
    print(f"keyring: {keyring_backend_name()}")
    print("providers:")
    for pid, cfg in ctx.settings.providers.items():
        if cfg.local:
            key = "no key needed"
        else:
            src = ctx.settings.key_sources.get(pid) or ""
            key = f"key: yes ({src})" if cfg.api_key else f"key: no ({cfg.key_env or 'key_env not set'})"
        print(f"  {pid:11} {cfg.protocol:9} {cfg.base_url}  {key}")
    if not args.offline:
        print("connectivity (GET each provider's models list):")
        for pid, line, bad in asyncio.run(_connectivity(ctx)):
            print(f"  {pid:11} {line}")
            if bad:
                status = 1
    return status


DOCTOR_TIMEOUT_S = 3.0


def _integrity(repo: Repository) -> list[str]:
    """SQLite's quick_check through the store (the SQLite repository has it); [] when sound."""
    check = getattr(repo, "check_integrity", None)
    return list(check()) if check is not None else []


async def _connectivity(ctx: Ctx) -> list[tuple[str, str, bool]]:
    """(provider, result line, is a problem) for every provider, checked concurrently with a short
    timeout. Providers without a key are skipped; a local server that is not running is not a problem."""
    import httpx

    from app.config import with_overrides
    from app.providers.base import make_provider
    from app.providers.http import ProviderHTTPError, error_from_exception

    short = min(ctx.settings.connect_timeout, DOCTOR_TIMEOUT_S)
    client = httpx.AsyncClient(timeout=httpx.Timeout(short, read=DOCTOR_TIMEOUT_S), follow_redirects=False)

    async def check(pid: str) -> tuple[str, str, bool]:
        cfg = ctx.settings.providers[pid]
        if not cfg.local and not cfg.api_key:
            return pid, "skipped (no key)", False
        quick = with_overrides(cfg, connect_timeout=short, idle_timeout=DOCTOR_TIMEOUT_S)
        loop = asyncio.get_running_loop()
        began = loop.time()
        try:
            async with asyncio.timeout(DOCTOR_TIMEOUT_S * 2):
                models = await make_provider(quick, client).list_models()
        except ProviderHTTPError as exc:
            if exc.error.status in (404, 405):  # the server answers, it just has no models list
                return pid, f"reachable; no models list (HTTP {exc.error.status})", False
            problem = exc.error.message
        except TimeoutError:
            problem = f"no answer within {DOCTOR_TIMEOUT_S * 2:g} s"
        except (httpx.HTTPError, OSError) as exc:
            problem = error_from_exception(exc, config=quick).message
        else:
            problem = ""
        if problem:
            if cfg.local:
                return pid, f"not reachable: {problem} — fine unless you use a local {pid} server", False
            return pid, f"FAILED: {problem}", True
        ms = round((loop.time() - began) * 1000)
        return pid, f"ok (HTTP 200, {len(models)} models, {ms} ms)", False

    try:
        return list(await asyncio.gather(*(check(pid) for pid in ctx.settings.providers)))
    finally:
        await client.aclose()


# ---------------------------------------------------------------------------------------------- main
def _eval_command(ctx: Ctx, args: argparse.Namespace) -> int:
    from app.cli_eval import run

    return run(ctx, args)


COMMANDS = {
    "ask": cmd_ask,
    "synth": cmd_synth,
    "sweep": cmd_sweep,
    "rerun": cmd_rerun,
    "sessions": cmd_sessions,
    "show": cmd_show,
    "export": cmd_export,
    "import": cmd_import,
    "models": cmd_models,
    "diff": cmd_diff,
    "doctor": cmd_doctor,
    "copy": cmd_copy,
    "visibility": cmd_visibility,
    "store-password": cmd_store_password,
    **{name: _eval_command for name in ("arena", "vote", "leaderboard", "cost")},
}


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
        if getattr(args, "database_url", None):
            os.environ["TRIPTYCH_DATABASE_URL"] = args.database_url
        command = args.command or "gui"
        if command == "gui":
            from app.start import open_app

            return open_app(getattr(args, "data_dir", None))
        if command == "desktop":
            from app.desktop import run as run_desktop

            return run_desktop(args)
        ctx = Ctx(getattr(args, "data_dir", None))
        try:
            return COMMANDS[command](ctx, args)
        finally:
            ctx.close()
    except UsageError as exc:
        print(f"triptych: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        print(f"triptych: {exc}", file=sys.stderr)
        if type(exc).__name__ == "CorruptStoreError":
            print("triptych: to keep the damaged file and start a fresh store, run `triptych doctor --repair` "
                  "(it renames the file to triptych.db.corrupt-TIME; nothing is deleted)", file=sys.stderr)
        return 1
    except OSError as exc:  # an unwritable export path, a full disk, ...
        where = f": {exc.filename}" if exc.filename else ""
        print(f"triptych: {exc.strerror or exc}{where}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("\ntriptych: interrupted", file=sys.stderr)
        return 1
    except BrokenPipeError:
        with contextlib.suppress(Exception):
            sys.stdout = open(os.devnull, "w")  # noqa: SIM115
        return 1
    except Exception as exc:  # a bug: its traceback, with every key masked, in the log and on stderr
        details = redact("".join(traceback.format_exception(type(exc), exc, exc.__traceback__)))
        logging.getLogger("triptych.cli").error("unhandled error\n%s", details)
        print(details, end="", file=sys.stderr)
        print(f"triptych: internal error: {redact(f'{type(exc).__name__}: {exc}')}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["main", "node_json"]
