/* Notification detail page: poll <id>/progress/ every second until the notification is final. */
"use strict";
(function () {
  function start() {
    var box = document.querySelector("[data-push-progress]");
    if (!box || box.getAttribute("data-final") === "true") {
      return;
    }
    var url = box.getAttribute("data-url");
    var bar = box.querySelector(".dp-progress");
    var fill = box.querySelector(".dp-progress-fill");
    var text = box.querySelector(".dp-progress-text");

    function render(data) {
      bar.setAttribute("aria-valuenow", data.progress);
      fill.style.width = data.progress + "%";
      fill.className = "dp-progress-fill dp-status-" + data.status;
      text.textContent = data.progress + "%";
      box.querySelectorAll("[data-field]").forEach(function (el) {
        var key = el.getAttribute("data-field");
        if (key in data) {
          el.textContent = data[key];
        }
      });
      box.setAttribute("data-status", data.status);
      var scheduled = box.querySelector("[data-push-scheduled]");
      if (scheduled) {
        scheduled.hidden = data.status !== "scheduled";
      }
    }

    function poll() {
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
          if (data.final) {
            box.setAttribute("data-final", "true");
            var done = box.querySelector("[data-push-finished]");
            if (done) {
              done.hidden = false;
            }
          } else {
            window.setTimeout(poll, 1000);
          }
        })
        .catch(function (error) {
          if (error.message !== "stop") {
            window.setTimeout(poll, 5000);
          }
        });
    }

    window.setTimeout(poll, 1000);
  }

  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", start);
  } else {
    start();
  }
})();
