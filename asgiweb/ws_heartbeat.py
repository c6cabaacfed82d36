"""The WebSocket heartbeat: a PING once the peer has been quiet for a period, and the
connection given up when nothing answers within half of it (as aiohttp does)."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TYPE_CHECKING

from .ws_types import WSMsgType

if TYPE_CHECKING:
    from .transport import WebSocketChannel

__all__ = ["Heartbeat"]


class Heartbeat:
    """Watches one channel. One timer at a time, never reset per message: when it fires
    it compares against the channel's last activity and re-arms itself for what is left.

    ``on_dead(exc)`` is called when the PING cannot be sent or no answer came in time.
    """

    __slots__ = ("_channel", "_loop", "_period", "_on_dead", "_handle", "_ping_task", "_sent_at")

    def __init__(
        self,
        loop: asyncio.AbstractEventLoop,
        channel: WebSocketChannel,
        period: float,
        on_dead: Callable[[BaseException], None],
    ) -> None:
        self._channel = channel
        self._loop = loop
        self._period = period
        self._on_dead = on_dead
        self._ping_task: asyncio.Task[None] | None = None
        self._sent_at = 0.0
        channel.track_activity = True
        due = max(channel.last_activity, loop.time()) + period
        self._handle: asyncio.TimerHandle | None = loop.call_at(due, self._on_timer)

    def cancel(self) -> None:
        """Stop watching: no more timers, and a PING on its way is abandoned."""
        handle = self._handle
        if handle is not None:
            self._handle = None
            handle.cancel()
        task = self._ping_task
        if task is not None:
            self._ping_task = None
            task.cancel()

    def _on_timer(self) -> None:
        channel, loop, period = self._channel, self._loop, self._period
        self._handle = None
        due = channel.last_activity + period
        if loop.time() < due:  # the peer spoke since: it is alive
            self._handle = loop.call_at(due, self._on_timer)
            return
        self._sent_at = loop.time()
        self._handle = loop.call_at(self._sent_at + period / 2, self._on_pong_deadline)
        self._ping_task = loop.create_task(self._send_ping())

    async def _send_ping(self) -> None:
        try:
            await self._channel.send(b"", WSMsgType.PING)
        except Exception as exc:
            self._ping_task = None  # done: on_dead() cancelling it must not cancel us
            self._on_dead(exc)
        else:
            self._ping_task = None

    def _on_pong_deadline(self) -> None:
        channel, period = self._channel, self._period
        self._handle = None
        # Any bytes count as the answer. At or after the PING, not after: uvloop's clock
        # moves in whole milliseconds, and on loopback the PONG comes within the same one.
        if channel.last_activity >= self._sent_at:
            self._handle = self._loop.call_at(channel.last_activity + period, self._on_timer)
        else:
            self._on_dead(TimeoutError(f"No PONG received after {period / 2} seconds"))
