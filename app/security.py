"""CSRF protection and security headers for every response.

The CSRF token is bound to who is asking, never chosen by the client:
- signed in: HMAC(SECRET_KEY, server-side session id); a new session (sign-in) is a new token,
  and the token dies with the session (sign-out, password change, expiry);
- anonymous (sign-in, recovery and reset forms): a token signed with SECRET_KEY (itsdangerous,
  12 hours), issued by the server and kept in the `csrf` cookie; the form must send the cookie's
  value. Sign-out issues a fresh one, so the next user never inherits it.
The `csrf` cookie (HttpOnly) always mirrors the current token: templates use `csrf_token()`,
htmx sends it as `X-CSRF-Token` from `<body hx-headers>`, forms as the `csrf_token` field.
"""
from __future__ import annotations

import hashlib
import hmac
import re
import secrets
from urllib.parse import unquote, urlsplit

from itsdangerous import BadSignature, URLSafeTimedSerializer
from quart import current_app, g, request

CSRF_COOKIE = "csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
ANON_MAX_AGE = 12 * 3600
CSRF_COOKIE_MAX_AGE = 30 * 24 * 3600  # as long as the longest session ("Mantener sesión iniciada")


class CsrfError(Exception):
    """A state-changing request without a valid CSRF token."""


def _secret() -> str:
    """The app's secret key."""
    return current_app.config["SETTINGS"].secret_key


def session_token(session_id: str) -> str:
    """The CSRF token of a server-side session: HMAC of its id, so it cannot be chosen or reused elsewhere."""
    return hmac.new(_secret().encode(), b"csrf-session:" + session_id.encode(), hashlib.sha256).hexdigest()


def _anon_signer() -> URLSafeTimedSerializer:
    """Signs the pre-login tokens."""
    return URLSafeTimedSerializer(_secret(), salt="csrf-anonimo")


def _valid_anon(token: str) -> bool:
    """True for an anonymous token this server issued in the last 12 hours."""
    try:
        _anon_signer().loads(token, max_age=ANON_MAX_AGE)
    except (BadSignature, UnicodeError, ValueError):
        return False
    return True


def _current_session_id() -> str | None:
    """The signed-in user's server-side session id, or None."""
    user = getattr(g, "user", None)
    return user.session_id if user is not None else None


def _expected(session_id: str | None) -> str:
    """The token for this session, or the anonymous token of this browser (a new one when it has none)."""
    if session_id:
        return session_token(session_id)
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return cookie if _valid_anon(cookie) else _anon_signer().dumps(secrets.token_urlsafe(16))


def csrf_token() -> str:
    """The current session's token, for forms, htmx headers and the offline outbox."""
    if "csrf" not in g:
        g.csrf = _expected(_current_session_id())
    return g.csrf


def rotate_csrf(session_id: str | None, persistent: bool = False) -> str:
    """A new token at sign-in (bound to the new session; its cookie lives as long as the session's)
    or at sign-out (a fresh anonymous one)."""
    g.csrf = session_token(session_id) if session_id else _anon_signer().dumps(secrets.token_urlsafe(16))
    g.csrf_max_age = CSRF_COOKIE_MAX_AGE if persistent else None
    return g.csrf


def token_is_valid(sent: str) -> bool:
    """Whether a sent token belongs to this request's session (or, anonymous, to this browser)."""
    if not sent:
        return False
    session_id = _current_session_id()
    if session_id:
        return _same(sent, session_token(session_id))
    cookie = request.cookies.get(CSRF_COOKIE, "")
    return bool(cookie) and _same(sent, cookie) and _valid_anon(sent)


def _same(a: str, b: str) -> bool:
    """Constant-time comparison that also accepts non-ASCII input (refused, never a 500)."""
    return hmac.compare_digest(a.encode("utf-8", "replace"), b.encode("utf-8", "replace"))


async def check_csrf() -> None:
    """before_request (after the user is loaded): refuse unsafe methods without this session's token."""
    if request.method in SAFE_METHODS:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "_csrf_exempt", False):
        return
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        form = await request.form
        sent = form.get(CSRF_FIELD, "")
    if not token_is_valid(sent):
        raise CsrfError()


# A same-origin relative path: one "/", then no second "/" or "\\" (browsers read both as "//host"),
# and only URL characters: no spaces, controls, tabs or CR/LF (browsers strip them, turning "/\t/x"
# into "//x"), no non-ASCII. Percent-escapes stay escaped: a browser does not decode them in a path.
_LOCAL_PATH = re.compile(r"/(?![/\\])[A-Za-z0-9\-._~!$&'()*+,;=:@%/?#]*")
_UNSAFE_DECODED = re.compile(r"[\x00-\x20\x7f\\]")


def safe_redirect(target: str | None, default: str) -> str:
    """target when it is a same-origin relative path, else default: the one check for every redirect
    taken from user input (`next=`), so `//evil`, `/\\evil`, `/%09/evil`, `https://evil`, CR/LF and NUL
    never reach a Location header."""
    if target and len(target) <= 2000 and _LOCAL_PATH.fullmatch(target):
        parts = urlsplit(target)
        decoded = unquote(parts.path)  # defence in depth: a proxy or server that decodes escapes
        if not parts.scheme and not parts.netloc and not _UNSAFE_DECODED.search(decoded) and decoded[1:2] not in ("/", "\\"):
            return target
    return default


def csrf_exempt(view):
    """Exempt a view that authenticates by bearer token instead of cookies (the company API)."""
    view._csrf_exempt = True
    return view


def content_security_policy() -> str:
    """A strict CSP: our own scripts only, the SigWeb service for signatures."""
    sigweb = current_app.config["SETTINGS"].sigweb_url
    origin = "/".join(sigweb.split("/")[:3])
    return ("default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
            f"media-src 'self' blob:; connect-src 'self' {origin}; worker-src 'self'; "
            "manifest-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; "
            "frame-ancestors 'none'")


async def add_headers(response):
    """after_request: security headers, and the CSRF cookie when the token is new or rotated."""
    h = response.headers
    h.setdefault("Content-Security-Policy", content_security_policy())
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h.setdefault("Referrer-Policy", "same-origin")  # a page may be stricter (/verificar: no-referrer)
    h["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=(), usb=()"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    if current_app.config["SETTINGS"].secure_cookies:
        h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if getattr(g, "user", None) is not None and "Cache-Control" not in h:
        h["Cache-Control"] = "no-store"  # pages of signed-in users hold personal data
    if "csrf" in g and request.cookies.get(CSRF_COOKIE) != g.csrf:
        response.set_cookie(CSRF_COOKIE, g.csrf, httponly=True, samesite="Lax", max_age=g.get("csrf_max_age"),
                            secure=current_app.config["SETTINGS"].secure_cookies)
    return response
