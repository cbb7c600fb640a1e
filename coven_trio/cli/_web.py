"""``coven-trio web`` and its subcommands: one blocking request each to the daemon's Unix
socket (``_wire.request``), so they start fast and load neither trio nor the daemon.

Each takes explicit parameters and returns an exit code; ``out``/``err`` default to the
process's streams. The token only ever goes to ``out`` (the person's terminal) and to a
0600 file in the home that the browser is pointed at — never on a command line, where
other users of the machine could read it in the process list.
"""

from __future__ import annotations

import html
import json
import os
import sys
import webbrowser
from collections.abc import Sequence
from pathlib import Path
from typing import Any, TextIO

from .._files import write_private
from ..client._wire import ClientError, DaemonUnreachable, request
from ._qr import terminal

#: The file a browser is opened on: it forwards to the URL with the token.
OPEN_PAGE = "web-open.html"


def _fail(err: TextIO, exc: ClientError) -> int:
    if isinstance(exc, DaemonUnreachable):
        print(f"coven-trio web: {exc.message}; start it: coven-trio daemon start", file=err)
    else:
        print(f"coven-trio web: {exc.message}", file=err)
    return 1


def has_display() -> bool:
    """Whether a browser can be shown here (not over plain SSH, not in CI)."""
    return sys.platform == "darwin" or bool(
        os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")
    )


def open_in_browser(home: Path, url: str) -> bool:
    """Open ``url`` through a 0600 page in the home that forwards to it, so the token is
    in no process's arguments."""
    page = home / OPEN_PAGE
    target = html.escape(url, quote=True)
    write_private(
        page,
        '<!doctype html><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="0;url={target}">'
        f'<title>coven-trio</title><a href="{target}">Open the coven-trio dashboard</a>\n',
    )
    return webbrowser.open(page.as_uri())


def web(
    socket_path: Path,
    *,
    host: str = "127.0.0.1",
    port: int = 0,
    tls: bool | None = None,
    observe_only: bool = False,
    names: Sequence[str] = (),
    open_browser: bool = True,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Start the web listener (or find the running one), print its URL with the token,
    and open it when a display exists."""
    out, err = out or sys.stdout, err or sys.stderr
    body: dict[str, Any] = {"host": host, "port": port, "observeOnly": observe_only}
    if tls is not None:
        body["tls"] = tls
    if names:
        body["names"] = list(names)
    try:
        answer = request(socket_path, "POST", "/api/v1/web/listen", body)
    except ClientError as exc:
        return _fail(err, exc)
    url = answer["observeUrl"] if observe_only else answer["loginUrl"]
    print(f"coven-trio dashboard: {url}", file=out)
    if answer.get("observeOnly") and not observe_only:
        print("(this listener is observe-only: `coven-trio web stop` to change it)", file=out)
    elif observe_only:
        print("(observe only: this URL cannot change anything)", file=out)
    if answer.get("tls"):
        print(f"certificate SHA-256: {answer['fingerprint']}", file=out)
    if answer["host"] not in ("127.0.0.1", "localhost", "::1"):
        print("other devices: `coven-trio web pair`", file=out)
    if open_browser and has_display():
        open_in_browser(socket_path.parent, url)
    return 0


def web_stop(socket_path: Path, *, out: TextIO | None = None, err: TextIO | None = None) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        answer = request(socket_path, "POST", "/api/v1/web/stop", {})
    except ClientError as exc:
        return _fail(err, exc)
    print("stopped" if answer.get("stopped") else "no web listener was running", file=out)
    return 0


def web_pair(
    socket_path: Path,
    *,
    observe_only: bool = False,
    name: str | None = None,
    seconds: float | None = None,
    qr: bool = True,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Open a pairing window; print its code, its URL (and QR code) and the certificate's
    fingerprint."""
    out, err = out or sys.stdout, err or sys.stderr
    body: dict[str, Any] = {"observeOnly": observe_only}
    if name:
        body["name"] = name
    if seconds is not None:
        body["seconds"] = seconds
    try:
        answer = request(socket_path, "POST", "/api/v1/web/pair", body)
    except ClientError as exc:
        return _fail(err, exc)
    minutes = answer["expiresInSeconds"]
    print(f"pairing code: {answer['code']}  ({answer['scope']}, open for {minutes} s)", file=out)
    print(f"on the device, open: {answer['url']}", file=out)
    if answer.get("fingerprint"):
        print(f"certificate SHA-256: {answer['fingerprint']}", file=out)
        print("  (the browser warns about it: check this fingerprint before accepting)", file=out)
    if qr:
        print(terminal(answer["url"], ansi=out.isatty()), file=out)
    return 0


def web_devices(
    socket_path: Path,
    *,
    as_json: bool = False,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    out, err = out or sys.stdout, err or sys.stderr
    try:
        devices = request(socket_path, "GET", "/api/v1/web/devices")["devices"]
    except ClientError as exc:
        return _fail(err, exc)
    if as_json:
        print(json.dumps(devices, indent=2), file=out)
        return 0
    if not devices:
        print("no paired devices", file=out)
        return 0
    rows = [("ID", "NAME", "SCOPE", "PAIRED", "LAST SEEN")]
    rows += [
        (d["id"], d["name"], d["scope"], d["createdAt"][:19], (d["lastSeenAt"] or "-")[:19])
        for d in devices
    ]
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    for row in rows:
        print(
            "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip(), file=out
        )
    return 0


def web_revoke(
    socket_path: Path, device_id: str, *, out: TextIO | None = None, err: TextIO | None = None
) -> int:
    """Revoke a paired device: its open streams end now, its next request is refused."""
    out, err = out or sys.stdout, err or sys.stderr
    if not device_id or "/" in device_id or not device_id.isascii():
        print(f"coven-trio web: not a device id: {device_id!r}", file=err)
        return 2
    try:
        answer = request(socket_path, "POST", f"/api/v1/web/devices/{device_id}/revoke", {})
    except ClientError as exc:
        return _fail(err, exc)
    device = answer["revoked"]
    print(f"revoked {device['id']} ({device['name']})", file=out)
    return 0
