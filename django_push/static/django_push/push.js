/* django_push subscribe helper: plain JavaScript, no build step.
 *
 * Rendered configuration comes from {% push_scripts %} as data attributes on this script tag.
 * API: DjangoPush.subscribe(), DjangoPush.unsubscribe(), DjangoPush.isSubscribed(), DjangoPush.ready.
 * Buttons with [data-django-push-toggle] subscribe/unsubscribe and show the state.
 *
 * Declarative Web Push (Safari 18.4+): where `window.pushManager` exists, the subscription is made
 * through it, and the server is told so (`push_manager: "window"`), so the backend may send the
 * declarative payload that Safari shows without running the service worker. Elsewhere the service
 * worker's registration subscribes (`push_manager: "service_worker"`). The worker is registered in
 * both cases: it shows classic payloads and may refine declarative ones.
 */
(function () {
  "use strict";
  const script = document.currentScript;
  const cfg = {
    sw: script.dataset.serviceWorker,
    scope: script.dataset.scope || "/",
    vapidKeyUrl: script.dataset.vapidKeyUrl,
    subscribeUrl: script.dataset.subscribeUrl,
    unsubscribeUrl: script.dataset.unsubscribeUrl,
    csrfCookie: script.dataset.csrfCookie || "csrftoken",
    csrfToken: script.dataset.csrfToken || "",
    application: script.dataset.application || "",
  };
  const supported = "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

  function cookie(name) {
    const m = document.cookie.match("(^|;)\\s*" + name + "=([^;]*)");
    return m ? decodeURIComponent(m[2]) : "";
  }

  function urlBase64ToUint8Array(value) {
    const padding = "=".repeat((4 - (value.length % 4)) % 4);
    const raw = atob((value + padding).replace(/-/g, "+").replace(/_/g, "/"));
    return Uint8Array.from(raw, (c) => c.charCodeAt(0));
  }

  async function post(url, body) {
    const response = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": cookie(cfg.csrfCookie) || cfg.csrfToken },
      body: JSON.stringify(body),
    });
    if (!response.ok) {
      const text = await response.text();
      throw new Error("django_push: " + url + " answered " + response.status + ": " + text);
    }
    return response.status === 204 ? null : response.json();
  }

  const ready = supported
    ? navigator.serviceWorker.register(cfg.sw, { scope: cfg.scope }).then(() => navigator.serviceWorker.ready)
    : Promise.reject(new Error("django_push: this browser does not support Web Push"));
  ready.catch(() => {});

  // Which PushManager subscribes: window.pushManager where the browser has one (declarative-capable).
  async function manager() {
    const registration = await ready;
    if (window.pushManager && typeof window.pushManager.subscribe === "function") {
      return { pushManager: window.pushManager, kind: "window" };
    }
    return { pushManager: registration.pushManager, kind: "service_worker" };
  }

  async function subscribe(extra) {
    const { pushManager, kind } = await manager();
    const permission = await Notification.requestPermission();
    if (permission !== "granted") throw new Error("django_push: notification permission " + permission);
    const keyResponse = await fetch(cfg.vapidKeyUrl, { credentials: "same-origin" });
    if (!keyResponse.ok) throw new Error("django_push: no VAPID public key (" + keyResponse.status + ")");
    const { public_key } = await keyResponse.json();
    let sub = await pushManager.getSubscription();
    if (!sub) {
      sub = await pushManager.subscribe({
        userVisibleOnly: true,
        applicationServerKey: urlBase64ToUint8Array(public_key),
      });
    }
    const body = Object.assign(sub.toJSON ? sub.toJSON() : sub, extra || {});
    if (cfg.application && !body.application) body.application = cfg.application;
    if (!body.push_manager) body.push_manager = kind;
    return post(cfg.subscribeUrl, body);
  }

  async function unsubscribe() {
    const { pushManager } = await manager();
    const sub = await pushManager.getSubscription();
    if (!sub) return false;
    const json = sub.toJSON ? sub.toJSON() : sub;
    await post(cfg.unsubscribeUrl, { endpoint: json.endpoint, keys: json.keys });
    await sub.unsubscribe();
    return true;
  }

  async function isSubscribed() {
    if (!supported) return false;
    const { pushManager } = await manager();
    return Boolean(await pushManager.getSubscription());
  }

  function bindButtons() {
    document.querySelectorAll("[data-django-push-toggle]").forEach((button) => {
      const on = button.dataset.labelOn || "Turn off notifications";
      const off = button.dataset.labelOff || "Turn on notifications";
      const render = (subscribed) => {
        button.textContent = subscribed ? on : off;
        button.setAttribute("aria-pressed", subscribed ? "true" : "false");
      };
      if (!supported) {
        button.disabled = true;
        button.textContent = button.dataset.labelUnsupported || "Notifications are not supported here";
        return;
      }
      isSubscribed().then(render, () => render(false));
      button.addEventListener("click", async () => {
        button.disabled = true;
        try {
          if (await isSubscribed()) {
            await unsubscribe();
            render(false);
          } else {
            await subscribe();
            render(true);
          }
          button.dispatchEvent(new CustomEvent("django-push:changed", { bubbles: true }));
        } catch (error) {
          button.dispatchEvent(new CustomEvent("django-push:error", { bubbles: true, detail: String(error) }));
          console.error(error);
        } finally {
          button.disabled = false;
        }
      });
    });
  }

  window.DjangoPush = { subscribe, unsubscribe, isSubscribed, ready, config: cfg };
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", bindButtons);
  else bindButtons();
})();
