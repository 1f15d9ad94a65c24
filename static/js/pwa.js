// PWA glue on every page: service worker registration and updates, online/offline pill,
// pending-captures badge, outbox draining triggers, offline roster refresh, logout warning.
"use strict";
(function () {
  const body = document.body;
  const userId = body.dataset.userId || "";
  const isPlantel = body.dataset.rol === "plantel";
  const csrf = () => (document.querySelector('meta[name="csrf-token"]') || {}).content || "";
  const ROSTER_MAX_AGE_MS = 12 * 3600 * 1000;
  const DRAIN_EVERY_MS = 15 * 1000;  // cheap: nothing is sent (not even a probe) when nothing waits

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

  // ---- online / offline ---------------------------------------------------------------------
  async function probe() {
    // navigator.onLine only means "a link exists"; a captive portal answers HTML, not our JSON.
    if (!navigator.onLine) return false;
    try {
      const res = await fetch("/salud", { cache: "no-store", headers: { Accept: "application/json" } });
      const data = await res.json();
      return res.ok && data.ok === true;
    } catch (e) {
      return false;
    }
  }

  function showNet(online) {
    const pill = document.getElementById("net-status");
    if (!pill) return;
    pill.textContent = online ? "En línea" : "Sin conexión";
    pill.classList.toggle("offline", !online);
    body.dataset.online = online ? "1" : "0";
  }

  async function refreshNet() {
    const online = await probe();
    showNet(online);
    return online;
  }

  // ---- outbox badge and draining -----------------------------------------------------------
  async function refreshBadge() {
    const badge = document.getElementById("pending-count");
    if (!badge || !window.Outbox) return;
    const c = await Outbox.counts();
    badge.textContent = String(c.waiting);
    badge.classList.toggle("hidden", c.waiting === 0);
    badge.classList.toggle("attention", c.needs_attention > 0);
    badge.title = `${c.pending + c.sending} pendientes de enviar, ${c.needs_attention} requieren atención`;
  }

  async function drain(force) {
    if (!window.Outbox || !userId) return 0;
    const waiting = await Outbox.counts();
    if (waiting.pending + waiting.sending === 0) return 0;
    if (!(await refreshNet())) return 0;
    const sent = await Outbox.drain({ csrf: csrf(), force });
    await refreshBadge();
    return sent;
  }
  // Write a capture to the outbox first, then try the network (Background Sync where available).
  async function enqueue(item) {
    const record = await Outbox.add(Object.assign({ csrf: csrf() }, item));
    await refreshBadge();
    const reg = window.PWA.registration;
    if (reg && reg.sync) {
      try { await reg.sync.register("outbox"); } catch (e) { /* not allowed: timers and events drain */ }
    }
    await drain(true);
    return Outbox.get(record.id);
  }
  window.PWA = { drain, enqueue, refreshBadge, refreshNet, csrf };

  // ---- roster for offline look-up ---------------------------------------------------------------
  async function refreshRoster(force) {
    if (!isPlantel || !window.Outbox) return null;
    const meta = await Outbox.rosterMeta();
    const stale = !meta || meta.user !== userId || Date.now() - meta.savedAt > ROSTER_MAX_AGE_MS;
    if (!force && !stale) return meta;
    const res = await fetch("/pwa/padron.json", { cache: "no-store", headers: { Accept: "application/json" } });
    if (!res.ok) throw new Error(`Error ${res.status}`);
    const data = await res.json();
    const newMeta = { user: userId, plantel: data.plantel, savedAt: Date.now(), count: data.alumnos.length };
    await Outbox.saveRoster(data.alumnos, newMeta);
    return newMeta;
  }
  window.PWA.refreshRoster = refreshRoster;

  function describeAge(meta) {
    if (!meta) return "Este equipo no tiene el padrón guardado.";
    const minutes = Math.round((Date.now() - meta.savedAt) / 60000);
    const age = minutes < 1 ? "hace menos de un minuto" : minutes < 60 ? `hace ${minutes} min` :
      `hace ${Math.round(minutes / 60)} h`;
    return `Padrón de ${meta.plantel} guardado en este equipo ${age} (${meta.count} alumnos).`;
  }
  window.PWA.describeAge = describeAge;

  function wirePrepare() {
    const btn = document.getElementById("prepare-offline");
    const out = document.getElementById("roster-age");
    if (!btn || !out) return;
    Outbox.rosterMeta().then((m) => { out.textContent = describeAge(m); });
    btn.addEventListener("click", async () => {
      btn.disabled = true;
      out.textContent = "Descargando padrón…";
      try {
        out.textContent = describeAge(await refreshRoster(true));
      } catch (e) {
        out.textContent = "No se pudo descargar el padrón: revise la conexión e intente de nuevo.";
      } finally {
        btn.disabled = false;
      }
    });
  }

  // ---- logout ----------------------------------------------------------------------------------
  function wireLogout() {
    const form = document.getElementById("logout-form");
    if (!form) return;
    form.addEventListener("submit", async (ev) => {
      if (form.dataset.confirmed === "1") return;
      ev.preventDefault();
      const c = window.Outbox ? await Outbox.counts() : { waiting: 0 };
      if (c.waiting > 0 && !window.confirm(`Hay ${c.waiting} capturas guardadas en este equipo que aún no se envían. ` +
        "Se enviarán cuando vuelva a iniciar sesión. ¿Cerrar sesión de todos modos?")) return;
      if (navigator.serviceWorker && navigator.serviceWorker.controller) {
        navigator.serviceWorker.controller.postMessage({ type: "purge-pages" });
      }
      if (window.Outbox) await Outbox.clearRoster();
      form.dataset.confirmed = "1";
      form.submit();
    });
  }

  async function start() {
    const reg = await registerWorker().catch(() => null);
    window.PWA.registration = reg;
    window.addEventListener("online", () => { refreshNet(); drain(false); });
    window.addEventListener("offline", () => showNet(false));
    window.addEventListener("pagehide", () => { if (window.Outbox) Outbox.releaseInflight(); });
    if (window.BroadcastChannel) new BroadcastChannel("outbox").onmessage = () => refreshBadge();
    wireLogout();
    if (!userId) {  // sign-in page: forget pages cached for the previous user
      if (navigator.serviceWorker && navigator.serviceWorker.controller) {
        navigator.serviceWorker.controller.postMessage({ type: "purge-pages" });
      }
      return;
    }
    wirePrepare();
    await refreshBadge();
    await refreshNet();
    await drain(false);
    setInterval(() => drain(false), DRAIN_EVERY_MS);
    refreshRoster(false).catch(() => null);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
