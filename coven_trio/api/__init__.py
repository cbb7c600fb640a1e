"""The API surfaces: views over the daemon's sessions and journals.

Views see the daemon only through :class:`ApiContext`.
"""

from __future__ import annotations

from ..http import Router
from . import coven_v1, eve_v1, websocket
from ._context import ApiContext, DaemonIdentity


def build_router(ctx: ApiContext) -> Router:
    router = Router()
    coven_v1.install(router, ctx)
    eve_v1.install(router, ctx)
    websocket.install(router, ctx)
    return router


__all__ = ["ApiContext", "DaemonIdentity", "build_router"]
