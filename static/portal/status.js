// Follows the activation shown on this page over a websocket, and offers the
// copy button (with the clipboard warning). Nothing polls.
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

function connect(delay = 500) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws/token-status/`);
  socket.addEventListener("message", (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "token" && data.serial === section.dataset.serial && data.state === "active") {
      activated();
      socket.close();
    }
  });
  socket.addEventListener("close", (event) => {
    if (!section.classList.contains("is-active") && event.code !== 4403) {
      setTimeout(() => connect(Math.min(delay * 2, 15000)), delay);
    }
  });
}

if (section) {
  status.dataset.activeText = status.dataset.activeText || "Your token is active. You can now log in with it.";
  connect();
}

document.getElementById("copy-activation")?.addEventListener("click", async (event) => {
  if (!confirm(event.target.dataset.warning)) return;
  const text = document.getElementById("activation-string").textContent.trim();
  await navigator.clipboard.writeText(text).catch(() => {});
});
