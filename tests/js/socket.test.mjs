// The device socket's reconnect backoff: node --test tests/js/
import { test } from "node:test";
import assert from "node:assert/strict";
import { keepsTrying, nextDelay } from "../../static/pwa/socket.js";

test("reconnect delays double from 1 s and stop at 30 s", () => {
  const middle = () => 0.5; // no jitter
  assert.deepEqual([0, 1, 2, 3, 4, 5, 6, 20].map((n) => nextDelay(n, middle)),
    [1000, 2000, 4000, 8000, 16000, 30000, 30000, 30000]);
});

test("jitter stays within ±25 %", () => {
  assert.equal(nextDelay(2, () => 0), 3000);
  assert.equal(nextDelay(2, () => 0.999999), 5000);
});

test("a phone whose tokens are all suspended stops reconnecting", () => {
  assert.equal(keepsTrying([{ state: "suspended" }]), false);
  assert.equal(keepsTrying([{ state: "suspended" }, { state: "revoked" }]), false);
  assert.equal(keepsTrying([{ state: "suspended" }, { state: "active" }]), true);
  assert.equal(keepsTrying([{ state: "passcodes_locked" }]), true); // pushes still come
  assert.equal(keepsTrying([{}]), true); // no state heard yet: active
});
