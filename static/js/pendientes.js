// "Pendientes": the outbox of this device — the signed-in user's captures (retry, confirm photo warnings,
// retake, reassign, discard), colleagues' captures of the same plantel («Enviar a mi nombre»), and only a
// count of other planteles' captures (never their data). Decrypting needs the session's device key.
"use strict";
(function () {
  const LABELS = { pending: "Pendiente de enviar", sending: "Enviando…", sent: "Enviado",
    superseded: "Reemplazada", needs_attention: "Requiere atención" };
  const me = Number(document.body.dataset.userId);
  const myPlantel = Number(document.body.dataset.plantelId);
  const urls = [];
  let key = null;

  function fmt(iso) {
    return new Date(iso).toLocaleString("es-MX", { dateStyle: "long", timeStyle: "short" });
  }

  function thumbUrl(open) {
    const f = open && open.files.foto;
    if (!f) return "";
    const url = URL.createObjectURL(new Blob([f.bytes], { type: f.type }));
    urls.push(url);
    return url;
  }

  function when(item) {
    const base = `Capturado ${fmt(item.capturedAt)} · intentos: ${item.attempts}`;
    if (item.status !== "sending") return base;
    const secs = Math.max(0, Math.round((Date.now() - (item.leaseUntil - 45000)) / 1000));
    return `${base} · enviando desde hace ${secs} s`;
  }

  function buttons(li, item, mine) {
    const open = !Outbox.DONE.has(item.status);
    const leaseOver = item.status !== "sending" || item.leaseUntil < Date.now();
    const refusedPhoto = item.status === "needs_attention" && item.response && item.response.requiere_confirmacion;
    const toggle = (sel, on) => li.querySelector(sel).classList.toggle("hidden", !on);
    toggle(".retry", mine && open && leaseOver);
    toggle(".reassign", mine && open && item.status !== "sending");
    toggle(".discard", item.status !== "sending" || leaseOver);
    toggle(".adopt", !mine && open && item.status !== "sending");
    toggle(".open-review", mine && refusedPhoto);
    toggle(".retake", mine && item.status === "needs_attention");
    li.querySelector(".retake").href = `/captura?matricula=${encodeURIComponent(item.matricula)}`;
    if (refusedPhoto) {
      li.querySelector(".warnings").replaceChildren(...(item.response.advertencias || []).map((w) =>
        Object.assign(document.createElement("li"), { textContent: w })));
    }
  }

  async function row(tpl, item) {
    const mine = item.user === me;
    const li = tpl.content.firstElementChild.cloneNode(true);
    li.dataset.id = item.id;
    li.dataset.status = item.status;
    const open = await Outbox.reveal(item, key, !Outbox.DONE.has(item.status));
    const img = li.querySelector("img");
    const src = thumbUrl(open);
    if (src) img.src = src; else img.classList.add("hidden");
    li.querySelector(".who").textContent = (open && open.label) || item.matricula;
    const state = li.querySelector(".state");
    state.textContent = LABELS[item.status] || item.status;
    state.className = `state outbox-status-${item.status}`;
    li.querySelector(".when").textContent = when(item);
    li.querySelector(".taken-by").textContent = mine ? (item.takenByEmail ? `Tomada por ${item.takenByEmail}; se envía a su nombre.` : "")
      : `Tomada por ${item.email}: se enviará cuando ese usuario inicie sesión en este equipo.`;
    li.querySelector(".last-error").textContent = item.status === "sent" ? "" : item.lastError || "";
    buttons(li, item, mine);
    return li;
  }

  // What the list shows of an item (besides the ticking age): the list is rebuilt only when this changes.
  const shape = (i) => [i.id, i.status, i.attempts, i.lastError, i.user, i.status === "sending" && i.leaseUntil < Date.now()].join("|");
  let shown = null;

  async function render() {
    const list = document.getElementById("outbox-list");
    const tpl = document.getElementById("outbox-item");
    const items = await Outbox.all();
    const visible = items.filter((i) => i.plantel_id === myPlantel);
    const foreign = items.filter((i) => i.plantel_id !== myPlantel && !Outbox.DONE.has(i.status)).length;
    const now = visible.map(shape).join("\n");
    if (now === shown) {
      visible.forEach((i) => { const el = list.querySelector(`li[data-id="${i.id}"] .when`); if (el) el.textContent = when(i); });
    } else {
      shown = now;
      urls.splice(0).forEach((u) => URL.revokeObjectURL(u));
      list.replaceChildren(...(await Promise.all(visible.map((i) => row(tpl, i)))));
    }
    const c = await Outbox.counts(me);
    document.getElementById("outbox-summary").textContent =
      `${c.pending + c.sending} pendientes de enviar · ${c.needs_attention} requieren atención · ${c.sent} enviadas`;
    const others = document.getElementById("outbox-others");
    others.textContent = foreign ? `Este equipo guarda además ${foreign} capturas de otro plantel; se enviarán cuando ` +
      "su usuario inicie sesión aquí." : "";
    others.classList.toggle("hidden", !foreign);
  }

  async function storageState() {
    const out = document.getElementById("storage-state");
    if (!navigator.storage || !navigator.storage.persisted) { out.textContent = ""; return; }
    const c = await Outbox.counts(me);
    const meta = await Vault.rosterMeta();
    const granted = (c.waiting > 0 || meta) ? await window.PWA.keepStorage() : await navigator.storage.persisted();
    out.textContent = granted ? "Almacenamiento persistente: concedido (el navegador no borrará estas capturas por falta de espacio)."
      : "Almacenamiento persistente: no concedido. Instale la aplicación o envíe las capturas pronto: el navegador podría borrarlas si le falta espacio.";
  }

  async function reassign(item) {
    const matricula = (window.prompt("Matrícula del alumno al que corresponde esta captura:", item.matricula) || "")
      .trim().replace(/['’]/g, "-");
    if (!/^\d{8,9}-\d$/.test(matricula)) {
      if (matricula) window.alert("La matrícula debe tener 8 o 9 dígitos, un guion y un dígito.");
      return;
    }
    await Outbox.reassign(item.id, matricula, (item.urlTemplate || item.url).replace("{matricula}", matricula), key);
    await window.PWA.drain(true);
  }

  async function sendConfirmed(li, item) {
    const reason = li.querySelector(".confirm-reason").value.trim();
    const err = li.querySelector(".review-error");
    if (!li.querySelector(".confirm-check").checked || !reason) {
      err.textContent = "Marque «Confirmo que la captura es correcta» y escriba el motivo.";
      return false;
    }
    await Outbox.confirm(item.id, reason, key);
    await window.PWA.drain(true);
    return true;
  }

  async function adopt(item) {
    const s = window.PWA.session();
    if (!s || s.state !== "ok") { window.alert("Necesita conexión con el servidor para enviar a su nombre."); return; }
    if (window.confirm(`Esta captura la tomó ${item.email}. ¿Enviarla a su nombre? Quedará registrado quién la tomó ` +
      "y quién la envió.")) {
      await Outbox.adopt(item.id, s);
      await window.PWA.drain(true);
    }
  }

  async function onClick(ev) {
    const li = ev.target.closest("li[data-id]");
    if (!li || !ev.target.closest("button")) return;
    const item = await Outbox.get(li.dataset.id);
    if (!item) return;
    const cls = ev.target.classList;
    if (cls.contains("open-review")) { li.querySelector(".review").classList.remove("hidden"); li.querySelector(".confirm-check").focus(); return; }
    if (cls.contains("send-confirmed")) { if (!(await sendConfirmed(li, item))) return; }
    else if (cls.contains("retry")) { if (await Outbox.retry(item.id)) await window.PWA.drain(true); }
    else if (cls.contains("adopt")) await adopt(item);
    else if (cls.contains("reassign")) await reassign(item);
    else if (cls.contains("discard")) {
      const what = Outbox.DONE.has(item.status) ? "el registro de esta captura" : "esta captura (no se ha enviado)";
      if (window.confirm(`¿Descartar ${what} de ${li.querySelector(".who").textContent}? Esta acción no se puede deshacer.`)) {
        await Outbox.remove(item.id);
      }
    }
    await render();
  }

  async function start() {
    const box = document.getElementById("pendientes");
    if (!(window.PWA && window.PWA.ready)) {
      await new Promise((r) => { document.addEventListener("pwa:ready", r, { once: true }); setTimeout(r, 10000); });
    }
    const s = window.PWA.session();
    key = (s && s.key) || (await Vault.localKey());
    if (!key && (await window.PWA.ensureUnlocked(box))) key = await Vault.localKey();
    document.getElementById("outbox-list").addEventListener("click", onClick);
    document.getElementById("sync-now").addEventListener("click", async (ev) => {
      ev.target.disabled = true;
      const result = await window.PWA.drain(true);
      ev.target.disabled = false;
      document.getElementById("outbox-summary").textContent = result.session === "ok" ? `Enviadas: ${result.sent}` :
        result.session === "signed_out" ? "La sesión terminó: inicie sesión para enviar." : "Sin conexión con el servidor: se enviarán al regresar.";
      await render();
    });
    // the age of "Enviando…" and when "Reintentar" becomes possible; never under a review being typed
    const refresh = () => { if (!document.querySelector("#outbox-list .review:not(.hidden)")) render(); };
    if (window.BroadcastChannel) new BroadcastChannel("outbox").addEventListener("message", refresh);
    setInterval(refresh, 5000);
    await render();
    storageState();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
