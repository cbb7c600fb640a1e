"""The dashboard in a real browser (Chromium, driven by Playwright): the printed URL,
a live session, a tool approval from the real Claude Code CLI, a PTY terminal, kill,
launch, and the observe-only view. Screenshots of each view (docs/web-*.png)."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from coven_trio.client._wire import request
from coven_trio.daemon import Daemon
from coven_trio.http import Request, Response
from coven_trio.web import WebManager

from ..realcli.fake_models import FakeAnthropic, Reply
from .browser import Problems, in_browser, printed_url, screenshot_path

pytestmark = [pytest.mark.slow, pytest.mark.timeout(120)]


def _launch(daemon: Daemon, **body: Any) -> str:
    record = request(daemon.socket_path, "POST", "/api/v1/sessions", body)
    sid: str = record["id"]
    return sid


def _status(daemon: Daemon, sid: str) -> str:
    status: str = request(daemon.socket_path, "GET", f"/api/v1/sessions/{sid}")["status"]
    return status


async def test_the_printed_url_shows_a_running_session_live(
    daemon: Daemon,
    manager: WebManager,
    fakes_on_path: Path,
    tmp_short: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    gate = tmp_short / "gate"
    monkeypatch.setenv("FAKE_HARNESS_MODE", "gate")
    monkeypatch.setenv("FAKE_GATE", str(gate))

    def scenario(page: Any, problems: Problems) -> None:
        url = printed_url(daemon.socket_path)
        assert re.fullmatch(r"http://127\.0\.0\.1:\d+/#token=cvw_[\w-]{43}", url)
        _launch(
            daemon,
            projectRoot=str(tmp_short),
            harness="command",
            command=["true"],
            title="a finished command",
        )
        sid = _launch(
            daemon,
            projectRoot=str(tmp_short),
            harness="claude",
            prompt="summarise the **plan**",
            launchMode="stream",
        )
        page.goto(url)
        assert "#token" not in page.url  # the token leaves the address bar at once
        row = page.locator(f'[data-session="{sid}"]')
        row.locator(".status-running").wait_for()
        newest = page.locator(".session-row").first.get_attribute("data-session")
        assert newest == sid  # newest first
        page.screenshot(path=screenshot_path(tmp_short, "sessions"))
        page.select_option("#f-status", "completed")
        row.wait_for(state="detached")
        page.select_option("#f-status", "all")
        row.locator("a.title").click()
        streaming = page.locator(".msg.assistant .streaming")
        streaming.wait_for()
        assert "Echo: summarise" in streaming.inner_text()  # streamed, the turn still running
        assert page.locator(".head .badge").inner_text() == "running"
        gate.touch()  # the turn may end now
        page.locator(".msg.assistant strong", has_text="plan").wait_for()  # Markdown, whole
        page.locator(".head .badge", has_text="idle").wait_for()
        page.locator(".cost", has_text="session $0.0010").wait_for()
        page.fill("#composer", "and the **next** step")
        page.keyboard.press("Control+Enter")
        page.locator(".msg.assistant", has_text="Echo: and the").wait_for()
        assert page.locator(".msg.user").count() == 2
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=screenshot_path(tmp_short, "conversation"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 780})
        page.goto(url.split("#")[0] + "#/")
        row.wait_for()
        assert page.evaluate("document.documentElement.scrollWidth") <= 390  # no sideways scroll
        page.screenshot(path=screenshot_path(tmp_short, "phone"))

    await in_browser(scenario)


@pytest.mark.realcli
async def test_a_tool_approval_from_claude_is_answered_in_the_page(
    real: Daemon,
    manager: WebManager,
    anthropic: FakeAnthropic,
    project: Path,
    tmp_short: Path,
) -> None:
    command = f"touch {project / 'approved.txt'}"
    tool = {"type": "tool_use", "name": "Bash", "input": {"command": command}}
    anthropic.replies.extend(
        [Reply([tool]), Reply([{"type": "text", "text": "The file is **made**."}])]
    )

    def scenario(page: Any, problems: Problems) -> None:
        url = printed_url(real.socket_path)
        sid = _launch(
            real,
            projectRoot=str(project),
            harness="claude",
            prompt="make the file",
            launchMode="stream",
            permissionMode="ask",
            title="make approved.txt",
        )
        page.goto(url)
        page.locator(f'[data-session="{sid}"] a.title').click()
        approval = page.locator(".approval")
        approval.locator("pre", has_text="approved.txt").wait_for(timeout=60_000)
        assert "Approve tool call: Bash" in approval.inner_text()
        assert not (project / "approved.txt").exists()
        page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=screenshot_path(tmp_short, "approval"), full_page=True)
        approval.get_by_role("button", name="Yes").click()
        page.locator(".tool.completed").wait_for(timeout=60_000)
        page.locator(".msg.assistant strong", has_text="made").wait_for(timeout=60_000)
        assert "Resolved: approved" in approval.inner_text()

    await in_browser(scenario)
    assert (project / "approved.txt").exists()  # the tool ran because the page said yes


async def test_typing_into_a_pty_session_then_killing_it(
    daemon: Daemon, manager: WebManager, tmp_short: Path
) -> None:
    script = "printf 'ready\\n'; while read -r line; do echo \"you typed: $line\"; done"

    def scenario(page: Any, problems: Problems) -> None:
        url = printed_url(daemon.socket_path)
        sid = _launch(
            daemon,
            projectRoot=str(tmp_short),
            harness="command",
            command=["bash", "--norc", "--noprofile", "-c", script],
            launchMode="interactive",
            title="a terminal",
        )
        page.goto(url)
        page.locator(f'[data-session="{sid}"] a.title').click()
        rows = page.locator("#terminal .xterm-rows")
        rows.get_by_text("ready").wait_for()
        page.locator("#terminal").click()
        page.keyboard.type("hello pty")
        page.keyboard.press("Enter")
        rows.get_by_text("you typed: hello pty").wait_for()
        page.screenshot(path=screenshot_path(tmp_short, "terminal"))
        kill = page.locator("#kill")
        kill.click()
        kill.get_by_text("Really kill?").wait_for()
        kill.click()
        page.locator(".head .badge", has_text="killed").wait_for()
        rows.get_by_text("[session").wait_for()
        assert page.locator("#kill").count() == 0
        assert _status(daemon, sid) == "killed"

    await in_browser(scenario)


async def test_observe_only_sees_the_terminal_but_no_controls(
    daemon: Daemon, manager: WebManager, tmp_short: Path
) -> None:
    def scenario(page: Any, problems: Problems) -> None:
        url = printed_url(daemon.socket_path, observe_only=True)
        sid = _launch(
            daemon,
            projectRoot=str(tmp_short),
            harness="command",
            command=["bash", "-c", "echo watched-$((6*7)); sleep 60"],
            launchMode="interactive",
        )
        page.goto(url)
        page.locator("#scope", has_text="observe only").wait_for()
        assert not page.locator("#nav-new").is_visible()
        page.locator(f'[data-session="{sid}"] a.title').click()
        page.locator("#terminal .xterm-rows").get_by_text("watched-42").wait_for()
        assert page.locator("#kill").count() == 0 and page.locator("#composer").count() == 0
        kill = "id => fetch(`/api/v1/sessions/${id}/kill`, {method: 'POST'}).then(r => r.status)"
        status = page.evaluate(kill, sid)
        assert status == 403
        assert _status(daemon, sid) == "running"
        request(daemon.socket_path, "POST", f"/api/v1/sessions/{sid}/kill")

    await in_browser(scenario)


async def test_the_launch_form_is_labelled_and_launches(
    daemon: Daemon, manager: WebManager, tmp_short: Path
) -> None:
    def scenario(page: Any, problems: Problems) -> None:
        page.goto(printed_url(daemon.socket_path))
        page.get_by_role("link", name="New session").click()
        unlabelled = page.evaluate(
            """[...document.querySelectorAll('main input, main select, main textarea')]
               .filter(el => !el.labels.length && !el.getAttribute('aria-label'))
               .map(el => el.id)"""
        )
        assert unlabelled == []
        page.get_by_label("Project folder").fill(str(tmp_short))
        page.get_by_label("Harness", exact=True).select_option("command")
        page.get_by_label("Command (for the command harness)").fill(
            "bash -c 'echo launched-ok; sleep 30'"
        )
        page.get_by_label("Mode", exact=True).select_option("interactive")
        page.get_by_label("Title (optional)").focus()
        page.keyboard.type("from the form")
        page.keyboard.press("Enter")  # the keyboard alone submits
        page.locator("h1", has_text="from the form").wait_for()
        page.locator("#terminal .xterm-rows").get_by_text("launched-ok").wait_for()
        sid = page.url.rsplit("/", 1)[1]
        request(daemon.socket_path, "POST", f"/api/v1/sessions/{sid}/kill")

    await in_browser(scenario)


async def test_the_inbox_answers_what_needs_you(
    daemon: Daemon,
    manager: WebManager,
    fakes_on_path: Path,
    tmp_short: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``GET /api/v1/inbox`` is not the daemon's yet: a stand-in serves its documented
    shape from the session's journal, and the page's answer goes through ``/respond``'s
    fallback (the option as input), as it will until that route exists."""
    monkeypatch.setenv("FAKE_HARNESS_MODE", "permission")
    assert daemon.router is not None

    async def inbox(request: Request) -> Response:
        items = []
        for record in await daemon.sessions.page(None, 100):
            data, _ = daemon.journal(record["id"]).read_lines(0)
            lines = [json.loads(line) for line in data.splitlines()]
            asked = [x for x in lines if x["type"] == "input.requested"]
            if asked and not any(x["type"] == "input.resolved" for x in lines):
                for pending in asked[-1]["data"]["requests"]:
                    items.append(
                        {
                            "sessionId": record["id"],
                            "requestId": pending["requestId"],
                            "kind": pending["kind"],
                            "title": record["title"],
                            "prompt": pending["prompt"],
                            "detail": pending["action"]["input"]["command"],
                            "options": pending["options"],
                        }
                    )
        return Response.json({"items": items})

    daemon.router.add("GET", "/api/v1/inbox", inbox)

    def scenario(page: Any, problems: Problems) -> None:
        url = printed_url(daemon.socket_path)
        sid = _launch(
            daemon,
            projectRoot=str(tmp_short),
            harness="claude",
            prompt="list the files",
            launchMode="stream",
            permissionMode="ask",
        )
        page.goto(url)
        needs = page.locator(".inbox")
        needs.get_by_text("Needs you (1)").wait_for()
        assert "Approve tool call: Bash" in needs.inner_text()
        needs.get_by_role("button", name="Yes").click()
        needs.wait_for(state="hidden")
        page.locator(f'[data-session="{sid}"] a.title').click()
        page.locator(".msg.assistant", has_text="(allowed)").wait_for()

    await in_browser(scenario)
