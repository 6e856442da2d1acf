"""Money as the user reads it, in one place for the window, the CLI and the exports (no heavy imports:
the window's start-up imports this)."""

from __future__ import annotations

import math


def fmt_cost(cost: float | None) -> str:
    """Three significant digits for small amounts ($0.000131, $0.00420, $0.0120), cents from $1 on
    ($1.25); "–" when unknown."""
    if cost is None:
        return "–"
    if cost == 0:
        return "$0"
    digits = max(2, min(8, 2 - math.floor(math.log10(abs(cost)))))
    return f"${cost:.{digits}f}"


def fmt_cost_reported(cost: float | None, reported: bool) -> str:
    """A cost in a table cell: "(reported)" when the provider said it rather than the catalog priced it."""
    return fmt_cost(cost) + (" (reported)" if reported else "")


def fmt_price(per_million: float | None) -> str:
    """A catalog price in USD per million tokens, as short as it is exact (3, 0.55, 0.075); "–" when
    unknown."""
    return "–" if per_million is None else f"{per_million:g}"
