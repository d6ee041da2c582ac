// Token records at rest. A record never holds a plain seed: the seed is sealed
// under the device's non-extractable storage key, and under a PIN-derived key
// too when the policy asks for a token PIN (see keys.js for why that layer has
// no authentication tag). Fingerprint with PRF wraps the PIN key as well.

import * as keys from "./keys.js";
import * as store from "./store.js";

async function storageKey() {
  let key = await store.getMeta("storageKey");
  if (!key) {
    key = await keys.newStorageKey();
    await store.setMeta("storageKey", key);
  }
  return key;
}

const aad = (serial) => `tessera/pwa/seed|${serial}`;

// Builds the record for a token just activated; `pin` is the token PIN or "".
export async function createRecord({ answer, label, seed, deviceKey, pin, prfKey = null }) {
  const record = {
    serial: answer.serial,
    label: "", // the user's own name for it on this device, if any
    name: answer.name || answer.label, // the token's name on the server
    issuer: answer.issuer || location.host,
    account: answer.account || answer.label,
    state: "active",
    infoTime: 0,
    otp: { ...answer.otp },
    policy: { ...answer.policy },
    deviceKey, // non-extractable ECDSA private key (structured clone)
    createdAt: Date.now(),
    pinFailureTimes: [],
    fingerprint: null,
  };
  let inner = seed;
  if (answer.policy.pin_mode === "token") {
    const salt = crypto.getRandomValues(new Uint8Array(16));
    const pinKey = await keys.pinKeyBytes(pin, salt);
    record.pin = { salt, iterations: keys.PIN_ITERATIONS, ...(await keys.pinSeal(seed, pinKey)) };
    inner = record.pin.ct;
    delete record.pin.ct;
    if (prfKey) record.fingerprint = { prf: true, wrappedPinKey: await keys.gcmSeal(prfKey, pinKey, aad(record.serial)) };
  }
  record.sealed = await keys.gcmSeal(await storageKey(), inner, aad(record.serial));
  return record;
}

export const needsPin = (record) => record.policy.pin_mode === "token";

// Opens the seed. For token-PIN records pass `pin` (or `pinKey` from PRF);
// returns null when the PIN check value says it was mistyped.
export async function openSeed(record, { pin = "", pinKey = null } = {}) {
  const inner = await keys.gcmOpen(await storageKey(), record.sealed, aad(record.serial));
  if (!needsPin(record)) return inner;
  const key = pinKey ?? (await keys.pinKeyBytes(pin, record.pin.salt, record.pin.iterations));
  return keys.pinOpen({ ...record.pin, ct: inner }, key);
}

export async function openWithPrf(record, prfKey) {
  const pinKey = await keys.gcmOpen(prfKey, record.fingerprint.wrappedPinKey, aad(record.serial));
  return openSeed(record, { pinKey });
}

// Counts a mistyped PIN (one that fails the check value); wipes the token
// once the policy's limit is reached within a day. A PIN that passes the check
// resets nothing, since it may be a thief's plausible-but-wrong guess: only
// the server can tell. Returns the attempts left (0 = wiped).
const FAILURE_WINDOW_MS = 24 * 3600 * 1000;

export async function pinFailed(record, now = Date.now()) {
  const recent = (record.pinFailureTimes || []).filter((t) => now - t < FAILURE_WINDOW_MS);
  record.pinFailureTimes = [...recent, now];
  const left = record.policy.pin_max_attempts - record.pinFailureTimes.length;
  if (left <= 0) {
    await store.deleteToken(record.serial);
    return 0;
  }
  await store.putToken(record);
  return left;
}

// Start-up self-test: a non-extractable key must survive IndexedDB and still sign.
export async function selfTest() {
  const pair = await keys.newDeviceKeyPair();
  await store.setMeta("selftest", pair);
  const back = await store.getMeta("selftest");
  const signature = await crypto.subtle.sign({ name: "ECDSA", hash: "SHA-256" }, back.privateKey, new Uint8Array([1]));
  const ok = await crypto.subtle.verify({ name: "ECDSA", hash: "SHA-256" }, pair.publicKey, signature, new Uint8Array([1]));
  await store.deleteMeta("selftest");
  return ok && back.privateKey.extractable === false;
}
