"""The process side of a session, without processes where none are needed."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio
import trio.testing

from coven_trio.config import Config
from coven_trio.harness._process import SpawnError, run_command
from coven_trio.harness.command import CommandDriver
from coven_trio.sessions._supervisor import LINES_PER_SLICE, Supervisor
from coven_trio.vocabulary import Entry, LaunchMode


async def test_a_flood_of_lines_is_read_in_slices_that_let_other_tasks_run() -> None:
    """Fairness: 2,000 stderr lines in one read must not hold the event loop."""
    ticks = 0
    seen_at: list[int] = []
    received: list[Entry] = []

    async def sink(entries: list[Entry]) -> None:
        seen_at.append(ticks)
        received.extend(entries)

    driver = CommandDriver(executable="x", mode=LaunchMode.NON_INTERACTIVE)
    supervisor = Supervisor("ses_t", driver, "/", Config(home=Path("/nonexistent")), sink)
    send, receive = trio.testing.memory_stream_one_way_pair()
    await send.send_all(b"line\n" * 2000)
    await send.aclose()

    async def ticker() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.lowlevel.checkpoint()

    async with trio.open_nursery() as nursery:
        nursery.start_soon(ticker)
        await supervisor._read_lines(receive)
        nursery.cancel_scope.cancel()
    assert len(received) == 2000
    assert len(seen_at) >= 2000 // LINES_PER_SLICE
    # other tasks ran while the lines were handled (about once per slice)
    assert seen_at[-1] - seen_at[0] >= len(seen_at) // 2


async def test_a_helper_command_runs_to_its_end_and_is_killed_when_too_slow() -> None:
    done = await run_command(["sh", "-c", "cat; echo oops >&2; exit 3"], stdin=b"in")
    assert (done.returncode, done.stdout, done.stderr) == (3, b"in", b"oops\n")
    with pytest.raises(trio.TooSlowError):
        await run_command(["sh", "-c", "echo $$ > /dev/null; sleep 30"], timeout=0.2)
    with pytest.raises(SpawnError):
        await run_command(["/nonexistent/program"])
