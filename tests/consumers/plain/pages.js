// Helpers shared by the test pages of this consumer (tabs.js, background.js).

/** Waits for `download` and compares its bytes with the fixture's content of `seed`. */
export async function sameAsFixture(fixture, download, seed, size) {
  await download.done;
  const got = new Uint8Array(await (await download.blob()).arrayBuffer());
  const want = new Uint8Array(await (await fetch(`${fixture}/content?seed=${seed}&start=0&len=${size}`)).arrayBuffer());
  return got.length === want.length && got.every((b, i) => b === want[i]);
}

/** Opens the database of the manager `name` directly. */
export function openDatabase(name) {
  return new Promise((ok, fail) => {
    const r = indexedDB.open(`resumable-downloads/${name}`);
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
}
