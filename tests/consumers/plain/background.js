// A page of the background-mode tests (driven by tests/consumers/background.mjs): it
// registers the site's service worker (sw.js) unless `?sw=0`, and gives the driver helpers.
import init, { DownloadManager } from 'resumable-downloads';
import { openDatabase, sameAsFixture } from './pages.js';

const params = new URLSearchParams(location.search);
const fixture = params.get('fixture');
await init();
if (params.get('sw') !== '0') {
  await navigator.serviceWorker.register('./sw.js', { type: 'module' });
  await navigator.serviceWorker.ready;
}

window.events = [];
window.open_ = async (name, extra = {}) => {
  window.m = await DownloadManager.open({ name, chunkBytes: 65536, progressIntervalMs: 50, ...extra });
  for (const type of ['statechange', 'progress', 'complete']) {
    window.m.on(type, (e) => window.events.push({ type, id: e.id, state: e.state, bytes: e.progress?.transferredBytes }));
  }
  return window.m.background;
};
// `sameOrigin`: through this page's server, which forwards /proxy/ to the fixture server.
window.add = (knobs, id, background = true, sameOrigin = false, extra = {}) =>
  window.m.add(`${sameOrigin ? `${location.origin}/proxy` : fixture}/file?${knobs}`, { id, background, ...extra }).id;
window.info = (id) => {
  const d = window.m.get(id);
  return d && {
    state: d.state, mode: d.mode, bytes: d.progress.transferredBytes, code: d.error?.code ?? null,
    refused: d.backgroundRefused,
  };
};
window.pause = (id) => window.m.get(id).pause();
window.resume = (id) => window.m.get(id).resume();
window.cancel = (id) => window.m.get(id).cancel();
window.bgRegistration = async (id) => {
  const reg = await (await navigator.serviceWorker.ready).backgroundFetch.get(id);
  return reg ? { result: reg.result, failureReason: reg.failureReason, downloaded: reg.downloaded } : null;
};
window.registrations = async () => (await navigator.serviceWorker.ready).backgroundFetch.getIds();
// Waits for the download and compares its bytes with the fixture's content.
window.verify = (id, seed, size) => sameAsFixture(fixture, window.m.get(id), seed, size);
// The stored record of `id`, read directly from IndexedDB.
window.stored = async (name, id) => {
  const db = await openDatabase(name);
  const record = await new Promise((ok) => {
    const r = db.transaction('downloads').objectStore('downloads').get(id);
    r.onsuccess = () => ok(r.result ?? null);
  });
  db.close();
  return record && { state: record.state, offset: record.offset, backgroundId: record.backgroundId, unseen: record.unseen, title: record.title };
};
// What the service worker logged (tests/consumers/plain/sw.js), oldest first.
window.swLog = async () => {
  const c = await caches.open('sw-log');
  const keys = (await c.keys()).sort((a, b) => a.url.localeCompare(b.url));
  return Promise.all(keys.map(async (k) => (await c.match(k)).text()));
};
document.body.dataset.ready = 'yes';
document.getElementById('status').textContent = navigator.serviceWorker.controller ? 'controlled' : 'not controlled';
