"""Helpers of the fleet tests: a daemon in this process with its fleet task beside it
(as the daemon will start it), and reading a subject's raw messages back."""

from __future__ import annotations

import argparse
import io
import os
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import trio

import coven_trio
from coven_trio.daemon import Daemon
from coven_trio.fleet import FleetSettings, load_settings
from coven_trio.fleet._health import FleetHealth
from coven_trio.fleet._link import FleetLink
from coven_trio.fleet._subjects import index_of

from ..conftest import FAST
from .nats_cluster import PASSWORD, NatsCluster


def write_fleet(home: Path, cluster: NatsCluster, host: str, **extra: Any) -> Path:
    """``<home>/fleet.toml`` for ``host`` (its own user and password)."""
    home.mkdir(parents=True, exist_ok=True, mode=0o700)
    values: dict[str, Any] = {
        "servers": cluster.urls,
        "host": host,
        "user": extra.pop("user", host),
        "password": extra.pop("password", PASSWORD.format(user=host)),
        **extra,
    }
    lines = []
    for key, value in values.items():
        if value is None:  # another way to log in
            continue
        if isinstance(value, list):
            lines.append(f"{key} = [{', '.join(repr(v) for v in value)}]".replace("'", '"'))
        elif isinstance(value, bool):
            lines.append(f"{key} = {'true' if value else 'false'}")
        elif isinstance(value, int | float):
            lines.append(f"{key} = {value}")
        else:
            lines.append(f'{key} = "{value}"')
    path = home / "fleet.toml"
    path.write_text("\n".join(lines) + "\n")
    os.chmod(path, 0o600)
    return path


def settings_of(home: Path) -> FleetSettings:
    settings = load_settings(home)
    assert settings is not None
    return settings


@asynccontextmanager
async def fleet_daemon(home: Path, **options: Any) -> AsyncIterator[tuple[Daemon, FleetHealth]]:
    """A daemon of ``home`` (its ``fleet.toml`` written): the daemon starts the fleet."""
    async with coven_trio.open_daemon(home=home, **{**FAST, **options}) as daemon:
        assert daemon.fleet is not None, "fleet.toml was there: the fleet runs"
        yield daemon, daemon.fleet


@asynccontextmanager
async def http(daemon: Daemon) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.AsyncHTTPTransport(uds=str(daemon.socket_path))
    async with httpx.AsyncClient(transport=transport, base_url="http://coven", timeout=30) as c:
        yield c


async def until(check: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Wait for a condition the code under test will make true (checked every 20 ms)."""
    with trio.fail_after(timeout):
        while not check():
            await trio.sleep(0.02)


async def launch_command(client: httpx.AsyncClient, root: Path, argv: list[str]) -> str:
    """Launch a ``command`` session over the socket API; its id."""
    body = {"projectRoot": str(root), "harness": "command", "command": argv}
    response = await client.post("/api/v1/sessions", json=body)
    assert response.status_code == 201, response.text
    return str(response.json()["id"])


async def replay(client: httpx.AsyncClient, session_id: str, after: int = 0) -> bytes:
    """The session's whole journal as ``/api/v1/events?follow=1`` sends it: returns once
    the session has ended (the follow stream closes then)."""
    params = {"sessionId": session_id, "follow": "1", "afterSeq": str(after)}
    async with client.stream("GET", "/api/v1/events", params=params, timeout=60) as answer:
        assert answer.status_code == 200
        return b"".join([chunk async for chunk in answer.aiter_bytes()])


async def exported(
    health: FleetHealth, link: FleetLink, subject: str, count: int, timeout: float = 60.0
) -> None:
    """Until the stream holds entry ``count - 1`` of ``subject`` and the exporter has no
    backlog (so every entry before it was sent too)."""
    with trio.fail_after(timeout):
        while True:
            try:
                last = await link.last_of(subject)
            except Exception:  # no stream leader yet (just made, or its node died)
                await trio.sleep(0.05)
                continue
            done = last is not None and index_of(last[1] or "") == count - 1
            if done and health.export.backlog_entries == 0:
                return
            await trio.sleep(0.05)


async def raw_indexes(link: FleetLink, subject: str) -> list[int]:
    """Every message of ``subject`` in stream order, as entry indexes (duplicates kept)."""
    last = await link.last_of(subject)
    if last is None:
        return []
    sub = await link.open_tail(subject)
    found: list[int] = []
    try:
        while True:
            batch = await link.next_messages(sub, 512, 5.0)
            assert batch, "the subject stopped before its last message"
            for _, message_id, pending in batch:
                index = index_of(message_id or "")
                assert index is not None
                found.append(index)
                if pending == 0:
                    return found
    finally:
        await link.unsubscribe(sub)


def args(home: Path, **values: Any) -> argparse.Namespace:
    """Parsed arguments of a fleet command."""
    base: dict[str, Any] = {"home": home, "json": False, "fleet_config": None}
    return argparse.Namespace(**{**base, **values})


class Out(io.BytesIO):
    """What a command printed."""


def print_lines(count: int) -> list[str]:
    """A command that prints ``count`` numbered lines as fast as it can."""
    return ["python3", "-c", f"import sys\nfor i in range({count}): print('line', i)"]


def slow_lines(count: int, every: float) -> list[str]:
    """A command that prints ``count`` lines, one every ``every`` seconds."""
    script = (
        "import sys, time\n"
        f"for i in range({count}):\n"
        "    print('line', i, flush=True)\n"
        f"    time.sleep({every})\n"
    )
    return ["python3", "-c", script]
