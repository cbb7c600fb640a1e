"""The gate in front of the daemon's routes: every request on a web listener passes
``Host`` → ``Origin`` → credential → scope before the daemon's router sees it.

A :class:`GuardedRouter` is made per connection (it knows the peer) and is what
``http.serve_stream`` resolves against, so the connection loop, its limits and its
timeouts are exactly the Unix socket's. Checks, in order:

1. ``Host`` is one of the listener's names or an IP literal, with its port — a page
   served from another name (DNS rebinding) gets 403 before anything else;
2. a state-changing request (not GET/HEAD, or a WebSocket upgrade) must come from the
   listener's own origin: a foreign ``Origin`` or ``Sec-Fetch-Site: cross-site`` is 403;
   one authenticated by cookie must say its origin (browsers always do);
3. the page, its files and the login and pairing routes need no credential; anything
   else needs a valid ``Authorization: Bearer`` or cookie (401), and the daemon's
   management routes (``/api/v1/web…``) and its shutdown are not served here at all;
4. ``observe`` may only read; WebSocket terminals take input, so they need ``control``.

The credential headers are removed before the daemon's handler runs (it never sees a
web token), and every stream a request opens is registered with its grant, so a
revocation ends it.
"""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable

import attrs
import trio

from ..errors import NotFound
from ..http import Request, Response, Router, StreamResponse, Upgrade
from ..http._router import Handler
from ._auth import Peer, WebState, bearer, cookie_value
from ._errors import CrossOrigin, ScopeRequired, WrongHost
from ._options import is_ip_literal
from ._tokens import Grant, Scope, capped

#: Paths the web listener never serves: the listener's own management (Unix socket
#: only) and the daemon's lifecycle. Both with and without the ``/api/v1`` prefix.
_BLOCKED = re.compile(r"^(/api/v1)?/(web|internal)(/|$)")
_SAFE_METHODS = frozenset({"GET", "HEAD"})
_HOST = re.compile(r"^(?P<name>\[[0-9A-Fa-f:.]+\]|[^:\[\]]+)(:(?P<port>[0-9]{1,5}))?$")

#: The page's own routes: (request, connection) → response.
OwnHandler = Callable[[Request, "GuardedRouter"], Awaitable[Response]]


def security_headers(tls: bool) -> list[tuple[str, str]]:
    headers = [
        ("x-content-type-options", "nosniff"),
        ("referrer-policy", "no-referrer"),
        ("x-frame-options", "DENY"),
        ("cross-origin-opener-policy", "same-origin"),
        ("cross-origin-resource-policy", "same-origin"),
    ]
    if tls:
        headers.append(("strict-transport-security", "max-age=31536000"))
    return headers


@attrs.define(eq=False)
class Site:
    """One listener's checks and routes, shared by its connections."""

    state: WebState
    inner: Router
    port: int
    tls: bool
    observe_only: bool
    names: frozenset[str]
    #: ``(method, path)`` → the page's own routes; ``public`` ones need no credential.
    own: dict[tuple[str, str], tuple[OwnHandler, bool]] = attrs.field(factory=dict)
    #: Prefix → a handler of every path under it (static files), public.
    own_prefix: dict[str, OwnHandler] = attrs.field(factory=dict)

    @property
    def scheme(self) -> str:
        return "https" if self.tls else "http"

    @property
    def cookie_name(self) -> str:
        """Per port (browsers share cookies across a host's ports); ``__Host-`` with TLS."""
        return f"__Host-coven_{self.port}" if self.tls else f"coven_{self.port}"

    def host_ok(self, host: str | None) -> bool:
        match = _HOST.match(host or "")
        if match is None:
            return False
        port = match["port"]
        default = 443 if self.tls else 80
        if (int(port) if port else default) != self.port:
            return False
        name = match["name"].lower()
        return is_ip_literal(name) or name in self.names

    def check_origin(self, request: Request, by_cookie: bool) -> None:
        origin = request.headers.get("origin")
        if request.headers.get("sec-fetch-site", "").lower() == "cross-site":
            raise CrossOrigin("Cross-site requests may not change anything.")
        if origin is None:
            if by_cookie:
                raise CrossOrigin("A browser request that changes something must say its Origin.")
            return
        if origin.lower() != f"{self.scheme}://{request.headers.get('host', '')}".lower():
            raise CrossOrigin(f"Origin {origin[:100]!r} may not change anything here.")


def _needs(request: Request) -> Scope:
    if request.method not in _SAFE_METHODS or "upgrade" in request.headers:
        return Scope.CONTROL
    return Scope.OBSERVE


@attrs.define(eq=False)
class GuardedRouter(Router):
    """The router one connection of a web listener resolves against."""

    site: Site = attrs.field(kw_only=True)
    peer: Peer = attrs.field(kw_only=True)
    #: The grant of the request being resolved (for the page's own routes).
    grant: Grant | None = attrs.field(default=None, kw_only=True)

    def resolve(self, request: Request) -> Handler:
        site = self.site
        self.grant = None
        if not site.host_ok(request.headers.get("host")):
            raise WrongHost("This listener does not answer to that Host.")
        unsafe = _needs(request) is Scope.CONTROL
        if unsafe:
            by_cookie = bearer(request) is None and "cookie" in request.headers
            site.check_origin(request, by_cookie)
        own = site.own.get((request.method, request.path))
        if own is None and request.method == "HEAD":
            own = site.own.get(("GET", request.path))
        if own is None and request.method in _SAFE_METHODS:
            for prefix, handler in site.own_prefix.items():
                if request.path.startswith(prefix):
                    own = (handler, True)
        if own is not None:
            handler, public = own
            if not public:
                self.grant = site.state.authenticate(request, site.cookie_name, self.peer)
            return self._own(handler)
        grant = site.state.authenticate(request, site.cookie_name, self.peer)
        if _BLOCKED.match(request.path):
            raise NotFound("Route not found.")
        if not capped(grant.scope, site.observe_only).allows(_needs(request)):
            raise ScopeRequired("This credential may only observe.")
        request.headers.pop("authorization", None)
        request.headers.pop("cookie", None)
        return _guarded(site.inner.resolve(request), grant, security_headers(site.tls))

    def _own(self, handler: OwnHandler) -> Handler:
        async def run(request: Request) -> Response | StreamResponse | Upgrade:
            response = await handler(request, self)
            response.headers += security_headers(self.site.tls)
            return response

        return run

    def cookie(self, request: Request) -> str | None:
        return cookie_value(request, self.site.cookie_name)


def _guarded(handler: Handler, grant: Grant, headers: list[tuple[str, str]]) -> Handler:
    async def run(request: Request) -> Response | StreamResponse | Upgrade:
        response = await handler(request)
        if isinstance(response, Upgrade):
            return Upgrade(_revocable_run(response.run, grant))
        response.headers += headers
        if not any(name == "cache-control" for name, _ in response.headers):
            response.headers.append(("cache-control", "no-store"))
        if isinstance(response, StreamResponse):
            response.write_body = _revocable_body(response.write_body, grant)
        return response

    return run


def _revocable_body(
    write_body: Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None]], grant: Grant
) -> Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None]]:
    async def write(send: Callable[[bytes], Awaitable[None]]) -> None:
        with grant.stream() as scope:
            await write_body(send)
        if scope.cancelled_caught:
            # Not a clean end of the body: the connection closes, so nothing more is
            # served on it with the revoked credential.
            raise trio.ClosedResourceError("the credential was revoked")

    return write


def _revocable_run(
    run: Callable[[trio.abc.Stream], Awaitable[None]], grant: Grant
) -> Callable[[trio.abc.Stream], Awaitable[None]]:
    async def upgraded(stream: trio.abc.Stream) -> None:
        with grant.stream():
            await run(stream)

    return upgraded
