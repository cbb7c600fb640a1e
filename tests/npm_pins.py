"""The npm packages the suite runs for real, each folder pinned by its lock file:
``realcli`` (Claude Code, Codex, the Rust Coven daemon), ``eveclient`` (today's eve client
and the Node 24 it needs), ``eveseed`` (the seed's eve client).

:func:`ensure` installs a folder with ``npm ci`` unless what is installed was installed
from the same lock (a stamp in ``node_modules``), under a lock on the lock file, so the
install happens once per change whoever asks first: the ``npm_pins`` fixture, a second
pytest run, or ``.ci/run`` (``python -m tests.npm_pins``). Which tests run never depends
on which ran before.
"""

from __future__ import annotations

import fcntl
import hashlib
import shutil
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).parent
FOLDERS = ("realcli", "eveclient", "eveseed")
_STAMP = ".pinned"
#: npm ci of the biggest folder takes ~20 s here; a slow registry may take minutes.
INSTALL_TIMEOUT = 900


class Unavailable(Exception):
    """The folder's packages cannot be installed here (the reason is the message)."""


def _digest(folder: Path) -> str:
    lock = (folder / "package-lock.json").read_bytes()
    manifest = (folder / "package.json").read_bytes()
    return hashlib.sha256(manifest + b"\0" + lock).hexdigest()


def installed(name: str) -> bool:
    folder = HERE / name
    stamp = folder / "node_modules" / _STAMP
    return stamp.exists() and stamp.read_text() == _digest(folder)


def ensure(name: str) -> Path:
    """``tests/<name>/node_modules``, installed from the lock file if it is not yet."""
    folder = HERE / name
    modules = folder / "node_modules"
    if installed(name):
        return modules
    if shutil.which("npm") is None or shutil.which("node") is None:
        raise Unavailable(f"node and npm are needed to install tests/{name} (npm ci)")
    with open(folder / "package-lock.json", "rb") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # another process may be installing it now
        if installed(name):
            return modules
        try:
            done = subprocess.run(
                ["npm", "ci", "--no-audit", "--no-fund", "--loglevel=error"],
                cwd=folder,
                capture_output=True,
                text=True,
                timeout=INSTALL_TIMEOUT,
            )
        except subprocess.TimeoutExpired:
            raise Unavailable(f"npm ci in tests/{name} took over {INSTALL_TIMEOUT} s") from None
        if done.returncode != 0:
            raise Unavailable(f"npm ci in tests/{name} failed: {done.stderr.strip()[-600:]}")
        (modules / _STAMP).write_text(_digest(folder))
    return modules


def main() -> int:
    for name in sys.argv[1:] or FOLDERS:
        try:
            print(f"tests/{name}: {ensure(name)}")
        except Unavailable as exc:
            print(f"tests/{name}: {exc}", file=sys.stderr)
            return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
