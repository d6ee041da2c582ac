// Tessera authenticator service worker (MDN's shape): a versioned cache of the
// app shell, old caches removed on activate. API answers are never cached.
const CACHE = "tessera-shell-{{ version }}";
const ASSETS = [{% for a in assets %}"{{ a|escapejs }}"{% if not forloop.last %}, {% endif %}{% endfor %}];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(ASSETS)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n.startsWith("tessera-shell-") && n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.startsWith("/api/")) return; // never cached
  const key = url.pathname === "/app/" || url.pathname === "/app/index.html" ? "/app/" : url.pathname;
  if (!ASSETS.includes(key)) return;
  event.respondWith(caches.match(key).then((hit) => hit || fetch(event.request)));
});

// Web Push (PROTOCOL §6): a login request for a closed app. The message is
// the §5 challenge; the notification only opens the app, where the request
// is approved (number, PIN, fingerprint). An app window on screen shows the
// request itself from its socket, so no notification is needed then.
const appWindows = () =>
  self.clients.matchAll({ type: "window", includeUncontrolled: true })
    .then((windows) => windows.filter((w) => new URL(w.url).pathname.startsWith("/app/")));

self.addEventListener("push", (event) => {
  let challenge = null;
  try {
    challenge = event.data?.json();
  } catch {
    challenge = null;
  }
  if (!challenge || challenge.type !== "challenge" || typeof challenge.id !== "string") return;
  event.waitUntil(appWindows().then((windows) => {
    if (windows.some((w) => w.visibilityState === "visible")) return undefined;
    return self.registration.showNotification(`Login request — ${challenge.application}`, {
      body: `${challenge.username}\nTap to review`,
      tag: challenge.id,
      requireInteraction: true,
      data: { id: challenge.id, serial: challenge.serial, url: `/app/#challenge=${encodeURIComponent(challenge.id)}` },
    });
  }));
});

// Tapping a notification focuses an open app window (which shows the request)
// or opens the app at that request.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  const data = event.notification.data || {};
  const url = data.url || "/app/";
  event.waitUntil(appWindows().then((windows) => {
    const open = windows[0];
    if (!open) return self.clients.openWindow(url);
    open.postMessage({ type: "open-challenge", id: data.id, serial: data.serial });
    return open.focus();
  }));
});

// The browser replaced the subscription: make a new one with the same key;
// the app registers it with the server (signed by the device key) when it
// next starts and sees that the endpoint changed.
self.addEventListener("pushsubscriptionchange", (event) => {
  const options = event.oldSubscription?.options;
  if (!options) return;
  event.waitUntil(self.registration.pushManager.subscribe(options).then(() =>
    appWindows().then((windows) => windows.forEach((w) => w.postMessage({ type: "webpush-changed" }))),
  ).catch(() => {}));
});
