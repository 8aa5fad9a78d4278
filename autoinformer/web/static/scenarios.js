// Scenarios: the message's text for the sample customer, and adding a scenario.
(function () {
  "use strict";
  document.querySelectorAll("[data-preview]").forEach(function (b) {
    b.addEventListener("click", function () {
      var name = b.dataset.preview;
      var out = document.getElementById("preview-text-" + name);
      cc.api("POST", "/api/scenarios/" + encodeURIComponent(name) + "/preview", {}).then(function (r) {
        out.className = "preview-text" + (r.ok ? "" : " error");
        out.textContent = r.ok ? r.data.text : r.data.error;
      });
    });
  });
  var form = document.getElementById("scenario-form");
  if (!form) { return; }
  var result = document.getElementById("scenario-result");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    var body = new FormData();
    var file = document.getElementById("scenario-file").files[0];
    if (file) { body.append("file", file, file.name); }
    else { body.append("text", document.getElementById("scenario-text").value); }
    cc.api("POST", "/api/scenarios", body).then(function (r) {
      result.className = r.ok ? "ok" : "error";
      result.textContent = r.ok ? r.data.message : r.data.error + (r.data.field ? " (ключ " + r.data.field + ")" : "");
      if (r.ok && r.data.created) { window.setTimeout(function () { location.reload(); }, 800); }
    });
  });
})();
