// A campaign's live page: counters and the chart from the event stream, the contacts table.
(function () {
  "use strict";
  var root = document.getElementById("campaign");
  var id = Number(root.dataset.campaignId);
  var initial = JSON.parse(root.dataset.initial);
  var STATE_RU = { created: "создана", running: "идёт", paused: "приостановлена", finished: "завершена", cancelled: "отменена" };
  var ALLOWED = { start: ["created"], pause: ["running"], resume: ["paused"], cancel: ["created", "running", "paused"] };
  var PAGE = 50;
  var offset = 0;
  var xs = [], attempts = [], notified = [];
  var chart = null;

  function text(idName, value) {
    var el = document.getElementById(idName);
    if (el && value !== undefined && value !== null) { el.textContent = String(value); }
  }

  function fmtTime(iso) {
    if (!iso) { return "—"; }
    var d = new Date(iso);
    return isNaN(d) ? iso : d.toLocaleString("ru-RU");
  }

  function setStatus(status) {
    var el = document.getElementById("campaign-status");
    el.dataset.status = status;
    el.textContent = STATE_RU[status] || status;
    Object.keys(ALLOWED).forEach(function (action) {
      var b = document.getElementById(action + "-campaign");
      if (b) { b.disabled = ALLOWED[action].indexOf(status) < 0; }
    });
  }

  // a point made up from the browser's clock until the service's first one comes: the two
  // clocks differ, and a browser ahead would have every point of the service dropped
  var madeUp = false;

  function addPoint(p) {
    if (!p) { return; }
    if (madeUp) { xs = []; attempts = []; notified = []; madeUp = false; }
    if (xs.length && p.t <= xs[xs.length - 1]) { return; }
    xs.push(p.t); attempts.push(p.attempts); notified.push(p.notified);
  }

  function clock(seconds) {
    return new Date(seconds * 1000).toLocaleTimeString("ru-RU", {
      hour: "2-digit", minute: "2-digit", second: "2-digit"
    });
  }

  function drawChart() {
    var el = document.getElementById("progress-chart");
    if (typeof uPlot === "undefined") { return; }
    var width = Math.max(320, el.clientWidth - 2);
    if (!chart) {
      chart = new uPlot({
        width: width, height: 240,
        series: [
          // Russian clock times, not uPlot's default US "12/1/26 4:00am"
          { label: "Время", value: function (u, v) { return v == null ? "--" : clock(v); } },
          { label: "Попыток", stroke: "#0b5cad", width: 2 },
          { label: "Оповещено", stroke: "#1a7f37", width: 2 }
        ],
        axes: [
          { values: function (u, ticks) { return ticks.map(clock); } },
          { label: "абонентов" }
        ]
      }, [xs, attempts, notified], el);
    } else {
      chart.setData([xs, attempts, notified]);
    }
    el.dataset.points = String(xs.length);
  }

  function apply(data) {
    ["total", "waiting", "calling", "done", "notified", "failed", "attempts"].forEach(function (k) {
      text("counter-" + k, data[k]);
    });
    text("counter-retries", data.retries_due);
    if (data.email) { text("counter-letters", data.email.letters); text("counter-accepted", data.email.accepted); }
    text("expected-finish", fmtTime(data.expected_finish));
    // how many calls at once, and why fewer than asked (the dialer's words, in Russian)
    var pace = document.getElementById("campaign-pace");
    if (pace) {
      pace.hidden = !data.concurrency;
      pace.textContent = data.concurrency ? data.concurrency.text : "";
    }
    var reasons = document.getElementById("waiting-reasons");
    if (reasons && data.waiting_reasons_label) {
      var parts = Object.keys(data.waiting_reasons_label).map(function (code) {
        return data.waiting_reasons_label[code] + " — " + data.waiting_reasons[code];
      });
      reasons.hidden = !parts.length;
      reasons.textContent = "Ожидают: " + parts.join("; ");
    }
    setStatus(data.status);
  }

  (initial.series || []).forEach(addPoint);
  if (!xs.length) {
    addPoint({ t: Date.now() / 1000, attempts: initial.attempts || 0, notified: initial.notified || 0 });
    madeUp = true;
  }
  apply(initial);
  drawChart();
  window.addEventListener("resize", function () {
    if (chart) { chart.setSize({ width: Math.max(320, document.getElementById("progress-chart").clientWidth - 2), height: 240 }); }
  });

  // --- live ---------------------------------------------------------------------------
  var lastContacts = 0;
  cc.events({
    campaign: function (data) {
      if (data.id !== id) { return; }
      apply(data);
      addPoint(data.point);
      drawChart();
      text("live-updated", new Date().toLocaleTimeString("ru-RU"));
      // the table follows too, at most every 2 s
      if (Date.now() - lastContacts > 2000) { loadContacts(); }
    }
  });

  // --- actions ------------------------------------------------------------------------
  var result = document.getElementById("action-result");
  document.querySelectorAll("[data-action]").forEach(function (b) {
    b.addEventListener("click", function () {
      var action = b.dataset.action;
      if (action === "cancel" && !window.confirm("Отменить кампанию? Не дозвонившиеся абоненты получат итог «отменён».")) { return; }
      if (action === "follow-up" && !window.confirm("Оповестить всех, до кого не дозвонились, письмом или звонком оператора?")) { return; }
      cc.api("POST", "/api/campaigns/" + id + "/" + action).then(function (r) {
        result.className = r.ok ? "ok" : "error";
        result.textContent = r.ok ? r.data.message : r.data.error;
        if (r.ok && r.data.status) { setStatus(r.data.status); }
      });
    });
  });

  // --- contacts -----------------------------------------------------------------------
  var filter = document.getElementById("contacts-filter");
  var search = document.getElementById("contacts-search");
  var rows = document.getElementById("contacts-rows");

  function loadContacts() {
    lastContacts = Date.now();
    var q = "?limit=" + PAGE + "&offset=" + offset +
      "&status=" + encodeURIComponent(filter.value) + "&q=" + encodeURIComponent(search.value);
    fetch("/api/campaigns/" + id + "/contacts" + q, { credentials: "same-origin" })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        if (!data.contacts) { return; }
        text("contacts-total", data.total);
        rows.textContent = "";
        data.contacts.forEach(function (c) {
          var tr = document.createElement("tr");
          tr.dataset.status = c.status;
          var said = c.wait_reason_label ? c.status_ru + " (" + c.wait_reason_label + ")" : c.status_ru;
          [c.line, c.phone, c.account, c.name, said, c.attempts, c.notified ? "да" : "нет"].forEach(function (v, i) {
            var td = document.createElement("td");
            if (i === 0 || i === 5) { td.className = "num"; }
            td.textContent = String(v);
            tr.appendChild(td);
          });
          rows.appendChild(tr);
        });
        document.getElementById("contacts-prev").disabled = offset === 0;
        document.getElementById("contacts-next").disabled = offset + PAGE >= data.total;
      });
  }
  document.getElementById("contacts-form").addEventListener("submit", function (e) {
    e.preventDefault(); offset = 0; loadContacts();
  });
  filter.addEventListener("change", function () { offset = 0; loadContacts(); });
  document.getElementById("contacts-prev").addEventListener("click", function () { offset = Math.max(0, offset - PAGE); loadContacts(); });
  document.getElementById("contacts-next").addEventListener("click", function () { offset += PAGE; loadContacts(); });
  loadContacts();
})();
