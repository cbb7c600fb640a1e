"""coven-trio: a Trio daemon that runs coding-agent CLIs as supervised sessions.

Public API: :func:`open_daemon` and :func:`serve` to run the daemon inside a trio
program, :class:`Config` for its limits, and :mod:`coven_trio.errors`.
"""

__version__ = "0.1.0"

from . import errors
from .config import Config
from .daemon import Daemon, open_daemon, serve

__all__ = ["Config", "Daemon", "__version__", "errors", "open_daemon", "serve"]
