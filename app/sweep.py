"""Sweeps (DESIGN.md, "Evaluate"): prompt template(s) × variable rows × models × parameter variants.

Qt-free. A sweep lives in its own session (the sweep id *is* that session's id) as one `sweep` node
whose `meta["sweep"]` holds the definition (templates, the variables file's name and contents and its
parsed rows, models, variants, checks, judge), so it can be resumed. Each cell is an ordinary prompt →
response pair sent through `Engine.ask`; both carry `meta["sweep_cell"] = {"sweep": SWEEP_NODE_ID,
"cell": INDEX}`, the response also its check results (`meta["sweep_checks"]`) and judge score
(`meta["sweep_score"]`). A cell is *finished* when one of its answers ended `done`; `--resume` runs
only the others (an answer cut by a crash is `interrupted` once the store is reopened: re-run).

Async contract: `SweepRunner.run()` runs on the engine's event loop; everything else here is pure.
"""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import json
import re
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from app.domain import EdgeRole, Graph, ModelRef, Node, NodeKind, NodeStatus, Params

if TYPE_CHECKING:
    from app.catalog import Catalog
    from app.engine import Engine

__all__ = [
    "CHECK_KINDS",
    "Cell",
    "Check",
    "SweepDef",
    "SweepError",
    "SweepRunner",
    "cell_answers",
    "cell_json",
    "cell_passed",
    "check_failed",
    "check_word",
    "expand",
    "find_sweep",
    "is_judged",
    "not_sent_note",
    "parse_check",
    "parse_judge_reply",
    "parse_prompts_file",
    "parse_sets",
    "parse_vars",
    "placeholders",
    "plan_sent",
    "read_sweep_file",
    "run_checks",
    "sweep_rows",
]

SWEEP_META = "sweep"
CELL_META = "sweep_cell"
CHECKS_META = "sweep_checks"
SCORE_META = "sweep_score"
JUDGE_META = "sweep_judge_of"
UNJUDGED = "not_judged"  # in a SCORE_META record: the judge was stopped before it answered (cost kept)
BATCH_META = "sweep_batches"  # app.batch's records of the sweep's batches (BatchRecord.to_dict())


class SweepError(ValueError):
    """A sweep definition that cannot run (missing column, bad file, bad --set); nothing was sent."""


# ------------------------------------------------------------------------------------------------ templates
_PLACEHOLDER = re.compile(r"\{\{\s*([^{}]+?)\s*\}\}")


def placeholders(template: str) -> list[str]:
    """The column names a template uses (`{{name}}`, spaces inside the braces allowed), first use first."""
    return list(dict.fromkeys(m.group(1) for m in _PLACEHOLDER.finditer(template)))


def expand(template: str, values: dict[str, str]) -> str:
    """`template` with every `{{name}}` replaced by `values[name]`, in one pass: an inserted value is
    never expanded again, even when it looks like a placeholder itself. A missing name raises KeyError
    (`check_templates` refuses such a sweep before anything is sent)."""
    return _PLACEHOLDER.sub(lambda m: values[m.group(1)], template)


def check_templates(templates: Sequence[str], columns: Sequence[str], vars_name: str | None) -> None:
    known = set(columns)
    for i, t in enumerate(templates):
        for name in placeholders(t):
            if name not in known:
                where = f"Template {i + 1}" if len(templates) > 1 else "The template"
                if vars_name is None:
                    raise SweepError(f"{where} uses {{{{{name}}}}} but there is no variables file")
                have = ", ".join(columns) or "none"
                raise SweepError(f"{where} uses {{{{{name}}}}} but {vars_name} has no column {name!r} "
                                 f"(its columns: {have})")


def _cell_value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, str):
        return value
    if isinstance(value, bool | int | float):
        return json.dumps(value)
    return json.dumps(value, ensure_ascii=False)


def read_sweep_file(path: str, *, expand_user: bool = False) -> str:
    """A variables or prompts file's text (the New sweep dialog's, which expands `~`, and `triptych
    sweep`'s, whose shell does); SweepError saying why it cannot be read."""
    from pathlib import Path

    p = Path(path).expanduser() if expand_user else Path(path)
    try:
        return p.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise SweepError(f"{path}: no such file") from None
    except UnicodeDecodeError:
        raise SweepError(f"{path}: not UTF-8 text") from None
    except OSError as exc:
        raise SweepError(f"{path}: {exc.strerror or exc}") from None


def parse_vars(name: str, text: str) -> tuple[list[str], list[dict[str, str]]]:
    """(columns, rows) of a variables file: CSV with a header row, or JSONL (one JSON object a line;
    `.jsonl`/`.ndjson`, or content starting with `{`). Values are kept verbatim (quotes, commas,
    newlines inside quoted CSV fields); JSON non-strings become their JSON text."""
    text = text.removeprefix("\ufeff")
    lower = name.lower()
    is_jsonl = lower.endswith((".jsonl", ".ndjson")) or (not lower.endswith(".csv") and text.lstrip().startswith("{"))
    columns: list[str] = []
    rows: list[dict[str, str]] = []
    if is_jsonl:
        for n, line in enumerate(text.splitlines(), 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except ValueError as exc:
                raise SweepError(f"{name} line {n} is not valid JSON: {exc}") from exc
            if not isinstance(obj, dict):
                raise SweepError(f"{name} line {n} is not a JSON object")
            for k in obj:
                if k not in columns:
                    columns.append(str(k))
            rows.append({str(k): _cell_value(v) for k, v in obj.items()})
        for row in rows:  # a key some lines lack is an empty value there
            for c in columns:
                row.setdefault(c, "")
    else:
        try:
            reader = csv.reader(io.StringIO(text, newline=""))
            table = [r for r in reader]
        except csv.Error as exc:
            raise SweepError(f"{name} is not a valid CSV file: {exc}") from exc
        table = [r for r in table if any(cell.strip() for cell in r)]
        if not table:
            raise SweepError(f"{name} is empty: it needs a header row and at least one row")
        columns = [c.strip() for c in table[0]]
        if len(set(columns)) < len(columns) or any(not c for c in columns):
            raise SweepError(f"{name}: the header row needs distinct, non-empty column names")
        for n, r in enumerate(table[1:], 2):
            if len(r) > len(columns):
                raise SweepError(f"{name} row {n} has {len(r)} fields, the header {len(columns)}")
            rows.append({c: (r[i] if i < len(r) else "") for i, c in enumerate(columns)})
    if not rows:
        raise SweepError(f"{name} has no rows")
    return columns, rows


def parse_prompts_file(name: str, text: str) -> list[str]:
    """Templates from `--prompts FILE`: a JSON array of strings (`.json`, or text starting with `[`),
    else one template per non-empty line."""
    text = text.removeprefix("\ufeff")
    if name.lower().endswith(".json") or text.lstrip().startswith("["):
        try:
            data = json.loads(text)
        except ValueError as exc:
            raise SweepError(f"{name} is not valid JSON: {exc}") from exc
        if not isinstance(data, list) or not all(isinstance(t, str) for t in data):
            raise SweepError(f"{name} must be a JSON array of strings")
        out = [t for t in data if t.strip()]
    else:
        out = [line for line in text.splitlines() if line.strip()]
    if not out:
        raise SweepError(f"{name} has no prompt templates")
    return out


# ------------------------------------------------------------------------------------------------ variants
_SET_PARAMS: dict[str, Callable[[str], Any]] = {}


def _float(v: str) -> float:
    try:
        return float(v)
    except ValueError:
        raise ValueError("not a number") from None


def _positive_int(v: str) -> int:
    try:
        n = int(v)
    except ValueError:
        raise ValueError("not a whole number") from None
    if n <= 0:
        raise ValueError("must be a positive number")
    return n


def _on_off(v: str) -> bool:
    low = v.strip().lower()
    if low in ("on", "true", "1", "yes"):
        return True
    if low in ("off", "false", "0", "no"):
        return False
    raise ValueError("use on or off")


_SET_PARAMS.update({"temperature": _float, "max_tokens": _positive_int, "effort": str.strip,
                    "thinking": _on_off})
SET_PARAMS = ("temperature", "max_tokens", "effort", "thinking", "system")
PARAM_LABELS = {"temperature": "Temperature", "max_tokens": "Max tokens", "effort": "Effort", "thinking": "Thinking",
                "system": "System prompt"}


def parse_sets(specs: Sequence[str], systems: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The parameter variants: the cartesian product of every `--set PARAM=V1,V2` (in the order given)
    and of the system prompt variants (`--system`, repeatable: a system prompt may contain commas).
    [{}] when there are none."""
    axes: list[tuple[str, list[Any]]] = []
    for spec in specs:
        name, sep, values = spec.partition("=")
        name = name.strip().replace("-", "_")
        if not sep or not name:
            raise SweepError(f"--set {spec!r}: write it as PARAM=V1,V2 (e.g. temperature=0,0.7)")
        if name == "system":
            raise SweepError("system prompt variants: pass --system TEXT once per variant (a system prompt may "
                             "contain commas)")
        conv = _SET_PARAMS.get(name)
        if conv is None:
            raise SweepError(f"--set {name}: unknown parameter; use one of {', '.join(_SET_PARAMS)}")
        if any(a[0] == name for a in axes):
            raise SweepError(f"--set {name} is given twice: list every value once, e.g. {name}=A,B")
        parsed = []
        label = PARAM_LABELS[name]
        for raw in values.split(","):
            if not raw.strip():
                raise SweepError(f"{label} “{values.strip()}”: an empty value between commas")
            try:
                parsed.append(conv(raw.strip()))
            except ValueError as exc:
                raise SweepError(f"{label} “{raw.strip()}”: {exc}") from exc
        axes.append((name, list(dict.fromkeys(parsed))))
    if systems:
        axes.append(("system", list(dict.fromkeys(systems))))
    if not axes:
        return [{}]
    names = [a[0] for a in axes]
    return [dict(zip(names, combo, strict=True)) for combo in itertools.product(*(a[1] for a in axes))]


def variant_params(variant: dict[str, Any]) -> Params:
    return Params.from_dict(variant)


def _not_sent_name(note: str) -> str | None:
    """The parameter a catalog note says is not sent ("temperature", "effort=xhigh" -> effort), None for a
    value that is sent changed ("max_tokens capped at 64000")."""
    return None if " " in note else note.partition("=")[0]


def _why_not(catalog: Catalog, model: str, name: str) -> str:
    """Why `model` does not take parameter `name` with the sweep's settings, in a few words."""
    info = catalog.info(model)
    if name not in info.accepts or (name == "temperature" and info.temperature_when == "never"):
        return f"{info.display} does not take it"
    if name == "temperature" and info.temperature_when == "thinking_off":
        return f"{info.display} takes it only with thinking off"
    if name == "temperature" and info.temperature_when == "effort_none":
        return f"{info.display} takes it only with effort none"
    if name == "effort" and info.efforts:
        return f"{info.display} takes only {', '.join(info.efforts)}"
    return f"{info.display} does not take it with these settings"


def plan_sent(catalog: Catalog, models: Sequence[str], variants: Sequence[dict[str, Any]]) -> dict[str, list[dict[str, Any]]]:
    """Per model, per variant: what of the variant is sent to it (`params`: the catalog's filter,
    app.catalog.Catalog.filter_params, kept to the variant's own parameters) and what is not (`not_sent`:
    the catalog's notes, "temperature", "effort=xhigh", "max_tokens capped at 64000"). SweepError when a
    parameter the variants set reaches none of the models: such a sweep would compare nothing."""
    sent: dict[str, list[dict[str, Any]]] = {}
    for m in models:
        entries = []
        for v in variants:
            filtered = catalog.filter_params(m, variant_params(v))
            kept = filtered.params.to_dict()
            entries.append({"params": {k: kept[k] for k in v if k in kept}, "not_sent": list(filtered.dropped)})
        sent[m] = entries
    for name in dict.fromkeys(k for v in variants for k in v):
        reaches = [m for m, entries in sent.items()
                   for v, entry in zip(variants, entries, strict=True) if name in v and name in entry["params"]]
        if not reaches:
            label = PARAM_LABELS.get(name, name)
            whom = "not accepted by the chosen model" if len(models) == 1 else "accepted by none of the chosen models"
            raise SweepError(f"{label} is {whom} "
                             f"({'; '.join(_why_not(catalog, m, name) for m in models)}): it would never be sent, "
                             "so its variants would compare identical requests. Leave it out, or choose settings "
                             "or a model that take it.")
    return sent


# ------------------------------------------------------------------------------------------------ checks
CHECK_KINDS = ("contains", "not-contains", "regex", "json", "max-cost", "max-ms")


@dataclass(frozen=True, slots=True)
class Check:
    kind: str
    arg: str = ""

    def __str__(self) -> str:
        return self.kind if self.kind == "json" else f"{self.kind}:{self.arg}"

    def passes(self, node: Node) -> bool | None:
        """True or False; None when the check cannot apply to this answer (`max-ms` on an answer without
        a latency: a batch answer ran when the provider chose)."""
        if node.status != NodeStatus.DONE:
            return False  # an answer that did not finish passes no check
        text = node.text
        if self.kind == "contains":
            return self.arg in text
        if self.kind == "not-contains":
            return self.arg not in text
        if self.kind == "regex":
            return re.search(self.arg, text) is not None
        if self.kind == "json":
            return _is_json(text)
        if self.kind == "max-cost":
            cost = node.reported_cost_usd if node.reported_cost_usd is not None else node.cost_usd
            return cost is not None and cost <= float(self.arg)
        if self.kind == "max-ms":
            ms = node.timing.duration_ms
            return None if ms is None else ms <= float(self.arg)
        raise AssertionError(self.kind)


_FENCED = re.compile(r"^\s*```[A-Za-z0-9_-]*\s*\n(.*?)\n\s*```\s*$", re.S)


def _is_json(text: str) -> bool:
    """The answer is JSON: the whole text, or one fenced code block that is the whole answer."""
    candidates = [text.strip()]
    m = _FENCED.match(text)
    if m:
        candidates.append(m.group(1).strip())
    for c in candidates:
        if not c:
            continue
        try:
            json.loads(c)
        except ValueError:
            continue
        return True
    return False


def parse_check(spec: str) -> Check:
    kind, sep, arg = spec.partition(":")
    kind = kind.strip().lower()
    if kind not in CHECK_KINDS:
        raise SweepError(f"Check “{spec.strip()}”: unknown check; use one of {', '.join(CHECK_KINDS)}")
    if kind == "json":
        if arg:
            raise SweepError(f"Check “{spec.strip()}”: json takes no argument")
        return Check("json")
    if not sep or arg == "":
        raise SweepError(f"Check “{spec.strip()}” needs an argument: {kind}:VALUE")
    if kind == "regex":
        try:
            re.compile(arg)
        except re.error as exc:
            raise SweepError(f"Check “regex:{arg}”: not a valid regular expression ({exc})") from exc
    if kind in ("max-cost", "max-ms"):
        try:
            if float(arg) < 0:
                raise ValueError
        except ValueError:
            raise SweepError(f"Check “{kind}:{arg}”: needs a number ≥ 0") from None
    return Check(kind, arg)


NOT_APPLICABLE = "n/a: no latency for batch answers"  # why a check's "pass" is None (only max-ms can be)


def run_checks(checks: Sequence[Check], node: Node | None) -> list[dict[str, Any]]:
    """One record per check: {"check", "pass": True | False | None}; None (not applicable, with its
    "reason") neither fails the cell nor counts as a passed check."""
    out: list[dict[str, Any]] = []
    for c in checks:
        verdict = c.passes(node) if node is not None else False
        out.append({"check": str(c), "pass": verdict} if verdict is not None
                   else {"check": str(c), "pass": None, "reason": NOT_APPLICABLE})
    return out


def check_failed(record: dict[str, Any]) -> bool:
    """A stored check record that failed (False; not None = not applicable, not a missing value)."""
    return record.get("pass", False) is False


def check_word(record: dict[str, Any]) -> str:
    """pass | fail | n/a"""
    verdict = record.get("pass", False)
    return "n/a" if verdict is None else "pass" if verdict else "fail"


# ------------------------------------------------------------------------------------------------ judge
JUDGE_INSTRUCTION = (
    "You are grading the answer above. Score it from 1 (useless) to 10 (excellent) for correctness, "
    "completeness and clarity{rubric}. Reply with exactly one line: `SCORE: N — one short reason`."
)
_SCORE = re.compile(r"score\s*[:=]?\s*\**\s*(10|[1-9])(?:\s*/\s*10)?\b\**\s*[-—–:,.]*\s*(.*)", re.I | re.S)


def judge_instruction(rubric: str | None) -> str:
    rubric = (rubric or "").strip().rstrip(".").rstrip()  # (the instruction adds its own full stop: never "..")
    return JUDGE_INSTRUCTION.format(rubric=f", against this rubric: {rubric}" if rubric else "")


def parse_judge_reply(text: str) -> tuple[int | None, str]:
    """(score 1–10 or None, one-line reason) from a judge's reply."""
    m = _SCORE.search(text)
    if m is None:  # why there is no score: the reply's first line, short (the cell's tooltip, focus mode)
        first = next((line.strip() for line in text.splitlines() if line.strip()), "")
        first = " ".join(first.lstrip("#>*-+ ").split())
        return None, first if len(first) <= 160 else first[:159].rstrip() + "…"
    reason = " ".join(m.group(2).split())[:200]
    return int(m.group(1)), reason


def _word(value: Any) -> str:
    """A setting's value as the user typed it: a boolean is "on"/"off" (never Python's True/False)."""
    return ("on" if value else "off") if isinstance(value, bool) else str(value)


# ------------------------------------------------------------------------------------------------ model
@dataclass(slots=True)
class SweepDef:
    """What a sweep runs; stored whole in the sweep node's meta (so it can be resumed)."""

    templates: list[str]
    models: list[str]
    columns: list[str] = field(default_factory=list)
    rows: list[dict[str, str]] = field(default_factory=lambda: [{}])
    vars_name: str | None = None
    vars_text: str | None = None
    variants: list[dict[str, Any]] = field(default_factory=lambda: [{}])
    checks: list[str] = field(default_factory=list)
    judge: str | None = None
    rubric: str | None = None
    concurrency: int = 4
    batch: bool = False  # cells of providers with a batch API go through it (app.batch)
    # Per model, per variant: what of the variant is sent to that model and what is not (`plan_sent`), fixed
    # when the sweep is planned (`plan`) and stored with it: the variants that send a model the same
    # parameters are ONE cell per row for it (one grid column), so nothing is paid twice for one measurement,
    # and a stored sweep's cells (their indexes) stay the same whatever the catalog says later. None: a
    # sweep stored before sweeps were planned (or one never planned): every variant is a cell of every model.
    sent: dict[str, list[dict[str, Any]]] | None = None

    def __repr__(self) -> str:
        return (f"<SweepDef {len(self.templates)} templates × {len(self.rows)} rows × {len(self.models)} models × "
                f"{len(self.variants)} variants>")

    def validate(self) -> None:
        if not self.templates or not any(t.strip() for t in self.templates):
            raise SweepError("A sweep needs at least one prompt template")
        if not self.models:
            raise SweepError("A sweep needs at least one model")
        for m in self.models:
            try:
                ModelRef.parse(m)
            except ValueError as exc:
                raise SweepError(str(exc)) from exc
        if self.concurrency < 1:
            raise SweepError("Concurrency must be 1 or more")
        check_templates(self.templates, self.columns, self.vars_name)
        for r, values in enumerate(self.rows):
            for p, template in enumerate(self.templates):
                if not expand(template, values).strip():
                    where = f"template {p + 1}" if len(self.templates) > 1 else "the template"
                    raise SweepError(f"Row {r + 1} of {self.vars_name or 'the variables'} makes {where} an empty "
                                     "prompt")
        for c in self.checks:
            parse_check(c)

    def plan(self, catalog: Catalog) -> None:
        """Fix what each model is sent of each variant (`sent`) from `catalog`; SweepError when a parameter
        reaches no model. Run once, when the sweep is made (the CLI and the New sweep dialog), never on a
        stored one."""
        self.sent = plan_sent(catalog, self.models, self.variants)

    def model_variants(self, model: str) -> list[tuple[int, dict[str, Any], list[str]]]:
        """`model`'s columns: (index of the first variant it stands for, the parameters sent, what of the
        variants is not sent), one per distinct set of parameters sent, in variant order."""
        entries = self.sent.get(model) if isinstance(self.sent, dict) else None
        if (not isinstance(entries, list) or len(entries) != len(self.variants)
                or not all(isinstance(e, dict) for e in entries)):  # never planned (or a damaged plan)
            return [(v, dict(variant), []) for v, variant in enumerate(self.variants)]
        out: list[tuple[int, dict[str, Any], list[str]]] = []
        seen: dict[str, int] = {}
        for v, entry in enumerate(entries):
            params = dict(entry.get("params") or {})
            key = json.dumps(params, sort_keys=True)
            if key in seen:
                notes = out[seen[key]][2]
                notes.extend(n for n in entry.get("not_sent") or () if n not in notes)
                continue
            seen[key] = len(out)
            out.append((v, params, list(entry.get("not_sent") or ())))
        return out

    @property
    def full_size(self) -> int:
        """Cells of every model × every variant (before variants a model receives alike are merged)."""
        return len(self.rows) * len(self.templates) * len(self.models) * len(self.variants)

    @property
    def size(self) -> int:
        return len(self.rows) * len(self.templates) * sum(len(self.model_variants(m)) for m in self.models)

    def not_sent(self) -> list[tuple[str, list[str], int, int]]:
        """Per model whose variants are not all sent as set: (model, what is not sent, its columns, the
        cells saved by merging its variants that send the same)."""
        out = []
        per_model = len(self.rows) * len(self.templates)
        for m in self.models:
            cols = self.model_variants(m)
            notes = list(dict.fromkeys(n for _, _, ns in cols for n in ns))
            if notes:
                out.append((m, notes, len(cols), (len(self.variants) - len(cols)) * per_model))
        return out

    def not_sent_lines(self, name: Callable[[str], str] = str) -> list[str]:
        """What the estimate says of the parameters models do not take, one line per group of models
        alike: "DeepSeek V4.1 Flash, Claude Sonnet 5.5: temperature not accepted, not sent; their 2
        variants run as 1 column (16 cells fewer)". `name` turns a model ref into what the reader knows."""
        groups: dict[tuple[tuple[str, ...], int, int], list[str]] = {}
        for m, notes, cols, saved in self.not_sent():
            groups.setdefault((tuple(notes), cols, saved), []).append(m)
        lines = []
        for (said, cols, saved), models in groups.items():
            names = [n for n in said if _not_sent_name(n) is not None]
            changed = [n for n in said if _not_sent_name(n) is None]
            parts = [f"{', '.join(names)} not accepted, not sent"] if names else []
            parts += changed
            line = f"{', '.join(name(m) for m in models)}: {'; '.join(parts)}"
            if saved:
                whose = "their" if len(models) > 1 else "its"
                line += (f"; {whose} {len(self.variants)} variants run as {cols} column{'s' if cols != 1 else ''} "
                         f"({saved * len(models)} cells fewer)")
            lines.append(line)
        return lines

    def to_dict(self) -> dict[str, Any]:
        return {"templates": self.templates, "models": self.models, "columns": self.columns, "rows": self.rows,
                "vars_name": self.vars_name, "vars_text": self.vars_text, "variants": self.variants,
                "checks": self.checks, "judge": self.judge, "rubric": self.rubric, "concurrency": self.concurrency,
                "batch": self.batch, **({"sent": self.sent} if self.sent is not None else {})}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> SweepDef:
        return cls(templates=list(d["templates"]), models=list(d["models"]), columns=list(d.get("columns") or []),
                   rows=[dict(r) for r in d.get("rows") or [{}]], vars_name=d.get("vars_name"),
                   vars_text=d.get("vars_text"), variants=[dict(v) for v in d.get("variants") or [{}]],
                   checks=list(d.get("checks") or []), judge=d.get("judge"), rubric=d.get("rubric"),
                   concurrency=int(d.get("concurrency") or 4), batch=bool(d.get("batch", False)),
                   sent=d.get("sent") if isinstance(d.get("sent"), dict) else None)

    def cells(self) -> list[Cell]:
        """Every cell, in row, prompt, model, variant order (the order of `sweep --json`); a model's variants
        that send it the same parameters are one cell (`model_variants`), whose params are what is sent."""
        out: list[Cell] = []
        columns = [(m, self.model_variants(m)) for m in self.models]
        for r, values in enumerate(self.rows):
            for p, template in enumerate(self.templates):
                text = expand(template, values)
                for m, variants in columns:
                    for v, params, not_sent in variants:
                        out.append(Cell(len(out), r, p, m, v, values, params, text, tuple(not_sent)))
        return out

    def session_title(self) -> str:
        """The title of the session it runs in, telling sweeps apart in the sessions list: the first
        template (cut), what varies between its variants, its variables file, its models and "batch"
        ("Sweep: Explain {{topic}}… · temperature 0, 0.7 · rows.csv · deepseek-flash, claude-sonnet-5-5")."""
        first = " ".join(self.templates[0].split())
        parts = [first if len(first) <= 40 else first[:39].rstrip() + "…"]
        for k in dict.fromkeys(k for v in self.variants for k in v if k != "system"):
            values = list(dict.fromkeys(_word(v.get(k, "–")) for v in self.variants))
            if len(values) > 1:
                parts.append(f"{k} {', '.join(values)}")
        if self.vars_name:
            parts.append(self.vars_name.replace("\\", "/").rsplit("/", 1)[-1])
        parts.append(", ".join(m.split(":", 1)[-1] for m in self.models))
        if self.batch:
            parts.append("batch")
        title = "Sweep: " + " · ".join(parts)
        return title if len(title) <= 120 else title[:119].rstrip() + "…"

    def summary(self) -> str:
        parts = [f"{len(self.templates)} prompt{'s' if len(self.templates) != 1 else ''}",
                 f"{len(self.rows)} row{'s' if len(self.rows) != 1 else ''}",
                 f"{len(self.models)} model{'s' if len(self.models) != 1 else ''}",
                 f"{len(self.variants)} variant{'s' if len(self.variants) != 1 else ''}"]
        head = f"Sweep: {' × '.join(parts)} = {self.full_size} cells"
        if self.size != self.full_size:
            head = (f"Sweep: {' × '.join(parts)} = {self.size} cells ({self.full_size - self.size} fewer: variants a "
                    "model receives alike run once)")
        lines = [head, "", "Models: " + ", ".join(self.models)]
        if self.vars_name:
            lines.append(f"Variables: {self.vars_name} ({', '.join(self.columns)})")
        if self.variants != [{}]:
            lines.append("Variants: " + "; ".join(", ".join(f"{k}={_word(v)}" for k, v in var.items())
                                                  for var in self.variants))
        if self.checks:
            lines.append("Checks: " + ", ".join(self.checks))
        if self.judge:
            lines.append(f"Judge: {self.judge}")
        lines += ["", *(f"{i + 1}. {t}" for i, t in enumerate(self.templates))]
        return "\n".join(lines)


@dataclass(frozen=True, slots=True)
class Cell:
    index: int
    row: int
    prompt_index: int
    model: str
    variant_index: int
    vars: dict[str, str]
    params: dict[str, Any]  # what is sent of the variant (the variant as set, in a sweep never planned)
    text: str  # the expanded prompt
    not_sent: tuple[str, ...] = ()  # what of the variant(s) this cell stands for its model does not take

    def __repr__(self) -> str:
        return f"<Cell #{self.index} row {self.row} prompt {self.prompt_index} {self.model} {self.params}>"

    @property
    def system(self) -> str | None:
        s = self.params.get("system")
        return str(s) if s is not None else None


# ------------------------------------------------------------------------------------------------ store
def waiting_in_batches(sweep: Node) -> set[int]:
    """The cells of a sweep that wait in a batch not yet filled (see app.batch)."""
    records = sweep.meta.get(BATCH_META)
    return {int(cell) for rec in (records if isinstance(records, list) else ())
            if isinstance(rec, dict) and rec.get("state") != "filled"
            for cell in (rec.get("cells") or {}).values()}


def find_sweep(graph: Graph) -> Node | None:
    for node in graph.nodes.values():
        if node.kind == NodeKind.SWEEP and isinstance(node.meta.get(SWEEP_META), dict):
            return node
    return None


def cell_answers(graph: Graph) -> dict[int, list[Node]]:
    """Cell index -> its answers in creation order (a cell has several after a resume)."""
    out: dict[int, list[Node]] = {}
    for node in graph.nodes.values():
        mark = node.meta.get(CELL_META)
        # a session holds one sweep; the mark's sweep id is not compared (an imported copy has new ids)
        if node.kind == NodeKind.RESPONSE and isinstance(mark, dict) and "cell" in mark:
            out.setdefault(int(mark["cell"]), []).append(node)
    for answers in out.values():
        answers.sort(key=lambda n: (n.created_at, n.id))
    return out


def is_judged(node: Node) -> bool:
    """Has the judge given its verdict on this answer (a score, or none with its reason)? Not when it never
    ran on it, nor when it was stopped before it answered."""
    score = node.meta.get(SCORE_META)
    return isinstance(score, dict) and not score.get(UNJUDGED)


def best_answer(answers: Sequence[Node]) -> Node | None:
    """The cell's answer to report: its last finished one, else its last attempt."""
    done = [a for a in answers if a.status == NodeStatus.DONE]
    if done:
        return done[-1]
    return answers[-1] if answers else None


def _usage_json(node: Node) -> dict[str, int | None]:
    u = node.usage
    return {"input_tokens": u.input, "cached_input_tokens": u.cached_input, "cache_write_tokens": u.cache_write,
            "output_tokens": u.output, "reasoning_tokens": u.reasoning}


def node_cost(node: Node) -> float | None:
    return node.reported_cost_usd if node.reported_cost_usd is not None else node.cost_usd


def cell_json(sweep_session: str, cell: Cell, node: Node | None) -> dict[str, Any]:
    """One `sweep --json` line (DESIGN.md, exactly these keys)."""
    score = node.meta.get(SCORE_META) if node is not None else None
    checks = node.meta.get(CHECKS_META) if node is not None else None
    return {
        "sweep_id": sweep_session,
        "row": cell.row,
        "prompt_index": cell.prompt_index,
        "vars": cell.vars,
        "model": cell.model,
        "params": cell.params,
        "node_id": node.id if node is not None else None,
        "status": node.status.value if node is not None else "pending",
        "text": node.text if node is not None else "",
        "finish": node.finish if node is not None else None,
        "error": node.error.to_dict() if node is not None and node.error else None,
        "usage": _usage_json(node) if node is not None else None,
        "cost_usd": node_cost(node) if node is not None else None,
        "timing": node.timing.to_dict() if node is not None else None,
        "checks": checks if isinstance(checks, list) else [],
        "score": score.get("score") if isinstance(score, dict) else None,
    }


def sweep_rows(graph: Graph) -> list[dict[str, Any]] | None:
    """One flat record per cell of the session's sweep (for csv/jsonl exports and the grid table), or
    None when the session holds no sweep."""
    sweep = find_sweep(graph)
    if sweep is None:
        return None
    defn = SweepDef.from_dict(sweep.meta[SWEEP_META])
    answers = cell_answers(graph)
    out = []
    for cell in defn.cells():
        node = best_answer(answers.get(cell.index, []))
        rec = cell_json(graph.session.id, cell, node)
        score = node.meta.get(SCORE_META) if node is not None else None
        rec["score_reason"] = score.get("reason") if isinstance(score, dict) else None
        rec["judge_cost_usd"] = score.get("cost_usd") if isinstance(score, dict) else None
        rec["attempts"] = len(answers.get(cell.index, []))
        rec["not_sent"] = list(cell.not_sent)  # what of its variant(s) the model does not take
        out.append(rec)
    return out


def percentile(values: Sequence[float], q: float) -> float | None:
    """Nearest-rank percentile (q in 0..100) of `values`; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, -(-len(ordered) * q // 100))
    return ordered[int(rank) - 1]


def column_totals(records: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """Per grid column (model × variant), in first-seen order: cells, passed (finished and every check
    passed), pass rate, mean score, total cost, p50/p95 latency (ms)."""
    cols: dict[str, list[dict[str, Any]]] = {}
    for rec in records:
        cols.setdefault(column_label(rec), []).append(rec)
    out = []
    for label, recs in cols.items():
        passed = sum(1 for r in recs if cell_passed(r))
        scores = [r["score"] for r in recs if r["score"] is not None]
        costs = [r["cost_usd"] for r in recs if r["cost_usd"] is not None]
        ms = [r["timing"]["duration_ms"] for r in recs if r["timing"] and r["timing"].get("duration_ms") is not None
              and r["status"] == "done"]
        out.append({"column": label, "cells": len(recs), "passed": passed, "pass_rate": passed / len(recs),
                    "mean_score": statistics.fmean(scores) if scores else None,
                    "cost_usd": sum(costs) if costs else None, "p50_ms": percentile(ms, 50),
                    "p95_ms": percentile(ms, 95)})
    return out


def not_sent_note(notes: Sequence[str]) -> str:
    """What a column's variants do not send its model, in a few words: "temperature not accepted",
    "max_tokens capped at 64000" ("" for nothing)."""
    names = [n for n in notes if _not_sent_name(n) is not None]
    return "; ".join([*([f"{', '.join(names)} not accepted"] if names else []),
                      *(n for n in notes if _not_sent_name(n) is None)])


def column_label(rec: dict[str, Any]) -> str:
    params = ", ".join(f"{k}={_word(v)}" for k, v in rec["params"].items() if k != "system")  # (as the grid: "thinking=off")
    if "system" in rec["params"]:
        params = ", ".join(p for p in (params, f"system={str(rec['params']['system'])[:30]!r}") if p)
    note = not_sent_note(rec.get("not_sent") or ())
    params = "; ".join(p for p in (params, note) if p)
    return f"{rec['model']} ({params})" if params else str(rec["model"])


def cell_passed(rec: dict[str, Any]) -> bool:
    """Finished, and no check failed (a check that does not apply, "pass": None, fails nothing)."""
    return rec["status"] == "done" and not any(check_failed(c) for c in rec["checks"])


# ------------------------------------------------------------------------------------------------ running
@dataclass(slots=True)
class Progress:
    total: int  # cells this run sends
    done: int = 0
    failed: int = 0
    cost_usd: float = 0.0
    judge_cost_usd: float = 0.0
    started: float = field(default_factory=time.monotonic)
    to_judge: int = 0  # finished cells not judged before, judged by this run (their model is not asked again)
    judged: int = 0

    def line(self) -> str:
        elapsed = time.monotonic() - self.started
        eta = ""
        if 0 < self.done < self.total:
            left = elapsed / self.done * (self.total - self.done)
            eta = f", ETA {int(left) // 60}:{int(left) % 60:02d}"
        judge = f" (+ ${self.judge_cost_usd:.4f} judge)" if self.judge_cost_usd else ""
        judged = f", {self.judged}/{self.to_judge} judged" if self.to_judge else ""
        return (f"sweep: {self.done}/{self.total} done, {self.failed} failed{judged}, ${self.cost_usd:.4f} so far"
                f"{judge}{eta}")


GRID_ROW_H = 96.0  # a grid row's height on the canvas (ui/canvas/sweep_grid_text.CELL_H is this)
GRID_HEAD_H = 200.0  # about the grid's title, buttons and column headers (ui/canvas/sweep_grid.py)


def cells_spot(sweep: Node, defn: SweepDef) -> tuple[float, float]:
    """Where a sweep's cell cards are kept: all at one spot at the bottom-left of the grid that stands for
    them (drawn right of the sweep card, from its top), so that they never push the next question far
    below the grid (one below the other, 1,000 cells reached 92,000 px down)."""
    return sweep.x, sweep.y + GRID_HEAD_H + GRID_ROW_H * len(defn.rows or [{}]) * len(defn.templates)


class SweepRunner:
    """Runs the unfinished cells of one sweep through `Engine.ask`, at most `concurrency` requests per
    provider at a time; a 429's Retry-After pauses that provider's next cells too (the engine itself
    retries the cell that got it). `on_progress(progress)` is called after every cell."""

    def __init__(self, engine: Engine, graph: Graph, sweep: Node, defn: SweepDef, *,
                 on_progress: Callable[[Progress], None] | None = None) -> None:
        self.engine = engine
        self.graph = graph
        self.sweep = sweep
        self.defn = defn
        self.checks = [parse_check(c) for c in defn.checks]
        self.on_progress = on_progress
        self._sems: dict[str, asyncio.Semaphore] = {}
        self._paused_until: dict[str, float] = {}
        self.answers: dict[int, list[Node]] = cell_answers(graph)
        self.progress = Progress(0)
        self.stopped = False
        self.only: set[int] | None = None  # run exactly these cells (the window's Resume, Re-run failed)
        # the finished cells not yet judged that `run` judges (without asking their model again): None = all
        # of them (`triptych sweep --resume`), else exactly these (the window's Resume; none for Re-run failed)
        self.judge_only: set[int] | None = None
        self._judging: dict[str, Any] = {}  # verdict node id -> its run, while the judge answers
        self._held = asyncio.Event()
        self._held.set()  # cleared by `hold`: no cell nor judge starts (the window's quit question is open)

    def __repr__(self) -> str:
        return f"<SweepRunner {self.sweep.id[-6:]} {self.defn!r}>"

    def pending_cells(self) -> list[Cell]:
        """The cells without a finished answer, or with `only` exactly those cells (and none still streaming
        in a live process, nor waiting in a batch at a provider: app.batch polls those)."""
        out = []
        in_batches = waiting_in_batches(self.sweep)
        for cell in self.defn.cells():
            if cell.index in in_batches:
                continue
            answers = self.answers.get(cell.index, [])
            if self.only is not None:  # exactly those (Re-run failed: a finished one that failed a check too)
                if cell.index not in self.only:
                    continue
            elif any(a.status == NodeStatus.DONE for a in answers):
                continue
            if any(a.status.is_live for a in answers):
                continue  # another process streams it right now: never run a cell twice
            out.append(cell)
        return out

    def unjudged(self) -> list[Node]:
        """The finished answers (each cell's best) of a sweep with a judge that the judge has not scored: it
        never ran on them (a quit, Cancel all) or was stopped mid-answer. Only those `judge_only` allows."""
        if not self.defn.judge:
            return []
        out = []
        for cell in self.defn.cells():
            if self.judge_only is not None and cell.index not in self.judge_only:
                continue
            node = best_answer(self.answers.get(cell.index, []))
            if node is not None and node.status == NodeStatus.DONE and not is_judged(node):
                out.append(node)
        return out

    def judging(self) -> list[str]:
        """The verdicts the judge is writing now (Cancel all stops them)."""
        return list(self._judging)

    def hold(self, on: bool) -> None:
        """While held, no further cell or judge request starts (the ones running go on)."""
        if on:
            self._held.clear()
        else:
            self._held.set()

    def stop(self) -> None:
        """Cancel all: the answers (and the judge's verdicts) streaming now stop (their text is kept), no
        further cell nor judge request starts."""
        self.stopped = True
        self._held.set()
        self.engine.cancel_all()

    def _sem(self, model: str) -> asyncio.Semaphore:
        provider = ModelRef.parse(model).provider
        return self._sems.setdefault(provider, asyncio.Semaphore(self.defn.concurrency))

    def _on_engine_change(self, node: Node, change: str) -> None:
        retry = node.run.retry if node.run is not None else None  # RunState: this process's lanes only
        if change == "retry" and node.model and retry is not None:
            provider = ModelRef.parse(node.model).provider
            self._paused_until[provider] = max(self._paused_until.get(provider, 0.0), float(retry.at))

    async def _wait_pause(self, model: str) -> None:
        provider = ModelRef.parse(model).provider
        # polled: a later 429 may push the provider's pause further while this cell waits
        while (left := self._paused_until.get(provider, 0.0) - time.time()) > 0:  # noqa: ASYNC110
            await asyncio.sleep(min(left, 1.0))

    async def run(self) -> list[tuple[Cell, Node | None]]:
        """Run the unfinished cells, and judge the finished ones not judged yet (`unjudged`)."""
        cells = self.pending_cells()
        judge = self.unjudged()
        self.progress = Progress(len(cells), to_judge=len(judge))
        return await self.run_cells(cells, judge)

    async def judge_left(self) -> list[tuple[Cell, Node | None]]:
        """Judge the finished cells not judged yet (after a batch run, whose cells app.batch runs)."""
        if self.stopped:
            return self.results()
        self.answers = cell_answers(self.graph)
        judge = self.unjudged()
        self.progress.to_judge = len(judge)
        return await self.run_cells((), judge)

    async def run_cells(self, cells: Sequence[Cell], judge: Sequence[Node] = ()) -> list[tuple[Cell, Node | None]]:
        """Run `cells` live (progress counted into `self.progress`, which the caller sized) and judge the
        finished answers `judge` (their model is not asked again); returns every cell of the sweep with its
        best answer."""
        self.engine.add_listener(self._on_engine_change)
        self.engine.before_final_save.append(self._on_final)
        try:
            # every cell settles before a failure (a store error, say) is raised: none is left running
            outcomes = await asyncio.gather(*(self._run_cell(c) for c in cells),
                                            *(self._judge_answer(n) for n in judge), return_exceptions=True)
            for outcome in outcomes:
                if isinstance(outcome, BaseException):
                    raise outcome
        finally:
            self.engine.remove_listener(self._on_engine_change)
            self.engine.before_final_save.remove(self._on_final)
        return self.results()

    def _on_final(self, node: Node) -> None:
        """An answer of this sweep's ends: its checks go into its final write (settle_cell then has
        nothing more to write unless a judge scores it)."""
        mark = node.meta.get(CELL_META)
        if isinstance(mark, dict) and mark.get("sweep") == self.sweep.id and node.kind == NodeKind.RESPONSE:
            node.meta[CHECKS_META] = run_checks(self.checks, node)

    def results(self) -> list[tuple[Cell, Node | None]]:
        return [(c, best_answer(self.answers.get(c.index, []))) for c in self.defn.cells()]

    async def _run_cell(self, cell: Cell) -> None:
        async with self._sem(cell.model):
            await self._wait_pause(cell.model)
            await self._held.wait()
            if self.stopped:
                return
            node = await self.send_cell(cell, self.engine)
        await self.settle_cell(node)

    async def send_cell(self, cell: Cell, engine: Engine) -> Node:
        """Ask `cell` through `engine` (the live one, or app.batch's engine that replays a batch result),
        mark its prompt and answer as this cell's, and wait for the answer to end."""
        from app.engine import Target

        # the mark is in the cards' first write: the cell is known to the store before any text arrives
        mark = {CELL_META: {"sweep": self.sweep.id, "cell": cell.index}}
        result = engine.ask(self.graph.session.id, cell.text, [Target(cell.model, variant_params(cell.params))],
                            system=cell.system, graph=self.graph, attachments=list(self.sweep.attachments),
                            meta=mark, at=cells_spot(self.sweep, self.defn))
        prompt, run = result.prompts[0], result.runs[0]
        node = run.node
        self.graph.add(prompt)
        self.graph.add(node)
        self.graph.link(prompt.id, node.id, EdgeRole.REPLY)
        self.answers.setdefault(cell.index, []).append(node)
        await engine.wait([run])
        return node

    async def settle_cell(self, node: Node) -> None:
        """Checks (and the judge's score) of an ended answer, stored; progress counted."""
        checks = run_checks(self.checks, node)
        written = node.meta.get(CHECKS_META) == checks  # by _on_final, in the answer's final write
        node.meta[CHECKS_META] = checks
        if self.defn.judge and node.status == NodeStatus.DONE and not self.stopped:
            await self._judge(node)
            written = False
        if not written:
            self.engine.repo.update_node(node)
        self.progress.done += 1
        if node.status != NodeStatus.DONE or any(check_failed(c) for c in node.meta[CHECKS_META]):
            self.progress.failed += 1
        self.progress.cost_usd += node_cost(node) or 0.0
        if self.on_progress is not None:
            self.on_progress(self.progress)

    async def _judge_answer(self, node: Node) -> None:
        """Judge a finished answer the judge has not scored yet (its cell is not sent again)."""
        before = node.meta.get(SCORE_META)
        await self._judge(node)
        if node.meta.get(SCORE_META) is not before:
            self.engine.repo.update_node(node)
        self.progress.judged += 1
        if self.on_progress is not None:
            self.on_progress(self.progress)

    async def _judge(self, node: Node) -> None:
        judge = self.defn.judge or ""
        async with self._sem(judge):
            await self._wait_pause(judge)
            await self._held.wait()
            if self.stopped:  # Cancel all (or a quit) came while this waited its turn: not judged
                return
            run = self.engine.synthesize(self.graph.session.id, [node.id], judge, kind="custom",
                                         instruction=judge_instruction(self.defn.rubric))
            run.node.meta[JUDGE_META] = node.id
            self.engine.repo.update_node(run.node)
            self._judging[run.node.id] = run
            try:
                await self.engine.wait([run])
            finally:
                self._judging.pop(run.node.id, None)
        verdict = run.node
        cost = node_cost(verdict)
        self.progress.judge_cost_usd += cost or 0.0
        earlier = node.meta.get(SCORE_META)  # a verdict cut before: its cost still counts
        if isinstance(earlier, dict) and isinstance(earlier.get("cost_usd"), int | float):
            cost = (cost or 0.0) + float(earlier["cost_usd"])
        if verdict.status in (NodeStatus.STOPPED, NodeStatus.INTERRUPTED) or (
                self.stopped and verdict.status != NodeStatus.DONE):
            # cut by Cancel all or a quit: not judged (Resume judges it), what it cost is kept
            node.meta[SCORE_META] = {"score": None, "reason": "the judge was stopped", "judge": judge,
                                     "node_id": verdict.id, "cost_usd": cost, UNJUDGED: True}
            return
        if verdict.status == NodeStatus.DONE:
            score, reason = parse_judge_reply(verdict.text)
        else:
            score, reason = None, f"the judge failed: {verdict.error.message if verdict.error else verdict.status}"
        node.meta[SCORE_META] = {"score": score, "reason": reason, "judge": judge, "node_id": verdict.id,
                                 "cost_usd": cost}

