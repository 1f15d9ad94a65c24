// Mi credencial: photo from the front camera (3:4 guide) or a file, a finger signature, and an upload
// with progress and automatic retries under one idempotency key (the server stores it once).
"use strict";
(function (global) {
  const form = document.querySelector("[data-autoservicio]");
  if (!form) return;
  const $ = (sel) => form.querySelector(sel);
  const show = (el, on) => el && el.classList.toggle("hidden", !on);
  const key = $("[data-clave]");
  const newKey = () => (global.crypto && crypto.randomUUID ? crypto.randomUUID() : String(Date.now()) + Math.random());
  let photo = null, stream = null, pad = null;

  function say(text) { $("[data-estado-foto]").textContent = text; }
  function fail(text) { const el = $("[data-envio-error]"); el.textContent = text; show(el, !!text); }
  function changed() { key.value = newKey(); fail(""); show($("[data-advertencias]"), false); show($("[data-confirmar]"), false); }
  function preview(blob) {
    photo = blob; changed();
    const img = $("[data-vista-foto]"); img.src = URL.createObjectURL(blob); show(img, true);
  }
  function stopCamera() { if (stream) stream.getTracks().forEach((t) => t.stop()); stream = null; }
  global.addEventListener("pagehide", stopCamera);

  $("[data-abrir-camara]").addEventListener("click", async () => {
    try {
      stopCamera();
      stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "user", width: { ideal: 1280 } }, audio: false });
      const video = $("[data-video]"); video.srcObject = stream; await video.play();
      show($("[data-visor]"), true); show($("[data-tomar]"), true); say("Acomoda tu cara en la guía y toca «Tomar foto».");
    } catch (err) { say(global.Camera ? global.Camera.explain(err) : "No se pudo abrir la cámara."); }
  });
  $("[data-tomar]").addEventListener("click", async () => {
    const video = $("[data-video]"); const src = document.createElement("canvas");
    src.width = video.videoWidth; src.height = video.videoHeight; src.getContext("2d").drawImage(video, 0, 0);
    const out = document.createElement("canvas"); global.Camera.renderCrop(src, out, 1, 0, 0);
    preview(await global.Camera.toJpeg(out)); stopCamera(); show($("[data-visor]"), false); show($("[data-tomar]"), false);
    say("Foto tomada. Si no te gusta, vuelve a usar la cámara.");
  });
  $("[data-archivo]").addEventListener("change", (ev) => { if (ev.target.files[0]) { preview(ev.target.files[0]); say("Foto elegida."); } });

  const canvas = $("[data-firma-canvas]");
  if (global.OnScreenSignature) { pad = new global.OnScreenSignature(canvas); pad.pad.addEventListener("endStroke", changed); }
  $("[data-limpiar-firma]").addEventListener("click", () => { if (pad) pad.clear(); changed(); });

  function send(body) {
    return new Promise((resolve, reject) => {
      const xhr = new XMLHttpRequest(); const bar = $("[data-progreso]");
      xhr.open("POST", form.action); xhr.setRequestHeader("Accept", "application/json");
      xhr.upload.onprogress = (e) => { if (e.lengthComputable) { show(bar, true); bar.value = (100 * e.loaded) / e.total; } };
      xhr.onload = () => { let data = {}; try { data = JSON.parse(xhr.responseText); } catch (e) { /* not JSON */ } resolve({ status: xhr.status, data }); };
      xhr.onerror = () => reject(new Error("sin conexión"));
      xhr.send(body);
    });
  }
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    if (!photo) return fail("Falta tu fotografía: usa la cámara o elige una foto.");
    if (!pad || pad.isEmpty()) return fail("Falta tu firma: firma con tu dedo en el recuadro.");
    if (!key.value) key.value = newKey();
    const body = new FormData(form); body.delete("foto"); body.delete("firma");
    body.append("foto", photo, "foto.jpg"); body.append("firma", await pad.capture(), "firma.png");
    $("[data-enviar]").disabled = true;
    for (let attempt = 0; attempt < 5; attempt++) {
      try {
        const r = await send(body);
        if (r.status === 200 && r.data.ok) { global.location.assign(r.data.siguiente); return; }
        if (r.status === 401) { global.location.assign("/mi-credencial"); return; }
        if (r.status < 500 && r.status !== 429) {
          fail(r.data.error || "No se pudo enviar.");
          if (r.data.requiere_confirmacion) { const box = $("[data-advertencias]"); box.textContent = (r.data.advertencias || []).join(" "); show(box, true); show($("[data-confirmar]"), true); }
          break;
        }
      } catch (e) { fail("Sin conexión; reintentando…"); }
      await new Promise((res) => setTimeout(res, 1000 * 2 ** attempt));
    }
    $("[data-enviar]").disabled = false;
  });
})(window);
