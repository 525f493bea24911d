// The measured pipelines, side by side in one page, against the same fixture server. Driven by
// bench.mjs; each function resolves with the milliseconds it took.
import init, { DownloadManager } from '../../pkg/resumable_downloads.js';

const fixture = new URLSearchParams(location.search).get('fixture');
await init();
// Every run gets its own URL (the fixture ignores `_` parameters) and its own database.
let run = 0;
const url = (size, seed = 1) => `${fixture}/file?size=${size}&seed=${seed}&tag=bench&_r=${Date.now()}-${++run}`;
const dbName = () => `bench-${Date.now()}-${++run}`;
const deleteDb = (name) => new Promise((ok) => { const r = indexedDB.deleteDatabase(name); r.onsuccess = r.onerror = r.onblocked = () => ok(); });
const timed = async (fn) => { const t = performance.now(); await fn(); return performance.now() - t; };

// A plain fetch reader loop: the floor any JS download has to pay.
window.plainLoop = (size) => timed(async () => {
  const reader = (await fetch(url(size), { cache: 'no-store' })).body.getReader();
  let n = 0;
  for (;;) { const { done, value } = await reader.read(); if (done) break; n += value.length; }
  if (n !== size) throw new Error(`read ${n}`);
});

// The best hand-written persisted pipeline: a reader loop batching 4 MiB Blobs into
// IndexedDB, each Blob and the offset that counts it in one transaction.
window.handIdb = async (size) => {
  const name = dbName();
  const db = await new Promise((ok, fail) => {
    const r = indexedDB.open(name, 1);
    r.onupgradeneeded = () => { r.result.createObjectStore('chunks'); r.result.createObjectStore('meta'); };
    r.onsuccess = () => ok(r.result);
    r.onerror = () => fail(r.error);
  });
  const put = (index, blob, offset) => new Promise((ok, fail) => {
    const tx = db.transaction(['chunks', 'meta'], 'readwrite');
    tx.objectStore('chunks').put(blob, index);
    tx.objectStore('meta').put(offset, 'offset');
    tx.oncomplete = ok;
    tx.onabort = () => fail(tx.error);
  });
  const ms = await timed(async () => {
    const reader = (await fetch(url(size), { cache: 'no-store' })).body.getReader();
    let parts = [], pending = 0, offset = 0, index = 0;
    for (;;) {
      const { done, value } = await reader.read();
      if (!done) { parts.push(value); pending += value.length; }
      if (pending >= 4 << 20 || (done && pending > 0)) {
        offset += pending;
        await put(index++, new Blob(parts), offset);
        parts = []; pending = 0;
      }
      if (done) break;
    }
    if (offset !== size) throw new Error(`stored ${offset}`);
  });
  db.close();
  await deleteDb(name);
  return ms;
};

async function library(size, persist) {
  const name = dbName();
  const m = await DownloadManager.open({ name, persist });
  const ms = await timed(async () => {
    const d = m.add(url(size));
    await d.done;
    if (d.progress.transferredBytes !== size) throw new Error('short');
  });
  await m.close();
  await deleteDb(`resumable-downloads/${name}`);
  return ms;
}
window.libMemory = (size) => library(size, false);
window.libPersisted = (size) => library(size, true);

// Many small downloads through the queue, and one download of the same total size.
window.manySmall = async (count, each) => {
  const name = dbName();
  const m = await DownloadManager.open({ name });
  const ms = await timed(async () => {
    const ids = [];
    for (let i = 0; i < count; i++) ids.push(m.add(url(each, i)).id);
    const r = await m.whenAll(ids);
    if (r.completed.length !== count) throw new Error(JSON.stringify(r.failed.slice(0, 3)));
  });
  await m.close();
  await deleteDb(`resumable-downloads/${name}`);
  return ms;
};

// From visibilitychange to every tile painted from the manager's state, for `count`
// downloads, with the demo's technique (mark all dirty, paint in the next frame).
window.restoreLatency = async (count) => {
  const name = dbName();
  const m = await DownloadManager.open({ name, concurrency: 16 });
  const ids = [];
  for (let i = 0; i < count; i++) ids.push(m.add(url(1000, i)).id);
  await m.whenAll(ids);
  const grid = document.getElementById('grid');
  grid.replaceChildren(...ids.map((id) => { const li = document.createElement('li'); li.dataset.id = id; li.innerHTML = '<span></span> <progress max="100"></progress>'; return li; }));
  const tiles = [...grid.children];
  const paint = () => {
    for (const el of tiles) {
      const d = m.get(el.dataset.id);
      const p = d.progress;
      el.firstChild.textContent = `${d.state} ${p.transferredBytes}`;
      el.lastChild.value = p.percent ?? 0;
    }
  };
  const samples = [];
  for (let i = 0; i < 5; i++) {
    const t = performance.now();
    await new Promise((ok) => {
      document.addEventListener('visibilitychange', () => requestAnimationFrame(() => { paint(); ok(); }), { once: true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
    samples.push(performance.now() - t);
  }
  // The wait for the next frame is the browser's: report the paint work itself too.
  const work = [];
  for (let i = 0; i < 5; i++) { const t = performance.now(); paint(); work.push(performance.now() - t); }
  grid.replaceChildren();
  await m.close();
  await deleteDb(`resumable-downloads/${name}`);
  return { wake: samples, paint: work };
};
document.body.dataset.ready = 'yes';
