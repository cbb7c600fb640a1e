"""The API surfaces: views over the daemon's sessions and journals."""

from __future__ import annotations

from typing import TYPE_CHECKING

from ..http import Router
from . import coven_v1, eve_v1, websocket

if TYPE_CHECKING:
    from ..daemon import Daemon


def build_router(daemon: Daemon) -> Router:
    router = Router()
    coven_v1.install(router, daemon)
    eve_v1.install(router, daemon)
    websocket.install(router, daemon)
    return router
