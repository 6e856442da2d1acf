"""The provider contract (STYLE.md §7): a class with an id, capabilities and one async `stream()`.

Providers know nothing of sessions. They turn a `ProviderRequest` into HTTP and the HTTP stream into
normalised events (app.events). Contract for `stream()`:

- yields zero or more `ResponseMeta`, `TextDelta`, `ReasoningDelta`, `Usage` events, then exactly one
  terminal event: `Finish(reason)` or `StreamError(kind, message, ...)`, and then returns;
- never raises for provider, HTTP or network trouble: every failure becomes a `StreamError`;
  `asyncio.CancelledError` propagates (the engine cancels tasks to stop a lane);
- does not retry (see app.providers.retry), honours `connect_timeout` and `idle_timeout` (reset only
  by payload data, never by comments, pings or blank lines).
Runs on the asyncio loop (qasync in the GUI); never blocks.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Literal, Protocol

from app.attachments import Attachment
from app.domain import Params
from app.events import StreamEvent

if TYPE_CHECKING:  # httpx is imported by the clients themselves, when the first one is made
    import httpx

Protocol_ = Literal["chat", "responses", "anthropic"]


@dataclass(slots=True)
class Message:
    role: Literal["user", "assistant"]
    content: str
    # Reasoning of an earlier assistant turn. Sent back only where the provider requires it
    # (DeepSeek after tool calls); the context builder leaves it None otherwise.
    reasoning: str | None = None
    model: str | None = None  # which model wrote an assistant turn (for labels; never sent)
    # Files of a user turn (app.attachments). The engine adapts them to the target model before the
    # provider sees them (`adapt_messages`): by then only images and PDFs the model reads are left
    # here, text files are in `content`. Each wire format puts them in its own blocks.
    attachments: tuple[Attachment, ...] = ()


@dataclass(slots=True)
class ProviderConfig:
    id: str  # "openai", "deepseek", or a user-defined name
    protocol: Protocol_
    base_url: str
    api_key: str | None = None
    key_env: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    connect_timeout: float = 10.0
    idle_timeout: float = 120.0
    local: bool = False  # Ollama / LM Studio: no key needed, may serve one request at a time

    def __repr__(self) -> str:  # never print the key
        return f"<ProviderConfig {self.id} {self.protocol} {self.base_url} key={'yes' if self.api_key else 'no'}>"


@dataclass(slots=True)
class ProviderRequest:
    model: str  # the provider's model id (no "provider:" prefix)
    messages: list[Message]
    params: Params = field(default_factory=Params)  # already filtered to what the model accepts
    accepts: frozenset[str] = frozenset()  # catalog capabilities: temperature, thinking, effort, ...
    extra_body: dict[str, Any] = field(default_factory=dict)


class Provider(Protocol):
    config: ProviderConfig

    def build_body(self, request: ProviderRequest) -> dict[str, Any]:
        """The JSON body that `stream()` would POST (used by tests and `--dry-run`)."""
        ...

    def stream(self, request: ProviderRequest) -> AsyncIterator[StreamEvent]: ...

    async def list_models(self) -> list[dict[str, Any]]:
        """GET the provider's model list, returned raw (the catalog normalises it)."""
        ...


@dataclass(frozen=True, slots=True)
class ProtocolSpec:
    """One wire format: its name in config files, a label, and where its client class lives (imported
    when the first client of that protocol is made: httpx and the parsers load lazily)."""

    name: str
    label: str
    module: str
    class_name: str

    def load(self) -> Callable[[ProviderConfig, httpx.AsyncClient], Provider]:
        import importlib

        factory: Callable[[ProviderConfig, httpx.AsyncClient], Provider] = getattr(
            importlib.import_module(self.module), self.class_name
        )
        return factory


PROTOCOLS: dict[str, ProtocolSpec] = {
    spec.name: spec
    for spec in (
        ProtocolSpec("chat", "OpenAI Chat Completions", "app.providers.chat", "ChatProvider"),
        ProtocolSpec("responses", "OpenAI Responses", "app.providers.responses", "ResponsesProvider"),
        ProtocolSpec("anthropic", "Anthropic Messages", "app.providers.anthropic", "AnthropicProvider"),
    )
}


def make_provider(config: ProviderConfig, client: httpx.AsyncClient) -> Provider:
    """Construct the client class for a config's protocol (Chat Completions for an unknown one)."""
    spec = PROTOCOLS.get(config.protocol, PROTOCOLS["chat"])
    return spec.load()(config, client)
