// Usage of the whole public API, type-checked (not run) against the package's .d.ts with
// `tsc --strict` by scripts/consumer-test.sh. Every line must compile, and every line after a
// `@ts-expect-error` comment must be rejected: those are the mistakes the types must catch.

import init, { DownloadManager, isDownloadError } from 'resumable-downloads';
import type { Download, RequestReason } from 'resumable-downloads';

type State = Download['state'];
type Progress = Download['progress'];

function formatBytes(n: number): string {
  return n < 1024 * 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${(n / 1024 / 1024).toFixed(1)} MiB`;
}

function describeProgress(p: Progress): string {
  const done = formatBytes(p.transferredBytes);
  const rate = `${formatBytes(p.bytesPerSecond)}/s`;
  // The total, the percentage and the ETA are null when the length is unknown.
  const total = p.totalBytes === null ? 'unknown size' : formatBytes(p.totalBytes);
  const percent = p.percent === null ? '' : ` (${p.percent.toFixed(1)}%)`;
  const eta = p.etaSeconds === null ? '' : `, ${Math.ceil(p.etaSeconds)} s left`;
  return `${done} of ${total}${percent} at ${rate}${eta}`;
}

function label(state: State): string {
  switch (state) {
    case 'queued':
      return 'Waiting';
    case 'running':
      return 'Downloading';
    case 'paused':
      return 'Paused';
    case 'completed':
      return 'Done';
    case 'failed':
      return 'Failed';
    case 'cancelled':
      return 'Cancelled';
  }
}

function show(id: string, text: string): void {
  const row = document.getElementById(`row-${id}`);
  if (row) row.textContent = text;
}

export async function main(): Promise<void> {
  await init();

  const manager = await DownloadManager.open({
    name: 'models',
    concurrency: 2,
    timeouts: { headers: 30000, stall: 15000, total: 0 },
    retry: { limit: 5, backoffMs: 1000, maxBackoffMs: 60000, jitter: true, maxRetryAfterMs: 300000 },
    chunkBytes: 4 * 1024 * 1024,
    progressIntervalMs: 100,
    expireAfterMs: 7 * 24 * 60 * 60 * 1000,
    // A presigned URL and a token for every request, refreshed when the server refuses one.
    async prepareRequest({ id, url, attempt, reason, download }) {
      const why: RequestReason = reason;
      const fresh = why === 'expired' || attempt === 1;
      const signed = new URL(url);
      signed.searchParams.set('sig', `${id}-${fresh ? Date.now() : 0}-${download.filename}`);
      return { url: signed, headers: { Authorization: 'Bearer token' } };
    },
  });

  const persistent: boolean = manager.persistent;
  if (!persistent && manager.storageError) {
    console.warn(`downloads will not survive a reload: ${manager.storageError.code} ${manager.storageError.message}`);
  }

  // One listener per event type; each payload is typed by its event.
  const unsubscribers: Array<() => void> = [
    manager.on('progress', ({ type, id, download, progress }) => {
      const t: 'progress' = type;
      show(id, `${download.filename} (${t}): ${describeProgress(progress)}`);
    }),
    manager.on('statechange', ({ id, download, state, previousState }) => {
      const now: State = state;
      const before: State = previousState;
      show(id, `${download.url}: ${label(before)} -> ${label(now)}`);
    }),
    manager.on('complete', ({ id, download }) => {
      show(id, `${download.filename}: done`);
    }),
    manager.on('error', ({ id, error }) => {
      const status = error.status === undefined ? '' : ` (HTTP ${error.status})`;
      show(id, `${error.code}${status}: ${error.message}`);
    }),
    manager.on('restarted', ({ id, reason, wastedBytes }) => {
      if (reason === 'range-ignored' || reason === 'validator-changed' || reason === 'integrity') {
        console.info(`${id} started over (${reason}), ${formatBytes(wastedBytes)} discarded`);
      }
    }),
    manager.on('retry', ({ id, error, attempt, delayMs }) => {
      const after = error.retryAfterMs === undefined ? '' : ` (Retry-After ${error.retryAfterMs} ms)`;
      console.info(`${id}: retry ${attempt} in ${delayMs} ms after ${error.code}${after}`);
    }),
    manager.on('idle', ({ type }) => {
      const t: 'idle' = type;
      console.info(`${t}: nothing running or queued`);
    }),
  ];

  const controller = new AbortController();
  const model: Download = manager.add('https://example.com/models/model.bin', {
    id: 'model',
    filename: 'model.bin',
    integrity: 'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=',
    headers: { Authorization: 'Bearer token' },
    signal: controller.signal,
  });
  const weights = manager.add('/weights.bin', { headers: new Headers({ 'X-Client': 'example' }) });
  const readme = manager.add('https://example.com/README.md');

  // Handle members.
  const id: string = model.id;
  const url: string = model.url;
  const filename: string = model.filename;
  const resumable: boolean = model.resumable;
  const wasted: number = model.wastedBytes;
  const finalUrl = model.finalUrl;
  const mimeType: string | undefined = model.mimeType;
  console.info(id, url, filename, resumable, wasted, finalUrl ?? '(no response yet)', mimeType);
  console.info(label(model.state), describeProgress(model.progress));

  model.pause();
  model.resume();

  try {
    const finished: Download = await model.done;
    const file: Blob = await finished.blob();
    console.info(`${finished.filename}: ${formatBytes(file.size)}`);
    finished.save();
    finished.save('renamed.bin');
  } catch (e) {
    if (isDownloadError(e)) {
      switch (e.code) {
        case 'STALLED':
        case 'NETWORK':
        case 'DEADLINE':
        case 'QUOTA':
          // The stored bytes are kept: resume() continues and gives a new `done`.
          model.resume();
          await model.done;
          break;
        case 'HTTP_STATUS':
          console.warn(`HTTP ${e.status ?? '?'}: ${e.message}`);
          break;
        default:
          console.warn(e.code, e.message);
      }
    } else {
      throw e;
    }
  }

  if (model.state === 'failed' && model.error) {
    console.warn(`${model.id} failed: ${model.error.code}`);
  }

  // Cancelling is final; its promise resolves once the stored bytes are deleted.
  await weights.cancel();

  const summary = await manager.whenAll([model.id, readme.id]);
  const completed: string[] = summary.completed;
  const cancelled: string[] = summary.cancelled;
  for (const { id: failedId, code } of summary.failed) {
    const c: string = code;
    console.warn(`${failedId}: ${c}`);
  }
  console.info(`${completed.length} completed, ${cancelled.length} cancelled`);
  const everything = await manager.whenAll();
  console.info(everything.completed.join(', '));

  const again: Download | undefined = manager.get('model');
  const all: Download[] = manager.list();
  console.info(again?.state, all.map((d) => d.id));
  await manager.remove('model');

  for (const unsubscribe of unsubscribers) unsubscribe();
  await manager.close();
}

// Mistakes the types reject.
export async function mistakes(manager: DownloadManager, dl: Download): Promise<void> {
  // @ts-expect-error: unknown option (the option is `timeouts`)
  await DownloadManager.open({ timeout: { stall: 1000 } });

  // @ts-expect-error: a timeout is a number of milliseconds
  await DownloadManager.open({ timeouts: { stall: '15s' } });

  // @ts-expect-error: the hook answers { url, headers }, not a URL string
  await DownloadManager.open({ prepareRequest: () => 'https://example.com/a.bin' });

  // @ts-expect-error: 'refresh' is not a reason
  await DownloadManager.open({ prepareRequest: ({ reason }) => { if (reason === 'refresh') return {}; } });

  // @ts-expect-error: unknown add() option (the option is `filename`)
  manager.add('https://example.com/a.bin', { fileName: 'a.bin' });

  // @ts-expect-error: 'done' is not a state (it is 'completed')
  if (dl.state === 'done') console.info('never');

  // @ts-expect-error: misspelled event type
  manager.on('progres', () => {});

  manager.on('error', (event) => {
    // @ts-expect-error: error events carry `error`, not `progress`
    console.info(event.progress);
  });

  // @ts-expect-error: the total is null when the length is unknown
  const total: number = dl.progress.totalBytes;
  console.info(total);

  try {
    await dl.done;
  } catch (e) {
    // @ts-expect-error: not an error code (the stall timeout's code is 'STALLED')
    if (isDownloadError(e) && e.code === 'TIMEOUT') console.info('never');
  }
}
