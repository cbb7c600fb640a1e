"""The fleet side of a daemon, as one task for its nursery.

``run_fleet`` opens one NATS connection (its asyncio thread included) and runs, over it,
the exporter (``export = true`` and a durable store) and the launch service
(``launches = true`` and a launch callable). It never ends the daemon over NATS trouble:
servers that are down, refused credentials, a stream that cannot be made — each is
retried or reported in :class:`FleetHealth`, and the sessions go on. Cancelling it
closes the connection, the loop and the thread.

The daemon starts it when ``<home>/fleet.toml`` exists::

    settings = load_settings(home)                    # None: fleet off, nothing imported
    if settings is not None:
        from coven_trio.fleet.service import registry_launcher, run_fleet
        health = await nursery.start(
            functools.partial(run_fleet, settings, home=home, store_path=store.path,
                              launch=registry_launcher(lambda: daemon.sessions)))
        # health.body() is the health handshake's "fleet" object
"""

from __future__ import annotations

import logging
from pathlib import Path

import trio

from ._config import FleetSettings
from ._exporter import run_exporter
from ._health import ExportState, FleetHealth
from ._launch import Launch, registry_launcher, serve_launches
from ._link import FleetLink, open_link

log = logging.getLogger("coven_trio.fleet")

#: After an unexpected failure of the exporter or the launch service, before a restart.
RESTART_DELAY = 5.0


async def run_fleet(
    settings: FleetSettings,
    *,
    home: Path,
    store_path: Path | None,
    launch: Launch | None = None,
    task_status: trio.TaskStatus[FleetHealth] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Export and serve launches until cancelled; started with the health object (at
    once: connecting happens in the background, so NATS never delays the daemon)."""
    health = FleetHealth(host=settings.host)
    name = f"coven-trio {settings.host}"
    async with open_link(settings, name=name, forever=True, connect=False) as link:
        health.link = link
        async with trio.open_nursery() as nursery:
            nursery.start_soon(_connect, link, health)
            if settings.export and store_path is not None:
                nursery.start_soon(_export, link, home, store_path, health)
            else:
                health.export.state = ExportState.OFF
                if settings.export:
                    health.export.last_error = "the store is in memory: nothing to export"
            if settings.launches and launch is not None:
                nursery.start_soon(_launches, link, launch, health)
            task_status.started(health)


async def _connect(link: FleetLink, health: FleetHealth) -> None:
    while True:
        try:
            await link.connect()  # retries by itself, for as long as it takes
        except Exception as exc:
            health.error = str(exc)
            log.warning("fleet: cannot connect: %s", exc)
            await trio.sleep(RESTART_DELAY)
            continue
        health.error = None
        log.info("fleet: connected to %s as host %s", link.connected_url, health.host)
        return


async def _export(link: FleetLink, home: Path, store_path: Path, health: FleetHealth) -> None:
    while True:
        try:
            await run_exporter(link, home, store_path, health.export)
        except Exception as exc:
            health.export.state = ExportState.FAILED
            health.export.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("fleet: the exporter failed; restarting it")
            await trio.sleep(RESTART_DELAY)


async def _launches(link: FleetLink, launch: Launch, health: FleetHealth) -> None:
    from ._nats import FleetRefused

    while True:
        try:
            await serve_launches(link, launch, health.launches)
        except FleetRefused as exc:
            health.launches.last_error = f"refused: {exc}"
            log.error("fleet: NATS refused to let host %s serve launches: %s", health.host, exc)
            return  # the credentials will not change while the daemon runs
        except Exception as exc:
            health.launches.last_error = f"{type(exc).__name__}: {exc}"
            log.exception("fleet: the launch service stopped (%s); restarting it", exc)
            await trio.sleep(RESTART_DELAY)


__all__ = ["FleetHealth", "registry_launcher", "run_fleet"]
