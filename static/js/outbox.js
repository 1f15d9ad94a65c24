// The capture outbox in IndexedDB, shared by pages and the service worker (no DOM use here).
// A capture is written here BEFORE the first network attempt and sent once, in one multipart
// request carrying its idempotency key (the record id, a UUID made on the device).
// Statuses: pending → sending → sent | needs_attention. Nothing is dropped silently.
"use strict";
(function (global) {
  const DB_NAME = "credencializacion";
  const DB_VERSION = 1;
  const LEASE_MS = 60 * 1000;        // a "sending" item older than this returns to pending
  const MAX_BACKOFF_MS = 5 * 60 * 1000;
  const KEEP_SENT_MS = 24 * 3600 * 1000;
  let dbPromise = null;
  const inflight = new Set();  // ids this context is sending right now

  function openDb() {
    if (!dbPromise) {
      dbPromise = global.idb.openDB(DB_NAME, DB_VERSION, {
        upgrade(db) {
          const outbox = db.createObjectStore("outbox", { keyPath: "id" });
          outbox.createIndex("createdAt", "createdAt");
          db.createObjectStore("roster", { keyPath: "matricula" });
          db.createObjectStore("meta");
        },
      });
    }
    return dbPromise;
  }

  function uuid() {
    if (global.crypto && global.crypto.randomUUID) return global.crypto.randomUUID();
    const b = global.crypto.getRandomValues(new Uint8Array(16));
    b[6] = (b[6] & 0x0f) | 0x40; b[8] = (b[8] & 0x3f) | 0x80;
    const h = Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");
    return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20)}`;
  }

  function announce() {
    // Pages listen to this to refresh the badge and the Pendientes page.
    if (global.BroadcastChannel) new global.BroadcastChannel("outbox").postMessage("changed");
  }

  // item: {url, matricula, label, fields: {name: value}, files: {name: {bytes: ArrayBuffer, type, filename}}, csrf}
  async function add(item) {
    const now = Date.now();
    const record = Object.assign({ id: uuid(), capturedAt: new Date(now).toISOString() }, item, {
      status: "pending", attempts: 0, nextAttemptAt: 0, leaseUntil: 0, lastError: "", createdAt: now, response: null,
    });
    await (await openDb()).put("outbox", record);
    announce();
    return record;
  }

  async function all() {
    return (await openDb()).getAllFromIndex("outbox", "createdAt");
  }

  async function get(id) { return (await openDb()).get("outbox", id); }

  async function put(record) { await (await openDb()).put("outbox", record); announce(); }

  async function remove(id) { await (await openDb()).delete("outbox", id); announce(); }

  async function counts() {
    const items = await all();
    const c = { pending: 0, sending: 0, sent: 0, needs_attention: 0 };
    items.forEach((i) => { c[i.status] = (c[i.status] || 0) + 1; });
    c.waiting = c.pending + c.sending + c.needs_attention;
    return c;
  }

  function due(item, now, force) {
    if (item.status === "sending") return item.leaseUntil < now;  // abandoned by a closed tab
    return item.status === "pending" && (force || item.nextAttemptAt <= now);
  }

  function formOf(item, csrf) {
    const fd = new FormData();
    Object.entries(item.fields || {}).forEach(([k, v]) => fd.append(k, v));
    Object.entries(item.files || {}).forEach(([k, f]) => fd.append(k, new Blob([f.bytes], { type: f.type }), f.filename));
    fd.append("clave", item.id);
    fd.append("capturado_en", item.capturedAt);
    return fd;
  }

  async function errorText(res) {
    try {
      const body = await res.clone().json();
      if (body && body.error) return body.error;
    } catch (e) { /* not JSON */ }
    return `Error ${res.status} del servidor`;
  }

  // One attempt for one item; returns the updated record.
  async function sendOne(item, csrf) {
    item.status = "sending";
    item.leaseUntil = Date.now() + LEASE_MS;
    item.attempts += 1;
    await put(item);
    inflight.add(item.id);
    try {
      return await attempt(item, csrf);
    } finally {
      inflight.delete(item.id);
    }
  }

  async function attempt(item, csrf) {
    let res;
    try {
      res = await global.fetch(item.url, {
        method: "POST", body: formOf(item, csrf), credentials: "same-origin", redirect: "manual",
        headers: { "X-CSRF-Token": csrf || item.csrf || "", Accept: "application/json", "X-Outbox": "1" },
      });
    } catch (e) {
      return retryLater(item, "Sin conexión con el servidor");
    }
    if (res.ok) {
      item.status = "sent";
      item.response = await res.clone().json().catch(() => ({}));
      item.files = {};  // the bytes are on the server now; keep the record for the list
      item.sentAt = Date.now();
      item.lastError = "";
      await put(item);
      return item;
    }
    if (res.type === "opaqueredirect" || res.status === 401) {
      return retryLater(item, "La sesión terminó: inicie sesión para enviar.", true);
    }
    if (res.status === 409 || res.status === 422) {
      item.status = "needs_attention";
      item.lastError = await errorText(res);
      item.response = await res.clone().json().catch(() => null);
      await put(item);
      return item;
    }
    if (res.status === 400 || res.status === 403) {
      return retryLater(item, await errorText(res), true);
    }
    return retryLater(item, await errorText(res));
  }

  async function retryLater(item, message, noBackoff) {
    item.status = "pending";
    item.lastError = message;
    item.leaseUntil = 0;
    const wait = noBackoff ? 15000 : Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(item.attempts, 9));
    item.nextAttemptAt = Date.now() + wait;
    await put(item);
    return item;
  }

  async function drainLocked(opts) {
    const now = Date.now();
    const items = (await all()).filter((i) => due(i, now, opts.force));
    let sent = 0;
    for (const item of items) {
      const fresh = await get(item.id);  // another context may have handled it meanwhile
      if (!fresh || !due(fresh, Date.now(), opts.force)) continue;
      const result = await sendOne(fresh, opts.csrf);
      if (result.status === "sent") sent += 1;
      else if (result.status === "pending" && result.lastError.startsWith("Sin conexión")) break;  // stay in order
    }
    await prune();
    return sent;
  }

  // One drain at a time across tabs and the service worker (Web Locks where available): a drain
  // asked for while another runs waits for it, then sends whatever is still due.
  async function drain(opts) {
    opts = opts || {};
    if (global.navigator && global.navigator.locks) {
      return global.navigator.locks.request("outbox-drain", () => drainLocked(opts));
    }
    return drainLocked(opts);
  }

  async function prune() {
    const old = Date.now() - KEEP_SENT_MS;
    for (const i of await all()) if (i.status === "sent" && i.sentAt < old) await remove(i.id);
  }

  // The page is going away mid-send: hand its items back at once instead of waiting for the
  // lease (re-sending is safe: the server answers a known key with its original result).
  async function releaseInflight() {
    for (const id of Array.from(inflight)) {
      const item = await get(id);
      if (item && item.status === "sending") {
        item.status = "pending"; item.leaseUntil = 0;
        await put(item);
      }
    }
  }

  async function retry(id) {
    const item = await get(id);
    if (!item) return;
    item.status = "pending"; item.nextAttemptAt = 0; item.leaseUntil = 0;
    await put(item);
  }

  async function reassign(id, matricula, url) {
    const item = await get(id);
    if (!item) return;
    item.matricula = matricula; item.url = url; item.label = matricula;
    item.fields = Object.assign({}, item.fields, { matricula });
    item.id = uuid();  // a different student is a different capture: new idempotency key
    await (await openDb()).delete("outbox", id);
    item.status = "pending"; item.nextAttemptAt = 0; item.lastError = "";
    await put(item);
  }

  // Roster for offline look-up ("Preparar sin conexión").
  async function saveRoster(students, meta) {
    const db = await openDb();
    const tx = db.transaction(["roster", "meta"], "readwrite");
    await tx.objectStore("roster").clear();
    for (const s of students) tx.objectStore("roster").put(s);
    tx.objectStore("meta").put(meta, "roster");
    await tx.done;
  }

  async function rosterMeta() { return (await openDb()).get("meta", "roster"); }
  async function rosterLookup(matricula) { return (await openDb()).get("roster", matricula); }
  async function clearRoster() {
    const db = await openDb();
    await db.clear("roster");
    await db.delete("meta", "roster");
  }

  global.Outbox = { add, all, get, put, remove, counts, drain, retry, reassign, uuid, releaseInflight,
    saveRoster, rosterMeta, rosterLookup, clearRoster };
})(self);
