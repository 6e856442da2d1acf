"""Loopback fake provider servers for tests and manual runs (see tests/fakes/server.py).

Names are imported lazily so that `python -m tests.fakes.server` runs the module only once.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from tests.fakes.server import (
        SPECIAL_MODELS,
        Answer,
        Close,
        Collected,
        End,
        FakeProviderServer,
        Head,
        HTTPFault,
        RecordedRequest,
        Repeat,
        Respond,
        Scenario,
        Send,
        Sleep,
        Stall,
        collect,
        cut,
        default_answer,
        html_page,
        make_client,
        sse,
    )

__all__ = [
    "SPECIAL_MODELS",
    "Answer",
    "Close",
    "Collected",
    "End",
    "FakeProviderServer",
    "HTTPFault",
    "Head",
    "RecordedRequest",
    "Repeat",
    "Respond",
    "Scenario",
    "Send",
    "Sleep",
    "Stall",
    "collect",
    "cut",
    "default_answer",
    "html_page",
    "make_client",
    "sse",
]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return getattr(importlib.import_module("tests.fakes.server"), name)
    raise AttributeError(f"module 'tests.fakes' has no attribute {name!r}")
