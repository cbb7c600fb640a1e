"""The web listener's authority: every credential it honours, and the checks in order.

One :class:`WebState` per daemon start (the web manager's), shared by every listener
that start opens, so the printed URL, cookie logins and pairings outlive a listener
restart; paired devices outlive the daemon (they are in the home).
"""

from __future__ import annotations

from http.cookies import CookieError, SimpleCookie
from pathlib import Path

import attrs

from ..http import Request
from ._devices import DeviceStore
from ._errors import PairingRequired, TooManyAttempts, Unauthorized
from ._pairing import Pairing
from ._tokens import (
    DEVICE_PREFIX,
    LAUNCH_PREFIX,
    SESSION_PREFIX,
    CookieSessions,
    FailureLimiter,
    Grant,
    LaunchSecret,
)


@attrs.frozen
class Peer:
    """The other end of a connection."""

    address: str
    loopback: bool


def cookie_value(request: Request, name: str) -> str | None:
    raw = request.headers.get("cookie")
    if not raw:
        return None
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw)
    except CookieError:
        return None
    morsel = jar.get(name)
    return morsel.value if morsel is not None else None


def bearer(request: Request) -> str | None:
    raw = request.headers.get("authorization")
    if raw is None:
        return None
    scheme, _, value = raw.partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


@attrs.define(eq=False)
class WebState:
    devices: DeviceStore
    launch: LaunchSecret = attrs.field(factory=LaunchSecret)
    sessions: CookieSessions = attrs.field(factory=CookieSessions)
    pairing: Pairing = attrs.field(factory=Pairing)
    limiter: FailureLimiter = attrs.field(factory=FailureLimiter)

    @classmethod
    def create(cls, home: Path) -> WebState:
        return cls(devices=DeviceStore(home))

    def check_rate(self, peer: Peer) -> None:
        """429 if ``peer`` failed too often lately (before checking a short secret)."""
        wait = self.limiter.retry_after(peer.address)
        if wait > 0:
            raise TooManyAttempts(wait)

    def failed(self, peer: Peer) -> None:
        """Count a failure; 429 once ``peer`` was over the limit (else the caller's 401)."""
        wait = self.limiter.retry_after(peer.address)
        self.limiter.failed(peer.address)
        if wait > 0:
            raise TooManyAttempts(wait)

    def authenticate(self, request: Request, cookie_name: str, peer: Peer) -> Grant:
        """The grant of the request's credential (``Authorization: Bearer`` first, then the
        cookie), or 401. A credential that is presented and wrong counts as a failure.

        A valid credential is honoured even from an address over the failure limit:
        tokens are 256 random bits, which no rate of guessing reaches, and every local
        client shares 127.0.0.1, so refusing it would let anyone on the machine lock the
        owner out. The limit answers the failures (429), and guards the short pairing
        code, which is never checked while its sender is over it."""
        token = bearer(request) or cookie_value(request, cookie_name)
        if token is None:
            raise Unauthorized()
        grant = self._grant(token, peer)
        if grant is None or grant.revoked:
            self.failed(peer)
            raise Unauthorized("The credential is not valid (expired, revoked or wrong).")
        return grant

    def _grant(self, token: str, peer: Peer) -> Grant | None:
        if token.startswith(LAUNCH_PREFIX):
            scope = self.launch.scope_of(token)
            if scope is None:
                return None
            if not peer.loopback:
                raise PairingRequired(
                    "The launch token works from this machine only; pair this device: "
                    "run `coven-trio web pair` and open the URL it prints."
                )
            return self.launch.grant(scope)
        if token.startswith(SESSION_PREFIX):
            return self.sessions.get(token)
        if token.startswith(DEVICE_PREFIX):
            return self.devices.authenticate(token, peer.address)
        return None
