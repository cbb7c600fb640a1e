"""Fuzzed HTTP and JSON against the real daemon: every input gets a well-formed answer
or a close, no task crashes (no traceback in the log), and the daemon keeps serving.

The fast set runs a few hundred examples; the slow ones (in CI too) 10,000.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import h11
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from .daemon_proc import DaemonProcess, exchange, request_json, running_daemon

CI_EXAMPLES = 200
LONG_EXAMPLES = 10_000
COMMON = {
    "deadline": None,
    "suppress_health_check": [HealthCheck.too_slow],
    "derandomize": True,
}

METHODS = st.sampled_from(["GET", "POST", "PUT", "DELETE", "HEAD", "OPTIONS", "PATCH", "BREW"])
TARGETS = st.one_of(
    st.sampled_from(
        [
            "/api/v1/health",
            "/health",
            "/api/v1/sessions",
            "/api/v1/sessions/ses_x/input",
            "/api/v1/events?sessionId=x&afterSeq=zz",
            "/eve/v1/session",
            "/eve/v1/session/ses_x/stream?startIndex=-1",
            "/api/v9/x",
            "*",
            "http://other/abs",
        ]
    ),
    st.text(alphabet=st.characters(min_codepoint=33, max_codepoint=126), max_size=80).map(
        lambda t: "/" + t
    ),
)
HEADER_NAME = st.text(
    alphabet=st.characters(min_codepoint=33, max_codepoint=126), min_size=1, max_size=20
)
HEADER_VALUE = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=60)


@st.composite
def requests(draw: st.DrawFn) -> bytes:
    """Mostly well-shaped heads with odd parts, plus raw garbage."""
    if draw(st.integers(0, 9)) == 0:
        return draw(st.binary(max_size=300))
    method, target = draw(METHODS), draw(TARGETS)
    version = draw(st.sampled_from(["HTTP/1.1", "HTTP/1.1", "HTTP/1.0", "HTTP/2.0", "HTTX"]))
    headers = draw(st.lists(st.tuples(HEADER_NAME, HEADER_VALUE), max_size=6))
    body = draw(st.binary(max_size=200))
    framing = draw(st.sampled_from(["length", "wrong-length", "chunked", "none"]))
    head = [f"{method} {target} {version}", "host: coven"]
    head += [f"{k}: {v}" for k, v in headers]
    if framing == "length":
        head.append(f"content-length: {len(body)}")
    elif framing == "wrong-length":
        head.append(f"content-length: {len(body) + draw(st.integers(-5, 5))}")
    elif framing == "chunked":
        head.append("transfer-encoding: chunked")
        body = f"{len(body):x}\r\n".encode() + body + b"\r\n0\r\n\r\n"
    return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8", "surrogateescape") + body


JSON_LEAVES = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(10**30), max_value=10**30),
    st.floats(allow_nan=False),
    st.text(max_size=30),
)
JSON_VALUES = st.recursive(
    JSON_LEAVES,
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(
                [
                    "projectRoot",
                    "harness",
                    "prompt",
                    "cwd",
                    "launchMode",
                    "command",
                    "data",
                    "action",
                    "args",
                    "message",
                    "continuationToken",
                    "inputResponses",
                    "outputSchema",
                    "clientContext",
                    "agent",
                    "x",
                ]
            ),
            inner,
            max_size=5,
        ),
    ),
    max_leaves=12,
)
POST_TARGETS = st.sampled_from(
    [
        "/api/v1/sessions",
        "/api/v1/actions",
        "/api/v1/sessions/ses_nope/input",
        "/api/v1/sessions/ses_nope/kill",
        "/eve/v1/session",
        "/eve/v1/session/ses_nope",
    ]
)
BODIES = st.one_of(
    JSON_VALUES.map(lambda v: json.dumps(v).encode()),
    st.binary(max_size=100),  # includes invalid UTF-8
    st.integers(1, 50_000).map(lambda n: b"[" * n),  # deep nesting
    st.just(b'{"projectRoot": 1e999999}'),
    st.just(b'{"message": "\xff\xfe"}'),
)


def _answered(daemon: DaemonProcess, data: bytes) -> None:
    """A well-formed HTTP response (an error is the JSON envelope), or a clean close."""
    try:
        result = exchange(daemon.socket_path, data)
    except h11.RemoteProtocolError as exc:  # pragma: no cover - would be our bug
        raise AssertionError(f"malformed response to {data[:80]!r}") from exc
    if result is not None:
        status, _, body = result
        assert 100 <= status < 600
        if status >= 400 and body:
            assert "error" in json.loads(body)
    # ... and a normal request right after still succeeds.
    assert request_json(daemon.socket_path, "GET", "/api/v1/health")[0] == 200


@pytest.fixture(scope="module")
def fuzz_daemon(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DaemonProcess]:
    scratch = Path(tempfile.mkdtemp(prefix="cvf", dir="/tmp"))
    try:
        # No harness can start from fuzzed JSON: nothing is on PATH.
        with running_daemon(scratch / "h", scratch / "daemon.log", PATH="/nonexistent") as d:
            yield d
            assert d.healthy()
        assert "Traceback" not in d.log(), d.log()[-3000:]
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def _check(daemon: DaemonProcess) -> None:
    log = daemon.log()
    assert "Traceback" not in log, log[-3000:]


def _fuzz_heads(examples: int):  # type: ignore[no-untyped-def]
    @settings(max_examples=examples, **COMMON)
    @given(data=requests())
    def run(fuzz_daemon: DaemonProcess, data: bytes) -> None:
        _answered(fuzz_daemon, data)

    return run


def _fuzz_bodies(examples: int):  # type: ignore[no-untyped-def]
    @settings(max_examples=examples, **COMMON)
    @given(target=POST_TARGETS, body=BODIES)
    def run(fuzz_daemon: DaemonProcess, target: str, body: bytes) -> None:
        head = f"POST {target} HTTP/1.1\r\nhost: c\r\ncontent-length: {len(body)}\r\n\r\n"
        _answered(fuzz_daemon, head.encode() + body)

    return run


test_fuzzed_request_heads = _fuzz_heads(CI_EXAMPLES)
test_fuzzed_json_bodies = _fuzz_bodies(CI_EXAMPLES)
test_fuzzed_request_heads_long = pytest.mark.slow(
    pytest.mark.timeout(900)(_fuzz_heads(LONG_EXAMPLES))
)
test_fuzzed_json_bodies_long = pytest.mark.slow(
    pytest.mark.timeout(900)(_fuzz_bodies(LONG_EXAMPLES))
)


def test_no_traceback_and_still_serving(fuzz_daemon: DaemonProcess) -> None:
    for data in [b"\x00" * 100, b"GET / HTTP/1.1\r\n" + b"a" * 70000, b"\r\n\r\n\r\n"]:
        _answered(fuzz_daemon, data)
    status, body = request_json(fuzz_daemon.socket_path, "GET", "/api/v1/health")
    assert status == 200
    status, body = request_json(fuzz_daemon.socket_path, "GET", "/api/v1/sessions")
    assert body == []  # nothing fuzzed ever launched a session
    _check(fuzz_daemon)
