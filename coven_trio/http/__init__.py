"""HTTP/1.1 over h11: the listener, the per-connection loop, and the router."""

from ._connection import Lifecycle, serve_stream
from ._router import Request, Response, Router, StreamResponse, Upgrade
from ._server import HttpServer

__all__ = [
    "HttpServer",
    "Lifecycle",
    "Request",
    "Response",
    "Router",
    "StreamResponse",
    "Upgrade",
    "serve_stream",
]
