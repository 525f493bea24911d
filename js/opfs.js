// The OPFS storage backend's worker, and the page's side of it: one module that is both.
//
// The page starts it as a module worker from this module's own URL
// (`new Worker(new URL('./opfs.js', import.meta.url), { type: 'module' })`, the form bundlers
// follow). In the worker it keeps one `FileSystemSyncAccessHandle` per open file and serves
// requests one at a time, in the order they were sent, so a write, a flush and the reply
// that lets the page commit the record that counts the bytes are never reordered.
//
// A file is always a prefix of its download: a write says where it starts, and a write that
// starts before the end of the file first cuts the file there (what lies beyond the stored
// offset was never committed). A write that would leave a gap fails.

const IN_WORKER =
  typeof WorkerGlobalScope !== 'undefined' && globalThis instanceof WorkerGlobalScope;

// The directory under the origin's private file system that holds every manager's files.
const ROOT = 'resumable-downloads';

if (IN_WORKER) serve();

function serve() {
  const open = new Map(); // "dir/name" -> { handle, end }
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

  // The file's access handle, opened once. Another tab's worker may still hold it for a
  // moment after handing the download over: opening is retried for about two seconds.
  // Without `create`, a missing file is a NotFoundError.
  const entry = async (dir, name, create = true) => {
    const key = `${dir}/${name}`;
    let e = open.get(key);
    if (e) return e;
    const file = await (await dirFor(dir)).getFileHandle(name, { create });
    for (let attempt = 0; ; attempt++) {
      try {
        const handle = await file.createSyncAccessHandle();
        e = { handle, end: handle.getSize() };
        open.set(key, e);
        return e;
      } catch (err) {
        if (err?.name !== 'NoModificationAllowedError' || attempt >= 20) throw err;
        await sleep(100);
      }
    }
  };

  const close = (dir, name) => {
    const key = `${dir}/${name}`;
    const e = open.get(key);
    if (e) {
      open.delete(key);
      try {
        e.handle.flush();
      } finally {
        e.handle.close();
      }
    }
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
    // Writes `parts` (Uint8Arrays or Blobs, in order) at `at`, then flushes; returns the end.
    async write({ dir, name, at, parts }) {
      // Only a write at 0 creates the file: one after its removal (a cancel) finds none.
      const e = await entry(dir, name, at === 0);
      if (at > e.end) {
        const err = new Error(`the file has ${e.end} bytes; a write at ${at} would leave a gap`);
        err.name = 'InvalidStateError';
        throw err;
      }
      try {
        if (at < e.end) {
          e.handle.truncate(at);
          e.end = at;
        }
        for (const part of parts) {
          const bytes = part instanceof Blob ? new Uint8Array(await part.arrayBuffer()) : part;
          const n = e.handle.write(bytes, { at: e.end });
          e.end += n;
          if (n !== bytes.byteLength) {
            const err = new Error(`a write was cut short (${n} of ${bytes.byteLength} bytes)`);
            err.name = 'QuotaExceededError';
            throw err;
          }
        }
        e.handle.flush();
      } catch (err) {
        e.end = e.handle.getSize();
        throw err;
      }
      return e.end;
    },
    // The file's size (opening it, created empty if missing).
    async size({ dir, name }) {
      return (await entry(dir, name)).end;
    },
    // Flushes and closes the file's handle, if open (the download's run ended).
    async close({ dir, name }) {
      close(dir, name);
      return true;
    },
    // Closes and deletes the file; a missing file is not an error.
    async remove({ dir, name }) {
      close(dir, name);
      try {
        await (await dirFor(dir)).removeEntry(name);
      } catch (err) {
        if (err?.name !== 'NotFoundError') throw err;
      }
      return true;
    },
    // The file's first `size` bytes as a Blob of `type`, a slice of its `File` (closing its
    // handle first: the download is complete). A download of no bytes never wrote a file: it
    // is created empty.
    async file({ dir, name, size, type }) {
      close(dir, name);
      const handle = await (await dirFor(dir)).getFileHandle(name, { create: true });
      const file = await handle.getFile();
      if (file.size < size) {
        const err = new Error(`the stored file has ${file.size} bytes, not ${size}`);
        err.name = 'NotReadableError';
        throw err;
      }
      return file.slice(0, size, type);
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
      name: 'resumable-downloads storage',
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
