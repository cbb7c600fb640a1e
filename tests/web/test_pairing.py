"""Pairing and devices: the window's rules, a device elsewhere on the network (a peer
that is not loopback, over an in-memory stream), the devices file, the QR code."""

from __future__ import annotations

import os
import shutil
import struct
import subprocess
import zlib
from pathlib import Path

import pytest
import trio
import trio.testing

from coven_trio.cli._qr import encode, terminal
from coven_trio.config import Config
from coven_trio.errors import StartupError
from coven_trio.http import serve_stream
from coven_trio.web import Scope, WebListener
from coven_trio.web._auth import Peer
from coven_trio.web._devices import DeviceStore
from coven_trio.web._guard import GuardedRouter
from coven_trio.web._pairing import MAX_ATTEMPTS, Pairing

from ..rawhttp import RawResponse, read_response
from .raw import Web

pytestmark = pytest.mark.timeout(30)


async def test_a_pairing_window_takes_one_right_code_and_few_wrong_ones() -> None:
    pairing = Pairing()
    assert pairing.claim("ABCD2345")[0] is None  # no window open
    window = pairing.open(Scope.OBSERVE, "tablet")
    assert len(window.code) == 8 and window.display == f"{window.code[:4]}-{window.code[4:]}"
    claimed, _ = pairing.claim(window.display.lower())  # as typed on a phone
    assert claimed is window and claimed.scope is Scope.OBSERVE
    assert pairing.claim(window.code)[0] is None  # one device per window
    window = pairing.open(Scope.CONTROL)
    for _ in range(MAX_ATTEMPTS):
        found, why = pairing.claim("WRONGCOD")
        assert found is None
    assert "too many" in why
    assert pairing.claim(window.code)[0] is None  # closed by the wrong guesses
    window = pairing.open(Scope.CONTROL, seconds=60)
    window.deadline = trio.current_time() - 0.01
    assert pairing.claim(window.code)[0] is None  # expired


async def _over(listener: WebListener, peer: Peer, data: bytes) -> RawResponse:
    """One request from ``peer``, served by the connection loop as the listener serves
    its TCP connections (an in-memory stream: no address here is anything but local)."""
    client, server = trio.testing.memory_stream_pair()
    config = Config(home=Path("/nonexistent"))
    router = GuardedRouter(site=listener._site, peer=peer)
    async with trio.open_nursery() as nursery:
        nursery.start_soon(serve_stream, server, config, router)
        await client.send_all(data)
        answer = await read_response(client)  # type: ignore[arg-type]
        await client.aclose()
    return answer


async def test_a_device_elsewhere_must_pair_and_then_may(web: WebListener) -> None:
    remote = Peer("192.0.2.7", False)
    raw = Web(web, token=web.state.launch.token(Scope.CONTROL))
    answer = await _over(web, remote, raw.head("GET", "/api/v1/health", {}, b""))
    assert answer.status == 403 and answer.json()["error"]["code"] == "web.pairing_required"
    body = b'{"token": "%s"}' % raw.token.encode()  # type: ignore[union-attr]
    login = Web(web).head("POST", "/_/login", {"origin": raw.origin}, body)
    assert (await _over(web, remote, login)).status == 403
    window = web.state.pairing.open(Scope.OBSERVE, "phone")
    code = b'{"code":"%s"}' % window.code.encode()
    claim = Web(web).head("POST", "/_/pair", {"origin": raw.origin}, code)
    paired = await _over(web, remote, claim)
    assert paired.status == 200 and paired.json()["scope"] == "observe"
    assert "token" not in paired.json()  # a browser gets it as an HttpOnly cookie only
    cookie = paired.headers["set-cookie"].split(";")[0]
    phone = Web(web, cookie=cookie)
    answer = await _over(web, remote, phone.head("GET", "/api/v1/sessions", {}, b""))
    assert answer.status == 200
    kill = phone.head("POST", "/api/v1/sessions/x/kill", {"origin": raw.origin}, b"")
    assert (await _over(web, remote, kill)).status == 403  # paired with observe
    [device] = web.state.devices.list()
    assert device.last_address == "192.0.2.7" and device.name == "phone"


def test_the_devices_file_must_be_private(tmp_short: Path) -> None:
    store = DeviceStore(tmp_short)
    device, token = store.add("laptop\x1b[31m", Scope.CONTROL)
    assert device.name == "laptop[31m"  # no terminal escapes in listings
    path = tmp_short / "web-devices.json"
    assert os.stat(path).st_mode & 0o777 == 0o600
    assert DeviceStore(tmp_short).authenticate(token, "127.0.0.1") is not None
    os.chmod(path, 0o644)
    with pytest.raises(StartupError, match="readable by others"):
        DeviceStore(tmp_short)
    os.chmod(path, 0o600)
    path.write_text("{not json")
    with pytest.raises(StartupError, match="cannot read"):
        DeviceStore(tmp_short)


def _png(matrix: list[list[bool]], path: Path, scale: int = 4, quiet: int = 4) -> None:
    size = (len(matrix) + 2 * quiet) * scale
    rows = []
    for y in range(size):
        r = y // scale - quiet
        row = bytearray([0])
        for x in range(size):
            c = x // scale - quiet
            dark = 0 <= r < len(matrix) and 0 <= c < len(matrix) and matrix[r][c]
            row.append(0 if dark else 255)
        rows.append(bytes(row))

    def chunk(kind: bytes, data: bytes) -> bytes:
        crc = zlib.crc32(kind + data) & 0xFFFFFFFF
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)

    head = struct.pack(">IIBBBBB", size, size, 8, 0, 0, 0, 0)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", head)
        + chunk(b"IDAT", zlib.compress(b"".join(rows)))
        + chunk(b"IEND", b"")
    )


@pytest.mark.parametrize(
    "text",
    [
        "https://192.168.1.20:8443/#pair=ABCD2345",  # version 3
        "https://laptop.local:8443/#pair=" + "A" * 60,  # version 5
        "https://example.test/" + "x" * 150,  # version 9: version information blocks
    ],
)
def test_the_pairing_qr_code_scans(text: str, tmp_short: Path) -> None:
    zbarimg = shutil.which("zbarimg")
    if zbarimg is None:
        if os.environ.get("CI"):
            pytest.fail("zbarimg is not installed (apt-get install zbar-tools)")
        pytest.skip("zbarimg is not installed (apt-get install zbar-tools)")
    _png(encode(text), tmp_short / "qr.png")
    done = subprocess.run([zbarimg, "-q", "--raw", str(tmp_short / "qr.png")], capture_output=True)
    assert done.stdout.decode().strip() == text
    art = terminal(text, ansi=False)
    assert len(art.splitlines()) == (len(encode(text)) + 5) // 2
    assert "\x1b[" in terminal(text) and "\x1b[" not in art
