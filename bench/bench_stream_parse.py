"""Benchmark 3: stream parsing CPU, our provider clients against the official SDKs.

One loopback fake provider server runs in its own process (its CPU is not counted) and answers
every request with the same long answer (200k tokens by default), rendered in the wire format of
the endpoint called: Chat Completions, the Responses API or Anthropic Messages. Frames come 20 to a
write (the grouping of a 2000 tok/s stream at the fake server's 10 ms tick), without pauses, so the
run measures parsing, not waiting.

In this process, for each API, our client (`ChatProvider` / `ResponsesProvider` /
`AnthropicProvider`, through its public `stream()`) and the official SDK (`openai.AsyncOpenAI`
`chat.completions.create(stream=True)` / `responses.create(stream=True)`, `anthropic.AsyncAnthropic`
`messages.create(stream=True)`) consume the stream in alternation, `--repeats` times each, after a
short warm-up stream each (connections, imports, pydantic model caches). Figure: the CPU time of this process (`time.process_time`, user + system, all
threads) from the request to the last event, nothing subtracted; both sides also collect the answer
text, and it must equal what the server sent.

Target: our CPU time ≤ 0.5× the SDK's, for each API.

    python -m bench.bench_stream_parse            # 200k tokens per stream
    python -m bench.bench_stream_parse --smoke    # 2k tokens, one repeat (for the test suite)
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import sys
import time
from collections.abc import Awaitable, Callable

import httpx

from app.events import TextDelta
from app.providers.base import Message, ProviderConfig, ProviderRequest, make_provider
from bench.common import emit, log, median, r, token_pieces
from bench.loopback import ServerProcess

TARGET_RATIO = 0.5
MODEL = "bench-model"
PROMPT = "Write a long answer."

Consumer = Callable[[], Awaitable[str]]


def _our_client() -> httpx.AsyncClient:
    # as app.engine.make_client: connect timeout, reads bounded by the providers' idle timeout
    timeout = httpx.Timeout(connect=10.0, read=None, write=30.0, pool=30.0)
    return httpx.AsyncClient(
        timeout=timeout, limits=httpx.Limits(max_connections=64, max_keepalive_connections=16)
    )


def ours(protocol: str, base_url: str, client: httpx.AsyncClient, model: str = MODEL) -> Consumer:
    provider_id = "anthropic" if protocol == "anthropic" else "openai"
    config = ProviderConfig(provider_id, protocol, base_url, api_key="sk-bench")  # type: ignore[arg-type]
    provider = make_provider(config, client)
    request = ProviderRequest(model=model, messages=[Message("user", PROMPT)])

    async def consume() -> str:
        parts: list[str] = []
        async for event in provider.stream(request):
            if type(event) is TextDelta:
                parts.append(event.text)
        return "".join(parts)

    return consume


def sdk(api: str, base_url: str, model: str = MODEL) -> Consumer:
    if api == "anthropic":
        from anthropic import AsyncAnthropic

        anthropic_client = AsyncAnthropic(base_url=base_url, api_key="sk-bench", max_retries=0)

        async def consume_anthropic() -> str:
            parts: list[str] = []
            stream = await anthropic_client.messages.create(
                model=model, max_tokens=8192, messages=[{"role": "user", "content": PROMPT}], stream=True
            )
            async for event in stream:
                if event.type == "content_block_delta" and event.delta.type == "text_delta":
                    parts.append(event.delta.text)
            return "".join(parts)

        return consume_anthropic

    from openai import AsyncOpenAI

    openai_client = AsyncOpenAI(base_url=base_url, api_key="sk-bench", max_retries=0)
    if api == "chat":

        async def consume_chat() -> str:
            parts: list[str] = []
            stream = await openai_client.chat.completions.create(
                model=model,
                messages=[{"role": "user", "content": PROMPT}],
                stream=True,
                stream_options={"include_usage": True},
            )
            async for chunk in stream:
                if chunk.choices:
                    content = chunk.choices[0].delta.content
                    if content:
                        parts.append(content)
            return "".join(parts)

        return consume_chat

    async def consume_responses() -> str:
        parts: list[str] = []
        stream = await openai_client.responses.create(model=model, input=PROMPT, stream=True)
        async for event in stream:
            if event.type == "response.output_text.delta":
                parts.append(event.delta)
        return "".join(parts)

    return consume_responses


async def _measure(consume: Consumer, expected: str, label: str) -> tuple[float, float]:
    gc.collect()
    wall0, cpu0 = time.perf_counter(), time.process_time()
    text = await consume()
    cpu, wall = time.process_time() - cpu0, time.perf_counter() - wall0
    if text != expected:
        raise AssertionError(
            f"{label}: got {len(text)} chars of answer text, the server sent {len(expected)}"
        )
    return cpu, wall


async def run(tokens: int, repeats: int, smoke: bool) -> int:
    pieces = token_pieces(tokens)
    expected = "".join(pieces)
    warm_expected = "".join(pieces[:500])
    apis = ("chat", "responses", "anthropic")
    prepare = ("chat:openai", "responses:openai", "anthropic:anthropic")
    urls = {"chat": "openai", "responses": "openai", "anthropic": "anthropic"}
    with ServerProcess(tokens, rate=0, frames_per_write=20, prepare=prepare) as server:
        client = _our_client()
        try:
            consumers = {
                api: (ours(api, server.url_for(urls[api]), client), sdk(api, server.url_for(urls[api])))
                for api in apis
            }
            warmups = {
                api: (
                    ours(api, server.url_for(urls[api]), client, "warmup"),
                    sdk(api, server.url_for(urls[api]), "warmup"),
                )
                for api in apis
            }
            figures: dict[str, float | int] = {
                "tokens": tokens,
                "answer_chars": len(expected),
                "repeats": repeats,
            }
            verdict = True
            total_ours = total_sdk = 0.0
            for api in apis:
                mine, theirs = consumers[api]
                for warm in warmups[api]:  # connections, imports, caches
                    await _measure(warm, warm_expected, f"warm-up/{api}")
                ours_cpu: list[float] = []
                sdk_cpu: list[float] = []
                ours_wall: list[float] = []
                sdk_wall: list[float] = []
                for _ in range(repeats):  # alternate, so drift on a noisy machine hits both alike
                    cpu, wall = await _measure(mine, expected, f"ours/{api}")
                    ours_cpu.append(cpu)
                    ours_wall.append(wall)
                    cpu, wall = await _measure(theirs, expected, f"sdk/{api}")
                    sdk_cpu.append(cpu)
                    sdk_wall.append(wall)
                mo, ms = median(ours_cpu), median(sdk_cpu)
                ratio = mo / ms if ms else float("inf")
                total_ours += mo
                total_sdk += ms
                verdict = verdict and ratio <= TARGET_RATIO
                figures[f"{api}_ours_cpu_s"] = r(mo)
                figures[f"{api}_sdk_cpu_s"] = r(ms)
                figures[f"{api}_ours_us_per_token"] = r(mo / tokens * 1e6, 2)
                figures[f"{api}_sdk_us_per_token"] = r(ms / tokens * 1e6, 2)
                figures[f"{api}_ours_wall_s"] = r(median(ours_wall))
                figures[f"{api}_sdk_wall_s"] = r(median(sdk_wall))
                figures[f"{api}_ratio"] = r(ratio)
                log(f"{api}: ours {mo:.3f} s CPU, sdk {ms:.3f} s CPU, ratio {ratio:.3f}")
            figures["overall_ratio"] = r(total_ours / total_sdk if total_sdk else float("inf"))
        finally:
            await client.aclose()
    emit(
        "stream_parse.cpu_vs_sdk",
        figures,
        {f"{api}_ratio": TARGET_RATIO for api in apis},
        verdict,
        smoke=smoke,
    )
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m bench.bench_stream_parse", description=__doc__.splitlines()[0]
    )
    parser.add_argument("--smoke", action="store_true", help="tiny sizes; checks that the bench runs")
    parser.add_argument("--tokens", type=int, default=None)
    parser.add_argument("--repeats", type=int, default=None)
    args = parser.parse_args(argv)
    tokens = args.tokens or (2_000 if args.smoke else 200_000)
    repeats = args.repeats or (1 if args.smoke else 2)
    return asyncio.run(run(tokens, repeats, args.smoke))


if __name__ == "__main__":
    sys.exit(main())
