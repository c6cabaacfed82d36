"""The multipart reader and form parser, fed from memory a chunk (or a byte) at a time."""

from __future__ import annotations

import asyncio
import base64
import binascii
import gzip
import tempfile
import zlib
from collections.abc import Coroutine
from typing import Any, TypeVar

import httpx
import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from asgiweb.exceptions import HTTPRequestEntityTooLarge
from asgiweb.helpers import HttpVersion11
from asgiweb.http.mime import parse_header_params
from asgiweb.multipart import (
    BodyPartReader,
    DecompressSizeError,
    FileField,
    HeaderLimitError,
    MultipartError,
    MultipartReader,
    read_form,
)
from asgiweb.request import BaseRequest
from asgiweb.streams import StreamReader
from asgiweb.transport import RequestHead

T = TypeVar("T")
BOUNDARY = "Xyz0"
CTYPE = f"multipart/form-data; boundary={BOUNDARY}"


def run(coro: Coroutine[Any, Any, T]) -> T:
    # A hang is a failure here: every body below is complete or visibly truncated.
    return asyncio.run(asyncio.wait_for(coro, timeout=10))


def stream(data: bytes, step: int = 0, *, eof: bool = True) -> StreamReader:
    """A fed StreamReader; ``step`` splits the data into pieces of that size."""
    reader = StreamReader()
    step = step or max(len(data), 1)
    for i in range(0, len(data), step):
        reader.feed_data(data[i : i + step])
    if eof:
        reader.feed_eof()
    return reader


def part(headers: str, data: bytes) -> bytes:
    head = "".join(f"{line}\r\n" for line in headers.splitlines() if line)
    return head.encode() + b"\r\n" + data


def body(
    *parts: bytes, boundary: str = BOUNDARY, preamble: bytes = b"", epilogue: bytes = b""
) -> bytes:
    dash = b"--" + boundary.encode()
    out = preamble + b"".join(dash + b"\r\n" + p + b"\r\n" for p in parts)
    return out + dash + b"--\r\n" + epilogue


def reader(data: bytes, step: int = 0, ctype: str = CTYPE, **kwargs: Any) -> MultipartReader:
    return MultipartReader({"Content-Type": ctype}, stream(data, step), **kwargs)


async def read_all(mp: MultipartReader) -> list[tuple[dict[str, str], bytes]]:
    out = []
    async for item in mp:
        assert isinstance(item, BodyPartReader)
        out.append((dict(item.headers), await item.read()))
    assert mp.at_eof()
    return out


async def first_part(data: bytes, **kwargs: Any) -> BodyPartReader:
    item = await reader(data, **kwargs).next()
    assert isinstance(item, BodyPartReader)
    return item


def make_request(
    data: bytes, ctype: str = CTYPE, *, step: int = 0, client_max_size: int = 1024**2
) -> BaseRequest:
    headers = CIMultiDictProxy(CIMultiDict({"Content-Type": ctype}))
    head = RequestHead("POST", "/", "", HttpVersion11, headers, ())
    return BaseRequest(head, stream(data, step), sink=None, client_max_size=client_max_size)  # type: ignore[arg-type]


def httpx_form(**kwargs: Any) -> tuple[bytes, str]:
    request = httpx.Request("POST", "http://x", **kwargs)
    return request.read(), request.headers["content-type"]


HTTPX_FORM = httpx_form(
    data={"title": "héllo wörld", "tags": ["a", "b"], "empty": ""},
    files={
        "doc": ("report €.txt", b"line 1\r\nline 2\r\n--not a boundary\r\n", "text/plain"),
        "blob": ("data.bin", bytes(range(256)) * 4, "application/octet-stream"),
    },
)


# -- an independent encoder ----------------------------------------------------------------
@pytest.mark.parametrize("step", [0, 1, 2, 5, 64, 4096])
def test_httpx_body_part_by_part(step: int) -> None:
    data, ctype = HTTPX_FORM

    async def main() -> list[tuple[str | None, str | None, bytes]]:
        out = []
        async for item in reader(data, step, ctype):
            assert isinstance(item, BodyPartReader)
            out.append((item.name, item.filename, await item.read()))
        return out

    assert run(main()) == [
        ("title", None, "héllo wörld".encode()),
        ("tags", None, b"a"),
        ("tags", None, b"b"),
        ("empty", None, b""),
        ("doc", "report €.txt", b"line 1\r\nline 2\r\n--not a boundary\r\n"),
        ("blob", "data.bin", bytes(range(256)) * 4),
    ]


@pytest.mark.parametrize("step", [0, 1, 7])
def test_read_form_httpx(step: int) -> None:
    data, ctype = HTTPX_FORM
    form = run(read_form(make_request(data, ctype, step=step)))
    assert form.getall("tags") == ["a", "b"]
    assert form["title"] == "héllo wörld" and form["empty"] == ""
    doc = form["doc"]
    assert isinstance(doc, FileField)
    assert (doc.name, doc.filename, doc.content_type) == ("doc", "report €.txt", "text/plain")
    assert doc.headers["Content-Type"] == "text/plain"
    assert doc.file.read() == b"line 1\r\nline 2\r\n--not a boundary\r\n"
    blob = form["blob"]
    assert isinstance(blob, FileField) and blob.file.tell() == 0
    assert blob.file.read() == bytes(range(256)) * 4
    for value in form.values():
        if isinstance(value, FileField):
            value.file.close()


def test_data_arriving_while_reading() -> None:
    data, ctype = HTTPX_FORM

    async def main() -> list[tuple[dict[str, str], bytes]]:
        content = StreamReader()

        async def feed() -> None:
            for i in range(0, len(data), 100):
                await asyncio.sleep(0)
                content.feed_data(data[i : i + 100])
            content.feed_eof()

        feeder = asyncio.create_task(feed())
        parts = await read_all(MultipartReader({"Content-Type": ctype}, content))
        await feeder
        return parts

    assert len(run(main())) == 6


def test_pulled_body_as_under_asgi() -> None:
    data, ctype = HTTPX_FORM
    pieces = [data[i : i + 1000] for i in range(0, len(data), 1000)]

    async def pull(content: StreamReader) -> None:
        await asyncio.sleep(0)
        if pieces:
            content.feed_data(pieces.pop(0))
        else:
            content.feed_eof()

    async def main() -> list[tuple[dict[str, str], bytes]]:
        return await read_all(MultipartReader({"Content-Type": ctype}, StreamReader(pull=pull)))

    assert [payload for _, payload in run(main())][-1] == bytes(range(256)) * 4


# -- RFC 2046 framing ------------------------------------------------------------------------
def test_preamble_epilogue_and_transport_padding() -> None:
    data = (
        b"This is the preamble.\r\n--Xyz is not the boundary\r\n"
        b"--Xyz0 \t\r\n\r\nfirst\r\n--Xyz0\r\nA: b\r\n\r\nsecond\r\n--Xyz0-- trailing\r\n"
        b"epilogue --Xyz0\r\n"
    )
    assert run(read_all(reader(data))) == [({}, b"first"), ({"A": "b"}, b"second")]


def test_body_starting_with_crlf_delimiter() -> None:
    assert run(read_all(reader(b"\r\n" + body(part("", b"x"))))) == [({}, b"x")]


def test_dash_boundary_without_crlf_inside_preamble_is_preamble() -> None:
    # "pre--Xyz0" does not start a line, so the first delimiter is the closing one.
    data = b"pre--Xyz0\r\n\r\nnot a part\r\n--Xyz0--\r\n"
    assert run(read_all(reader(data))) == []


@pytest.mark.parametrize("step", [0, 1, 3])
def test_boundary_like_bytes_inside_data_are_data(step: int) -> None:
    tricky = (
        b"--Xyz0 at the start, a--Xyz0 mid-line, \r\n-Xyz0, \r\n--Xyz, \n--Xyz0, "
        b"\r--Xyz0 and ends with a partial delimiter \r\n--Xyz"
    )
    data = body(part("", tricky), part("", b"\r\n"), part("", b""))
    assert run(read_all(reader(data, step))) == [({}, tricky), ({}, b"\r\n"), ({}, b"")]


def test_boundary_followed_by_more_characters_is_data() -> None:
    # RFC 2046 5.1.1: a delimiter line is the boundary, optional whitespace and CRLF (or
    # "--"); "--Xyz0garbage" is no such line, as "--Xyz0-inner" might be a nested part's.
    data = body(part("", b"x\r\n--Xyz0garbage\r\nmore\r\n--Xyz0-\r\n--Xyz0 x"))
    assert run(read_all(reader(data))) == [
        ({}, b"x\r\n--Xyz0garbage\r\nmore\r\n--Xyz0-\r\n--Xyz0 x")
    ]


def test_part_without_headers_and_empty_body_fields() -> None:
    assert run(read_all(reader(b"--Xyz0\r\n\r\n\r\n--Xyz0--"))) == [({}, b"")]


def test_next_after_the_end_and_release() -> None:
    async def main() -> None:
        mp = reader(body(part("", b"one"), part("", b"two"), part("", b"three")))
        assert not mp.at_eof()
        first = await mp.next()
        assert isinstance(first, BodyPartReader)
        assert await first.read_chunk(2) == b"on"
        second = await mp.next()  # skips the rest of the first part
        assert isinstance(second, BodyPartReader) and await second.read() == b"two"
        assert first.at_eof() and second.at_eof()
        await mp.release()
        assert mp.at_eof()
        assert await mp.next() is None

    run(main())


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"no boundary at all",
        b"--Xyz0",
        b"--Xyz0\r\n",
        b"--Xyz0\r\nA: b",
        b"--Xyz0\r\nA: b\r\n",
        b"--Xyz0\r\n\r\nhalf a part",
        b"--Xyz0\r\n\r\ndata\r\n--Xyz",
        b"--Xyz0\r\n\r\ndata\r\n--Xyz0",
        b"--Xyz0\r\n\r\ndata\r\n--Xyz0-",
    ],
)
def test_truncated_bodies_raise(data: bytes) -> None:
    with pytest.raises(MultipartError):
        run(read_all(reader(data)))


def test_every_truncation_of_a_body_raises() -> None:
    data = body(part('Content-Disposition: form-data; name="a"', b"value\r\n"), part("", b"z"))
    complete = data.index(b"--Xyz0--") + len(b"--Xyz0--")
    for cut in range(complete):
        with pytest.raises(MultipartError):
            run(read_all(reader(data[:cut], 1)))
    assert len(run(read_all(reader(data[:complete], 1)))) == 2


@pytest.mark.parametrize(
    "ctype",
    [
        "multipart/form-data",
        "multipart/form-data; boundary=",
        "multipart/form-data; boundary=" + "a" * 71,
        'multipart/form-data; boundary="ends with space "',
        "multipart/form-data; boundary=bad\x01char",
        'multipart/form-data; boundary="a"; boundary="b"',
        "text/plain; boundary=abc",
        'multipart/form-data; boundary="unterminated',
    ],
)
def test_invalid_boundary(ctype: str) -> None:
    with pytest.raises(ValueError):
        reader(b"", ctype=ctype)


def test_missing_content_type() -> None:
    with pytest.raises(MultipartError, match="Content-Type"):
        MultipartReader({}, stream(b""))


def test_boundary_quoted_with_special_characters() -> None:
    ctype = 'multipart/mixed; boundary="a\'()+_,-./:=? z"; charset=utf-8'
    data = body(part("", b"ok"), boundary="a'()+_,-./:=? z")
    assert run(read_all(reader(data, 1, ctype))) == [({}, b"ok")]


# -- nested multipart ------------------------------------------------------------------------
NESTED = body(
    part('Content-Disposition: form-data; name="before"', b"1"),
    part(
        'Content-Disposition: form-data; name="files"\nContent-Type: multipart/mixed; boundary=In',
        body(
            part('Content-Disposition: file; filename="a.txt"', b"A\r\n--Xyz"),
            part('Content-Disposition: file; filename="b.txt"', b"B"),
            boundary="In",
            preamble=b"inner preamble\r\n",
            epilogue=b"inner epilogue",
        ),
    ),
    part('Content-Disposition: form-data; name="after"', b"2"),
)


@pytest.mark.parametrize("step", [0, 1, 4])
def test_nested_multipart(step: int) -> None:
    async def main() -> list[Any]:
        out: list[Any] = []
        async for item in reader(NESTED, step):
            if isinstance(item, MultipartReader):
                assert item.headers["Content-Disposition"] == 'form-data; name="files"'
                inner = [
                    (p.filename, await p.read())
                    async for p in item
                    if isinstance(p, BodyPartReader)
                ]
                out.append(inner)
                assert item.at_eof()
            else:
                out.append((item.name, await item.read()))
        return out

    assert run(main()) == [
        ("before", b"1"),
        [("a.txt", b"A\r\n--Xyz"), ("b.txt", b"B")],
        ("after", b"2"),
    ]


def test_unread_nested_multipart_is_skipped() -> None:
    async def main() -> list[str | None]:
        names = []
        async for item in reader(NESTED, 3):
            if isinstance(item, BodyPartReader):
                names.append(item.name)
            else:
                first = await item.next()
                assert isinstance(first, BodyPartReader)
                assert await first.read_chunk(1) == b"A"
        return names

    assert run(main()) == ["before", "after"]


def test_read_form_rejects_nested_multipart() -> None:
    with pytest.raises(MultipartError, match="nested"):
        run(read_form(make_request(NESTED)))


# -- reading a part --------------------------------------------------------------------------
@pytest.mark.parametrize("size", [1, 2, 3, 7, 8192])
def test_read_chunk_never_returns_delimiter_bytes(size: int) -> None:
    payload = b"x" * 50 + b"\r\n--Xyz" + b"\r" + b"\r\n--Xyz"  # ends with most of a delimiter

    async def main() -> list[bytes]:
        item = await first_part(body(part("", payload), part("", b"next")), step=5)
        chunks = []
        while chunk := await item.read_chunk(size):
            assert len(chunk) <= size
            chunks.append(chunk)
        assert item.at_eof() and await item.read_chunk(size) == b""
        return chunks

    chunks = run(main())
    assert b"".join(chunks) == payload
    assert all(len(c) == size for c in chunks[:-1])


def test_readline() -> None:
    async def main() -> list[bytes]:
        item = await first_part(body(part("", b"one\ntwo\r\n\nlast"), part("", b"x")), step=2)
        lines = []
        while line := await item.readline():
            lines.append(line)
        return lines

    assert run(main()) == [b"one\n", b"two\r\n", b"\n", b"last"]


@pytest.mark.parametrize(
    ("headers", "data", "method", "kwargs", "expected"),
    [
        ("Content-Type: text/plain; charset=latin-1", "café".encode("latin-1"), "text", {}, "café"),
        ("", "naïve".encode("utf-16"), "text", {"encoding": "utf-16"}, "naïve"),
        ("Content-Type: application/json", b'{"a": [1, 2]}', "json", {}, {"a": [1, 2]}),
        ("", b"", "json", {}, None),
        (
            "Content-Type: application/x-www-form-urlencoded",
            b"a=1&b=&a=%E2%82%AC+x\r\n",
            "form",
            {},
            [("a", "1"), ("b", ""), ("a", "€ x")],
        ),
        ("", b"", "form", {}, []),
        ("Content-Transfer-Encoding: base64", base64.b64encode("é".encode()), "text", {}, "é"),
    ],
)
def test_text_json_form_helpers(
    headers: str, data: bytes, method: str, kwargs: dict[str, str], expected: Any
) -> None:
    async def main() -> Any:
        item = await first_part(body(part(headers, data), part("", b"next")), step=3)
        return await getattr(item, method)(**kwargs)

    assert run(main()) == expected


# -- Content-Transfer-Encoding and Content-Encoding ------------------------------------------
PAYLOAD = ("Grüße = ünïcode ✓ " * 300).encode()


def _qp(data: bytes) -> bytes:
    return binascii.b2a_qp(data, istext=False)


ENCODINGS = {
    "base64": ("Content-Transfer-Encoding: base64", base64.encodebytes(PAYLOAD)),
    "base64 one line": ("Content-Transfer-Encoding: BASE64", base64.b64encode(PAYLOAD)),
    "quoted-printable": ("Content-Transfer-Encoding: quoted-printable", _qp(PAYLOAD)),
    "binary": ("Content-Transfer-Encoding: binary", PAYLOAD),
    "8bit": ("Content-Transfer-Encoding: 8bit", PAYLOAD),
    "7bit": ("Content-Transfer-Encoding: 7bit", PAYLOAD),
    "gzip": ("Content-Encoding: gzip", gzip.compress(PAYLOAD, mtime=0)),
    "deflate zlib": ("Content-Encoding: deflate", zlib.compress(PAYLOAD)),
    "deflate raw": ("Content-Encoding: deflate", zlib.compress(PAYLOAD, wbits=-15)),
    "identity": ("Content-Encoding: identity", PAYLOAD),
    "base64 gzip": (
        "Content-Transfer-Encoding: base64\nContent-Encoding: gzip",
        base64.encodebytes(gzip.compress(PAYLOAD, mtime=0)),
    ),
}


@pytest.mark.parametrize("name", list(ENCODINGS))
@pytest.mark.parametrize("step", [0, 1, 3])
def test_decoding(name: str, step: int) -> None:
    headers, encoded = ENCODINGS[name]

    async def main() -> tuple[bytes, bytes, bytes]:
        item = await first_part(body(part(headers, encoded)), step=step)
        raw = await item.read()
        decoded_later = await item.decode(raw)
        again = await first_part(body(part(headers, encoded)), step=step)
        return raw, decoded_later, await again.read(decode=True)

    raw, decoded_later, decoded = run(main())
    assert raw == encoded
    assert decoded == decoded_later == PAYLOAD


@pytest.mark.parametrize("name", list(ENCODINGS))
def test_read_form_decodes_files_streaming(name: str) -> None:
    headers, encoded = ENCODINGS[name]
    cd = 'Content-Disposition: form-data; name="f"; filename="f.txt"'
    form = run(read_form(make_request(body(part(f"{cd}\n{headers}", encoded)), step=1000)))
    value = form["f"]
    assert isinstance(value, FileField)
    with value.file:
        assert value.file.read() == PAYLOAD


def test_quoted_printable_soft_breaks_split_between_chunks() -> None:
    encoded = b"a=3D=\r\nb=C3=A9=\r\n=\r\nc"
    item = run(first_part(body(part("Content-Transfer-Encoding: quoted-printable", encoded))))
    assert run(item.decode(encoded)) == "a=béc".encode()
    for step in range(1, len(encoded)):
        form = run(
            read_form(
                make_request(
                    body(
                        part(
                            'Content-Disposition: form-data; name="q"\n'
                            "Content-Transfer-Encoding: quoted-printable",
                            encoded,
                        )
                    ),
                    step=step,
                )
            )
        )
        assert form["q"] == "a=béc"


@pytest.mark.parametrize(
    ("headers", "data", "message"),
    [
        ("Content-Transfer-Encoding: x-uuencode", b"x", "unknown Content-Transfer-Encoding"),
        ("Content-Encoding: br", b"x", "unknown Content-Encoding"),
        ("Content-Transfer-Encoding: base64", b"aGVsbG8", "4-character group"),
        ("Content-Transfer-Encoding: base64", b"aGV*bG8=", "invalid base64"),
        ("Content-Encoding: gzip", gzip.compress(PAYLOAD, mtime=0)[:-20], "truncated"),
        ("Content-Encoding: gzip", b"not gzip at all", "invalid gzip"),
        ("Content-Encoding: deflate", b"x", "truncated"),
    ],
)
def test_decoding_errors(headers: str, data: bytes, message: str) -> None:
    async def main() -> bytes:
        item = await first_part(body(part(headers, data)))
        return await item.read(decode=True)

    with pytest.raises(MultipartError, match=message):
        run(main())


def test_empty_compressed_part_is_empty() -> None:
    item = run(first_part(body(part("Content-Encoding: gzip", b""))))
    assert run(item.decode(b"")) == b""


BOMB = gzip.compress(b"\0" * 2**26, mtime=0)  # 64 MiB of zeros in about 64 KB


def test_decompression_bomb_is_bounded() -> None:
    bomb = BOMB

    async def main() -> bytes:
        item = await first_part(
            body(part("Content-Encoding: gzip", bomb)), max_decompress_size=2**20
        )
        return await item.read(decode=True)

    with pytest.raises(DecompressSizeError, match="exceeds 1048576 bytes"):
        run(main())
    request = make_request(
        body(
            part(
                'Content-Disposition: form-data; name="f"; filename="z"\nContent-Encoding: gzip',
                bomb,
            )
        ),
        client_max_size=10 * 1024**2,
    )
    with pytest.raises(HTTPRequestEntityTooLarge):
        run(read_form(request))


# -- Content-Disposition ---------------------------------------------------------------------
@pytest.mark.parametrize(
    ("disposition", "name", "filename"),
    [
        ('form-data; name="f"; filename="a.txt"', "f", "a.txt"),
        ("form-data; name=f; filename=a.txt", "f", "a.txt"),
        (
            'form-data; name="f"; filename="x"; filename*=UTF-8\'\'%E2%82%AC%20rates.txt',
            "f",
            "€ rates.txt",
        ),
        ("attachment; filename*=UTF-8''%E2%82%AC.txt; filename=\"fallback\"", None, "€.txt"),
        ("attachment; filename*=ISO-8859-1'en'%E9t%E9.txt", None, "été.txt"),
        ('attachment; filename*=bogus; filename="fallback"', None, "fallback"),
        ("attachment; filename*=UTF-8''%FF; filename=\"fallback\"", None, "fallback"),
        ('attachment; filename*0="foo."; filename*1="html"', None, "foo.html"),
        ("attachment; filename*0*=UTF-8''%E2%82%AC; filename*1=\".txt\"", None, "€.txt"),
        ("attachment; filename*0*=''%C3%A9; filename*1*=%C3%A9", None, "éé"),
        ('attachment; filename*0*=no-quotes; filename="fb"', None, "fb"),
        ("attachment; filename*0*=UTF-8''%FF; filename=\"fb\"", None, "fb"),
        ("form-data; name*=UTF-8''%C3%A9l%C3%A8ve", "élève", None),
        ('form-data; name="a;b"; filename="c\\"d.txt"', "a;b", 'c"d.txt'),
        ('form-data; name="f"; filename="a%22b.txt"', "f", "a%22b.txt"),  # as aiohttp: kept
        ('form-data; NAME="f"; FileName="up.txt";', "f", "up.txt"),
        ('form-data; name="f"; filename="unterminated', None, None),
        ('form-data; name="a"; name="b"', None, None),
    ],
)
def test_content_disposition(disposition: str, name: str | None, filename: str | None) -> None:
    item = run(first_part(body(part(f"Content-Disposition: {disposition}", b""))))
    assert (item.name, item.filename) == (name, filename)


def test_raw_utf8_and_latin1_header_values() -> None:
    utf8 = 'Content-Disposition: form-data; name="f"; filename="é.txt"\r\n'.encode()
    latin1 = 'Content-Disposition: form-data; name="g"; filename="é.txt"\r\n'.encode("latin-1")
    data = b"--Xyz0\r\n" + utf8 + b"\r\nx\r\n--Xyz0\r\n" + latin1 + b"\r\ny\r\n--Xyz0--"

    async def main() -> list[str | None]:
        return [p.filename async for p in reader(data) if isinstance(p, BodyPartReader)]

    assert run(main()) == ["é.txt", "é.txt"]


def test_parse_header_params() -> None:
    assert parse_header_params('Text/Plain; Charset="utf-8" ; q=1;') == (
        "text/plain",
        {"charset": "utf-8", "q": "1"},
    )
    assert parse_header_params("form-data; name") is None
    assert parse_header_params('a; b="x"y') is None


# -- part headers and their limits -----------------------------------------------------------
def test_header_folding_and_whitespace() -> None:
    data = (
        b'--Xyz0\r\nContent-Disposition: form-data;\r\n\tname="f"\r\n'
        b"X-A:   v  \r\n\r\nz\r\n--Xyz0--"
    )
    item = run(first_part(data))
    assert item.name == "f" and item.headers["X-A"] == "v"


@pytest.mark.parametrize(
    "lines",
    [
        b"no colon here",
        b"Bad Name: v",
        b": empty name",
        b" starts folded",
        b"X: a\nY: b",
        b"X: a\x00",
    ],
)
def test_invalid_header_lines(lines: bytes) -> None:
    with pytest.raises(MultipartError, match="header"):
        run(first_part(b"--Xyz0\r\n" + lines + b"\r\n\r\nz\r\n--Xyz0--"))


def test_header_count_limit() -> None:
    def headers(n: int) -> bytes:
        return body(part("\n".join(f"X-{i}: v" for i in range(n)), b"z"))

    assert len(run(first_part(headers(128))).headers) == 128
    with pytest.raises(HeaderLimitError, match="more than 128 headers"):
        run(first_part(headers(129)))
    with pytest.raises(HeaderLimitError, match="more than 3 headers"):
        run(first_part(headers(4), max_headers=3))


@pytest.mark.parametrize("step", [0, 1000])
def test_header_line_length_limit(step: int) -> None:
    def line(n: int) -> bytes:
        return body(part("X: " + "v" * (n - 3), b"z"))

    assert len(run(first_part(line(8190), step=step)).headers["X"]) == 8187
    with pytest.raises(HeaderLimitError, match="longer than 8190 bytes"):
        run(first_part(line(8191), step=step))
    with pytest.raises(HeaderLimitError, match="longer than 100 bytes"):
        run(first_part(line(101), step=step, max_field_size=100))


def test_folded_header_is_limited_too() -> None:
    data = body(part("X: " + "v" * 60 + "\n " + "w" * 60, b"z"))
    with pytest.raises(HeaderLimitError):
        run(first_part(data, max_field_size=100))


def test_reader_refuses_use_after_an_error() -> None:
    async def main() -> None:
        mp = reader(body(part("X: " + "v" * 200, b"z"), part("", b"ok")), max_field_size=100)
        with pytest.raises(HeaderLimitError):
            await mp.next()
        with pytest.raises(MultipartError, match="used after an error"):
            await mp.next()

    run(main())


def test_limit_errors_are_value_errors() -> None:
    assert issubclass(HeaderLimitError, ValueError)
    assert issubclass(DecompressSizeError, ValueError)


# -- read_form -------------------------------------------------------------------------------
def field(name: str, value: bytes, extra: str = "") -> bytes:
    return part(f'Content-Disposition: form-data; name="{name}"{extra}', value)


def test_form_text_charsets_and_bytes() -> None:
    data = body(
        field("plain", "é".encode()),
        field("latin", "é".encode("latin-1"), "\nContent-Type: text/plain; charset=latin-1"),
        field("json", b'{"x": 1}', "\nContent-Type: application/json"),
        field("_charset_", b"iso-8859-15"),
        field("after", "€".encode("iso-8859-15")),
        field("empty_filename", b"text", '; filename=""'),
    )
    form = run(read_form(make_request(data)))
    assert list(form.items()) == [
        ("plain", "é"),
        ("latin", "é"),
        ("json", b'{"x": 1}'),
        ("_charset_", "iso-8859-15"),
        ("after", "€"),
        ("empty_filename", "text"),
    ]


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (body(part("", b"nameless")), "without a name"),
        (body(field("a", b"\xff")), "not valid utf-8"),
        (body(field("a", b"x", "\nContent-Type: text/plain; charset=nope")), "unknown charset"),
        (body(field("_charset_", b"nope")), "unknown charset"),
    ],
)
def test_form_errors(data: bytes, message: str) -> None:
    with pytest.raises(MultipartError, match=message):
        run(read_form(make_request(data)))


def test_file_default_content_type() -> None:
    form = run(read_form(make_request(body(field("f", b"x", '; filename="a"')))))
    value = form["f"]
    assert isinstance(value, FileField) and value.content_type == "text/plain"
    value.file.close()


def test_client_max_size_sums_all_fields() -> None:
    data = body(
        field("a", b"x" * 400), field("b", b"y" * 400, '; filename="b"'), field("c", b"z" * 400)
    )
    with pytest.raises(HTTPRequestEntityTooLarge) as info:
        run(read_form(make_request(data, client_max_size=1000, step=64)))
    assert info.value.status == 413
    # Counted as read: the third field trips the limit part-way through.
    assert info.value.text is not None
    prefix, actual = info.value.text.split(", actual body size ")
    assert prefix == "Maximum request body size 1000 exceeded" and 1000 < int(actual) < 1200
    form = run(read_form(make_request(data, client_max_size=1200)))
    assert form["c"] == "z" * 400
    file_field = form["b"]
    assert isinstance(file_field, FileField)
    file_field.file.close()


def test_client_max_size_counts_while_reading() -> None:
    # The body never ends: the limit must trip on the bytes already read.
    head = b"--Xyz0\r\n" + field("a", b"x" * 5000)

    async def main() -> None:
        headers = CIMultiDictProxy(CIMultiDict({"Content-Type": CTYPE}))
        request = BaseRequest(
            RequestHead("POST", "/", "", HttpVersion11, headers, ()),
            stream(head, 100, eof=False),
            sink=None,  # type: ignore[arg-type]
            client_max_size=1000,
        )
        await read_form(request)

    with pytest.raises(HTTPRequestEntityTooLarge):
        run(main())


def test_client_max_size_zero_means_unlimited() -> None:
    form = run(read_form(make_request(body(field("a", b"x" * 5000)), client_max_size=0)))
    assert form["a"] == "x" * 5000


def test_files_are_closed_when_the_form_fails(monkeypatch: pytest.MonkeyPatch) -> None:
    created: list[Any] = []
    spooled = tempfile.SpooledTemporaryFile

    def tracking(*args: Any, **kwargs: Any) -> Any:
        created.append(spooled(*args, **kwargs))
        return created[-1]

    monkeypatch.setattr(tempfile, "SpooledTemporaryFile", tracking)
    data = body(field("a", b"1", '; filename="a"'), field("b", b"2" * 100, '; filename="b"'))
    with pytest.raises(HTTPRequestEntityTooLarge):
        run(read_form(make_request(data, client_max_size=50)))
    assert len(created) == 2 and all(f.closed for f in created)


@pytest.mark.parametrize(("size", "rolled"), [(1000, False), (3 * 2**20 + 1, True)])
def test_file_fields_spool_to_disk(size: int, rolled: bool) -> None:
    payload = bytes(range(256)) * (size // 256) + b"!" * (size % 256)
    data = body(field("f", payload, '; filename="big.bin"\nContent-Type: application/octet-stream'))
    form = run(read_form(make_request(data, client_max_size=4 * 2**20, step=2**16)))
    value = form["f"]
    assert isinstance(value, FileField)
    with value.file as file:
        assert file._rolled is rolled  # type: ignore[attr-defined]
        assert file.tell() == 0
        assert file.read() == payload
        assert value.content_type == "application/octet-stream"


def test_spool_threshold_is_configurable() -> None:
    data = body(field("f", b"x" * 100, '; filename="f"'))
    form = run(read_form(make_request(data), spool_max_size=10))
    value = form["f"]
    assert isinstance(value, FileField)
    with value.file as file:
        assert file._rolled is True  # type: ignore[attr-defined]
        assert file.read() == b"x" * 100


def test_read_form_from_given_content() -> None:
    data = body(field("a", b"1"))
    request = make_request(b"", CTYPE)
    form = run(read_form(request, content=stream(data)))
    assert form["a"] == "1"


def test_field_count_limit() -> None:
    data = body(*[field("a", b"") for _ in range(5)])
    assert len(run(read_form(make_request(data), max_fields=5))) == 5
    with pytest.raises(HTTPRequestEntityTooLarge) as info:
        run(read_form(make_request(data), max_fields=4))
    assert info.value.text == "Maximum number of form fields 4 exceeded."
    many = body(*[field("a", b"") for _ in range(1001)])
    with pytest.raises(HTTPRequestEntityTooLarge):
        run(read_form(make_request(many)))
    assert len(run(read_form(make_request(many), max_fields=0))) == 1001


def test_quoted_printable_tail_in_form() -> None:
    # A dangling "=4" at the very end is kept as is, as binascii.a2b_qp does.
    form = run(
        read_form(
            make_request(
                body(field("q", b"a=3D=4", "\nContent-Transfer-Encoding: quoted-printable"))
            )
        )
    )
    assert form["q"] == "a==4"


def test_part_decompression_bound_in_form() -> None:
    # Past the part's own bound (not the form's), the error is the part's.
    request = make_request(
        body(field("z", BOMB, '; filename="z"\nContent-Encoding: gzip')), client_max_size=2**30
    )
    with pytest.raises(DecompressSizeError):
        run(read_form(request))
