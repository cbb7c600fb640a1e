"""Two claude turns through claude-agent-sdk, the Python SDK's own process handling (a
peer of ``benchmarks/people.py``; run in a process of its own, on asyncio):

    python -m benchmarks._sdk_turns CLI_PATH CWD

prints ``{"turn1": seconds, "turn2": seconds}``: connect + first answer, then the
follow-up's answer on the same CLI process.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time


async def main(cli: str, cwd: str) -> None:
    from claude_agent_sdk import ClaudeAgentOptions, ClaudeSDKClient

    # The same work as coven-trio's stream mode asks of the CLI: Claude Code's own
    # system prompt (the SDK's default is an empty one, a much smaller request) and
    # partial messages (the text deltas clients stream).
    options = ClaudeAgentOptions(
        cli_path=cli,
        cwd=cwd,
        system_prompt={"type": "preset", "preset": "claude_code"},
        include_partial_messages=True,
    )
    times = []
    began = time.perf_counter()
    async with ClaudeSDKClient(options=options) as client:
        for prompt in ("hi", "again"):
            await client.query(prompt)
            async for _ in client.receive_response():  # ends after the turn's result
                pass
            times.append(time.perf_counter() - began)
            began = time.perf_counter()
    print(json.dumps({"turn1": times[0], "turn2": times[1]}))


if __name__ == "__main__":
    asyncio.run(main(sys.argv[1], sys.argv[2]))
