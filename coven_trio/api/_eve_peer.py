"""Which eve client generation a client *process* speaks, for the one request that names
no session: ``GET /info``.

The two stock clients' ``/info`` requests are byte-identical (same path, headers and
no query), yet each validates its own document. So the daemon asks who is calling: the
kernel names the peer of a Unix socket (``SO_PEERCRED``), and that process has either
already shown its generation on another request (a create, a send, a stream), or runs
an eve client package whose version says it (the ``eve`` package that Node resolves for
its script: ``node_modules/eve/package.json`` in the script's folder or above). Learned
per process (pid and start time, so a reused pid is a new process), bounded.
"""

from __future__ import annotations

import contextlib
import json
from collections import OrderedDict
from pathlib import Path

from ._eve_generation import Generation

#: Processes remembered at once (the least recently seen forgotten first).
MAX_PEERS = 1024
#: Folders walked up from a script looking for its ``node_modules/eve``.
MAX_DEPTH = 12
_PROC = Path("/proc")


def _start(pid: int) -> str | None:
    """The process's start time (clock ticks since boot): with the pid, its identity."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    return stat[stat.rindex(")") + 2 :].split()[19]


def _eve_version(pid: int) -> str | None:
    """The version of the eve client package the process loaded, as Node resolves it
    from the script it runs (then its working folder)."""
    try:
        argv = (_PROC / str(pid) / "cmdline").read_bytes().split(b"\0")
        cwd = (_PROC / str(pid) / "cwd").resolve()
    except OSError:
        return None
    folders = []
    for arg in argv[1:]:
        path = Path(arg.decode(errors="replace"))
        path = path if path.is_absolute() else cwd / path
        with contextlib.suppress(OSError):
            if path.is_file():
                folders.append(path.resolve().parent)
    for folder in [*folders, cwd]:
        for parent in [folder, *folder.parents][:MAX_DEPTH]:
            manifest = parent / "node_modules" / "eve" / "package.json"
            with contextlib.suppress(OSError, ValueError):
                version = json.loads(manifest.read_text()).get("version")
                if isinstance(version, str):
                    return version
    return None


def generation_of_version(version: str) -> Generation:
    """eve 0.18 and before speak the seed's generation (stream v16); later, today's."""
    try:
        major, minor = (int(part) for part in version.split(".")[:2])
    except ValueError:
        return Generation.CURRENT
    return Generation.SEED if (major, minor) <= (0, 18) else Generation.CURRENT


class Peers:
    """What each client process has shown of its generation."""

    def __init__(self) -> None:
        self._known: OrderedDict[tuple[int, str], Generation | None] = OrderedDict()

    def _key(self, pid: int | None) -> tuple[int, str] | None:
        if pid is None:
            return None
        start = _start(pid)
        return None if start is None else (pid, start)

    def remember(self, pid: int | None, generation: Generation) -> None:
        """Process ``pid`` showed ``generation`` on a request."""
        key = self._key(pid)
        if key is not None:
            self._known[key] = generation
            self._known.move_to_end(key)
            while len(self._known) > MAX_PEERS:
                self._known.popitem(last=False)

    def generation(self, pid: int | None) -> Generation | None:
        """The generation of process ``pid``: shown before, or read from its eve client
        package; None if neither tells."""
        key = self._key(pid)
        if key is None:
            return None
        if key not in self._known:
            version = _eve_version(key[0])
            found = None if version is None else generation_of_version(version)
            self._known[key] = found
            while len(self._known) > MAX_PEERS:
                self._known.popitem(last=False)
        return self._known[key]
