// The measured pipelines, side by side in one page, against the same fixture server. Driven by
// bench.mjs; each function resolves with the milliseconds it took.
import init, * as lib from '../../pkg/resumable_downloads.js';
const { DownloadManager } = lib;
window.lib = lib;

const fixture = new URLSearchParams(location.search).get('fixture');
const wasm = await init();
// Wasm linear memory only grows: its size is the most the module has held at once.
window.wasmBytes = () => wasm.memory.buffer.byteLength;
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

// The same loop keeping the bytes, as 4 MiB Blobs in memory: what `persist: false` does.
window.plainKeep = (size) => timed(async () => {
  const reader = (await fetch(url(size), { cache: 'no-store' })).body.getReader();
  let parts = [], pending = 0, n = 0;
  const blobs = [];
  for (;;) {
    const { done, value } = await reader.read();
    if (!done) { parts.push(value); pending += value.length; }
    if (pending >= 4 << 20 || (done && pending > 0)) {
      blobs.push(new Blob(parts));
      n += pending; parts = []; pending = 0;
    }
    if (done) break;
  }
  if (n !== size) throw new Error(`kept ${n}`);
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

// The best hand-written OPFS pipeline: a reader loop posting each chunk (transferred, not
// copied) to a dedicated worker that writes it with a FileSystemSyncAccessHandle and flushes
// every MiB, the library's default flushBytes.
window.handOpfs = async (size, flushBytes = 1 << 20, noWrite = false, prealloc = 0) => {
  const worker = new Worker(new URL('./opfs-worker.js', import.meta.url));
  const next = (op) => new Promise((ok) => { const on = ({ data }) => { if (data.op === op) { worker.removeEventListener('message', on); ok(data); } }; worker.addEventListener('message', on); });
  worker.postMessage({ op: 'open', name: dbName(), flushBytes, noWrite, prealloc });
  await next('opened');
  const ms = await timed(async () => {
    const reader = (await fetch(url(size), { cache: 'no-store' })).body.getReader();
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      worker.postMessage({ op: 'write', bytes: value }, [value.buffer]);
    }
    const ended = next('ended');
    worker.postMessage({ op: 'end' });
    const { offset } = await ended;
    if (offset !== size) throw new Error(`wrote ${offset}`);
  });
  worker.terminate();
  return ms;
};

async function library(size, persist, storage, file) {
  const name = dbName();
  const m = await DownloadManager.open({ name, persist, storage });
  if (storage && m.storage.backend !== storage) throw new Error(`storage is ${m.storage.backend}: ${m.storage.reason}`);
  let id;
  const ms = await timed(async () => {
    const d = m.add(url(size), file ? { file } : undefined);
    await d.done;
    if (d.progress.transferredBytes !== size) throw new Error('short');
    id = d.id;
  });
  await m.remove(id);
  await m.close();
  await deleteDb(`resumable-downloads/${name}`);
  return ms;
}
window.libMemory = (size) => library(size, false);
// Streamed to a WritableStream that drops the bytes (`add(url, { sink })`): nothing kept.
window.libSink = async (size) => {
  const m = await DownloadManager.open({ name: dbName(), persist: false });
  let written = 0;
  const sink = new WritableStream({ write(chunk) { written += chunk.length; } });
  const ms = await timed(async () => {
    await m.add(url(size), { sink }).done;
    if (written !== size) throw new Error(`the sink got ${written}`);
  });
  await m.close();
  return ms;
};
window.libPersisted = (size) => library(size, true);
window.libOpfs = (size) => library(size, true, 'opfs');
window.libIdb = (size) => library(size, true, 'indexeddb');
// Into a file of the page's own in OPFS (`add(url, { file })`), deleted afterwards.
window.libFile = async (size) => {
  const root = await navigator.storage.getDirectory();
  const name = `bench-file-${++run}`;
  const file = await root.getFileHandle(name, { create: true });
  const ms = await library(size, true, 'opfs', file);
  if ((await file.getFile()).size !== size) throw new Error('the file is short');
  await root.removeEntry(name);
  return ms;
};

// The whole file in memory: `fetch().arrayBuffer()`, kept by the page (which the driver
// closes after its last sample).
window.wholeBuffer = async (size) => {
  window.held = await (await fetch(url(size), { cache: 'no-store' })).arrayBuffer();
  if (window.held.byteLength !== size) throw new Error('short');
};

// A persisted download through the library, verified by its SRI hash; resolves when done.
window.libVerified = async (size, seed, integrity, storage) => {
  const name = dbName();
  const m = await DownloadManager.open({ name, storage });
  const d = m.add(`${fixture}/file?size=${size}&seed=${seed}&tag=bench-memory-${++run}`, { integrity });
  await d.done;
  await m.remove(d.id);
  await m.close();
  await deleteDb(`resumable-downloads/${name}`);
};

// Many small downloads through the queue, and one download of the same total size.
window.manySmall = async (count, each, storage) => {
  const name = dbName();
  const m = await DownloadManager.open({ name, storage });
  const ids = [];
  const ms = await timed(async () => {
    for (let i = 0; i < count; i++) ids.push(m.add(url(each, i)).id);
    const r = await m.whenAll(ids);
    if (r.completed.length !== count) throw new Error(JSON.stringify(r.failed.slice(0, 3)));
  });
  await Promise.all(ids.map((id) => m.remove(id)));
  await m.close();
  await deleteDb(`resumable-downloads/${name}`);
  return ms;
};

// The floor for many small downloads: the same plain fetches, 4 at a time (the library's
// default concurrency), each body read to its end.
window.plainMany = (count, each) => timed(async () => {
  let next = 0;
  const worker = async () => {
    while (next < count) {
      const i = next++;
      const reader = (await fetch(url(each, i), { cache: 'no-store' })).body.getReader();
      let n = 0;
      for (;;) { const { done, value } = await reader.read(); if (done) break; n += value.length; }
      if (n !== each) throw new Error(`read ${n}`);
    }
  };
  await Promise.all([worker(), worker(), worker(), worker()]);
});

// Resume after reloads: `resumeOpen` opens (or reopens, after a reload) the manager `name`
// and starts or restores the download `big`.
window.resumeOpen = async (name, href, storage) => {
  window.resumeManager = await DownloadManager.open({ name, storage });
  window.big = window.resumeManager.get('big') ?? window.resumeManager.add(href, { id: 'big' });
};
window.resumeReceived = () => window.big.progress.transferredBytes;
// Waits for the end, then checks every byte against a fresh copy, 16 MiB at a time.
window.resumeFinish = async (name, check) => {
  await window.big.done;
  const blob = await window.big.blob();
  const slice = 16 << 20;
  for (let start = 0; start < blob.size; start += slice) {
    const end = Math.min(start + slice, blob.size) - 1;
    const want = new Uint8Array(await (await fetch(check, { headers: { Range: `bytes=${start}-${end}` }, cache: 'no-store' })).arrayBuffer());
    const got = new Uint8Array(await blob.slice(start, end + 1).arrayBuffer());
    if (want.length !== got.length || want.some((b, i) => b !== got[i])) throw new Error(`bytes differ in [${start}, ${end}]`);
  }
  await window.resumeManager.remove('big');
  await window.resumeManager.close();
  await deleteDb(`resumable-downloads/${name}`);
  return blob.size;
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
  // Tiles as a large grid should have them: off-screen ones are not laid out.
  const style = 'content-visibility: auto; contain-intrinsic-size: auto 24px';
  grid.replaceChildren(...ids.map((id) => { const li = document.createElement('li'); li.dataset.id = id; li.style = style; li.innerHTML = '<span></span> <progress max="100"></progress>'; return li; }));
  const tiles = [...grid.children];
  const paint = () => {
    for (const el of tiles) {
      const d = m.get(el.dataset.id);
      const p = d.progress;
      el.firstChild.textContent = `${d.state} ${p.transferredBytes}`;
      el.lastChild.value = p.percent ?? 0;
    }
  };
  // While hidden nothing was painted: every tile shows something stale when the page wakes.
  const stale = () => { for (const el of tiles) { el.firstChild.textContent = 'stale'; el.lastChild.value = 0; } grid.lastChild.getBoundingClientRect(); };
  // The demo's technique: the visibilitychange handler repaints every tile synchronously, so
  // the first frame after the wake shows current state. Measured to the end of the style and
  // layout that frame needs (forced here), and separately to the start of that next frame.
  const wake = [], frame = [], work = [];
  for (let i = 0; i < 15; i++) {
    stale();
    await new Promise((ok) => requestAnimationFrame(() => setTimeout(ok, 0)));
    const t = performance.now();
    await new Promise((ok) => {
      document.addEventListener('visibilitychange', () => {
        const w = performance.now();
        paint();
        grid.lastChild.getBoundingClientRect();
        const end = performance.now();
        wake.push(end - t);
        work.push(end - w);
        requestAnimationFrame(() => { frame.push(performance.now() - t); ok(); });
      }, { once: true });
      document.dispatchEvent(new Event('visibilitychange'));
    });
  }
  // The library's share: reading state and progress of every download.
  const reads = [];
  for (let i = 0; i < 15; i++) {
    const t = performance.now();
    let sum = 0;
    for (const id of ids) { const d = m.get(id); sum += d.progress.transferredBytes + d.state.length; }
    reads.push(performance.now() - t);
    if (!sum) throw new Error('nothing read');
  }
  grid.replaceChildren();
  await m.close();
  await deleteDb(`resumable-downloads/${name}`);
  return { wake, frame, paint: work, reads };
};
document.body.dataset.ready = 'yes';
