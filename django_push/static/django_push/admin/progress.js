/* Notification detail page: poll <id>/progress/ and refresh the bar, the counters and the page's live
   parts (outcome chart, engagement funnel, delivery log: server-rendered fragments). Every second
   while it sends; every five seconds once final, so opens and clicks keep arriving; not while the
   tab is hidden. The delivery log's filters (the page's query string) are passed on. */
"use strict";
(function () {
  var FAST = 1000;
  var SLOW = 5000;

  function start() {
    var box = document.querySelector("[data-push-progress]");
    if (!box) {
      return;
    }
    var url = box.getAttribute("data-url") + window.location.search;
    var bar = box.querySelector(".dp-progress");
    var fill = box.querySelector(".dp-progress-fill");
    var text = box.querySelector(".dp-progress-text");

    function render(data) {
      bar.setAttribute("aria-valuenow", data.progress);
      fill.style.width = data.progress + "%";
      fill.className = "dp-progress-fill dp-status-" + data.status;
      text.textContent = data.progress_text;
      box.querySelectorAll("[data-field]").forEach(function (el) {
        var key = el.getAttribute("data-field");
        if (key in data) {
          el.textContent = data[key];
        }
      });
      box.setAttribute("data-status", data.status);
      box.setAttribute("data-final", data.final ? "true" : "false");
      var scheduled = box.querySelector("[data-push-scheduled]");
      if (scheduled) {
        scheduled.hidden = data.status !== "scheduled";
      }
      var held = box.querySelector("[data-push-held]");
      if (held) {
        held.textContent = data.held_text || "";
        held.hidden = !data.held_text;
      }
      var done = box.querySelector("[data-push-finished]");
      if (done) {
        done.hidden = !data.final;
      }
      Object.keys(data.fragments || {}).forEach(function (name) {
        var el = document.querySelector('[data-push-fragment="' + name + '"]');
        if (el && el.innerHTML !== data.fragments[name]) {
          el.innerHTML = data.fragments[name];
        }
      });
      document.dispatchEvent(new CustomEvent("django-push:progress", { detail: data }));
    }

    function poll() {
      if (document.hidden) {
        window.setTimeout(poll, FAST);
        return;
      }
      fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" }, cache: "no-store" })
        .then(function (response) {
          if (response.status === 403 || response.status === 404) {
            throw new Error("stop");
          }
          if (!response.ok) {
            throw new Error("retry");
          }
          return response.json();
        })
        .then(function (data) {
          render(data);
          window.setTimeout(poll, data.final ? SLOW : FAST);
        })
        .catch(function (error) {
          if (error.message !== "stop") {
            window.setTimeout(poll, SLOW);
          }
        });
    }

    window.setTimeout(poll, box.getAttribute("data-final") === "true" ? SLOW : FAST);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
