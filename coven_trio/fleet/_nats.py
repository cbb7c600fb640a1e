"""The asyncio side: one nats-py connection, its state, the stream and the bucket, and
publishing (``_nats_ops.py`` has the reads and the launch service's calls).

Every coroutine here runs on the bridge's loop only (``_bridge.py``); the trio side
(:class:`~coven_trio.fleet._link.FleetLink`) calls them. Nothing speaks the NATS
protocol by hand: publishing, acks, KV, consumers and request/reply are nats-py's.

Bounds: a publish window is at most what the caller passes (the exporter: 1024 entries
or 4 MiB); nats-py's async-publish semaphore bounds what is unacknowledged; a
subscription's queue is bounded by the ``pending_*`` limits given here (past them nats-py
drops and reports a slow consumer, which an ordered consumer recovers from by itself).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import ssl
import time
from typing import Any

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client
from nats.js import JetStreamContext, api

from ._config import FleetSettings
from ._subjects import MSG_ID, stream_subjects

#: JetStream API calls (stream info, message get, consumer create) time out after this.
API_TIMEOUT = 5.0
#: ``replicas > 1`` on a server that is not clustered (JetStream's error code).
_NOT_CLUSTERED = 10074
_REFUSED_SUBSCRIPTION = re.compile(r'permissions violation for subscription to "([^"]+)"', re.I)
_NAME_IN_USE = 10058


class FleetUnavailable(Exception):
    """No NATS server could be reached (the message says why: refused, unreachable)."""


class FleetRefused(Exception):
    """The servers refused what this host's credentials asked for."""


def _stamp(acked: list[float], index: int) -> Any:
    def done(_: object) -> None:
        acked[index] = time.time()

    return done


class Link:
    """One connection, its JetStream context and its state, as callbacks report it."""

    def __init__(self, settings: FleetSettings, *, name: str, forever: bool) -> None:
        self.settings = settings
        self.name = name
        self.forever = forever
        self.nc: Client | None = None
        self.js: JetStreamContext | None = None
        self.state = "connecting"
        self.last_error: str | None = None
        self.errors: list[str] = []
        self.connected_url: str | None = None
        self._up: asyncio.Event | None = None
        #: Subjects the server refused a subscription to (it may say so after a flush).
        self._refusals: dict[str, asyncio.Event] = {}

    # --- connecting --------------------------------------------------------------------

    def _options(self) -> dict[str, Any]:
        s = self.settings
        options: dict[str, Any] = {
            "servers": list(s.servers),
            "name": self.name,
            "error_cb": self._on_error,
            "disconnected_cb": self._on_disconnected,
            "reconnected_cb": self._on_reconnected,
            "closed_cb": self._on_closed,
            "connect_timeout": s.connect_timeout,
            "allow_reconnect": True,
            "max_reconnect_attempts": -1 if self.forever else 1,
            "reconnect_time_wait": 1.0 if self.forever else 0.1,
            "ping_interval": 10,
            "max_outstanding_pings": 3,
        }
        if s.credentials is not None:
            options["user_credentials"] = str(s.credentials)
        if s.nkey_seed is not None:
            options["nkeys_seed"] = str(s.nkey_seed)
        if s.user is not None:
            options["user"], options["password"] = s.user, s.password
        if s.token is not None:
            options["token"] = s.token
        if s.ca_file is not None or s.cert_file is not None:
            context = ssl.create_default_context(
                cafile=str(s.ca_file) if s.ca_file is not None else None
            )
            if s.cert_file is not None and s.key_file is not None:
                context.load_cert_chain(str(s.cert_file), str(s.key_file))
            options["tls"] = context
        return options

    async def connect(self) -> None:
        """Connect (the daemon: retrying until it works; a command: once round the
        servers), then make the JetStream context. A command's round is bounded by
        ``connect_timeout`` for two tries of each server, and fails with what went wrong:
        nats-py never finishes connecting to a server whose certificate it does not trust
        (it reports it, which the daemon's health shows while nats-py retries)."""
        self._up = self._up or asyncio.Event()
        client = Client()
        tries = 2 * len(self.settings.servers) + 1
        limit = None if self.forever else self.settings.connect_timeout * tries
        try:
            await asyncio.wait_for(client.connect(**self._options()), limit)
            self.nc = client
        except (nats.errors.NoServersError, nats.errors.Error, OSError, TimeoutError) as exc:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(client.close(), 2.0)
            # A refusal says more than the resets that may follow it on other servers.
            refused = [e for e in self.errors if "authorization" in e.lower()]
            reason = refused[-1] if refused else self.last_error
            raise FleetUnavailable(reason or str(exc) or type(exc).__name__) from None
        self.js = self.nc.jetstream(timeout=API_TIMEOUT)
        self._mark_up()

    def _mark_up(self) -> None:
        self.state = "connected"
        assert self.nc is not None and self._up is not None
        url = self.nc.connected_url
        self.connected_url = f"{url.scheme}://{url.hostname}:{url.port}" if url else None
        self._up.set()

    async def _on_error(self, exc: Exception) -> None:
        text = str(exc) or type(exc).__name__
        self.last_error = text
        self.errors = [*self.errors[-15:], text]
        refused = _REFUSED_SUBSCRIPTION.search(text)
        if refused is not None:
            self.refusal(refused.group(1)).set()

    def refusal(self, subject: str) -> asyncio.Event:
        event = self._refusals.get(subject)
        if event is None:
            event = self._refusals[subject] = asyncio.Event()
        return event

    async def _on_disconnected(self) -> None:
        if self.state != "closed":
            self.state = "disconnected"
        if self._up is not None:
            self._up.clear()

    async def _on_reconnected(self) -> None:
        self._mark_up()

    async def _on_closed(self) -> None:
        self.state = "closed"

    async def wait_connected(self) -> None:
        self._up = self._up or asyncio.Event()
        await self._up.wait()

    async def close(self) -> None:
        if self.nc is not None and not self.nc.is_closed:
            with contextlib.suppress(TimeoutError, nats.errors.Error):
                await asyncio.wait_for(self.nc.close(), 2.0)
        self.state = "closed"

    def jetstream(self) -> JetStreamContext:
        if self.js is None:
            raise FleetUnavailable("not connected")
        return self.js

    # --- the stream and the bucket ------------------------------------------------------

    async def ensure_stream(self) -> str:
        """The journal stream exists (created if missing); returns what was done."""
        s, js = self.settings, self.jetstream()
        try:
            await js.stream_info(s.stream)
            return "found"
        except nats.js.errors.NotFoundError:
            pass
        config = api.StreamConfig(
            name=s.stream,
            subjects=stream_subjects(s.prefix),
            storage=api.StorageType.FILE,
            num_replicas=s.replicas,
            duplicate_window=s.duplicate_window,
            max_age=s.max_age_days * 86400 if s.max_age_days else None,
            discard=api.DiscardPolicy.OLD,
            allow_direct=True,
        )
        try:
            await js.add_stream(config)
        except nats.js.errors.APIError as exc:
            if exc.err_code == _NAME_IN_USE:  # another host made it first
                return "found"
            if exc.err_code != _NOT_CLUSTERED:
                raise
            config.num_replicas = 1
            await js.add_stream(config)
            return "created (1 replica: the server is not clustered)"
        return "created"

    async def ensure_bucket(self) -> str:
        s, js = self.settings, self.jetstream()
        try:
            await js.key_value(s.bucket)
            return "found"
        except nats.js.errors.BucketNotFoundError:
            pass
        replicas = s.replicas
        for attempt in (replicas, 1):
            try:
                await js.create_key_value(
                    bucket=s.bucket,
                    history=1,
                    replicas=attempt,
                    ttl=s.max_age_days * 86400 if s.max_age_days else None,
                )
                return "created"
            except nats.js.errors.APIError as exc:
                if exc.err_code == _NAME_IN_USE:
                    return "found"
                if exc.err_code != _NOT_CLUSTERED or attempt == 1:
                    raise
        return "created"

    # --- publishing ----------------------------------------------------------------------

    async def publish_window(
        self, items: list[tuple[str, bytes, str | None]], timeout: float
    ) -> tuple[list[int | None], list[float], int]:
        """Publish ``(subject, payload, message id)`` in order, all in flight at once;
        wait up to ``timeout`` for the acks. Returns each one's stream sequence (None:
        no ack, its fate unknown), when each ack came (wall clock), and how many acks
        said duplicate."""
        js = self.jetstream()
        futures: list[asyncio.Future[api.PubAck]] = []
        acked = [0.0] * len(items)
        try:
            for index, (subject, payload, message_id) in enumerate(items):
                headers = {MSG_ID: message_id} if message_id else None
                # No wait_stall: a window (at most 1024) never fills nats-py's 4000 slots,
                # and a stall timeout costs a task per message.
                future = await js.publish_async(subject, payload, headers=headers)
                future.add_done_callback(_stamp(acked, index))
                futures.append(future)
        except (nats.errors.Error, nats.js.errors.Error) as exc:
            await self._on_error(exc)
        if futures:
            await asyncio.wait(futures, timeout=timeout)
        seqs: list[int | None] = []
        duplicates = 0
        for future in futures:
            if not future.done():
                future.cancel()
                seqs.append(None)
            elif future.cancelled() or future.exception() is not None:
                failure = None if future.cancelled() else future.exception()
                if isinstance(failure, Exception):
                    await self._on_error(failure)
                seqs.append(None)
            else:
                ack = future.result()
                duplicates += bool(ack.duplicate)
                seqs.append(ack.seq)
        seqs += [None] * (len(items) - len(futures))
        return seqs, acked, duplicates

    async def subject_after(self, subject: str, after: int) -> list[tuple[int, str | None]]:
        """Every message of ``subject`` past stream sequence ``after``: its sequence and
        message id. Asked of the stream leader (not a replica), so what was stored is
        what is seen."""
        s, js = self.settings, self.jetstream()
        found: list[tuple[int, str | None]] = []
        seq = after + 1
        while True:
            try:
                msg = await js.get_msg(s.stream, seq=seq, subject=subject, next=True)
            except nats.js.errors.NotFoundError:
                return found
            assert msg.seq is not None
            found.append((msg.seq, (msg.headers or {}).get(MSG_ID)))
            seq = msg.seq + 1

    async def last_of(self, subject: str) -> tuple[int, str | None] | None:
        s, js = self.settings, self.jetstream()
        try:
            msg = await js.get_msg(s.stream, subject=subject)
        except nats.js.errors.NotFoundError:
            return None
        assert msg.seq is not None
        return msg.seq, (msg.headers or {}).get(MSG_ID)

    async def stream_state(self) -> dict[str, Any]:
        """The journal stream's leader, replicas and message count."""
        info = await self.jetstream().stream_info(self.settings.stream)
        cluster = info.cluster
        return {
            "leader": cluster.leader if cluster is not None else None,
            "replicas": [p.name for p in (cluster.replicas or [])] if cluster is not None else [],
            "messages": info.state.messages,
        }


def decode_record(raw: bytes) -> dict[str, Any] | None:
    try:
        value = json.loads(raw)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
