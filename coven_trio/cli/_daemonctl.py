"""``coven-trio daemon start|stop|status|restart|install``: the daemon in the background.

``start`` runs ``coven-trio serve`` detached (its own session, output to
``<home>/daemon.log``) and returns once it answers its health check. ``stop`` signals
the pid the running daemon wrote in ``<home>/daemon.json`` — only after the daemon on
the socket confirms that pid — and waits until it is gone; never by process name.
``install`` writes a systemd user unit (on macOS: prints a launchd agent).
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import trio

from .._defaults import SOCKET_NAME
from ..client import Client, ClientError

#: How long ``start`` waits for the first health answer, ``stop`` for the exit.
START_TIMEOUT = 15.0
STOP_TIMEOUT = 20.0
LOG_NAME = "daemon.log"
UNIT_NAME = "coven-trio.service"


async def running_pid(home: Path) -> int | None:
    """The pid of the daemon answering on ``home``'s socket, or None."""
    try:
        health = await Client(home / SOCKET_NAME, timeout=3).health()
    except ClientError:
        return None
    pid = health.get("daemon", {}).get("pid")
    return pid if isinstance(pid, int) else None


async def start(home: Path, extra: list[str]) -> tuple[int, bool]:
    """``(pid, started)``: a daemon already running is not started again."""
    pid = await running_pid(home)
    if pid is not None:
        return pid, False
    process = await _spawn(home, extra)
    deadline = trio.current_time() + START_TIMEOUT
    while trio.current_time() < deadline:
        pid = await running_pid(home)
        if pid is not None:
            return pid, True
        if process.poll() is not None:
            break
        await trio.sleep(0.05)
    raise RuntimeError(
        f"the daemon did not start; see {home / LOG_NAME}:\n{_tail(home / LOG_NAME)}"
    )


async def _spawn(home: Path, extra: list[str]) -> trio.Process:
    """``coven-trio serve`` detached: its own session, output to the home's log. It is
    meant to outlive this command (the init process reaps it)."""
    await trio.Path(home).mkdir(mode=0o700, parents=True, exist_ok=True)
    flags = os.O_WRONLY | os.O_APPEND | os.O_CREAT | os.O_NOFOLLOW
    log = await trio.to_thread.run_sync(os.open, home / LOG_NAME, flags, 0o600)
    try:
        return await trio.lowlevel.open_process(
            [sys.executable, "-m", "coven_trio", "serve", "--home", str(home), *extra],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=log,
            start_new_session=True,  # not in this terminal's process group
        )
    finally:
        os.close(log)  # the daemon has its own copy


def _tail(path: Path, lines: int = 15) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def _recorded_pid(home: Path) -> int | None:
    try:
        pid = json.loads((home / "daemon.json").read_text()).get("pid")
    except (OSError, ValueError, AttributeError):
        return None
    return pid if isinstance(pid, int) else None


async def stop(home: Path) -> int | None:
    """Stop the daemon on ``home``; its pid, or None if none was running."""
    pid = await running_pid(home)
    if pid is None or _recorded_pid(home) != pid:
        return None  # nothing answers, or the pid file is not the answering daemon's
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return pid
        await trio.sleep(0.05)
    raise RuntimeError(f"the daemon (pid {pid}) did not stop in {STOP_TIMEOUT:.0f} s")


def unit_text(home: Path) -> str:
    """A systemd user unit running this installation's ``coven-trio serve``."""
    return (
        "[Unit]\nDescription=coven-trio agent session daemon\n\n"
        "[Service]\nType=simple\n"
        f"Environment=COVEN_HOME={home}\n"
        f"ExecStart={sys.executable} -m coven_trio serve --log-format json\n"
        "KillSignal=SIGTERM\nTimeoutStopSec=30\nRestart=on-failure\nRestartSec=2s\n\n"
        "[Install]\nWantedBy=default.target\n"
    )


def launchd_text(home: Path) -> str:
    """A launchd agent (macOS) for ``~/Library/LaunchAgents/dev.coven-trio.plist``."""
    args = "".join(f"<string>{a}</string>" for a in (sys.executable, "-m", "coven_trio", "serve"))
    return (
        '<?xml version="1.0" encoding="UTF-8"?>\n<plist version="1.0"><dict>'
        "<key>Label</key><string>dev.coven-trio</string>"
        f"<key>ProgramArguments</key><array>{args}</array>"
        "<key>EnvironmentVariables</key><dict><key>COVEN_HOME</key>"
        f"<string>{home}</string></dict>"
        "<key>RunAtLoad</key><true/><key>KeepAlive</key><true/></dict></plist>\n"
    )


def install(home: Path) -> tuple[Path, str]:
    """Write the service definition; ``(path, the command that enables it)``."""
    if sys.platform == "darwin":
        path = Path.home() / "Library" / "LaunchAgents" / "dev.coven-trio.plist"
        text, enable = launchd_text(home), f"launchctl load -w {path}"
    else:
        base = Path(os.environ.get("XDG_CONFIG_HOME", Path.home() / ".config"))
        path = base / "systemd" / "user" / UNIT_NAME
        text = unit_text(home)
        enable = "systemctl --user daemon-reload && systemctl --user enable --now coven-trio"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path, enable
