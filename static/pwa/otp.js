// Pure passcode maths and activation-string parsing (docs/protocol.md §1, RFC 4226/6238).
// No DOM, no storage: time and keys are passed in, so node --test covers it all.

const B32 = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
const HASHES = { SHA1: "SHA-1", SHA256: "SHA-256", SHA512: "SHA-512" };

export function base32Encode(bytes) {
  let bits = 0, value = 0, out = "";
  for (const byte of bytes) {
    value = (value << 8) | byte;
    bits += 8;
    while (bits >= 5) {
      out += B32[(value >>> (bits - 5)) & 31];
      bits -= 5;
    }
  }
  if (bits > 0) out += B32[(value << (5 - bits)) & 31];
  return out;
}

export function base32Decode(text) {
  const clean = text.replace(/=+$/, "").toUpperCase();
  const out = [];
  let bits = 0, value = 0;
  for (const ch of clean) {
    const index = B32.indexOf(ch);
    if (index < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | index;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 255);
      bits -= 8;
    }
  }
  return new Uint8Array(out);
}

export function b64uEncode(bytes) {
  let s = "";
  for (const b of new Uint8Array(bytes)) s += String.fromCharCode(b);
  return btoa(s).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
}

export function b64uDecode(text) {
  const s = atob(text.replace(/-/g, "+").replace(/_/g, "/") + "===".slice((text.length + 3) % 4));
  return Uint8Array.from(s, (c) => c.charCodeAt(0));
}

export async function hotp(seed, counter, { digits = 6, algorithm = "SHA1", subtle = crypto.subtle } = {}) {
  const key = await subtle.importKey("raw", seed, { name: "HMAC", hash: HASHES[algorithm] }, false, ["sign"]);
  const message = new Uint8Array(8);
  let c = BigInt(counter);
  for (let i = 7; i >= 0; i--) {
    message[i] = Number(c & 0xffn);
    c >>= 8n;
  }
  const mac = new Uint8Array(await subtle.sign("HMAC", key, message));
  const offset = mac[mac.length - 1] & 0x0f;
  const binary =
    ((mac[offset] & 0x7f) << 24) | (mac[offset + 1] << 16) | (mac[offset + 2] << 8) | mac[offset + 3];
  return String(binary % 10 ** digits).padStart(digits, "0");
}

export function timeStep(nowMs, period = 30) {
  return Math.floor(nowMs / 1000 / period);
}

export function secondsLeft(nowMs, period = 30) {
  return period - (Math.floor(nowMs / 1000) % period);
}

export async function totp(seed, nowMs, { period = 30, digits = 6, algorithm = "SHA1" } = {}) {
  return hotp(seed, timeStep(nowMs, period), { digits, algorithm });
}

// The code an OTP description shows at `nowMs`: {type, digits, algorithm,
// and period or counter}, as the server sends it and token records keep it.
export function currentCode(otp, seed, nowMs = Date.now()) {
  return otp.type === "hotp"
    ? hotp(seed, otp.counter ?? 0, { digits: otp.digits, algorithm: otp.algorithm })
    : totp(seed, nowMs, { period: otp.period, digits: otp.digits, algorithm: otp.algorithm });
}

// --- activation strings -----------------------------------------------------

export class ActivationError extends Error {
  constructor(code, message) {
    super(message);
    this.code = code;
  }
}

const ACTIVATION_CHARS = 47;

export async function parseActivation(text, { subtle = crypto.subtle } = {}) {
  const cleaned = String(text)
    .replace(/[\s-]/g, "")
    .toUpperCase()
    .replace(/0/g, "O")
    .replace(/1/g, "I")
    .replace(/8/g, "B");
  if (!cleaned || /[^A-Z2-7]/.test(cleaned)) {
    throw new ActivationError("invalid", "This activation string has characters that do not belong in one.");
  }
  if (cleaned.length !== ACTIVATION_CHARS) {
    throw new ActivationError(
      "length",
      `This activation string has ${cleaned.length} characters; it should have ${ACTIVATION_CHARS}. Check that you copied all of it.`,
    );
  }
  const payload = base32Decode(cleaned);
  if (payload[0] !== 1) {
    throw new ActivationError("version", "This activation string is for a newer version of the authenticator.");
  }
  const body = payload.slice(0, 27);
  const digest = new Uint8Array(await subtle.digest("SHA-256", body));
  if (digest[0] !== payload[27] || digest[1] !== payload[28]) {
    throw new ActivationError("typo", "This activation string has a typo.");
  }
  return { text: cleaned, enrollmentId: body.slice(1, 11), code: body.slice(11, 27) };
}

// Accepts the bare string or the activation link (SITE_URL/app/#activate=...).
// A link for another server is refused by name, since its string means nothing here.
export function extractActivation(input, origin) {
  const text = String(input).trim();
  const match = text.match(/^(https?:\/\/[^/#?\s]+)[^#\s]*#activate=([A-Za-z0-9\s-]+)$/);
  if (!match) return text;
  if (origin && match[1].toLowerCase() !== origin.toLowerCase()) {
    throw new ActivationError(
      "other_server",
      `This activation is for another server (${new URL(match[1]).host}). Open it with that server's authenticator.`,
    );
  }
  return match[2];
}

export function groupDigits(code) {
  return code.length === 8 ? `${code.slice(0, 4)} ${code.slice(4)}` : `${code.slice(0, 3)} ${code.slice(3)}`;
}
