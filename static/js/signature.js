// On-screen signature (tablets, or when SigWeb / the pad is missing) with signature_pad 5.
"use strict";
(function (global) {
  class OnScreen {
    constructor(canvas) {
      this.canvas = canvas;
      this.fit();
      this.pad = new global.SignaturePad(canvas, { penColor: "#000", minWidth: 1, maxWidth: 3,
        backgroundColor: "rgba(0,0,0,0)" });
      this.onResize = () => { const data = this.pad.toData(); this.fit(); this.pad.clear(); this.pad.fromData(data); };
      global.addEventListener("resize", this.onResize);
    }

    // Match the drawing buffer to the displayed size (sharp ink on high-DPI screens).
    fit() {
      const ratio = Math.max(global.devicePixelRatio || 1, 1);
      const rect = this.canvas.getBoundingClientRect();
      if (!rect.width) return;
      this.canvas.width = Math.round(rect.width * ratio);
      this.canvas.height = Math.round(rect.height * ratio);
      this.canvas.getContext("2d").scale(ratio, ratio);
    }

    clear() { this.pad.clear(); }
    isEmpty() { return this.pad.isEmpty(); }
    points() { return this.pad.toData().reduce((n, stroke) => n + stroke.points.length, 0); }

    capture() {
      if (this.pad.isEmpty()) return Promise.reject(new Error("No hay firma: pida al alumno que firme en el recuadro."));
      return new Promise((resolve) => this.canvas.toBlob(resolve, "image/png"));
    }

    stop() {
      global.removeEventListener("resize", this.onResize);
      this.pad.off();
    }
  }

  global.OnScreenSignature = OnScreen;
})(window);
