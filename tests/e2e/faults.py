"""A real reverse proxy in front of the served app that injects the faults a plantel's network has.

The browser (pages AND the service worker) talks to the proxy's origin, so every request is subject to
the fault in force, as behind a real proxy or captive portal. A fault is a function of (method, path)
returning None (forward) or one of: "502" (the app is down behind the proxy), "hang" (the answer never
comes; the request may reach the app first with "hang-after"), "portal" (a Wi-Fi login page answers
200 text/html), or an (status, content_type, body) tuple.
"""
from __future__ import annotations

import http.client
import http.server
import socketserver
import threading
import time
from typing import Callable
from urllib.parse import urlsplit

PORTAL_PAGE = b"<!doctype html><title>Acceso a internet</title><h1>Bienvenido a la red WiFi</h1><form>...</form>"
HOP = {"connection", "keep-alive", "transfer-encoding", "te", "trailer", "upgrade", "proxy-connection"}


class FaultProxy:
    """`FaultProxy(target_url)`: `.url`, `.fault = fn | None`, `.seen` (method, path) log, `.close()`."""

    def __init__(self, target: str) -> None:
        self.target = urlsplit(target)
        self.fault: Callable[[str, str], object] | None = None
        self.seen: list[tuple[str, str]] = []
        self.release = threading.Event()  # set to let hung requests finish (teardown)
        proxy = self

        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):  # noqa: D102 — quiet
                pass

            def _any(self):
                proxy.handle(self)

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = _any

        class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
            daemon_threads = True

        self.server = Server(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def handle(self, h) -> None:
        """Apply the fault in force to one request, or forward it."""
        body = h.rfile.read(int(h.headers.get("Content-Length") or 0))
        self.seen.append((h.command, h.path))
        fault = self.fault(h.command, h.path) if self.fault else None
        if fault == "hang":
            self.release.wait(120)
            return
        if fault == "hang-after":
            self.forward(h, body, reply=False)
            self.release.wait(120)
            return
        if fault == "502":
            return self.answer(h, 502, "text/html", b"<html><body><h1>502 Bad Gateway</h1><hr>nginx</body></html>")
        if fault == "portal":
            return self.answer(h, 200, "text/html; charset=utf-8", PORTAL_PAGE)
        if isinstance(fault, tuple):
            return self.answer(h, *fault)
        self.forward(h, body)

    def forward(self, h, body: bytes, reply: bool = True) -> None:
        """Send the request to the app and (when reply) its answer back to the browser."""
        conn = http.client.HTTPConnection(self.target.hostname, self.target.port, timeout=60)
        headers = {k: v for k, v in h.headers.items() if k.lower() not in HOP}
        conn.request(h.command, h.path, body=body or None, headers=headers)
        res = conn.getresponse()
        data = res.read()
        conn.close()
        if not reply:
            return
        h.send_response(res.status)
        for k, v in res.getheaders():
            if k.lower() not in HOP and k.lower() != "content-length":
                h.send_header(k, v)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    @staticmethod
    def answer(h, status: int, ctype: str, data: bytes) -> None:
        """A canned answer."""
        h.send_response(status)
        h.send_header("Content-Type", ctype)
        h.send_header("Content-Length", str(len(data)))
        h.end_headers()
        h.wfile.write(data)

    def posts_to(self, fragment: str) -> int:
        """How many POSTs whose path contains fragment reached the proxy."""
        return sum(1 for m, p in self.seen if m == "POST" and fragment in p)

    def wait_posts(self, fragment: str, n: int, timeout: float = 20) -> bool:
        """Wait until at least n such POSTs were seen."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.posts_to(fragment) >= n:
                return True
            time.sleep(0.1)
        return False

    def close(self) -> None:
        """Stop serving; hung requests are let go."""
        self.release.set()
        self.server.shutdown()
        self.server.server_close()
