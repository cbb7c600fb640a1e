#!/usr/bin/env python3
"""A tiny agent that speaks Claude Code's stream-json, for trying coven-trio without
claude or codex installed.

  --stream          read user messages (stream-json lines) on stdin, answer each one
  --once -- PROMPT  answer PROMPT in plain text and exit

Registered by examples/adapters/echo.json:
  COVEN_HARNESS_ADAPTER_DIRS=$PWD/examples/adapters coven-trio serve
"""

import json
import sys
import time
import uuid

SESSION = str(uuid.uuid4())


def emit(obj: dict) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def answer(text: str) -> None:
    reply = f"You said: {text}"
    for word in reply.split(" "):
        delta = {"type": "text_delta", "text": word + " "}
        emit(
            {
                "type": "stream_event",
                "session_id": SESSION,
                "event": {"type": "content_block_delta", "index": 0, "delta": delta},
            }
        )
        time.sleep(0.05)
    emit(
        {
            "type": "assistant",
            "session_id": SESSION,
            "message": {
                "id": "msg_" + uuid.uuid4().hex[:12],
                "role": "assistant",
                "content": [{"type": "text", "text": reply}],
            },
        }
    )
    emit(
        {
            "type": "result",
            "subtype": "success",
            "is_error": False,
            "session_id": SESSION,
            "result": reply,
            "duration_ms": 0,
            "total_cost_usd": 0,
        }
    )


def main() -> None:
    if "--once" in sys.argv:
        prompt = sys.argv[sys.argv.index("--") + 1] if "--" in sys.argv else ""
        print(f"You said: {prompt}")
        return
    emit({"type": "system", "subtype": "init", "session_id": SESSION, "model": "echo", "tools": []})
    for line in sys.stdin:
        try:
            message = json.loads(line)
        except ValueError:
            continue
        if message.get("type") != "user":
            continue
        content = message["message"]["content"]
        if isinstance(content, list):
            content = "".join(block.get("text", "") for block in content)
        answer(content)


main()
