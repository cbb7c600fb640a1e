"""``GET /api/v1/health`` (and Coven's unprefixed ``/health``): the handshake.

Kept apart from the rest of ``/api/v1`` so a daemon answers it before loading the
session machinery or the API models: a client's first question after starting the
daemon costs no more than the daemon's own start (the rest loads with the first other
request). Its wire shape is spelled here, in the Rust daemon's camelCase.
"""

from __future__ import annotations

from typing import Any

from ..http import Request, Response, Router
from ._context import ApiContext

API_VERSION = "coven.daemon.v1"
PREFIX = "/api/v1"
#: Coven's other surfaces, which coven-trio does not serve: said plainly, so a client
#: that negotiates on them knows (docs/coven-compat.md).
NOT_SERVED = (
    "travel",
    "scheduler",
    "hub",
    "executorDispatch",
    "sessionHandoff",
    "sessionLaunchPolicy",
    "afs",
    "afsMount",
    "afsCommit",
    "afsCommitDryRun",
)


class HealthView:
    """The handshake. Only ``uptime`` changes between calls (and the harness list on a
    refresh), so the rest is built once and reused."""

    def __init__(self, ctx: ApiContext) -> None:
        self.ctx = ctx
        self._cached: tuple[list[str], dict[str, Any]] | None = None

    def body(self) -> dict[str, Any]:
        harnesses = self.ctx.harnesses.available()
        if self._cached is None or self._cached[0] != harnesses:
            self._cached = (harnesses, _handshake(self.ctx, harnesses))
        body = dict(self._cached[1])
        body["daemon"] = {**body["daemon"], "uptime": round(self.ctx.identity.uptime, 3)}
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


def _handshake(ctx: ApiContext, harnesses: list[str]) -> dict[str, Any]:
    who = ctx.identity
    capabilities: dict[str, Any] = {
        "sessions": True,
        "events": True,
        "actions": True,
        "harnesses": harnesses,
        "eventCursor": "sequence",
        "structuredErrors": True,
        "eve": True,
        "websocket": True,
        **dict.fromkeys(NOT_SERVED, False),
        "executionBindingContracts": [],
        "requestAdoptionContracts": [],
        "sessionPolicyContracts": [],
    }
    return {
        "ok": True,
        "apiVersion": API_VERSION,
        "covenVersion": who.version,
        "capabilities": capabilities,
        "daemon": {
            "pid": who.pid,
            "uptime": 0.0,
            "startedAt": who.started_at,
            "socket": str(who.socket_path),
        },
    }


def install(router: Router, ctx: ApiContext) -> HealthView:
    view = HealthView(ctx)
    router.add("GET", f"{PREFIX}/health", view.health)
    router.add("GET", "/health", view.health)
    return view
