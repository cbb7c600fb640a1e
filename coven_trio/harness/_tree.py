"""Everything a harness starts, found and stopped — even what left its process group.

A process group is not a fence: a descendant that calls ``setsid`` (or daemonizes, as
Codex's ``app-server`` does) leaves it, and a group signal no longer reaches it. So:

* every harness runs with ``COVEN_SESSION_ID=<session id>`` in its environment, which its
  descendants inherit wherever they move; :func:`kill_marked` finds every process of
  ours that carries a session's marker (``/proc/*/environ``) and SIGKILLs it;
* the daemon makes itself a child subreaper (``PR_SET_CHILD_SUBREAPER``), so an escaped
  descendant whose parent dies becomes the daemon's child instead of init's; the
  :class:`Reaper` reaps every such child trio is not waiting for (what is left of a
  harness's process group, marked escapees, and — in ``coven-trio serve`` — any other).

Linux only (``/proc``, ``prctl``); elsewhere these are no-ops and the process group is
all there is.
"""

from __future__ import annotations

import contextlib
import ctypes
import logging
import os
import signal
import sys
from collections.abc import Iterator
from pathlib import Path

import trio

log = logging.getLogger("coven_trio.harness")

MARKER = "COVEN_SESSION_ID"
_PR_SET_CHILD_SUBREAPER = 36
_PROC = Path("/proc")
#: How often the reaper looks for zombie children.
REAP_INTERVAL = 1.0


def become_subreaper(on: bool = True) -> bool:
    """Adopt orphaned descendants (Linux), or stop; True if the call took effect."""
    if not sys.platform.startswith("linux"):
        return False
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(_PR_SET_CHILD_SUBREAPER, int(on), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def marker_env(session_id: str) -> dict[str, str]:
    """The environment a session's processes start with: ours, plus the marker."""
    return {**os.environ, MARKER: session_id}


def _environ_has(pid: int, needle: bytes) -> bool:
    try:
        return needle in (_PROC / str(pid) / "environ").read_bytes()
    except OSError:  # gone, a zombie, or not ours to read
        return False


def _our_pids() -> list[int]:
    uid, me = os.geteuid(), os.getpid()
    pids = []
    with contextlib.suppress(OSError):
        for entry in os.scandir(_PROC):
            if entry.name.isdigit() and int(entry.name) != me:
                with contextlib.suppress(OSError):
                    if entry.stat().st_uid == uid:
                        pids.append(int(entry.name))
    return pids


def marked(session_id: str) -> list[int]:
    """Live processes of ours that carry ``session_id``'s marker."""
    needle = f"{MARKER}={session_id}\0".encode()
    return [pid for pid in _our_pids() if _environ_has(pid, needle)]


def kill_marked(session_id: str) -> list[int]:
    """SIGKILL every process carrying ``session_id``'s marker; returns their pids."""
    pids = marked(session_id)
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGKILL)
    if pids:
        log.info("session %s: killed %d escaped process(es): %s", session_id, len(pids), pids)
    REAPER.adopt(pids)
    return pids


def _alive(pid: int) -> bool:
    """Running (not a zombie, not gone)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] not in "ZX"


async def stop_marked(session_id: str, timeout: float = 1.0) -> None:
    """SIGKILL every process of the session and wait (up to ``timeout``, even while
    cancelled) until none runs: once this returns, the session has no process left."""
    pids = kill_marked(session_id)
    with trio.CancelScope(shield=True), trio.move_on_after(timeout):
        while any(_alive(pid) for pid in pids):
            await trio.sleep(0.01)


def identity(pid: int) -> dict[str, int] | None:
    """What names a process for good: pid, process group and start time (clock ticks
    since boot), so a pid the kernel reused is never mistaken for it."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    fields = stat[stat.rindex(")") + 2 :].split()
    return {"pid": pid, "pgid": int(fields[2]), "start": int(fields[19])}


def is_same(process: dict[str, int]) -> bool:
    """The recorded process still runs (same pid *and* start time)."""
    now = identity(int(process.get("pid", 0)))
    return now is not None and now["start"] == process.get("start") and _alive(now["pid"])


async def stop_leftovers(
    session_id: str, processes: list[dict[str, int]], grace: float
) -> list[str]:
    """Stop what a previous daemon left of a session: its recorded harness processes
    (only if pid *and* start time still match: a reused pid is never hit) with their
    groups, and every process carrying the session's marker. SIGTERM, ``grace``, then
    SIGKILL. Returns a line for each process that could not be stopped."""
    problems: list[str] = []
    targets = [p for p in processes if is_same(p)]
    pids = {int(p["pid"]) for p in targets} | set(marked(session_id))
    for process in targets:
        with contextlib.suppress(ProcessLookupError):
            try:
                os.killpg(int(process["pgid"]), signal.SIGTERM)
            except PermissionError:
                problems.append(f"pid {process['pid']}: not ours to signal")
    for pid in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(pid, signal.SIGTERM)
    with trio.move_on_after(grace):
        while any(_alive(pid) for pid in pids):
            await trio.sleep(0.05)
    for process in targets:
        if is_same(process):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(int(process["pgid"]), signal.SIGKILL)
    for pid in pids:
        if _alive(pid):
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            except PermissionError:
                problems.append(f"pid {pid}: not ours to signal")
    REAPER.adopt(sorted(pids))
    return problems


def _children() -> list[int]:
    """Our direct children (``/proc/self/task/*/children``)."""
    found: list[int] = []
    with contextlib.suppress(OSError):
        for task in (_PROC / "self" / "task").iterdir():
            with contextlib.suppress(OSError):
                found += [int(p) for p in (task / "children").read_text().split()]
    return found


def _zombie(pid: int) -> bool:
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return False
    return stat[stat.rindex(")") + 2] == "Z"


def _group_exists(pgid: int) -> bool:
    """Some process (a zombie included) is still in process group ``pgid``."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _wait(pid: int) -> int:
    """``waitpid(pid, WNOHANG)``: the pid reaped, 0 if none was ready, -1 if there is
    no such child (any more)."""
    try:
        return os.waitpid(pid, os.WNOHANG)[0]
    except ChildProcessError:
        return -1


class Reaper:
    """Reaps the children of the daemon that trio is not waiting for, once they exit.

    As a child subreaper the daemon inherits every harness descendant whose parent dies
    first (a killed ``codex`` leaves its native binary: a node wrapper's child). trio
    waits only for the harness roots it started (:attr:`managed`); everything else is
    reaped here, recognised in one of three ways:

    * by **process group**: every harness root starts a group of its own, and its
      descendants stay in it unless they leave; once a root is reaped,
      :meth:`settle` reaps what is left of its group (``waitpid(-pgid)``), and the
      background scan retries groups that were not gone yet. A group number cannot be
      reused while any process (a zombie included) is in the group, so this never
      touches anyone else's child;
    * by **marker**: a descendant that left the group (``setsid``) and was seen alive
      with a session's marker, or was killed by :func:`kill_marked`;
    * as a **stranger** (only when :attr:`strangers` is set: the daemon is its own
      process, ``coven-trio serve``): any zombie child that is not a harness root. A
      program that embeds the daemon keeps its own children, so it is off there.
      Children forked while a spawn is in flight are not registered yet: a stranger is
      reaped only by a scan during which no spawn started or ran.
    """

    def __init__(self) -> None:
        #: Harness roots: trio waits for these, so the reaper never may.
        self.managed: set[int] = set()
        #: Process groups of exited harness roots whose members may still need reaping.
        self.groups: set[int] = set()
        #: The daemon is a subreaper: orphaned descendants become its children.
        self.active = False
        #: Reap every zombie child that is not a harness root.
        self.strangers = False
        #: Children known to belong to a session (seen with a marker, or killed by us).
        self._adopted: set[int] = set()
        self._candidates: set[int] = set()
        self._spawns = 0  # spawns started so far
        self._spawning = 0  # spawns in flight

    @contextlib.contextmanager
    def spawning(self) -> Iterator[None]:
        """Around a harness spawn (on the event loop): while it runs, the scan leaves
        unknown children alone (the new child is not registered yet)."""
        self._spawns += 1
        self._spawning += 1
        try:
            yield
        finally:
            self._spawning -= 1

    def started(self, pid: int) -> None:
        """A harness root was spawned (in its own group): trio waits for it."""
        self.managed.add(pid)

    def exited(self, pid: int) -> None:
        """trio reaped harness root ``pid``: what is left of its group is ours to reap."""
        self.managed.discard(pid)
        if self.active:
            self.groups.add(pid)

    def adopt(self, pids: list[int]) -> None:
        self._adopted.update(p for p in pids if p not in self.managed)

    def reap_group(self, pgid: int) -> bool:
        """Reap what has exited of group ``pgid``; True once the group is gone."""
        while _wait(-pgid) > 0:
            pass
        if _group_exists(pgid):
            return False
        self.groups.discard(pgid)
        return True

    async def settle(self, pgid: int, timeout: float = 1.0) -> None:
        """A harness root was reaped and its group SIGKILLed: reap its members as they
        die (up to ``timeout``, even while cancelled); the background scan takes over
        any that outlast it."""
        if not self.active:
            return
        with trio.CancelScope(shield=True), trio.move_on_after(timeout):
            while not self.reap_group(pgid):
                await trio.sleep(0.01)

    def reap_once(self) -> int:
        """One scan: reap what has exited of known groups, marked descendants and (with
        :attr:`strangers`) every other child; returns how many were reaped."""
        spawns, quiet = self._spawns, not self._spawning
        reaped = 0
        for pgid in list(self.groups):
            if pgid not in self.managed:
                while (pid := _wait(-pgid)) > 0:
                    reaped += 1
                if pid < 0 and not _group_exists(pgid):
                    self.groups.discard(pgid)
        children = set(_children())
        managed = set(self.managed)
        unknown = children - managed - self._adopted
        self._adopted |= unknown & self._candidates
        self._candidates = {
            pid for pid in unknown - self._adopted if _environ_has(pid, f"{MARKER}=".encode())
        }
        for pid in list(self._adopted):
            if pid in managed:
                self._adopted.discard(pid)
                continue
            done = _wait(pid)
            if done < 0 and pid not in children:
                self._adopted.discard(pid)
            elif done > 0:
                self._adopted.discard(pid)
                reaped += 1
        if self.strangers and quiet:
            zombies = [pid for pid in unknown - self._adopted if _zombie(pid)]
            if self._spawns == spawns and not self._spawning:
                for pid in zombies:
                    if pid not in self.managed and _wait(pid) > 0:
                        reaped += 1
        return reaped

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Reap in the background (the daemon's nursery) until cancelled."""
        task_status.started()
        while True:
            await trio.sleep(REAP_INTERVAL)
            await trio.to_thread.run_sync(self.reap_once)

    async def drain(self, timeout: float = 1.0) -> None:
        """Reap what was killed last (for up to ``timeout``), so a stopping daemon leaves
        no zombie behind; runs even while being cancelled."""
        with trio.CancelScope(shield=True), trio.move_on_after(timeout):
            while self._adopted or self.groups:
                self.reap_once()
                await trio.sleep(0.02)


#: One per process, as subreaping is.
REAPER = Reaper()
