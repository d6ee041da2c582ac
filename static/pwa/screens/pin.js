// PIN entry: create (with the policy's rules on screen), re-enter, unlock.
import { h, show, message, button } from "../ui.js";

export function pinRules(policy) {
  const kind = policy.pin_charset === "numeric" ? "digits" : "letters or digits";
  return policy.pin_min_length === policy.pin_max_length
    ? `${policy.pin_min_length} ${kind}`
    : `${policy.pin_min_length} to ${policy.pin_max_length} ${kind}`;
}

export function pinProblem(policy, pin) {
  if (pin.length < policy.pin_min_length || pin.length > policy.pin_max_length) {
    return `The PIN must have ${pinRules(policy)}.`;
  }
  if (policy.pin_charset === "numeric" ? !/^[0-9]+$/.test(pin) : !/^[A-Za-z0-9]+$/.test(pin)) {
    return `The PIN must have ${pinRules(policy)}.`;
  }
  return null;
}

// Renders a PIN form; resolves with the PIN typed. `check(pin)` may return an
// error sentence to keep the form open.
export function askPin({ title, lead, policy, check = () => null, back = null, submitLabel = "Continue", extra = null }) {
  return new Promise((resolve) => {
    const numeric = policy.pin_charset === "numeric";
    const input = h("input", {
      id: "pin", type: "password", name: "pin", autocomplete: "off", required: true,
      inputmode: numeric ? "numeric" : "text", maxlength: String(policy.pin_max_length),
      "aria-describedby": "pin-rules",
    });
    const errorSlot = h("div", { "aria-live": "assertive" });
    const form = h(
      "form",
      { class: "stack", novalidate: true },
      h("p", { class: "lead" }, lead),
      h("label", { for: "pin" }, "PIN"),
      input,
      h("p", { id: "pin-rules", class: "hint" }, `Use ${pinRules(policy)}.`),
      errorSlot,
      button(submitLabel, null, { primary: true, id: "pin-submit" }),
      extra,
    );
    form.addEventListener("submit", async (event) => {
      event.preventDefault();
      const problem = await check(input.value);
      if (problem) {
        errorSlot.replaceChildren(message(problem));
        input.select();
        return;
      }
      resolve(input.value);
    });
    show({ title, body: form, back, id: "pin" });
    input.focus();
  });
}
