"""The trio ↔ asyncio bridge: results and errors cross it, cancellation crosses it both
ways promptly, and closing it leaves no thread and no task behind."""

from __future__ import annotations

import asyncio
import threading

import pytest
import trio

from coven_trio.fleet._bridge import AsyncioBridge, BridgeClosed, open_bridge

pytestmark = pytest.mark.timeout(20)


async def test_a_call_runs_on_the_loop_thread_and_returns_its_result() -> None:
    async with open_bridge() as bridge:

        async def where(x: int) -> tuple[str, int]:
            await asyncio.sleep(0)
            return threading.current_thread().name, x * 2

        name, doubled = await bridge.call(where, 21)
        assert name == "coven-fleet-asyncio" != threading.current_thread().name
        assert doubled == 42


async def test_an_exception_on_the_asyncio_side_is_raised_in_trio() -> None:
    async with open_bridge() as bridge:

        async def fail() -> None:
            raise KeyError("nope")

        with pytest.raises(KeyError, match="nope"):
            await bridge.call(fail)


async def test_cancelling_the_trio_caller_cancels_the_asyncio_task_promptly() -> None:
    cancelled = threading.Event()
    started = trio.Event()
    token = trio.lowlevel.current_trio_token()
    async with open_bridge() as bridge:

        async def forever() -> None:
            token.run_sync_soon(started.set)
            try:
                await asyncio.sleep(3600)
            except asyncio.CancelledError:
                cancelled.set()
                raise

        with trio.move_on_after(10) as scope:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(bridge.call, forever)
                await started.wait()
                began = trio.current_time()
                nursery.cancel_scope.cancel()
        assert not scope.cancelled_caught
        assert trio.current_time() - began < 1.0
        # the asyncio task had finished unwinding before the trio call returned
        assert cancelled.is_set()
        assert await trio.to_thread.run_sync(bridge.pending_tasks) == 0


async def test_closing_the_bridge_cancels_what_runs_there_and_joins_the_thread() -> None:
    bridge = AsyncioBridge()
    bridge.start()
    stopped = threading.Event()

    async def background() -> None:
        try:
            await asyncio.sleep(3600)
        finally:
            stopped.set()

    def spawn() -> None:
        bridge.loop.create_task(background())

    bridge.loop.call_soon_threadsafe(spawn)
    await bridge.aclose()
    assert stopped.is_set()
    assert not bridge.thread_alive
    assert bridge.loop.is_closed()
    with pytest.raises(BridgeClosed):
        await bridge.call(asyncio.sleep, 0)


async def test_many_concurrent_calls_each_get_their_own_answer() -> None:
    async with open_bridge() as bridge:
        answers: dict[int, int] = {}

        async def square(n: int) -> int:
            await asyncio.sleep(0.001 * (n % 5))
            return n * n

        async def ask(n: int) -> None:
            answers[n] = await bridge.call(square, n)

        async with trio.open_nursery() as nursery:
            for n in range(200):
                nursery.start_soon(ask, n)
        assert answers == {n: n * n for n in range(200)}
