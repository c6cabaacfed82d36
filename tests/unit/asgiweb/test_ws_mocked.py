"""WebSocketResponse on a make_mocked_request request: the handshake is answered through
the mocked sink, messages go through an in-memory channel. Also the aiohttp 3.14
additions (send_json_bytes, decode_text) at the level of the response."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from typing import Any

import pytest

from asgiweb import web
from asgiweb.http.ws_handshake import accept_key
from asgiweb.test_utils import MockSink, MockWebSocketChannel, make_mocked_request

WSMsgType = web.WSMsgType
KEY = base64.b64encode(b"0123456789abcdef").decode()


def handshake_headers(**extra: str) -> dict[str, str]:
    return {
        "Upgrade": "websocket",
        "Connection": "upgrade",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": KEY,
        **extra,
    }


def prepared(ws: web.WebSocketResponse[Any], **headers: str) -> tuple[MockSink, Any]:
    request = make_mocked_request("GET", "/", headers=handshake_headers(**headers))
    asyncio.run(ws.prepare(request))
    sink = request._sink
    assert isinstance(sink, MockSink)
    return sink, request


def test_prepare_answers_101_through_the_mocked_sink() -> None:
    ws = web.WebSocketResponse()
    sink, _ = prepared(ws)
    assert sink.status == 101 and sink.headers is not None
    assert sink.headers["Sec-WebSocket-Accept"] == accept_key(KEY)
    assert sink.headers["Upgrade"] == "websocket"
    assert ws.prepared and ws.ws_protocol is None and ws.compress == 0


def test_prepare_negotiates_protocol_and_compression() -> None:
    ws = web.WebSocketResponse(protocols=["best", "chat", "worse"])
    sink, _ = prepared(
        ws,
        **{
            "Sec-WebSocket-Protocol": "worse, chat",
            "Sec-WebSocket-Extensions": "permessage-deflate",
        },
    )
    assert ws.ws_protocol == "worse" and ws.compress == 15
    assert sink.headers is not None and sink.headers["Sec-WebSocket-Protocol"] == "worse"


def test_no_common_protocol_logs_aiohttps_message(caplog: pytest.LogCaptureFixture) -> None:
    ws = web.WebSocketResponse(protocols=["chat"])
    with caplog.at_level(logging.WARNING, logger="asgiweb.websocket"):
        prepared(ws, **{"Sec-WebSocket-Protocol": "other"})
    assert ws.ws_protocol is None
    assert (
        caplog.records[-1].msg == "%s: Client protocols %r don\u2019t overlap server-known ones %r"
    )


def test_status_set_before_prepare_becomes_101() -> None:
    ws = web.WebSocketResponse()
    ws.set_status(200)
    sink, _ = prepared(ws)
    assert ws.status == 101 and sink.status == 101


def test_unsupported_version_is_426_and_a_bad_request() -> None:
    ws = web.WebSocketResponse()
    request = make_mocked_request(
        "GET", "/", headers=handshake_headers(**{"Sec-WebSocket-Version": "1"})
    )
    with pytest.raises(web.HTTPBadRequest) as info:
        asyncio.run(ws.prepare(request))
    assert isinstance(info.value, web.HTTPUpgradeRequired)
    assert info.value.status == 426 and info.value.headers["Sec-WebSocket-Version"] == "13"


def test_missing_key_is_a_bad_request() -> None:
    headers = handshake_headers()
    del headers["Sec-WebSocket-Key"]
    with pytest.raises(web.HTTPBadRequest) as info:
        asyncio.run(
            web.WebSocketResponse().prepare(make_mocked_request("GET", "/", headers=headers))
        )
    assert info.value.status == 400


def test_messages_through_the_mocked_channel() -> None:
    async def run() -> MockWebSocketChannel:
        ws = web.WebSocketResponse()
        request = make_mocked_request("GET", "/", headers=handshake_headers())
        await ws.prepare(request)
        channel = request._sink.channel
        assert isinstance(channel, MockWebSocketChannel)
        channel.feed(web.WSMessage(WSMsgType.TEXT, '{"n": 1}', ""))
        data = await ws.receive_json()
        await ws.send_json({"n": data["n"] + 1})
        channel.feed(web.WSMessage(WSMsgType.CLOSE, 1000, ""))
        msg = await ws.receive()
        assert msg.type == WSMsgType.CLOSE and ws.closed
        return channel

    channel = asyncio.run(run())
    assert channel.sent == [(WSMsgType.TEXT, '{"n": 2}')]
    assert channel.close_frame == (1000, b"") and channel.disconnected


def test_send_json_bytes_sends_binary() -> None:
    async def run() -> MockWebSocketChannel:
        ws = web.WebSocketResponse()
        request = make_mocked_request("GET", "/", headers=handshake_headers())
        await ws.prepare(request)
        await ws.send_json_bytes({"a": [1, 2]}, dumps=lambda obj: json.dumps(obj).encode())
        with pytest.raises(TypeError):
            await ws.send_json_bytes({"a": 1}, dumps=json.dumps)  # type: ignore[arg-type]
        return request._sink.channel

    channel = asyncio.run(run())
    assert channel.sent == [(WSMsgType.BINARY, b'{"a": [1, 2]}')]


def test_send_json_bytes_needs_prepare() -> None:
    ws = web.WebSocketResponse()
    with pytest.raises(RuntimeError, match="prepare"):
        asyncio.run(ws.send_json_bytes({}, dumps=lambda obj: b"{}"))


@pytest.mark.parametrize("decode_text", [True, False])
def test_decode_text(decode_text: bool) -> None:
    async def run() -> tuple[Any, Any, Any]:
        ws = web.WebSocketResponse(decode_text=decode_text)
        request = make_mocked_request("GET", "/", headers=handshake_headers())
        await ws.prepare(request)
        channel = request._sink.channel
        for text in ("é", '{"k": "é"}', "x"):
            channel.feed(web.WSMessage(WSMsgType.TEXT, text, ""))
        first = await ws.receive_str()
        parsed = await ws.receive_json(loads=json.loads)
        msg = await ws.receive()
        return first, parsed, msg.data

    first, parsed, last = asyncio.run(run())
    assert parsed == {"k": "é"}
    if decode_text:
        assert (first, last) == ("é", "x")
    else:
        assert (first, last) == ("é".encode(), b"x")
