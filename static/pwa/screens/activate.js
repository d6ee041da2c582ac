// "Activate": scan the QR code, or paste the activation string ("No QR code?").
// Both end in runActivation(), which speaks the protocol (docs/protocol.md §2).
import { h, show, message, button, onLeave } from "../ui.js";
import { parseActivation, extractActivation, ActivationError, b64uDecode } from "../otp.js";
import * as keys from "../keys.js";
import * as api from "../api.js";
import { startSetup } from "./setup.js";

let home = () => {};
export function setHome(fn) {
  home = fn;
}

// Whether the activation now under way was pasted: the last screen then
// offers to clear the clipboard (handed to the setup screens, once).
let pasted = false;
function takePasted() {
  const was = pasted;
  pasted = false;
  return was;
}

export function showPaste({ error = null, value = "" } = {}) {
  const input = h("textarea", {
    id: "activation", rows: "3", autocomplete: "off", autocapitalize: "characters", spellcheck: "false",
    placeholder: "XXXXX-XXXXX-XXXXX-…",
  });
  input.value = value;
  const form = h(
    "form",
    { class: "stack", novalidate: true },
    error ? message(error) : null,
    h("label", { for: "activation" }, "Activation string"),
    input,
    h("p", { class: "hint warning" },
      "The clipboard is shared by every app on this device. Clear it after pasting, or type the string instead."),
    button("Activate", null, { primary: true, id: "activate-submit" }),
  );
  input.addEventListener("paste", () => { pasted = true; });
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    runActivation(input.value, { retry: (msg) => showPaste({ error: msg, value: input.value }) });
  });
  show({ title: "No QR code?", body: form, back: () => showActivate(), id: "paste" });
  input.focus();
}

// --- camera -----------------------------------------------------------------

async function decoder() {
  if ("BarcodeDetector" in window) {
    const formats = await window.BarcodeDetector.getSupportedFormats?.();
    if (!formats || formats.includes("qr_code")) {
      const detector = new window.BarcodeDetector({ formats: ["qr_code"] });
      return async (video) => (await detector.detect(video))[0]?.rawValue ?? null;
    }
  }
  const canvas = document.createElement("canvas");
  const context = canvas.getContext("2d", { willReadFrequently: true });
  return async (video) => {
    if (!video.videoWidth) return null;
    canvas.width = video.videoWidth;
    canvas.height = video.videoHeight;
    context.drawImage(video, 0, 0);
    const image = context.getImageData(0, 0, canvas.width, canvas.height);
    return window.jsQR?.(image.data, image.width, image.height, { inversionAttempts: "dontInvert" })?.data ?? null;
  };
}

// "Activate" opens the camera at once (the seed's "Activate to scan"): the
// one screen offers "No QR code?" for pasting instead.
export async function showActivate({ error = null } = {}) {
  const video = h("video", { id: "camera", playsinline: true, muted: true, "aria-label": "Camera preview" });
  const status = h("p", { class: "hint", role: "status" }, "Point the camera at the QR code.");
  const finder = h("div", { class: "viewfinder" }, video);
  const main = show({
    title: "Activate a token",
    body: h("div", { class: "stack" }, error ? message(error) : null,
      h("p", { class: "lead" }, "Scan the QR code shown on the self-enrollment page or in your enrollment email."),
      finder, status, button("No QR code?", () => showPaste(), { id: "no-qr" })),
    back: home,
    id: "activate",
  });
  let stream;
  try {
    if (!navigator.mediaDevices?.getUserMedia) throw Object.assign(new Error(), { name: "NotFoundError" });
    stream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" }, audio: false });
  } catch (err) {
    if (!finder.isConnected) return;
    const refused = err.name === "NotAllowedError" || err.name === "SecurityError";
    finder.remove();
    status.replaceWith(message(refused
      ? "Camera access was refused. Paste the activation string instead (No QR code?), or allow the camera in the browser's site settings."
      : "No camera is available. Paste the activation string instead (No QR code?)."));
    main.querySelector("#no-qr")?.classList.add("primary");
    return;
  }
  if (!video.isConnected) {  // the user moved on while the camera started
    stream.getTracks().forEach((t) => t.stop());
    return;
  }
  let running = true;
  onLeave(video, () => {
    running = false;
    stream.getTracks().forEach((t) => t.stop());
  });
  video.srcObject = stream;
  await video.play().catch(() => {});
  const detect = await decoder();
  while (running) {
    const text = await detect(video).catch(() => null);
    if (text && running) {
      running = false;
      stream.getTracks().forEach((t) => t.stop());
      runActivation(text, { retry: (msg) => showActivate({ error: msg }) });
      return;
    }
    await new Promise((r) => setTimeout(r, 120));
  }
}

// --- the protocol -------------------------------------------------------------

export async function runActivation(input, { retry }) {
  let parsed;
  try {
    parsed = await parseActivation(extractActivation(input, location.origin));
  } catch (error) {
    if (error instanceof ActivationError) return retry(error.message);
    throw error;
  }
  show({ title: "Activating…", body: h("p", { class: "lead", role: "status" }, "Talking to Tessera…"), id: "busy" });
  try {
    const ecdh = await keys.newEcdhKeyPair();
    const device = await keys.newDeviceKeyPair();
    const answer = await api.activate({
      activation: parsed.text,
      ecdh_public_key: await keys.exportPublic(ecdh.publicKey),
      device_public_key: await keys.exportPublic(device.publicKey),
      device_name: deviceName(),
      platform: platformName(),
    });
    const shared = {
      ecdhPrivate: ecdh.privateKey,
      serverPublicRaw: b64uDecode(answer.server_ecdh_public_key),
      enrollmentId: parsed.enrollmentId,
      serial: answer.serial,
    };
    const seed = await keys.deriveSeed({ ...shared, algorithm: answer.otp.algorithm });
    const infoKey = await keys.deriveInfoKey(shared);
    startSetup({ answer, seed, deviceKey: device.privateKey, infoKey, home, pasted: takePasted() });
  } catch (error) {
    retry(api.MESSAGES[error.code] || error.message || "Activation failed. Try again.");
  }
}

function platformName() {
  const ua = navigator.userAgent;
  if (/Android/i.test(ua)) return "android";
  if (/iPhone|iPad/i.test(ua)) return "ios";
  if (/Windows/i.test(ua)) return "windows";
  if (/Mac OS/i.test(ua)) return "macos";
  return "linux";
}

function deviceName() {
  const names = { android: "Android phone", ios: "iPhone or iPad", windows: "Windows PC", macos: "Mac", linux: "Linux computer" };
  return names[platformName()];
}
