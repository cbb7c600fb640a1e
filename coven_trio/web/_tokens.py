"""Credentials of the web listener: scopes, grants, the per-start launch secret, the
cookie sessions a launch token is exchanged for, and the limiter of failed attempts.

Every token is 256 bits from :mod:`secrets`. Where a token is checked against a known
value it is compared with :func:`hmac.compare_digest`; where one is looked up among many
(cookie sessions, devices) the lookup key is its SHA-256, so what a lookup's timing can
tell is about a hash, never about the token.
"""

from __future__ import annotations

import base64
import collections
import contextlib
import hashlib
import hmac
import secrets
from collections.abc import Iterator
from enum import StrEnum

import attrs
import trio

LAUNCH_PREFIX = "cvw_"
SESSION_PREFIX = "cvs_"
DEVICE_PREFIX = "cvd."


class Scope(StrEnum):
    """What a credential may do: ``observe`` reads; ``control`` also sends input, answers
    approvals and questions, cancels, kills, launches and merges."""

    OBSERVE = "observe"
    CONTROL = "control"

    def allows(self, needed: Scope) -> bool:
        return self is Scope.CONTROL or needed is Scope.OBSERVE


def capped(scope: Scope, observe_only: bool) -> Scope:
    return Scope.OBSERVE if observe_only else scope


def digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def same(a: str, b: str) -> bool:
    """Constant-time equality of two tokens."""
    return hmac.compare_digest(a.encode(), b.encode())


@attrs.define(eq=False)
class Grant:
    """What one credential was granted. Requests it authenticated register their
    streams (NDJSON, WebSocket) here, so :meth:`revoke` ends them at once."""

    scope: Scope
    label: str
    device_id: str | None = None
    revoked: bool = False
    _streams: set[trio.CancelScope] = attrs.field(factory=set)

    @contextlib.contextmanager
    def stream(self) -> Iterator[trio.CancelScope]:
        with trio.CancelScope() as scope:
            if self.revoked:
                scope.cancel()
            self._streams.add(scope)
            try:
                yield scope
            finally:
                self._streams.discard(scope)

    @property
    def open_streams(self) -> int:
        return len(self._streams)

    def revoke(self) -> None:
        self.revoked = True
        for scope in list(self._streams):
            scope.cancel()


class LaunchSecret:
    """The secret of one daemon start, in memory only: the launch token of each scope is
    derived from it (HMAC), so ``coven-trio web`` and ``--observe-only`` print different
    URLs without anything being stored."""

    def __init__(self) -> None:
        self._key = secrets.token_bytes(32)
        self._grants = {scope: Grant(scope, "launch token") for scope in Scope}

    def token(self, scope: Scope) -> str:
        mac = hmac.new(self._key, scope.value.encode(), hashlib.sha256).digest()
        return LAUNCH_PREFIX + base64.urlsafe_b64encode(mac).rstrip(b"=").decode()

    def scope_of(self, token: str) -> Scope | None:
        found = None
        for scope in Scope:  # every comparison runs, whichever matches
            if same(token, self.token(scope)):
                found = scope
        return found

    def grant(self, scope: Scope) -> Grant:
        """The grant a launch token used as a bearer gets (one per scope)."""
        return self._grants[scope]


class CookieSessions:
    """Logins with the launch token: a random cookie value per login, mapped to its grant
    in memory (so they end with the daemon, and a logout ends one). Bounded: past
    ``limit`` the oldest login is forgotten."""

    def __init__(self, limit: int = 256) -> None:
        self._limit = limit
        self._by_digest: collections.OrderedDict[str, Grant] = collections.OrderedDict()

    def create(self, grant: Grant) -> str:
        value = SESSION_PREFIX + secrets.token_urlsafe(32)
        self._by_digest[digest(value)] = grant
        while len(self._by_digest) > self._limit:
            _, oldest = self._by_digest.popitem(last=False)
            oldest.revoke()
        return value

    def get(self, value: str) -> Grant | None:
        return self._by_digest.get(digest(value))

    def drop(self, value: str) -> None:
        grant = self._by_digest.pop(digest(value), None)
        if grant is not None:
            grant.revoke()

    def __len__(self) -> int:
        return len(self._by_digest)


@attrs.define
class _Failures:
    times: collections.deque[float] = attrs.field(factory=collections.deque)


class FailureLimiter:
    """Failed credentials (a bad token, a wrong pairing code) per peer address: past
    ``limit`` in ``window`` seconds, that address is refused (429) until the oldest
    failure leaves the window. Memory is bounded by ``max_peers`` (oldest dropped)."""

    def __init__(self, limit: int = 10, window: float = 60.0, max_peers: int = 1024) -> None:
        self.limit, self.window, self.max_peers = limit, window, max_peers
        self._peers: collections.OrderedDict[str, _Failures] = collections.OrderedDict()

    def _recent(self, peer: str) -> _Failures | None:
        failures = self._peers.get(peer)
        if failures is None:
            return None
        now = trio.current_time()
        while failures.times and failures.times[0] <= now - self.window:
            failures.times.popleft()
        if not failures.times:
            del self._peers[peer]
            return None
        return failures

    def retry_after(self, peer: str) -> float:
        """Seconds until ``peer`` may try again (0: it may now)."""
        failures = self._recent(peer)
        if failures is None or len(failures.times) < self.limit:
            return 0.0
        return max(0.0, failures.times[0] + self.window - trio.current_time())

    def failed(self, peer: str) -> None:
        failures = self._recent(peer) or _Failures()
        failures.times.append(trio.current_time())
        while len(failures.times) > self.limit:
            failures.times.popleft()
        self._peers[peer] = failures
        self._peers.move_to_end(peer)
        while len(self._peers) > self.max_peers:
            self._peers.popitem(last=False)
