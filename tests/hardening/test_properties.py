"""Properties over arbitrary input, at a live daemon: whatever a harness prints and
whatever a client sends, the daemon keeps serving, every error is the envelope, and
every journal line is standard JSON.

The fast set runs a few dozen examples of each; the slow set (CI too) several hundred.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ..conftest import FAKES
from ..sessions_util import strict_json
from .daemon_proc import DaemonProcess, exchange, request_json, running_daemon

COMMON: dict[str, Any] = {
    "deadline": None,
    "suppress_health_check": list(HealthCheck),
    "derandomize": True,
}
FAST, SLOW = 25, 300

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=30),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=10), inner, max_size=4)
    ),
    max_leaves=20,
)
NATIVE_TYPES = ["assistant", "user", "result", "stream_event", "system", "control_request"]
#: Lines shaped like Claude Code's, with arbitrary contents where the real ones have
#: structure (the translator must not trust them), plus raw bytes.
LINES = st.one_of(
    st.binary(max_size=300),
    st.builds(
        lambda kind, rest: json.dumps({"type": kind, **rest}).encode(),
        st.sampled_from(NATIVE_TYPES),
        st.dictionaries(
            st.sampled_from(["message", "event", "request", "subtype", "usage", "is_error"]),
            JSON,
            max_size=4,
        ),
    ),
    JSON.map(lambda v: json.dumps(v).encode()),
)


@pytest.fixture(scope="module")
def live_daemon() -> Iterator[tuple[DaemonProcess, Path]]:
    """A real ``serve`` whose claude is the fake in replay mode: each example writes the
    lines the next harness prints."""
    scratch = Path(tempfile.mkdtemp(prefix="cvp", dir="/tmp"))
    replay = scratch / "replay.bin"
    replay.write_bytes(b"")
    env = {
        "PATH": f"{FAKES}{os.pathsep}{os.environ['PATH']}",
        "FAKE_HARNESS_MODE": "replay",
        "FAKE_REPLAY": str(replay),
    }
    try:
        with running_daemon(scratch / "h", scratch / "daemon.log", **env) as daemon:
            yield daemon, scratch
            assert daemon.healthy()
        assert "Traceback" not in daemon.log(), daemon.log()[-3000:]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _launch(daemon: DaemonProcess, root: Path) -> str:
    body = {"projectRoot": str(root), "harness": "claude", "prompt": "go"}
    status, record = request_json(daemon.socket_path, "POST", "/api/v1/sessions", body)
    assert status == 201, record
    assert isinstance(record, dict)
    return str(record["id"])


def _journal_is_strict_json(daemon: DaemonProcess, sid: str) -> None:
    after = 0
    while True:
        target = f"/api/v1/events?sessionId={sid}&afterSeq={after}"
        result = exchange(daemon.socket_path, f"GET {target} HTTP/1.1\r\nhost: c\r\n\r\n".encode())
        assert result is not None and result[0] == 200
        page = strict_json(result[2])
        for record in page["events"]:
            strict_json(json.dumps(record).encode())
            strict_json(record["payload_json"].encode())
        if not page["hasMore"]:
            return
        after = page["nextCursor"]["afterSeq"]


def _harness_output(examples: int):  # type: ignore[no-untyped-def]
    @settings(max_examples=examples, **COMMON)
    @given(lines=st.lists(LINES, max_size=12))
    def run(live_daemon: tuple[DaemonProcess, Path], lines: list[bytes]) -> None:
        daemon, scratch = live_daemon
        (scratch / "replay.bin").write_bytes(b"\n".join(lines))
        sid = _launch(daemon, scratch)
        deadline = time.monotonic() + 20
        while (
            request_json(daemon.socket_path, "GET", f"/api/v1/sessions/{sid}")[1][  # type: ignore[index]
                "status"
            ]
            == "running"
        ):
            assert time.monotonic() < deadline
            time.sleep(0.02)
        request_json(daemon.socket_path, "POST", f"/api/v1/sessions/{sid}/kill")
        _journal_is_strict_json(daemon, sid)
        assert daemon.healthy()

    return run


test_arbitrary_harness_output = _harness_output(FAST)
test_arbitrary_harness_output_long = pytest.mark.slow(
    pytest.mark.timeout(900)(_harness_output(SLOW))
)

_TARGET: dict[str, str] = {}


def _target(daemon: DaemonProcess, scratch: Path) -> str:
    """The live session fuzzed requests are aimed at (a new one if it ended)."""
    sid = _TARGET.get("sid")
    if sid is not None:
        status, record = request_json(daemon.socket_path, "GET", f"/api/v1/sessions/{sid}")
        if status == 200 and isinstance(record, dict) and record["status"] in ("running", "idle"):
            return sid
    (scratch / "replay.bin").write_bytes(b"")
    _TARGET["sid"] = sid = _launch(daemon, scratch)
    return sid


def _request_bodies(examples: int):  # type: ignore[no-untyped-def]
    @settings(max_examples=examples, **COMMON)
    @given(
        body=st.one_of(JSON.map(lambda v: json.dumps(v).encode()), st.binary(max_size=200)),
        route=st.sampled_from(["input", "follow_up", "create", "launch", "actions", "resize"]),
    )
    def run(live_daemon: tuple[DaemonProcess, Path], body: bytes, route: str) -> None:
        daemon, scratch = live_daemon
        sid = _target(daemon, scratch)
        path = {
            "input": f"/api/v1/sessions/{sid}/input",
            "follow_up": f"/eve/v1/session/{sid}",
            "create": "/eve/v1/session",
            "launch": "/api/v1/sessions",
            "actions": "/api/v1/actions",
            "resize": f"/api/v1/sessions/{sid}/resize",
        }[route]
        head = f"POST {path} HTTP/1.1\r\nhost: c\r\ncontent-length: {len(body)}\r\n\r\n"
        result = exchange(daemon.socket_path, head.encode() + body)
        assert result is not None
        status, _, answer = result
        if status >= 400:
            error = strict_json(answer)["error"]
            assert isinstance(error["code"], str)
            assert status < 500 or error["code"] == "send_input_failed", answer
        assert daemon.healthy()

    return run


test_arbitrary_request_bodies = _request_bodies(FAST * 4)
test_arbitrary_request_bodies_long = pytest.mark.slow(
    pytest.mark.timeout(900)(_request_bodies(SLOW * 4))
)


def test_the_fuzzed_session_journals_are_strict_json(
    live_daemon: tuple[DaemonProcess, Path],
) -> None:
    daemon, _ = live_daemon
    status, listed = request_json(daemon.socket_path, "GET", "/api/v1/sessions")
    assert status == 200 and isinstance(listed, list)
    for record in listed:
        _journal_is_strict_json(daemon, record["id"])
