"""The multipart readers over aiohttp's stream API, and the aiohttp reader API on top."""

from __future__ import annotations

import asyncio
import base64
import io
import zlib
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from asgiweb.helpers import HttpVersion11
from asgiweb.http.multipart_part import delimiter_ends
from asgiweb.multipart import (
    BodyPartReader,
    InvalidCharsetError,
    MultipartError,
    MultipartReader,
    MultipartResponseWrapper,
    UnknownEncodingError,
    read_form,
)
from asgiweb.request import BaseRequest
from asgiweb.streams import StreamReader
from asgiweb.transport import RequestHead

T = TypeVar("T")
DASH = b"--:"
MIXED = {"Content-Type": 'multipart/mixed; boundary=":"'}
FORM = {"Content-Type": 'multipart/form-data; boundary=":"'}


def run(coro: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(asyncio.wait_for(coro, timeout=10))


class BytesStream:
    """aiohttp's stream API and no more: read(n), at_eof(), unread_data(); no readany()."""

    def __init__(self, data: bytes, piece: int = 0) -> None:
        self.buffer = io.BytesIO(data)
        self.size = len(data)
        self.piece = piece  # when set, read(n) hands out at most this many bytes
        self.reads: list[int] = []

    async def read(self, n: int = -1) -> bytes:
        if self.at_eof():
            raise AssertionError("read past the end")  # as some streams fail here
        self.reads.append(n)
        return self.buffer.read(min(n, self.piece) if self.piece else n)

    def at_eof(self) -> bool:
        return self.buffer.tell() == self.size

    def unread_data(self, data: bytes) -> None:
        rest = self.buffer.read()
        self.buffer = io.BytesIO(data + rest)
        self.size = len(data) + len(rest)

    def rest(self) -> bytes:
        return self.buffer.read()


def headers(**values: str) -> CIMultiDictProxy[str]:
    return CIMultiDictProxy(CIMultiDict({k.replace("_", "-"): v for k, v in values.items()}))


# -- delimiters (sans-IO) --------------------------------------------------------------------
@pytest.mark.parametrize(
    ("after", "eof", "verdict"),
    [
        (b"--", False, True),
        (b"\r\n", False, True),
        (b" \t\r\n", False, True),
        (b":", False, False),  # "--::", the boundary of a part nested in "--:"
        (b"-x", False, False),
        (b" x", False, False),
        (b"\rx", False, False),
        (b"", False, None),
        (b"-", False, None),
        (b" ", False, None),
        (b"\r", False, None),
        (b"", True, True),
        (b" \r", True, True),
    ],
)
def test_delimiter_ends(after: bytes, eof: bool, verdict: bool | None) -> None:
    assert delimiter_ends(b"x\r\n--:" + after, 6, eof) is verdict


# -- a part over a plain stream --------------------------------------------------------------
def test_part_reads_a_stream_without_readany_and_gives_back_the_rest() -> None:
    stream = BytesStream(b"Hello,\r\n--:\r\n\r\nworld!\r\n--:--")

    async def main() -> bytes:
        part = BodyPartReader(DASH, headers(), stream)
        data = await part.read()
        assert part.at_eof() and await part.read() == b""
        return data

    assert run(main()) == b"Hello,"
    assert stream.rest() == b"--:\r\n\r\nworld!\r\n--:--"  # left at the boundary line


def test_part_release_gives_back_the_rest_once() -> None:
    stream = BytesStream(b"a\r\n--:--\r\n")

    async def main() -> None:
        part = BodyPartReader("--:", headers(), stream)  # a str boundary is encoded
        await part.release()
        await part.release()

    run(main())
    assert stream.rest() == b"--:--\r\n"


def test_big_part_is_read_in_chunks_not_bytes() -> None:
    payload = bytes(range(256)) * 4096  # 1 MiB
    stream = BytesStream(payload + b"\r\n--:--")

    async def main() -> list[bytes]:
        part = BodyPartReader(DASH, headers(), stream)
        return [chunk async for chunk in _chunks(part, 100_000)]

    chunks = run(main())
    assert b"".join(chunks) == payload
    assert len(stream.reads) < 40 and min(stream.reads) >= 2**16


async def _chunks(part: BodyPartReader, size: int) -> Any:
    while chunk := await part.read_chunk(size):
        yield chunk


def test_part_next_and_async_for() -> None:
    async def main() -> tuple[bytes | None, bytes | None, list[bytes]]:
        part = BodyPartReader(DASH, headers(), BytesStream(b"abc\r\n--:--"))
        first, second = await part.next(), await part.next()
        other = BodyPartReader(DASH, headers(), BytesStream(b"xyz\r\n--:--", piece=1))
        return first, second, [data async for data in other]

    assert run(main()) == (b"abc", None, [b"xyz"])


def test_truncated_part_returns_its_data_then_fails() -> None:
    data = b"Hello, World!\r\n--"

    async def main() -> bytes:
        part = BodyPartReader(DASH, headers(), BytesStream(data))
        got = b""
        while not part.at_eof():  # stays False: the loop ends in the error
            got += await part.read_chunk(7)
        return got

    with pytest.raises(MultipartError, match="ended before the closing boundary"):
        run(main())
    part = BodyPartReader(DASH, headers(), BytesStream(data))
    assert run(part.read_chunk(7)) + run(part.read_chunk(7)) + run(part.read_chunk(7)) == data


def test_base64_chunks_hold_whole_groups() -> None:
    data = b"VG\r\r\nltZSB0byBSZ\r\nWxheCE=\r\n--:--"

    async def main() -> bytes:
        part = BodyPartReader(
            DASH, headers(Content_Transfer_Encoding="base64"), BytesStream(data, piece=5)
        )
        out = b""
        while not part.at_eof():
            out += await part.decode(await part.read_chunk(6))
        return out

    assert run(main()) == b"Time to Relax!"


@pytest.mark.parametrize(
    ("name", "value"), [("Content-Transfer-Encoding", "x-uue"), ("Content-Encoding", "br")]
)
def test_unknown_encoding_is_a_runtime_error_and_a_multipart_error(name: str, value: str) -> None:
    part = BodyPartReader(DASH, headers(**{name: value}), BytesStream(b"x\r\n--:--"))
    with pytest.raises(RuntimeError) as info:
        run(part.read(decode=True))
    assert isinstance(info.value, UnknownEncodingError) and isinstance(info.value, ValueError)


def test_decode_is_a_coroutine_and_inflates() -> None:
    part = BodyPartReader(DASH, headers(Content_Encoding="deflate"), BytesStream(b""))
    assert run(part.decode(zlib.compress(b"Time to Relax!"))) == b"Time to Relax!"


def test_form_that_cannot_be_decoded() -> None:
    part = BodyPartReader(DASH, headers(), BytesStream(b"a=\xff\r\n--:--"))
    with pytest.raises(ValueError, match="data cannot be decoded with utf-8 encoding"):
        run(part.form())


# -- Content-Length ---------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"HelloXX--:--", "longer than its Content-Length"),
        (b"Hello, world\r\n--:--", "longer than its Content-Length"),
        (b"Hel\r\n--:--", "shorter than its Content-Length"),
    ],
)
def test_part_data_must_match_its_content_length(data: bytes, message: str) -> None:
    async def main() -> bytes:
        part = BodyPartReader(DASH, headers(Content_Length="5"), BytesStream(data))
        return await part.read()

    with pytest.raises(MultipartError, match=message):
        run(main())
    part = BodyPartReader(DASH, headers(Content_Length="5"), BytesStream(b"Hello\r\n--:--"))
    assert run(part.read()) == b"Hello" and part.at_eof()


def test_content_length_is_ignored_in_form_data() -> None:
    # RFC 7578 4.8, as aiohttp: only the boundary frames a form field.
    part = BodyPartReader(
        DASH, headers(Content_Length="5"), BytesStream(b"Hel\r\n--:--"), subtype="form-data"
    )
    assert run(part.read()) == b"Hel"


def test_malformed_content_length() -> None:
    with pytest.raises(MultipartError, match="invalid part Content-Length"):
        BodyPartReader(DASH, headers(Content_Length="-1"), BytesStream(b""))


# -- the multipart reader over a plain stream -------------------------------------------------
@pytest.mark.parametrize("piece", [0, 1, 2, 5])
def test_reader_over_a_plain_stream_with_empty_parts(piece: int) -> None:
    # An empty part may share the CRLF of its header block with the delimiter.
    data = b"--:\r\n\r\n--:\r\nA: b\r\n\r\n--:\r\n\r\n\r\n--:\r\n\r\nx\r\n--:--"

    async def main() -> list[tuple[dict[str, str], bytes]]:
        reader = MultipartReader(MIXED, BytesStream(data, piece))
        out = []
        async for part in reader:
            assert isinstance(part, BodyPartReader)
            out.append((dict(part.headers), await part.read()))
        return out

    assert run(main()) == [({}, b""), ({"A": "b"}, b""), ({}, b""), ({}, b"x")]


@pytest.mark.parametrize("piece", [0, 1, 3])
def test_nested_boundary_that_starts_with_the_outer_one(piece: int) -> None:
    inner = b"--::\r\n\r\nin\r\n--::\r\nContent-Length: 3\r\n\r\nabc\r\n--::--\r\n"
    data = (
        b'--:\r\nContent-Type: multipart/related; boundary="::"\r\n\r\n'
        + inner
        + b"\r\n--:\r\n\r\nafter\r\n--:--\r\n"
    )

    async def main() -> list[Any]:
        out: list[Any] = []
        async for item in MultipartReader(MIXED, BytesStream(data, piece)):
            if isinstance(item, MultipartReader):
                out.append([await p.read() async for p in item if isinstance(p, BodyPartReader)])
            else:
                out.append(await item.read())
        return out

    assert run(main()) == [[b"in", b"abc"], b"after"]


def test_reader_classes_can_be_replaced() -> None:
    class Part(BodyPartReader):
        pass

    class Nested(MultipartReader):
        pass

    class Reader(MultipartReader):
        part_reader_cls = Part
        multipart_reader_cls = Nested

    data = b"--:\r\nContent-Type: multipart/mixed; boundary=x\r\n\r\n--x--\r\n--:\r\n\r\ny\r\n--:--"

    async def main() -> list[type]:
        return [type(item) async for item in Reader(MIXED, BytesStream(data))]

    assert run(main()) == [Nested, Part]


# -- _charset_ ---------------------------------------------------------------------------------
def field(name: str, value: bytes, extra: bytes = b"") -> bytes:
    disposition = b'Content-Disposition: form-data; name="%s"\r\n' % name.encode()
    return b"--:\r\n" + disposition + extra + b"\r\n" + value + b"\r\n"


def test_first_charset_field_sets_the_default_charset() -> None:
    data = (
        field("_charset_", b"iso-8859-15")
        + field("a", "€".encode("iso-8859-15"))
        + field("b", b"x", b"Content-Type: text/plain; charset=UTF-8\r\n")
        + b"--:--\r\n"
    )

    async def main() -> list[tuple[str | None, str]]:
        reader = MultipartReader(FORM, BytesStream(data))
        out = []
        async for part in reader:
            assert isinstance(part, BodyPartReader)
            out.append((part.name, part.get_charset("default")))
        return out

    assert run(main()) == [("a", "iso-8859-15"), ("b", "UTF-8")]
    # request.post() sees the same fields, decoded with that charset.
    form = run(read_form(_request(data)))
    assert list(form.items()) == [("a", "€"), ("b", "x")]


def _request(data: bytes) -> BaseRequest:
    content = StreamReader()
    content.feed_data(data)
    content.feed_eof()
    head = RequestHead("POST", "/", "", HttpVersion11, headers(**FORM), ())
    return BaseRequest(head, content, sink=None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("value", "message"),
    [(b"x" * 38, "Invalid default charset"), (b"nope", "unknown charset")],
)
def test_invalid_default_charset(value: bytes, message: str) -> None:
    data = field("_charset_", value) + field("a", b"x") + b"--:--"
    with pytest.raises(InvalidCharsetError, match=message) as info:
        run(MultipartReader(FORM, BytesStream(data)).next())
    assert isinstance(info.value, RuntimeError) and isinstance(info.value, MultipartError)


def test_charset_field_is_only_special_in_form_data() -> None:
    data = field("_charset_", b"ascii") + b"--:--"
    part = run(MultipartReader(MIXED, BytesStream(data)).next())
    assert isinstance(part, BodyPartReader) and part.name == "_charset_"


# -- from_response ------------------------------------------------------------------------------
class FakeResponse:
    def __init__(self, data: bytes) -> None:
        self.headers = MIXED
        self.content = BytesStream(data)
        self.released = 0

    async def release(self) -> None:
        self.released += 1


def test_from_response_releases_the_response_after_the_last_part() -> None:
    response = FakeResponse(b"--:\r\n\r\none\r\n--:\r\n\r\ntwo\r\n--:--")

    async def main() -> list[bytes]:
        wrapper = MultipartReader.from_response(response)
        assert isinstance(wrapper, MultipartResponseWrapper)
        assert isinstance(wrapper.stream, MultipartReader)
        out = []
        async for part in wrapper:
            assert isinstance(part, BodyPartReader)
            out.append(await part.read())
            assert not response.released
        return out

    assert run(main()) == [b"one", b"two"]
    assert response.released == 1


def test_from_response_checks_the_boundary() -> None:
    response = FakeResponse(b"")
    response.headers = {"Content-Type": "multipart/related; boundary=" + "a" * 80}
    with pytest.raises(ValueError):
        MultipartReader.from_response(response)


def test_base64_without_group_padding_reads_to_the_end() -> None:
    encoded = base64.b64encode(b"abcd")[:-2]  # "YWJjZA" lacks its "=="
    part = BodyPartReader(
        DASH, headers(Content_Transfer_Encoding="base64"), BytesStream(encoded + b"\r\n--:--")
    )
    assert run(part.read_chunk(4)) == b"YWJj"
    assert run(part.read_chunk(4)) == b"ZA"
    assert part.at_eof()
