// Page-wide behaviour. No inline scripts anywhere (strict CSP): pages opt in with data- attributes.
"use strict";
document.addEventListener("DOMContentLoaded", () => {
  if (window.htmx) {
    // Show the server's Spanish error messages (4xx) instead of silently ignoring them.
    htmx.config.responseHandling = [
      { code: "204", swap: false },
      { code: "[23]..", swap: true },
      { code: "4[0-9][0-9]", swap: true, error: true },
      { code: "5..", swap: true, error: true },
    ];
  }
});
// Buttons marked data-once disable themselves on submit: a double click sends one request.
document.addEventListener("submit", (ev) => {
  const form = ev.target;
  if (form.dataset.submitting === "1") { ev.preventDefault(); return; }
  form.dataset.submitting = "1";
  setTimeout(() => { form.dataset.submitting = "0"; }, 4000);
}, true);
