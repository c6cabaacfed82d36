"""Differential parsing: the same bytes through our parser, raw httptools (llhttp) and h11.

Request smuggling lives in disagreements about framing: where one parser sees a request end
and another sees a body go on. Each input here (the hostile corpus of
tests/hostile_corpus.py, and variations generated from it and from templates) goes through
the three; what each makes of it is reduced to its *framing*: the complete requests, each
as its method and body bytes, and how the input ended (``ok``: nothing pending;
``incomplete``: more bytes awaited; ``refused``; ``upgraded``). A disagreement with either
parser fails unless KNOWN_DIFFERENCES lists it with its reason.

One difference is never listed: one parser refusing where the other still waits for more
bytes, both having delivered the same requests (llhttp refuses a bad method at its first
byte, h11 only once the line is complete): neither delivered anything the other did not.

Then our parser alone: each input split at every byte boundary (at a stride for the long
ones) must give the same events, the same refusal and the same upgrade however it is split.
"""

from __future__ import annotations

import fnmatch
import functools
from collections.abc import Iterator
from typing import Any, NamedTuple

import h11
import httptools
import pytest
from h11._state import MIGHT_SWITCH_PROTOCOL  # public, but missing from h11's __all__
from hostile_corpus import CORPUS, GOOD

from asgiweb.transport import RequestHead
from native_server.wire.parser import END_OF_MESSAGE, ProtocolError, RequestParser

Message = tuple[str, bytes]  # method, body


class Framing(NamedTuple):
    messages: tuple[Message, ...]
    end: str  # "ok", "incomplete", "refused" or "upgraded"


class Input(NamedTuple):
    id: str
    data: bytes


# -- the three parsers, reduced to framing ------------------------------------------------


def ours(data: bytes) -> Framing:
    parser = RequestParser()
    try:
        events = parser.feed(data)
        end = None
    except ProtocolError as exc:
        events, end = exc.events, "refused"
    messages: list[Message] = []
    body = b""
    method = ""
    pending = False
    for event in events:
        if isinstance(event, RequestHead):
            method, body, pending = event.method, b"", True
        elif event is END_OF_MESSAGE:
            messages.append((method, body))
            pending = False
        else:
            assert isinstance(event, bytes)
            body += event
    if end is None:
        if parser.upgraded:
            end = "upgraded"
        else:
            end = "incomplete" if pending or parser.head_pending else "ok"
    return Framing(tuple(messages), end)


class _Callbacks:
    def __init__(self) -> None:
        self.parser: Any = None
        self.messages: list[Message] = []
        self.body = b""
        self.method = ""
        self.begun = False

    def on_message_begin(self) -> None:
        self.begun, self.body = True, b""

    def on_headers_complete(self) -> None:
        self.method = self.parser.get_method().decode("latin-1")

    def on_body(self, body: bytes) -> None:
        self.body += body

    def on_message_complete(self) -> None:
        self.messages.append((self.method, self.body))
        self.begun = False


def raw_httptools(data: bytes) -> Framing:
    callbacks = _Callbacks()
    parser = callbacks.parser = httptools.HttpRequestParser(callbacks)
    try:
        parser.feed_data(data)
        end = "incomplete" if callbacks.begun else "ok"
    except httptools.HttpParserUpgrade:
        end = "upgraded"
    except httptools.HttpParserError:
        end = "refused"
    return Framing(tuple(callbacks.messages), end)


def _h11_answer(conn: h11.Connection) -> bool:
    """Answer the request just read so h11 reads the next; False if it will not."""
    conn.send(h11.Response(status_code=200, headers=[("Content-Length", "0")]))
    conn.send(h11.EndOfMessage())
    if conn.our_state is h11.MUST_CLOSE or conn.their_state is h11.MUST_CLOSE:
        return False
    conn.start_next_cycle()
    return True


def h11_framing(data: bytes) -> Framing:
    conn = h11.Connection(h11.SERVER)
    messages: list[Message] = []
    method, body = "", b""
    try:
        conn.receive_data(data)
        while True:
            event = conn.next_event()
            if isinstance(event, h11.Request):
                method, body = event.method.decode("latin-1"), b""
            elif isinstance(event, h11.Data):
                body += bytes(event.data)
            elif isinstance(event, h11.EndOfMessage):
                messages.append((method, body))
                if conn.their_state is MIGHT_SWITCH_PROTOCOL:
                    return Framing(tuple(messages), "upgraded")
                if not _h11_answer(conn):
                    # After "Connection: close" (or HTTP/1.0) h11 reads nothing more: as
                    # refusing what follows, if anything does.
                    left = conn.trailing_data[0]
                    return Framing(tuple(messages), "refused" if left else "ok")
            elif event is h11.NEED_DATA:
                idle = conn.their_state is h11.IDLE and not conn.trailing_data[0]
                return Framing(tuple(messages), "ok" if idle else "incomplete")
            else:  # pragma: no cover - PAUSED without a switch, ConnectionClosed
                return Framing(tuple(messages), "incomplete")
    except h11.RemoteProtocolError:
        return Framing(tuple(messages), "refused")


OTHERS = {"httptools": raw_httptools, "h11": h11_framing}


# -- inputs ----------------------------------------------------------------------------------

POST = b"POST /p HTTP/1.1\r\nHost: h\r\n"


def generated() -> Iterator[Input]:
    """Framing headers and chunk lines, value by value, each followed by a good request."""
    te_values = [
        b"chunked", b"Chunked", b" chunked", b"chunked ", b"\tchunked", b"chunked\t",
        b"chunked,", b",chunked", b", chunked", b"gzip, chunked", b"gzip,chunked",
        b"chunked, gzip", b"chunked, chunked", b"identity", b"identity, chunked", b"x",
        b"", b"chunked\x00", b"chUnKeD", b"chunked;q=1", b"\"chunked\"", b"chunked\x0b",
        b"chunk", b"chunkedchunked", b"gzip , chunked", b"\xffchunked",
    ]  # fmt: skip
    body = b"3\r\nabc\r\n0\r\n\r\n"
    for value in te_values:
        yield Input(f"gen/te={value!r}", POST + b"Transfer-Encoding: " + value + b"\r\n\r\n"
                    + body + GOOD)  # fmt: skip
        yield Input(f"gen/te+cl={value!r}", POST + b"Transfer-Encoding: " + value
                    + b"\r\nContent-Length: 15\r\n\r\n" + body + GOOD)  # fmt: skip
    cl_values = [
        b"3", b"03", b"003", b" 3", b"3 ", b"\t3", b"+3", b"-3", b"3,3", b"3, 3", b"3 3",
        b"0x3", b"3.0", b"", b"3\x00", b"\xd9\xa3", b"1e1", b"4294967299", b"18446744073709551619",
        b"\"3\"", b"3;", b"00000000000000000000003",
    ]  # fmt: skip
    for value in cl_values:
        yield Input(f"gen/cl={value!r}", POST + b"Content-Length: " + value + b"\r\n\r\nabc"
                    + GOOD)  # fmt: skip
    size_lines = [
        b"3", b"03", b"3;x", b"3;x=y", b'3;x="y"', b"3;x=\"y\\\"z\"", b"3 ", b"3\t", b" 3",
        b"+3", b"0x3", b"3;", b"3;x=", b"3 ;x", b"3;\tx", b"3;x\ry", b"3;x\ny", b"\x003",
        b"3\x00", b"0000000000000000000003", b"fffffffffffffffff", b"3;" + b"e" * 5000,
    ]  # fmt: skip
    for line in size_lines:
        yield Input(f"gen/chunk-size={line[:40]!r}", POST + b"Transfer-Encoding: chunked\r\n\r\n"
                    + line + b"\r\nabc\r\n0\r\n\r\n" + GOOD)  # fmt: skip
    for special in (b"\x00", b"\r", b"\n", b"\t", b" ", b"\x7f", b"\x80", b"\xff", b":"):
        for at, line in enumerate(_field_mutations(special)):
            yield Input(f"gen/field-byte={special!r}@{at}", b"GET / HTTP/1.1\r\nHost: h\r\n"
                        + line + b"\r\n\r\n" + GOOD)  # fmt: skip


def _field_mutations(special: bytes) -> list[bytes]:
    name, value = b"X-Ab", b"val"
    return [
        special + name + b": " + value,
        name[:2] + special + name[2:] + b": " + value,
        name + special + b": " + value,
        name + b":" + special + value,
        name + b": " + value[:1] + special + value[1:],
        name + b": " + value + special,
    ]


def inputs() -> Iterator[Input]:
    for case in CORPUS:
        yield Input(case.id, case.data)
        if len(case.data) < 4096:
            yield Input(case.id + "+good-before", GOOD + case.data)
            yield Input(case.id + "+good-after", case.data + GOOD)
    yield from generated()


INPUTS = list(inputs())

# -- what may differ, and why ------------------------------------------------------------------


class Known(NamedTuple):
    """A framing difference we accept: ``pattern`` (fnmatch) over input ids, with ``parser``."""

    pattern: str
    parser: str
    reason: str


# Our adapter's own checks, on top of llhttp (raw httptools has none of them).
_HOST = "RFC 9112 3.2: one valid Host in HTTP/1.1 (llhttp does not look at Host)"
_LIMITS = "our limits: target, field, field count and head size (llhttp has none)"
_TE_CODING = "RFC 9112 6.1: 501 for a coding we do not decode; llhttp frames by the final chunked"
_TE_10 = "RFC 9112 6.1: Transfer-Encoding in HTTP/1.0 is refused (llhttp frames it)"
_TARGET = "RFC 9112 3.2: no host in an absolute target, '*' other than for OPTIONS"
_VERSION = "we serve HTTP/1.0 and 1.1 only: 505 for 0.9 and 2.0, which llhttp parses"
# Where h11 is laxer than llhttp; each time ours refuses, never frames otherwise.
_H11_CL_TE = "h11 lets Transfer-Encoding override Content-Length (RFC 9112 6.3 allows it)"
_H11_CL_LIST = "h11 merges identical Content-Length values (RFC 9110 8.6 MAY); llhttp refuses"
_H11_TRAILER = "h11 ignores framing fields in trailers (RFC 9110 6.5.1 allows); llhttp refuses"
_H11_METHOD = "h11 takes any token as a method; llhttp knows a fixed list (FOO, get, dGET)"
_H11_TAB = "h11 strips a tab after a coding or a chunk size; llhttp refuses it"
_H11_CHUNK_LINE = "h11 skips a chunk extension up to CRLF, even a bare CR or an empty one"
_H11_CTL = "h11 allows CTLs other than CR, LF and NUL in a value (RFC 9110 5.5 does not)"
_H11_LF = "h11 takes a bare LF as a line end (RFC 9112 2.2 MAY); llhttp refuses"
_H11_FOLD = "h11 unfolds obs-fold (RFC 9112 5.2 allows); llhttp refuses it (also allowed)"
_H11_HOST = "h11 does not check the Host value"
_H11_TARGET = "h11 does not check the request-target form"
_H11_VERSION = "h11 accepts any HTTP/x.y version; h11 reads the h2 preface's PRI as a request"
_H11_LIMITS = "h11's one limit is 16 KiB for an incomplete head; a whole head passes"
_H11_STRICT_LINE = "llhttp splits on runs of spaces and skips empty lines before a request "
"(RFC 9112 3 and 2.2 allow both); h11 refuses them"
_H11_10 = "h11 never keeps an HTTP/1.0 connection alive; RFC 9112 9.3 allows keep-alive"
_H11_EMPTY_ELEMENT = "h11 refuses an empty list element before chunked (RFC 9110 5.6.1 ignores it)"
_H11_DIGITS = "h11 refuses a length or chunk size of more than 20 digits, even leading zeros"

KNOWN_DIFFERENCES: list[Known] = [
    Known("host/*", "httptools", _HOST),
    Known("pipeline/good-then-bad-in-separate-reads*", "httptools", _HOST),
    Known("pipeline/twenty-good-then-bad*", "httptools", _HOST),
    Known("request-line/target-over-8190*", "httptools", _LIMITS),
    Known("header-limits/*", "httptools", _LIMITS),
    Known("trailer/129-fields*", "httptools", _LIMITS),
    Known("trailer/over-72k*", "httptools", _LIMITS),
    Known("transfer-encoding/gzip-*", "httptools", _TE_CODING),
    Known("gen/te=b'gzip*", "httptools", _TE_CODING),
    Known("gen/te=b'identity, chunked'", "httptools", _TE_CODING),
    Known("cl-te/chunked-in-http10*", "httptools", _TE_10),
    Known("absolute-form/no-host*", "httptools", _TARGET),
    Known("absolute-form/asterisk-get*", "httptools", _TARGET),
    Known("version/http09-request-line*", "httptools", _VERSION),
    Known("version/http-0.9*", "httptools", _VERSION),
    Known("version/http-2.0*", "httptools", _VERSION),
    Known("cl-te/length-*", "h11", _H11_CL_TE),
    Known("cl-te/chunked-then-length*", "h11", _H11_CL_TE),
    Known("cl-te/chunked-in-http10*", "h11", _H11_CL_TE),
    Known("pipeline/good-then-cl-te*", "h11", _H11_CL_TE),
    Known("gen/te+cl=*", "h11", _H11_CL_TE),
    Known("cl-te/length-in-trailer*", "h11", _H11_TRAILER),
    Known("cl-te/chunked-in-trailer*", "h11", _H11_TRAILER),
    Known("content-length/duplicate-equal*", "h11", _H11_CL_LIST),
    Known("content-length/list*", "h11", _H11_CL_LIST),
    Known("gen/cl=b'3,*", "h11", _H11_CL_LIST),
    Known("content-length/body-longer-than-length*", "h11", _H11_METHOD),
    Known("method/unknown-token*", "h11", _H11_METHOD),
    Known("method/lower-case*", "h11", _H11_METHOD),
    Known("transfer-encoding/chunked-trailing-tab*", "h11", _H11_TAB),
    Known("gen/te=b'chunked\\t'", "h11", _H11_TAB),
    Known("chunk/size-trailing-space*", "h11", _H11_TAB),
    Known("gen/chunk-size=b'3\\t'", "h11", _H11_TAB),
    Known("chunk/extension-bare-cr*", "h11", _H11_CHUNK_LINE),
    Known("chunk/extension-without-name*", "h11", _H11_CHUNK_LINE),
    Known("gen/chunk-size=b'3 '", "h11", _H11_CHUNK_LINE),
    Known("gen/chunk-size=b'3;*", "h11", _H11_CHUNK_LINE),
    Known("cr-nul/ctl-in-value*", "h11", _H11_CTL),
    Known("cr-nul/del-in-value*", "h11", _H11_CTL),
    Known("gen/field-byte=b'\\x7f'@*", "h11", _H11_CTL),
    Known("cr-nul/bare-lf-*", "h11", _H11_LF),
    Known("gen/field-byte=b'\\n'@*", "h11", _H11_LF),
    Known("obs-fold/*", "h11", _H11_FOLD),
    Known("gen/field-byte=b'\\t'@0", "h11", _H11_FOLD),
    Known("gen/field-byte=b' '@0", "h11", _H11_FOLD),
    Known("host/*", "h11", _H11_HOST),
    Known("absolute-form/*", "h11", _H11_TARGET),
    Known("version/*", "h11", _H11_VERSION),
    Known("request-line/target-over-8190*", "h11", _H11_LIMITS),
    Known("header-limits/*", "h11", _H11_LIMITS),
    Known("trailer/*", "h11", _H11_LIMITS),
    Known("method/double-space*", "h11", _H11_STRICT_LINE),
    Known("method/leading-crlf*", "h11", _H11_STRICT_LINE),
    Known("request-line/many-leading-crlf*", "h11", _H11_STRICT_LINE),
    Known("host/http10-without*", "h11", _H11_10),
    Known("gen/te=b',*", "h11", _H11_EMPTY_ELEMENT),
    Known("gen/cl=b'0000*", "h11", _H11_DIGITS),
    Known("gen/chunk-size=b'0000*", "h11", _H11_DIGITS),
]


def known(input_id: str, parser: str) -> Known | None:
    for entry in KNOWN_DIFFERENCES:
        if entry.parser == parser and fnmatch.fnmatchcase(input_id, entry.pattern):
            return entry
    return None


def agree(a: Framing, b: Framing) -> bool:
    if a == b:
        return True
    # One refuses what the other still waits on, after the same requests: no framing
    # disagreement (see the module docstring).
    return a.messages == b.messages and {a.end, b.end} == {"refused", "incomplete"}


@functools.cache
def disagreement(given: Input, parser: str) -> str | None:
    mine, theirs = ours(given.data), OTHERS[parser](given.data)
    return None if agree(mine, theirs) else f"ours {mine} != {parser} {theirs}"


@pytest.mark.parametrize("parser", sorted(OTHERS))
@pytest.mark.parametrize("given", INPUTS, ids=[given.id for given in INPUTS])
def test_framing_agrees(given: Input, parser: str) -> None:
    problem = disagreement(given, parser)
    assert problem is None or known(given.id, parser) is not None, problem


def test_every_known_difference_still_is_one() -> None:
    # A stale entry would hide the next real difference among the inputs it matches.
    for entry in KNOWN_DIFFERENCES:
        matched = [g for g in INPUTS if fnmatch.fnmatchcase(g.id, entry.pattern)]
        assert any(disagreement(g, entry.parser) for g in matched), f"unused: {entry}"


# -- splitting never changes what our parser sees ------------------------------------------


def _summary(event: object) -> object:
    if isinstance(event, RequestHead):
        return (
            event.method, event.path, event.query_string, tuple(event.version),
            tuple(event.raw_headers), event.keep_alive, event.has_body, event.upgrade,
            event.expect, event.authority, event.scheme,
        )  # fmt: skip
    return event


def feed_split(data: bytes, cuts: list[int]) -> tuple[list[object], object, bytes]:
    """Events (bodies merged), refusal (status, or None) and bytes after an upgrade."""
    parser = RequestParser()
    events: list[object] = []
    refusal: object = None
    bounds = [0, *cuts, len(data)]
    trailing = b""
    for start, stop in zip(bounds, bounds[1:], strict=False):
        if parser.upgraded:
            trailing += data[start:stop]
            continue
        try:
            events += parser.feed(data[start:stop])
        except ProtocolError as exc:
            events += exc.events
            refusal = exc.status
            break
    if parser.upgraded:
        trailing = parser.trailing + trailing
    merged: list[object] = []
    for event in map(_summary, events):
        if isinstance(event, bytes) and merged and isinstance(merged[-1], bytes):
            merged[-1] += event
        elif not (isinstance(event, bytes) and not event):
            merged.append(event)
    return merged, refusal, trailing


def _cut_sets(size: int) -> Iterator[list[int]]:
    """Every single cut (at a stride past 400 bytes), one byte at a time, 7 at a time."""
    stride = 1 if size <= 400 else size // 100 + 1
    for cut in range(1, size, stride):
        yield [cut]
    if size <= 4096:
        yield list(range(1, size))
    yield list(range(7, size, 7))


SPLIT_INPUTS = [given for given in INPUTS if not given.id.endswith("+good-before")]


@pytest.mark.parametrize("given", SPLIT_INPUTS, ids=[given.id for given in SPLIT_INPUTS])
def test_split_anywhere_gives_the_same_events(given: Input) -> None:
    whole = feed_split(given.data, [])
    for cuts in _cut_sets(len(given.data)):
        assert feed_split(given.data, cuts) == whole, f"cut at {cuts[:3]}..."
