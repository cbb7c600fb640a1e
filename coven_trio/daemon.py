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

import functools
import importlib.util
import logging
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import trio

from ._clock import utc_now
from ._defaults import FLEET_FILE, WEB_API_PREFIX
from ._home import (
    bind_socket,
    hold_lock,
    prepare_home,
    read_daemon_json,
    remove_daemon_json,
    write_daemon_json,
)
from ._upkeep import orphan_note, prune_periodically, stop_orphans
from ._version import __version__
from .api import ApiContext, DaemonIdentity, build_router
from .config import Config
from .harness import HarnessCatalog
from .harness._tree import REAPER, become_subreaper
from .http import HttpServer, Router
from .notify import Dispatcher
from .store import Store, StoreUnavailable, open_store

if TYPE_CHECKING:
    from .fleet.service import FleetHealth
    from .journal import Journal
    from .models import LaunchRequest, SessionRecord
    from .sessions import Session, SessionRegistry
    from .vocabulary import Entry
    from .web import WebManager

log = logging.getLogger("coven_trio.daemon")


@attrs.define(eq=False)
class Daemon:
    """A running daemon, as seen by the program that started it."""

    config: Config
    socket_path: Path
    pid: int
    started_at: str
    harnesses: HarnessCatalog
    store: Store
    _started_clock: float = attrs.field(factory=trio.current_time)
    _shutdown: trio.Event = attrs.field(factory=trio.Event)
    _force: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    #: Set once ``serve`` has finished cleaning up.
    stopped: trio.Event = attrs.field(factory=trio.Event)
    _server: HttpServer | None = None
    version: str = __version__
    #: Every route the daemon serves (other listeners serve the same).
    router: Router | None = None
    #: What the API views see of the daemon.
    ctx: ApiContext | None = None
    #: The web dashboard's manager (its listener, when one runs), once loaded.
    web: WebManager | None = None
    _nursery: trio.Nursery | None = None
    #: Notifications: ``<home>/notify.toml``'s notifiers and the clients following.
    notifications: Dispatcher = attrs.field(factory=Dispatcher)
    #: The fleet's state, while it runs (``<home>/fleet.toml``).
    fleet: FleetHealth | None = None
    _sessions: SessionRegistry | None = attrs.field(default=None, init=False)

    @property
    def sessions(self) -> SessionRegistry:
        """Every session of this daemon. The session machinery loads with the first
        request that needs it (a launch, a list, a stream): a daemon asked only for its
        health, or started to be ready, has not paid for it. Loaded as the daemon stops,
        or after, it refuses launches as a stopping daemon does (503)."""
        if self._sessions is None:
            from .sessions import SessionRegistry

            registry = SessionRegistry(self.config, self.harnesses, self.store)
            registry.observe = _observer(self.notifications, registry)
            registry.closing = self._shutdown.is_set() or self._nursery is None
            if self._nursery is not None:
                self._nursery.start_soon(registry.run)
            self._sessions = registry
        return self._sessions

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
        return session.as_launched()

    def load_web(self) -> WebManager:
        """The web dashboard's manager, loaded with its first use (``coven-trio web``, a
        request under ``/api/v1/web``, ``serve --http``): until then nothing of the
        dashboard is imported."""
        if self.web is None:
            from .web import WebManager, install_routes

            assert self._nursery is not None and self.router is not None
            self.web = WebManager(self)
            self._nursery.start_soon(self.web.run)
            install_routes(self.router, self.web)
        return self.web

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
        previous = read_daemon_json(home)  # who ran here before (for orphaned sessions)
        store, store_error = _open_store(config)
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
                    store=store,
                    notifications=Dispatcher.from_home(home),
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
                    registry=lambda: daemon.sessions,
                    harnesses=harnesses,
                    identity=identity,
                    store=store,
                    store_error=store_error,
                    shutdown=daemon.shutdown,
                    notifications=daemon.notifications,
                    health_parts={"notify": daemon.notifications.health},
                )
                daemon.ctx, daemon.router = ctx, build_router(ctx)
                server = daemon._server = HttpServer(config, daemon.router)
                try:
                    await _run(daemon, server, bound.sock, task_status, previous)
                finally:
                    daemon.stopped.set()
        finally:
            await store.aclose()  # commits what the last moments journaled
            bound.unlink_if_ours()
            remove_daemon_json(home, pid)
            log.info("stopped")


def _open_store(config: Config) -> tuple[Store, str | None]:
    """The configured store; one that cannot be opened leaves the daemon serving from
    memory, loudly (log, and ``storage.status: degraded`` in health), rather than not
    serving at all."""
    if isinstance(config.store, Store):
        return config.store, None
    if config.store == "memory":
        return Store(), None
    try:
        return open_store(config.home, max_queue_bytes=config.store_queue_bytes), None
    except StoreUnavailable as exc:
        log.error("%s; sessions will NOT survive a restart", exc)
        return Store(), str(exc)


async def _run(
    daemon: Daemon,
    server: HttpServer,
    sock: trio.socket.SocketType,
    task_status: trio.TaskStatus[Daemon],
    previous: dict[str, Any] | None,
) -> None:
    config = daemon.config
    subreaper = config.subreaper and become_subreaper()
    REAPER.active, REAPER.strangers = subreaper, subreaper and config.reap_strangers
    try:
        with daemon._force:
            await _serve_until_shutdown(daemon, server, sock, task_status, subreaper, previous)
    finally:
        daemon._nursery = None  # closed: nothing more starts in it
        if subreaper:
            await REAPER.drain()  # what the stopping sessions killed last
            become_subreaper(False)
            REAPER.active = REAPER.strangers = False


async def _serve_until_shutdown(
    daemon: Daemon,
    server: HttpServer,
    sock: trio.socket.SocketType,
    task_status: trio.TaskStatus[Daemon],
    subreaper: bool,
    previous: dict[str, Any] | None,
) -> None:
    config = daemon.config
    store = daemon.store
    async with trio.open_nursery() as nursery:
        daemon._nursery = nursery
        if subreaper:
            await nursery.start(REAPER.run)
        await nursery.start(store.run)
        orphans = await store.recover(orphan_note(previous))
        nursery.start_soon(stop_orphans, orphans, config.term_grace)
        nursery.start_soon(prune_periodically, store, config)
        await nursery.start(daemon.notifications.run)
        await _fleet(nursery, daemon)
        await _web(daemon)
        await nursery.start(server.serve, sock)
        log.info("serving %s (pid %d)", daemon.socket_path, daemon.pid)
        task_status.started(daemon)
        await daemon._shutdown.wait()
        log.info("shutting down")
        if daemon.web is not None:
            await daemon.web.stop()
        server.stop_accepting()
        daemon.notifications.end_followers()  # their streams end now, not at the grace
        with trio.move_on_after(config.shutdown_grace) as grace:
            if daemon._sessions is not None:
                await daemon._sessions.stop_all()
            await server.wait_idle()
        if grace.cancelled_caught:
            log.warning("shutdown grace of %gs ran out", config.shutdown_grace)
        nursery.cancel_scope.cancel()


async def _web(daemon: Daemon) -> None:
    """The web dashboard: its management routes load with the first request for them;
    with ``http`` in the config (``serve --http HOST:PORT``) its listener runs from the
    start."""
    assert daemon.router is not None
    daemon.router.mount(WEB_API_PREFIX, lambda router: daemon.load_web())
    if daemon.config.http is not None:
        from .web import WebOptions

        host, _, port = daemon.config.http.rpartition(":")
        options = WebOptions(host=host or "127.0.0.1", port=int(port))
        listener = await daemon.load_web().listen(options)
        log.info("web dashboard on %s", listener.public_url)


async def _fleet(nursery: trio.Nursery, daemon: Daemon) -> None:
    """With ``<home>/fleet.toml``: export the journals to NATS JetStream and serve
    launches for this host (docs/fleet.md), its state in health under ``fleet``. The
    fleet's modules (nats-py, an asyncio thread) load only then; a fleet that cannot
    start is logged and shown in health, and the daemon serves on without it."""
    if not (daemon.config.home / FLEET_FILE).exists():
        return  # nothing of the fleet (or of nats-py, or asyncio) is loaded
    from .fleet import FleetConfigError, load_settings

    assert daemon.ctx is not None
    parts = daemon.ctx.health_parts
    try:
        settings = load_settings(daemon.config.home)
    except FleetConfigError as exc:
        problem = str(exc)
        log.error("the fleet is off: %s", problem)
        parts["fleet"] = lambda: {"error": problem}
        return
    if settings is None:
        return
    if importlib.util.find_spec("nats") is None:  # installed without the `fleet` extra
        error = "nats-py is not installed: pip install 'coven-trio[fleet]'"
        log.error("the fleet is off: %s", error)
        parts["fleet"] = lambda: {"error": error}
        return
    from .fleet.service import registry_launcher, run_fleet

    fleet = functools.partial(
        run_fleet,
        settings,
        home=daemon.config.home,
        store_path=daemon.store.path,
        launch=registry_launcher(lambda: daemon.sessions) if settings.launches else None,
    )
    health = daemon.fleet = await nursery.start(fleet)
    parts["fleet"] = health.body
    log.info("fleet: host %s on %s", settings.host, ", ".join(settings.servers))


def _observer(
    dispatcher: Dispatcher, sessions: SessionRegistry
) -> Callable[[Session, list[Entry]], None]:
    """What every session journals, read for the moments a person hears about; quiet
    for notifiers that say so while a person follows the session, and while the daemon
    itself stops (its sessions' ends are not news)."""
    from .notify.moments import About, moments

    def observe(session: Session, entries: list[Entry]) -> None:
        if sessions.closing:
            return
        about = About(session.id, session.project_root, session.harness, session.title)
        for notification in moments(entries, about):
            dispatcher.publish(notification, attached=session.people > 0)

    return observe


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
