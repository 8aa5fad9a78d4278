// The console's shared script: the CSRF token on every state-changing fetch, SSE helper.
(function () {
  "use strict";
  var meta = document.querySelector('meta[name="csrf-token"]');
  var csrf = meta ? meta.content : "";
  window.cc = {
    csrf: csrf,
    // fetch with the session's CSRF token; JSON errors come back as {error, field}
    api: function (method, url, body) {
      var opts = { method: method, headers: { "X-CSRF-Token": csrf }, credentials: "same-origin" };
      if (body instanceof FormData) { opts.body = body; }
      else if (body !== undefined) { opts.body = JSON.stringify(body); opts.headers["Content-Type"] = "application/json"; }
      return fetch(url, opts).then(function (r) {
        return r.json().then(function (data) { return { ok: r.ok, status: r.status, data: data }; });
      });
    },
    // subscribe to the console's event stream; handlers: {eventName: function(data)}
    events: function (handlers) {
      var source = new EventSource("/api/events");
      Object.keys(handlers).forEach(function (name) {
        source.addEventListener(name, function (e) { handlers[name](JSON.parse(e.data)); });
      });
      return source;
    },
    fmtDuration: function (s) {
      s = Math.max(0, Math.round(s));
      var m = Math.floor(s / 60), r = s % 60;
      return m + ":" + (r < 10 ? "0" : "") + r;
    }
  };
})();
