from collections.abc import Iterable
from typing import Any

from asgiweb.ws_types import WSMessage

def unmask(
    data: bytes | bytearray | memoryview, mask: bytes | bytearray | memoryview, /
) -> bytes: ...
def small_frame(
    data: bytes | bytearray | memoryview, decode_text: bool, max_msg_size: int, /
) -> WSMessage | None: ...
def serialize_head(
    version: tuple[int, int],
    status: int,
    reason: str,
    headers: Iterable[tuple[str, str]],
    /,
) -> bytes: ...
def plain_frame(payload: bytes | bytearray | memoryview | str, opcode: int, /) -> bytes: ...
def simple_head(
    data: bytes | bytearray | memoryview,
    pos: int,
    max_line: int,
    max_field: int,
    max_fields: int,
    max_head: int,
    /,
) -> tuple[int, str, str, str, list[tuple[bytes, bytes]]] | None: ...
def simple_heads(
    data: bytes | bytearray | memoryview,
    pos: int,
    max_line: int,
    max_field: int,
    max_fields: int,
    max_head: int,
    template: object,
    events: list[Any],
    end: object,
    /,
) -> int: ...
