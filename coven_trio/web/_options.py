"""What a web listener is asked to be: where it binds, whether it speaks TLS, its scope cap.

The rules that make a listener safe to start live here, so they are checked once, before
anything is bound: a listener other processes or machines could reach (any address but
loopback) must speak TLS, since its tokens and cookies would otherwise cross a network in
clear.
"""

from __future__ import annotations

import ipaddress
import socket
from pathlib import Path

import attrs

from ..errors import StartupError

#: Files in the home: the self-signed certificate and its key (made on first use).
CERT_NAME = "web-cert.pem"
KEY_NAME = "web-key.pem"
#: Concurrent connections of one listener; past it: 503. A dashboard needs a handful per
#: browser (a list poll, one stream, a terminal), so this leaves room for many tabs.
MAX_WEB_CONNECTIONS = 128
_WILDCARDS = {"0.0.0.0", "::", ""}


def is_loopback(host: str) -> bool:
    """Whether ``host`` (an address or ``localhost``) only ever reaches this machine."""
    if host == "localhost":
        return True
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped is not None:
        return address.ipv4_mapped.is_loopback
    return address.is_loopback


def is_ip_literal(host: str) -> bool:
    try:
        ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return False
    return True


@attrs.frozen(kw_only=True)
class WebOptions:
    """A listener's configuration (``coven-trio web``, ``serve --http HOST:PORT``).

    ``tls=None`` means "TLS exactly when the address is not loopback"; ``tls=False`` with
    a non-loopback address is refused at start (:meth:`check`).
    """

    host: str = "127.0.0.1"
    port: int = 0
    tls: bool | None = None
    #: Cap every credential at ``observe``: the listener never changes anything.
    observe_only: bool = False
    #: Default ``<home>/web-cert.pem`` and ``<home>/web-key.pem``.
    cert_path: Path | None = None
    key_path: Path | None = None
    #: Host names the listener answers to besides its addresses and ``localhost`` (the
    #: name a phone uses, ``laptop.local``); any other ``Host`` is refused (403).
    names: tuple[str, ...] = attrs.field(default=(), converter=tuple)
    max_connections: int = MAX_WEB_CONNECTIONS

    @property
    def bind_host(self) -> str:
        """The address bound: ``localhost`` is 127.0.0.1, so a port 0 gets one port."""
        return "127.0.0.1" if self.host == "localhost" else self.host.strip("[]")

    @property
    def loopback(self) -> bool:
        return is_loopback(self.bind_host)

    @property
    def use_tls(self) -> bool:
        return (not self.loopback) if self.tls is None else self.tls

    def check(self) -> None:
        """Refuse what must not start (raises :class:`StartupError`)."""
        if not 0 <= self.port <= 65535:
            raise StartupError(f"web listener port {self.port} is not a TCP port")
        if not self.loopback and not self.use_tls:
            raise StartupError(
                f"refusing to serve the web dashboard on {self.host} without TLS: tokens "
                "and cookies would cross the network in clear. Bind 127.0.0.1, or leave "
                "TLS on (the default for other addresses)."
            )
        if self.bind_host not in _WILDCARDS and not is_ip_literal(self.bind_host):
            raise StartupError(
                f"web listener host {self.host!r} must be an IP address or localhost "
                "(names for the Host header go in `names`)"
            )

    def cert_files(self, home: Path) -> tuple[Path, Path]:
        return (self.cert_path or home / CERT_NAME, self.key_path or home / KEY_NAME)

    def public_host(self) -> str:
        """The name a device on the network uses to reach a listener (pairing URLs)."""
        if self.names:
            return self.names[0]
        if self.bind_host not in _WILDCARDS:
            return self.bind_host
        if self.loopback:
            return "127.0.0.1"
        try:
            address = socket.gethostbyname(socket.gethostname())
        except OSError:
            return socket.gethostname()
        return socket.gethostname() if is_loopback(address) else address

    def host_names(self) -> frozenset[str]:
        """Names (besides IP literals, always fine: they cannot be rebound) that a
        ``Host`` header may carry."""
        names = {"localhost", *(n.lower() for n in self.names)}
        if not self.loopback:
            hostname = socket.gethostname().lower()
            names |= {hostname, f"{hostname}.local"}
        return frozenset(names)


def url_host(host: str) -> str:
    """``host`` as it goes in a URL (IPv6 in brackets)."""
    return f"[{host}]" if ":" in host and not host.startswith("[") else host
