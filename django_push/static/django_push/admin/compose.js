/* Broadcast composer: count the audience as its fields change (compose/reach/, debounced) and spell
   it out. The answer is written with textContent only; the box is an aria-live region. */
"use strict";
(function () {
  var FIELDS = ["everyone", "topics", "users", "platforms", "applications", "audience_json"];

  function start() {
    var box = document.querySelector("[data-push-reach]");
    var form = document.getElementById("broadcast_form");
    if (!box || !form) {
      return;
    }
    var url = box.getAttribute("data-url");
    var total = box.querySelector("[data-reach-total]");
    var words = box.querySelector("[data-reach-sentence]");
    var list = box.querySelector("[data-reach-platforms]");
    var note = box.querySelector("[data-reach-note]");
    var timer = null;
    var sequence = 0;

    function query() {
      var params = new URLSearchParams();
      new FormData(form).forEach(function (value, name) {
        if (FIELDS.indexOf(name) !== -1) {
          params.append(name, value);
        }
      });
      return params.toString();
    }

    function show(data, status) {
      list.textContent = "";
      if (status === 400) {
        box.setAttribute("data-state", "error");
        total.textContent = box.getAttribute("data-label-error");
        words.textContent = Object.keys(data.errors)
          .map(function (name) { return data.errors[name].join(" "); })
          .join(" ");
        note.textContent = "";
        return;
      }
      box.setAttribute("data-state", "ok");
      box.setAttribute("data-total", data.total);
      total.textContent = box.getAttribute(data.total === 1 ? "data-label-one" : "data-label-many")
        .replace("%(count)s", data.total);
      words.textContent = data.sentence;
      (data.by_platform || []).forEach(function (row) {
        var item = document.createElement("li");
        item.textContent = row.label + ": " + row.count;
        item.setAttribute("data-platform", row.platform);
        list.appendChild(item);
      });
      note.textContent = data.cached ? box.getAttribute("data-label-cached").replace("%(time)s", data.counted_at) : "";
    }

    function refresh() {
      var mine = ++sequence;
      fetch(url + "?" + query(), { credentials: "same-origin", headers: { Accept: "application/json" } })
        .then(function (response) {
          return response.json().then(function (data) { return [data, response.status]; });
        })
        .then(function (answer) {
          if (mine === sequence) {
            show(answer[0], answer[1]);
          }
        })
        .catch(function () {});
    }

    function changed(event) {
      if (FIELDS.indexOf(event.target.name) === -1) {
        return;
      }
      window.clearTimeout(timer);
      timer = window.setTimeout(refresh, 300);
    }

    form.addEventListener("input", changed);
    form.addEventListener("change", changed);
    refresh();
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
