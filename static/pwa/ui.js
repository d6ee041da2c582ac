// Tiny DOM helpers; screens render into #app, one at a time.

export function h(tag, attrs = {}, ...children) {
  const el = document.createElement(tag);
  for (const [name, value] of Object.entries(attrs)) {
    if (value === false || value == null) continue;
    if (name.startsWith("on")) el.addEventListener(name.slice(2), value);
    else if (name === "class") el.className = value;
    else el.setAttribute(name, value === true ? "" : value);
  }
  for (const child of children.flat()) {
    if (child == null || child === false) continue;
    el.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return el;
}

// Cleanups tied to elements: run once their element has left the document.
const cleanups = new Set();

// Shows a screen: a title, body nodes and an optional back action.
export function show({ title, body, back = null, id = "" }) {
  const root = document.getElementById("app");
  const header = h(
    "header",
    { class: "bar" },
    back ? h("button", { class: "icon", "aria-label": "Back", onclick: back }, "←") : null,
    h("h1", { id: "screen-title", tabindex: "-1" }, title),
  );
  const main = h("main", { "data-screen": id }, body);
  root.replaceChildren(header, main);
  for (const entry of cleanups) {
    if (!entry.el.isConnected) {
      cleanups.delete(entry);
      entry.fn();
    }
  }
  document.title = `${title} · Tessera`;
  document.getElementById("screen-title").focus({ preventScroll: true });
  return main;
}

export function onLeave(el, fn) {
  cleanups.add({ el, fn });
}

export function message(text, kind = "error") {
  return h("p", { class: `message ${kind}`, role: kind === "error" ? "alert" : "status" }, text);
}

export function button(label, onclick, { primary = false, id = null, kind = "" } = {}) {
  return h("button", { class: `btn ${primary ? "primary" : ""} ${kind}`, onclick, id }, label);
}

export function confirmDialog(text, okLabel = "OK") {
  return new Promise((resolve) => {
    const dialog = h(
      "dialog",
      { class: "dialog", "aria-label": "Confirm" },
      h("p", {}, text),
      h(
        "div",
        { class: "actions" },
        button("Cancel", () => { dialog.close(); resolve(false); }),
        button(okLabel, () => { dialog.close(); resolve(true); }, { primary: true, id: "dialog-ok" }),
      ),
    );
    dialog.addEventListener("close", () => dialog.remove());
    document.body.append(dialog);
    dialog.showModal();
  });
}
