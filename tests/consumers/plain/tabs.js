// One tab of the multi-tab tests (driven by tests/consumers/tabs.mjs): a manager on a shared
// database name, with helpers the driver calls through page.evaluate.
import init, { DownloadManager } from 'resumable-downloads';
import { openDatabase, sameAsFixture } from './pages.js';

const fixture = new URLSearchParams(location.search).get('fixture');
await init();

window.events = [];
window.hookCalls = [];
// With a `token`, the manager's prepareRequest hook sends it as this tab's Authorization.
window.open_ = async (name, token) => {
  const prepareRequest = token && (({ reason }) => {
    window.hookCalls.push(reason);
    return { headers: { Authorization: `Bearer ${token}` } };
  });
  window.m = await DownloadManager.open({ name, chunkBytes: 65536, progressIntervalMs: 50, ...(token && { prepareRequest }) });
  // Tabs opening managers at once each get OPFS where the engine has it (their probes must
  // not collide), so that what one writes the other reads.
  const { backend, reason } = window.m.storage;
  if (navigator.storage?.getDirectory && backend !== 'opfs') throw new Error(`storage is ${backend}: ${reason}`);
  for (const type of ['statechange', 'progress', 'complete', 'restarted']) {
    window.m.on(type, (e) => window.events.push({ type, id: e.id, state: e.state, bytes: e.progress?.transferredBytes }));
  }
  return window.m.multiTab;
};
window.add = (knobs, id) => window.m.add(`${fixture}/file?${knobs}`, { id }).id;
window.info = (id) => {
  const d = window.m.get(id);
  return d && { state: d.state, bytes: d.progress.transferredBytes, code: d.error?.code ?? null };
};
window.pause = (id) => window.m.get(id).pause();
window.cancel = (id) => window.m.get(id).cancel();
window.close_ = () => window.m.close();
window.whenAll = () => window.m.whenAll();
// Waits for the download and compares its bytes with the fixture's content.
window.verify = (id, seed, size) => sameAsFixture(fixture, window.m.get(id), seed, size);
// What is stored for `id`, read directly from IndexedDB.
window.stored = async (name, id) => {
  const db = await openDatabase(name);
  const req = (r) => new Promise((ok) => { r.onsuccess = () => ok(r.result); });
  const tx = db.transaction(['downloads', 'chunks']);
  const record = await req(tx.objectStore('downloads').get(id));
  const chunks = await req(tx.objectStore('chunks').getAll(IDBKeyRange.bound([id], [id, []])));
  db.close();
  return { record: record ?? null, chunks: chunks.length };
};
// Opens the database at a newer version, as a newer page of the app would.
window.upgrade = (name, version) => new Promise((ok, fail) => {
  let blocked = false;
  const r = indexedDB.open(`resumable-downloads/${name}`, version);
  r.onblocked = () => { blocked = true; };
  r.onupgradeneeded = () => { r.result.createObjectStore(`added-in-v${version}`); };
  r.onsuccess = () => {
    const db = r.result;
    const tx = db.transaction('downloads');
    const all = tx.objectStore('downloads').getAll();
    all.onsuccess = () => { db.close(); ok({ blocked, records: all.result.map((x) => ({ id: x.id, offset: x.offset, state: x.state })) }); };
  };
  r.onerror = () => fail(r.error);
});
document.body.dataset.ready = 'yes';
