"""What the API views may see of the daemon: a narrow interface, built by ``daemon.py``.

Views depend on this, never on the daemon itself, so the import arrows run one way:
``daemon`` → ``api`` → ``sessions`` / ``harness`` / ``config``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import attrs
import trio

from ..config import Config
from ..harness import HarnessCatalog
from ..notify import Dispatcher
from ..store import Store

if TYPE_CHECKING:
    from ..sessions import SessionRegistry


@attrs.frozen
class DaemonIdentity:
    """Who is answering: the handshake's ``daemon`` object."""

    pid: int
    started_at: str
    socket_path: Path
    version: str
    #: ``trio.current_time()`` when serving began.
    started_clock: float

    @property
    def uptime(self) -> float:
        return trio.current_time() - self.started_clock


@attrs.frozen
class ApiContext:
    config: Config
    #: The daemon's sessions, loaded with the first view that asks (:attr:`sessions`).
    registry: Callable[[], SessionRegistry]
    harnesses: HarnessCatalog
    identity: DaemonIdentity
    store: Store = attrs.field(factory=Store)
    #: Why the configured store could not be opened (the daemon serves from memory).
    store_error: str | None = None
    #: Asks the daemon for a graceful shutdown (the lifecycle route).
    shutdown: Callable[[], None] = lambda: None
    #: Notifications, for the clients that follow them.
    notifications: Dispatcher = attrs.field(factory=Dispatcher)
    #: More of the health handshake, by key, from the daemon's services (``notify``,
    #: ``fleet``): each called when health is asked for.
    health_parts: dict[str, Callable[[], Any]] = attrs.field(factory=dict)

    @property
    def sessions(self) -> SessionRegistry:
        """Every session of the daemon (the first call loads the session machinery)."""
        return self.registry()
