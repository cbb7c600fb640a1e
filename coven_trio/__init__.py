"""coven-trio: a Trio daemon that runs coding-agent CLIs as supervised sessions.

Public API: :func:`open_daemon` and :func:`serve` to run the daemon inside a trio
program, :class:`Config` for its limits, :class:`LaunchRequest` for
:meth:`Daemon.launch`, and :mod:`coven_trio.errors`.
"""

from . import errors
from ._version import __version__
from .config import Config
from .daemon import Daemon, open_daemon, serve
from .models import LaunchRequest

__all__ = ["Config", "Daemon", "LaunchRequest", "__version__", "errors", "open_daemon", "serve"]
