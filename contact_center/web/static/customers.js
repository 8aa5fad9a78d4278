// Customer base import: the file goes as multipart; a refused file lists every bad line.
(function () {
  "use strict";
  var form = document.getElementById("customer-import");
  if (!form) { return; }
  var out = document.getElementById("import-result");
  var list = document.getElementById("import-errors");
  form.addEventListener("submit", function (e) {
    e.preventDefault();
    while (list.firstChild) { list.removeChild(list.firstChild); }
    out.textContent = "Загрузка…"; out.className = "";
    var data = new FormData();
    data.append("file", form.file.files[0]);
    cc.api("POST", "/api/customers/import", data).then(function (r) {
      if (r.ok) {
        out.className = "ok";
        out.textContent = "Загружено потребителей: " + r.data.total + " (новых " + r.data.created + ", обновлено " + r.data.updated + "; кодировка " + r.data.encoding + ").";
        return;
      }
      out.className = "error";
      out.textContent = r.data.error + ". Ничего не загружено.";
      (r.data.errors || []).forEach(function (err) {
        var li = document.createElement("li"); li.textContent = err.text; list.appendChild(li);
      });
    }, function () { out.className = "error"; out.textContent = "Нет ответа сервера."; });
  });
})();
