// What this device keeps for offline work, encrypted (WebCrypto AES-GCM), for pages and the service
// worker (no DOM use here). The key is the plantel's device key, handed out only to a live session of
// that plantel by GET /pwa/sesion. Offline, the key comes from this tab's session storage or is
// unwrapped with the user's password (PBKDF2), whose wrap expires with the session. docs/offline.md.
"use strict";
(function (global) {
  const DB_NAME = "credencializacion";
  const DB_VERSION = 2;
  const SESSION_TIMEOUT_MS = 8000;
  const PBKDF2_ROUNDS = 210000;
  const KEY_SLOT = "credencial-llave";        // sessionStorage: this tab's device key (base64)
  const PENDING_KEK = "credencial-kek";       // sessionStorage: password-derived key between sign-in and wrap
  const subtle = global.crypto.subtle;
  let dbPromise = null;
  let rosterCache = null;

  function openDb() {
    if (!dbPromise) {
      dbPromise = global.idb.openDB(DB_NAME, DB_VERSION, {
        upgrade(db, oldVersion) {
          if (oldVersion < 1) {
            db.createObjectStore("outbox", { keyPath: "id" }).createIndex("createdAt", "createdAt");
            db.createObjectStore("meta");
          }
          // version 1 kept the roster in clear: drop it (it is downloaded again, encrypted)
          if (db.objectStoreNames.contains("roster")) db.deleteObjectStore("roster");
        },
      });
    }
    return dbPromise;
  }

  const b64 = (buf) => global.btoa(String.fromCharCode(...new Uint8Array(buf)));
  const unb64 = (s) => Uint8Array.from(global.atob(s), (c) => c.charCodeAt(0)).buffer;
  const storage = () => { try { return global.sessionStorage || null; } catch (e) { return null; } };

  function importKey(raw) {
    return subtle.importKey("raw", typeof raw === "string" ? unb64(raw) : raw, "AES-GCM", false, ["encrypt", "decrypt"]);
  }

  async function encryptBytes(key, bytes) {
    const iv = global.crypto.getRandomValues(new Uint8Array(12));
    return { iv: iv.buffer, data: await subtle.encrypt({ name: "AES-GCM", iv }, key, bytes) };
  }

  function decryptBytes(key, box) {
    return subtle.decrypt({ name: "AES-GCM", iv: new Uint8Array(box.iv) }, key, box.data);
  }

  const seal = (key, value) => encryptBytes(key, new TextEncoder().encode(JSON.stringify(value)));
  const open = async (key, box) => JSON.parse(new TextDecoder().decode(await decryptBytes(key, box)));

  // ---- the session, as the server sees it ------------------------------------------------------
  // {state: "ok", user, email, rol, plantel_id, plantel, csrf, expira, key} | {state: "signed_out"} |
  // {state: "unreachable", reason}. Only the app's own JSON counts: a captive portal's 200 is "unreachable".
  async function session() {
    const ctl = new AbortController();
    const timer = setTimeout(() => ctl.abort(), SESSION_TIMEOUT_MS);
    let res;
    try {
      res = await global.fetch("/pwa/sesion", { cache: "no-store", credentials: "same-origin", redirect: "manual",
        headers: { Accept: "application/json" }, signal: ctl.signal });
    } catch (e) {
      return { state: "unreachable", reason: e.name === "AbortError" ? "timeout" : "network" };
    } finally {
      clearTimeout(timer);
    }
    const data = await res.json().catch(() => null);
    // only our own 401 ends the session (a portal's redirect or page must not wipe the device)
    if (res.status === 401 && data && typeof data.error === "string") return { state: "signed_out" };
    if (!res.ok || !data || data.ok !== true || data.app !== "credencializacion") {
      return { state: "unreachable", reason: res.ok ? "not-ours" : `http-${res.status}`, status: res.status };
    }
    const s = Object.assign({ state: "ok" }, data);
    if (data.llave) {
      s.key = await importKey(data.llave);
      const st = storage();
      if (st) st.setItem(KEY_SLOT, data.llave);
      await wrapForOffline(s, data.llave);
    }
    return s;
  }

  // ---- offline unlock: the device key wrapped under the user's password ------------------------------
  async function passwordKey(password, salt) {
    const base = await subtle.importKey("raw", new TextEncoder().encode(password), "PBKDF2", false, ["deriveBits"]);
    return subtle.deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations: PBKDF2_ROUNDS }, base, 256);
  }

  // Called by the sign-in form before it is sent: derive the wrapping key while the password is at hand.
  async function rememberPassword(email, password) {
    const st = storage();
    if (!st) return;
    const salt = global.crypto.getRandomValues(new Uint8Array(16)).buffer;
    const kek = await passwordKey(password, salt);
    st.setItem(PENDING_KEK, JSON.stringify({ email: email.trim().toLowerCase(), salt: b64(salt), kek: b64(kek) }));
  }

  async function wrapForOffline(s, rawKey) {
    const st = storage();
    const pending = st && st.getItem(PENDING_KEK);
    if (!pending) return;
    st.removeItem(PENDING_KEK);
    const p = JSON.parse(pending);
    if (p.email !== String(s.email).toLowerCase()) return;
    const box = await encryptBytes(await importKey(p.kek), unb64(rawKey));
    await (await openDb()).put("meta", { user: s.user, email: s.email, plantel_id: s.plantel_id, salt: p.salt,
      box, expira: s.expira }, `wrap:${s.user}`);
  }

  async function hasWrap(user) {
    const w = await (await openDb()).get("meta", `wrap:${user}`);
    return !!(w && Date.parse(w.expira) > Date.now());
  }

  // Unlock with the password, offline; false when it is wrong or the wrap expired with the session.
  async function unlock(user, password) {
    const w = await (await openDb()).get("meta", `wrap:${user}`);
    if (!w || Date.parse(w.expira) <= Date.now()) return false;
    try {
      const raw = await decryptBytes(await importKey(await passwordKey(password, unb64(w.salt))), w.box);
      const st = storage();
      if (st) st.setItem(KEY_SLOT, b64(raw));
      return true;
    } catch (e) {
      return false;  // AES-GCM refuses a wrong password
    }
  }

  // The device key available without the network (this tab's session storage), or null.
  async function localKey() {
    const st = storage();
    const raw = st && st.getItem(KEY_SLOT);
    return raw ? importKey(raw) : null;
  }

  // Forget what is readable: everything (no keepUser: sign-out, session ended), or only what belongs to
  // users other than keepUser (another user signed in). Pending captures stay, encrypted: they are never
  // dropped silently.
  async function wipe(keepUser) {
    const db = await openDb();
    rosterCache = null;
    const roster = await db.get("meta", "roster");
    if (roster && (!keepUser || roster.user !== keepUser)) await db.delete("meta", "roster");
    for (const k of await db.getAllKeys("meta")) {
      if (String(k).startsWith("wrap:") && k !== `wrap:${keepUser}`) await db.delete("meta", k);
    }
    const st = storage();
    if (st && !keepUser) { st.removeItem(KEY_SLOT); st.removeItem(PENDING_KEK); }
  }

  // ---- roster ("Preparar sin conexión") -------------------------------------------------------------
  async function saveRoster(students, meta, key) {
    const box = await seal(key, students);
    await (await openDb()).put("meta", Object.assign({}, meta, { box }), "roster");
    rosterCache = null;
  }

  async function rosterMeta() {
    const r = await (await openDb()).get("meta", "roster");
    if (!r) return null;
    if (r.expira && Date.parse(r.expira) <= Date.now()) { await wipe(); return null; }
    const { box, ...meta } = r;
    return meta;
  }

  async function rosterLookup(matricula) {
    const key = await localKey();
    const r = await (await openDb()).get("meta", "roster");
    if (!key || !r) return null;
    if (!rosterCache) {
      try { rosterCache = new Map((await open(key, r.box)).map((s) => [s.matricula, s])); } catch (e) { return null; }
    }
    return rosterCache.get(matricula) || null;
  }

  global.Vault = { openDb, session, rememberPassword, hasWrap, unlock, localKey, wipe, importKey, encryptBytes,
    decryptBytes, seal, open, saveRoster, rosterMeta, rosterLookup };
})(self);
