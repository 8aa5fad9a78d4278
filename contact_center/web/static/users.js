(function () {
  "use strict";
  var out = document.getElementById("user-result");
  function done(r) {
    if (r.ok) { location.reload(); } else { out.textContent = r.data.error; out.className = "error"; }
  }
  document.getElementById("user-add").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target;
    cc.api("POST", "/api/users", {
      login: f.login.value, role: f.role.value, password: f.password.value,
      operator_code: f.operator_code.value || null
    }).then(done);
  });
  document.querySelectorAll("[data-user-action]").forEach(function (b) {
    b.addEventListener("click", function () {
      cc.api("POST", "/api/users/" + encodeURIComponent(b.dataset.login) + "/" + b.dataset.userAction).then(done);
    });
  });
})();
