"""Two claude turns through coven-trio's stream mode, measured from a client process of
its own (as ``_sdk_turns.py`` is for the SDK, so neither shares the benchmark's process
with the fake model API):

    python -m benchmarks._coven_turns SOCKET PROJECT

prints ``{"turn1": seconds, "turn2": seconds}``.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from .people import _daemon_two_turns

if __name__ == "__main__":
    first, second = _daemon_two_turns(Path(sys.argv[1]), Path(sys.argv[2]))
    print(json.dumps({"turn1": first, "turn2": second}))
