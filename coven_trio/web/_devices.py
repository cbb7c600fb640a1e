"""Paired devices: their tokens, hashed, in ``<home>/web-devices.json`` (0600).

Why SHA-256 and not a slow hash (scrypt, argon2): a device token is 256 random bits, so
an offline guess at a stolen hash is hopeless however fast the hash is; slow hashes
protect low-entropy secrets (passwords). A slow hash per request would instead hand
anyone who can reach the listener a way to burn the daemon's CPU (every fetch and stream
of a dashboard authenticates).

The file is rewritten whole, atomically (a new file made ``O_EXCL`` 0600, then renamed),
on every change; the last-seen time is kept in memory only, so requests never write.
"""

from __future__ import annotations

import json
import logging
import os
import secrets
from pathlib import Path
from typing import Any

import attrs

from .._clock import utc_now
from .._files import write_private as write_text
from .._home import distrust
from ..errors import StartupError
from ._tokens import DEVICE_PREFIX, Grant, Scope, digest, same

log = logging.getLogger("coven_trio.web")

DEVICES_NAME = "web-devices.json"
#: Paired devices at most; pairing past it is refused (revoke one first).
MAX_DEVICES = 64
MAX_NAME_CHARS = 80


@attrs.define
class Device:
    id: str
    name: str
    scope: Scope
    token_sha256: str
    created_at: str
    last_seen_at: str | None = None
    last_address: str | None = None

    def public(self) -> dict[str, Any]:
        """What listings show (never the hash)."""
        return {
            "id": self.id,
            "name": self.name,
            "scope": self.scope.value,
            "createdAt": self.created_at,
            "lastSeenAt": self.last_seen_at,
            "lastAddress": self.last_address,
        }


def clean_name(name: object) -> str:
    text = name if isinstance(name, str) else ""
    text = "".join(c for c in text if c.isprintable()).strip()[:MAX_NAME_CHARS]
    return text or "device"


class DeviceStore:
    """The paired devices of a home, and one :class:`Grant` per device in use, so that
    revoking a device ends every stream it has open."""

    def __init__(self, home: Path) -> None:
        self.path = home / DEVICES_NAME
        self._devices: dict[str, Device] = self._load()
        self._grants: dict[str, Grant] = {}

    def _load(self) -> dict[str, Device]:
        if not self.path.exists():
            return {}
        problem = distrust(self.path)
        if problem is None and os.stat(self.path).st_mode & 0o077:
            problem = "readable by others; chmod 600 it"
        if problem is not None:
            raise StartupError(f"refusing to use {self.path}: {problem}")
        try:
            data = json.loads(self.path.read_text())
            entries = data["devices"]
            devices = {}
            for entry in entries:
                device = Device(
                    id=str(entry["id"]),
                    name=clean_name(entry["name"]),
                    scope=Scope(entry["scope"]),
                    token_sha256=str(entry["tokenSha256"]),
                    created_at=str(entry["createdAt"]),
                )
                devices[device.id] = device
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StartupError(f"cannot read {self.path}: {exc}") from None
        return devices

    def _save(self) -> None:
        entries = [
            {
                "id": d.id,
                "name": d.name,
                "scope": d.scope.value,
                "tokenSha256": d.token_sha256,
                "createdAt": d.created_at,
            }
            for d in self._devices.values()
        ]
        write_private(self.path, {"version": 1, "devices": entries})

    def list(self) -> list[Device]:
        return sorted(self._devices.values(), key=lambda d: d.created_at)

    def add(self, name: str, scope: Scope) -> tuple[Device, str]:
        """Pair a device: its record, and its token (shown once, stored only hashed)."""
        if len(self._devices) >= MAX_DEVICES:
            raise ValueError(f"{MAX_DEVICES} devices are paired already; revoke one first")
        device_id = "dev_" + secrets.token_hex(6)
        token = f"{DEVICE_PREFIX}{device_id}.{secrets.token_urlsafe(32)}"
        device = Device(
            id=device_id,
            name=clean_name(name),
            scope=scope,
            token_sha256=digest(token),
            created_at=utc_now(),
        )
        self._devices[device_id] = device
        self._save()
        log.info("paired device %s (%s, %s)", device_id, device.name, scope.value)
        return device, token

    def authenticate(self, token: str, address: str) -> Grant | None:
        _, _, rest = token.partition(DEVICE_PREFIX)
        device_id, dot, _ = rest.partition(".")
        device = self._devices.get(device_id) if dot else None
        if device is None or not same(digest(token), device.token_sha256):
            return None
        device.last_seen_at, device.last_address = utc_now(), address
        grant = self._grants.get(device_id)
        if grant is None:
            grant = self._grants[device_id] = Grant(device.scope, device.name, device_id)
        return grant

    def revoke(self, device_id: str) -> Device | None:
        """Forget a device; its open streams end now, its next request is 401."""
        device = self._devices.pop(device_id, None)
        if device is None:
            return None
        self._save()
        grant = self._grants.pop(device_id, None)
        if grant is not None:
            grant.revoke()
        log.info("revoked device %s (%s)", device_id, device.name)
        return device


def write_private(path: Path, value: Any) -> None:
    """Write JSON to ``path`` 0600, atomically (:func:`coven_trio._files.write_private`)."""
    write_text(path, json.dumps(value, indent=2) + "\n", sync=True)
