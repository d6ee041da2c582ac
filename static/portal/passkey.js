// Passkeys and security keys (WebAuthn) in the portal. Each button names its
// two endpoints: one gives options (JSON), the other takes the browser's
// answer and says where to go next. The server verifies everything.
const csrf = () => document.querySelector("[name=csrfmiddlewaretoken]")?.value ?? "";
const status = document.getElementById("passkey-status");

async function post(url, body = {}, signal = undefined) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": csrf() },
    body: JSON.stringify(body),
    signal,
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(data.detail || `The server answered ${response.status}.`);
  return data;
}

function say(text, kind = "error") {
  if (!status) return;
  status.textContent = text;
  status.className = `message ${kind}`;
  status.hidden = false;
}

function supported() {
  return Boolean(window.PublicKeyCredential?.parseCreationOptionsFromJSON);
}

const REFUSED = "The passkey was not used (cancelled, or this device has none for this site).";

async function register(button) {
  const { options } = await post(button.dataset.options);
  const publicKey = PublicKeyCredential.parseCreationOptionsFromJSON(JSON.parse(options));
  const credential = await navigator.credentials.create({ publicKey });
  const name = document.getElementById("passkey-name")?.value ?? "";
  return post(button.dataset.finish, { credential: credential.toJSON(), name });
}

async function authenticate(button, { mediation = undefined, signal = undefined } = {}) {
  const { options } = await post(button.dataset.options, {}, signal);
  const publicKey = PublicKeyCredential.parseRequestOptionsFromJSON(JSON.parse(options));
  const credential = await navigator.credentials.get({ publicKey, mediation, signal });
  return post(button.dataset.finish, { credential: credential.toJSON() });
}

let autofill = null; // the conditional (autofill) request, if one is waiting

for (const button of document.querySelectorAll("[data-passkey]")) {
  if (!supported()) {
    button.disabled = true;
    say("This browser cannot use passkeys.", "info");
    continue;
  }
  button.addEventListener("click", async () => {
    autofill?.abort();
    button.disabled = true;
    say("Follow your browser's prompt…", "info");
    try {
      const done = button.dataset.passkey === "register" ? await register(button) : await authenticate(button);
      location.assign(done.next);
    } catch (error) {
      say(error.name === "NotAllowedError" || error.name === "AbortError" ? REFUSED : error.message);
      button.disabled = false;
    }
  });
}

// Autofill: on a username field marked "webauthn", a passkey offered by the
// browser's suggestions logs in without a password (where the browser has it).
const field = document.querySelector("input[autocomplete~='webauthn']");
const passwordless = document.querySelector("[data-passkey=passwordless]");
if (field && passwordless && supported() && (await PublicKeyCredential.isConditionalMediationAvailable?.())) {
  autofill = new AbortController();
  authenticate(passwordless, { mediation: "conditional", signal: autofill.signal })
    .then((done) => location.assign(done.next))
    .catch(() => {});
}
