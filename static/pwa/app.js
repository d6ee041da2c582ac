// The authenticator's entry point: the only module with side effects on import.
import { h, message } from "./ui.js";
import * as vault from "./vault.js";
import { showTokens } from "./screens/tokens.js";
import { runActivation, setHome, showActivate } from "./screens/activate.js";
import { showChallenge, challengeClosed, isExpired } from "./screens/approve.js";
import { DeviceSocket } from "./socket.js";

setHome((options) => showTokens(options));

// Push: challenges arrive over the device socket and are shown one at a time.
const socket = new DeviceSocket();
const queue = [];
let showing = null;

function nextChallenge() {
  while (!showing && queue.length) {
    const challenge = queue.shift();
    if (isExpired(challenge)) continue;
    showing = challenge;
    showChallenge(challenge, {
      socket,
      done: () => {
        showing = null;
        if (queue.length) nextChallenge();
        else showTokens();
      },
    });
  }
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

socket.addEventListener("challenge", ({ detail }) => {
  if (showing?.id === detail.id || queue.some((c) => c.id === detail.id)) return;
  queue.push(detail);
  notify(detail);
  nextChallenge();
});
socket.addEventListener("closed", ({ detail }) => {
  const at = queue.findIndex((c) => c.id === detail.id);
  if (at >= 0) queue.splice(at, 1);
  challengeClosed(detail.id, detail.state);
});
socket.addEventListener("status", ({ detail }) => {
  document.documentElement.dataset.push = detail; // read by tests
});
document.addEventListener("tessera:tokens-changed", () => socket.refresh());

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
  socket.start(); // after the first screen: passcodes never wait for the network
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
