// The operator's desk: state and actions over /api/desk/..., screen-pops from the event
// stream (only this operator's), norm timers computed here from the server's timestamps.
(function () {
  "use strict";
  var root = document.getElementById("desk");
  if (!root) { return; }
  var norms = {
    wait: +root.dataset.normWait, lookup: +root.dataset.normLookup,
    info: +root.dataset.normInfo, wrapup: +root.dataset.normWrapup
  };
  var state = null;       // the last /api/desk/state answer
  var skew = 0;           // server clock minus this browser's (seconds)
  var pop = null;         // the last screen-pop
  var $ = function (id) { return document.getElementById(id); };

  function serverNow() { return Date.now() / 1000 + skew; }

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) { e.textContent = String(text); }
    if (cls) { e.className = cls; }
    return e;
  }

  function say(text, bad) {
    var out = $("desk-result");
    out.textContent = text;
    out.className = "desk-result " + (bad ? "error" : "ok");
  }

  function call(method, url, body) {
    return cc.api(method, url, body).then(function (r) {
      if (!r.ok) { say(r.data && r.data.error ? r.data.error : "Ошибка " + r.status, true); return null; }
      if (r.data && r.data.operator) { render(r.data); }
      return r.data;
    }, function () { say("Нет связи с сервером", true); return null; });
  }

  // --- state --------------------------------------------------------------------------
  function render(data) {
    state = data;
    skew = data.now - Date.now() / 1000;
    var op = data.operator;
    var badge = $("desk-state");
    badge.textContent = op.state_ru;
    badge.className = "state state-" + op.state;
    $("desk-since").textContent = "с " + new Date((op.since - skew) * 1000).toLocaleTimeString("ru-RU");
    var a = data.appeal;
    $("desk-appeal").textContent = a ? "№ " + a.number + " · " + a.source_ru : "нет";
    $("desk-appeal").title = a ? a.source_ru : "";
    var onCall = op.state === "on_call", wrap = op.state === "wrap_up";
    $("desk-lookup-done").disabled = !(onCall && a && !a.times.lookup_done);
    $("desk-info-done").disabled = !((onCall || wrap) && a && !a.times.info_done);
    $("desk-wrapup-done").disabled = !wrap;
    // a call that rang no queue (a call-back, the operator's own call) has no pop: show its
    // appeal's customer and context the same way
    if (a && (onCall || wrap) && (!pop || !pop.appeal || pop.appeal.id !== a.id) && a.source !== "hotline" && a.source !== "transfer") {
      showPop({ id: "appeal-" + a.id, at: data.now, caller: a.caller, appeal: a, waited_s: null, queued_at: null });
      answered();
    }
    tick();
  }

  function refresh() {
    return cc.api("GET", "/api/desk/state").then(function (r) { if (r.ok) { render(r.data); } });
  }

  // --- norm timers --------------------------------------------------------------------
  function timer(id, metric, start, end) {
    var cell = $(id);
    if (start === null || start === undefined) { cell.textContent = "—"; cell.className = "num"; return; }
    var seconds = Math.max(0, (end === null ? serverNow() : end) - start);
    var norm = norms[metric];
    cell.textContent = cc.fmtDuration(seconds);
    cell.className = "num" + (seconds > norm ? " timer-red" : seconds >= 0.8 * norm ? " timer-amber" : "");
    cell.title = seconds > norm ? "норматив превышен" : seconds >= 0.8 * norm ? "близко к нормативу" : "";
  }

  function tick() {
    if (!state) { return; }
    var a = state.appeal, st = state.operator.state;
    var live = st === "on_call" || st === "wrap_up";
    var ringing = pop && !pop.answered && pop.appeal && (!a || pop.appeal.id !== a.id);
    if (ringing) {  // the caller still waits while the phone rings
      timer("timer-wait", "wait", pop.queued_at, null);
      ["timer-lookup", "timer-info", "timer-wrapup"].forEach(function (id) { timer(id, "", null, null); });
      return;
    }
    if (!a) { ["timer-wait", "timer-lookup", "timer-info", "timer-wrapup"].forEach(function (id) { timer(id, "", null, null); }); return; }
    var t = a.times;
    var talking = st === "on_call";
    var nn = function (v, other) { return v !== null && v !== undefined ? v : other; };
    timer("timer-wait", "wait", t.queued, nn(t.answered, live ? null : t.queued));
    timer("timer-lookup", "lookup", t.answered, nn(t.lookup_done, talking ? null : nn(t.ended, t.answered)));
    var infoStart = nn(t.lookup_done, t.answered);
    timer("timer-info", "info", infoStart, nn(t.info_done, nn(t.ended, talking ? null : infoStart)));
    timer("timer-wrapup", "wrapup", t.ended, nn(t.wrapup_done, st === "wrap_up" ? null : t.ended));
  }

  // --- screen-pop ---------------------------------------------------------------------
  function row(dl, title, value) {
    if (value === null || value === undefined || value === "") { return; }
    dl.appendChild(el("dt", title));
    var dd = el("dd");
    if (value instanceof Node) { dd.appendChild(value); } else { dd.textContent = String(value); }
    dl.appendChild(dd);
  }

  function money(v) { return v === null || v === undefined ? "" : Number(v).toLocaleString("ru-RU", { minimumFractionDigits: 2 }) + " ₽"; }
  function day(iso) { if (!iso) { return ""; } var p = iso.slice(0, 10).split("-"); return p[2] + "." + p[1] + "." + p[0] + iso.slice(10).replace("T", " "); }

  function customerBlock(dl, c) {
    row(dl, "Лицевой счёт", el("b", c.account, "pop-account"));
    row(dl, "Потребитель", c.name);
    row(dl, "Адрес", c.address);
    if (c.debt !== null && c.debt !== undefined) { row(dl, "Задолженность", money(c.debt) + (c.debt_date ? " на " + day(c.debt_date) : "")); }
    if (c.outages) {
      var ul = el("ul");
      c.outages.forEach(function (o) {
        ul.appendChild(el("li", (o.current ? "СЕЙЧАС " : "") + o.kind_ru + ": " + day(o.starts_at) + " — " + day(o.ends_at) + (o.reason ? " (" + o.reason + ")" : ""), o.current ? "red" : ""));
      });
      row(dl, "Отключения", c.outages.length ? ul : "нет");
    }
    if (c.appeals) {
      var ap = el("ul");
      c.appeals.forEach(function (x) {
        ap.appendChild(el("li", day(x.arrived_at) + " № " + x.number + (x.classification ? " [" + x.classification + "]" : "") + (x.summary ? " — " + x.summary : "")));
      });
      row(dl, "Последние обращения", c.appeals.length ? ap : "нет");
    }
  }

  function contextBlock(dl, ctx) {
    if (!ctx) { return; }
    if (ctx.campaign_name) { row(dl, "Кампания", ctx.campaign_name + " (№ " + ctx.campaign_id + ")"); }
    if (ctx.scenario) { row(dl, "Сценарий", ctx.scenario); }
    if (ctx.parts_total !== undefined) { row(dl, "Прослушано частей", ctx.parts_played + " из " + ctx.parts_total + (ctx.played_to_end ? " (до конца)" : "")); }
    if (ctx.digits !== undefined) { row(dl, "Нажатые клавиши", ctx.digits || "нет"); }
    if (ctx.values) {
      var ul = el("ul");
      Object.keys(ctx.values).forEach(function (k) { ul.appendChild(el("li", k + ": " + ctx.values[k])); });
      row(dl, "Озвученные значения", ul);
    }
  }

  function showPop(data) {
    pop = data;
    pop.answered = false;
    var box = $("desk-pop");
    box.textContent = "";
    box.className = "pop ringing";
    var dl = el("dl");
    row(dl, "Звонит", el("b", data.caller || "номер скрыт", "pop-caller"));
    if (data.waited_s !== null) { row(dl, "Ждал в очереди", cc.fmtDuration(data.waited_s)); }
    var a = data.appeal;
    if (a) {
      row(dl, "Обращение", "№ " + a.number + " · " + a.source_ru);
      if (a.customer) { customerBlock(dl, a.customer); } else { row(dl, "Потребитель", "не найден по номеру — найдите по счёту или адресу"); }
      contextBlock(dl, a.context);
    }
    box.appendChild(dl);
    root.dataset.popShownAt = String(Date.now());  // when the operator saw it (tests read it)
    if (state && serverNow() - data.at > 60) { answered(); }  // an old pop replayed on (re)connect
    tick();
    if (!a || !a.customer) { $("desk-search-box").open = true; }
  }

  function answered() {
    if (pop) { pop.answered = true; $("desk-pop").className = "pop"; }
  }

  // --- search, booking, call-backs ----------------------------------------------------
  $("desk-search").addEventListener("submit", function (e) {
    e.preventDefault();
    var q = $("desk-q").value.trim();
    var out = $("desk-found");
    cc.api("GET", "/api/desk/customers?q=" + encodeURIComponent(q)).then(function (r) {
      out.textContent = "";
      if (!r.ok) { out.appendChild(el("p", r.data.error, "error")); return; }
      if (!r.data.customers.length) { out.appendChild(el("p", "Никого не найдено.", "muted")); return; }
      var ul = el("ul");
      r.data.customers.forEach(function (c) {
        var li = el("li");
        var b = el("button", "Открыть", "secondary small");
        b.type = "button";
        b.addEventListener("click", function () { showCustomer(c.account); });
        li.appendChild(b);
        li.appendChild(document.createTextNode(" " + c.account + " · " + c.name + " · " + c.address));
        ul.appendChild(li);
      });
      out.appendChild(ul);
    });
  });

  function showCustomer(account) {
    cc.api("GET", "/api/desk/customers/" + encodeURIComponent(account)).then(function (r) {
      var out = $("desk-found");
      out.textContent = "";
      if (!r.ok) { out.appendChild(el("p", r.data.error, "error")); return; }
      var dl = el("dl");
      customerBlock(dl, r.data.customer);
      var box = el("div", null, "pop");
      box.appendChild(dl);
      out.appendChild(box);
    });
  }

  $("desk-book").addEventListener("submit", function (e) {
    e.preventDefault();
    var f = e.target;
    call("POST", "/api/desk/book", { day: f.day.value, time: f.time.value, office: f.office.value, note: f.note.value })
      .then(function (d) { if (d) { say("Записан на приём: " + day(f.day.value) + " " + f.time.value + ", " + f.office.value); } });
  });

  function loadCallbacks() {
    cc.api("GET", "/api/desk/callbacks").then(function (r) {
      var body = document.querySelector("#desk-callbacks tbody");
      body.textContent = "";
      if (!r.ok) { return; }
      $("desk-callbacks-empty").hidden = r.data.callbacks.length > 0;
      r.data.callbacks.forEach(function (c) {
        var tr = el("tr");
        tr.appendChild(el("td", c.number));
        tr.appendChild(el("td", [c.account, c.name].filter(Boolean).join(" · ")));
        tr.appendChild(el("td", c.reason));
        tr.appendChild(el("td", day(c.asked_at)));
        var td = el("td");
        var b = el("button", "Перезвонить", "small");
        b.type = "button";
        b.addEventListener("click", function () {
          call("POST", "/api/desk/callback", { number: c.number }).then(function (d) {
            if (d) { say("Звоним: сначала ваш телефон, затем " + c.number); }
          });
        });
        td.appendChild(b);
        tr.appendChild(td);
        body.appendChild(tr);
      });
    });
  }
  $("desk-callbacks-refresh").addEventListener("click", loadCallbacks);

  // --- queue and steps ----------------------------------------------------------------
  $("desk-ready-form").addEventListener("submit", function (e) {
    e.preventDefault();
    call("POST", "/api/desk/ready", { interface: $("desk-interface").value.trim() })
      .then(function (d) { if (d) { say("Вы в очереди: звонки будут поступать"); } });
  });
  $("desk-pause-form").addEventListener("submit", function (e) {
    e.preventDefault();
    call("POST", "/api/desk/pause", { reason: $("desk-reason").value })
      .then(function (d) { if (d) { say("Пауза: " + $("desk-reason").value); } });
  });
  $("desk-logout").addEventListener("click", function () {
    call("POST", "/api/desk/logout").then(function (d) { if (d) { say("Вы вышли из очереди"); } });
  });
  $("desk-lookup-done").addEventListener("click", function () {
    call("POST", "/api/desk/lookup-done").then(function (d) { if (d) { say("Поиск клиента отмечен"); } });
  });
  $("desk-info-done").addEventListener("click", function () {
    call("POST", "/api/desk/info-done").then(function (d) { if (d) { say("Информация предоставлена"); } });
  });
  $("desk-wrapup-form").addEventListener("submit", function (e) {
    e.preventDefault();
    var cls = $("desk-class").value;
    if (!cls) { say("Выберите классификацию обращения", true); $("desk-class").focus(); return; }
    call("POST", "/api/desk/wrap-up-done", { classification: cls, summary: $("desk-summary").value })
      .then(function (d) {
        if (d) { say("Постобработка завершена"); $("desk-summary").value = ""; $("desk-class").value = ""; }
      });
  });

  cc.events({
    "desk-pop": showPop,
    "desk-call": function (d) {
      if (d.event === "AgentConnect" && pop && pop.id === d.id) { answered(); }
      if (d.event === "AgentRingNoAnswer" && pop && pop.id === d.id) { $("desk-pop").className = "pop"; }
      // the operator service records the call alongside: read the state a moment later
      setTimeout(refresh, 300);
    }
  });
  refresh();
  loadCallbacks();
  setInterval(tick, 250);
  setInterval(refresh, 3000);
})();
