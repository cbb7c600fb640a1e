"""The page and the routes it needs before it has a credential: its files, the launch
token's exchange for a cookie, pairing, and who-am-I / logout.

The files are read once from ``static/`` (shipped in the package: no build step) and
served by exact name, so no request path ever reaches the file system. The page's
Content-Security-Policy allows scripts and styles from the listener only; the style
elements xterm.js makes at run time are allowed by a nonce that ``app.js`` gives them
(a fresh one per page load), and style *attributes*, which xterm.js also sets, are
allowed (they cannot load anything: images and connections are ``'self'`` only).
"""

from __future__ import annotations

import secrets
from pathlib import Path

from ..errors import StartupError
from ..http import Request, Response
from ._errors import PairingRefused, PairingRequired
from ._guard import GuardedRouter, Site
from ._tokens import SESSION_PREFIX, Grant, Scope, capped

STATIC = Path(__file__).parent / "static"
_TYPES = {
    ".html": "text/html; charset=utf-8",
    ".js": "text/javascript; charset=utf-8",
    ".css": "text/css; charset=utf-8",
    ".svg": "image/svg+xml",
    ".png": "image/png",
    ".txt": "text/plain; charset=utf-8",
    "": "text/plain; charset=utf-8",  # LICENSE
}
#: A paired device's cookie lasts this long (it is revoked by `coven-trio web revoke`).
DEVICE_COOKIE_SECONDS = 180 * 86400
_NONCE = b"{{NONCE}}"


def content_security_policy(nonce: str | None = None) -> str:
    styles = f"'self' 'nonce-{nonce}'" if nonce else "'self'"
    return (
        "default-src 'self'; script-src 'self'; "
        f"style-src {styles}; style-src-attr 'unsafe-inline'; "
        "img-src 'self' data:; font-src 'self'; connect-src 'self'; object-src 'none'; "
        "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
    )


def _load() -> dict[str, tuple[bytes, str]]:
    files = {}
    for path in sorted(STATIC.rglob("*")):
        if path.is_file() and path.suffix in _TYPES and not path.name.startswith("."):
            name = "/static/" + path.relative_to(STATIC).as_posix()
            files[name] = (path.read_bytes(), _TYPES[path.suffix])
    return files


class Pages:
    def __init__(self, site: Site) -> None:
        self.site = site
        self.files = _load()
        if "/static/index.html" not in self.files:
            raise StartupError(f"the dashboard's files are missing from {STATIC}")
        self.index_template = self.files["/static/index.html"][0]

    def install(self) -> None:
        own = self.site.own
        own[("GET", "/")] = (self.index, True)
        own[("POST", "/_/login")] = (self.login, True)
        own[("POST", "/_/pair")] = (self.pair, True)
        own[("GET", "/_/whoami")] = (self.whoami, False)
        own[("POST", "/_/logout")] = (self.logout, False)
        self.site.own_prefix["/static/"] = self.static

    async def index(self, request: Request, conn: GuardedRouter) -> Response:
        nonce = secrets.token_urlsafe(16)
        body = self.index_template.replace(_NONCE, nonce.encode())
        headers = [
            ("content-security-policy", content_security_policy(nonce)),
            ("cache-control", "no-store"),
        ]
        return Response(body=body, headers=headers, content_type=_TYPES[".html"])

    async def static(self, request: Request, conn: GuardedRouter) -> Response:
        found = self.files.get(request.path)
        if found is None or request.path.endswith(".html"):
            return Response.json({"error": {"code": "not_found", "message": "No such file."}}, 404)
        body, content_type = found
        headers = [
            ("content-security-policy", content_security_policy()),
            ("cache-control", "no-cache"),
        ]
        return Response(body=body, headers=headers, content_type=content_type)

    def _set_cookie(self, value: str, max_age: int | None) -> tuple[str, str]:
        parts = [f"{self.site.cookie_name}={value}", "Path=/", "HttpOnly", "SameSite=Strict"]
        if self.site.tls:
            parts.append("Secure")
        if max_age is not None:
            parts.append(f"Max-Age={max_age}")
        return ("set-cookie", "; ".join(parts))

    async def login(self, request: Request, conn: GuardedRouter) -> Response:
        """``{"token"}`` (the launch token from the URL's fragment) → a cookie."""
        state = self.site.state
        token = request.json_object().get("token")
        request.body = b""  # nothing downstream holds the token
        scope = state.launch.scope_of(token) if isinstance(token, str) else None
        if scope is None:
            state.failed(conn.peer)
            raise PairingRefused("That token is not this daemon's (it changes at every start).")
        if not conn.peer.loopback:
            raise PairingRequired(
                "The launch token works from this machine only; pair this device: run "
                "`coven-trio web pair` and open the URL it prints."
            )
        grant = Grant(scope, "browser login")
        value = state.sessions.create(grant)
        body = {"ok": True, "scope": capped(scope, self.site.observe_only).value}
        cookie = self._set_cookie(value, None)
        return Response.json(body, headers=[cookie, ("cache-control", "no-store")])

    async def pair(self, request: Request, conn: GuardedRouter) -> Response:
        """``{"code", "name"?, "bearer"?}``: the one-time code → a device and its cookie
        (and its token in the body, for scripts, when ``bearer`` is true)."""
        state = self.site.state
        state.check_rate(conn.peer)
        body = request.json_object()
        code = body.get("code")
        window, why = state.pairing.claim(code) if isinstance(code, str) else (None, "No code.")
        if window is None:
            state.failed(conn.peer)
            raise PairingRefused(why)
        try:
            device, token = state.devices.add(body.get("name") or window.name or "", window.scope)
        except ValueError as exc:
            raise PairingRefused(str(exc)) from None
        answer: dict[str, object] = {
            "ok": True,
            "scope": capped(device.scope, self.site.observe_only).value,
            "device": device.public(),
        }
        if body.get("bearer") is True:
            answer["token"] = token
        cookie = self._set_cookie(token, DEVICE_COOKIE_SECONDS)
        return Response.json(answer, headers=[cookie, ("cache-control", "no-store")])

    async def whoami(self, request: Request, conn: GuardedRouter) -> Response:
        grant = conn.grant
        assert grant is not None
        scope = capped(grant.scope, self.site.observe_only)
        return Response.json(
            {
                "scope": scope.value,
                "control": scope is Scope.CONTROL,
                "label": grant.label,
                "device": grant.device_id,
                "observeOnly": self.site.observe_only,
                "tls": self.site.tls,
            },
            headers=[("cache-control", "no-store")],
        )

    async def logout(self, request: Request, conn: GuardedRouter) -> Response:
        value = conn.cookie(request)
        if value is not None and value.startswith(SESSION_PREFIX):
            self.site.state.sessions.drop(value)
        return Response.json({"ok": True}, headers=[self._set_cookie("", 0)])
