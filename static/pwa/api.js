// The device protocol's HTTP calls. Errors carry the server's code and sentence.

export class ApiError extends Error {
  constructor(code, message, status = 0) {
    super(message);
    this.code = code;
    this.status = status;
  }
}

async function post(path, body) {
  if (!navigator.onLine) {
    throw new ApiError("offline", "You are offline. Connect to the internet and try again.");
  }
  let response;
  try {
    response = await fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      cache: "no-store",
      credentials: "omit",
    });
  } catch {
    throw new ApiError("offline", "Tessera cannot be reached. Check your connection and try again.");
  }
  let data = {};
  try {
    data = await response.json();
  } catch {
    /* a proxy's HTML error page */
  }
  if (!response.ok) {
    throw new ApiError(data.error || "server_error", data.detail || `The server answered ${response.status}.`, response.status);
  }
  return data;
}

async function get(path) {
  let response;
  try {
    response = await fetch(path, { cache: "no-store", credentials: "omit" });
  } catch {
    throw new ApiError("offline", "Tessera cannot be reached. Check your connection and try again.");
  }
  const data = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(data.error || "server_error", data.detail || `The server answered ${response.status}.`, response.status);
  }
  return data;
}

export const activate = (body) => post("/api/v1/device/activate", body);
export const confirm = (body) => post("/api/v1/device/confirm", body);
export const answer = (body) => post("/api/v1/device/answer", body);
export const remove = (body) => post("/api/v1/device/remove", body);
export const webpushKey = () => get("/api/v1/device/webpush");
export const webpush = (body) => post("/api/v1/device/webpush", body);

export const MESSAGES = {
  expired: "This activation string has expired. Ask for a new one on the self-enrollment page or from your administrator.",
  already_used: "This activation string has already been used. Ask for a new one.",
  too_many_attempts: "This activation string was tried too many times. Ask for a new one.",
};
