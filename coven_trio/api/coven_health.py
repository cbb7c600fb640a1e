"""``GET /api/v1/health`` (and Coven's unprefixed ``/health``): the handshake.

Kept apart from the rest of ``/api/v1`` so a daemon answers it before loading the
session machinery: a client's first question after starting the daemon costs no more
than the daemon's own start (the rest loads with the first other request).
"""

from __future__ import annotations

from typing import Any

from .. import models
from ..http import Request, Response, Router
from ._context import ApiContext

API_VERSION = "coven.daemon.v1"
PREFIX = "/api/v1"


class HealthView:
    """The handshake. Only ``uptime`` changes between calls (and the harness list on a
    refresh), so the rest is built through the models once and reused."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self._cached: tuple[list[str], dict[str, Any]] | None = None

    def body(self) -> dict[str, Any]:
        who = self.ctx.identity
        harnesses = self.ctx.harnesses.available()
        if self._cached is None or self._cached[0] != harnesses:
            health = models.Health(
                ok=True,
                api_version=API_VERSION,
                coven_version=who.version,
                capabilities=models.Capabilities(
                    sessions=True, events=True, actions=True, harnesses=harnesses
                ),
                daemon=models.DaemonInfo(
                    pid=who.pid,
                    uptime=0.0,
                    started_at=who.started_at,
                    socket=str(who.socket_path),
                ),
            )
            self._cached = (harnesses, models.unstructure(health))
        body = dict(self._cached[1])
        body["daemon"] = {**body["daemon"], "uptime": round(who.uptime, 3)}
        store = self.ctx.store.health()
        if store is not None:
            body.update(store)
        elif self.ctx.store_error is not None:
            body["storage"] = {"status": "degraded", "lastError": self.ctx.store_error}
        for key, part in self.ctx.health_parts.items():
            body[key] = part()
        return body

    async def health(self, request: Request) -> Response:
        return Response.json(self.body())


def install(router: Router, ctx: ApiContext) -> HealthView:
    view = HealthView(ctx)
    router.add("GET", f"{PREFIX}/health", view.health)
    router.add("GET", "/health", view.health)
    return view
