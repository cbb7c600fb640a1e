"""A web listener: TCP (TLS when configured), the daemon's routes behind the guard, and
the page.

Connections are served by the same loop as the Unix socket's (``http.serve_stream``),
with the daemon's limits (head and body sizes and timeouts, idle keep-alive, stalled
readers); this module adds what a TCP listener needs besides: its own connection cap,
the TLS handshake (bounded by the head timeout, since it happens inside the first read),
and the peer's address for the guard.
"""

from __future__ import annotations

import errno
import itertools
import logging
import socket as stdlib_socket
from typing import Any, Protocol

import attrs
import trio

from ..config import Config
from ..errors import CapacityExhausted, StartupError
from ..http import Lifecycle, Router, serve_stream
from ..http._connection import send_error_and_close
from ._auth import Peer, WebState
from ._guard import GuardedRouter, Site
from ._options import WebOptions, is_loopback, url_host
from ._pages import Pages
from ._tls import Certificate, ensure_certificate
from ._tokens import Scope

log = logging.getLogger("coven_trio.web")

_ACCEPT_RETRY = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
LISTEN_BACKLOG = 128


class WebHost(Protocol):
    """What a listener needs of the daemon (a :class:`coven_trio.daemon.Daemon` is
    one): its configuration and its router. A protocol, so ``daemon.py`` may import
    this package without an import cycle."""

    config: Config
    router: Router | None


@attrs.define(eq=False)
class WebListener:
    """A running listener, as ``task_status.started`` hands it over."""

    options: WebOptions
    host: str
    port: int
    state: WebState
    certificate: Certificate | None
    _site: Site
    _cancel: trio.CancelScope = attrs.field(factory=trio.CancelScope)
    stopped: trio.Event = attrs.field(factory=trio.Event)
    connections: int = 0

    @property
    def tls(self) -> bool:
        return self.certificate is not None

    @property
    def fingerprint(self) -> str | None:
        return self.certificate.fingerprint if self.certificate else None

    @property
    def url(self) -> str:
        """The page, as this machine reaches it (no token)."""
        scheme = "https" if self.tls else "http"
        host = "127.0.0.1" if self.options.bind_host in ("0.0.0.0", "::", "") else self.host
        return f"{scheme}://{url_host(host)}:{self.port}/"

    @property
    def public_url(self) -> str:
        """The page, as another device reaches it (pairing URLs)."""
        scheme = "https" if self.tls else "http"
        return f"{scheme}://{url_host(self.options.public_host())}:{self.port}/"

    def login_url(self, scope: Scope = Scope.CONTROL) -> str:
        """The page with the launch token in its fragment (never sent to a server by a
        browser, never in a log line)."""
        return f"{self.url}#token={self.state.launch.token(scope)}"

    def describe(self) -> dict[str, Any]:
        """The listener, without any secret."""
        return {
            "listening": True,
            "url": self.url,
            "publicUrl": self.public_url,
            "host": self.options.host,
            "port": self.port,
            "tls": self.tls,
            "fingerprint": self.fingerprint,
            "observeOnly": self.options.observe_only,
            "connections": self.connections,
        }

    def stop(self) -> None:
        self._cancel.cancel()


def _bind(options: WebOptions) -> trio.socket.SocketType:
    host = options.bind_host
    family = stdlib_socket.AF_INET6 if ":" in host else stdlib_socket.AF_INET
    sock = trio.socket.socket(family, stdlib_socket.SOCK_STREAM)
    try:
        sock.setsockopt(stdlib_socket.SOL_SOCKET, stdlib_socket.SO_REUSEADDR, 1)
        if family == stdlib_socket.AF_INET6 and host == "::":
            sock.setsockopt(stdlib_socket.IPPROTO_IPV6, stdlib_socket.IPV6_V6ONLY, 0)
        return sock
    except OSError:
        sock.close()
        raise


async def serve_web(
    daemon: WebHost,
    options: WebOptions,
    *,
    state: WebState | None = None,
    task_status: trio.TaskStatus[WebListener] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve the dashboard and ``daemon.router`` behind the guard until cancelled (or
    :meth:`WebListener.stop`). ``state`` is the daemon start's credentials (the web
    manager's); without one, a fresh one is made.

    Raises :class:`StartupError` before binding for a listener that must not start (a
    non-loopback address without TLS, unsafe certificate or devices files) and when the
    address cannot be bound.
    """
    options.check()
    config, router = daemon.config, daemon.router
    if router is None:
        raise StartupError("the daemon has no router yet")
    state = state or WebState.create(config.home)
    certificate = None
    if options.use_tls:
        cert_path, key_path = options.cert_files(config.home)
        names = ["localhost", "127.0.0.1", "::1", options.public_host(), *options.names]
        if options.bind_host not in ("0.0.0.0", "::", ""):
            names.append(options.bind_host)
        certificate = await ensure_certificate(cert_path, key_path, names)
    sock = _bind(options)
    with sock:
        try:
            await sock.bind((options.bind_host, options.port))
        except OSError as exc:
            raise StartupError(
                f"cannot listen on {options.host}:{options.port}: {exc.strerror or exc}"
            ) from None
        sock.listen(LISTEN_BACKLOG)
        port = sock.getsockname()[1]
        site = Site(
            state=state,
            inner=router,
            port=port,
            tls=certificate is not None,
            observe_only=options.observe_only,
            names=options.host_names(),
        )
        Pages(site).install()
        listener = WebListener(options, options.bind_host, port, state, certificate, site)
        try:
            with listener._cancel:
                async with trio.open_nursery() as nursery:
                    task_status.started(listener)
                    log.info("web listener on %s (tls: %s)", listener.url, listener.tls)
                    await _accept(listener, sock, config, nursery)
        finally:
            listener.stopped.set()
            log.info("web listener on %s stopped", listener.url)


async def _accept(
    listener: WebListener, sock: trio.socket.SocketType, config: Config, nursery: trio.Nursery
) -> None:
    context = listener.certificate.server_context() if listener.certificate else None
    lifecycle = Lifecycle()
    ids = itertools.count()
    while True:
        try:
            conn, address = await sock.accept()
        except OSError as exc:
            if exc.errno not in _ACCEPT_RETRY:
                raise
            log.error("web accept failed (%s); retrying", errno.errorcode[exc.errno])
            await trio.sleep(0.1)
            continue
        peer = Peer(str(address[0]), is_loopback(str(address[0])))
        stream: trio.abc.Stream = trio.SocketStream(conn)
        if context is not None:
            stream = trio.SSLStream(stream, context, server_side=True, https_compatible=True)
        nursery.start_soon(_connection, listener, stream, peer, config, lifecycle, next(ids))


async def _handshake(stream: trio.SSLStream[trio.abc.Stream], config: Config) -> bool:
    """The TLS handshake, within the head timeout, before the connection loop: a peer that
    never completes it is closed without an answer (no 408 can go over a handshake that
    never finished; the loop alone would only get there because trio breaks a stream
    whose handshake was cancelled)."""
    with trio.move_on_after(config.head_timeout):
        try:
            await stream.do_handshake()
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            return False
        return True
    return False


async def _connection(
    listener: WebListener,
    stream: trio.abc.Stream,
    peer: Peer,
    config: Config,
    lifecycle: Lifecycle,
    conn_id: int,
) -> None:
    listener.connections += 1
    try:
        if isinstance(stream, trio.SSLStream) and not await _handshake(stream, config):
            await trio.aclose_forcefully(stream)
            return
        if listener.connections > listener.options.max_connections:
            exc = CapacityExhausted("Too many connections.", headers=[("retry-after", "1")])
            with trio.move_on_after(config.head_timeout):
                await send_error_and_close(stream, config, exc)
            await trio.aclose_forcefully(stream)
            return
        router = GuardedRouter(site=listener._site, peer=peer)
        await serve_stream(stream, config, router, lifecycle, f"web-{conn_id}")
    except Exception:  # a bug around one connection ends that connection only
        log.exception("web connection %d failed", conn_id)
    finally:
        listener.connections -= 1
