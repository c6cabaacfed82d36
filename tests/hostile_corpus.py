"""Hostile HTTP/1.1 requests and what the native server answers (issue 16).

One table, two users: tests/functional/test_hostile_corpus.py sends each case over a real
socket to the native server; tests/unit/native_server/wire/test_parser_differential.py
feeds the same bytes to our parser, raw httptools and h11 and compares how each frames them.

Expected statuses follow RFC 9112/9110. Where aiohttp 3.13 (its default C parser, which is
llhttp; its Python parser where it differs) answers otherwise, the case says so and why we
follow the RFC instead. Where llhttp refuses something the RFC allows, the refusal (400) is
kept, since refusing is never a smuggling risk, and the case says so.
"""

from __future__ import annotations

from typing import NamedTuple


class Case(NamedTuple):
    """Bytes a client sends, and the native server's answer to them."""

    #: "<class>/<what>": the class of attack, then what this case tries.
    id: str
    #: Sent in this order, each in its own send (hence, usually, its own read).
    sends: tuple[bytes, ...]
    #: The status of each response, in order; () when the server answers nothing.
    statuses: tuple[int, ...]
    #: Whether the server closes the connection after those responses.
    closes: bool = True
    #: Bytes the last response must contain (the app echoes what it saw).
    expect_in: bytes = b""
    #: Half-close the connection after sending (the client says it sends no more).
    shut_wr: bool = False

    @property
    def data(self) -> bytes:
        return b"".join(self.sends)

    @property
    def kind(self) -> str:
        return self.id.partition("/")[0]


def ok(case_id: str, data: bytes, expect_in: bytes = b"", count: int = 1) -> Case:
    """A request (or ``count`` pipelined ones) answered normally, connection kept."""
    return Case(case_id, (data,), (200,) * count, closes=False, expect_in=expect_in)


def bad(case_id: str, *sends: bytes, status: int = 400, before: int = 0) -> Case:
    """Answered ``status`` and closed, after ``before`` normal answers."""
    return Case(case_id, sends, (200,) * before + (status,))


GET = b"GET /x HTTP/1.1\r\nHost: h.example\r\n"
POST = b"POST /x HTTP/1.1\r\nHost: h.example\r\n"
CHUNKED = POST + b"Transfer-Encoding: chunked\r\n\r\n"
GOOD = GET + b"\r\n"
SMUGGLED = b"GET /smuggled HTTP/1.1\r\nHost: h.example\r\n\r\n"


def chunked(te: bytes) -> bytes:
    return POST + b"Transfer-Encoding: " + te + b"\r\n\r\n3\r\nabc\r\n0\r\n\r\n"


def length(value: bytes, body: bytes = b"hello") -> bytes:
    return POST + b"Content-Length: " + value + b"\r\n\r\n" + body


def field(line: bytes) -> bytes:
    return GET + line + b"\r\n\r\n"


def version(token: bytes) -> bytes:
    return b"GET /x " + token + b"\r\nHost: h.example\r\n\r\n"


def pieces(data: bytes, size: int) -> tuple[bytes, ...]:
    return tuple(data[i : i + size] for i in range(0, len(data), size))


# Hosts, framing and limits, by class. Statuses: RFC 9112 unless a comment says otherwise.
CL_TE = [
    # RFC 9112 6.3: both present "ought to be handled as an error" (smuggling); we refuse,
    # as aiohttp and llhttp do, whichever comes first.
    bad("cl-te/length-then-chunked", POST + b"Content-Length: 5\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    bad("cl-te/chunked-then-length", POST + b"Transfer-Encoding: chunked\r\n"
        b"Content-Length: 5\r\n\r\n0\r\n\r\n"),
    bad("cl-te/length-hides-a-request-in-chunks", POST + b"Content-Length: 4\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"),
    bad("cl-te/length-zero-and-chunked", POST + b"Content-Length: 0\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n"),
    # RFC 9112 6.1: TE in HTTP/1.0 is a smuggling vector; the server must close after it.
    bad("cl-te/chunked-in-http10", b"POST /x HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n"
        b"%x\r\n" % len(SMUGGLED) + SMUGGLED + b"\r\n0\r\n\r\n"),
    # RFC 9110 6.5.1: a framing field in a trailer is ignored or an error: llhttp errs.
    bad("cl-te/length-in-trailer", CHUNKED + b"3\r\nabc\r\n0\r\nContent-Length: 5\r\n\r\n"),
    bad("cl-te/chunked-in-trailer", CHUNKED + b"3\r\nabc\r\n0\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n"),
    bad("cl-te/space-before-colon-te", POST + b"Content-Length: 3\r\n"
        b"Transfer-Encoding : chunked\r\n\r\nabc"),
]  # fmt: skip

CONTENT_LENGTH = [
    ok("content-length/leading-zeros-05", length(b"05"), expect_in=b"body=b'hello'"),
    ok("content-length/spaces-around", length(b"  5 "), expect_in=b"body=b'hello'"),
    # RFC 9110 8.6: Content-Length = 1*DIGIT; aiohttp checks the same (DIGITS, re.ASCII).
    bad("content-length/plus-sign", length(b"+5")),
    bad("content-length/negative", length(b"-5")),
    bad("content-length/two-numbers", length(b"5 5")),
    bad("content-length/arabic-indic-digit", length("\u0665".encode())),
    bad("content-length/fullwidth-digit", length("\uff15".encode())),
    bad("content-length/hex", length(b"0x5")),
    bad("content-length/decimal-point", length(b"5.0")),
    bad("content-length/empty", length(b"")),
    bad("content-length/nul-after-digit", length(b"5\x00")),
    # RFC 9110 8.6: guard against overflow in conversion; llhttp counts in 64 bits.
    bad("content-length/overflow-2**64", length(b"18446744073709551616")),
    bad("content-length/overflow-huge", length(b"9" * 40)),
    # RFC 9110 8.6 allows merging identical values; aiohttp and llhttp refuse any duplicate.
    bad("content-length/duplicate-equal", POST + b"Content-Length: 5\r\n"
        b"Content-Length: 5\r\n\r\nhello"),
    bad("content-length/duplicate-different", POST + b"Content-Length: 3\r\n"
        b"Content-Length: 5\r\n\r\nhello"),
    bad("content-length/list", length(b"5, 5")),
    bad("content-length/space-before-colon", POST + b"Content-Length : 5\r\n\r\nhello"),
    bad("content-length/folded", POST + b"Content-Length: 5\r\n 5\r\n\r\nhello"),
    # The bytes after a body are the next request: answered, then refused.
    bad("content-length/body-longer-than-length", length(b"3", b"abcdGET /x HTTP/1.1\r\n"
        b"Host: h\r\n\r\n"), before=1),
]  # fmt: skip

TRANSFER_ENCODING = [
    # RFC 9112 6.1: a coding we do not implement before chunked: SHOULD 501. aiohttp (both
    # parsers look at the last coding only) accepts it and hands the handler gzip bytes.
    bad("transfer-encoding/gzip-then-chunked", chunked(b"gzip, chunked"), status=501),
    bad("transfer-encoding/gzip-and-chunked-fields", POST + b"Transfer-Encoding: gzip\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", status=501),
    # RFC 9112 6.3: chunked not the final coding: MUST 400 and close (aiohttp: 400 too).
    bad("transfer-encoding/chunked-then-gzip", chunked(b"chunked, gzip")),
    bad("transfer-encoding/identity", chunked(b"identity")),
    bad("transfer-encoding/gzip-only", chunked(b"gzip")),
    bad("transfer-encoding/xchunked", chunked(b"xchunked")),
    bad("transfer-encoding/chunkedx", chunked(b"chunkedx")),
    bad("transfer-encoding/empty", chunked(b"")),
    # RFC 9112 6.1: chunked is never applied twice (aiohttp's C parser: 400; its Python
    # parser accepts). One field or two.
    bad("transfer-encoding/chunked-chunked", chunked(b"chunked, chunked")),
    bad("transfer-encoding/chunked-twice-in-two-fields", POST + b"Transfer-Encoding: "
        b"chunked\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n"),
    # llhttp refuses a trailing empty list element and a trailing tab, which RFC 9110
    # 5.6.1 and 5.5 would allow: a refusal, never a different framing.
    bad("transfer-encoding/chunked-trailing-comma", chunked(b"chunked,")),
    bad("transfer-encoding/chunked-trailing-tab", chunked(b"chunked\t")),
    bad("transfer-encoding/vertical-tab", chunked(b"\x0bchunked")),
    ok("transfer-encoding/chunked-trailing-space", chunked(b"chunked "), b"body=b'abc'"),
    ok("transfer-encoding/chunked-leading-tab", chunked(b"\tchunked"), b"body=b'abc'"),
    # RFC 9112 7: coding names are case-insensitive.
    ok("transfer-encoding/Chunked", chunked(b"Chunked"), b"body=b'abc'"),
    ok("transfer-encoding/CHUNKED", chunked(b"CHUNKED"), b"body=b'abc'"),
]  # fmt: skip

CHUNKS = [
    ok("chunk/extension", CHUNKED + b"3;a=b\r\nabc\r\n0\r\n\r\n", b"body=b'abc'"),
    ok("chunk/quoted-extension", CHUNKED + b'3;a="b c"\r\nabc\r\n0\r\n\r\n', b"body=b'abc'"),
    ok("chunk/leading-zeros", CHUNKED + b"0003\r\nabc\r\n000\r\n\r\n", b"body=b'abc'"),
    bad("chunk/size-overflow-20-digits", CHUNKED + b"ffffffffffffffffffff\r\nabc\r\n0\r\n\r\n"),
    bad("chunk/size-overflow-2**64", CHUNKED + b"10000000000000000\r\nabc\r\n0\r\n\r\n"),
    # RFC 9112 7.1.1: a bare CR or LF in an extension ends nothing: refuse (h11 and older
    # servers read the CR as part of the extension: a classic desync).
    bad("chunk/extension-bare-cr", CHUNKED + b"3;a=b\rc\r\nabc\r\n0\r\n\r\n"),
    bad("chunk/extension-bare-lf", CHUNKED + b"3;a=b\nc\r\nabc\r\n0\r\n\r\n"),
    bad("chunk/extension-quoted-crlf", CHUNKED + b'3;a="b\r\nc"\r\nabc\r\n0\r\n\r\n'),
    bad("chunk/extension-without-name", CHUNKED + b"3;\r\nabc\r\n0\r\n\r\n"),
    # RFC 9112 7.1 has no whitespace after the size without an extension; it allows BWS
    # before ";", which llhttp refuses (a refusal, aiohttp's C parser's too).
    bad("chunk/size-trailing-space", CHUNKED + b"3 \r\nabc\r\n0\r\n\r\n"),
    bad("chunk/size-space-before-extension", CHUNKED + b"3 ;a\r\nabc\r\n0\r\n\r\n"),
    bad("chunk/size-negative", CHUNKED + b"-3\r\nabc\r\n0\r\n\r\n"),
    bad("chunk/size-hex-prefix", CHUNKED + b"0x3\r\nabc\r\n0\r\n\r\n"),
    bad("chunk/size-empty", CHUNKED + b"\r\nabc\r\n0\r\n\r\n"),
    bad("chunk/size-not-hex", CHUNKED + b"g\r\nabc\r\n0\r\n\r\n"),
    bad("chunk/data-longer-than-size", CHUNKED + b"3\r\nabcdef\r\n0\r\n\r\n"),
    bad("chunk/data-without-crlf", CHUNKED + b"3\r\nabc0\r\n\r\n"),
    # RFC 9112 2.2: a bare LF MAY be accepted as a line end; llhttp (aiohttp's C parser
    # too) refuses it, the safe reading.
    bad("chunk/bare-lf-lines", CHUNKED + b"3\nabc\n0\n\n"),
    bad("chunk/split-size-line", CHUNKED + b"3", b"\r", b"\nab", b"c\r\n0\r", b"\nX\r\n\r\n"),
    Case("chunk/split-everywhere", pieces(CHUNKED + b"3;e=1\r\nabc\r\n0\r\nT: 1\r\n\r\n", 3),
         (200,), closes=False, expect_in=b"body=b'abc'"),
]  # fmt: skip

CR_NUL = [
    # RFC 9110 5.5: CR, LF and NUL in a field value are invalid: reject (or replace by SP).
    bad("cr-nul/bare-cr-in-value", field(b"X-A: a\rb")),
    bad("cr-nul/bare-cr-in-name", field(b"X-A\r: ab")),
    bad("cr-nul/nul-in-value", field(b"X-A: a\x00b")),
    bad("cr-nul/nul-in-name", field(b"X-\x00A: ab")),
    bad("cr-nul/ctl-in-value", field(b"X-A: a\x01b")),
    bad("cr-nul/del-in-value", field(b"X-A: a\x7fb")),
    bad("cr-nul/bare-cr-ends-request-line", b"GET /x HTTP/1.1\rHost: h\r\n\r\n"),
    bad("cr-nul/bare-cr-in-target", b"GET /a\rb HTTP/1.1\r\nHost: h\r\n\r\n"),
    bad("cr-nul/nul-in-target", b"GET /a\x00b HTTP/1.1\r\nHost: h\r\n\r\n"),
    bad("cr-nul/bare-lf-line-ends", b"GET /x HTTP/1.1\nHost: h\n\n"),
    bad("cr-nul/bare-lf-after-field", GET + b"X: y\n\r\n"),
    bad("cr-nul/bare-cr-in-host", GET.replace(b"h.example", b"h.exa\rmple") + b"\r\n"),
    # obs-text (0x80-0xFF) is allowed in a value; a tab is whitespace.
    ok("cr-nul/obs-text-in-value", field(b"X-A: caf\xe9")),
    ok("cr-nul/tab-in-value", field(b"X-A: a\tb")),
]  # fmt: skip

OBS_FOLD = [
    # RFC 9112 5.2: a server MUST reject obs-fold with 400 or replace it with SP. aiohttp's
    # server parser is strict (its lax mode is for responses): 400.
    bad("obs-fold/space", GET + b"X-A: a\r\n b\r\n\r\n"),
    bad("obs-fold/tab", GET + b"X-A: a\r\n\tb\r\n\r\n"),
    bad("obs-fold/folded-host", b"GET /x HTTP/1.1\r\nHost: a\r\n .evil\r\n\r\n"),
    bad("obs-fold/folded-transfer-encoding", POST + b"Transfer-Encoding: gzip\r\n chunked\r\n"
        b"\r\n3\r\nabc\r\n0\r\n\r\n"),
    # RFC 9112 2.2: whitespace before the first field: reject (or ignore the line).
    bad("obs-fold/before-first-field", b"GET /x HTTP/1.1\r\n Host: h\r\n\r\n"),
    bad("obs-fold/in-trailer", CHUNKED + b"3\r\nabc\r\n0\r\nT: a\r\n b\r\n\r\n"),
]  # fmt: skip

WS_BEFORE_COLON = [
    # RFC 9112 5.1: whitespace between name and colon: MUST 400.
    bad("ws-before-colon/space", field(b"X-A : b")),
    bad("ws-before-colon/tab", field(b"X-A\t: b")),
    bad("ws-before-colon/host", b"GET /x HTTP/1.1\r\nHost : h\r\n\r\n"),
    bad("ws-before-colon/in-trailer", CHUNKED + b"3\r\nabc\r\n0\r\nT : 1\r\n\r\n"),
    bad("ws-before-colon/empty-name", field(b": b")),
    bad("ws-before-colon/no-colon", field(b"X-A b")),
    ok("ws-before-colon/none-after", field(b"X-A:b")),
]  # fmt: skip

HOST = [
    # RFC 9112 3.2: exactly one Host in HTTP/1.1, a valid one: otherwise MUST 400.
    bad("host/duplicate", b"GET /x HTTP/1.1\r\nHost: a\r\nHost: b\r\n\r\n"),
    bad("host/duplicate-equal", b"GET /x HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n"),
    bad("host/duplicate-other-case", b"GET /x HTTP/1.1\r\nHost: a\r\nhOST: b\r\n\r\n"),
    bad("host/missing", b"GET /x HTTP/1.1\r\n\r\n"),
    bad("host/space-and-at", b"GET /x HTTP/1.1\r\nHost: a b@evil\r\n\r\n"),
    bad("host/userinfo", b"GET /x HTTP/1.1\r\nHost: a@evil\r\n\r\n"),
    bad("host/path", b"GET /x HTTP/1.1\r\nHost: evil/x\r\n\r\n"),
    bad("host/bad-port", b"GET /x HTTP/1.1\r\nHost: h:8o\r\n\r\n"),
    bad("host/backslash", b"GET /x HTTP/1.1\r\nHost: a\\evil\r\n\r\n"),
    bad("host/unclosed-ipv6", b"GET /x HTTP/1.1\r\nHost: [::1\r\n\r\n"),
    bad("host/utf8", "GET /x HTTP/1.1\r\nHost: h\u00e9.example\r\n\r\n".encode()),
    ok("host/empty", b"GET /x HTTP/1.1\r\nHost: \r\n\r\n"),
    ok("host/port", b"GET /x HTTP/1.1\r\nHost: h.example:8080\r\n\r\n", b"host=h.example:8080"),
    ok("host/ipv6", b"GET /x HTTP/1.1\r\nHost: [::1]:80\r\n\r\n", b"host=[::1]:80"),
    ok("host/http10-without", b"GET /x HTTP/1.0\r\nConnection: keep-alive\r\n\r\n"),
]  # fmt: skip

ABSOLUTE_FORM = [
    # RFC 9112 3.2.2: an origin server MUST ignore Host and use the target's host.
    # (aiohttp keeps Host's: request.host is the Host header whatever the target says.)
    ok("absolute-form/host-from-target", b"GET http://target.example/p?q=1 HTTP/1.1\r\n"
       b"Host: other.example\r\n\r\n", b"host=target.example path=/p"),
    ok("absolute-form/userinfo-dropped", b"GET http://user@target.example/p HTTP/1.1\r\n"
       b"Host: other.example\r\n\r\n", b"host=target.example path=/p"),
    ok("absolute-form/no-path", b"GET http://target.example HTTP/1.1\r\nHost: o\r\n\r\n",
       b"host=target.example path=/"),
    ok("absolute-form/upper-case-scheme", b"GET HTTP://target.example/p HTTP/1.1\r\n"
       b"Host: o\r\n\r\n", b"host=target.example path=/p"),
    ok("absolute-form/double-slash-origin-form", b"GET //evil.example/p HTTP/1.1\r\n"
       b"Host: h.example\r\n\r\n", b"host=h.example path=//evil.example/p"),
    bad("absolute-form/no-host", b"GET http:///p HTTP/1.1\r\nHost: h\r\n\r\n"),
    # RFC 9112 3.2.3/3.2.4: authority-form is CONNECT's, asterisk-form OPTIONS'.
    bad("absolute-form/authority-form-get", b"GET h.example:80 HTTP/1.1\r\nHost: h\r\n\r\n"),
    bad("absolute-form/asterisk-get", b"GET * HTTP/1.1\r\nHost: h\r\n\r\n"),
]  # fmt: skip

VERSION = [
    # llhttp reads a request line without a version as HTTP/0.9, which we do not serve:
    # 505. (RFC 9112 3 would have 400 for a request line without a version; llhttp does
    # not tell the two apart. aiohttp's C parser serves it as HTTP/0.9, its Python one 400.)
    bad("version/http09-request-line", b"GET /x\r\n\r\n", status=505),
    bad("version/http-0.9", version(b"HTTP/0.9"), status=505),
    # RFC 9110 15.6.6: a major version we do not support: 505. aiohttp serves an HTTP/2.0
    # request line (both its parsers accept it).
    bad("version/http-2.0", version(b"HTTP/2.0"), status=505),
    # llhttp knows 0.9, 1.0, 1.1 and 2.0 only: 400 for the rest. RFC 9110 2.5 says a higher
    # minor version SHOULD be served as 1.1, and 15.6.6 505 for HTTP/3.0; aiohttp's C parser
    # answers 400 as we do (its Python parser serves 1.2 and 3.0).
    bad("version/http-1.2", version(b"HTTP/1.2")),
    bad("version/http-3.0", version(b"HTTP/3.0")),
    bad("version/http-1.1x", version(b"HTTP/1.1x")),
    bad("version/http-1.10", version(b"HTTP/1.10")),
    bad("version/http-1", version(b"HTTP/1")),
    bad("version/lower-case-http", version(b"http/1.1")),  # RFC 9112 2.3: case-sensitive
    bad("version/trailing-space", version(b"HTTP/1.1 ")),
    bad("version/missing-after-space", version(b"")),
    bad("version/h2-preface", b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n"),
]  # fmt: skip

METHOD = [
    # llhttp knows a fixed list of methods and refuses others with 400, aiohttp's C parser
    # too. RFC 9110 9.1 would answer an unknown (well-formed) method 501: a refusal either way.
    bad("method/unknown-token", b"FOO /x HTTP/1.1\r\nHost: h\r\n\r\n"),
    bad("method/lower-case", b"get /x HTTP/1.1\r\nHost: h\r\n\r\n"),  # methods are case-sensitive
    bad("method/not-a-token", b"G@T /x HTTP/1.1\r\nHost: h\r\n\r\n"),
    bad("method/empty", b" /x HTTP/1.1\r\nHost: h\r\n\r\n"),
    bad("method/tab-separator", b"GET\t/x HTTP/1.1\r\nHost: h\r\n\r\n"),
    bad("method/nul", b"G\x00T /x HTTP/1.1\r\nHost: h\r\n\r\n"),
    bad("method/garbage-bytes", b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03"),  # TLS hello
    bad("method/space-in-target", b"GET /a b HTTP/1.1\r\nHost: h\r\n\r\n"),
    # RFC 9112 3: a recipient MAY split on any run of whitespace; llhttp does.
    ok("method/double-space", b"GET  /x HTTP/1.1\r\nHost: h\r\n\r\n"),
    # RFC 9112 2.2: empty lines before a request line SHOULD be ignored.
    ok("method/leading-crlf", b"\r\n\r\n" + GOOD),
]  # fmt: skip

_LONG = b"/" + b"a" * 9000
REQUEST_LINE = [
    # RFC 9112 3: a target longer than we parse: MUST 414. aiohttp answers 400 (LineTooLong).
    bad("request-line/target-over-8190", b"GET " + _LONG + b" HTTP/1.1\r\nHost: h\r\n\r\n",
        status=414),
    bad("request-line/target-over-8190-split", *pieces(b"GET " + _LONG + b" HTTP/1.1\r\n"
        b"Host: h\r\n\r\n", 1000), status=414),
    bad("request-line/target-never-terminated", *pieces(b"GET /" + b"a" * 64000, 4000),
        status=414),
    bad("request-line/method-never-terminated", *pieces(b"GET" * 20000, 4000)),
    bad("request-line/spaces-never-terminated", *pieces(b"GET " + b" " * 64000, 4000)),
    ok("request-line/target-at-8190", b"GET /" + b"a" * 8189 + b" HTTP/1.1\r\nHost: h\r\n\r\n"),
    ok("request-line/many-leading-crlf", b"\r\n" * 40000 + GOOD),
]  # fmt: skip

_FILLER = b"X-Filler-%03d: " + b"f" * 8000 + b"\r\n"
HEADER_LIMITS = [
    # 400, not 431, for one field too long or too many fields: aiohttp's status and reason
    # (RFC 6585 offers 431, requires nothing); 431 for a whole head over its bound, 64 KiB
    # or room for a request line and four fields at their limits: 72 KiB by default.
    bad("header-limits/value-over-8190", field(b"X-Big: " + b"v" * 8191)),
    bad("header-limits/name-over-8190", field(b"N" * 8191 + b": v")),
    ok("header-limits/value-at-8190", field(b"X-Big: " + b"v" * 8190)),
    bad("header-limits/value-never-terminated", *pieces(GET + b"X-Big: " + b"v" * 64000, 4000)),
    bad("header-limits/name-never-terminated", *pieces(GET + b"X" * 64000, 4000)),
    bad("header-limits/129-fields", GET + b"".join(b"X-%d: v\r\n" % i for i in range(128))
        + b"\r\n"),
    ok("header-limits/128-fields", GET + b"".join(b"X-%d: v\r\n" % i for i in range(127))
       + b"\r\n"),
    bad("header-limits/head-over-72k", GET + b"".join(_FILLER % i for i in range(10))
        + b"\r\n", status=431),
    bad("header-limits/head-over-72k-split", *pieces(GET + b"".join(_FILLER % i
        for i in range(10)) + b"\r\n", 1500), status=431),
    bad("header-limits/head-never-terminated", GET, *(_FILLER % i for i in range(100)),
        status=431),
    bad("header-limits/fields-trickled", GET, *(b"X-%d: v\r\n" % i for i in range(140))),
]  # fmt: skip

TRAILERS = [
    # RFC 9110 6.5.1: trailers never merge into the header section; we drop them.
    ok("trailer/host-never-reaches-headers", CHUNKED + b"3\r\nabc\r\n0\r\nHost: evil.example"
       b"\r\n\r\n", b"host=h.example path=/x hosts=1"),
    ok("trailer/field-never-reaches-headers", CHUNKED + b"3\r\nabc\r\n0\r\nX-Injected: 1"
       b"\r\n\r\n", b"injected=None"),
    bad("trailer/129-fields", CHUNKED + b"0\r\n" + b"".join(b"T-%d: v\r\n" % i
        for i in range(129)) + b"\r\n"),
    bad("trailer/over-72k", CHUNKED + b"0\r\n" + b"".join(_FILLER % i for i in range(10))
        + b"\r\n", status=431),
    bad("trailer/line-never-terminated", CHUNKED + b"0\r\nT: ", *pieces(b"t" * 64000, 4000)),
    bad("trailer/bare-cr", CHUNKED + b"0\r\nT: a\rb\r\n\r\n"),
    bad("trailer/nul", CHUNKED + b"0\r\nT: a\x00b\r\n\r\n"),
    bad("trailer/no-colon", CHUNKED + b"0\r\nT\r\n\r\n"),
    bad("trailer/bad-final-line", CHUNKED + b"0\r\n\rX"),
]  # fmt: skip

PIPELINE = [
    # RFC 9112 9.3.2: responses in request order; the requests before a bad one are
    # answered, then the error, then the connection closes.
    bad("pipeline/two-good-then-garbage", GOOD + GOOD + b"BAD\r\n\r\n", before=2),
    bad("pipeline/good-then-bad-in-separate-reads", GOOD, GOOD, b"GET /x HTTP/1.1\r\n\r\n",
        before=2),
    bad("pipeline/slow-then-good-then-bad", b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n", GOOD,
        b"BAD\r\n\r\n", before=2),
    bad("pipeline/twenty-good-then-bad", GOOD * 20 + b"GET /x HTTP/1.1\r\nHost: a\r\n"
        b"Host: b\r\n\r\n", before=20),
    bad("pipeline/good-then-cl-te", GOOD + POST + b"Content-Length: 3\r\n"
        b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n", before=1),
    bad("pipeline/good-then-broken-chunks", GOOD + CHUNKED + b"3\r\nabc\r\nzz\r\n", before=1),
    bad("pipeline/slow-then-broken-chunks", b"GET /slow HTTP/1.1\r\nHost: h\r\n\r\n",
        CHUNKED + b"3\r\nabc\r\nzz\r\n", before=1),
    bad("pipeline/body-then-smuggled-te", length(b"5") + POST + b"Transfer-Encoding: "
        b"chunked, gzip\r\n\r\n0\r\n\r\n" + SMUGGLED, before=1),
    ok("pipeline/fifty-good", GOOD * 50, count=50),
    # RFC 9112 9.6: after Connection: close, answer that request, then close; whatever
    # follows is never served (it used to be answered 400 instead of the request).
    Case("pipeline/after-connection-close", (GET + b"Connection: close\r\n\r\n" + GOOD
         + SMUGGLED,), (200,)),
    Case("pipeline/after-http10", (b"GET /x HTTP/1.0\r\n\r\n" + SMUGGLED,), (200,)),
    Case("pipeline/head-then-half-close", (GET + b"X-A: 1\r\n",), (), shut_wr=True),
]  # fmt: skip

CORPUS: list[Case] = [
    *CL_TE,
    *CONTENT_LENGTH,
    *TRANSFER_ENCODING,
    *CHUNKS,
    *CR_NUL,
    *OBS_FOLD,
    *WS_BEFORE_COLON,
    *HOST,
    *ABSOLUTE_FORM,
    *VERSION,
    *METHOD,
    *REQUEST_LINE,
    *HEADER_LIMITS,
    *TRAILERS,
    *PIPELINE,
]
