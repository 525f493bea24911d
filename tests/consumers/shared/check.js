// The consumer check shared by the plain and the Vite consumer: downloads a file from the fixture
// server with the installed package and checks every byte. Copied next to each consumer's main.js
// by scripts/consumer-test.sh.
// The fixture server's URL comes in the `fixture` query parameter. The outcome is written to
// document.body.dataset.result: 'ok', or 'error' with the reason in the page text.
import init, { DownloadManager, isDownloadError } from 'resumable-downloads';

const SIZE = 300001;
const SEED = 9n;

// The fixture server's content: byte o of seed s is byte (o % 8) of splitmix64(s * golden ^ o / 8).
const MASK = (1n << 64n) - 1n;
const GOLDEN = 0x9e3779b97f4a7c15n;
function splitmix64(x) {
  let z = (x + GOLDEN) & MASK;
  z = ((z ^ (z >> 30n)) * 0xbf58476d1ce4e5b9n) & MASK;
  z = ((z ^ (z >> 27n)) * 0x94d049bb133111ebn) & MASK;
  return z ^ (z >> 31n);
}
function expectedBytes(seed, size) {
  const out = new Uint8Array(size);
  const key = (seed * GOLDEN) & MASK;
  for (let word = 0; word * 8 < size; word++) {
    let v = splitmix64(key ^ BigInt(word));
    for (let i = 0; i < 8 && word * 8 + i < size; i++) {
      out[word * 8 + i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  return out;
}

async function check(tag) {
  const fixture = new URLSearchParams(location.search).get('fixture');
  if (!fixture) throw new Error('missing ?fixture=<fixture server URL>');

  await init();

  // Errors are DownloadErrors with a stable code, recognised by isDownloadError.
  const manager = await DownloadManager.open({ name: `consumer-${Date.now()}` });
  try {
    manager.add('ftp://example.com/file');
    throw new Error('add() accepted an ftp: URL');
  } catch (e) {
    if (!isDownloadError(e) || e.code !== 'INVALID_ARGUMENT') throw e;
  }
  if (isDownloadError(new Error('plain'))) throw new Error('isDownloadError accepted a plain Error');

  // The package starts its OPFS storage worker itself, from wherever the page's tooling put
  // it: where the engine has an origin private file system, the bytes go there.
  const { backend, reason } = manager.storage;
  const wanted = navigator.storage?.getDirectory ? 'opfs' : 'indexeddb';
  if (backend !== wanted) throw new Error(`storage is ${backend}, not ${wanted}: ${reason}`);

  const dl = manager.add(`${fixture}/file?size=${SIZE}&seed=${SEED}&tag=${tag}`);
  const done = await dl.done;
  if (done !== dl) throw new Error('done did not resolve with the download');
  if (dl.state !== 'completed') throw new Error(`state is ${dl.state} after done`);

  const got = new Uint8Array(await (await dl.blob()).arrayBuffer());
  if (got.length !== SIZE) throw new Error(`got ${got.length} bytes, expected ${SIZE}`);
  const want = expectedBytes(SEED, SIZE);
  for (let i = 0; i < SIZE; i++) {
    if (got[i] !== want[i]) throw new Error(`byte ${i} is ${got[i]}, expected ${want[i]}`);
  }
  await manager.remove(dl.id);

  // Same origin (the page's server forwards /file; cors=0 sends no CORS header at all): the
  // file name comes from Content-Disposition, the type from Content-Type.
  const disposition = encodeURIComponent(`attachment; filename="fallback.bin"; filename*=UTF-8''%E2%82%AC%20rates.pdf`);
  const named = manager.add(`/file?size=1000&cors=0&type=application%2Fpdf&disposition=${disposition}&tag=${tag}`);
  await named.done;
  if (named.filename !== '€ rates.pdf') throw new Error(`same-origin filename is ${named.filename}`);
  if (named.mimeType !== 'application/pdf') throw new Error(`same-origin mimeType is ${named.mimeType}`);
  if ((await named.blob()).type !== 'application/pdf') throw new Error('the Blob has another type');
  await manager.remove(named.id);
  await manager.close();
  const inWorker = await workerCheck(fixture, tag);
  return `${SIZE} bytes verified in ${backend}; same-origin name and type; ${inWorker}`;
}

// The package in a dedicated worker of the page (worker.js, over worker-check.js): the worker's
// own message handler gets every message, nothing else answers the page, and a download made
// in the worker arrives byte-exact.
async function workerCheck(fixture, tag) {
  const worker = new Worker(new URL('./worker.js', import.meta.url), { type: 'module' });
  const got = [];
  const answered = new Promise((resolve, reject) => {
    worker.onmessage = (event) => {
      got.push(event.data);
      if (event.data?.n === 2) resolve(event.data);
    };
    worker.onerror = (event) => reject(new Error(`the worker failed: ${event.message ?? 'error'}`));
    setTimeout(() => reject(new Error(`the worker did not answer in 30 s (got ${got.length} replies)`)), 30000);
  });
  // Sent at once: the worker's handler is installed before it awaits init().
  worker.postMessage({ n: 1, text: 'first' });
  worker.postMessage({ n: 2, url: `${fixture}/file?size=${SIZE}&seed=${SEED}&tag=${tag}-worker`, tag });
  let result;
  try {
    result = await answered;
    // A stray reply would come in the same turn as the one it follows.
    await new Promise((resolve) => setTimeout(resolve, 100));
  } finally {
    worker.terminate();
  }
  if (result.failed) throw new Error(`in the worker: ${result.failed}`);
  const replies = got.map((m) => JSON.stringify({ ...m, bytes: m.bytes ? m.bytes.byteLength : undefined }));
  if (got.length !== 2 || got[0].n !== 1 || got[0].echo !== 'first') {
    throw new Error(`the worker's replies were ${replies.join(', ')}; expected its own two only`);
  }
  const bytes = new Uint8Array(result.bytes);
  const want = expectedBytes(SEED, SIZE);
  if (bytes.length !== SIZE) throw new Error(`the worker's download has ${bytes.length} bytes, not ${SIZE}`);
  for (let i = 0; i < SIZE; i++) {
    if (bytes[i] !== want[i]) throw new Error(`the worker's byte ${i} is ${bytes[i]}, expected ${want[i]}`);
  }
  return `in a dedicated worker with its own message handler, ${SIZE} bytes verified in ${result.backend}`;
}

/** Runs the check and reports it in the page; `tag` names the requests in the fixture's log. */
export function run(tag) {
  const status = document.getElementById('status');
  check(tag).then(
    (summary) => {
      status.textContent = `ok: ${summary}`;
      document.body.dataset.result = 'ok';
    },
    (e) => {
      // Not isDownloadError: it needs the module, and init() may be what failed.
      const reason = e?.name === 'DownloadError' ? `${e.code}: ${e.message}` : String(e?.stack ?? e);
      status.textContent = `error: ${reason}`;
      document.body.dataset.result = 'error';
    },
  );
}
