"""The README's first example, as a person runs it, with the real Claude Code CLI (fake
model API): ``coven-trio run claude "…"`` in a real pseudo-terminal. The agent's
file-writing tool call comes to the person at the chat: approve, and the file exists;
deny, and the model's reply says so. Then ``inbox``: two sessions' pending approvals,
each answered from there, each session released."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pexpect
import pytest

from .conftest import VERSIONS  # noqa: F401  (the pinned versions, for the reader)
from .fake_models import FakeAnthropic, Reply

pytestmark = [pytest.mark.timeout(180)]


def bash(command: str) -> dict[str, Any]:
    return {"type": "tool_use", "name": "Bash", "input": {"command": command}}


class Person:
    """Someone at a terminal with the real CLIs, a daemon of their own, a project."""

    def __init__(self, root: Path, env: dict[str, str]) -> None:
        self.home = root / "h"
        self.project = root / "proj"
        self.project.mkdir()
        self.env = {**env, "COVEN_HOME": str(self.home), "TERM": "xterm", "COLUMNS": "100"}

    def cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        done = subprocess.run(
            [sys.executable, "-m", "coven_trio", *args],
            env=self.env,
            cwd=self.project,
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert done.returncode == 0, done.stderr
        return done

    def spawn(self, *args: str) -> pexpect.spawn:
        return pexpect.spawn(
            sys.executable,
            ["-m", "coven_trio", *args],
            env=self.env,
            cwd=str(self.project),
            encoding="utf-8",
            timeout=60,
            dimensions=(30, 100),
        )


@pytest.fixture
def person(real_env: Path, anthropic: FakeAnthropic) -> Iterator[Person]:
    root = Path(tempfile.mkdtemp(prefix="cvr", dir="/tmp"))
    who = Person(root, dict(os.environ))  # real_env put the real CLIs and the fake API there
    who.cli("daemon", "start")
    try:
        yield who
    finally:
        who.cli("daemon", "stop")


@pytest.mark.parametrize("answer", ["1", "2"])  # 1. Yes  2. No
def test_run_asks_the_person_before_the_agent_writes(
    person: Person, anthropic: FakeAnthropic, answer: str
) -> None:
    anthropic.replies.append(Reply([bash("touch made.txt && echo made it")]))
    chat = person.spawn("run", "claude", "please make a file")
    chat.expect("Approve tool call: Bash")
    chat.expect("choose > ")
    chat.sendline(answer)
    if answer == "1":
        chat.expect("tool said: made it")
        assert (person.project / "made.txt").exists()
    else:
        chat.expect("tool said: .*denied")  # the model's reply says so
        assert not (person.project / "made.txt").exists()
    chat.expect("> ")
    chat.sendeof()
    chat.expect(pexpect.EOF)


def test_the_inbox_lists_what_waits_and_answers_it(
    person: Person, anthropic: FakeAnthropic
) -> None:
    anthropic.replies.extend([Reply([bash("touch one.txt")]), Reply([bash("touch two.txt")])])
    chats = []
    for prompt in ("first task", "second task"):
        chat = person.spawn("run", "claude", prompt)
        chat.expect("choose > ")
        chats.append(chat)
    listed = json.loads(person.cli("inbox", "--json").stdout)["items"]
    assert [i["tool"] for i in listed] == ["Bash", "Bash"]
    assert [i["detail"] for i in listed] == ["touch one.txt", "touch two.txt"]  # oldest first
    shown = person.cli("inbox").stdout
    assert "touch one.txt" in shown and "touch two.txt" in shown
    person.cli("inbox", "answer", "1", "yes")
    chats[0].expect("tool said")
    assert (person.project / "one.txt").exists()
    person.cli("inbox", "answer", "1", "no")  # the second is now the first
    chats[1].expect("tool said: .*denied")
    assert not (person.project / "two.txt").exists()
    assert json.loads(person.cli("inbox", "--json").stdout)["items"] == []
    for chat in chats:
        chat.expect("> ")
        chat.sendeof()
        chat.expect(pexpect.EOF)


def test_a_worktree_session_writes_in_its_worktree_and_the_diff_shows_it(
    person: Person, anthropic: FakeAnthropic
) -> None:
    (person.project / "README.md").write_text("# project\n")
    for argv in (["init", "-q", "-b", "main"], ["add", "."], ["commit", "-q", "-m", "start"]):
        subprocess.run(
            ["git", "-c", "user.name=t", "-c", "user.email=t@example.com", *argv],
            cwd=person.project,
            check=True,
        )
    anthropic.replies.append(Reply([bash("echo hello > made.txt && echo made it")]))
    chat = person.spawn("run", "--worktree", "claude", "please make a file")
    chat.expect("choose > ")
    chat.sendline("1")
    chat.expect("tool said: made it")
    chat.expect("> ")
    chat.sendeof()
    chat.expect(pexpect.EOF)
    [record] = json.loads(person.cli("sessions", "--json").stdout)
    assert record["worktree"]["branch"].startswith("coven/")
    assert (Path(record["worktree"]["path"]) / "made.txt").read_text() == "hello\n"
    assert not (person.project / "made.txt").exists()  # the project is untouched
    found = json.loads(person.cli("diff", record["id"], "--json").stdout)
    assert [f["path"] for f in found["stat"]["files"]] == ["made.txt"]
    assert "+hello" in person.cli("diff", record["id"]).stdout


def test_a_question_asked_before_anyone_attached_waits_for_the_person(
    person: Person, anthropic: FakeAnthropic
) -> None:
    anthropic.replies.append(Reply([bash("touch later.txt && echo made later")]))
    sid = person.cli("run", "--detach", "claude", "please make a file").stdout.strip()
    with_question: list[dict[str, Any]] = []
    for _ in range(600):  # until claude has asked (a fresh inbox read each time)
        with_question = json.loads(person.cli("inbox", "--json").stdout)["items"]
        if with_question:
            break
    [item] = with_question
    assert (item["sessionId"], item["attached"]) == (sid, False)  # asked, and it waits
    chat = person.spawn("attach", sid)
    chat.expect("choose > ")
    chat.sendline("1")
    chat.expect("tool said: made later")
    assert (person.project / "later.txt").exists()
    chat.expect("> ")
    chat.sendeof()
    chat.expect(pexpect.EOF)
