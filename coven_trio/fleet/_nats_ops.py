"""The asyncio side's reads and launch calls over a :class:`~coven_trio.fleet._nats.Link`:
the record bucket, a subject's messages in order (an ordered consumer), launch
requests, the launch subscription and its answers. Each runs on the bridge's loop.

Bounds: a tail's ordered consumer and the launch subscription hold at most the
``*_PENDING`` limits below between the trio side's pulls (past them nats-py drops and
reports a slow consumer; an ordered consumer then resumes by itself, a launch request
times out at its sender).
"""

from __future__ import annotations

import asyncio
import contextlib

import nats.errors
import nats.js.errors
from nats.aio.msg import Msg
from nats.aio.subscription import Subscription
from nats.js import api

from ._nats import API_TIMEOUT, FleetRefused, Link
from ._subjects import MSG_ID, STATUS_HEADER

#: A launch request's subscription holds at most this many waiting requests.
LAUNCH_PENDING = 256
#: A tail's ordered consumer holds at most this much between the reader's pulls.
TAIL_PENDING_MSGS = 4096
TAIL_PENDING_BYTES = 64 << 20
#: How long a new launch subscription waits for a refusal that comes after the flush.
REFUSAL_GRACE = 0.25


async def records(link: Link) -> list[bytes]:
    """The latest value of every key in the record bucket."""
    kv = await link.jetstream().key_value(link.settings.bucket)
    watcher = await kv.watchall(ignore_deletes=True)
    values: list[bytes] = []
    try:
        while True:
            entry = await watcher.updates(timeout=API_TIMEOUT)  # type: ignore[no-untyped-call]
            if entry is None:  # every current value was delivered
                return values
            if entry.value:
                values.append(entry.value)
    finally:
        await watcher.stop()  # type: ignore[no-untyped-call]


async def record(link: Link, key: str) -> bytes | None:
    kv = await link.jetstream().key_value(link.settings.bucket)
    try:
        entry = await kv.get(key)
    except nats.js.errors.KeyNotFoundError:
        return None
    return entry.value


async def open_tail(link: Link, subject: str) -> Subscription:
    """An ordered consumer of ``subject`` from its first message."""
    return await link.jetstream().subscribe(
        subject,
        stream=link.settings.stream,
        ordered_consumer=True,
        deliver_policy=api.DeliverPolicy.ALL,
        pending_msgs_limit=TAIL_PENDING_MSGS,
        pending_bytes_limit=TAIL_PENDING_BYTES,
    )


async def next_messages(
    link: Link, sub: Subscription, limit: int, timeout: float | None
) -> list[tuple[bytes, str | None, int]]:
    """Up to ``limit`` messages: the first waited for (at most ``timeout``; none
    then), the rest only if already there. Each: data, message id, and how many
    of the subject remain after it."""
    try:
        first = await sub.next_msg(timeout=timeout)
    except nats.errors.TimeoutError:
        return []
    batch = [first]
    while len(batch) < limit and sub.pending_msgs:
        batch.append(await sub.next_msg(timeout=None))
    return [(m.data, (m.headers or {}).get(MSG_ID), m.metadata.num_pending) for m in batch]


async def unsubscribe(link: Link, sub: Subscription) -> None:
    if link.nc is not None and not link.nc.is_closed:
        with contextlib.suppress(nats.errors.Error):
            await sub.unsubscribe()


async def request(link: Link, subject: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    """A launch request; returns the answer's status and body."""
    assert link.nc is not None
    try:
        reply = await link.nc.request(subject, body, timeout=timeout)
    except nats.errors.NoRespondersError:
        return 0, b""
    status = (reply.headers or {}).get(STATUS_HEADER, "500")
    return int(status) if status.isdigit() else 500, reply.data


async def serve(link: Link, subject: str) -> Subscription:
    """Subscribe to the launch subject; raises :class:`FleetRefused` if this host's
    credentials do not allow it. The server says so asynchronously — usually before
    the flush returns, sometimes after — so :func:`next_request` keeps watching."""
    assert link.nc is not None
    refused = link.refusal(subject)
    sub = await link.nc.subscribe(subject, queue="coven-launch", pending_msgs_limit=LAUNCH_PENDING)
    await link.nc.flush(timeout=int(API_TIMEOUT))
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(refused.wait(), REFUSAL_GRACE)
    if refused.is_set():
        await unsubscribe(link, sub)
        raise FleetRefused(_refused_text(link, subject))
    return sub


def _refused_text(link: Link, subject: str) -> str:
    said = [e for e in link.errors if subject in e and "permissions violation" in e.lower()]
    return said[-1] if said else f"permissions violation for subscription to {subject}"


async def next_request(link: Link, sub: Subscription) -> Msg:
    """The next launch request, or :class:`FleetRefused` once the server says the
    subscription was refused."""
    refused = link.refusal(sub.subject)
    getter = asyncio.ensure_future(sub.next_msg(timeout=None))
    watcher = asyncio.ensure_future(refused.wait())
    try:
        await asyncio.wait({getter, watcher}, return_when=asyncio.FIRST_COMPLETED)
        if getter.done():
            return getter.result()
        await unsubscribe(link, sub)
        raise FleetRefused(_refused_text(link, sub.subject))
    finally:
        for task in (getter, watcher):
            task.cancel()


async def respond(link: Link, reply: str, status: int, body: bytes) -> None:
    assert link.nc is not None
    await link.nc.publish(reply, body, headers={STATUS_HEADER: str(status)})
