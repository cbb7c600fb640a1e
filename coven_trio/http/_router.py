"""Requests, responses and the router that maps (method, path pattern) to a handler."""

from __future__ import annotations

import re
from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import parse_qsl

import attrs
import trio

from .._json import JsonRejected, dumps, loads_request
from ..errors import InvalidRequest, MethodNotAllowed, NotFound, UnsupportedApiVersion

JSON_TYPE = "application/json"


@attrs.define
class Request:
    """One parsed HTTP request with its whole body (bodies are small: 4 MiB at most)."""

    method: str
    target: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    params: dict[str, str] = attrs.field(factory=dict)
    #: The client process (a Unix socket's peer), when the transport can tell.
    peer_pid: int | None = None

    @classmethod
    def from_head(cls, method: str, target: str, headers: dict[str, str]) -> Request:
        path, _, raw_query = target.partition("?")
        # First value wins, like the Rust daemon's query_param.
        query: dict[str, str] = {}
        for key, value in parse_qsl(raw_query, keep_blank_values=True):
            query.setdefault(key, value)
        return cls(method=method, target=target, path=path, query=query, headers=headers)

    def json(self) -> Any:
        """The body as JSON; an empty body is ``{}`` (the Rust daemon's rule)."""
        if not self.body.strip():
            return {}
        try:
            return loads_request(self.body)
        except JsonRejected:
            raise InvalidRequest("failed to parse request body") from None

    def json_object(self) -> dict[str, Any]:
        body = self.json()
        if not isinstance(body, dict):
            raise InvalidRequest("request body must be a JSON object")
        return body


@attrs.define
class Response:
    """A complete response; always sent with ``Content-Length``."""

    status: int = 200
    body: bytes = b""
    headers: list[tuple[str, str]] = attrs.field(factory=list)
    content_type: str = JSON_TYPE

    @classmethod
    def json(
        cls, value: Any, status: int = 200, headers: list[tuple[str, str]] | None = None
    ) -> Response:
        return cls(status=status, body=dumps(value), headers=headers or [])


#: A streaming body writer: given ``send(chunk)``, write chunks until done. Chunks go out
#: with chunked transfer encoding; the writer is cancelled when the client disconnects.
BodyWriter = Callable[[Callable[[bytes], Awaitable[None]]], Awaitable[None]]


@attrs.define
class StreamResponse:
    status: int
    headers: list[tuple[str, str]]
    write_body: BodyWriter


@attrs.define
class Upgrade:
    """Take the connection over (WebSocket). ``run`` gets the socket stream with the
    request head replayed in front of any bytes already read, so a library that wants
    to parse the upgrade request itself (trio-websocket) can."""

    run: Callable[[trio.abc.Stream], Awaitable[None]]


Handler = Callable[[Request], Awaitable[Response | StreamResponse | Upgrade]]

_PARAM = re.compile(r"\{(\w+)\}")
_API_VERSION = re.compile(r"^/api/(?P<version>[^/]+)(/|$)")


@attrs.define
class _Route:
    method: str
    pattern: re.Pattern[str]
    handler: Handler


@attrs.define
class Router:
    """Routes are ``(method, "/api/v1/sessions/{id}")``; a ``{name}`` matches one segment.

    Unknown path → 404 ``not_found``; known path with another method → 405 with ``Allow``;
    ``/api/vN`` with N not served → 404 ``unsupported_api_version``.
    """

    api_versions: tuple[str, ...] = ("v1",)
    _routes: list[_Route] = attrs.field(factory=list)
    #: Route groups not loaded yet: ``(prefix, load)``; ``load(router)`` adds them when a
    #: request under ``prefix`` finds no route among those loaded (an optional surface,
    #: or the sessions' API behind the health check, costs no startup).
    _mounts: list[tuple[str, Callable[[Router], object]]] = attrs.field(factory=list)

    def mount(self, prefix: str, load: Callable[[Router], object]) -> None:
        """Load the routes under ``prefix`` (``""``: any path) when the first request
        under it matches none of the routes already there."""
        self._mounts.append((prefix, load))

    def load_all(self) -> None:
        """Load every mounted group now (to list every route the router serves)."""
        while self._mounts:
            self._mounts.pop(0)[1](self)

    def _load(self, path: str) -> bool:
        loaded = False
        for mount in list(self._mounts):
            prefix, load = mount
            if path == prefix or path.startswith(prefix + "/"):
                self._mounts.remove(mount)
                load(self)
                loaded = True
        return loaded

    def add(self, method: str, pattern: str, handler: Handler) -> None:
        regex = (
            "^"
            + _PARAM.sub(
                r"(?P<\1>[^/]+)", re.escape(pattern).replace(r"\{", "{").replace(r"\}", "}")
            )
            + "$"
        )
        self._routes.append(_Route(method, re.compile(regex), handler))

    def resolve(self, request: Request) -> Handler:
        handler, allowed = self._match(request)
        if handler is None and self._mounts and self._load(request.path):
            handler, allowed = self._match(request)
        if handler is not None:
            return handler
        if allowed:
            raise MethodNotAllowed(
                f"Method {request.method} is not allowed on {request.path}.",
                headers=[("allow", ", ".join(sorted(set(allowed))))],
            )
        version = _API_VERSION.match(request.path)
        if version and version["version"] not in self.api_versions:
            raise UnsupportedApiVersion(
                "Unsupported API version.",
                details={
                    "apiVersion": version["version"],
                    "supportedApiVersions": list(self.api_versions),
                },
            )
        raise NotFound("Route not found.")

    def _match(self, request: Request) -> tuple[Handler | None, list[str]]:
        """The route's handler (its params set on ``request``), else the methods the
        path allows."""
        allowed: list[str] = []
        for route in self._routes:
            match = route.pattern.match(request.path)
            if match is None:
                continue
            if route.method == request.method or (
                route.method == "GET" and request.method == "HEAD"
            ):
                request.params = match.groupdict()
                return route.handler, allowed
            allowed.append(route.method)
        return None, allowed
