//! The TypeScript declarations of the options, progress, events and errors, shipped in the
//! package's `.d.ts` next to the classes wasm-bindgen declares. Interfaces named like a class
//! (`DownloadManager`) merge with it to type what `wasm-bindgen` cannot (generic `on`).

use wasm_bindgen::prelude::*;

#[wasm_bindgen(typescript_custom_section)]
const TYPES: &str = r#"
/** Lifecycle state of a download. */
export type DownloadState = 'queued' | 'running' | 'paused' | 'completed' | 'failed' | 'cancelled';

/** Stable error codes of `DownloadError.code`. */
export type DownloadErrorCode =
  | 'NETWORK' | 'STALLED' | 'HEADERS_TIMEOUT' | 'DEADLINE' | 'HTTP_STATUS' | 'RATE_LIMITED'
  | 'BAD_RESPONSE' | 'INTEGRITY' | 'QUOTA' | 'STORAGE' | 'ABORTED' | 'INVALID_ARGUMENT'
  | 'PREPARE_REQUEST' | 'SINK' | 'CORS';

/**
 * Every failure: a real `Error` whose `name` is `'DownloadError'`. Absent values are
 * `undefined` throughout the API (a property that does not apply is not set); only the
 * unknown numbers of a `Progress` are `null`.
 */
export interface DownloadError extends Error {
  name: 'DownloadError';
  code: DownloadErrorCode;
  /** The HTTP status, for `HTTP_STATUS` and `RATE_LIMITED`. */
  status?: number;
  /** The server's Retry-After, in milliseconds. */
  retryAfterMs?: number;
  /** The JS error this one wraps (the `TypeError` of a failed `fetch`, an `AbortSignal`'s `reason`). */
  cause?: unknown;
}

/** True when `value` is a `DownloadError` (checks `name`, so it works across bundles). Works before `init()`. */
export function isDownloadError(value: unknown): value is DownloadError;

/** A download's progress. `totalBytes` is null when unknown; `percent` never exceeds 100. */
export interface Progress {
  transferredBytes: number;
  totalBytes: number | null;
  percent: number | null;
  bytesPerSecond: number;
  etaSeconds: number | null;
}

/** Timeouts in milliseconds; 0 disables one. */
export interface TimeoutOptions {
  /** From the start of a request to its response head. Default 30000. */
  headers?: number;
  /** Longest time without a body byte. Default 30000. */
  stall?: number;
  /** The whole download, from when it starts running. Default 0 (none). */
  total?: number;
}

/** Automatic retries. */
export interface RetryOptions {
  /** Retries in a row without progress. Default 5. */
  limit?: number;
  /** First delay; it doubles each time. Default 1000. */
  backoffMs?: number;
  /** Cap on the delay. Default 60000. */
  maxBackoffMs?: number;
  /** Draw each delay from [delay/2, delay]. Default true. */
  jitter?: boolean;
  /** A longer Retry-After fails with RATE_LIMITED. Default 300000. */
  maxRetryAfterMs?: number;
}

/** Options of `DownloadManager.open`; every one is optional. */
export interface ManagerOptions {
  /** Database name; separate names never share data. Default 'default'. */
  name?: string;
  /** Downloads running at once in this tab (an integer, 1 to 1000). Default 4. */
  concurrency?: number;
  timeouts?: TimeoutOptions;
  retry?: RetryOptions;
  /**
   * Where bytes go: 'auto' (default) is OPFS files written by a storage worker where that
   * works, else IndexedDB chunks; 'opfs' the same; 'indexeddb' chunks even where OPFS works;
   * 'memory' is `persist: false`. `manager.storage` says what was chosen and why.
   */
  storage?: 'auto' | 'opfs' | 'indexeddb' | 'memory';
  /**
   * IndexedDB: bytes per stored chunk (64 KiB to 256 MiB). Default 4194304. Bytes that fill no
   * chunk are committed after `commitIntervalMs`, so a reload loses at most that interval's
   * bytes.
   */
  chunkBytes?: number;
  /**
   * OPFS: bytes written to a download's file between two commits of the record that counts
   * them (64 KiB to 256 MiB). Default 1048576, or `chunkBytes` if smaller.
   */
  flushBytes?: number;
  /**
   * Received bytes that do not fill a chunk are committed as a shorter chunk once they have
   * waited this many ms, and when the page is hidden; 0 = whole chunks only. Default 1000.
   */
  commitIntervalMs?: number;
  /** At most one progress event per download per this many ms; 0 = every chunk. Default 100. */
  progressIntervalMs?: number;
  /** Unfinished downloads untouched this long (ms) are deleted on open; 0 = never. Default 604800000 (7 days). */
  expireAfterMs?: number;
  /** Keep downloads in storage so they resume after a reload; false keeps them in memory. Default true. */
  persist?: boolean;
  /** Show a notification (titled `title`, default 'Downloads finished') when a batch finishes while the page is hidden. Default false. */
  notifyWhenDone?: boolean | { title?: string };
  /**
   * Called before every request of every download of this manager (restored ones too), to
   * give a fresh URL (a re-signed one) or headers (a fresh token). Its headers are sent with
   * that request only and never stored. A 401, 403 or 410 calls it once more with reason
   * `'expired'`. A throw, a rejection, a bad answer, or no answer within `timeouts.headers`
   * fails the download with `PREPARE_REQUEST`, its stored bytes kept. Default: none.
   */
  prepareRequest?: (request: PrepareRequestInfo) => PreparedRequest | void | Promise<PreparedRequest | void>;
  /**
   * Background Fetch for new downloads: 'never' (default) hands over only those added with
   * `background: true`; 'auto' every one without a `file` or `sink`. See `AddOptions.background`.
   */
  background?: 'never' | 'auto';
  /**
   * The icons the browser's UI shows beside this manager's Background Fetches (Chromium's
   * downloads UI and notification); `src` is resolved as `fetch` resolves a URL. At most 16.
   * Default: none (the browser's own).
   */
  backgroundIcons?: Array<{ src: string; sizes?: string; type?: string; label?: string }>;
  /**
   * Downloads restored queued or running start again when the manager opens. false leaves
   * them paused (as stored) until `resume()`. Default true.
   */
  resumeOnOpen?: boolean;
}

/** Why a request is sent. */
export type RequestReason = 'start' | 'resume' | 'retry' | 'expired';

/** What `prepareRequest` is told. */
export interface PrepareRequestInfo {
  id: string;
  /** The URL the download was added with. */
  url: string;
  /** The 1-based number of this request since the download last started running. */
  attempt: number;
  reason: RequestReason;
  download: Download;
}

/** What `prepareRequest` answers; `undefined` or `{}` keeps the stored URL and headers. */
export interface PreparedRequest {
  /** The URL to fetch this time (not stored). Resolved like `add()`'s. */
  url?: string | URL;
  /** Headers for this request only (over `add()`'s of the same name; never stored). */
  headers?: Record<string, string> | Headers | ReadonlyArray<readonly [string, string]>;
}

/** Options of `manager.add`; every one is optional. */
export interface AddOptions {
  /** The download's id. Default: derived from the URL. */
  id?: string;
  /**
   * Name used by `save()` (sanitized). Default: the response's `Content-Disposition` name,
   * then the last path segment of the final URL, then `'download'`.
   */
  filename?: string;
  /**
   * Extra request headers, sent again on resume: any form `fetch` takes (a plain object, a
   * `Headers`, an array of `[name, value]` pairs). `Range`, `If-Range` and `Accept-Encoding`
   * are the library's.
   */
  headers?: Record<string, string> | Headers | ReadonlyArray<readonly [string, string]>;
  /** Aborting it cancels the download. */
  signal?: AbortSignal;
  /**
   * A Subresource Integrity value (`'sha256-<base64>'`, `sha384-`, `sha512-`; several
   * whitespace-separated values allowed, the strongest algorithm wins): checked when the
   * download completes.
   */
  integrity?: string;
  /** Higher starts first; equal priorities start in the order added (an integer, ±1000000). Default 0. */
  priority?: number;
  /**
   * Write the body to this stream as it arrives (with its backpressure) and keep nothing: no
   * `blob()`, no `save()`. Needs a manager opened with `persist: false`, and a new download
   * (refused with the id of one that exists). The stream is locked
   * from `add()` on, closed when the download completes and aborted by `cancel()`; a failed
   * download leaves it open for `resume()`. A restart after bytes were written (the server
   * changed the file) fails with `SINK`, as does a write or close the stream refuses.
   */
  sink?: WritableStream<Uint8Array>;
  /**
   * Write the download into this file instead of the library's storage: a file the user
   * picked (`showSaveFilePicker()`) or one in the origin's private file system. Its record
   * keeps the handle, so the download resumes into the same file at its stored offset after
   * a reload. `blob()` is the file; `cancel()` empties it; `remove()` of a completed download
   * leaves it. Needs a manager with the storage worker (`manager.storage.backend` is
   * `'opfs'`) and a new download. A picked file is written through one
   * `createWritable()` stream and made durable at doubling sizes (each time copies it), when
   * the page is hidden, at a pause and at the end; after a reload, Chromium asks for the
   * permission to write it again (`handle.requestPermission({ mode: 'readwrite' })` from a
   * click, then `resume()`).
   */
  file?: FileSystemFileHandle;
  /**
   * Hand the transfer to the browser's Background Fetch where the page can (Chromium, a
   * window controlled by the site's service worker, which calls `handleBackgroundFetch` from
   * 'resumable-downloads/sw'): it goes on with every tab of the site closed, and the service
   * worker validates and stores the response as a page would. Elsewhere it runs in the page.
   * `download.mode` says which. Its bytes are kept in IndexedDB chunks (the service worker
   * writes them). `pause()` aborts the registration and keeps the stored prefix. Default: the
   * manager's `background` ('never': false). Not with `file` or `sink`.
   */
  background?: boolean;
  /**
   * The title the browser's UI shows for it in Background Fetch (stored with the download,
   * so that a reload hands it over with the same title). At most 200 characters. Default:
   * the file name.
   */
  title?: string;
}

/** Why stored bytes were discarded. */
export type RestartReason =
  | 'range-ignored' | 'validator-changed' | 'total-changed' | 'source-changed'
  | 'bad-partial' | 'unsatisfiable' | 'not-resumable' | 'integrity';

interface DownloadEventBase<T extends string> { type: T; id: string; download: Download; }

/** Payloads of the manager's events, by type. */
export interface DownloadEventMap {
  progress: DownloadEventBase<'progress'> & { progress: Progress };
  statechange: DownloadEventBase<'statechange'> & { state: DownloadState; previousState: DownloadState };
  complete: DownloadEventBase<'complete'>;
  error: DownloadEventBase<'error'> & { error: DownloadError };
  restarted: DownloadEventBase<'restarted'> & { reason: RestartReason; wastedBytes: number };
  retry: DownloadEventBase<'retry'> & { error: DownloadError; attempt: number; delayMs: number };
  idle: { type: 'idle' };
}

/** What `whenAll` resolves with. */
export interface WhenAllResult {
  completed: string[];
  failed: { id: string; code: DownloadErrorCode }[];
  cancelled: string[];
}

export interface DownloadManager {
  /** Adds a listener; returns a function that removes it. */
  on<K extends keyof DownloadEventMap>(type: K, listener: (event: DownloadEventMap[K]) => void): () => void;
}
"#;
