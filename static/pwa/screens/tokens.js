// The token list and a token's page: passcode (tap to copy), detail, rename,
// delete (the server is told), and the About screen.
import { h, show, message, button, onLeave, confirmDialog } from "../ui.js";
import { currentCode, secondsLeft, groupDigits } from "../otp.js";
import * as api from "../api.js";
import * as keys from "../keys.js";
import * as store from "../store.js";
import * as vault from "../vault.js";
import { STATE_TEXT, labelFor, tokenSubtitle, tokenTitle, usable } from "../names.js";
import { needsUnlock, unlock } from "./unlock.js";
import { showActivate } from "./activate.js";
import * as webpush from "../webpush.js";

const CLIPBOARD_WARNING =
  "The clipboard is shared by every app on this device, so another app could read this passcode. Copy anyway?";
const CLEAR_CLIPBOARD_MS = 30000;
const RING = 2 * Math.PI * 16; // the countdown ring's circumference (r = 16)

// Copies a passcode: the clipboard warning the first time (the seed guide
// advises against copying), "Copied", and the clipboard emptied after 30 s
// if it still holds the code and the browser lets the app read it.
export async function copyCode(code, status) {
  if (!(await store.getMeta("clipboardWarned"))) {
    if (!(await confirmDialog(CLIPBOARD_WARNING, "Copy"))) return false;
    await store.setMeta("clipboardWarned", true);
  }
  try {
    await navigator.clipboard.writeText(code);
  } catch {
    status.textContent = "This browser did not allow copying.";
    return false;
  }
  status.textContent = "Copied";
  setTimeout(() => { if (status.textContent === "Copied") status.textContent = ""; }, 2500);
  setTimeout(() => clearClipboard(code), CLEAR_CLIPBOARD_MS);
  return true;
}

export async function clearClipboard(text) {
  try {
    if ((await navigator.clipboard.readText()) === text) await navigator.clipboard.writeText("");
  } catch {
    /* reading the clipboard is not allowed here: leave it */
  }
}

function ring() {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  svg.setAttribute("viewBox", "0 0 40 40");
  svg.setAttribute("class", "ring");
  svg.setAttribute("aria-hidden", "true");
  const track = document.createElementNS("http://www.w3.org/2000/svg", "circle");
  const arc = document.createElementNS("http://www.w3.org/2000/svg", "circle");
  for (const [el, cls] of [[track, "ring-track"], [arc, "ring-arc"]]) {
    el.setAttribute("cx", "20");
    el.setAttribute("cy", "20");
    el.setAttribute("r", "16");
    el.setAttribute("class", cls);
  }
  arc.setAttribute("stroke-dasharray", RING.toFixed(2));
  svg.append(track, arc);
  svg.set = (fraction) => arc.setAttribute("stroke-dashoffset", (RING * (1 - fraction)).toFixed(2));
  return svg;
}

// A live passcode: refreshes at each time step, a ring shows the time left,
// and tapping the code copies it.
function passcodeView(record, seed) {
  const code = h("output", { class: "code", "data-serial": record.serial, "aria-live": "polite" }, "······");
  const status = h("span", { class: "copied", role: "status" });
  const copy = h("button", { class: "code-button", "aria-label": `Copy the passcode of ${tokenTitle(record)}`,
    onclick: () => copyCode(code.dataset.code, status) }, code);
  const countdown = h("span", { class: "countdown" });
  const clock = record.otp.type === "totp" ? ring() : null;
  const wrap = h("div", { class: "passcode" }, copy, clock ? h("span", { class: "timer" }, clock, countdown) : null, status);
  let timer;
  const render = async () => {
    const value = await currentCode(record.otp, seed);
    code.textContent = groupDigits(value);
    code.dataset.code = value;
    if (!performance.getEntriesByName("tessera-first-passcode").length) {
      performance.mark("tessera-first-passcode"); // read by tests and bench/pwa_offline.py
    }
    if (clock) {
      const left = secondsLeft(Date.now(), record.otp.period);
      countdown.textContent = `${left} s`;
      clock.set(left / record.otp.period);
    }
  };
  render();
  if (clock) {
    timer = setInterval(render, 1000);
    onLeave(wrap, () => clearInterval(timer));
  }
  wrap.refresh = render;
  wrap.status = status;
  return wrap;
}

function stateNotice(record) {
  const notice = h("div", { class: "stack state-notice", "data-state": record.state },
    message(STATE_TEXT[record.state] || `This token is ${record.state}.`, record.state === "revoked" ? "error" : "info"));
  if (record.state === "revoked") {
    notice.append(button("Delete from this device", () => deleteToken(record, { tellServer: false }),
      { id: `delete-${record.serial}`, kind: "danger" }));
  }
  return notice;
}

// Tokens live in this origin's storage: the app opened at another address
// than the server's own (127.0.0.1 for localhost) has none, and says where.
function elsewhere() {
  const home = document.body.dataset.home;
  if (!home || new URL(home).origin === location.origin) return null;
  return h("p", { class: "message info", id: "other-address" },
    "Tokens activated at ", h("a", { href: home, id: "home-link" }, home),
    " are kept there, not at this address. Open Tessera there to see them.");
}

function addButton() {
  return h("button", { class: "btn add", id: "add-token", onclick: () => showActivate() },
    h("span", { class: "add-icon", "aria-hidden": "true" }, "+"), "Add token");
}

// `onlyIf`: checked just before the list replaces the screen (a refresh in
// the background must not cover a login request that arrived meanwhile).
// `extra`: notes shown under the notice (after an activation).
// A background refresh (`onlyIf`: the server said something of a token)
// keeps the notes the list was last shown with, for a minute.
// A call that a later one has already painted over does not paint: a
// background refresh still opening seeds when the user saves a name would
// cover the saved name with the tokens it read before.
let lasting = null;
let calls = 0;
let painted = 0; // the newest call that painted

export async function showTokens({ focus = null, notice = null, onlyIf = null, extra = [] } = {}) {
  const mine = ++calls;
  const stale = () => mine < painted || (onlyIf && !onlyIf());
  if (notice || extra.some(Boolean)) lasting = { notice, extra, until: Date.now() + 60_000 };
  else if (onlyIf && lasting && Date.now() < lasting.until) ({ notice, extra } = lasting);
  else lasting = null;
  const records = (await store.allTokens()).sort((a, b) => a.createdAt - b.createdAt);
  if (stale()) return;
  if (!records.length) {
    painted = mine;
    show({
      title: "Tessera Authenticator",
      id: "welcome",
      body: h("div", { class: "stack welcome" },
        notice ? message(notice, "info") : null,
        h("p", { class: "lead" }, "Add the token your administrator assigned to you to start generating passcodes."),
        elsewhere(),
        button("Activate", () => showActivate(), { primary: true, id: "activate" }),
        button("About", () => showAbout(), { id: "about" })),
    });
    return;
  }
  const list = h("ul", { class: "tokens", "aria-label": "Tokens" });
  for (const record of records) {
    const item = h("li", { class: "token", "data-serial": record.serial, "data-state": record.state || "active" },
      h("button", { class: "token-open", onclick: () => showToken(record.serial) },
        h("span", { class: "token-name" }, tokenTitle(record)),
        h("span", { class: "token-issuer" }, tokenSubtitle(record)),
        h("span", { class: "token-serial" }, record.serial)));
    if (!usable(record)) {
      item.append(stateNotice(record));
    } else if (!needsUnlock(record)) {
      const seed = await vault.openSeed(record);
      item.append(passcodeView(record, seed));
      if (record.otp.type === "hotp") item.append(nextButton(record));
    } else {
      item.append(h("p", { class: "hint" }, vault.needsPin(record) ? "PIN protected — tap to show the passcode" : "Tap to show the passcode"));
    }
    list.append(item);
  }
  if (stale()) return;
  painted = mine;
  const notifications = h("div", { id: "notifications-slot" });
  show({
    title: "Tokens",
    id: "tokens",
    body: h("div", { class: "stack" }, notice ? message(notice, "info") : null, ...extra, list, notifications,
      addButton(), button("About", () => showAbout(), { id: "about" })),
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

// An HOTP token's next passcode: the counter moves on in the stored record
// without overwriting what changed there meanwhile (a token.info).
async function advance(record) {
  record.otp.counter += 1;
  await store.updateToken(record.serial, (stored) => {
    stored.otp.counter = Math.max(stored.otp.counter, record.otp.counter);
    return stored;
  });
}

function nextButton(record) {
  return button("Next passcode", async () => {
    await advance(record);
    showTokens({ focus: record.serial });
  }, { id: `next-${record.serial}` });
}

const PIN_MODES = { token: "Token PIN (kept on this device)", server: "Server PIN (typed before the passcode)", none: "None" };

function details(record) {
  const notifications = record.webpush && typeof Notification !== "undefined" && Notification.permission === "granted";
  const rows = [
    ["Issuer", record.issuer || location.host, "detail-issuer"],
    ["Account", record.account || record.name, "detail-account"],
    ["Name", record.name, "detail-name"],
    ["Serial", record.serial, "detail-serial"],
    ["Passcodes", record.otp.type === "totp" ? `Every ${record.otp.period} s, ${record.otp.digits} digits` : `On request, ${record.otp.digits} digits`, "detail-otp"],
    ["PIN", PIN_MODES[record.policy.pin_mode] || record.policy.pin_mode, "detail-pin"],
    ["Login requests", record.policy.push ? "On" : "Off", "detail-push"],
    ["Notifications when closed", notifications ? "On" : "Off", "detail-notifications"],
    ["State", usable(record) ? "Active" : record.state, "detail-state"],
  ];
  return h("dl", { class: "details" }, rows.flatMap(([label, value, id]) => [h("dt", {}, label), h("dd", { id }, value)]));
}

export async function showToken(serial) {
  const record = await store.getToken(serial);
  if (!record) return showTokens();
  const actions = h("div", { class: "row" },
    button("Rename", () => renameToken(record), { id: "rename" }),
    button("Delete", () => deleteToken(record), { id: "delete", kind: "danger" }));
  if (!usable(record)) {
    show({ title: tokenTitle(record), back: () => showTokens(), id: "token",
      body: h("div", { class: "stack" }, stateNotice(record), details(record), actions) });
    return;
  }
  const seed = await unlock(record, { back: () => showTokens(), onWiped: (notice) => showTokens({ notice }) });
  if (!seed) return showTokens();
  const view = passcodeView(record, seed);
  actions.prepend(button("Copy", () => copyCode(view.querySelector(".code").dataset.code, view.status), { id: "copy" }));
  const body = h("div", { class: "stack" },
    h("p", { class: "token-issuer" }, tokenSubtitle(record)),
    view,
    record.otp.type === "hotp"
      ? button("Next passcode", async () => { await advance(record); view.refresh(); }, { id: "next" })
      : null,
    record.policy.pin_mode === "server"
      ? h("p", { class: "hint", id: "server-pin-hint" }, "When you log in, type your PIN followed by this passcode.")
      : null,
    actions,
    details(record),
  );
  show({ title: tokenTitle(record), body, back: () => showTokens(), id: "token" });
}

async function renameToken(record) {
  const input = h("input", { id: "name", value: tokenTitle(record), maxlength: "64", required: true });
  const form = h("form", { class: "stack" }, h("label", { for: "name" }, "Name on this device"), input,
    h("p", { class: "hint" }, "Only this device shows this name; the portal keeps its own."),
    button("Save", null, { primary: true, id: "rename-save" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    await store.updateToken(record.serial, (stored) =>
      Object.assign(stored, { label: labelFor(name, stored) }));
    showTokens({ focus: record.serial });
  });
  show({ title: "Rename token", body: form, back: () => showTokens(), id: "rename" });
  input.select();
}

// Tells the server the token is gone (it is revoked there); false if it
// could not be reached.
async function tellServer(record) {
  if (!record.deviceKey) return false;
  const time = String(Math.floor(Date.now() / 1000));
  try {
    await api.remove({
      serial: record.serial, time,
      signature: await keys.sign(record.deviceKey, `tessera/v1/remove|${record.serial}|${time}`),
    });
    return true;
  } catch (error) {
    return error.status === 403; // not active there any more: nothing to tell
  }
}

async function deleteToken(record, { tellServer: tell = true } = {}) {
  const ok = await confirmDialog(
    tell
      ? `Delete ${tokenTitle(record)} from this device? Tessera will revoke it, and you will not be able to log in with it until your administrator gives you a new one.`
      : `Delete ${tokenTitle(record)} from this device?`,
    "Delete",
  );
  if (!ok) return;
  await store.deleteToken(record.serial); // first: the revocation it causes must not bring it back
  const told = tell ? await tellServer(record) : true;
  document.dispatchEvent(new Event("tessera:tokens-changed"));
  showTokens({
    notice: told
      ? `${record.serial} was deleted from this device.`
      : `${record.serial} was deleted from this device, but Tessera could not be told (offline?). Ask your administrator to revoke it.`,
  });
}

export async function showAbout() {
  const records = await store.allTokens();
  const issuers = [...new Set(records.map((r) => r.issuer).filter(Boolean))];
  const rows = [
    ["Server", location.origin, "about-server"],
    ["Version", document.body.dataset.version || "unknown", "about-version"],
    ["Tokens on this device", String(records.length), "about-tokens"],
    ["Issued by", issuers.join(", ") || "—", "about-issuers"],
    ["Works offline", "Yes: passcodes need no connection", "about-offline"],
  ];
  show({
    title: "About Tessera",
    id: "about",
    back: () => showTokens(),
    body: h("div", { class: "stack" },
      h("p", { class: "lead" }, "Tessera Authenticator keeps your tokens on this device only; their secrets never leave it."),
      h("dl", { class: "details" }, rows.flatMap(([label, value, id]) => [h("dt", {}, label), h("dd", { id }, value)])),
      h("a", { href: "/", class: "btn" }, "Open the Tessera portal")),
  });
}
