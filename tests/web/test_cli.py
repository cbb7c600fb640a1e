"""``coven-trio web`` and its subcommands, as the command line calls them (blocking, over
the Unix socket, in a thread beside the daemon's trio loop)."""

from __future__ import annotations

import io
import os
import stat
from pathlib import Path
from typing import Any

import pytest
import trio

from coven_trio.cli import _web as cli
from coven_trio.daemon import Daemon
from coven_trio.web import WebManager

from .raw import Web

pytestmark = pytest.mark.timeout(30)


async def _run(command: Any, *args: Any, **kwargs: Any) -> tuple[int, str, str]:
    out, err = io.StringIO(), io.StringIO()
    code = await trio.to_thread.run_sync(lambda: command(*args, out=out, err=err, **kwargs))
    return code, out.getvalue(), err.getvalue()


async def test_web_prints_a_login_url_and_reuses_the_listener(
    daemon: Daemon, manager: WebManager
) -> None:
    code, out, _ = await _run(cli.web, daemon.socket_path, open_browser=False)
    assert code == 0
    url = out.splitlines()[0].split(": ", 1)[1]
    assert url.startswith("http://127.0.0.1:") and "#token=cvw_" in url
    assert manager.listener is not None and url.startswith(manager.listener.url)
    code, again, _ = await _run(cli.web, daemon.socket_path, open_browser=False)
    assert code == 0 and again.splitlines()[0].endswith(url)  # the same listener and token
    code, watching, _ = await _run(
        cli.web, daemon.socket_path, open_browser=False, observe_only=True
    )
    observe_url = watching.splitlines()[0].split(": ", 1)[1]
    assert observe_url != url and "observe only" in watching
    token = observe_url.partition("#token=")[2]
    assert (await Web(manager.listener, token=token).get("/_/whoami")).json()["scope"] == "observe"
    code, out, err = await _run(cli.web, daemon.socket_path, port=1, open_browser=False)
    assert code == 1 and "stop it first" in err
    code, out, _ = await _run(cli.web_stop, daemon.socket_path)
    assert code == 0 and out.strip() == "stopped" and manager.listener is None


async def test_web_refuses_an_open_address_without_tls(daemon: Daemon, manager: WebManager) -> None:
    code, out, err = await _run(cli.web, daemon.socket_path, host="0.0.0.0", tls=False)
    assert code == 1 and "without TLS" in err and out == ""


async def test_pair_list_and_revoke_a_device(daemon: Daemon, manager: WebManager) -> None:
    code, _, err = await _run(cli.web_pair, daemon.socket_path)
    assert code == 1 and "coven-trio web" in err  # nothing to pair with yet
    await _run(cli.web, daemon.socket_path, open_browser=False)
    code, out, _ = await _run(cli.web_pair, daemon.socket_path, name="phone", observe_only=True)
    assert code == 0
    lines = out.splitlines()
    pairing_code = lines[0].split()[2]
    assert "observe" in lines[0] and "#pair=" in lines[1]
    assert "█" in out and "\x1b[" not in out  # the QR code, without colours off a terminal
    assert manager.listener is not None
    claim = await Web(manager.listener).post("/_/pair", {"code": pairing_code})
    assert claim.status == 200
    code, out, _ = await _run(cli.web_devices, daemon.socket_path)
    [header, row] = out.splitlines()
    assert header.split()[:3] == ["ID", "NAME", "SCOPE"]
    assert row.split()[1:3] == ["phone", "observe"]
    device_id = row.split()[0]
    code, out, _ = await _run(cli.web_revoke, daemon.socket_path, device_id)
    assert code == 0 and out.strip() == f"revoked {device_id} (phone)"
    code, out, err = await _run(cli.web_revoke, daemon.socket_path, device_id)
    assert code == 1 and "No such device" in err
    code, out, _ = await _run(cli.web_devices, daemon.socket_path)
    assert out.strip() == "no paired devices"
    assert (await _run(cli.web_revoke, daemon.socket_path, "../x"))[0] == 2


async def test_without_a_daemon_the_commands_say_how_to_start_one(tmp_short: Path) -> None:
    code, _, err = await _run(cli.web_devices, tmp_short / "coven.sock")
    assert code == 1 and "coven-trio daemon start" in err


def test_the_browser_is_opened_on_a_private_page_not_on_the_token(
    tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    opened: list[str] = []
    monkeypatch.setattr(cli.webbrowser, "open", lambda url: opened.append(url) or True)
    url = "http://127.0.0.1:5000/#token=cvw_secret"
    assert cli.open_in_browser(tmp_short, url)
    [argument] = opened
    assert "cvw_secret" not in argument and argument.startswith("file://")
    page = tmp_short / cli.OPEN_PAGE
    assert stat.S_IMODE(os.stat(page).st_mode) == 0o600
    assert f'content="0;url={url}"' in page.read_text()
    monkeypatch.delenv("DISPLAY", raising=False)
    monkeypatch.delenv("WAYLAND_DISPLAY", raising=False)
    assert cli.has_display() is (os.uname().sysname == "Darwin")
