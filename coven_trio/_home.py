"""The daemon's home folder: checks, the single-instance lock, the socket, daemon.json.

Startup order (spec §3): private home → exclusive ``flock`` on ``daemon-serve.lock`` → probe
any existing socket (live daemon: refuse; dead: unlink) → bind under a 0177 umask so the
socket is 0600 from its first moment → ``daemon.json``. On exit the socket is unlinked
only if the inode there is still the one we bound.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket as stdlib_socket
import stat
import struct
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import attrs
import trio

from ._files import write_private
from .config import MAX_SOCKET_PATH_BYTES, SOCKET_NAME
from .errors import DaemonAlreadyRunning, StartupError

#: The serve lock has the name the Rust daemon gives its own (its CLI takes
#: ``daemon.lock`` for lifecycle commands, and would wait on ours forever).
LOCK_NAME = "daemon-serve.lock"
DAEMON_JSON = "daemon.json"
#: How long a probe of an existing socket may take before we call it dead.
PROBE_TIMEOUT = 2.0
#: Pending connections the kernel holds for us (capped by net.core.somaxconn); a burst
#: of local clients beyond it would see EAGAIN on connect.
LISTEN_BACKLOG = 4096


def prepare_home(home: Path) -> Path:
    """Create ``home`` 0700 if missing; refuse a symlink, a non-folder or a foreign owner.

    Returns the absolute path. Raises :class:`StartupError` with a message for a person.
    """
    home = Path(os.path.abspath(home))
    try:
        st = os.lstat(home)
    except FileNotFoundError:
        home.parent.mkdir(parents=True, exist_ok=True)
        with contextlib.suppress(FileExistsError):
            home.mkdir(mode=0o700)
        st = os.lstat(home)
    if stat.S_ISLNK(st.st_mode):
        raise StartupError(f"refusing to use {home}: it is a symlink")
    if not stat.S_ISDIR(st.st_mode):
        raise StartupError(f"refusing to use {home}: it is not a directory")
    if st.st_uid != os.geteuid():
        raise StartupError(
            f"refusing to use {home}: owned by uid {st.st_uid}, not by us (uid {os.geteuid()})"
        )
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o022:
        # Someone else could have planted files here (a manifest we would run): do not
        # quietly tighten it and go on; the owner must look first.
        who = "group and others" if mode & 0o022 == 0o022 else "group" if mode & 0o020 else "others"
        raise StartupError(
            f"refusing to use {home}: it is writable by {who} (mode {mode:04o}); "
            f"check what is in it, then run: chmod 700 {home}"
        )
    if mode != 0o700:
        os.chmod(home, 0o700)  # only read/search bits to drop
    sock = home / SOCKET_NAME
    if len(os.fsencode(sock)) > MAX_SOCKET_PATH_BYTES:
        raise StartupError(
            f"socket path {sock} is {len(os.fsencode(sock))} bytes; Unix sockets allow at most "
            f"{MAX_SOCKET_PATH_BYTES}. Set COVEN_HOME (or --home) to a shorter folder."
        )
    return home


def distrust(path: Path) -> str | None:
    """Why a configuration file (a manifest, ``agents.toml``) must not be used — it is
    not ours, or others may write it — or None if it may."""
    try:
        st = os.stat(path)
    except OSError as exc:
        return f"cannot stat it: {exc.strerror}"
    if st.st_uid != os.geteuid():
        return f"owned by uid {st.st_uid}, not by us (uid {os.geteuid()})"
    if st.st_mode & 0o022:
        return f"writable by others (mode {stat.S_IMODE(st.st_mode):04o}); chmod go-w it"
    return None


def read_daemon_json(home: Path) -> dict[str, Any] | None:
    try:
        data = json.loads((home / DAEMON_JSON).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


@contextlib.contextmanager
def hold_lock(home: Path) -> Iterator[None]:
    """Hold an exclusive ``flock`` on ``<home>/daemon-serve.lock`` for the block's duration."""
    try:
        fd = os.open(home / LOCK_NAME, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC | os.O_NOFOLLOW, 0o600)
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise StartupError(
                f"refusing to use {home / LOCK_NAME}: it is a symlink; remove it"
            ) from None
        raise StartupError(f"cannot open {home / LOCK_NAME}: {exc.strerror}") from None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            info = read_daemon_json(home) or {}
            pid = info.get("pid", "unknown")
            raise DaemonAlreadyRunning(
                f"another coven-trio daemon (pid {pid}) is already serving {home}; "
                "refusing to start a second one"
            ) from None
        yield
    finally:
        os.close(fd)  # closing the fd releases the lock


async def _probe_live(path: Path) -> int | bool:
    """Is something answering on ``path``? Its pid if it says, True if it answers without
    one (or not in time: a stuck daemon still owns the socket), False if nothing listens."""
    try:
        stream = await trio.open_unix_socket(str(path))
    except OSError:
        return False
    data = b""
    with trio.move_on_after(PROBE_TIMEOUT):
        async with stream:
            with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError):
                await stream.send_all(_PROBE)
                while chunk := await stream.receive_some(65536):
                    data += chunk
    try:
        health = json.loads(data.partition(b"\r\n\r\n")[2])
    except ValueError:
        return True
    pid = health.get("daemon", {}).get("pid") if isinstance(health, dict) else None
    return pid if isinstance(pid, int) else True


#: The probe's health request (read to EOF: ``connection: close``).
_PROBE = b"GET /api/v1/health HTTP/1.1\r\nhost: coven\r\nconnection: close\r\n\r\n"


@attrs.define
class BoundSocket:
    """A listening socket and the identity of the inode we created for it."""

    sock: trio.socket.SocketType
    path: Path
    dev: int
    ino: int

    def unlink_if_ours(self) -> None:
        """Remove the socket file only if it is still the inode we bound (trio#279)."""
        try:
            st = os.lstat(self.path)
        except FileNotFoundError:
            return
        if (st.st_dev, st.st_ino) == (self.dev, self.ino):
            with contextlib.suppress(FileNotFoundError):
                os.unlink(self.path)


async def bind_socket(home: Path) -> BoundSocket:
    """Bind ``<home>/coven.sock`` 0600, replacing a stale socket, refusing a live one."""
    path = home / SOCKET_NAME
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        pass
    else:
        if not stat.S_ISSOCK(st.st_mode):
            raise StartupError(f"refusing to replace {path}: it exists and is not a socket")
        if st.st_uid != os.geteuid():
            raise StartupError(f"refusing to replace {path}: owned by uid {st.st_uid}")
        live = await _probe_live(path)
        if live is not False:
            who = f"pid {live}" if live is not True else "unknown pid"
            raise DaemonAlreadyRunning(
                f"a live daemon ({who}) is already serving {path}; refusing to take over"
            )
        with contextlib.suppress(FileNotFoundError):
            os.unlink(path)
    sock = trio.socket.socket(stdlib_socket.AF_UNIX, stdlib_socket.SOCK_STREAM)
    # umask, not chmod after bind: the socket is 0600 from the moment it exists.
    old_umask = os.umask(0o177)
    try:
        await sock.bind(os.fspath(path))
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise DaemonAlreadyRunning(f"{path} is in use; refusing to take over") from exc
        raise StartupError(f"cannot bind {path}: {exc}") from exc
    finally:
        os.umask(old_umask)
    sock.listen(LISTEN_BACKLOG)
    st = os.lstat(path)
    return BoundSocket(sock=sock, path=path, dev=st.st_dev, ino=st.st_ino)


def write_daemon_json(home: Path, info: dict[str, Any]) -> None:
    """Write ``daemon.json`` 0600, atomically (:func:`coven_trio._files.write_private`)."""
    write_private(home / DAEMON_JSON, json.dumps(info, indent=2) + "\n")


def remove_daemon_json(home: Path, pid: int) -> None:
    """Remove ``daemon.json`` if it still names ``pid``."""
    info = read_daemon_json(home)
    if info is not None and info.get("pid") == pid:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(home / DAEMON_JSON)


def peer(sock: trio.socket.SocketType) -> tuple[int, int] | None:
    """The connecting process's ``(pid, uid)`` via ``SO_PEERCRED`` (Linux), or None where
    unsupported."""
    so_peercred = getattr(stdlib_socket, "SO_PEERCRED", None)
    if so_peercred is None:
        return None
    raw = sock.getsockopt(stdlib_socket.SOL_SOCKET, so_peercred, struct.calcsize("3i"))
    pid, uid, _gid = struct.unpack("3i", raw)
    return int(pid), int(uid)
