"""An in-process provider that yields scripted events (like simonw/llm's MockModel), for engine tests.

Provider HTTP behaviour is tested against loopback servers elsewhere; here we test what the engine does
with events: persistence, statuses, isolation of lanes, cancellation, metrics.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx

from app.config import Settings
from app.events import Finish, StreamEvent, TextDelta, Usage
from app.providers.base import ProviderConfig, ProviderRequest

Script = list[Any]  # StreamEvent | float (sleep seconds) | "hang"; a tuple of them: one per call


class ScriptedProvider:
    def __init__(self, config: ProviderConfig, scripts: dict[str, Script], requests: list[ProviderRequest]) -> None:
        self.config = config
        self.scripts = scripts
        self.requests = requests

    def build_body(self, request: ProviderRequest) -> dict[str, Any]:
        return {"model": request.model}

    async def list_models(self) -> list[dict[str, Any]]:
        return [{"id": m} for m in self.scripts]

    async def stream(self, request: ProviderRequest) -> AsyncIterator[StreamEvent]:
        self.requests.append(request)
        script = self.scripts.get(request.model)
        if isinstance(script, tuple):  # one script per call to this model, in order; the last one repeats
            calls = sum(1 for r in self.requests if r.model == request.model)
            script = script[min(calls, len(script)) - 1]
        script = script or default_script(f"answer from {request.model}")
        for step in script:
            if isinstance(step, (int, float)):
                await asyncio.sleep(step)
            elif step == "hang":
                await asyncio.Event().wait()
            else:
                yield step


def default_script(text: str, chunks: int = 4, delay: float = 0.01) -> Script:
    size = max(1, len(text) // chunks)
    steps: Script = []
    for i in range(0, len(text), size):
        steps += [TextDelta(text[i : i + size]), delay]
    steps += [Usage(input=12, cached_input=2, output=20, reasoning=0), Finish("stop")]
    return steps


def scripted_factory(scripts: dict[str, Script], requests: list[ProviderRequest]) -> Callable[..., ScriptedProvider]:
    def factory(config: ProviderConfig, client: httpx.AsyncClient) -> ScriptedProvider:
        return ScriptedProvider(config, scripts, requests)

    return factory


def settings_with_keys(data_dir: Any, **keys: str) -> Settings:
    from app.config import load_settings

    settings = load_settings(data_dir)
    for pid, key in keys.items():
        settings.providers[pid].api_key = key
    return settings
