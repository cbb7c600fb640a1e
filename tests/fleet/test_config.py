"""``fleet.toml``: off when absent, strict when present (every mistake names its key),
careful with a file that holds a secret."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from coven_trio.fleet import FleetConfigError, load_settings, parse_settings

pytestmark = pytest.mark.timeout(20)


def test_no_file_means_the_fleet_is_off(tmp_path: Path) -> None:
    assert load_settings(tmp_path) is None


def test_a_full_file_is_read_with_its_defaults(tmp_path: Path) -> None:
    creds = tmp_path / "host.creds"
    creds.write_text("-----BEGIN NATS USER JWT-----\n")
    settings = parse_settings(
        'servers = ["nats://a:4222", "tls://b:4222"]\nhost = "build-1"\n'
        'credentials = "host.creds"\nreplicas = 1\nmax_age_days = 7\n',
        base=tmp_path,
    )
    assert settings.servers == ("nats://a:4222", "tls://b:4222")
    assert settings.host == "build-1" and settings.credentials == creds
    assert (settings.stream, settings.bucket, settings.prefix) == (
        "COVEN",
        "coven-sessions",
        "coven",
    )
    assert settings.replicas == 1 and settings.max_age_days == 7.0
    assert settings.export and settings.launches


def test_a_signed_login_without_the_nkeys_package_says_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """nats-py signs `nkey_seed` and `credentials` logins with `nkeys` (the fleet extra
    brings it); installed without it, the file is refused saying so, not a crash later."""
    import importlib.util

    seed = tmp_path / "host.nk"
    seed.write_text("SUA...\n")
    find_spec = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nkeys" else find_spec(name)
    )
    with pytest.raises(FleetConfigError, match=r"`nkey_seed`.*coven-trio\[fleet\]"):
        parse_settings('servers = ["tls://a:4222"]\nnkey_seed = "host.nk"\n', base=tmp_path)


@pytest.mark.parametrize(
    ("text", "names"),
    [
        ('servers = ["nats://a"]\nsever = 1', "`sever`"),
        ('host = "x"', "`servers`"),
        ('servers = ["http://a:80"]', "`servers`"),
        ('servers = ["nats://a"]\nhost = "a.b"', "`host`"),
        ('servers = ["nats://a"]\nhost = "*"', "`host`"),
        ('servers = ["nats://a"]\nreplicas = 9', "`replicas`"),
        ('servers = ["nats://a"]\nreplicas = true', "`replicas`"),
        ('servers = ["nats://a"]\nuser = "u"', "`user` and `password`"),
        ('servers = ["nats://a"]\nuser = "u"\npassword = "p"\ntoken = "t"', "user and token"),
        ('servers = ["nats://a"]\ncredentials = "missing.creds"', "`credentials`"),
        ('servers = ["nats://a"]\nstream = "a.b"', "`stream`"),
        ('servers = ["nats://a"]\nexport = "yes"', "`export`"),
        ('servers = ["nats://a"]\nduplicate_window = 0', "`duplicate_window`"),
        ("servers = [", "not TOML"),
    ],
)
def test_every_mistake_is_an_error_naming_the_key(tmp_path: Path, text: str, names: str) -> None:
    with pytest.raises(FleetConfigError, match=r"fleet\.toml") as error:
        parse_settings(text, base=tmp_path)
    assert names in str(error.value)


def test_a_file_holding_a_password_must_not_be_readable_by_others(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text('servers = ["nats://a"]\nuser = "u"\npassword = "s3cr3t-pw"\n')
    os.chmod(path, 0o644)
    with pytest.raises(FleetConfigError, match="chmod 600"):
        load_settings(tmp_path)
    os.chmod(path, 0o600)
    settings = load_settings(tmp_path)
    assert settings is not None and settings.password == "s3cr3t-pw"
    assert "s3cr3t-pw" not in repr(settings)  # nor in a log line that shows the settings


def test_a_file_others_may_write_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "fleet.toml"
    path.write_text('servers = ["nats://a"]\n')
    os.chmod(path, 0o666)
    with pytest.raises(FleetConfigError, match="writable by others"):
        load_settings(tmp_path)


def test_the_daemon_side_import_loads_neither_nats_nor_asyncio(tmp_path: Path) -> None:
    """With the fleet off, a daemon that looks for ``fleet.toml`` imports nothing more."""
    code = (
        "import sys, pathlib\n"
        "import coven_trio.fleet as fleet\n"
        f"assert fleet.load_settings(pathlib.Path({str(tmp_path)!r})) is None\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('nats', 'asyncio')))\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.strip() == "[]"


async def test_a_fleet_without_nats_py_is_reported_and_the_daemon_serves_on(
    tmp_short: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import importlib.util

    import coven_trio

    home = tmp_short / "home"
    home.mkdir(mode=0o700)
    (home / "fleet.toml").write_text('servers = ["nats://127.0.0.1:1"]\nhost = "alpha"\n')
    os.chmod(home / "fleet.toml", 0o600)
    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda name, *a: None if name == "nats" else real(name, *a)
    )
    async with coven_trio.open_daemon(home=home, store="memory") as daemon:
        assert daemon.ctx is not None
        fleet = daemon.ctx.health_parts["fleet"]()
        assert "nats-py is not installed" in fleet["error"]
