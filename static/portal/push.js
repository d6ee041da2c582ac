// Follows this session's push over /ws/push/ (the server picks the request
// from the session), counts down, and completes the login once approved.
import { follow } from "./live.js";

const panel = document.getElementById("push");
const status = document.getElementById("push-status");
const left = document.getElementById("push-left");
const form = document.getElementById("push-complete");
const expires = Date.parse(panel.dataset.expires);
let finished = false;
let timer;

function finish(state, fraud = false) {
  if (finished) return;
  finished = true;
  clearInterval(timer);
  left.textContent = "";
  panel.dataset.state = state;
  if (state === "approved") {
    status.textContent = panel.dataset.approvedText;
    status.className = "message info";
    form.submit();
    return;
  }
  status.textContent = fraud ? panel.dataset.fraudText : panel.dataset[`${state}Text`];
  status.className = "message error";
  status.setAttribute("role", "alert");
  document.getElementById("push-retry")?.removeAttribute("hidden");
  document.getElementById("push-cancel")?.setAttribute("hidden", "");
  document.getElementById("push-number")?.classList.add("done");
}

function tick() {
  const seconds = Math.max(0, Math.round((expires - Date.now()) / 1000));
  left.textContent = panel.dataset.leftText.replace("%s", seconds);
}

tick();
timer = setInterval(tick, 1000);
follow(
  "/ws/push/",
  (data, socket) => {
    if (data.type === "push" && data.state !== "pending") {
      finish(data.state, data.fraud);
      socket.close();
    }
  },
  () => finished,
);
