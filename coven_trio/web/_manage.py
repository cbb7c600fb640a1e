"""The web listener's management, for the command line: routes on the daemon's Unix
socket only (same-user trust, as every other route there).

``GET /api/v1/web`` (state, and the login URLs), ``POST /api/v1/web/listen`` (start, or
the running one), ``POST /api/v1/web/stop``, ``POST /api/v1/web/pair`` (open a pairing
window), ``GET /api/v1/web/devices``, ``POST /api/v1/web/devices/{id}/revoke`` (and
``DELETE /api/v1/web/devices/{id}``). The web listener refuses these paths itself (its
guard), so adding them to the daemon's router exposes them on the socket alone.
"""

from __future__ import annotations

from typing import Any

import attrs
import trio

from .._defaults import WEB_API_PREFIX
from ..errors import InvalidRequest, StartupError
from ..http import Request, Response, Router
from ._auth import WebState
from ._errors import AlreadyListening, ListenFailed, NotListening, UnknownDevice
from ._listener import WebHost, WebListener, serve_web
from ._options import WebOptions
from ._pairing import PAIR_SECONDS
from ._tokens import Scope

PREFIX = WEB_API_PREFIX


@attrs.define(eq=False)
class WebManager:
    """One per daemon: its credentials (the launch secret lives as long as the daemon),
    and at most one listener, run in the manager's own nursery."""

    host: WebHost
    _state: WebState | None = None
    listener: WebListener | None = None
    _nursery: trio.Nursery | None = None
    #: Set once :meth:`run` holds its nursery (a listen may come right after the start).
    _running: trio.Event = attrs.field(factory=trio.Event)

    @property
    def state(self) -> WebState:
        if self._state is None:  # the devices file is read at the first use
            self._state = WebState.create(self.host.config.home)
        return self._state

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Hold the nursery listeners run in (start it in the daemon's nursery)."""
        async with trio.open_nursery() as nursery:
            self._nursery = nursery
            self._running.set()
            task_status.started()
            await trio.sleep_forever()

    async def listen(self, options: WebOptions) -> WebListener:
        """Start a listener (raises :class:`StartupError` if it must not or cannot)."""
        await self._running.wait()
        assert self._nursery is not None
        if self.listener is not None:
            raise AlreadyListening(
                "A web listener is running; stop it first to change it.",
                details=self.listener.describe(),
            )
        state = self.state

        async def serve(task_status: trio.TaskStatus[WebListener]) -> None:
            await serve_web(self.host, options, state=state, task_status=task_status)

        listener: WebListener = await self._nursery.start(serve)
        self.listener = listener
        self._nursery.start_soon(self._forget, listener)
        return listener

    async def _forget(self, listener: WebListener) -> None:
        await listener.stopped.wait()
        if self.listener is listener:
            self.listener = None

    async def stop(self) -> bool:
        listener = self.listener
        if listener is None:
            return False
        listener.stop()
        await listener.stopped.wait()
        return True

    def describe(self, *, secrets: bool) -> dict[str, Any]:
        if self.listener is None:
            return {"listening": False}
        body = self.listener.describe()
        if secrets:  # the socket is same-user: its caller may log in
            body["loginUrl"] = self.listener.login_url(Scope.CONTROL)
            body["observeUrl"] = self.listener.login_url(Scope.OBSERVE)
        return body


def _field(body: dict[str, Any], name: str, kind: type, default: Any) -> Any:
    value = body.get(name, default)
    if value is default:
        return value
    if kind is bool:
        ok = isinstance(value, bool)
    else:
        ok = isinstance(value, kind) and not isinstance(value, bool)
    if not ok:
        raise InvalidRequest(f"`{name}` must be a {kind.__name__}.", details={"field": name})
    return value


def _options(body: dict[str, Any]) -> WebOptions:
    names = _field(body, "names", list, [])
    if not all(isinstance(n, str) for n in names):
        raise InvalidRequest("`names` must be a list of strings.", details={"field": "names"})
    return WebOptions(
        host=_field(body, "host", str, "127.0.0.1"),
        port=_field(body, "port", int, 0),
        tls=_field(body, "tls", bool, None),
        observe_only=_field(body, "observeOnly", bool, False),
        names=tuple(names),
    )


def compatible(running: WebListener, wanted: WebOptions) -> bool:
    """Whether the running listener is the one ``wanted`` asks for (so a second
    ``coven-trio web`` just prints its URL). Observe-only is not compared: asking for it
    of a listener that allows control only means "give me the observe URL"."""
    return (
        running.options.host == wanted.host
        and wanted.port in (0, running.port)
        and wanted.tls in (None, running.tls)
    )


def install_routes(router: Router, manager: WebManager) -> None:
    """Add the management routes to the daemon's router (served on the Unix socket; the
    web listener's guard refuses them)."""

    async def status(request: Request) -> Response:
        return Response.json(manager.describe(secrets=True))

    async def listen(request: Request) -> Response:
        options = _options(request.json_object())
        if manager.listener is not None and compatible(manager.listener, options):
            return Response.json(manager.describe(secrets=True))
        try:
            await manager.listen(options)
        except StartupError as exc:
            raise ListenFailed(str(exc)) from None
        return Response.json(manager.describe(secrets=True), status=201)

    async def stop(request: Request) -> Response:
        return Response.json({"ok": True, "stopped": await manager.stop()})

    async def pair(request: Request) -> Response:
        body = request.json_object()
        listener = manager.listener
        if listener is None:
            raise NotListening("No web listener is running: run `coven-trio web` first.")
        scope = Scope.OBSERVE if body.get("observeOnly") is True else Scope.CONTROL
        seconds = body.get("seconds", PAIR_SECONDS)
        if isinstance(seconds, bool) or not isinstance(seconds, int | float):
            raise InvalidRequest("`seconds` must be a number.")
        name = body.get("name") if isinstance(body.get("name"), str) else None
        window = manager.state.pairing.open(scope, name, float(seconds))
        return Response.json(
            {
                "code": window.display,
                "scope": scope.value,
                "expiresInSeconds": round(window.remaining),
                "url": f"{listener.public_url}#pair={window.code}",
                "fingerprint": listener.fingerprint,
                "tls": listener.tls,
            },
            status=201,
        )

    async def devices(request: Request) -> Response:
        listed = [d.public() for d in manager.state.devices.list()]
        return Response.json({"devices": listed})

    async def revoke(request: Request) -> Response:
        device = manager.state.devices.revoke(request.params["id"])
        if device is None:
            raise UnknownDevice("No such device.", details={"id": request.params["id"]})
        return Response.json({"ok": True, "revoked": device.public()})

    router.add("GET", PREFIX, status)
    router.add("POST", f"{PREFIX}/listen", listen)
    router.add("POST", f"{PREFIX}/stop", stop)
    router.add("POST", f"{PREFIX}/pair", pair)
    router.add("GET", f"{PREFIX}/devices", devices)
    router.add("POST", f"{PREFIX}/devices/{{id}}/revoke", revoke)
    router.add("DELETE", f"{PREFIX}/devices/{{id}}", revoke)
