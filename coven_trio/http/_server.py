"""The listener: accept connections on the daemon's Unix socket, one task each.

Every accepted stream is owned by one connection task in the server's nursery
(:func:`~._connection.serve_stream` closes it). Socket-level refusals happen here,
before a byte is parsed: a peer uid other than ours (``SO_PEERCRED``), and connections
beyond ``max_connections`` (503 with ``Retry-After``).
"""

from __future__ import annotations

import errno
import itertools
import logging
import os

import attrs
import trio

from .._home import peer
from ..config import Config
from ..errors import CapacityExhausted, PeerRefused
from ._connection import Lifecycle, send_error_and_close, serve_stream
from ._router import Router

log = logging.getLogger("coven_trio.http")

#: accept() errnos that mean "out of fds or memory": wait and retry (as trio's
#: serve_listeners does) instead of dying.
ACCEPT_CAPACITY_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
ACCEPT_RETRY_SLEEP = 0.1


@attrs.define(eq=False)
class HttpServer:
    """Serves ``router`` on a bound Unix socket until cancelled or :meth:`stop_accepting`."""

    config: Config
    router: Router
    _ids: itertools.count[int] = attrs.field(factory=itertools.count)
    _accept_scope: trio.CancelScope | None = None
    _lifecycle: Lifecycle = attrs.field(factory=Lifecycle)
    _connections: int = 0
    _drained: trio.Event | None = None

    async def serve(
        self,
        sock: trio.socket.SocketType,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Accept connections on ``sock`` (already bound and listening) until cancelled.

        Connection tasks live in this function's nursery, so they never outlive it.
        """
        listener = trio.SocketListener(sock)
        async with trio.open_nursery() as nursery:
            with trio.CancelScope() as self._accept_scope:
                task_status.started()
                while True:
                    try:
                        stream = await listener.accept()
                    except OSError as exc:
                        if exc.errno not in ACCEPT_CAPACITY_ERRNOS:
                            raise
                        log.error("accept failed (%s); retrying", errno.errorcode[exc.errno])
                        await trio.sleep(ACCEPT_RETRY_SLEEP)
                        continue
                    nursery.start_soon(self._run_connection, stream)
            await listener.aclose()

    def stop_accepting(self) -> None:
        """Stop taking connections and end idle keep-alive ones; in-flight ones finish."""
        if self._accept_scope is not None:
            self._accept_scope.cancel()
        self._lifecycle.close()

    @property
    def connections(self) -> int:
        return self._connections

    async def wait_idle(self) -> None:
        """Return once no connection is open (used by graceful shutdown)."""
        while self._connections:
            self._drained = trio.Event()
            await self._drained.wait()

    async def _run_connection(self, stream: trio.SocketStream) -> None:
        conn_id = next(self._ids)
        self._connections += 1
        try:
            who = peer(stream.socket)
            if self.config.check_peer_uid:
                uid = who[1] if who is not None else None
                if uid is not None and uid != os.geteuid():
                    log.warning("refusing connection %d from uid %d", conn_id, uid)
                    await send_error_and_close(
                        stream, self.config, PeerRefused("peer uid is not ours")
                    )
                    return
            if self._connections > self.config.max_connections:
                exc = CapacityExhausted("Too many connections.", headers=[("retry-after", "1")])
                await send_error_and_close(stream, self.config, exc)
                return
            pid = who[0] if who is not None else None
            await serve_stream(stream, self.config, self.router, self._lifecycle, conn_id, pid)
        except Exception:  # a bug around one connection ends that connection only
            log.exception("connection %d failed", conn_id)
        finally:
            self._connections -= 1
            stream.socket.close()  # usually closed already; idempotent, no checkpoint
            if self._connections == 0 and self._drained is not None:
                self._drained.set()
