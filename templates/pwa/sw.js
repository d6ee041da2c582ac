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

// A login request shown while the app was in the background: bring it forward.
self.addEventListener("notificationclick", (event) => {
  event.notification.close();
  event.waitUntil(
    self.clients.matchAll({ type: "window", includeUncontrolled: true }).then((windows) => {
      const open = windows.find((w) => new URL(w.url).pathname.startsWith("/app/"));
      return open ? open.focus() : self.clients.openWindow("/app/");
    }),
  );
});
