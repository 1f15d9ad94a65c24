// Our own small bridge to Topaz SigWeb (see ../shared/notes/sigweb.md); not Topaz's SigWebTablet.js.
// Only "simple" requests (GET, or POST with an empty body, no custom headers): no CORS preflight.
// The base URL comes from the server setting (SIGWEB_URL); a device may override it in
// localStorage["credencial.sigweb"] (it must still be allowed by the page's CSP connect-src).
"use strict";
(function (global) {
  const OVERRIDE_KEY = "credencial.sigweb";
  const PROBE_MS = 2500;
  const POLL_MS = 50;
  let running = 0;                          // active preview loops (SigWeb.activeTimers())

  function baseUrl(configured) {
    let url = configured;
    try { url = global.localStorage.getItem(OVERRIDE_KEY) || configured; } catch (e) { /* keep configured */ }
    return url.endsWith("/") ? url : `${url}/`;
  }

  function unquote(text) { return text.trim().replace(/^"+|"+$/g, ""); }

  class Bridge {
    constructor(configured) {
      this.base = baseUrl(configured);
      this.timer = null;
      this.canvas = null;
      this.lastPoints = -1;
      this.active = false;
    }

    async req(path, method, timeout) {
      const res = await fetch(this.base + path, { method: method || "GET", cache: "no-store",
        signal: AbortSignal.timeout(timeout || PROBE_MS) });
      if (!res.ok) throw new Error(`SigWeb respondió ${res.status} a ${path}`);
      return res;
    }

    async text(path, method) { return unquote(await (await this.req(path, method)).text()); }
    post(path) { return this.req(path, "POST"); }

    // Detect: any failure (not installed, stopped, certificate, permission) looks the same.
    async probe() {
      try { return { installed: true, state: await this.text("TabletState") }; }
      catch (e) { return { installed: false, error: e }; }
    }

    async version() { try { return await this.text("SigWebVersion"); } catch (e) { return null; } }

    async certificateDays() {
      try { const d = parseInt(await this.text("DaysUntilCertificateExpires"), 10); return Number.isNaN(d) ? null : d; }
      catch (e) { return null; }
    }

    // Turn the pad on; true when a pad answers (TabletState reads "1").
    async open(w, h) {
      await this.post("TabletState/0");
      await this.post(`DisplayXSize/${w}`);
      await this.post(`DisplayYSize/${h}`);
      await this.post("JustifyMode/5");
      await this.text("ClearSignature");
      await this.post("TabletState/1");
      return (await this.text("TabletState")) === "1";
    }

    async start(canvas) {
      this.canvas = canvas;
      if (!(await this.open(canvas.width, canvas.height))) {
        await this.post("TabletState/0").catch(() => {});
        throw new Error("SigWeb está instalado pero no hay un PAD de firma conectado.");
      }
      this.lastPoints = -1;
      this.active = true;
      running += 1;
      this.schedule();
    }

    schedule() { this.timer = global.setTimeout(() => this.poll(), POLL_MS); }

    async poll() {
      this.timer = null;
      try {
        const points = parseInt(await this.text("TotalPoints"), 10) || 0;
        if (points !== this.lastPoints) {
          this.lastPoints = points;
          await this.draw("SigImage/0");
        }
      } catch (e) { /* a missed frame: keep polling */ }
      if (this.active && this.timer === null) this.schedule();
    }

    async draw(path) {
      const blob = await (await this.req(path)).blob();
      const bitmap = await createImageBitmap(blob);
      const ctx = this.canvas.getContext("2d");
      ctx.fillStyle = "#fff";
      ctx.fillRect(0, 0, this.canvas.width, this.canvas.height);
      ctx.drawImage(bitmap, 0, 0, this.canvas.width, this.canvas.height);
    }

    async clear() {
      await this.text("ClearSignature");
      this.lastPoints = -1;
    }

    async points() { return parseInt(await this.text("TotalPoints"), 10) || 0; }

    // "Capturar firma": the final image as a PNG blob (refused when nothing was signed).
    async capture() {
      if ((await this.points()) <= 0) throw new Error("No hay firma: pida al alumno que firme en el PAD.");
      this.halt();
      await this.post("TabletState/0");
      await this.post(`ImageXSize/${this.canvas.width}`);
      await this.post(`ImageYSize/${this.canvas.height}`);
      await this.post("ImagePenWidth/5");
      await this.draw("SigImage/1");
      return new Promise((resolve) => this.canvas.toBlob(resolve, "image/png"));
    }

    // Stop the preview loop (the pad stays as it is).
    halt() {
      if (this.timer !== null) global.clearTimeout(this.timer);
      this.timer = null;
      if (this.active) running -= 1;
      this.active = false;
    }

    // Always leave the pad off and no timer running.
    async stop() {
      const wasOpen = this.canvas !== null;
      this.halt();
      this.canvas = null;
      if (!wasOpen) return;
      try { await this.post("Reset"); } catch (e) {
        await this.text("ClearSignature").catch(() => {});
        await this.post("TabletState/0").catch(() => {});
      }
    }
  }

  function activeTimers() { return running; }

  global.SigWeb = { Bridge, baseUrl, activeTimers, OVERRIDE_KEY };
})(window);
