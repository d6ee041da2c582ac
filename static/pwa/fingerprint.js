// Fingerprint (WebAuthn platform credential with user verification), local only.
// With the PRF extension the authenticator yields a secret that wraps the
// token's PIN key; without it the fingerprint only gates the PIN-less path.

import { hkdf } from "./keys.js";

const enc = new TextEncoder();

export async function available() {
  // WebAuthn needs a domain as its relying-party id, not an IP address.
  if (/^[\d.]+$|^\[|:/.test(location.hostname)) return false;
  return Boolean(
    window.PublicKeyCredential &&
      (await PublicKeyCredential.isUserVerifyingPlatformAuthenticatorAvailable?.().catch(() => false)),
  );
}

async function prfKey(secret) {
  const bytes = await hkdf(new Uint8Array(secret), enc.encode("tessera/pwa/prf"), enc.encode("wrap"), 32);
  return crypto.subtle.importKey("raw", bytes, "AES-GCM", false, ["encrypt", "decrypt"]);
}

// Creates a credential for `serial`; returns {credentialId, salt, prf: CryptoKey|null}.
export async function enroll(serial, label) {
  const salt = crypto.getRandomValues(new Uint8Array(32));
  const credential = await navigator.credentials.create({
    publicKey: {
      rp: { name: "Tessera Authenticator", id: location.hostname },
      user: { id: enc.encode(serial), name: label || serial, displayName: label || serial },
      challenge: crypto.getRandomValues(new Uint8Array(32)),
      pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -257 }],
      authenticatorSelection: { authenticatorAttachment: "platform", userVerification: "required", residentKey: "discouraged" },
      timeout: 60000,
      extensions: { prf: { eval: { first: salt } } },
    },
  });
  const credentialId = new Uint8Array(credential.rawId);
  const results = credential.getClientExtensionResults().prf;
  let secret = results?.results?.first;
  if (!secret && results?.enabled) secret = await assertion(credentialId, salt);
  return { credentialId, salt, prf: secret ? await prfKey(secret) : null };
}

async function assertion(credentialId, salt) {
  const result = await navigator.credentials.get({
    publicKey: {
      challenge: crypto.getRandomValues(new Uint8Array(32)),
      allowCredentials: [{ type: "public-key", id: credentialId }],
      userVerification: "required",
      timeout: 60000,
      extensions: salt ? { prf: { eval: { first: salt } } } : {},
    },
  });
  return result.getClientExtensionResults().prf?.results?.first ?? null;
}

// Asks for the fingerprint; returns the PRF key (or true for a gate-only credential).
export async function verify(record) {
  const { credentialId, salt, prf } = record.fingerprint;
  const secret = await assertion(credentialId, prf ? salt : null);
  if (prf) {
    if (!secret) throw new Error("The authenticator did not return its secret.");
    return prfKey(secret);
  }
  return true;
}

// --- PROTOCOL §7: user verification the server checks ------------------------
// The challenges are SHA-256 of texts both sides know, so no round trip is
// needed; the server verifies origin, rp id, the UV flag and the sign count.

const sha256 = async (text) => new Uint8Array(await crypto.subtle.digest("SHA-256", enc.encode(text)));

// At confirmation: a platform credential over 'tessera/v1/uv-register|serial|otp'.
// Returns {credentialId (b64u), json (what the confirm carries)}.
export async function registerForServer(serial, otp, label) {
  const credential = await navigator.credentials.create({
    publicKey: {
      rp: { name: "Tessera", id: location.hostname },
      user: { id: crypto.getRandomValues(new Uint8Array(16)), name: label || serial, displayName: label || serial },
      challenge: await sha256(`tessera/v1/uv-register|${serial}|${otp}`),
      pubKeyCredParams: [{ type: "public-key", alg: -7 }, { type: "public-key", alg: -257 }],
      authenticatorSelection: { authenticatorAttachment: "platform", userVerification: "required", residentKey: "discouraged" },
      attestation: "none",
      timeout: 60000,
    },
  });
  const json = credential.toJSON();
  return { credentialId: json.id, json };
}

// The server's credential as the local gate of a token without a PIN (no
// PRF: the fingerprint only gates), so one credential serves both.
export function gate(credentialId) {
  return { credentialId: base64urlToBuffer(credentialId), salt: null, prf: null };
}

// On approving: an assertion over SHA-256 of the answer's signed text.
export async function assertForServer(credentialId, signedText) {
  const assertion = await navigator.credentials.get({
    publicKey: {
      challenge: await sha256(signedText),
      rpId: location.hostname,
      allowCredentials: [{ type: "public-key", id: base64urlToBuffer(credentialId) }],
      userVerification: "required",
      timeout: 60000,
    },
  });
  return assertion.toJSON();
}

function base64urlToBuffer(text) {
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}
