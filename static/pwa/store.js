// IndexedDB in the idb-keyval shape: one promise helper, tiny exported functions.
// Two stores: "tokens" (one record per serial) and "meta" (keys, settings).

const DB_NAME = "tessera";
let dbPromise;

function db() {
  dbPromise ??= new Promise((resolve, reject) => {
    const request = indexedDB.open(DB_NAME, 1);
    request.onupgradeneeded = () => {
      request.result.createObjectStore("tokens", { keyPath: "serial" });
      request.result.createObjectStore("meta");
    };
    request.onsuccess = () => resolve(request.result);
    request.onerror = () => reject(request.error);
  });
  return dbPromise;
}

function run(storeName, mode, action) {
  return db().then(
    (database) =>
      new Promise((resolve, reject) => {
        const tx = database.transaction(storeName, mode);
        const result = action(tx.objectStore(storeName));
        tx.oncomplete = () => resolve(result.result);
        tx.onerror = tx.onabort = () => reject(tx.error);
      }),
  );
}

export const getToken = (serial) => run("tokens", "readonly", (s) => s.get(serial));
export const putToken = (record) => run("tokens", "readwrite", (s) => s.put(record));
// Read, change and write one record in one transaction, so that no other
// write lands between the read and the write. ``change`` is synchronous: it
// returns the record to store, or null to leave it as it was.
export const updateToken = (serial, change) =>
  run("tokens", "readwrite", (tokens) => {
    const outcome = { result: null }; // read by run() when the transaction completes
    const read = tokens.get(serial);
    read.onsuccess = () => {
      outcome.result = read.result ? change(read.result) : null;
      if (outcome.result) tokens.put(outcome.result);
    };
    return outcome;
  });
export const deleteToken = (serial) => run("tokens", "readwrite", (s) => s.delete(serial));
export const allTokens = () => run("tokens", "readonly", (s) => s.getAll());
export const getMeta = (key) => run("meta", "readonly", (s) => s.get(key));
export const setMeta = (key, value) => run("meta", "readwrite", (s) => s.put(value, key));
export const deleteMeta = (key) => run("meta", "readwrite", (s) => s.delete(key));
