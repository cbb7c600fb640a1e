"""Where the daemon lives and how it is reached: the few names a client needs, with
nothing to import (the command line's one-shot commands start from here, not from
:mod:`coven_trio.config`, which loads attrs)."""

from __future__ import annotations

import os
from pathlib import Path

DEFAULT_EVE_MOUNT = "/eve/v1"
SOCKET_NAME = "coven.sock"
#: Linux ``sun_path`` is 108 bytes including the trailing NUL.
MAX_SOCKET_PATH_BYTES = 107
#: Optional files of the home that turn services on; without them nothing of those
#: services is imported (docs/notifications.md, docs/fleet.md).
NOTIFY_FILE = "notify.toml"
FLEET_FILE = "fleet.toml"
#: The web dashboard's management routes on the socket (loaded with their first use).
WEB_API_PREFIX = "/api/v1/web"


def default_home() -> Path:
    """``$COVEN_HOME`` if set and non-empty, else ``~/.coven`` (the Rust daemon's rule)."""
    env = os.environ.get("COVEN_HOME", "").strip()
    if env:
        return Path(env).expanduser()
    return Path.home() / ".coven"
