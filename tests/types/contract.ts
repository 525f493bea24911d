// The declarations' contract, type-checked (not run) against the installed package by
// scripts/package-test.sh: with tests/types/tsconfig.installed.json, and with no tsconfig at all
// (`tsc --strict --noEmit contract.ts`, TypeScript's defaults: ES5 target and lib). Every option
// the parser accepts, every event payload, and the null/undefined conventions: absent values
// are `undefined`, only a Progress's unknown numbers are `null`. Every line after a
// `@ts-expect-error` comment must be rejected.

import init, { Download, DownloadManager, initSync, isDownloadError } from 'resumable-downloads';
import type {
  AddOptions,
  DownloadError,
  DownloadErrorCode,
  DownloadEventMap,
  DownloadState,
  ManagerOptions,
  PreparedRequest,
  PrepareRequestInfo,
  Progress,
  RequestReason,
  RestartReason,
  RetryOptions,
  TimeoutOptions,
  WhenAllResult,
} from 'resumable-downloads';

// Every option, each with a value of its type: `Required<…>` fails if the .d.ts lists an option
// that is missing here, and an excess property fails if one here is not declared.
const timeouts: Required<TimeoutOptions> = { headers: 30000, stall: 30000, total: 0 };
const retry: Required<RetryOptions> = {
  limit: 5,
  backoffMs: 1000,
  maxBackoffMs: 60000,
  jitter: true,
  maxRetryAfterMs: 300000,
};
const managerOptions: Required<ManagerOptions> = {
  name: 'default',
  concurrency: 4,
  timeouts,
  retry,
  storage: 'auto',
  chunkBytes: 4194304,
  flushBytes: 1048576,
  commitIntervalMs: 1000,
  progressIntervalMs: 100,
  expireAfterMs: 604800000,
  persist: true,
  notifyWhenDone: { title: 'Downloads finished' },
  prepareRequest: prepare,
  background: 'never',
  backgroundIcons: [{ src: '/icon-192.png', sizes: '192x192', type: 'image/png', label: 'Maps' }, { src: 'icon.svg' }],
  resumeOnOpen: true,
};
// @ts-expect-error: an icon needs its src
const badIcon: ManagerOptions['backgroundIcons'] = [{ sizes: '48x48' }];
// @ts-expect-error: background is 'never' or 'auto'
const badBackground: ManagerOptions['background'] = 'always';

// The hook: what it is told, and the three answers it may give (a value, a promise, nothing).
function prepare(info: Required<PrepareRequestInfo>): PreparedRequest | Promise<PreparedRequest> | void {
  const reason: RequestReason = info.reason;
  const attempt: number = info.attempt;
  const download: Download = info.download;
  // (`then`, not `Promise.resolve`: the default ES5 lib has no Promise value.)
  if (reason === 'expired') return download.done.then(() => ({ url: new URL(info.url), headers: [['Authorization', 'Bearer t']] }));
  if (attempt > 1) return { headers: new Headers({ 'X-Id': info.id + download.filename }) };
}
const reasons: RequestReason[] = ['start', 'resume', 'retry', 'expired'];
// @ts-expect-error: a hook answers an object, not a URL string
const badHook: ManagerOptions['prepareRequest'] = () => 'https://example.com/a.bin';
const notify: Array<ManagerOptions['notifyWhenDone']> = [true, false, {}, { title: 't' }, undefined];

declare const sinkStream: WritableStream<Uint8Array>;
declare const fileHandle: FileSystemFileHandle;
declare const givenResponse: Response;
function addOptions(signal: AbortSignal): Required<AddOptions> {
  return {
    sink: sinkStream,
    file: fileHandle,
    id: 'model',
    filename: 'model.bin',
    headers: { Authorization: 'Bearer t' },
    signal,
    integrity: 'sha384-abc sha512-def',
    priority: 10,
    background: true,
    title: 'Offline map of Lyon',
  };
}
// Every header form fetch takes.
const headerForms: Array<AddOptions['headers']> = [
  { 'X-A': '1' },
  new Headers({ 'X-A': '1' }),
  [['X-A', '1'], ['X-B', '2']],
];

// Every event payload, field by field.
function listen(manager: DownloadManager): Array<() => void> {
  return [
    manager.on('progress', (e) => {
      const t: 'progress' = e.type;
      const id: string = e.id;
      const d: Download = e.download;
      const p: Progress = e.progress;
      console.info(t, id, d.id, p.transferredBytes);
    }),
    manager.on('statechange', (e) => {
      const t: 'statechange' = e.type;
      const s: DownloadState = e.state;
      const before: DownloadState = e.previousState;
      console.info(t, e.id, e.download.state, s, before);
    }),
    manager.on('complete', (e) => {
      const t: 'complete' = e.type;
      console.info(t, e.id, e.download.filename);
    }),
    manager.on('error', (e) => {
      const t: 'error' = e.type;
      const err: DownloadError = e.error;
      console.info(t, e.id, e.download.url, err.code);
    }),
    manager.on('restarted', (e) => {
      const t: 'restarted' = e.type;
      const reason: RestartReason = e.reason;
      const wasted: number = e.wastedBytes;
      console.info(t, e.id, e.download.wastedBytes, reason, wasted);
    }),
    manager.on('retry', (e) => {
      const t: 'retry' = e.type;
      const err: DownloadError = e.error;
      const attempt: number = e.attempt;
      const delay: number = e.delayMs;
      console.info(t, e.id, e.download.resumable, err.code, attempt, delay);
    }),
    manager.on('idle', (e) => {
      const t: 'idle' = e.type;
      // @ts-expect-error: idle is about the manager, not a download
      console.info(t, e.id);
    }),
  ];
}
// The event map has exactly these types.
const eventTypes: Record<keyof DownloadEventMap, true> = {
  progress: true,
  statechange: true,
  complete: true,
  error: true,
  restarted: true,
  retry: true,
  idle: true,
};

// The conventions.
function conventions(manager: DownloadManager, dl: Download, e: DownloadError): void {
  const finalUrl: string | undefined = dl.finalUrl;
  const mimeType: string | undefined = dl.mimeType;
  // @ts-expect-error: mimeType is undefined, not null, before a response
  const mimeTypeNull: string | null = dl.mimeType;
  console.info(mimeType, mimeTypeNull, reasons, badHook);
  // @ts-expect-error: finalUrl is undefined, not null, before a response
  const finalUrlNull: string | null = dl.finalUrl;
  const error: DownloadError | undefined = dl.error;
  // @ts-expect-error: error is undefined, not null, when there is none
  const errorNull: DownloadError | null = dl.error;
  const storageError: DownloadError | undefined = manager.storageError;
  // @ts-expect-error: storageError is undefined, not null, when storage works
  const storageErrorNull: DownloadError | null = manager.storageError;
  const where: { backend: 'opfs' | 'indexeddb' | 'memory'; reason: string } = manager.storage;
  // @ts-expect-error: 'disk' is no backend
  const disk: 'disk' = manager.storage.backend;
  const bgf: { default: 'never' | 'auto'; available: boolean; reason: string | undefined } = manager.background;
  const mode: 'page' | 'background' = dl.mode;
  // @ts-expect-error: a download runs in the page or in the background, nothing else
  const elsewhere: 'worker' = dl.mode;
  const refused: string | undefined = dl.backgroundRefused;
  console.info(bgf, mode, elsewhere, refused, badBackground);
  const found: Download | undefined = manager.get('x');
  const status: number | undefined = e.status;
  const retryAfter: number | undefined = e.retryAfterMs;
  const cause: unknown = e.cause;
  const code: DownloadErrorCode = e.code;
  const name: 'DownloadError' = e.name;
  const p = dl.progress;
  const total: number | null = p.totalBytes;
  const percent: number | null = p.percent;
  const eta: number | null = p.etaSeconds;
  const rate: number = p.bytesPerSecond;
  // @ts-expect-error: the unknown numbers of a Progress are null, not undefined
  const totalUndefined: number | undefined = p.totalBytes;
  console.info(finalUrl, finalUrlNull, error, errorNull, storageError, storageErrorNull, where, disk, found);
  console.info(status, retryAfter, cause, code, name, total, percent, eta, rate, totalUndefined);
}

// Without async/await: TypeScript's default target (ES5) has no Promise constructor to compile
// them with.
function lifecycle(): Promise<void> {
  if (!isDownloadError(new Error('before init'))) console.info('isDownloadError works before init()');
  initSync({ module: new Uint8Array(0) });
  // @ts-expect-error: no public constructor; use DownloadManager.open()
  new DownloadManager();
  // @ts-expect-error: no public constructor; downloads come from manager.add()
  new Download();
  return init()
    .then(() => init({ module_or_path: '/resumable_downloads_bg.wasm' }))
    .then(() => DownloadManager.open(managerOptions))
    .then((manager) => {
      const persistent: boolean = manager.persistent;
      const multiTab: boolean = manager.multiTab;
      const unsubscribe = listen(manager);
      const controller = new AbortController();
      const dl: Download = manager.add('https://example.com/a.bin', addOptions(controller.signal));
      const fromUrl: Download = manager.add(new URL('https://example.com/b.bin'));
      for (const headers of headerForms) manager.add('/c.bin', { headers });
      dl.pause();
      dl.resume();
      dl.resumeWith(givenResponse);
      dl.resumeWithBackgroundFetch('resumable-downloads:default:model', givenResponse);
      // @ts-expect-error: resumeWith takes a Response, not a URL
      dl.resumeWith('https://example.com/a.bin');
      manager.pauseAll();
      manager.resumeAll();
      console.info(persistent, multiTab, notify, eventTypes);
      return dl.done
        .then((settled: Download) => settled.blob())
        .then((blob: Blob) => {
          dl.save();
          dl.save('renamed.bin');
          console.info(blob.size);
          return dl.cancel();
        })
        .then(() => manager.requestNotificationPermission())
        .then((permission: NotificationPermission) => {
          console.info(permission);
          return manager.whenAll([dl.id, fromUrl.id]);
        })
        .then((result: WhenAllResult) => {
          const failedCodes: DownloadErrorCode[] = result.failed.map((f) => f.code);
          const all: Download[] = manager.list();
          console.info(failedCodes, all.length, result.completed, result.cancelled);
          return manager.remove(dl.id);
        })
        .then(() => {
          for (const u of unsubscribe) u();
          dl.free();
          manager[Symbol.dispose]();
          return manager.close();
        });
    });
}

export { conventions, lifecycle };
