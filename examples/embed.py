"""Embed coven-trio in a trio program: run the daemon, launch a session, read its
journal with a cursor, and leave (every session stopped, the socket removed).

    python examples/embed.py
"""

import os
import sys
import tempfile
from pathlib import Path

import trio

import coven_trio
from coven_trio import LaunchRequest


async def main() -> None:
    with tempfile.TemporaryDirectory(prefix="coven", dir="/tmp") as scratch:
        await run(Path(scratch) / "home")


async def run(home: Path) -> None:
    async with coven_trio.open_daemon(home=home) as daemon:
        print(f"daemon serving {daemon.socket_path}")
        record = await daemon.launch(
            LaunchRequest(
                project_root=os.getcwd(),
                harness="command",
                command=[sys.executable, "-c", "print('hello from a supervised child')"],
            )
        )
        async for entry in daemon.journal(record.id).entries():
            print(f"{entry.index:3} {entry.type:20} {entry.data}")
    print(f"socket removed: {not daemon.socket_path.exists()}")


if __name__ == "__main__":
    trio.run(main)
