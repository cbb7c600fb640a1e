"""Private files, written whole or not at all: the one way the package writes a file
in the home that others must not read or swap."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_private(path: Path, text: str, *, sync: bool = False) -> None:
    """Write ``path`` 0600, atomically: a new temp file beside it (``O_EXCL``, so nothing
    planted at its name — a symlink — is followed), then renamed over it. ``sync``: on
    disk before the rename (what must survive a power cut)."""
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC | os.O_NOFOLLOW
    fd = os.open(tmp, flags, 0o600)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
            if sync:
                f.flush()
                os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
