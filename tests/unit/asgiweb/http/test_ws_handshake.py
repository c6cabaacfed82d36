"""The sans-IO WebSocket opening handshake (RFC 6455 §4.2) and permessage-deflate
negotiation (RFC 7692 §7): request headers in, response headers out."""

from __future__ import annotations

from typing import Any

import pytest
from multidict import CIMultiDict, CIMultiDictProxy

from asgiweb.http.ws_handshake import (
    DeflateParams,
    Handshake,
    HandshakeError,
    accept_key,
    handshake,
    negotiate_deflate,
    parse_extensions,
    select_protocol,
    validate_request,
)

KEY = "dGhlIHNhbXBsZSBub25jZQ=="  # RFC 6455 §1.3
ACCEPT = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="


def request_headers(*extra: tuple[str, str], **replace: str | None) -> CIMultiDictProxy[str]:
    """A valid client handshake; ``replace`` changes (or, with ``None``, drops) a header."""
    base = {
        "Host": "server.example.com",
        "Upgrade": "websocket",
        "Connection": "Upgrade",
        "Sec-WebSocket-Key": KEY,
        "Sec-WebSocket-Version": "13",
    }
    for name, value in replace.items():
        name = name.replace("_", "-")
        base = {k: v for k, v in base.items() if k.lower() != name.lower()}
        if value is not None:
            base[name] = value
    headers = CIMultiDict(base)
    headers.extend(extra)
    return CIMultiDictProxy(headers)


def shake(*extra: tuple[str, str], **options: Any) -> Handshake:
    return handshake("GET", (1, 1), request_headers(*extra), **options)


def rejected(status: int, *args: Any, **replace: str | None) -> HandshakeError:
    method, version = args if args else ("GET", (1, 1))
    with pytest.raises(HandshakeError) as info:
        validate_request(method, version, request_headers(**replace))
    assert info.value.status == status
    return info.value


# -- the opening handshake -------------------------------------------------------------------


def test_accept_key_rfc6455_example() -> None:
    assert accept_key(KEY) == ACCEPT


def test_valid_handshake_response_headers() -> None:
    result = shake()
    assert result.headers == [
        ("Upgrade", "websocket"),
        ("Connection", "upgrade"),
        ("Sec-WebSocket-Accept", ACCEPT),
    ]
    assert result.protocol is None and result.deflate is None


@pytest.mark.parametrize(
    ("upgrade", "connection"),
    [
        ("WebSocket", "upgrade"),
        ("websocket", "keep-alive, Upgrade"),
        ("h2c, websocket", "UPGRADE"),
    ],
)
def test_tokens_are_case_insensitive_lists(upgrade: str, connection: str) -> None:
    headers = request_headers(Upgrade=upgrade, Connection=connection)
    assert validate_request("GET", (1, 1), headers) == KEY


def test_connection_header_over_several_lines() -> None:
    headers = request_headers(("Connection", "upgrade"), Connection="keep-alive")
    assert validate_request("GET", (1, 1), headers) == KEY


def test_later_http_versions_are_fine() -> None:
    assert validate_request("GET", (2, 0), request_headers()) == KEY


def test_method_must_be_get() -> None:
    error = rejected(400, "POST", (1, 1))
    assert error.reason == "WebSocket handshake must be a GET request, not POST"


def test_http_1_0_is_refused() -> None:
    error = rejected(400, "GET", (1, 0))
    assert error.reason == "WebSocket handshake needs HTTP/1.1 or later"


@pytest.mark.parametrize("upgrade", [None, "", "h2c", "websockets"])
def test_upgrade_must_name_websocket(upgrade: str | None) -> None:
    error = rejected(400, Upgrade=upgrade)
    # aiohttp's text, word for word.
    expected = f'No WebSocket UPGRADE hdr: {upgrade}\n Can "Upgrade" only to "WebSocket".'
    assert error.reason == expected


@pytest.mark.parametrize("connection", [None, "keep-alive", "upgraded"])
def test_connection_must_contain_upgrade(connection: str | None) -> None:
    error = rejected(400, Connection=connection)
    assert error.reason == f"No CONNECTION upgrade hdr: {connection}"


def test_missing_version_is_a_bad_request() -> None:
    error = rejected(400, Sec_WebSocket_Version=None)
    assert error.headers == ()


@pytest.mark.parametrize("version", ["8", "7", "12", "14", "13, 8", ""])
def test_unsupported_version_is_426_with_the_version_we_speak(version: str) -> None:
    # RFC 6455 §4.2.2 and §4.4: tell the client which version to retry with.
    error = rejected(426, Sec_WebSocket_Version=version)
    assert error.headers == (("Sec-WebSocket-Version", "13"),)
    assert "only 13 is supported" in error.reason


def test_version_header_twice_is_refused() -> None:
    headers = request_headers(("Sec-WebSocket-Version", "13"))
    with pytest.raises(HandshakeError) as info:
        validate_request("GET", (1, 1), headers)
    assert info.value.status == 426


@pytest.mark.parametrize(
    "key",
    [
        None,
        "",
        "not base64!",
        "dGhlIHNhbXBsZSBub25jZQ",  # unpadded
        "dGhlIHNhbXBsZSBub25jZXg=",  # 17 bytes
        "dGhlIHNhbXBsZSBub25j",  # 15 bytes
        "dGhlIHNhbXBsZSBub25jZQ==\u00e9",
    ],
)
def test_key_must_be_16_bytes_of_base64(key: str | None) -> None:
    error = rejected(400, Sec_WebSocket_Key=key)
    assert "Sec-WebSocket-Key" in error.reason


def test_key_twice_is_refused() -> None:
    # RFC 6455 §11.3.1: the key must not appear more than once.
    headers = request_headers(("Sec-WebSocket-Key", KEY))
    with pytest.raises(HandshakeError, match="exactly one Sec-WebSocket-Key"):
        validate_request("GET", (1, 1), headers)


def test_handshake_raises_the_same_errors() -> None:
    with pytest.raises(HandshakeError) as info:
        handshake("GET", (1, 1), request_headers(Upgrade=None))
    assert info.value.status == 400
    assert str(info.value) == info.value.reason


# -- subprotocols ----------------------------------------------------------------------------


def test_subprotocol_in_the_clients_order() -> None:
    # aiohttp semantics: the first protocol the client lists that the server knows.
    result = shake(("Sec-WebSocket-Protocol", "chat.v2, chat.v1"), protocols=("chat.v1", "chat.v2"))
    assert result.protocol == "chat.v2"
    assert ("Sec-WebSocket-Protocol", "chat.v2") in result.headers


def test_subprotocol_over_several_header_lines() -> None:
    headers = request_headers(("Sec-WebSocket-Protocol", "a"), ("Sec-WebSocket-Protocol", " b "))
    assert select_protocol(headers, ["b"]) == "b"


def test_no_common_subprotocol() -> None:
    result = shake(("Sec-WebSocket-Protocol", "x, y"), protocols=["z"])
    assert result.protocol is None
    assert all(name != "Sec-WebSocket-Protocol" for name, _ in result.headers)


def test_no_subprotocol_offered_or_known() -> None:
    assert select_protocol(request_headers(), ["chat"]) is None
    assert select_protocol(request_headers(("Sec-WebSocket-Protocol", "chat")), ()) is None


# -- Sec-WebSocket-Extensions parsing ----------------------------------------------------------


def test_parse_extensions() -> None:
    value = 'permessage-deflate; client_max_window_bits, foo;a=1;b="x\\"y" ,, bar'
    assert parse_extensions(value) == [
        ("permessage-deflate", [("client_max_window_bits", None)]),
        ("foo", [("a", "1"), ("b", 'x"y')]),
        ("bar", []),
    ]


@pytest.mark.parametrize("value", ["", "   ", ",", "; x"])
def test_parse_extensions_empty(value: str) -> None:
    assert parse_extensions(value) == []


def test_parse_extensions_skips_malformed_elements() -> None:
    assert parse_extensions("a; x=1, b c, d") == [("a", [("x", "1")]), ("d", [])]
    assert parse_extensions('a; x="1,2" y, b') == [("b", [])]
    assert parse_extensions("a; x=, b; y") == [("b", [("y", None)])]
    assert parse_extensions('a; x="unterminated, b') == []
    assert parse_extensions('a; x="\\') == []


# -- permessage-deflate negotiation (RFC 7692 §7) ----------------------------------------------


def negotiated(value: str, **options: Any) -> tuple[DeflateParams, str] | None:
    return negotiate_deflate(value, **options)


def test_plain_offer() -> None:
    assert negotiated("permessage-deflate") == (DeflateParams(), "permessage-deflate")


def test_typical_browser_offer() -> None:
    result = shake(("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"))
    assert result.deflate == DeflateParams()
    assert result.headers[-1] == ("Sec-WebSocket-Extensions", "permessage-deflate")


def test_context_takeover_flags_are_echoed() -> None:
    params, response = negotiated(
        "permessage-deflate; server_no_context_takeover; client_no_context_takeover"
    ) or (None, "")
    assert params == DeflateParams(server_no_context_takeover=True, client_no_context_takeover=True)
    assert response == "permessage-deflate; server_no_context_takeover; client_no_context_takeover"


@pytest.mark.parametrize("bits", ["9", "10", "15", '"12"'])
def test_server_max_window_bits_is_honoured(bits: str) -> None:
    params, response = negotiated(f"permessage-deflate; server_max_window_bits={bits}") or (
        None,
        "",
    )
    value = int(bits.strip('"'))
    assert params == DeflateParams(server_max_window_bits=value)
    assert response == f"permessage-deflate; server_max_window_bits={value}"


def test_server_window_is_capped_by_the_servers_setting() -> None:
    # aiohttp's ``compress`` may be window bits; the response may lower the client's value.
    offer = "permessage-deflate; server_max_window_bits=12"
    assert negotiated(offer, compress=10) == (
        DeflateParams(server_max_window_bits=10),
        "permessage-deflate; server_max_window_bits=10",
    )
    # Without the parameter in the offer we just use the smaller window, unannounced.
    assert negotiated("permessage-deflate", compress=10) == (
        DeflateParams(server_max_window_bits=10),
        "permessage-deflate",
    )


def test_client_max_window_bits_value_is_accepted_not_echoed() -> None:
    assert negotiated("permessage-deflate; client_max_window_bits=8") == (
        DeflateParams(client_max_window_bits=8),
        "permessage-deflate",
    )


@pytest.mark.parametrize(
    "offer",
    [
        "permessage-deflate; server_max_window_bits=8",  # valid, but zlib cannot do it
        "permessage-deflate; server_max_window_bits=16",
        "permessage-deflate; server_max_window_bits=7",
        "permessage-deflate; server_max_window_bits=09",
        "permessage-deflate; server_max_window_bits",
        "permessage-deflate; server_max_window_bits=abc",
        "permessage-deflate; client_max_window_bits=16",
        "permessage-deflate; client_max_window_bits=",
        "permessage-deflate; server_no_context_takeover=1",
        "permessage-deflate; client_no_context_takeover=true",
        "permessage-deflate; unknown_param",
        "permessage-deflate; server_no_context_takeover; server_no_context_takeover",
        "permessage-deflate; client_max_window_bits; client_max_window_bits=10",
    ],
)
def test_unacceptable_offers_are_declined(offer: str) -> None:
    assert negotiated(offer) is None
    # ... and the next offer is tried (RFC 7692 §5.1: offers in order of preference).
    assert negotiated(f"{offer}, permessage-deflate; client_no_context_takeover") == (
        DeflateParams(client_no_context_takeover=True),
        "permessage-deflate; client_no_context_takeover",
    )


def test_first_acceptable_offer_wins() -> None:
    value = (
        "x-webkit-deflate-frame, permessage-deflate; server_max_window_bits=10, permessage-deflate"
    )
    assert negotiated(value) == (
        DeflateParams(server_max_window_bits=10),
        "permessage-deflate; server_max_window_bits=10",
    )


def test_other_extensions_are_ignored() -> None:
    assert negotiated("x-webkit-deflate-frame; no_context_takeover") is None
    assert shake(("Sec-WebSocket-Extensions", "foo")).deflate is None


def test_names_are_case_insensitive() -> None:
    assert negotiated("PerMessage-Deflate; Server_No_Context_Takeover") == (
        DeflateParams(server_no_context_takeover=True),
        "permessage-deflate; server_no_context_takeover",
    )


def test_offers_over_several_header_lines() -> None:
    result = shake(
        ("Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=8"),
        ("Sec-WebSocket-Extensions", "permessage-deflate; server_max_window_bits=11"),
    )
    assert result.deflate == DeflateParams(server_max_window_bits=11)


def test_compress_off_declines_everything() -> None:
    assert negotiated("permessage-deflate", compress=False) is None
    assert negotiated("permessage-deflate", compress=0) is None
    assert shake(("Sec-WebSocket-Extensions", "permessage-deflate"), compress=False).deflate is None


@pytest.mark.parametrize("compress", [8, 16, -1])
def test_compress_window_bits_are_validated(compress: int) -> None:
    with pytest.raises(ValueError, match="9..15"):
        shake(compress=compress)


def test_full_handshake_header_order() -> None:
    result = shake(
        ("Sec-WebSocket-Protocol", "chat"),
        ("Sec-WebSocket-Extensions", "permessage-deflate; client_max_window_bits"),
        protocols=["chat"],
    )
    assert result.headers == [
        ("Upgrade", "websocket"),
        ("Connection", "upgrade"),
        ("Sec-WebSocket-Accept", ACCEPT),
        ("Sec-WebSocket-Protocol", "chat"),
        ("Sec-WebSocket-Extensions", "permessage-deflate"),
    ]


# -- wsproto as an independent client ----------------------------------------------------------


def parse_request(data: bytes) -> tuple[str, tuple[int, int], CIMultiDictProxy[str]]:
    head, _, _ = data.partition(b"\r\n\r\n")
    request_line, *lines = head.decode("latin-1").split("\r\n")
    method, _, version = request_line.split(" ")
    headers: CIMultiDict[str] = CIMultiDict()
    for line in lines:
        name, _, value = line.partition(":")
        headers.add(name, value.strip())
    major, minor = version.removeprefix("HTTP/").split(".")
    return method, (int(major), int(minor)), CIMultiDictProxy(headers)


@pytest.mark.parametrize(
    ("client_options", "expected"),
    [
        ({}, DeflateParams()),
        ({"client_no_context_takeover": True}, DeflateParams(client_no_context_takeover=True)),
        ({"server_no_context_takeover": True}, DeflateParams(server_no_context_takeover=True)),
        ({"server_max_window_bits": 10}, DeflateParams(server_max_window_bits=10)),
        ({"client_max_window_bits": 12}, DeflateParams(client_max_window_bits=12)),
    ],
)
def test_wsproto_client_accepts_our_response(
    client_options: dict[str, Any], expected: DeflateParams
) -> None:
    wsproto = pytest.importorskip("wsproto")
    from wsproto.events import AcceptConnection, Request
    from wsproto.extensions import PerMessageDeflate

    client = wsproto.WSConnection(wsproto.ConnectionType.CLIENT)
    extension = PerMessageDeflate(**client_options)
    data = client.send(
        Request(host="example.com", target="/ws", subprotocols=["b", "a"], extensions=[extension])
    )
    result = handshake(*parse_request(data), protocols=["a", "b"])
    assert result.deflate == expected
    response = "HTTP/1.1 101 Switching Protocols\r\n"
    response += "".join(f"{name}: {value}\r\n" for name, value in result.headers) + "\r\n"
    client.receive_data(response.encode())
    (event,) = client.events()
    assert isinstance(event, AcceptConnection)
    assert event.subprotocol == "b"
    assert extension.enabled()
