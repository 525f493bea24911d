// The OPFS storage backend's worker, and the page's side of it: one module that is both.
//
// The page starts it as a module worker from this module's own URL
// (`new Worker(new URL('./opfs.js', import.meta.url), { type: 'module' })`, the form bundlers
// follow). In the worker it keeps one `FileSystemSyncAccessHandle` per open file and serves
// requests one at a time, in the order they were sent, so a write, a flush and the reply
// that lets the page commit the record that counts the bytes are never reordered.
//
// A file holds a prefix of its download: a write says where it starts, and the file's bytes
// before that are the prefix (what lies beyond the stored offset was never committed). A write
// that would leave a gap fails. Where the download's total is known, the library's own file is
// sized to it once, with its first write (growing a file write by write is what makes OPFS
// slow), and what lies beyond the prefix is overwritten by the writes that follow; where it is
// not known, a write that starts before the end of the file first cuts the file there. A total
// the disk cannot hold fails that first write with QuotaExceededError, before any byte.
//
// A download may also be written to the caller's own file (`add(url, { file })`): each of its
// requests carries the `FileSystemFileHandle`. A file in the origin's private file system gets
// an access handle like the library's own. Any other (a file the user picked) can only be
// written through a `FileSystemWritableFileStream`, whose bytes reach the file when it is
// closed and whose opening copies the file: such a file is written through one stream, closed
// (its bytes made durable) only when a write asks for it (`sync`) or the run ends. Every write
// answers with the file's durable end, so that the page stores only records of bytes that are
// in the file.

// The name the page gives the storage worker it starts. Only that worker serves the protocol:
// this module is also imported wherever the package is (a page, a service worker, or a
// dedicated worker that uses the package, whose messages are its own code's).
const WORKER_NAME = 'resumable-downloads storage';
const IN_STORAGE_WORKER =
  typeof DedicatedWorkerGlobalScope !== 'undefined' &&
  globalThis instanceof DedicatedWorkerGlobalScope &&
  globalThis.name === WORKER_NAME;

// The directory under the origin's private file system that holds every manager's files.
const ROOT = 'resumable-downloads';

if (IN_STORAGE_WORKER) serve();

function serve() {
  const open = new Map(); // "dir/name" -> entry
  const dirs = new Map(); // dir -> Promise<FileSystemDirectoryHandle>
  let queue = Promise.resolve();

  const dirFor = (dir) => {
    let d = dirs.get(dir);
    if (!d) {
      d = navigator.storage
        .getDirectory()
        .then((root) => root.getDirectoryHandle(ROOT, { create: true }))
        .then((top) => top.getDirectoryHandle(dir, { create: true }));
      d.catch(() => dirs.delete(dir));
      dirs.set(dir, d);
    }
    return d;
  };

  const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

  // The file's entry, opened once: `{ handle, end, size }` with a sync access handle (`end`:
  // where the prefix ends; `size`: the file's size, larger once it is sized), or
  // `{ file, writable, end, durable }` for a caller's file that cannot have one. Another tab's
  // worker may still hold an access handle for a moment after handing the download over:
  // opening is retried for about two seconds. Without `create`, a missing file of the
  // library's is a NotFoundError.
  const entry = async (m, create = true) => {
    const key = `${m.dir}/${m.name}`;
    let e = open.get(key);
    if (e) return e;
    const file = m.handle ?? (await (await dirFor(m.dir)).getFileHandle(m.name, { create }));
    for (let attempt = 0; !e; attempt++) {
      try {
        if (m.stream) throw named('InvalidStateError', 'written as a stream (injected)');
        const handle = await file.createSyncAccessHandle();
        const size = handle.getSize();
        e = { handle, end: size, size };
      } catch (err) {
        if (err?.name === 'NoModificationAllowedError' && attempt < 20) {
          await sleep(100);
        } else if (m.handle && err?.name !== 'NoModificationAllowedError') {
          // Not in the origin's private file system: written through a stream.
          const end = (await file.getFile()).size;
          e = { file, writable: null, end, durable: end };
        } else {
          throw err;
        }
      }
    }
    open.set(key, e);
    return e;
  };

  // Makes a streamed file's bytes durable: its stream is closed.
  const sync = async (e) => {
    const w = e.writable;
    e.writable = null;
    if (w) await w.close();
    e.durable = e.end;
  };

  // Flushes and closes the file, if open (the download's run ended, or it is read); a
  // stream is aborted instead when `discard`.
  const close = async (m, discard = false) => {
    const key = `${m.dir}/${m.name}`;
    const e = open.get(key);
    if (!e) return;
    open.delete(key);
    if (!e.handle && discard) return e.writable?.abort();
    if (!e.handle) return sync(e);
    try {
      e.handle.flush();
    } finally {
      e.handle.close();
    }
  };

  // Writes `parts` to a streamed file from `at`, closing its stream when `durable`.
  const writeStream = async (e, at, parts, durable) => {
    try {
      if (!e.writable) e.writable = await e.file.createWritable({ keepExistingData: true });
      if (at < e.end) {
        await e.writable.truncate(at);
        e.end = at;
        e.durable = Math.min(e.durable, at);
      }
      for (const part of parts) {
        await e.writable.write({ type: 'write', position: e.end, data: part });
        e.end += part.size ?? part.byteLength;
      }
      if (durable) await sync(e);
    } catch (err) {
      // What the stream had not closed never reaches the file.
      const w = e.writable;
      e.writable = null;
      e.end = e.durable;
      await w?.abort().catch(() => {});
      throw err;
    }
  };

  // Cuts the caller's file to nothing.
  const empty = async (file, stream) => {
    if (!stream) {
      try {
        const h = await file.createSyncAccessHandle();
        try {
          h.truncate(0);
          h.flush();
        } finally {
          h.close();
        }
        return;
      } catch (err) {
        if (err?.name === 'NoModificationAllowedError') throw err;
      }
    }
    await (await file.createWritable({ keepExistingData: false })).close();
  };

  const ops = {
    // Creates, writes, reads back and deletes a file: the backend works here. Each probe has
    // a file of its own (tabs opening managers at once must not hold each other's handle).
    async probe({ dir }) {
      const d = await dirFor(dir);
      const probe = `.probe-${Date.now().toString(36)}-${Math.random().toString(36).slice(2)}`;
      const file = await d.getFileHandle(probe, { create: true });
      const handle = await file.createSyncAccessHandle();
      try {
        const bytes = new Uint8Array([1, 2, 3]);
        if (handle.write(bytes, { at: 0 }) !== 3) throw new Error('a write was cut short');
        handle.flush();
        const back = new Uint8Array(3);
        handle.read(back, { at: 0 });
        if (back[2] !== 3) throw new Error('a write did not read back');
      } finally {
        handle.close();
      }
      await d.removeEntry(probe);
      return true;
    },
    // Writes `parts` (Uint8Arrays or Blobs, in order) at `at`, then flushes; returns the
    // durable end (for a streamed file, the end only when `sync`). `total`, when known, sizes
    // the library's own file (not a caller's, whose size the caller sees).
    async write(m) {
      const { at, parts, total } = m;
      // Only a write at 0 creates the file: one after its removal (a cancel) finds none.
      const e = await entry(m, at === 0);
      if (at > e.end) {
        throw named('InvalidStateError', `the file has ${e.end} bytes; a write at ${at} would leave a gap`);
      }
      if (!e.handle) {
        await writeStream(e, at, parts, m.sync);
        return e.durable;
      }
      try {
        const length = parts.reduce((n, part) => n + (part.size ?? part.byteLength), 0);
        if (!m.handle && total > 0 && at + length <= total) {
          if (e.size !== total) {
            e.handle.truncate(total);
            e.size = total;
          }
          e.end = at;
        } else if (at < e.end) {
          e.handle.truncate(at);
          e.end = at;
          e.size = at;
        }
        for (const part of parts) {
          const bytes = part instanceof Blob ? new Uint8Array(await part.arrayBuffer()) : part;
          const n = e.handle.write(bytes, { at: e.end });
          e.end += n;
          e.size = Math.max(e.size, e.end);
          if (n !== bytes.byteLength) {
            throw named('QuotaExceededError', `a write was cut short (${n} of ${bytes.byteLength} bytes)`);
          }
        }
        e.handle.flush();
      } catch (err) {
        e.size = e.handle.getSize();
        e.end = e.size;
        throw err;
      }
      return e.end;
    },
    // The file's durable size (opening it, created empty if missing).
    async size(m) {
      const e = await entry(m);
      return e.handle ? e.end : e.durable;
    },
    // Flushes and closes the file, if open (the download's run ended).
    async close(m) {
      await close(m);
      return true;
    },
    // Closes and deletes the file; a missing file is not an error. The caller's own file is
    // not deleted but emptied.
    async remove(m) {
      await close(m, true);
      if (m.handle) {
        await empty(m.handle, m.stream);
        return true;
      }
      try {
        await (await dirFor(m.dir)).removeEntry(m.name);
      } catch (err) {
        if (err?.name !== 'NotFoundError') throw err;
      }
      return true;
    },
    // The file's first `size` bytes as a Blob of `type`, a slice of its `File` (closing it
    // first: the download is complete). A download of no bytes never wrote a file: it is
    // created empty.
    async file(m) {
      await close(m);
      const handle = m.handle ?? (await (await dirFor(m.dir)).getFileHandle(m.name, { create: true }));
      const file = await handle.getFile();
      if (file.size < m.size) {
        throw named('NotReadableError', `the stored file has ${file.size} bytes, not ${m.size}`);
      }
      return file.slice(0, m.size, m.type);
    },
  };

  globalThis.onmessage = (event) => {
    const m = event.data;
    queue = queue
      .then(() => ops[m.op](m))
      .then(
        (value) => globalThis.postMessage({ id: m.id, value }),
        (err) =>
          globalThis.postMessage({
            id: m.id,
            error: { name: err?.name ?? 'Error', message: String(err?.message ?? err) },
          }),
      );
  };
}

// The page's side: requests to the worker, answered by promises. A worker that fails (it
// could not load, or died) rejects every request made to it; the next request starts a new
// one, which opens the files again.
export class StorageWorker {
  constructor() {
    this.next = 0;
    this.calls = new Map();
    this.worker = null;
    this.stopped = null;
    this.start();
  }

  start() {
    const worker = new Worker(new URL('./opfs.js', import.meta.url), {
      type: 'module',
      name: WORKER_NAME,
    });
    worker.onmessage = (event) => {
      const { id, value, error } = event.data;
      const call = this.calls.get(id);
      if (!call) return;
      this.calls.delete(id);
      if (error) {
        const what = DONE[call.op] ?? 'opened';
        call.reject(named(error.name, `the download's file could not be ${what}: ${error.name}: ${error.message}`));
      } else call.resolve(value);
    };
    const fail = (event) => this.fail(event?.message || 'the storage worker stopped');
    worker.onerror = fail;
    worker.onmessageerror = fail;
    this.worker = worker;
  }

  // Rejects every request under way with `message`, and lets the worker go.
  fail(message) {
    const err = named('UnknownError', message);
    for (const call of this.calls.values()) call.reject(err);
    this.calls.clear();
    this.worker?.terminate();
    this.worker = null;
  }

  // Sends `op` with `args`; resolves with the worker's answer. The buffers of byte parts
  // that are whole buffers are transferred, not copied: the caller gives them up.
  call(op, args) {
    if (this.stopped) return Promise.reject(this.stopped);
    if (!this.worker) this.start();
    const transfer = [];
    for (const part of args.parts ?? []) {
      const b = part.buffer;
      if (b && part.byteOffset === 0 && part.byteLength === b.byteLength && !transfer.includes(b)) {
        transfer.push(b);
      }
    }
    return new Promise((resolve, reject) => {
      const id = ++this.next;
      this.calls.set(id, { resolve, reject, op });
      this.worker.postMessage({ ...args, id, op }, transfer);
    });
  }

  // Stops the worker for good; the browser closes its handles.
  terminate() {
    if (this.stopped) return;
    this.fail('the storage worker was stopped');
    this.stopped = named('AbortError', 'the storage worker was stopped');
  }

  // The worker dies as if it had crashed (the browser tests' fault injection).
  crash() {
    this.fail('the storage worker stopped (injected)');
  }
}

// What a failed request could not do, for its message.
const DONE = { write: 'written', file: 'read', probe: 'created', remove: 'removed' };

// A storage worker for the files of directory `dir`, once it has shown that it can create,
// write, read back and delete a file there within `ms`; else rejects with why not.
export async function openStorageWorker(dir, ms) {
  if (typeof Worker === 'undefined') throw new Error('this page has no Worker');
  if (!globalThis.navigator?.storage?.getDirectory || typeof FileSystemFileHandle === 'undefined') {
    throw new Error('this browser has no origin private file system');
  }
  const worker = new StorageWorker();
  let timer;
  const late = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`the storage worker did not answer within ${ms / 1000} s`)), ms);
  });
  try {
    await Promise.race([worker.call('probe', { dir }), late]);
    return worker;
  } catch (err) {
    worker.terminate();
    throw err;
  } finally {
    clearTimeout(timer);
  }
}

function named(name, message) {
  const err = new Error(message);
  err.name = name;
  return err;
}
