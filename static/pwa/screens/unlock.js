// Opens a token's seed: fingerprint when set up, else the token PIN, else
// freely. Shared by the passcode screen and push approvals.
import * as vault from "../vault.js";
import { tokenTitle } from "../names.js";
import * as fingerprint from "../fingerprint.js";
import { askPin, pinProblem } from "./pin.js";

// Resolves with the seed, or null when the user could not unlock it.
// `onWiped(notice)` runs when too many wrong PINs removed the token.
export async function unlock(record, { back, onWiped, lead = null }) {
  if (record.fingerprint) {
    try {
      const result = await fingerprint.verify(record);
      // Without a token PIN there is no PIN key to unwrap: the fingerprint
      // is the gate, whatever the authenticator's PRF support.
      if (result === true || !vault.needsPin(record)) return vault.openSeed(record);
      return await vault.openWithPrf(record, result);
    } catch (error) {
      console.warn("fingerprint unlock failed:", error.name, error.message);
      if (!vault.needsPin(record)) return null;
    }
  }
  if (!vault.needsPin(record)) return vault.openSeed(record);
  let seed = null;
  await askPin({
    title: "Enter PIN",
    lead: lead ?? `Type the PIN of ${tokenTitle(record)}.`,
    policy: record.policy,
    back,
    check: async (pin) => {
      // A PIN the policy could never have made is refused for what it is,
      // without costing an attempt (that tells nothing the policy does not).
      const problem = pinProblem(record.policy, pin);
      if (problem) return problem;
      seed = await vault.openSeed(record, { pin });
      if (seed) return null;
      const left = await vault.pinFailed(record);
      if (left === 0) {
        onWiped(`Too many wrong PINs: the token ${record.serial} was removed from this device. Ask your administrator for a new one.`);
        return new Promise(() => {}); // the form is gone
      }
      return `Wrong PIN. ${left} attempt${left === 1 ? "" : "s"} left before the token is removed.`;
    },
  });
  return seed;
}

// Whether opening the seed (a passcode, a push approval) asks for the PIN or
// the fingerprint first.
export const needsUnlock = (record) => Boolean(record.fingerprint) || vault.needsPin(record);
