// The new-campaign form: upload, refused rows with their line, then start.
(function () {
  "use strict";
  var form = document.getElementById("campaign-form");
  var out = document.getElementById("create-result");
  var refusedSection = document.getElementById("refused-section");
  var refusedRows = document.getElementById("refused-rows");
  var created = document.getElementById("created-campaign");
  var kind = document.getElementById("f-kind");
  var scenario = document.getElementById("f-scenario");
  var FIELD_IDS = { ring_timeout: "f-ring-timeout", outage_start: "f-outage-start", outage_end: "f-outage-end", decision_date: "f-decision-date" };
  var campaignId = null;

  // the kind's own scenario first: a debt campaign with an outage scenario is refused anyway
  function pickScenario() {
    var wanted = kind.options[kind.selectedIndex].dataset.scenario;
    for (var i = 0; i < scenario.options.length; i++) {
      if (scenario.options[i].value === wanted) { scenario.selectedIndex = i; return; }
    }
  }
  kind.addEventListener("change", pickScenario);
  pickScenario();

  // where the list comes from: only the chosen source's fields are shown and sent
  var source = document.getElementById("f-source");
  function showSource() {
    var chosen = source.value;
    form.querySelectorAll("[data-source]").forEach(function (el) {
      var on = el.dataset.source === chosen;
      el.hidden = !on;
      el.querySelectorAll("input, select, textarea").forEach(function (f) { f.disabled = !on; });
    });
    form.querySelectorAll("[data-source-not]").forEach(function (el) {
      var on = el.dataset.sourceNot !== chosen;
      el.hidden = !on;
      el.querySelectorAll("input, select, textarea").forEach(function (f) { f.disabled = !on; });
    });
    if (chosen === "outage") {
      kind.value = "outage";
      pickScenario();
    }
  }
  source.addEventListener("change", showSource);
  showSource();

  function clearInvalid() {
    form.querySelectorAll("[aria-invalid]").forEach(function (el) { el.removeAttribute("aria-invalid"); });
  }

  function showNotes(data) {
    refusedRows.textContent = "";
    var groups = [["rejected", "отклонена"], ["partial", "частично"], ["duplicates", "повтор"], ["opted_out", "отказался"]];
    var count = 0;
    groups.forEach(function (g) {
      (data[g[0]] || []).forEach(function (note) {
        var tr = document.createElement("tr");
        tr.dataset.line = note.line;
        tr.dataset.kind = g[0];
        [String(note.line), g[1], note.reason].forEach(function (text, i) {
          var td = document.createElement("td");
          if (i === 0) { td.className = "num"; }
          td.textContent = text;
          tr.appendChild(td);
        });
        refusedRows.appendChild(tr);
        count++;
      });
    });
    refusedSection.hidden = count === 0;
  }

  form.addEventListener("submit", function (e) {
    e.preventDefault();
    clearInvalid();
    created.hidden = true;
    out.className = "";
    out.textContent = "Загрузка списка…";
    var body = new FormData(form);
    if (source.value === "customers") { body.set("list", "customers"); }
    // a browser's datetime-local is local wall time, as the service reads it
    cc.api("POST", "/api/campaigns", body).then(function (r) {
      showNotes(r.data);
      if (!r.ok) {
        out.className = "error";
        out.textContent = "Кампания не создана: " + r.data.error;
        if (r.data.field) {
          var el = document.getElementById(FIELD_IDS[r.data.field] || ("f-" + r.data.field));
          if (el) { el.setAttribute("aria-invalid", "true"); el.focus(); }
        }
        return;
      }
      campaignId = r.data.id;
      out.className = "ok";
      out.textContent = "Кампания " + r.data.id + " создана: абонентов " + r.data.contacts +
        ", писем " + r.data.letters + ", отклонено строк " + r.data.rejected.length + ".";
      document.getElementById("created-summary").textContent = "«" + r.data.name + "», номер " + r.data.id + ".";
      var link = document.getElementById("open-campaign");
      link.href = "/campaigns/" + r.data.id;
      created.hidden = false;
      document.getElementById("start-campaign").focus();
    }).catch(function () {
      out.className = "error";
      out.textContent = "Сервис не ответил: попробуйте ещё раз.";
    });
  });

  document.getElementById("start-campaign").addEventListener("click", function () {
    if (campaignId === null) { return; }
    cc.api("POST", "/api/campaigns/" + campaignId + "/start").then(function (r) {
      if (r.ok) { location.href = "/campaigns/" + campaignId; }
      else { out.className = "error"; out.textContent = r.data.error; }
    });
  });
})();
