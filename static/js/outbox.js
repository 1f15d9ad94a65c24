// The capture outbox in IndexedDB, shared by pages and the service worker (no DOM use here).
// A capture is written here BEFORE the first network attempt, encrypted with the plantel's device key
// (static/js/vault.js), and sent in one multipart request carrying its idempotency key (the record id).
// It leaves the outbox only on the app's own acknowledgement (JSON naming that key), is sent only in
// the session of the user who took it, and one student's captures go in the order they were taken.
// Statuses: pending → sending → sent | superseded | needs_attention. Nothing is dropped silently.
// Every failure mode and what the operator sees: docs/offline.md.
"use strict";
(function (global) {
  const V = global.Vault;
  // An answer that never comes must not hold the queue (tests shorten it with self.__outboxTimeoutMs).
  const UPLOAD_TIMEOUT_MS = global.__outboxTimeoutMs || 30 * 1000;
  const LEASE_MS = UPLOAD_TIMEOUT_MS + 15 * 1000;  // a "sending" item older than this returns to pending
  const MAX_BACKOFF_MS = 5 * 60 * 1000;
  const KEEP_SENT_MS = 24 * 3600 * 1000;
  const DONE = new Set(["sent", "superseded"]);
  const inflight = new Set();  // ids this context is sending right now
  let lastNet = { ok: true, reason: "" };  // the outcome of this context's last request to the server

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

  const db = () => V.openDb();
  async function all() { return (await db()).getAllFromIndex("outbox", "createdAt"); }
  async function get(id) { return (await db()).get("outbox", id); }
  async function put(record) { await (await db()).put("outbox", record); announce(); }
  async function remove(id) { await (await db()).delete("outbox", id); announce(); }

  // item: {url, urlTemplate, matricula, label, fields, files: {name: {bytes, type, filename}}, id?, capturedAt?}
  // owner: {user, email, plantel_id, key}: who takes it, and the device key that seals it.
  async function add(item, owner) {
    const now = Date.now();
    const { files, label, fields, ...plain } = item;
    const sealedFiles = {};
    for (const [name, f] of Object.entries(files || {})) {
      sealedFiles[name] = { box: await V.encryptBytes(owner.key, f.bytes), type: f.type, filename: f.filename };
    }
    const record = Object.assign({ id: uuid(), capturedAt: new Date(now).toISOString() }, plain, {
      user: owner.user, email: owner.email, plantel_id: owner.plantel_id,
      secret: await V.seal(owner.key, { label: label || item.matricula, fields: fields || {} }), files: sealedFiles,
      status: "pending", attempts: 0, nextAttemptAt: 0, leaseUntil: 0, lastError: "", waitFor: "", createdAt: now,
      response: null,
    });
    await supersedeRefused(record);
    await (await db()).put("outbox", record);
    announce();
    return record;
  }

  // A new capture of a student replaces that student's captures the server refused (e.g. photo warnings).
  async function supersedeRefused(record) {
    for (const old of await all()) {
      if (old.matricula === record.matricula && old.user === record.user && old.status === "needs_attention") {
        Object.assign(old, { status: "superseded", files: {}, lastError: "Reemplazada por una captura más reciente.",
          sentAt: Date.now() });
        await put(old);
      }
    }
  }

  // The decrypted label, fields and (when withFiles) file bytes of a record, or null without the key.
  async function reveal(record, key, withFiles) {
    if (!key || !record.secret) return null;
    try {
      const out = await V.open(key, record.secret);
      out.files = {};
      if (withFiles) {
        for (const [name, f] of Object.entries(record.files || {})) {
          out.files[name] = { bytes: await V.decryptBytes(key, f.box), type: f.type, filename: f.filename };
        }
      }
      return out;
    } catch (e) {
      return null;
    }
  }

  async function counts(user) {
    const c = { pending: 0, sending: 0, sent: 0, superseded: 0, needs_attention: 0, others: 0 };
    for (const i of await all()) {
      if (user && i.user !== user) { if (!DONE.has(i.status)) c.others += 1; continue; }
      c[i.status] = (c[i.status] || 0) + 1;
    }
    c.waiting = c.pending + c.sending + c.needs_attention;
    return c;
  }

  function due(item, now, force) {
    if (item.status === "sending") return item.leaseUntil < now;  // abandoned by a closed tab
    return item.status === "pending" && (force || item.waitFor === "session" || item.nextAttemptAt <= now);
  }

  function formOf(item, open) {
    const fd = new FormData();
    Object.entries(open.fields || {}).forEach(([k, v]) => fd.append(k, v));
    Object.entries(open.files).forEach(([k, f]) => fd.append(k, new Blob([f.bytes], { type: f.type }), f.filename));
    fd.append("clave", item.id);
    fd.append("capturado_en", item.capturedAt);
    if (item.takenBy) fd.append("capturado_por", String(item.takenBy));
    return fd;
  }

  // The Spanish reason of a refusal: our JSON's `error`, our HTML error page's message, or the status.
  async function errorText(res) {
    const text = await res.clone().text().catch(() => "");
    try {
      const body = JSON.parse(text);
      if (body && typeof body.error === "string") return body.error;
    } catch (e) { /* not JSON */ }
    const m = /<p[^>]*data-mensaje[^>]*>([\s\S]*?)<\/p>/.exec(text);
    if (m) return m[1].replace(/<[^>]*>/g, "").replace(/&#(\d+);/g, (_, d) => String.fromCharCode(+d))
      .replace(/&quot;/g, '"').replace(/&lt;/g, "<").replace(/&gt;/g, ">").replace(/&amp;/g, "&").trim();
    if ([502, 503, 504].includes(res.status)) return `El servidor no está disponible (error ${res.status}); se reintentará solo.`;
    return `El servidor respondió con un error ${res.status}; se reintentará solo.`;
  }

  // One attempt for one item in session s; returns "sent" | "refused" | "retry" | "offline" | "signed_out" |
  // "csrf" (our form-token refusal, when mayRetryToken).
  async function sendOne(item, s, mayRetryToken) {
    const open = await reveal(item, s.key, true);
    if (!open) {
      await retryLater(item, "No se pudo descifrar la captura con la llave de este plantel.", "attention");
      return "refused";
    }
    item.status = "sending";
    item.leaseUntil = Date.now() + LEASE_MS;
    item.attempts += 1;
    await put(item);
    inflight.add(item.id);
    try {
      return await attempt(item, open, s, mayRetryToken);
    } finally {
      inflight.delete(item.id);
    }
  }

  async function post(item, open, s) {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), UPLOAD_TIMEOUT_MS);
    try {
      return await global.fetch(item.url, {
        method: "POST", body: formOf(item, open), credentials: "same-origin", redirect: "manual", signal: ctl.signal,
        headers: { "X-CSRF-Token": s.csrf || "", Accept: "application/json", "X-Outbox": "1" },
      });
    } finally {
      clearTimeout(timer);
    }
  }

  async function attempt(item, open, s, mayRetryToken) {
    let res;
    try {
      res = await post(item, open, s);
    } catch (e) {
      const why = e.name === "AbortError"
        ? "El servidor no respondió a tiempo; se reintentará (si ya la recibió, no se duplica)."
        : "Sin conexión con el servidor; se enviará al regresar la conexión.";
      lastNet = { ok: false, reason: why };
      await retryLater(item, why);
      return e.name === "AbortError" ? "retry" : "offline";  // a slow answer holds back only its student
    }
    const body = await res.clone().json().catch(() => null);
    if (res.ok && body && body.ok === true && body.clave === item.id) return markSent(item, body);
    if (res.status === 401 && body && typeof body.error === "string") {  // our "Inicie sesión."
      await retryLater(item, "La sesión terminó: inicie sesión de nuevo y la captura se enviará sola.", "session");
      return "signed_out";
    }
    if (res.ok || res.status === 511 || (res.status < 500 && !isOurs(res, body))) {
      // a captive portal, proxy or login page answered, not the app: nothing was delivered
      lastNet = { ok: false, reason: "portal" };
      await retryLater(item, "La respuesta no vino del sistema (¿página de acceso a la red Wi-Fi o proxy?); se reintentará.");
      return "offline";
    }
    lastNet = { ok: true, reason: "" };
    if (res.status === 400 && !body && mayRetryToken) {
      Object.assign(item, { status: "pending", nextAttemptAt: 0, leaseUntil: 0 });
      await put(item);
      return "csrf";
    }
    if (res.status === 409 && body && body.codigo === "captura_anterior") {
      return markDone(item, "superseded", body, body.error);
    }
    if (res.status >= 400 && res.status < 500 && res.status !== 429 && res.status !== 408) {
      Object.assign(item, { status: "needs_attention", lastError: await errorText(res), response: body, leaseUntil: 0 });
      await put(item);
      return "refused";
    }
    await retryLater(item, await errorText(res));
    return [502, 503, 504].includes(res.status) ? "offline" : "retry";
  }

  // Our app answers refusals as JSON {ok: false, error} or with its HTML error page (data-mensaje).
  function isOurs(res, body) {
    if (body) return body.ok === false && typeof body.error === "string";
    return (res.headers.get("Content-Type") || "").startsWith("text/html") && res.headers.has("Content-Security-Policy");
  }

  async function markSent(item, body) {
    lastNet = { ok: true, reason: "" };
    return markDone(item, "sent", body, "");
  }

  async function markDone(item, status, body, message) {
    Object.assign(item, { status, response: body, files: {}, sentAt: Date.now(), lastError: message || "",
      leaseUntil: 0, waitFor: "" });  // the bytes are on the server (or superseded there); keep the record for the list
    await put(item);
    return status === "sent" ? "sent" : "refused";
  }

  async function retryLater(item, message, waitFor) {
    if (waitFor === "attention") {
      Object.assign(item, { status: "needs_attention", lastError: message, leaseUntil: 0 });
      await put(item);
      return item;
    }
    item.status = "pending";
    item.lastError = message;
    item.leaseUntil = 0;
    item.waitFor = waitFor || "";
    item.nextAttemptAt = Date.now() + Math.min(MAX_BACKOFF_MS, 1000 * 2 ** Math.min(item.attempts, 9));
    await put(item);
    return item;
  }

  // Send what is due for the signed-in user, oldest first. A failure of one student's capture holds that
  // student's later captures back (order per student); no network, no session or a portal stops the drain.
  async function drainLocked(opts) {
    const s = opts.session && opts.session.state === "ok" ? opts.session : await V.session();
    const result = { sent: 0, session: s.state };
    if (s.state !== "ok") {
      lastNet = { ok: false, reason: s.state };
      return result;
    }
    lastNet = { ok: true, reason: "" };
    const held = new Set();
    let retriedCsrf = false;  // at most one fresh token per drain
    for (const item of await all()) {
      if (item.user !== s.user || item.plantel_id !== s.plantel_id || held.has(item.matricula)) continue;
      const fresh = await get(item.id);  // another context may have handled it meanwhile
      if (!fresh || !due(fresh, Date.now(), opts.force)) {
        if (fresh && !DONE.has(fresh.status) && fresh.status !== "needs_attention") held.add(fresh.matricula);
        continue;
      }
      let outcome = await sendOne(fresh, s, !retriedCsrf);
      if (outcome === "csrf") {
        // our form-token refusal: the token rotated meanwhile; ask the session again, retry once
        retriedCsrf = true;
        const again = await V.session();
        if (again.state === "ok") s.csrf = again.csrf;
        outcome = await sendOne(await get(fresh.id), s, false);
      }
      if (outcome === "sent") result.sent += 1;
      else if (outcome === "offline" || outcome === "signed_out") { result.session = outcome; break; }
      else if (outcome === "retry") held.add(fresh.matricula);
    }
    await prune();
    return result;
  }

  // The server says the session ended: the user's waiting captures say so, and go as soon as they sign in again.
  async function sessionEnded(user) {
    for (const item of await all()) {
      if (item.user === user && item.status === "pending" && item.waitFor !== "session") {
        Object.assign(item, { waitFor: "session", lastError: "La sesión terminó: inicie sesión de nuevo y la captura se enviará sola." });
        await put(item);
      }
    }
  }

  // One drain at a time across tabs and the service worker (Web Locks where available). Nothing waits on a
  // drain forever: every request in it has a timeout.
  async function drain(opts) {
    opts = opts || {};
    if (global.navigator && global.navigator.locks) {
      return global.navigator.locks.request("outbox-drain", () => drainLocked(opts));
    }
    return drainLocked(opts);
  }

  async function prune() {
    const old = Date.now() - KEEP_SENT_MS;
    for (const i of await all()) if (DONE.has(i.status) && i.sentAt < old) await remove(i.id);
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

  // "Reintentar" (a "sending" item only once its lease has run out: it may still be on its way).
  async function retry(id) {
    const item = await get(id);
    if (!item || DONE.has(item.status) || (item.status === "sending" && item.leaseUntil >= Date.now())) return false;
    Object.assign(item, { status: "pending", nextAttemptAt: 0, leaseUntil: 0 });
    await put(item);
    return true;
  }

  // "Confirmo que la captura es correcta" with a motivo, for a capture refused for photo warnings.
  async function confirm(id, motivo, key) {
    const item = await get(id);
    const open = item && (await reveal(item, key, false));
    if (!open || item.status === "sending" || DONE.has(item.status)) return false;
    open.fields = Object.assign({}, open.fields, { confirmar: "1", motivo });
    item.secret = await V.seal(key, { label: open.label, fields: open.fields });
    Object.assign(item, { status: "pending", nextAttemptAt: 0, lastError: "", response: null });
    await put(item);
    return true;
  }

  // "Enviar a mi nombre": a colleague of the same plantel takes over a capture left on this device.
  async function adopt(id, s) {
    const item = await get(id);
    if (!item || item.plantel_id !== s.plantel_id || item.user === s.user || DONE.has(item.status)) return false;
    Object.assign(item, { takenBy: item.takenBy || item.user, takenByEmail: item.takenByEmail || item.email,
      user: s.user, email: s.email, status: "pending", nextAttemptAt: 0, leaseUntil: 0, waitFor: "" });
    await put(item);
    return true;
  }

  async function reassign(id, matricula, url, key) {
    const item = await get(id);
    const open = item && (await reveal(item, key, false));
    if (!open || item.status === "sending" || DONE.has(item.status)) return false;
    open.fields = Object.assign({}, open.fields, { matricula });
    Object.assign(item, { matricula, url, status: "pending", nextAttemptAt: 0, lastError: "", response: null,
      secret: await V.seal(key, { label: matricula, fields: open.fields }) });
    const old = item.id;
    item.id = uuid();  // a different student is a different capture: new idempotency key
    await (await db()).delete("outbox", old);
    await put(item);
    return true;
  }

  global.Outbox = { add, all, get, put, remove, counts, drain, retry, confirm, adopt, reassign, reveal, uuid,
    releaseInflight, sessionEnded, lastNet: () => lastNet, DONE };
})(self);
