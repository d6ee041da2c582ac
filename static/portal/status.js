// Follows the activation shown on this page over a websocket, and offers the
// copy button (with the clipboard warning). Nothing polls.
import { follow } from "./live.js";

const status = document.getElementById("status");
const section = document.querySelector(".setup");

function activated() {
  status.textContent = status.dataset.activeText || "Your token is active.";
  status.classList.add("active");
  section.classList.add("is-active");
  const next = document.getElementById("continue");
  if (next) {
    next.textContent = next.dataset.activeText;
    next.classList.add("primary");
    next.focus();
  }
}

if (section) {
  status.dataset.activeText = status.dataset.activeText || "Your token is active. You can now log in with it.";
  follow(
    "/ws/token-status/",
    (data, socket) => {
      if (data.type === "token" && data.serial === section.dataset.serial && data.state === "active") {
        activated();
        socket.close();
      }
    },
    () => section.classList.contains("is-active"),
    15000,
  );
}

document.getElementById("copy-activation")?.addEventListener("click", async (event) => {
  if (!confirm(event.target.dataset.warning)) return;
  const text = document.getElementById("activation-string").textContent.trim();
  await navigator.clipboard.writeText(text).catch(() => {});
});
