"""The API surfaces: views over the daemon's sessions and journals.

Views see the daemon only through :class:`ApiContext`. Only the health check is there
from the start; every other route loads with the first request that needs one (the
session machinery behind them, and the eve mount, cost no startup).
"""

from __future__ import annotations

from ..http import Router
from . import coven_health
from ._context import ApiContext, DaemonIdentity


def build_router(ctx: ApiContext) -> Router:
    router = Router()
    coven_health.install(router, ctx)
    router.mount("", lambda router: _sessions_api(router, ctx))
    router.mount(ctx.config.eve_mount, lambda router: _eve(router, ctx))
    return router


def _sessions_api(router: Router, ctx: ApiContext) -> None:
    """``/api/v1`` (and Coven's unprefixed routes) with its WebSockets, loaded with the
    first request the health check does not answer."""
    from . import coven_v1, websocket

    coven_v1.install(router, ctx)
    websocket.install(router, ctx)


def _eve(router: Router, ctx: ApiContext) -> None:
    """The eve mount, loaded with the first request under it."""
    from . import eve_v1

    eve_v1.install(router, ctx)


__all__ = ["ApiContext", "DaemonIdentity", "build_router"]
