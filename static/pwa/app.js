// The authenticator's entry point: the only module with side effects on import.
import { h, message } from "./ui.js";
import * as vault from "./vault.js";
import { showTokens } from "./screens/tokens.js";
import { runActivation, setHome, showActivate } from "./screens/activate.js";

setHome((options) => showTokens(options));

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
