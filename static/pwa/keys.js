// WebCrypto keys: device keys, ECDH seed derivation, signatures, seed sealing.
// Private keys are generated non-extractable; only public halves are exported.

import { b64uDecode, b64uEncode } from "./otp.js";

const subtle = () => globalThis.crypto.subtle;
const enc = new TextEncoder();
const SEED_LENGTHS = { SHA1: 20, SHA256: 32, SHA512: 64 };

export async function newEcdhKeyPair() {
  return subtle().generateKey({ name: "ECDH", namedCurve: "P-256" }, false, ["deriveBits"]);
}

export async function newDeviceKeyPair() {
  return subtle().generateKey({ name: "ECDSA", namedCurve: "P-256" }, false, ["sign", "verify"]);
}

export async function exportPublic(key) {
  return b64uEncode(await subtle().exportKey("raw", key));
}

// seed = HKDF-SHA256(ikm = ECDH X, salt = enrollment_id, info = "tessera/v1/seed|" + serial)
export async function deriveSeed({ ecdhPrivate, serverPublicRaw, enrollmentId, serial, algorithm }) {
  const peer = await subtle().importKey("raw", serverPublicRaw, { name: "ECDH", namedCurve: "P-256" }, false, []);
  const shared = await subtle().deriveBits({ name: "ECDH", public: peer }, ecdhPrivate, 256);
  return hkdf(new Uint8Array(shared), enrollmentId, enc.encode(`tessera/v1/seed|${serial}`), SEED_LENGTHS[algorithm]);
}

// The token-info key (32 bytes, info "tessera/v1/info|" + serial) from the same
// ECDH secret, imported as a non-extractable HMAC key that only verifies.
export async function deriveInfoKey({ ecdhPrivate, serverPublicRaw, enrollmentId, serial }) {
  const peer = await subtle().importKey("raw", serverPublicRaw, { name: "ECDH", namedCurve: "P-256" }, false, []);
  const shared = await subtle().deriveBits({ name: "ECDH", public: peer }, ecdhPrivate, 256);
  const raw = await hkdf(new Uint8Array(shared), enrollmentId, enc.encode(`tessera/v1/info|${serial}`), 32);
  return subtle().importKey("raw", raw, { name: "HMAC", hash: "SHA-256" }, false, ["verify"]);
}

// A token.info message is the server's only if its HMAC verifies.
export function infoText(info) {
  return "tessera/v1/info|" + JSON.stringify([info.serial, info.issuer, info.account, info.name, info.state, info.time]);
}

export async function verifyInfo(infoKey, info) {
  if (!infoKey || typeof info?.signature !== "string") return false;
  let mac;
  try {
    mac = b64uDecode(info.signature);
  } catch {
    return false;
  }
  return subtle().verify("HMAC", infoKey, mac, enc.encode(infoText(info)));
}

export async function hkdf(ikm, salt, info, length) {
  const key = await subtle().importKey("raw", ikm, "HKDF", false, ["deriveBits"]);
  const bits = await subtle().deriveBits({ name: "HKDF", hash: "SHA-256", salt, info }, key, length * 8);
  return new Uint8Array(bits);
}

// ECDSA P-256/SHA-256; WebCrypto returns raw r||s, which is what the protocol wants.
export async function sign(privateKey, text) {
  const signature = await subtle().sign({ name: "ECDSA", hash: "SHA-256" }, privateKey, enc.encode(text));
  return b64uEncode(signature);
}

// --- sealing seeds at rest ------------------------------------------------
// Outer layer (every token): AES-GCM under a non-extractable storage key kept
// in IndexedDB. Inner layer (token PIN): AES-CTR under a key derived from the
// PIN. CTR has no tag, so every PIN "decrypts" to a plausible seed and only
// the server, which locks the token after a few wrong passcodes, can tell a
// wrong PIN. A 4-bit check value catches 15 of 16 typos locally while leaving
// a thief who copies the data about 1 in 16 PINs to try online.

export async function newStorageKey() {
  return subtle().generateKey({ name: "AES-GCM", length: 256 }, false, ["encrypt", "decrypt"]);
}

export async function gcmSeal(key, data, aad) {
  const iv = crypto.getRandomValues(new Uint8Array(12));
  const ct = await subtle().encrypt({ name: "AES-GCM", iv, additionalData: enc.encode(aad) }, key, data);
  return { iv, ct: new Uint8Array(ct) };
}

export async function gcmOpen(key, sealed, aad) {
  const pt = await subtle().decrypt({ name: "AES-GCM", iv: sealed.iv, additionalData: enc.encode(aad) }, key, sealed.ct);
  return new Uint8Array(pt);
}

export const PIN_ITERATIONS = 210000;

export async function pinKeyBytes(pin, salt, iterations = PIN_ITERATIONS) {
  const base = await subtle().importKey("raw", enc.encode(pin), "PBKDF2", false, ["deriveBits"]);
  const bits = await subtle().deriveBits({ name: "PBKDF2", hash: "SHA-256", salt, iterations }, base, 256);
  return new Uint8Array(bits);
}

async function ctr(keyBytes, counter, data) {
  const key = await subtle().importKey("raw", keyBytes, "AES-CTR", false, ["encrypt"]);
  return new Uint8Array(await subtle().encrypt({ name: "AES-CTR", counter, length: 64 }, key, data));
}

async function checkNibble(seed) {
  const digest = new Uint8Array(await subtle().digest("SHA-256", seed));
  return digest[0] & 0x0f;
}

export async function pinSeal(seed, pinKey) {
  const counter = crypto.getRandomValues(new Uint8Array(16));
  counter.fill(0, 8); // low 64 bits count blocks
  return { counter, ct: await ctr(pinKey, counter, seed), check: await checkNibble(seed) };
}

// Returns the seed, or null when the check value says the PIN was mistyped.
export async function pinOpen(sealed, pinKey) {
  const seed = await ctr(pinKey, sealed.counter, sealed.ct);
  return (await checkNibble(seed)) === sealed.check ? seed : null;
}
