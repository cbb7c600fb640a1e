"""The daemon: home → lock → socket → (HTTP server + session registry) in one nursery.

``serve`` follows trio's ``task_status`` protocol, so ``await nursery.start(serve, config)``
returns a :class:`Daemon` handle once the socket accepts connections. ``open_daemon`` wraps
that as an async context manager for trio programs that embed the daemon.

Shutdown is graceful when asked (:meth:`Daemon.shutdown`): stop accepting, stop every
session with the full escalation, let in-flight responses finish, all within
``shutdown_grace``; then anything left is cancelled. Cancelling ``serve`` from outside (or
:meth:`Daemon.force_stop`) skips the grace: sessions are SIGKILLed and reaped on the way
out. Either way the socket and ``daemon.json`` are removed.
"""

from __future__ import annotations

import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import attrs
import trio

from ._clock import utc_now
from ._home import bind_socket, hold_lock, prepare_home, remove_daemon_json, write_daemon_json
from ._version import __version__
from .api import ApiContext, DaemonIdentity, build_router
from .config import Config
from .harness import HarnessCatalog
from .harness._tree import REAPER, become_subreaper
from .http import HttpServer
from .journal import Journal
from .models import LaunchRequest, SessionRecord
from .sessions import SessionRegistry

log = logging.getLogger("coven_trio.daemon")


@attrs.define(eq=False)
class Daemon:
    """A running daemon, as seen by the program that started it."""

    config: Config
    socket_path: Path
    pid: int
    started_at: str
    harnesses: HarnessCatalog
    sessions: SessionRegistry
    _started_clock: float = attrs.field(factory=trio.current_time)
    _shutdown: trio.Event = attrs.field(factory=trio.Event)
    _force: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    #: Set once ``serve`` has finished cleaning up.
    stopped: trio.Event = attrs.field(factory=trio.Event)
    _server: HttpServer | None = None
    version: str = __version__

    @property
    def connections(self) -> int:
        """HTTP connections open right now."""
        return self._server.connections if self._server is not None else 0

    @property
    def uptime(self) -> float:
        """Seconds since the daemon started serving."""
        return trio.current_time() - self._started_clock

    def shutdown(self) -> None:
        """Ask for a graceful shutdown; ``serve`` returns once it is done."""
        self._shutdown.set()

    def force_stop(self) -> None:
        """Stop now: sessions are SIGKILLed and reaped, responses cut."""
        self._force.cancel()

    async def launch(self, request: LaunchRequest) -> SessionRecord:
        """Launch a session, as ``POST /api/v1/sessions`` does (same checks and
        errors)."""
        session = await self.sessions.launch(request)
        return session.record()

    def journal(self, session_id: str) -> Journal:
        """The journal of a session (raises ``SessionNotFound``)."""
        return self.sessions.get(session_id).journal


async def serve(
    config: Config | None = None,
    *,
    task_status: trio.TaskStatus[Daemon] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Run a daemon until :meth:`Daemon.shutdown` (graceful) or cancellation.

    Raises :class:`~coven_trio.errors.StartupError` if the home or socket cannot be used
    (another daemon is live, the home is unsafe, the socket path is too long).
    """
    config = config or Config()
    home = prepare_home(config.home)
    config = attrs.evolve(config, home=home)
    pid = os.getpid()
    with hold_lock(home):
        bound = await bind_socket(home)
        try:
            with bound.sock:
                started_at = utc_now()
                write_daemon_json(
                    home, {"pid": pid, "startedAt": started_at, "socket": str(bound.path)}
                )
                harnesses = HarnessCatalog(home)
                daemon = Daemon(
                    config=config,
                    socket_path=bound.path,
                    pid=pid,
                    started_at=started_at,
                    harnesses=harnesses,
                    sessions=SessionRegistry(config, harnesses),
                )
                identity = DaemonIdentity(
                    pid=pid,
                    started_at=started_at,
                    socket_path=bound.path,
                    version=__version__,
                    started_clock=daemon._started_clock,
                )
                ctx = ApiContext(
                    config=config,
                    sessions=daemon.sessions,
                    harnesses=harnesses,
                    identity=identity,
                )
                server = daemon._server = HttpServer(config, build_router(ctx))
                try:
                    await _run(daemon, server, bound.sock, task_status)
                finally:
                    daemon.stopped.set()
        finally:
            bound.unlink_if_ours()
            remove_daemon_json(home, pid)
            log.info("stopped")


async def _run(
    daemon: Daemon,
    server: HttpServer,
    sock: trio.socket.SocketType,
    task_status: trio.TaskStatus[Daemon],
) -> None:
    config = daemon.config
    subreaper = config.subreaper and become_subreaper()
    try:
        with daemon._force:
            await _serve_until_shutdown(daemon, server, sock, task_status, subreaper)
    finally:
        if subreaper:
            await REAPER.drain()  # what the stopping sessions killed last
            become_subreaper(False)


async def _serve_until_shutdown(
    daemon: Daemon,
    server: HttpServer,
    sock: trio.socket.SocketType,
    task_status: trio.TaskStatus[Daemon],
    subreaper: bool,
) -> None:
    config = daemon.config
    async with trio.open_nursery() as nursery:
        if subreaper:
            await nursery.start(REAPER.run)
        await nursery.start(daemon.sessions.run)
        await nursery.start(server.serve, sock)
        log.info("serving %s (pid %d)", daemon.socket_path, daemon.pid)
        task_status.started(daemon)
        await daemon._shutdown.wait()
        log.info("shutting down")
        server.stop_accepting()
        with trio.move_on_after(config.shutdown_grace) as grace:
            await daemon.sessions.stop_all()
            await server.wait_idle()
        if grace.cancelled_caught:
            log.warning("shutdown grace of %gs ran out", config.shutdown_grace)
        nursery.cancel_scope.cancel()


@asynccontextmanager
async def open_daemon(
    home: str | os.PathLike[str] | None = None, **options: Any
) -> AsyncIterator[Daemon]:
    """Run a daemon inside the caller's trio program for the block's duration.

    ``options`` are :class:`Config` fields. Leaving the block shuts the daemon down
    gracefully (every session stopped, socket removed).
    """
    if home is not None:
        options["home"] = Path(home)
    config = Config(**options)
    async with trio.open_nursery() as nursery:
        daemon: Daemon = await nursery.start(serve, config)
        try:
            yield daemon
        finally:
            daemon.shutdown()
