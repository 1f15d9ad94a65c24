// "Pendientes": the outbox of this device, with retry, reassign and discard (confirmed).
"use strict";
(function () {
  const LABELS = { pending: "Pendiente de enviar", sending: "Enviando…", sent: "Enviado",
    needs_attention: "Requiere atención" };
  const urls = [];

  function fmt(iso) {
    return new Date(iso).toLocaleString("es-MX", { dateStyle: "long", timeStyle: "short" });
  }

  function thumbUrl(item) {
    const f = item.files && item.files.foto;
    if (!f) return "";
    const url = URL.createObjectURL(new Blob([f.bytes], { type: f.type }));
    urls.push(url);
    return url;
  }

  async function render() {
    urls.splice(0).forEach((u) => URL.revokeObjectURL(u));
    const list = document.getElementById("outbox-list");
    const tpl = document.getElementById("outbox-item");
    const items = await Outbox.all();
    list.replaceChildren();
    for (const item of items) {
      const li = tpl.content.firstElementChild.cloneNode(true);
      li.dataset.id = item.id;
      li.dataset.status = item.status;
      const img = li.querySelector("img");
      const src = thumbUrl(item);
      if (src) img.src = src; else img.classList.add("hidden");
      li.querySelector(".who").textContent = item.label || item.matricula;
      const state = li.querySelector(".state");
      state.textContent = LABELS[item.status] || item.status;
      state.className = `state outbox-status-${item.status}`;
      li.querySelector(".when").textContent = `Capturado ${fmt(item.capturedAt)} · intentos: ${item.attempts}`;
      li.querySelector(".last-error").textContent = item.status === "sent" ? "" : item.lastError || "";
      li.querySelector(".retry").classList.toggle("hidden", item.status === "sent");
      li.querySelector(".reassign").classList.toggle("hidden", item.status !== "needs_attention");
      li.querySelector(".discard").classList.toggle("hidden", item.status === "sending");
      list.append(li);
    }
    const c = await Outbox.counts();
    document.getElementById("outbox-summary").textContent =
      `${c.pending + c.sending} pendientes de enviar · ${c.needs_attention} requieren atención · ${c.sent} enviadas`;
  }

  async function onClick(ev) {
    const li = ev.target.closest("li[data-id]");
    if (!li) return;
    const id = li.dataset.id;
    const item = await Outbox.get(id);
    if (!item) return;
    if (ev.target.classList.contains("retry")) {
      await Outbox.retry(id);
      await window.PWA.drain(true);
    } else if (ev.target.classList.contains("discard")) {
      const what = item.status === "sent" ? "el registro de esta captura enviada" : "esta captura (no se ha enviado)";
      if (window.confirm(`¿Descartar ${what} de ${item.label || item.matricula}? Esta acción no se puede deshacer.`)) {
        await Outbox.remove(id);
      }
    } else if (ev.target.classList.contains("reassign")) {
      const matricula = (window.prompt("Matrícula del alumno al que corresponde esta captura:", item.matricula) || "")
        .trim().replace(/'/g, "-");
      if (!/^\d{8,9}-\d$/.test(matricula)) {
        if (matricula) window.alert("La matrícula debe tener 8 o 9 dígitos, un guion y un dígito.");
        return;
      }
      await Outbox.reassign(id, matricula, (item.urlTemplate || item.url).replace("{matricula}", matricula));
      await window.PWA.drain(true);
    }
    await render();
  }

  function start() {
    document.getElementById("outbox-list").addEventListener("click", onClick);
    document.getElementById("sync-now").addEventListener("click", async (ev) => {
      ev.target.disabled = true;
      const sent = await window.PWA.drain(true);
      ev.target.disabled = false;
      const online = document.body.dataset.online !== "0";
      document.getElementById("outbox-summary").textContent = online ? `Enviadas: ${sent}` : "Sin conexión: se enviarán al regresar.";
      await render();
    });
    if (window.BroadcastChannel) new BroadcastChannel("outbox").addEventListener("message", render);
    render();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
