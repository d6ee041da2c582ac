// A push login request (PROTOCOL §5): application, account, time, IP,
// browser and time left; the number to match; Approve, Deny and "This wasn't
// me". Approving asks for the PIN or fingerprint when the token has one, and
// every answer is signed with the device key.
import { h, show, message, button, onLeave, confirmDialog } from "../ui.js";
import * as keys from "../keys.js";
import { tokenTitle } from "../names.js";
import * as store from "../store.js";
import * as vault from "../vault.js";
import { currentCode } from "../otp.js";
import * as fingerprint from "../fingerprint.js";
import { unlock, needsUnlock } from "./unlock.js";


let current = null; // {challenge, closed(state)} while a request is on screen

const CLOSED_TEXT = {
  approved: "This request was approved on another device.",
  denied: "This request was denied on another device.",
  expired: "This request expired before it was answered.",
  suspended: "This token was suspended, so it can no longer answer this request.",
  locked: "This token is locked, so it can no longer answer this request.",
  revoked: "This token was removed, so it can no longer answer this request.",
};

// The token of the request on screen stopped working (token.info).
export function tokenStopped(serial, state) {
  if (current?.challenge.serial === serial) current.closed(state);
}

function detail(label, value, id) {
  return [h("dt", {}, label), h("dd", { id }, value || "Unknown")];
}

function secondsLeft(challenge) {
  return Math.max(0, Math.ceil((Date.parse(challenge.expires) - Date.now()) / 1000));
}

export const isExpired = (challenge) => secondsLeft(challenge) <= 0;

// Called by the app when the server says a request is over.
export function challengeClosed(id, state) {
  if (current?.challenge.id === id) current.closed(state);
}

const RESULT_SECONDS = 4; // a result screen closes by itself after this

// Shows `challenge`; calls `answered()` as soon as its outcome is on screen (a
// next request may then replace the result at once) and `done()` once the
// user is finished with it (Done, or the result closing by itself).
export async function showChallenge(challenge, { socket, done, answered = () => {}, waiting = () => [] }) {
  const record = await store.getToken(challenge.serial);
  if (!record) return done();
  let answering = false;
  const finish = (title, text, kind = "info") => {
    current = null;
    const body = h("div", { class: "stack" }, message(text, kind),
      button("Done", () => done(), { primary: true, id: "challenge-done" }));
    show({ title, id: "challenge-result", body });
    document.getElementById("challenge-done").focus();
    setTimeout(() => {
      if (body.isConnected) done();
    }, RESULT_SECONDS * 1000);
    answered();
  };
  current = {
    challenge,
    closed: (state) => {
      if (!answering) finish(state === "expired" ? "Request expired" : "Request closed", CLOSED_TEXT[state] || CLOSED_TEXT.expired, state === "expired" ? "error" : "info");
    },
  };

  const send = async (decision, number = null) => {
    if (decision === "fraud") {
      const sure = await confirmDialog(
        record.policy.fraud_lock === false
          ? "Report this login request as not yours? It will be denied, and your administrator will be told that someone may know your password."
          : "Report this login request as not yours? It will be denied, your tokens will be locked until your administrator unlocks them, and your administrator will be told that someone may know your password.",
        "Report",
      );
      if (!sure) return;
    }
    answering = true;
    let proof = "";
    // Approving and reporting both prove the token PIN (a report locks tokens).
    // An approval the server verifies with the fingerprint (§7) needs no
    // local fingerprint first, unless a PIN must open the seed for its proof.
    const serverVerifies = decision === "approve" && record.policy.user_verification === "required";
    if ((decision === "approve" || decision === "fraud") && needsUnlock(record)
        && !(serverVerifies && !vault.needsPin(record))) {
      const seed = await unlock(record, {
        back: () => { answering = false; render(); },
        onWiped: (notice) => finish("Token removed", notice, "error"),
        lead: decision === "fraud"
          ? `Type the PIN of ${tokenTitle(record)} to report the login to ${challenge.application}.`
          : `Type the PIN of ${tokenTitle(record)} to approve the login to ${challenge.application}.`,
      });
      if (!seed) {
        answering = false;
        return render(decision === "fraud"
          ? "Not reported: the PIN or fingerprint was not confirmed."
          : "Not approved: the fingerprint was not confirmed.");
      }
      // A version 2 answer carries the current code, so the server can tell a
      // right token PIN from a wrong one (which opens a plausible wrong seed).
      if (vault.needsPin(record)) proof = await currentCode(record.otp, seed);
    }
    show({ title: "Sending…", id: "busy", body: h("p", { class: "lead", role: "status" }, "Sending your answer…") });
    const numberText = number == null ? "" : String(number);
    const signed = proof
      ? `tessera/v2/answer|${challenge.id}|${decision}|${numberText}|${proof}`
      : `tessera/v1/answer|${challenge.id}|${decision}|${numberText}`;
    let assertion = null;
    if (decision === "approve" && record.policy.user_verification === "required") {
      // PROTOCOL §7: the server checks the fingerprint or face unlock itself.
      try {
        if (!record.uv) throw new Error("no credential");
        assertion = await fingerprint.assertForServer(record.uv.credentialId, signed);
      } catch {
        answering = false;
        return render("Not approved: the fingerprint or face unlock was not confirmed.");
      }
    }
    const frame = {
      type: "answer",
      id: challenge.id,
      serial: challenge.serial,
      decision,
      number: number ?? "",
      signature: await keys.sign(record.deviceKey, signed),
      ...(proof ? { otp: proof } : {}),
      ...(assertion ? { webauthn: assertion } : {}),
    };
    try {
      const result = await socket.answer(frame);
      if (result.state === "approved") finish("Approved", `You approved the login to ${challenge.application}.`);
      else if (result.reason === "wrong_number") finish("Denied", "That was not the number on the login page, so the login was denied. If it was you, log in again.", "error");
      else if (decision === "fraud") finish("Reported", "The login was denied and reported. Change your password, and tell your administrator if you did not expect this.", "error");
      else finish("Denied", `You denied the login to ${challenge.application}.`);
    } catch (error) {
      if (error.code === "offline" || error.code === "timeout") {
        answering = false;
        return render(`${error.message} Your answer was not sent.`);
      }
      if (error.code === "wrong_pin") {
        // The server saw that the PIN opened a wrong seed: count it here too.
        const left = await vault.pinFailed(record);
        if (left === 0) {
          return finish("Token removed", `Too many wrong PINs: the token ${record.serial} was removed from this device. Ask your administrator for a new one.`, "error");
        }
        answering = false;
        return render(`Wrong PIN. ${left} attempt${left === 1 ? "" : "s"} left before the token is removed.`);
      }
      const text = {
        expired: CLOSED_TEXT.expired,
        already_answered: "This request was already answered.",
      }[error.code] || error.message;
      finish("Not sent", text, "error");
    }
  };

  function render(notice = null) {
    const left = h("p", { class: "hint", id: "challenge-left", "aria-live": "off" });
    const behind = h("p", { class: "message info", id: "challenge-queue", role: "status", hidden: true });
    const tick = () => {
      const seconds = secondsLeft(challenge);
      left.textContent = `Expires in ${seconds} s`;
      const others = waiting();
      behind.hidden = !others.length;
      behind.textContent = others.length === 1
        ? `Another login request is waiting after this one (${others[0]}).`
        : `${others.length} more login requests are waiting after this one (${others.join(", ")}).`;
      if (seconds <= 0 && !answering) current?.closed("expired");
    };
    const choices = challenge.numbers?.length
      ? [
          h("p", { class: "lead" }, "Tap the number shown on the login page to approve."),
          h("div", { class: "numbers", role: "group", "aria-label": "Numbers" },
            challenge.numbers.map((n) => button(String(n), () => send("approve", n), { id: `number-${n}`, kind: "number" }))),
        ]
      : [button("Approve", () => send("approve"), { primary: true, id: "approve" })];
    const body = h("div", { class: "stack challenge" },
      notice ? message(notice) : null,
      h("p", { class: "challenge-app", id: "challenge-app" }, challenge.application),
      h("dl", { class: "challenge-details" },
        detail("Account", challenge.username, "challenge-user"),
        detail("Token", `${tokenTitle(record)} (${record.serial})`, "challenge-token"),
        detail("Time", new Date(challenge.created).toLocaleTimeString(), "challenge-time"),
        detail("IP address", challenge.ip, "challenge-ip"),
        detail("Browser", challenge.browser, "challenge-browser")),
      left,
      behind,
      choices,
      h("div", { class: "row" },
        button("Deny", () => send("deny"), { id: "deny" }),
        button("This wasn't me", () => send("fraud"), { id: "fraud", kind: "danger" })),
    );
    show({ title: "Login request", body, id: "challenge" });
    tick();
    const timer = setInterval(tick, 1000);
    onLeave(body, () => clearInterval(timer));
  }
  render();
}
