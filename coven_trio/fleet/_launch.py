"""Launching on a chosen host: a NATS request/reply service in front of the daemon's own
launch, and the client side of it.

A request to ``<prefix>.launch.<host>`` carries the body ``POST /api/v1/sessions`` takes;
the answer carries the body that route answers — the record, or the error envelope — and
its HTTP status in the ``Coven-Status`` header. The same code makes both (the launch
callable is the socket API's), so a launch over the fleet is refused exactly as over the
socket. Which hosts may serve is NATS's to decide: a host's credentials allow it to
subscribe to its own launch subject only, so a daemon configured with someone else's
host name is refused before it can answer anything (:class:`FleetRefused`).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from typing import TYPE_CHECKING, Any

import trio

from .._json import JsonRejected, dumps, loads_request
from ..errors import CovenError, InternalError, InvalidRequest, envelope
from ._health import LaunchStats
from ._link import FleetLink
from ._subjects import launch_subject

if TYPE_CHECKING:
    from ..sessions import SessionRegistry

log = logging.getLogger("coven_trio.fleet")

#: A launch (body → record JSON, or a raised CovenError), as the socket API performs it.
Launch = Callable[[dict[str, Any]], Awaitable[dict[str, Any]]]
#: Launches handled at once; more wait in the subscription's bounded queue.
MAX_CONCURRENT = 8
#: How long ``fleet launch`` waits for the host's answer (a launch answers once the
#: store has the session: well under a second, unless the harness is slow to start).
REQUEST_TIMEOUT = 30.0
#: No daemon answering ``<prefix>.launch.<host>`` is asked again this long before
#: ``fleet launch`` says so: a subscription made on one server reaches the others (its
#: interest travels over the cluster's routes) a moment later.
NO_RESPONDERS_GRACE = 2.0


def registry_launcher(sessions: Callable[[], SessionRegistry]) -> Launch:
    """The launch ``POST /api/v1/sessions`` performs (``CovenV1.launch``), as a callable
    (``sessions`` gives the daemon's registry, loaded with the first launch)."""
    from .. import models

    async def launch(body: dict[str, Any]) -> dict[str, Any]:
        request = models.structure(body, models.LaunchRequest)
        session = await sessions().launch(request)
        record: dict[str, Any] = models.unstructure(session.as_launched())
        return record

    return launch


def _body(data: bytes) -> dict[str, Any]:
    """The request body, read as the HTTP layer reads one (``Request.json_object``)."""
    if not data.strip():
        return {}
    try:
        body = loads_request(data)
    except JsonRejected:
        raise InvalidRequest("failed to parse request body") from None
    if not isinstance(body, dict):
        raise InvalidRequest("request body must be a JSON object")
    return body


async def answer(launch: Launch, data: bytes) -> tuple[int, bytes]:
    """The status and body the socket API would answer ``data`` with."""
    try:
        record = await launch(_body(data))
    except CovenError as exc:
        return exc.status, envelope(exc)
    except Exception:
        log.exception("fleet: a launch failed inside")
        internal = InternalError("Internal server error.")
        return internal.status, envelope(internal)
    return 201, dumps(record)


async def serve_launches(
    link: FleetLink,
    launch: Launch,
    stats: LaunchStats,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Answer launch requests addressed to this host until cancelled. Raises
    :class:`~coven_trio.fleet._nats.FleetRefused` if the credentials do not allow it."""
    settings = link.settings
    subject = stats.subject = launch_subject(settings.prefix, settings.host)
    await link.wait_connected()
    try:
        sub = await link.serve(subject)
    except Exception as exc:
        stats.last_error = str(exc)
        raise
    stats.serving = True
    task_status.started()
    slots = trio.Semaphore(MAX_CONCURRENT)

    async def handle(msg: Any) -> None:
        try:
            status, body = await answer(launch, msg.data)
            stats.served += status < 400
            stats.refused += status >= 400
            if msg.reply:
                try:
                    await link.respond(msg.reply, status, body)
                except Exception as exc:  # the requester will time out; say why here
                    stats.last_error = f"could not answer a launch: {exc}"
                    log.warning("fleet: %s", stats.last_error)
        finally:
            slots.release()

    try:
        async with trio.open_nursery() as nursery:
            while True:
                msg = await link.next_request(sub)
                await slots.acquire()  # a bounded number in flight
                nursery.start_soon(handle, msg)
    finally:
        stats.serving = False
        with trio.CancelScope(shield=True), trio.move_on_after(2):
            await link.unsubscribe(sub)


async def launch_on(
    link: FleetLink, host: str, body: dict[str, Any], timeout: float = REQUEST_TIMEOUT
) -> tuple[int, Any]:
    """Ask ``host``'s daemon to launch; returns the status and the decoded answer (status
    0: no daemon serves that host)."""
    subject = launch_subject(link.settings.prefix, host)
    deadline = trio.current_time() + NO_RESPONDERS_GRACE
    while True:  # a daemon's subscription reaches every server a moment after it starts
        status, data = await link.request(subject, dumps(body), timeout)
        if status != 0 or trio.current_time() >= deadline:
            break
        await trio.sleep(0.1)
    if status == 0:
        return 0, None
    try:
        return status, loads_request(data)
    except JsonRejected:
        return 502, {"error": {"code": "internal_error", "message": "unreadable answer"}}
