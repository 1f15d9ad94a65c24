// Reception by barcode scanner: keep the matrícula box focused, accept the Spanish-keyboard
// apostrophe for the dash, and refocus after each htmx swap so the next card can be scanned.
(function () {
  "use strict";
  function focusScanner() {
    var box = document.querySelector("input[data-scanner]");
    if (box) { box.focus(); box.select(); }
  }
  document.addEventListener("input", function (e) {
    var t = e.target;
    if (t && t.hasAttribute && t.hasAttribute("data-scanner") && t.value.indexOf("'") !== -1) {
      t.value = t.value.replace(/'/g, "-");
    }
  });
  document.addEventListener("htmx:afterSwap", focusScanner);
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", focusScanner); } else { focusScanner(); }
})();
