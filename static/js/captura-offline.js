// Toma de biométricos without a connection: when this page comes from the device's cache, look the
// typed matrícula up in the roster stored by "Preparar sin conexión" and show the capture form.
"use strict";
(function () {
  const CAPTURABLE = { enrolado: "Enrolado", capturado: "Capturado", aplazado: "Aplazado", retoma: "Retoma" };
  const LABELS = Object.assign({ validado: "Validado", solicitado: "Solicitado", rechazado: "Rechazado",
    imprimiendo: "Imprimiendo", recibido: "Recibido", entregado: "Entregado" }, CAPTURABLE);

  function esc(value) {
    return String(value == null ? "" : value).replace(/[&<>"']/g,
      (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);
  }

  function say(box, text) {
    const p = document.createElement("p");
    p.className = "notice";
    p.setAttribute("role", "alert");
    p.textContent = text;
    box.replaceChildren(p);
  }

  async function start() {
    const tpl = document.getElementById("captura-sin-conexion");
    const box = document.getElementById("resultado-sin-conexion");
    const matricula = (new URLSearchParams(window.location.search).get("matricula") || "").trim().replace(/['’]/g, "-");
    if (!tpl || !box || !matricula || !window.Vault) return;  // nothing typed, or the server answered
    const input = document.getElementById("matricula");
    if (input) input.value = matricula;
    const meta = await Vault.rosterMeta();
    if (meta && !(await window.PWA.ensureUnlocked(box))) {
      say(box, "Sin conexión y este equipo está bloqueado: la sesión guardada caducó. Inicie sesión cuando haya internet.");
      return;
    }
    const student = await Vault.rosterLookup(matricula);
    if (!student) {
      say(box, meta ? `Sin conexión: la matrícula ${matricula} no está en el padrón guardado en este equipo. ` +
        window.PWA.describeAge(meta) : "Sin conexión y este equipo no tiene el padrón guardado: use «Preparar sin conexión» " +
        "en «Pendientes» cuando haya internet.");
      return;
    }
    if (!CAPTURABLE[student.estatus]) {
      say(box, `No se pueden tomar biométricos: el alumno está en estatus ${LABELS[student.estatus] || student.estatus}. ` +
        "Solo se capturan alumnos Enrolados, Capturados, Aplazados o en Retoma.");
      return;
    }
    let html = tpl.innerHTML;
    for (const [key, value] of Object.entries(student)) html = html.split(`__${key.toUpperCase()}__`).join(esc(value));
    box.innerHTML = html;
    const estatus = box.querySelector("#estatus");
    if (estatus) estatus.textContent = `${CAPTURABLE[student.estatus]} (sin conexión: ${window.PWA.describeAge(meta)})`;
    window.CapturePage.init();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
