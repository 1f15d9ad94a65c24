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

importScripts("/static/vendor/idb-8.0.4.umd.js", "/static/js/outbox.js");

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
  if (msg.type === "drain") event.waitUntil(self.Outbox.drain({ csrf: msg.csrf }));
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
  if (first) return first;
  const cached = await fromCache(event.request);
  if (cached) return cached;
  const late = await network.catch(() => null);
  return late || (await caches.match("/offline"));
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
