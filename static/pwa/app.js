// The authenticator's entry point: the only module with side effects on import.
import { h, message } from "./ui.js";
import * as vault from "./vault.js";
import { showTokens } from "./screens/tokens.js";
import { runActivation, setHome, showActivate } from "./screens/activate.js";

setHome((options) => showTokens(options));

// Push: challenges arrive over the device socket and are shown one at a time.
// Loaded after the first screen, so passcodes never wait for it.
async function startPush() {
  const [{ DeviceSocket }, approve] = await Promise.all([
    import("./socket.js"),
    import("./screens/approve.js"),
  ]);
  const socket = new DeviceSocket();
  const queue = [];
  let showing = null;

  const next = () => {
    while (!showing && queue.length) {
      const challenge = queue.shift();
      if (approve.isExpired(challenge)) continue;
      showing = challenge;
      approve.showChallenge(challenge, {
        socket,
        done: () => {
          showing = null;
          if (queue.length) next();
          else showTokens();
        },
      });
    }
  };

  socket.addEventListener("challenge", ({ detail }) => {
    if (showing?.id === detail.id || queue.some((c) => c.id === detail.id)) return;
    queue.push(detail);
    notify(detail);
    next();
  });
  socket.addEventListener("closed", ({ detail }) => {
    const at = queue.findIndex((c) => c.id === detail.id);
    if (at >= 0) queue.splice(at, 1);
    approve.challengeClosed(detail.id, detail.state);
  });
  socket.addEventListener("status", ({ detail }) => {
    document.documentElement.dataset.push = detail; // read by tests
  });
  document.addEventListener("tessera:tokens-changed", () => socket.refresh());
  await socket.start();
}

function notify(challenge) {
  if (document.visibilityState === "visible" || !("Notification" in window)) return;
  if (Notification.permission !== "granted") return;
  navigator.serviceWorker?.ready.then((registration) =>
    registration.showNotification("Login request", {
      body: `${challenge.application} — ${challenge.username}`,
      tag: challenge.id,
      requireInteraction: true,
    })).catch(() => {});
}

// An activation link opened while the app is open changes only the fragment.
function activationFromHash() {
  const activation = new URLSearchParams(location.hash.slice(1)).get("activate");
  if (!activation) return false;
  history.replaceState(null, "", location.pathname); // keep the code out of history
  runActivation(activation, { retry: (msg) => showActivate({ error: msg }) });
  return true;
}

async function boot() {
  if ("serviceWorker" in navigator) {
    navigator.serviceWorker.register("/app/sw.js", { scope: "/app/" }).catch(() => {});
  }
  window.addEventListener("hashchange", activationFromHash);
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
