"""Issue 6's figures, measured in Debian's Chromium against the real server with demo data:

1. first load of "Toma de biométricos" on a fresh device: bytes on the wire (gzip), without photos;
2. a repeat load served by the service worker, offline: first contentful paint;
3. 200 captures stored offline upload in order, without a failure, when the connection returns.

    .venv/bin/python -m bench.bench_offline
"""
from __future__ import annotations

import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))


def first_load_bytes(browser, url: str, sign_in) -> tuple[int, int]:
    """(bytes, requests) of /captura in a fresh profile with service workers blocked."""
    context = browser.new_context(base_url=url, service_workers="block")
    page = context.new_page()
    sign_in(page, "cdazteca@conalepmex.edu.mx")
    cdp = context.new_cdp_session(page)
    cdp.send("Network.enable")
    cdp.send("Network.setCacheDisabled", {"cacheDisabled": True})
    sizes: dict[str, int] = {}
    cdp.on("Network.loadingFinished", lambda e: sizes.__setitem__(e["requestId"], e["encodedDataLength"]))
    page.goto("/captura")
    page.wait_for_load_state("networkidle")
    context.close()
    return sum(sizes.values()), len(sizes)


def repeat_paint_ms(page) -> float:
    """First contentful paint of /captura served by the service worker while offline."""
    page.goto("/captura")
    page.wait_for_function("() => navigator.serviceWorker.controller !== null")
    page.context.set_offline(True)
    page.reload()
    page.wait_for_load_state("load")
    fcp = page.evaluate("() => performance.getEntriesByType('paint')"
                        ".find(p => p.name === 'first-contentful-paint')?.startTime")
    page.context.set_offline(False)
    return fcp


def upload_200(page, live_server, new_student, enqueue, outbox) -> tuple[float, list[str], list[str]]:
    """Seconds to drain 200 offline captures; statuses; the server's order vs the device's."""
    students = [new_student(live_server) for _ in range(200)]
    page.goto("/pendientes")
    page.wait_for_function("() => window.PWA && PWA.ready === true")
    page.context.set_offline(True)
    for m in students:
        enqueue(page, m)
    page.context.set_offline(False)
    start = time.perf_counter()
    for _ in range(10):
        if page.evaluate("() => PWA.drain(true).then(() => Outbox.counts())")["pending"] == 0:
            break
    seconds = time.perf_counter() - start
    states = [i["status"] for i in outbox(page) if i["matricula"] in set(students)]
    rows = live_server.query(
        "SELECT a.matricula FROM capturas c JOIN alumnos a ON a.id = c.alumno_id WHERE a.matricula = ANY($1) "
        "ORDER BY c.received_at, c.alumno_id", students)
    return seconds, states, [r["matricula"] for r in rows] == students


def main() -> None:
    """Run the three measurements and print them."""
    from playwright.sync_api import sync_playwright

    from app.pgembed import embedded_url
    from tests.e2e.conftest import CHROMIUM, CHROMIUM_ARGS, LiveServer, sign_in
    from tests.e2e.test_offline_e2e import enqueue, new_student, outbox

    server = LiveServer(os.environ.get("BENCH_DATABASE_URL") or embedded_url())
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)
            size, count = first_load_bytes(browser, server.url, sign_in)
            with tempfile.TemporaryDirectory() as profile:
                context = browser.browser_type.launch_persistent_context(
                    profile, executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS, base_url=server.url)
                page = context.pages[0]
                page.set_default_timeout(120_000)
                sign_in(page, "cdazteca@conalepmex.edu.mx", remember=True)
                fcp = repeat_paint_ms(page)
                seconds, states, ordered = upload_200(page, server, new_student, enqueue, outbox)
                context.close()
            browser.close()
    finally:
        server.stop()
    load = os.getloadavg()[0]
    print(f"load average {load:.1f}")
    print(f"first load of /captura: {size / 1024:.1f} KB on the wire in {count} responses (target < 150 KB)")
    print(f"repeat load from the service worker, offline: first contentful paint {fcp:.0f} ms (target < 1 s)")
    print(f"200 offline captures: {states.count('sent')} sent, {len(states) - states.count('sent')} not, "
          f"server order matches device order: {ordered}, {seconds:.1f} s")


if __name__ == "__main__":
    main()
