"""The API surfaces: views over the daemon's sessions and journals.

Views see the daemon only through :class:`ApiContext`.
"""

from __future__ import annotations

from ..http import Router
from . import coven_v1, websocket
from ._context import ApiContext, DaemonIdentity


def build_router(ctx: ApiContext) -> Router:
    router = Router()
    coven_v1.install(router, ctx)
    router.mount(ctx.config.eve_mount, lambda router: _eve(router, ctx))
    websocket.install(router, ctx)
    return router


def _eve(router: Router, ctx: ApiContext) -> None:
    """The eve mount, loaded with the first request under it."""
    from . import eve_v1

    eve_v1.install(router, ctx)


__all__ = ["ApiContext", "DaemonIdentity", "build_router"]
