// Follows the activation shown on this page over a websocket, and offers the
// copy button (with the clipboard warning). Nothing polls.
import { follow } from "./live.js";

const status = document.getElementById("status");
const section = document.querySelector(".setup");

let copied = null; // the activation string this page put on the clipboard

function offerClearClipboard() {
  if (!copied) return;
  const clear = document.createElement("button");
  clear.type = "button";
  clear.className = "btn";
  clear.id = "clear-clipboard";
  clear.textContent = "Clear the clipboard";
  clear.addEventListener("click", async () => {
    await navigator.clipboard.writeText("").catch(() => {});
    copied = null;
    clear.replaceWith(Object.assign(document.createElement("p"), {
      className: "hint", id: "clipboard-cleared", textContent: "The clipboard is empty.",
    }));
  });
  status.after(clear);
}

function activated() {
  status.textContent = status.dataset.activeText || "Your token is active.";
  status.className = "status active message info";
  section.classList.add("is-active");
  // The success state and the next step replace them.
  spent();
  // A "not active yet" from an early click is no longer true.
  document.querySelectorAll("main > .message.error").forEach((m) => m.remove());
  const next = document.getElementById("continue");
  if (next) {
    next.textContent = next.dataset.activeText;
    next.classList.add("primary");
    next.hidden = false;
    next.focus();
  }
  offerClearClipboard(); // the spent activation string need not stay there
  // The next step is obvious (log in with the new token): go on to it,
  // unless a copied string waits to be cleared from the clipboard.
  if (next?.dataset.auto && !copied) setTimeout(() => location.assign(next.href), 1200);
}

// An administrator issued a newer activation: this page's is void.
function replaced() {
  status.textContent = "This activation was replaced by a newer one and no longer works. Use the newest email from your administrator, or start again.";
  status.className = "status message error";
  spent();
}

// The QR code, the activation string, the button and the notes that hold
// only while the activation waits are spent.
function spent() {
  section.querySelector(".setup-pending")?.setAttribute("hidden", "");
  document.querySelectorAll(".until-active").forEach((note) => note.setAttribute("hidden", ""));
}

if (section) {
  status.dataset.activeText = status.dataset.activeText || (section.dataset.move
    ? "Your token is active on the new phone. The old phone no longer works for it: you can delete it there."
    : "Your token is active. You can now log in with it.");
  // Moving a token to a new phone: it is active on the old one already, so
  // only the move's own confirmation ("moved") counts.
  const done = section.dataset.move ? "moved" : "active";
  follow(
    "/ws/token-status/",
    (data, socket) => {
      if (data.type !== "token" || data.serial !== section.dataset.serial) return;
      if (data.state === "replaced") {
        replaced();
        socket.close();
      } else if (data.state === done) {
        activated();
        socket.close();
      }
    },
    () => section.classList.contains("is-active") || status.classList.contains("error"),
    15000,
  );
}

document.getElementById("copy-activation")?.addEventListener("click", async (event) => {
  if (!confirm(event.target.dataset.warning)) return;
  const text = document.getElementById("activation-string").textContent.trim();
  const said = document.getElementById("copy-status");
  try {
    await navigator.clipboard.writeText(text);
    copied = text;
    said.textContent = "Copied";
  } catch {
    said.textContent = "This browser did not allow copying: select the string and copy it.";
  }
});
