// The authenticator's entry point: the only module with side effects on import.
import { h, message } from "./ui.js";
import * as vault from "./vault.js";
import { showTokens } from "./screens/tokens.js";
import { takesPush } from "./names.js";
import { runActivation, setHome, showActivate } from "./screens/activate.js";

setHome((options) => showTokens(options));

// Push: challenges arrive over the device socket and are shown one at a time.
// Loaded after the first screen, so passcodes never wait for it.
let wanted = null; // {id, serial, since}: the request a notification opened

async function startPush() {
  const [{ DeviceSocket }, approve, webpush] = await Promise.all([
    import("./socket.js"),
    import("./screens/approve.js"),
    import("./webpush.js"),
  ]);
  const socket = new DeviceSocket();
  const queue = [];
  let showing = null;

  const next = () => {
    while (!showing && queue.length) {
      const challenge = queue.shift();
      if (approve.isExpired(challenge)) continue;
      showing = challenge;
      if (wanted?.id === challenge.id) wanted = null;
      approve.showChallenge(challenge, {
        socket,
        // Requests behind this one are said on its screen, never hidden.
        waiting: () => queue.filter((c) => !approve.isExpired(c)).map((c) => c.application),
        // Answered: the result stays up only until the next request comes,
        // and its notification goes (the server tells the other devices,
        // not the one that answered: PROTOCOL §5's challenge.closed).
        answered: () => {
          webpush.closeNotification(challenge.id).catch(() => {});
          showing = null;
          next();
        },
        done: () => {
          if (showing === challenge) showing = null;
          if (queue.length) next();
          else if (!showing) showTokens();
        },
      });
    }
  };

  socket.addEventListener("challenge", ({ detail }) => {
    // One request reaches every token of the user: it is shown once, answered
    // by the token the tapped notification named, or else the first one.
    const same = showing?.id === detail.id ? showing : queue.find((c) => c.id === detail.id);
    if (same) {
      if (wanted?.id === detail.id && wanted.serial === detail.serial && same !== showing) {
        same.serial = detail.serial;
      }
      return;
    }
    queue.push(detail);
    if (wanted?.id === detail.id && wanted.serial) detail.serial = wanted.serial;
    notify(detail);
    next();
  });
  socket.addEventListener("closed", ({ detail }) => {
    const at = queue.findIndex((c) => c.id === detail.id);
    if (at >= 0) queue.splice(at, 1);
    approve.challengeClosed(detail.id, detail.state);
    webpush.closeNotification(detail.id).catch(() => {});
  });
  socket.addEventListener("info", ({ detail: record }) => {
    if (!takesPush(record)) {
      // Its requests can no longer be answered: drop them, close the one shown.
      for (let i = queue.length - 1; i >= 0; i--) if (queue[i].serial === record.serial) queue.splice(i, 1);
      approve.tokenStopped(record.serial, record.state);
    }
    // Renamed, suspended, removed…: the list and a token's page show it now,
    // unless a login request is on screen or arrives meanwhile.
    const listed = () => !showing && !queue.length && !wanted
      && ["tokens", "token", "welcome"].includes(document.querySelector("main")?.dataset.screen);
    if (listed()) showTokens({ onlyIf: listed });
  });
  socket.addEventListener("status", ({ detail }) => {
    document.documentElement.dataset.push = detail; // read by tests
  });
  socket.addEventListener("ready", () => {
    // A request opened from a notification that the server no longer has
    // pending (answered elsewhere, or expired) arrives with no challenge.
    if (!wanted) return;
    const id = wanted.id;
    setTimeout(() => {
      if (wanted?.id === id && showing?.id !== id && !queue.some((c) => c.id === id)) {
        wanted = null;
        if (!showing) showTokens({ notice: "That login request is no longer waiting: it was answered, or it expired." });
      }
    }, 1500);
  });
  document.addEventListener("tessera:tokens-changed", () => socket.refresh());
  document.addEventListener("tessera:open-challenge", () => socket.refresh());
  navigator.serviceWorker?.addEventListener("message", ({ data }) => {
    if (data?.type === "open-challenge") openChallenge(data.id, data.serial);
    if (data?.type === "webpush-changed") webpush.ensure();
  });
  await socket.start();
  webpush.ensure(); // registers a subscription the browser made anew
}

// A notification was opened: show that request. The socket re-authenticates,
// and the server sends what is still pending.
function openChallenge(id, serial = null) {
  wanted = { id, serial };
  document.dispatchEvent(new Event("tessera:open-challenge"));
}

function notify(challenge) {
  if (document.visibilityState === "visible" || !("Notification" in window)) return;
  if (Notification.permission !== "granted") return;
  navigator.serviceWorker?.ready.then((registration) =>
    registration.showNotification(`Login request — ${challenge.application}`, {
      body: `${challenge.username}\nTap to review`,
      tag: challenge.id, // the same tag as a Web Push notification: never two
      requireInteraction: true,
    })).catch(() => {});
}

// Opened from a notification: /app/#challenge=<id>.
function challengeFromHash() {
  const id = new URLSearchParams(location.hash.slice(1)).get("challenge");
  if (!id) return;
  history.replaceState(null, "", location.pathname);
  openChallenge(id);
}

// An activation link opened while the app is open changes only the fragment.
function activationFromHash() {
  const activation = new URLSearchParams(location.hash.slice(1)).get("activate");
  if (!activation) return false;
  history.replaceState(null, "", location.pathname); // keep the code out of history
  runActivation(activation, { retry: (msg) => showActivate({ error: msg }) });
  return true;
}

// Plain http on a network address is not a secure context: no WebCrypto,
// service worker or camera. Say so instead of failing somewhere later.
function insecure() {
  if (window.isSecureContext) return false;
  document.getElementById("app").replaceChildren(h("div", { class: "stack", id: "insecure" },
    h("h1", {}, "This address is not secure"),
    h("p", { class: "message error" },
      `The authenticator needs https, or http://localhost, to keep its keys and use the camera; ${location.origin} is neither.`),
    h("p", {}, "Open Tessera at its https address. To try a laptop's server from a phone, connect the phone by USB and run 'adb reverse tcp:8000 tcp:8000', then open http://localhost:8000/app/ on the phone.")));
  return true;
}

async function boot() {
  if (insecure()) return;
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
  }
  window.addEventListener("hashchange", activationFromHash);
  window.addEventListener("hashchange", challengeFromHash);
  challengeFromHash();
  if (!activationFromHash()) await showTokens();
  performance.mark("tessera-ready");
  startPush().catch((error) => console.warn("push unavailable:", error.message));
  document.documentElement.dataset.ready = "1";
  vault.selfTest().then((ok) => {
    if (!ok) throw new Error("self-test failed");
  }).catch(() => {
    document.body.prepend(message(
      "This browser cannot keep Tessera's keys safely (a private window, or storage is blocked). Tokens you add may be lost.",
    ));
    document.documentElement.dataset.selftest = "failed";
  });
}

boot().catch((error) => {
  document.getElementById("app").replaceChildren(h("p", { class: "message error" }, `Tessera could not start: ${error.message}`));
});
