// Service worker (served at /sw.js with root scope; the server fills VERSION and SHELL).
// Pages: network first with a short timeout, then the cache, then the offline page.
// Never cached: POSTs, sign-in, biometric images, downloads. The outbox drains on Background Sync.
"use strict";
const VERSION = "__VERSION__";
const SHELL = __SHELL__;
const SHELL_CACHE = `shell-${VERSION}`;
const PAGES_CACHE = "pages-v1";
const PAGE_PATHS = new Set(["/", "/captura", "/pendientes", "/offline"]);
const NO_CACHE_PREFIXES = ["/biometricos/", "/reporte", "/login", "/logout", "/recuperar", "/restablecer",
  "/api/", "/pwa/", "/salud", "/verificar/", "/temporal/", "/ordenes/"];
const NETWORK_TIMEOUT_MS = 4000;

importScripts("/static/vendor/idb-8.0.4.umd.js", "/static/js/vault.js", "/static/js/outbox.js");

self.addEventListener("install", (event) => {
  // No skipWaiting here: the page offers "Nueva versión disponible — Recargar".
  event.waitUntil(caches.open(SHELL_CACHE).then((c) => c.addAll(SHELL)));
});

self.addEventListener("activate", (event) => {
  event.waitUntil((async () => {
    for (const key of await caches.keys()) {
      if (key.startsWith("shell-") && key !== SHELL_CACHE) await caches.delete(key);
    }
    await self.clients.claim();
  })());
});

self.addEventListener("message", (event) => {
  const msg = event.data || {};
  if (msg.type === "skipWaiting") self.skipWaiting();
  if (msg.type === "purge-pages") event.waitUntil(caches.delete(PAGES_CACHE));
  if (msg.type === "drain") event.waitUntil(self.Outbox.drain({}));
});

self.addEventListener("sync", (event) => {
  if (event.tag === "outbox") event.waitUntil(self.Outbox.drain({}));
});

function timeout(ms) {
  return new Promise((resolve) => setTimeout(() => resolve(null), ms));
}

async function fromCache(request) {
  return (await caches.match(request, { ignoreSearch: false })) ||
    (await caches.match(new URL(request.url).pathname));
}

// A cached page marked for pwa.js's banner: why the server's copy is not shown ("red" or "error 502").
async function marked(cached, why) {
  const html = (await cached.text()).replace("<body ", `<body data-desde-cache="${why}" `);
  return new Response(html, { status: 200, headers: { "Content-Type": "text/html; charset=utf-8" } });
}

// Network first; a network failure, a timeout or a 5xx answer (proxy 502, database down 503) is treated
// alike: the cached page (capture keeps working), else the offline page.
async function navigate(event) {
  const url = new URL(event.request.url);
  const network = fetch(event.request).then(async (res) => {
    if (res.ok && res.type === "basic" && PAGE_PATHS.has(url.pathname) && !url.search) {
      const cache = await caches.open(PAGES_CACHE);
      await cache.put(url.pathname, res.clone());
    }
    return res;
  });
  event.waitUntil(network.catch(() => null));
  const first = await Promise.race([network.catch(() => null), timeout(NETWORK_TIMEOUT_MS)]);
  if (first && first.status < 500) return first;
  const why = first ? `error ${first.status}` : "red";
  const cached = await fromCache(event.request);
  if (cached) return marked(cached, why);
  if (first) return first;  // a server error page beats the generic offline page
  const late = await network.catch(() => null);
  if (late && late.status < 500) return late;
  const offline = await caches.match("/offline");
  return offline ? marked(offline, why) : late;
}

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (NO_CACHE_PREFIXES.some((p) => url.pathname.startsWith(p))) return;
  if (request.mode === "navigate") {
    event.respondWith(navigate(event));
    return;
  }
  if (url.pathname.startsWith("/static/") || url.pathname === "/manifest.webmanifest") {
    event.respondWith(caches.match(request, { ignoreSearch: true }).then((hit) => hit || fetch(request)));
  }
});
