// Copies the backup codes shown once (one per line) to the clipboard.
const button = document.getElementById("copy-codes");
const said = document.getElementById("copy-codes-status");

button?.addEventListener("click", async () => {
  const codes = [...document.querySelectorAll("#backup-codes code")].map((c) => c.textContent.trim());
  try {
    await navigator.clipboard.writeText(codes.join("\n") + "\n");
    said.textContent = button.dataset.done;
  } catch {
    said.textContent = button.dataset.failed;
  }
});
