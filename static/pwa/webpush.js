// Web Push (PROTOCOL §6): wake this app when it is closed. The browser's
// push service carries only an encrypted message; approving still happens in
// the app (number, PIN, fingerprint). pushManager.subscribe() can hang where
// no push service is reachable, so every wait here is bounded.
import * as api from "./api.js";
import * as keys from "./keys.js";
import * as store from "./store.js";
import { b64uDecode, b64uEncode } from "./otp.js";

const SUBSCRIBE_TIMEOUT_MS = 10000;

export const supported = () =>
  "serviceWorker" in navigator && "PushManager" in window && "Notification" in window;

const pushRecords = async () => (await store.allTokens()).filter((r) => r.policy?.push);

function within(promise, ms) {
  return Promise.race([promise, new Promise((resolve) => setTimeout(() => resolve(null), ms))]);
}

async function subscription({ create }) {
  const registration = await within(navigator.serviceWorker.ready, SUBSCRIBE_TIMEOUT_MS);
  if (!registration) return null;
  const existing = await registration.pushManager.getSubscription();
  if (existing || !create) return existing;
  const { public_key: key } = await api.webpushKey();
  return within(
    registration.pushManager.subscribe({ userVisibleOnly: true, applicationServerKey: b64uDecode(key) }),
    SUBSCRIBE_TIMEOUT_MS,
  );
}

async function register(record, sub) {
  const endpoint = sub.endpoint;
  const p256dh = b64uEncode(sub.getKey("p256dh"));
  const auth = b64uEncode(sub.getKey("auth"));
  await api.webpush({
    serial: record.serial, endpoint, p256dh, auth,
    signature: await keys.sign(record.deviceKey, `tessera/v1/webpush|${record.serial}|${endpoint}|${p256dh}|${auth}`),
  });
  await store.putToken({ ...record, webpush: endpoint });
}

// Subscribes (when notifications are allowed) and registers the subscription
// for every push token whose registered endpoint differs: after activation,
// at every start (a subscription the browser dropped is made again), and after
// the service worker saw `pushsubscriptionchange`. Returns whether this app can
// now be woken; never throws.
// Why the last ensure() returned false: "denied" (the user or the browser
// blocked notifications), "refused" (Tessera's server would not take the
// subscription), "unsupported" (this browser has no Web Push), or null.
export let problem = null;

export async function ensure() {
  problem = null;
  try {
    if (!supported()) {
      problem = "unsupported";
      return false;
    }
    if (Notification.permission !== "granted") {
      if (Notification.permission === "denied") problem = "denied";
      return false;
    }
    const records = await pushRecords();
    if (!records.length) return false;
    const sub = await subscription({ create: true });
    if (!sub) return false;
    for (const record of records) {
      if (record.webpush !== sub.endpoint) await register(record, sub);
    }
    return true;
  } catch (error) {
    console.warn("web push unavailable:", error.code || error.name, error.message);
    if (error.code) problem = "refused"; // an answer from the server
    return false;
  }
}

// The user asked for notifications (activation step, or the token list).
export async function enable() {
  if (!supported()) return false;
  const permission = await Notification.requestPermission().catch(() => "denied");
  return permission === "granted" && ensure();
}

// Whether the token list should offer "Turn on notifications".
export async function offerable() {
  if (!supported() || Notification.permission === "denied") return false;
  const records = await pushRecords();
  if (!records.length) return false;
  if (Notification.permission !== "granted") return true;
  const sub = await subscription({ create: false }).catch(() => null);
  return !sub || records.some((r) => r.webpush !== sub.endpoint);
}

// A delivered request is over: close its notification, if one is showing.
export async function closeNotification(id) {
  const registration = await navigator.serviceWorker?.getRegistration("/app/");
  for (const n of (await registration?.getNotifications({ tag: id })) ?? []) n.close();
}
