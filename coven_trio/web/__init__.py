"""The web dashboard: an authenticated HTTP(S) listener beside the Unix socket.

The socket stays same-user and token-free; this listener is how a browser (or a phone)
reaches the daemon, so it has its own authority (``docs/web.md`` has the threat model):
a per-start launch token exchanged for a cookie, paired devices, scopes, and the checks
of :mod:`._guard` in front of the daemon's own routes.

Wiring (the daemon's side)::

    manager = WebManager(daemon)
    await nursery.start(manager.run)          # in the daemon's nursery
    install_routes(daemon.router, manager)    # /api/v1/web… on the Unix socket only
    await manager.listen(WebOptions(...))     # serve --http HOST:PORT

or, without the manager, ``await nursery.start(serve_web, daemon, WebOptions())``.
"""

from ._auth import WebState
from ._listener import WebHost, WebListener, serve_web
from ._manage import WebManager, install_routes
from ._options import WebOptions
from ._tokens import Scope

__all__ = [
    "Scope",
    "WebHost",
    "WebListener",
    "WebManager",
    "WebOptions",
    "WebState",
    "install_routes",
    "serve_web",
]
