"""coven-trio: a Trio daemon that runs coding-agent CLIs as supervised sessions.

Public API: :func:`open_daemon` and :func:`serve` to run the daemon inside a trio
program, :class:`Config` for its limits, :class:`LaunchRequest` for
:meth:`Daemon.launch`, and :mod:`coven_trio.errors`.

The names load on first use (PEP 562), so a client command that imports this package
does not pay for the daemon it does not run.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from ._version import __version__

if TYPE_CHECKING:
    from . import errors
    from .config import Config
    from .daemon import Daemon, open_daemon, serve
    from .models import LaunchRequest

_LAZY = {
    "errors": ".errors",
    "Config": ".config",
    "Daemon": ".daemon",
    "open_daemon": ".daemon",
    "serve": ".daemon",
    "LaunchRequest": ".models",
}


def __getattr__(name: str) -> Any:
    if name not in _LAZY:
        raise AttributeError(f"module 'coven_trio' has no attribute {name!r}")
    module = importlib.import_module(_LAZY[name], __name__)
    value = module if name == "errors" else getattr(module, name)
    globals()[name] = value
    return value


__all__ = ["Config", "Daemon", "LaunchRequest", "__version__", "errors", "open_daemon", "serve"]
