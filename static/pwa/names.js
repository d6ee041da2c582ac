// How a token is named on screen: the user's own name on this device, else the
// server's name for it; under it the deployment (issuer) and the account.
export const tokenTitle = (record) => record.label || record.name || record.account || record.serial;

// The name typed on this device for a token: kept only where it differs
// from the server's name for it.
export const labelFor = (typed, record) => (typed && typed !== record.name ? typed : "");

export const tokenSubtitle = (record) =>
  [record.issuer, record.account].filter(Boolean).join(" · ");

// What the app says of a token the server no longer takes codes for.
export const STATE_TEXT = {
  suspended: "Suspended: its passcodes are not accepted and it takes no login requests. If you did not report this phone lost yourself, ask your administrator.",
  locked: "Locked by your administrator or after a login request you reported: its passcodes are not accepted and it takes no login requests. Ask your administrator.",
  passcodes_locked: "Its passcodes are locked after too many wrong ones (someone may be guessing). They work again later, or when your administrator unlocks them. Login requests still reach this token: approve yours here.",
  revoked: "Removed: this token no longer works. You can delete it from this device.",
};

export const usable = (record) => !record.state || record.state === "active";
// Whether login requests still reach it (a passcode lock does not stop them).
export const takesPush = (record) => usable(record) || record.state === "passcodes_locked";
