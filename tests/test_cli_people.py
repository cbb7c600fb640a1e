"""The command line as a person uses it, in a real pseudo-terminal (pexpect): the daemon
in the background, ``run`` and the chat, attach and detach, ``doctor``.

Each test starts its own background daemon with ``coven-trio daemon start`` (the fake
CLIs on PATH, the test's harness mode in its environment) and stops it with ``daemon
stop``, checking that no process is left.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pexpect
import pytest

from .conftest import FAKES

pytestmark = [pytest.mark.slow, pytest.mark.timeout(90)]


class Person:
    """A terminal user with a home of their own and the fakes on PATH."""

    def __init__(self, root: Path, mode: str) -> None:
        self.home = root / "h"
        self.project = root / "proj"
        self.project.mkdir()
        self.env = {
            **os.environ,
            "PATH": f"{FAKES}{os.pathsep}{os.environ['PATH']}",
            "COVEN_HOME": str(self.home),
            "FAKE_HARNESS_MODE": mode,
            "FAKE_DELAY": "0.3",
            "TERM": "xterm",
            "COLUMNS": "100",
            "LINES": "30",
        }

    def cli(self, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "coven_trio", *args],
            env=self.env,
            cwd=self.project,
            capture_output=True,
            text=True,
            timeout=60,
        )
        if check:
            assert done.returncode == 0, done.stderr
        return done

    def spawn(self, *args: str) -> pexpect.spawn:
        child = pexpect.spawn(
            sys.executable,
            ["-m", "coven_trio", *args],
            env=self.env,
            cwd=str(self.project),
            encoding="utf-8",
            timeout=20,
            dimensions=(30, 100),
        )
        return child

    def daemon_pid(self) -> int:
        pid: int = json.loads(self.home.joinpath("daemon.json").read_text())["pid"]
        return pid


def running_with(text: str) -> list[int]:
    """Processes whose command line mentions ``text`` (the home: its daemon, its CLIs)."""
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit() and int(entry.name) != os.getpid():
            try:
                if text.encode() in (entry / "cmdline").read_bytes():
                    found.append(int(entry.name))
            except OSError:
                pass
    return found


@pytest.fixture
def person(request: pytest.FixtureRequest) -> Iterator[Person]:
    mode = getattr(request, "param", "normal")
    root = Path(tempfile.mkdtemp(prefix="cvp", dir="/tmp"))
    person = Person(root, mode)
    started = json.loads(person.cli("daemon", "start", "--json").stdout)
    assert started["started"] and started["pid"]
    try:
        yield person
    finally:
        stopped = json.loads(person.cli("daemon", "stop", "--json").stdout)
        assert stopped["stopped"] == started["pid"]
        with pytest.raises(ProcessLookupError):
            os.kill(started["pid"], 0)
        assert running_with(str(person.home)) == []


def test_daemon_start_status_stop(person: Person) -> None:
    status = json.loads(person.cli("daemon", "status", "--json").stdout)
    assert status["running"] and status["pid"] == person.daemon_pid()
    again = json.loads(person.cli("daemon", "start", "--json").stdout)
    assert (again["started"], again["pid"]) == (False, status["pid"])  # not a second one
    assert (person.home / "daemon.log").exists()


def test_run_chats_through_two_turns(person: Person) -> None:
    chat = person.spawn("run", "claude", "hello there")
    chat.expect("Echo: hello there")
    chat.expect("> ")
    chat.sendline("and again")
    chat.expect("Echo: and again")
    chat.expect("> ")
    chat.sendeof()
    chat.expect("detached; the session goes on")
    chat.expect(pexpect.EOF)
    sessions = json.loads(person.cli("sessions", "--json").stdout)
    assert [(s["harness"], s["status"]) for s in sessions] == [("claude", "idle")]
    table = person.cli("sessions").stdout
    assert sessions[0]["id"] in table and "hello there" in table
    transcript = person.cli("sessions", "log", sessions[0]["id"]).stdout
    assert "> and again" in transcript and "Echo: and again" in transcript


@pytest.mark.parametrize("person", ["permission"], indirect=True)
def test_a_permission_prompt_is_answered_inline(person: Person) -> None:
    chat = person.spawn("run", "claude", "--permission-mode", "ask", "list files")
    chat.expect("Approve tool call: Bash")
    chat.expect("1. Yes")
    chat.expect("choose > ")
    chat.sendline("1")
    chat.expect(r"Echo: list files \(allowed\)")
    chat.expect("> ")
    chat.sendeof()
    chat.expect(pexpect.EOF)


@pytest.mark.parametrize("person", ["slow"], indirect=True)
def test_ctrl_c_cancels_the_turn_not_the_session(person: Person) -> None:
    chat = person.spawn("run", "claude", "a long answer please")
    chat.expect("Echo")
    chat.sendcontrol("c")
    chat.expect("turn cancelled")
    chat.expect("> ")
    chat.sendeof()
    chat.expect(pexpect.EOF)
    [session] = json.loads(person.cli("sessions", "--json").stdout)
    assert session["status"] == "idle"


def test_attach_types_resizes_detaches_and_replays(person: Person) -> None:
    script = (
        'while true; do read -r l && { if [ "$l" = size ]; then stty size; '
        'else echo "got $l"; fi; }; done'
    )
    terminal = person.spawn("run", "command", "--mode", "interactive", "--", "bash", "-c", script)
    terminal.expect("detach: Ctrl-]")
    terminal.send("hello\r")
    terminal.expect("got hello")
    terminal.send("size\r")
    terminal.expect("30 100")  # the window size, sent on attach
    terminal.setwinsize(40, 120)  # SIGWINCH here: the session's PTY follows
    for _ in range(200):  # until the resize has gone through (each answer is awaited)
        terminal.send("size\r")
        if terminal.expect(["40 120", "30 100"]) == 0:
            break
    else:
        raise AssertionError("the session's terminal never took the new size")
    terminal.send("\x1d")
    terminal.expect("detached; the session goes on")
    terminal.expect(pexpect.EOF)
    [session] = json.loads(person.cli("sessions", "--json", "--live").stdout)
    again = person.spawn("attach", session["id"])
    again.expect("got hello")  # the replay
    again.send("more\r")
    again.expect("got more")
    again.send("\x1d")
    again.expect(pexpect.EOF)
    person.cli("kill", session["id"])


def test_run_detach_prints_the_id(person: Person) -> None:
    done = person.cli("run", "--detach", "codex", "fix it")
    session_id = done.stdout.strip()
    assert session_id.startswith("ses_")
    deadline = time.monotonic() + 10
    while (
        json.loads(person.cli("sessions", "show", session_id, "--json").stdout)["session"]["status"]
        != "idle"
    ):
        assert time.monotonic() < deadline
        time.sleep(0.1)
    shown = person.cli("sessions", "show", session_id).stdout
    assert "codex" in shown and "message.appended" in shown


def test_doctor_reports_a_broken_home_with_the_fix(tmp_path: Path) -> None:
    root = Path(tempfile.mkdtemp(prefix="cvd", dir="/tmp"))
    person = Person(root, "normal")
    person.home.mkdir(mode=0o700)
    person.home.chmod(0o777)
    done = person.cli("doctor", check=False)
    assert done.returncode == 1
    assert f"fix: chmod 700 {person.home}" in done.stdout
    report = json.loads(person.cli("doctor", "--json", check=False).stdout)
    assert report["ok"] is False
    person.home.chmod(0o700)
    healthy = person.cli("doctor", "--json", check=False)
    checks = {c["name"]: c for c in json.loads(healthy.stdout)["checks"]}
    assert checks["home"]["ok"] and checks["claude"]["ok"]  # the fake, on PATH
    assert healthy.returncode == 0
