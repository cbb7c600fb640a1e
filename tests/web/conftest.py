"""A daemon (the shared in-process fixture) with a web listener started beside it, as
the daemon will start it: ``serve_web`` in a nursery, serving ``daemon.router``."""

from __future__ import annotations

import functools
from collections.abc import AsyncIterator

import pytest
import trio

from coven_trio.daemon import Daemon
from coven_trio.web import Scope, WebListener, WebManager, WebOptions, serve_web

from ..realcli.conftest import (  # noqa: F401  (the real CLIs' fixtures, for the browser)
    anthropic,
    openai,
    real,
    real_clis,
    real_env,
)
from .raw import Web


@pytest.fixture
def web_options() -> WebOptions:
    """Override in a test module to change the listener."""
    return WebOptions()


@pytest.fixture
async def web(daemon: Daemon, web_options: WebOptions) -> AsyncIterator[WebListener]:
    async with trio.open_nursery() as nursery:
        listener: WebListener = await nursery.start(
            functools.partial(serve_web, daemon, web_options)
        )
        yield listener
        listener.stop()


@pytest.fixture
def manager(daemon: Daemon) -> WebManager:
    """The daemon's own web manager (its routes on the Unix socket)."""
    return daemon.load_web()


@pytest.fixture
def control(web: WebListener) -> Web:
    return Web(web, token=web.state.launch.token(Scope.CONTROL))


@pytest.fixture
def observe(web: WebListener) -> Web:
    return Web(web, token=web.state.launch.token(Scope.OBSERVE))


@pytest.fixture
def anonymous(web: WebListener) -> Web:
    return Web(web)
