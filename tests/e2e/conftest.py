"""Browser tests: the real app served by hypercorn in a subprocess (demo data in its own
database) and Playwright driving Debian's Chromium at /usr/bin/chromium, headless.

Without Chromium the tests skip with the reason; with E2E_REQUIRED=1 (set by .ci/run) that
is a failure instead.
"""
from __future__ import annotations

import asyncio
import concurrent.futures
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import asyncpg
import pytest

from ..conftest import ROOT, FIXTURES, create_database, drop_database

CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
    "--disable-component-update", "--disable-sync", "--use-fake-ui-for-media-stream",
    "--use-fake-device-for-media-stream",
    f"--use-file-for-fake-video-capture={FIXTURES / 'camera' / 'rostro-1280x720.mjpeg'}",
]
DEMO_PASSWORD = "demo1234"


def _free_port() -> int:
    """An unused TCP port on loopback."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _require_browser() -> None:
    """Skip (or fail under E2E_REQUIRED=1) when Chromium or Playwright is missing."""
    reason = None
    if not (Path(CHROMIUM).exists() or shutil.which(CHROMIUM)):
        reason = f"Chromium no está instalado en {CHROMIUM} (apt-get install chromium)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            reason = "falta el paquete playwright"
    if reason:
        if os.environ.get("E2E_REQUIRED") == "1":
            pytest.fail(reason)
        pytest.skip(reason)


def run(coro):
    """Run a coroutine from a synchronous browser test, in a thread with its own event loop
    (Playwright's sync API keeps a loop running in the test's thread)."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


class LiveServer:
    """The app in a subprocess with demo data; `.url`, `.db_url`, `.query(sql, *args)`."""

    def __init__(self, server_url: str) -> None:
        self.server_url = server_url
        self.db_url = run(create_database(server_url, "crede2e"))
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "DATABASE_URL": self.db_url, "PORT": str(self.port), "SECRET_KEY": "e2e-secret",
               "PUBLIC_URL": self.url, **self.extra_env()}
        self.log = open(ROOT / "var" / f"e2e-server-{self.port}.log", "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "app", "serve", "--demo", "--port", str(self.port)],
                                     cwd=ROOT, env=env, stdout=self.log, stderr=subprocess.STDOUT)
        self._wait()

    def extra_env(self) -> dict[str, str]:
        """Settings for the served app (SIGWEB_URL etc. via E2E_APP_ENV_* variables)."""
        return {k.removeprefix("E2E_APP_ENV_"): v for k, v in os.environ.items() if k.startswith("E2E_APP_ENV_")}

    def _wait(self, timeout: float = 120) -> None:
        """Wait until /salud answers."""
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"el servidor terminó; vea {self.log.name}")
            try:
                with urllib.request.urlopen(self.url + "/salud", timeout=2) as r:
                    if r.status == 200:
                        return
            except OSError:
                time.sleep(0.3)
        raise RuntimeError("el servidor no respondió a tiempo")

    def query(self, sql: str, *args):
        """Rows of a query against the served database."""
        async def go():
            conn = await asyncpg.connect(self.db_url)
            try:
                return [dict(r) for r in await conn.fetch(sql, *args)]
            finally:
                await conn.close()
        return run(go())

    def stop(self) -> None:
        """Stop the server and drop its database."""
        self.proc.terminate()
        try:
            self.proc.wait(15)
        except subprocess.TimeoutExpired:
            self.proc.kill()
        self.log.close()
        run(drop_database(self.server_url, self.db_url))


@pytest.fixture(scope="session")
def live_server(server_url):
    """One served app with demo data for all browser tests of the session."""
    _require_browser()
    (ROOT / "var").mkdir(exist_ok=True)
    server = LiveServer(server_url)
    yield server
    server.stop()


@pytest.fixture(scope="session")
def browser():
    """Headless Chromium (Debian's) through Playwright."""
    _require_browser()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
        yield b
        b.close()


@pytest.fixture
def page(browser, live_server):
    """A fresh browser context and page (downloads allowed, camera granted)."""
    context = browser.new_context(accept_downloads=True, locale="es-MX", base_url=live_server.url,
                                  permissions=["camera"])
    pg = context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


@pytest.fixture
def persistent_page(browser, live_server, tmp_path):
    """A page in a persistent (non-incognito) profile, as an installed app has: service workers,
    installability and cookies behave as on the operators' tablets."""
    context = browser.browser_type.launch_persistent_context(
        str(tmp_path / "perfil"), executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS,
        base_url=live_server.url, locale="es-MX")
    pg = context.pages[0] if context.pages else context.new_page()
    pg.set_default_timeout(15_000)
    yield pg
    context.close()


def sign_in(page, email: str, password: str = DEMO_PASSWORD, remember: bool = False) -> None:
    """Sign in through the login form ("Mantener sesión iniciada" when remember)."""
    page.goto("/login")
    page.get_by_label("Usuario").fill(email)
    page.get_by_label("Contraseña").fill(password)
    if remember:
        page.get_by_label("Mantener sesión iniciada").check()
    page.get_by_role("button", name="Iniciar sesión").click()
    try:
        page.wait_for_url(lambda url: "/login" not in url)
    except Exception:
        alert = page.locator(".error").all_inner_texts()
        raise AssertionError(f"no se pudo iniciar sesión como {email}: {alert} ({page.url})")


@pytest.fixture(autouse=True)
def clean():
    """Browser tests use the served demo database, not the per-test cleaned one."""
    yield
