"""Shared fixtures: short homes (sun_path is ~108 bytes), a real in-process daemon, and
an httpx client over its Unix socket."""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest

import coven_trio
from coven_trio.daemon import Daemon

from . import npm_pins as pins

FAKES = Path(__file__).parent / "fakes"

#: Small graces and timeouts so stop paths run in a fraction of a second.
FAST = {
    "stdin_grace": 0.5,
    "term_grace": 0.5,
    "shutdown_grace": 5.0,
    "linger_timeout": 0.5,
}


@pytest.fixture
def tmp_short() -> Iterator[Path]:
    """A short temporary folder under /tmp (our socket paths must fit in sun_path)."""
    path = Path(tempfile.mkdtemp(prefix="cv", dir="/tmp"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def home(tmp_short: Path) -> Path:
    return tmp_short / "home"


@pytest.fixture
def project(tmp_short: Path) -> Path:
    """A project folder for sessions to run in (a module may give it content)."""
    root = tmp_short / "proj"
    root.mkdir()
    return root


@pytest.fixture
def fakes_on_path(monkeypatch: pytest.MonkeyPatch, tmp_short: Path) -> Path:
    """Put the fake claude/codex first on PATH; their argv logs go to ``tmp_short``."""
    monkeypatch.setenv("PATH", f"{FAKES}{os.pathsep}{os.environ['PATH']}")
    log = tmp_short / "argv.log"
    monkeypatch.setenv("FAKE_ARGV_LOG", str(log))
    return log


@pytest.fixture
def daemon_options() -> dict[str, object]:
    """Override in a test module to change the daemon's Config."""
    return {}


@pytest.fixture
async def daemon(home: Path, daemon_options: dict[str, object]) -> AsyncIterator[Daemon]:
    options = {**FAST, **daemon_options}
    async with coven_trio.open_daemon(home=home, **options) as running:
        yield running


@pytest.fixture
async def client(daemon: Daemon) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(uds=str(daemon.socket_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://coven", timeout=30) as http:
        yield http


@pytest.fixture(scope="session")
def npm_pins() -> Callable[[str], Path]:
    """``npm_pins("realcli")``: that folder's pinned npm packages, installed once per
    run (tests/npm_pins.py). Without node and npm the test is skipped with the reason,
    unless ``CI`` is set: there, a missing real program fails the run."""

    def pinned(name: str) -> Path:
        try:
            return pins.ensure(name)
        except pins.Unavailable as exc:
            if os.environ.get("CI"):
                pytest.fail(str(exc))
            pytest.skip(str(exc))

    return pinned
