"""Property-based fuzzing of the native server's wire code (issue 16).

- The request parser: arbitrary bytes and structured requests mutated byte by byte, fed in
  random pieces. Only ProtocolError may escape; what the parser holds stays bounded; the
  events are well formed and the same however the input is split.
- The WebSocket codec: frames with any opcode, reserved bits, mask, length encoding (lies
  included), fragments, control frames, invalid UTF-8, compressed payloads. Only the
  codec's WebSocketProtocolError may escape; no message exceeds max_msg_size (inflated
  size included); the buffers stay bounded; splitting changes nothing.
- The native server over real sockets: each generated request ends in a response or a
  close within 2 s, and the server answers a normal request afterwards.

The CI run is small and deterministic (derandomized, no example database). The long run
(``@pytest.mark.fuzz_long``: budgets 100 times larger, random seeds) is skipped unless
asked for (tests/conftest.py):

    pytest --run-long -m fuzz_long tests/unit/native_server/wire/test_fuzz_wire.py

(or ASGIWEB_LONG=1 instead of --run-long).
"""

from __future__ import annotations

import socket
import time
import zlib
from collections.abc import Callable, Iterator
from typing import TypeVar

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from servers import RunningServer, serve

from asgiweb import web
from asgiweb.http.ws_handshake import DeflateParams
from asgiweb.transport import RequestHead
from asgiweb.ws_types import WSMessage, WSMsgType
from native_server.wire.parser import END_OF_MESSAGE, ProtocolError, RequestParser
from native_server.wire.websocket import FrameReader, WebSocketProtocolError

F = TypeVar("F", bound=Callable[..., None])


def fuzz(examples: int) -> Callable[[F], F]:
    """The CI budget: ``examples`` derandomized examples, nothing remembered."""
    return settings(
        max_examples=examples,
        derandomize=True,
        database=None,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
    )


def fuzz_long(examples: int) -> Callable[[F], F]:
    """The long budget, random seeds; marked fuzz_long (run with --run-long)."""

    def apply(test: F) -> F:
        test = settings(
            max_examples=examples,
            derandomize=False,
            database=None,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        )(test)
        # No per-test timeout: the budget, not the clock, bounds a long run.
        marked: F = pytest.mark.timeout(0)(pytest.mark.fuzz_long(test))
        return marked

    return apply


@st.composite
def cuts_of(draw: st.DrawFn, data: bytes) -> list[int]:
    """Where to split ``data``: a few random places, or every n bytes."""
    if len(data) < 2:
        return []
    if draw(st.booleans()):
        step = draw(st.integers(1, 16))
        return list(range(step, len(data), step))
    return sorted(set(draw(st.lists(st.integers(1, len(data) - 1), max_size=8))))


def split(data: bytes, cuts: list[int]) -> Iterator[bytes]:
    bounds = [0, *cuts, len(data)]
    for start, stop in zip(bounds, bounds[1:], strict=False):
        yield data[start:stop]


# -- the request parser ------------------------------------------------------------------

# Small limits, so that generated inputs reach them.
MAX_LINE, MAX_FIELD, MAX_HEADERS, MAX_HEAD = 64, 48, 6, 300
STATUSES = {400, 414, 431, 501, 505}


def mostly(
    valid: st.SearchStrategy[bytes], odd: st.SearchStrategy[bytes]
) -> st.SearchStrategy[bytes]:
    """``valid`` about nine times in ten (a request must get past its first line to
    reach its body, its trailers and the next request), else ``odd``."""
    return st.sampled_from(range(10)).flatmap(lambda i: odd if i == 9 else valid)


def one_in(draw: st.DrawFn, n: int) -> bool:
    """True about once in ``n`` draws (st.integers would favour its bounds)."""
    return draw(st.sampled_from(range(n))) == n - 1  # the last: shrinking goes to the first


METHODS = st.sampled_from([b"GET", b"POST", b"PUT", b"HEAD", b"OPTIONS", b"DELETE", b"PATCH"])
ODD_METHODS = st.sampled_from([b"CONNECT", b"PRI", b"FOO", b"get", b""]) | st.binary(max_size=6)
PATH = st.text("abc/%?=&.-_~:@!$'()*+,;", max_size=30).map(lambda t: ("/" + t).encode())
ODD_TARGETS = st.sampled_from([b"*", b"http://h/x", b"h:443", b"//x", b"/%00", b"/\xff", b""])
VERSIONS = st.sampled_from([b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.1", b"HTTP/1.0"])
ODD_VERSIONS = st.sampled_from([b"HTTP/0.9", b"HTTP/2.0", b"HTTP/1.2", b"HTTP/1.1x", b""])
NAMES = st.sampled_from([b"X-A", b"Accept", b"Connection", b"Expect", b"Upgrade", b"Cookie"])
ODD_NAMES = st.sampled_from(
    [b"Host", b"host", b"Content-Length", b"Transfer-Encoding", b"Host ", b"", b"X\x00"]
) | st.binary(min_size=1, max_size=50)
VALUES = st.sampled_from(
    [b"v", b"close", b"keep-alive", b"upgrade", b"websocket", b"100-continue", b"", b"a b"]
)
ODD_VALUES = st.sampled_from(
    [b"chunked", b"gzip, chunked", b"chunked, gzip", b"5", b"-1", b"5, 5", b"2" * 21]
) | st.binary(max_size=50)
SPECIAL = [b"\r", b"\n", b"\r\n", b"\x00", b" ", b"\t", b":", b";", b"0", b"\xff", b"\x7f"]


@st.composite
def chunked_body(draw: st.DrawFn) -> bytes:
    out = b""
    for data in draw(st.lists(st.binary(max_size=20), max_size=4)):
        size = draw(st.integers(0, 2**70)) if one_in(draw, 10) else len(data)
        ext = draw(mostly(st.just(b""), st.sampled_from([b";a=b", b';a="b"', b";", b" ", b"\r"])))
        out += b"%x" % size + ext + b"\r\n" + data + b"\r\n"
    out += b"0\r\n"
    for name, value in draw(st.lists(st.tuples(NAMES | ODD_NAMES, VALUES | ODD_VALUES),
                                     max_size=3)):  # fmt: skip
        out += name + b": " + value + b"\r\n"
    return out + b"\r\n"


@st.composite
def request(draw: st.DrawFn) -> bytes:
    """A request, most of its parts valid; its framing matches its body, mostly."""
    method = draw(mostly(METHODS, ODD_METHODS))
    target = draw(mostly(PATH, ODD_TARGETS | st.binary(max_size=70)))
    version = draw(mostly(VERSIONS, ODD_VERSIONS))
    fields = [] if one_in(draw, 10) else [(b"Host", b"h")]
    fields += draw(st.lists(st.tuples(mostly(NAMES, ODD_NAMES), mostly(VALUES, ODD_VALUES)),
                            max_size=5))  # fmt: skip
    framing = draw(st.sampled_from(["none", "length", "chunked"]))
    if framing == "length":
        body = draw(st.binary(max_size=40))
        size = draw(st.integers(0, 100)) if one_in(draw, 10) else len(body)
        fields.append((b"Content-Length", b"%d" % size))
    elif framing == "chunked":
        body = draw(chunked_body())
        fields.append((b"Transfer-Encoding", b"chunked"))
    else:
        body = b""
    fields = draw(st.permutations(fields))
    head = method + b" " + target + b" " + version + b"\r\n"
    return head + b"".join(n + b": " + v + b"\r\n" for n, v in fields) + b"\r\n" + body


@st.composite
def mutated(draw: st.DrawFn, base: st.SearchStrategy[bytes]) -> bytes:
    """``base`` with a few bytes inserted, replaced or deleted at random places."""
    data = draw(base)
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 1, 2, 3]))):
        at = draw(st.integers(0, len(data)))
        what = draw(st.sampled_from(SPECIAL) | st.binary(min_size=1, max_size=2))
        edit = draw(st.sampled_from(["insert", "replace", "delete"]))
        if edit == "insert":
            data = data[:at] + what + data[at:]
        elif edit == "replace":
            data = data[:at] + what + data[at + len(what) :]
        else:
            data = data[:at] + data[at + len(what) :]
    return data


def pipelined() -> st.SearchStrategy[bytes]:
    return st.lists(mutated(request()), min_size=1, max_size=3).map(b"".join)


def _head_size(parser: RequestParser) -> int:
    return sum(len(name) + len(value) + 4 for name, value in parser._headers)


def _check_bounded(parser: RequestParser) -> None:
    """What the parser keeps between feeds never grows past its limits."""
    assert len(parser._url) <= MAX_LINE
    assert len(parser._headers) <= MAX_HEADERS
    assert _head_size(parser) <= MAX_HEAD + MAX_LINE
    assert parser._line_length <= 2 * MAX_FIELD + 4


def _check_well_formed(events: list[object]) -> None:
    """Heads and ends alternate; body bytes only inside a message that has a body."""
    head: RequestHead | None = None
    for event in events:
        if isinstance(event, RequestHead):
            assert head is None, "a head inside a message"
            head = event
        elif event is END_OF_MESSAGE:
            assert head is not None, "an end outside a message"
            head = None
        else:
            assert isinstance(event, bytes) and head is not None and head.has_body


def parse(data: bytes, cuts: list[int]) -> tuple[list[object], int | None, bool]:
    """Events (bodies merged), the refusal's status (None if none), and upgraded."""
    parser = RequestParser(
        max_line_size=MAX_LINE,
        max_field_size=MAX_FIELD,
        max_headers=MAX_HEADERS,
        max_head_size=MAX_HEAD,
    )
    events: list[object] = []
    status = None
    for piece in split(data, cuts):
        if parser.upgraded:
            break
        try:
            events += parser.feed(piece)
        except ProtocolError as exc:  # the one exception allowed out
            assert exc.status in STATUSES, exc.status
            events += exc.events
            status = exc.status
            break
        _check_bounded(parser)
    _check_well_formed(events)
    return _merged(events), status, parser.upgraded


def _merged(events: list[object]) -> list[object]:
    out: list[object] = []
    for event in events:
        if isinstance(event, RequestHead):
            out.append((event.method, event.path, event.query_string, event.raw_headers,
                        event.keep_alive, event.has_body, event.upgrade))  # fmt: skip
        elif isinstance(event, bytes) and out and isinstance(out[-1], bytes):
            out[-1] += event
        elif event:  # END_OF_MESSAGE, or body bytes; empty bytes say nothing
            out.append(event)
    return out


def check_parser(data: bytes, cuts: list[int]) -> None:
    whole = parse(data, [])
    pieces = parse(data, cuts)
    assert pieces == whole


@st.composite
def parser_input(draw: st.DrawFn, strategy: st.SearchStrategy[bytes]) -> tuple[bytes, list[int]]:
    data = draw(strategy)
    return data, draw(cuts_of(data))


def _parser_test(strategy: st.SearchStrategy[bytes]) -> Callable[[tuple[bytes, list[int]]], None]:
    @given(parser_input(strategy))
    def test(given_input: tuple[bytes, list[int]]) -> None:
        check_parser(*given_input)

    return test


test_parser_arbitrary_bytes = fuzz(300)(_parser_test(st.binary(max_size=400)))
test_parser_mutated_requests = fuzz(250)(_parser_test(pipelined()))
test_parser_arbitrary_bytes_long = fuzz_long(20_000)(_parser_test(st.binary(max_size=2000)))
test_parser_mutated_requests_long = fuzz_long(50_000)(_parser_test(pipelined()))


# -- the WebSocket codec -------------------------------------------------------------------

MAX_MSG = 200  # small, so that generated messages cross it
# Deflate's worst case over the limit (see FrameReader._check_frame), plus a frame header.
MAX_BUFFERED = MAX_MSG + (MAX_MSG >> 12) + 64 + 14
CODES = {1002, 1007, 1009}


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(zlib.Z_DEFAULT_COMPRESSION, zlib.DEFLATED, -15)
    return (compressor.compress(data) + compressor.flush(zlib.Z_SYNC_FLUSH))[:-4]


def _mask(data: bytes, mask: bytes) -> bytes:
    return bytes(b ^ mask[i % 4] for i, b in enumerate(data))


@st.composite
def framed(draw: st.DrawFn, first: int, data: bytes, declared: int | None = None) -> bytes:
    """A client frame: ``first`` byte, a length in any of its three forms, a mask."""
    size = len(data) if declared is None else declared
    form = draw(st.sampled_from(["minimal", "minimal", "minimal", "16", "64"]))
    if form == "minimal" and size < 126:
        head = bytes([first, size | 0x80])
    elif form != "64" and size < 2**16:
        head = bytes([first, 126 | 0x80]) + size.to_bytes(2, "big")
    else:
        head = bytes([first, 127 | 0x80]) + size.to_bytes(8, "big")
    mask = draw(st.binary(min_size=4, max_size=4))
    return head + mask + _mask(data, mask)


@st.composite
def message(draw: st.DrawFn, deflate: bool) -> bytes:
    """One valid TEXT or BINARY message, perhaps compressed, perhaps over MAX_MSG, cut into
    fragments with control frames between them."""
    text = draw(st.booleans())
    if one_in(draw, 5):
        raw = b"x" * draw(st.sampled_from([MAX_MSG - 1, MAX_MSG, MAX_MSG + 1, 10 * MAX_MSG]))
    elif text:
        raw = draw(st.text(max_size=100)).encode()
    else:
        raw = draw(st.binary(max_size=300))
    compressed = deflate and draw(st.booleans())
    wire = _deflate(raw) if compressed else raw
    cuts = sorted(set(draw(st.lists(st.integers(0, len(wire)), max_size=3))))
    parts = list(split(wire, cuts)) if cuts else [wire]
    out = b""
    for i, part in enumerate(parts):
        first = (1 if text else 2) if i == 0 else 0
        if i == 0 and compressed:
            first |= 0x40
        if i == len(parts) - 1:
            first |= 0x80
        out += draw(framed(first, part))
        if i < len(parts) - 1 and one_in(draw, 3):
            out += draw(control())
    return out


@st.composite
def control(draw: st.DrawFn) -> bytes:
    """A valid PING or PONG (a CLOSE ends everything after it: see closing())."""
    opcode = draw(st.sampled_from([0x9, 0xA]))
    return draw(framed(0x80 | opcode, draw(st.binary(max_size=125))))


@st.composite
def closing(draw: st.DrawFn) -> bytes:
    code = draw(st.sampled_from([1000, 1001, 1011, 3000, 4999, 999, 1005, 1006, 5000]))
    reason = draw(st.text(max_size=20)).encode()[:100]
    payload = draw(st.sampled_from([b"", b"\x03", code.to_bytes(2, "big") + reason]))
    return draw(framed(0x88, payload))


@st.composite
def odd_frame(draw: st.DrawFn) -> bytes:
    """Any opcode, reserved bits, fin; a lying length; invalid UTF-8; unmasked."""
    data = draw(st.binary(max_size=200))
    if one_in(draw, 3):
        data = draw(st.binary(max_size=20)) + b"\xc3\x28" + draw(st.binary(max_size=5))
    first = draw(st.integers(0, 255))
    declared = None
    if one_in(draw, 3):
        declared = draw(st.sampled_from([MAX_MSG + 1, 2**16, 2**32, 2**62, 2**63, 2**64 - 1]))
    out = draw(framed(first, data, declared))
    if one_in(draw, 5):
        out = bytes([out[0], out[1] & 0x7F]) + out[2:]  # unmasked: a client must mask
    return out


@st.composite
def frames(draw: st.DrawFn, deflate: bool) -> bytes:
    units = st.one_of(message(deflate), message(deflate), control(), odd_frame())
    out = b"".join(draw(st.lists(units, min_size=1, max_size=5)))
    if one_in(draw, 4):
        out += draw(closing())
    return out


def _message_size(message: WSMessage) -> int:
    data = message.data
    if isinstance(data, str):
        return len(data.encode("utf-8"))
    return len(data) if isinstance(data, bytes) else 0


def _check_message(message: WSMessage) -> None:
    if message.type in (WSMsgType.TEXT, WSMsgType.BINARY):
        assert _message_size(message) <= MAX_MSG, message.type
    elif message.type in (WSMsgType.PING, WSMsgType.PONG):
        assert _message_size(message) <= 125


def read_frames(data: bytes, cuts: list[int], deflate: bool) -> tuple[list[WSMessage], int | None]:
    reader = FrameReader(max_msg_size=MAX_MSG, deflate=DeflateParams() if deflate else None)
    messages: list[WSMessage] = []
    code = None
    for piece in split(data, cuts):
        try:
            got = reader.feed(piece)
        except WebSocketProtocolError as exc:  # the one exception allowed out
            assert exc.code in CODES, exc.code
            got, code = exc.messages, exc.code
        for message in got:
            _check_message(message)
        messages += got
        if code is not None:
            break
        assert len(reader._buffer) <= MAX_BUFFERED
        assert len(reader._body) <= MAX_MSG
    return messages, code


@st.composite
def ws_input(draw: st.DrawFn) -> tuple[bytes, list[int], bool]:
    deflate = draw(st.booleans())
    data = draw(frames(deflate))
    if one_in(draw, 8):
        data = draw(mutated(st.just(data)))
    return data, draw(cuts_of(data)), deflate


def check_codec(data: bytes, cuts: list[int], deflate: bool) -> None:
    assert read_frames(data, cuts, deflate) == read_frames(data, [], deflate)


@st.composite
def huge_header(draw: st.DrawFn) -> bytes:
    opcode = draw(st.sampled_from([1, 2]))
    declared = draw(st.integers(MAX_MSG + (MAX_MSG >> 12) + 65, 2**63 - 1))
    return bytes([0x80 | opcode, 0xFF]) + declared.to_bytes(8, "big") + b"mask"


def _codec_test() -> Callable[[tuple[bytes, list[int], bool]], None]:
    @given(ws_input())
    def test(given_input: tuple[bytes, list[int], bool]) -> None:
        check_codec(*given_input)

    return test


test_websocket_codec = fuzz(250)(_codec_test())
test_websocket_codec_long = fuzz_long(50_000)(_codec_test())


@fuzz(50)
@given(huge_header())
def test_websocket_oversized_length_is_refused_from_the_header_alone(head: bytes) -> None:
    # Refused before a byte of payload arrives: nothing is buffered for it.
    with pytest.raises(WebSocketProtocolError) as info:
        FrameReader(max_msg_size=MAX_MSG).feed(head)
    assert info.value.code == 1009


# -- the native server over real sockets -------------------------------------------------

ANSWER_WITHIN = 2.0


async def echo(request: web.Request) -> web.Response:
    body = await request.read()
    return web.Response(text=f"{request.method} {request.path} {len(body)}")


@pytest.fixture(scope="module")
def native() -> Iterator[RunningServer]:
    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", echo)
    with serve(app, "native", lingering_time=0.5) as server:
        yield server


def _ends_within(port: int, data: bytes) -> None:
    """``data`` then a half-close: the server answers or closes within ANSWER_WITHIN."""
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN) as sock:
        try:
            sock.sendall(data)
            sock.shutdown(socket.SHUT_WR)
        except (BrokenPipeError, ConnectionResetError):
            return  # refused while we were still sending: closed
        deadline = time.monotonic() + ANSWER_WITHIN
        while True:
            sock.settimeout(max(deadline - time.monotonic(), 0.001))
            try:
                if not sock.recv(65536):
                    return
            except ConnectionResetError:
                return
            except TimeoutError:
                pytest.fail(f"no response and no close within {ANSWER_WITHIN} s: {data[:200]!r}")


def _still_serving(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port), timeout=ANSWER_WITHIN) as sock:
        sock.sendall(b"GET /alive HTTP/1.1\r\nHost: h\r\nConnection: close\r\n\r\n")
        response = b""
        while chunk := sock.recv(65536):
            response += chunk
    assert response.startswith(b"HTTP/1.1 200 "), response[:200]


def _server_test() -> Callable[[RunningServer, bytes], None]:
    @given(data=pipelined())
    def test(native: RunningServer, data: bytes) -> None:
        _ends_within(native.port, data)
        _still_serving(native.port)

    return test


# Hypothesis runs every example inside one test call: the module fixture is fine here.
test_native_server_ends_every_connection = fuzz(60)(_server_test())
test_native_server_ends_every_connection_long = fuzz_long(3000)(_server_test())
