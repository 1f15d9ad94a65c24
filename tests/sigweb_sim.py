"""A small, real HTTP server answering Topaz SigWeb's endpoints (../shared/notes/sigweb.md) for tests.

    sim = SigWebSim().start()      # http://127.0.0.1:<port>/SigWeb/
    sim.sign()                     # the "student" writes on the pad (only while it is on)
    sim.requests                   # [(method, path)] seen, e.g. to check the pad was switched off
    sim.stop()

Paths that do not exist in SigWeb (GetSigImage/1, ClearTablet …) answer 404, and any CORS
preflight (OPTIONS) is recorded and refused, so a wrong bridge fails its tests.
Run alone for manual trials: python -m tests.sigweb_sim [port]
"""
from __future__ import annotations

import io
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from PIL import Image, ImageDraw

STROKE = [(0.08, 0.7), (0.2, 0.2), (0.35, 0.8), (0.5, 0.3), (0.65, 0.75), (0.8, 0.25), (0.92, 0.6)]


class SigWebSim:
    """State of one simulated SigWeb service with a T-LBK460 pad."""

    def __init__(self, port: int = 0, pad_connected: bool = True, version: str = "1.7.2.0", cert_days: int = 300):
        self.port = port
        self.pad_connected = pad_connected
        self.version = version
        self.cert_days = cert_days
        self.state = 0
        self.points: list[tuple[float, float]] = []
        self.sizes = {"DisplayXSize": 500, "DisplayYSize": 100, "ImageXSize": 500, "ImageYSize": 100,
                      "ImagePenWidth": 1, "JustifyMode": 0, "CompressionMode": 0}
        self.requests: list[tuple[str, str]] = []
        self.lock = threading.Lock()
        self.server: ThreadingHTTPServer | None = None

    @property
    def base_url(self) -> str:
        """The SigWeb base URL to configure."""
        return f"http://127.0.0.1:{self.port}/SigWeb/"

    def start(self) -> "SigWebSim":
        """Serve in a daemon thread."""
        self.server = ThreadingHTTPServer(("127.0.0.1", self.port), _handler(self))
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        """Stop serving."""
        if self.server:
            self.server.shutdown()
            self.server.server_close()

    def sign(self) -> bool:
        """Write a signature on the pad; ignored (False) while the pad is off or absent."""
        with self.lock:
            if self.state != 1:
                return False
            self.points.extend(STROKE)
            return True

    def image(self, w: int, h: int, pen: int) -> bytes:
        """PNG of the ink at w×h."""
        img = Image.new("RGB", (max(1, w), max(1, h)), "white")
        if len(self.points) > 1:
            ImageDraw.Draw(img).line([(x * w, y * h) for x, y in self.points], fill="black", width=max(1, pen))
        out = io.BytesIO()
        img.save(out, "PNG")
        return out.getvalue()

    def answer(self, method: str, path: str) -> tuple[int, str, bytes]:
        """(status, content type, body) of one request."""
        parts = path.strip("/").split("/")
        if parts[0] != "SigWeb" or len(parts) < 2:
            return 404, "text/plain", b"not found"
        name, arg = parts[1], (parts[2] if len(parts) > 2 else None)
        with self.lock:
            return self._dispatch(method, name, arg)

    def _text(self, value) -> tuple[int, str, bytes]:
        """A quoted text answer, as SigWeb sends."""
        return 200, "text/plain", f'"{value}"'.encode()

    def _dispatch(self, method: str, name: str, arg: str | None) -> tuple[int, str, bytes]:
        """The endpoint table."""
        if name == "TabletState" and method == "GET" and arg is None:
            return self._text(self.state)
        if name == "TabletState" and method == "POST" and arg in ("0", "1"):
            self.state = 1 if arg == "1" and self.pad_connected else 0
            return self._text(self.state)
        if name == "SigWebVersion" and method == "GET":
            return self._text(self.version)
        if name == "DaysUntilCertificateExpires" and method == "GET":
            return self._text(self.cert_days)
        if name == "TotalPoints" and method == "GET":
            return self._text(len(self.points))
        if name == "ClearSignature" and method == "GET":
            self.points.clear()
            return self._text(0)
        if name == "SigImage" and method == "GET" and arg in ("0", "1"):
            s = self.sizes
            w, h, pen = ((s["DisplayXSize"], s["DisplayYSize"], 2) if arg == "0"
                         else (s["ImageXSize"], s["ImageYSize"], s["ImagePenWidth"]))
            return 200, "image/png", self.image(w, h, pen)
        if name in self.sizes and method == "POST" and arg and arg.isdigit():
            self.sizes[name] = int(arg)
            return self._text(arg)
        if name == "SigString" and method == "GET":
            return self._text("".join(f"{int(x * 1000):04X}{int(y * 1000):04X}" for x, y in self.points))
        if name == "Reset" and method == "POST":
            self.state, self.points = 0, []
            return self._text(0)
        return 404, "text/plain", b"unknown SigWeb path"


def _handler(sim: SigWebSim):
    """A request handler class bound to sim."""

    class Handler(BaseHTTPRequestHandler):
        """Answers like SigWeb, with CORS for any origin (as SigWeb does)."""

        def _reply(self, method: str) -> None:
            """Record and answer."""
            path = self.path.split("?")[0]
            sim.requests.append((method, path))
            length = int(self.headers.get("Content-Length") or 0)
            if length:
                self.rfile.read(length)
            status, ctype, body = sim.answer(method, path)
            self.send_response(status)
            self.send_header("Content-Type", ctype)
            self.send_header("Content-Length", str(len(body)))
            self.send_header("Access-Control-Allow-Origin", "*")
            self.send_header("Cache-Control", "no-store")
            self.end_headers()
            self.wfile.write(body)

        def do_GET(self) -> None:  # noqa: N802 — http.server naming
            """GET endpoints."""
            self._reply("GET")

        def do_POST(self) -> None:  # noqa: N802
            """POST endpoints."""
            self._reply("POST")

        def do_OPTIONS(self) -> None:  # noqa: N802
            """A preflight means the bridge sent a non-simple request: refuse it."""
            sim.requests.append(("OPTIONS", self.path))
            self.send_response(405)
            self.end_headers()

        def log_message(self, *args) -> None:
            """Quiet."""

    return Handler


if __name__ == "__main__":
    s = SigWebSim(int(sys.argv[1]) if len(sys.argv) > 1 else 47289).start()
    print(f"SigWeb simulado en {s.base_url}  (escriba 'f' + Enter para firmar, Ctrl-C para salir)")
    try:
        for line in sys.stdin:
            print("firmado" if s.sign() else "el PAD está apagado")
    except KeyboardInterrupt:
        s.stop()
