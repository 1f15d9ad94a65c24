"""CSRF protection and security headers for every response."""
from __future__ import annotations

import hmac
import secrets

from quart import current_app, g, request

CSRF_COOKIE = "csrf"
CSRF_HEADER = "X-CSRF-Token"
CSRF_FIELD = "csrf_token"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_MAX_AGE = 365 * 24 * 3600


class CsrfError(Exception):
    """A state-changing request without a valid CSRF token."""


def csrf_token() -> str:
    """The token for forms and htmx headers (double-submit cookie, set on first use)."""
    if "csrf" not in g:
        g.csrf = request.cookies.get(CSRF_COOKIE) or secrets.token_urlsafe(32)
    return g.csrf


async def check_csrf() -> None:
    """before_request: refuse unsafe methods whose token does not match the cookie."""
    if request.method in SAFE_METHODS:
        return
    view = current_app.view_functions.get(request.endpoint or "")
    if getattr(view, "_csrf_exempt", False):
        return
    cookie = request.cookies.get(CSRF_COOKIE, "")
    sent = request.headers.get(CSRF_HEADER, "")
    if not sent:
        form = await request.form
        sent = form.get(CSRF_FIELD, "")
    if not cookie or not sent or not hmac.compare_digest(cookie, sent):
        raise CsrfError()


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
    """after_request: security headers, and the CSRF cookie when it was first issued."""
    h = response.headers
    h.setdefault("Content-Security-Policy", content_security_policy())
    h["X-Content-Type-Options"] = "nosniff"
    h["X-Frame-Options"] = "DENY"
    h["Referrer-Policy"] = "same-origin"
    h["Permissions-Policy"] = "camera=(self), microphone=(), geolocation=(), usb=()"
    h["Cross-Origin-Opener-Policy"] = "same-origin"
    if current_app.config["SETTINGS"].secure_cookies:
        h["Strict-Transport-Security"] = "max-age=31536000; includeSubDomains"
    if getattr(g, "user", None) is not None and "Cache-Control" not in h:
        h["Cache-Control"] = "no-store"  # pages of signed-in users hold personal data
    if "csrf" in g and request.cookies.get(CSRF_COOKIE) != g.csrf:
        # persistent, so captures queued offline keep a valid token across browser restarts
        response.set_cookie(CSRF_COOKIE, g.csrf, httponly=True, samesite="Lax", max_age=CSRF_MAX_AGE,
                            secure=current_app.config["SETTINGS"].secure_cookies)
    return response
