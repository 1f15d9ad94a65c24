// Validar datos alumno: "Aplazado" makes the comment required; focus the first problem.
(function () {
  "use strict";
  function setup() {
    var form = document.getElementById("form-validar");
    if (!form) { return; }
    var comment = document.getElementById("comentario");
    function sync() {
      var aplazado = form.querySelector("input[name=evaluacion][value=aplazado]");
      comment.required = !!(aplazado && aplazado.checked);
    }
    form.addEventListener("change", sync);
    sync();
    var invalid = form.querySelector("[aria-invalid=true]");   // the first field to fix (its message is beside it)
    var alert = invalid || document.querySelector("[role=alert]");
    if (alert && !invalid) { alert.setAttribute("tabindex", "-1"); }
    if (alert) { alert.focus(); }
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", setup); } else { setup(); }
})();
