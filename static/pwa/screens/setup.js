// The screens after the server answers, in the seed guide's order less the
// ones that ask nothing: permissions → Create PIN → Re-enter PIN →
// fingerprint → (confirm with the server) → the token list, the new token
// first in view.
import { h, show, message, button } from "../ui.js";
import { askPin, pinProblem, pinRules } from "./pin.js";
import * as api from "../api.js";
import * as keys from "../keys.js";
import * as store from "../store.js";
import { labelFor } from "../names.js";
import * as vault from "../vault.js";
import * as fingerprint from "../fingerprint.js";
import { currentCode } from "../otp.js";
import * as webpush from "../webpush.js";

// The pasted activation string is spent; other apps need not read it.
function clearClipboardOffer() {
  const box = h("div", { class: "stack", id: "clipboard-offer" },
    h("p", { class: "hint" }, "You pasted the activation string: it is still on the clipboard."));
  box.append(button("Clear the clipboard", async () => {
    await navigator.clipboard.writeText("").catch(() => {});
    box.replaceChildren(h("p", { class: "hint", id: "clipboard-cleared" }, "The clipboard is empty."));
  }, { id: "clear-clipboard" }));
  return box;
}

function step(title, lead, { id, primary = "Continue", secondary = null, extra = null } = {}) {
  return new Promise((resolve) => {
    show({
      title,
      id,
      body: h(
        "div",
        { class: "stack" },
        h("p", { class: "lead" }, lead),
        extra,
        button(primary, () => resolve(true), { primary: true, id: `${id}-continue` }),
        secondary ? button(secondary, () => resolve(false), { id: `${id}-skip` }) : null,
      ),
    });
  });
}

// ``pasted``: the activation string came from the clipboard (the last screen
// then offers to clear it).
export async function startSetup({ answer, seed, deviceKey, infoKey = null, home, pasted = false }) {
  const policy = answer.policy;
  // PROTOCOL §7: the server will check a fingerprint or face unlock on every
  // approval. Say so now if this phone has none, before any PIN is chosen.
  if (policy.user_verification === "required" && !(await fingerprint.available())) {
    await step("Fingerprint or face unlock needed",
      "This token needs a phone with a fingerprint or face unlock, and this device has none that Tessera can use. Open the same activation link or QR code on a phone that has one: it still works until it expires. Or ask your administrator.",
      { id: "uv-unavailable", primary: "Close" });
    home({ notice: "The token was not activated: it needs a phone with a fingerprint or face unlock." });
    return;
  }
  // No intro screens (they asked for no decision): the one question here is
  // whether login requests may reach the phone while Tessera is closed.
  if (policy.push && webpush.supported() && Notification.permission === "default") {
    const allow = await step("Allow notifications",
      "Tessera asks you here to approve each login: check the application, place and number before you approve. Allow notifications so the requests reach you even when Tessera is closed.",
      { id: "permissions", primary: "Allow", secondary: "Not now" });
    if (allow) await Notification.requestPermission().catch(() => {});
  }

  let pin = "";
  if (policy.pin_mode !== "none") {
    const lead = policy.pin_mode === "token"
      ? `Create a PIN to protect this token on this device (${pinRules(policy)}).`
      : `Create the PIN you will type before each passcode when you log in (${pinRules(policy)}).`;
    for (;;) {
      pin = await askPin({ title: "Create PIN", lead, policy, check: (p) => pinProblem(policy, p) });
      const again = await askPin({
        title: "Re-enter PIN", lead: "Type the same PIN again.", policy, submitLabel: "Continue",
      });
      if (again === pin) break;
      await step("PINs did not match", "The two PINs were different. Create the PIN again.", { id: "pin-mismatch" });
    }
  }

  let finger = null;
  const required = policy.fingerprint === "required";
  // PROTOCOL §7: the server checks a fingerprint on every approval, with
  // the one credential registered at confirmation; no second, local one
  // is offered (it would mean two registrations and two prompts).
  const serverChecked = policy.user_verification === "required";
  if (!serverChecked && policy.fingerprint !== "disabled" && (await fingerprint.available())) {
    const wanted = required || (await step(
      "Use your fingerprint",
      "Unlock this token with your fingerprint instead of typing the PIN each time.",
      { id: "fingerprint", primary: "Set up fingerprint", secondary: "Skip" },
    ));
    if (wanted) {
      try {
        finger = await fingerprint.enroll(answer.serial, answer.label);
        if (policy.pin_mode === "token" && !finger.prf) finger = null; // cannot unwrap without PRF
      } catch (error) {
        console.warn("fingerprint set-up failed:", error.name, error.message);
        finger = null;
      }
    }
  }
  if (required && !finger && !serverChecked) {
    await step("Fingerprint required",
      "Your administrator requires a fingerprint (or face) unlock for this token, and it could not be set up on this device. Use the same activation link or QR code on a device with a fingerprint sensor (it still works until it expires), or ask your administrator.",
      { id: "fingerprint-required", primary: "Close" });
    home({ notice: "The token was not activated: this device cannot unlock it with a fingerprint." });
    return;
  }

  await confirmWithServer({ answer, seed, deviceKey, infoKey, pin, finger, home, pasted });
}

async function confirmWithServer({ answer, seed, deviceKey, infoKey, pin, finger, home, pasted, error = null }) {
  show({ title: "Finishing…", body: h("p", { class: "lead", role: "status" }, "Confirming with Tessera…"), id: "busy" });
  const serverPin = answer.policy.pin_mode === "server" ? pin : "";
  try {
    const otp = await currentCode(answer.otp, seed);
    const uv = answer.policy.user_verification === "required"
      ? await fingerprint.registerForServer(answer.serial, otp, answer.label)
      : null;
    await api.confirm({
      serial: answer.serial, otp, server_pin: serverPin,
      signature: await keys.sign(deviceKey, `tessera/v1/confirm|${answer.serial}|${otp}|${serverPin}`),
      ...(uv ? { webauthn: uv.json } : {}),
    });
    const record = await vault.createRecord({
      answer, label: answer.label, seed, deviceKey, pin: answer.policy.pin_mode === "token" ? pin : "",
      prfKey: finger?.prf ?? null,
    });
    if (answer.otp.type === "hotp") record.otp.counter = 1; // counter 0 confirmed the token
    if (infoKey) record.infoKey = infoKey; // verifies what the server says of the token
    if (uv) record.uv = { credentialId: uv.credentialId };
    // A required fingerprint gates the passcodes too: with the same credential.
    if (uv && answer.policy.fingerprint === "required" && answer.policy.pin_mode !== "token") {
      finger = fingerprint.gate(uv.credentialId);
    }
    if (finger) {
      // PRF matters only where it wraps a PIN key (token PIN mode).
      const prf = Boolean(finger.prf) && answer.policy.pin_mode === "token";
      record.fingerprint = { ...record.fingerprint, credentialId: finger.credentialId, salt: finger.salt, prf };
    }
    await store.putToken(record);
    document.dispatchEvent(new Event("tessera:tokens-changed")); // the socket authenticates it
    navigator.storage?.persist?.().catch(() => {});
  } catch (err) {
    const retry = await new Promise((resolve) => show({
      title: "Activation not finished",
      id: "confirm-failed",
      body: h("div", { class: "stack" }, message(api.MESSAGES[err.code] || err.message),
        button("Try again", () => resolve(true), { primary: true, id: "confirm-retry" }),
        button("Cancel", () => resolve(false))),
    }));
    if (retry) return confirmWithServer({ answer, seed, deviceKey, infoKey, pin, finger, home, pasted });
    return home();
  }
  const serverPinNote = answer.policy.pin_mode === "server"
    ? h("p", { class: "message info", id: "server-pin-note" },
        "When you log in, type your PIN followed by the passcode, with nothing in between.")
    : null;
  let pushNote = null;
  if (answer.policy.push && answer.webpush_public_key) {
    show({ title: "Finishing…", body: h("p", { class: "lead", role: "status" }, "Setting up notifications…"), id: "busy" });
    if (!(await webpush.ensure())) pushNote = notificationsNote(webpush.problem);
  }
  const clipboardNote = pasted ? clearClipboardOffer() : null;
  home({
    focus: answer.serial,
    notice: `Your token ${answer.serial} is activated. You can now use it to log in.`,
    extra: [nameForm(answer, home), serverPinNote, pushNote, clipboardNote],
  });
}

// The new token's name, editable right away (this device's name for it).
function nameForm(answer, home) {
  const input = h("input", { id: "token-name", maxlength: "64", autocomplete: "off", value: answer.name || "" });
  const form = h("form", { class: "row name-form" },
    h("label", { for: "token-name" }, "Name"), input,
    button("Save", null, { id: "token-name-save" }));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const name = input.value.trim();
    const record = await store.updateToken(answer.serial, (stored) =>
      Object.assign(stored, { label: labelFor(name, stored) }));
    if (!record) return;
    home({ focus: answer.serial });
  });
  return form;
}

// Why login requests will show only while Tessera is open, blaming the
// right party and offering only what exists.
function notificationsNote(problem) {
  const text = {
    denied: "Notifications are blocked for this site, so login requests show only while Tessera is open. To get them when it is closed, allow notifications for this site in the browser's settings.",
    refused: "Tessera's server did not accept this phone's notification address, so login requests show only while Tessera is open. Tell your administrator.",
    unsupported: "This browser cannot wake Tessera when it is closed, so login requests show only while it is open.",
  }[problem] || "Login requests show only while Tessera is open. You can turn notifications on later from the token list.";
  return h("p", { class: "message info", id: "push-note", "data-problem": problem || "later" }, text);
}
