"""Incremental Server-Sent Events decoder over a raw byte stream (PROTOCOLS.md, "Server-Sent Events").

`SSEDecoder.feed(chunk)` takes bytes exactly as they came off the socket (TCP reads cut anywhere: inside
a line, inside JSON, inside a multi-byte UTF-8 character, between CR and LF) and returns the events
completed by that chunk. UTF-8 is decoded with one incremental decoder over the whole stream, never per
read. Lines end in `\\n`, `\\r\\n` or `\\r`; a CR at the end of one read followed by an LF at the start
of the next counts as one line ending. `data:` may or may not have a space after the colon; several
`data:` lines of one event join with `\\n`; `:` comment lines and stray blank lines are ignored;
`event:` names the event; `id:` and `retry:` are ignored (we never reconnect).

Progress for the idle timeout: after every `feed()`, `had_payload` says whether the chunk completed at
least one event with payload data, i.e. a non-empty `data:` field whose event name is not a keep-alive
(`ping` by default). Comments (`: keep-alive`, `: OPENROUTER PROCESSING`), blank lines and Anthropic
`ping` events never count.

Pure and synchronous: no I/O, no asyncio. One decoder per response; not thread-safe.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

__all__ = ["DEFAULT_KEEPALIVE_EVENTS", "SSEDecoder", "SSEEvent"]

DEFAULT_KEEPALIVE_EVENTS = frozenset({"ping"})

_LINE_END = re.compile(r"\r\n|\r|\n")
# Anthropic pings carry data; match them by payload too, in case a proxy drops the `event:` line.
_PING_DATA = ('{"type":"ping"', '{"type": "ping"')


@dataclass(slots=True)
class SSEEvent:
    """One dispatched event. `event` is "message" when the stream named none.

    `eof` is True for an event completed only by the end of the body (no blank line after it): the
    last line may be cut short, so a parse failure there means a truncated stream, not bad JSON.
    """

    event: str
    data: str
    eof: bool = False


class SSEDecoder:
    """Incremental SSE parser. Feed raw bytes with `feed()`, call `flush()` once at end of body."""

    __slots__ = ("_buf", "_data", "_decoder", "_event", "_keepalive", "_skip_lf", "_started", "had_payload")

    def __init__(self, keepalive_events: frozenset[str] = DEFAULT_KEEPALIVE_EVENTS) -> None:
        self._decoder = codecs.getincrementaldecoder("utf-8")(errors="replace")
        self._buf = ""  # an unfinished line
        self._skip_lf = False  # the previous text ended in CR: drop one LF at the start of the next
        self._started = False  # BOM check done
        self._data: list[str] = []
        self._event = ""
        self._keepalive = keepalive_events
        self.had_payload = False  # set by each feed(): did this chunk complete a payload event?

    def feed(self, chunk: bytes) -> list[SSEEvent]:
        """Decode one chunk of the body and return the events it completed (possibly none)."""
        text = self._decoder.decode(chunk)
        self.had_payload = False
        if not text:
            return []
        return self._feed_text(text)

    def flush(self) -> list[SSEEvent]:
        """End of body: finish a pending line and event (marked `eof=True`). The decoder is then spent."""
        text = self._decoder.decode(b"", final=True)
        self.had_payload = False
        events = self._feed_text(text) if text else []
        if self._buf:
            line, self._buf = self._buf, ""
            self._line(line, events)
        if self._data:
            events.append(self._dispatch(eof=True))
        return events

    # -- internals ---------------------------------------------------------------------------------

    def _feed_text(self, text: str) -> list[SSEEvent]:
        if not self._started:
            self._started = True
            if text[0] == "\ufeff":
                text = text[1:]
                if not text:
                    return []
        if self._skip_lf:
            self._skip_lf = False
            if text[0] == "\n":
                text = text[1:]
                if not text:
                    return []
        if self._buf:
            text = self._buf + text
        if "\r" in text:
            lines = _LINE_END.split(text)
            # A trailing CR already ended its line; an LF that follows in the next read belongs to it.
            self._skip_lf = text[-1] == "\r"
        elif "\n" in text:
            lines = text.split("\n")
        else:
            self._buf = text
            return []
        self._buf = lines.pop()
        events: list[SSEEvent] = []
        data = self._data
        for line in lines:
            if not line:
                if data:
                    events.append(self._dispatch())
                    data = self._data
                else:
                    self._event = ""
            elif line.startswith("data:"):
                value = line[5:]
                if value[:1] == " ":
                    value = value[1:]
                data.append(value)
            elif line[0] == ":":
                continue
            else:
                self._line(line, events)
                data = self._data
        return events

    def _line(self, line: str, events: list[SSEEvent]) -> None:
        """A non-data line (or the last line at end of body)."""
        if not line:
            if self._data:
                events.append(self._dispatch())
            return
        if line[0] == ":":
            return
        name, colon, value = line.partition(":")
        if colon and value[:1] == " ":
            value = value[1:]
        if name == "data":
            self._data.append(value)
        elif name == "event":
            self._event = value
        # id, retry and unknown fields are ignored

    def _dispatch(self, eof: bool = False) -> SSEEvent:
        data = self._data
        text = data[0] if len(data) == 1 else "\n".join(data)
        event = SSEEvent(self._event or "message", text, eof)
        self._data = []
        self._event = ""
        if text and event.event not in self._keepalive and not text.startswith(_PING_DATA):
            self.had_payload = True
        return event
