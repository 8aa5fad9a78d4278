// Outages: add (JSON to /api/outages), remove; errors name the field to fix.
(function () {
  "use strict";
  var out = document.getElementById("outage-result");
  function said(r) {
    if (r.ok) { location.reload(); return; }
    out.textContent = r.data.error; out.className = "error";
    var f = r.data.field && document.querySelector('#outage-add [name="' + r.data.field + '"]');
    if (f) { f.setAttribute("aria-invalid", "true"); f.focus(); }
  }
  var form = document.getElementById("outage-add");
  if (form) {
    form.addEventListener("submit", function (e) {
      e.preventDefault();
      form.querySelectorAll("[aria-invalid]").forEach(function (x) { x.removeAttribute("aria-invalid"); });
      cc.api("POST", "/api/outages", {
        kind: form.kind.value, addresses: form.addresses.value,
        start: form.start.value.replace("T", " "), end: form.end.value.replace("T", " "),
        reason: form.reason.value
      }).then(said);
    });
  }
  document.querySelectorAll("[data-outage-remove]").forEach(function (b) {
    b.addEventListener("click", function () {
      if (!confirm("Удалить отключение " + b.dataset.outageRemove + "?")) { return; }
      cc.api("POST", "/api/outages/" + b.dataset.outageRemove + "/remove").then(said);
    });
  });
})();
