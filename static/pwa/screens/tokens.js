// The token list and a token's passcode, rename, delete and copy.
import { h, show, message, button, onLeave, confirmDialog } from "../ui.js";
import { currentCode, secondsLeft, groupDigits } from "../otp.js";
import * as store from "../store.js";
import * as vault from "../vault.js";
import { needsUnlock, unlock } from "./unlock.js";
import { showActivate } from "./activate.js";
import * as webpush from "../webpush.js";

const CLIPBOARD_WARNING =
  "The clipboard is shared by every app on this device, so another app could read this passcode. Copy anyway?";

// A live passcode element: refreshes at each time step, shows the seconds left.
function passcodeView(record, seed) {
  const code = h("output", { class: "code", "data-serial": record.serial, "aria-live": "polite" }, "······");
  const countdown = h("span", { class: "countdown" });
  const wrap = h("div", { class: "passcode" }, code, countdown);
  let timer;
  const render = async () => {
    const value = await currentCode(record.otp, seed);
    code.textContent = groupDigits(value);
    code.dataset.code = value;
    if (!performance.getEntriesByName("tessera-first-passcode").length) {
      performance.mark("tessera-first-passcode"); // read by tests and bench/pwa_offline.py
    }
    if (record.otp.type === "totp") {
      const left = secondsLeft(Date.now(), record.otp.period);
      countdown.textContent = `${left} s`;
      countdown.style.setProperty("--left", left / record.otp.period);
    }
  };
  render();
  if (record.otp.type === "totp") {
    timer = setInterval(render, 1000);
    onLeave(wrap, () => clearInterval(timer));
  }
  wrap.refresh = render;
  return wrap;
}

export async function showTokens({ focus = null, notice = null } = {}) {
  const records = (await store.allTokens()).sort((a, b) => a.createdAt - b.createdAt);
  if (!records.length) {
    show({
      title: "Tessera Authenticator",
      id: "welcome",
      body: h("div", { class: "stack welcome" },
        notice ? message(notice, "info") : null,
        h("p", { class: "lead" }, "Add the token your administrator assigned to you to start generating passcodes."),
        button("Activate", () => showActivate(), { primary: true, id: "activate" })),
    });
    return;
  }
  const list = h("ul", { class: "tokens", "aria-label": "Tokens" });
  for (const record of records) {
    const item = h("li", { class: "token", "data-serial": record.serial },
      h("button", { class: "token-open", onclick: () => showToken(record.serial) },
        h("span", { class: "token-name" }, record.label || record.name),
        h("span", { class: "token-serial" }, record.serial)));
    if (!needsUnlock(record)) {
      const seed = await vault.openSeed(record);
      item.append(passcodeView(record, seed));
      if (record.otp.type === "hotp") item.append(nextButton(record));
    } else {
      item.append(h("p", { class: "hint" }, vault.needsPin(record) ? "PIN protected — tap to show the passcode" : "Tap to show the passcode"));
    }
    list.append(item);
  }
  const notifications = h("div", { id: "notifications-slot" });
  show({
    title: "Tokens",
    id: "tokens",
    body: h("div", { class: "stack" }, notice ? message(notice, "info") : null, list, notifications,
      button("Add token", () => showActivate(), { id: "add-token" })),
  });
  if (focus) document.querySelector(`li[data-serial="${focus}"] .token-open`)?.focus();
  // Offered after the first paint, so the passcodes never wait for it.
  webpush.offerable().then((offer) => {
    if (!offer || !notifications.isConnected) return;
    notifications.replaceChildren(
      h("p", { class: "hint" }, "Login requests show only while Tessera is open."),
      button("Turn on notifications", async () => {
        const on = await webpush.enable();
        notifications.replaceChildren(message(on
          ? "Notifications are on: login requests reach you even when Tessera is closed."
          : "Notifications could not be turned on. Allow them for this site in the browser's settings.",
        on ? "info" : "error"));
      }, { id: "notifications-on" }),
    );
  }).catch(() => {});
}

function nextButton(record) {
  return button("Next passcode", async () => {
    record.otp.counter += 1;
    await store.putToken(record);
    showTokens({ focus: record.serial });
  }, { id: `next-${record.serial}` });
}

export async function showToken(serial) {
  const record = await store.getToken(serial);
  if (!record) return showTokens();
  const seed = await unlock(record, { back: () => showTokens(), onWiped: (notice) => showTokens({ notice }) });
  if (!seed) return showTokens();
  const view = passcodeView(record, seed);
  const body = h("div", { class: "stack" },
    h("p", { class: "token-serial" }, record.serial),
    view,
    record.otp.type === "hotp"
      ? button("Next passcode", async () => { record.otp.counter += 1; await store.putToken(record); view.refresh(); }, { id: "next" })
      : null,
    record.policy.pin_mode === "server"
      ? h("p", { class: "hint", id: "server-pin-hint" }, "When you log in, type your PIN followed by this passcode.")
      : null,
    h("div", { class: "row" },
      button("Copy", async () => {
        if (await confirmDialog(CLIPBOARD_WARNING, "Copy")) {
          await navigator.clipboard.writeText(view.querySelector(".code").dataset.code).catch(() => {});
        }
      }, { id: "copy" }),
      button("Rename", () => renameToken(record), { id: "rename" }),
      button("Delete", () => deleteToken(record), { id: "delete", kind: "danger" })),
  );
  show({ title: record.label || record.name, body, back: () => showTokens(), id: "token" });
}

async function renameToken(record) {
  const input = h("input", { id: "name", value: record.label || "", maxlength: "64", required: true });
  const form = h("form", { class: "stack" }, h("label", { for: "name" }, "Name"), input,
    button("Save", null, { primary: true, id: "rename-save" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    record.label = input.value.trim() || record.name;
    await store.putToken(record);
    showTokens({ focus: record.serial });
  });
  show({ title: "Rename token", body: form, back: () => showTokens(), id: "rename" });
  input.select();
}

async function deleteToken(record) {
  const ok = await confirmDialog(
    `Delete ${record.label || record.serial} from this device? You will not be able to log in with it until your administrator gives you a new one.`,
    "Delete",
  );
  if (!ok) return;
  await store.deleteToken(record.serial);
  document.dispatchEvent(new Event("tessera:tokens-changed"));
  showTokens({ notice: `${record.serial} was deleted from this device.` });
}
