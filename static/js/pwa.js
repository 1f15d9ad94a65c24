// PWA glue on every page: service worker registration and updates, the connection pill, the pending
// badge, outbox draining triggers, the encrypted offline roster, unlocking it offline, the sign-out
// warning. What each failure looks like to the operator: docs/offline.md.
"use strict";
(function () {
  const body = document.body;
  const userId = body.dataset.userId ? Number(body.dataset.userId) : null;
  const isPlantel = body.dataset.rol === "plantel";
  const ROSTER_MAX_AGE_MS = 12 * 3600 * 1000;
  const DRAIN_EVERY_MS = 15 * 1000;  // cheap: nothing is sent (not even a probe) when nothing waits
  const SETTLE_MS = 10 * 1000;       // "Guardar" waits at most this long for the server's answer
  let current = null;                // the last answer of /pwa/sesion in this page

  // ---- service worker and "Nueva versión disponible" -------------------------------------
  function offerUpdate(worker) {
    const bar = document.getElementById("update-banner");
    if (!bar) return;
    bar.classList.remove("hidden");
    bar.querySelector("button").addEventListener("click", () => {
      bar.dataset.accepted = "yes";
      worker.postMessage({ type: "skipWaiting" });
    }, { once: true });
  }

  async function registerWorker() {
    if (!("serviceWorker" in navigator)) return null;
    const reg = await navigator.serviceWorker.register("/sw.js", { scope: "/" });
    if (reg.waiting && navigator.serviceWorker.controller) offerUpdate(reg.waiting);
    reg.addEventListener("updatefound", () => {
      const worker = reg.installing;
      worker.addEventListener("statechange", () => {
        if (worker.state === "installed" && navigator.serviceWorker.controller) offerUpdate(worker);
      });
    });
    let reloading = false;
    navigator.serviceWorker.addEventListener("controllerchange", () => {
      // Reload only when the user chose "Recargar" (the first install's claim must not reload).
      if (!reloading && document.getElementById("update-banner")?.dataset.accepted === "yes") {
        reloading = true;
        window.location.reload();
      }
    });
    return reg;
  }

  // ---- the connection pill: the browser's link AND the last request to our server ------------------
  const NET_TEXT = { ok: "En línea", offline: "Sin conexión", unreachable: "Sin conexión con el servidor",
    signed_out: "Sesión terminada" };

  function showNet(state) {
    const pill = document.getElementById("net-status");
    body.dataset.online = state === "ok" ? "1" : "0";
    body.dataset.net = state;
    if (!pill) return;
    pill.textContent = NET_TEXT[state] || NET_TEXT.unreachable;
    pill.classList.toggle("offline", state !== "ok");
    if (state === "signed_out") {
      const a = Object.assign(document.createElement("a"), { href: `/login?next=${encodeURIComponent(location.pathname)}`,
        textContent: " — Iniciar sesión" });
      pill.append(a);
    }
  }

  // Ask the server who is signed in (also the connectivity probe: only our own JSON counts).
  async function refreshSession() {
    if (!navigator.onLine) { showNet("offline"); return { state: "unreachable", reason: "offline" }; }
    current = await Vault.session();
    if (current.state === "signed_out") {  // the server says the session ended
      await Vault.wipe();
      if (userId && window.Outbox) await Outbox.sessionEnded(userId);
    }
    if (current.state === "ok" && current.user !== userId && userId) window.location.reload();  // another user
    showNet(current.state === "ok" ? "ok" : current.state === "signed_out" ? "signed_out" : "unreachable");
    return current;
  }

  // ---- outbox badge and draining -----------------------------------------------------------
  async function refreshBadge() {
    const badge = document.getElementById("pending-count");
    if (!badge || !window.Outbox) return;
    const c = await Outbox.counts(userId);
    badge.textContent = String(c.waiting);
    badge.classList.toggle("hidden", c.waiting === 0);
    badge.classList.toggle("attention", c.needs_attention > 0);
    badge.title = `${c.pending + c.sending} pendientes de enviar, ${c.needs_attention} requieren atención`;
    if (c.waiting > 0) keepStorage();
  }

  async function drain(force) {
    if (!window.Outbox || !userId || !isPlantel) return { sent: 0, session: "none" };
    const c = await Outbox.counts(userId);
    if (c.pending + c.sending === 0) return { sent: 0, session: current ? current.state : "none" };
    const s = await refreshSession();
    if (s.state !== "ok") return { sent: 0, session: s.state };
    const result = await Outbox.drain({ force, session: s });
    const net = Outbox.lastNet();
    showNet(net.ok ? "ok" : result.session === "signed_out" ? "signed_out" : "unreachable");
    await refreshBadge();
    return result;
  }

  // Who takes a capture and the key that seals it: this session, or this tab's key while offline.
  async function owner() {
    const key = (current && current.key) || (await Vault.localKey());
    if (!key) throw new Error("Este equipo está bloqueado: escriba su contraseña para usar los datos guardados.");
    return { user: userId, email: body.dataset.email || "", plantel_id: Number(body.dataset.plantelId) || null, key };
  }

  // Write a capture to the outbox first; then try the network without making "Guardar" wait on it:
  // the answer is awaited at most SETTLE_MS (a hung upload keeps going in the background).
  async function enqueue(item) {
    const record = await Outbox.add(item, await owner());
    await refreshBadge();
    const reg = window.PWA.registration;
    if (reg && reg.sync) {
      try { await reg.sync.register("outbox"); } catch (e) { /* not allowed: timers and events drain */ }
    }
    return record;
  }

  async function settle(id) {
    const tried = drain(true).catch(() => ({ session: "unreachable" }));
    const result = await Promise.race([tried, new Promise((r) => setTimeout(() => r({ session: "timeout" }), SETTLE_MS))]);
    return { item: await Outbox.get(id), session: result.session };
  }
  const csrf = () => (current && current.csrf) || (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  window.PWA = { drain, enqueue, settle, refreshBadge, refreshSession, owner, csrf, session: () => current };

  // ---- storage that the browser will not evict silently -------------------------------------
  async function keepStorage() {
    if (!navigator.storage || !navigator.storage.persist) return null;
    if (await navigator.storage.persisted()) return true;
    return navigator.storage.persist().catch(() => false);
  }
  window.PWA.keepStorage = keepStorage;

  // ---- roster for offline look-up (encrypted) -------------------------------------------------------
  async function refreshRoster(force) {
    if (!isPlantel || !current || current.state !== "ok" || !current.key) return Vault.rosterMeta();
    const meta = await Vault.rosterMeta();
    const stale = !meta || meta.user !== userId || Date.now() - meta.savedAt > ROSTER_MAX_AGE_MS;
    if (!force && !stale) return meta;
    const res = await fetch("/pwa/padron.json", { cache: "no-store", headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error(`Error ${res.status}`);
    const data = await res.json();
    const newMeta = { user: userId, plantel: data.plantel, savedAt: Date.now(), count: data.alumnos.length,
      expira: current.expira };
    await Vault.saveRoster(data.alumnos, newMeta, current.key);
    keepStorage();
    return newMeta;
  }
  window.PWA.refreshRoster = refreshRoster;

  function describeAge(meta) {
    if (!meta) return "Este equipo no tiene el padrón guardado.";
    const minutes = Math.round((Date.now() - meta.savedAt) / 60000);
    const age = minutes < 1 ? "hace menos de un minuto" : minutes < 60 ? `hace ${minutes} min` :
      `hace ${Math.round(minutes / 60)} h`;
    return `Padrón de ${meta.plantel} guardado (cifrado) en este equipo ${age} (${meta.count} alumnos).`;
  }
  window.PWA.describeAge = describeAge;

  function wirePrepare() {
    const btn = document.getElementById("prepare-offline");
    const out = document.getElementById("roster-age");
    if (!btn || !out) return;
    Vault.rosterMeta().then((m) => { out.textContent = describeAge(m); });
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      out.textContent = "Descargando padrón…";
      try {
        if (!current || current.state !== "ok") await refreshSession();
        if (!current || current.state !== "ok") throw new Error("sin sesión");
        out.textContent = describeAge(await refreshRoster(true));
      } catch (e) {
        out.textContent = "No se pudo descargar el padrón: revise la conexión e intente de nuevo.";
      } finally {
        btn.disabled = false;
      }
    });
  }

  // ---- unlocking offline: the user's password opens the device key wrapped at sign-in ------------------
  // Resolves true once this tab holds the key (asks for the password when needed), false if not possible.
  async function ensureUnlocked(box) {
    if ((current && current.key) || (await Vault.localKey())) return true;
    if (!userId || !(await Vault.hasWrap(userId))) return false;
    return new Promise((resolve) => {
      const form = document.createElement("form");
      form.className = "card unlock-form";
      form.innerHTML = '<h2>Desbloquear este equipo</h2><p class="hint">Sin conexión, los datos guardados en este ' +
        "equipo están cifrados. Escriba su contraseña para usarlos.</p>" +
        '<label for="unlock-password">Contraseña</label><input id="unlock-password" type="password" ' +
        'autocomplete="current-password" required><p class="error" role="alert" aria-live="assertive"></p>' +
        '<button type="submit" class="primary">Desbloquear</button>';
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const ok = await Vault.unlock(userId, form.querySelector("input").value);
        if (!ok) { form.querySelector(".error").textContent = "Contraseña incorrecta (o la sesión de este equipo caducó)."; return; }
        form.remove();
        resolve(true);
      });
      box.prepend(form);
      form.querySelector("input").focus();
    });
  }
  window.PWA.ensureUnlocked = ensureUnlocked;

  // ---- sign-in and sign-out -------------------------------------------------------------------------
  function wireLogin() {
    const form = document.querySelector('form[action$="/login"]');
    if (!form || !window.Vault) return;
    form.addEventListener("submit", async (ev) => {
      if (form.dataset.wrapped === "1") return;
      ev.preventDefault();
      const email = form.querySelector('[name="email"]').value, password = form.querySelector('[name="password"]').value;
      try { await Vault.rememberPassword(email, password); } catch (e) { /* offline unlock unavailable */ }
      form.dataset.wrapped = "1";
      form.submit();
    });
  }

  function logoutWarning(c) {
    return `Hay ${c.waiting} capturas tomadas por usted en este equipo que aún no se envían. Quedan guardadas y ` +
      "cifradas aquí, y se enviarán cuando usted vuelva a iniciar sesión en este equipo. Otro usuario de su plantel " +
      "solo podrá enviarlas si elige «Enviar a mi nombre» en Pendientes (queda registrado). ¿Cerrar sesión?";
  }

  function wireLogout() {
    const form = document.getElementById("logout-form");
    if (!form) return;
    form.addEventListener("submit", async (ev) => {
      if (form.dataset.confirmed === "1") return;
      ev.preventDefault();
      const c = window.Outbox ? await Outbox.counts(userId) : { waiting: 0 };
      if (c.waiting > 0 && !window.confirm(logoutWarning(c))) return;
      if (navigator.serviceWorker && navigator.serviceWorker.controller) {
        navigator.serviceWorker.controller.postMessage({ type: "purge-pages" });
      }
      if (window.Vault) await Vault.wipe();
      form.dataset.confirmed = "1";
      form.submit();
    });
  }

  // The service worker served this page from the device because the server did not answer.
  function showCachedBanner() {
    const why = body.dataset.desdeCache;
    if (!why) return;
    const bar = document.createElement("p");
    bar.className = "notice offline-banner";
    bar.setAttribute("role", "status");
    bar.textContent = why === "red" ? "Sin conexión: está usando la copia guardada en este equipo." :
      `El servidor no está disponible (${why}): está usando la copia guardada en este equipo. Las capturas se guardan aquí y se envían solas.`;
    (document.getElementById("main") || body).prepend(bar);
  }

  async function start() {
    const reg = await registerWorker().catch(() => null);
    window.PWA.registration = reg;
    window.addEventListener("online", () => drain(false));
    window.addEventListener("offline", () => showNet("offline"));
    window.addEventListener("pagehide", () => { if (window.Outbox) Outbox.releaseInflight(); });
    if (window.BroadcastChannel) new BroadcastChannel("outbox").onmessage = () => refreshBadge();
    showCachedBanner();
    wireLogout();
    if (!userId) {  // sign-in page: forget pages cached for the previous user, and the device's data
      wireLogin();
      if (window.Vault) Vault.session().then((s) => s.state === "signed_out" && Vault.wipe()).catch(() => null);
      if (navigator.serviceWorker && navigator.serviceWorker.controller) {
        navigator.serviceWorker.controller.postMessage({ type: "purge-pages" });
      }
      return;
    }
    wirePrepare();
    await refreshBadge();
    if (body.dataset.desdeCache) showNet(navigator.onLine ? "unreachable" : "offline");
    const s = body.dataset.desdeCache ? { state: "unreachable" } : await refreshSession();
    if (s.state === "ok") await Vault.wipe(userId);  // another user's wraps and roster go
    document.dispatchEvent(new CustomEvent("pwa:ready", { detail: s }));
    window.PWA.ready = true;
    await drain(false);
    setInterval(() => drain(false), DRAIN_EVERY_MS);
    refreshRoster(false).catch(() => null);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
