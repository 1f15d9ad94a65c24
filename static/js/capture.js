// Page controllers: Toma de biométricos ([data-captura]), Entregar credencial ([data-entrega]) and
// Prueba de equipo ([data-equipo]). Everything started here is stopped on leaving the page
// (htmx:beforeSwap, pagehide, beforeunload): camera tracks, SigWeb pad and its preview timer.
"use strict";
(function (global) {
  const cleanups = new Set();
  const $ = (root, sel) => root.querySelector(sel);
  const show = (el, on) => el && el.classList.toggle("hidden", !on);

  function cleanupAll() {
    cleanups.forEach((fn) => { try { fn(); } catch (e) { /* keep stopping the rest */ } });
    cleanups.clear();
  }
  document.addEventListener("htmx:beforeSwap", (ev) => {
    if (ev.detail && ev.detail.target && (ev.detail.target === document.body || ev.detail.target.contains(document.querySelector("[data-captura], [data-entrega], [data-equipo]")))) cleanupAll();
  });
  global.addEventListener("pagehide", cleanupAll);
  global.addEventListener("beforeunload", cleanupAll);

  function csrf() {
    const m = document.querySelector('meta[name="csrf-token"]');
    return m ? m.content : "";
  }

  // The idempotency key of a capture: the outbox's UUID maker (static/js/outbox.js, loaded by base.html).
  const uuid = () => global.Outbox.uuid();

  // ---- photo ------------------------------------------------------------------------------------
  class PhotoWidget {
    constructor(root, onChange) {
      this.root = root;
      this.onChange = onChange;
      this.blob = null;
      this.frame = null;
      this.zoom = 1; this.panX = 0; this.panY = 0;
      this.video = $(root, "[data-cam-video]");
      this.crop = $(root, "[data-cam-recorte]");
      this.status = $(root, "[data-cam-estado]");
      this.select = $(root, "[data-cam-select]");
      this.session = new global.Camera.Session(this.video);
      cleanups.add(() => this.session.stop());
      $(root, "[data-cam-obtener]").addEventListener("click", () => this.open());
      $(root, "[data-cam-tomar]").addEventListener("click", () => this.take());
      $(root, "[data-cam-retomar]").addEventListener("click", () => this.open());
      $(root, "[data-cam-capturar]").addEventListener("click", () => this.capture());
      this.select.addEventListener("change", () => this.open(this.select.value));
      ["zoom", "panx", "pany"].forEach((k) => $(root, `[data-cam-${k}]`).addEventListener("input", () => this.readSliders()));
      this.wireDrag();
    }

    say(text, isError) {
      this.status.textContent = text;
      this.status.classList.toggle("error", !!isError);
    }

    async open(deviceId) {
      this.frame = null;
      this.say("Abriendo la cámara…");
      show($(this.root, "[data-cam-ajuste]"), false);
      show(this.crop, false);
      try {
        const info = await this.session.start(deviceId);
        show($(this.root, "[data-cam-visor]"), true);
        show(this.video, true);
        show($(this.root, "[data-cam-vivo]"), true);
        this.say(`Cámara lista (${info.width}×${info.height}). Coloque el rostro dentro de la guía y elija «Tomar foto».`);
        $(this.root, "[data-cam-tomar]").focus();      // the next useful control (keyboard and scanner users)
        await this.fillCameras(info.deviceId);
      } catch (err) {
        this.say(err && err.name ? global.Camera.explain(err) : (err.message || global.Camera.explain(err)), true);
      }
    }

    async fillCameras(current) {
      const cams = await global.Camera.listCameras();
      this.select.replaceChildren(...cams.map((c, i) => new Option(c.label || `Cámara ${i + 1}`, c.deviceId, false,
        c.deviceId === current)));
      show($(this.root, "[data-cam-select-label]"), cams.length > 1);
    }

    take() {
      this.frame = this.session.snapshot();
      this.session.stop();                 // the camera is released while adjusting
      show(this.video, false);
      show($(this.root, "[data-cam-vivo]"), false);
      show(this.crop, true);
      show($(this.root, "[data-cam-ajuste]"), true);
      this.draw();
      this.say("Ajuste el zoom y la posición; después elija «Capturar foto».");
      $(this.root, "[data-cam-capturar]").focus();   // «Tomar foto» is hidden now: keep the focus on the next step
    }

    readSliders() {
      this.zoom = parseFloat($(this.root, "[data-cam-zoom]").value);
      this.panX = parseFloat($(this.root, "[data-cam-panx]").value);
      this.panY = parseFloat($(this.root, "[data-cam-pany]").value);
      this.draw();
    }

    draw() { if (this.frame) global.Camera.renderCrop(this.frame, this.crop, this.zoom, this.panX, this.panY); }

    wireDrag() {
      let last = null;
      this.crop.addEventListener("pointerdown", (e) => { last = [e.clientX, e.clientY]; this.crop.setPointerCapture(e.pointerId); });
      this.crop.addEventListener("pointerup", () => { last = null; });
      this.crop.addEventListener("pointermove", (e) => {
        if (!last || !this.frame) return;
        const r = this.crop.getBoundingClientRect();
        const dx = (e.clientX - last[0]) / r.width, dy = (e.clientY - last[1]) / r.height;
        last = [e.clientX, e.clientY];
        const clamp = (v) => Math.max(-1, Math.min(1, v));
        this.panX = clamp(this.panX - dx * 2); this.panY = clamp(this.panY - dy * 2);
        $(this.root, "[data-cam-panx]").value = this.panX; $(this.root, "[data-cam-pany]").value = this.panY;
        this.draw();
      });
    }

    async capture() {
      this.blob = await global.Camera.toJpeg(this.crop);
      const img = $(this.root, "[data-foto-resultado]");
      if (img.src) URL.revokeObjectURL(img.src);
      img.src = URL.createObjectURL(this.blob);
      show(img, true);
      this.say("Fotografía capturada. Si no es correcta, elija «Volver a tomar foto».");
      this.onChange();
    }
  }

  // ---- signature (SigWeb or on screen, same buttons) ---------------------------------------------
  class SignatureWidget {
    constructor(root, onChange) {
      this.root = root;
      this.onChange = onChange;
      this.blob = null;
      this.mode = null;                    // "sigweb" | "pantalla"
      this.canvas = $(root, "[data-firma-canvas]");
      this.status = $(root, "[data-firma-estado]");
      this.sigweb = new global.SigWeb.Bridge(root.dataset.sigwebUrl);
      this.onscreen = null;
      cleanups.add(() => this.stop());
      $(root, "[data-firma-obtener]").addEventListener("click", () => this.obtain());
      $(root, "[data-firma-pantalla]").addEventListener("click", () => this.startOnScreen(""));
      $(root, "[data-firma-limpiar]").addEventListener("click", () => this.clear());
      $(root, "[data-firma-capturar]").addEventListener("click", () => this.capture());
    }

    say(text, isError) {
      this.status.textContent = text;
      this.status.classList.toggle("error", !!isError);
    }

    async obtain() {
      this.say("Buscando el PAD de firma (SigWeb)…");
      const probe = await this.sigweb.probe();
      if (!probe.installed) {
        this.startOnScreen("No se encontró SigWeb en este equipo (o el navegador no permitió usarlo). " +
          "Use la firma en pantalla o revise «Prueba de equipo».");
        return;
      }
      try {
        this.mode = "sigweb";
        this.canvas.classList.add("sigweb");
        show(this.canvas, true);
        await this.sigweb.start(this.canvas);
        this.ready("Pida al alumno que firme en el PAD; después elija «Capturar firma».");
      } catch (err) {
        this.startOnScreen(`${err.message} Use la firma en pantalla.`);
      }
    }

    startOnScreen(why) {
      this.sigweb.stop();
      this.mode = "pantalla";
      this.canvas.classList.remove("sigweb");
      show(this.canvas, true);
      if (!this.onscreen) {
        this.onscreen = new global.OnScreenSignature(this.canvas);
        this.canvas.dataset.pantalla = "1";
      }
      this.ready(`${why ? `${why} ` : ""}Firme en el recuadro; después elija «Capturar firma».`, !!why);
    }

    ready(text, warn) {
      show($(this.root, "[data-firma-botones]"), true);
      this.say(text, warn);
    }

    async clear() {
      this.blob = null;
      show($(this.root, "[data-firma-resultado]"), false);
      if (this.mode === "sigweb") {
        await this.sigweb.clear().catch(() => {});
        if (!this.sigweb.active) await this.sigweb.start(this.canvas).catch((e) => this.say(e.message, true));
      } else if (this.onscreen) {
        this.onscreen.clear();
      }
      this.onChange();
    }

    async capture() {
      try {
        this.blob = this.mode === "sigweb" ? await this.sigweb.capture() : await this.onscreen.capture();
      } catch (err) {
        this.say(err.message, true);
        return;
      }
      const img = $(this.root, "[data-firma-resultado]");
      if (img.src) URL.revokeObjectURL(img.src);
      img.src = URL.createObjectURL(this.blob);
      show(img, true);
      this.say("Firma capturada. Para repetirla elija «Limpiar».");
      this.onChange();
    }

    stop() {
      this.sigweb.stop();
      if (this.onscreen) { this.onscreen.stop(); this.onscreen = null; }
    }
  }

  // ---- saving (one multipart request with the idempotency key) -----------------------------------
  class SaveForm {
    constructor(form, parts) {
      this.form = form;
      this.parts = parts;                  // {foto: PhotoWidget?, firma: SignatureWidget}
      this.key = null;
      this.button = $(form, "[data-guardar]");
      this.error = $(form, "[data-guardar-error]");
      this.button.addEventListener("click", () => this.save());
    }

    // A new capture (photo or signature changed) gets a new key; retries of the same keep it.
    changed() {
      // A capture the server refused and the operator is now correcting on screen is superseded.
      if (this.key && global.Outbox) {
        const old = this.key;
        global.Outbox.get(old).then((i) => i && i.status === "needs_attention" && global.Outbox.remove(old));
      }
      this.key = null;
      this.capturedAt = new Date().toISOString();
      const foto = this.parts.foto ? this.parts.foto.blob : true;
      const done = !!(foto && this.parts.firma.blob);
      const checkFoto = $(this.form, "[data-check-foto]");
      if (checkFoto) checkFoto.checked = !!(this.parts.foto && this.parts.foto.blob);
      const checkFirma = $(this.form, "[data-check-firma]");
      if (checkFirma) checkFirma.checked = !!this.parts.firma.blob;
      this.button.disabled = !done;
      show($(this.form, "[data-confirmar]"), false);
      this.showBlocks([]);
    }

    // The photo's hard failures (no face, several faces) beside the photo, when the page has the place.
    showBlocks(list) {
      const box = $(this.form, "[data-revision-resultado]");
      if (box) box.replaceChildren(...list.map((w) => Object.assign(document.createElement("li"), { textContent: w })));
    }

    body() {
      const fd = new FormData();
      fd.append("csrf_token", csrf());
      fd.append("estatus", this.form.elements.estatus.value);
      fd.append("clave", this.key);
      fd.append("capturado_en", this.capturedAt);
      if (this.parts.foto) fd.append("foto", this.parts.foto.blob, "foto.jpg");
      fd.append("firma", this.parts.firma.blob, "firma.png");
      const confirm = this.form.elements.confirmar;
      if (confirm && confirm.checked) {
        fd.append("confirmar", "1");
        fd.append("motivo", this.form.elements.motivo.value);
      }
      const aviso = this.fields().aviso_version;
      if (aviso) fd.append("aviso_version", aviso);
      return fd;
    }

    async save() {
      if (this.button.disabled) return;
      const aviso = this.form.elements.aviso_version;
      if (aviso && !aviso.checked) {
        this.error.textContent = "Marque «El alumno conoce el aviso de privacidad» antes de guardar.";
        aviso.focus();
        return;
      }
      this.key = this.key || uuid();
      this.button.disabled = true;
      this.error.textContent = "";
      const label = this.button.textContent;
      this.button.textContent = "Guardando…";
      try {
        if (this.parts.foto && global.PWA && global.Outbox) await this.saveThroughOutbox();
        else await this.saveDirect();
      } catch (e) {
        this.error.textContent = e && e.message && e.message.startsWith("Este equipo está bloqueado") ? e.message :
          "No se pudo guardar la captura en este equipo. Vuelva a elegir «Guardar».";
      } finally {
        this.button.textContent = label;
        this.button.disabled = false;
      }
    }

    async saveDirect() {
      const res = await fetch(this.form.action, { method: "POST", body: this.body(), credentials: "same-origin",
        headers: { Accept: "application/json", "X-CSRF-Token": csrf() } });
      const data = await res.json().catch(() => ({ error: `Error ${res.status} del servidor.` }));
      if (res.ok) this.done(data);
      else this.refused(data);
    }

    fields() {
      const f = { estatus: this.form.elements.estatus.value };
      const confirm = this.form.elements.confirmar;
      if (confirm && confirm.checked) Object.assign(f, { confirmar: "1", motivo: this.form.elements.motivo.value });
      const aviso = this.form.elements.aviso_version;   // «El alumno conoce el aviso de privacidad» (its version)
      if (aviso && aviso.checked) f.aviso_version = aviso.value;
      return f;
    }

    // Toma de biométricos: the capture is written to this device's outbox FIRST (encrypted), then sent; the
    // page waits a few seconds at most for the answer, never for the whole queue (docs/offline.md).
    async saveThroughOutbox() {
      const item = await global.Outbox.get(this.key);
      if (item && !global.Outbox.DONE.has(item.status)) {   // the same capture again (e.g. after confirming)
        const f = this.fields();
        if (f.confirmar) await global.Outbox.confirm(this.key, f.motivo, (await global.PWA.owner()).key);
        else await global.Outbox.retry(this.key);
      } else if (!item) {
        const matricula = this.form.dataset.matricula;
        await global.PWA.enqueue({
          id: this.key, capturedAt: this.capturedAt, url: this.form.action,
          urlTemplate: this.form.dataset.urlTemplate, matricula, label: this.form.dataset.label || matricula,
          fields: this.fields(),
          files: {
            foto: { bytes: await this.parts.foto.blob.arrayBuffer(), type: "image/jpeg", filename: "foto.jpg" },
            firma: { bytes: await this.parts.firma.blob.arrayBuffer(), type: "image/png", filename: "firma.png" },
          },
        });
      }
      const { item: now, session } = await global.PWA.settle(this.key);
      if (now.status === "sent") this.done(now.response || {});
      else if (now.status === "needs_attention") this.refused(now.response || { error: now.lastError });
      else if (now.status === "superseded") this.refused({ error: now.lastError });
      else this.savedOnDevice(session === "signed_out" || now.waitFor === "session");
    }

    done(data) {
      cleanupAll();
      global.location.assign(data.siguiente || this.form.dataset.guardadoUrl);
    }

    savedOnDevice(sessionEnded) {
      cleanupAll();
      const box = $(this.form, "[data-guardado-local]");
      if (sessionEnded && !$(box, "[data-sesion-terminada]")) {
        const p = Object.assign(document.createElement("p"), { className: "error" });
        p.dataset.sesionTerminada = "1";
        p.append("Su sesión terminó: la captura quedó guardada en este equipo y se enviará sola en cuanto ",
          Object.assign(document.createElement("a"), { href: `/login?next=${encodeURIComponent("/pendientes")}`,
            textContent: "inicie sesión de nuevo" }), ".");
        box.append(p);
      }
      show(box, true);
      this.button.classList.add("hidden");
      box.querySelector("a").focus();
    }

    refused(data) {
      this.showBlocks(data.bloqueos || []);
      if (data.requiere_confirmacion) {
        const box = $(this.form, "[data-advertencias]");
        box.replaceChildren(...data.advertencias.map((w) => Object.assign(document.createElement("p"), { textContent: w })));
        show($(this.form, "[data-confirmar]"), true);
        this.error.textContent = "Revise las advertencias. Para guardar de todos modos, confirme y escriba el motivo.";
      } else {
        this.error.textContent = data.error || "No se pudo guardar.";
      }
    }
  }

  // ---- Prueba de equipo ----------------------------------------------------------------------------
  function mark(root, name, ok, text) {
    const row = $(root, `[data-prueba="${name}"]`);
    row.dataset.estado = ok === null ? "aviso" : ok ? "ok" : "falla";
    $(row, "[data-resultado]").textContent = text;
  }

  async function testCamera(root) {
    if (!global.isSecureContext || !navigator.mediaDevices) {
      mark(root, "camara", false, global.Camera.explain(null));
      return;
    }
    const session = new global.Camera.Session($(root, "[data-cam-video]"));
    cleanups.add(() => session.stop());
    try {
      const info = await session.start();
      const low = info.width < 1280 || info.height < 720;
      mark(root, "camara", low ? null : true, `Permitida · ${info.width}×${info.height}${info.label ? ` · ${info.label}` : ""}` +
        (low ? " (resolución baja: se recomienda 1280×720 o más)" : ""));
    } catch (err) {
      mark(root, "camara", false, global.Camera.explain(err));
    } finally {
      session.stop();
    }
  }

  async function testSigWeb(root) {
    const bridge = new global.SigWeb.Bridge(root.dataset.sigwebUrl);
    $(root, "[data-sigweb-base]").textContent = bridge.base;
    const probe = await bridge.probe();
    if (!probe.installed) {
      mark(root, "sigweb", false, "No responde: SigWeb no está instalado, está detenido o el navegador lo bloqueó.");
      ["version", "certificado", "pad"].forEach((n) => mark(root, n, false, "Sin SigWeb."));
      return;
    }
    mark(root, "sigweb", true, "Instalado y respondiendo.");
    const version = await bridge.version();
    mark(root, "version", version ? true : null, version || "Desconocida (anterior a 1.6.4.0): actualice SigWeb.");
    const days = await bridge.certificateDays();
    mark(root, "certificado", days === null ? null : days > 30,
      days === null ? "No informado (SigWeb anterior a 1.7.0.0)." : `Vence en ${days} días.`);
    try {
      const pad = await bridge.open(400, 100);
      mark(root, "pad", pad, pad ? "Conectado." : "No hay un PAD conectado.");
    } catch (e) {
      mark(root, "pad", false, "No se pudo consultar el PAD.");
    } finally {
      await bridge.post("TabletState/0").catch(() => {});
    }
  }

  async function runEquipo(root) {
    mark(root, "seguro", global.isSecureContext, global.isSecureContext ? "Sí (la página es segura)." :
      "No: la página no es segura, la cámara no funcionará.");
    await Promise.all([testCamera(root), testSigWeb(root)]);
  }

  // ---- start ---------------------------------------------------------------------------------------
  function init() {
    const captura = document.querySelector("[data-captura]");
    if (captura) {
      const parts = {};
      const save = new SaveForm(captura, parts);
      parts.foto = new PhotoWidget($(captura, "[data-camara]"), () => save.changed());
      parts.firma = new SignatureWidget($(captura, "[data-firma]"), () => save.changed());
    }
    const entrega = document.querySelector("[data-entrega]");
    if (entrega) {
      const parts = {};
      const save = new SaveForm(entrega, parts);
      parts.firma = new SignatureWidget($(entrega, "[data-firma]"), () => save.changed());
    }
    const equipo = document.querySelector("[data-equipo]");
    if (equipo) {
      runEquipo(equipo);
      $(equipo, "[data-equipo-probar]").addEventListener("click", () => runEquipo(equipo));
    }
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  global.CapturePage = { cleanupAll, init };
})(window);
