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
export const deleteToken = (serial) => run("tokens", "readwrite", (s) => s.delete(serial));
export const allTokens = () => run("tokens", "readonly", (s) => s.getAll());
export const getMeta = (key) => run("meta", "readonly", (s) => s.get(key));
export const setMeta = (key, value) => run("meta", "readwrite", (s) => s.put(value, key));
export const deleteMeta = (key) => run("meta", "readwrite", (s) => s.delete(key));
