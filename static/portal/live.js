// Follows a page socket (the session picks what it reports): reconnects with
// doubling delays until `done()` says the page has what it waited for, or the
// server refuses the session (4403). Nothing polls.
export function follow(path, onMessage, done, maxDelay = 10000) {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const connect = (delay) => {
    const socket = new WebSocket(`${scheme}://${location.host}${path}`);
    socket.addEventListener("message", (event) => onMessage(JSON.parse(event.data), socket));
    socket.addEventListener("close", (event) => {
      if (!done() && event.code !== 4403) {
        setTimeout(() => connect(Math.min(delay * 2, maxDelay)), delay);
      }
    });
  };
  connect(500);
}
