"""The compiled accelerator and its pure-Python twins give the same bytes, the same
messages and the same errors, for any input; and ASGIWEB_NO_EXTENSIONS really switches it
off. (The rest of the suite runs on whichever is in use; scripts/test.sh runs the native
server's tests a second time with the accelerator off.)"""

from __future__ import annotations

import os
import subprocess
import sys
import sysconfig
from collections.abc import Callable
from functools import partial
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from asgiweb.ws_types import WSMessage, WSMsgType
from native_server.wire import accel, serializer
from native_server.wire import websocket as ws

try:
    from native_server.wire import _speedups
except ImportError:  # pragma: no cover - only where no compiler built it
    _speedups = None  # type: ignore[assignment]

compiled = pytest.mark.skipif(_speedups is None, reason="the C accelerator is not built here")


def _outcome(call: Callable[[], Any]) -> tuple[Any, ...]:
    """What a call gives, comparable between the two implementations."""
    try:
        result = call()
    except Exception as exc:
        return ("raised", type(exc), str(exc))
    if isinstance(result, WSMessage):
        return ("message", (type(result), tuple(result), [type(item) for item in result]))
    return ("value", result)


def _masked_frame(first: int, payload: bytes, mask: bytes) -> bytes:
    return bytes([first, 0x80 | len(payload)]) + mask + ws.apply_mask(payload, mask)


def test_built_where_a_compiler_is() -> None:
    """CI must exercise the compiled path, not the Python twins twice."""
    compiler = (sysconfig.get_config_var("CC") or "cc").split()[0]
    if os.environ.get("ASGIWEB_NO_EXTENSIONS", "") not in ("", "0"):
        assert not accel.ENABLED
        return
    if subprocess.run(["sh", "-c", f"command -v {compiler}"], capture_output=True).returncode:
        pytest.skip(f"no C compiler ({compiler}): pure Python is the installed behaviour")
    assert _speedups is not None, "pip install built no native_server.wire._speedups"
    assert accel.ENABLED
    assert ws._small_frame is _speedups.small_frame
    assert ws.plain_frame is _speedups.plain_frame
    assert serializer.serialize_head is _speedups.serialize_head


@pytest.mark.parametrize("value", ["1", "yes"])
def test_environment_variable_switches_it_off(value: str) -> None:
    code = (
        "from native_server.wire import accel, serializer, websocket as ws;"
        "print(accel.ENABLED, ws._small_frame is ws._py_small_frame,"
        " ws.plain_frame is ws._py_plain_frame,"
        " serializer.serialize_head is serializer._py_serialize_head)"
    )
    env = {**os.environ, "ASGIWEB_NO_EXTENSIONS": value}
    out = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True
    )
    assert out.stdout.split() == ["False", "True", "True", "True"]


@compiled
@settings(max_examples=400, deadline=None)
@given(payload=st.binary(max_size=3000), mask=st.binary(min_size=4, max_size=4))
def test_unmask_matches(payload: bytes, mask: bytes) -> None:
    python = ws._py_unmask(bytearray(payload), mask)
    assert _speedups.unmask(payload, mask) == python
    assert _speedups.unmask(memoryview(bytearray(payload)), bytearray(mask)) == python
    # Masking twice gives the payload back.
    assert _speedups.unmask(python, mask) == payload


@compiled
@pytest.mark.parametrize("mask", [b"", b"abc", b"abcde"])
def test_unmask_refuses_a_bad_mask(mask: bytes) -> None:
    with pytest.raises(ValueError, match="4 bytes"):
        _speedups.unmask(b"data", mask)


_FIRST_BYTES = st.sampled_from([0x81, 0x82, 0x80, 0x01, 0x02, 0x88, 0x89, 0x8A, 0xC1, 0x91])


@compiled
@settings(max_examples=600, deadline=None)
@given(
    first=_FIRST_BYTES,
    payload=st.one_of(
        st.binary(max_size=130),
        st.text(max_size=60).map(lambda text: text.encode("utf-8", "surrogatepass")),
    ),
    mask=st.binary(min_size=4, max_size=4),
    decode_text=st.booleans(),
    limit=st.sampled_from([0, 1, 10, 125, 126, 4 << 20, -1, 1 << 70]),
    extra=st.binary(max_size=3),
)
def test_small_frame_matches(
    first: int,
    payload: bytes,
    mask: bytes,
    decode_text: bool,
    limit: int,
    extra: bytes,
) -> None:
    """Whole frames, frames with bytes before or after, over-long payloads, invalid UTF-8,
    unmasked frames, other opcodes: the same message, None or error either way."""
    if len(payload) <= 125:
        frame = _masked_frame(first, payload, mask)
    else:
        frame = bytes([first, 0x80 | 126]) + len(payload).to_bytes(2, "big") + mask + payload
    for data in (frame, frame + extra, frame[: len(frame) - len(extra)], bytes(payload)):
        for form in (data, memoryview(bytearray(data)), bytearray(data)):
            expected = _outcome(partial(ws._py_small_frame, form, decode_text, limit))
            assert _outcome(partial(_speedups.small_frame, form, decode_text, limit)) == expected


@compiled
def test_small_frame_answers_the_common_case() -> None:
    mask = b"\x01\x02\x03\x04"
    text = _speedups.small_frame(_masked_frame(0x81, "héllo".encode(), mask), True, 0)
    assert text == (WSMsgType.TEXT, "héllo", "")
    assert type(text) is WSMessage and text.type is WSMsgType.TEXT
    # A whole tuple: hashes as the equal tuple does, usable as a key.
    assert hash(text) == hash((WSMsgType.TEXT, "héllo", ""))
    assert {text: 1}[WSMessage(WSMsgType.TEXT, "héllo", "")] == 1
    raw = _speedups.small_frame(_masked_frame(0x81, "héllo".encode(), mask), False, 0)
    assert raw == (WSMsgType.TEXT, "héllo".encode(), "")
    binary = _speedups.small_frame(_masked_frame(0x82, b"\x00\xff", mask), True, 0)
    assert binary == (WSMsgType.BINARY, b"\x00\xff", "") and binary.type is WSMsgType.BINARY
    with pytest.raises(UnicodeDecodeError):
        _speedups.small_frame(_masked_frame(0x81, b"\xc3", mask), True, 0)
    with pytest.raises(UnicodeDecodeError):  # checked even when it stays bytes
        _speedups.small_frame(_masked_frame(0x81, b"\xff", mask), False, 0)


@compiled
@settings(max_examples=300, deadline=None)
@given(
    payload=st.one_of(
        st.binary(max_size=200),
        st.integers(min_value=0, max_value=70000).map(lambda size: b"\x5a" * size),
        st.text(max_size=80),
        st.sampled_from(["\ud800", "é" * 70, "x" * 65535, "x" * 65536]),
    ),
    opcode=st.integers(min_value=-2, max_value=17),
)
def test_plain_frame_matches(payload: bytes | str, opcode: int) -> None:
    """Every length encoding (7-bit, 16-bit, 64-bit), str and bytes, every opcode the
    range allows and a few it does not, surrogates (UnicodeEncodeError) included."""
    expected = _outcome(partial(ws._py_plain_frame, payload, opcode))
    assert _outcome(partial(_speedups.plain_frame, payload, opcode)) == expected
    if isinstance(payload, bytes):
        for form in (bytearray(payload), memoryview(payload)):
            assert _outcome(partial(_speedups.plain_frame, form, opcode)) == expected
    if expected[0] == "value" and 0 <= opcode <= 15:
        data = payload.encode("utf-8") if isinstance(payload, str) else payload
        assert expected[1] == ws.build_frame(opcode, data)


# Surrogates: "\udcda" stands for a byte a request brought in (surrogateescape, which
# both encode), "\ud800" for one no codec takes (both raise). Joined from a list: st.text()
# leaves surrogates out of any alphabet it is given.
_TEXT = st.lists(
    st.characters(blacklist_categories=("Cs",)) | st.sampled_from(["\ud800", "\udcda", "é"]),
    max_size=40,
).map("".join)

_C_LONG = st.integers(min_value=-(2**63), max_value=2**63 - 1)


@compiled
@settings(max_examples=400, deadline=None)
@given(
    # The C side writes the numbers by hand: every digit count and sign a C long holds.
    version=st.sampled_from([(1, 1), (1, 0), (0, 9), (2, 0)]) | st.tuples(_C_LONG, _C_LONG),
    status=st.integers(min_value=100, max_value=999) | _C_LONG,
    reason=_TEXT,
    headers=st.lists(st.tuples(_TEXT, _TEXT), max_size=12),
)
def test_serialize_head_matches(
    version: tuple[int, int], status: int, reason: str, headers: list[tuple[str, str]]
) -> None:
    """Byte for byte, surrogates (UnicodeEncodeError) included; a long header block
    makes the C buffer grow."""
    expected = _outcome(lambda: serializer._py_serialize_head(version, status, reason, headers))
    got = _outcome(lambda: _speedups.serialize_head(version, status, reason, iter(headers)))
    assert got[0] == expected[0]
    if expected[0] == "value":
        assert got == expected
    else:
        assert got[1] is expected[1]  # the same exception type (UnicodeEncodeError)


def test_serialize_head_gives_back_the_bytes_a_request_brought() -> None:
    # A value copied from a request header: its bytes that are not UTF-8 were decoded
    # with surrogateescape, and go out as they came (they used to raise: a 500).
    value = b"a\xda\xff\xc3\xa9b".decode("utf-8", "surrogateescape")
    expected = b"HTTP/1.1 200 OK\r\nX-Echo: a\xda\xff\xc3\xa9b\r\n\r\n"
    makers = [serializer._py_serialize_head]
    if _speedups is not None:
        makers.append(_speedups.serialize_head)
    for make in makers:
        assert make((1, 1), 200, "OK", [("X-Echo", value)]) == expected
        with pytest.raises(UnicodeEncodeError):  # no byte stands for this one
            make((1, 1), 200, "OK", [("X-Echo", "\ud800")])


@compiled
def test_serialize_head_takes_a_multidict_and_grows() -> None:
    from multidict import CIMultiDict, istr

    headers: CIMultiDict[str] = CIMultiDict()
    headers[istr("Content-Type")] = "text/plain; charset=utf-8"
    for i in range(200):
        headers.add(f"X-Filler-{i}", "é" * 30)
    expected = serializer._py_serialize_head((1, 1), 200, "OK", headers.items())
    assert _speedups.serialize_head((1, 1), 200, "OK", headers.items()) == expected
    assert len(expected) > 10_000
    assert _speedups.serialize_head((1, 1), 204, "No Content", []) == (
        b"HTTP/1.1 204 No Content\r\n\r\n"
    )


@compiled
@pytest.mark.parametrize(
    "headers",
    [[("a", "b", "c")], [("a",)], ["ab"], [(b"a", "b")], [("a", 1)]],
)
def test_serialize_head_refuses_what_is_not_a_str_pair(headers: list[Any]) -> None:
    with pytest.raises(TypeError):
        _speedups.serialize_head((1, 1), 200, "OK", headers)
