#!/usr/bin/env python3
"""A harness stand-in that speaks Claude's stream-json: it prints ``BENCH_LINES`` text
deltas (as fast as it can, or ``BENCH_RATE`` per second with a send timestamp in each)
and exits. Installed as ``claude`` on the benchmark's PATH."""

import json
import os
import random
import sys
import time

lines = int(os.environ.get("BENCH_LINES", "1000"))
rate = float(os.environ.get("BENCH_RATE", "0"))
pad = "x" * int(os.environ.get("BENCH_PAD", "100"))
out = sys.stdout
go = os.environ.get("BENCH_GO_FILE")
while go and not os.path.exists(go):  # start together, once every reader is connected
    time.sleep(0.01)
if rate:
    interval = 1 / rate
    # Independent sessions are not in lockstep: each starts at a random phase.
    next_at = time.monotonic() + random.random() * interval
    for _ in range(lines):
        next_at += interval
        time.sleep(max(0.0, next_at - time.monotonic()))
        text = f"t={time.time_ns()};{pad}"
        out.write(
            json.dumps(
                {
                    "type": "stream_event",
                    "event": {
                        "type": "content_block_delta",
                        "delta": {"type": "text_delta", "text": text},
                    },
                }
            )
            + "\n"
        )
        out.flush()
else:
    line = (
        json.dumps(
            {
                "type": "stream_event",
                "event": {
                    "type": "content_block_delta",
                    "delta": {"type": "text_delta", "text": pad},
                },
            }
        )
        + "\n"
    )
    chunk = line * 1000
    for _ in range(lines // 1000):
        out.write(chunk)
    out.write(line * (lines % 1000))
    out.flush()
