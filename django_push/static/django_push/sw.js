/* django_push service worker: shows notifications from django_push's Web Push payload.
 *
 * Payload (JSON, encrypted by the Web Push backend):
 *   {title, body, icon, badge, image, tag, url, actions: [{action, title, icon, url}], data: {...}}
 * A click opens (or focuses) `url` (or data.url, or an action's url).
 * The declarative payload (Declarative Web Push, https://w3c.github.io/push-api/) is understood too:
 *   {web_push: 8030, notification: {title, body, navigate, lang, dir, tag, icon, image, silent, data},
 *    app_badge, mutable}
 * so one payload serves Safari 18.4+ (which shows it without this worker) and every other browser.
 * Served by django_push.views.service_worker so its scope can cover the whole site.
 */
"use strict";

function parsePayload(event) {
  if (!event.data) return {};
  try {
    return event.data.json();
  } catch (e) {
    return { body: event.data.text() };
  }
}

// Declarative Web Push: turn {web_push: 8030, notification: {...}, app_badge} into the classic shape
// this worker shows (navigate becomes the click URL) and honour app_badge where the Badging API exists.
function fromDeclarative(p) {
  if (!p || p.web_push !== 8030 || typeof p.notification !== "object" || !p.notification) return p;
  const n = p.notification;
  if (typeof p.app_badge === "number" && "setAppBadge" in self.navigator) {
    const badge = p.app_badge > 0 ? self.navigator.setAppBadge(p.app_badge) : self.navigator.clearAppBadge();
    badge.catch(() => {});
  }
  return {
    title: n.title, body: n.body, icon: n.icon, badge: n.badge, image: n.image, tag: n.tag,
    lang: n.lang, dir: n.dir, silent: n.silent, url: n.navigate, data: n.data,
    actions: Array.isArray(n.actions)
      ? n.actions.map((a) => ({ action: a.action, title: a.title, icon: a.icon, url: a.navigate }))
      : undefined,
  };
}

self.addEventListener("install", () => self.skipWaiting());
self.addEventListener("activate", (event) => event.waitUntil(self.clients.claim()));

self.addEventListener("push", (event) => {
  const p = fromDeclarative(parsePayload(event));
  const data = Object.assign({}, p.data || {});
  data.url = p.url || data.url || "/";
  if (Array.isArray(p.actions)) {
    data.actionUrls = {};
    p.actions.forEach((a) => { if (a.url) data.actionUrls[a.action] = a.url; });
  }
  const options = {
    body: p.body || "",
    icon: p.icon || undefined,
    badge: p.badge || undefined,
    image: p.image || undefined,
    tag: p.tag || undefined,
    renotify: Boolean(p.tag),
    lang: p.lang || undefined,
    dir: p.dir || undefined,
    silent: p.silent === true ? true : undefined,
    actions: Array.isArray(p.actions)
      ? p.actions.map((a) => ({ action: a.action, title: a.title, icon: a.icon }))
      : [],
    data: data,
  };
  event.waitUntil(self.registration.showNotification(p.title || "", options));
});

self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  const target = (event.action && data.actionUrls && data.actionUrls[event.action]) || data.url || "/";
  const url = new URL(target, self.location.origin).href;
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      for (const w of windows) {
        if (w.url === url && "focus" in w) return w.focus();
      }
      return self.clients.openWindow ? self.clients.openWindow(url) : undefined;
    })
  );
});

// The browser rotated the subscription: register the new one with the server. The request is
// authorised by the old subscription's endpoint and auth secret (a worker has no CSRF token).
const params = new URL(self.location.href).searchParams;

self.addEventListener("pushsubscriptionchange", (event) => {
  const resubscribeUrl = params.get("resubscribe");
  const vapidKeyUrl = params.get("vapid");
  if (!resubscribeUrl || !vapidKeyUrl) return;
  event.waitUntil(
    (async () => {
      let sub = event.newSubscription;
      if (!sub) {
        const { public_key } = await (await fetch(vapidKeyUrl)).json();
        sub = await self.registration.pushManager.subscribe({
          userVisibleOnly: true,
          applicationServerKey: urlBase64ToUint8Array(public_key),
        });
      }
      const old = event.oldSubscription ? event.oldSubscription.toJSON() : null;
      await fetch(resubscribeUrl, {
        method: "POST",
        headers: { "Content-Type": "application/json" },
        body: JSON.stringify({ old: old, subscription: sub.toJSON() }),
      });
    })()
  );
});

function urlBase64ToUint8Array(value) {
  const padding = "=".repeat((4 - (value.length % 4)) % 4);
  const raw = atob((value + padding).replace(/-/g, "+").replace(/_/g, "/"));
  return Uint8Array.from(raw, (c) => c.charCodeAt(0));
}

// Engagement: report display and clicks with the signed delivery reference the push carried
// (data.dp_ref) to the engagement endpoint (?engagement=… on this worker's URL; see
// docs/engagement.md). Separate listeners, so the display code above stays independent of it.
function reportEngagement(reference, event) {
  const url = params.get("engagement");
  if (!url || !reference) return Promise.resolve();
  return fetch(url, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ reference: reference, event: event }),
    credentials: "omit",
    keepalive: true,
  }).catch(() => undefined); // a lost report must never break showing or opening the notification
}

self.addEventListener("push", (event) => {
  const p = parsePayload(event);
  const reference = p.data && p.data.dp_ref;
  if (reference) event.waitUntil(reportEngagement(reference, "displayed"));
});

self.addEventListener("notificationclick", (event) => {
  const data = event.notification.data || {};
  if (data.dp_ref) event.waitUntil(reportEngagement(data.dp_ref, "clicked"));
});
