"""Chromium from the distribution, driven by Playwright for Python.

Playwright's own browser download is not used (and not reachable here): the tests point
it at ``/usr/bin/chromium`` (Debian's ``chromium`` package, which ``.ci/run`` installs).
Playwright's sync API runs in a worker thread of its own, while the daemon under test
goes on in the test's trio loop; the scenario talks to the daemon through the page and,
for setup, through the blocking Unix-socket client (``_wire.request``).
"""

from __future__ import annotations

import io
import os
import shutil
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio

from coven_trio.cli._web import web as web_command

T = TypeVar("T")
CHROMIUM = os.environ.get("COVEN_TEST_CHROMIUM", "/usr/bin/chromium")
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
DOCS = Path(__file__).parent.parent.parent / "docs"
#: Where screenshots go: a temporary folder, or docs/ when this is set (to refresh the
#: README's pictures: ``COVEN_WEB_SCREENSHOTS=1 pytest -m slow tests/web``).
SCREENSHOTS_ENV = "COVEN_WEB_SCREENSHOTS"


def need_browser() -> None:
    """Skip (with the reason) when there is no browser to drive, unless CI is set."""
    problem = None
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problem = "playwright is not installed (pip install -e '.[test]')"
    if problem is None and not (os.path.exists(CHROMIUM) or shutil.which(CHROMIUM)):
        problem = f"no Chromium at {CHROMIUM} (apt-get install chromium)"
    if problem is not None:
        if os.environ.get("CI"):
            pytest.fail(problem)
        pytest.skip(problem)


def screenshot_path(tmp: Path, name: str) -> Path:
    folder = DOCS if os.environ.get(SCREENSHOTS_ENV) else tmp
    return folder / f"web-{name}.png"


def printed_url(socket_path: Path, **options: Any) -> str:
    """What ``coven-trio web`` prints: the URL with the token."""
    out = io.StringIO()
    assert web_command(socket_path, open_browser=False, out=out, **options) == 0
    [line] = [x for x in out.getvalue().splitlines() if x.startswith("coven-trio dashboard:")]
    return line.split(": ", 1)[1]


class Problems(list[str]):
    """What the page said went wrong: uncaught errors and CSP violations."""


async def in_browser(scenario: Callable[[Any, Problems], T], *, width: int = 1100) -> T:
    """Run ``scenario(page, problems)`` in a fresh Chromium; fails on any page error or
    Content-Security-Policy violation."""
    need_browser()

    def run() -> T:
        from playwright.sync_api import sync_playwright

        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(executable_path=CHROMIUM, args=ARGS)
            try:
                page = browser.new_page(viewport={"width": width, "height": 820})
                page.set_default_timeout(20_000)
                problems = Problems()

                def console(message: Any) -> None:
                    if "Content Security Policy" in message.text:
                        problems.append(message.text)

                page.on("console", console)
                page.on("pageerror", lambda error: problems.append(f"page error: {error}"))
                result = scenario(page, problems)
                assert list(problems) == []
                return result
            finally:
                browser.close()

    return await trio.to_thread.run_sync(run)
