// Webcam for ID photos: getUserMedia, the real frame size, a 3:4 crop with zoom and pan, 600×800 JPEG.
// No DOM wiring here (capture.js does that). Every stream opened is tracked so the page can prove
// nothing keeps running after it leaves (Camera.liveTracks()).
"use strict";
(function (global) {
  const KEY = "credencial.camara";          // remembered camera of this device
  const OUT_W = 600, OUT_H = 800;
  const open = new Set();                   // MediaStreams not yet stopped

  function explain(err) {
    if (!global.isSecureContext || !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
      return "La cámara solo funciona en una página segura (https://). Entre al sistema por su dirección https.";
    }
    const name = err && err.name;
    if (name === "NotAllowedError" || name === "SecurityError" || name === "PermissionDeniedError") {
      return "Se negó el permiso para usar la cámara. Dé clic en el candado junto a la dirección, permita la " +
        "cámara y vuelva a intentar.";
    }
    if (name === "NotFoundError" || name === "DevicesNotFoundError" || name === "OverconstrainedError") {
      return "No se encontró una cámara. Conecte la cámara web y vuelva a intentar.";
    }
    if (name === "NotReadableError" || name === "TrackStartError" || name === "AbortError") {
      return "La cámara está ocupada por otro programa (Zoom, Teams, la app Cámara…). Ciérrelo y vuelva a intentar.";
    }
    return "No se pudo abrir la cámara" + (err && err.message ? `: ${err.message}` : ".");
  }

  function remembered() {
    try { return global.localStorage.getItem(KEY) || ""; } catch (e) { return ""; }
  }

  function remember(id) {
    try { if (id) global.localStorage.setItem(KEY, id); } catch (e) { /* private mode: not remembered */ }
  }

  function stopStream(stream) {
    if (!stream) return;
    stream.getTracks().forEach((t) => t.stop());
    open.delete(stream);
  }

  function liveTracks() {
    let n = 0;
    open.forEach((s) => s.getTracks().forEach((t) => { if (t.readyState === "live") n += 1; }));
    return n;
  }

  async function listCameras() {
    const all = await navigator.mediaDevices.enumerateDevices();
    return all.filter((d) => d.kind === "videoinput");
  }

  // One camera session bound to a <video>.
  class Session {
    constructor(video) { this.video = video; this.stream = null; }

    async start(deviceId) {
      this.stop();
      if (!global.isSecureContext || !navigator.mediaDevices) throw new Error(explain(null));
      const video = { width: { ideal: 1280 }, height: { ideal: 720 } };
      const wanted = deviceId || remembered();
      if (wanted) video.deviceId = { exact: wanted };
      let stream;
      try {
        stream = await navigator.mediaDevices.getUserMedia({ video, audio: false });
      } catch (err) {
        if (!(wanted && err.name === "OverconstrainedError")) throw err;
        delete video.deviceId;            // the remembered camera is gone: take any
        stream = await navigator.mediaDevices.getUserMedia({ video, audio: false });
      }
      open.add(stream);
      this.stream = stream;
      this.video.srcObject = stream;
      await this.video.play().catch(() => {});
      await this.ready();
      const track = stream.getVideoTracks()[0];
      const settings = track.getSettings ? track.getSettings() : {};
      remember(settings.deviceId);
      return { width: this.video.videoWidth, height: this.video.videoHeight, deviceId: settings.deviceId || "",
        label: track.label || "" };
    }

    ready() {
      if (this.video.videoWidth) return Promise.resolve();
      return new Promise((resolve) => this.video.addEventListener("loadedmetadata", resolve, { once: true }));
    }

    // The current frame at the camera's real size.
    snapshot() {
      const c = document.createElement("canvas");
      c.width = this.video.videoWidth;
      c.height = this.video.videoHeight;
      c.getContext("2d").drawImage(this.video, 0, 0);
      return c;
    }

    stop() {
      stopStream(this.stream);
      this.stream = null;
      if (this.video) this.video.srcObject = null;
    }
  }

  // The 3:4 region of src for zoom z (≥1) and pan px, py (−1…1), in source pixels.
  function cropBox(w, h, z, px, py) {
    const baseH = Math.min(h, (w * 4) / 3);
    const ch = baseH / z, cw = (ch * 3) / 4;
    const x = (w - cw) / 2 + (px * (w - cw)) / 2;
    const y = (h - ch) / 2 + (py * (h - ch)) / 2;
    return { x, y, w: cw, h: ch };
  }

  function renderCrop(src, out, z, px, py) {
    const b = cropBox(src.width, src.height, z, px, py);
    out.width = OUT_W;
    out.height = OUT_H;
    const ctx = out.getContext("2d");
    ctx.imageSmoothingQuality = "high";
    ctx.drawImage(src, b.x, b.y, b.w, b.h, 0, 0, OUT_W, OUT_H);
    return b;
  }

  function toJpeg(canvas) {
    return new Promise((resolve) => canvas.toBlob(resolve, "image/jpeg", 0.9));
  }

  global.Camera = { Session, explain, listCameras, remembered, remember, cropBox, renderCrop, toJpeg, liveTracks };
})(window);
