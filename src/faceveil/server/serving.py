"""uvicorn's h11 protocol with a deadline on the request head.

uvicorn times out idle keep-alive connections, but not a connection that sends its request
line and headers slowly or never (slowloris): each stays open and counts against
``limit_concurrency``. Here a request head must be complete `head_timeout_s` after the
connection opens or after its first byte arrives; otherwise the connection is closed. Request
bodies have their own timeout in the app (:class:`faceveil.server.uploads.BodyLimitMiddleware`).
"""

from __future__ import annotations

import asyncio

import h11
from uvicorn.protocols.http.h11_impl import H11Protocol

HEAD_TIMEOUT_S = 10.0


class HeadTimeoutH11Protocol(H11Protocol):
    """:class:`H11Protocol` that closes connections whose request head is late."""

    head_timeout_s = HEAD_TIMEOUT_S

    def connection_made(self, transport) -> None:
        self._head_timer: asyncio.TimerHandle | None = None
        super().connection_made(transport)
        self._arm()

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self.conn.their_state is h11.IDLE:  # a head begun but not complete
            self._arm()
        else:
            self._disarm()

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        super().connection_lost(exc)

    def _arm(self) -> None:
        if self._head_timer is None:
            self._head_timer = self.loop.call_later(self.head_timeout_s, self._head_late)

    def _disarm(self) -> None:
        if self._head_timer is not None:
            self._head_timer.cancel()
            self._head_timer = None

    def _head_late(self) -> None:
        self._head_timer = None
        if self.conn.their_state is h11.IDLE and not self.transport.is_closing():
            self.transport.close()
