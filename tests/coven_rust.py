"""The real Rust Coven daemon (npm ``@opencoven/cli``, pinned in tests/realcli), run beside
coven-trio so a test can ask both the same thing.

The published linux-x64 binary asks for glibc 2.39 only for two weak symbols
(``pidfd_spawnp``, ``pidfd_getpid``) that Rust's std falls back from. On an older glibc
(Debian 12 has 2.36) a copy is patched: those symbols lose their version, and the
GLIBC_2.39+ requirements are marked weak, so the loader only warns.
"""

from __future__ import annotations

import os
import re
import shutil
import struct
import subprocess
from pathlib import Path

HERE = Path(__file__).parent
PUBLISHED = HERE / "realcli" / "node_modules" / "@opencoven" / "cli-linux-x64" / "bin" / "coven"
VERSION = "0.4.6"


class Unavailable(Exception):
    """The Rust daemon cannot run here (the reason is the message)."""


def _weaken_glibc_needs(path: Path) -> None:
    """Mark the binary's GLIBC_2.39+ version needs weak (``vna_flags = VER_FLG_WEAK``)."""
    out = subprocess.run(["readelf", "-V", str(path)], capture_output=True, text=True).stdout
    section = out.split("Version needs section")[1]
    found = re.search(r"Offset: (0x[0-9a-f]+)", section)
    if found is None:
        raise Unavailable("readelf shows no version-needs section")
    base = int(found.group(1), 16)
    data = bytearray(path.read_bytes())
    for need in re.finditer(r"(0x[0-9a-f]+):\s+Name: GLIBC_2\.(39|4\d)\s+Flags: none", section):
        struct.pack_into("<H", data, base + int(need.group(1), 16) + 4, 2)
    path.write_bytes(data)


def binary(cache: Path) -> Path:
    """A runnable copy of the pinned Rust CLI in ``cache`` (made once)."""
    if not PUBLISHED.exists():
        raise Unavailable(
            "the Rust Coven CLI is not installed: run `npm ci --prefix tests/realcli`"
        )
    target = cache / f"coven-{VERSION}"
    if target.exists():
        return target
    for tool in ("patchelf", "readelf"):
        if shutil.which(tool) is None:
            raise Unavailable(f"`{tool}` is needed to run the Rust daemon on this glibc")
    cache.mkdir(parents=True, exist_ok=True)
    scratch = cache / f"coven-{VERSION}.tmp"
    shutil.copy(PUBLISHED, scratch)
    clear = ["--clear-symbol-version", "pidfd_spawnp", "--clear-symbol-version", "pidfd_getpid"]
    subprocess.run(["patchelf", *clear, str(scratch)], check=True)
    _weaken_glibc_needs(scratch)
    version = subprocess.run([str(scratch), "--version"], capture_output=True, text=True)
    if f"coven v{VERSION}" not in version.stdout:
        raise Unavailable(f"the patched Rust CLI does not run: {version.stderr.strip()[-300:]}")
    scratch.replace(target)
    return target


class RustDaemon:
    """``coven daemon start`` in its own home; :meth:`stop` ends it."""

    def __init__(self, executable: Path, home: Path, env: dict[str, str]) -> None:
        self.executable = executable
        self.home = home
        self.env = {**env, "COVEN_HOME": str(home)}
        self.socket_path = home / "coven.sock"

    def _run(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [str(self.executable), *args], env=self.env, capture_output=True, text=True, timeout=30
        )

    def start(self) -> None:
        self.home.mkdir(mode=0o700, parents=True, exist_ok=True)
        done = self._run("daemon", "start")
        if done.returncode != 0 or not self.socket_path.exists():
            raise Unavailable(f"the Rust daemon did not start: {done.stderr.strip()[-300:]}")

    def stop(self) -> None:
        self._run("daemon", "stop")


def rust_env(path_first: Path) -> dict[str, str]:
    """The environment both daemons run their harnesses with."""
    return {**os.environ, "PATH": f"{path_first}{os.pathsep}{os.environ['PATH']}"}
