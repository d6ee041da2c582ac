// The device connection (PROTOCOL §4–§5): a reconnecting websocket emitting on
// an EventTarget, in the shape of Snapdrop's ServerConnection.
// Events: "ready" (detail: serial), "challenge" (detail: the §5 message),
// "closed" (detail: {id, state}), "status" (detail: "online" | "offline"),
// "info" (detail: the token record, after a verified token.info changed it).

import * as keys from "./keys.js";
import * as store from "./store.js";
import * as api from "./api.js";
import { takesPush } from "./names.js";

// Exponential backoff with jitter: 1 s, 2 s, 4 s … capped at 30 s.
export function nextDelay(attempt, random = Math.random) {
  const base = Math.min(30000, 1000 * 2 ** Math.min(attempt, 5));
  return Math.round(base * (0.75 + random() * 0.5));
}

// Whether the socket should keep reconnecting: while a token here can take
// login requests. Tokens that are all suspended, locked or removed hear
// nothing but that on the socket; the app checks again when it is opened
// (or comes back online), not twice a minute in the background.
export const keepsTrying = (records) => records.some(takesPush);

export const pushRecords = async () =>
  (await store.allTokens()).filter((r) => r.policy?.push && r.deviceKey);

// A token.info message changes the stored record only if its signature
// verifies with the token's info key and it is newer than the last one. A
// rename on the server replaces the name given on this device.
export async function applyInfo(info) {
  const record = await store.getToken(info?.serial);
  if (!record?.infoKey || !(info.time >= (record.infoTime || 0))) return null; // same second: in order
  if (!(await keys.verifyInfo(record.infoKey, info))) return null;
  // Changed in one transaction: a rename on this device or a deletion
  // while the signature was checked must not be lost.
  return store.updateToken(info.serial, (fresh) => {
    if (!(info.time >= (fresh.infoTime || 0))) return null;
    if (info.name !== fresh.name) fresh.label = "";
    return Object.assign(fresh, {
      issuer: info.issuer, account: info.account, name: info.name, state: info.state, infoTime: info.time,
    });
  });
}

export class DeviceSocket extends EventTarget {
  constructor({ url = null } = {}) {
    super();
    const scheme = location.protocol === "https:" ? "wss" : "ws";
    this.url = url ?? `${scheme}://${location.host}/ws/device/`;
    this.ws = null;
    this.attempt = 0;
    this.timer = null;
    this.waiting = new Map(); // challenge id -> {resolve, reject}
    this.ready = new Set();
    addEventListener("online", () => this.reconnectNow());
    // A socket that outlives the network only fails later: drop it now, and
    // the backoff loop reconnects (at once on "online"). Not by waiting for
    // its close event: the closing handshake needs the network that is gone.
    addEventListener("offline", () => this.drop(this.ws));
    document.addEventListener("visibilitychange", () => {
      if (document.visibilityState === "visible" && !this.isOpen()) this.reconnectNow();
    });
  }

  isOpen() {
    return this.ws?.readyState === WebSocket.OPEN;
  }

  async start() {
    if (this.ws) return;
    const records = await pushRecords();
    if (this.ws || !records.length) return; // another start() won the wait
    this.connect();
  }

  connect() {
    clearTimeout(this.timer);
    const ws = new WebSocket(this.url);
    this.ws = ws;
    ws.addEventListener("message", (event) => {
      if (this.ws !== ws) return; // dropped, still closing
      let data;
      try {
        data = JSON.parse(event.data);
      } catch {
        return;
      }
      this.handle(data).catch((error) => console.warn("device socket:", error.message));
    });
    ws.addEventListener("close", () => this.drop(ws));
  }

  // The socket is gone (closed, or given up for lost): say so, fail what
  // waited on it, and try again later while a token here takes pushes.
  drop(ws) {
    if (!ws || this.ws !== ws) return;
    this.ws = null;
    ws.close();
    this.ready.clear();
    this.emit("status", "offline");
    for (const { reject } of this.waiting.values()) reject(new api.ApiError("offline", "The connection was lost."));
    this.waiting.clear();
    pushRecords().then((records) => {
      if (this.ws === null && keepsTrying(records)) {
        this.timer = setTimeout(() => this.start(), nextDelay(this.attempt++));
      }
    });
  }

  reconnectNow() {
    this.attempt = 0;
    if (this.ws) this.ws.close();
    else this.start();
  }

  // After tokens were added or removed: authenticate the new set.
  refresh() {
    this.reconnectNow();
  }

  emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
  }

  async handle(data) {
    switch (data.type) {
      case "hello":
        for (const record of await pushRecords()) {
          const signature = await keys.sign(record.deviceKey, `tessera/v1/ws|${data.nonce}`);
          // info: the server also says how it names the token and its state.
          this.ws?.send(JSON.stringify({ type: "auth", serial: record.serial, signature, info: true }));
        }
        break;
      case "ready":
        this.attempt = 0;
        this.ready.add(data.serial);
        this.emit("status", "online");
        this.emit("ready", data.serial);
        break;
      case "challenge":
        this.emit("challenge", data);
        break;
      case "token.info": {
        const record = await applyInfo(data);
        if (record) this.emit("info", record);
        break;
      }
      case "challenge.closed":
        this.emit("closed", { id: data.id, state: data.state });
        break;
      case "answer.result":
        this.settle(data.id, (w) => w.resolve(data));
        break;
      case "error":
        if (data.id) this.settle(data.id, (w) => w.reject(new api.ApiError(data.error, data.detail)));
        else console.warn("device socket error:", data.error, data.detail);
        break;
      default:
        break; // unknown messages are ignored, as the protocol allows
    }
  }

  settle(id, fn) {
    const waiter = this.waiting.get(id);
    if (!waiter) return;
    this.waiting.delete(id);
    fn(waiter);
  }

  // Sends a signed answer over the socket, or over HTTP when it is not open.
  answer(frame) {
    if (!this.isOpen()) return api.answer(frame);
    return new Promise((resolve, reject) => {
      this.waiting.set(frame.id, { resolve, reject });
      this.ws.send(JSON.stringify(frame));
      setTimeout(() => this.settle(frame.id, (w) => w.reject(new api.ApiError("timeout", "Tessera did not answer in time."))), 15000);
    });
  }
}
