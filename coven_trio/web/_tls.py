"""TLS for a listener other machines reach: a self-signed certificate made on first use.

The certificate is made by the ``openssl`` program (Python's standard library cannot
sign one, and the daemon takes no cryptography dependency for a feature most people
leave off), as a helper the reaper knows about. It is an ECDSA P-256 key valid for two
years, for the names and addresses the listener answers to. Devices trust it by its
SHA-256 fingerprint, which ``coven-trio web`` and ``… pair`` print: compare it with what
the phone's browser shows before accepting the certificate.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import ssl
import tempfile
from pathlib import Path

import attrs
import trio

from .._home import distrust
from ..errors import StartupError
from ..harness._process import SpawnError, run_command
from ._options import is_ip_literal

CERT_DAYS = 730
OPENSSL_TIMEOUT = 30.0


@attrs.frozen
class Certificate:
    cert_path: Path
    key_path: Path
    fingerprint: str

    def server_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        context.minimum_version = ssl.TLSVersion.TLSv1_2
        context.load_cert_chain(self.cert_path, self.key_path)
        context.set_alpn_protocols(["http/1.1"])
        return context


def fingerprint(cert_pem: str) -> str:
    """The SHA-256 of the certificate's DER bytes, as browsers show it (AA:BB:…)."""
    der = ssl.PEM_cert_to_DER_cert(cert_pem)
    return ":".join(f"{b:02X}" for b in hashlib.sha256(der).digest())


def _alt_names(names: list[str]) -> str:
    entries = []
    for name in dict.fromkeys(names):
        if is_ip_literal(name):
            entries.append(f"IP:{name.strip('[]')}")
        elif name and all(c.isalnum() or c in "-." for c in name):
            entries.append(f"DNS:{name}")
    return ",".join(entries)


async def ensure_certificate(cert_path: Path, key_path: Path, names: list[str]) -> Certificate:
    """The certificate at ``cert_path``/``key_path``, made first if either is missing.

    Raises :class:`StartupError` if the files are unsafe (not ours, writable by others,
    a key readable by others) or cannot be made.
    """
    if _missing(cert_path, key_path):
        await _make(cert_path, key_path, names)
    return load_certificate(cert_path, key_path)


def _missing(*paths: Path) -> bool:
    return not all(path.exists() for path in paths)


def load_certificate(cert_path: Path, key_path: Path) -> Certificate:
    for path in (cert_path, key_path):
        problem = distrust(path)
        if problem is not None:
            raise StartupError(f"refusing to use {path}: {problem}")
    if os.stat(key_path).st_mode & 0o077:
        raise StartupError(f"refusing to use {key_path}: readable by others; chmod 600 it")
    try:
        cert = Certificate(cert_path, key_path, fingerprint(cert_path.read_text()))
        cert.server_context()  # the pair must load now, not at the first connection
    except (OSError, ValueError, ssl.SSLError) as exc:
        raise StartupError(f"cannot use the certificate {cert_path}: {exc}") from None
    return cert


async def _make(cert_path: Path, key_path: Path, names: list[str]) -> None:
    openssl = shutil.which("openssl")
    if openssl is None:
        raise StartupError(
            "TLS needs a certificate and `openssl` (to make one) is not installed; install "
            "it, or give a certificate and key of your own"
        )
    scratch = Path(tempfile.mkdtemp(prefix=".web-tls-", dir=cert_path.parent))  # 0700
    try:
        cert, key = scratch / "cert.pem", scratch / "key.pem"
        argv = [
            openssl, "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1",
            "-nodes", "-sha256", "-days", str(CERT_DAYS), "-subj", "/CN=coven-trio",
            "-keyout", str(key), "-out", str(cert),
        ]  # fmt: skip
        alt = _alt_names(names)
        if alt:
            argv += ["-addext", f"subjectAltName={alt}"]
        try:
            done = await run_command(argv, timeout=OPENSSL_TIMEOUT)
        except (SpawnError, trio.TooSlowError) as exc:
            raise StartupError(f"could not make a certificate: {exc}") from None
        if done.returncode != 0:
            reason = done.stderr.decode(errors="replace").strip()[-500:]
            raise StartupError(f"openssl could not make a certificate: {reason}")
        os.chmod(key, 0o600)
        os.chmod(cert, 0o644)
        os.replace(key, key_path)
        os.replace(cert, cert_path)
    finally:
        shutil.rmtree(scratch, ignore_errors=True)
