"""Talking to the daemon: the trio :class:`Client` (streams, programs that embed it) and
the blocking one-shot round trip the command line uses (``_wire``), with their errors;
every request target is built in ``_targets``.

Imports nothing of the daemon. :class:`Client` (trio and h11) loads on first use, so a
one-shot command that only needs the errors or the wire path does not pay for it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from ._wire import BadResponse, ClientError, ClientTimeout, DaemonUnreachable

if TYPE_CHECKING:
    from ._trio import Client


def __getattr__(name: str) -> Any:
    if name == "Client":
        from ._trio import Client

        globals()["Client"] = Client
        return Client
    raise AttributeError(f"module 'coven_trio.client' has no attribute {name!r}")


__all__ = ["BadResponse", "Client", "ClientError", "ClientTimeout", "DaemonUnreachable"]
