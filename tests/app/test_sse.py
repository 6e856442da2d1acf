"""The incremental SSE decoder: line endings, cuts anywhere, UTF-8, comments, payload detection."""

from __future__ import annotations

import random
import time

import pytest

from app.providers.sse import SSEDecoder, SSEEvent


def feed_all(pieces: list[bytes], decoder: SSEDecoder | None = None) -> list[SSEEvent]:
    decoder = decoder or SSEDecoder()
    events: list[SSEEvent] = []
    for piece in pieces:
        events.extend(decoder.feed(piece))
    events.extend(decoder.flush())
    return events


def pairs(events: list[SSEEvent]) -> list[tuple[str, str]]:
    return [(e.event, e.data) for e in events]


CORPUS = (
    'data: {"a": "héllo wörld ✓ 你好 🎉"}\n\n'
    ": keep-alive\n\n"
    "\n"
    "event: content_block_delta\n"
    'data: {"type":"content_block_delta","delta":{"text":"x\\ny"}}\n\n'
    "event: ping\n"
    'data: {"type": "ping"}\n\n'
    "id: 42\n"
    "retry: 1000\n"
    "data:first line\n"
    "data:  second line keeps one leading space\n\n"
    ": OPENROUTER PROCESSING\n\n"
    "data: \u2028 is not a line break in SSE\n\n"
    "data: [DONE]\n\n"
)
EXPECTED = [
    ("message", '{"a": "héllo wörld ✓ 你好 🎉"}'),
    ("content_block_delta", '{"type":"content_block_delta","delta":{"text":"x\\ny"}}'),
    ("ping", '{"type": "ping"}'),
    ("message", "first line\n second line keeps one leading space"),
    ("message", "\u2028 is not a line break in SSE"),
    ("message", "[DONE]"),
]


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
def test_whole_corpus_each_line_ending(eol: str) -> None:
    data = CORPUS.replace("\n", eol).encode()
    assert pairs(feed_all([data])) == EXPECTED


@pytest.mark.parametrize("eol", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 7, 13])
def test_every_cut_size_gives_the_same_events(eol: str, size: int) -> None:
    data = CORPUS.replace("\n", eol).encode()
    pieces = [data[i : i + size] for i in range(0, len(data), size)]
    assert pairs(feed_all(pieces)) == EXPECTED


def test_random_cuts_and_mixed_line_endings() -> None:
    rng = random.Random(7)
    for _ in range(200):
        parts: list[str] = []
        previous = ""
        for line in CORPUS.split("\n")[:-1]:
            # An empty line after a CR-terminated one must not end in a bare LF (that would be CRLF).
            choices = ["\r\n", "\r"] if previous == "\r" and not line else ["\n", "\r\n", "\r"]
            previous = rng.choice(choices)
            parts.append(line + previous)
        data = "".join(parts).encode()
        points = sorted(rng.sample(range(1, len(data)), rng.randint(1, 40)))
        pieces = [data[a:b] for a, b in zip([0, *points], [*points, len(data)], strict=True)]
        assert pairs(feed_all(pieces)) == EXPECTED


def test_cr_at_end_of_one_read_and_lf_at_start_of_next_is_one_line_ending() -> None:
    # Were CR and LF counted as two endings, the blank line would dispatch "a" on its own.
    events = feed_all([b"data: a\r", b"\ndata: b\r", b"\n\r", b"\n"])
    assert pairs(events) == [("message", "a\nb")]


def test_lone_lf_read_after_cr_read() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: x\r") == []
    assert decoder.feed(b"\n") == []
    assert pairs(decoder.feed(b"\r\n")) == [("message", "x")]


def test_multibyte_character_split_across_reads() -> None:
    data = 'data: {"t":"é🎉"}\n\n'.encode()
    start = data.index("🎉".encode())
    pieces = [data[: start + 1], data[start + 1 : start + 3], data[start + 3 :]]
    assert pairs(feed_all(pieces)) == [("message", '{"t":"é🎉"}')]


def test_data_with_and_without_space_and_single_space_strip() -> None:
    events = feed_all([b"data:a\n\ndata: b\n\ndata:  c\n\ndata\n\n"])
    assert [e.data for e in events] == ["a", "b", " c", ""]


def test_comments_blank_lines_id_retry_and_unknown_fields_ignored() -> None:
    events = feed_all([b": hi\n\n\n\nid: 1\nretry: 5\nfoo: bar\ndata: x\n\n:\n\n"])
    assert pairs(events) == [("message", "x")]


def test_event_name_resets_after_each_event() -> None:
    events = feed_all([b"event: a\ndata: 1\n\ndata: 2\n\nevent: lonely\n\ndata: 3\n\n"])
    assert pairs(events) == [("a", "1"), ("message", "2"), ("message", "3")]


def test_bom_is_stripped() -> None:
    assert pairs(feed_all([b"\xef\xbb", b"\xbfdata: x\n\n"])) == [("message", "x")]


def test_invalid_utf8_is_replaced_not_fatal() -> None:
    assert pairs(feed_all([b"data: a\xffb\n\n"])) == [("message", "a\ufffdb")]


def test_flush_dispatches_an_unterminated_event_marked_eof() -> None:
    decoder = SSEDecoder()
    assert decoder.feed(b"data: [DONE]\n") == []
    events = decoder.flush()
    assert [(e.data, e.eof) for e in events] == [("[DONE]", True)]


def test_flush_includes_a_partial_last_line() -> None:
    decoder = SSEDecoder()
    decoder.feed(b'data: {"choices": [{"delta": {"content": "Hel')
    (event,) = decoder.flush()
    assert event.eof and event.data == '{"choices": [{"delta": {"content": "Hel'


def test_flush_with_nothing_pending() -> None:
    decoder = SSEDecoder()
    decoder.feed(b"data: x\n\n: bye\n")
    assert decoder.flush() == []


def test_had_payload_only_for_data_events_that_are_not_keepalives() -> None:
    decoder = SSEDecoder()
    decoder.feed(b": keep-alive\n\n")
    assert decoder.had_payload is False
    decoder.feed(b"\n\n\r\n")
    assert decoder.had_payload is False
    decoder.feed(b'event: ping\ndata: {"type": "ping"}\n\n')
    assert decoder.had_payload is False
    decoder.feed(b'data: {"type":"ping"}\n\n')  # a ping whose event line a proxy dropped
    assert decoder.had_payload is False
    decoder.feed(b"data: {}\n")  # not complete yet
    assert decoder.had_payload is False
    decoder.feed(b"\n")
    assert decoder.had_payload is True
    decoder.feed(b": OPENROUTER PROCESSING\n\n")
    assert decoder.had_payload is False
    decoder.feed(b"event: response.output_text.delta\ndata: {}\n\n: c\n\n")
    assert decoder.had_payload is True


def test_custom_keepalive_events() -> None:
    decoder = SSEDecoder(keepalive_events=frozenset({"heartbeat"}))
    decoder.feed(b"event: heartbeat\ndata: 1\n\n")
    assert decoder.had_payload is False
    decoder.feed(b"event: ping\ndata: 1\n\n")
    assert decoder.had_payload is True


def test_large_event_split_in_many_reads() -> None:
    payload = "x" * 200_000 + "é"
    data = f"data: {payload}\n\n".encode()
    pieces = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    assert pairs(feed_all(pieces)) == [("message", payload)]


def test_throughput_is_reasonable() -> None:
    line = 'data: {"choices":[{"index":0,"delta":{"content":" token"},"finish_reason":null}]}\n\n'
    data = (line * 20_000).encode()  # ~1.7 MB, 20k events
    pieces = [data[i : i + 4096] for i in range(0, len(data), 4096)]
    start = time.perf_counter()
    events = feed_all(pieces)
    elapsed = time.perf_counter() - start
    assert len(events) == 20_000
    assert elapsed < 1.0, elapsed
