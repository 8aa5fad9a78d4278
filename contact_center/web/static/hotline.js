// The hotline live board: a snapshot from /api/hotline/board, then every change from SSE.
// Durations run on the client between snapshots (server time `at` gives the clock offset).
(function () {
  "use strict";
  var offset = 0; // client seconds minus server seconds
  var charts = {};
  var METRICS = ["wait", "lookup", "info", "wrapup"];
  var STAGE = { arrived: "поступил", answered: "ответ", warned: "предупреждение", closed: "нерабочее время",
    ivr: "меню", self_service: "самообслуживание", queued: "в очереди", connected: "с оператором",
    message: "сообщение", ended: "завершён" };

  function $(id) { return document.getElementById(id); }
  function now() { return Date.now() / 1000 - offset; }
  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = text; }
    if (cls) { e.className = cls; }
    return e;
  }
  function since(td, t) {
    if (t === null || t === undefined) { td.textContent = "—"; return td; }
    td.dataset.since = t; td.className = "num"; td.textContent = cc.fmtDuration(now() - t); return td;
  }
  function fill(tbody, rows) {
    while (tbody.firstChild) { tbody.removeChild(tbody.firstChild); }
    rows.forEach(function (r) { tbody.appendChild(r); });
  }

  function render(b) {
    offset = Date.now() / 1000 - b.at;
    renderLink({ up: b.link, error: "" });
    var q = b.queue;
    $("board-waiting").textContent = q.waiting;
    var longest = $("board-longest");
    if (q.longest_since) { longest.dataset.since = q.longest_since; } else { delete longest.dataset.since; longest.textContent = "—"; }
    $("board-talking").textContent = b.counts.talking;
    $("board-free").textContent = b.counts.free;
    $("board-calls-count").textContent = b.calls.length;

    fill(document.querySelector("#board-queue tbody"), q.callers.map(function (c) {
      var tr = el("tr"); tr.dataset.id = c.id;
      tr.appendChild(el("td", c.position, "num"));
      tr.appendChild(el("td", c.caller || "скрыт"));
      tr.appendChild(since(el("td"), c.since));
      return tr;
    }));
    $("board-queue-empty").hidden = q.callers.length > 0;

    fill(document.querySelector("#board-operators tbody"), b.operators.map(function (o) {
      var tr = el("tr"); tr.dataset.state = o.state; tr.dataset.code = o.code;
      tr.appendChild(el("td", o.code + (o.name && o.name !== o.code ? " — " + o.name : "")));
      var st = el("td"); st.appendChild(el("span", o.state_ru + (o.paused_reason && o.state === "paused" ? " (" + o.paused_reason + ")" : ""), "state state-" + o.state));
      tr.appendChild(st);
      tr.appendChild(since(el("td"), o.since));
      tr.appendChild(el("td", o.calls_taken, "num"));
      return tr;
    }));

    fill(document.querySelector("#board-calls tbody"), b.calls.map(function (c) {
      var tr = el("tr"); tr.dataset.id = c.id;
      tr.appendChild(el("td", c.number || "—"));
      tr.appendChild(el("td", c.caller || "скрыт"));
      tr.appendChild(el("td", STAGE[c.state] || c.state));
      tr.appendChild(el("td", c.operator || ""));
      tr.appendChild(since(el("td"), c.state_since));
      tr.appendChild(since(el("td"), c.since));
      return tr;
    }));
    $("board-calls-empty").hidden = b.calls.length > 0;
    if (b.norms) { renderNorms(b.norms); }
    tick();
  }

  function renderLink(l) {
    var p = $("board-link");
    p.textContent = l.up ? "Связь с Asterisk есть." : "Нет связи с Asterisk" + (l.error ? ": " + l.error : "") + ". Данные могут быть устаревшими.";
    p.className = l.up ? "ok" : "error";
  }

  function pct(x) { return x === null || x === undefined ? "—" : Math.round(x * 100) + "%"; }
  function sec(x) { return x === null || x === undefined ? "—" : x.toFixed(1).replace(".", ",") + " с"; }

  function renderNorms(n) {
    $("norms-summary").textContent = "Вызовов " + n.calls + ", ответил оператор " + n.answered + ", не дождались " + n.abandoned + ".";
    METRICS.forEach(function (m) {
      var fig = $("norm-" + m); if (!fig) { return; }
      var s = n[m], norm = parseFloat(fig.dataset.norm);
      $("norm-" + m + "-text").textContent = "Среднее " + sec(s.avg_s) + ", максимум " + sec(s.max_s) + ", в нормативе " + pct(s.within_norm_share) + " (измерений " + s.count + ").";
      var hours = [], avg = [], max = [], line = [];
      for (var h = 0; h < 24; h++) { hours.push(h); avg.push(null); max.push(null); line.push(norm); }
      (n.hourly || []).forEach(function (row) { avg[row.hour] = row[m].avg_s; max[row.hour] = row[m].max_s; });
      var data = [hours, avg, max, line];
      if (typeof uPlot === "undefined") { return; }
      if (charts[m]) { charts[m].setData(data); return; }
      var plot = fig.querySelector(".plot");
      charts[m] = new uPlot({
        width: Math.max(260, plot.clientWidth || 300), height: 160,
        scales: { x: { time: false, range: [0, 23] }, y: { range: function (u, lo, hi) { return [0, Math.max(hi || 0, norm) * 1.15]; } } },
        axes: [{ incrs: [1, 2, 3, 6], values: function (u, v) { return v.map(function (x) { return x + ":00"; }); } }, { label: "с" }],
        series: [{ label: "час" },
          { label: "среднее", stroke: "#0b5cad", width: 2, spanGaps: false, points: { show: true } },
          { label: "максимум", stroke: "#9a6700", width: 1, dash: [4, 4], points: { show: true } },
          { label: "норматив " + norm + " с", stroke: "#b3261e", width: 2, points: { show: false } }]
      }, data, plot);
    });
  }

  function tick() {
    document.querySelectorAll("[data-since]").forEach(function (e) {
      var d = now() - parseFloat(e.dataset.since);
      e.textContent = cc.fmtDuration(d);
      if (e.id === "board-longest") { e.className = d > 40 ? "red" : ""; }
    });
  }

  cc.api("GET", "/api/hotline/board").then(function (r) { if (r.ok) { render(r.data); } });
  cc.events({ hotline: render, link: renderLink });
  setInterval(tick, 1000);
})();
