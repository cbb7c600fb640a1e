"""``<home>/fleet.toml``: where the fleet's NATS servers are, who this host is, how to
authenticate. Without the file the fleet is off and nothing of it is imported.

```toml
servers = ["nats://nats-1:4222", "nats://nats-2:4222", "nats://nats-3:4222"]
host = "build-box"                 # a subject token; default: this machine's hostname
credentials = "~/.nats/coven.creds"   # or user + password, or token, or nkey_seed
# ca_file / cert_file / key_file   # TLS: the servers' CA, and a client certificate
stream = "COVEN"                   # the journal stream (created if missing)
bucket = "coven-sessions"          # the session-record KV bucket (created if missing)
replicas = 3                       # of the stream and the bucket
export = true                      # publish journals and records (a viewer-only home: false)
launches = true                    # serve `fleet launch` requests addressed to this host
```

The file may hold a secret, so it is read only if this user owns it and nobody else may
write it — and, holding a password or token, nobody else may read it. Every mistake is an
error naming the key: a typo must not quietly send sessions nowhere.
"""

from __future__ import annotations

import importlib.util
import os
import re
import socket
import stat
import tomllib
from pathlib import Path
from typing import Any

import attrs

from .._defaults import FLEET_FILE as FLEET_FILE
from .._home import distrust

#: A fleet file is a few hundred bytes.
MAX_CONFIG_BYTES = 64 * 1024
#: Host names and the subject prefix are NATS subject tokens (no dots, no wildcards).
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,64}")
#: JetStream stream and KV bucket names.
_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
_SCHEMES = ("nats://", "tls://", "ws://", "wss://")
#: How long the stream keeps what a host exported, by default: forever (history outlives
#: any machine); set ``max_age_days`` to bound it.
DEFAULT_DUPLICATE_WINDOW = 120.0


class FleetConfigError(ValueError):
    """``fleet.toml`` cannot be used; the message names the file and the key."""


@attrs.frozen(kw_only=True)
class FleetSettings:
    """Everything the fleet needs, validated."""

    servers: tuple[str, ...]
    host: str
    prefix: str = "coven"
    credentials: Path | None = None
    nkey_seed: Path | None = None
    user: str | None = None
    password: str | None = attrs.field(default=None, repr=False)
    token: str | None = attrs.field(default=None, repr=False)
    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None
    stream: str = "COVEN"
    bucket: str = "coven-sessions"
    replicas: int = 3
    max_age_days: float | None = None
    duplicate_window: float = DEFAULT_DUPLICATE_WINDOW
    export: bool = True
    launches: bool = True
    connect_timeout: float = 5.0


def default_host() -> str:
    """This machine's short hostname, made a subject token."""
    name = socket.gethostname().split(".")[0] or "host"
    return re.sub(r"[^A-Za-z0-9_-]", "-", name)[:64]


def load_settings(home: Path) -> FleetSettings | None:
    """The fleet of ``home``, or None when ``fleet.toml`` does not exist (fleet off);
    raises :class:`FleetConfigError` for a file that cannot be used."""
    path = home / FLEET_FILE
    try:
        st = os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise FleetConfigError(f"{path}: cannot read it: {exc.strerror}") from None
    if not stat.S_ISREG(st.st_mode):
        raise FleetConfigError(f"{path}: not a regular file")
    if st.st_size > MAX_CONFIG_BYTES:
        raise FleetConfigError(f"{path}: over {MAX_CONFIG_BYTES} bytes")
    reason = distrust(path)
    if reason is not None:
        raise FleetConfigError(f"{path}: not loaded: {reason}")
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise FleetConfigError(f"{path}: cannot read it: {exc}") from None
    settings = parse_settings(text, source=str(path), base=home)
    if (settings.password or settings.token) and st.st_mode & 0o044:
        raise FleetConfigError(
            f"{path}: holds a password or token but others may read it; chmod 600 it"
        )
    return settings


def parse_settings(
    text: str, *, source: str = FLEET_FILE, base: Path | None = None
) -> FleetSettings:
    """Settings from a ``fleet.toml`` text (relative paths are under ``base``)."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise FleetConfigError(f"{source}: not TOML: {exc}") from None
    try:
        return _settings(data, base or Path.cwd())
    except FleetConfigError as exc:
        raise FleetConfigError(f"{source}: {exc}") from None


_KEYS = {f.name for f in attrs.fields(FleetSettings)}


def _settings(data: dict[str, Any], base: Path) -> FleetSettings:
    for key in data:
        if key not in _KEYS:
            raise FleetConfigError(f"unknown key `{key}` (known: {', '.join(sorted(_KEYS))})")
    if "servers" not in data:
        raise FleetConfigError("`servers` is required (a list of nats:// URLs)")
    servers = data["servers"]
    if isinstance(servers, str):
        servers = [servers]
    if not isinstance(servers, list) or not servers:
        raise FleetConfigError("`servers` must be a non-empty list of URLs")
    for url in servers:
        if not isinstance(url, str) or not url.startswith(_SCHEMES) or len(url) <= 7:
            raise FleetConfigError(
                f"`servers`: {url!r} is not a NATS URL (nats://, tls://, ws:// or wss://)"
            )
    values: dict[str, Any] = {"servers": tuple(servers)}
    values["host"] = _token(data, "host", default_host())
    values["prefix"] = _token(data, "prefix", "coven")
    for key in ("stream", "bucket"):
        if key in data:
            if not isinstance(data[key], str) or not _NAME.fullmatch(data[key]):
                raise FleetConfigError(f"`{key}` must be a name of letters, digits, _ and -")
            values[key] = data[key]
    for key in ("credentials", "nkey_seed", "ca_file", "cert_file", "key_file"):
        if key in data:
            values[key] = _file(data, key, base)
    for key in ("user", "password", "token"):
        if key in data:
            if not isinstance(data[key], str) or not data[key]:
                raise FleetConfigError(f"`{key}` must be a non-empty string")
            values[key] = data[key]
    methods = [
        k for k in ("credentials", "nkey_seed", "user", "token") if values.get(k) is not None
    ]
    if len(methods) > 1:
        raise FleetConfigError(f"give one way to authenticate, not {' and '.join(methods)}")
    signed = [k for k in ("credentials", "nkey_seed") if k in values]
    if signed and importlib.util.find_spec("nkeys") is None:
        raise FleetConfigError(
            f"`{signed[0]}` logins need the nkeys package: pip install 'coven-trio[fleet]'"
        )
    if ("user" in values) != ("password" in values):
        raise FleetConfigError("`user` and `password` go together")
    if ("cert_file" in values) != ("key_file" in values):
        raise FleetConfigError("`cert_file` and `key_file` go together")
    if "replicas" in data:
        replicas = data["replicas"]
        if isinstance(replicas, bool) or not isinstance(replicas, int) or not 1 <= replicas <= 5:
            raise FleetConfigError("`replicas` must be an integer from 1 to 5")
        values["replicas"] = replicas
    for key, low in (("max_age_days", 0.0), ("duplicate_window", 1.0), ("connect_timeout", 0.1)):
        if key in data:
            number = data[key]
            if isinstance(number, bool) or not isinstance(number, int | float) or number < low:
                raise FleetConfigError(f"`{key}` must be a number of at least {low:g}")
            values[key] = float(number)
    for key in ("export", "launches"):
        if key in data:
            if not isinstance(data[key], bool):
                raise FleetConfigError(f"`{key}` must be true or false")
            values[key] = data[key]
    return FleetSettings(**values)


def _token(data: dict[str, Any], key: str, default: str) -> str:
    value = data.get(key, default)
    if not isinstance(value, str) or not _TOKEN.fullmatch(value):
        raise FleetConfigError(
            f"`{key}` must be 1-64 letters, digits, _ or - (it is a NATS subject token), "
            f"got {value!r}"
        )
    return value


def _file(data: dict[str, Any], key: str, base: Path) -> Path:
    value = data[key]
    if not isinstance(value, str) or not value:
        raise FleetConfigError(f"`{key}` must be a path")
    path = Path(value).expanduser()
    path = path if path.is_absolute() else base / path
    if not path.is_file():
        raise FleetConfigError(f"`{key}`: {path} is not a file")
    return path
