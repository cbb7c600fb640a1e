"""The trio side of one NATS connection: each method is one hop over the bridge to the
matching coroutine of ``_nats.Link`` or ``_nats_ops`` (imported at the call: nats-py is
loaded with the link, never before). The exporter, the launch service and the commands
use only this; nats-py is imported when a link is opened, never before."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import TYPE_CHECKING, Any

from ._bridge import AsyncioBridge, open_bridge
from ._config import FleetSettings

if TYPE_CHECKING:
    from ._nats import Link


class FleetLink:
    """A NATS connection (maybe not yet up) for trio code."""

    def __init__(self, bridge: AsyncioBridge, link: Link) -> None:
        self.bridge = bridge
        self._link = link
        self.settings = link.settings

    # --- state (plain attributes the loop writes; reading them is safe anywhere) --------

    @property
    def state(self) -> str:
        return self._link.state

    @property
    def last_error(self) -> str | None:
        return self._link.last_error

    @property
    def connected_url(self) -> str | None:
        return self._link.connected_url

    # --- calls ---------------------------------------------------------------------------

    async def connect(self) -> None:
        await self.bridge.call(self._link.connect)

    async def wait_connected(self) -> None:
        await self.bridge.call(self._link.wait_connected)

    async def ensure_stream(self) -> str:
        return await self.bridge.call(self._link.ensure_stream)

    async def ensure_bucket(self) -> str:
        return await self.bridge.call(self._link.ensure_bucket)

    async def publish_window(
        self, items: list[tuple[str, bytes, str | None]], timeout: float
    ) -> tuple[list[int | None], list[float], int]:
        return await self.bridge.call(self._link.publish_window, items, timeout)

    async def subject_after(self, subject: str, after: int) -> list[tuple[int, str | None]]:
        return await self.bridge.call(self._link.subject_after, subject, after)

    async def last_of(self, subject: str) -> tuple[int, str | None] | None:
        return await self.bridge.call(self._link.last_of, subject)

    async def stream_state(self) -> dict[str, Any]:
        return await self.bridge.call(self._link.stream_state)

    async def records(self) -> list[bytes]:
        from . import _nats_ops

        return await self.bridge.call(_nats_ops.records, self._link)

    async def record(self, key: str) -> bytes | None:
        from . import _nats_ops

        return await self.bridge.call(_nats_ops.record, self._link, key)

    async def open_tail(self, subject: str) -> Any:
        from . import _nats_ops

        return await self.bridge.call(_nats_ops.open_tail, self._link, subject)

    async def next_messages(
        self, sub: Any, limit: int, timeout: float | None
    ) -> list[tuple[bytes, str | None, int]]:
        from . import _nats_ops

        return await self.bridge.call(_nats_ops.next_messages, self._link, sub, limit, timeout)

    async def unsubscribe(self, sub: Any) -> None:
        from . import _nats_ops

        await self.bridge.call(_nats_ops.unsubscribe, self._link, sub)

    async def request(self, subject: str, body: bytes, timeout: float) -> tuple[int, bytes]:
        from . import _nats_ops

        return await self.bridge.call(_nats_ops.request, self._link, subject, body, timeout)

    async def serve(self, subject: str) -> Any:
        from . import _nats_ops

        return await self.bridge.call(_nats_ops.serve, self._link, subject)

    async def next_request(self, sub: Any) -> Any:
        from . import _nats_ops

        return await self.bridge.call(_nats_ops.next_request, self._link, sub)

    async def respond(self, reply: str, status: int, body: bytes) -> None:
        from . import _nats_ops

        await self.bridge.call(_nats_ops.respond, self._link, reply, status, body)

    async def close(self) -> None:
        await self.bridge.call(self._link.close)


@asynccontextmanager
async def open_link(
    settings: FleetSettings, *, name: str, forever: bool, connect: bool = True
) -> AsyncIterator[FleetLink]:
    """A link for the block (its bridge thread included); ``connect=False`` leaves the
    connecting to the caller (the daemon connects in the background, retrying)."""
    from ._nats import Link  # nats-py is imported here, and only here

    async with open_bridge() as bridge:
        link = FleetLink(bridge, Link(settings, name=name, forever=forever))
        try:
            if connect:
                await link.connect()
            yield link
        finally:
            if not bridge.closed:
                # Closing is best effort; the bridge closes regardless.
                with contextlib.suppress(Exception):
                    await link.close()
