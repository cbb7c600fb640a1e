"""The one place trio meets asyncio: an asyncio event loop in a thread of its own.

nats-py (the maintained NATS client) is asyncio. Its loop runs in a dedicated thread,
unmodified; trio hands it coroutines with :meth:`AsyncioBridge.call` and waits for the
outcome without blocking (the loop wakes trio through its token). Everything nats-py
owns — sockets, reconnects, pings, subscriptions — lives on that loop and is touched
only there: a coroutine given to :meth:`call` is created in trio's thread but runs
entirely on the loop.

Cancellation goes both ways. A trio task cancelled while waiting cancels the asyncio task
it started, then waits (shielded, at most :data:`CANCEL_GRACE`) until that task has
really finished, so nothing keeps running behind its caller's back. Leaving
:func:`open_bridge` cancels whatever is left on the loop, waits for it, closes the loop
and joins the thread: no leaked thread, no leaked task.

There is no queue here: trio pulls (each call returns a bounded batch), and what waits
between pulls waits in nats-py's own per-subscription queues, whose limits the callers
set (see ``_nats.py``).
"""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import AsyncIterator, Callable, Coroutine
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import trio

T = TypeVar("T")

#: How long a cancelled call waits for its asyncio task to finish unwinding.
CANCEL_GRACE = 5.0
#: How long closing waits for the loop's remaining tasks (nats-py's reader, flusher).
CLOSE_GRACE = 5.0


class BridgeClosed(Exception):
    """The bridge's loop is gone (the fleet is shutting down)."""


class AsyncioBridge:
    """An asyncio loop in a daemon thread, driven from trio."""

    def __init__(self, name: str = "coven-fleet-asyncio") -> None:
        self.loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self.closed = False

    def _run(self) -> None:
        asyncio.set_event_loop(self.loop)
        self.loop.run_forever()

    def start(self) -> None:
        self._thread.start()

    @property
    def thread_alive(self) -> bool:
        return self._thread.is_alive()

    async def call(self, fn: Callable[..., Coroutine[Any, Any, T]], *args: Any) -> T:
        """Run ``fn(*args)`` on the loop; its result or exception, in trio."""
        if self.closed:
            raise BridgeClosed("the fleet's asyncio loop is closed")
        token = trio.lowlevel.current_trio_token()
        done = trio.Event()
        holder: dict[str, Any] = {}

        def wake(_: object) -> None:
            with contextlib.suppress(trio.RunFinishedError):  # trio gone: nobody waits
                token.run_sync_soon(done.set)

        def start() -> None:  # on the loop
            if holder.get("cancelled"):
                holder["never"] = True
                wake(None)
                return
            task = self.loop.create_task(fn(*args))
            holder["task"] = task
            task.add_done_callback(wake)

        def cancel() -> None:  # on the loop
            holder["cancelled"] = True
            task = holder.get("task")
            if task is not None:
                task.cancel()

        try:
            self.loop.call_soon_threadsafe(start)
        except RuntimeError:  # the loop is closed
            raise BridgeClosed("the fleet's asyncio loop is closed") from None
        try:
            await done.wait()
        except trio.Cancelled:
            try:
                self.loop.call_soon_threadsafe(cancel)
            except RuntimeError:  # the loop is closed: nothing runs there any more
                raise
            with trio.CancelScope(shield=True), trio.move_on_after(CANCEL_GRACE):
                await done.wait()
            raise
        if holder.get("never"):
            raise BridgeClosed("the call was cancelled before it started")
        task: asyncio.Task[T] = holder["task"]
        if task.cancelled():
            raise BridgeClosed("the call was cancelled on the asyncio side")
        return task.result()

    async def aclose(self) -> None:
        """Cancel what is left on the loop, wait for it, stop the loop, join the thread."""
        if self.closed:
            return
        self.closed = True

        async def finish() -> None:
            me = asyncio.current_task()
            tasks = [t for t in asyncio.all_tasks() if t is not me]
            for task in tasks:
                task.cancel()
            if tasks:
                await asyncio.wait(tasks, timeout=CLOSE_GRACE)
            await self.loop.shutdown_asyncgens()

        with trio.CancelScope(shield=True):
            if self._thread.is_alive():
                future = asyncio.run_coroutine_threadsafe(finish(), self.loop)
                with contextlib.suppress(TimeoutError, asyncio.CancelledError):
                    await trio.to_thread.run_sync(future.result, CLOSE_GRACE * 2)
                self.loop.call_soon_threadsafe(self.loop.stop)
                await trio.to_thread.run_sync(self._thread.join, CLOSE_GRACE)
            if not self._thread.is_alive():
                self.loop.close()

    def pending_tasks(self) -> int:
        """Tasks on the loop (for tests: none are left once a call has returned)."""
        if self.loop.is_closed():
            return 0
        result: list[int] = []
        ready = threading.Event()

        def count() -> None:
            result.append(len(asyncio.all_tasks(self.loop)))
            ready.set()

        self.loop.call_soon_threadsafe(count)
        ready.wait(CLOSE_GRACE)
        return result[0] if result else -1


@asynccontextmanager
async def open_bridge() -> AsyncIterator[AsyncioBridge]:
    """A running bridge for the block; closed (loop and thread gone) on the way out."""
    bridge = AsyncioBridge()
    bridge.start()
    try:
        yield bridge
    finally:
        await bridge.aclose()
